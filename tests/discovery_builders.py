"""Hand-written, fully defaulted API objects for the discovery/kubectl tests.

The objects are what the API server would store after defaulting and allocation
(docs/design.md §1), so these tests do not depend on apply.py or the controllers.
"""

from __future__ import annotations

from typing import Any

from kubelearn.cluster import Cluster, Topology


def service(
    name: str,
    ip: str | None = "10.96.100.5",
    ports: list[tuple[int, str, str]] | None = None,
    namespace: str = "default",
    type: str = "ClusterIP",
    selector: dict[str, str] | None = None,
    external_name: str = "",
    target_ports: list[int | str] | None = None,
    node_ports: list[int] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A defaulted Service; ports are (port, protocol, name) with name "" for unnamed."""
    ports = [(80, "TCP", "")] if ports is None else ports
    spec: dict[str, Any] = {"type": type, "sessionAffinity": "None"}
    spec_ports = []
    for i, (port, proto, pname) in enumerate(ports):
        p: dict[str, Any] = {"port": port, "protocol": proto,
                             "targetPort": (target_ports[i] if target_ports else port)}
        if pname:
            p["name"] = pname
        if node_ports:
            p["nodePort"] = node_ports[i]
        spec_ports.append(p)
    if type == "ExternalName":
        spec["externalName"] = external_name
    else:
        spec["clusterIP"] = ip
        spec["clusterIPs"] = [ip]
        spec["ipFamilies"] = ["IPv6" if ip and ":" in ip else "IPv4"]
        spec["ipFamilyPolicy"] = "SingleStack"
        spec["internalTrafficPolicy"] = "Cluster"
        if type in ("NodePort", "LoadBalancer"):
            spec["externalTrafficPolicy"] = "Cluster"
    if spec_ports:
        spec["ports"] = spec_ports
    if selector:
        spec["selector"] = selector
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "v1", "kind": "Service", "metadata": meta, "spec": spec, "status": {"loadBalancer": {}}}


def pod(
    name: str,
    ip: str = "10.244.1.5",
    namespace: str = "default",
    node: str = "kind-worker",
    labels: dict[str, str] | None = None,
    ready: bool = True,
    env: list[dict[str, Any]] | None = None,
    **spec_extra: Any,
) -> dict[str, Any]:
    """A scheduled, running pod with one container named ``app``."""
    container: dict[str, Any] = {"name": "app", "image": "nginx:1.27"}
    if env is not None:
        container["env"] = env
    spec: dict[str, Any] = {"containers": [container], "nodeName": node, "enableServiceLinks": True,
                            "dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}
    spec.update(spec_extra)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": labels or {}},
        "spec": spec,
        "status": {
            "phase": "Running",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "hostIP": "172.18.0.3",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def endpoint_slice(
    service: str,
    endpoints: list[tuple[str, bool, str]],
    ports: list[tuple[str, int, str]] | None = None,
    namespace: str = "default",
    suffix: str = "abcde",
    terminating: bool = False,
) -> dict[str, Any]:
    """An EndpointSlice; endpoints are (ip, ready, hostname) and ports (name, port, protocol)."""
    ports = [("", 80, "TCP")] if ports is None else ports
    eps = []
    for ip, ready, host in endpoints:
        ep: dict[str, Any] = {"addresses": [ip], "conditions": {"ready": ready, "serving": ready or terminating,
                                                                "terminating": terminating},
                              "nodeName": "kind-worker"}
        if host:
            ep["hostname"] = host
        eps.append(ep)
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {"name": f"{service}-{suffix}", "namespace": namespace,
                     "labels": {"kubernetes.io/service-name": service,
                                "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": "IPv6" if endpoints and ":" in endpoints[0][0] else "IPv4",
        "endpoints": eps,
        "ports": [{"name": n, "port": p, "protocol": pr} for n, p, pr in ports],
    }


def node(name: str, ip: str, control_plane: bool = False, ready: bool = True) -> dict[str, Any]:
    """A kind node."""
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "labels": labels},
        "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
        "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                   "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]},
    }


def kubernetes_service() -> dict[str, Any]:
    """default/kubernetes as kubeadm's API server creates it."""
    svc = service("kubernetes", "10.96.0.1", [(443, "TCP", "https")], target_ports=[6443],
                  labels={"component": "apiserver", "provider": "kubernetes"})
    return svc


def kube_dns_service() -> dict[str, Any]:
    """kube-system/kube-dns (served by CoreDNS)."""
    return service("kube-dns", "10.96.0.10", [(53, "UDP", "dns"), (53, "TCP", "dns-tcp"), (9153, "TCP", "metrics")],
                   namespace="kube-system", selector={"k8s-app": "kube-dns"})


def cluster(*objs: dict[str, Any], now: float = 0.0) -> Cluster:
    """A cluster holding ``objs`` in order (creation order), clock at ``now``."""
    return Cluster(topology=Topology()).with_objects(objs).at(now)
