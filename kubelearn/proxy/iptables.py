"""kube-proxy's iptables mode: the nat and filter rules one node runs.

Each Service port becomes a small program in the ``nat`` table.  ``KUBE-SERVICES`` (reached
from PREROUTING and OUTPUT) holds one rule per service IP:port, so a new connection's
first packet walks it in order: O(number of services).  A match jumps to ``KUBE-SVC-*``
(Cluster policy) or ``KUBE-SVL-*`` (Local policy), which picks an endpoint with chained
``-m statistic --probability 1/(n-i)`` rules, then ``KUBE-SEP-*`` DNATs to ``IP:port``.
NodePorts, externalIPs and LoadBalancer IPs enter through ``KUBE-EXT-*`` (masquerade and
the externalTrafficPolicy short-circuits) and ``KUBE-FW-*`` (loadBalancerSourceRanges).
Packets that need SNAT get the 0x4000 mark in ``KUBE-MARK-MASQ`` and are MASQUERADEd in
``KUBE-POSTROUTING``.  The ``filter`` table REJECTs Services with no endpoints and DROPs
traffic that a Local policy cannot serve.

Simplifications (where a real node may differ): the ``nfacct`` counters of newer
kube-proxy builds are left out (they depend on the node's kernel); ``--random-fully`` is
written on MASQUERADE (every current iptables has it); the order of services in
``KUBE-SERVICES`` is sorted, standing in for Go's random map order.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..cluster import Cluster
from . import names
from .config import ProxyConfigError, nodeport_ips, proxy_settings
from .endpoints import ServicePort, categorize_endpoints, service_ports
from .ruleset import Match, Rule, chain_lines, probability_match, render_save
from .ruleset import Rule as _Rule

__all__ = ["IptablesRuleset", "ProxyConfigError", "build_iptables", "proxy_settings", "LARGE_CLUSTER_THRESHOLD"]

#: Above this many endpoints kube-proxy stops writing per-endpoint comments.
LARGE_CLUSTER_THRESHOLD = 1000

FILTER_CHAINS = ("KUBE-NODEPORTS", "KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FIREWALL",
                 "KUBE-FORWARD", "KUBE-PROXY-FIREWALL")
NAT_FIXED = ("KUBE-NODEPORTS", "KUBE-SERVICES")

# (table, built-in chain, target, extra matches, comment) in kube-proxy's iptablesJumpChains
# order; each is inserted at position 1, so a chain ends up holding them in reverse order.
JUMP_CHAINS: tuple[tuple[str, str, str, tuple[Match, ...], str], ...] = (
    ("filter", "INPUT", "KUBE-EXTERNAL-SERVICES", (("ctstate", "NEW", False),),
     "kubernetes externally-visible service portals"),
    ("filter", "FORWARD", "KUBE-EXTERNAL-SERVICES", (("ctstate", "NEW", False),),
     "kubernetes externally-visible service portals"),
    ("filter", "INPUT", "KUBE-NODEPORTS", (), "kubernetes health check service ports"),
    ("filter", "FORWARD", "KUBE-SERVICES", (("ctstate", "NEW", False),), "kubernetes service portals"),
    ("filter", "OUTPUT", "KUBE-SERVICES", (("ctstate", "NEW", False),), "kubernetes service portals"),
    ("filter", "FORWARD", "KUBE-FORWARD", (), "kubernetes forwarding rules"),
    ("filter", "INPUT", "KUBE-PROXY-FIREWALL", (("ctstate", "NEW", False),), "kubernetes load balancer firewall"),
    ("filter", "OUTPUT", "KUBE-PROXY-FIREWALL", (("ctstate", "NEW", False),), "kubernetes load balancer firewall"),
    ("filter", "FORWARD", "KUBE-PROXY-FIREWALL", (("ctstate", "NEW", False),), "kubernetes load balancer firewall"),
    ("nat", "OUTPUT", "KUBE-SERVICES", (), "kubernetes service portals"),
    ("nat", "PREROUTING", "KUBE-SERVICES", (), "kubernetes service portals"),
    ("nat", "POSTROUTING", "KUBE-POSTROUTING", (), "kubernetes postrouting rules"),
)

BUILTINS = {
    "filter": ("INPUT", "FORWARD", "OUTPUT"),
    "nat": ("PREROUTING", "INPUT", "OUTPUT", "POSTROUTING"),
}


class IptablesRuleset:
    """The iptables rules of one node: ``filter`` and ``nat`` tables, chain by chain.

    ``tables[table][chain]`` is the list of :class:`~kubelearn.proxy.ruleset.Rule` in order,
    with the built-in chains (``PREROUTING``, ``INPUT``…) holding the jump rules kube-proxy
    inserts.  ``kube_chains[table]`` lists the chains kube-proxy declares, in output order.
    """

    mode = "iptables"

    def __init__(self, node: str, node_ip: str, settings: dict[str, Any]):
        self.node = node
        self.node_ip = node_ip
        self.settings = settings
        self.tables: dict[str, dict[str, list[Rule]]] = {"filter": {}, "nat": {}}
        self.kube_chains: dict[str, list[str]] = {"filter": [], "nat": []}
        self.view = "restore"
        self.ipsets: dict[str, set[tuple[Any, ...]]] = {}

    # -------------------------------------------------------------- text views
    def restore_text(self) -> str:
        """What kube-proxy feeds ``iptables-restore --noflush``: filter then nat."""
        lines: list[str] = []
        for table in ("filter", "nat"):
            chains = self.kube_chains[table]
            lines.extend(chain_lines(table, chains))
            for c in chains:
                # Most rules carry their text already (built with the rule); render the rest.
                lines.extend([r._text or r.text for r in self.tables[table][c]])
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def iptables_restore_input(self) -> str:
        """Input for ``iptables-restore --noflush`` that also installs the built-in jumps.

        kube-proxy adds those with ``iptables -I <chain> 1`` before its restore; here they are
        ``-I`` lines inside the same transaction, in the same order, so a fresh network
        namespace ends up exactly like a node.
        """
        lines: list[str] = []
        for table in ("filter", "nat"):
            chains = self.kube_chains[table]
            lines.extend(chain_lines(table, chains))
            for c in chains:
                lines.extend(r.text for r in self.tables[table][c])
            for t, builtin, target, extra, comment in JUMP_CHAINS:
                if t == table:
                    rule = Rule(builtin, (*extra, ("comment", comment)), ("jump", target))
                    lines.append("-I" + rule.text[2:].replace(f"{builtin} ", f"{builtin} 1 ", 1))
            if table == "filter":
                for builtin in ("INPUT", "OUTPUT"):
                    lines.append(f"-A {builtin} -j KUBE-FIREWALL")
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def save_text(self) -> str:
        """What ``iptables-save`` prints on the node (kube-proxy's part of it)."""
        lines: list[str] = ["# Generated by iptables-save v1.8.9 (nf_tables)"]
        canary = {"mangle": {"PREROUTING": "ACCEPT", "INPUT": "ACCEPT", "FORWARD": "ACCEPT",
                             "OUTPUT": "ACCEPT", "POSTROUTING": "ACCEPT"}}
        lines.extend(chain_lines("mangle", ["KUBE-PROXY-CANARY"], canary["mangle"]))
        lines.append("COMMIT")
        for table in ("filter", "nat"):
            builtins = {b: "ACCEPT" for b in BUILTINS[table]}
            chains = sorted([*self.kube_chains[table], "KUBE-PROXY-CANARY"])
            lines.extend(chain_lines(table, chains, builtins))
            for b in BUILTINS[table]:
                lines.extend(render_save(r) for r in self.tables[table].get(b, []))
            for c in chains:
                lines.extend(render_save(r) for r in self.tables[table].get(c, []))
            lines.append("COMMIT")
        lines.append("# Completed")
        return "\n".join(lines) + "\n"

    def text(self, view: str | None = None) -> str:
        """The ruleset in ``view`` (``restore`` or ``save``; default: the view it was built for)."""
        v = view or self.view
        if v == "restore":
            return self.restore_text()
        if v == "save":
            return self.save_text()
        raise ProxyConfigError(f'unknown view "{v}" for iptables mode (use restore or save)')

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        n = sum(len(r) for r in self.tables["nat"].values())
        f = sum(len(r) for r in self.tables["filter"].values())
        return f"<IptablesRuleset node {self.node!r}: {n} nat rules, {f} filter rules; view {self.view}>"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text())}</pre>"

    def rule_count(self, table: str, kube_only: bool = True) -> int:
        """Rules in ``table`` (kube-proxy's chains only, like its sync metrics, by default)."""
        chains = self.kube_chains[table] if kube_only else list(self.tables[table])
        return sum(len(self.tables[table][c]) for c in chains)


