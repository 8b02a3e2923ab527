"""What every ``kubelearn`` subcommand shares: ``-f``/``--seed`` and the cluster they describe."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..cluster import Cluster

__all__ = ["cluster_from_args", "files_parent", "sources_from_args"]


def files_parent() -> argparse.ArgumentParser:
    """The parent parser of every subcommand: ``-f PATH`` (repeatable) and ``--seed``."""
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


def sources_from_args(args: argparse.Namespace) -> list[Any]:
    """The ``-f`` values as manifest sources, with kubectl's conventions.

    ``-f -`` is standard input; every other value is a path (never YAML text), and one that
    does not exist is an error naming it, as kubectl words it.

    Raises:
        ManifestError: ``error: the path "nope" does not exist`` (also for ``-f ""``).
    """
    from pathlib import Path

    from ..errors import ManifestError
    from ..manifest import read_stdin

    sources: list[Any] = []
    for name in args.filenames:
        if name == "-":
            sources.append(read_stdin())
        elif not name or not Path(name).exists():
            raise ManifestError(f'error: the path "{name}" does not exist')
        else:
            sources.append(Path(name))
    return sources


def cluster_from_args(args: argparse.Namespace) -> Cluster:
    """The cluster the ``-f`` files describe, or the default scenario without ``-f``."""
    from ..kind import load
    from ..scenarios import default_scenario

    if args.filenames:
        return load(*sources_from_args(args), seed=args.seed)
    return default_scenario(seed=args.seed)
