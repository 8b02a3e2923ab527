"""Explaining a node's dump in Kubernetes' words: Services, addresses, endpoints, odd things.

kube-proxy leaves enough in its rules to recover the Services a node serves:

* **iptables mode** names the Service port in every rule's comment: ``"default/web:http
  cluster IP"`` on the ``KUBE-SERVICES`` rule for the ClusterIP, ``"… external IP"``, ``"…
  loadbalancer IP"``, the bare name on ``KUBE-NODEPORTS`` rules.  The ``KUBE-SVC-*`` chain the
  ClusterIP rule jumps to picks an endpoint with chained ``--probability 1/(n-i)`` rules,
  so the i-th endpoint gets (1-p1)…(1-p(i-1))·pi; ``-m recent --rcheck --seconds N`` rules
  before them are ClientIP session affinity with timeoutSeconds N.  ``KUBE-SVL-*`` (Local
  policy) holds only this node's endpoints.  Services without endpoints are REJECT (or, Local
  policy without local endpoints, DROP) rules in the ``filter`` table.
* **nftables mode** names the Service port in its chain names
  (``service-<hash>-default/web/tcp/http``); the ``service-ips`` map gives the addresses, and
  ``numgen random mod N`` gives each of N endpoints exactly 1/N.
* **IPVS mode** knows addresses, not names: each virtual server is reported on its own, its
  kind (ClusterIP, NodePort…) taken from the ipset kube-proxy put its address in.

What looks wrong is said in ``notes``: a Service port with no endpoints, a chain no rule jumps
to (stale: left behind by a kube-proxy that died mid-sync, or written by hand), rules that can
never be reached, probabilities that do not add up to 1, a missing chain.

Simplification: a Service's externalIPs and LoadBalancer IPs without endpoints appear only in
``KUBE-EXTERNAL-SERVICES``, which does not say which of the two an address is; such entries
have the kind ``ExternalIP/LoadBalancerIP``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from .common import split_spn, spn_of_comment

__all__ = ["ServicePortReport", "explain"]


@dataclass
class ServicePortReport:
    """One Service port as a node's dump shows it (the ``explain-rules -o json`` schema)."""

    service: str | None  # "namespace/name" (None in IPVS mode: ipvsadm names no Service)
    port: str | int | None  # the port's name, or its number when it is unnamed
    protocol: str  # TCP | UDP | SCTP
    entries: list[dict[str, Any]] = field(default_factory=list)  # {kind, ip, port}
    endpoints: list[dict[str, Any]] = field(default_factory=list)  # {endpoint: "ip:port", probability}
    affinity_seconds: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object ``explain-rules -o json`` prints."""
        return {"service": self.service, "port": self.port, "protocol": self.protocol, "entries": self.entries,
                "endpoints": self.endpoints, "affinity_seconds": self.affinity_seconds, "notes": self.notes}

    def add_entry(self, kind: str, ip: str | None, port: int | None) -> None:
        e = {"kind": kind, "ip": ip, "port": port}
        if e not in self.entries:
            self.entries.append(e)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def __str__(self) -> str:
        head = f"{self.service or '(unnamed)'}" + (f" port {self.port}" if self.port not in (None, "") else "")
        lines = [f"{head} ({self.protocol})"]
        for e in self.entries:
            where = f"{e['ip']}:{e['port']}" if e["ip"] else f"<node IPs>:{e['port']}"
            lines.append(f"  {e['kind']:<26} {where}")
        for ep in self.endpoints:
            lines.append(f"  -> {ep['endpoint']:<22} p={ep['probability']:.4f}")
        if not self.endpoints:
            lines.append("  -> no endpoints")
        if self.affinity_seconds is not None:
            lines.append(f"  ClientIP affinity: {self.affinity_seconds}s")
        lines.extend(f"  ! {n}" if n.startswith(("looks wrong", "stale", "unreachable", "missing")) else f"  - {n}"
                     for n in self.notes)
        return "\n".join(lines)


def explain(rules: Any) -> list[ServicePortReport]:
    """One :class:`ServicePortReport` per Service port the dump holds, sorted by name."""
    if rules.mode == "nftables":
        out = _explain_nft(rules)
    elif rules.mode == "ipvs":
        out = _explain_ipvs(rules)
    else:
        out = _explain_iptables(rules)
    for r in out:
        if r.port is None and r.entries:  # an unnamed port: named by its number
            r.port = next((e["port"] for e in r.entries if e["kind"] == "ClusterIP"), r.entries[0]["port"])
    return sorted(out, key=lambda r: (r.service or "", str(r.port), r.protocol,
                                      [(e["ip"] or "", e["port"] or 0) for e in r.entries]))


# ---------------------------------------------------------------------------- iptables
def _match(r: Any, kind: str) -> Any:
    return next((m for m in r.matches if m[0] == kind and not (len(m) > 2 and m[0] in ("d", "s") and m[2])), None)


def _comment(r: Any) -> str:
    m = _match(r, "comment")
    return m[1] if m else ""


def _proto(r: Any) -> str:
    m = next((m for m in r.matches if m[0] in ("proto", "p")), None)
    return m[1].upper() if m else "TCP"


def _dport(r: Any) -> int | None:
    m = _match(r, "dport")
    return int(m[1]) if m else None


def _explain_iptables(rules: Any) -> list[ServicePortReport]:
    rs = rules.ruleset
    nat: dict[str, list[Any]] = rs.tables.get("nat", {})
    flt: dict[str, list[Any]] = rs.tables.get("filter", {})
    reports: dict[str, ServicePortReport] = {}
    internal: dict[str, str] = {}
    external: dict[str, str] = {}

    def rep(spn: str, r: Any) -> ServicePortReport:
        if spn not in reports:
            svc, port = split_spn(spn) or (spn, "")
            reports[spn] = ServicePortReport(svc, port or None, _proto(r))
        return reports[spn]

    for r in nat.get("KUBE-SERVICES", []):
        c = _comment(r)
        spn = spn_of_comment(c)
        if not spn or not r.target or r.target[0] != "jump":
            continue
        rp = rep(spn, r)
        d = _match(r, "d")
        ip = d[1] if d else None
        if c.endswith(" cluster IP"):
            rp.add_entry("ClusterIP", ip, _dport(r))
            internal[spn] = r.target[1]
        elif c.endswith(" external IP"):
            rp.add_entry("ExternalIP", ip, _dport(r))
            external.setdefault(spn, r.target[1])
        elif c.endswith(" loadbalancer IP"):
            rp.add_entry("LoadBalancerIP", ip, _dport(r))
            external.setdefault(spn, r.target[1])
    for r in nat.get("KUBE-NODEPORTS", []):
        spn = spn_of_comment(_comment(r))
        if spn and r.target and r.target[0] == "jump":
            rep(spn, r).add_entry("NodePort", None, _dport(r))
            external.setdefault(spn, r.target[1])
    for r in flt.get("KUBE-SERVICES", []):
        c = _comment(r)
        spn = spn_of_comment(c)
        if spn and r.target:
            rp = rep(spn, r)
            d = _match(r, "d")
            rp.add_entry("ClusterIP", d[1] if d else None, _dport(r))
            if c.endswith("has no endpoints"):
                rp.note("no endpoints: new connections to the ClusterIP are REJECTed (ICMP port unreachable)")
            elif c.endswith("has no local endpoints"):
                rp.note("internalTrafficPolicy=Local and no endpoint on this node: ClusterIP connections are DROPped")
    for r in flt.get("KUBE-EXTERNAL-SERVICES", []):
        c = _comment(r)
        spn = spn_of_comment(c)
        if not spn or not r.target:
            continue
        rp = rep(spn, r)
        d = _match(r, "d")
        if any(m[0] == "addrtype" for m in r.matches):
            rp.add_entry("NodePort", None, _dport(r))
        elif d and not any(e["ip"] == d[1] and e["port"] == _dport(r) for e in rp.entries):
            rp.add_entry("ExternalIP/LoadBalancerIP", d[1], _dport(r))
        if c.endswith("has no endpoints"):
            rp.note("no endpoints: new connections from outside are REJECTed")
        elif c.endswith("has no local endpoints"):
            rp.note("externalTrafficPolicy=Local and no endpoint on this node: external connections "
                    "to this node are DROPped")
    for r in flt.get("KUBE-NODEPORTS", []):
        c = _comment(r)
        spn = spn_of_comment(c)
        if spn and c.endswith("health check node port"):
            rep(spn, r).note(f"healthCheckNodePort {_dport(r)} is open (ACCEPT) for the load balancer's health checks")
    for r in flt.get("KUBE-PROXY-FIREWALL", []):
        spn = spn_of_comment(_comment(r))
        if spn:
            d = _match(r, "d")
            rep(spn, r).note(f"loadBalancerSourceRanges: other sources to {d[1] if d else '?'} are DROPped "
                             "by KUBE-PROXY-FIREWALL")

    jumped = {r.target[1] for rules_ in nat.values() for r in rules_ if r.target and r.target[0] in ("jump", "goto")}
    for spn, rp in reports.items():
        chain = internal.get(spn)
        ext = external.get(spn)
        if ext and ext.startswith("KUBE-FW-"):
            srcs = [m[1] for r in nat.get(ext, []) for m in r.matches if m[0] == "s" and not m[2]]
            rp.note(f"loadBalancerSourceRanges: only {', '.join(srcs) or 'no source'} may reach the "
                    "load-balancer IP (KUBE-FW chain)")
            ext = next((r.target[1] for r in nat.get(ext, []) if r.target and r.target[0] == "jump"
                        and r.target[1].startswith("KUBE-EXT-")), ext)
        ext_policy = None
        if ext and ext.startswith("KUBE-EXT-"):
            ext_rules = nat.get(ext)
            if ext_rules is None:
                rp.note(f"missing chain {ext}: rules jump to it but the dump does not declare it")
                ext_rules = []
            comments = [_comment(r) for r in ext_rules]
            if any(c.startswith("masquerade traffic for") for c in comments):
                rp.note("externalTrafficPolicy=Cluster: NodePort/external connections are masqueraded "
                        "(the endpoint sees the node's address)")
            if any(c.startswith("pod traffic for") or c.startswith("masquerade LOCAL") for c in comments):
                rp.note("externalTrafficPolicy=Local: external clients keep their source address and reach only "
                        "this node's endpoints")
            plain = [r for r in ext_rules if not _comment(r) and r.target and r.target[0] == "jump"]
            ext_policy = plain[-1].target[1] if plain else None
        if chain is None:
            chain = ext_policy
        if chain is None:
            if not any("no endpoints" in n or "no endpoint on this node" in n for n in rp.notes):
                rp.note("looks wrong: no chain picks an endpoint for this Service port")
            continue
        if chain.startswith("KUBE-SVL-") and internal.get(spn) == chain:
            rp.note("internalTrafficPolicy=Local: ClusterIP connections go only to this node's endpoints")
        shares, affinity = _chain_shares(nat, chain, rp)
        rp.affinity_seconds = affinity
        rp.endpoints = [{"endpoint": ep, "probability": float(p)} for ep, p in shares]
        if ext_policy and ext_policy != chain:
            other, _ = _chain_shares(nat, ext_policy, rp)
            rp.note("external connections go to: " + (", ".join(ep for ep, _ in other) or "no endpoint"))
    # Stale chains: per-service chains no rule jumps to.
    for c, rr in nat.items():
        if c.startswith(("KUBE-SVC-", "KUBE-SVL-", "KUBE-EXT-", "KUBE-FW-", "KUBE-SEP-")) and c not in jumped:
            owner = next((r.owner for r in rr if r.owner), None)
            spn = (f"{owner[0]}:{owner[1]}" if owner[1] else owner[0]) if owner else None
            text = f"stale chain {c}: no rule jumps to it (kube-proxy should have deleted it)"
            if spn and spn in reports:
                reports[spn].note(text)
            elif spn:
                r0 = rr[0] if rr else None
                stale = rep(spn, r0) if r0 else None
                if stale:
                    stale.note(text)
            elif text not in rules.warnings:
                rules.warnings.append(text)
    ks = nat.get("KUBE-SERVICES", [])
    np_idx = [i for i, r in enumerate(ks) if r.target == ("jump", "KUBE-NODEPORTS")]
    if np_idx and np_idx[-1] != len(ks) - 1:
        msg = "looks wrong: the KUBE-NODEPORTS jump is not the last rule of KUBE-SERVICES"
        if msg not in rules.warnings:
            rules.warnings.append(msg)
    return list(reports.values())


def _chain_shares(nat: dict[str, list[Any]], chain: str, rp: ServicePortReport) -> tuple[list[tuple[str, Fraction]],
                                                                                          int | None]:
    rules = nat.get(chain)
    if rules is None:
        rp.note(f"missing chain {chain}: rules jump to it but the dump does not declare it")
        return [], None
    remaining = Fraction(1)
    shares: dict[str, Fraction] = {}
    affinity = None
    done = False
    for r in rules:
        t = r.target
        if t and t[0] == "jump" and t[1] == "KUBE-MARK-MASQ":
            neg_s = next((m for m in r.matches if m[0] == "s" and m[2]), None)
            if neg_s:
                rp.note(f"ClusterIP connections from outside the cluster CIDR {neg_s[1]} are masqueraded")
            else:
                rp.note("masqueradeAll: every ClusterIP connection is masqueraded")
            continue
        if not (t and t[0] == "jump" and t[1].startswith("KUBE-SEP-")):
            continue
        rc = next((m for m in r.matches if m[0] == "rcheck"), None)
        if rc:
            affinity = rc[2]
            continue
        if done:
            rp.note(f"unreachable rule in {chain}: {r.text} (an earlier rule catches every packet)")
            continue
        st = next((m for m in r.matches if m[0] == "statistic"), None)
        p = st[2] if st else Fraction(1)
        ep = _sep_endpoint(nat, t[1], rp)
        if ep is None:
            continue  # no DNAT: the packet comes back out of the chain and meets the next rule
        shares[ep] = shares.get(ep, Fraction(0)) + remaining * p
        remaining *= 1 - p
        if st is None:
            done = True
    if shares and remaining != 0:
        rp.note(f"looks wrong: endpoint probabilities in {chain} add up to {float(1 - remaining):.6f}, not 1")
    return list(shares.items()), affinity


def _sep_endpoint(nat: dict[str, list[Any]], sep: str, rp: ServicePortReport) -> str | None:
    rules = nat.get(sep)
    if rules is None:
        rp.note(f"missing chain {sep}: rules jump to it but the dump does not declare it")
        return None
    for r in rules:
        if r.target and r.target[0] == "DNAT":
            return str(r.target[1])
    rp.note(f"looks wrong: {sep} has no DNAT rule")
    return None


# ---------------------------------------------------------------------------- nftables
def _explain_nft(rules: Any) -> list[ServicePortReport]:
    from .nft import chain_owner

    rs = rules.ruleset
    reports: dict[tuple[str, str, str], ServicePortReport] = {}
    internal: dict[tuple[str, str, str], str] = {}
    external: dict[tuple[str, str, str], str] = {}
    cluster_ips = {k for _, k, _ in rs.elements.get("cluster-ips", [])}
    firewalled = {k for _, k, _ in rs.elements.get("firewall-ips", [])}

    def rep(owner: tuple[str, str], proto: str) -> ServicePortReport:
        key = (owner[0], owner[1], proto)
        if key not in reports:
            reports[key] = ServicePortReport(owner[0], owner[1] or None, proto.upper())
        return reports[key]

    for _, key, v in rs.elements.get("service-ips", []):
        if not v or not isinstance(key, tuple) or len(key) != 3 or not v[2]:
            continue
        rp = rep(v[2], key[1])
        if v[1] and v[1].startswith(("service-", "local-")):
            rp.add_entry("ClusterIP", key[0], key[2])
            internal[(v[2][0], v[2][1], key[1])] = v[1]
        else:
            kind = "LoadBalancerIP" if key in firewalled else ("ClusterIP" if key[0] in cluster_ips
                                                               else "ExternalIP/LoadBalancerIP")
            rp.add_entry(kind, key[0], key[2])
            if v[1]:
                external[(v[2][0], v[2][1], key[1])] = v[1]
    for _, key, v in rs.elements.get("service-nodeports", []):
        if v and v[2] and isinstance(key, tuple) and len(key) == 2:
            rep(v[2], key[0]).add_entry("NodePort", None, key[1])
            if v[1]:
                external[(v[2][0], v[2][1], key[0])] = v[1]
    for mapname in ("no-endpoint-services", "no-endpoint-nodeports"):
        for _, key, v in rs.elements.get(mapname, []):
            if not v or not v[2] or not isinstance(key, tuple):
                continue
            what = "REJECTed" if v[1] == "reject-chain" or v[0] == "reject" else "DROPped"
            if len(key) == 3:
                rp = rep(v[2], key[1])
                kind = "ClusterIP" if key[0] in cluster_ips else "ExternalIP/LoadBalancerIP"
                rp.add_entry(kind, key[0], key[2])
            else:
                rp = rep(v[2], key[0])
                rp.add_entry("NodePort", None, key[1])
            if what == "REJECTed":
                rp.note("no endpoints: new connections are REJECTed (no-endpoint-services / no-endpoint-nodeports)")
            else:
                rp.note("Local traffic policy and no endpoint on this node: these connections are DROPped")
    referenced = {v[1] for els in rs.elements.values() for _, _, v in els if isinstance(v, tuple) and v[1]}
    for rr in rs.chains.values():
        for r in rr:
            for e in r.exprs:
                if e[0] in ("jump", "goto"):
                    referenced.add(e[1])
                elif e[0] == "numgen":
                    referenced.update(e[1])
    for key, rp in reports.items():
        chain = internal.get(key)
        ext = external.get(key)
        if ext and ext.startswith("firewall-"):
            ext = ext.replace("firewall-", "external-", 1)
        ext_policy = None
        if ext and ext in rs.chains:
            texts = [r.text for r in rs.chains[ext]]
            if any(t.startswith(("jump mark-for-masquerade", "mark set mark or", "meta mark set meta mark |"))
                   for t in texts):
                rp.note("externalTrafficPolicy=Cluster: NodePort/external connections are masqueraded "
                        "(the endpoint sees the node's address)")
            if any("short-circuit" in t for t in texts):
                rp.note("externalTrafficPolicy=Local: external clients keep their source address and reach only "
                        "this node's endpoints")
            gotos = [e[1] for r in rs.chains[ext] for e in r.exprs if e[0] == "goto" and len(r.exprs) == 1]
            ext_policy = gotos[-1] if gotos else None
        if chain is None:
            chain = ext_policy
        if chain is None:
            if not rp.notes:
                rp.note("looks wrong: no chain picks an endpoint for this Service port")
            continue
        if chain.startswith("local-") and internal.get(key) == chain:
            rp.note("internalTrafficPolicy=Local: ClusterIP connections go only to this node's endpoints")
        eps, aff = _nft_shares(rs, chain, rp)
        rp.endpoints = eps
        rp.affinity_seconds = aff
        if ext_policy and ext_policy != chain:
            other, _ = _nft_shares(rs, ext_policy, rp)
            rp.note("external connections go to: " + (", ".join(e["endpoint"] for e in other) or "no endpoint"))
    for c in rs.chains:
        owner = chain_owner(c)
        if owner and c not in referenced:
            proto = c.split("/")[2] if c.count("/") >= 3 else "tcp"
            rep(owner, proto).note(f"stale chain {c}: nothing jumps to it (kube-proxy should have deleted it)")
    return list(reports.values())


def _nft_shares(rs: Any, chain: str, rp: ServicePortReport) -> tuple[list[dict[str, Any]], int | None]:
    rules = rs.chains.get(chain)
    if rules is None:
        rp.note(f"missing chain {chain}: the maps send packets to it but the table does not have it")
        return [], None
    aff = None
    eps: list[dict[str, Any]] = []
    for r in rules:
        kinds = [e[0] for e in r.exprs]
        if "saddr_in_set" in kinds:
            name = next(e[1] for e in r.exprs if e[0] == "saddr_in_set")
            aff = rs.affinity_sets.get(name, aff)
        if "jump" in kinds and any(e == ("jump", "mark-for-masquerade") for e in r.exprs):
            neg = next((e[1] for e in r.exprs if e[0] == "saddr_not"), None)
            rp.note(f"ClusterIP connections from outside the cluster CIDR {neg} are masqueraded" if neg
                    else "masqueradeAll: every ClusterIP connection is masqueraded")
        for e in r.exprs:
            if e[0] == "dnat_numgen":  # v1.36+: the service chain DNATs through a numgen map
                eps.extend({"endpoint": dn, "probability": 1 / len(e[1])} for dn in e[1])
            if e[0] == "numgen":
                n = len(e[1])
                for c in e[1]:
                    dn = next((x[1] for rr in rs.chains.get(c, []) for x in rr.exprs if x[0] == "dnat"), None)
                    if dn is None:
                        rp.note(f"looks wrong: {c} has no dnat rule")
                        continue
                    eps.append({"endpoint": dn, "probability": 1 / n})
    return eps, aff


# ---------------------------------------------------------------------------- IPVS
def _explain_ipvs(rules: Any) -> list[ServicePortReport]:
    rs = rules.ruleset
    sets = rs.ipsets
    out = []
    for (addr, proto, port), vs in sorted(rs.virtual_servers.items()):
        key = (addr, f"{proto.lower()}:{port}")
        if key in sets.get("KUBE-CLUSTER-IP", set()):
            kind = "ClusterIP"
        elif key in sets.get("KUBE-LOAD-BALANCER", set()):
            kind = "LoadBalancerIP"
        elif key in sets.get("KUBE-EXTERNAL-IP", set()) or key in sets.get("KUBE-EXTERNAL-IP-LOCAL", set()):
            kind = "ExternalIP"
        elif str(port) in sets.get(f"KUBE-NODE-PORT-{proto}", set()):
            kind = "NodePort"
        else:
            kind = "virtual server"
        rp = ServicePortReport(None, port, proto)
        rp.add_entry(kind, addr, port)
        n = len(vs.reals)
        rp.endpoints = [{"endpoint": r, "probability": 1 / n} for r in vs.reals]
        rp.affinity_seconds = vs.persistent
        rp.note("IPVS names no Service: match the address against kubectl get svc -A")
        if vs.scheduler:
            rp.note(f"scheduler {vs.scheduler}" + ("" if vs.scheduler == "rr" else
                                                   " (long-run shares shown as 1/n; they depend on load or client)"))
        if not vs.reals:
            rp.note("no endpoints: the virtual server has no real servers, new connections are dropped")
        if str(port) in sets.get(f"KUBE-NODE-PORT-LOCAL-{proto}", set()):
            rp.note("externalTrafficPolicy=Local: external clients keep their source address")
        out.append(rp)
    return out
