"""Test-only stand-ins for modules being written in parallel (kube-proxy trace, DNS, controllers).

They follow the contracts in docs/design.md and kube-proxy-facts.md closely enough for the
simulator's tests (which endpoints a node's rules use, masquerading, traffic policies, the
IPVS scheduler, affinity).  The per-connection oracle the fast simulator is checked
against uses the real tracer and lives in tests/test_traffic_oracle.py.  Nothing here ships
in kubelearn.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kubelearn.cluster import Cluster, NodeSpec, Topology

POD_CIDR = ipaddress.ip_network("10.244.0.0/16")


@dataclass(frozen=True)
class Destination:
    endpoint: str
    probability: float
    chain: str = ""


@dataclass(frozen=True)
class Trace:
    verdict: str
    destinations: tuple[Destination, ...] = ()
    masquerade: bool = False
    service: str = ""
    port_name: str = ""
    rules_walked: int = 0
    affinity_timeout: int | None = None
    scheduler: str | None = None
    steps: tuple[str, ...] = ()


CALLS: list[tuple[str, str, str]] = []


def _ready(ep: dict[str, Any]) -> bool:
    return (ep.get("conditions") or {}).get("ready", True) is not False


def _serving_terminating(ep: dict[str, Any]) -> bool:
    c = ep.get("conditions") or {}
    return c.get("serving", True) is not False and c.get("terminating", False) is True


def _endpoints(cluster: Cluster, svc: dict[str, Any], port: dict[str, Any], node: str):
    ns = svc["metadata"]["namespace"]
    eps = []
    for sl in cluster.endpoint_slices(ns, svc["metadata"]["name"]):
        sport = next((p["port"] for p in sl.get("ports") or [] if p.get("name", "") == port.get("name", "")), None)
        if sport is None:
            continue
        for ep in sl.get("endpoints") or []:
            eps.append((ep, f"{ep['addresses'][0]}:{sport}"))
    ready = [e for e in eps if _ready(e[0])]
    cluster_list = ready or [e for e in eps if _serving_terminating(e[0])]
    local_ready = [e for e in ready if e[0].get("nodeName") == node]
    local = local_ready or [e for e in eps if e[0].get("nodeName") == node and _serving_terminating(e[0])]
    return [e[1] for e in cluster_list], [e[1] for e in local]


def trace(cluster: Cluster, node: str, src: str, dst: str, protocol: str = "TCP", *, src_port=None, mode=None):
    """A kube-proxy stand-in: which endpoints node ``node``'s rules use for ``src`` → ``dst``."""
    CALLS.append((node, src, dst))
    mode = mode or cluster.proxy_mode
    ip, p = dst.rsplit(":", 1)
    p = int(p)
    node_ip = cluster.node_ip(node)
    src_is_pod = ipaddress.ip_address(src) in POD_CIDR
    src_is_node = src in {cluster.node_ip(n["metadata"]["name"]) for n in cluster.nodes()}
    for svc in cluster.services(None):
        spec = svc["spec"]
        if spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "None"):
            continue
        for port in spec.get("ports", []):
            spn = f"{svc['metadata']['namespace']}/{svc['metadata']['name']}"
            lbips = [i.get("ip") for i in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress", [])]
            external = None
            if ip == spec["clusterIP"] and p == port["port"]:
                external = False
            elif ip == node_ip and p == port.get("nodePort"):
                external = True
            elif (ip in (spec.get("externalIPs") or []) or ip in lbips) and p == port["port"]:
                external = True
            if external is None:
                continue
            cl, local = _endpoints(cluster, svc, port, node)
            aff = None
            if spec.get("sessionAffinity") == "ClientIP":
                aff = int(spec.get("sessionAffinityConfig", {}).get("clientIP", {}).get("timeoutSeconds", 10800))
            sched = (cluster.proxy_config.get("ipvs", {}) or {}).get("scheduler") or "rr" if mode == "ipvs" else None
            if not external:
                masq = not src_is_pod
                use = local if spec.get("internalTrafficPolicy") == "Local" else cl
                if not use:
                    v = "DROP" if cl and spec.get("internalTrafficPolicy") == "Local" else "REJECT"
                    return Trace(v, service=spn, port_name=port.get("name", ""), rules_walked=5)
            else:
                etp_local = spec.get("externalTrafficPolicy") == "Local"
                if not etp_local:
                    use, masq = cl, True
                elif src_is_pod:
                    use, masq = cl, False
                elif src_is_node:
                    use, masq = cl, True
                else:
                    use, masq = local, False
                if not use:
                    v = "DROP" if cl else "REJECT"
                    return Trace(v, service=spn, port_name=port.get("name", ""), rules_walked=7)
            dests = tuple(Destination(e, 1.0 / len(use), "KUBE-SEP-X") for e in use)
            return Trace("DNAT", dests, masq, spn, port.get("name", ""), 10 + len(use), aff, sched)
    return Trace("NONE", rules_walked=4)


@dataclass
class Record:
    name: str
    type: str
    data: str
    ttl: int = 30


@dataclass
class Resolution:
    rcode: str
    answer: list[Record] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)


