"""kubelearn's tracers, taught the few extra things a real node's dump contains.

The tracers of :mod:`kubelearn.proxy.iptables_trace` and :mod:`kubelearn.proxy.nftables_trace` walk
kube-proxy's own rules.  A node also holds other programs' rules, so these subclasses add,
and only add:

* built-in chain *policies* (``:FORWARD DROP``, as Docker sets it): a packet that falls off
  the end of a built-in chain gets the policy, not ACCEPT;
* interface matches (``-i docker0``): the traced packet comes from no named interface, so
  ``-i X`` never matches and ``! -i X`` always does;
* ``-m addrtype ! --dst-type LOCAL`` (kindnet's masquerade agent) and ``-m nfacct`` (a counter,
  always matches);
* marks other than kube-proxy's masquerade bit (Calico's, Cilium's): the packet's other mark
  bits are all zero (``--mark 0x0/0xf0000`` matches, ``--mark 0x10000/0x10000`` does not), and
  setting them changes nothing kube-proxy looks at;
* targets that log, count or mark and let the packet go on (``LOG``, ``CONNMARK``…); ``SNAT``
  rewrites the source like ``MASQUERADE``;
* an unknown match or nft expression never matches (reported when the dump is read).
"""

from __future__ import annotations

from typing import Any

from ..iptables import IptablesRuleset
from ..iptables_trace import IptablesWalker
from ..nftables import NftRule
from ..nftables_trace import NftWalker
from ..walk import Action, Final, Packet, in_net

__all__ = ["DumpIptablesWalker", "DumpNftWalker"]

_EXTRA = frozenset({"unknown", "iface", "addrtype_not", "nfacct", "mark"})


class _View:
    __slots__ = ("matches",)

    def __init__(self, matches: tuple[Any, ...]):
        self.matches = matches


def _mark_value(text: str) -> int:
    try:
        return int(text.split("/")[0], 0)
    except ValueError:
        return -1


class DumpIptablesWalker(IptablesWalker):
    """:class:`IptablesWalker` with chain policies, foreign marks, interfaces and unknown matches."""

    def __init__(self, rs: IptablesRuleset, local: frozenset[Any]):
        super().__init__(rs, local)
        self.policies: dict[tuple[str, str], str] = getattr(rs, "policies", {})
        self.masq_mark: int = getattr(rs, "masq_mark", 0x4000)

    def matches(self, r: Any, pk: Packet) -> tuple[bool, Any, Packet]:
        ms = r.matches
        if not any(m[0] in _EXTRA for m in ms):
            return super().matches(r, pk)
        keep = []
        for m in ms:
            k = m[0]
            if k == "unknown":
                return False, None, pk
            if k == "iface":
                if not m[3]:
                    return False, None, pk
            elif k == "addrtype_not":
                if self.is_local(pk.dst if m[1] == "dst" else pk.src):
                    return False, None, pk
            elif k == "mark" and _mark_value(m[1]) != self.masq_mark:
                # Another program's mark bits: the traced packet carries none of them (all zero).
                if (_mark_value(m[1]) == 0) == m[2]:
                    return False, None, pk
            elif k != "nfacct":
                keep.append(m)
        return super().matches(_View(tuple(keep)), pk)

    def target(self, table: str, chain: str, r: Any, pk: Packet) -> Action:
        t = r.target
        if t is not None:
            k = t[0]
            if k == "CONTINUE" or (k in ("MARK-OR", "MARK-XOR") and _mark_value(t[1]) != self.masq_mark):
                return pk
            if k == "SNAT":
                return Final("ACCEPT", pk.with_(masq=True))
            if k in ("jump", "goto") and t[1] not in self.rs.tables.get(table, {}):
                return pk
        return super().target(table, chain, r, pk)

    def hook(self, table: str, chain: str, pk: Packet) -> list[tuple[Packet, str]]:
        policy = self.policies.get((table, chain), "ACCEPT")
        return [(p, v or policy) for p, v in self.walk(table, chain, pk)]


class DumpNftWalker(NftWalker):
    """:class:`NftWalker` with ``accept``, ``fib daddr type local``, address lists and unknown expressions."""

    def rule(self, r: NftRule, pk: Packet) -> Action:
        kinds = [e[0] for e in r.exprs]
        if not any(k in ("unknown", "fib_daddr_local", "saddr_in", "daddr_not_any", "accept") for k in kinds):
            return super().rule(r, pk)
        for e in r.exprs:
            ok = True
            if e[0] == "unknown":
                ok = False
            elif e[0] == "fib_daddr_local":
                ok = self.is_local(pk.dst)
            elif e[0] == "saddr_in":
                ok = any(in_net(pk.src, c) for c in e[1])
            elif e[0] == "daddr_not_any":
                ok = not any(in_net(pk.dst, c) for c in e[1])
            if not ok:
                self.record("ip kube-proxy", r.chain, r.text, False, pk)
                return pk
        rest = tuple(e for e in r.exprs if e[0] not in ("fib_daddr_local", "saddr_in", "daddr_not_any"))
        accept = bool(rest) and rest[-1][0] == "accept"
        if accept:
            rest = rest[:-1]
        act = super().rule(NftRule(r.chain, r.text, rest, r.owner), pk)
        if accept and isinstance(act, Packet) and self.steps and self.steps[-1].matched:
            return Final("ACCEPT", act)
        return act
