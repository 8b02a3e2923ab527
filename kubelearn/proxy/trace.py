"""Follow one new connection through a node's kube-proxy rules, rule by rule.

The kernel decides where a packet enters: a packet the node itself sends (its source is
one of the node's addresses) meets the ``nat OUTPUT`` hook, anything arriving from a pod or
the network meets ``nat PREROUTING``.  Both jump to ``KUBE-SERVICES``, which is matched rule
by rule; ``-m statistic`` rules split the walk into branches with their probabilities,
``-m recent --rcheck`` finds no entry (this is the first connection), ``KUBE-MARK-MASQ``
sets the 0x4000 mark and ``DNAT`` ends the nat walk.  After routing the filter table
decides (``INPUT`` for a local destination, ``FORWARD`` otherwise, ``OUTPUT`` for the node's
own packets): REJECT for services without endpoints, DROP for Local policies without local
endpoints and for loadBalancerSourceRanges.  Finally ``nat POSTROUTING`` masquerades marked
packets: the endpoint then sees the node's address instead of the client's.

The tracer interprets the :class:`~kubelearn.proxy.ruleset.Rule` objects that the text
views print, so what it reports is what the printed rules do.  The same happens for
nftables (verdict maps, ``numgen``) and IPVS (virtual server lookup, plus the iptables and
ipset entries that decide masquerading).  ``rules_walked`` counts the rules a first packet
evaluates (expected value over the random branches), which shows iptables' O(services)
against nftables' O(1).

``Trace.masquerade`` is True only when *every* destination is masqueraded, so it answers "does
the endpoint always see the node's address instead of mine?".  A pod dialling a ClusterIP is
not masqueraded (kube-proxy's flow table), except on the one branch where it lands on itself:
that endpoint's ``KUBE-SEP`` hairpin rule marks it.  That branch shows in its own
:class:`Destination` (``masquerade=True``) and in the text ("masqueraded only if it lands on
itself (hairpin)"), not in the summary.

Simplification: when a packet is masqueraded, MASQUERADE picks the address of the interface
the packet leaves by; kubelearn reports ``masquerade=True`` and the simulator uses the entry
node's InternalIP, which is the usual answer on a single-NIC node such as a kind node.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, replace
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..errors import KubelearnError

__all__ = ["Destination", "Step", "Trace", "TraceError", "trace_iptables"]


class TraceError(KubelearnError, ValueError):
    """A trace request kubelearn cannot answer (bad address, unknown protocol)."""


@dataclass(frozen=True)
class Destination:
    """One endpoint a new connection can reach, with its probability."""

    endpoint: str  # "IP:PORT"
    probability: float
    chain: str  # the chain that DNATed (KUBE-SEP-…, endpoint-…, or the IPVS virtual server)
    masquerade: bool = False  # this branch was SNATed (hairpin makes it depend on the endpoint)


@dataclass(frozen=True)
class Step:
    """One rule the packet was checked against."""

    table: str
    chain: str
    rule: str
    matched: bool
    probability: float | None = None  # the branch probability of a -m statistic / numgen rule


@dataclass(frozen=True)
class Trace:
    """Where a new connection goes, and why (see :func:`kubelearn.proxy.trace`).

    ``masquerade`` is True only when every destination is masqueraded (for a trace without
    destinations: when the packet was masqueraded at all); per-branch masquerading, such as a
    pod's hairpin to itself, is in each :class:`Destination`'s ``masquerade``.
    """

    verdict: str  # "DNAT" | "REJECT" | "DROP" | "NONE"
    destinations: tuple[Destination, ...]
    masquerade: bool
    service: str | None
    port_name: str | None
    hook: str  # "PREROUTING" | "OUTPUT"
    steps: tuple[Step, ...]
    rules_walked: int
    affinity_timeout: int | None = None
    scheduler: str | None = None
    mode: str = "iptables"
    src: str = ""
    dst: str = ""
    protocol: str = "TCP"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the CLI's ``-o json``)."""
        return {
            "mode": self.mode,
            "src": self.src,
            "dst": self.dst,
            "protocol": self.protocol,
            "hook": self.hook,
            "verdict": self.verdict,
            "service": self.service,
            "portName": self.port_name,
            "destinations": [
                {"endpoint": d.endpoint, "probability": d.probability, "chain": d.chain, "masquerade": d.masquerade}
                for d in self.destinations
            ],
            "masquerade": self.masquerade,
            "affinityTimeoutSeconds": self.affinity_timeout,
            "scheduler": self.scheduler,
            "rulesWalked": self.rules_walked,
            "steps": [
                {"table": s.table, "chain": s.chain, "rule": s.rule, "matched": s.matched,
                 **({"probability": s.probability} if s.probability is not None else {})}
                for s in self.steps
            ],
        }

    def __str__(self) -> str:
        lines = [f"{self.protocol} {self.src} -> {self.dst} ({self.mode}, enters at {self.hook})"]
        svc = f"{self.service}" + (f":{self.port_name}" if self.port_name else "") if self.service else "no service"
        lines.append(f"verdict: {self.verdict}  service: {svc}  rules walked: {self.rules_walked}")
        for d in self.destinations:
            lines.append(f"  -> {d.endpoint:<22} p={d.probability:.4f}  via {d.chain}"
                         + ("  (masqueraded)" if d.masquerade else ""))
        if self.destinations:
            lines.append(f"  source: {self.masquerade_summary()}")
        if self.affinity_timeout is not None:
            lines.append(f"  ClientIP affinity: later connections stick for {self.affinity_timeout}s")
        if self.scheduler:
            lines.append(f"  IPVS scheduler: {self.scheduler}")
        lines.append("matched rules:")
        for s in self.steps:
            if s.matched:
                # iptables rule text names its chain (-A CHAIN); nft and IPVS text does not.
                where = s.table if s.rule.startswith("-A ") else f"{s.table}: {s.chain}"
                lines.append(f"  [{where}] {s.rule}")
        return "\n".join(lines)

    def masquerade_summary(self) -> str:
        """One phrase on whether the endpoint sees the client's own address, over all destinations."""
        masq = [d for d in self.destinations if d.masquerade]
        if not masq:
            return "not masqueraded (the endpoint sees the client's address)"
        if len(masq) == len(self.destinations):
            return "masqueraded (the endpoint sees the node's address)"
        if all(d.endpoint.rsplit(":", 1)[0] == self.src for d in masq):
            return "masqueraded only if it lands on itself (hairpin)"
        return "masqueraded on some branches only (see each destination)"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