def resolve(cluster: Cluster, name: str, type: str = "A", from_pod=None, namespace: str = "default"):
    """A DNS stand-in: ``svc`` / ``svc.ns`` / FQDN → ClusterIP, or ready pod IPs for a headless Service."""
    if isinstance(from_pod, dict) and (from_pod.get("spec") or {}).get("dnsPolicy") == "Default":
        return Resolution("NXDOMAIN")  # the node's resolver (Docker's on kind) knows no cluster names
    parts = name.rstrip(".").split(".")
    svc_name, ns = parts[0], parts[1] if len(parts) > 1 else namespace
    if not cluster.has("Service", svc_name, ns):
        return Resolution("NXDOMAIN")
    svc = cluster.get("Service", svc_name, ns)
    fq = f"{svc_name}.{ns}.svc.cluster.local."
    if svc["spec"].get("clusterIP") == "None":
        ips = [ep["addresses"][0] for sl in cluster.endpoint_slices(ns, svc_name) for ep in sl["endpoints"]
               if _ready(ep)]
        if not ips:
            return Resolution("NXDOMAIN")
        return Resolution("NOERROR", [Record(fq, "A", i) for i in ips])
    return Resolution("NOERROR", [Record(fq, "A", svc["spec"]["clusterIP"])])


# ------------------------------------------------------------------------- cluster fixtures
NODES = ("kind-control-plane", "kind-worker", "kind-worker2")


