"""Benchmark the traffic simulator (medians of several runs; not a test).

Targets (issue 4): 1,000,000 connections to a 10-endpoint Service in iptables mode < 1 s;
ClientIP affinity with 10,000 clients < 3 s; <= 150 bytes per log row; > 50x faster than
routing each connection through the tracer one at a time (the tests' oracle).

Run: .venv/bin/python benchmarks/bench_simulate.py [--quick]
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "data" / "traffic"))
sys.path.insert(0, str(ROOT / "tests"))

import standin as s  # noqa: E402  (hand-built cluster objects)
from test_traffic_oracle import oracle  # noqa: E402  (the per-connection reference: the real tracer, one by one)

from kubelearn.topology import default_proxy_config  # noqa: E402
from kubelearn.traffic import cluster_ip, external, pods, simulate, workload  # noqa: E402
from kubelearn.traffic.log import memory_per_row  # noqa: E402

TEN = [(1 + i % 2, 10 + i) for i in range(10)]


def cluster(service=None):
    c = s.make_cluster(backends=TEN, service=service)
    return replace(c, proxy_config=default_proxy_config(c.topology))


def median_time(fn, runs):
    """Median wall-clock seconds of ``runs`` calls (and the CPU seconds, shown for busy machines)."""
    times, cpus = [], []
    out = None
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    global LAST_CPU
    LAST_CPU = statistics.median(cpus)
    return statistics.median(times), out


LAST_CPU = 0.0


def main() -> None:
    quick = "--quick" in sys.argv
    runs = 3 if quick else 5
    c = cluster()
    wl = workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=1_000_000)
    simulate(c, wl.with_(connections=1000))  # warm imports
    t, df = median_time(lambda: simulate(c, wl, progress=False), runs)
    print(f"iptables, 10 endpoints, 1,000,000 connections: median {t:.3f} s wall, {LAST_CPU:.3f} s CPU "
          f"over {runs} runs (target < 1 s)")
    print(f"memory per log row: {memory_per_row(df):.1f} bytes (target <= 150)")
    per_conn_fast = LAST_CPU / 1_000_000
    del df

    ca = cluster(s.service_obj(affinity=10800))
    wla = workload(external("198.51.0.0/16", 10_000, node="kind-worker"), cluster_ip("my-service"),
                   connections=1_000_000)
    for n in (100_000, 1_000_000):
        t, df = median_time(lambda n=n: simulate(ca, wla.with_(connections=n), progress=False), runs)
        print(f"ClientIP affinity, 10,000 clients, {n:,} connections: median {t:.3f} s wall, {LAST_CPU:.3f} s CPU "
              "(target < 3 s)")
        del df

    n_ref = 2000 if quick else 10_000
    median_time(lambda: oracle(c, wl.with_(connections=n_ref), seed=0), 3)
    per_conn_ref = LAST_CPU / n_ref
    print(f"per-connection reference (tracer per connection): {per_conn_ref * 1e6:.1f} us CPU/connection; "
          f"fast: {per_conn_fast * 1e6:.3f} us/connection; speed-up {per_conn_ref / per_conn_fast:.0f}x (target > 50x)")


if __name__ == "__main__":
    main()
