"""How a tracer follows one new connection through a node's rules: the walk every mode shares.

The kernel evaluates packet-filter rules the same way in iptables and in nftables.  A packet
enters a *base chain* at a hook (``PREROUTING`` for a packet that arrives, ``OUTPUT`` for one
the node itself sends, later ``FORWARD``/``INPUT`` and ``POSTROUTING``) and meets the chain's
rules in order.  A rule that does not match lets the packet go on to the next rule; a rule
that matches may change the packet (set a mark), and then either lets it go on, or

* **jumps** to another chain, whose rules run before the rest of this chain;
* **goes to** another chain (iptables ``-g``, nft ``goto``), which replaces the rest of this one;
* **returns** from the chain (``RETURN``, nft ``return``, or simply reaching its end);
* gives a **verdict** that ends the walk of this hook: ``DNAT`` (the packet now goes to an
  endpoint), ``MASQUERADE``, ``DROP``, ``REJECT``, ``ACCEPT``.

kube-proxy picks an endpoint at random, so one packet's walk **splits**: ``-m statistic
--mode random --probability p`` sends a share ``p`` of the packets to its target and the
rest on to the next rule; nft's ``numgen random mod N vmap`` sends ``1/N`` to each of N
chains.  The tracer follows *every* branch with its exact probability (a
:class:`~fractions.Fraction`), so a :class:`Trace` lists every endpoint a new connection can
reach and how likely each one is.

This module is that walk, written once.  Each mode's tracer says only what its rules *are*
and how one rule acts on a packet (:meth:`Walker.evaluate`): :mod:`.iptables_trace`,
:mod:`.nftables_trace` and :mod:`.ipvs_trace` (IPVS's virtual servers, between iptables'
nat hooks).  The walk keeps its own stack instead of Python's, so a Service with thousands of
endpoints in one chain is followed as easily as one with two; :data:`MAX_STEPS` bounds the
work a hand-made ruleset can ask for.

Every rule the walk evaluates becomes a :class:`Step` of the trace, matched or not, in the
order the kernel would evaluate them (all branches, one after the other); ``rules_walked`` is
the expected number of rules one packet evaluates (each step weighted by the probability of
the branch that evaluated it), which shows iptables' O(services) against nftables' O(1).

The result, one shape for every mode (:class:`Trace`)::

    Trace
      verdict        "DNAT" | "REJECT" | "DROP" | "NONE"   what happens to a first packet
      destinations   (Destination(endpoint "IP:PORT", probability, chain, masquerade), ...)
      masquerade     True when every destination sees the node's address, not the client's
      service, port_name   the Service ("namespace/name") and port the packet matched, if any
      hook           "PREROUTING" | "OUTPUT"               where the packet entered
      steps          (Step(table, chain, rule, matched, probability), ...)
      rules_walked   expected rules evaluated by one first packet
      affinity_timeout, scheduler, mode, src, dst, protocol
"""

from __future__ import annotations

import html
import ipaddress
from collections.abc import Generator, Sequence
from dataclasses import dataclass, fields
from fractions import Fraction
from functools import lru_cache
from typing import Any, Generic, Literal, TypeAlias, TypeVar

from ..errors import TraceError

__all__ = ["MAX_STEPS", "Destination", "Final", "Goto", "Hook", "Jump", "Mode", "Packet", "Return", "Split",
           "Step", "Trace", "TraceError", "Verdict", "Walker", "finish", "in_net", "node_locals", "parse_dst",
           "parse_ip"]

#: The most rules one trace evaluates (all branches together).  kube-proxy's own rules stay far
#: below: a Service with 10,000 endpoints (kubelearn's replica bound) costs about 150,000 steps in
#: iptables mode.  A hand-made dump whose random branches multiply is refused here, in bounded time.
MAX_STEPS = 1_000_000
#: The deepest the walk nests chains (jumps into jumps): far beyond any real ruleset (the dump
#: readers refuse more than 200 levels, as the kernel refuses loops).
MAX_DEPTH = 10_000

Verdict: TypeAlias = Literal["DNAT", "REJECT", "DROP", "NONE"]
Hook: TypeAlias = Literal["PREROUTING", "OUTPUT"]
Mode: TypeAlias = Literal["iptables", "nftables", "ipvs"]


