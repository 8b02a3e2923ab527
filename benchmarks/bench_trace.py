"""Benchmark: trace cost against rules walked, iptables vs nftables (median of 5 runs).

Wall and CPU time are printed: on a shared, loaded machine wall time overstates the cost.  The
last rows trace a connection to one Service with 2,000 endpoints in each mode (a chain of 2,000
random branches, which the tracer follows on its own stack).

Run: ``.venv/bin/python benchmarks/bench_trace.py``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from bench_rules import big_cluster

from kubelearn.cluster import Cluster
from kubelearn.proxy import rules, trace
from kubelearn.proxy.iptables_trace import trace_iptables
from kubelearn.proxy.nftables_trace import trace_nftables


def timed(fn: Callable[[], Any], runs: int = 5) -> tuple[Any, float, float]:
    """The result, and the median wall and CPU seconds over ``runs`` calls."""
    wall, cpu = [], []
    result = None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return result, statistics.median(wall), statistics.median(cpu)


def one_big_service(endpoints: int) -> Cluster:
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {},
         "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big", "namespace": "default"},
         "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.50",
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}}]
    for start in range(0, endpoints, 1000):  # EndpointSlices hold at most 1,000 endpoints
        objs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                     "metadata": {"name": f"big-{start}", "namespace": "default",
                                  "labels": {"kubernetes.io/service-name": "big"}},
                     "endpoints": [{"addresses": [f"10.244.{j // 250}.{j % 250 + 1}"], "conditions": {"ready": True},
                                    "nodeName": "n1"} for j in range(start, min(endpoints, start + 1000))],
                     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    return Cluster(proxy_config={"mode": "iptables", "clusterCIDR": "10.244.0.0/16"}).with_objects(objs)


def main() -> None:
    for n in (1000, 5000):
        c = big_cluster(n, 3)
        for mode, fn in (("iptables", trace_iptables), ("nftables", trace_nftables)):
            rs = rules(c, "n1", mode=mode)
            for i in (0, n - 1):
                dst = f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}:80"
                tr, wall, cpu = timed(lambda: fn(rs, "10.244.1.5", dst))  # type: ignore[arg-type]  # noqa: B023
                print(f"{mode:9} {n:5} services, service #{i:5}: {tr.rules_walked:6} rules walked, "
                      f"median {wall * 1000:8.2f} ms ({cpu * 1000:8.2f} ms CPU)")
    big = one_big_service(2000)
    for mode in ("iptables", "nftables", "ipvs"):
        trace(big, "n1", "10.244.200.1", "10.96.0.50:80", mode=mode)  # the rules, built once
        tr, wall, cpu = timed(lambda: trace(big, "n1", "10.244.200.1", "10.96.0.50:80", mode=mode))  # noqa: B023
        print(f"{mode:9} one Service, {len(tr.destinations)} endpoints: {len(tr.steps):6} steps, "
              f"median {wall * 1000:8.2f} ms ({cpu * 1000:8.2f} ms CPU)")


if __name__ == "__main__":
    main()