def build_iptables(cluster: Cluster, node: str, settings: dict[str, Any] | None = None) -> IptablesRuleset:
    """Render the iptables rules kube-proxy on ``node`` writes for ``cluster``."""
    st = settings or proxy_settings(cluster, node)
    rs = IptablesRuleset(node, st["node_ip"], st)
    ports = service_ports(cluster)
    large = sum(len(sp.endpoints) for sp in ports) > LARGE_CLUSTER_THRESHOLD
    mark = st["mark"]

    f_rules: dict[str, list[Rule]] = {c: [] for c in FILTER_CHAINS}
    nat: dict[str, list[Rule]] = {"KUBE-NODEPORTS": [], "KUBE-SERVICES": []}
    prob_cache: dict[int, Match] = {}
    node_ip_addr = ipaddress.ip_address(st["node_ip"])

    for sp in ports:
        _service_port_rules(sp, node, st, large, f_rules, nat, prob_cache, node_ip_addr)

    # The nodeports jump must be the last rule of KUBE-SERVICES.
    np_comment = ("comment", "kubernetes service nodeports; NOTE: this must be the last rule in this chain")
    np_ips = nodeport_ips(st, default_all=True)
    if np_ips is None:
        m: list[Match] = [np_comment, ("addrtype", "dst", "LOCAL")]
        if not st["localhost_nodeports"]:
            m.append(("d", "127.0.0.0/8", True))
        nat["KUBE-SERVICES"].append(Rule("KUBE-SERVICES", tuple(m), ("jump", "KUBE-NODEPORTS")))
    else:
        for ip in np_ips:
            nat["KUBE-SERVICES"].append(Rule("KUBE-SERVICES", (np_comment, ("d", ip, False)),
                                             ("jump", "KUBE-NODEPORTS")))
    nat["KUBE-MARK-MASQ"] = [Rule("KUBE-MARK-MASQ", (), ("MARK-OR", mark))]
    nat["KUBE-POSTROUTING"] = [
        Rule("KUBE-POSTROUTING", (("mark", f"{mark}/{mark}", True),), ("RETURN",)),
        Rule("KUBE-POSTROUTING", (), ("MARK-XOR", mark)),
        Rule("KUBE-POSTROUTING", (("comment", "kubernetes service traffic requiring SNAT"),), ("MASQUERADE", True)),
    ]
    if st["localhost_nodeports"]:
        f_rules["KUBE-FIREWALL"].append(Rule("KUBE-FIREWALL", (
            ("comment", "block incoming localnet connections"), ("d", "127.0.0.0/8", False),
            ("s", "127.0.0.0/8", True), ("ctstate", "RELATED,ESTABLISHED,DNAT", True)), ("DROP",)))
    f_rules["KUBE-FORWARD"] = [
        Rule("KUBE-FORWARD", (("ctstate", "INVALID", False),), ("DROP",)),
        Rule("KUBE-FORWARD", (("comment", "kubernetes forwarding rules"), ("mark", f"{mark}/{mark}", False)),
             ("ACCEPT",)),
        Rule("KUBE-FORWARD", (("comment", "kubernetes forwarding conntrack rule"),
                              ("ctstate", "RELATED,ESTABLISHED", False)), ("ACCEPT",)),
    ]
    rs.kube_chains["filter"] = list(FILTER_CHAINS)
    others = sorted(c for c in nat if c not in NAT_FIXED)
    rs.kube_chains["nat"] = [*NAT_FIXED, *others]
    rs.tables["filter"] = dict(f_rules)
    rs.tables["nat"] = nat
    # Built-in chains with the jumps kube-proxy inserted (reverse of insertion order).
    for table, builtins in BUILTINS.items():
        for b in builtins:
            rs.tables[table][b] = []
    for t, builtin, target, extra, comment in JUMP_CHAINS:
        rs.tables[t][builtin].insert(0, Rule(builtin, (*extra, ("comment", comment)), ("jump", target)))
    for b in ("INPUT", "OUTPUT"):  # kubelet's own KUBE-FIREWALL jump, appended
        rs.tables["filter"][b].append(Rule(b, (), ("jump", "KUBE-FIREWALL")))
    return rs