@lru_cache(maxsize=65536)
def _net(cidr: str) -> Any:
    return ipaddress.ip_network(cidr, strict=False)


def in_net(ip: Any, cidr: str) -> bool:
    """Whether ``ip`` (an ip_address) lies in ``cidr`` (an address or a CIDR)."""
    return ip in _net(cidr)


@dataclass(frozen=True)
class Packet:
    """The packet as the rules see it at one point of one branch."""

    src: Any  # ipaddress.IPv4Address
    dst: Any
    dport: int
    proto: str  # lower case
    prob: Fraction = Fraction(1)
    mark: bool = False
    dnat: str | None = None  # "IP:PORT" once DNATed
    dnat_chain: str = ""
    masq: bool = False
    affinity_seen: int | None = None
    affinity: int | None = None
    owner: tuple[str, str] | None = None

    def dnatted(self, target: str, chain: str) -> Packet:
        ip, port = target.rsplit(":", 1)
        return replace(self, dst=ipaddress.ip_address(ip.strip("[]")), dport=int(port), dnat=target,
                       dnat_chain=chain)


class Walker:
    """Shared bookkeeping: the steps, the expected number of rules walked."""

    def __init__(self, local: frozenset[Any]):
        self.local = local
        self.steps: list[Step] = []
        self.walked = Fraction(0)

    def is_local(self, ip: Any) -> bool:
        return ip in self.local or ip.is_loopback

    def record(self, table: str, chain: str, text: str, matched: bool, pk: Packet, p: Fraction | None = None) -> None:
        self.steps.append(Step(table, chain, text, matched, None if p is None else float(p)))
        self.walked += pk.prob


