"""kube-proxy's nftables mode (GA in v1.33): one table, verdict maps, O(1) dispatch.

Instead of a linear ``KUBE-SERVICES`` chain, kube-proxy keeps the table ``ip kube-proxy``
with *verdict maps*: ``service-ips`` maps ``daddr . protocol . dport`` to ``goto
service-…`` and ``service-nodeports`` maps ``protocol . port`` for packets to the node's
NodePort addresses.  A packet is matched by one hash lookup however many Services exist.
A service chain picks an endpoint with a single ``numgen random mod N vmap { 0 : goto
endpoint-…, … }`` rule, so every endpoint gets exactly 1/N.  Chain names are readable:
``service-<8 hash chars>-ns/svc/proto/port``.  Services without endpoints are entries in
``no-endpoint-services`` / ``no-endpoint-nodeports`` (``goto reject-chain`` or ``drop``),
``firewall-ips`` sends LoadBalancer IPs with source ranges to ``firewall-…`` chains, and
``cluster-ips-check`` rejects unknown ports of ClusterIPs and drops unallocated ones.

Differences from iptables mode that a real node shows too: NodePorts are served only on the
node's primary IP by default (``nodePortAddresses: ["primary"]``), never on 127.0.0.1.

**The layout changes with the release** (``docs/versions.md`` has the sources).  Up to v1.35
each endpoint has its own ``endpoint-…`` chain (hairpin masquerade, then ``dnat to``) and
marking for masquerade jumps to a ``mark-for-masquerade`` chain.  From v1.36 the mark is set
inline (``mark set mark or 0x4000``, PR #135800), one rule in ``services`` marks traffic to any
ClusterIP from outside the pod network, a service chain DNATs directly with ``dnat ip addr .
port to numgen random mod N map { 0 : IP . PORT , … }`` (no endpoint chains), and hairpin
connections (a pod reaching itself through its Service) are masqueraded through the
``hairpin-connections`` set (PR #136499).  Only what a published source shows is rendered:
session affinity, loadBalancerSourceRanges, ``Local`` traffic policies and ``masqueradeAll``
under v1.36+, and v1.37's single-endpoint Services (PR #140723, reworked by #140960), are
refused with an error naming what is missing.
"""

from __future__ import annotations

from typing import Any

from ..cluster import Cluster
from .config import ProxyConfigError, nodeport_ips, proxy_settings
from .endpoints import ServicePort, categorize_endpoints
from .names import nft_endpoint_base, nft_hashed_name, nft_service_base
from .ruleset import check_cidr, check_settings, checked_service_ports
from .trace import Trace

__all__ = ["NftablesRuleset", "NftRule", "build_nftables", "trace_nftables"]


T = "ip kube-proxy"
TABLE = T  # the table name steps report

# name -> (kind, type, comment)
SETS: dict[str, tuple[str, str, str]] = {
    "cluster-ips": ("set", "ipv4_addr", "Active ClusterIPs"),
    "nodeport-ips": ("set", "ipv4_addr", "IPs that accept NodePort traffic"),
    "firewall-ips": ("map", "ipv4_addr . inet_proto . inet_service : verdict",
                     "destinations that are subject to LoadBalancerSourceRanges"),
    "no-endpoint-nodeports": ("map", "inet_proto . inet_service : verdict",
                              "vmap to drop or reject packets to service nodeports with no endpoints"),
    "no-endpoint-services": ("map", "ipv4_addr . inet_proto . inet_service : verdict",
                             "vmap to drop or reject packets to services with no endpoints"),
    "service-ips": ("map", "ipv4_addr . inet_proto . inet_service : verdict",
                    "ClusterIP, ExternalIP and LoadBalancer IP traffic"),
    "service-nodeports": ("map", "inet_proto . inet_service : verdict", "NodePort traffic"),
}

