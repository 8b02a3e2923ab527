"""ClusterIPs and node ports: what the API server hands out when a Service is created.

Before a Service is validated and stored, the API server's ``BeginCreate`` hook gives it its
addresses:

- ``spec.clusterIP`` and ``spec.clusterIPs`` are kept in step (one copies the other), then a
  ClusterIP is taken from the service CIDR (``--service-cluster-ip-range``).  You may ask for a
  specific one (it must be inside the range and free); otherwise the allocator picks a *random*
  free address from the upper part of the range.  The lower part (the *static band*,
  ``min(max(16, size/16), 256)`` addresses) is kept for hand-picked IPs such as 10.96.0.10
  for DNS, so they rarely collide.  Addresses are never handed out in sequence.
- ``ipFamilyPolicy`` and ``ipFamilies`` are filled in: ``SingleStack`` / ``[IPv4]`` on an
  IPv4 cluster (a headless Service without selector gets ``RequireDualStack``).
- NodePort and LoadBalancer Services get a ``nodePort`` per port from 30000-32767, one pool for
  the whole cluster; ports sharing a port number (53/UDP and 53/TCP) share one node port.
  The static band here is 30000-30085.  A LoadBalancer with ``externalTrafficPolicy: Local``
  also gets a ``healthCheckNodePort``.

Allocation runs *before* validation and stops at its first error, so a node port out of range
hides every other mistake in the same Service.  kubelearn's random choices come from the
cluster's seed mixed with the Service's namespace and name, so they repeat run after run.
"""

from __future__ import annotations

import copy
import ipaddress
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from ..errors import FieldError
from .validation import parse_ip

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = ["AllocationIndex", "allocate", "clusterip_band", "nodeport_band", "used_cluster_ips", "used_node_ports"]

_INVALID = "Invalid value"
_SERVICE_KEY = "Service"


