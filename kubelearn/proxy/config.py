"""kube-proxy's configuration as the rule builders read it (``KubeProxyConfiguration``).

Every node's kube-proxy reads one ``KubeProxyConfiguration``: the ``mode``; how it tells
pod traffic from other traffic (``detectLocalMode``: ``ClusterCIDR`` with ``clusterCIDR``,
or ``NodeCIDR`` with the node's ``spec.podCIDR``), which decides who is masqueraded;
``masqueradeAll`` (masquerade everything sent to a ClusterIP) and ``masqueradeBit`` (the
fwmark bit, 14 → ``0x4000``), read from the section of the mode in use: ``nftables.*`` in
nftables mode, ``iptables.*`` in iptables *and* IPVS mode (kube-proxy's v1alpha1 conversion
copies ``nftables.masqueradeAll`` only when ``mode: nftables``, and ``server_linux.go`` hands
the nftables proxier ``NFTables.MasqueradeBit``, the iptables and IPVS proxiers
``IPTables.MasqueradeBit``; the other section is ignored); ``iptables.localhostNodePorts``
(NodePorts on 127.0.0.1, iptables mode only); ``nodePortAddresses`` (which node addresses
accept NodePorts; empty means all local addresses in iptables mode and the node's primary IP
in nftables mode); and ``ipvs.scheduler``.  :func:`proxy_settings` resolves them, with
kube-proxy's defaults, for one node.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import ProxyConfigError
from ..versions import cluster_minor, feature_gate

__all__ = ["ProxyConfigError", "node_zones", "nodeport_ips", "proxy_settings"]


def proxy_settings(cluster: Cluster, node: str, mode: str | None = None) -> dict[str, Any]:
    """The KubeProxyConfiguration values the rule builders need, with kube-proxy's defaults.

    ``mode`` (default: the configuration's ``mode``) picks the section ``masqueradeAll`` and
    ``masqueradeBit`` are read from, as kube-proxy does.

    Raises:
        NotFoundError: unknown node (kubectl's wording).
        ProxyConfigError: a ``detectLocalMode`` kubelearn does not model.
    """
    pc = cluster.proxy_config or {}
    node_obj = cluster.get("Node", node)
    node_ip = cluster.node_ip(node)
    ipt = pc.get("iptables") or {}
    proxy_mode = mode or cluster.proxy_mode
    masq = (pc.get("nftables") or {}) if proxy_mode == "nftables" else ipt
    bit = masq.get("masqueradeBit")
    mark = hex(1 << (14 if bit is None else int(bit)))
    detect = pc.get("detectLocalMode") or "ClusterCIDR"
    local_cidr = ""
    if detect == "ClusterCIDR":
        cidrs = [c.strip() for c in str(pc.get("clusterCIDR") or "").split(",") if c.strip() and ":" not in c]
        local_cidr = cidrs[0] if cidrs else ""
    elif detect == "NodeCIDR":
        local_cidr = str((node_obj.get("spec") or {}).get("podCIDR") or "")
    else:
        raise ProxyConfigError(
            f'detectLocalMode "{detect}" is not modelled by kubelearn (supported: ClusterCIDR, NodeCIDR)')
    ipvs = pc.get("ipvs") or {}
    return {
        "node": node,
        "node_ip": node_ip,
        "node_addresses": _node_addresses(node_obj, node_ip),
        "zone": _zone(node_obj),
        "minor": cluster_minor(cluster),  # the Kubernetes release 1.minor: its kube-proxy's rules
        "prefer_same_node": feature_gate(pc, "PreferSameTrafficDistribution", cluster_minor(cluster)),
        "local_cidr": local_cidr,
        "masquerade_all": bool(masq.get("masqueradeAll", False)),
        "mark": mark,
        "localhost_nodeports": bool(ipt.get("localhostNodePorts", True)),
        "nodeport_addresses": list(pc.get("nodePortAddresses") or []),
        "scheduler": ipvs.get("scheduler") or "rr",
    }


def node_zones(cluster: Cluster) -> dict[str, str]:
    """Node name -> its ``topology.kubernetes.io/zone`` label, for the nodes that have one."""
    return {objects.name(n): z for n in cluster.nodes() if (z := _zone(n))}


def _zone(node_obj: Any) -> str:
    """The node's ``topology.kubernetes.io/zone`` label ("" without one): kube-proxy's zone."""
    meta = node_obj.get("metadata") if isinstance(node_obj, Mapping) else None
    labels = meta.get("labels") if isinstance(meta, Mapping) else None
    zone = labels.get("topology.kubernetes.io/zone") if isinstance(labels, Mapping) else None
    return zone if isinstance(zone, str) else ""


def _node_addresses(node_obj: Any, node_ip: str) -> list[str]:
    """The node's own IPv4 addresses (InternalIP first, then the other InternalIP and ExternalIP
    entries of ``status.addresses``), canonical, loopback left out: what kubelearn takes as the
    addresses on the node's interfaces.  IPVS mode serves NodePorts on every one of them."""
    from .endpoints import canonical_ip

    out = [canonical_ip(node_ip)]
    status = node_obj.get("status") if isinstance(node_obj, Mapping) else None
    addresses = status.get("addresses") if isinstance(status, Mapping) else None
    for a in addresses if isinstance(addresses, Sequence) and not isinstance(addresses, str) else ():
        if isinstance(a, Mapping) and a.get("type") in ("InternalIP", "ExternalIP"):
            ip = canonical_ip(a.get("address"))
            if isinstance(ip, str) and ":" not in ip and ip not in out and not ip.startswith("127."):
                out.append(ip)
    return out


def nodeport_ips(settings: dict[str, Any], default_all: bool) -> list[str] | None:
    """The node IPs that accept NodePorts, or None for "every local address"."""
    addrs = settings["nodeport_addresses"]
    if not addrs:
        return None if default_all else [settings["node_ip"]]
    out: list[str] = []
    node_ip = ipaddress.ip_address(settings["node_ip"])
    for a in addrs:
        if a == "primary":
            out.append(settings["node_ip"])
        elif ":" not in a:
            net = ipaddress.ip_network(a, strict=False)
            if node_ip in net:
                out.append(settings["node_ip"])
            if ipaddress.ip_address("127.0.0.1") in net:
                out.append("127.0.0.1")
    return sorted(set(out), key=out.index)
