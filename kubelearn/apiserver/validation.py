"""Validation: what the API server refuses, and the exact words it uses.

After decoding, defaulting and allocation, the API server *validates* the object
(``pkg/apis/core/validation``, ``pkg/apis/apps/validation``, ``pkg/apis/discovery/validation``).
Unlike the decoder, validation does not stop at the first problem: it walks the whole object,
collects every *field error* (``spec.ports[0].port: Invalid value: 0: must be between 1 and
65535, inclusive``) and refuses the object with all of them, which kubectl prints as::

    The Service "web" is invalid:
    * spec.ports[0].name: Required value
    * spec.ports[1].name: Required value

The order of the causes is the order the checks run upstream, so :func:`validate` keeps it.
Many mistakes never reach validation: a wrong type fails decoding (:mod:`kubelearn.apiserver.schema`), a
missing ``protocol`` is defaulted (:mod:`kubelearn.apiserver.defaults`), and a taken node port fails in
allocation (:mod:`kubelearn.apiserver.allocation`), which hides every error found here.

Modelled: the cluster's Kubernetes release (v1.33 to v1.37, :mod:`kubelearn.versions`) with its
default feature gates (Service names are DNS-1035 labels, ``trafficDistribution`` accepts
``PreferSameZone``/``PreferSameNode`` from v1.34, IPs are parsed leniently); messages of
discovery-api-facts §C.3/§C.4.  Updates (``old``) add the rules a learner meets when re-applying:
a Service's ClusterIP and ``loadBalancerClass``, a Deployment's or ReplicaSet's selector, a
StatefulSet's fixed spec fields.  Pod validation covers names, containers, ports and the
policies a learner writes, not volumes, probes, security contexts or pod-update immutability.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ..errors import DUPLICATE, FORBIDDEN, INVALID, REQUIRED, UNSUPPORTED, FieldError
from ..labels import (
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    is_valid_port_name,
    label_selector_matches,
    validate_label_selector,
    validate_labels,
)
from ..versions import DEFAULT_MINOR, cluster_minor, gate_default
from .schema import hashable

if TYPE_CHECKING:  # pragma: no cover
    from ..cluster import Cluster

__all__ = [
    "SERVICE_TYPES",
    "cidr_warnings",
    "ip_warnings",
    "legacy_cidr_errors",
    "legacy_ip_errors",
    "service_address_warnings",
    "service_warnings",
    "traffic_distributions",
    "not_supported",
    "parse_ip",
    "validate",
    "validate_object_meta",
    "validate_pod_spec",
    "validate_service",
]

SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
PROTOCOLS = ("SCTP", "TCP", "UDP")
SESSION_AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILIES = ("IPv4", "IPv6")
IP_FAMILY_POLICIES = ("PreferDualStack", "RequireDualStack", "SingleStack")
TRAFFIC_DISTRIBUTIONS = ("PreferClose",)  # v1.33: PreferSameZone/PreferSameNode behind an alpha gate, off
MAX_CLIENT_IP_TIMEOUT = 86400
LB_SOURCE_RANGES_ANNOTATION = "service.beta.kubernetes.io/load-balancer-source-ranges"

_IP_MESSAGE = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
_CIDR_MESSAGE = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"
_NEGATIVE_MESSAGE = "must be greater than or equal to 0"
_PORT_RANGE_MESSAGE = "must be between 1 and 65535, inclusive"
_LB_ONLY = "may only be used when `type` is 'LoadBalancer'"


# ------------------------------------------------------------------ small helpers
def not_supported(path: str, value: Any, supported: tuple[str, ...] | list[str]) -> FieldError:
    """``field.NotSupported``: ``Unsupported value: "x": supported values: "A", "B"``."""
    return FieldError(path, UNSUPPORTED, hashable(value), "supported values: " + ", ".join(f'"{s}"' for s in supported))


def _s(value: Any) -> str:
    """A string field as Go sees it (wrong types were reported by the decoder; read them as "")."""
    return value if isinstance(value, str) else ""


def _i(value: Any) -> int:
    """An integer field as Go sees it (0 when omitted or of the wrong type)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _m(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _invalid_each(path: str, value: Any, messages: list[str]) -> list[FieldError]:
    return [FieldError(path, INVALID, value, m) for m in messages]


def _port_num(path: str, value: int) -> list[FieldError]:
    return [] if 1 <= value <= 65535 else [FieldError(path, INVALID, value, _PORT_RANGE_MESSAGE)]


def _nonnegative(path: str, value: int) -> list[FieldError]:
    return [FieldError(path, INVALID, value, _NEGATIVE_MESSAGE)] if value < 0 else []


_V4_SLOPPY = re.compile(r"[0-9]{1,3}(\.[0-9]{1,3}){3}")  # used with fullmatch: no trailing newline, ASCII digits only


def parse_ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Parse an IP the way Go's ``netutils.ParseIPSloppy`` does (v1.33 default: leading zeros allowed).

    An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) counts as IPv4, as in Go.
    """
    if not isinstance(text, str) or not text:
        return None
    if _V4_SLOPPY.fullmatch(text):
        parts = [int(p) for p in text.split(".")]
        if all(p <= 255 for p in parts):
            return ipaddress.IPv4Address(".".join(map(str, parts)))
        return None
    if ":" not in text or "%" in text:
        return None
    try:
        ip6 = ipaddress.IPv6Address(text)
    except ValueError:
        return None
    return ip6.ipv4_mapped or ip6


def _valid_cidr(text: str) -> bool:
    if text.count("/") != 1:
        return False
    addr, bits = text.split("/")
    ip = parse_ip(addr)
    # ParseCIDRSloppy accepts leading zeros in the prefix length too ("/024"): legacy validation
    # takes them (with a warning, cidr_warnings); only StrictIPCIDRValidation refuses them.
    if ip is None or not (bits.isascii() and bits.isdigit()) or len(bits.lstrip("0")) > 3:
        return False
    return int(bits) <= (32 if ip.version == 4 and ":" not in addr else 128)


def _special_ip(path: str, text: str) -> list[FieldError]:
    """``ValidateNonSpecialIP`` / ``ValidateEndpointIP``: no unspecified, loopback or link-local."""
    ip = parse_ip(text)
    if ip is None:
        return [FieldError(path, INVALID, text, "must be a valid IP address")]
    errs = []
    if ip.is_unspecified:
        errs.append(FieldError(path, INVALID, text, f"may not be unspecified ({text})"))
    if ip.is_loopback:
        errs.append(FieldError(path, INVALID, text, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
    if ip.is_link_local:
        errs.append(FieldError(path, INVALID, text, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
    multicast_ll = (ip in ipaddress.IPv4Network("224.0.0.0/24")) if ip.version == 4 else (
        ip.packed[0] == 0xFF and ip.packed[1] & 0x0F == 0x02)
    if multicast_ll:
        errs.append(FieldError(path, INVALID, text,
                               "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
    return errs


# ------------------------------------------------------------------ ObjectMeta
def validate_object_meta(meta: Any, name_fn: Callable[[str], list[str]], namespaced: bool = True,
                         path: str = "metadata") -> list[FieldError]:
    """``ValidateObjectMeta``: name (by ``name_fn``), namespace, generation, labels, annotations.

    Args:
        meta: the ``metadata`` dict.
        name_fn: the kind's name rule, e.g. :func:`kubelearn.labels.is_dns1035_label` for Services.
        namespaced: whether ``metadata.namespace`` must be a valid namespace name.
        path: the field path of the metadata (``metadata``).
    """
    meta = _m(meta)
    errs: list[FieldError] = []
    gen = _s(meta.get("generateName"))
    if gen:
        # maskTrailingDash: a generated name gets a random suffix, so a trailing "-" is fine.
        masked = gen[:-1] + "a" if len(gen) > 1 and gen.endswith("-") else gen
        errs += _invalid_each(f"{path}.generateName", gen, name_fn(masked))
    name = _s(meta.get("name"))
    if not name:
        if not gen:
            errs.append(FieldError(f"{path}.name", REQUIRED, detail="name or generateName is required"))
    else:
        errs += _invalid_each(f"{path}.name", name, name_fn(name))
    ns = _s(meta.get("namespace"))
    if namespaced and ns:
        errs += _invalid_each(f"{path}.namespace", ns, is_dns1123_label(ns))
    errs += _nonnegative(f"{path}.generation", _i(meta.get("generation")))
    errs += validate_labels(meta.get("labels"), f"{path}.labels")
    errs += _validate_annotations(meta.get("annotations"), f"{path}.annotations")
    return errs


def _validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for key in _m(annotations):
        k = str(key)
        errs += _invalid_each(path, k, is_qualified_name(k.lower()))
    return errs


# ------------------------------------------------------------------ Service
def _cluster_ips(spec: Mapping[str, Any]) -> list[str]:
    """``spec.clusterIPs`` as validation sees it: the strategy copies ``clusterIP`` in when it is unset."""
    ips = spec.get("clusterIPs")
    if isinstance(ips, list) and ips:
        return [_s(ip) for ip in ips]
    cip = _s(spec.get("clusterIP"))
    return [cip] if cip else []


def _is_headless(spec: Mapping[str, Any]) -> bool:
    ips = _cluster_ips(spec)
    return len(ips) == 1 and ips[0] == "None"


def _externally_accessible(spec: Mapping[str, Any]) -> bool:
    t = spec.get("type")
    return t in ("NodePort", "LoadBalancer") or (t == "ClusterIP" and bool(_l(spec.get("externalIPs"))))


def _service_port(port: Mapping[str, Any], require_name: bool, names: set[str], path: str) -> list[FieldError]:
    """``validateServicePort``: name, port, protocol, targetPort, appProtocol (in that order)."""
    errs: list[FieldError] = []
    name = _s(port.get("name"))
    if require_name and not name:
        errs.append(FieldError(f"{path}.name", REQUIRED))
    elif name:
        errs += _invalid_each(f"{path}.name", name, is_dns1123_label(name))
        if name in names:
            errs.append(FieldError(f"{path}.name", DUPLICATE, name))
        else:
            names.add(name)
    errs += _port_num(f"{path}.port", _i(port.get("port")))
    proto = _s(port.get("protocol"))
    if not proto:
        errs.append(FieldError(f"{path}.protocol", REQUIRED))
    elif proto not in PROTOCOLS:
        errs.append(not_supported(f"{path}.protocol", proto, PROTOCOLS))
    errs += _port_num_or_name(f"{path}.targetPort", port.get("targetPort"))
    app = port.get("appProtocol")
    if isinstance(app, str):
        errs += _invalid_each(f"{path}.appProtocol", app, is_qualified_name(app))
    # A headless Service's targetPort may differ from its port: tolerated upstream for compatibility.
    return errs


def _port_num_or_name(path: str, value: Any) -> list[FieldError]:
    """``ValidatePortNumOrName``: a number 1-65535 or an IANA_SVC_NAME."""
    if isinstance(value, str):
        return _invalid_each(path, value, is_valid_port_name(value))
    return _port_num(path, _i(value))


def _cluster_ips_related(spec: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateServiceClusterIPsRelatedFields`` (ExternalName Services are checked elsewhere)."""
    if spec.get("type") == "ExternalName":
        return []
    errs: list[FieldError] = []
    cip = _s(spec.get("clusterIP"))
    raw = spec.get("clusterIPs")
    ips = [_s(i) for i in raw] if isinstance(raw, list) and raw else ([cip] if cip else [])
    if cip:
        if ips[0] != cip:
            errs.append(FieldError("spec.clusterIPs", INVALID, hashable(ips), "first value must match `clusterIP`"))
    elif ips:
        errs.append(FieldError("spec.clusterIPs", INVALID, hashable(ips), "must be empty when `clusterIP` is not specified"))
    families = _l(spec.get("ipFamilies"))
    seen: set[str] = set()
    for i, fam in enumerate(families):
        if str(fam) not in IP_FAMILIES:
            errs.append(not_supported(f"spec.ipFamilies[{i}]", fam, IP_FAMILIES))
        if str(fam) in seen:
            errs.append(FieldError(f"spec.ipFamilies[{i}]", DUPLICATE, hashable(fam)))
        seen.add(str(fam))
    policy = spec.get("ipFamilyPolicy")
    if policy is not None and str(policy) not in IP_FAMILY_POLICIES:
        errs.append(not_supported("spec.ipFamilyPolicy", policy, IP_FAMILY_POLICIES))
    bad_ip = False
    for i, ip in enumerate(ips):
        if i == 0 and ip == "None":
            if len(ips) > 1:
                bad_ip = True
                errs.append(FieldError("spec.clusterIPs", INVALID, hashable(ips), "'None' must be the first and only value"))
            continue
        if parse_ip(ip) is None:
            bad_ip = True
            errs.append(FieldError(f"spec.clusterIPs[{i}]", INVALID, ip, _IP_MESSAGE))
    if len(ips) > 2:
        errs.append(FieldError("spec.clusterIPs", INVALID, hashable(ips), "may only hold up to 2 values"))
    if bad_ip:
        return errs
    parsed = [parse_ip(ip) for ip in ips]
    if len(ips) > 1 and len({p.version for p in parsed if p is not None}) != len(ips):
        errs.append(FieldError("spec.clusterIPs", INVALID, hashable(ips), "may specify no more than one IP for each IP family"))
    if not _is_headless(spec) and ips and families:
        for i, p in enumerate(parsed):
            if i >= len(families) or p is None:
                break
            if families[i] == "IPv4" and p.version == 6:
                errs.append(FieldError(f"spec.clusterIPs[{i}]", INVALID, ips[i],
                                       f"expected an IPv4 value as indicated by `ipFamilies[{i}]`"))
            if families[i] == "IPv6" and p.version != 6:
                errs.append(FieldError(f"spec.clusterIPs[{i}]", INVALID, ips[i],
                                       f"expected an IPv6 value as indicated by `ipFamilies[{i}]`"))
    return errs


