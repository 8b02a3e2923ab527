"""Does a node hold what kube-proxy should program?  A dump compared with the cluster state.

kube-proxy re-syncs a node's rules from the Services and EndpointSlices it watches.  When a
node misbehaves, the question is whether its rules are the ones that state calls for.  This
module renders the expected rules with :func:`kubelearn.rules` and compares them, rule by
rule, with the dump:

* **missing**: a rule kube-proxy should have written and the node lacks (a lost sync, a
  rule someone deleted);
* **unexpected**: a rule in one of kube-proxy's chains that the cluster state does not call for
  (a stale endpoint, a rule someone added);
* **stale**: a whole ``KUBE-…`` chain (nftables: a ``service-…``/``endpoint-…`` chain) that
  nothing in the cluster state needs: a Service or endpoint that was deleted while kube-proxy
  was not running.

What never counts: packet counters; the order of rules in ``KUBE-SERVICES`` and the other
per-Service lists (``KUBE-NODEPORTS``, ``KUBE-EXTERNAL-SERVICES``, ``KUBE-PROXY-FIREWALL``),
which follows Go's map order on a real node, except that the ``KUBE-NODEPORTS`` jump must be
last; the order of map elements in nftables; other software's chains and tables; how a rule
is spelled (``iptables-save`` prints ``-d 10.96.0.1/32 -p tcp -m tcp``, kube-proxy writes
``-m tcp -p tcp -d 10.96.0.1``; probabilities are compared after undoing the kernel's
rounding).  Order inside a ``KUBE-SVC-…`` chain does count: it decides the probabilities.

The expected rules are kubelearn's model of kube-proxy v1.33 (see :mod:`kubelearn.proxy`);
rules other releases write differently show up as differences, which is what they are.
"""

from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ..ipvs import IpvsRuleset
from ..nftables import NftablesRuleset

__all__ = ["Difference", "RulesDiff", "diff", "snapshot_cluster"]

UNORDERED = frozenset({("nat", "KUBE-SERVICES"), ("nat", "KUBE-NODEPORTS"), ("filter", "KUBE-SERVICES"),
                       ("filter", "KUBE-EXTERNAL-SERVICES"), ("filter", "KUBE-NODEPORTS"),
                       ("filter", "KUBE-PROXY-FIREWALL")})
#: kube-proxy's and kubelet's empty marker chains: never compared.
IGNORED_CHAINS = frozenset({"KUBE-PROXY-CANARY", "KUBE-KUBELET-CANARY"})
BUILTINS = frozenset({"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"})
GENERAL = "(kube-proxy, not one Service's)"


@dataclass(frozen=True)
class Difference:
    """One rule (or chain, map element, virtual server) where the node and the cluster state differ."""

    kind: str  # "missing" | "unexpected" | "stale" | "order"
    service: str  # "ns/svc:port", or GENERAL
    table: str
    chain: str
    rule: str

    def to_dict(self) -> dict[str, str]:
        """A JSON-ready dict."""
        return {"kind": self.kind, "service": self.service, "table": self.table, "chain": self.chain,
                "rule": self.rule}


@dataclass
class RulesDiff:
    """The differences between a node's dump and the rules kube-proxy should program there."""

    node: str
    mode: str
    differences: list[Difference] = field(default_factory=list)
    compared: int = 0

    @property
    def agree(self) -> bool:
        """True when nothing differs (``rules --diff`` exits 0)."""
        return not self.differences

    def by_service(self) -> dict[str, list[Difference]]:
        """The differences grouped by Service port, in name order (general ones last)."""
        out: dict[str, list[Difference]] = {}
        for d in sorted(self.differences, key=lambda d: (d.service == GENERAL, d.service)):
            out.setdefault(d.service, []).append(d)
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"node": self.node, "mode": self.mode, "agree": self.agree, "compared": self.compared,
                "differences": [d.to_dict() for d in self.differences]}

    def __str__(self) -> str:
        if self.agree:
            return (f"node {self.node} ({self.mode}): the dump agrees with what kube-proxy should program "
                    f"({self.compared} rules compared; counters and the order of KUBE-SERVICES ignored)")
        lines = [f"node {self.node} ({self.mode}): {len(self.differences)} difference(s) from what kube-proxy "
                 "should program"]
        for svc, ds in self.by_service().items():
            lines.append(svc)
            for d in ds:
                lines.append(f"  {d.kind:<10} {d.table} {d.chain}: {d.rule}")
        return "\n".join(lines)


