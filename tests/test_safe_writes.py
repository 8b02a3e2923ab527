"""Writes that lose nothing (issue 14): -o checked before work, replaced atomically, truncation noticed.

The rule: ``-o FILE`` replaces an existing file, atomically.  The log (and its
``.attrs.json`` side-car) go to temporary files in the same directory and are renamed into
place, so an interrupted write leaves the old file intact; the side-car records what was
written so :func:`read_log` notices a file that was cut short.
"""

from __future__ import annotations

import importlib
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kubelearn import cli
from kubelearn.errors import KubelearnError
from kubelearn.traffic import cluster_ip, node_clients, read_log, simulate, workload, write_log
from kubelearn.traffic.log import check_log_path, sidecar_path

SCENARIO = Path(__file__).resolve().parents[1] / "kubelearn" / "data" / "scenarios" / "my-service.yaml"


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    from kubelearn.scenarios import default_scenario

    return simulate(default_scenario(), workload(node_clients(), cluster_ip("my-service"), connections=200), seed=1)


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the CLI starts simulating: path errors must come first."""
    sim = importlib.import_module("kubelearn.traffic.simulate")

    def never(*a: Any, **k: Any) -> Any:
        raise AssertionError("the simulator ran before the output path was checked")

    monkeypatch.setattr(sim, "simulate", never)


def _simulate_o(path: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["simulate", "--connections", "50", "-o", path])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def test_output_under_proc_is_a_clear_error_before_work(capsys, no_simulation):
    code, err = _simulate_o("/proc/x.csv", capsys)
    assert code == 1
    assert err.strip() == "error: open /proc/x.csv: no such file or directory"


def test_output_in_a_missing_directory_is_a_clear_error_before_work(tmp_path, capsys, no_simulation):
    target = tmp_path / "nope" / "x.csv"
    code, err = _simulate_o(str(target), capsys)
    assert code == 1
    assert err.strip() == f"error: open {target}: no such file or directory"


def test_sidecar_path_that_is_a_directory_leaves_the_log_untouched(tmp_path, capsys, no_simulation):
    target = tmp_path / "x.csv"
    target.write_text("old log\n")
    sidecar_path(target).mkdir()
    code, err = _simulate_o(str(target), capsys)
    assert code == 1
    assert err.strip() == f"error: open {target}.attrs.json: is a directory"
    assert target.read_text() == "old log\n"


def test_output_that_is_a_directory_is_a_clear_error(tmp_path, capsys, no_simulation):
    (tmp_path / "d.csv").mkdir()
    code, err = _simulate_o(str(tmp_path / "d.csv"), capsys)
    assert code == 1 and err.strip() == f"error: open {tmp_path / 'd.csv'}: is a directory"


@pytest.mark.parametrize("stem_len", [252, 300])
def test_names_over_255_bytes_are_a_clear_error(tmp_path, capsys, no_simulation, stem_len):
    # 252 + ".csv" fits, but its side-car "<name>.attrs.json" does not: both are checked.
    target = tmp_path / ("a" * stem_len + ".csv")
    code, err = _simulate_o(str(target), capsys)
    assert code == 1
    assert err.strip().endswith(": file name too long")
    assert not list(tmp_path.iterdir())


def test_a_fifo_is_not_replaced(tmp_path, no_simulation):
    fifo = tmp_path / "x.csv"
    os.mkfifo(fifo)
    with pytest.raises(KubelearnError, match="not a regular file"):
        check_log_path(fifo)


def test_overwrite_replaces_log_and_sidecar_together(tmp_path, log):
    target = tmp_path / "run.csv"
    target.write_text("old\n")
    sidecar_path(target).write_text("{}\n")
    os.chmod(target, 0o640)
    write_log(log, target)
    back = read_log(target)
    assert len(back) == len(log) and back.attrs["seed"] == 1
    assert "kubelearn.file" not in back.attrs  # the integrity record is not an attr of the run
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)  # the replaced file keeps its mode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.csv", "run.csv.attrs.json"]  # no temporaries


def test_help_states_the_overwrite_rule():
    sub = cli.build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    for cmd in (sub.choices["simulate"], sub.choices["netlab"]._subparsers._group_actions[0].choices["run"]):  # type: ignore[attr-defined]
        text = " ".join(cmd.format_help().split())
        assert "checked before" in text and "replaced atomically" in text


def test_read_log_reports_a_csv_cut_at_a_line_boundary(tmp_path, log):
    target = write_log(log, tmp_path / "run.csv")
    lines = target.read_bytes().splitlines(keepends=True)
    target.write_bytes(b"".join(lines[:-10]))  # whole rows gone: pandas alone would load it happily
    with pytest.raises(KubelearnError, match="cut short"):
        read_log(target)


def test_read_log_reports_a_csv_that_does_not_match_its_sidecar(tmp_path, log):
    target = write_log(log, tmp_path / "run.csv")
    data = bytearray(target.read_bytes())
    i = data.index(b"ok")
    data[i:i + 2] = b"ko"  # same size, other bytes
    target.write_bytes(bytes(data))
    with pytest.raises(KubelearnError, match="SHA-256"):
        read_log(target)


def test_read_log_reports_a_cut_parquet_file(tmp_path, log):
    pytest.importorskip("pyarrow")
    target = write_log(log, tmp_path / "run.parquet")
    target.write_bytes(target.read_bytes()[: target.stat().st_size // 2])
    with pytest.raises(KubelearnError, match="truncated or damaged"):
        read_log(target)


def test_a_foreign_csv_without_integrity_record_still_loads(tmp_path, log):
    target = tmp_path / "mine.csv"
    log.to_csv(target, index=False)
    assert len(read_log(target)) == len(log)


WRITER = """
import sys
import pandas as pd
from kubelearn.scenarios import default_scenario
from kubelearn.traffic import cluster_ip, node_clients, simulate, workload, write_log
small = simulate(default_scenario(), workload(node_clients(), cluster_ip("my-service"), connections=1000), seed=0)
big = pd.concat([small] * 3000, ignore_index=True)   # 3,000,000 rows: a write of a few hundred MB
big.attrs = dict(small.attrs)
print("writing", flush=True)
write_log(big, sys.argv[1])
print("written", flush=True)
"""


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_large_write_leaves_the_old_file_intact(tmp_path, sig):
    target = tmp_path / "run.csv"
    old_log, old_side = b"time,connection\n0.0,0\n", b'{"old": true}\n'
    target.write_bytes(old_log)
    sidecar_path(target).write_bytes(old_side)
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "writing"
        # Wait until the new log is well under way (a temporary file beside the target), then interrupt.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            temps = [p for p in tmp_path.iterdir() if p.name.startswith(".kl-")]
            if temps and temps[0].exists() and temps[0].stat().st_size > 5_000_000:
                break
            assert proc.poll() is None, "the writer finished before it could be interrupted"
            time.sleep(0.01)
        else:
            pytest.fail("the writer never started writing")
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert "written" not in (proc.stdout.read() if proc.stdout else "")
    assert target.read_bytes() == old_log
    assert sidecar_path(target).read_bytes() == old_side
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".kl-"))
    if sig == signal.SIGINT:
        assert left == []  # Ctrl-C: the temporary file is removed too
    # SIGKILL gives no chance to remove it: at most one stray ".kl-*.tmp", never a damaged log


def test_netlab_run_checks_the_output_path_before_the_lab(capsys, monkeypatch):
    import kubelearn.netlab as netlab

    monkeypatch.setattr(netlab, "preflight", lambda *a, **k: pytest.fail("got as far as the lab"))
    assert cli.main(["netlab", "run", "-o", "/nonexistent/dir/x.csv"]) == 1
    assert capsys.readouterr().err.strip() == "error: open /nonexistent/dir/x.csv: no such file or directory"


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "0", "-1", "61", "abc"])
def test_netlab_timeout_must_be_a_sensible_number_of_seconds(capsys, value):
    assert cli.main(["netlab", "run", f"--timeout={value}"]) == 2
    err = capsys.readouterr().err
    assert f"argument --timeout: invalid timeout '{value}'" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [math.nan, math.inf, 0, -1, "1"])
def test_netlab_python_api_refuses_a_bad_timeout(value):
    from kubelearn.netlab import NetLab
    from kubelearn.scenarios import default_scenario

    with pytest.raises(KubelearnError, match="invalid timeout"):
        NetLab(default_scenario(), timeout=value)


def test_a_ctrl_c_between_the_two_renames_waits_until_both_are_done():
    """A SIGINT that arrives while log and sidecar are renamed is held, then raised once both are in place."""
    from kubelearn.traffic.log import _signals_deferred

    done = []
    with pytest.raises(KeyboardInterrupt, match='^$'):
        with _signals_deferred():
            signal.raise_signal(signal.SIGINT)  # Python would run the handler at the very next bytecode
            done.append("log renamed")
            done.append("sidecar renamed")
    assert done == ["log renamed", "sidecar renamed"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
