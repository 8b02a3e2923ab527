"""kubectl's tables, -o formats and describe service (discovery-api-facts §G)."""

from __future__ import annotations

import json

import pytest
import yaml
from discovery_builders import cluster, endpoint_slice, kube_dns_service, kubernetes_service, node, pod, service

from kubelearn.cluster import Cluster
from kubelearn.errors import NotFoundError
from kubelearn.kubectl import (
    ENDPOINTS_WARNING,
    UnsupportedOutputError,
    describe_pod,
    describe_service,
    get,
    human_duration,
    tabwrite,
)

APP = {"app.kubernetes.io/name": "MyApp"}


def _cluster(now: float = 300.0) -> Cluster:
    return cluster(
        node("kind-control-plane", "172.18.0.2", control_plane=True),
        node("kind-worker", "172.18.0.3"),
        kubernetes_service(),
        kube_dns_service(),
        service("my-service", "10.96.45.12", [(80, "TCP", "")], selector=APP, target_ports=[9376]),
        pod("web-1", "10.244.1.5", labels=APP),
        pod("web-2", "10.244.2.7", labels=APP, ready=False),
        endpoint_slice("my-service", [("10.244.1.5", True, ""), ("10.244.2.7", False, "")], [("", 9376, "TCP")],
                       suffix="x7k2p"),
        service("lb", "10.110.7.9", [(80, "TCP", "")], type="LoadBalancer", node_ports=[31234]),
        service("ext", type="ExternalName", external_name="db.example.com", ports=[]),
        now=now,
    )


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (-1, "0s"), (-5, "<invalid>"), (119, "119s"), (120, "2m"), (150, "2m30s"), (599, "9m59s"),
    (600, "10m"), (179 * 60, "179m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"),
    (47 * 3600, "47h"), (48 * 3600, "2d"), (50 * 3600, "2d2h"), (8 * 86400, "8d"), (729 * 86400, "729d"),
    (730 * 86400, "2y"), (731 * 86400, "2y1d"), (8 * 365 * 86400, "8y"),
])
def test_human_duration(seconds: int, text: str) -> None:
    """kubectl's AGE rules, at each boundary."""
    assert human_duration(seconds) == text


def test_tabwriter_min_width_and_padding() -> None:
    """Columns: widest cell + 3, at least 6; the last column is not padded."""
    assert tabwrite([["A", "BB", "C"], ["AAAA", "B", "CCCCCC"]]) == "A      BB    C\nAAAA   B     CCCCCC\n"


def test_get_services_table() -> None:
    """NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE, sorted by name; LB <pending>; ExternalName."""
    assert get(_cluster(), "svc") == (
        "NAME         TYPE           CLUSTER-IP    EXTERNAL-IP      PORT(S)        AGE\n"
        "ext          ExternalName   <none>        db.example.com   <none>         5m\n"
        "kubernetes   ClusterIP      10.96.0.1     <none>           443/TCP        5m\n"
        "lb           LoadBalancer   10.110.7.9    <pending>        80:31234/TCP   5m\n"
        "my-service   ClusterIP      10.96.45.12   <none>           80/TCP         5m\n"
    )


def test_get_services_all_namespaces_wide() -> None:
    """-A puts NAMESPACE first; -o wide adds SELECTOR."""
    out = get(_cluster(), "services", all_namespaces=True, output="wide")
    lines = out.splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE",
                                "SELECTOR"]
    assert lines[-1] == ("kube-system   kube-dns     ClusterIP      10.96.0.10    <none>           "
                         "53/UDP,53/TCP,9153/TCP   5m    k8s-app=kube-dns")
    assert "app.kubernetes.io/name=MyApp" in lines[4]


def test_get_pods_table_and_wide() -> None:
    """READY from the Ready condition; -o wide adds IP, NODE, NOMINATED NODE, READINESS GATES."""
    c = _cluster()
    assert get(c, "po") == (
        "NAME    READY   STATUS    RESTARTS   AGE\n"
        "web-1   1/1     Running   0          5m\n"
        "web-2   0/1     Running   0          5m\n"
    )
    assert get(c, "pods", output="wide").splitlines()[1] == (
        "web-1   1/1     Running   0          5m    10.244.1.5   kind-worker   <none>           <none>")


def test_terminating_pod_status() -> None:
    """A pod with a deletionTimestamp shows Terminating."""
    p = pod("old", labels=APP)
    p["metadata"]["deletionTimestamp"] = "2026-01-01T00:01:00Z"
    p["metadata"]["deletionGracePeriodSeconds"] = 30
    assert get(cluster(p), "pods").splitlines()[1].split()[2] == "Terminating"


def test_get_endpoints_warns_and_lists_ready_only() -> None:
    """v1.33 deprecation warning on stderr; only the ready address is listed."""
    out = get(_cluster(), "endpoints", "my-service")
    assert out.stderr == ENDPOINTS_WARNING + "\n"
    assert out.stdout == "NAME         ENDPOINTS         AGE\nmy-service   10.244.1.5:9376   5m\n"
    assert str(out).startswith("Warning: v1 Endpoints is deprecated in v1.33+")


