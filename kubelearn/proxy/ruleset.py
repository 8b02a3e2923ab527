"""The rendered rules as data: tables, chains and rules with their match and target parts.

kube-proxy writes text (``iptables-restore`` input, an ``nft -f`` transaction, IPVS netlink
calls).  kubelearn keeps the same rules as structured data, so that the text a learner reads
and the tracer that follows a packet (:mod:`kubelearn.proxy.walk`) are two views of *one*
ruleset: every rule the tracer evaluates is a rule printed in the text.

An iptables rule is a chain, an ordered tuple of *matches* and a *target*.  Matches are
tuples whose first item names the kind (``("d", "172.30.0.41", False)`` is ``-d
172.30.0.41``; ``("statistic", "0.5000000000", Fraction(1, 2))`` is ``-m statistic --mode
random --probability 0.5000000000``).  Two renderers turn them into text: the *restore*
form kube-proxy writes and the *save* form ``iptables-save`` prints after the kernel has
stored the rule (addresses first with ``/32``, ``-p`` before the modules, ``--set-xmark``,
probabilities quantised to 1/2^31, ``--mask 255.255.255.255 --rsource`` on ``recent``).

Every value that reaches the text is checked first (:func:`check_service_port`,
:func:`check_settings`): ``iptables-restore`` and ``nft -f`` read their input as a language,
so a newline or a quote inside an address or a name would add rules (or ``include`` a file)
of its author's choosing, run by root.  Validation refuses such values with the API
server's words; these checks are the second gate for clusters built through the Python
API, which skips validation.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..apiserver.validation import _valid_cidr, parse_ip
from ..errors import UnsafeValueError

if TYPE_CHECKING:  # pragma: no cover
    from .endpoints import ServicePort

__all__ = ["Rule", "check_objects", "check_service_port", "check_settings", "checked_service_ports", "gc_paused", "render_restore", "render_save",
           "save_probability", "save_string"]

# ------------------------------------------------------------------ the last gate
# Names as the API server allows them (DNS-1123 subdomains, labels for ports); what matters
# here is the character set: no space, quote, newline, ";" or "#" can reach a rules file.
_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_PORT_NAME = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
_SCHEDULER = re.compile(r"[a-z]{1,16}")
_MARK = re.compile(r"0x[0-9a-f]{1,8}")
PROTOCOLS = ("TCP", "UDP", "SCTP")


_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_CANONICAL_V4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}")  # the common case, one C call
_IP_CHARS = frozenset("0123456789abcdefABCDEF.:")


def _is_ip_token(value: Any) -> bool:
    # An address as the API server accepts it, and nothing but address characters.
    if not isinstance(value, str):
        return False
    if _CANONICAL_V4.fullmatch(value):
        return True
    return parse_ip(value) is not None and _IP_CHARS.issuperset(value)


def _is_cidr_token(value: Any) -> bool:
    return (isinstance(value, str) and _valid_cidr(value)
            and all(c in "0123456789abcdefABCDEF.:/" for c in value))


def _is_int(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def check_service_port(sp: ServicePort) -> None:
    """Refuse a service port whose names, addresses or numbers are not well-formed tokens.

    Raises:
        UnsafeValueError: naming the Service, the field and the value.
    """
    owner = f"Service {sp.namespace}/{sp.name}" if isinstance(sp.namespace, str) else "a Service"
    checks: list[tuple[str, Any, bool, str]] = [
        ("metadata.namespace", sp.namespace, isinstance(sp.namespace, str) and bool(_NAME.fullmatch(sp.namespace)),
         "a DNS-1123 name"),
        ("metadata.name", sp.name, isinstance(sp.name, str) and bool(_NAME.fullmatch(sp.name)), "a DNS-1123 name"),
        ("spec.ports[].name", sp.port_name,
         sp.port_name == "" or (isinstance(sp.port_name, str) and bool(_PORT_NAME.fullmatch(sp.port_name))),
         "a port name (DNS-1123 label)"),
        ("spec.ports[].protocol", sp.protocol, sp.protocol in PROTOCOLS, "TCP, UDP or SCTP"),
        ("spec.ports[].port", sp.port, _is_int(sp.port, 1, 65535), "a port number"),
        ("spec.ports[].nodePort", sp.node_port, _is_int(sp.node_port, 0, 65535), "a port number"),
        ("spec.healthCheckNodePort", sp.health_check_node_port, _is_int(sp.health_check_node_port, 0, 65535),
         "a port number"),
        ("spec.clusterIP", sp.cluster_ip, _is_ip_token(sp.cluster_ip), "an IP address"),
    ]
    checks += [("spec.externalIPs[]", ip, _is_ip_token(ip), "an IP address") for ip in sp.external_ips]
    checks += [("status.loadBalancer.ingress[].ip", ip, _is_ip_token(ip), "an IP address") for ip in sp.lb_ips]
    checks += [("spec.loadBalancerSourceRanges[]", r, _is_cidr_token(r), "a CIDR") for r in sp.source_ranges]
    if sp.affinity_timeout is not None:
        checks.append(("spec.sessionAffinityConfig.clientIP.timeoutSeconds", sp.affinity_timeout,
                       _is_int(sp.affinity_timeout, 0, 2**31 - 1), "a number of seconds"))
    for what, value, ok, expected in checks:
        if not ok:
            raise UnsafeValueError(owner, what, value, expected)
    # Endpoints are the bulk of a big ruleset: checked in a tight loop, explained when one fails.
    for e in sp.endpoints:
        if not _is_ip_token(e.ip):
            raise UnsafeValueError(owner, "EndpointSlice endpoints[].addresses[]", e.ip, "an IP address")
        if not _is_int(e.port, 1, 65535):
            raise UnsafeValueError(owner, "EndpointSlice ports[].port", e.port, "a port number")


def _int_or_absent(value: Any) -> bool:
    return value is None or (isinstance(value, int) and not isinstance(value, bool))


def check_objects(cluster: Any) -> None:
    """Refuse Services and EndpointSlices whose number fields are not integers.

    Validation (the schema's strict decoding) refuses those on apply; a cluster built with
    ``Cluster.with_object`` skips it, and kube-proxy's model would otherwise fail on them
    with a bare ``int()`` error.

    Raises:
        UnsafeValueError: naming the object, the field and the value.
    """
    for (kind, ns, name), obj in cluster.objects.items():
        if kind not in ("Service", "EndpointSlice"):
            continue
        owner = f"{kind} {ns}/{name}"
        if kind == "Service":
            spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
            fields = [("spec.healthCheckNodePort", spec.get("healthCheckNodePort")),
                      ("spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                       ((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds")
                       if isinstance(spec.get("sessionAffinityConfig"), dict) else None)]
            ports = spec.get("ports") or []
            for i, p in enumerate(ports if isinstance(ports, list) else [ports]):
                if not isinstance(p, dict):
                    raise UnsafeValueError(owner, f"spec.ports[{i}]", p, "an object")
                fields += [(f"spec.ports[{i}].port", p.get("port")), (f"spec.ports[{i}].nodePort", p.get("nodePort"))]
        else:
            ports = obj.get("ports") or []
            fields = [(f"ports[{i}].port", p.get("port") if isinstance(p, dict) else p)
                      for i, p in enumerate(ports if isinstance(ports, list) else [ports])]
        for path, value in fields:
            if not _int_or_absent(value):
                raise UnsafeValueError(owner, path, value, "an integer")


def checked_service_ports(cluster: Any) -> list[ServicePort]:
    """:func:`~kubelearn.proxy.endpoints.service_ports`, every one checked by :func:`check_service_port`.

    Raises:
        UnsafeValueError: a value that is not a well-formed token, or objects whose shape
            kube-proxy's model cannot read at all (possible only without validation).
    """
    from .endpoints import service_ports

    check_objects(cluster)
    try:
        ports = service_ports(cluster)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise UnsafeValueError("the cluster's Services and EndpointSlices", "a field", f"{type(exc).__name__}: {exc}",
                               "of the shape the API defines (was the cluster built without validation?)") from None
    for sp in ports:
        check_service_port(sp)
    return ports


def check_settings(st: dict[str, Any]) -> None:
    """Refuse node and KubeProxyConfiguration values that are not well-formed tokens.

    Raises:
        UnsafeValueError: e.g. a Node whose InternalIP is not an IP address.
    """
    owner = f'node "{st.get("node")}"'
    if not _is_ip_token(st.get("node_ip")):
        raise UnsafeValueError(owner, "status.addresses InternalIP", st.get("node_ip"), "an IP address")
    if st.get("local_cidr") and not _is_cidr_token(st["local_cidr"]):
        raise UnsafeValueError(owner, "the local traffic CIDR (clusterCIDR or spec.podCIDR)", st["local_cidr"], "a CIDR")
    if not (isinstance(st.get("mark"), str) and _MARK.fullmatch(st["mark"])):
        raise UnsafeValueError(owner, "the masquerade mark (iptables.masqueradeBit, or nftables.masqueradeBit in nftables mode)", st.get("mark"), "a 32-bit mark")
    for a in st.get("node_addresses") or []:
        if not _is_ip_token(a):
            raise UnsafeValueError(owner, "status.addresses", a, "an IP address")
    for a in st.get("nodeport_addresses") or []:
        if a != "primary" and not _is_cidr_token(a):
            raise UnsafeValueError(owner, "nodePortAddresses[]", a, 'a CIDR or "primary"')
    if "scheduler" in st and not (isinstance(st["scheduler"], str) and _SCHEDULER.fullmatch(st["scheduler"])):
        raise UnsafeValueError(owner, "ipvs.scheduler", st["scheduler"], "an IPVS scheduler name")


def check_cidr(owner: str, what: str, value: Any) -> str:
    """``value`` when it is a well-formed CIDR token, else :class:`UnsafeValueError`."""
    if not _is_cidr_token(value):
        raise UnsafeValueError(owner, what, value, "a CIDR")
    return str(value)


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a big ruleset is built.

    A 10,000-service ruleset allocates millions of small tuples that can never form cycles;
    letting the collector scan them again and again more than doubles the build time.
    Nothing is frozen for good: see the comment at the end.
    """
    was_enabled = gc.isenabled()
    # Someone else's frozen objects (gc.freeze() before a fork) must stay frozen.
    may_refreeze = gc.get_freeze_count() == 0
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            # Hand the new objects straight to the oldest generation (freeze, then unfreeze
            # into generation 2) instead of letting the first young collection after
            # gc.enable() scan all of them: that scan cost a quarter of a big build.  They
            # stay collectable; the next full collection sees them as usual.
            if may_refreeze:
                gc.freeze()
                gc.unfreeze()
            gc.enable()

Match = tuple[Any, ...]
Target = tuple[Any, ...]


def _quote(text: str) -> str:
    # The restore view: kube-proxy writes the comments that contain spaces in quotes.
    return f'"{text}"' if (" " in text or not text) else text


_SAVE_PLAIN = frozenset("_-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def save_string(value: str) -> str:
    """A string argument as ``iptables-save`` prints it (libxtables' ``xtables_save_string``).

    Bare when it is non-empty and every character is a letter, digit, ``_`` or ``-``;
    otherwise in double quotes, with ``"``, ``\\`` and ``'`` escaped by a backslash.
    Checked against iptables-save v1.8.9, nft and legacy back ends alike.

    >>> print(save_string("kube-dns"), save_string("default/my-service"), save_string('say "hi"'))
    kube-dns "default/my-service" "say \\"hi\\""
    """
    if value and all(c in _SAVE_PLAIN for c in value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return f'"{escaped}"'


def save_probability(p: str) -> str:
    """What ``iptables-save`` prints for ``--probability p``: round(2^31·p)/2^31, 11 decimals.

    >>> save_probability("0.3333333333")
    '0.33333333349'
    """
    stored = round(float(p) * 2**31)
    return f"{stored / 2**31:.11f}"


class Rule:
    """One iptables rule: ``-A <chain> <matches> <target>``."""

    __slots__ = ("chain", "matches", "target", "owner", "_text")

    def __init__(self, chain: str, matches: tuple[Match, ...], target: Target | None,
                 owner: tuple[str, str] | None = None, text: str | None = None):
        self.chain = chain
        self.matches = matches
        self.target = target
        self.owner = owner  # ("namespace/name", portName) of the service port it serves
        # Hot paths pass the restore text they already built; it must equal render_restore(self).
        self._text = text

    @property
    def text(self) -> str:
        """The rule as kube-proxy writes it for ``iptables-restore``."""
        if self._text is None:
            self._text = render_restore(self)
        return self._text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Rule({self.text!r})"


def _match_restore(m: Match) -> str:
    k = m[0]
    if k == "comment":
        return f"-m comment --comment {_quote(m[1])}"
    if k == "proto":
        return f"-m {m[1]} -p {m[1]}"
    if k in ("s", "d"):
        return f"{'! ' if m[2] else ''}-{k} {m[1]}"
    if k == "dport":
        return f"--dport {m[1]}"
    if k == "addrtype":
        return f"-m addrtype --{m[1]}-type {m[2]}"
    if k == "mark":
        return f"-m mark {'! ' if m[2] else ''}--mark {m[1]}"
    if k == "statistic":
        return f"-m statistic --mode random --probability {m[1]}"
    if k == "rcheck":
        return f"-m recent --name {m[1]} --rcheck --seconds {m[2]} --reap"
    if k == "rset":
        return f"-m recent --name {m[1]} --set"
    if k == "ctstate":
        return f"-m conntrack {'! ' if m[2] else ''}--ctstate {m[1]}"
    if k == "set":
        return f"-m set {'! ' if m[3] else ''}--match-set {m[1]} {m[2]}"
    if k == "p":
        return f"-p {m[1]}"
    if k == "ipvs":
        return f"-m ipvs --vaddr {m[1]} --vproto {m[2]} --vport {m[3]}"
    raise ValueError(f"unknown match {m!r}")  # pragma: no cover - programming error


def _target_restore(t: Target | None) -> str:
    if t is None:
        return ""
    k = t[0]
    if k == "jump":
        return f"-j {t[1]}"
    if k == "goto":
        return f"-g {t[1]}"
    if k == "DNAT":
        return f"-j DNAT --to-destination {t[1]}"
    if k == "MARK-OR":
        return f"-j MARK --or-mark {t[1]}"
    if k == "MARK-XOR":
        return f"-j MARK --xor-mark {t[1]}"
    if k == "MASQUERADE":
        return "-j MASQUERADE --random-fully" if t[1] else "-j MASQUERADE"
    return f"-j {k}"


def render_restore(rule: Rule) -> str:
    """``-A CHAIN ...`` exactly as kube-proxy writes it."""
    parts = [f"-A {rule.chain}"]
    parts.extend(_match_restore(m) for m in rule.matches)
    t = _target_restore(rule.target)
    if t:
        parts.append(t)
    return " ".join(parts)


def _cidr(addr: str) -> str:
    return addr if "/" in addr else addr + "/32"


def render_save(rule: Rule) -> str:
    """The rule as ``iptables-save`` prints it once the kernel holds it."""
    head = [f"-A {rule.chain}"]
    src = [m for m in rule.matches if m[0] == "s"]
    dst = [m for m in rule.matches if m[0] == "d"]
    for m in src + dst:
        head.append(f"{'! ' if m[2] else ''}-{m[0]} {_cidr(m[1])}")
    proto = next((m[1] for m in rule.matches if m[0] in ("proto", "p")), None)
    if proto:
        head.append(f"-p {proto}")
    body: list[str] = []
    for m in rule.matches:
        k = m[0]
        if k in ("s", "d", "p"):
            continue
        if k == "proto":
            dport = next((x[1] for x in rule.matches if x[0] == "dport"), None)
            body.append(f"-m {m[1]}" + (f" --dport {dport}" if dport is not None else ""))
        elif k == "dport":
            continue
        elif k == "comment":
            # xtables_save_string: quoted unless only [A-Za-z0-9_-] (every SPN has a "/").
            body.append(f"-m comment --comment {save_string(m[1])}")
        elif k == "statistic":
            body.append(f"-m statistic --mode random --probability {save_probability(m[1])}")
        elif k == "rcheck":
            body.append(f"-m recent --rcheck --seconds {m[2]} --reap --name {m[1]} --mask 255.255.255.255 --rsource")
        elif k == "rset":
            body.append(f"-m recent --set --name {m[1]} --mask 255.255.255.255 --rsource")
        else:
            body.append(_match_restore(m))
    t = rule.target
    if t is None:
        tail = ""
    elif t[0] == "MARK-OR":
        tail = f"-j MARK --set-xmark {t[1]}/{t[1]}"
    elif t[0] == "MARK-XOR":
        tail = f"-j MARK --set-xmark {t[1]}/0x0"
    elif t[0] == "REJECT":
        tail = "-j REJECT --reject-with icmp-port-unreachable"
    else:
        tail = _target_restore(t)
    return " ".join(head + body + ([tail] if tail else []))


def probability_match(n_remaining: int, cache: dict[int, Match]) -> Match:
    """``-m statistic`` for 1/n_remaining: ``%0.10f`` text plus the exact fraction."""
    m = cache.get(n_remaining)
    if m is None:
        m = ("statistic", f"{1.0 / n_remaining:0.10f}", Fraction(1, n_remaining))
        cache[n_remaining] = m
    return m


def chain_lines(table: str, chains: Iterable[str], builtins: dict[str, str] | None = None) -> list[str]:
    """``*table`` and the ``:CHAIN POLICY [0:0]`` declarations."""
    lines = [f"*{table}"]
    for name, policy in (builtins or {}).items():
        lines.append(f":{name} {policy} [0:0]")
    lines.extend(f":{c} - [0:0]" for c in chains)
    return lines
