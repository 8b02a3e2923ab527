"""The ``kubelearn`` command: a thin shell over the library, in kubectl's manner.

Every subcommand takes ``-f PATH`` (repeatable; a file or a directory, applied in order as
``kubectl apply -f`` would) and, without ``-f``, uses the embedded default scenario: the
tutorial's ``my-service`` in front of a three-replica Deployment on a kind-like cluster.

Subcommands live in :mod:`kubelearn.commands`, one module per area, each with a
``register(subparsers, parents)`` function, listed here in the order ``--help`` shows them;
what they share (``-f``, ``--seed``, the cluster they describe) is in
:mod:`kubelearn.commands._common`.  Errors a user can cause are printed to stderr
without a traceback (exit 1); usage errors exit 2, as argparse does.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .commands import cluster, dumps, lab, netlab, proxy, traffic
from .commands._common import files_parent
from .errors import KubelearnError

__all__ = ["main", "build_parser"]

#: One module per area, in the order ``kubelearn --help`` lists their commands.
COMMAND_MODULES = (cluster, proxy, dumps, traffic, netlab, lab)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="kubelearn",
        description="Learn how Kubernetes Services really work: a faithful model of a cluster and kube-proxy.",
    )
    parser.add_argument("--version", action="version", version=f"kubelearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    parents = [files_parent()]
    for module in COMMAND_MODULES:
        module.register(sub, parents)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 ok, 1 error, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    try:
        return int(args.func(args) or 0)
    except KubelearnError as exc:
        print(str(exc), file=sys.stderr)
        return 1
    except BrokenPipeError:  # `kubelearn rules | head` is fine
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
