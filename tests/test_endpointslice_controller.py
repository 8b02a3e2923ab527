"""The EndpointSlice and Endpoints controllers (kubelearn.controllers.endpointslice)."""

from __future__ import annotations

import re

from _workloads_fixtures import (
    NODES,
    bare_pod,
    base_cluster,
    cluster_with,
    deployment,
    node,
    pod_template,
    service,
    statefulset,
)

from kubelearn import edits
from kubelearn.cluster import Cluster, Topology
from kubelearn.controllers.endpointslice import MANAGED_BY, endpoint_slices_for, endpoints_for, resolve_target_port
from kubelearn.controllers.manager import reconcile
from kubelearn.controllers.pods import SAFE_ALPHABET


def eps(c: Cluster, svc: str = "my-service") -> list[tuple[str, bool, bool, bool]]:
    return [(e["targetRef"]["name"], e["conditions"]["ready"], e["conditions"]["serving"], e["conditions"]["terminating"])
            for s in c.endpoint_slices("default", svc) for e in s["endpoints"]]


def test_slice_for_the_default_service_whole_value() -> None:
    c = cluster_with(deployment("my-app"), service(selector={"app": "MyApp"}))
    svc = c.get("Service", "my-service")
    (sl,) = c.endpoint_slices("default", "my-service")
    pods = sorted(c.pods(), key=lambda p: tuple(int(x) for x in p["status"]["podIP"].split(".")))
    expected_endpoints = [{
        "addresses": [p["status"]["podIP"]],
        "conditions": {"ready": True, "serving": True, "terminating": False},
        "nodeName": p["spec"]["nodeName"],
        "targetRef": {"kind": "Pod", "name": p["metadata"]["name"], "namespace": "default", "uid": p["metadata"]["uid"]},
    } for p in pods]
    assert re.fullmatch(f"my-service-[{SAFE_ALPHABET}]{{5}}", sl["metadata"]["name"])
    assert {k: v for k, v in sl.items() if k != "metadata"} == {
        "addressType": "IPv4",
        "apiVersion": "discovery.k8s.io/v1",
        "endpoints": expected_endpoints,
        "kind": "EndpointSlice",
        "ports": [{"name": "", "port": 9376, "protocol": "TCP"}],
    }
    meta = sl["metadata"]
    assert meta["labels"] == {"endpointslice.kubernetes.io/managed-by": MANAGED_BY,
                              "kubernetes.io/service-name": "my-service"}
    assert meta["generateName"] == "my-service-"
    assert meta["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "my-service",
                                        "uid": svc["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
    assert [e["addresses"][0] for e in sl["endpoints"]] == ["10.244.1.2", "10.244.1.3", "10.244.2.2"]


def test_named_target_port_resolved_per_pod_blue_green() -> None:
    blue = bare_pod("blue", {"app": "web"}, )
    blue["spec"]["containers"][0]["ports"] = [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]
    green = bare_pod("green", {"app": "web"})
    green["spec"]["containers"][0]["ports"] = [{"containerPort": 9090, "name": "http", "protocol": "TCP"}]
    udp_only = bare_pod("udp", {"app": "web"})
    udp_only["spec"]["containers"][0]["ports"] = [{"containerPort": 7070, "name": "http", "protocol": "UDP"}]
    svc = service("web", selector={"app": "web"}, target_port="http", port_name="http")
    c = reconcile(base_cluster().with_objects([blue, green, udp_only, svc]))
    slices = c.endpoint_slices("default", "web")
    by_port = {tuple(p["port"] for p in s["ports"]): [e["targetRef"]["name"] for e in s["endpoints"]] for s in slices}
    # The UDP-only pod has no TCP port "http": it lands in a slice with no ports at all.
    assert by_port == {(8080,): ["blue"], (9090,): ["green"], (): ["udp"]}
    assert all(s["ports"] in ([{"name": "http", "port": 8080, "protocol": "TCP"}],
                              [{"name": "http", "port": 9090, "protocol": "TCP"}], []) for s in slices)
    ep = endpoints_for(c, "web")
    assert ep is not None
    assert [([a["ip"] for a in s["addresses"]], s["ports"][0]["port"]) for s in ep["subsets"]] == [
        ([c.get("Pod", "blue")["status"]["podIP"]], 8080), ([c.get("Pod", "green")["status"]["podIP"]], 9090)]


def test_resolve_target_port_numbers_names_and_sidecars() -> None:
    pod = bare_pod("p", {})
    pod["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "name": "web", "protocol": "TCP"}]
    pod["spec"]["initContainers"] = [{"name": "side", "restartPolicy": "Always",
                                      "ports": [{"containerPort": 9901, "name": "admin", "protocol": "TCP"}]}]
    assert resolve_target_port(pod, {"port": 1, "targetPort": 1234, "protocol": "TCP"}) == 1234
    assert resolve_target_port(pod, {"port": 1, "targetPort": "web", "protocol": "TCP"}) == 80
    assert resolve_target_port(pod, {"port": 1, "targetPort": "web", "protocol": "UDP"}) is None
    assert resolve_target_port(pod, {"port": 1, "targetPort": "admin", "protocol": "TCP"}) == 9901
    assert resolve_target_port(pod, {"port": 1, "targetPort": "nope", "protocol": "TCP"}) is None


def test_more_than_100_endpoints_make_two_slices_with_stable_names() -> None:
    c = cluster_with(deployment("my-app", replicas=150), service(selector={"app": "MyApp"}))
    slices = c.endpoint_slices("default", "my-service")
    assert [len(s["endpoints"]) for s in slices] == [100, 50]
    ips = [e["addresses"][0] for s in slices for e in s["endpoints"]]
    assert len(set(ips)) == 150
    names = [s["metadata"]["name"] for s in slices]
    assert len(set(names)) == 2
    # Scaling keeps the slices (same names) as long as the port list is unchanged.
    down = edits.scale(c, "my-app", 120)
    assert [s["metadata"]["name"] for s in down.endpoint_slices("default", "my-service")] == names
    small = edits.scale(down, "my-app", 3)
    # The 147 pods scaled away (30, then 117, at the same instant) are Terminating until their
    # grace period ends: still in the slices.
    ends = [e for s in small.endpoint_slices("default", "my-service") for e in s["endpoints"]]
    assert len(ends) == 150 and sum(e["conditions"]["terminating"] for e in ends) == 147
    small = edits.advance(small, small.now + 30)
    assert [s["metadata"]["name"] for s in small.endpoint_slices("default", "my-service")] == names[:1]


def test_publish_not_ready_addresses_and_unready_pods() -> None:
    c = cluster_with(deployment("my-app", replicas=2), service(selector={"app": "MyApp"}),
                     service("peers", selector={"app": "MyApp"}, cluster_ip="None", publish_not_ready=True))
    victim = c.pods()[0]["metadata"]["name"]
    c = edits.set_ready(c, victim, False)
    assert (victim, False, False, False) in eps(c)
    assert (victim, True, True, False) in eps(c, "peers")
    (peers,) = c.endpoint_slices("default", "peers")
    assert peers["metadata"]["labels"]["service.kubernetes.io/headless"] == ""
    ep = endpoints_for(c, "my-service")
    assert ep is not None
    (subset,) = ep["subsets"]
    assert [a["targetRef"]["name"] for a in subset["notReadyAddresses"]] == [victim]
    assert len(subset["addresses"]) == 1
    assert subset["ports"] == [{"port": 9376, "protocol": "TCP"}]  # v1 omits an empty name
    assert [len(s["addresses"]) for s in endpoints_for(c, "peers")["subsets"]] == [2]  # type: ignore[index]


def test_terminating_pod_conditions() -> None:
    c = cluster_with(deployment("my-app", replicas=2), service(selector={"app": "MyApp"}))
    victim = c.pods()[0]["metadata"]["name"]
    c = edits.delete_pod(c, victim, grace=True)
    got = sorted(eps(c))
    assert (victim, False, True, True) in got
    assert sum(1 for e in got if e[1:] == (True, True, False)) == 2  # survivor + replacement
    ep = endpoints_for(c, "my-service")
    assert ep is not None and victim not in {a["targetRef"]["name"] for a in ep["subsets"][0]["addresses"]}


def test_selectorless_and_external_name_services_get_nothing_and_user_slices_stay() -> None:
    user_slice = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
                  "metadata": {"name": "db-1", "namespace": "default",
                               "labels": {"kubernetes.io/service-name": "db",
                                          "endpointslice.kubernetes.io/managed-by": "me.example.com"}},
                  "endpoints": [{"addresses": ["192.0.2.10"]}], "ports": [{"name": "", "port": 5432, "protocol": "TCP"}]}
    ext = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ext", "namespace": "default"},
           "spec": {"type": "ExternalName", "externalName": "db.example.com", "selector": {"app": "MyApp"},
                    "sessionAffinity": "None"}}
    c = cluster_with(deployment("my-app", replicas=1), service("db", selector=None), ext, user_slice)
    assert endpoint_slices_for(c, "db") == [] and endpoint_slices_for(c, "ext") == []
    assert endpoints_for(c, "db") is None
    assert [s["metadata"]["name"] for s in c.endpoint_slices("default")] == ["db-1"]


def test_placeholder_slice_when_nothing_matches_and_deleted_service_loses_slices() -> None:
    c = cluster_with(service(selector={"app": "nobody"}))
    (sl,) = c.endpoint_slices("default", "my-service")
    assert sl["endpoints"] == [] and sl["ports"] == []
    assert endpoints_for(c, "my-service") == {
        "apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "my-service", "namespace": "default",
                     "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}}}
    gone = reconcile(c.without("Service", "my-service"))
    assert gone.endpoint_slices() == [] and gone.list("Endpoints") == []


def test_hostname_only_for_the_governing_service_and_zone_from_node() -> None:
    nodes = [node(n) for n in NODES]
    for n in nodes:
        n["metadata"]["labels"]["topology.kubernetes.io/zone"] = "zone-" + n["metadata"]["name"][-1]
    c = Cluster(topology=Topology(nodes=NODES)).with_objects(nodes)
    c = reconcile(c.with_objects([
        statefulset("web", replicas=2, service="nginx"),
        service("nginx", selector={"app": "web"}, cluster_ip="None", target_port="web"),
        service("other", selector={"app": "web"}, target_port=80),
    ]))
    by_name = {e["targetRef"]["name"]: e for s in c.endpoint_slices("default", "nginx") for e in s["endpoints"]}
    assert by_name["web-0"]["hostname"] == "web-0" and by_name["web-1"]["hostname"] == "web-1"
    assert by_name["web-0"]["zone"] == "zone-" + by_name["web-0"]["nodeName"][-1]
    assert all("hostname" not in e for s in c.endpoint_slices("default", "other") for e in s["endpoints"])
    ep = endpoints_for(c, "nginx")
    assert ep is not None and {a["hostname"] for a in ep["subsets"][0]["addresses"]} == {"web-0", "web-1"}


def test_endpoints_sorts_addresses_as_strings() -> None:
    c = cluster_with(deployment("my-app", replicas=20, template=pod_template({"app": "MyApp"})),
                     service(selector={"app": "MyApp"}))
    addrs = [a["ip"] for a in endpoints_for(c, "my-service")["subsets"][0]["addresses"]]  # type: ignore[index]
    assert addrs == sorted(addrs)
    assert addrs.index("10.244.1.10") < addrs.index("10.244.1.2")


def test_service_labels_copied_and_other_namespace_ignored() -> None:
    svc = service(selector={"app": "MyApp"})
    svc["metadata"]["labels"] = {"team": "blue"}
    c = cluster_with(deployment("my-app", replicas=1), deployment("other", replicas=1, namespace="prod"), svc)
    (sl,) = c.endpoint_slices("default", "my-service")
    assert sl["metadata"]["labels"]["team"] == "blue"
    assert [e["targetRef"]["namespace"] for e in sl["endpoints"]] == ["default"]


def test_slice_names_depend_on_seed_only() -> None:
    def slice_names(seed: int) -> list[str]:
        c = cluster_with(deployment("my-app", replicas=2), service(selector={"app": "MyApp"}), seed=seed)
        return [s["metadata"]["name"] for s in c.endpoint_slices("default", "my-service")]

    assert slice_names(3) == slice_names(3)
    assert slice_names(3) != slice_names(4)


def test_endpoints_truncated_over_1000_addresses_slices_are_not() -> None:
    from kubelearn.controllers.scheduler import running_status

    pods = []
    for i in range(1001):
        p = bare_pod(f"p{i}", {"app": "big"}, nodeName="kind-worker")
        p["status"] = running_status(p, f"10.244.{1 + i // 250}.{2 + i % 250}", "172.18.0.2", "2026-01-01T00:00:00Z")
        pods.append(p)
    c = base_cluster().with_objects([*pods, service("big", selector={"app": "big"})])
    ep = endpoints_for(c, "big", "default")
    assert ep is not None
    assert ep["metadata"]["annotations"] == {"endpoints.kubernetes.io/over-capacity": "truncated"}
    assert sum(len(s.get("addresses", [])) for s in ep["subsets"]) == 1000
    slices = endpoint_slices_for(c, "big", "default")
    assert [len(s["endpoints"]) for s in slices] == [100] * 10 + [1]