def _service_port_key(port: Mapping[str, Any]) -> dict[str, Any]:
    """The ``core.ServicePort{Protocol, Port}`` the API server prints for a duplicate port (JSON form)."""
    return {"Name": "", "Protocol": _s(port.get("protocol")), "AppProtocol": None, "Port": _i(port.get("port")),
            "TargetPort": 0, "NodePort": 0}


def _load_balancer_class(spec: Mapping[str, Any], old_spec: Mapping[str, Any] | None) -> list[FieldError]:
    errs: list[FieldError] = []
    path = "spec.loadBalancerClass"
    lbc = spec.get("loadBalancerClass")
    if old_spec is not None and old_spec.get("type") == "LoadBalancer" and spec.get("type") == "LoadBalancer":
        if old_spec.get("loadBalancerClass") != lbc:
            errs.append(FieldError(path, INVALID, hashable(lbc), "may not change once set"))
    if lbc is not None:
        if spec.get("type") != "LoadBalancer":
            errs.append(FieldError(path, FORBIDDEN, detail=_LB_ONLY))
        else:
            errs += _invalid_each(path, _s(lbc), is_qualified_name(_s(lbc)))
    return errs


def traffic_distributions(minor: int = DEFAULT_MINOR) -> tuple[str, ...]:
    """The ``spec.trafficDistribution`` values release 1.``minor`` accepts, in the order its
    "supported values" list prints them: ``PreferSameZone`` and ``PreferSameNode`` only with
    the PreferSameTrafficDistribution gate (alpha, off in v1.33; beta, on from v1.34)."""
    if gate_default("PreferSameTrafficDistribution", minor):
        return ("PreferClose", "PreferSameZone", "PreferSameNode")
    return TRAFFIC_DISTRIBUTIONS


