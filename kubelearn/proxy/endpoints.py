"""Which endpoints kube-proxy uses for a service port (``CategorizeEndpoints``).

kube-proxy never looks at Pods: it reads Services and EndpointSlices.  For each service
port it collects the endpoints of the slices labelled with the service's name whose port has
the same *name* and protocol, removes duplicates and sorts them as **strings** ``IP:port``
(so ``10.1.1.11:11`` comes before ``10.1.1.1:11``).  Missing conditions default to
ready=true, serving=true, terminating=false.

From those it builds two lists.  The *cluster* list is every ready endpoint, or, if none is
ready, every serving-and-terminating one (KEP-1669: a rollout's last pods keep serving while
they shut down).  The *local* list does the same with only this node's endpoints
(``nodeName``).  ``hasAnyEndpoints`` says whether anything at all can serve; when nothing
can, kube-proxy REJECTs the traffic instead of black-holing it.

Addresses are used in their canonical form, as kube-proxy parses them (``ParseIPSloppy(...)
.String()`` in ``endpointslicecache.go``; ``net.IP``/``*net.IPNet`` values in ``service.go``):
an endpoint ``10.180.00.001`` or an external IP ``1.2.3.004``, which an API server of that era
accepts with a warning, becomes ``10.180.0.1`` / ``1.2.3.4`` in rule text, in the hashes of
chain names and in ``dnat to``; a source range ``203.0.113.000/025`` becomes ``203.0.113.0/25``
(the network address, as Go's ``ParseCIDRSloppy`` returns it).

kubelearn models IPv4 only: IPv6 EndpointSlices are ignored (a single-stack kind cluster).
Topology (``pkg/proxy/topology.go``): for the *cluster* list kube-proxy honours the
EndpointSlice hints.  If every ready endpoint has a node hint and one is hinted for this node
(only with the ``PreferSameTrafficDistribution`` gate on: beta, default on, from v1.34), it
keeps the endpoints hinted for this node (``PreferSameNode``); otherwise, if every ready
endpoint has a zone hint and one is hinted for this node's zone
(``topology.kubernetes.io/zone``), it keeps the endpoints hinted for the zone; otherwise it
ignores the hints.  The fallback to serving-terminating endpoints ignores topology, and the
*local* list (``Local`` traffic policies) never looks at hints.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import objects
from ..apiserver.validation import parse_ip
from ..cluster import Cluster
from .names import endpoint_string, service_port_name

__all__ = ["Categorized", "Endpoint", "ServicePort", "canonical_cidr", "canonical_ip", "categorize_endpoints",
           "service_ports", "topology_mode"]


# An IPv4 address already in canonical form (no leading zeros, each octet at most 255): by far the
# common case, returned as it is without parsing (100,000 endpoints: a regex match each, not a parse).
_CANONICAL_V4 = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                           r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")


def canonical_ip(text: Any) -> Any:
    """``netutils.ParseIPSloppy(text).String()``: ``1.2.3.004`` → ``1.2.3.4``.

    A value that is not an IP address is returned unchanged, for the writers' checks to refuse.
    """
    if isinstance(text, str) and _CANONICAL_V4.fullmatch(text):
        return text
    ip = parse_ip(text)
    return str(ip) if ip is not None else text


def canonical_cidr(text: Any) -> Any:
    """``netutils.ParseCIDRSloppy(text)`` printed: ``203.0.113.000/025`` → ``203.0.113.0/25``.

    Go returns the network (host bits cleared).  A value that is not a CIDR is returned unchanged.
    """
    if not isinstance(text, str) or text.count("/") != 1:
        return text
    addr, bits = text.split("/")
    ip = parse_ip(addr)
    if ip is None or not (bits.isascii() and bits.isdigit()) or len(bits.lstrip("0")) > 3 or ":" in addr:
        return text
    if int(bits) > 32:
        return text
    return str(ipaddress.IPv4Network(f"{ip}/{int(bits)}", strict=False))


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One endpoint of one service port, as kube-proxy's endpoint cache holds it.

    ``address`` is ``IP:port`` (``[IP]:port`` for IPv6), the string endpoints are sorted
    and hashed by; it is derived from ``ip`` and ``port`` when not given.
    """

    ip: str
    port: int
    node_name: str = ""
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    address: str = ""
    zone_hints: frozenset[str] = frozenset()
    node_hints: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.address:
            object.__setattr__(self, "address", endpoint_string(self.ip, self.port))


