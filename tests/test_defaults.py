"""SetDefaults as the API server runs it (discovery-api-facts §D and the apps/v1 defaults)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from kubelearn.apiserver.defaults import DEFAULT_CLIENT_IP_TIMEOUT, apply_defaults


def service(**spec: Any) -> dict[str, Any]:
    spec.setdefault("ports", [{"port": 80}])
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": spec}


def test_returns_a_new_dict_and_leaves_the_input_alone() -> None:
    svc = service()
    before = copy.deepcopy(svc)
    out = apply_defaults(svc)
    assert svc == before
    assert out is not svc and out["spec"] is not svc["spec"]


def test_minimal_service() -> None:
    spec = apply_defaults(service())["spec"]
    assert spec == {
        "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}],
        "sessionAffinity": "None",
        "type": "ClusterIP",
        "internalTrafficPolicy": "Cluster",
    }


def test_target_port_zero_or_empty_copies_port_but_names_stay() -> None:
    spec = apply_defaults(service(ports=[{"port": 80, "targetPort": 0}, {"port": 81, "targetPort": ""},
                                         {"port": 82, "targetPort": "http"}, {"port": 83, "targetPort": 9090}]))["spec"]
    assert [p["targetPort"] for p in spec["ports"]] == [80, 81, "http", 9090]


def test_missing_port_gives_a_zero_target_port_for_validation_to_report() -> None:
    spec = apply_defaults(service(ports=[{"name": "x"}]))["spec"]
    assert spec["ports"][0]["targetPort"] == 0


def test_session_affinity_none_drops_the_config() -> None:
    spec = apply_defaults(service(sessionAffinity="None",
                                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))["spec"]
    assert "sessionAffinityConfig" not in spec


def test_client_ip_gets_three_hours_unless_given() -> None:
    spec = apply_defaults(service(sessionAffinity="ClientIP"))["spec"]
    assert spec["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}
    assert DEFAULT_CLIENT_IP_TIMEOUT == 10800
    spec = apply_defaults(service(sessionAffinity="ClientIP",
                                  sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}))["spec"]
    assert spec["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 60


@pytest.mark.parametrize("spec, etp", [
    ({"type": "NodePort"}, "Cluster"),
    ({"type": "LoadBalancer"}, "Cluster"),
    ({"type": "ClusterIP", "externalIPs": ["198.51.100.7"]}, "Cluster"),
    ({"type": "ClusterIP"}, None),
    ({"type": "ExternalName", "externalName": "db.example.com"}, None),
    ({"type": "NodePort", "externalTrafficPolicy": "Local"}, "Local"),
])
def test_external_traffic_policy_only_for_externally_accessible(spec: dict[str, Any], etp: str | None) -> None:
    assert apply_defaults(service(**spec))["spec"].get("externalTrafficPolicy") == etp


def test_internal_traffic_policy_except_external_name() -> None:
    for t in ("ClusterIP", "NodePort", "LoadBalancer"):
        assert apply_defaults(service(type=t))["spec"]["internalTrafficPolicy"] == "Cluster"
    ext = apply_defaults(service(type="ExternalName", externalName="db.example.com", ports=[]))["spec"]
    assert "internalTrafficPolicy" not in ext
    assert apply_defaults(service(internalTrafficPolicy="Local"))["spec"]["internalTrafficPolicy"] == "Local"


def test_load_balancer_node_ports_and_ingress_ip_mode() -> None:
    lb = service(type="LoadBalancer")
    lb["status"] = {"loadBalancer": {"ingress": [{"ip": "203.0.113.10"}, {"hostname": "lb.example.com"}]}}
    out = apply_defaults(lb)
    assert out["spec"]["allocateLoadBalancerNodePorts"] is True
    assert out["status"]["loadBalancer"]["ingress"] == [{"ip": "203.0.113.10", "ipMode": "VIP"},
                                                        {"hostname": "lb.example.com"}]
    assert "allocateLoadBalancerNodePorts" not in apply_defaults(service(type="NodePort"))["spec"]
    off = apply_defaults(service(type="LoadBalancer", allocateLoadBalancerNodePorts=False))
    assert off["spec"]["allocateLoadBalancerNodePorts"] is False


def pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "spec": spec}


def test_pod_defaults() -> None:
    spec = apply_defaults(pod())["spec"]
    assert spec["enableServiceLinks"] is True
    assert spec["dnsPolicy"] == "ClusterFirst"
    assert spec["restartPolicy"] == "Always"
    assert spec["terminationGracePeriodSeconds"] == 30
    assert spec["schedulerName"] == "default-scheduler"
    c = spec["containers"][0]
    assert c["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["terminationMessagePath"] == "/dev/termination-log"
    assert c["terminationMessagePolicy"] == "File"
    kept = apply_defaults(pod(enableServiceLinks=False, dnsPolicy="Default", restartPolicy="Never"))["spec"]
    assert (kept["enableServiceLinks"], kept["dnsPolicy"], kept["restartPolicy"]) == (False, "Default", "Never")


@pytest.mark.parametrize("image, policy", [
    ("nginx", "Always"), ("nginx:latest", "Always"), ("nginx:1.27", "IfNotPresent"),
    ("registry:5000/team/app", "Always"), ("registry:5000/team/app:v2", "IfNotPresent"),
    ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
])
def test_image_pull_policy(image: str, policy: str) -> None:
    out = apply_defaults(pod(containers=[{"name": "c", "image": image}]))
    assert out["spec"]["containers"][0]["imagePullPolicy"] == policy


def test_probes_and_resources() -> None:
    c = {"name": "c", "image": "nginx:1", "readinessProbe": {"httpGet": {"port": 80}},
         "resources": {"limits": {"cpu": "500m"}}}
    out = apply_defaults(pod(containers=[c]))["spec"]["containers"][0]
    assert out["readinessProbe"] == {"httpGet": {"port": 80, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                                     "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
    assert out["resources"]["requests"] == {"cpu": "500m"}


def test_host_network_copies_container_port_to_host_port() -> None:
    spec = apply_defaults(pod(hostNetwork=True))["spec"]
    assert spec["containers"][0]["ports"][0]["hostPort"] == 80


def deployment(**spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    spec.setdefault("template", {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27", "ports": [{"containerPort": 80}]}]}})
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}


def test_deployment_defaults() -> None:
    spec = apply_defaults(deployment())["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    tspec = spec["template"]["spec"]
    assert tspec["dnsPolicy"] == "ClusterFirst" and tspec["restartPolicy"] == "Always"
    assert tspec["containers"][0]["ports"][0]["protocol"] == "TCP"
    # enableServiceLinks is SetDefaults_Pod's, not PodSpec's: templates do not get it.
    assert "enableServiceLinks" not in tspec
    recreate = apply_defaults(deployment(replicas=0, strategy={"type": "Recreate"}))["spec"]
    assert recreate["replicas"] == 0 and recreate["strategy"] == {"type": "Recreate"}


def test_replica_set_and_stateful_set_defaults() -> None:
    rs = apply_defaults({**deployment(), "kind": "ReplicaSet"})["spec"]
    assert rs["replicas"] == 1 and "strategy" not in rs
    sts = apply_defaults({**deployment(), "kind": "StatefulSet"})["spec"]
    assert sts["replicas"] == 1
    assert sts["podManagementPolicy"] == "OrderedReady"
    assert sts["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert sts["revisionHistoryLimit"] == 10
    assert sts["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    explicit = apply_defaults({**deployment(updateStrategy={"type": "RollingUpdate"}), "kind": "StatefulSet"})
    assert explicit["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


def test_endpoint_slice_namespace_node_endpoints() -> None:
    eps = apply_defaults({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "s"},
                          "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"]}],
                          "ports": [{"port": 8080}, {"name": "dns", "port": 53, "protocol": "UDP"}]})
    assert eps["ports"] == [{"port": 8080, "name": "", "protocol": "TCP"},
                            {"name": "dns", "port": 53, "protocol": "UDP"}]
    assert "conditions" not in eps["endpoints"][0]
    ns = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}})
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "prod"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]} and ns["status"] == {"phase": "Active"}
    node = apply_defaults({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"},
                           "status": {"capacity": {"cpu": "4"}}})
    assert node["status"]["allocatable"] == {"cpu": "4"}
    ep = apply_defaults({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "e"},
                         "subsets": [{"addresses": [{"ip": "10.0.0.1"}], "ports": [{"port": 80}]}]})
    assert ep["subsets"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]


@pytest.mark.parametrize("obj", [
    service(ports="80"),
    service(ports=[80, None, {"port": "80"}]),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": "oops"},
    pod(containers="nginx"),
    pod(containers=[{"name": "c", "image": 5, "ports": [8080], "env": "x", "readinessProbe": 1}]),
    deployment(strategy="fast", template=[]),
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": None, "spec": {"updateStrategy": 1}},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": 5, "labels": "x"}},
    {"kind": "Unknown"},
])
def test_malformed_input_never_crashes_and_wrong_types_are_left_alone(obj: dict[str, Any]) -> None:
    out = apply_defaults(obj)
    assert out["kind"] == obj["kind"]
    if isinstance(obj.get("spec"), str):
        assert out["spec"] == obj["spec"]
    if obj["kind"] == "Service" and isinstance(obj["spec"], dict) and obj["spec"]["ports"] == "80":
        assert out["spec"]["ports"] == "80" and out["spec"]["type"] == "ClusterIP"
