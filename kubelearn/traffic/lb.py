"""The load balancer in front of a ``type: LoadBalancer`` Service, modelled rather than assumed.

Kubernetes does not balance traffic from outside the cluster by itself: something outside
sends each connection to *one node*, and that node's kube-proxy takes it from there.

- A **cloud** balancer spreads new connections over the nodes that pass its health check.
  With ``externalTrafficPolicy: Cluster`` the check is kube-proxy's own ``/healthz``, so every
  Ready node passes (nodes labelled ``node.kubernetes.io/exclude-from-external-load-balancers``,
  such as kubeadm's control plane, are left out).  With ``Local`` the balancer probes the
  Service's ``healthCheckNodePort``, where kube-proxy answers 200 only on nodes with a local
  ready endpoint, so only those nodes get traffic, and the client's IP is preserved.
- An **L2 announcer** (MetalLB-style) answers ARP for the IP from one elected node, so every
  connection enters there.  The election orders the eligible nodes by
  ``sha256(node + "#" + IP)`` (eligible: nodes with a local endpoint under ``Local``).

Simplifications: the cloud balancer picks a node uniformly at random per connection (real
ones hash the 5-tuple, which is the same in distribution) and sees health changes at once
(real probes take a few intervals); packets keep the LB IP as destination (a pass-through
balancer, as on GCP or MetalLB).
"""

from __future__ import annotations

import hashlib
from typing import Any

from .. import objects
from ..cluster import Cluster
from .workload import WorkloadError

__all__ = ["EXCLUDE_LABEL", "balancer_nodes", "local_endpoint_nodes", "ready_nodes", "l2_announcer"]

EXCLUDE_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def ready_nodes(cluster: Cluster) -> list[str]:
    """Nodes whose ``Ready`` condition is ``True`` and that are not excluded from load balancers."""
    out = []
    for node in cluster.nodes():
        if EXCLUDE_LABEL in (node["metadata"].get("labels") or {}):
            continue
        conds = (node.get("status") or {}).get("conditions") or []
        ready = next((c.get("status") for c in conds if c.get("type") == "Ready"), "True")
        if ready == "True":
            out.append(objects.name(node))
    return out


def local_endpoint_nodes(cluster: Cluster, service: dict[str, Any]) -> set[str]:
    """Nodes with at least one ready endpoint of ``service`` (what the health-check node port reports)."""
    ns = service["metadata"].get("namespace", "default")
    out: set[str] = set()
    for sl in cluster.endpoint_slices(ns, objects.name(service)):
        for ep in sl.get("endpoints") or []:
            if (ep.get("conditions") or {}).get("ready", True) is not False and ep.get("nodeName"):
                out.add(ep["nodeName"])
    return out


def _eligible(cluster: Cluster, service: dict[str, Any]) -> list[str]:
    nodes = ready_nodes(cluster)
    if service["spec"].get("externalTrafficPolicy") == "Local":
        local = local_endpoint_nodes(cluster, service)
        nodes = [n for n in nodes if n in local]
    return nodes


def l2_announcer(cluster: Cluster, service: dict[str, Any], ip: str) -> str | None:
    """The node an L2 announcer elects for ``ip`` (``None`` when no node is eligible)."""
    nodes = _eligible(cluster, service)
    if not nodes:
        return None
    return min(nodes, key=lambda n: hashlib.sha256(f"{n}#{ip}".encode()).hexdigest())


def balancer_nodes(cluster: Cluster, service: dict[str, Any], kind: str, ip: str) -> list[str]:
    """The nodes the balancer sends new connections to, each equally likely.

    Args:
        cluster: the cluster as it is when the connection starts.
        service: the LoadBalancer Service object.
        kind: ``cloud`` or ``l2``.
        ip: the load-balancer IP.

    Raises:
        WorkloadError: for a Service that is not of type LoadBalancer, or another kind.
    """
    if service["spec"].get("type") != "LoadBalancer":
        name = f'{service["metadata"].get("namespace", "default")}/{objects.name(service)}'
        raise WorkloadError(f'error: service "{name}" is of type {service["spec"].get("type", "ClusterIP")}, '
                            "not LoadBalancer")
    if kind == "cloud":
        return _eligible(cluster, service)
    if kind == "l2":
        n = l2_announcer(cluster, service, ip)
        return [] if n is None else [n]
    raise WorkloadError(f'error: unknown load balancer kind "{kind}" (supported: cloud, l2)')
