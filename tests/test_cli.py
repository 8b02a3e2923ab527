"""The CLI shell: usage errors exit 2, user errors exit 1 without a traceback."""

import subprocess
import sys

import pytest

from kubelearn import __version__
from kubelearn.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    """--version prints the package version."""
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"kubelearn {__version__}"


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A missing subcommand is a usage error (exit 2), as argparse reports it."""
    assert main([]) == 2
    assert "usage: kubelearn" in capsys.readouterr().err


def test_unknown_flag_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """Wrong flags exit 2 with argparse's message and no traceback."""
    assert main(["lab", "--no-such-flag"]) == 2
    err = capsys.readouterr().err
    assert "unrecognized arguments: --no-such-flag" in err
    assert "Traceback" not in err


def test_python_dash_m_runs_the_cli() -> None:
    """`python -m kubelearn` is the same program."""
    out = subprocess.run([sys.executable, "-m", "kubelearn", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"kubelearn {__version__}"


def test_lab_dry_run_names_jupyter(capsys: pytest.CaptureFixture[str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`kubelearn lab --dry-run` names the JupyterLab command and writes nothing."""
    target = tmp_path / "lessons"
    assert main(["lab", "--dir", str(target), "--dry-run", "--no-browser"]) == 0
    cmd = capsys.readouterr().out
    assert "jupyter-lab" in cmd and f"--notebook-dir={target}" in cmd and "--no-browser" in cmd
    assert not target.exists()  # a dry run copies nothing
