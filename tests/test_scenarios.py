"""The scenario suite: every file loads, says what it teaches, and shows its behaviour."""

from __future__ import annotations

import pytest

from kubelearn.errors import KubelearnError
from kubelearn.manifest import read_documents
from kubelearn.scenarios import SCENARIOS, default_scenario, scenario, scenario_path, scenario_text


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_is_a_commented_manifest_that_loads(name):
    path = scenario_path(name)
    assert path.name == f"{name}.yaml" and path.is_file()
    text = scenario_text(name)
    assert text.startswith(f"# {name}:")  # the header says what it teaches
    assert "Teaches:" in text.split("apiVersion", 1)[0]
    assert read_documents(path)  # plain YAML documents
    c = scenario(name, seed=1)
    # kind's default shape (a control plane, two workers); three-zones needs a third worker
    assert c.seed == 1 and len(c.nodes()) == (4 if name == "three-zones" else 3)


def test_unknown_scenario_lists_the_valid_ones():
    with pytest.raises(KubelearnError, match=r'unknown scenario "nodeports"; valid scenarios: my-service, n') as info:
        scenario("nodeports")
    assert 'unknown scenario "nodeports"' in str(info.value)
    assert "nodeport-local" in str(info.value) and "my-service" in str(info.value)


def test_default_scenario_is_the_tutorials_my_service():
    c = default_scenario()
    s = c.get("Service", "my-service")["spec"]
    assert s["selector"] == {"app": "MyApp"}
    assert s["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 9376}]
    assert s["type"] == "ClusterIP" and s["clusterIP"].startswith("10.96.")
    assert c.get("Deployment", "my-app")["spec"]["replicas"] == 3


def test_scenarios_are_deterministic_per_seed():
    a = scenario("nodeport-local", seed=7).get("Service", "web")["spec"]["clusterIP"]
    b = scenario("nodeport-local", seed=7).get("Service", "web")["spec"]["clusterIP"]
    c = scenario("nodeport-local", seed=8).get("Service", "web")["spec"]["clusterIP"]
    assert a == b != c


def test_scenario_specifics():
    lb = scenario("loadbalancer").get("Service", "web-lb")
    assert lb["status"]["loadBalancer"]["ingress"][0]["ip"] == "172.18.255.200"
    assert lb["spec"]["externalTrafficPolicy"] == "Local" and 30000 <= lb["spec"]["healthCheckNodePort"] <= 32767
    assert scenario("nodeport").get("Service", "web")["spec"]["ports"][0]["nodePort"] == 30080
    aff = scenario("session-affinity").get("Service", "sticky")["spec"]
    assert aff["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 10800}}
    headless = scenario("headless-statefulset").get("Service", "nginx")["spec"]
    assert headless["clusterIP"] == "None" and headless["clusterIPs"] == ["None"]
    ext = scenario("externalname").get("Service", "my-database")["spec"]
    assert "clusterIP" not in ext and ext["externalName"] == "db.example.com"
    eips = scenario("externalips").get("Service", "web")["spec"]
    assert eips["externalIPs"] == ["203.0.113.10"] and eips["externalTrafficPolicy"] == "Cluster"
    sl = scenario("selectorless")
    assert "selector" not in sl.get("Service", "external-db")["spec"]
    assert sl.endpoint_slices("default", "external-db")[0]["endpoints"][0]["addresses"] == ["192.0.2.42"]
    assert scenario("nftables").proxy_mode == "nftables"
    ipvs = scenario("ipvs")
    assert ipvs.proxy_mode == "ipvs" and ipvs.proxy_config["ipvs"]["scheduler"] == "rr"


def test_scenarios_with_controllers():
    c = default_scenario()
    pods = [p for p in c.pods("default") if p["metadata"]["labels"].get("app") == "MyApp"]
    assert len(pods) == 3
    assert all(p["spec"].get("nodeName") in ("kind-worker", "kind-worker2") for p in pods)  # control plane tainted
    (eps,) = c.endpoint_slices("default", "my-service")
    assert sorted(e["addresses"][0] for e in eps["endpoints"]) == sorted(p["status"]["podIP"] for p in pods)
    dns_pods = [p for p in c.pods("kube-system") if p["metadata"]["labels"].get("k8s-app") == "kube-dns"]
    assert len(dns_pods) == 2
    term = scenario("terminating").get("Pod", "web-0")
    assert term["metadata"].get("deletionTimestamp")


def test_named_targetport_and_terminating_endpoints():
    c = scenario("named-targetport")
    slices = c.endpoint_slices("default", "web")
    ports = sorted(s["ports"][0]["port"] for s in slices if s.get("endpoints"))
    assert ports == [8080, 9090]  # one slice per resolved port number
    (term,) = scenario("terminating").endpoint_slices("default", "web")
    assert term["endpoints"][0]["conditions"] == {"ready": False, "serving": True, "terminating": True}
