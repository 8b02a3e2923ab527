"""The ``kubelearn`` command: a thin shell over the library, in kubectl's manner.

Every subcommand takes ``-f PATH`` (repeatable; a file or a directory, applied in order as
``kubectl apply -f`` would) and, without ``-f``, uses the embedded default scenario: the
tutorial's ``my-service`` in front of a three-replica Deployment on a kind-like cluster.

Subcommands live in :mod:`kubelearn.commands`, one module per area, each with a
``register(subparsers, parents)`` function.  Errors a user can cause are printed to stderr
without a traceback (exit 1); usage errors exit 2, as argparse does.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from . import __version__
from .errors import KubelearnError

__all__ = ["main", "build_parser", "cluster_from_args", "sources_from_args"]

# One module per area; a module that is absent in this build is simply not offered.
COMMAND_MODULES = (
    "kubelearn.commands.cluster",
    "kubelearn.commands.proxy",
    "kubelearn.commands.dumps",
    "kubelearn.commands.traffic",
    "kubelearn.commands.netlab",
    "kubelearn.commands.lab",
)


def _files_parent() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "-f",
        "--filename",
        dest="filenames",
        action="append",
        default=[],
        metavar="PATH",
        help="manifest file or directory (repeatable), or - for standard input; default: the embedded "
             "my-service scenario",
    )
    common.add_argument("--seed", type=int, default=0, help="seed for every random choice (default 0)")
    return common


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="kubelearn",
        description="Learn how Kubernetes Services really work: a faithful model of a cluster and kube-proxy.",
    )
    parser.add_argument("--version", action="version", version=f"kubelearn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    parents = [_files_parent()]
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub, parents)
    return parser


def sources_from_args(args: argparse.Namespace) -> list[Any]:
    """The ``-f`` values as manifest sources, with kubectl's conventions.

    ``-f -`` is standard input; every other value is a path (never YAML text), and one that
    does not exist is an error naming it, as kubectl words it.

    Raises:
        ManifestError: ``error: the path "nope" does not exist`` (also for ``-f ""``).
    """
    from pathlib import Path

    from .errors import ManifestError
    from .manifest import read_stdin

    sources: list[Any] = []
    for name in args.filenames:
        if name == "-":
            sources.append(read_stdin())
        elif not name or not Path(name).exists():
            raise ManifestError(f'error: the path "{name}" does not exist')
        else:
            sources.append(Path(name))
    return sources


def cluster_from_args(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    """The cluster the ``-f`` files describe, or the default scenario without ``-f``."""
    from .edits import load
    from .scenarios import default_scenario

    if args.filenames:
        return load(*sources_from_args(args), seed=args.seed)
    return default_scenario(seed=args.seed)


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
