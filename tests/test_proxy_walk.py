"""The walk every tracer shares: any number of endpoints, any nesting, in the kernel's order, bounded.

kube-proxy picks an endpoint with one random rule per endpoint, so a Service with thousands of
endpoints is a chain of thousands of branches; the tracer follows each with its exact share, on
its own stack rather than Python's.  A jump whose chain returns on several branches goes on
with the rest of the calling chain once per branch, in order.  A hand-made ruleset whose
branches multiply is refused with a clear message after a bounded amount of work.
"""

from __future__ import annotations

import dataclasses
import inspect
import sys
from typing import Any

import pytest

import kubelearn as kl
import kubelearn.proxy.walk as walk
from kubelearn.cluster import Cluster
from kubelearn.proxy import Trace, TraceError, rules, trace
from kubelearn.proxy.walk import Packet

NODE_IP = "172.18.0.2"


def big_service(endpoints: int) -> Cluster:
    """One node and one NodePort Service with ``endpoints`` ready endpoints (slices of 1,000, the API's limit)."""
    objs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}, "spec": {},
         "status": {"addresses": [{"type": "InternalIP", "address": NODE_IP}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "big", "namespace": "default"},
         "spec": {"type": "NodePort", "clusterIP": "10.96.0.50",
                  "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}]}},
    ]
    for start in range(0, endpoints, 1000):
        objs.append({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"big-{start}", "namespace": "default", "labels": {"kubernetes.io/service-name": "big"}},
            "endpoints": [{"addresses": [f"10.244.{j // 250}.{j % 250 + 1}"], "conditions": {"ready": True},
                           "nodeName": "n1"} for j in range(start, min(endpoints, start + 1000))],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]})
    return Cluster(proxy_config={"mode": "iptables", "clusterCIDR": "10.244.0.0/16"}).with_objects(objs)


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
def test_a_service_with_2000_endpoints_is_traced_whole(mode: str) -> None:
    t = trace(big_service(2000), "n1", "203.0.113.5", f"{NODE_IP}:30080", mode=mode)
    assert t.verdict == "DNAT" and t.service == "default/big"
    assert len(t.destinations) == 2000
    assert {d.probability for d in t.destinations} == {1 / 2000}
    assert sum(d.probability for d in t.destinations) == pytest.approx(1.0)
    assert all(d.masquerade for d in t.destinations)  # external client, externalTrafficPolicy Cluster
    assert len(t.steps) < walk.MAX_STEPS


@pytest.mark.parametrize(("mode", "view"), [("iptables", "save"), ("nftables", "list")])
def test_a_dump_with_2000_endpoints_in_one_chain_is_traced_like_the_model(mode: str, view: str) -> None:
    cluster = big_service(2000)
    dump = kl.read_rules(rules(cluster, "n1", mode=mode, view=view).text(view))
    got = dump.trace("10.244.200.9", "10.96.0.50:80", local_ips=(NODE_IP,))
    want = trace(cluster, "n1", "10.244.200.9", "10.96.0.50:80", mode=mode)
    assert [d.endpoint for d in got.destinations] == [d.endpoint for d in want.destinations]
    assert [d.probability for d in got.destinations] == pytest.approx([d.probability for d in want.destinations])
    assert len(got.destinations) == 2000


def _nested(depth: int) -> str:
    chains = [f"C{i}" for i in range(depth)]
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", *(f":{c} - [0:0]" for c in chains), "-A PREROUTING -j C0"]
    lines += [f"-A {a} -j {b}" for a, b in zip(chains, chains[1:], strict=False)]
    lines += [f"-A {chains[-1]} -p tcp -j DNAT --to-destination 10.0.0.9:80", "COMMIT"]
    return "\n".join(lines) + "\n"


def test_chains_nested_150_deep_need_no_python_stack_per_level() -> None:
    dump = kl.read_rules(_nested(150))  # the reader allows 200 levels, as the kernel refuses loops
    limit = sys.getrecursionlimit()
    # Room for the tracer's own calls, far less than two frames per nested chain.
    sys.setrecursionlimit(len(inspect.stack(0)) + 120)
    try:
        t = dump.trace("1.2.3.4", "9.9.9.9:80")
    finally:
        sys.setrecursionlimit(limit)
    assert t.verdict == "DNAT" and [d.endpoint for d in t.destinations] == ["10.0.0.9:80"]
    assert len(t.steps) == 151


RETURNS_TWICE = """\
*nat
:PREROUTING ACCEPT [0:0]
:X - [0:0]
-A PREROUTING -j X
-A PREROUTING -j DNAT --to-destination 10.0.0.3:80
-A X -m statistic --mode random --probability 0.25 -j RETURN
-A X -m statistic --mode random --probability 0.50000000000 -j DNAT --to-destination 10.0.0.1:80
-A X -j RETURN
COMMIT
"""


def test_a_jump_that_returns_on_several_branches_goes_on_once_per_branch_in_order() -> None:
    t = kl.read_rules(RETURNS_TWICE).trace("1.2.3.4", "9.9.9.9:80")
    # 1/4 returns at once, 3/8 is DNATed in X, 3/8 returns at X's end: 5/8 reach PREROUTING's DNAT.
    assert [(d.endpoint, d.probability, d.chain) for d in t.destinations] == [
        ("10.0.0.3:80", 0.625, "PREROUTING"), ("10.0.0.1:80", 0.375, "X")]
    # X is walked whole (every branch) before either returning branch goes on in PREROUTING.
    assert [(s.chain, s.probability) for s in t.steps] == [
        ("PREROUTING", None), ("X", 0.25), ("X", 0.5), ("X", None), ("PREROUTING", None), ("PREROUTING", None)]
    assert t.rules_walked == 4  # 1 + (1 + 3/4 + 3/8) + 1/4 + 3/8 = 3.75 rules on average


def test_branches_that_multiply_are_refused_in_bounded_work(monkeypatch: pytest.MonkeyPatch) -> None:
    # 30 jumps into a chain that returns on two branches: 2**30 ways through PREROUTING.
    lines = ["*nat", ":PREROUTING ACCEPT [0:0]", ":X - [0:0]", *["-A PREROUTING -j X"] * 30,
             "-A X -m statistic --mode random --probability 0.5 -j RETURN", "-A X -j RETURN", "COMMIT"]
    dump = kl.read_rules("\n".join(lines) + "\n")
    monkeypatch.setattr(walk, "MAX_STEPS", 20_000)
    with pytest.raises(TraceError, match=r"evaluates more than 20,000 rules \(the rules' random branches multiply\)"):
        dump.trace("1.2.3.4", "9.9.9.9:80")


def test_trace_is_a_frozen_value() -> None:
    t = trace(big_service(3), "n1", "10.244.9.9", "10.96.0.50:80")
    assert isinstance(t, Trace)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'verdict'"):
        t.verdict = "DROP"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'matched'"):
        t.steps[0].matched = True  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(t)] == [
        "verdict", "destinations", "masquerade", "service", "port_name", "hook", "steps", "rules_walked",
        "affinity_timeout", "scheduler", "mode", "src", "dst", "protocol"]


def test_a_packet_changes_only_fields_it_has() -> None:
    import ipaddress

    pk = Packet(ipaddress.ip_address("10.0.0.1"), ipaddress.ip_address("10.96.0.1"), 80, "tcp")
    marked = pk.with_(mark=True)
    assert marked.mark and not pk.mark and marked.src == pk.src and marked == dataclasses.replace(pk, mark=True)
    with pytest.raises(TypeError, match="a Packet has no field 'marked'"):
        pk.with_(marked=True)
