"""The tracer: TestInternalExternalMasquerade's flow table, REJECT/DROP, in every mode."""

from __future__ import annotations

import ipaddress
import json
from fractions import Fraction

import pytest
from test_proxy_iptables import overall

from kubelearn.cli import main
from kubelearn.proxy import TraceError, trace

POD, NODE, EXT, BLOCKED = "10.0.0.2", "192.168.0.2", "203.0.113.2", "203.0.113.130"
ALL4 = {"10.180.0.4:80", "10.180.0.5:80"}


def eps(t) -> set[str]:  # type: ignore[no-untyped-def]
    return {d.endpoint for d in t.destinations}


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
@pytest.mark.parametrize(("src", "dst", "expect", "masq"), [
    (POD, "172.30.0.44:80", ALL4, False),      # pod -> ClusterIP: all, not masqueraded
    (NODE, "172.30.0.44:80", ALL4, True),      # node -> ClusterIP: masqueraded
    (EXT, "172.30.0.44:80", ALL4, True),       # external -> ClusterIP: masqueraded
    (EXT, "192.168.99.33:80", ALL4, True),     # externalIP, eTP=Cluster
    (POD, "192.168.99.33:80", ALL4, True),
    (EXT, "192.168.0.2:3003", {"10.180.0.3:80"}, True),  # NodePort, eTP=Cluster
    (POD, "192.168.99.22:80", {"10.180.0.2:80"}, False),  # eTP=Local: pods short-circuit to all
    (NODE, "1.2.3.4:80", {"10.180.0.2:80"}, True),       # eTP=Local: node short-circuits, masqueraded
    (EXT, "5.6.7.8:80", {"10.180.0.3:80"}, True),        # source range allows EXT
])
def test_flow_table(mode: str, src: str, dst: str, expect: set[str], masq: bool) -> None:
    t = trace(overall(mode), "test-node", src, dst, mode=mode)
    assert t.verdict == "DNAT"
    assert eps(t) == expect
    assert t.masquerade is masq
    assert sum(d.probability for d in t.destinations) == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
@pytest.mark.parametrize(("src", "dst", "verdict"), [
    (POD, "172.30.0.46:80", "REJECT"),     # no endpoints
    (EXT, "192.168.99.22:80", "DROP"),     # eTP=Local without local endpoints
    (EXT, "192.168.0.2:3001", "DROP"),
    (BLOCKED, "5.6.7.8:80", "DROP"),       # loadBalancerSourceRanges
    (POD, "8.8.8.8:53", "NONE"),
])
def test_reject_drop(mode: str, src: str, dst: str, verdict: str) -> None:
    t = trace(overall(mode), "test-node", src, dst, mode=mode)
    assert t.verdict == verdict
    assert t.destinations == ()


def test_external_local_endpoint_keeps_source_and_uses_local_only() -> None:
    # svc4 has a local endpoint (10.180.0.5 on test-node); make it eTP=Local.
    c = overall()
    svc = dict(c.get("Service", "svc4", "ns4"))
    svc["spec"] = {**svc["spec"], "externalTrafficPolicy": "Local"}
    c = c.with_objects([svc])
    for mode in ("iptables", "nftables"):
        t = trace(c, "test-node", EXT, "192.168.99.33:80", mode=mode)
        assert eps(t) == {"10.180.0.5:80"} and t.masquerade is False
        assert eps(trace(c, "test-node", POD, "192.168.99.33:80", mode=mode)) == ALL4


def test_internal_traffic_policy_local() -> None:
    c = overall()
    svc = dict(c.get("Service", "svc4", "ns4"))
    svc["spec"] = {**svc["spec"], "internalTrafficPolicy": "Local"}
    c = c.with_objects([svc])
    assert eps(trace(c, "test-node", POD, "172.30.0.44:80")) == {"10.180.0.5:80"}
    assert eps(trace(c, "test-node", EXT, "192.168.99.33:80")) == ALL4  # iTP does not apply to external
    t = trace(c.with_objects([{**c.get("EndpointSlice", "svc4-abc12", "ns4"),
                               "endpoints": [{"addresses": ["10.180.0.4"], "nodeName": "node2"}]}]),
              "test-node", POD, "172.30.0.44:80")
    assert t.verdict == "DROP"


def test_probabilities_exact_and_affinity() -> None:
    t = trace(overall(), "test-node", POD, "172.30.0.44:80")
    assert [d.probability for d in t.destinations] == [0.5, 0.5]
    assert t.affinity_timeout is None
    t5 = trace(overall(), "test-node", POD, "172.30.0.45:80")
    assert t5.affinity_timeout == 10800 and t5.service == "ns5/svc5" and t5.port_name == "p80"
    assert any("--rcheck" in s.rule and not s.matched for s in t5.steps)


def test_hairpin_masquerade() -> None:
    t = trace(overall(), "test-node", "10.180.0.1", "172.30.0.41:80")
    assert t.masquerade is True and eps(t) == {"10.180.0.1:80"}


