"""Benchmark: trace cost against rules walked, iptables vs nftables (median of 5 runs).

Run: ``.venv/bin/python benchmarks/bench_trace.py``.
"""

from __future__ import annotations

import statistics
import time

from bench_rules import big_cluster

from kubelearn.proxy import rules
from kubelearn.proxy.iptables_trace import trace_iptables
from kubelearn.proxy.nftables_trace import trace_nftables


def main() -> None:
    for n in (1000, 5000):
        c = big_cluster(n, 3)
        for mode, fn in (("iptables", trace_iptables), ("nftables", trace_nftables)):
            rs = rules(c, "n1", mode=mode)
            for i in (0, n - 1):
                dst = f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}:80"
                times = []
                for _ in range(5):
                    t0 = time.perf_counter()
                    tr = fn(rs, "10.244.1.5", dst)  # type: ignore[operator]
                    times.append(time.perf_counter() - t0)
                print(f"{mode:9} {n:5} services, service #{i:5}: {tr.rules_walked:6} rules walked, "
                      f"median {statistics.median(times) * 1000:8.2f} ms")


if __name__ == "__main__":
    main()
