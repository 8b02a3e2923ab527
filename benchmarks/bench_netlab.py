"""Benchmark the namespace lab: time to bring up a 3-node, 6-pod lab, and connections per second.

Targets (issue 6): the lab is up in under 10 s and carries at least 500 connections/s.
Needs root on Linux with iproute2 and iptables; prints medians of several runs::

    sudo .venv/bin/python benchmarks/bench_netlab.py [--runs 5] [--connections 2000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from kubelearn.netlab import NetLab, missing
from kubelearn.scenarios import scenario


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--mode", default="iptables", choices=("iptables", "nftables"))
    args = ap.parse_args()
    problems = missing(args.mode)
    if problems:
        print("cannot benchmark the lab here: " + "; ".join(problems), file=sys.stderr)
        return 1
    cluster = scenario("my-service").scale("my-app", 4)  # 3 nodes, 6 pods
    n_pods = len(cluster.pods())
    ups, rates, replay_rates, downs = [], [], [], []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        lab = NetLab(cluster, mode=args.mode)
        lab.open()
        try:
            ups.append(time.perf_counter() - t0)
            svc = cluster.get("Service", "my-service")
            dst = f"{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"
            assert lab.plan is not None
            clients = [p.name for p in lab.plan.pods]
            conns = [lab.connection(clients[i % len(clients)], dst, service="default/my-service")
                     for i in range(args.connections)]
            t1 = time.perf_counter()
            log = lab.run(connections=conns)
            rates.append(len(log) / (time.perf_counter() - t1))
            assert (log["outcome"] == "ok").all(), log["outcome"].value_counts()
            t2 = time.perf_counter()
            log = lab.run(connections=args.connections)  # simulator workload replayed for real
            replay_rates.append(len(log) / (time.perf_counter() - t2))
        finally:
            t3 = time.perf_counter()
            lab.close()
            downs.append(time.perf_counter() - t3)
    print(f"lab: 3 nodes, {n_pods} pods, mode {args.mode}, {args.runs} runs")
    print(f"  up (median):             {statistics.median(ups):.3f} s   (target < 10 s)")
    print(f"  connections/s (median):  {statistics.median(rates):.0f}     (target >= 500; {args.connections} per run)")
    print(f"  workload replay conn/s:  {statistics.median(replay_rates):.0f}     (simulate + replay)")
    print(f"  teardown (median):       {statistics.median(downs):.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