def _spn(owner: tuple[str, str] | None) -> str:
    if not owner:
        return GENERAL
    return f"{owner[0]}:{owner[1]}" if owner[1] else owner[0]


# ---------------------------------------------------------------------------- iptables
def _rule_key(r: Any) -> tuple[Any, ...]:
    ms: list[tuple[Any, ...]] = []
    protos = set()
    for m in r.matches:
        k = m[0]
        if k in ("p", "proto"):
            protos.add(m[1])
        elif k == "statistic":
            ms.append(("statistic", m[2]))
        elif k in ("s", "d"):
            ms.append((k, m[1][:-3] if m[1].endswith("/32") else m[1], m[2]))
        elif k == "dport":
            ms.append(("dport", int(m[1])))
        else:
            ms.append(tuple(m))
    ms.extend(("proto", p) for p in protos)
    t = r.target
    return (tuple(sorted(ms, key=repr)), t)


def _compare_chain(table: str, chain: str, exp: list[Any], got: list[Any], out: list[Difference],
                   owner: tuple[str, str] | None) -> None:
    ek = [_rule_key(r) for r in exp]
    gk = [_rule_key(r) for r in got]

    def who(r: Any) -> str:
        return _spn(r.owner or owner)

    if (table, chain) in UNORDERED or chain in BUILTINS:
        missing = Counter(ek) - Counter(gk)
        extra = Counter(gk) - Counter(ek)
        for r, k in zip(exp, ek, strict=True):
            if missing[k] > 0:
                missing[k] -= 1
                out.append(Difference("missing", who(r), table, chain, r.text))
        for r, k in zip(got, gk, strict=True):
            if extra[k] > 0:
                extra[k] -= 1
                out.append(Difference("unexpected", who(r), table, chain, r.text))
        if chain == "KUBE-SERVICES" and table == "nat" and got:
            last = got[-1]
            if any(r.target == ("jump", "KUBE-NODEPORTS") for r in got) and last.target != ("jump", "KUBE-NODEPORTS"):
                out.append(Difference("order", GENERAL, table, chain,
                                      "the KUBE-NODEPORTS jump is not the last rule of KUBE-SERVICES"))
        return
    sm = difflib.SequenceMatcher(None, ek, gk, autojunk=False)
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op in ("delete", "replace"):
            out.extend(Difference("missing", who(r), table, chain, r.text) for r in exp[i1:i2])
        if op in ("insert", "replace"):
            out.extend(Difference("unexpected", who(r), table, chain, r.text) for r in got[j1:j2])


def _diff_tables(exp_tables: dict[str, dict[str, list[Any]]], got_tables: dict[str, dict[str, list[Any]]],
                 out: list[Difference]) -> int:
    compared = 0
    for table, chains in exp_tables.items():
        got_chains = got_tables.get(table, {})
        for chain, exp in chains.items():
            if chain in IGNORED_CHAINS:
                continue
            if chain in BUILTINS:
                # Only kube-proxy's jumps: other software's rules in built-in chains are theirs.
                got = [r for r in got_chains.get(chain, []) if r.target and r.target[0] in ("jump", "goto")
                       and r.target[1].startswith("KUBE-")]
            elif chain not in got_chains:
                owner = next((r.owner for r in exp if r.owner), None)
                out.extend(Difference("missing", _spn(r.owner or owner), table, chain, r.text) for r in exp)
                if not exp:
                    out.append(Difference("missing", _spn(owner), table, chain, f":{chain} - [0:0] (empty chain)"))
                compared += len(exp)
                continue
            else:
                got = got_chains[chain]
            per_service = chain.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-"))
            owner = next((r.owner for r in [*exp, *got] if r.owner), None) if per_service else None
            _compare_chain(table, chain, exp, got, out, owner)
            compared += len(exp)
        for chain, got in got_chains.items():
            if chain.startswith("KUBE-") and chain not in chains and chain not in IGNORED_CHAINS:
                owner = next((r.owner for r in got if r.owner), None)
                out.append(Difference("stale", _spn(owner), table, chain,
                                      f"{len(got)} rule(s); nothing in the cluster state needs this chain"))
    return compared


