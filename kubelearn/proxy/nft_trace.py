"""The tracer for nftables mode: base chains by hook and priority, verdict maps, numgen.

A packet meets the ``ip kube-proxy`` table's base chains in the order the kernel runs them:
at prerouting (or output, for the node's own packets) first ``filter-*-pre-dnat`` (priority
dstnat-10: the loadBalancerSourceRanges check, before any DNAT), then ``nat-*`` (dstnat:
one ``vmap @service-ips`` lookup picks the service chain), then after routing
``filter-input``/``filter-forward``/``filter-output`` (no-endpoint REJECT/DROP, invalid
ClusterIP ports), and finally ``nat-postrouting`` (masquerade marked packets).  ``numgen
random mod N vmap`` branches into N endpoint chains, 1/N each (from v1.36 ``dnat … numgen
random mod N map`` DNATs to one of N endpoints directly, and a ``hairpin-connections`` set
lookup masquerades a pod reaching itself); an affinity set lookup finds nothing for a first
connection.  Like the iptables tracer it interprets the rules the text
views print (:class:`~kubelearn.proxy.nftables.NftRule` expressions), not a shortcut.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

from .nftables import TABLE, NftablesRuleset, NftRule
from .trace import Packet, Trace, Walker, finish, in_net, node_locals, parse_dst, parse_ip

__all__ = ["NftWalker", "trace_nft"]


class NftWalker(Walker):
    """Interprets an :class:`NftablesRuleset`."""

    def __init__(self, rs: NftablesRuleset, local: frozenset[Any]):
        super().__init__(local)
        self.rs = rs

    def walk(self, chain: str, idx: int, pk: Packet) -> list[tuple[Packet, str | None]]:
        rules = self.rs.chains.get(chain, [])
        for i in range(idx, len(rules)):
            r = rules[i]
            if r.owner and pk.owner is None:
                pk = replace(pk, owner=r.owner)
            res, pk = self.rule(r, i, pk)
            if res is not None:
                return res
        return [(pk, None)]

    def verdict(self, v: tuple[Any, ...], chain: str, i: int, pk: Packet) -> list[tuple[Packet, str | None]]:
        k = v[0]
        if k == "jump":
            out: list[tuple[Packet, str | None]] = []
            for sub, verdict in self.walk(v[1], 0, pk):
                out.extend(self.walk(chain, i + 1, sub) if verdict is None else [(sub, verdict)])
            return out
        if k == "goto":
            return self.walk(v[1], 0, pk)
        if k == "drop":
            return [(pk, "DROP")]
        if k == "reject":
            return [(pk, "REJECT")]
        return [(pk, None)]  # return

    def rule(self, r: NftRule, i: int, pk: Packet) -> tuple[list[tuple[Packet, str | None]] | None, Packet]:
        """Evaluate one rule: (outcomes, None-if-it-falls-through) and the packet after it."""
        start = pk
        for e in r.exprs:
            k = e[0]
            if k == "daddr":
                ok = in_net(pk.dst, e[1])
            elif k == "saddr":
                ok = in_net(pk.src, e[1])
            elif k == "saddr_not":
                ok = not in_net(pk.src, e[1])
            elif k == "saddr_not_any":
                ok = not any(in_net(pk.src, c) for c in e[1])
            elif k == "daddr_in":
                ok = any(in_net(pk.dst, c) for c in e[1])
            elif k == "daddr_in_set":
                ok = str(pk.dst) in self.rs.lookup(e[1])
            elif k == "saddr_in_set":
                ok = False  # affinity: a first connection has no entry yet
            elif k == "fib_saddr_local":
                ok = self.is_local(pk.src)
            elif k == "mark_clear":
                ok = not pk.mark
            elif k == "mark_set":  # v1.36+: mark and 0x4000 != 0
                ok = pk.mark
            elif k == "hairpin":  # v1.36+: ct status dnat ip saddr . ip daddr . proto . dport @set
                ok = pk.dnat is not None and (str(pk.src), str(pk.dst), pk.proto, pk.dport) in self.rs.lookup(e[1])
            elif k == "l4proto":
                ok = pk.proto == e[1]
            elif k == "dport":
                ok = pk.proto == e[1] and pk.dport == e[2]
            elif k in ("vmap3", "vmap2"):
                key = (str(pk.dst), pk.proto, pk.dport) if k == "vmap3" else (pk.proto, pk.dport)
                v = self.rs.lookup(e[1]).get(key)
                self.record(TABLE,
                            r.chain, r.text, v is not None, pk)
                if v is None:
                    return None, pk
                if len(v) > 2 and pk.owner is None:
                    pk = replace(pk, owner=v[2])
                return self.verdict(v, r.chain, i, pk), pk
            elif k == "numgen":
                n = len(e[1])
                p = Fraction(1, n)
                self.record(TABLE, r.chain, r.text, True, pk, p)
                out: list[tuple[Packet, str | None]] = []
                for c in e[1]:
                    out.extend(self.walk(c, 0, replace(pk, prob=pk.prob * p)))
                return out, pk
            elif k == "mark_or":
                pk = replace(pk, mark=True)
                ok = True
            elif k == "mark_xor":
                pk = replace(pk, mark=not pk.mark)
                ok = True
            elif k == "update":
                pk = replace(pk, affinity=int(e[1]))
                ok = True
            elif k == "dnat_numgen":  # v1.36+: dnat ip addr . port to numgen random mod N map { i : ip . port }
                n = len(e[1])
                p = Fraction(1, n)
                self.record(TABLE, r.chain, r.text, True, pk, p)
                return [(replace(pk, prob=pk.prob * p).dnatted(t, r.chain), "ACCEPT") for t in e[1]], pk
            elif k == "dnat":
                self.record(TABLE, r.chain, r.text, True, pk)
                return [(pk.dnatted(e[1], r.chain), "ACCEPT")], pk
            elif k == "masquerade":
                self.record(TABLE, r.chain, r.text, True, pk)
                return [(replace(pk, masq=True), "ACCEPT")], pk
            else:  # jump/goto/drop/reject/return: the verdict of a matching rule
                self.record(TABLE, r.chain, r.text, True, pk)
                return self.verdict(e, r.chain, i, pk), pk
            if not ok:
                self.record(TABLE, r.chain, r.text, False, start)
                return None, start
        self.record(TABLE, r.chain, r.text, True, pk)
        return None, pk


def trace_nft(rs: NftablesRuleset, src: str, dst: str, protocol: str = "TCP", extra_local: tuple[str, ...] = (),
              walker: type[NftWalker] | None = None) -> Trace:
    """Trace a new connection through the nftables base chains in hook and priority order."""
    src_ip = parse_ip(src, "source address")
    dst_ip, dport = parse_dst(dst)
    w = (walker or NftWalker)(rs, node_locals([rs.node_ip, *extra_local]))
    pk = Packet(src_ip, dst_ip, dport, protocol.lower())
    out = w.is_local(src_ip)
    hook = "OUTPUT" if out else "PREROUTING"
    results: list[tuple[Packet, str]] = []

    def base(chain: str, packets: list[Packet]) -> list[Packet]:
        passed = []
        for p in packets:
            for p2, v in w.walk(chain, 0, p):
                if v in (None, "ACCEPT"):
                    passed.append(p2)
                else:
                    results.append((p2, v))
        return passed

    stage = base("filter-output-pre-dnat" if out else "filter-prerouting-pre-dnat", [pk])
    stage = base("nat-output" if out else "nat-prerouting", stage)
    final: list[Packet] = []
    for p in stage:
        chain = "filter-output" if out else ("filter-input" if w.is_local(p.dst) else "filter-forward")
        final.extend(base(chain, [p]))
    for p in base("nat-postrouting", final):
        results.append((p, "ACCEPT"))
    return finish(w, results, mode="nftables", hook=hook, src=src, dst=dst, protocol=protocol)
