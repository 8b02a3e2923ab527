"""Routes: the node where a connection enters, and the address it dials.

kube-proxy's rules act only on the node where a connection *enters*: the client pod's own node
for ClusterIP and DNS traffic (the rules capture it before it leaves), the node a NodePort was
dialled on, the node an external router or load balancer handed the packet to.  The dialled
address (``IP:port``) is what the rules match.

The rules also look at the source, but only coarsely: is it a pod (the cluster CIDR), the node
itself, or outside, and is it on this node?  :class:`SourceClass` is exactly that distinction,
so one trace per (node, rules version, source class, address) answers for every client of the
class.  Simplification: ``loadBalancerSourceRanges`` tells outside clients apart by address; the
simulator traces it for the first outside client of each class and applies the verdict to all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from .. import objects
from ..cluster import Cluster
from .clients import Client
from .workload import Workload, WorkloadError

__all__ = ["Route", "SourceClass", "TARGETS", "lb_ip", "service_port", "source_class", "static_route",
           "static_routes", "target_kind", "via"]

#: the workload target kinds, and the ``via`` column each one writes
TARGETS = {"dns": "dns", "clusterIP": "clusterip", "nodePort": "nodeport", "externalIP": "externalip",
           "loadBalancer": "loadbalancer"}


class SourceClass(IntEnum):
    """What a node's rules can tell apart about a connection's source."""

    POD_LOCAL = 0  # a pod on the entry node
    POD_REMOTE = 1  # a pod on another node
    NODE_LOCAL = 2  # the entry node itself
    NODE_REMOTE = 3  # another node
    EXTERNAL = 4  # anything outside the cluster


def source_class(client: Client, entry: str) -> SourceClass:
    """The class of ``client`` as seen by the rules of node ``entry``."""
    local = client.node == entry
    if client.kind == "pod":
        return SourceClass.POD_LOCAL if local else SourceClass.POD_REMOTE
    if client.kind == "node":
        return SourceClass.NODE_LOCAL if local else SourceClass.NODE_REMOTE
    return SourceClass.EXTERNAL


@dataclass(frozen=True)
class Route:
    """A client's route when it does not change per connection: entry node, dialled ``IP:port``."""

    entry: str
    dst: str


def target_kind(wl: Workload) -> str:
    """Which of :data:`TARGETS` the workload's target is."""
    return next(k for k in TARGETS if k in wl.target)


def via(wl: Workload) -> str:
    """The ``via`` column's value for the workload's target."""
    return TARGETS[target_kind(wl)]


def service_port(svc: dict[str, Any], port: int | str | None) -> dict[str, Any]:
    """The Service port a target names (by name or number; the first when ``None``)."""
    ports = svc["spec"].get("ports") or []
    if not ports:
        raise WorkloadError(f'error: service "{objects.name(svc)}" has no ports')
    if port is None:
        return dict(ports[0])
    for p in ports:
        if p.get("name") == port or p.get("port") == port:
            return dict(p)
    raise WorkloadError(f'error: service "{objects.name(svc)}" has no port {port!r}')


def lb_ip(svc: dict[str, Any], spec: dict[str, Any]) -> str:
    """The load-balancer IP a target dials: its own ``ip``, else the Service's first ingress IP."""
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ip = spec.get("ip") or next((i.get("ip") for i in ingress if i.get("ip")), None)
    if not ip:
        raise WorkloadError(f'error: service "{objects.name(svc)}" has no load-balancer IP yet '
                            "(EXTERNAL-IP <pending>); give one with target.loadBalancer.ip")
    return str(ip)


def static_route(cluster: Cluster, wl: Workload, client: Client) -> Route | None:
    """Entry node and address for ClusterIP / NodePort / externalIP targets, and for in-cluster
    clients of a load balancer.  ``None``: decided per connection (DNS answers, the balancer's pick).

    Raises:
        WorkloadError: a target the cluster cannot serve (headless ClusterIP, no nodePort, …).
    """
    t = wl.target
    if "dns" in t:
        if client.kind == "external":
            raise WorkloadError("error: external clients cannot use the cluster's DNS; "
                                "target a nodePort, externalIP or loadBalancer instead")
        return None
    kind = target_kind(wl)
    spec = t[kind]
    svc = cluster.get("Service", spec["service"], spec.get("namespace", "default"))
    port = service_port(svc, spec.get("port"))
    own = client.node or client.via_node
    if kind == "clusterIP":
        ip = svc["spec"].get("clusterIP")
        if not ip or ip == "None":
            raise WorkloadError(f'error: service "{spec["service"]}" is headless (clusterIP: None); '
                                "target it by DNS name")
        return Route(own, f"{ip}:{port['port']}")
    if kind == "nodePort":
        if "nodePort" not in port:
            raise WorkloadError(f'error: service "{spec["service"]}" of type {svc["spec"].get("type")} '
                                "has no nodePort")
        node = spec["node"]
        # A node's own IP is local only on that node: other nodes route the packet there.
        return Route(node, f"{cluster.node_ip(node)}:{port['nodePort']}")
    if kind == "externalIP":
        ips = svc["spec"].get("externalIPs") or []
        ip = spec.get("ip") or (ips[0] if ips else None)
        if not ip:
            raise WorkloadError(f'error: service "{spec["service"]}" has no spec.externalIPs')
        # In-cluster clients are captured by their own node's rules; outside traffic is routed to a node.
        entry = client.node if client.kind != "external" else (spec.get("node") or client.via_node)
        return Route(entry, f"{ip}:{port['port']}")
    # loadBalancer: in-cluster clients are captured by their own node's rules (no trip outside)
    ip = lb_ip(svc, spec)
    if client.kind != "external":
        return Route(client.node, f"{ip}:{port['port']}")
    return None


def static_routes(cluster: Cluster, wl: Workload, clients: list[Client]) -> list[Route | None]:
    """:func:`static_route` for every client (worked out once per kind of client and node: a
    route depends on nothing else about the client)."""
    memo: dict[tuple[str, str, str], Route | None] = {}
    out = []
    for cl in clients:
        key = (cl.kind, cl.node, cl.via_node)
        if key not in memo:
            memo[key] = static_route(cluster, wl, cl)
        out.append(memo[key])
    return out