def validate_service(svc: Mapping[str, Any], old: Mapping[str, Any] | None = None,
                     minor: int = DEFAULT_MINOR) -> list[FieldError]:
    """``ValidateService`` (and ``ValidateServiceUpdate`` with ``old``), in upstream's order.

    Args:
        svc: a defaulted, allocated Service.
        old: the stored Service this one replaces, if any.
        minor: the Kubernetes release (1.``minor``) whose feature gates apply.
    """
    spec = _m(svc.get("spec"))
    meta = _m(svc.get("metadata"))
    errs: list[FieldError] = []
    if old is not None:
        old_spec = _m(old.get("spec"))
        if "ExternalName" not in (old_spec.get("type"), spec.get("type")):
            old_ips, new_ips = _cluster_ips(old_spec), _cluster_ips(spec)
            for i in (0, 1):
                if len(old_ips) > i and len(new_ips) > i and old_ips[i] != new_ips[i]:
                    errs.append(FieldError(f"spec.clusterIPs[{i}]", INVALID, hashable(new_ips), "may not change once set"))
        errs += _load_balancer_class(spec, old_spec)
    errs += validate_object_meta(meta, is_dns1035_label)
    stype = spec.get("type")
    headless = _is_headless(spec)
    ports = [_m(p) for p in _l(spec.get("ports"))]
    if not ports and not headless and stype != "ExternalName":
        errs.append(FieldError("spec.ports", REQUIRED))
    if stype == "LoadBalancer" and headless:
        errs.append(FieldError("spec.clusterIPs[0]", INVALID, "None", "may not be set to 'None' for LoadBalancer services"))
    elif stype == "NodePort" and headless:
        errs.append(FieldError("spec.clusterIPs[0]", INVALID, "None", "may not be set to 'None' for NodePort services"))
    elif stype == "ExternalName":
        if _cluster_ips(spec):
            errs.append(FieldError("spec.clusterIPs", FORBIDDEN, detail="may not be set for ExternalName services"))
        if _l(spec.get("ipFamilies")):
            errs.append(FieldError("spec.ipFamilies", FORBIDDEN, detail="may not be set for ExternalName services"))
        if spec.get("ipFamilyPolicy") is not None:
            errs.append(FieldError("spec.ipFamilyPolicy", FORBIDDEN, detail="may not be set for ExternalName services"))
        ext = _s(spec.get("externalName"))
        cname = ext[:-1] if ext.endswith(".") else ext  # one trailing dot: a fully qualified name
        if cname:
            errs += _invalid_each("spec.externalName", cname, is_dns1123_subdomain(cname))
        else:
            errs.append(FieldError("spec.externalName", REQUIRED))
    names: set[str] = set()
    for i, port in enumerate(ports):
        errs += _service_port(port, len(ports) > 1, names, f"spec.ports[{i}]")
    if spec.get("selector") is not None:
        errs += validate_labels(spec.get("selector"), "spec.selector")
    affinity = _s(spec.get("sessionAffinity"))
    if not affinity:
        errs.append(FieldError("spec.sessionAffinity", REQUIRED))
    elif affinity not in SESSION_AFFINITIES:
        errs.append(not_supported("spec.sessionAffinity", affinity, SESSION_AFFINITIES))
    if affinity == "ClientIP":
        errs += _client_ip_config(spec.get("sessionAffinityConfig"))
    elif affinity == "None" and spec.get("sessionAffinityConfig") is not None:
        errs.append(FieldError("spec.sessionAffinityConfig", FORBIDDEN, detail="must not be set when session affinity is None"))
    errs += _cluster_ips_related(spec)
    for i, ip in enumerate(_l(spec.get("externalIPs"))):
        p = f"spec.externalIPs[{i}]"
        if parse_ip(ip) is None:
            errs.append(FieldError(p, INVALID, _s(ip), _IP_MESSAGE))
        else:
            errs += _special_ip(p, ip)
    if not stype:
        errs.append(FieldError("spec.type", REQUIRED))
    elif stype not in SERVICE_TYPES:
        errs.append(not_supported("spec.type", _s(stype) or stype, SERVICE_TYPES))
    if stype == "ClusterIP":
        for i, port in enumerate(ports):
            if _i(port.get("nodePort")) != 0:
                errs.append(FieldError(f"spec.ports[{i}].nodePort", FORBIDDEN,
                                       detail="may not be used when `type` is 'ClusterIP'"))
    seen_node: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        node_port = _i(port.get("nodePort"))
        if node_port == 0:
            continue
        key = (_s(port.get("protocol")), node_port)
        if key in seen_node:
            errs.append(FieldError(f"spec.ports[{i}].nodePort", DUPLICATE, node_port))
        seen_node.add(key)
    seen_port: set[tuple[str, int]] = set()
    for i, port in enumerate(ports):
        key = (_s(port.get("protocol")), _i(port.get("port")))
        if key in seen_port:
            errs.append(FieldError(f"spec.ports[{i}]", DUPLICATE, hashable(_service_port_key(port))))
        seen_port.add(key)
    ranges = _l(spec.get("loadBalancerSourceRanges"))
    annotations = _m(meta.get("annotations"))
    if ranges:
        # The capital L is upstream's own spelling of this path.
        if stype != "LoadBalancer":
            errs.append(FieldError("spec.LoadBalancerSourceRanges", FORBIDDEN, detail=_LB_ONLY))
        for i, value in enumerate(ranges):
            v = _s(value).strip()
            if not _valid_cidr(v):
                errs.append(FieldError(f"spec.LoadBalancerSourceRanges[{i}]", INVALID, v, _CIDR_MESSAGE))
    elif LB_SOURCE_RANGES_ANNOTATION in annotations:
        path = f"metadata.annotations[{LB_SOURCE_RANGES_ANNOTATION}]"
        if stype != "LoadBalancer":
            errs.append(FieldError(path, FORBIDDEN, detail=_LB_ONLY))
        val = _s(annotations[LB_SOURCE_RANGES_ANNOTATION]).strip()
        if val:
            for v in val.split(","):
                if not _valid_cidr(v.strip()):
                    errs.append(FieldError(path, INVALID, v.strip(), _CIDR_MESSAGE))
    if spec.get("allocateLoadBalancerNodePorts") is not None and stype != "LoadBalancer":
        errs.append(FieldError("spec.allocateLoadBalancerNodePorts", FORBIDDEN, detail=_LB_ONLY))
    if stype == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts") is None:
        # Upstream's path really lacks "spec." here; defaulting makes it unreachable anyway.
        errs.append(FieldError("allocateLoadBalancerNodePorts", REQUIRED))
    errs += _load_balancer_class(spec, None)
    errs += _traffic_policies(spec, minor)
    errs += validate_load_balancer_status(_m(_m(svc.get("status")).get("loadBalancer")))
    return errs


