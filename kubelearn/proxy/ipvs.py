"""kube-proxy's IPVS mode: the kernel's load balancer, plus a little iptables and ipset.

In IPVS mode every service address (ClusterIP, externalIP, LB IP, and each node IP with a
NodePort) becomes an IPVS *virtual server* with the Service's endpoints as *real servers*;
``ipvsadm -Ln`` lists them.  The scheduler comes from ``ipvs.scheduler`` (``rr`` when empty;
also ``wrr``, ``lc``, ``wlc``, ``lblc``, ``lblcr``, ``sh``, ``dh``, ``sed``, ``nq``, ``mh``)
and ClientIP affinity becomes ``persistent <timeout>``.  The service IPs are bound to the
dummy interface ``kube-ipvs0`` so the node accepts them.  IPVS cannot masquerade by itself,
so kube-proxy keeps a few iptables rules that match *ipsets* (``KUBE-CLUSTER-IP``,
``KUBE-NODE-PORT-TCP``, ``KUBE-LOOP-BACK``…) instead of one rule per service.

Simplifications: long-run shares are reported as 1/n for every scheduler (connection-count
schedulers depend on live load, hash schedulers on the client); externalTrafficPolicy=Local
is modelled by giving the external virtual servers only local real servers; a virtual
server without real servers is reported as DROP.  IPVS mode is deprecated since v1.35.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..cluster import Cluster
from .config import proxy_settings
from .endpoints import categorize_endpoints
from .iptables import IptablesRuleset
from .ruleset import Rule, chain_lines, check_settings, checked_service_ports
from .trace import IptablesWalker, Packet, Trace, finish, node_locals, parse_dst, parse_ip

__all__ = ["SCHEDULERS", "IpvsRuleset", "VirtualServer", "build_ipvs", "trace_ipvs"]

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
        """The nat rules kube-proxy writes in IPVS mode (``iptables-restore`` input)."""
        lines = chain_lines("nat", self.kube_chains["nat"])
        for c in self.kube_chains["nat"]:
            lines.extend(r.text for r in self.tables["nat"][c])
        return "\n".join([*lines, "COMMIT"]) + "\n"

    def iptables_restore_input(self) -> str:
        """``iptables-restore --noflush`` input including the built-in chain jumps (needs the ipsets)."""
        lines = chain_lines("nat", self.kube_chains["nat"])
        for c in self.kube_chains["nat"]:
            lines.extend(r.text for r in self.tables["nat"][c])
        for b in ("PREROUTING", "OUTPUT", "POSTROUTING"):
            lines.extend("-I " + r.text[3:].replace(f"{b} ", f"{b} 1 ", 1) for r in self.tables["nat"][b])
        return "\n".join([*lines, "COMMIT"]) + "\n"

    def ipset_restore_input(self) -> str:
        """``ipset restore`` input creating the sets kube-proxy uses."""
        return self.ipset_text()

    def text(self, view: str | None = None) -> str:
        """``ipvsadm -Ln``, then the ipsets, then the iptables rules (restore form)."""
        return ("# ipvsadm -Ln\n" + self.ipvsadm_text() + "\n# ipset save\n" + self.ipset_text()
                + "\n# iptables-restore input\n" + self.restore_text())

    def __repr__(self) -> str:
        return f"<IpvsRuleset node {self.node!r}: {len(self.virtual_servers)} virtual servers>"


_SET_TYPES = {"KUBE-CLUSTER-IP": "hash:ip,port", "KUBE-EXTERNAL-IP": "hash:ip,port",
              "KUBE-LOAD-BALANCER": "hash:ip,port", "KUBE-LOOP-BACK": "hash:ip,port,ip",
              "KUBE-NODE-PORT-TCP": "bitmap:port range 0-65535", "KUBE-NODE-PORT-UDP": "bitmap:port range 0-65535",
              "KUBE-NODE-PORT-SCTP": "bitmap:port range 0-65535", "KUBE-EXTERNAL-IP-LOCAL": "hash:ip,port",
              "KUBE-LOAD-BALANCER-LOCAL": "hash:ip,port", "KUBE-NODE-PORT-LOCAL-TCP": "bitmap:port range 0-65535",
              "KUBE-NODE-PORT-LOCAL-UDP": "bitmap:port range 0-65535",
              "KUBE-NODE-PORT-LOCAL-SCTP": "bitmap:port range 0-65535"}


def _entry(name: str, entry: tuple[Any, ...] | str) -> str:
    if isinstance(entry, str):
        return entry
    ip, pp = entry[0], entry[1]
    proto, port = pp.split(":")
    return f"{ip},{proto}:{port}" + (f",{entry[2]}" if len(entry) > 2 else "")


def build_ipvs(cluster: Cluster, node: str, settings: dict[str, Any] | None = None) -> IpvsRuleset:
    """The IPVS state kube-proxy on ``node`` programs."""
    st = settings or proxy_settings(cluster, node, "ipvs")
    sched = st["scheduler"]
    if sched not in SCHEDULERS:
        from .config import ProxyConfigError

        raise ProxyConfigError(f'invalid IPVS scheduler "{sched}": must be one of {", ".join(SCHEDULERS)}')
    check_settings(st)
    ports = checked_service_ports(cluster)
    rs = IpvsRuleset(node, st["node_ip"], st)
    sets: dict[str, set[Any]] = {k: set() for k in _SET_TYPES}
    for sp in ports:
        cat = categorize_endpoints(sp, node)
        owner = (f"{sp.namespace}/{sp.name}", sp.port_name)
        proto = sp.proto
        internal = [e.address for e in (cat.local if sp.internal_local else cat.cluster)]
        external = [e.address for e in (cat.local if sp.external_local else cat.cluster)]
        P = sp.protocol

        def vs(addr: str, port: int, reals: list[str]) -> None:
            rs.virtual_servers[(addr, P, port)] = VirtualServer(  # noqa: B023 - called in this iteration
                P, addr, port, sched, sp.affinity_timeout, reals, owner)  # noqa: B023

        vs(sp.cluster_ip, sp.port, internal)
        sets["KUBE-CLUSTER-IP"].add((sp.cluster_ip, f"{proto}:{sp.port}"))
        for ip in sp.external_ips:
            vs(ip, sp.port, external)
            # eTP=Local keeps the client address: those go to the -LOCAL set, never masqueraded.
            sets["KUBE-EXTERNAL-IP-LOCAL" if sp.external_local else "KUBE-EXTERNAL-IP"].add((ip, f"{proto}:{sp.port}"))
        for ip in sp.lb_ips:
            vs(ip, sp.port, external)
            sets["KUBE-LOAD-BALANCER"].add((ip, f"{proto}:{sp.port}"))
            if sp.external_local:
                sets["KUBE-LOAD-BALANCER-LOCAL"].add((ip, f"{proto}:{sp.port}"))
        if sp.node_port:
            vs(st["node_ip"], sp.node_port, external)
            sets[f"KUBE-NODE-PORT-{P}"].add(str(sp.node_port))
            if sp.external_local:
                sets[f"KUBE-NODE-PORT-LOCAL-{P}"].add(str(sp.node_port))
        for e in cat.all_reachable:
            sets["KUBE-LOOP-BACK"].add((e.ip, f"{proto}:{e.port}", e.ip))
    rs.ipsets = {k: v for k, v in sets.items() if v}
    mark = st["mark"]
    nat: dict[str, list[Rule]] = {c: [] for c in ("KUBE-SERVICES", "KUBE-POSTROUTING", "KUBE-NODE-PORT",
                                                  "KUBE-LOAD-BALANCER", "KUBE-MARK-MASQ")}
    ks = nat["KUBE-SERVICES"]
    cip = ("comment", "Kubernetes service cluster ip + port for masquerade purpose")
    if st["masquerade_all"]:
        ks.append(Rule("KUBE-SERVICES", (cip, ("set", "KUBE-CLUSTER-IP", "dst,dst", False)), ("jump", "KUBE-MARK-MASQ")))
    elif st["local_cidr"]:
        ks.append(Rule("KUBE-SERVICES", (cip, ("set", "KUBE-CLUSTER-IP", "dst,dst", False),
                                         ("s", st["local_cidr"], True)), ("jump", "KUBE-MARK-MASQ")))
    if "KUBE-EXTERNAL-IP" in rs.ipsets:
        ks.append(Rule("KUBE-SERVICES", (("comment", "Kubernetes service external ip + port for masquerade and filter purpose"),
                                         ("set", "KUBE-EXTERNAL-IP", "dst,dst", False)), ("jump", "KUBE-MARK-MASQ")))
    if "KUBE-LOAD-BALANCER" in rs.ipsets:
        ks.append(Rule("KUBE-SERVICES", (("comment", "Kubernetes service lb portal"),
                                         ("set", "KUBE-LOAD-BALANCER", "dst,dst", False)), ("jump", "KUBE-LOAD-BALANCER")))
        if "KUBE-LOAD-BALANCER-LOCAL" in rs.ipsets:
            nat["KUBE-LOAD-BALANCER"].append(Rule("KUBE-LOAD-BALANCER", (
                ("comment", "Kubernetes service load balancer ip + port with externalTrafficPolicy=local"),
                ("set", "KUBE-LOAD-BALANCER-LOCAL", "dst,dst", False)), ("RETURN",)))
        nat["KUBE-LOAD-BALANCER"].append(Rule("KUBE-LOAD-BALANCER", (), ("jump", "KUBE-MARK-MASQ")))
    ks.append(Rule("KUBE-SERVICES", (("addrtype", "dst", "LOCAL"),), ("jump", "KUBE-NODE-PORT")))
    ks.append(Rule("KUBE-SERVICES", (("set", "KUBE-CLUSTER-IP", "dst,dst", False),), ("ACCEPT",)))
    for P in ("TCP", "UDP", "SCTP"):
        if f"KUBE-NODE-PORT-LOCAL-{P}" in rs.ipsets:
            nat["KUBE-NODE-PORT"].append(Rule("KUBE-NODE-PORT", (
                ("p", P.lower()), ("comment", f"Kubernetes nodeport {P} port with externalTrafficPolicy=local"),
                ("set", f"KUBE-NODE-PORT-LOCAL-{P}", "dst", False)), ("RETURN",)))
        if f"KUBE-NODE-PORT-{P}" in rs.ipsets:
            nat["KUBE-NODE-PORT"].append(Rule("KUBE-NODE-PORT", (
                ("p", P.lower()), ("comment", f"Kubernetes nodeport {P} port for masquerade purpose"),
                ("set", f"KUBE-NODE-PORT-{P}", "dst", False)), ("jump", "KUBE-MARK-MASQ")))
    nat["KUBE-POSTROUTING"] = [
        Rule("KUBE-POSTROUTING", (("comment", "Kubernetes endpoints dst ip:port, source ip for solving hairpin purpose"),
                                  ("set", "KUBE-LOOP-BACK", "dst,dst,src", False)), ("MASQUERADE", False)),
        Rule("KUBE-POSTROUTING", (("mark", f"{mark}/{mark}", True),), ("RETURN",)),
        Rule("KUBE-POSTROUTING", (), ("MARK-XOR", mark)),
        Rule("KUBE-POSTROUTING", (("comment", "kubernetes service traffic requiring SNAT"),), ("MASQUERADE", True)),
    ]
    nat["KUBE-MARK-MASQ"] = [Rule("KUBE-MARK-MASQ", (), ("MARK-OR", mark))]
    rs.tables["nat"] = nat
    rs.kube_chains["nat"] = list(nat)
    rs.tables["filter"] = {}
    rs.kube_chains["filter"] = []
    for b in ("PREROUTING", "OUTPUT"):
        rs.tables["nat"][b] = [Rule(b, (("comment", "kubernetes service portals"),), ("jump", "KUBE-SERVICES"))]
    rs.tables["nat"]["POSTROUTING"] = [Rule("POSTROUTING", (("comment", "kubernetes postrouting rules"),),
                                            ("jump", "KUBE-POSTROUTING"))]
    return rs




def trace_ipvs(rs: IpvsRuleset, src: str, dst: str, protocol: str = "TCP", extra_local: tuple[str, ...] = (),
               walker: type[IptablesWalker] | None = None) -> Trace:
    """Trace a new connection: nat hook (masquerade marks) → IPVS → POSTROUTING."""
    src_ip = parse_ip(src, "source address")
    dst_ip, dport = parse_dst(dst)
    w = (walker or IptablesWalker)(rs, node_locals([rs.node_ip, *extra_local]))
    pk = Packet(src_ip, dst_ip, dport, protocol.lower())
    hook = "OUTPUT" if w.is_local(src_ip) else "PREROUTING"
    results: list[tuple[Packet, str]] = []
    for p, _verdict in w.hook("nat", hook, pk):
        vsv = rs.virtual_servers.get((str(p.dst), protocol, p.dport))
        if vsv is None:
            results.append((p, "ACCEPT"))
            continue
        from dataclasses import replace

        p = replace(p, owner=vsv.owner, affinity=vsv.persistent)
        w.record("ipvs", f"{vsv.protocol} {vsv.address}:{vsv.port}", vsv.text().splitlines()[0], True, p)
        if not vsv.reals:
            results.append((p, "DROP"))
            continue
        share = Fraction(1, len(vsv.reals))
        for real in vsv.reals:
            q = replace(p, prob=p.prob * share).dnatted(real, f"{vsv.protocol} {vsv.address}:{vsv.port}")
            results.extend(w.hook("nat", "POSTROUTING", q))
    return finish(w, results, mode="ipvs", hook=hook, src=src, dst=dst, protocol=protocol,
                  scheduler=rs.virtual_servers and next(iter(rs.virtual_servers.values())).scheduler or None)