def _service_port_rules(sp: ServicePort, node: str, st: dict[str, Any], large: bool,
                        f_rules: dict[str, list[_Rule]], nat: dict[str, list[_Rule]],
                        prob_cache: dict[int, Match], node_ip_addr: Any) -> None:
    spn = sp.spn
    proto = sp.proto
    owner = (f"{sp.namespace}/{sp.name}", sp.port_name)

    def Rule(chain: str, matches: tuple[Match, ...], target: Any) -> _Rule:  # noqa: N802 - tags the owner
        return _Rule(chain, matches, target, owner)

    h = names.port_hash(spn, proto)
    svc_c, svl_c, ext_c, fw_c = "KUBE-SVC-" + h, "KUBE-SVL-" + h, "KUBE-EXT-" + h, "KUBE-FW-" + h
    cat = categorize_endpoints(sp, node)
    has_endpoints = cat.has_any_endpoints
    uses_cluster = bool(cat.cluster) and sp.uses_cluster_endpoints
    uses_local = bool(cat.local) and sp.uses_local_endpoints

    internal_chain, has_internal = svc_c, has_endpoints
    if sp.internal_local:
        internal_chain = svl_c
        has_internal = has_endpoints and bool(cat.local)
    external_policy, has_external = svc_c, has_endpoints
    if sp.external_local:
        external_policy = svl_c
        has_external = has_endpoints and bool(cat.local)
    uses_ext = has_endpoints and sp.externally_accessible
    lb_chain = ext_c
    uses_fw = has_endpoints and bool(sp.lb_ips) and bool(sp.source_ranges)
    if uses_fw:
        lb_chain = fw_c

    if not has_endpoints:
        int_target, int_comment = "REJECT", f"{spn} has no endpoints"
        ext_target, ext_comment = "REJECT", f"{spn} has no endpoints"
    else:
        int_target, int_comment = "DROP", f"{spn} has no local endpoints"
        ext_target, ext_comment = "DROP", f"{spn} has no local endpoints"

    pm: Match = ("proto", proto)
    dport: Match = ("dport", sp.port)
    svc_rules = nat["KUBE-SERVICES"]
    ext_svcs = f_rules["KUBE-EXTERNAL-SERVICES"]

    if has_internal:
        svc_rules.append(Rule("KUBE-SERVICES", (("comment", f"{spn} cluster IP"), pm, ("d", sp.cluster_ip, False),
                                                dport), ("jump", internal_chain)))
    else:
        f_rules["KUBE-SERVICES"].append(Rule("KUBE-SERVICES", (("comment", int_comment), pm,
                                                               ("d", sp.cluster_ip, False), dport), (int_target,)))
    for ip in sp.external_ips:
        if has_endpoints:
            svc_rules.append(Rule("KUBE-SERVICES", (("comment", f"{spn} external IP"), pm, ("d", ip, False), dport),
                                  ("jump", ext_c)))
        if not has_external:
            ext_svcs.append(Rule("KUBE-EXTERNAL-SERVICES", (("comment", ext_comment), pm, ("d", ip, False), dport),
                                 (ext_target,)))
    for ip in sp.lb_ips:
        if has_endpoints:
            svc_rules.append(Rule("KUBE-SERVICES", (("comment", f"{spn} loadbalancer IP"), pm, ("d", ip, False),
                                                    dport), ("jump", lb_chain)))
        if uses_fw:
            f_rules["KUBE-PROXY-FIREWALL"].append(Rule("KUBE-PROXY-FIREWALL", (
                ("comment", f"{spn} traffic not accepted by {fw_c}"), pm, ("d", ip, False), dport), ("DROP",)))
    if not has_external:
        for ip in sp.lb_ips:
            ext_svcs.append(Rule("KUBE-EXTERNAL-SERVICES", (("comment", ext_comment), pm, ("d", ip, False), dport),
                                 (ext_target,)))
    if sp.node_port:
        if has_endpoints:
            nat["KUBE-NODEPORTS"].append(Rule("KUBE-NODEPORTS", (("comment", spn), pm, ("dport", sp.node_port)),
                                              ("jump", ext_c)))
        if not has_external:
            ext_svcs.append(Rule("KUBE-EXTERNAL-SERVICES", (("comment", ext_comment), ("addrtype", "dst", "LOCAL"),
                                                            pm, ("dport", sp.node_port)), (ext_target,)))
    if sp.health_check_node_port:
        f_rules["KUBE-NODEPORTS"].append(Rule("KUBE-NODEPORTS", (
            ("comment", f"{spn} health check node port"), ("proto", "tcp"), ("dport", sp.health_check_node_port)),
            ("ACCEPT",)))
    if not has_endpoints:
        return

    def chain(name: str) -> list[_Rule]:
        rules = nat.get(name)
        if rules is None:
            rules = nat[name] = []
        return rules

    if has_internal:
        base: tuple[Match, ...] = (("comment", f"{spn} cluster IP"), pm, ("d", sp.cluster_ip, False), dport)
        if st["masquerade_all"]:
            chain(internal_chain).append(Rule(internal_chain, base, ("jump", "KUBE-MARK-MASQ")))
        elif st["local_cidr"]:
            chain(internal_chain).append(Rule(internal_chain, (*base, ("s", st["local_cidr"], True)),
                                              ("jump", "KUBE-MARK-MASQ")))
    if uses_ext:
        er = chain(ext_c)
        if not sp.external_local:
            er.append(Rule(ext_c, (("comment", f"masquerade traffic for {spn} external destinations"),),
                           ("jump", "KUBE-MARK-MASQ")))
        else:
            if st["local_cidr"]:
                er.append(Rule(ext_c, (("comment", f"pod traffic for {spn} external destinations"),
                                       ("s", st["local_cidr"], False)), ("jump", svc_c)))
            er.append(Rule(ext_c, (("comment", f"masquerade LOCAL traffic for {spn} external destinations"),
                                   ("addrtype", "src", "LOCAL")), ("jump", "KUBE-MARK-MASQ")))
            er.append(Rule(ext_c, (("comment", f"route LOCAL traffic for {spn} external destinations"),
                                   ("addrtype", "src", "LOCAL")), ("jump", svc_c)))
        if has_external:
            er.append(Rule(ext_c, (), ("jump", external_policy)))
    if uses_fw:
        fr = chain(fw_c)
        lb_comment: Match = ("comment", f"{spn} loadbalancer IP")
        allow_node = False
        for src in sp.source_ranges:
            fr.append(Rule(fw_c, (lb_comment, ("s", src, False)), ("jump", ext_c)))
            try:
                allow_node = allow_node or node_ip_addr in ipaddress.ip_network(src, strict=False)
            except ValueError:
                continue
        if allow_node:
            for ip in sp.lb_ips:
                fr.append(Rule(fw_c, (lb_comment, ("s", ip, False)), ("jump", ext_c)))
        fr.append(Rule(fw_c, (("comment", f"other traffic to {spn} will be dropped by KUBE-PROXY-FIREWALL"),), None))

    seps = {e.address: names.sep_chain(spn, proto, e.address) for e in cat.all_reachable}
    if uses_cluster:
        _lb_rules(chain(svc_c), svc_c, spn, sp, cat.cluster, seps, large, prob_cache)
    if uses_local:
        _lb_rules(chain(svl_c), svl_c, spn, sp, cat.local, seps, large, prob_cache)
    # The per-endpoint rules dominate big rulesets: build their text directly (it is what
    # render_restore would print; test_proxy_iptables checks the two agree).
    sep_comment: tuple[Match, ...] = () if large else (("comment", spn),)
    ctext = "" if large else f" -m comment --comment {spn}"
    masq_t = ("jump", "KUBE-MARK-MASQ")
    for e in cat.all_reachable:
        sep = seps[e.address]
        dnat_m: tuple[Match, ...] = sep_comment
        rset = ""
        if sp.affinity_timeout is not None:
            dnat_m = (*dnat_m, ("rset", sep))
            rset = f" -m recent --name {sep} --set"
        nat[sep] = [
            _Rule(sep, (*sep_comment, ("s", e.ip, False)), masq_t, owner,
                  f"-A {sep}{ctext} -s {e.ip} -j KUBE-MARK-MASQ"),
            _Rule(sep, (*dnat_m, pm), ("DNAT", e.address), owner,
                  f"-A {sep}{ctext}{rset} -m {proto} -p {proto} -j DNAT --to-destination {e.address}"),
        ]