# --------------------------------------------------------------------- iptables
class IptablesWalker(Walker):
    """Interprets an :class:`~kubelearn.proxy.iptables.IptablesRuleset`."""

    def __init__(self, rs: Any, local: frozenset[Any]):
        super().__init__(local)
        self.rs = rs

    def matches(self, r: Any, pk: Packet) -> tuple[bool, Fraction | None, Packet]:
        prob = None
        for m in r.matches:
            k = m[0]
            if k == "comment":
                continue
            if k == "proto" or k == "p":
                if pk.proto != m[1]:
                    return False, None, pk
            elif k == "d":
                if in_net(pk.dst, m[1]) == m[2]:
                    return False, None, pk
            elif k == "s":
                if in_net(pk.src, m[1]) == m[2]:
                    return False, None, pk
            elif k == "dport":
                if pk.dport != int(m[1]):
                    return False, None, pk
            elif k == "addrtype":
                ip = pk.dst if m[1] == "dst" else pk.src
                if not self.is_local(ip):
                    return False, None, pk
            elif k == "mark":
                if pk.mark == m[2]:
                    return False, None, pk
            elif k == "statistic":
                prob = m[2]
            elif k == "rcheck":
                # A first connection finds no entry in the recent list yet.
                pk = replace(pk, affinity_seen=int(m[2]))
                return False, None, pk
            elif k == "rset":
                pk = replace(pk, affinity=pk.affinity_seen if pk.affinity_seen is not None else -1)
            elif k == "ctstate":
                states = {"NEW"} | ({"DNAT"} if pk.dnat else set())
                hit = bool(states & set(m[1].split(",")))
                if hit == m[2]:
                    return False, None, pk
            elif k == "set":
                if self.in_set(m[1], m[2], pk) == m[3]:
                    return False, None, pk
            elif k == "ipvs":  # -m ipvs --vaddr --vproto --vport: a packet IPVS will take
                if (str(pk.dst), pk.proto, pk.dport) != (m[1], m[2], int(m[3])):
                    return False, None, pk
            else:  # pragma: no cover - every match kind the builders emit is handled above
                raise TraceError(f"cannot evaluate match {m!r}")
        return True, prob, pk

    def in_set(self, name: str, flags: str, pk: Packet) -> bool:
        entries = self.rs.ipsets.get(name, set())
        parts = flags.split(",")
        key: list[Any] = []
        for i, f in enumerate(parts):
            if i == 0:
                key.append(str(pk.dst if f == "dst" else pk.src))
            elif i == 1:
                key.append(f"{pk.proto}:{pk.dport}")
            else:
                key.append(str(pk.dst if f == "dst" else pk.src))
        if len(parts) == 1:  # bitmap:port sets hold ports, hash:ip sets (KUBE-IPVS-IPS) addresses
            return f"{pk.dport}" in entries or tuple(key) in entries
        return tuple(key) in entries

    def walk(self, table: str, chain: str, idx: int, pk: Packet) -> list[tuple[Packet, str | None]]:
        rules = self.rs.tables[table].get(chain, [])
        for i in range(idx, len(rules)):
            r = rules[i]
            ok, p, pk = self.matches(r, pk)
            if not ok:
                self.record(table, chain, r.text, False, pk)
                continue
            if r.owner and pk.owner is None:
                pk = replace(pk, owner=r.owner)
            if p is not None:
                self.record(table, chain, r.text, True, pk, p)
                hit = replace(pk, prob=pk.prob * p)
                miss = replace(pk, prob=pk.prob * (1 - p))
                return self.target(table, chain, i, r, hit) + self.walk(table, chain, i + 1, miss)
            self.record(table, chain, r.text, True, pk)
            return self.target(table, chain, i, r, pk)
        return [(pk, None)]

    def target(self, table: str, chain: str, i: int, r: Any, pk: Packet) -> list[tuple[Packet, str | None]]:
        t = r.target
        if t is None:
            return self.walk(table, chain, i + 1, pk)
        k = t[0]
        if k == "jump":
            out: list[tuple[Packet, str | None]] = []
            for sub, verdict in self.walk(table, t[1], 0, pk):
                out.extend(self.walk(table, chain, i + 1, sub) if verdict is None else [(sub, verdict)])
            return out
        if k == "goto":
            return self.walk(table, t[1], 0, pk)
        if k == "RETURN":
            return [(pk, None)]
        if k == "MARK-OR":
            return self.walk(table, chain, i + 1, replace(pk, mark=True))
        if k == "MARK-XOR":
            return self.walk(table, chain, i + 1, replace(pk, mark=not pk.mark))
        if k == "DNAT":
            return [(pk.dnatted(t[1], chain), "ACCEPT")]
        if k == "MASQUERADE":
            return [(replace(pk, masq=True), "ACCEPT")]
        return [(pk, k)]

    def hook(self, table: str, chain: str, pk: Packet) -> list[tuple[Packet, str]]:
        return [(p, v or "ACCEPT") for p, v in self.walk(table, chain, 0, pk)]