# base chain -> (type, hook, priority)
BASE_CHAINS: dict[str, tuple[str, str, int]] = {
    "filter-prerouting-pre-dnat": ("filter", "prerouting", -110),
    "filter-output-pre-dnat": ("filter", "output", -110),
    "filter-forward": ("filter", "forward", 0),
    "filter-input": ("filter", "input", 0),
    "filter-output": ("filter", "output", 0),
    "nat-output": ("nat", "output", -100),
    "nat-postrouting": ("nat", "postrouting", 100),
    "nat-prerouting": ("nat", "prerouting", -100),
}
PLAIN_CHAINS = ("cluster-ips-check", "firewall-check", "mark-for-masquerade", "masquerading",
                "nodeport-endpoints-check", "reject-chain", "services", "service-endpoints-check")
#: v1.36+: the set the ``masquerading`` chain checks for hairpin connections (PR #136499;
#: type and comment as ``nft list`` prints them on a v1.36.2 node, docs/versions.md).
HAIRPIN_SET = ("hairpin-connections", ("set", "ipv4_addr . ipv4_addr . inet_proto . inet_service",
                                       "service hairpin connections"))
#: The first release with the v1.36 layout; the first with v1.37's single-endpoint change.
LAYOUT_136 = 36
SINGLE_ENDPOINT_137 = 37
# nft prints standard priorities by name where the hook allows it.
_PRIO_NAMES = {("prerouting", -110): "dstnat - 10", ("prerouting", -100): "dstnat", ("postrouting", 100): "srcnat"}


class NftRule:
    """One nft rule: its text and the expressions the tracer evaluates."""

    __slots__ = ("chain", "text", "exprs", "owner")

    def __init__(self, chain: str, text: str, exprs: tuple[tuple[Any, ...], ...],
                 owner: tuple[str, str] | None = None):
        self.chain = chain
        self.text = text
        self.exprs = exprs
        self.owner = owner

    def __repr__(self) -> str:
        return f"NftRule({self.chain!r}, {self.text!r})"


def _timeout(seconds: int) -> str:
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"


