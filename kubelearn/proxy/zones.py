"""Which endpoints each node's kube-proxy keeps for a Service, and in which zone they run.

kube-proxy runs on every node and programs that node's rules on its own.  For a Service's
*cluster* endpoints it honours the EndpointSlice hints (:func:`categorize_endpoints`): when
every ready endpoint is hinted and one is hinted for this node's zone (or, with
``PreferSameNode``, for this node), it keeps only those; otherwise it keeps them all.  So two
nodes of one cluster can send the same Service's traffic to different pods.
:func:`kept_endpoints` lays that out as a table, node by node, endpoint by endpoint.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .. import objects
from ..cluster import Cluster
from ..errors import KubelearnError
from .config import node_zones, proxy_settings
from .endpoints import categorize_endpoints, service_ports, topology_mode

__all__ = ["KEPT_COLUMNS", "kept_endpoints"]

#: The columns of :func:`kept_endpoints`' table.
KEPT_COLUMNS = ("node", "node_zone", "endpoint", "pod", "pod_node", "endpoint_zone", "hints", "kept", "topology")


def _pods_by_address(cluster: Cluster, namespace: str, service: str) -> dict[str, tuple[str, str]]:
    """Endpoint IP -> (pod name, node name), from the Service's EndpointSlices."""
    out: dict[str, tuple[str, str]] = {}
    for sl in cluster.endpoint_slices(namespace, service):
        for ep in sl.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            for addr in (ep.get("addresses") or [])[:1]:
                out[str(addr)] = (str(ref.get("name") or ""), str(ep.get("nodeName") or ""))
    return out


def kept_endpoints(cluster: Cluster, service: str, namespace: str = "default", *, port_name: str | None = None,
                   nodes: list[str] | None = None) -> pd.DataFrame:
    """For each node, each ready endpoint of the Service, and whether that node's kube-proxy keeps it.

    (When no endpoint is ready: the serving-terminating ones, kube-proxy's fallback.)

    Args:
        cluster: the cluster.
        service: the Service's name.
        namespace: its namespace.
        port_name: which port (default: the Service's first).
        nodes: the nodes to show (default: every node that can run pods: the control plane is
            left out when it is tainted, as on kind; its kube-proxy behaves the same).

    Returns:
        One row per node and endpoint (:data:`KEPT_COLUMNS`): ``node``, ``node_zone`` (its
        ``topology.kubernetes.io/zone`` label, "" without), ``endpoint`` (``IP:port``),
        ``pod``, ``pod_node``, ``endpoint_zone``, ``hints`` (the slice's ``forZones`` names,
        comma-separated), ``kept`` (in the list this node's kube-proxy sends in-cluster traffic
        to, the ClusterIP's: the cluster list, or the local one under
        ``internalTrafficPolicy: Local``) and ``topology``: what that
        node's kube-proxy did with the hints (``PreferSameZone``: kept its zone's endpoints;
        ``PreferSameNode``: its own node's; ``""``: hints absent or unusable, kept them all).

    Raises:
        NotFoundError: no such Service (kubectl's words).
        KubelearnError: the Service has no port kube-proxy programs (headless, ExternalName).
    """
    ports = [sp for sp in service_ports(cluster) if sp.namespace == namespace and sp.name == service]
    if port_name is not None:
        ports = [sp for sp in ports if sp.port_name == port_name]
    if not ports:
        cluster.get("Service", service, namespace)  # NotFoundError in kubectl's words when it is missing
        raise KubelearnError(f'service "{namespace}/{service}" has no port kube-proxy programs '
                             "(headless, ExternalName or no such port)")
    sp = ports[0]
    zones = node_zones(cluster)
    pods = _pods_by_address(cluster, namespace, service)
    if nodes is None:
        nodes = [objects.name(n) for n in cluster.nodes()
                 if not any(t.get("effect") == "NoSchedule" for t in (n.get("spec") or {}).get("taints") or [])]
    rows: list[dict[str, Any]] = []
    for node in nodes:
        st = proxy_settings(cluster, node)
        zone, same_node = str(st.get("zone", "")), bool(st.get("prefer_same_node"))
        cat = categorize_endpoints(sp, node, zone, same_node)
        mode = topology_mode(sp.endpoints, node, zone, same_node) if not sp.internal_local else ""
        # in-cluster traffic (a pod dialling the ClusterIP) uses the local list under
        # internalTrafficPolicy: Local, else the cluster list
        kept = {e.address for e in (cat.local if sp.internal_local else cat.cluster)}
        # the candidates: the ready endpoints, or (none ready) the serving-terminating ones
        ready = [e for e in sp.endpoints if e.ready] or [e for e in sp.endpoints if e.serving and e.terminating]
        for e in ready:
            pod, pod_node = pods.get(e.ip, ("", e.node_name))
            rows.append({"node": node, "node_zone": zone, "endpoint": e.address, "pod": pod,
                         "pod_node": pod_node or e.node_name, "endpoint_zone": zones.get(pod_node or e.node_name, ""),
                         "hints": ",".join(sorted(e.zone_hints)), "kept": e.address in kept, "topology": mode})
    return pd.DataFrame(rows, columns=list(KEPT_COLUMNS))
