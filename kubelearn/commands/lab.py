"""``kubelearn lab``: copy the lessons somewhere writable and open them in JupyterLab.

The lessons are package data, ``kubelearn.lessons`` (in the repository they are the
``notebooks/`` folder, which the build maps into the package), read through
:mod:`importlib.resources`, so they are found the same way in a virtual environment, a
``pip install --user``, a system-wide install or Colab.  A source checkout without an install
uses its ``notebooks/`` folder.

The learner works on a copy, never on the shipped files: ``--dir`` (default
``./kubelearn-lessons``) is created and filled, and marked with a ``.kubelearn-lessons`` file.
An existing copy is opened as it is, so the learner's edits survive; an existing directory that is
not such a copy (``~``, a project folder) or a file is refused.  ``--dry-run`` prints what would be
done and the JupyterLab command, and writes nothing.
"""

from __future__ import annotations

import argparse
import importlib.resources
import os
import shutil
import sys
import tempfile
from importlib.resources.abc import Traversable
from pathlib import Path

from .. import __version__
from ..errors import KubelearnError

__all__ = ["MARKER", "copy_lessons", "is_lessons_copy", "lessons_source", "register"]

#: The file that marks a folder as a learner's copy of the lessons.
MARKER = ".kubelearn-lessons"

_SKIP = {".ipynb_checkpoints", "__pycache__", MARKER}


def lessons_source() -> Traversable:
    """The shipped lessons: the installed ``kubelearn.lessons`` package data, or a checkout's ``notebooks/``.

    Raises:
        KubelearnError: when neither holds a lesson (a broken install).
    """
    installed = importlib.resources.files("kubelearn").joinpath("lessons")
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    for candidate in (installed, checkout):
        if candidate.is_dir() and any(c.name.endswith(".ipynb") for c in candidate.iterdir()):
            return candidate
    raise KubelearnError(
        "error: the kubelearn lessons were not found (package data kubelearn/lessons is missing): "
        "reinstall with pip install --force-reinstall 'kubelearn[notebooks]'")


def is_lessons_copy(path: Path) -> bool:
    """Is ``path`` a folder made by ``kubelearn lab`` (it holds the marker file)?"""
    return path.is_dir() and (path / MARKER).is_file()


def _copy_tree(src: Traversable, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for item in src.iterdir():
        if item.name in _SKIP or item.name.endswith(".pyc"):
            continue
        if item.is_dir():
            _copy_tree(item, dst / item.name)
        else:
            (dst / item.name).write_bytes(item.read_bytes())


def copy_lessons(target: Path, source: Traversable | None = None) -> None:
    """Copy the lessons into the new folder ``target`` (staged beside it, so an interruption leaves nothing half made)."""
    src = source if source is not None else lessons_source()
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        _copy_tree(src, stage)
        (stage / MARKER).write_text(f"lessons copied by kubelearn {__version__}; your edits here are yours\n",
                                    encoding="utf-8")
        if target.exists():  # an empty folder the learner made for the lessons
            target.rmdir()
        stage.rename(target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise


def _plan(source: Traversable, target: Path) -> tuple[Path, str | None]:
    """(folder to open, what to copy or None) for ``--dir target``; refuses what is not a lessons copy."""
    if isinstance(source, Path) and target.exists() and source.resolve() == target.resolve():
        return target, None  # a lesson author's explicit choice: the checkout's own notebooks/
    if target.exists() and not target.is_dir():
        raise KubelearnError(f"error: --dir {target}: is a file, not a folder for the lessons")
    if target.is_dir():
        if is_lessons_copy(target):
            return target, None
        if any(target.iterdir()):
            raise KubelearnError(
                f"error: --dir {target}: this folder is not a copy of the kubelearn lessons (it has no {MARKER} file); "
                "name a new or empty folder, e.g. --dir kubelearn-lessons")
    return target, "copy"


def _lab(args: argparse.Namespace) -> int:
    source = lessons_source()
    target = Path(args.dir).expanduser()
    workdir, action = _plan(source, target)
    jupyter = shutil.which("jupyter-lab") or shutil.which("jupyter-lab", path=str(Path(sys.executable).parent))
    if jupyter is None and not args.dry_run:
        raise KubelearnError("error: kubelearn lab needs JupyterLab: pip install 'kubelearn[notebooks]'")
    argv = [jupyter or "jupyter-lab", f"--notebook-dir={workdir}"]
    if args.port:
        argv.append(f"--port={args.port}")
    if args.no_browser:
        argv.append("--no-browser")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")  # JupyterLab refuses root otherwise (containers, CI)
    if args.dry_run:
        if action == "copy":
            print(f"would copy the lessons to {target}", file=sys.stderr)
        else:
            print(f"would open the existing copy of the lessons in {target}", file=sys.stderr)
        print(" ".join(argv))
        return 0
    if action == "copy":
        copy_lessons(target, source)
        print(f"copied the lessons to {target}", file=sys.stderr)
    else:
        print(f"opening your existing copy of the lessons in {target}", file=sys.stderr)
    assert jupyter is not None
    os.execv(jupyter, argv)  # replaces this process; JupyterLab handles Ctrl-C itself
    return 0  # pragma: no cover


def register(sub: argparse._SubParsersAction, parents: list[argparse.ArgumentParser]) -> None:  # type: ignore[type-arg]
    """Add ``kubelearn lab``."""
    p = sub.add_parser("lab", help="open the lessons in JupyterLab", description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--dir", default="kubelearn-lessons",
                   help="your copy of the lessons: a new or empty folder is filled, a copy made before is reopened "
                        "(default ./kubelearn-lessons)")
    p.add_argument("--port", type=int, default=0, help="JupyterLab's port (default: JupyterLab's choice)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser")
    p.add_argument("--dry-run", action="store_true", help="say what would be copied and print the JupyterLab command; write nothing")
    p.set_defaults(func=_lab)