# ------------------------------------------------------------------------------------- the result
@dataclass(frozen=True, slots=True)
class Destination:
    """One endpoint a new connection can reach, with its probability."""

    endpoint: str  # "IP:PORT"
    probability: float
    chain: str  # the chain that DNATed (KUBE-SEP-…, endpoint-…, or the IPVS virtual server)
    masquerade: bool = False  # this branch was SNATed (hairpin makes it depend on the endpoint)


@dataclass(frozen=True, slots=True)
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

    verdict: Verdict
    destinations: tuple[Destination, ...]
    masquerade: bool
    service: str | None  # "namespace/name" of the Service the packet matched
    port_name: str | None
    hook: Hook  # where the packet entered
    steps: tuple[Step, ...]
    rules_walked: int
    affinity_timeout: int | None = None  # ClientIP affinity: later connections stick this long
    scheduler: str | None = None  # IPVS only
    mode: Mode = "iptables"
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
        return f"<pre>{html.escape(str(self))}</pre>"


# ------------------------------------------------------------------------------ the walked packet
_ONE = Fraction(1)  # every unsplit packet shares this object: counting its steps needs no arithmetic


@dataclass(frozen=True)
class Packet:
    """The packet as the rules see it at one point of one branch."""

    src: Any  # ipaddress.IPv4Address
    dst: Any
    dport: int
    proto: str  # lower case
    prob: Fraction = _ONE  # the share of first packets on this branch
    mark: bool = False  # kube-proxy's masquerade mark bit
    dnat: str | None = None  # "IP:PORT" once DNATed
    dnat_chain: str = ""
    masq: bool = False
    affinity_seen: int | None = None  # the timeout of an affinity check met on the way
    affinity: int | None = None  # the timeout of the affinity entry this branch records
    owner: tuple[str, str] | None = None  # ("namespace/name", portName) of the Service met

    def with_(self, **changes: Any) -> Packet:
        """This packet with some fields changed, like :func:`dataclasses.replace` (without re-running
        ``__init__``: the walk copies packets at nearly every rule it branches or marks on)."""
        if not _PACKET_FIELDS.issuperset(changes):
            raise TypeError(f"a Packet has no field {sorted(set(changes) - _PACKET_FIELDS)[0]!r}")
        new = object.__new__(Packet)
        state = new.__dict__
        state.update(self.__dict__)
        state.update(changes)
        return new

    def dnatted(self, target: str, chain: str) -> Packet:
        """This packet after ``DNAT --to-destination target`` in ``chain``."""
        ip, port = target.rsplit(":", 1)
        return self.with_(dst=ipaddress.ip_address(ip.strip("[]")), dport=int(port), dnat=target, dnat_chain=chain)


_PACKET_FIELDS = frozenset(f.name for f in fields(Packet))


# ------------------------------------------------------------ what one rule does with the packet
# A rule that lets the packet go on to the next rule returns the packet (changed or not); any
# other outcome is one of these.  Plain slotted classes: the walk makes one at nearly every
# rule that matches, and ``import kubelearn`` should not pay for five more dataclasses.
class Jump:
    """Walk ``chain``, then the rest of this chain with each packet that returns."""

    __slots__ = ("chain", "packet")

    def __init__(self, chain: str, packet: Packet) -> None:
        self.chain = chain
        self.packet = packet


class Goto:
    """Walk ``chain`` instead of the rest of this chain."""

    __slots__ = ("chain", "packet")

    def __init__(self, chain: str, packet: Packet) -> None:
        self.chain = chain
        self.packet = packet


class Return:
    """Leave this chain; the caller's next rule goes on (a base chain's end: its policy)."""

    __slots__ = ("packet",)

    def __init__(self, packet: Packet) -> None:
        self.packet = packet


class Final:
    """End the walk of this hook: ``ACCEPT`` (also after DNAT or MASQUERADE), ``DROP``, ``REJECT``…"""

    __slots__ = ("verdict", "packet")

    def __init__(self, verdict: str, packet: Packet) -> None:
        self.verdict = verdict
        self.packet = packet


class Split:
    """Shares of the packet take different branches, in this order (each packet carries its
    ``prob``).  A bare :class:`Packet` as a branch goes on with the next rule of this chain."""

    __slots__ = ("branches",)

    def __init__(self, branches: tuple[Action, ...]) -> None:
        self.branches = branches