def node_obj(i: int, name: str) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name}
    if i == 0:
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"]},
            "status": {"addresses": [{"type": "InternalIP", "address": f"172.18.0.{i + 2}"},
                                     {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def pod_obj(name: str, node_i: int, host: int, labels: dict[str, str], ns: str = "default",
            ready: bool = True) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns, "labels": labels},
            "spec": {"nodeName": NODES[node_i], "containers": [{"name": "c", "image": "nginx"}],
                     "terminationGracePeriodSeconds": 30},
            "status": {"phase": "Running", "podIP": f"10.244.{node_i}.{host}",
                       "podIPs": [{"ip": f"10.244.{node_i}.{host}"}], "hostIP": f"172.18.0.{node_i + 2}",
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def service_obj(name: str = "my-service", *, type: str = "ClusterIP", cluster_ip: str = "10.96.0.100",
                affinity: int | None = None, etp: str = "Cluster", itp: str = "Cluster", node_port: int = 30080,
                lb_ip: str | None = None, external_ips=None, selector=None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": type, "selector": selector or {"app": "web"},
                            "ports": [{"name": "", "protocol": "TCP", "port": 80, "targetPort": 8080}],
                            "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
                            "sessionAffinity": "ClientIP" if affinity else "None",
                            "internalTrafficPolicy": itp, "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack"}
    if affinity:
        spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": affinity}}
    if type in ("NodePort", "LoadBalancer"):
        spec["ports"][0]["nodePort"] = node_port
        spec["externalTrafficPolicy"] = etp
    if external_ips:
        spec["externalIPs"] = list(external_ips)
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
           "spec": spec, "status": {}}
    if lb_ip:
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": lb_ip, "ipMode": "VIP"}]}}
    return svc


def slice_obj(service: str, pods: list[dict[str, Any]]) -> dict[str, Any]:
    eps = []
    for p in pods:
        ready = any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"]["conditions"])
        term = "deletionTimestamp" in p["metadata"]
        eps.append({"addresses": [p["status"]["podIP"]],
                    "conditions": {"ready": ready and not term, "serving": ready, "terminating": term},
                    "nodeName": p["spec"]["nodeName"],
                    "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "default"}})
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{service}-abcde", "namespace": "default",
                         "labels": {"kubernetes.io/service-name": service,
                                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "endpoints": eps, "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}


def make_cluster(*, backends=((1, 10), (1, 11), (2, 10)), mode: str = "iptables", scheduler: str = "",
                 clients: int = 2, service: dict[str, Any] | None = None, seed: int = 0,
                 extra: list[dict[str, Any]] | None = None) -> Cluster:
    """A kind-like 3-node cluster: web pods at (node index, host) plus ``clients`` client pods per worker."""
    topo = Topology(nodes=tuple(NodeSpec(n, "control-plane" if i == 0 else "worker", f"172.18.0.{i + 2}",
                                         f"10.244.{i}.0/24") for i, n in enumerate(NODES)))
    cfg: dict[str, Any] = {"mode": mode, "iptables": {"minSyncPeriod": "1s", "syncPeriod": "30s"},
                           "nftables": {"minSyncPeriod": "1s", "syncPeriod": "30s"},
                           "ipvs": {"scheduler": scheduler, "minSyncPeriod": "1s"}}
    web = [pod_obj(f"web-{i}", n, h, {"app": "web"}) for i, (n, h) in enumerate(backends)]
    cl = [pod_obj(f"client-{w}-{j}", w, 100 + j, {"app": "client"}) for w in (1, 2) for j in range(clients)]
    svc = service or service_obj()
    objs = [node_obj(i, n) for i, n in enumerate(NODES)] + web + cl + [svc, slice_obj(svc["metadata"]["name"], web)]
    return Cluster(topology=topo, proxy_config=cfg, seed=seed).with_objects(objs + (extra or []))


def reslice(cluster: Cluster, service: str = "my-service") -> Cluster:
    """Rebuild the service's EndpointSlice from the pods it selects (the controller, in miniature)."""
    svc = cluster.get("Service", service)
    sel = svc["spec"]["selector"]
    pods = [p for p in cluster.pods("default") if all(p["metadata"]["labels"].get(k) == v for k, v in sel.items())]
    return cluster.with_object(slice_obj(service, pods))


def delete_pod(self: Cluster, name: str, namespace: str = "default", grace: bool = False) -> Cluster:
    """controllers.delete_pod stand-in: terminating with grace, else removed (no replacement)."""
    if grace:
        pod = dict(self.get("Pod", name, namespace))
        grace = pod["spec"].get("terminationGracePeriodSeconds", 30)
        pod["metadata"] = dict(pod["metadata"], deletionTimestamp=self.timestamp(self.now + grace),
                               deletionGracePeriodSeconds=grace)
        return reslice(self.with_object(pod))
    return reslice(self.without("Pod", name, namespace))


def set_ready(self: Cluster, pod: str, ready: bool, namespace: str = "default") -> Cluster:
    p = dict(self.get("Pod", pod, namespace))
    p["status"] = dict(p["status"], conditions=[{"type": "Ready", "status": "True" if ready else "False"}])
    return reslice(self.with_object(p))
