"""The rendered rules as data: tables, chains and rules with their match and target parts.

kube-proxy writes text (``iptables-restore`` input, an ``nft -f`` transaction, IPVS netlink
calls).  kubelearn keeps the same rules as structured data, so that the text a learner reads
and the tracer that follows a packet (:mod:`kubelearn.proxy.trace`) are two views of *one*
ruleset: every rule the tracer evaluates is a rule printed in the text.

An iptables rule is a chain, an ordered tuple of *matches* and a *target*.  Matches are
tuples whose first item names the kind (``("d", "172.30.0.41", False)`` is ``-d
172.30.0.41``; ``("statistic", "0.5000000000", Fraction(1, 2))`` is ``-m statistic --mode
random --probability 0.5000000000``).  Two renderers turn them into text: the *restore*
form kube-proxy writes and the *save* form ``iptables-save`` prints after the kernel has
stored the rule (addresses first with ``/32``, ``-p`` before the modules, ``--set-xmark``,
probabilities quantised to 1/2^31, ``--mask 255.255.255.255 --rsource`` on ``recent``).
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

__all__ = ["Rule", "gc_paused", "render_restore", "render_save", "save_probability", "save_string"]


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
