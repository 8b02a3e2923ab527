"""``kubelearn simulate``: the per-pod table, -o files, and user errors without tracebacks."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent / "data" / "traffic"))
import clusters as k  # noqa: E402

from kubelearn import cli
from kubelearn.commands import _common as commands_common  # noqa: E402
from kubelearn.kind import default_proxy_config  # noqa: E402
from kubelearn.traffic import read_log  # noqa: E402


@pytest.fixture
def cluster(monkeypatch):
    """A small real cluster in place of the embedded scenario (three web pods, one client per worker)."""
    c = k.make_cluster(clients=1)
    c = replace(c, proxy_config=default_proxy_config(c.topology))
    monkeypatch.setattr(commands_common, "cluster_from_args", lambda args: c)
    return c


def test_simulate_prints_per_pod_table(cluster, capsys):
    assert cli.main(["simulate", "--connections", "300", "--requests-per-connection", "2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("300 connections x 2 requests, mode iptables, target dns")
    for pod in ("web-0", "web-1", "web-2"):
        assert pod in out
    assert "predicted" in out and "33.3%" in out
    # the counts in the table add up to the connections
    rows = [line.split() for line in out.splitlines() if line.startswith("web-")]
    assert sum(int(r[2]) for r in rows) == 300
    assert sum(int(r[3]) for r in rows) == 600


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_simulate_writes_the_log(cluster, capsys, tmp_path, suffix):
    out_file = tmp_path / f"log{suffix}"
    assert cli.main(["simulate", "--connections", "50", "-o", str(out_file)]) == 0
    assert f"request log written to {out_file}" in capsys.readouterr().out
    log = read_log(out_file)
    assert len(log) == 50 and log.attrs["connections"] == 50


def test_bad_output_name_is_an_error_not_a_traceback(cluster, capsys):
    assert cli.main(["simulate", "--connections", "5", "-o", "log.xlsx"]) == 2  # a usage problem
    err = capsys.readouterr().err
    assert 'unsupported log file "log.xlsx"' in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys):
    assert cli.main(["simulate", "--connections", "0"]) == 2
    assert "must be greater than 0, not 0" in capsys.readouterr().err  # the Workload's own words


def test_simulate_with_a_workload_document(capsys, tmp_path):
    manifest = Path(__file__).parent / "data" / "traffic" / "nodeport-local.yaml"
    out_file = tmp_path / "np.csv"
    assert cli.main(["simulate", "-f", str(manifest), "-o", str(out_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("500 connections x 2 requests, mode iptables, target nodePort")
    log = read_log(out_file)
    # externalTrafficPolicy: Local: only kind-worker's own pods, and they see the client's address
    assert set(log["pod_node"].astype(str)) <= {"kind-worker", ""}
    reached = log[log["outcome"] == "ok"]
    assert (reached["seen_src_ip"].astype(str) == reached["src_ip"].astype(str)).all()
    assert len(log) == 1000


def test_workload_errors_are_printed_without_traceback(capsys, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: kubelearn.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\n"
                   "spec: {clients: [], target: {dns: web, port: 80}}\n")
    assert cli.main(["simulate", "-f", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "spec.clients: Required value" in err and "Traceback" not in err


def test_output_path_checked_before_simulating(cluster, capsys, tmp_path):
    """A directory that does not exist fails at once, kubectl-style, with nothing printed to stdout."""
    missing = tmp_path / "nonexistent" / "x.csv"
    assert cli.main(["simulate", "--connections", "5", "-o", str(missing)]) == 1
    cap = capsys.readouterr()
    assert cap.err.strip() == f"error: open {missing}: no such file or directory"
    assert cap.out == ""  # no summary before the failure
    assert cli.main(["simulate", "--connections", "5", "-o", "log.txt"]) == 2
    cap = capsys.readouterr()
    assert 'unsupported log file "log.txt"' in cap.err and cap.out == ""


def test_predicted_column_is_na_with_events_and_headless_first(monkeypatch, capsys):
    """No static prediction where it would mislead: events, cached multi-record DNS answers."""
    from kubelearn.traffic import dns, pod_clients, predicted_shares, workload

    c = k.make_cluster(service_obj=k.service(cluster_ip="None"), clients=1)
    wl = workload(pod_clients(selector={"app": "client"}), dns("my-service", 8080), connections=30, dns_strategy="first")
    pred = predicted_shares(c, wl)
    assert pred["predicted"].isna().all() and "first" in pred.attrs["unpredictable"]
    rnd = predicted_shares(c, wl.with_(dns_strategy="random"))
    assert rnd["predicted"].sum() == pytest.approx(1.0)
    from kubelearn.traffic import Event, chi_square, cluster_ip, simulate

    c2 = k.make_cluster(clients=1)
    ev = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=30,
                  events=[Event(0.1, "setReady", {"pod": "web-0", "ready": False})])
    pe = predicted_shares(c2, ev)
    assert pe["predicted"].isna().all() and "events" in pe.attrs["unpredictable"]
    with pytest.raises(Exception, match="no prediction to test against"):
        chi_square(simulate(c2, ev.with_(events=())), pe)
    # the CLI shows n/a and says why, never a share
    monkeypatch.setattr(commands_common, "cluster_from_args", lambda args: c)
    sim_mod = sys.modules["kubelearn.traffic.simulate"]  # the package's `simulate` is the function
    monkeypatch.setattr(sim_mod, "default_workload", lambda *a, **kw: wl)
    assert cli.main(["simulate"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("web-")]
    assert rows and all(r[-1] == "n/a" for r in rows)
    assert "predicted: n/a, each client caches one DNS answer" in out
