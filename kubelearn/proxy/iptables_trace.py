"""The tracer for iptables mode: the nat and filter tables, rule by rule.

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
views print, so what it reports is what the printed rules do.  The walk itself (jumps,
returns, random branches, the steps) is :mod:`kubelearn.proxy.walk`'s; this module says what
an iptables match and target do.

``Trace.masquerade`` is True only when *every* destination is masqueraded, so it answers "does
the endpoint always see the node's address instead of mine?".  A pod dialling a ClusterIP is
not masqueraded (kube-proxy's flow table), except on the one branch where it lands on itself:
that endpoint's ``KUBE-SEP`` hairpin rule marks it.  That branch shows in its own
:class:`~kubelearn.proxy.walk.Destination` (``masquerade=True``) and in the text
("masqueraded only if it lands on itself (hairpin)"), not in the summary.

Simplification: when a packet is masqueraded, MASQUERADE picks the address of the interface
the packet leaves by; kubelearn reports ``masquerade=True`` and the simulator uses the entry
node's InternalIP, which is the usual answer on a single-NIC node such as a kind node.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from .iptables import IptablesRuleset
from .ruleset import Rule
from .walk import (
    Action,
    Final,
    Goto,
    Hook,
    Jump,
    Packet,
    Return,
    Split,
    Trace,
    TraceError,
    Walker,
    finish,
    in_net,
    node_locals,
    parse_dst,
    parse_ip,
)

__all__ = ["IptablesWalker", "trace_iptables"]


class IptablesWalker(Walker[Rule]):
    """Interprets an :class:`~kubelearn.proxy.iptables.IptablesRuleset` (also IPVS mode's iptables part)."""

    def __init__(self, rs: IptablesRuleset, local: frozenset[Any]):
        super().__init__(local)
        self.rs = rs

    def rules_of(self, table: str, chain: str) -> Sequence[Rule]:
        return self.rs.tables[table].get(chain, ())

    def evaluate(self, table: str, chain: str, rule: Rule, pk: Packet) -> Action:
        ok, p, pk = self.matches(rule, pk)
        if not ok:
            self.record(table, chain, rule.text, False, pk)
            return pk
        if rule.owner and pk.owner is None:
            pk = pk.with_(owner=rule.owner)
        if p is not None:  # -m statistic: a share p takes the target, the rest goes on
            self.record(table, chain, rule.text, True, pk, p)
            hit = self.target(table, chain, rule, pk.with_(prob=pk.prob * p))
            return Split((hit, pk.with_(prob=pk.prob * (1 - p))))
        self.record(table, chain, rule.text, True, pk)
        return self.target(table, chain, rule, pk)

    def matches(self, r: Any, pk: Packet) -> tuple[bool, Fraction | None, Packet]:
        """Whether ``r``'s matches all hold; the statistic probability; the packet after them."""
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
                pk = pk.with_(affinity_seen=int(m[2]))
                return False, None, pk
            elif k == "rset":
                pk = pk.with_(affinity=pk.affinity_seen if pk.affinity_seen is not None else -1)
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
        """``-m set --match-set name flags``: an ipset lookup (IPVS mode)."""
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

    def target(self, table: str, chain: str, r: Any, pk: Packet) -> Action:
        """What a matching rule's target does with ``pk``."""
        t = r.target
        if t is None:
            return pk
        k = t[0]
        if k == "jump":
            return Jump(t[1], pk)
        if k == "goto":
            return Goto(t[1], pk)
        if k == "RETURN":
            return Return(pk)
        if k == "MARK-OR":
            return pk.with_(mark=True)
        if k == "MARK-XOR":
            return pk.with_(mark=not pk.mark)
        if k == "DNAT":
            return Final("ACCEPT", pk.dnatted(t[1], chain))
        if k == "MASQUERADE":
            return Final("ACCEPT", pk.with_(masq=True))
        return Final(k, pk)


def trace_iptables(rs: IptablesRuleset, src: str, dst: str, protocol: str = "TCP", extra_local: tuple[str, ...] = (),
                   walker: type[IptablesWalker] | None = None) -> Trace:
    """Trace a new connection through an iptables ruleset: nat, then filter, then POSTROUTING.

    ``walker`` replaces :class:`IptablesWalker` (a subclass that also knows the constructs of
    a real node's dump, see :mod:`kubelearn.proxy.read`).
    """
    src_ip = parse_ip(src, "source address")
    dst_ip, dport = parse_dst(dst)
    w = (walker or IptablesWalker)(rs, node_locals([rs.node_ip, *extra_local]))
    pk = Packet(src_ip, dst_ip, dport, protocol.lower())
    hook: Hook = "OUTPUT" if w.is_local(src_ip) else "PREROUTING"
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
