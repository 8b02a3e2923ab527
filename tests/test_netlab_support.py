"""Hand-built, fully defaulted clusters for the netlab tests (no dependency on apply/controllers).

Also holds the shared skip logic: the lab needs root, Linux and the kernel tools.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from kubelearn.cluster import Cluster, NodeSpec, Topology

NODES = (("kind-control-plane", "172.18.0.2", "10.244.0.0/24"),
         ("kind-worker", "172.18.0.3", "10.244.1.0/24"),
         ("kind-worker2", "172.18.0.4", "10.244.2.0/24"))


def lab_skip_reason(mode: str = "iptables") -> str | None:
    """Why the lab cannot run here, or None."""
    if not sys.platform.startswith("linux"):
        return "netlab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "netlab needs root (CI runs the netlab tests as root)"
    tools = ["ip", "iptables-restore", "iptables-save"] + (["nft"] if mode == "nftables" else [])
    absent = [t for t in tools if shutil.which(t) is None]
    if absent:
        return f"netlab needs {', '.join(absent)} (apt-get install iproute2 iptables nftables)"
    return None


def requires_lab(mode: str = "iptables") -> pytest.MarkDecorator:
    reason = lab_skip_reason(mode)
    return pytest.mark.skipif(reason is not None, reason=reason or "")


def node(name: str, ip: str, cidr: str) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if name.endswith("control-plane"):
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": cidr, "podCIDRs": [cidr]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def pod(name: str, node_name: str, ip: str, labels: dict[str, str], port: int = 8080) -> dict[str, Any]:
    host_ip = {n: i for n, i, _ in NODES}[node_name]
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": labels},
        "spec": {"nodeName": node_name,
                 "containers": [{"name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.53",
                                 "ports": [{"containerPort": port, "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": host_ip,
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def service(name: str, cluster_ip: str, *, type_: str = "ClusterIP", node_port: int | None = None,
            affinity: str = "None", timeout: int = 10800, etp: str = "Cluster", itp: str = "Cluster",
            port: int = 80, target: int = 8080) -> dict[str, Any]:
    p: dict[str, Any] = {"name": "http", "protocol": "TCP", "port": port, "targetPort": target}
    if type_ in ("NodePort", "LoadBalancer"):
        p["nodePort"] = node_port or 30080
    spec: dict[str, Any] = {
        "type": type_, "selector": {"app": name}, "ports": [p], "clusterIP": cluster_ip,
        "clusterIPs": [cluster_ip], "sessionAffinity": affinity, "internalTrafficPolicy": itp,
        "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
    }
    if affinity == "ClientIP":
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": timeout}}
    if type_ in ("NodePort", "LoadBalancer"):
        spec["externalTrafficPolicy"] = etp
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
            "spec": spec, "status": {"loadBalancer": {}}}


def endpoint_slice(svc: str, pods: list[dict[str, Any]], port: int = 8080) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": f"{svc}-abcde", "namespace": "default",
                     "labels": {"kubernetes.io/service-name": svc,
                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv4",
        "endpoints": [{"addresses": [p["status"]["podIP"]],
                       "conditions": {"ready": True, "serving": True, "terminating": False},
                       "nodeName": p["spec"]["nodeName"],
                       "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "default"}}
                      for p in pods],
        "ports": [{"name": "http", "port": port, "protocol": "TCP"}],
    }


def make_cluster(n_pods: int = 3, *, placement: list[str] | None = None, mode: str = "iptables",
                 with_client: bool = True, **svc: Any) -> Cluster:
    """Nodes, ``n_pods`` ``web`` pods (round-robin over the workers unless ``placement``), a Service ``web``."""
    workers = [n for n, _, _ in NODES[1:]]
    placement = placement or [workers[i % len(workers)] for i in range(n_pods)]
    counters: dict[str, int] = {}
    objs: list[dict[str, Any]] = [node(*n) for n in NODES]
    web = []
    cidrs = {n: c for n, _, c in NODES}
    for i, nd in enumerate(placement):
        counters[nd] = counters.get(nd, 0) + 1
        ip = str(ipaddress.ip_network(cidrs[nd]).network_address + 1 + counters[nd])
        web.append(pod(f"web-{i}", nd, ip, {"app": "web"}))
    objs += web
    if with_client:
        objs.append(pod("client", "kind-control-plane", "10.244.0.5", {"app": "client"}, port=9000))
    objs.append(service("web", "10.96.0.100", **svc))
    objs.append(endpoint_slice("web", web))
    topology = Topology(nodes=tuple(NodeSpec(n, "control-plane" if "control" in n else "worker", ip, c)
                                    for n, ip, c in NODES), kube_proxy_mode=mode)
    proxy_config = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
                    "mode": mode, "clusterCIDR": "10.244.0.0/16", "detectLocalMode": "ClusterCIDR",
                    "iptables": {"masqueradeBit": 14, "masqueradeAll": False, "localhostNodePorts": True},
                    "ipvs": {"scheduler": ""}, "nodePortAddresses": []}
    return Cluster(topology=topology, proxy_config=proxy_config, seed=7).with_objects(objs)


def root_snapshot() -> str:
    """The root namespace's network state: interfaces, addresses, routes, rules, firewall."""
    cmds = [["ip", "-d", "addr"], ["ip", "route", "show", "table", "all"], ["ip", "-6", "route", "show", "table", "all"],
            ["ip", "rule"], ["ip", "-6", "rule"], ["iptables-save"], ["ip6tables-save"], ["nft", "list", "ruleset"]]
    out = []
    for argv in cmds:
        if shutil.which(argv[0]) is None:
            continue
        res = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=30)
        # iptables-save stamps the time in its comment lines; everything else must be identical.
        text = "\n".join(ln for ln in res.stdout.splitlines() if not ln.startswith("#"))
        out.append(f"$ {' '.join(argv)}\n{text}")
    # The root namespace's sysctls the lab sets inside its own namespaces (read from /proc directly).
    keep = []
    for base in ("/proc/sys/net/ipv4", "/proc/sys/net/bridge"):
        for f in sorted(Path(base).rglob("*")) if Path(base).exists() else []:
            name = str(f.relative_to("/proc/sys"))
            if f.is_file() and any(k in name for k in ("ip_forward", "route_localnet", "rp_filter", "icmp_rate",
                                                       "bridge-nf-call")):
                try:
                    keep.append(f"{name} = {f.read_text().strip()}")
                except OSError:
                    pass
    out.append("$ root sysctls (ip_forward, route_localnet, rp_filter, icmp_rate*, bridge-nf-call-*)\n" + "\n".join(keep))
    return "\n".join(out)