LB_IP_MODES = ("Proxy", "VIP")


def validate_load_balancer_status(status: Mapping[str, Any], path: str = "status.loadBalancer") -> list[FieldError]:
    """``ValidateLoadBalancerStatus``: each ingress point's ``ip``, ``ipMode`` and ``hostname``.

    kubelearn has no cloud controller, so a manifest's ``status.loadBalancer`` stands for what
    one would have written; the API server checks that status on every status update, and
    kube-proxy writes each ingress IP into the node's rules, so kubelearn checks it on apply.
    """
    errs: list[FieldError] = []
    for i, ing in enumerate(_l(status.get("ingress"))):
        ing = _m(ing)
        p = f"{path}.ingress[{i}]"
        ip = ing.get("ip")
        if ip is not None and ip != "":
            if parse_ip(ip) is None:
                errs.append(FieldError(f"{p}.ip", INVALID, _s(ip) or ip, _IP_MESSAGE))
        mode = ing.get("ipMode")
        if mode is not None:
            if not ip:
                errs.append(FieldError(f"{p}.ipMode", FORBIDDEN, detail="may not be specified when `ip` is not set"))
            elif mode not in LB_IP_MODES:
                errs.append(not_supported(f"{p}.ipMode", mode, LB_IP_MODES))
        elif ip:
            errs.append(FieldError(f"{p}.ipMode", REQUIRED, detail="must be specified when `ip` is set"))
        hostname = ing.get("hostname")
        if isinstance(hostname, str) and hostname:
            errs += _invalid_each(f"{p}.hostname", hostname, is_dns1123_subdomain(hostname))
            if parse_ip(hostname) is not None:
                errs.append(FieldError(f"{p}.hostname", INVALID, hostname, "must be a DNS name, not an IP address"))
    return errs


def _client_ip_config(cfg: Any) -> list[FieldError]:
    path = "spec.sessionAffinityConfig"
    detail = "when session affinity type is ClientIP"
    if not isinstance(cfg, Mapping):
        return [FieldError(path, REQUIRED, detail=detail)]
    client = cfg.get("clientIP")
    if not isinstance(client, Mapping):
        return [FieldError(f"{path}.clientIP", REQUIRED, detail=detail)]
    if client.get("timeoutSeconds") is None:
        return [FieldError(f"{path}.clientIP.timeoutSeconds", REQUIRED, detail=detail)]
    timeout = _i(client.get("timeoutSeconds"))
    if timeout <= 0 or timeout > MAX_CLIENT_IP_TIMEOUT:
        # The text says "less than" but 86400 itself is accepted: the check is <= 86400.
        return [FieldError(f"{path}.clientIP.timeoutSeconds", INVALID, timeout,
                           f"must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}")]
    return []


def _traffic_policies(spec: Mapping[str, Any], minor: int = DEFAULT_MINOR) -> list[FieldError]:
    errs: list[FieldError] = []
    etp = _s(spec.get("externalTrafficPolicy"))
    if not _externally_accessible(spec):
        if etp:
            errs.append(FieldError("spec.externalTrafficPolicy", INVALID, etp,
                                   "may only be set for externally-accessible services"))
    elif not etp:
        errs.append(FieldError("spec.externalTrafficPolicy", REQUIRED))
    elif etp not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.externalTrafficPolicy", etp, TRAFFIC_POLICIES))
    hcnp = _i(spec.get("healthCheckNodePort"))
    if not (spec.get("type") == "LoadBalancer" and etp == "Local"):
        if hcnp != 0:
            errs.append(FieldError("spec.healthCheckNodePort", INVALID, hcnp,
                                   "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'"))
    elif hcnp == 0:
        errs.append(FieldError("spec.healthCheckNodePort", REQUIRED))
    else:
        errs += _port_num("spec.healthCheckNodePort", hcnp)
    itp = spec.get("internalTrafficPolicy")
    if itp is None:
        if spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
            errs.append(FieldError("spec.internalTrafficPolicy", REQUIRED))
    elif str(itp) not in TRAFFIC_POLICIES:
        errs.append(not_supported("spec.internalTrafficPolicy", itp, TRAFFIC_POLICIES))
    td = spec.get("trafficDistribution")
    if td is not None and str(td) not in traffic_distributions(minor):
        errs.append(not_supported("spec.trafficDistribution", td, traffic_distributions(minor)))
    return errs


# ------------------------------------------------------------------ Pod
def _container_ports(ports: Any, path: str) -> list[FieldError]:
    """``validateContainerPorts``: IANA_SVC_NAME names, unique names, port ranges, protocol."""
    errs: list[FieldError] = []
    names: set[str] = set()
    for i, port in enumerate(_l(ports)):
        port = _m(port)
        p = f"{path}[{i}]"
        name = _s(port.get("name"))
        if name:
            msgs = is_valid_port_name(name)
            if msgs:
                errs += _invalid_each(f"{p}.name", name, msgs)
            elif name in names:
                errs.append(FieldError(f"{p}.name", DUPLICATE, name))
            else:
                names.add(name)
        cport = _i(port.get("containerPort"))
        if cport == 0:
            errs.append(FieldError(f"{p}.containerPort", REQUIRED))
        else:
            errs += _port_num(f"{p}.containerPort", cport)
        hport = _i(port.get("hostPort"))
        if hport != 0:
            errs += _port_num(f"{p}.hostPort", hport)
        proto = _s(port.get("protocol"))
        if not proto:
            errs.append(FieldError(f"{p}.protocol", REQUIRED))
        elif proto not in PROTOCOLS:
            errs.append(not_supported(f"{p}.protocol", proto, PROTOCOLS))
    return errs


