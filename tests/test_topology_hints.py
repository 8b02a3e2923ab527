"""Zones: the EndpointSlice controller's hints and kube-proxy following them, end to end.

``add_topology_hints`` is checked against the controller's own TestAddHints cases
(``data/discovery/upstream_topologycache_addhints.yaml``); the rest uses the three-zone scenario.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import kubelearn as kl
from kubelearn.endpointslices import (
    INSUFFICIENT_NUMBER_OF_ENDPOINTS,
    NO_ZONE_SPECIFIED,
    add_topology_hints,
    zone_cpu_ratios,
)
from kubelearn.proxy import rules, trace

CASES = yaml.safe_load((Path(__file__).parent / "data" / "discovery" / "upstream_topologycache_addhints.yaml").read_text())["cases"]
WORKERS = {"kind-worker": "zone-a", "kind-worker2": "zone-b", "kind-worker3": "zone-c"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_add_hints(case: dict[str, Any]) -> None:
    eps = []
    for e in case["eps"]:
        ep: dict[str, Any] = {"addresses": [e["ip"]], "zone": e["zone"]}
        if "ready" in e:
            ep["conditions"] = {"ready": e["ready"]}
        eps.append(ep)
    slices = [{"endpoints": eps}]
    event = add_topology_hints(slices, case["ratios"])
    got = [ep["hints"]["forZones"][0]["name"] if "hints" in ep else None for ep in eps]
    assert got == case["hints"]
    assert event.startswith(case["event"])


@pytest.fixture(scope="module")
def zones() -> kl.Cluster:
    return kl.scenario("three-zones")


def _ids(c: kl.Cluster, node: str, svc: str, mode: str = "iptables") -> list[str]:
    ip = c.get("Service", svc)["spec"]["clusterIP"]
    return sorted(d.endpoint for d in trace(c, node, "10.244.9.9", f"{ip}:80", mode=mode).destinations)


def test_nodes_carry_their_zone_and_cpu(zones: kl.Cluster) -> None:
    for node, zone in WORKERS.items():
        assert zones.get("Node", node)["metadata"]["labels"]["topology.kubernetes.io/zone"] == zone
    assert "topology.kubernetes.io/zone" not in zones.get("Node", "kind-control-plane")["metadata"]["labels"]
    # the control plane is left out; three equal workers: one third each
    assert zone_cpu_ratios(zones) == {"zone-a": pytest.approx(1 / 3), "zone-b": pytest.approx(1 / 3),
                                      "zone-c": pytest.approx(1 / 3)}


def test_default_cluster_stays_single_zone() -> None:
    c = kl.scenario("my-service")
    assert zone_cpu_ratios(c) is None
    for sl in c.endpoint_slices("default", "my-service"):
        assert all("hints" not in ep for ep in sl["endpoints"])


@pytest.mark.parametrize("svc", ["web", "web-auto"])
def test_hints_are_the_endpoints_own_zone(zones: kl.Cluster, svc: str) -> None:
    eps = [ep for sl in zones.endpoint_slices("default", svc) for ep in sl["endpoints"]]
    assert len(eps) == 6
    for ep in eps:
        assert ep["zone"] == WORKERS[ep["nodeName"]]
        assert ep["hints"] == {"forZones": [{"name": ep["zone"]}]}


@pytest.mark.parametrize("mode", ["iptables", "nftables", "ipvs"])
@pytest.mark.parametrize("svc", ["web", "web-auto"])
def test_each_node_keeps_its_zone(zones: kl.Cluster, svc: str, mode: str) -> None:
    pods = {p["status"]["podIP"]: p["spec"]["nodeName"] for p in zones.pods() if p["metadata"]["labels"].get("app") == "web"}
    for node, zone in WORKERS.items():
        got = _ids(zones, node, svc, mode)
        assert len(got) == 2
        assert {WORKERS[pods[e.split(":")[0]]] for e in got} == {zone}
    # a node without zone label ignores the hints: all six endpoints
    assert len(_ids(zones, "kind-control-plane", svc, mode)) == 6


def test_topology_auto_refuses_when_a_zone_would_be_overloaded(zones: kl.Cluster) -> None:
    """Scale to 2 replicas: 3 zones, 2 endpoints: the controller writes no hints."""
    c = zones.scale("web", 2)
    eps = [ep for sl in c.endpoint_slices("default", "web-auto") for ep in sl["endpoints"]]
    ready = [ep for ep in eps if ep["conditions"]["ready"]]  # (the other four are terminating)
    assert len(ready) == 2 and all("hints" not in ep for ep in eps)
    # PreferClose has no such safeguard: each endpoint still hinted for its own zone, and the
    # zone without endpoints falls back to every endpoint
    close = [ep for sl in c.endpoint_slices("default", "web") for ep in sl["endpoints"] if ep["conditions"]["ready"]]
    assert len(close) == 2 and all("hints" in ep for ep in close)
    empty_zone = next(n for n, z in WORKERS.items() if z not in {ep["zone"] for ep in close})
    assert len(_ids(c, empty_zone, "web")) == 2
    assert len(_ids(c, empty_zone, "web-auto")) == 2


def test_messages() -> None:
    slices = [{"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}},
                             {"addresses": ["10.0.0.2"], "conditions": {"ready": True}, "zone": "b"}]}]
    assert add_topology_hints(slices, {"a": 0.5, "b": 0.5}) == NO_ZONE_SPECIFIED
    assert all("hints" not in ep for ep in slices[0]["endpoints"])
    one = [{"endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}, "zone": "a"}]}]
    assert add_topology_hints(one, {"a": 0.5, "b": 0.5}) == f"{INSUFFICIENT_NUMBER_OF_ENDPOINTS} (1 endpoints, 2 zones)"


def test_node_hints_need_the_gate(zones: kl.Cluster) -> None:
    """PreferSameNode adds node hints; kube-proxy reads them only with PreferSameTrafficDistribution
    (alpha, off, in v1.33: a KubeProxyConfiguration featureGates entry switches it on)."""
    import copy
    import dataclasses

    from kubelearn.endpointslices import apply_hints

    svc = zones.get("Service", "web")
    same_node = {**svc, "spec": {**svc["spec"], "trafficDistribution": "PreferSameNode"}}
    slices = copy.deepcopy(zones.endpoint_slices("default", "web"))
    apply_hints(zones, same_node, slices)  # (v1.33's validation accepts only PreferClose)
    for ep in slices[0]["endpoints"]:
        assert ep["hints"] == {"forZones": [{"name": ep["zone"]}], "forNodes": [{"name": ep["nodeName"]}]}
    c = zones.with_objects(slices)
    c = dataclasses.replace(c, topology=dataclasses.replace(c.topology, kubernetes_version="v1.33.1"))
    assert len(_ids(c, "kind-worker", "web")) == 2  # v1.33, gate off: the zone's two endpoints
    on = dataclasses.replace(c, proxy_config={**c.proxy_config, "featureGates": {"PreferSameTrafficDistribution": True}})
    pods = {p["status"]["podIP"]: p["spec"]["nodeName"] for p in on.pods()}
    got = _ids(on, "kind-worker", "web")
    assert len(got) == 2 and {pods[e.split(":")[0]] for e in got} == {"kind-worker"}
    assert "KUBE-SVC" in str(rules(on, "kind-worker"))
    # v1.34 and later: the gate is on by default, the node's own endpoints only
    later = dataclasses.replace(c, topology=dataclasses.replace(c.topology, kubernetes_version="v1.35.0"))
    assert {pods[e.split(":")[0]] for e in _ids(later, "kind-worker", "web")} == {"kind-worker"}


def test_kube_proxy_configuration_feature_gates_switch_node_hints_on() -> None:
    """A KubeProxyConfiguration ``featureGates`` entry reaches kube-proxy's topology code."""
    text = kl.scenarios.scenario_text("three-zones")
    cfg = ("---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
           "featureGates:\n  PreferSameTrafficDistribution: true\n")
    c = kl.load(text.replace("---\napiVersion: v1\nkind: Service", cfg + "---\napiVersion: v1\nkind: Service", 1))
    assert c.proxy_config["featureGates"] == {"PreferSameTrafficDistribution": True}
    from kubelearn.proxy import proxy_settings

    assert proxy_settings(c, "kind-worker")["prefer_same_node"] is True
    import dataclasses

    old = kl.scenario("three-zones")
    old = dataclasses.replace(old, topology=dataclasses.replace(old.topology, kubernetes_version="v1.33.1"))
    assert proxy_settings(old, "kind-worker")["prefer_same_node"] is False  # v1.33's default
    assert proxy_settings(kl.scenario("three-zones"), "kind-worker")["prefer_same_node"] is True  # v1.35's