# ---------------------------------------------------------------------------- nftables
def _nft_expr_key(exprs: tuple[Any, ...]) -> tuple[Any, ...]:
    out = []
    for e in exprs:
        if e[0] == "daddr_in" and len(e[1]) == 1:
            out.append(("daddr", e[1][0]))
        elif e[0] == "saddr_not_any" and len(e[1]) == 1:
            out.append(("saddr_not", e[1][0]))
        elif e[0] in ("daddr_in", "saddr_not_any", "saddr_in"):
            out.append((e[0], tuple(sorted(e[1]))))  # an anonymous set: the kernel keeps no order
        else:
            out.append(tuple(e))
    return tuple(out)


def _diff_nft(exp: Any, got: Any, out: list[Difference]) -> int:
    from .nft import chain_owner

    compared = 0
    for name in sorted(set(exp.elements) | set(got.elements)):
        def canon(els: list[tuple[str, Any, Any]]) -> dict[Any, tuple[str, Any]]:
            return {(k, v[:2] if isinstance(v, tuple) else v): (t, v[2] if isinstance(v, tuple) else None)
                    for t, k, v in els}
        e, g = canon(exp.elements.get(name, [])), canon(got.elements.get(name, []))
        compared += len(e)
        for k in e.keys() - g.keys():
            out.append(Difference("missing", _spn(e[k][1]), "ip kube-proxy", f"@{name}", f"element {{ {e[k][0]} }}"))
        for k in g.keys() - e.keys():
            out.append(Difference("unexpected", _spn(g[k][1]), "ip kube-proxy", f"@{name}",
                                  f"element {{ {g[k][0]} }}"))
    for name, rules in exp.chains.items():
        owner = chain_owner(name)
        if name not in got.chains:
            out.extend(Difference("missing", _spn(owner), "ip kube-proxy", name, r.text) for r in rules)
            if not rules:
                out.append(Difference("missing", _spn(owner), "ip kube-proxy", name, "(empty chain)"))
            compared += len(rules)
            continue
        ek = [_nft_expr_key(r.exprs) for r in rules]
        gr = got.chains[name]
        gk = [_nft_expr_key(r.exprs) for r in gr]
        sm = difflib.SequenceMatcher(None, ek, gk, autojunk=False)
        for op, i1, i2, j1, j2 in sm.get_opcodes():
            if op in ("delete", "replace"):
                out.extend(Difference("missing", _spn(owner), "ip kube-proxy", name, r.text) for r in rules[i1:i2])
            if op in ("insert", "replace"):
                out.extend(Difference("unexpected", _spn(owner), "ip kube-proxy", name, r.text) for r in gr[j1:j2])
        compared += len(rules)
    for name, rules in got.chains.items():
        if name not in exp.chains:
            out.append(Difference("stale", _spn(chain_owner(name)), "ip kube-proxy", name,
                                  f"{len(rules)} rule(s); nothing in the cluster state needs this chain"))
    for name, secs in exp.affinity_sets.items():
        if got.affinity_sets.get(name) != secs:
            out.append(Difference("missing", _spn(chain_owner(name)), "ip kube-proxy", name,
                                  f"set {name} with timeout {secs}s"))
    return compared


