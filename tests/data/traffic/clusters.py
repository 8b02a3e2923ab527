"""Real clusters for the simulator's tests: manifests through kubelearn's own apply and controllers.

Pods are bare Pods pinned to a node with ``spec.nodeName`` (so a test knows where each one runs);
the Service, its EndpointSlices, pod IPs and ClusterIPs come from the real model, and the
simulator runs the real tracer (:func:`kubelearn.proxy.trace`) and resolver (:func:`kubelearn.discovery.dns.resolve`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import yaml

from kubelearn.cluster import Cluster
from kubelearn.kind import load

NODES = ("kind-control-plane", "kind-worker", "kind-worker2")
#: ten web pods alternating between the two workers
TEN = [(1 + i % 2, i) for i in range(10)]


def pod(name: str, node_i: int, labels: dict[str, str], port: int = 8080) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"nodeName": NODES[node_i], "terminationGracePeriodSeconds": 30,
                     "containers": [{"name": "c", "image": "nginx", "ports": [{"containerPort": port}]}]}}


def service(name: str = "my-service", *, type: str = "ClusterIP", cluster_ip: str | None = "10.96.0.100",
            affinity: int | None = None, etp: str | None = None, itp: str | None = None, node_port: int = 30080,
            external_ips: list[str] | None = None, selector: dict[str, str] | None = None,
            lb_ip: str | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type, "selector": selector or {"app": "web"},
                            "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}]}
    if cluster_ip:
        spec["clusterIP"] = cluster_ip
    if affinity:
        spec["sessionAffinity"] = "ClientIP"
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": affinity}}
    if type in ("NodePort", "LoadBalancer"):
        spec["ports"][0]["nodePort"] = node_port
    if etp:
        spec["externalTrafficPolicy"] = etp
    if itp:
        spec["internalTrafficPolicy"] = itp
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"}, "spec": spec}
    if lb_ip:  # what cloud-provider-kind or MetalLB writes once it has an address
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": lb_ip, "ipMode": "VIP"}]}}
    return svc


def make_cluster(*, backends=((1, 0), (1, 1), (2, 2)), mode: str = "iptables", scheduler: str = "",
                 clients: int = 2, service_obj: dict[str, Any] | None = None,
                 extra: list[dict[str, Any]] | None = None) -> Cluster:
    """A kind-like 3-node cluster: ``web-<i>`` pods on the nodes ``backends`` names (node index, i),
    ``clients`` client pods ``client-<worker>-<j>`` on each worker, and ``service_obj`` (default:
    ``my-service``, ClusterIP 10.96.0.100, port 80 → 8080)."""
    web = [pod(f"web-{i}", n, {"app": "web"}) for n, i in backends]
    cl = [pod(f"client-{w}-{j}", w, {"app": "client"}) for w in (1, 2) for j in range(clients)]
    objs = web + cl + [service_obj or service()] + list(extra or [])
    c = load(yaml.safe_dump_all(objs))
    cfg = dict(c.proxy_config)
    cfg["mode"] = mode
    cfg["ipvs"] = dict(cfg.get("ipvs") or {}, scheduler=scheduler)
    return replace(c, proxy_config=cfg)


def ip(cluster: Cluster, pod_name: str) -> str:
    """A pod's IP in ``cluster``."""
    return str(cluster.get("Pod", pod_name)["status"]["podIP"])
