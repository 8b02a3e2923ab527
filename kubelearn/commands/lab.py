"""``kubelearn lab``: copy the lessons somewhere writable and open them in JupyterLab.

The lessons live in the repository's ``notebooks/`` folder; an installed wheel carries a copy
under ``<prefix>/share/kubelearn/notebooks``.  The learner's working copy is never overwritten:
an existing folder is opened as it is, so their edits survive.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from ..errors import KubelearnError

__all__ = ["lessons_source", "register"]


def lessons_source() -> Path:
    """Where the shipped lessons are: the source checkout's ``notebooks/`` or the installed copy.

    Raises:
        KubelearnError: when neither exists (a broken install).
    """
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    installed = Path(sys.prefix) / "share" / "kubelearn" / "notebooks"
    for candidate in (checkout, installed):
        if candidate.is_dir() and any(candidate.glob("*.ipynb")):
            return candidate
    raise KubelearnError(f"error: the kubelearn lessons were not found (looked in {checkout} and {installed})")


def _lab(args: argparse.Namespace) -> int:
    source = lessons_source()
    target = Path(args.dir).expanduser()
    if source.resolve() == target.resolve():
        workdir = source
    elif target.exists():
        workdir = target
        print(f"opening your existing copy of the lessons in {target}", file=sys.stderr)
    else:
        shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        workdir = target
        print(f"copied the lessons to {target}", file=sys.stderr)
    jupyter = shutil.which("jupyter-lab") or shutil.which("jupyter-lab", path=str(Path(sys.executable).parent))
    if jupyter is None:
        raise KubelearnError("error: kubelearn lab needs JupyterLab: pip install 'kubelearn[notebooks]'")
    argv = [jupyter, f"--notebook-dir={workdir}"]
    if args.port:
        argv.append(f"--port={args.port}")
    if args.no_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root otherwise (containers, CI)
    if args.dry_run:
        print(" ".join(argv))
        return 0
    os.execv(jupyter, argv)  # replaces this process; JupyterLab handles Ctrl-C itself
    return 0  # pragma: no cover


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:  # type: ignore[type-arg]
    """Add ``kubelearn lab``."""
    p = sub.add_parser("lab", help="open the lessons in JupyterLab", description=_lab.__doc__ or __doc__)
    p.add_argument("--dir", default="kubelearn-lessons", help="where to put your copy (default ./kubelearn-lessons)")
    p.add_argument("--port", type=int, default=0, help="JupyterLab's port (default: JupyterLab's choice)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--dry-run", action="store_true", help="print the JupyterLab command instead of running it")
    p.set_defaults(func=_lab)
