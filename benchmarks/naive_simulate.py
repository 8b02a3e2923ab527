"""The naive baseline: one connection at a time in a plain Python loop, the same 17 log columns.

What a straightforward simulator does: for each connection pick the client, pick an endpoint
with the rules' probabilities (``random.random()`` against the cumulative shares), look up its
pod, and append one value per column; then build the pandas frame (categoricals, as the real
log has) and print the per-pod counts.  No kube-proxy model and no kernel state: it is the
floor a per-connection Python loop costs, which ``bench_simulate.py`` compares the real
``kubelearn simulate`` against, whole process against whole process.

Run: python benchmarks/naive_simulate.py [CONNECTIONS]
"""

from __future__ import annotations

import random
import sys

import pandas as pd

COLUMNS = ("time", "connection", "client", "client_kind", "src_ip", "dst", "via", "entry_node", "service",
           "port_name", "endpoint", "pod", "pod_node", "seen_src_ip", "outcome", "latency_ms", "rules_walked")
CATEGORICAL = {"client", "client_kind", "src_ip", "dst", "via", "entry_node", "service", "port_name", "endpoint",
               "pod", "pod_node", "seen_src_ip", "outcome"}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    rnd = random.Random(0)
    clients = [("client-a", "10.244.1.7", "kind-worker"), ("client-b", "10.244.2.7", "kind-worker2"),
               ("client-c", "10.244.1.8", "kind-worker"), ("client-d", "10.244.2.8", "kind-worker2")]
    endpoints = [("10.244.1.2:8080", "web-0", "kind-worker"), ("10.244.1.3:8080", "web-1", "kind-worker"),
                 ("10.244.2.2:8080", "web-2", "kind-worker2")]
    cum = [1 / 3, 2 / 3, 1.0]
    cols: dict[str, list[object]] = {c: [] for c in COLUMNS}
    for i in range(n):
        name, ip, node = clients[i % len(clients)]
        u = rnd.random()
        k = 0
        while u >= cum[k]:
            k += 1
        ep, pod, pod_node = endpoints[k]
        rtt = 0.05 if pod_node == node else 0.25
        cols["time"].append(i / 100.0)
        cols["connection"].append(i)
        cols["client"].append(name)
        cols["client_kind"].append("pod")
        cols["src_ip"].append(ip)
        cols["dst"].append("10.96.0.10:80")
        cols["via"].append("clusterip")
        cols["entry_node"].append(node)
        cols["service"].append("default/web")
        cols["port_name"].append("")
        cols["endpoint"].append(ep)
        cols["pod"].append(pod)
        cols["pod_node"].append(pod_node)
        cols["seen_src_ip"].append(ip)
        cols["outcome"].append("ok")
        cols["latency_ms"].append(2 * rtt + 0.002 * 20 + rnd.expovariate(1.0))
        cols["rules_walked"].append(20)
    df = pd.DataFrame({c: (pd.Categorical(v) if c in CATEGORICAL else v) for c, v in cols.items()})
    df["latency_ms"] = df["latency_ms"].astype("float32")
    df["rules_walked"] = df["rules_walked"].astype("int32")
    print(df["pod"].value_counts().sort_index().to_string())


if __name__ == "__main__":
    main()
