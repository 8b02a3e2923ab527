"""`kubelearn lab`: the learner's copy of the lessons, and what --dir and --dry-run may touch."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from kubelearn.cli import main
from kubelearn.commands import lab

ROOT = Path(__file__).resolve().parents[1]

needs_jupyterlab = pytest.mark.skipif(
    (shutil.which("jupyter-lab") or shutil.which("jupyter-lab", path=str(Path(sys.executable).parent))) is None,
    reason="JupyterLab (the notebooks extra) is not installed: kubelearn lab stops before copying")


def _snapshot(path: Path) -> list[tuple[str, int]]:
    return sorted((str(p.relative_to(path)), p.stat().st_size) for p in path.rglob("*"))


class _Exec(Exception):
    pass


@pytest.fixture
def no_exec(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the JupyterLab command instead of replacing the test process with it."""
    calls: list[list[str]] = []

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append(argv)
        raise _Exec

    monkeypatch.setattr(os, "execv", fake_execv)
    return calls


def test_lessons_source_is_the_checkout_notebooks_without_an_install() -> None:
    src = lab.lessons_source()
    names = {p.name for p in src.iterdir()}
    assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= names


@pytest.mark.parametrize("existing", ["none", "empty", "copy"])
def test_dry_run_writes_nothing(tmp_path: Path, existing: str, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "lessons"
    if existing == "empty":
        target.mkdir()
    elif existing == "copy":
        lab.copy_lessons(target)
        (target / "00-playground.ipynb").write_text("my edits")
    before = _snapshot(tmp_path)
    assert main(["lab", "--dir", str(target), "--dry-run"]) == 0
    assert _snapshot(tmp_path) == before
    captured = capsys.readouterr()
    assert f"--notebook-dir={target}" in captured.out
    assert ("would copy" in captured.err) == (existing != "copy")


@needs_jupyterlab
def test_copy_is_marked_complete_and_reopened_without_overwriting(tmp_path: Path, no_exec: list[list[str]],
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "lessons"
    with pytest.raises(_Exec, match='^$'):
        main(["lab", "--dir", str(target), "--no-browser"])
    assert (target / lab.MARKER).is_file()
    shipped = sorted(p.relative_to(ROOT / "notebooks") for p in (ROOT / "notebooks").rglob("*")
                     if p.is_file() and ".ipynb_checkpoints" not in p.parts)
    copied = sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file() and p.name != lab.MARKER)
    assert copied == shipped
    assert no_exec[-1][1] == f"--notebook-dir={target}"
    assert list(tmp_path.iterdir()) == [target]  # no staging folder left behind
    (target / "00-playground.ipynb").write_text("my edits")
    with pytest.raises(_Exec, match='^$'):
        main(["lab", "--dir", str(target)])
    assert (target / "00-playground.ipynb").read_text() == "my edits"
    assert "opening your existing copy" in capsys.readouterr().err


@needs_jupyterlab
def test_empty_folder_is_filled(tmp_path: Path, no_exec: list[list[str]]) -> None:
    target = tmp_path / "mine"
    target.mkdir()
    with pytest.raises(_Exec, match='^$'):
        main(["lab", "--dir", str(target)])
    assert lab.is_lessons_copy(target) and (target / "00-playground.ipynb").is_file()


def test_refuses_a_folder_that_is_not_a_lessons_copy(tmp_path: Path, no_exec: list[list[str]],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "thesis.tex").write_text("precious")
    before = _snapshot(tmp_path)
    assert main(["lab", "--dir", str(home)]) == 1
    assert main(["lab", "--dir", str(home), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert "is not a copy of the kubelearn lessons" in err and "Traceback" not in err
    assert _snapshot(tmp_path) == before and no_exec == []


def test_refuses_a_file(tmp_path: Path, no_exec: list[list[str]], capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("x")
    assert main(["lab", "--dir", str(f)]) == 1
    err = capsys.readouterr().err
    assert "is a file" in err and "Traceback" not in err
    assert f.read_text() == "x" and no_exec == []


def test_interrupted_copy_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = {"n": 0}
    real = Path.write_bytes

    def flaky(self: Path, data: bytes) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", flaky)
    with pytest.raises(KeyboardInterrupt, match='^$'):
        lab.copy_lessons(tmp_path / "lessons")
    assert list(tmp_path.iterdir()) == []