class NftablesRuleset:
    """The ``ip kube-proxy`` table: sets and maps with their elements, chains with rules."""

    mode = "nftables"

    def __init__(self, node: str, node_ip: str, minor: int = 33):
        self.node = node
        self.node_ip = node_ip
        self.minor = minor  # the Kubernetes release 1.minor whose kube-proxy wrote these rules
        self.view = "list"
        # v1.36+ adds the hairpin set (listed first on a real node)
        self.sets: dict[str, tuple[str, str, str]] = (
            {HAIRPIN_SET[0]: HAIRPIN_SET[1], **SETS} if minor >= LAYOUT_136 else dict(SETS))
        self.elements: dict[str, list[tuple[str, Any, Any]]] = {n: [] for n in self.sets}  # (text, key, verdict)
        self.affinity_sets: dict[str, int] = {}
        self.chains: dict[str, list[NftRule]] = {}
        self.chain_comments: dict[str, str] = {"reject-chain": "helper for @no-endpoint-services / @no-endpoint-nodeports"}
        self._lookup: dict[str, dict[Any, Any]] = {}
        self._cluster_ips: set[str] = set()

    def lookup(self, name: str) -> dict[Any, Any]:
        """Map/set ``name`` as a dict key → verdict (built on first use)."""
        d = self._lookup.get(name)
        if d is None:
            d = {k: v for _, k, v in self.elements[name]}
            self._lookup[name] = d
        return d

    def add(self, chain: str, text: str, *exprs: tuple[Any, ...], owner: tuple[str, str] | None = None) -> None:
        self.chains.setdefault(chain, []).append(NftRule(chain, text, exprs, owner))

    # ------------------------------------------------------------------- views
    def nft_input(self) -> str:
        """The transaction kube-proxy sends with ``nft -f`` (knftables syntax)."""
        lines = [f'add table {T} {{ comment "rules for kube-proxy" ; }}']
        for name, (kind, typ, comment) in self.sets.items():
            lines.append(f'add {kind} {T} {name} {{ type {typ} ; comment "{comment}" ; }}')
        for name, secs in self.affinity_sets.items():
            lines.append(f"add set {T} {name} {{ type ipv4_addr ; flags dynamic,timeout ; timeout {secs}s ; }}")
        for name in self.chains:
            if name in BASE_CHAINS:
                typ, hook, prio = BASE_CHAINS[name]
                lines.append(f"add chain {T} {name} {{ type {typ} hook {hook} priority {prio} ; }}")
            elif name in self.chain_comments:
                lines.append(f'add chain {T} {name} {{ comment "{self.chain_comments[name]}" ; }}')
            else:
                lines.append(f"add chain {T} {name}")
        for name, rules in self.chains.items():
            lines.extend(f"add rule {T} {name} {r.text}" for r in rules)
        for name in self.sets:
            for text, _, _ in self.elements[name]:
                lines.append(f"add element {T} {name} {{ {text} }}")
        return "\n".join(lines) + "\n"

    def list_text(self) -> str:
        """What ``nft list table ip kube-proxy`` prints on the node."""
        out = [f"table {T} {{", '\tcomment "rules for kube-proxy"']
        for name, (kind, typ, comment) in self.sets.items():
            out.append(f"\t{kind} {name} {{")
            out.append(f"\t\ttype {typ}")
            out.append(f'\t\tcomment "{comment}"')
            els = self.elements[name]
            if els:
                out.append("\t\telements = { " + ",\n\t\t\t     ".join(t for t, _, _ in els) + " }")
            out.append("\t}")
            out.append("")
        for name, secs in self.affinity_sets.items():
            out += [f"\tset {name} {{", "\t\ttype ipv4_addr", "\t\tsize 65535", "\t\tflags dynamic,timeout",
                    f"\t\ttimeout {_timeout(secs)}", "\t}", ""]
        for name, rules in self.chains.items():
            out.append(f"\tchain {name} {{")
            if name in BASE_CHAINS:
                typ, hook, prio = BASE_CHAINS[name]
                out.append(f"\t\ttype {typ} hook {hook} priority {_PRIO_NAMES.get((hook, prio), prio if prio else 'filter')}; policy accept;")
            if name in self.chain_comments:
                out.append(f'\t\tcomment "{self.chain_comments[name]}"')
            out.extend(f"\t\t{r.text}" for r in rules)
            out.append("\t}")
            out.append("")
        if out[-1] == "":
            out.pop()
        out.append("}")
        return "\n".join(out) + "\n"

    def text(self, view: str | None = None) -> str:
        """``list`` (default) or ``input``."""
        return self.nft_input() if (view or self.view) == "input" else self.list_text()

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:
        n = sum(len(r) for r in self.chains.values())
        e = sum(len(v) for v in self.elements.values())
        return f"<NftablesRuleset node {self.node!r}: {len(self.chains)} chains, {n} rules, {e} map/set elements>"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text())}</pre>"