def clusterip_band(cidr: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address, ipaddress.IPv4Address]:
    """(first usable IP, first IP of the dynamic band, last usable IP) of a service CIDR.

    >>> [str(a) for a in clusterip_band("10.96.0.0/12")]
    ['10.96.0.1', '10.96.1.1', '10.111.255.254']
    >>> [str(a) for a in clusterip_band("10.0.0.0/24")]
    ['10.0.0.1', '10.0.0.17', '10.0.0.254']
    """
    net = ipaddress.IPv4Network(cidr)
    size = net.num_addresses
    static = min(max(16, size // 16), 256)
    first = net.network_address + 1
    last = net.broadcast_address - 1
    upper = net.network_address + 1 + static
    if upper > last:
        upper = first
    return first, upper, last


def nodeport_band(low: int, high: int) -> int:
    """First port of the dynamic band of a node-port range (KEP-3668).

    >>> nodeport_band(30000, 32767)
    30086
    """
    size = high - low + 1
    if size < 16:
        return low  # no static band in a tiny range
    static = min(max(16, size // 32), 128)
    return low + static


def _key(obj: Mapping[str, Any]) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or "default"), str(meta.get("name") or "")


def _services(cluster: Cluster) -> Iterable[dict[str, Any]]:
    # cast: mypy reads Cluster's return annotation `list[...]` as its method `list` (lead to fix).
    return cast("Iterable[dict[str, Any]]", cluster.services())


def used_cluster_ips(cluster: Cluster, exclude: tuple[str, str] | None = None) -> set[str]:
    """Every ClusterIP held by a Service (except ``exclude`` = (namespace, name))."""
    used: set[str] = set()
    for svc in _services(cluster):
        if exclude is not None and _key(svc) == exclude:
            continue
        for ip in (svc.get("spec") or {}).get("clusterIPs") or []:
            if ip and ip != "None":
                used.add(_canon(ip))
    return used


def used_node_ports(cluster: Cluster, exclude: tuple[str, str] | None = None) -> set[int]:
    """Every node port (incl. ``healthCheckNodePort``) held by a Service, in any namespace."""
    used: set[int] = set()
    for svc in _services(cluster):
        if exclude is not None and _key(svc) == exclude:
            continue
        spec = svc.get("spec") or {}
        for port in spec.get("ports") or []:
            if isinstance(port.get("nodePort"), int) and port["nodePort"]:
                used.add(port["nodePort"])
        if isinstance(spec.get("healthCheckNodePort"), int) and spec["healthCheckNodePort"]:
            used.add(spec["healthCheckNodePort"])
    return used


class AllocationIndex:
    """Who holds which ClusterIP and node port, kept up to date during one apply.

    Scanning every Service for each new one is quadratic; ``apply`` builds this once and
    records each stored Service, so loading a thousand Services stays fast.
    """

    def __init__(self, cluster: Cluster):
        self.ip_owner: dict[str, tuple[str, str]] = {}
        self.port_owner: dict[int, tuple[str, str]] = {}
        self.held: dict[tuple[str, str], tuple[list[str], list[int]]] = {}
        for svc in _services(cluster):
            self.record(svc)

    def record(self, svc: Mapping[str, Any]) -> None:
        """Note the addresses a stored Service holds (replacing what it held before)."""
        key = _key(svc)
        ips, ports = self.held.pop(key, ([], []))
        for ip in ips:
            self.ip_owner.pop(ip, None)
        for port in ports:
            self.port_owner.pop(port, None)
        spec = svc.get("spec") or {}
        ips = [_canon(ip) for ip in spec.get("clusterIPs") or [] if ip and ip != "None"]
        ports = [p["nodePort"] for p in spec.get("ports") or [] if isinstance(p, Mapping)
                 and isinstance(p.get("nodePort"), int) and p["nodePort"]]
        if isinstance(spec.get("healthCheckNodePort"), int) and spec["healthCheckNodePort"]:
            ports.append(spec["healthCheckNodePort"])
        self.held[key] = (ips, ports)
        for ip in ips:
            self.ip_owner[ip] = key
        for port in ports:
            self.port_owner[port] = key

    def ip_taken(self, ip: str, key: tuple[str, str]) -> bool:
        """Whether another Service than ``key`` holds ``ip``."""
        return self.ip_owner.get(ip, key) != key

    def port_taken(self, port: int, key: tuple[str, str]) -> bool:
        """Whether another Service than ``key`` holds node port ``port``."""
        return self.port_owner.get(port, key) != key


def _rng(cluster: Cluster, what: str, key: tuple[str, str]) -> random.Random:
    # random.Random seeds a str through SHA-512: stable across processes, unlike hash().
    return random.Random(f"kubelearn:{cluster.seed}:{what}:{key[0]}/{key[1]}")


def _scan(rng: random.Random, lo: int, hi: int) -> Iterator[int]:
    """Offsets lo..hi starting at a random one and wrapping, as the bitmap allocator scans."""
    if hi < lo:
        return
    start = rng.randint(lo, hi)
    yield from range(start, hi + 1)
    yield from range(lo, start)


def _next_ip(cluster: Cluster, key: tuple[str, str], taken: Callable[[str], bool]) -> str | None:
    first, upper, last = clusterip_band(cluster.topology.service_subnet)
    rng = _rng(cluster, "clusterip", key)
    for lo, hi in ((int(upper), int(last)), (int(first), int(upper) - 1)):
        for n in _scan(rng, lo, hi):
            ip = str(ipaddress.IPv4Address(n))
            if not taken(ip):
                return ip
    return None


def _next_port(cluster: Cluster, key: tuple[str, str], taken: Callable[[int], bool], what: str) -> int | None:
    low, high = cluster.topology.node_port_range
    upper = nodeport_band(low, high)
    rng = _rng(cluster, what, key)
    for lo, hi in ((upper, high), (low, upper - 1)):
        for p in _scan(rng, lo, hi):
            if not taken(p):
                return p
    return None


def _is_ip(s: Any) -> bool:
    # The allocator parses with netutils.ParseIPSloppy: with StrictIPCIDRValidation off (the
    # default in every release kubelearn models) "172.30.0.041" is 172.30.0.41, accepted with a
    # warning (validation.ip_warnings), not refused.
    return parse_ip(s) is not None


def _version(ip: Any) -> int:
    parsed = parse_ip(ip)
    return parsed.version if parsed is not None else 0


def _canon(ip: Any) -> str:
    parsed = parse_ip(ip)
    return str(parsed) if parsed is not None else str(ip)


def _needs_node_ports(spec: Mapping[str, Any]) -> bool:
    t = spec.get("type") or "ClusterIP"
    if t == "NodePort":
        return True
    return t == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False


def allocate(obj: Mapping[str, Any], cluster: Cluster, old: Mapping[str, Any] | None = None, *,
             index: AllocationIndex | None = None) -> tuple[dict[str, Any], list[FieldError]]:
    """The API server's ``BeginCreate``/``BeginUpdate`` hook for Services.

    Args:
        obj: the defaulted object (anything but a Service is returned unchanged).
        cluster: the cluster as it is, including objects stored earlier in the same apply,
            whose ClusterIPs and node ports are taken.
        old: the stored object when this is an update.
        index: an :class:`AllocationIndex` of ``cluster`` kept by the caller (``apply``);
            built from ``cluster`` when not given.

    Returns:
        ``(new_object, errors)``; ``errors`` holds at most one error (allocation stops at the
        first, as the API server does), and then ``new_object`` is not to be stored.
    """
    new = copy.deepcopy(dict(obj))
    if new.get("kind") != _SERVICE_KEY:
        return new, []
    spec = new.setdefault("spec", {})
    if not isinstance(spec, dict):
        return new, []  # schema.check reports the type error
    key = _key(new)
    old_spec: Mapping[str, Any] = (old or {}).get("spec") or {}
    svc_type = spec.get("type") or "ClusterIP"
    if svc_type == "ExternalName":
        # No ClusterIP, no families, no node ports; validation forbids setting them (#28).
        return new, []

    idx = index if index is not None else AllocationIndex(cluster)
    err = _cluster_ips(spec, old_spec, cluster, key, idx)
    if err is None:
        err = _node_ports(spec, old_spec, cluster, key, idx)
    return new, [err] if err is not None else []


def _cluster_ips(spec: dict[str, Any], old_spec: Mapping[str, Any], cluster: Cluster,
                 key: tuple[str, str], idx: AllocationIndex) -> FieldError | None:
    ip = spec.get("clusterIP") or ""
    ips = spec.get("clusterIPs") or []
    if not isinstance(ips, list):
        return None  # schema.check reports the type error
    old_ips = list(old_spec.get("clusterIPs") or [])
    old_external = (old_spec.get("type") or "ClusterIP") == "ExternalName"
    # An update that leaves the ClusterIP out keeps the one allocated before.
    if old_ips and not old_external and not ip and not ips:
        spec["clusterIP"], spec["clusterIPs"] = old_ips[0], list(old_ips)
        for f in ("ipFamilies", "ipFamilyPolicy"):
            if f not in spec and f in old_spec:
                spec[f] = copy.deepcopy(old_spec[f])
        return None
    # Keep clusterIP and clusterIPs in step.
    if ip and not ips:
        ips = [ip]
    elif ips and not ip:
        ip = ips[0]
    elif ip and ips and ip != ips[0]:
        return FieldError("spec.clusterIPs", _INVALID, tuple(ips), "first value must match `clusterIP`")
    spec["clusterIP"], spec["clusterIPs"] = ip, list(ips) if ips else []
    if old_ips and not old_external and ips != old_ips:
        return FieldError("spec.clusterIPs[0]", _INVALID, tuple(ips), "may not change once set")
    headless = ip == "None"
    svc_type = spec.get("type") or "ClusterIP"
    if len(ips) > 2:
        return FieldError("spec.clusterIPs", _INVALID, tuple(ips), "may only hold up to 2 values")
    if len(ips) > 1 and ips[0] == "None":
        return FieldError("spec.clusterIPs", _INVALID, tuple(ips), "'None' must be the first and only value")
    if len(ips) == 2 and _is_ip(ips[0]) and _is_ip(ips[1]) and \
            _version(ips[0]) == _version(ips[1]):
        return FieldError("spec.clusterIPs", _INVALID, tuple(ips), "may specify no more than one IP for each IP family")
    for i, value in enumerate(ips):
        if value == "None":
            if i == 0 and svc_type in ("NodePort", "LoadBalancer"):
                return FieldError("spec.clusterIPs[0]", _INVALID, "None",
                                  f"may not be set to 'None' for {svc_type} services")
            if i > 0:
                return FieldError(f"spec.clusterIPs[{i}]", _INVALID, value, "must be a valid IP address, "
                                  "(e.g. 10.9.8.7 or 2001:db8::ffff)")
            continue
        if not _is_ip(value):
            return FieldError(f"spec.clusterIPs[{i}]", _INVALID, value,
                              "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
    err = _families(spec, headless, ips)
    if err is not None:
        return err
    if headless:
        spec["clusterIPs"] = ["None"]
        return None
    net = ipaddress.IPv4Network(cluster.topology.service_subnet)
    if ip:
        addr = parse_ip(ip)
        if addr is None:  # (checked above; kept for the type checker)
            return FieldError("spec.clusterIPs[0]", _INVALID, ip, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")
        if addr not in net or addr in (net.network_address, net.broadcast_address):
            return FieldError("spec.clusterIPs", _INVALID, tuple(ips),
                              f"failed to allocate IP {ip}: the provided IP ({ip}) is not in the valid range. "
                              f"The range of valid IPs is {net}")
        if idx.ip_taken(str(addr), key):
            return FieldError("spec.clusterIPs", _INVALID, tuple(ips), f"failed to allocate IP {ip}: provided IP is already allocated")
        return None
    chosen = _next_ip(cluster, key, lambda candidate: idx.ip_taken(candidate, key))
    if chosen is None:
        return FieldError("spec.clusterIPs", "Internal error", detail=f"range is full: no IP left in {net}")
    spec["clusterIP"], spec["clusterIPs"] = chosen, [chosen]
    return None


def _families(spec: dict[str, Any], headless: bool, ips: list[Any]) -> FieldError | None:
    """Default and check ipFamilyPolicy/ipFamilies for an IPv4 single-stack cluster."""
    policy = spec.get("ipFamilyPolicy")
    families = spec.get("ipFamilies") or []
    supported_policies = ("PreferDualStack", "RequireDualStack", "SingleStack")
    if policy is not None and policy not in supported_policies:
        return FieldError("spec.ipFamilyPolicy", "Unsupported value", policy,
                          'supported values: "PreferDualStack", "RequireDualStack", "SingleStack"')
    for i, fam in enumerate(families):
        if fam not in ("IPv4", "IPv6"):
            return FieldError(f"spec.ipFamilies[{i}]", "Unsupported value", fam, 'supported values: "IPv4", "IPv6"')
    selectorless = not spec.get("selector")
    for i, value in enumerate(ips):
        if value != "None" and _is_ip(value) and _version(value) == 6:
            return FieldError("spec.ipFamilies[0]" if i == 0 else f"spec.ipFamilies[{i}]", _INVALID, "IPv6",
                              "not configured on this cluster")
    for i, fam in enumerate(families):
        if fam == "IPv6" and not (headless and selectorless):
            return FieldError(f"spec.ipFamilies[{i}]", _INVALID, fam, "not configured on this cluster")
    if policy is None:
        # The API server defaults a headless Service without selector to RequireDualStack: its
        # endpoints are whatever you write, in either family.  On this IPv4-only cluster it
        # still gets only IPv4.
        policy = "RequireDualStack" if headless and selectorless else "SingleStack"
    elif policy == "RequireDualStack" and not (headless and selectorless):
        return FieldError("spec.ipFamilyPolicy", _INVALID, policy, "this cluster is not configured for dual-stack services")
    spec["ipFamilyPolicy"] = policy
    spec["ipFamilies"] = [f for f in families if f == "IPv4"] or ["IPv4"]
    return None


def _node_ports(spec: dict[str, Any], old_spec: Mapping[str, Any], cluster: Cluster,
                key: tuple[str, str], idx: AllocationIndex) -> FieldError | None:
    ports = spec.get("ports") or []
    if not isinstance(ports, list):
        return None
    low, high = cluster.topology.node_port_range
    allocate_new = _needs_node_ports(spec)
    svc_type = spec.get("type") or "ClusterIP"
    externally = svc_type in ("NodePort", "LoadBalancer")
    old_by_port: dict[tuple[Any, Any], int] = {}
    if (old_spec.get("type") or "ClusterIP") in ("NodePort", "LoadBalancer"):
        for p in old_spec.get("ports") or []:
            if p.get("nodePort"):
                old_by_port[(p.get("port"), p.get("protocol", "TCP"))] = p["nodePort"]
    mine: dict[Any, int] = {}  # port number -> node port given to it in this Service
    taken: set[int] = set()  # node ports this Service holds (a number may repeat across protocols)
    # First the node ports asked for, then the dynamic ones, so a dynamic choice never steals
    # a port the same Service names later.
    for i, port in enumerate(ports):
        if not isinstance(port, dict):
            continue
        np = port.get("nodePort")
        if not np and externally:
            np = old_by_port.get((port.get("port"), port.get("protocol", "TCP")))
            if np:
                port["nodePort"] = np
        if not np or not externally:
            continue  # a nodePort on a ClusterIP Service is a validation error (#13)
        if not isinstance(np, int) or isinstance(np, bool):
            continue  # schema.check reports the type error
        if not low <= np <= high:
            return FieldError(f"spec.ports[{i}].nodePort", _INVALID, np,
                              f"provided port is not in the valid range. The range of valid ports is {low}-{high}")
        if idx.port_taken(np, key):
            return FieldError(f"spec.ports[{i}].nodePort", _INVALID, np, "provided port is already allocated")
        taken.add(np)
        mine.setdefault(port.get("port"), np)
    if allocate_new:
        for port in ports:
            if not isinstance(port, dict) or port.get("nodePort"):
                continue
            np = mine.get(port.get("port"))
            if np is None:
                np = _next_port(cluster, key, lambda p: p in taken or idx.port_taken(p, key), "nodeport")
                if np is None:
                    return FieldError("spec.ports", "Internal error", detail=f"range is full: no port left in {low}-{high}")
                taken.add(np)
                mine[port.get("port")] = np
            port["nodePort"] = np
    # healthCheckNodePort: LoadBalancer + externalTrafficPolicy Local only.
    if svc_type == "LoadBalancer" and spec.get("externalTrafficPolicy") == "Local":
        hc = spec.get("healthCheckNodePort") or old_spec.get("healthCheckNodePort")
        if hc:
            if isinstance(hc, int) and not isinstance(hc, bool):
                if not low <= hc <= high:
                    return FieldError("spec.healthCheckNodePort", _INVALID, hc,
                                      f"provided port is not in the valid range. The range of valid ports is {low}-{high}")
                if hc in taken or idx.port_taken(hc, key):
                    return FieldError("spec.healthCheckNodePort", _INVALID, hc, "provided port is already allocated")
                spec["healthCheckNodePort"] = hc
        else:
            hc = _next_port(cluster, key, lambda p: p in taken or idx.port_taken(p, key), "healthchecknodeport")
            if hc is None:
                return FieldError("spec.healthCheckNodePort", "Internal error",
                                  detail=f"range is full: no port left in {low}-{high}")
            spec["healthCheckNodePort"] = hc
    return None