def _lb_rules(rules: list[_Rule], chain: str, spn: str, sp: ServicePort, eps: tuple[Any, ...],
              seps: dict[str, str], large: bool, prob_cache: dict[int, Match]) -> None:
    owner = (f"{sp.namespace}/{sp.name}", sp.port_name)

    def Rule(chain: str, matches: tuple[Match, ...], target: Any) -> _Rule:  # noqa: N802 - tags the owner
        return _Rule(chain, matches, target, owner)

    if sp.affinity_timeout is not None:
        for e in eps:
            c: tuple[Match, ...] = () if large else (("comment", f"{spn} -> {e.address}"),)
            rules.append(Rule(chain, (*c, ("rcheck", seps[e.address], sp.affinity_timeout)),
                              ("jump", seps[e.address])))
    n = len(eps)
    for i, e in enumerate(eps):
        sep = seps[e.address]
        if large:
            c, ctext = (), ""
        else:
            c, ctext = (("comment", f"{spn} -> {e.address}"),), f' -m comment --comment "{spn} -> {e.address}"'
        if i < n - 1:
            pm = probability_match(n - i, prob_cache)
            rules.append(_Rule(chain, (*c, pm), ("jump", sep), owner,
                               f"-A {chain}{ctext} -m statistic --mode random --probability {pm[1]} -j {sep}"))
        else:
            rules.append(_Rule(chain, c, ("jump", sep), owner, f"-A {chain}{ctext} -j {sep}"))
