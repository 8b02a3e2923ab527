"""Benchmark: read, explain and diff a 10,000-service node's iptables-save (median of 5 runs).

Target: reading under 10 s for 10,000 services x 10 endpoints (430,000 lines, 31 MiB, within the
64 MiB limit); explain and one diff each about as long again.  The dump is the save view kubelearn
renders, which the netlab tests show is what the kernel prints.  Measured 2026-12-03 on the 2-core
shared x86_64 VM, Python 3.11.7: at load average ~3, read median 3.4 s, explain 2.5 s, diff 4.7 s,
one trace 0.03 s; at load average ~9 (other builds running) 9.2 s, 7.4 s, 11.1 s, 0.13 s.
Run: ``.venv/bin/python benchmarks/bench_read.py [n_services] [endpoints]``.
"""

from __future__ import annotations

import platform
import statistics
import sys
import time

from bench_rules import big_cluster

import kubelearn as kl


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    c = big_cluster(n, k)
    text = kl.rules(c, "n1", view="save").text("save")
    for what, fn in (("read", lambda: kl.read_rules(text, local_ips=["172.18.0.2"])),):
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            nr = fn()
            times.append(time.perf_counter() - t0)
        print(f"{what} {len(text) / 2**20:.1f} MiB, {len(text.splitlines())} lines: "
              f"median {statistics.median(times):.2f} s ({', '.join(f'{t:.2f}' for t in times)})")
    t0 = time.perf_counter()
    reports = kl.explain_rules(nr)
    print(f"explain: {len(reports)} service ports in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    d = kl.diff_rules(nr, c, "n1")
    print(f"diff: agree={d.agree}, {d.compared} rules compared in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    tr = kl.trace_rules(nr, "10.244.1.5", "10.96.0.5:80")
    print(f"trace: {tr.verdict}, {tr.rules_walked} rules walked in {time.perf_counter() - t0:.3f} s")
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")


if __name__ == "__main__":
    main()
