"""kube-proxy, exactly: the rules one node runs for the cluster's Services, and a tracer.

kube-proxy runs on every node and turns Services and EndpointSlices into packet-rewriting
rules in the node's kernel, so that a connection to a ClusterIP, NodePort, externalIP or
LoadBalancer IP is DNATed to one of the Service's endpoints.  It does not forward traffic
itself.  Three *modes* program three different kernel subsystems for the same outcome:
``iptables`` (the default on Linux: linear chains, one rule per service port in
``KUBE-SERVICES``), ``nftables`` (GA in v1.33: verdict maps, one lookup per packet) and
``ipvs`` (an in-kernel load balancer with schedulers, deprecated in v1.35).

:func:`rules` renders what kube-proxy of the cluster's release (v1.33 to v1.37; the nftables
layout changed in v1.36, see :mod:`kubelearn.proxy.nftables`) writes on a node; :func:`trace` follows one new
connection through *those* rules and says which endpoints it can reach, with which
probability, and whether its source is masqueraded.

Each mode has its rule builder and, beside it, its tracer (``iptables.py`` and
``iptables_trace.py``, ``nftables.py`` and ``nftables_trace.py``, ``ipvs.py`` and
``ipvs_trace.py``); the tracers share one walk and one result, :class:`Trace`
(:mod:`kubelearn.proxy.walk`).
"""

from __future__ import annotations

import weakref
from typing import Any, TypeAlias

from ..cluster import Cluster
from ..versions import cluster_minor, kube_proxy_warnings
from .config import ProxyConfigError, proxy_settings
from .endpoints import Categorized, Endpoint, ServicePort, categorize_endpoints, service_ports
from .iptables import IptablesRuleset, build_iptables
from .iptables_trace import trace_iptables
from .ipvs import IpvsRuleset, build_ipvs
from .ipvs_trace import trace_ipvs
from .names import (
    endpoint_string,
    ext_chain,
    fw_chain,
    nft_hashed_name,
    port_hash,
    sep_chain,
    service_port_name,
    svc_chain,
    svl_chain,
)
from .nftables import NftablesRuleset, build_nftables
from .nftables_trace import trace_nftables
from .ruleset import gc_paused
from .walk import Destination, Step, Trace, TraceError
from .zones import kept_endpoints

__all__ = [
    "MODES",
    "Categorized",
    "Destination",
    "Endpoint",
    "IptablesRuleset",
    "IpvsRuleset",
    "NftablesRuleset",
    "ProxyConfigError",
    "Ruleset",
    "ServicePort",
    "Step",
    "Trace",
    "TraceError",
    "categorize_endpoints",
    "endpoint_string",
    "ext_chain",
    "fw_chain",
    "kept_endpoints",
    "nft_hashed_name",
    "port_hash",
    "rules",
    "sep_chain",
    "service_port_name",
    "service_ports",
    "svc_chain",
    "svl_chain",
    "trace",
]

MODES = ("iptables", "nftables", "ipvs")
VIEWS = {"iptables": ("restore", "save"), "nftables": ("list", "input"), "ipvs": ("ipvsadm",)}

#: What :func:`rules` returns; each has ``text()``, ``str()``, ``mode``, ``view`` and ``node``.
Ruleset: TypeAlias = IptablesRuleset | NftablesRuleset | IpvsRuleset


def _mode(cluster: Cluster, mode: str | None) -> str:
    m = mode or cluster.proxy_mode
    if m not in MODES:
        raise ProxyConfigError(f'unknown proxy mode "{m}": must be one of iptables, nftables, ipvs')
    return m