def _containers(containers: Any, path: str, names: set[str], required: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    items = _l(containers)
    if required and not items:
        return [FieldError(path, REQUIRED)]
    for i, c in enumerate(items):
        c = _m(c)
        p = f"{path}[{i}]"
        name = _s(c.get("name"))
        if not name:
            errs.append(FieldError(f"{p}.name", REQUIRED))
        else:
            errs += _invalid_each(f"{p}.name", name, is_dns1123_label(name))
        if not _s(c.get("image")):
            errs.append(FieldError(f"{p}.image", REQUIRED))
        errs += _container_ports(c.get("ports"), f"{p}.ports")
        if name in names:
            errs.append(FieldError(f"{p}.name", DUPLICATE, name))
        elif name:
            names.add(name)
    return errs


def validate_pod_spec(spec: Any, path: str = "spec") -> list[FieldError]:
    """The parts of ``ValidatePodSpec`` kubelearn models: containers, ports and policies.

    Args:
        spec: a defaulted pod spec (of a Pod or a pod template).
        path: its field path, ``spec`` or ``spec.template.spec``.
    """
    spec = _m(spec)
    names: set[str] = set()
    errs = _containers(spec.get("containers"), f"{path}.containers", names, required=True)
    errs += _containers(spec.get("initContainers"), f"{path}.initContainers", names, required=False)
    restart = _s(spec.get("restartPolicy"))
    if not restart:
        errs.append(FieldError(f"{path}.restartPolicy", REQUIRED))
    elif restart not in ("Always", "Never", "OnFailure"):
        errs.append(not_supported(f"{path}.restartPolicy", restart, ("Always", "Never", "OnFailure")))
    dns = _s(spec.get("dnsPolicy"))
    dns_policies = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
    if not dns:
        errs.append(FieldError(f"{path}.dnsPolicy", REQUIRED))
    elif dns not in dns_policies:
        errs.append(not_supported(f"{path}.dnsPolicy", dns, dns_policies))
    grace = spec.get("terminationGracePeriodSeconds")
    if grace is not None:
        errs += _nonnegative(f"{path}.terminationGracePeriodSeconds", _i(grace))
    node = spec.get("nodeName")
    if isinstance(node, str) and node:
        errs += _invalid_each(f"{path}.nodeName", node, is_dns1123_subdomain(node))
    return errs


def _pod(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain)
    return errs + validate_pod_spec(obj.get("spec")) + _pod_status_ips(_m(obj.get("status")))


def _pod_status_ips(status: Mapping[str, Any]) -> list[FieldError]:
    """``ValidatePodStatusUpdate``'s address checks, for a status given in a manifest.

    A real API server clears a new Pod's status; kubelearn keeps a manifest's ``status`` as
    observed state, and pod addresses end up in EndpointSlices, rules and the lab.
    """
    errs: list[FieldError] = []
    for single, plural in (("podIP", "podIPs"), ("hostIP", "hostIPs")):
        # The singular field is the plural's first item in the internal API (conversion).
        values = [_m(item).get("ip") for item in _l(status.get(plural))]
        if not values and status.get(single) not in (None, ""):
            values = [status.get(single)]
        elif status.get(single) not in (None, "") and status.get(single) != values[0]:
            values.insert(0, status.get(single))
        for i, value in enumerate(values):
            if parse_ip(value) is None:
                errs.append(FieldError(f"status.{plural}[{i}]", INVALID, _s(value) or value, _IP_MESSAGE))
    return errs


# ------------------------------------------------------------------ apps/v1
def _pod_template(template: Any, selector: Any, path: str) -> list[FieldError]:
    """``ValidatePodTemplateSpecForReplicaSet``: labels match the selector, restartPolicy Always."""
    if not isinstance(template, Mapping):
        return [FieldError(path, REQUIRED)]
    tmeta = _m(template.get("metadata"))
    labels = _m(tmeta.get("labels"))
    errs: list[FieldError] = []
    sel = _m(selector)
    if sel.get("matchLabels") or sel.get("matchExpressions"):
        try:
            matches = label_selector_matches(sel, {str(k): v for k, v in labels.items()})
        except (ValueError, AttributeError, TypeError):
            matches = True  # an unusable selector was already reported as invalid
        if not matches:
            errs.append(FieldError(f"{path}.metadata.labels", INVALID, hashable(labels),
                                   "`selector` does not match template `labels`"))
    # Upstream validates the template's labels at "<path>.labels", without "metadata".
    errs += validate_labels(tmeta.get("labels"), f"{path}.labels")
    errs += _validate_annotations(tmeta.get("annotations"), f"{path}.annotations")
    errs += validate_pod_spec(template.get("spec"), f"{path}.spec")
    restart = _s(_m(template.get("spec")).get("restartPolicy"))
    if restart and restart != "Always":
        errs.append(not_supported(f"{path}.spec.restartPolicy", restart, ("Always",)))
    if _m(template.get("spec")).get("activeDeadlineSeconds") is not None:
        errs.append(FieldError(f"{path}.spec.activeDeadlineSeconds", FORBIDDEN,
                               detail="activeDeadlineSeconds in ReplicaSet is not Supported"))
    return errs


#: kubelearn's own ceiling on ``spec.replicas`` (the API server allows up to 2^31-1).  A kind
#: node's kubelet runs at most 110 pods (``maxPods``), so beyond a few hundred replicas every
#: extra pod is Pending anyway; 10,000 load in about 1.4 s of CPU and 90 MB
#: (``benchmarks/bench_load.py``), where 200,000 took minutes and gigabytes.
MAX_REPLICAS = 10_000


def replicas_limit_error(path: str, replicas: Any) -> FieldError | None:
    """The error for a replica count above :data:`MAX_REPLICAS`, or None."""
    n = _i(replicas)
    if n > MAX_REPLICAS:
        return FieldError(path, INVALID, n, f"must be less than or equal to {MAX_REPLICAS} "
                          "(kubelearn's limit; the API server allows more)")
    return None


def _selector_and_template(spec: Mapping[str, Any], kind_word: str) -> list[FieldError]:
    errs = _nonnegative("spec.replicas", _i(spec.get("replicas")))
    too_many = replicas_limit_error("spec.replicas", spec.get("replicas"))
    if too_many is not None:
        errs.append(too_many)
    selector = spec.get("selector")
    if selector is None:
        errs.append(FieldError("spec.selector", REQUIRED))
    else:
        errs += validate_label_selector(selector, "spec.selector")
        sel = _m(selector)
        if not _m(sel.get("matchLabels")) and not _l(sel.get("matchExpressions")):
            errs.append(FieldError("spec.selector", INVALID, hashable(sel), f"empty selector is invalid for {kind_word}"))
    ops_ok = all(_m(e).get("operator") in ("In", "NotIn", "Exists", "DoesNotExist")
                 for e in _l(_m(selector).get("matchExpressions")))
    if not ops_ok:
        errs.append(FieldError("spec.selector", INVALID, hashable(_m(selector)), "invalid label selector"))
    else:
        errs += _pod_template(spec.get("template"), selector, "spec.template")
    return errs


_PERCENT = re.compile(r"^[0-9]+%\Z")


def _int_or_percent(value: Any, path: str) -> tuple[list[FieldError], int]:
    if isinstance(value, str):
        if not _PERCENT.match(value):
            return [FieldError(path, INVALID, value, "must be an integer or percentage (e.g '5%')")], 0
        return [], int(value[:-1])
    n = _i(value)
    return _nonnegative(path, n), n


def _deployment(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain)
    spec = _m(obj.get("spec"))
    errs += _selector_and_template(spec, "deployment")
    strategy = _m(spec.get("strategy"))
    stype = _s(strategy.get("type"))
    if stype == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            errs.append(FieldError("spec.strategy.rollingUpdate", FORBIDDEN,
                                   detail="may not be specified when strategy `type` is 'Recreate'"))
    elif stype == "RollingUpdate":
        ru = strategy.get("rollingUpdate")
        if ru is None:
            errs.append(FieldError("spec.strategy.rollingUpdate", REQUIRED,
                                   detail="this should be defaulted and never be nil"))
        else:
            ru = _m(ru)
            p = "spec.strategy.rollingUpdate"
            e1, unavailable = _int_or_percent(ru.get("maxUnavailable"), f"{p}.maxUnavailable")
            e2, surge = _int_or_percent(ru.get("maxSurge"), f"{p}.maxSurge")
            errs += e1 + e2
            if unavailable == 0 and surge == 0:
                errs.append(FieldError(f"{p}.maxUnavailable", INVALID, hashable(ru.get("maxUnavailable")),
                                       "may not be 0 when `maxSurge` is 0"))
            if isinstance(ru.get("maxUnavailable"), str) and unavailable > 100:
                errs.append(FieldError(f"{p}.maxUnavailable", INVALID, ru.get("maxUnavailable"),
                                       "must not be greater than 100%"))
    else:
        errs.append(not_supported("spec.strategy.type", stype, ("Recreate", "RollingUpdate")))
    errs += _nonnegative("spec.minReadySeconds", _i(spec.get("minReadySeconds")))
    if spec.get("revisionHistoryLimit") is not None:
        errs += _nonnegative("spec.revisionHistoryLimit", _i(spec.get("revisionHistoryLimit")))
    if spec.get("progressDeadlineSeconds") is not None:
        pds = _i(spec.get("progressDeadlineSeconds"))
        errs += _nonnegative("spec.progressDeadlineSeconds", pds)
        if pds <= _i(spec.get("minReadySeconds")):
            errs.append(FieldError("spec.progressDeadlineSeconds", INVALID, pds,
                                   "must be greater than minReadySeconds"))
    return errs + _immutable_selector(spec, old)


def _replica_set(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain)
    spec = _m(obj.get("spec"))
    errs += _selector_and_template(spec, "replicaset")
    errs += _nonnegative("spec.minReadySeconds", _i(spec.get("minReadySeconds")))
    return errs + _immutable_selector(spec, old)


def _semantic(value: Any) -> Any:
    """``apiequality.Semantic.DeepEqual``'s view: empty, null and omitted are the same (Go zero values)."""
    if isinstance(value, Mapping):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", [], {})}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _immutable_selector(spec: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    """apps/v1: a Deployment's or ReplicaSet's selector cannot change once created."""
    if old is None:
        return []
    new_sel = spec.get("selector")
    if _semantic(new_sel) != _semantic(_m(old.get("spec")).get("selector")):
        return [FieldError("spec.selector", INVALID, hashable(new_sel), "field is immutable")]
    return []


# The StatefulSet spec fields an update may touch (ValidateStatefulSetUpdate, v1.33).
_STS_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
_STS_FORBIDDEN = ("updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
                  "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and "
                  "'minReadySeconds' are forbidden")


def _stateful_set(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain)
    spec = _m(obj.get("spec"))
    policy = _s(spec.get("podManagementPolicy"))
    if not policy:
        errs.append(FieldError("spec.podManagementPolicy", REQUIRED))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(FieldError("spec.podManagementPolicy", INVALID, policy,
                               "must be 'OrderedReady' or 'Parallel'"))
    strategy = _m(spec.get("updateStrategy"))
    stype = _s(strategy.get("type"))
    if not stype:
        errs.append(FieldError("spec.updateStrategy", REQUIRED))
    elif stype not in ("OnDelete", "RollingUpdate"):
        errs.append(FieldError("spec.updateStrategy", INVALID, hashable(strategy),
                               "must be 'RollingUpdate' or 'OnDelete'"))
    errs += _selector_and_template(spec, "statefulset")
    if old is not None:
        old_spec = _m(old.get("spec"))
        if (_semantic({k: v for k, v in spec.items() if k not in _STS_MUTABLE})
                != _semantic({k: v for k, v in old_spec.items() if k not in _STS_MUTABLE})):
            errs.append(FieldError("spec", FORBIDDEN, detail=_STS_FORBIDDEN))
    return errs


# ------------------------------------------------------------------ the rest
def _endpoint_slice(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    """``ValidateEndpointSlice``: paths start at the top level (an EndpointSlice has no ``spec``)."""
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain)
    address_type = _s(obj.get("addressType"))
    if not address_type:
        errs.append(FieldError("addressType", REQUIRED))
    elif address_type not in ("FQDN", "IPv4", "IPv6"):
        errs.append(not_supported("addressType", address_type, ("FQDN", "IPv4", "IPv6")))
    for i, ep in enumerate(_l(obj.get("endpoints"))):
        ep = _m(ep)
        p = f"endpoints[{i}]"
        addresses = _l(ep.get("addresses"))
        if not addresses:
            errs.append(FieldError(f"{p}.addresses", REQUIRED, detail="must contain at least 1 address"))
        elif len(addresses) > 100:
            errs.append(FieldError(f"{p}.addresses", "Too many", len(addresses), "must have at most 100 items"))
        for j, addr in enumerate(addresses):
            ap = f"{p}.addresses[{j}]"
            a = _s(addr)
            ip = parse_ip(a)
            if address_type == "IPv4":
                if ip is None or ip.version != 4 or ":" in a:
                    errs.append(FieldError(ap, INVALID, a, "must be a valid IPv4 address"))
                else:
                    errs += _special_ip(ap, a)
            elif address_type == "IPv6":
                if ip is None or ":" not in a:
                    errs.append(FieldError(ap, INVALID, a, "must be a valid IPv6 address"))
                else:
                    errs += _special_ip(ap, a)
            elif address_type == "FQDN":
                errs += _invalid_each(ap, a, is_dns1123_subdomain(a))
        node = ep.get("nodeName")
        if isinstance(node, str):
            errs += _invalid_each(f"{p}.nodeName", node, is_dns1123_subdomain(node))
        host = ep.get("hostname")
        if isinstance(host, str):
            errs += _invalid_each(f"{p}.hostname", host, is_dns1123_label(host))
        hints = ep.get("hints")
        if isinstance(hints, Mapping):
            errs += _endpoint_hints(hints, f"{p}.hints")
    names: set[str] = set()
    for i, port in enumerate(_l(obj.get("ports"))):
        port = _m(port)
        p = f"ports[{i}]"
        name = _s(port.get("name"))
        if name:
            errs += _invalid_each(f"{p}.name", name, is_dns1123_label(name))
        if name in names:
            errs.append(FieldError(f"{p}.name", DUPLICATE, name))
        names.add(name)
        proto = port.get("protocol")
        if proto is None:
            errs.append(FieldError(f"{p}.protocol", REQUIRED))
        elif str(proto) not in PROTOCOLS:
            errs.append(not_supported(f"{p}.protocol", proto, PROTOCOLS))
        if isinstance(port.get("appProtocol"), str):
            errs += _invalid_each(f"{p}.appProtocol", port["appProtocol"], is_qualified_name(port["appProtocol"]))
    return errs


def _endpoints(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain)
    for i, subset in enumerate(_l(obj.get("subsets"))):
        subset = _m(subset)
        for key in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(_l(subset.get(key))):
                p = f"subsets[{i}].{key}[{j}].ip"
                ip = _s(_m(addr).get("ip"))
                if parse_ip(ip) is None:
                    errs.append(FieldError(p, INVALID, ip, _IP_MESSAGE))
                else:
                    errs += _special_ip(p, ip)
        subset_ports = _l(subset.get("ports"))
        for j, port in enumerate(subset_ports):
            port = _m(port)
            p = f"subsets[{i}].ports[{j}]"
            name = _s(port.get("name"))
            if len(subset_ports) > 1 and not name:
                errs.append(FieldError(f"{p}.name", REQUIRED))
            elif name:
                errs += _invalid_each(f"{p}.name", name, is_dns1123_label(name))
            errs += _port_num(f"{p}.port", _i(port.get("port")))
            proto = _s(port.get("protocol"))
            if not proto:
                errs.append(FieldError(f"{p}.protocol", REQUIRED))
            elif proto not in PROTOCOLS:
                errs.append(not_supported(f"{p}.protocol", proto, PROTOCOLS))
    return errs


def _namespace(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    return validate_object_meta(obj.get("metadata"), is_dns1123_label, namespaced=False)


#: kubelearn's own detail for a node address the API server would store but kubelearn cannot use.
NODE_ADDRESS_DETAIL = (_IP_MESSAGE + " (kubelearn checks this although the API server does not: "
                       "kube-proxy's rules and the lab use the node's InternalIP)")


def _node(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    errs = validate_object_meta(obj.get("metadata"), is_dns1123_subdomain, namespaced=False)
    spec = _m(obj.get("spec"))
    if spec.get("podCIDR") not in (None, "") and not _valid_cidr(_s(spec.get("podCIDR"))):
        errs.append(FieldError("spec.podCIDR", INVALID, _s(spec.get("podCIDR")), _CIDR_MESSAGE))
    for i, cidr in enumerate(_l(spec.get("podCIDRs"))):
        if not _valid_cidr(_s(cidr)):
            errs.append(FieldError(f"spec.podCIDRs[{i}]", INVALID, _s(cidr), "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"))
    # The API server stores node addresses as given (the kubelet reports them); kubelearn
    # uses InternalIP and ExternalIP as addresses in rules and in the lab, so it checks them.
    for i, addr in enumerate(_l(_m(obj.get("status")).get("addresses"))):
        addr = _m(addr)
        if addr.get("type") in ("InternalIP", "ExternalIP") and parse_ip(addr.get("address")) is None:
            errs.append(FieldError(f"status.addresses[{i}].address", INVALID, _s(addr.get("address")) or addr.get("address"),
                                   NODE_ADDRESS_DETAIL))
    return errs


def _service(obj: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[FieldError]:
    return validate_service(obj, old)


_VALIDATORS: Mapping[str, Callable[[Mapping[str, Any], Mapping[str, Any] | None], list[FieldError]]] = {
    "Service": _service,
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "StatefulSet": _stateful_set,
    "EndpointSlice": _endpoint_slice,
    "Endpoints": _endpoints,
    "Namespace": _namespace,
    "Node": _node,
}


def validate(obj: Mapping[str, Any], cluster: Cluster | None = None,
             old: Mapping[str, Any] | None = None) -> list[FieldError]:
    """Every field error the API server would report for ``obj``, in its order.

    Args:
        obj: a decoded, defaulted and allocated object (see ``docs/design.md`` §4).
        cluster: the cluster it is applied to (kept for checks that need other objects;
            cluster-wide conflicts such as taken node ports are :mod:`kubelearn.apiserver.allocation`'s).
        old: the stored object this one replaces (an update), enabling rules such as
            ``spec.clusterIPs[0]: … may not change once set``.

    Returns:
        The :class:`~kubelearn.errors.FieldError` s; ``[]`` when the object is valid.  Never
        raises for malformed input; kinds without rules here (kubelearn's ``Workload``) give ``[]``.

    >>> svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "Web"},
    ...        "spec": {"type": "ClusterIP", "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
    ...                 "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}}
    >>> print(validate(svc)[0])  # doctest: +ELLIPSIS
    metadata.name: Invalid value: "Web": a DNS-1035 label must consist of lower case alphanumeric characters ...
    """
    if obj.get("kind") == "Service":  # what it accepts depends on the release's feature gates
        return validate_service(obj, old, cluster_minor(cluster) if cluster is not None else DEFAULT_MINOR)
    fn = _VALIDATORS.get(str(obj.get("kind")))
    if fn is None:
        return []
    return fn(obj, old)



def _endpoint_hints(hints: Mapping[str, Any], path: str) -> list[FieldError]:
    """``validateHints`` (pkg/apis/discovery/validation): at most 8 zone hints, no duplicates,
    each a valid label value."""
    zones = _l(hints.get("forZones"))
    if len(zones) > 8:  # maxZoneHints
        return [FieldError(f"{path}.forZones", "Too many", len(zones), "must have at most 8 items")]
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, fz in enumerate(zones):
        name = _s(_m(fz).get("name"))
        zp = f"{path}.forZones[{i}].name"
        if name in seen:
            errs.append(FieldError(zp, DUPLICATE, name))
        else:
            seen.add(name)
        errs += [FieldError(zp, INVALID, name, m) for m in is_valid_label_value(name)]
    return errs


# ------------------------------------------------------- lenient IPs and their warnings
# Service and EndpointSlice IP fields are "legacy" fields: the API server has always parsed
# them with Go's old, sloppy parser (leading zeros allowed, IPv4-mapped IPv6 allowed, a CIDR
# with host bits set allowed).  Since v1.27 it warns about such values; the StrictIPCIDRValidation
# feature gate (alpha in v1.33, default off) makes it refuse new ones.  kubelearn's default is the
# gate's default (lenient, with warnings); ``strict=True`` models the gate switched on.
# Upstream: apimachinery pkg/util/validation/ip.go and ip_test.go (TestIsValidIP, TestIsValidCIDR,
# TestGetWarningsForIP, TestGetWarningsForCIDR), pkg/api/service/warnings.go.


def _go_ip_string(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return str(ip)


def _strict_ip_ok(text: str) -> bool:
    """``netip.ParseAddr`` accepts it (no leading zeros) and it is not IPv4-mapped IPv6."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return False
    return not (addr.version == 6 and addr.ipv4_mapped is not None)


def ip_warnings(path: str, value: Any) -> list[str]:
    """``GetWarningsForIP``: the warning the API server returns for a non-standard IP."""
    ip = parse_ip(value)
    if ip is None:
        return []
    text = str(value)
    if not _strict_ip_ok(text):
        return [f'{path}: non-standard IP address "{text}" will be considered invalid in a future '
                f'Kubernetes release: use "{_go_ip_string(ip)}"']
    addr = ipaddress.ip_address(text)
    if addr.version == 6 and str(addr) != text:
        return [f'{path}: IPv6 address "{text}" should be in RFC 5952 canonical format ("{addr}")']
    return []


def _sloppy_cidr(text: str) -> tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, Any, int] | None:
    """``ParseCIDRSloppy``: (the address, the network, the address length in bits), or None."""
    if not isinstance(text, str) or not _valid_cidr(text):
        return None
    addr_text, bits = text.split("/")
    ip = parse_ip(addr_text)
    if ip is None:
        return None
    prefix = int(bits)
    if ":" in addr_text:  # an IPv6 form (an IPv4-mapped one counts as IPv4 with prefix - 96)
        if ip.version == 4:
            if prefix < 96:
                return None
            return ip, ipaddress.ip_network(f"{ip}/{prefix - 96}", strict=False), 32
        return ip, ipaddress.ip_network(f"{ip}/{prefix}", strict=False), 128
    return ip, ipaddress.ip_network(f"{ip}/{prefix}", strict=False), 32


def cidr_warnings(path: str, value: Any) -> list[str]:
    """``GetWarningsForCIDR``: ambiguous (host bits set) and non-standard CIDR values."""
    parsed = _sloppy_cidr(value) if isinstance(value, str) else None
    if parsed is None:
        return []
    ip, net, addrlen = parsed
    text = str(value)
    out = []
    if ip != net.network_address:
        out.append(f'{path}: CIDR value "{text}" is ambiguous in this context (should be "{net}" or "{ip}/{addrlen}"?)')
    addr_text, bits = text.split("/")
    if not _strict_ip_ok(addr_text) or (len(bits) > 1 and bits[0] == "0"):
        out.append(f'{path}: non-standard CIDR value "{text}" will be considered invalid in a future '
                   f'Kubernetes release: use "{net}"')
    elif ip.version == 6:
        canonical = f"{ipaddress.ip_address(addr_text)}/{int(bits)}"
        if not out and canonical != text:
            out.append(f'{path}: IPv6 CIDR value "{text}" should be in RFC 5952 canonical format ("{canonical}")')
    return out


def legacy_ip_errors(path: str, value: Any, strict: bool = False) -> list[FieldError]:
    """``IsValidIPForLegacyField``: lenient, or with StrictIPCIDRValidation (``strict``) refusing
    leading zeros and IPv4-mapped IPv6 addresses."""
    if parse_ip(value) is None:
        return [FieldError(path, INVALID, value, _IP_MESSAGE)]
    if strict:
        text = str(value)
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return [FieldError(path, INVALID, text, "must not have leading 0s")]
        if addr.version == 6 and addr.ipv4_mapped is not None:
            return [FieldError(path, INVALID, text, "must not be an IPv4-mapped IPv6 address")]
    return []


def legacy_cidr_errors(path: str, value: Any, strict: bool = False) -> list[FieldError]:
    """``IsValidCIDRForLegacyField``: lenient, or strict (StrictIPCIDRValidation)."""
    parsed = _sloppy_cidr(value) if isinstance(value, str) else None
    if parsed is None:
        return [FieldError(path, INVALID, value, _CIDR_MESSAGE)]
    if strict:
        ip, net, _ = parsed
        addr_text, bits = str(value).split("/")
        try:
            addr = ipaddress.ip_address(addr_text)
        except ValueError:
            return [FieldError(path, INVALID, value, "must not have leading 0s in IP")]
        if addr.version == 6 and addr.ipv4_mapped is not None:
            return [FieldError(path, INVALID, value, "must not have an IPv4-mapped IPv6 address")]
        if len(bits) > 1 and bits[0] == "0":
            return [FieldError(path, INVALID, value, "must not have leading 0s")]
        if ip != net.network_address:
            return [FieldError(path, INVALID, value, "must not have bits set beyond the prefix length")]
    return []


def service_address_warnings(svc: Mapping[str, Any]) -> list[str]:
    """The IP and CIDR warnings of ``GetWarningsForService`` (pkg/api/service/warnings.go), in its
    order: clusterIPs, externalIPs, loadBalancerIP, loadBalancerSourceRanges."""
    spec = svc.get("spec") if isinstance(svc, Mapping) else None
    if not isinstance(spec, Mapping):
        return []
    out: list[str] = []
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    if isinstance(ips, list) and ips and ips[0] not in ("None", ""):
        for i, ip in enumerate(ips):
            out += ip_warnings(f"spec.clusterIPs[{i}]", ip)
    for i, ip in enumerate(_l(spec.get("externalIPs"))):
        out += ip_warnings(f"spec.externalIPs[{i}]", ip)
    if spec.get("loadBalancerIP"):
        out += ip_warnings("spec.loadBalancerIP", spec["loadBalancerIP"])
    for i, cidr in enumerate(_l(spec.get("loadBalancerSourceRanges"))):
        out += cidr_warnings(f"spec.loadBalancerSourceRanges[{i}]", cidr)
    return out


#: ``GetWarningsForService``'s deprecation of the original value (pkg/api/service/warnings.go,
#: added with PreferSameTrafficDistribution's GA, PR #134457, v1.35).
PREFER_CLOSE_WARNING = 'spec.trafficDistribution: "PreferClose" is deprecated; use "PreferSameZone"'


def service_warnings(svc: Mapping[str, Any], minor: int = DEFAULT_MINOR) -> list[str]:
    """The warnings ``kubectl apply`` prints for a Service on release 1.``minor``, in
    ``GetWarningsForService``'s order: the address warnings (:func:`service_address_warnings`),
    then, from v1.35, ``trafficDistribution: PreferClose`` is deprecated in favour of
    ``PreferSameZone`` (same meaning, explicit name)."""
    out = service_address_warnings(svc)
    spec = svc.get("spec") if isinstance(svc, Mapping) else None
    if minor >= 35 and isinstance(spec, Mapping) and spec.get("trafficDistribution") == "PreferClose":
        out.append(PREFER_CLOSE_WARNING)
    return out


DEPRECATED_TOPOLOGY_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"


def object_warnings(obj: Mapping[str, Any], minor: int = DEFAULT_MINOR) -> list[str]:
    """The warnings the API server of release 1.``minor`` sends back with an accepted create or
    update (``WarningsOnCreate``; kubectl prints each as ``Warning: <text>`` on stderr).  Services:
    ``GetWarningsForService``'s deprecated-annotation warning, then :func:`service_warnings`."""
    if obj.get("kind") != "Service":
        return []
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    out = []
    if isinstance(annotations, Mapping) and DEPRECATED_TOPOLOGY_HINTS_ANNOTATION in annotations:
        out.append(f"annotation {DEPRECATED_TOPOLOGY_HINTS_ANNOTATION} is deprecated, please use "
                   "service.kubernetes.io/topology-mode instead")
    return out + service_warnings(obj, minor)