Action: TypeAlias = "Packet | Jump | Goto | Return | Final | Split"
#: A packet as it leaves a chain: its verdict, or None when it returned (or ran off the end).
Outcome: TypeAlias = tuple[Packet, str | None]
RuleT = TypeVar("RuleT")
_Frame: TypeAlias = "Generator[_Frame, list[Outcome], list[Outcome]]"  # see Walker.walk


class Walker(Generic[RuleT]):
    """The walk through chains, with the steps it records.

    A mode's walker says where a chain's rules are (:meth:`rules_of`) and what one rule does
    with a packet (:meth:`evaluate`, which also records the step); the jumps, gotos, returns,
    verdicts and random splits are followed here, on an explicit stack.
    """

    def __init__(self, local: frozenset[Any]):
        self.local = local
        self.steps: list[Step] = []
        # Steps by the probability of their branch (summed once, at the end: Fraction sums are
        # slow, and a branch's packets share one probability object through all their steps).
        self._unsplit = 0  # steps of the whole packet (probability 1)
        self._split: dict[int, list[Any]] = {}  # id(probability) -> [probability, steps]

    @property
    def walked(self) -> Fraction:
        """The expected number of rules one packet evaluates: each step weighted by its branch's probability."""
        return self._unsplit + sum((p * n for p, n in self._split.values()), Fraction(0))

    def is_local(self, ip: Any) -> bool:
        """Whether ``ip`` is one of the node's own addresses (``--dst-type LOCAL``)."""
        return ip in self.local or ip.is_loopback

    def record(self, table: str, chain: str, text: str, matched: bool, pk: Packet, p: Fraction | None = None) -> None:
        """Note that a packet on branch ``pk`` was checked against the rule ``text``."""
        if len(self.steps) >= MAX_STEPS:
            raise TraceError(f"cannot trace this connection: its walk evaluates more than {MAX_STEPS:,} rules "
                             "(the rules' random branches multiply); kubelearn stops there")
        self.steps.append(Step(table, chain, text, matched, None if p is None else float(p)))
        prob = pk.prob
        if prob is _ONE:
            self._unsplit += 1
        else:
            seen = self._split.get(id(prob))
            if seen is None:
                self._split[id(prob)] = [prob, 1]
            else:
                seen[1] += 1

    # -- what a mode says
    def rules_of(self, table: str, chain: str) -> Sequence[RuleT]:
        """The rules of ``chain`` in ``table``, in order (none for an unknown chain)."""
        raise NotImplementedError  # pragma: no cover - each mode's walker says

    def evaluate(self, table: str, chain: str, rule: RuleT, pk: Packet) -> Action:
        """What ``rule`` does with ``pk``; records the step."""
        raise NotImplementedError  # pragma: no cover - each mode's walker says

    # -- the walk
    def walk(self, table: str, chain: str, pk: Packet, start: int = 0) -> list[Outcome]:
        """Every way ``pk`` leaves ``chain`` (from rule ``start`` on), in the kernel's order."""
        # A frame is a generator: it yields the frame of a chain walk it needs (a jump's chain,
        # the rest of a chain after a branch), receives that walk's outcomes, and returns its
        # own.  The frames wait on this list, not on Python's stack, so any number of branches
        # and any nesting the rules have is walked without running into the recursion limit.
        stack: list[_Frame] = [self._chain(table, chain, start, pk)]
        sent: list[Outcome] | None = None
        while True:
            try:
                frame = stack[-1].send(sent)  # type: ignore[arg-type]  # None starts a new frame
            except StopIteration as done:
                stack.pop()
                if not stack:
                    result: list[Outcome] = done.value
                    return result
                sent = done.value
                continue
            if len(stack) >= MAX_DEPTH:
                raise TraceError(f"cannot trace this connection: its chains nest more than {MAX_DEPTH:,} deep")
            stack.append(frame)
            sent = None

    def hook(self, table: str, chain: str, pk: Packet) -> list[tuple[Packet, str]]:
        """Walk a base chain: a packet that returns from it is accepted (the chain's policy)."""
        return [(p, v or "ACCEPT") for p, v in self.walk(table, chain, pk)]

    def _chain(self, table: str, chain: str, start: int, pk: Packet) -> _Frame:
        # The walk of one chain from rule ``start``: its outcomes.
        rules = self.rules_of(table, chain)
        out: list[Outcome] = []
        evaluate = self.evaluate
        for i in range(start, len(rules)):
            act = evaluate(table, chain, rules[i], pk)
            cls = act.__class__
            if cls is Packet:  # the packet goes on to the next rule
                pk = act  # type: ignore[assignment]
                continue
            if cls is Jump:
                subs = yield self._chain(table, act.chain, 0, act.packet)  # type: ignore[union-attr]
                if len(subs) == 1 and subs[0][1] is None:  # the usual case: one packet comes back
                    pk = subs[0][0]
                    continue
                out += yield self._returned(table, chain, i, subs)
                return out
            if cls is Split:
                branches = act.branches  # type: ignore[union-attr]
                rest = branches[-1]
                for b in branches[:-1] if rest.__class__ is Packet else branches:
                    if isinstance(b, Final):
                        out.append((b.packet, b.verdict))
                    elif isinstance(b, Return):
                        out.append((b.packet, None))
                    elif isinstance(b, Jump):
                        out += yield self._jump(table, chain, i, b)
                    elif isinstance(b, Goto):
                        out += yield self._chain(table, b.chain, 0, b.packet)
                    elif isinstance(b, Packet):  # this branch goes on with the rest of the chain
                        out += yield self._chain(table, chain, i + 1, b)
                    else:  # pragma: no cover - programming error
                        raise TraceError(f"a split inside a split cannot be walked: {b!r}")
                if rest.__class__ is not Packet:
                    return out
                pk = rest  # type: ignore[assignment]  # the rest goes on to the next rule
                continue
            if cls is Final:
                out.append((act.packet, act.verdict))  # type: ignore[union-attr]
            elif cls is Return:
                out.append((act.packet, None))  # type: ignore[union-attr]
            elif cls is Goto:  # that chain's outcomes are this chain's
                out += yield self._chain(table, act.chain, 0, act.packet)  # type: ignore[union-attr]
            else:  # pragma: no cover - programming error
                raise TraceError(f"a rule's action cannot be walked: {act!r}")
            return out
        out.append((pk, None))
        return out

    def _jump(self, table: str, chain: str, i: int, act: Jump) -> _Frame:
        # One branch of rule i jumps: that chain, then the rest of this one for what returns.
        subs = yield self._chain(table, act.chain, 0, act.packet)
        return (yield self._returned(table, chain, i, subs))

    def _returned(self, table: str, chain: str, i: int, subs: list[Outcome]) -> _Frame:
        # After a jump from rule i: each packet that came back walks the rest of this chain, in
        # order; the others keep their verdicts.
        out: list[Outcome] = []
        for sub, verdict in subs:
            if verdict is None:
                out += yield self._chain(table, chain, i + 1, sub)
            else:
                out.append((sub, verdict))
        return out


