"""Benchmark: render iptables rules for 10,000 services x 10 endpoints (median of 5 runs).

Target: under 2 s.  The cluster is built directly with ``with_objects`` (no validation).
Run: ``.venv/bin/python benchmarks/bench_rules.py [n_services] [endpoints]``.
"""

from __future__ import annotations

import statistics
import sys
import time

from kubelearn.cluster import Cluster
from kubelearn.proxy import rules


def big_cluster(n: int, k: int) -> Cluster:
    objs: list[dict] = [{"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {},
                         "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.2"}]}}]
    for i in range(n):
        name = f"svc{i}"
        objs.append({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                     "spec": {"type": "ClusterIP", "clusterIP": f"10.{96 + i // 65536}.{i // 256 % 256}.{i % 256}",
                              "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]}})
        objs.append({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                     "metadata": {"name": f"{name}-x", "namespace": "default",
                                  "labels": {"kubernetes.io/service-name": name}},
                     "endpoints": [{"addresses": [f"10.{200 + j}.{i // 256 % 256}.{i % 256}"],
                                    "conditions": {"ready": True}, "nodeName": "n1"} for j in range(k)],
                     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    return Cluster(proxy_config={"mode": "iptables", "clusterCIDR": "10.244.0.0/16"}).with_objects(objs)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    k = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    c = big_cluster(n, k)
    times, cpu = [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        text = str(rules(c, "n1"))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    # CPU time is printed too: on a shared, loaded machine wall time overstates the cost.
    print(f"iptables rules for {n} services x {k} endpoints: {len(text.splitlines())} lines, "
          f"median {statistics.median(times):.3f} s wall, {statistics.median(cpu):.3f} s CPU "
          f"(wall runs: {', '.join(f'{t:.3f}' for t in times)})")


if __name__ == "__main__":
    main()
