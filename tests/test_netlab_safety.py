"""The machine is shared: a lab must leave the root namespace byte-identical, even when killed.

Each test snapshots the root namespace (interfaces, addresses, routes, policy rules,
``iptables-save``, ``nft list ruleset``, the relevant sysctls) before and after a lab, with
the lab run normally, interrupted by SIGTERM or SIGINT midway through its traffic, or
killed outright (then ``cleanup()`` must remove what it left).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_netlab_support import make_cluster, requires_lab, root_snapshot

from kubelearn.netlab import NetLab, cleanup, lab_namespaces
from kubelearn.traffic import cluster_ip, external_clients, node_port, pod_clients, workload

pytestmark = [pytest.mark.netlab, requires_lab()]

TESTS = Path(__file__).resolve().parent

# A lab in a child process: builds, says "ready <prefix>", then sends traffic for a long time.
CHILD = """
import sys
sys.path.insert(0, {tests!r})
from test_netlab_support import make_cluster
from kubelearn.netlab import NetLab, Connection
lab = NetLab(make_cluster(3, type_="NodePort"))
with lab:
    conns = [lab.connection("client", "10.96.0.100:80") for _ in range(50)]
    print("ready", lab.prefix, flush=True)
    for _ in range(2000):  # bounded: ~minutes at most; the test interrupts it within a second
        lab.run(connections=conns)
print("finished", flush=True)
"""


def _child() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(tests=str(TESTS))],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the lab is up (or the child died)
    if not line.startswith("ready "):
        proc.kill()
        raise AssertionError(f"child lab did not start: {line!r} {proc.stderr.read() if proc.stderr else ''}")
    prefix = line.split()[1]
    assert lab_namespaces(prefix), "the child's namespaces should exist while it runs"
    return proc, prefix


def test_a_lab_run_leaves_the_root_namespace_unchanged() -> None:
    before = root_snapshot()
    cluster = make_cluster(3, type_="NodePort")
    with NetLab(cluster) as lab:
        prefix = lab.prefix
        lab.run(workload(pod_clients(names=["client"]), cluster_ip("web"), connections=50))
        lab.run(workload(external_clients("203.0.113.0/24", 20), node_port("web", "kind-worker"), connections=40))
        assert len(lab_namespaces(prefix)) == 1 + 3 + 4 + 1
    assert lab_namespaces(prefix) == []
    assert root_snapshot() == before


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_an_interrupted_lab_tears_down_and_leaves_the_root_namespace_unchanged(sig: int) -> None:
    before = root_snapshot()
    proc, prefix = _child()
    time.sleep(0.3)  # mid-traffic
    proc.send_signal(sig)
    try:
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert "finished" not in (proc.stdout.read() if proc.stdout else "")
    assert lab_namespaces(prefix) == []
    assert root_snapshot() == before


def test_a_killed_lab_is_removed_by_cleanup() -> None:
    before = root_snapshot()
    proc, prefix = _child()
    os.kill(proc.pid, signal.SIGKILL)  # no chance to tear down
    proc.wait(timeout=30)
    left = lab_namespaces(prefix)
    assert left, "a SIGKILLed lab leaves its namespaces behind"
    deleted = cleanup()
    assert set(left) <= set(deleted)
    assert all(ns.startswith("klnl-") for ns in deleted)
    assert lab_namespaces(prefix) == []
    assert root_snapshot() == before


def test_cleanup_spares_a_running_lab_of_another_process() -> None:
    proc, prefix = _child()
    try:
        deleted = cleanup()
        assert not [ns for ns in deleted if ns.startswith(prefix)]
        assert lab_namespaces(prefix)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert lab_namespaces(prefix) == []