def rules(cluster: Cluster, node: str, mode: str | None = None, view: str = "restore") -> Ruleset:
    """The rules kube-proxy on ``node`` programs, as text (``str()``) and as data.

    Args:
        cluster: the cluster (Services, EndpointSlices, Nodes, KubeProxyConfiguration).
        node: the node's name.
        mode: ``iptables``, ``nftables`` or ``ipvs``; default: the cluster's configuration.
        view: iptables: ``restore`` (what kube-proxy feeds ``iptables-restore``) or ``save``
            (what ``iptables-save`` prints).  nftables: ``list`` (``nft list table ip
            kube-proxy``) or ``input`` (the ``nft -f`` transaction); ``restore`` means
            ``list`` there.  ipvs: ``ipvsadm`` (``ipvsadm -Ln`` plus ipsets and iptables).

    Raises:
        NotFoundError: ``Error from server (NotFound): nodes "x" not found``.
        ProxyConfigError: unknown mode or view.
    """
    m = _mode(cluster, mode)
    settings = proxy_settings(cluster, node, m)
    with gc_paused():
        rs = _build(cluster, node, m, view, settings)
    return rs


def _build(cluster: Cluster, node: str, m: str, view: str, settings: dict[str, Any]) -> Ruleset:
    if m == "iptables":
        if view not in VIEWS["iptables"]:
            raise ProxyConfigError(f'unknown view "{view}" for iptables mode: use restore or save')
        rs: Ruleset = build_iptables(cluster, node, settings)
    elif m == "nftables":
        view = {"restore": "list", "save": "list"}.get(view, view)
        if view not in VIEWS["nftables"]:
            raise ProxyConfigError(f'unknown view "{view}" for nftables mode: use list or input')
        rs = build_nftables(cluster, node, settings)
    else:
        view = "ipvsadm" if view in ("restore", "save") else view
        if view not in VIEWS["ipvs"]:
            raise ProxyConfigError(f'unknown view "{view}" for ipvs mode: use ipvsadm')
        rs = build_ipvs(cluster, node, settings)
    rs.view = view
    # what kube-proxy of this release logs at start (IPVS mode: deprecated from v1.35)
    rs.warnings = kube_proxy_warnings(m, cluster_minor(cluster))
    return rs


# The traffic simulator traces many (source, destination) pairs on one cluster value: render
# each node's rules once per cluster.  Clusters are immutable and compared by identity, so a
# weak-keyed cache is exact and goes away with the cluster.
_RULES_CACHE: weakref.WeakKeyDictionary[Cluster, dict[tuple[str, str], Ruleset]] = weakref.WeakKeyDictionary()


def _cached_rules(cluster: Cluster, node: str, mode: str) -> Ruleset:
    per = _RULES_CACHE.setdefault(cluster, {})
    rs = per.get((node, mode))
    if rs is None:
        rs = per[(node, mode)] = rules(cluster, node, mode=mode)
    return rs


def trace(cluster: Cluster, node: str, src: str, dst: str, protocol: str = "TCP", *,
          src_port: int | None = None, mode: str | None = None) -> Trace:
    """Follow a new connection from ``src`` to ``dst`` (``"IP:PORT"``) through ``node``'s rules.

    Args:
        cluster: the cluster.
        node: the node whose kube-proxy rules the packet meets (where it enters).
        src: source IPv4 address (a pod IP, a node IP, or any external client).
        dst: ``"IP:PORT"``: a ClusterIP, node IP + NodePort, externalIP or LB IP.
        protocol: ``TCP``, ``UDP`` or ``SCTP``.
        src_port: accepted for completeness; no modelled rule depends on it (the ``sh``/``mh``
            IPVS schedulers would, and are reported with even long-run shares).
        mode: ``iptables``, ``nftables`` or ``ipvs``; default: the cluster's configuration.

    Returns:
        A :class:`Trace`: verdict, destinations with exact probabilities, masquerade, steps.

    Raises:
        TraceError: a malformed address or unknown protocol.
        NotFoundError: unknown node.
    """
    if protocol not in ("TCP", "UDP", "SCTP"):
        raise TraceError(f'unsupported protocol "{protocol}": must be TCP, UDP or SCTP')
    m = _mode(cluster, mode)
    rs = _cached_rules(cluster, node, m)
    if isinstance(rs, IpvsRuleset):
        return trace_ipvs(rs, src, dst, protocol)
    if isinstance(rs, NftablesRuleset):
        return trace_nftables(rs, src, dst, protocol)
    return trace_iptables(rs, src, dst, protocol)