@dataclass(frozen=True)
class ServicePort:
    """Everything kube-proxy needs about one port of one Service (``ServicePortInfo``)."""

    namespace: str
    name: str
    port_name: str
    protocol: str  # "TCP", "UDP" or "SCTP"
    port: int
    cluster_ip: str
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    lb_ips: tuple[str, ...] = ()
    source_ranges: tuple[str, ...] = ()
    external_local: bool = False  # eTP=Local in effect (externally reachable service)
    internal_local: bool = False  # iTP=Local
    affinity_timeout: int | None = None  # ClientIP affinity: timeoutSeconds
    health_check_node_port: int = 0
    endpoints: tuple[Endpoint, ...] = ()

    @property
    def spn(self) -> str:
        """``ns/svc:port`` (``ns/svc`` for an unnamed port)."""
        return service_port_name(self.namespace, self.name, self.port_name)

    @property
    def proto(self) -> str:
        """Lower-case protocol as iptables and nft write it."""
        return self.protocol.lower()

    @property
    def externally_accessible(self) -> bool:
        """A nodePort, an externalIP or an LB ingress IP exists."""
        return bool(self.node_port or self.external_ips or self.lb_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster list needed: iTP is not Local, or the port is reachable from outside."""
        return not self.internal_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        """Local list needed: iTP=Local, or eTP=Local on an externally reachable port."""
        return self.internal_local or (self.external_local and self.externally_accessible)


@dataclass(frozen=True)
class Categorized:
    """Result of :func:`categorize_endpoints`."""

    cluster: tuple[Endpoint, ...]
    local: tuple[Endpoint, ...]
    all_reachable: tuple[Endpoint, ...]  # union, sorted: the endpoints that get a chain
    has_any_endpoints: bool


def _usable(eps: Iterable[Endpoint]) -> tuple[Endpoint, ...]:
    eps = tuple(eps)
    ready = tuple(e for e in eps if e.ready)
    if ready:
        return ready
    # KEP-1669: with nothing ready, serving-but-terminating endpoints still take traffic.
    return tuple(e for e in eps if e.serving and e.terminating)


def topology_mode(endpoints: Iterable[Endpoint], node: str, zone: str, prefer_same_node: bool = False) -> str:
    """``topologyModeFromHints``: ``"PreferSameNode"``, ``"PreferSameZone"`` or ``""`` (no topology).

    Args:
        endpoints: the service port's endpoints.
        node: this node's name.
        zone: this node's ``topology.kubernetes.io/zone`` label ("" when it has none).
        prefer_same_node: the ``PreferSameTrafficDistribution`` feature gate.
    """
    ready = [e for e in endpoints if e.ready]
    if not ready:
        return ""
    if prefer_same_node and all(e.node_hints for e in ready) and any(node in e.node_hints for e in ready):
        return "PreferSameNode"
    if all(e.zone_hints for e in ready) and any(zone in e.zone_hints for e in ready):
        return "PreferSameZone"
    return ""


def _available(e: Endpoint, mode: str, node: str, zone: str) -> bool:
    if mode == "PreferSameNode":
        return node in e.node_hints
    if mode == "PreferSameZone":
        return zone in e.zone_hints
    return True


def categorize_endpoints(sp: ServicePort, node: str, zone: str = "", prefer_same_node: bool = False) -> Categorized:
    """kube-proxy's ``CategorizeEndpoints`` for one node (``pkg/proxy/topology.go``).

    Args:
        sp: the service port, with its sorted endpoints.
        node: the node kube-proxy runs on (endpoints with this ``nodeName`` are local).
        zone: the node's ``topology.kubernetes.io/zone`` label, for zone hints.
        prefer_same_node: the ``PreferSameTrafficDistribution`` gate (node hints honoured).

    Returns:
        The cluster list (empty when the port does not use Cluster endpoints), the local
        list (empty when it does not use Local endpoints), their union and
        ``hasAnyEndpoints``.
    """
    eps = sp.endpoints
    cluster: tuple[Endpoint, ...] = ()
    mode = ""
    if sp.uses_cluster_endpoints:
        mode = topology_mode(eps, node, zone, prefer_same_node)
        cluster = tuple(e for e in eps if e.ready and _available(e, mode, node, zone))
        if not cluster:  # no ready endpoint anywhere: serving-terminating ones, topology ignored
            cluster = tuple(e for e in eps if e.serving and e.terminating)
    has_any = bool(_usable(eps))
    local: tuple[Endpoint, ...] = ()
    if sp.uses_local_endpoints:
        local = _usable(e for e in eps if e.node_name == node)
    union = {e.address: e for e in (*cluster, *local)}
    return Categorized(cluster, local, tuple(union[k] for k in sorted(union)), has_any)


def _hint_names(hints: Any, key: str) -> frozenset[str]:
    items = hints.get(key) if isinstance(hints, dict) else None
    if not isinstance(items, list):
        return frozenset()
    return frozenset(str(h["name"]) for h in items if isinstance(h, dict) and isinstance(h.get("name"), str))


def _slice_endpoints(slices: list[dict[str, Any]], port_name: str, protocol: str,
                     node_hints: bool = False) -> tuple[Endpoint, ...]:
    found: dict[str, Endpoint] = {}
    for sl in slices:
        if sl.get("addressType", "IPv4") != "IPv4":
            continue
        port = None
        for p in sl.get("ports") or []:
            if (p.get("name") or "") == port_name and (p.get("protocol") or "TCP") == protocol:
                port = p.get("port")
                break
        if port is None:
            continue
        for ep in sl.get("endpoints") or []:
            cond = ep.get("conditions") or {}
            ready = cond.get("ready")
            serving = cond.get("serving")
            terminating = cond.get("terminating")
            for raw in (ep.get("addresses") or [])[:1]:  # kube-proxy uses the first address
                ip = canonical_ip(raw)
                address = f"{ip}:{port}"
                if address in found:
                    continue
                hints = ep.get("hints")
                found[address] = Endpoint(
                    ip,
                    int(port),
                    ep.get("nodeName") or "",
                    True if ready is None else bool(ready),
                    True if serving is None else bool(serving),
                    False if terminating is None else bool(terminating),
                    address,
                    _hint_names(hints, "forZones"),
                    # kube-proxy reads forNodes only with PreferSameTrafficDistribution on
                    _hint_names(hints, "forNodes") if node_hints else frozenset(),
                )
    return tuple(found[k] for k in sorted(found))


def service_ports(cluster: Cluster) -> list[ServicePort]:
    """Every IPv4 service port kube-proxy programs, sorted by namespace, name, port name.

    Headless Services (``clusterIP: None``) and ``ExternalName`` Services are skipped, as
    kube-proxy skips them.  The sort stands in for Go's random map order (the order of
    services inside ``KUBE-SERVICES`` is not stable on a real node).
    """
    from ..versions import cluster_minor, feature_gate

    node_hints = feature_gate(cluster.proxy_config, "PreferSameTrafficDistribution", cluster_minor(cluster))
    out: list[ServicePort] = []
    # One pass over the slices (a per-service lookup would be O(services x slices)).
    by_service: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for (kind, _, _), sl in cluster.objects.items():
        if kind != "EndpointSlice":
            continue
        svc_name = (sl["metadata"].get("labels") or {}).get("kubernetes.io/service-name")
        if svc_name:
            by_service.setdefault((sl["metadata"].get("namespace", "default"), svc_name), []).append(sl)
    for (kind, _, _), svc in cluster.objects.items():
        if kind != "Service":
            continue
        spec = svc.get("spec") or {}
        stype = spec.get("type", "ClusterIP")
        cip = canonical_ip(spec.get("clusterIP"))
        if stype == "ExternalName" or not cip or cip == "None" or ":" in cip:
            continue
        ext_ips = tuple(ip for ip in map(canonical_ip, spec.get("externalIPs") or []) if ":" not in ip)
        lb_ips: tuple[str, ...] = ()
        if stype == "LoadBalancer":
            lb_ips = tuple(
                canonical_ip(ing["ip"])
                for ing in ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
                if ing.get("ip") and ":" not in ing["ip"] and ing.get("ipMode", "VIP") != "Proxy"
            )
        ranges = tuple(canonical_cidr(r.strip()) for r in spec.get("loadBalancerSourceRanges") or [] if ":" not in r)
        external_policy_applies = stype in ("NodePort", "LoadBalancer") or bool(ext_ips)
        etp_local = external_policy_applies and spec.get("externalTrafficPolicy") == "Local"
        itp_local = spec.get("internalTrafficPolicy") == "Local"
        timeout = None
        if spec.get("sessionAffinity") == "ClientIP":
            cfg = ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {})
            timeout = int(cfg.get("timeoutSeconds", 10800))
        hc = int(spec.get("healthCheckNodePort") or 0) if stype == "LoadBalancer" and etp_local else 0
        for p in spec.get("ports") or []:
            pname = p.get("name") or ""
            proto = p.get("protocol", "TCP")
            sp = ServicePort(
                namespace=svc["metadata"].get("namespace", "default"),
                name=objects.name(svc),
                port_name=pname,
                protocol=proto,
                port=int(p["port"]),
                cluster_ip=cip,
                node_port=int(p.get("nodePort") or 0) if stype in ("NodePort", "LoadBalancer") else 0,
                external_ips=ext_ips,
                lb_ips=lb_ips,
                source_ranges=ranges,
                external_local=etp_local,
                internal_local=itp_local,
                affinity_timeout=timeout,
                health_check_node_port=hc,
                endpoints=_slice_endpoints(
                    by_service.get((svc["metadata"].get("namespace", "default"), objects.name(svc)), []),
                    pname, proto, node_hints),
            )
            out.append(sp)
    out.sort(key=lambda s: (s.namespace, s.name, s.port_name, s.protocol))
    return out