def test_endpoints_more_and_none() -> None:
    """At most 3 ip:port pairs, then ' + N more...'; <none> without ready addresses."""
    eps = [(f"10.244.1.{i}", True, "") for i in range(10, 15)]
    c = cluster(service("many", "10.96.1.1", [(80, "TCP", "")], selector={"a": "b"}),
                endpoint_slice("many", eps), service("nobody", "10.96.1.2", selector={"a": "c"}))
    lines = get(c, "ep").stdout.splitlines()
    assert lines[1].split()[1:5] == ["10.244.1.10:80,10.244.1.11:80,10.244.1.12:80", "+", "2", "more..."]
    assert lines[2].split()[:2] == ["nobody", "<none>"]


def test_get_endpointslices() -> None:
    """NAME ADDRESSTYPE PORTS ENDPOINTS AGE: every address, ready or not."""
    assert get(_cluster(), "endpointslices").stdout == (
        "NAME               ADDRESSTYPE   PORTS   ENDPOINTS               AGE\n"
        "my-service-x7k2p   IPv4          9376    10.244.1.5,10.244.2.7   5m\n"
    )


def test_get_nodes() -> None:
    """ROLES from node-role labels; VERSION as kind's node image; wide adds addresses and OS."""
    c = _cluster(now=3 * 86400)
    assert get(c, "no") == (
        "NAME                 STATUS   ROLES           AGE   VERSION\n"
        "kind-control-plane   Ready    control-plane   3d    v1.35.0\n"
        "kind-worker          Ready    <none>          3d    v1.35.0\n"
    )
    wide = get(c, "nodes", output="wide").splitlines()
    assert wide[0].split()[5:7] == ["INTERNAL-IP", "EXTERNAL-IP"]
    assert "172.18.0.3" in wide[2] and "containerd://" in wide[2]


def test_cordoned_not_ready_node() -> None:
    """NotReady,SchedulingDisabled."""
    n = node("kind-worker", "172.18.0.3", ready=False)
    n["spec"]["unschedulable"] = True
    assert get(cluster(n), "nodes").splitlines()[1].split()[1] == "NotReady,SchedulingDisabled"


def test_empty_and_not_found() -> None:
    """No resources found on stderr; NotFound in kubectl's words; unknown type and -o."""
    c = _cluster()
    out = get(c, "deployments")
    assert out.stdout == "" and out.stderr == "No resources found in default namespace.\n"
    assert get(c, "statefulsets", all_namespaces=True).stderr == "No resources found\n"
    with pytest.raises(NotFoundError, match=r'^Error from server \(NotFound\): services "nope" not found$'):
        get(c, "svc", "nope")
    with pytest.raises(NotFoundError, match='deployments.apps "web" not found'):
        get(c, "deploy", "web")
    with pytest.raises(NotFoundError, match="doesn't have a resource type \"widgets\""):
        get(c, "widgets")
    with pytest.raises(UnsupportedOutputError, match='output format "xml"'):
        get(c, "svc", output="xml")


def test_output_json_yaml_name() -> None:
    """-o json: 4-space sorted JSON; a List without NAME; -o yaml sorted keys; -o name kind/name."""
    c = _cluster()
    one = json.loads(get(c, "svc", "my-service", output="json"))
    assert one["spec"]["clusterIP"] == "10.96.45.12" and one["kind"] == "Service"
    text = get(c, "svc/my-service", output="json")
    assert text.startswith('{\n    "apiVersion": "v1",\n    "kind": "Service",')
    lst = json.loads(get(c, "svc", output="json"))
    assert lst["kind"] == "List" and [i["metadata"]["name"] for i in lst["items"]] == [
        "ext", "kubernetes", "lb", "my-service"]
    y = get(c, "svc", "my-service", output="yaml")
    assert y.startswith("apiVersion: v1\nkind: Service\nmetadata:\n  creationTimestamp: \"2026-01-01T00:00:00Z\"")
    assert "  - 10.96.45.12\n" in y and yaml.safe_load(y)["metadata"]["name"] == "my-service"
    assert get(c, "svc", output="name").stdout.splitlines() == [
        "service/ext", "service/kubernetes", "service/lb", "service/my-service"]
    assert get(c, "endpointslices", output="name").stdout == "endpointslice.discovery.k8s.io/my-service-x7k2p\n"