def build_nftables(cluster: Cluster, node: str, settings: dict[str, Any] | None = None) -> NftablesRuleset:
    """Render the ``ip kube-proxy`` table kube-proxy on ``node`` programs."""
    st = settings or proxy_settings(cluster, node, "nftables")
    check_settings(st)
    ports = checked_service_ports(cluster)
    minor = int(st.get("minor", 33))
    rs = NftablesRuleset(node, st["node_ip"], minor)
    mark = st["mark"]
    cidr = st["local_cidr"]
    new = minor >= LAYOUT_136
    if new and st["masquerade_all"]:
        raise _not_modelled(minor, "nftables.masqueradeAll: true",
                            "where kube-proxy marks ClusterIP traffic with masqueradeAll")
    for name in sorted([*PLAIN_CHAINS, *BASE_CHAINS]):
        if not (new and name == "mark-for-masquerade"):  # inlined from v1.36 (PR #135800)
            rs.chains[name] = []
    svc_cidr = check_cidr(f'cluster "{cluster.topology.name}"', "networking.serviceSubnet", cluster.topology.service_subnet)
    rs.add("cluster-ips-check", 'ip daddr @cluster-ips reject comment "Reject traffic to invalid ports of ClusterIPs"',
           ("daddr_in_set", "cluster-ips"), ("reject",))
    rs.add("cluster-ips-check", f'ip daddr {{ {svc_cidr} }} drop comment "Drop traffic to unallocated ClusterIPs"',
           ("daddr_in", (svc_cidr,)), ("drop",))
    rs.add("filter-prerouting-pre-dnat", "ct state new jump firewall-check", ("jump", "firewall-check"))
    rs.add("filter-output-pre-dnat", "ct state new jump firewall-check", ("jump", "firewall-check"))
    rs.add("filter-forward", "ct state new jump service-endpoints-check", ("jump", "service-endpoints-check"))
    rs.add("filter-forward", "ct state new jump cluster-ips-check", ("jump", "cluster-ips-check"))
    rs.add("filter-input", "ct state new jump nodeport-endpoints-check", ("jump", "nodeport-endpoints-check"))
    rs.add("filter-input", "ct state new jump service-endpoints-check", ("jump", "service-endpoints-check"))
    rs.add("filter-output", "ct state new jump service-endpoints-check", ("jump", "service-endpoints-check"))
    rs.add("filter-output", "ct state new jump cluster-ips-check", ("jump", "cluster-ips-check"))
    rs.add("firewall-check", "ip daddr . meta l4proto . th dport vmap @firewall-ips", ("vmap3", "firewall-ips"))
    if new:
        # one rule masquerades marked packets (clearing the mark first), one hairpin connections
        rs.add("masquerading", f"mark and {mark} != 0 mark set mark xor {mark} masquerade fully-random",
               ("mark_set",), ("mark_xor",), ("masquerade",))
        rs.add("masquerading", "ct status dnat ip saddr . ip daddr . meta l4proto . th dport @hairpin-connections "
               "masquerade fully-random", ("hairpin", HAIRPIN_SET[0]), ("masquerade",))
    else:
        rs.add("mark-for-masquerade", f"mark set mark or {mark}", ("mark_or",))
        rs.add("masquerading", f"mark and {mark} == 0 return", ("mark_clear",), ("return",))
        rs.add("masquerading", f"mark set mark xor {mark}", ("mark_xor",))
        rs.add("masquerading", "masquerade fully-random", ("masquerade",))
    rs.add("nat-output", "jump services", ("jump", "services"))
    rs.add("nat-postrouting", "jump masquerading", ("jump", "masquerading"))
    rs.add("nat-prerouting", "jump services", ("jump", "services"))
    rs.add("nodeport-endpoints-check", "ip daddr @nodeport-ips meta l4proto . th dport vmap @no-endpoint-nodeports",
           ("daddr_in_set", "nodeport-ips"), ("vmap2", "no-endpoint-nodeports"))
    rs.add("reject-chain", "reject", ("reject",))
    if new and cidr:
        # v1.36+: one rule for every ClusterIP instead of one per service chain
        rs.add("services", f"ip daddr @cluster-ips ip saddr != {cidr} mark set mark or {mark} "
               'comment "masquerade clusterIP traffic from outside cluster"',
               ("daddr_in_set", "cluster-ips"), ("saddr_not", cidr), ("mark_or",))
    rs.add("services", "ip daddr . meta l4proto . th dport vmap @service-ips", ("vmap3", "service-ips"))
    rs.add("services", "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
           ("daddr_in_set", "nodeport-ips"), ("vmap2", "service-nodeports"))
    rs.add("service-endpoints-check", "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",
           ("vmap3", "no-endpoint-services"))
    st_np = dict(st)
    if not st_np["nodeport_addresses"]:
        st_np["nodeport_addresses"] = ["primary"]
    for ip in nodeport_ips(st_np, default_all=False) or []:
        if ip != "127.0.0.1":  # nftables mode never serves NodePorts on localhost
            rs.elements["nodeport-ips"].append((ip, ip, True))
    for sp in ports:
        if new:
            _service_136(rs, sp, node, mark, st.get("zone", ""), bool(st.get("prefer_same_node")))
        else:
            _service(rs, sp, node, cidr, st["masquerade_all"], st.get("zone", ""), bool(st.get("prefer_same_node")))
    return rs


