"""IPVS mode against kube-proxy's own TestNodePortIPv4 (``data/proxy/upstream_ipvs_nodeport.yaml``)
and the filter table of ``writeIptablesRules`` (pkg/proxy/ipvs/proxier.go)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelearn.cluster import Cluster
from kubelearn.kind import Topology
from kubelearn.proxy import rules, trace
from kubelearn.proxy.ipvs import _entry

CASES = yaml.safe_load((Path(__file__).parent / "data" / "proxy" / "upstream_ipvs_nodeport.yaml").read_text())["cases"]


def _cluster(case: dict[str, Any]) -> Cluster:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "test-node"}, "spec": {"podCIDR": "10.0.1.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": ip} for ip in case["nodeIPs"]]}}
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc1", "namespace": "ns1"},
           "spec": {"type": "NodePort", "clusterIP": "10.20.30.41", "externalTrafficPolicy": case["externalTrafficPolicy"],
                    "ports": [{"name": "p80", "port": 80, "protocol": case["protocol"], "nodePort": 3001}]}}
    sl = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
          "metadata": {"name": "svc1-1", "namespace": "ns1", "labels": {"kubernetes.io/service-name": "svc1"}},
          "endpoints": [{"addresses": [e["ip"]], **({"nodeName": e["node"]} if e["node"] else {})} for e in case["endpoints"]],
          "ports": [{"name": "p80", "port": 80, "protocol": case["protocol"]}]}
    pc = {"mode": "ipvs", "clusterCIDR": "10.0.0.0/8", "nodePortAddresses": case["nodePortAddresses"]}
    return Cluster(topology=Topology(service_subnet="10.20.0.0/16"), proxy_config=pc).with_objects([node, svc, sl])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_ipvs_state(case: dict[str, Any]) -> None:
    rs = rules(_cluster(case), "test-node", mode="ipvs")
    got = {f"{a}:{port}/{p}": sorted(vs.reals) for (a, p, port), vs in rs.virtual_servers.items()}
    assert got == case["expectedIPVS"]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_ipsets(case: dict[str, Any]) -> None:
    rs = rules(_cluster(case), "test-node", mode="ipvs")
    for name, entries in case["expectedIPSets"].items():
        assert sorted(_entry(name, e) for e in rs.ipsets[name]) == sorted(entries)
    assert "KUBE-NODE-PORT-SCTP" not in rs.ipsets  # the SCTP sets are hash:ip,port, named ...-HASH
    text = rs.ipset_text()
    if case["protocol"] == "SCTP":
        assert "create KUBE-NODE-PORT-SCTP-HASH hash:ip,port" in text


def _jumps(rs: Any, chain: str) -> list[dict[str, str]]:
    out = []
    for table in ("nat", "filter"):  # checkIptables looks the chain up in both tables
        for r in rs.tables[table].get(chain, []):
            sets = [m[1] for m in r.matches if m[0] == "set"]
            src = [m[1] for m in r.matches if m[0] == "s" and not m[2]]
            target = r.target[1] if r.target[0] == "jump" else r.target[0]
            d = {"JumpChain": target}
            if src:
                d["SourceAddress"] = src[0]
            else:
                d["MatchSet"] = sets[0] if sets else ""
            out.append(d)
    return out


@pytest.mark.parametrize("case", [c for c in CASES if "expectedIptablesChains" in c], ids=lambda c: c["name"])
def test_iptables_chains(case: dict[str, Any]) -> None:
    rs = rules(_cluster(case), "test-node", mode="ipvs")
    for chain, want in case["expectedIptablesChains"].items():
        got = _jumps(rs, chain)
        assert [{k: v for k, v in g.items() if k in w} for g, w in zip(got, want, strict=False)] == want
        assert len(got) == len(want)


def test_nodeport_traced_on_every_node_address() -> None:
    c = _cluster(CASES[1])
    for ip in ("100.101.102.103", "100.101.102.104", "100.101.102.105"):
        t = trace(c, "test-node", "203.0.113.9", f"{ip}:3001", "SCTP", mode="ipvs")
        assert [d.endpoint for d in t.destinations] == ["10.180.0.1:80"], ip
        assert t.masquerade is True  # KUBE-NODE-PORT-SCTP-HASH -> KUBE-MARK-MASQ


def test_loop_back_set_holds_only_local_endpoints() -> None:
    rs = rules(_cluster(CASES[2]), "test-node", mode="ipvs")
    assert rs.ipsets["KUBE-LOOP-BACK"] == {("10.180.0.1", "sctp:80", "10.180.0.1")}


def test_filter_table_as_write_iptables_rules() -> None:
    """writeIptablesRules' filter rules and kube-proxy's jumps from the built-in chains."""
    rs = rules(_cluster(CASES[0]), "test-node", mode="ipvs")
    text = rs.restore_text()
    filt = text[text.index("*filter"):]
    for line in [
        ":KUBE-FORWARD - [0:0]", ":KUBE-NODE-PORT - [0:0]", ":KUBE-PROXY-FIREWALL - [0:0]",
        ":KUBE-SOURCE-RANGES-FIREWALL - [0:0]", ":KUBE-IPVS-FILTER - [0:0]", ":KUBE-IPVS-OUT-FILTER - [0:0]",
        "-A KUBE-SOURCE-RANGES-FIREWALL -j DROP",
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT',
        '-A KUBE-FORWARD -m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT',
        '-A KUBE-NODE-PORT -m comment --comment "Kubernetes health check node port" -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j ACCEPT',
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-LOAD-BALANCER dst,dst -j RETURN",
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-CLUSTER-IP dst,dst -j RETURN",
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP dst,dst -j RETURN",
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-EXTERNAL-IP-LOCAL dst,dst -j RETURN",
        "-A KUBE-IPVS-FILTER -m set --match-set KUBE-HEALTH-CHECK-NODE-PORT dst -j RETURN",
        "-A KUBE-IPVS-FILTER -m conntrack --ctstate NEW -m set --match-set KUBE-IPVS-IPS dst -j REJECT",
    ]:
        assert line in filt.splitlines(), line
    save = rs.save_text()
    assert ('-A INPUT -m comment --comment "kubernetes ipvs access filter" -j KUBE-IPVS-FILTER\n'
            '-A INPUT -m comment --comment "kube-proxy firewall rules" -j KUBE-PROXY-FIREWALL\n'
            '-A INPUT -m comment --comment "kubernetes health check rules" -j KUBE-NODE-PORT\n') in save
    assert rs.ipsets["KUBE-IPVS-IPS"] == {("10.20.30.41",)}


def test_lb_source_ranges_sets_and_node_access() -> None:
    c = _cluster(CASES[0])
    svc = c.get("Service", "svc1", "ns1")
    lb = {**svc, "spec": {**svc["spec"], "type": "LoadBalancer", "loadBalancerSourceRanges": ["203.0.113.0/24"]},
          "status": {"loadBalancer": {"ingress": [{"ip": "5.6.7.8"}]}}}
    rs = rules(c.with_objects([lb]), "test-node", mode="ipvs")
    assert rs.ipsets["KUBE-LOAD-BALANCER-FW"] == {("5.6.7.8", "udp:80")}
    assert rs.ipsets["KUBE-LOAD-BALANCER-SOURCE-CIDR"] == {("5.6.7.8", "udp:80", "203.0.113.0/24")}
    # the node (100.101.102.103) is outside the ranges: it may not reach the LB IP
    assert "-A KUBE-IPVS-OUT-FILTER -s 5.6.7.8 -m ipvs --vaddr 5.6.7.8 --vproto udp --vport 80 -j DROP" in rs.restore_text()