# ----------------------------------------------------------------------------------- helpers
@lru_cache(maxsize=65536)
def _net(cidr: str) -> Any:
    return ipaddress.ip_network(cidr, strict=False)


def in_net(ip: Any, cidr: str) -> bool:
    """Whether ``ip`` (an ip_address) lies in ``cidr`` (an address or a CIDR)."""
    return ip in _net(cidr)


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


def finish(walker: Walker[Any], results: list[tuple[Packet, str]], *, mode: Mode, hook: Hook, src: str, dst: str,
           protocol: str, scheduler: str | None = None) -> Trace:
    """Fold the branch outcomes into one :class:`Trace`."""
    dnat = [(p, v) for p, v in results if p.dnat and v == "ACCEPT"]
    owner = next((p.owner for p, _ in results if p.owner), None)
    verdict: Verdict
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
        verdicts = {v for _, v in results}
        verdict = "REJECT" if "REJECT" in verdicts else "DROP" if "DROP" in verdicts else "NONE"
        masq = any(p.masq for p, _ in results)
        aff = None
    return Trace(
        verdict=verdict, destinations=dests, masquerade=masq,
        service=owner[0] if owner else None, port_name=owner[1] if owner else None,
        hook=hook, steps=tuple(walker.steps), rules_walked=int(round(walker.walked)),
        affinity_timeout=aff if (aff is None or aff >= 0) else None, scheduler=scheduler,
        mode=mode, src=src, dst=dst, protocol=protocol,
    )