def test_feature_gates_must_be_booleans() -> None:
    from kubelearn.errors import KubelearnError

    bad = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n"
           "featureGates:\n  PreferSameTrafficDistribution: yes-please\n")
    with pytest.raises(KubelearnError, match="featureGates"):
        kl.load(bad)


def _hinted_slice(zones: list[str]) -> str:
    items = ", ".join(f"{{name: {z!r}}}" for z in zones)
    return ("apiVersion: v1\nkind: Service\nmetadata: {name: ext}\nspec:\n  ports: [{port: 80}]\n---\n"
            "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata:\n  name: ext-1\n"
            "  labels: {kubernetes.io/service-name: ext}\naddressType: IPv4\nports: [{port: 80}]\n"
            f"endpoints:\n  - addresses: ['10.244.1.7']\n    zone: zone-a\n    hints: {{forZones: [{items}]}}\n")


def test_endpointslice_hints_are_validated() -> None:
    """pkg/apis/discovery/validation validateHints: maxZoneHints = 8, duplicates, label values."""
    from kubelearn.errors import KubelearnError

    c = kl.load(_hinted_slice(["zone-a"]))
    assert c.get("EndpointSlice", "ext-1")["endpoints"][0]["hints"] == {"forZones": [{"name": "zone-a"}]}
    with pytest.raises(KubelearnError) as info:
        kl.load(_hinted_slice([f"z{i}" for i in range(9)]))
    assert "endpoints[0].hints.forZones: Too many: 9: must have at most 8 items" in str(info.value)
    with pytest.raises(KubelearnError) as info:
        kl.load(_hinted_slice(["a", "a", "-bad"]))
    text = str(info.value)
    assert 'endpoints[0].hints.forZones[1].name: Duplicate value: "a"' in text
    assert 'endpoints[0].hints.forZones[2].name: Invalid value: "-bad"' in text