def _not_modelled(minor: int, what: str, missing: str) -> ProxyConfigError:
    """The error for a v1.36+ nftables combination kubelearn has no upstream source for."""
    return ProxyConfigError(
        f"kube-proxy v1.{minor}'s nftables rules for {what} are not modelled by kubelearn: no published "
        f"kube-proxy test or dump shows {missing} in the v1.36+ layout (no endpoint chains; docs/versions.md). "
        "Use kubeProxyMode iptables or ipvs, or a kindest/node:v1.35 image, whose nftables rules are modelled")


def _service_136(rs: NftablesRuleset, sp: ServicePort, node: str, mark: str, zone: str = "",
                 prefer_same_node: bool = False) -> None:
    """One service port in the v1.36+ layout: no endpoint chains, ``numgen … map`` DNAT.

    Rendered from kube-proxy's own test output where it exists (TestOverallNFTablesRules' svc1
    as quoted in PR #140362's diff) and a ``nft list`` of a v1.36.2 node; everything else
    is refused by :func:`_not_modelled` rather than guessed.
    """
    owner = (f"{sp.namespace}/{sp.name}", sp.port_name)
    spn = sp.spn
    where = f'Service "{sp.namespace}/{sp.name}" port "{sp.port_name or sp.port}"'
    if sp.affinity_timeout is not None:
        raise _not_modelled(rs.minor, f"{where} (sessionAffinity: ClientIP)", "how session affinity is kept")
    if sp.internal_local or sp.external_local:
        raise _not_modelled(rs.minor, f"{where} (a Local traffic policy)", "the local-… chains")
    if sp.lb_ips and sp.source_ranges:
        raise _not_modelled(rs.minor, f"{where} (loadBalancerSourceRanges)", "the firewall-… chains")
    base = nft_service_base(sp.namespace, sp.name, sp.protocol, sp.port_name)
    svc_c = nft_hashed_name("service", base)
    ext_c = nft_hashed_name("external", base)
    proto = sp.proto
    cat = categorize_endpoints(sp, node, zone, prefer_same_node)
    has = cat.has_any_endpoints and bool(cat.cluster)

    def elem(mapname: str, key: Any, keytext: str, target: str | None) -> None:
        if target is None:  # no endpoints: reject (kube-proxy's no-endpoint maps)
            rs.elements[mapname].append((f'{keytext} comment "{spn}" : goto reject-chain', key,
                                         ("goto", "reject-chain", owner)))
        else:
            rs.elements[mapname].append((f"{keytext} : goto {target}", key, ("goto", target, owner)))

    if sp.cluster_ip not in rs._cluster_ips:
        rs._cluster_ips.add(sp.cluster_ip)
        rs.elements["cluster-ips"].append((sp.cluster_ip, sp.cluster_ip, True))
    k3 = f"{sp.cluster_ip} . {proto} . {sp.port}"
    elem("service-ips" if has else "no-endpoint-services", (sp.cluster_ip, proto, sp.port), k3, svc_c if has else None)
    for ip in (*sp.external_ips, *sp.lb_ips):
        elem("service-ips" if has else "no-endpoint-services", (ip, proto, sp.port), f"{ip} . {proto} . {sp.port}",
             ext_c if has else None)
    if sp.node_port:
        elem("service-nodeports" if has else "no-endpoint-nodeports", (proto, sp.node_port),
             f"{proto} . {sp.node_port}", ext_c if has else None)
    if not has:
        return
    eps = cat.cluster
    if rs.minor >= SINGLE_ENDPOINT_137 and len(eps) == 1:
        raise _not_modelled(rs.minor, f"{where} (a single endpoint)",
                            "the final form of the single-endpoint DNAT rule (PR #140723, reworked by #140960)")
    rs.chains.setdefault(svc_c, [])
    pairs = " , ".join(f"{i} : {e.ip} . {e.port}" for i, e in enumerate(eps))
    rs.add(svc_c, f"meta l4proto {proto} dnat ip addr . port to numgen random mod {len(eps)} map {{ {pairs} }}",
           ("l4proto", proto), ("dnat_numgen", tuple(e.address for e in eps)), owner=owner)
    if sp.externally_accessible:
        rs.chains.setdefault(ext_c, [])
        rs.add(ext_c, f"mark set mark or {mark}", ("mark_or",), owner=owner)
        rs.add(ext_c, f"goto {svc_c}", ("goto", svc_c), owner=owner)
    hairpin = rs.lookup(HAIRPIN_SET[0])
    for e in cat.all_reachable:
        key = (e.ip, e.ip, proto, e.port)
        if key not in hairpin:  # a set: one element per endpoint however many Services use it
            hairpin[key] = True
            rs.elements[HAIRPIN_SET[0]].append((f"{e.ip} . {e.ip} . {proto} . {e.port}", key, True))


