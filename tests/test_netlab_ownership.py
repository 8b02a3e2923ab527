"""A lab that is safe beside other labs (issue 14): owned before it exists, torn down whatever happens.

- The owner is recorded before the lab's first namespace exists, so ``netlab cleanup``
  (without ``--force``) never removes a lab that a live process is still building.
- A second Ctrl-C during teardown does not cut it short: every namespace still goes.

These need root and network namespaces; each test works only with its own lab prefix.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_netlab_support import make_cluster, requires_lab, root_snapshot

from kubelearn.netlab import NetLab, cleanup, host, lab_namespaces

pytestmark = [pytest.mark.netlab, requires_lab()]

TESTS = Path(__file__).resolve().parent
N_PODS = 24  # enough namespaces that building and tearing down take a while

# Builds a lab under a prefix the test chose, says "ready", checks it works, then waits to be told to stop.
BUILDER = """
import sys
sys.path.insert(0, {tests!r})
from test_netlab_support import make_cluster
from kubelearn.netlab import NetLab, lab_namespaces
lab = NetLab(make_cluster({n}), prefix={prefix!r})
with lab:
    print("ready", len(lab_namespaces({prefix!r})), flush=True)
    log = lab.run(connections=[lab.connection("client", "10.96.0.100:80") for _ in range(20)])
    print("outcomes", ",".join(sorted(set(log["outcome"].astype(str)))), flush=True)
    sys.stdin.readline()
print("finished", flush=True)
"""


def _prefix() -> str:
    return f"klnl-{secrets.token_hex(3)}-"


def _builder(prefix: str, **popen: object) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", BUILDER.format(tests=str(TESTS), n=N_PODS, prefix=prefix)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            **popen)  # type: ignore[call-overload]


def _expected_namespaces() -> int:
    return 1 + 1 + 3 + N_PODS + 1  # switch, external host, nodes, the Service's pods, the client pod


def test_owner_is_recorded_before_the_first_namespace(monkeypatch: pytest.MonkeyPatch) -> None:
    from kubelearn.netlab import topo

    prefix = _prefix()
    seen: dict[str, object] = {}

    def build(plan: object, *a: object, **k: object) -> None:
        seen["namespaces"] = lab_namespaces(prefix)
        seen["owner"] = host.owner_pid(prefix)
        seen["alive"] = host.owner_alive(prefix)
        raise RuntimeError("stop before building")

    monkeypatch.setattr(topo, "build", build)
    with pytest.raises(RuntimeError, match="stop before building"):
        NetLab(make_cluster(2), prefix=prefix).open()
    assert seen == {"namespaces": [], "owner": os.getpid(), "alive": True}
    assert not os.path.exists(os.path.join(host.OWNER_DIR, prefix + "owner"))  # forgotten after teardown


def test_cleanup_never_touches_a_lab_being_built_by_a_live_process() -> None:
    prefix = _prefix()
    proc = _builder(prefix)
    assert proc.stdout is not None and proc.stdin is not None
    try:
        # Clean up (without --force) as fast as possible while the other process builds its lab.
        rounds = deleted = 0
        os.set_blocking(proc.stdout.fileno(), False)
        line = ""
        deadline = time.monotonic() + 120
        while not line and time.monotonic() < deadline and proc.poll() is None:
            deleted += len(cleanup(prefix))
            rounds += 1
            line = proc.stdout.readline()
        os.set_blocking(proc.stdout.fileno(), True)
        assert line.startswith("ready "), (line, proc.stderr.read() if proc.poll() is not None else "")
        assert rounds > 1, "cleanup should have run while the lab was being built"
        assert deleted == 0
        assert int(line.split()[1]) == _expected_namespaces()
        assert len(lab_namespaces(prefix)) == _expected_namespaces()
        assert proc.stdout.readline().strip() == "outcomes ok"  # the lab still works
        assert cleanup(prefix) == []  # and a running lab is spared too, by the command as well
        cli = subprocess.run([sys.executable, "-m", "kubelearn", "netlab", "cleanup", "--prefix", prefix],
                             capture_output=True, text=True, timeout=60)
        assert (cli.returncode, cli.stdout, cli.stderr) == (0, "", "nothing to clean up\n")
        assert len(lab_namespaces(prefix)) == _expected_namespaces()
    finally:
        if proc.poll() is None:
            proc.stdin.write("\n")
            proc.stdin.flush()
            proc.wait(timeout=60)
    assert lab_namespaces(prefix) == []
    assert not os.path.exists(os.path.join(host.OWNER_DIR, prefix + "owner"))


def test_a_second_ctrl_c_during_teardown_still_removes_every_namespace() -> None:
    before = root_snapshot()
    prefix = _prefix()
    # Its own process group: Ctrl-C at a terminal reaches the lab and the `ip` commands it runs.
    proc = _builder(prefix, start_new_session=True)
    assert proc.stdout is not None
    try:
        line = proc.stdout.readline()
        assert line.startswith("ready "), line
        assert proc.stdout.readline().startswith("outcomes")
        os.killpg(proc.pid, signal.SIGINT)
        # ...and again and again, while it tears down.
        for _ in range(200):
            time.sleep(0.01)
            try:
                os.killpg(proc.pid, signal.SIGINT)
            except ProcessLookupError:
                break
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = proc.stderr.read() if proc.stderr else ""
    assert proc.returncode != 0
    assert f"removing lab {prefix}, please wait" in err  # a later Ctrl-C arrived during teardown
    assert lab_namespaces(prefix) == []
    assert not os.path.exists(os.path.join(host.OWNER_DIR, prefix + "owner"))
    assert root_snapshot() == before


def test_a_killed_builder_is_cleaned_up_with_its_owner_record() -> None:
    prefix = _prefix()
    proc = _builder(prefix)
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("ready ")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert lab_namespaces(prefix)
    assert host.owner_pid(prefix) == proc.pid and not host.owner_alive(prefix)
    deleted = cleanup(prefix)
    assert len(deleted) == _expected_namespaces()
    assert lab_namespaces(prefix) == []
    assert not os.path.exists(os.path.join(host.OWNER_DIR, prefix + "owner"))


def test_cleanup_forgets_the_owner_record_of_a_lab_that_died_before_its_first_namespace() -> None:
    prefix = _prefix()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    host.record_owner(prefix, pid=int(dead.stdout))
    assert host.owner_pid(prefix) == int(dead.stdout) and not host.owner_alive(prefix)
    assert cleanup(prefix) == []
    assert not os.path.exists(os.path.join(host.OWNER_DIR, prefix + "owner"))
    host.record_owner(prefix)  # a live owner's record stays, even with no namespace yet
    try:
        assert cleanup(prefix) == [] and host.owner_alive(prefix)
    finally:
        host.forget_owner(prefix)
