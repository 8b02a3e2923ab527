"""Benchmark ``kubelearn simulate`` as a user runs it: a whole process, a million connections.

Targets (issue 11), each measured here, not asserted in tests:

- every path below at least 3 times faster than the naive baseline (``naive_simulate.py``: one
  connection at a time in a plain Python loop building the same 17 columns), in the same run;
- at most 150 bytes per request-log row;
- the first ``kl.simulate()`` of 10,000 connections in a fresh process under 0.3 s.

Paths (the manifests are the embedded scenarios plus the documents below):

- ``clusterip``: pods dial ``my-service``'s ClusterIP (the default scenario);
- ``dns``: pods dial ``my-service`` by name (``kubelearn simulate`` without ``-f``);
- ``nodeport-local``: 200 external clients, a NodePort with ``externalTrafficPolicy: Local``;
- ``affinity``: 10,000 external clients, ClientIP affinity (``xt_recent``, iptables mode);
- ``headless-random``: pods dial a headless Service by name, a random record per connection;
- ``rollout``: a rolling update, a scale-up and a node failure during the run.

Run: .venv/bin/python benchmarks/bench_simulate.py [--quick] [--runs N] [--connections N]
Medians of several runs (5; 3 with --quick), wall-clock seconds and peak RSS per process.  The
children run as an installed command does: with Python's bytecode cache (``PYTHONDONTWRITEBYTECODE``
is dropped from their environment, and one warm-up run of each command fills the cache).
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from kubelearn.scenarios import scenario_path  # noqa: E402

CLIENTS = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  replicas: 4
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers: [{name: c, image: busybox}]
"""

ROLLOUT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 30
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def workload(name: str, clients: str, target: str, extra: str = "") -> str:
    return (f"apiVersion: kubelearn.dev/v1alpha1\nkind: Workload\nmetadata: {{name: {name}}}\nspec:\n"
            f"  clients: [{clients}]\n  target: {target}\n  connections: 1000\n"
            f"  arrival: {{type: fixed, rate: 1000}}\n{extra}")


#: path → (scenario names, extra manifest documents); no entry at all: ``kubelearn simulate`` without -f
PATHS: dict[str, tuple[list[str], list[str]]] = {
    "clusterip": (["my-service"], [workload("clusterip", "{pods: {selector: {app: MyApp}}}",
                                            "{clusterIP: {service: my-service}}")]),
    "dns": ([], []),
    "nodeport-local": (["nodeport-local"], [workload(
        "nodeport", "{external: {cidr: 203.0.113.0/24, count: 200}}", "{nodePort: {service: web, node: kind-worker}}")]),
    "affinity": (["session-affinity"], [workload(
        "affinity", "{external: {cidr: 198.51.0.0/16, count: 10000, node: kind-worker}}",
        "{clusterIP: {service: sticky}}")]),
    "headless-random": (["headless-statefulset"], [CLIENTS, workload(
        "headless", "{pods: {selector: {app: client}}}", "{dns: nginx, port: 80}",
        "  dnsClient: {strategy: random}\n")]),
    "rollout": ([], [ROLLOUT, CLIENTS, workload(
        "rollout", "{pods: {selector: {app: client}}}", "{clusterIP: {service: web}}",
        "  connectionSeconds: 2\n  requestsPerConnection: 1\n  events:\n"
        "  - {at: 100, rollout: {deployment: web, stepSeconds: 5, template: {spec: {containers: "
        "[{name: web, image: \"nginx:1.28\", ports: [{containerPort: 8080}]}]}}}}\n"
        "  - {at: 300, scale: {deployment: web, replicas: 6}}\n"
        "  - {at: 500, failNode: {node: kind-worker2}}\n")]),
}


def run_measured(cmd: list[str]) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (MiB) of one child process, and its output."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=ENV)
    assert p.stdout is not None
    out = p.stdout.read()
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    p.returncode = os.waitstatus_to_exitcode(status)
    if p.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed with exit code {p.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out


ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}