def node_locals(node_ips: list[str]) -> frozenset[Any]:
    """The node's own addresses (``--dst-type LOCAL``), besides 127.0.0.0/8."""
    return frozenset(ipaddress.ip_address(a) for a in node_ips)


def parse_ip(text: str, what: str) -> Any:
    """An IPv4 address, or a TraceError naming the bad value."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        raise TraceError(f'invalid {what} "{text}": must be an IPv4 address') from None
    if ip.version != 4:
        raise TraceError(f'invalid {what} "{text}": kubelearn models IPv4 only')
    return ip


def parse_dst(dst: str) -> tuple[Any, int]:
    """``IP:PORT`` → (address, port) with a clear error otherwise."""
    ip, sep, port = dst.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise TraceError(f'invalid destination "{dst}": expected IP:PORT, e.g. 10.96.0.10:53')
    return parse_ip(ip, "destination address"), int(port)


def finish(walker: Walker, results: list[tuple[Packet, str]], *, mode: str, hook: str, src: str, dst: str,
           protocol: str, scheduler: str | None = None) -> Trace:
    """Fold the branch outcomes into one :class:`Trace`."""
    dnat = [(p, v) for p, v in results if p.dnat and v == "ACCEPT"]
    owner = next((p.owner for p, _ in results if p.owner), None)
    if dnat:
        merged: dict[tuple[str, str, bool], Fraction] = {}
        for p, _ in dnat:
            key = (p.dnat or "", p.dnat_chain, p.masq)
            merged[key] = merged.get(key, Fraction(0)) + p.prob
        dests = tuple(Destination(e, float(pr), c, m) for (e, c, m), pr in merged.items())
        verdict = "DNAT"
        # Honest summary: masqueraded only if every branch is (a hairpin branch is not the rule).
        masq = all(d.masquerade for d in dests)
        aff = next((p.affinity for p, _ in dnat if p.affinity is not None), None)
    else:
        dests = ()
        verdicts = [v for _, v in results]
        verdict = next((v for v in ("REJECT", "DROP") if v in verdicts), "NONE")
        masq = any(p.masq for p, _ in results)
        aff = None
    return Trace(
        verdict=verdict, destinations=dests, masquerade=masq,
        service=owner[0] if owner else None, port_name=owner[1] if owner else None,
        hook=hook, steps=tuple(walker.steps), rules_walked=int(round(walker.walked)),
        affinity_timeout=aff if (aff is None or aff >= 0) else None, scheduler=scheduler,
        mode=mode, src=src, dst=dst, protocol=protocol,
    )


def trace_iptables(rs: Any, src: str, dst: str, protocol: str = "TCP", extra_local: tuple[str, ...] = (),
                   walker: type[IptablesWalker] | None = None) -> Trace:
    """Trace a new connection through an iptables ruleset (also the iptables side of IPVS).

    ``walker`` replaces :class:`IptablesWalker` (a subclass that also knows the constructs of
    a real node's dump, see :mod:`kubelearn.proxy.read`).
    """
    src_ip = parse_ip(src, "source address")
    dst_ip, dport = parse_dst(dst)
    w = (walker or IptablesWalker)(rs, node_locals([rs.node_ip, *extra_local]))
    pk = Packet(src_ip, dst_ip, dport, protocol.lower())
    hook = "OUTPUT" if w.is_local(src_ip) else "PREROUTING"
    results: list[tuple[Packet, str]] = []
    for p, v in w.hook("nat", hook, pk):
        if v != "ACCEPT":
            results.append((p, v))
            continue
        fchain = "OUTPUT" if hook == "OUTPUT" else ("INPUT" if w.is_local(p.dst) else "FORWARD")
        for p2, v2 in w.hook("filter", fchain, p):
            if v2 != "ACCEPT":
                results.append((p2, v2))
                continue
            for p3, v3 in w.hook("nat", "POSTROUTING", p2):
                results.append((p3, v3))
    return finish(w, results, mode="iptables", hook=hook, src=src, dst=dst, protocol=protocol)