# ---------------------------------------------------------------------------- IPVS
def _diff_ipvs(exp: Any, got: Any, out: list[Difference]) -> int:
    def vs_text(vs: Any) -> str:
        return vs.text().splitlines()[0].strip() + (f" -> {', '.join(sorted(vs.reals))}" if vs.reals else "")

    def canon(vs: Any) -> tuple[Any, ...]:
        return (vs.scheduler or None, vs.persistent, tuple(sorted(vs.reals)))

    for key, vs in exp.virtual_servers.items():
        g = got.virtual_servers.get(key)
        if g is None:
            out.append(Difference("missing", _spn(vs.owner), "ipvs", "virtual servers", vs_text(vs)))
        elif canon(vs)[1:] != canon(g)[1:] or (g.scheduler and g.scheduler != vs.scheduler):
            out.append(Difference("missing", _spn(vs.owner), "ipvs", "virtual servers", vs_text(vs)))
            out.append(Difference("unexpected", _spn(vs.owner), "ipvs", "virtual servers", vs_text(g)))
    for key, g in got.virtual_servers.items():
        if key not in exp.virtual_servers:
            out.append(Difference("stale", GENERAL, "ipvs", "virtual servers", vs_text(g)))
    for name in sorted(set(exp.ipsets) | {n for n in got.ipsets if n.startswith("KUBE-")}):
        e, g = exp.ipsets.get(name, set()), got.ipsets.get(name, set())
        for m in sorted(map(str, e - g)):
            out.append(Difference("missing", GENERAL, "ipset", name, m))
        for m in sorted(map(str, g - e)):
            out.append(Difference("unexpected", GENERAL, "ipset", name, m))
    compared = len(exp.virtual_servers) + sum(len(s) for s in exp.ipsets.values())
    return compared + _diff_tables(exp.tables, got.tables, out)


def diff(rules: Any, cluster: Any, node: str) -> RulesDiff:
    """Compare a node's dump (:class:`~kubelearn.proxy.read.NodeRules`) with ``cluster``'s rules for ``node``."""
    from .. import rules as render

    expected = render(cluster, node, mode=rules.mode)
    out: list[Difference] = []
    if isinstance(expected, NftablesRuleset):
        compared = _diff_nft(expected, rules.ruleset, out)
    elif isinstance(expected, IpvsRuleset):
        compared = _diff_ipvs(expected, rules.ruleset, out)
    else:
        compared = _diff_tables(expected.tables, rules.ruleset.tables, out)
    return RulesDiff(node, rules.mode, out, compared)


#: The label value kubelearn gives EndpointSlices it takes as they are from an export.
SNAPSHOT_MANAGER = "kubelearn-snapshot"


def snapshot_cluster(*sources: Any, seed: int = 0) -> Any:
    """The cluster state in ``sources`` as kube-proxy sees it, EndpointSlices taken as they are.

    ``kubectl get nodes,services,endpointslices -A -o yaml`` is a snapshot: its EndpointSlices are
    what kube-proxy programmed from, but it has no Pods, and kubelearn's EndpointSlice controller
    would empty a selector's slices for want of pods.  So where the input holds EndpointSlices for
    a Service, that Service's selector is dropped (kube-proxy never reads selectors) and its slices
    are marked as not the controller's, so they stay exactly as exported.  Input without
    EndpointSlices (plain manifests with Deployments) loads as :func:`kubelearn.load` does.
    """
    import copy

    from ...kind import load
    from ...manifest import read_documents

    objs = [copy.deepcopy(d.obj) for d in read_documents(*sources)]
    sliced = {((o.get("metadata") or {}).get("namespace") or "default",
               ((o.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name"))
              for o in objs if o.get("kind") == "EndpointSlice"}
    for o in objs:
        meta = o.get("metadata") or {}
        if o.get("kind") == "Service" and (meta.get("namespace") or "default", meta.get("name")) in sliced:
            (o.get("spec") or {}).pop("selector", None)
        elif o.get("kind") == "EndpointSlice":
            labels = meta.get("labels") or {}
            if "endpointslice.kubernetes.io/managed-by" in labels:
                labels["endpointslice.kubernetes.io/managed-by"] = SNAPSHOT_MANAGER
    return load(objs, seed=seed)