MEMORY_PROBE = """
import sys
from kubelearn.kind import load
from kubelearn.scenarios import default_scenario
from kubelearn.traffic import simulate
from kubelearn.traffic.log import memory_per_row
from kubelearn.traffic.simulate import default_workload
files = sys.argv[2:]
c = load(*files) if files else default_scenario()
log = simulate(c, default_workload(c, connections=int(sys.argv[1])), progress=False)
print(f"{memory_per_row(log):.1f} {len(log)}")
"""

FIRST_CALL_PROBE = """
import time
import kubelearn as kl
c = kl.default_scenario()
wl = kl.workload(kl.pod_clients(selector={"app": "MyApp"}), kl.traffic.dns("my-service", 80), connections=10_000)
t = time.perf_counter()
kl.simulate(c, wl, seed=0)
print(f"{time.perf_counter() - t:.4f}")
"""


def main() -> None:
    quick = "--quick" in sys.argv
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else (3 if quick else 5)
    n = int(sys.argv[sys.argv.index("--connections") + 1]) if "--connections" in sys.argv else 1_000_000
    py = sys.executable
    try:
        load = os.getloadavg()[0]
    except OSError:  # pragma: no cover
        load = float("nan")
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {load:.1f} at start; {n:,} connections, median of {runs} runs")
    with tempfile.TemporaryDirectory() as tmp:
        files: dict[str, list[str]] = {}
        for name, (scenarios, docs) in PATHS.items():
            paths = [str(scenario_path(s)) for s in scenarios]
            for j, doc in enumerate(docs):
                f = Path(tmp) / f"{name}-{j}.yaml"
                f.write_text(doc)
                paths.append(str(f))
            files[name] = paths
        cmds = {name: [py, "-m", "kubelearn", "simulate", "--connections", str(n), "--seed", "0",
                       *[a for p in paths for a in ("-f", p)]] for name, paths in files.items()}
        cmds["naive baseline"] = [py, str(ROOT / "benchmarks" / "naive_simulate.py"), str(n)]
        for cmd in cmds.values():  # warm-up: the bytecode cache, the page cache
            run_measured(["1000" if a == str(n) else a for a in cmd])  # (the bytecode cache, the page cache)
        times: dict[str, list[float]] = {k: [] for k in cmds}
        cpus: dict[str, list[float]] = {k: [] for k in cmds}
        rss: dict[str, list[float]] = {k: [] for k in cmds}
        for _ in range(runs):  # interleaved, so a busy spell hits every path alike
            for name, cmd in cmds.items():
                w, cpu, r, _ = run_measured(cmd)
                times[name].append(w)
                cpus[name].append(cpu)
                rss[name].append(r)
        base = statistics.median(times["naive baseline"])
        base_cpu = statistics.median(cpus["naive baseline"])
        per_row = {}
        for name, paths in files.items():
            out = subprocess.run([py, "-c", MEMORY_PROBE, str(n), *paths], capture_output=True, text=True,
                                 check=True, env=ENV).stdout.split()
            per_row[name] = float(out[0])
        first = [float(subprocess.run([py, "-c", FIRST_CALL_PROBE], capture_output=True, text=True,
                                      check=True, env=ENV).stdout.strip()) for _ in range(runs)]
    print("\n| path | wall (median, min) | vs naive baseline | CPU (median) | vs baseline, CPU | peak RSS | log bytes/row |")
    print("|---|---|---|---|---|---|---|")
    for name in cmds:
        t, cpu = statistics.median(times[name]), statistics.median(cpus[name])
        ratio = base / t
        mem = f"{per_row[name]:.0f}" if name in per_row else "-"
        flag = "" if name == "naive baseline" or ratio >= 3 else " (below 3x)"
        print(f"| {name} | {t:.2f} s ({min(times[name]):.2f}) | {ratio:.1f}x{flag} | {cpu:.2f} s | "
              f"{base_cpu / cpu:.1f}x | {statistics.median(rss[name]):.0f} MiB | {mem} |")
    print(f"\nfirst kl.simulate() of 10,000 connections in a fresh process: median {statistics.median(first):.3f} s "
          f"(target < 0.3 s; runs: {', '.join(f'{x:.3f}' for x in first)})")
    try:
        print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    except OSError:  # pragma: no cover
        pass


if __name__ == "__main__":
    main()