def _service(rs: NftablesRuleset, sp: ServicePort, node: str, cidr: str, masq_all: bool,
             zone: str = "", prefer_same_node: bool = False) -> None:
    owner = (f"{sp.namespace}/{sp.name}", sp.port_name)
    base = nft_service_base(sp.namespace, sp.name, sp.protocol, sp.port_name)
    svc_c = nft_hashed_name("service", base)
    local_c = nft_hashed_name("local", base)
    ext_c = nft_hashed_name("external", base)
    fw_c = nft_hashed_name("firewall", base)
    proto = sp.proto
    cat = categorize_endpoints(sp, node, zone, prefer_same_node)
    has = cat.has_any_endpoints
    internal_c, has_int = (local_c, has and bool(cat.local)) if sp.internal_local else (svc_c, has)
    external_pol, has_ext = (local_c, has and bool(cat.local)) if sp.external_local else (svc_c, has)
    uses_fw = has and bool(sp.lb_ips) and bool(sp.source_ranges)
    no_int = ("reject-chain" if not has else "drop")
    no_ext = no_int
    spn = sp.spn

    def elem(mapname: str, key: Any, keytext: str, verdict: str, comment: bool = False) -> None:
        text = keytext + (f' comment "{spn}"' if comment else "") + f" : {verdict}"
        v: tuple[Any, ...] = ("goto", verdict[5:], owner) if verdict.startswith("goto ") else ("drop", None, owner)
        rs.elements[mapname].append((text, key, v))

    def verdict_of(target: str) -> str:
        return f"goto {target}" if target != "drop" else "drop"

    # one element per IP: a Service with several ports adds its ClusterIP once (a set, as nft lists it)
    if sp.cluster_ip not in rs._cluster_ips:
        rs._cluster_ips.add(sp.cluster_ip)
        rs.elements["cluster-ips"].append((sp.cluster_ip, sp.cluster_ip, True))
    k3 = (sp.cluster_ip, proto, sp.port)
    if has_int:
        elem("service-ips", k3, f"{sp.cluster_ip} . {proto} . {sp.port}", f"goto {internal_c}")
    else:
        elem("no-endpoint-services", k3, f"{sp.cluster_ip} . {proto} . {sp.port}", verdict_of(no_int), True)
    for ip in (*sp.external_ips, *sp.lb_ips):
        key = (ip, proto, sp.port)
        if has:
            elem("service-ips", key, f"{ip} . {proto} . {sp.port}", f"goto {ext_c}")
        if not has_ext:
            elem("no-endpoint-services", key, f"{ip} . {proto} . {sp.port}", verdict_of(no_ext), True)
    if uses_fw:
        for ip in sp.lb_ips:
            elem("firewall-ips", (ip, proto, sp.port), f"{ip} . {proto} . {sp.port}", f"goto {fw_c}")
    if sp.node_port:
        if has:
            elem("service-nodeports", (proto, sp.node_port), f"{proto} . {sp.node_port}", f"goto {ext_c}")
        if not has_ext:
            elem("no-endpoint-nodeports", (proto, sp.node_port), f"{proto} . {sp.node_port}", verdict_of(no_ext), True)
    if not has:
        return

    def add(chain: str, text: str, *exprs: tuple[Any, ...]) -> None:
        rs.add(chain, text, *exprs, owner=owner)

    ep_names = {e.address: nft_endpoint_base(base, e.ip, e.port) for e in cat.all_reachable}
    ep_chain = {a: nft_hashed_name("endpoint", b) for a, b in ep_names.items()}
    aff_set = {a: nft_hashed_name("affinity", b) for a, b in ep_names.items()}

    def policy_chain(name: str, eps: tuple[Any, ...], internal: bool) -> None:
        rs.chains.setdefault(name, [])
        if internal:
            if masq_all:  # kube-proxy matches the port too here (not in the CIDR rule below)
                add(name, f"ip daddr {sp.cluster_ip} {proto} dport {sp.port} jump mark-for-masquerade",
                    ("daddr", sp.cluster_ip), ("dport", proto, sp.port), ("jump", "mark-for-masquerade"))
            elif cidr:
                add(name, f"ip daddr {sp.cluster_ip} ip saddr != {cidr} jump mark-for-masquerade",
                    ("daddr", sp.cluster_ip), ("saddr_not", cidr), ("jump", "mark-for-masquerade"))
        if sp.affinity_timeout is not None:
            for e in eps:
                add(name, f"ip saddr @{aff_set[e.address]} goto {ep_chain[e.address]}",
                    ("saddr_in_set", aff_set[e.address]), ("goto", ep_chain[e.address]))
        vm = " , ".join(f"{i} : goto {ep_chain[e.address]}" for i, e in enumerate(eps))
        add(name, f"numgen random mod {len(eps)} vmap {{ {vm} }}",
            ("numgen", tuple(ep_chain[e.address] for e in eps)))

    if sp.uses_cluster_endpoints and cat.cluster:
        policy_chain(svc_c, cat.cluster, internal_c == svc_c and has_int)
    if sp.uses_local_endpoints and cat.local:
        policy_chain(local_c, cat.local, internal_c == local_c and has_int)
    if sp.externally_accessible:
        rs.chains.setdefault(ext_c, [])
        if not sp.external_local:
            add(ext_c, "jump mark-for-masquerade", ("jump", "mark-for-masquerade"))
        else:
            if cidr:
                add(ext_c, f'ip saddr {cidr} goto {svc_c} comment "short-circuit pod traffic"',
                    ("saddr", cidr), ("goto", svc_c))
            add(ext_c, 'fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"',
                ("fib_saddr_local",), ("jump", "mark-for-masquerade"))
            add(ext_c, f'fib saddr type local goto {svc_c} comment "short-circuit local traffic"',
                ("fib_saddr_local",), ("goto", svc_c))
        if has_ext:
            add(ext_c, f"goto {external_pol}", ("goto", external_pol))
    for e in cat.all_reachable:
        c = ep_chain[e.address]
        rs.chains.setdefault(c, [])
        add(c, f"ip saddr {e.ip} jump mark-for-masquerade", ("saddr", e.ip), ("jump", "mark-for-masquerade"))
        if sp.affinity_timeout is not None:
            rs.affinity_sets[aff_set[e.address]] = sp.affinity_timeout
            add(c, f"update @{aff_set[e.address]} {{ ip saddr }}", ("update", sp.affinity_timeout))
        add(c, f"meta l4proto {proto} dnat to {e.address}", ("l4proto", proto), ("dnat", e.address))
    if uses_fw:
        rs.chains.setdefault(fw_c, [])
        add(fw_c, f"ip saddr != {{ {', '.join(sp.source_ranges)} }} drop",
            ("saddr_not_any", sp.source_ranges), ("drop",))


def trace_nftables(rs: NftablesRuleset, src: str, dst: str, protocol: str = "TCP") -> Trace:
    """Trace a new connection through the nftables ruleset (see :mod:`kubelearn.proxy.nft_trace`)."""
    from .nft_trace import trace_nft

    return trace_nft(rs, src, dst, protocol)