def test_rules_walked_grows_with_services_in_iptables_only() -> None:
    c = overall()
    it = trace(c, "test-node", POD, "172.30.0.41:80").rules_walked
    it_late = trace(c, "test-node", POD, "172.30.0.45:80").rules_walked
    nft = trace(c, "test-node", POD, "172.30.0.41:80", mode="nftables").rules_walked
    nft_late = trace(c, "test-node", POD, "172.30.0.45:80", mode="nftables").rules_walked
    assert it_late > it  # KUBE-SERVICES is walked in order
    assert nft_late - nft <= 2  # one map lookup whatever the position (affinity adds one rule)


def test_ipvs_trace() -> None:
    c = overall("ipvs")
    t = trace(c, "test-node", POD, "172.30.0.44:80")
    assert t.scheduler == "rr" and eps(t) == ALL4 and t.masquerade is False
    assert trace(c, "test-node", NODE, "172.30.0.44:80").masquerade is True
    assert trace(c, "test-node", POD, "172.30.0.45:80").affinity_timeout == 10800


def test_bad_input() -> None:
    with pytest.raises(TraceError, match="expected IP:PORT"):
        trace(overall(), "test-node", POD, "172.30.0.44")
    with pytest.raises(TraceError, match="unsupported protocol"):
        trace(overall(), "test-node", POD, "172.30.0.44:80", protocol="ICMP")


def test_to_dict_is_json() -> None:
    d = json.loads(json.dumps(trace(overall(), "test-node", POD, "172.30.0.44:80").to_dict()))
    assert d["verdict"] == "DNAT" and {x["endpoint"] for x in d["destinations"]} == ALL4
    assert all({"table", "chain", "rule", "matched"} <= set(s) for s in d["steps"])


def test_cli_bad_dst_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["trace", "--node", "n", "--src", "10.0.0.1", "--dst", "nope"]) == 2
    assert "expected IP:PORT" in capsys.readouterr().err


def test_modes_agree_over_the_scenario_suite() -> None:
    """iptables, nftables and IPVS send a pod's ClusterIP connection to the same endpoints."""
    from kubelearn.scenarios import SCENARIOS, scenario

    checked = 0
    for name in SCENARIOS:
        cluster = scenario(name)
        nodes = [n["metadata"]["name"] for n in cluster.nodes()]
        pod_cidr = cluster.proxy_config.get("clusterCIDR") or "10.244.0.0/16"
        src = pod_cidr.split("/")[0].rsplit(".", 2)[0] + ".250.7"  # a pod address no endpoint uses
        for svc in cluster.services():
            spec = svc["spec"]
            if spec.get("type") == "ExternalName" or spec.get("clusterIP") in (None, "None"):
                continue
            for port in spec["ports"]:
                dst = f"{spec['clusterIP']}:{port['port']}"
                proto = port.get("protocol", "TCP")
                results = {m: trace(cluster, nodes[0], src, dst, proto, mode=m) for m in ("iptables", "nftables")}
                ipt, nft = results["iptables"], results["nftables"]
                assert ipt.verdict == nft.verdict, (name, dst)
                assert eps(ipt) == eps(nft), (name, dst)
                if ipt.verdict == "DNAT":
                    assert sum(d.probability for d in ipt.destinations) == pytest.approx(1.0)
                    assert not ipt.masquerade
                    ipvs = trace(cluster, nodes[0], src, dst, proto, mode="ipvs")
                    assert eps(ipvs) == eps(ipt), (name, dst)
                checked += 1
    assert checked > 0


def test_summary_masquerade_is_true_only_when_every_branch_is() -> None:
    """A hairpin branch is per destination; the top-level flag follows the facts' flow table."""
    from kubelearn.proxy import Destination, Trace

    def tr(src: str, *masq: bool) -> Trace:
        dests = tuple(Destination(f"10.0.0.{i + 1}:80", 1 / len(masq), f"KUBE-SEP-{i}", m) for i, m in enumerate(masq))
        from kubelearn.proxy.walk import Packet, Walker, finish

        w = Walker(frozenset())
        results = [(Packet(ipaddress.ip_address(src), ipaddress.ip_address(d.endpoint.split(":")[0]), 80, "tcp",
                           prob=Fraction(1, len(masq)), dnat=d.endpoint, dnat_chain=d.chain, masq=d.masquerade),
                    "ACCEPT") for d in dests]
        return finish(w, results, mode="iptables", hook="PREROUTING", src=src, dst="10.96.0.1:80", protocol="TCP")

    hairpin = tr("10.0.0.1", True, False, False)
    assert hairpin.masquerade is False and [d.masquerade for d in hairpin.destinations] == [True, False, False]
    assert "source: masqueraded only if it lands on itself (hairpin)" in str(hairpin)
    every = tr("172.18.0.9", True, True)
    assert every.masquerade is True and "source: masqueraded (the endpoint sees the node's address)" in str(every)
    none = tr("10.0.0.9", False, False)
    assert none.masquerade is False and "source: not masqueraded" in str(none)
    some = tr("10.0.0.9", True, False)
    assert some.masquerade is False and "masqueraded on some branches only" in str(some)
