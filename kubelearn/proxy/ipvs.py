"""kube-proxy's IPVS mode: the kernel's load balancer, plus a little iptables and ipset.

In IPVS mode every service address (ClusterIP, externalIP, LB IP, and each node IP with a
NodePort) becomes an IPVS *virtual server* with the Service's endpoints as *real servers*;
``ipvsadm -Ln`` lists them.  The scheduler comes from ``ipvs.scheduler`` (``rr`` when empty;
also ``wrr``, ``lc``, ``wlc``, ``lblc``, ``lblcr``, ``sh``, ``dh``, ``sed``, ``nq``, ``mh``)
and ClientIP affinity becomes ``persistent <timeout>``.  The service IPs are bound to the
dummy interface ``kube-ipvs0`` so the node accepts them.  IPVS cannot masquerade by itself,
so kube-proxy keeps a few iptables rules that match *ipsets* (``KUBE-CLUSTER-IP``,
``KUBE-NODE-PORT-TCP``, ``KUBE-LOOP-BACK``…) instead of one rule per service.

NodePorts get one virtual server per node address (every non-loopback IPv4 address of the
Node's ``status.addresses``, or those inside ``nodePortAddresses``); SCTP NodePorts are kept
in ``KUBE-NODE-PORT-SCTP-HASH`` (``hash:ip,port``, one entry per node address) since
``bitmap:port`` cannot tell addresses apart.  ``KUBE-LOOP-BACK`` lists only this node's
endpoints (only they can hairpin).  The filter table holds ``KUBE-FORWARD``, the health-check
``ACCEPT`` in ``KUBE-NODE-PORT``, the ``loadBalancerSourceRanges`` firewall and
``KUBE-IPVS-FILTER`` (refuses new connections to other ports of addresses on ``kube-ipvs0``).

Simplifications: long-run shares are reported as 1/n for every scheduler (connection-count
schedulers depend on live load, hash schedulers on the client); externalTrafficPolicy=Local
is modelled by giving the external virtual servers only local real servers; a virtual
server without real servers is reported as DROP.  The two external-IP ``ACCEPT`` rules that
use ``-m physdev`` are not written, and the tracer walks the nat table and IPVS only (not the
filter table of this mode).  IPVS mode is deprecated since v1.35.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ..cluster import Cluster
from .config import proxy_settings
from .endpoints import categorize_endpoints
from .iptables import IptablesRuleset
from .ruleset import Rule, chain_lines, check_settings, checked_service_ports

__all__ = ["SCHEDULERS", "IpvsRuleset", "VirtualServer", "build_ipvs"]

SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh")


class VirtualServer:
    """One IPVS virtual server and its real servers."""

    __slots__ = ("protocol", "address", "port", "scheduler", "persistent", "reals", "owner")

    def __init__(self, protocol: str, address: str, port: int, scheduler: str, persistent: int | None,
                 reals: list[str], owner: tuple[str, str]):
        self.protocol = protocol
        self.address = address
        self.port = port
        self.scheduler = scheduler
        self.persistent = persistent
        self.reals = reals
        self.owner = owner

    def text(self) -> str:
        head = f"{self.protocol:<5}{self.address}:{self.port} {self.scheduler}"
        if self.persistent is not None:
            head += f" persistent {self.persistent}"
        lines = [head]
        lines += [f"  -> {r:<26}Masq    1      0          0" for r in self.reals]
        return "\n".join(lines)


class IpvsRuleset(IptablesRuleset):
    """IPVS virtual servers, the ipsets and the supporting iptables rules of one node."""

    mode = "ipvs"

    def __init__(self, node: str, node_ip: str, settings: dict[str, Any]):
        super().__init__(node, node_ip, settings)
        self.virtual_servers: dict[tuple[str, str, int], VirtualServer] = {}
        self.node_addresses: list[str] = [node_ip]
        self.view = "ipvsadm"

    def ipvsadm_text(self) -> str:
        """``ipvsadm -Ln``."""
        lines = ["IP Virtual Server version 1.2.1 (size=4096)", "Prot LocalAddress:Port Scheduler Flags",
                 "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn"]
        for key in sorted(self.virtual_servers):
            lines.append(self.virtual_servers[key].text())
        return "\n".join(lines) + "\n"

    def ipset_text(self) -> str:
        """The ipset entries (``ipset list`` members, one ``add`` line each)."""
        out = []
        for name in sorted(self.ipsets):
            out.append(f"create {name} {_SET_TYPES[name]}")
            for entry in sorted(self.ipsets[name]):
                out.append(f"add {name} {_entry(name, entry)}")
        return "\n".join(out) + "\n"

    def restore_text(self) -> str:
        """The rules kube-proxy writes in IPVS mode (``iptables-restore`` input: nat, then filter)."""
        lines: list[str] = []
        for table in ("nat", "filter"):
            lines.extend(chain_lines(table, self.kube_chains[table]))
            for c in self.kube_chains[table]:
                lines.extend(r.text for r in self.tables[table][c])
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def iptables_restore_input(self) -> str:
        """``iptables-restore --noflush`` input including the built-in chain jumps (needs the ipsets)."""
        lines: list[str] = []
        for table, builtins in (("nat", ("PREROUTING", "OUTPUT", "POSTROUTING")), ("filter", ("INPUT", "FORWARD", "OUTPUT"))):
            lines.extend(chain_lines(table, self.kube_chains[table]))
            for c in self.kube_chains[table]:
                lines.extend(r.text for r in self.tables[table][c])
            for b in builtins:
                # -I <chain> 1 in reverse stored order leaves them in the stored order.
                lines.extend("-I " + r.text[3:].replace(f"{b} ", f"{b} 1 ", 1) for r in reversed(self.tables[table].get(b, [])))
            lines.append("COMMIT")
        return "\n".join(lines) + "\n"

    def ipset_restore_input(self) -> str:
        """``ipset restore`` input creating the sets kube-proxy uses."""
        return self.ipset_text()

    def text(self, view: str | None = None) -> str:
        """``ipvsadm -Ln``, then the ipsets, then the iptables rules (restore form)."""
        return ("# ipvsadm -Ln\n" + self.ipvsadm_text() + "\n# ipset save\n" + self.ipset_text()
                + "\n# iptables-restore input\n" + self.restore_text())

    def __repr__(self) -> str:
        return f"<IpvsRuleset node {self.node!r}: {len(self.virtual_servers)} virtual servers>"


# ipset.go / ipsetInfo (pkg/proxy/ipvs): name -> type, and the comment rules quote.
_SET_TYPES = {"KUBE-CLUSTER-IP": "hash:ip,port", "KUBE-EXTERNAL-IP": "hash:ip,port",
              "KUBE-LOAD-BALANCER": "hash:ip,port", "KUBE-LOOP-BACK": "hash:ip,port,ip",
              "KUBE-NODE-PORT-TCP": "bitmap:port range 0-65535", "KUBE-NODE-PORT-UDP": "bitmap:port range 0-65535",
              "KUBE-NODE-PORT-SCTP-HASH": "hash:ip,port", "KUBE-EXTERNAL-IP-LOCAL": "hash:ip,port",
              "KUBE-LOAD-BALANCER-LOCAL": "hash:ip,port", "KUBE-NODE-PORT-LOCAL-TCP": "bitmap:port range 0-65535",
              "KUBE-NODE-PORT-LOCAL-UDP": "bitmap:port range 0-65535",
              "KUBE-NODE-PORT-LOCAL-SCTP-HASH": "hash:ip,port",
              "KUBE-LOAD-BALANCER-FW": "hash:ip,port", "KUBE-LOAD-BALANCER-SOURCE-IP": "hash:ip,port,ip",
              "KUBE-LOAD-BALANCER-SOURCE-CIDR": "hash:ip,port,net",
              "KUBE-HEALTH-CHECK-NODE-PORT": "bitmap:port range 0-65535", "KUBE-IPVS-IPS": "hash:ip"}
_SET_COMMENTS = {
    "KUBE-LOOP-BACK": "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose",
    "KUBE-CLUSTER-IP": "Kubernetes service cluster ip + port for masquerade purpose",
    "KUBE-EXTERNAL-IP": "Kubernetes service external ip + port for masquerade and filter purpose",
    "KUBE-EXTERNAL-IP-LOCAL": "Kubernetes service external ip + port with externalTrafficPolicy=local",
    "KUBE-LOAD-BALANCER": "Kubernetes service lb portal",
    "KUBE-LOAD-BALANCER-LOCAL": "Kubernetes service load balancer ip + port with externalTrafficPolicy=local",
    "KUBE-LOAD-BALANCER-FW": "Kubernetes service load balancer ip + port for load balancer with sourceRange",
    "KUBE-LOAD-BALANCER-SOURCE-IP": "Kubernetes service load balancer ip + port + source IP for packet filter purpose",
    "KUBE-LOAD-BALANCER-SOURCE-CIDR": "Kubernetes service load balancer ip + port + source cidr for packet filter purpose",
    "KUBE-NODE-PORT-TCP": "Kubernetes nodeport TCP port for masquerade purpose",
    "KUBE-NODE-PORT-LOCAL-TCP": "Kubernetes nodeport TCP port with externalTrafficPolicy=local",
    "KUBE-NODE-PORT-UDP": "Kubernetes nodeport UDP port for masquerade purpose",
    "KUBE-NODE-PORT-LOCAL-UDP": "Kubernetes nodeport UDP port with externalTrafficPolicy=local",
    "KUBE-NODE-PORT-SCTP-HASH": "Kubernetes nodeport SCTP port for masquerade purpose with type 'hash ip:port'",
    "KUBE-NODE-PORT-LOCAL-SCTP-HASH": "Kubernetes nodeport SCTP port with externalTrafficPolicy=local with type 'hash ip:port'",
    "KUBE-HEALTH-CHECK-NODE-PORT": "Kubernetes health check node port",
    "KUBE-IPVS-IPS": "Addresses on the ipvs interface",
}


def _entry(name: str, entry: tuple[Any, ...] | str) -> str:
    if isinstance(entry, str):
        return entry
    if len(entry) == 1:  # hash:ip
        return str(entry[0])
    ip, pp = entry[0], entry[1]
    proto, port = pp.split(":")
    return f"{ip},{proto}:{port}" + (f",{entry[2]}" if len(entry) > 2 else "")


def _nodeport_ips(st: dict[str, Any]) -> list[str]:
    """The node addresses that get NodePort virtual servers.

    With ``nodePortAddresses`` empty, every local address but loopback (kube-proxy's
    ``GetAllLocalAddressesExcept("kube-ipvs0")`` filtered by ``isValidForSet``); otherwise the
    addresses inside the given CIDRs (``primary``: the node's InternalIP), loopback left out.
    """
    addrs = list(st.get("node_addresses") or [st["node_ip"]])
    wanted = st["nodeport_addresses"]
    if not wanted:
        return addrs
    out: list[str] = []
    for a in addrs:
        ip = ipaddress.ip_address(a)
        for w in wanted:
            if (w == "primary" and a == st["node_ip"]) or (
                    w != "primary" and ":" not in w and ip in ipaddress.ip_network(w, strict=False)):
                out.append(a)
                break
    return out


def build_ipvs(cluster: Cluster, node: str, settings: dict[str, Any] | None = None) -> IpvsRuleset:
    """The IPVS state kube-proxy on ``node`` programs (``syncProxyRules`` and ``writeIptablesRules``
    of ``pkg/proxy/ipvs/proxier.go``)."""
    st = settings or proxy_settings(cluster, node, "ipvs")
    sched = st["scheduler"]
    if sched not in SCHEDULERS:
        from .config import ProxyConfigError

        raise ProxyConfigError(f'invalid IPVS scheduler "{sched}": must be one of {", ".join(SCHEDULERS)}')
    check_settings(st)
    ports = checked_service_ports(cluster)
    rs = IpvsRuleset(node, st["node_ip"], st)
    node_addresses = list(st.get("node_addresses") or [st["node_ip"]])
    rs.node_addresses = node_addresses
    np_ips = _nodeport_ips(st)
    sets: dict[str, set[Any]] = {k: set() for k in _SET_TYPES}
    bound: set[str] = set()  # addresses on kube-ipvs0 (KUBE-IPVS-IPS)
    lb_no_node_access: list[tuple[str, str, int]] = []
    for sp in ports:
        cat = categorize_endpoints(sp, node, st.get("zone", ""), bool(st.get("prefer_same_node")))
        owner = (f"{sp.namespace}/{sp.name}", sp.port_name)
        proto = sp.proto
        internal = [e.address for e in (cat.local if sp.internal_local else cat.cluster)]
        external = [e.address for e in (cat.local if sp.external_local else cat.cluster)]
        P = sp.protocol

        def vs(addr: str, port: int, reals: list[str]) -> None:
            rs.virtual_servers[(addr, P, port)] = VirtualServer(  # noqa: B023 - called in this iteration
                P, addr, port, sched, sp.affinity_timeout, reals, owner)  # noqa: B023

        # Hairpin: only endpoints on this node can send traffic back to themselves.
        for e in sp.endpoints:
            if e.node_name == node:
                sets["KUBE-LOOP-BACK"].add((e.ip, f"{proto}:{e.port}", e.ip))
        vs(sp.cluster_ip, sp.port, internal)
        bound.add(sp.cluster_ip)
        sets["KUBE-CLUSTER-IP"].add((sp.cluster_ip, f"{proto}:{sp.port}"))
        for ip in sp.external_ips:
            vs(ip, sp.port, external)
            if ip not in node_addresses:
                bound.add(ip)
            # eTP=Local keeps the client address: those go to the -LOCAL set, never masqueraded.
            sets["KUBE-EXTERNAL-IP-LOCAL" if sp.external_local else "KUBE-EXTERNAL-IP"].add((ip, f"{proto}:{sp.port}"))
        for ip in sp.lb_ips:
            vs(ip, sp.port, external)
            if ip not in node_addresses:
                bound.add(ip)
            sets["KUBE-LOAD-BALANCER"].add((ip, f"{proto}:{sp.port}"))
            if sp.external_local:
                sets["KUBE-LOAD-BALANCER-LOCAL"].add((ip, f"{proto}:{sp.port}"))
            if sp.source_ranges:
                sets["KUBE-LOAD-BALANCER-FW"].add((ip, f"{proto}:{sp.port}"))
                node_ip = ipaddress.ip_address(st["node_ip"])
                allow_from_node = False
                for cidr in sp.source_ranges:
                    sets["KUBE-LOAD-BALANCER-SOURCE-CIDR"].add((ip, f"{proto}:{sp.port}", cidr))
                    allow_from_node = allow_from_node or node_ip in ipaddress.ip_network(cidr, strict=False)
                if allow_from_node:
                    sets["KUBE-LOAD-BALANCER-SOURCE-IP"].add((ip, f"{proto}:{sp.port}", ip))
                else:
                    lb_no_node_access.append((ip, proto, sp.port))
        if sp.node_port and np_ips:
            if P == "SCTP":  # hash:ip,port: one entry per node address
                entries: list[Any] = [(a, f"sctp:{sp.node_port}") for a in np_ips]
                np_set, local_set = "KUBE-NODE-PORT-SCTP-HASH", "KUBE-NODE-PORT-LOCAL-SCTP-HASH"
            else:
                entries = [str(sp.node_port)]
                np_set, local_set = f"KUBE-NODE-PORT-{P}", f"KUBE-NODE-PORT-LOCAL-{P}"
            sets[np_set].update(entries)
            if sp.external_local:
                sets[local_set].update(entries)
            for a in np_ips:
                vs(a, sp.node_port, external)
        if sp.health_check_node_port:
            sets["KUBE-HEALTH-CHECK-NODE-PORT"].add(str(sp.health_check_node_port))
    sets["KUBE-IPVS-IPS"] = {(a,) for a in bound}
    rs.ipsets = sets  # kube-proxy creates every set, empty or not (ensureIPSet)
    rs.tables["nat"], rs.tables["filter"] = _iptables_rules(rs, st, lb_no_node_access)
    rs.kube_chains["nat"] = list(NAT_CHAINS)
    rs.kube_chains["filter"] = list(FILTER_CHAINS)
    for b in ("PREROUTING", "OUTPUT"):
        rs.tables["nat"][b] = [Rule(b, (("comment", "kubernetes service portals"),), ("jump", "KUBE-SERVICES"))]
    rs.tables["nat"]["POSTROUTING"] = [Rule("POSTROUTING", (("comment", "kubernetes postrouting rules"),),
                                            ("jump", "KUBE-POSTROUTING"))]
    for b, chain, comment in FILTER_JUMPS:  # kube-proxy prepends each: the last one ends up first
        rs.tables["filter"].setdefault(b, []).insert(0, Rule(b, (("comment", comment),), ("jump", chain)))
    return rs


NAT_CHAINS = ("KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT", "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ")
FILTER_CHAINS = ("KUBE-FORWARD", "KUBE-NODE-PORT", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL",
                 "KUBE-IPVS-FILTER", "KUBE-IPVS-OUT-FILTER")
# iptablesJumpChain (filter part): built-in chain, kube chain, comment.
FILTER_JUMPS = (("FORWARD", "KUBE-FORWARD", "kubernetes forwarding rules"),
                ("INPUT", "KUBE-NODE-PORT", "kubernetes health check rules"),
                ("INPUT", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
                ("FORWARD", "KUBE-PROXY-FIREWALL", "kube-proxy firewall rules"),
                ("INPUT", "KUBE-IPVS-FILTER", "kubernetes ipvs access filter"),
                ("OUTPUT", "KUBE-IPVS-OUT-FILTER", "kubernetes ipvs access filter"))
# ipsetWithIptablesChain: set, table, from, to, match type, protocol match (in kube-proxy's order).
_SET_RULES = (
    ("KUBE-LOOP-BACK", "nat", "KUBE-POSTROUTING", "MASQUERADE", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER", "nat", "KUBE-SERVICES", "KUBE-LOAD-BALANCER", "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-LOCAL", "nat", "KUBE-LOAD-BALANCER", "RETURN", "dst,dst", ""),
    ("KUBE-NODE-PORT-LOCAL-TCP", "nat", "KUBE-NODE-PORT", "RETURN", "dst", "tcp"),
    ("KUBE-NODE-PORT-TCP", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", "tcp"),
    ("KUBE-NODE-PORT-LOCAL-UDP", "nat", "KUBE-NODE-PORT", "RETURN", "dst", "udp"),
    ("KUBE-NODE-PORT-UDP", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst", "udp"),
    ("KUBE-NODE-PORT-LOCAL-SCTP-HASH", "nat", "KUBE-NODE-PORT", "RETURN", "dst,dst", "sctp"),
    ("KUBE-NODE-PORT-SCTP-HASH", "nat", "KUBE-NODE-PORT", "KUBE-MARK-MASQ", "dst,dst", "sctp"),
    ("KUBE-LOAD-BALANCER-FW", "filter", "KUBE-PROXY-FIREWALL", "KUBE-SOURCE-RANGES-FIREWALL", "dst,dst", ""),
    ("KUBE-LOAD-BALANCER-SOURCE-CIDR", "filter", "KUBE-SOURCE-RANGES-FIREWALL", "RETURN", "dst,dst,src", ""),
    ("KUBE-LOAD-BALANCER-SOURCE-IP", "filter", "KUBE-SOURCE-RANGES-FIREWALL", "RETURN", "dst,dst,src", ""),
)


def _target(to: str) -> tuple[Any, ...]:
    if to == "MASQUERADE":
        return ("MASQUERADE", False)
    if to in ("RETURN", "ACCEPT", "DROP", "REJECT"):
        return (to,)
    return ("jump", to)


def _iptables_rules(rs: IpvsRuleset, st: dict[str, Any],
                    lb_no_node_access: list[tuple[str, str, int]]) -> tuple[dict[str, list[Rule]], dict[str, list[Rule]]]:
    """``writeIptablesRules``: the nat and filter rules, in kube-proxy's order."""
    mark = st["mark"]
    nat: dict[str, list[Rule]] = {c: [] for c in NAT_CHAINS}
    flt: dict[str, list[Rule]] = {c: [] for c in FILTER_CHAINS}
    tables = {"nat": nat, "filter": flt}
    # Dismiss connections to localhost early.
    nat["KUBE-SERVICES"].append(Rule("KUBE-SERVICES", (("s", "127.0.0.0/8", False),), ("RETURN",)))
    for name, table, frm, to, match, proto in _SET_RULES:
        if not rs.ipsets.get(name):
            continue
        m: tuple[Any, ...] = (("p", proto),) if proto else ()
        m += (("comment", _SET_COMMENTS[name]), ("set", name, match, False))
        tables[table][frm].append(Rule(frm, m, _target(to)))
    ks = nat["KUBE-SERVICES"]
    cip = ("comment", _SET_COMMENTS["KUBE-CLUSTER-IP"])
    if rs.ipsets.get("KUBE-CLUSTER-IP"):
        if st["masquerade_all"]:
            ks.append(Rule("KUBE-SERVICES", (cip, ("set", "KUBE-CLUSTER-IP", "dst,dst", False)), ("jump", "KUBE-MARK-MASQ")))
        elif st["local_cidr"]:
            ks.append(Rule("KUBE-SERVICES", (cip, ("set", "KUBE-CLUSTER-IP", "dst,dst", False),
                                             ("s", st["local_cidr"], True)), ("jump", "KUBE-MARK-MASQ")))
        else:  # no local detector: masquerade node-originated traffic whose source is a service VIP
            ks.append(Rule("KUBE-SERVICES", (cip, ("set", "KUBE-CLUSTER-IP", "src,dst", False)), ("jump", "KUBE-MARK-MASQ")))
    if rs.ipsets.get("KUBE-EXTERNAL-IP"):
        ks.append(Rule("KUBE-SERVICES", (("comment", _SET_COMMENTS["KUBE-EXTERNAL-IP"]),
                                         ("set", "KUBE-EXTERNAL-IP", "dst,dst", False)), ("jump", "KUBE-MARK-MASQ")))
    ks.append(Rule("KUBE-SERVICES", (("addrtype", "dst", "LOCAL"),), ("jump", "KUBE-NODE-PORT")))
    nat["KUBE-LOAD-BALANCER"].append(Rule("KUBE-LOAD-BALANCER", (), ("jump", "KUBE-MARK-MASQ")))
    flt["KUBE-SOURCE-RANGES-FIREWALL"].append(Rule("KUBE-SOURCE-RANGES-FIREWALL", (), ("DROP",)))
    for ip, proto, port in lb_no_node_access:
        flt["KUBE-IPVS-OUT-FILTER"].append(Rule("KUBE-IPVS-OUT-FILTER", (("s", ip, False), ("ipvs", ip, proto, port)),
                                                ("DROP",)))
    for name in ("KUBE-CLUSTER-IP", "KUBE-LOAD-BALANCER"):  # acceptIPVSTraffic
        if rs.ipsets.get(name):
            ks.append(Rule("KUBE-SERVICES", (("set", name, "dst,dst", False),), ("ACCEPT",)))
    flt["KUBE-FORWARD"] += [
        Rule("KUBE-FORWARD", (("comment", "kubernetes forwarding rules"), ("mark", f"{mark}/{mark}", False)), ("ACCEPT",)),
        Rule("KUBE-FORWARD", (("comment", "kubernetes forwarding conntrack rule"), ("ctstate", "RELATED,ESTABLISHED", False)),
             ("ACCEPT",)),
    ]
    flt["KUBE-NODE-PORT"].append(Rule("KUBE-NODE-PORT", (("comment", _SET_COMMENTS["KUBE-HEALTH-CHECK-NODE-PORT"]),
                                                         ("set", "KUBE-HEALTH-CHECK-NODE-PORT", "dst", False)), ("ACCEPT",)))
    for name, match in (("KUBE-LOAD-BALANCER", "dst,dst"), ("KUBE-CLUSTER-IP", "dst,dst"), ("KUBE-EXTERNAL-IP", "dst,dst"),
                        ("KUBE-EXTERNAL-IP-LOCAL", "dst,dst"), ("KUBE-HEALTH-CHECK-NODE-PORT", "dst")):
        flt["KUBE-IPVS-FILTER"].append(Rule("KUBE-IPVS-FILTER", (("set", name, match, False),), ("RETURN",)))
    flt["KUBE-IPVS-FILTER"].append(Rule("KUBE-IPVS-FILTER", (("ctstate", "NEW", False), ("set", "KUBE-IPVS-IPS", "dst", False)),
                                        ("REJECT",)))
    nat["KUBE-POSTROUTING"] += [
        Rule("KUBE-POSTROUTING", (("mark", f"{mark}/{mark}", True),), ("RETURN",)),
        Rule("KUBE-POSTROUTING", (), ("MARK-XOR", mark)),
        Rule("KUBE-POSTROUTING", (("comment", "kubernetes service traffic requiring SNAT"),), ("MASQUERADE", True)),
    ]
    nat["KUBE-MARK-MASQ"] = [Rule("KUBE-MARK-MASQ", (), ("MARK-OR", mark))]
    return nat, flt