def test_describe_service_exact() -> None:
    """§G.3, field for field: tabwriter padding 2, <unset> port name, ready endpoints only."""
    assert describe_service(_cluster(), "my-service", "default") == (
        "Name:                     my-service\n"
        "Namespace:                default\n"
        "Labels:                   <none>\n"
        "Annotations:              <none>\n"
        "Selector:                 app.kubernetes.io/name=MyApp\n"
        "Type:                     ClusterIP\n"
        "IP Family Policy:         SingleStack\n"
        "IP Families:              IPv4\n"
        "IP:                       10.96.45.12\n"
        "IPs:                      10.96.45.12\n"
        "Port:                     <unset>  80/TCP\n"
        "TargetPort:               9376/TCP\n"
        "Endpoints:                10.244.1.5:9376\n"
        "Session Affinity:         None\n"
        "Internal Traffic Policy:  Cluster\n"
        "Events:                   <none>\n"
    )


def test_describe_service_node_port_labels_and_more() -> None:
    """NodePort lines, multi-line labels, External Traffic Policy, '+ N more...'."""
    svc = service("web", "10.96.3.3", [(80, "TCP", "http")], type="NodePort", node_ports=[30080],
                  selector={"app": "web"}, target_ports=["http"], labels={"tier": "front", "app": "web"})
    eps = [(f"10.244.1.{i}", True, "") for i in range(1, 6)]
    text = describe_service(cluster(svc, endpoint_slice("web", eps, [("http", 8080, "TCP")])), "web")
    lines = text.splitlines()
    assert lines[2:4] == ["Labels:                   app=web", "                          tier=front"]
    assert "Port:                     http  80/TCP" in lines
    assert "TargetPort:               http/TCP" in lines
    assert "NodePort:                 http  30080/TCP" in lines
    assert "Endpoints:                10.244.1.1:8080,10.244.1.2:8080,10.244.1.3:8080 + 2 more..." in lines
    assert "External Traffic Policy:  Cluster" in lines


def test_describe_service_not_found() -> None:
    """kubectl's NotFound."""
    with pytest.raises(NotFoundError, match='services "nope" not found'):
        describe_service(_cluster(), "nope")


def test_describe_pod_brief() -> None:
    """Node with host IP, IPs block, readiness condition."""
    text = describe_pod(_cluster(), "web-2")
    assert "Node:       kind-worker/172.18.0.3\n" in text
    assert "IPs:\n  IP:  10.244.2.7\n" in text
    assert "  Ready  False\n" in text


def test_load_balancer_external_ip_truncation_and_ipv6_endpoints() -> None:
    """LB ingress longer than 16 characters is cut to 13 + '...' (not with -o wide); IPv6 ip:port bracketed."""
    lb = service("lb", "10.96.4.4", [(80, "TCP", "")], type="LoadBalancer", node_ports=[30500])
    lb["status"]["loadBalancer"] = {"ingress": [{"ip": "203.0.113.10", "ipMode": "VIP"},
                                                {"ip": "203.0.113.11", "ipMode": "VIP"}]}
    v6 = service("v6", "fd00::5", [(80, "TCP", "")], selector={"a": "b"})
    c = cluster(lb, v6, endpoint_slice("v6", [("fd00:10:244::5", True, "")]))
    assert get(c, "svc").splitlines()[1].split()[3] == "203.0.113.10,..."
    assert get(c, "svc", output="wide").splitlines()[1].split()[3] == "203.0.113.10,203.0.113.11"
    assert get(c, "ep", "v6").stdout.splitlines()[1].split()[1] == "[fd00:10:244::5]:80"
    assert "LoadBalancer Ingress:     203.0.113.10 (VIP), 203.0.113.11 (VIP)\n" in describe_service(c, "lb")


def test_get_several_kinds_at_once() -> None:
    c = _cluster()
    out = get(c, "svc,endpointslices")
    tables = str(out).split("\n\n")
    assert len(tables) == 2
    assert tables[0].startswith("NAME ") and "\nservice/" in tables[0]
    assert "\nendpointslice.discovery.k8s.io/" in tables[1] and "ADDRESSTYPE" in tables[1].splitlines()[0]
    doc = yaml.safe_load(get(c, "svc,endpointslices", output="yaml"))
    assert doc["kind"] == "List"
    kinds = [i["kind"] for i in doc["items"]]
    assert kinds == sorted(kinds, key=["Service", "EndpointSlice"].index) and set(kinds) == {"Service", "EndpointSlice"}
    assert json.loads(get(c, "svc,endpointslices", output="json"))["items"] == doc["items"]
    with pytest.raises(NotFoundError):
        get(c, "svc,bogus")


def test_services_are_served_with_an_empty_load_balancer_status() -> None:
    from kubelearn.apply import load

    c = load("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {selector: {app: web}, ports: [{port: 80}]}\n")
    svc_name = "web"
    assert "status" not in c.get("Service", svc_name)
    served = yaml.safe_load(get(c, "svc", svc_name, output="yaml"))
    assert served["status"] == {"loadBalancer": {}}
    assert all(i["status"] == {"loadBalancer": {}} for i in yaml.safe_load(get(c, "svc", output="yaml"))["items"]
               if i["spec"]["type"] != "LoadBalancer")
    assert "status" not in c.get("Service", svc_name)  # the stored object is unchanged
