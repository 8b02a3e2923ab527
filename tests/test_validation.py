"""Validation like the API server's: every §C.3 rule byte for byte, the allowed list, other kinds."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelearn.defaults import apply_defaults
from kubelearn.errors import InvalidError
from kubelearn.labels import (
    DNS1035_LABEL_MESSAGE,
    LABEL_KEY_MESSAGE,
    LABEL_VALUE_MESSAGE,
    RFC1123_LABEL_MESSAGE,
    RFC1123_SUBDOMAIN_MESSAGE,
)
from kubelearn.schema import check
from kubelearn.validation import parse_ip, validate

DATA = Path(__file__).parent / "data" / "validation"


def service(name: str = "web", raw: bool = False, **spec: Any) -> dict[str, Any]:
    """A defaulted Service as allocation leaves it (ClusterIP 10.96.45.12 unless headless/ExternalName)."""
    spec.setdefault("ports", [{"port": 80, "targetPort": 8080}])
    spec.setdefault("selector", {"app": "web"})
    obj = apply_defaults({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "default"},
                          "spec": spec})
    s = obj["spec"]
    if not raw and s["type"] != "ExternalName":
        s.setdefault("clusterIP", "10.96.45.12")
        s.setdefault("clusterIPs", [s["clusterIP"]])
        s.setdefault("ipFamilies", ["IPv4"])
        s.setdefault("ipFamilyPolicy", "SingleStack")
    return obj


def errors(obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    return [str(e) for e in validate(obj, None, old)]


def kubectl(obj: dict[str, Any]) -> str:
    return str(InvalidError(obj["kind"], obj["metadata"]["name"], validate(obj)))


# ----------------------------------------------------------------- §C.3, row by row
def test_row1_name_not_dns1035() -> None:
    assert kubectl(service("My-Service")) == (
        'The Service "My-Service" is invalid: metadata.name: Invalid value: "My-Service": ' + DNS1035_LABEL_MESSAGE)
    for bad in ("1web", "my_service", "my.service", "web-"):
        assert errors(service(bad)) == [f'metadata.name: Invalid value: "{bad}": ' + DNS1035_LABEL_MESSAGE]


def test_row2_name_too_long() -> None:
    name = "a" * 64
    assert errors(service(name)) == [f'metadata.name: Invalid value: "{name}": must be no more than 63 characters']


def test_row3_name_missing() -> None:
    assert errors(service("")) == ["metadata.name: Required value: name or generateName is required"]


def test_row4_no_ports() -> None:
    assert errors(service(ports=[])) == ["spec.ports: Required value"]


def test_row5_every_unnamed_port_of_several() -> None:
    assert kubectl(service(ports=[{"port": 80}, {"port": 443}])) == (
        'The Service "web" is invalid: \n* spec.ports[0].name: Required value\n* spec.ports[1].name: Required value')


def test_row6_port_name_is_a_dns1123_label() -> None:
    assert errors(service(ports=[{"name": "Web_Port", "port": 80}])) == [
        'spec.ports[0].name: Invalid value: "Web_Port": ' + RFC1123_LABEL_MESSAGE]
    assert errors(service(ports=[{"name": "my.port", "port": 80}])) == [
        'spec.ports[0].name: Invalid value: "my.port": must not contain dots']


def test_row7_duplicate_port_name() -> None:
    svc = service(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 8080}])
    assert errors(svc) == ['spec.ports[1].name: Duplicate value: "http"']


def test_row8_and_10_bad_port_without_target_port_gives_two_errors() -> None:
    svc = service(ports=[{"port": 0}])
    assert errors(svc) == [
        "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        "spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
    ]
    svc = service(ports=[{"port": 70000, "targetPort": 8080}])
    assert errors(svc) == ["spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"]


def test_row9_protocol_is_case_sensitive() -> None:
    for proto in ("tcp", "HTTP"):
        assert errors(service(ports=[{"port": 80, "protocol": proto}])) == [
            f'spec.ports[0].protocol: Unsupported value: "{proto}": supported values: "SCTP", "TCP", "UDP"']


def test_row10_numeric_target_port_range() -> None:
    assert errors(service(ports=[{"port": 80, "targetPort": 65536}])) == [
        "spec.ports[0].targetPort: Invalid value: 65536: must be between 1 and 65535, inclusive"]


def test_row11_named_target_port_each_rule_separately() -> None:
    p = 'spec.ports[0].targetPort: Invalid value: "{}": {}'
    assert errors(service(ports=[{"port": 80, "targetPort": "web-server-http-port"}])) == [
        p.format("web-server-http-port", "must be no more than 15 characters")]
    assert errors(service(ports=[{"port": 80, "targetPort": "Http"}])) == [
        p.format("Http", "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")]
    assert errors(service(ports=[{"port": 80, "targetPort": "8080"}])) == [
        p.format("8080", "must contain at least one letter (a-z)")]
    assert errors(service(ports=[{"port": 80, "targetPort": "web--http"}])) == [
        p.format("web--http", "must not contain consecutive hyphens")]
    assert errors(service(ports=[{"port": 80, "targetPort": "-http"}])) == [
        p.format("-http", "must not begin or end with a hyphen")]


def test_row12_duplicate_port_and_protocol() -> None:
    svc = service(ports=[{"name": "a", "port": 80}, {"name": "b", "port": 80, "targetPort": 9090}])
    (err,) = errors(svc)
    assert err.startswith('spec.ports[1]: Duplicate value: {"Name":"","Protocol":"TCP"')
    assert '"Port":80' in err


def test_row13_node_port_on_cluster_ip() -> None:
    assert errors(service(ports=[{"port": 80, "nodePort": 30080}])) == [
        "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"]


def test_row14_duplicate_node_port_same_protocol() -> None:
    svc = service(type="NodePort", ports=[{"name": "a", "port": 80, "nodePort": 30080},
                                          {"name": "b", "port": 81, "nodePort": 30080}])
    assert errors(svc) == ["spec.ports[1].nodePort: Duplicate value: 30080"]


@pytest.mark.parametrize("stype", ["NodePort", "LoadBalancer"])
def test_rows17_18_headless_node_port_and_load_balancer(stype: str) -> None:
    svc = service(type=stype, clusterIP="None", ports=[{"port": 80, "nodePort": 30080}])
    assert errors(svc) == [f"spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for {stype} services"]


def test_row19_cluster_ip_not_an_ip() -> None:
    svc = service(clusterIP="10.96.0.300")
    assert errors(svc) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)']


def test_row22_cluster_ip_may_not_change() -> None:
    old = service(clusterIP="10.96.0.5")
    new = service(clusterIP="10.96.0.6")
    assert errors(new, old) == ['spec.clusterIPs[0]: Invalid value: ["10.96.0.6"]: may not change once set']
    assert errors(copy.deepcopy(old), old) == []


def test_row23_unknown_type() -> None:
    for t in ("Nodeport", "Loadbalancer"):
        assert errors(service(type=t)) == [
            f'spec.type: Unsupported value: "{t}": supported values: "ClusterIP", "ExternalName", "LoadBalancer", '
            '"NodePort"']


def test_row24_unknown_session_affinity() -> None:
    assert errors(service(sessionAffinity="ClientIp")) == [
        'spec.sessionAffinity: Unsupported value: "ClientIp": supported values: "ClientIP", "None"']


@pytest.mark.parametrize("timeout, ok", [(0, False), (-5, False), (86401, False), (1, True), (86400, True)])
def test_row25_client_ip_timeout(timeout: int, ok: bool) -> None:
    svc = service(sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": timeout}})
    expected = [] if ok else [
        f"spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: {timeout}: must be greater than 0 and "
        "less than 86400"]
    assert errors(svc) == expected


def test_row26_external_name_required() -> None:
    assert errors(service(type="ExternalName", ports=[], selector=None)) == ["spec.externalName: Required value"]


def test_row27_external_name_subdomain_with_one_trailing_dot() -> None:
    assert errors(service(type="ExternalName", externalName="db.example.com.", ports=[])) == []
    assert errors(service(type="ExternalName", externalName="DB_host.example.com", ports=[])) == [
        'spec.externalName: Invalid value: "DB_host.example.com": ' + RFC1123_SUBDOMAIN_MESSAGE]


def test_row28_external_name_with_ip_fields() -> None:
    svc = service(type="ExternalName", externalName="db.example.com", clusterIP="10.96.0.5",
                  ipFamilies=["IPv4"], ipFamilyPolicy="SingleStack")
    assert errors(svc) == [
        "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilies: Forbidden: may not be set for ExternalName services",
        "spec.ipFamilyPolicy: Forbidden: may not be set for ExternalName services",
    ]


def test_rows29_30_selector_key_and_value() -> None:
    assert errors(service(selector={"app name": "web"})) == [
        'spec.selector: Invalid value: "app name": name part ' + LABEL_KEY_MESSAGE]
    assert errors(service(selector={"app": "my web"})) == [
        'spec.selector: Invalid value: "my web": ' + LABEL_VALUE_MESSAGE]
    long = "v" * 64
    assert errors(service(selector={"app": long})) == [
        f'spec.selector: Invalid value: "{long}": must be no more than 63 characters']


def test_row31_external_traffic_policy_only_when_externally_accessible() -> None:
    msg = 'spec.externalTrafficPolicy: Invalid value: "Local": may only be set for externally-accessible services'
    assert errors(service(externalTrafficPolicy="Local")) == [msg]
    assert errors(service(clusterIP="None", externalTrafficPolicy="Local")) == [msg]
    assert errors(service(externalTrafficPolicy="Local", externalIPs=["198.51.100.7"])) == []


def test_row32_external_traffic_policy_value() -> None:
    assert errors(service(type="NodePort", externalTrafficPolicy="local")) == [
        'spec.externalTrafficPolicy: Unsupported value: "local": supported values: "Cluster", "Local"']


def test_row33_health_check_node_port() -> None:
    assert errors(service(type="NodePort", healthCheckNodePort=32000)) == [
        "spec.healthCheckNodePort: Invalid value: 32000: may only be set when `type` is 'LoadBalancer' and "
        "`externalTrafficPolicy` is 'Local'"]
    assert errors(service(type="LoadBalancer", externalTrafficPolicy="Local", healthCheckNodePort=32000)) == []


def test_row34_internal_traffic_policy_value() -> None:
    assert errors(service(internalTrafficPolicy="local")) == [
        'spec.internalTrafficPolicy: Unsupported value: "local": supported values: "Cluster", "Local"']


def test_row35_load_balancer_source_ranges_capital_l() -> None:
    assert errors(service(loadBalancerSourceRanges=["10.0.0.0/8"])) == [
        "spec.LoadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'"]
    assert errors(service(type="LoadBalancer", loadBalancerSourceRanges=[" 10.0.0.0/8", "10.0.0.1"])) == [
        'spec.LoadBalancerSourceRanges[1]: Invalid value: "10.0.0.1": must be a valid CIDR value, '
        "(e.g. 10.9.8.0/24 or 2001:db8::/64)"]


def test_row36_load_balancer_only_fields() -> None:
    assert errors(service(type="NodePort", allocateLoadBalancerNodePorts=False)) == [
        "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'"]
    assert errors(service(loadBalancerClass="example.com/lb")) == [
        "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'"]
    old = service(type="LoadBalancer", loadBalancerClass="example.com/a")
    new = service(type="LoadBalancer", loadBalancerClass="example.com/b")
    assert errors(new, old) == ['spec.loadBalancerClass: Invalid value: "example.com/b": may not change once set']


@pytest.mark.parametrize("ip, detail", [
    ("127.0.0.1", "may not be in the loopback range (127.0.0.0/8, ::1/128)"),
    ("0.0.0.0", "may not be unspecified (0.0.0.0)"),
    ("169.254.169.254", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("fe80::1", "may not be in the link-local range (169.254.0.0/16, fe80::/10)"),
    ("224.0.0.5", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
    ("example.com", "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"),
])
def test_row37_external_ips(ip: str, detail: str) -> None:
    assert errors(service(externalIPs=[ip])) == [f'spec.externalIPs[0]: Invalid value: "{ip}": {detail}']


def test_row38_traffic_distribution() -> None:
    from kubelearn.validation import validate_service

    assert errors(service(trafficDistribution="PreferClose")) == []
    assert errors(service(trafficDistribution="PreferSameZone")) == []  # the default release, v1.35
    assert [str(e) for e in validate_service(service(trafficDistribution="PreferSameZone"), minor=33)] == [
        'spec.trafficDistribution: Unsupported value: "PreferSameZone": supported values: "PreferClose"']


def test_many_causes_in_upstream_order_through_kubectl() -> None:
    svc = service("Web", type="Nodeport", sessionAffinity="ClientIp",
                  ports=[{"port": 0, "protocol": "tcp"}, {"port": 80}])
    assert kubectl(svc) == "\n".join([
        'The Service "Web" is invalid: ',
        '* metadata.name: Invalid value: "Web": ' + DNS1035_LABEL_MESSAGE,
        "* spec.ports[0].name: Required value",
        "* spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        '* spec.ports[0].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
        "* spec.ports[0].targetPort: Invalid value: 0: must be between 1 and 65535, inclusive",
        "* spec.ports[1].name: Required value",
        '* spec.sessionAffinity: Unsupported value: "ClientIp": supported values: "ClientIP", "None"',
        '* spec.type: Unsupported value: "Nodeport": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"',
    ])


# ----------------------------------------------------------------- the allowed list (no false positives)
@pytest.mark.parametrize("spec", [
    {"clusterIP": "None", "ports": []},                                             # headless, no ports
    {"clusterIP": "None", "ports": [{"port": 80, "targetPort": 9090}]},             # headless, other targetPort
    {"ports": [{"port": 80}]},                                                      # one unnamed port
    {"ports": [{"name": "dns", "port": 53, "protocol": "UDP"},
               {"name": "dns-tcp", "port": 53, "protocol": "TCP"}]},                 # TCP+UDP 53
    {"type": "NodePort", "ports": [{"name": "u", "port": 53, "protocol": "UDP", "nodePort": 30053},
                                   {"name": "t", "port": 53, "protocol": "TCP", "nodePort": 30053}]},
    {"type": "ExternalName", "externalName": "db.example.com", "ports": []},
    {"selector": None},
    {"type": "LoadBalancer", "ports": [{"name": "u", "port": 53, "protocol": "UDP", "nodePort": 31053},
                                       {"name": "t", "port": 53, "protocol": "TCP", "nodePort": 31053}]},
    {"type": "LoadBalancer", "ports": [{"port": 10250, "nodePort": 31000}]},
    {"ports": [{"name": "8083", "port": 8083}, {"name": "x" * 63, "port": 8084}]},
    {"sessionAffinity": "ClientIP", "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 86400}}},
    {"ports": [{"port": 80, "targetPort": "http", "appProtocol": "kubernetes.io/h2c"}]},
    {"clusterIP": "2001:db8::1", "clusterIPs": ["2001:db8::1"], "ipFamilies": ["IPv6"]},
    {"clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5", "fd00::5"], "ipFamilies": ["IPv4", "IPv6"],
     "ipFamilyPolicy": "PreferDualStack"},
])
def test_allowed_services(spec: dict[str, Any]) -> None:
    assert errors(service(**spec)) == []


def test_session_affinity_none_config_is_dropped_by_defaulting_so_never_seen() -> None:
    svc = service(sessionAffinity="None", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}})
    assert errors(svc) == []
    raw = service()
    raw["spec"]["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": 5}}  # not defaulted: reachable
    assert errors(raw) == ["spec.sessionAffinityConfig: Forbidden: must not be set when session affinity is None"]


def test_cluster_ips_related_fields() -> None:
    svc = service(clusterIP="10.96.0.5", clusterIPs=["10.96.0.5", "10.96.0.6"])
    assert errors(svc) == [
        'spec.clusterIPs: Invalid value: ["10.96.0.5","10.96.0.6"]: may specify no more than one IP for each IP family']
    svc = service(clusterIP="10.96.0.5", clusterIPs=["10.96.0.7"])
    assert errors(svc) == ['spec.clusterIPs: Invalid value: ["10.96.0.7"]: first value must match `clusterIP`']
    svc = service(clusterIP="10.96.0.5", ipFamilies=["IPv6"])
    assert errors(svc) == [
        'spec.clusterIPs[0]: Invalid value: "10.96.0.5": expected an IPv6 value as indicated by `ipFamilies[0]`']
    svc = service(ipFamilies=["IPv4", "IPv4"], ipFamilyPolicy="SingleStack")
    assert errors(svc) == ['spec.ipFamilies[1]: Duplicate value: "IPv4"']


def test_ip_parsing_is_lenient_like_go_in_1_33() -> None:
    assert str(parse_ip("010.096.000.005")) == "10.96.0.5"
    assert parse_ip("::ffff:10.0.0.1") is not None and parse_ip("::ffff:10.0.0.1").version == 4  # type: ignore[union-attr]
    assert parse_ip("10.0.0.256") is None and parse_ip("") is None and parse_ip(5) is None


# ----------------------------------------------------------------- other kinds
def pod(name: str = "web", **spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "web", "image": "nginx:1.27",
                                    "ports": [{"name": "http", "containerPort": 80}]}])
    return apply_defaults({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec})


def test_valid_pod() -> None:
    assert errors(pod()) == []
    assert errors(pod("web.v1")) == []  # Pod names are DNS subdomains: dots are fine


def test_pod_rules() -> None:
    assert errors(pod("Web")) == ['metadata.name: Invalid value: "Web": ' + RFC1123_SUBDOMAIN_MESSAGE]
    assert errors(pod(containers=[])) == ["spec.containers: Required value"]
    bad = pod(containers=[
        {"name": "web", "image": "nginx", "ports": [{"name": "http", "containerPort": 80},
                                                     {"name": "http", "containerPort": 81},
                                                     {"name": "Metrics_Port", "containerPort": 70000},
                                                     {"containerPort": 0, "protocol": "tcp"}]},
        {"name": "web", "image": ""}])
    assert errors(bad) == [
        'spec.containers[0].ports[1].name: Duplicate value: "http"',
        'spec.containers[0].ports[2].name: Invalid value: "Metrics_Port": must contain only alpha-numeric '
        "characters (a-z, 0-9), and hyphens (-)",
        "spec.containers[0].ports[2].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.containers[0].ports[3].containerPort: Required value",
        'spec.containers[0].ports[3].protocol: Unsupported value: "tcp": supported values: "SCTP", "TCP", "UDP"',
        "spec.containers[1].image: Required value",
        'spec.containers[1].name: Duplicate value: "web"',
    ]
    assert errors(pod(restartPolicy="Sometimes")) == [
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "Never", "OnFailure"']


def deployment(kind: str = "Deployment", **spec: Any) -> dict[str, Any]:
    spec.setdefault("selector", {"matchLabels": {"app": "web"}})
    spec.setdefault("template", {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
        {"name": "web", "image": "nginx:1.27"}]}})
    api = "apps/v1"
    return apply_defaults({"apiVersion": api, "kind": kind, "metadata": {"name": "web"}, "spec": spec})


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "StatefulSet"])
def test_valid_workloads(kind: str) -> None:
    assert errors(deployment(kind)) == []


def test_selector_does_not_match_template_labels_from_file() -> None:
    obj = apply_defaults(yaml.safe_load((DATA / "deployment-selector-mismatch.yaml").read_text()))
    assert kubectl(obj) == ('The Deployment "web" is invalid: spec.template.metadata.labels: Invalid value: '
                            '{"app":"apache"}: `selector` does not match template `labels`')


@pytest.mark.parametrize("kind, word", [("Deployment", "deployment"), ("ReplicaSet", "replicaset"),
                                        ("StatefulSet", "statefulset")])
def test_workload_selector_rules(kind: str, word: str) -> None:
    assert errors(deployment(kind, selector=None)) == ["spec.selector: Required value"]
    assert errors(deployment(kind, selector={})) == [f"spec.selector: Invalid value: {{}}: empty selector is invalid for {word}"]
    assert errors(deployment(kind, replicas=-1)) == ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"]
    expr = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}
    assert errors(deployment(kind, selector=expr)) == []


def test_template_rules() -> None:
    tpl = {"metadata": {"labels": {"app": "web", "bad key": "x"}},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "web", "image": "nginx"}]}}
    assert errors(deployment(template=tpl)) == [
        'spec.template.labels: Invalid value: "bad key": name part ' + LABEL_KEY_MESSAGE,
        'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"',
    ]


def test_deployment_strategy() -> None:
    d = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}})
    assert errors(d) == ['spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "0%": may not be 0 when '
                         "`maxSurge` is 0"]
    d = deployment(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}})
    assert errors(d) == ["spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
                         "'Recreate'"]
    d = deployment(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "lots"}})
    assert errors(d) == ['spec.strategy.rollingUpdate.maxSurge: Invalid value: "lots": must be an integer or '
                         "percentage (e.g '5%')"]


def test_stateful_set_policies() -> None:
    assert errors(deployment("StatefulSet", podManagementPolicy="Random")) == [
        "spec.podManagementPolicy: Invalid value: \"Random\": must be 'OrderedReady' or 'Parallel'"]


def endpoint_slice(**fields: Any) -> dict[str, Any]:
    obj = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
           "metadata": {"name": "web-abcde", "labels": {"kubernetes.io/service-name": "web"}},
           "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True},
                                                 "nodeName": "kind-worker"}],
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]}
    obj.update(fields)
    return apply_defaults(obj)


def test_endpoint_slice() -> None:
    assert errors(endpoint_slice()) == []
    assert errors(endpoint_slice(addressType="IP")) == [
        'addressType: Unsupported value: "IP": supported values: "FQDN", "IPv4", "IPv6"']
    eps = [{"addresses": ["10.244.1.300"]}, {"addresses": []}, {"addresses": ["127.0.0.1"]}, {"addresses": ["fd00::1"]}]
    assert errors(endpoint_slice(endpoints=eps)) == [
        'endpoints[0].addresses[0]: Invalid value: "10.244.1.300": must be a valid IPv4 address',
        "endpoints[1].addresses: Required value: must contain at least 1 address",
        'endpoints[2].addresses[0]: Invalid value: "127.0.0.1": may not be in the loopback range (127.0.0.0/8, ::1/128)',
        'endpoints[3].addresses[0]: Invalid value: "fd00::1": must be a valid IPv4 address',
    ]
    assert errors(endpoint_slice(ports=[{"name": "http", "port": 80}, {"name": "http", "port": 81}])) == [
        'ports[1].name: Duplicate value: "http"']


def test_namespace_and_node_names() -> None:
    ns = apply_defaults({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team.a"}})
    assert errors(ns) == ['metadata.name: Invalid value: "team.a": must not contain dots']
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kind-worker.local"},
            "spec": {"podCIDRs": ["10.244.1.0/24", "10.244.2.0"]}}
    assert errors(node) == ['spec.podCIDRs[1]: Invalid value: "10.244.2.0": must be a valid CIDR value, '
                            "(e.g. 10.9.8.0/24 or 2001:db8::/64)"]


def test_metadata_labels_and_annotations_are_checked_everywhere() -> None:
    svc = service()
    svc["metadata"]["labels"] = {"app": "web!"}
    svc["metadata"]["annotations"] = {"example.com/a/b": "x"}
    errs = errors(svc)
    assert errs[0] == 'metadata.labels: Invalid value: "web!": ' + LABEL_VALUE_MESSAGE
    assert errs[1].startswith('metadata.annotations: Invalid value: "example.com/a/b": a qualified name must')
    assert len(errs) == 2


def test_workload_kind_has_no_rules_here() -> None:
    assert validate({"apiVersion": "kubelearn.dev/v1alpha1", "kind": "Workload", "metadata": {"name": "X"}}) == []


# ----------------------------------------------------------------- property: mutations never crash
MANIFESTS: list[dict[str, Any]] = [
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"}},
     "spec": {"type": "NodePort", "selector": {"app": "web"}, "sessionAffinity": "ClientIP",
              "externalIPs": ["198.51.100.7"], "ports": [{"name": "http", "port": 80, "targetPort": "http",
                                                           "nodePort": 30080}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb"},
     "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.5", "clusterIPs": ["10.96.0.5"],
              "ipFamilies": ["IPv4"], "externalTrafficPolicy": "Local", "healthCheckNodePort": 32000,
              "loadBalancerSourceRanges": ["10.0.0.0/8"], "ports": [{"port": 443}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "203.0.113.1"}]}}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"app": "web"}},
     "spec": {"containers": [{"name": "c", "image": "nginx", "ports": [{"name": "http", "containerPort": 80}],
                              "readinessProbe": {"httpGet": {"port": "http"}}}]}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"},
                                          "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
              "strategy": {"rollingUpdate": {"maxSurge": "25%"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}},
    {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
     "spec": {"serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
              "template": {"metadata": {"labels": {"app": "db"}},
                           "spec": {"containers": [{"name": "c", "image": "postgres"}]}}}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-x"},
     "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"], "hostname": "a", "nodeName": "n"}],
     "ports": [{"name": "http", "port": 80}]},
    {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
     "subsets": [{"addresses": [{"ip": "10.244.1.5"}], "ports": [{"port": 80}]}]},
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}, "spec": {"podCIDRs": ["10.244.1.0/24"]},
     "status": {"capacity": {"cpu": "4"}}},
]

_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40), st.floats(), st.text(max_size=12),
    st.sampled_from(["", "None", "TCP", "ClusterIP", "NodePort", "LoadBalancer", "ExternalName", "Local",
                     "10.0.0.1", "::1", "In", "Exists", "25%", "http", "RollingUpdate"]),
)
_KEYS = st.one_of(st.text(max_size=8), st.integers(0, 99),
                  st.sampled_from(["spec", "ports", "port", "targetPort", "selector", "type", "clusterIP",
                                   "metadata", "name", "labels", "containers", "template", "matchLabels"]))
_JUNK = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(_KEYS, inner, max_size=3)), max_leaves=8)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, prefix + (i,))
    return out


def _mutate(obj: dict[str, Any], pick: int, op: str, value: Any, key: Any) -> None:
    targets = [p for p in _paths(obj) if p and p[0] not in ("apiVersion", "kind")]
    if not targets:
        return
    path = targets[pick % len(targets)]
    parent: Any = obj
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if op == "delete":
        del parent[last]
    elif op == "replace":
        parent[last] = value
    elif isinstance(parent[last], dict):
        parent[last][key] = value
    elif isinstance(parent[last], list):
        parent[last].append(value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(MANIFESTS),
       st.lists(st.tuples(st.integers(0, 10**6), st.sampled_from(["delete", "replace", "add"]), _JUNK, _KEYS),
                min_size=1, max_size=4),
       st.booleans())
def test_mutated_manifests_never_raise_and_every_error_has_a_path(
        manifest: dict[str, Any], ops: list[tuple[int, str, Any, Any]], as_update: bool) -> None:
    obj = copy.deepcopy(manifest)
    for pick, op, value, key in ops:
        _mutate(obj, pick, op, copy.deepcopy(value), key)
    decode = check(obj, all_errors=True)
    defaulted = apply_defaults(obj)
    old = apply_defaults(manifest) if as_update else None
    found = validate(defaulted, None, old)
    for err in [*decode, *found]:
        assert err.path, err
        assert str(err).strip()
    # Causes must survive InvalidError's de-duplication (they are hashed) and render.
    assert str(InvalidError(manifest["kind"], "x", found)).startswith(f'The {manifest["kind"]} "x" is invalid: ')


# ----------------------------------------------------------------- integration through apply.py
def test_through_apply_pipeline() -> None:
    apply_mod = pytest.importorskip("kubelearn.apply")
    from kubelearn.errors import ApplyError

    with pytest.raises(ApplyError) as info:
        apply_mod.load(DATA / "string-port-service.yaml")
    assert str(info.value) == (
        f'Error from server (BadRequest): error when creating "{DATA / "string-port-service.yaml"}": Service in '
        'version "v1" cannot be handled as a Service: json: cannot unmarshal string into Go struct field '
        "ServicePort.spec.ports.port of type int32")
    with pytest.raises(ApplyError) as info:
        apply_mod.load("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  type: Nodeport\n"
                       "  ports:\n  - port: 80\n")
    assert str(info.value) == ('The Service "web" is invalid: spec.type: Unsupported value: "Nodeport": supported '
                               'values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')
    cluster = apply_mod.load("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n"
                             "    app: web\n  ports:\n  - port: 80\n")
    spec = cluster.get("Service", "web")["spec"]
    assert spec["ports"] == [{"port": 80, "protocol": "TCP", "targetPort": 80}]
    assert (spec["type"], spec["sessionAffinity"], spec["internalTrafficPolicy"]) == ("ClusterIP", "None", "Cluster")


def test_update_rules_for_workloads() -> None:
    old = deployment()
    new = deployment(selector={"matchLabels": {"app": "web2"}},
                     template={"metadata": {"labels": {"app": "web2"}},
                               "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}})
    assert errors(new, old) == ['spec.selector: Invalid value: {"matchLabels":{"app":"web2"}}: field is immutable']
    assert errors(deployment(replicas=5), old) == []  # scaling is an update too, and fine
    # Semantic equality: an empty matchExpressions list is no change; a new expression is.
    rs_old = deployment("ReplicaSet")
    same = deployment("ReplicaSet", selector={"matchLabels": {"app": "web"}, "matchExpressions": []})
    assert errors(same, rs_old) == []
    expr = [{"key": "tier", "operator": "DoesNotExist"}]
    changed = deployment("ReplicaSet", selector={"matchLabels": {"app": "web"}, "matchExpressions": expr})
    assert errors(changed, rs_old) == [
        'spec.selector: Invalid value: {"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier",'
        '"operator":"DoesNotExist"}]}: field is immutable']
    sts_old = deployment("StatefulSet", serviceName="db")
    assert errors(deployment("StatefulSet", serviceName="db", replicas=3), sts_old) == []
    assert errors(deployment("StatefulSet", serviceName="db2"), sts_old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', "
        "'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' "
        "are forbidden"]


def test_endpoints_ports_need_names_when_several() -> None:
    ep = apply_defaults({"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "web"},
                         "subsets": [{"addresses": [{"ip": "10.244.1.5"}, {"ip": "127.0.0.1"}],
                                      "ports": [{"port": 80}, {"name": "https", "port": 443}]}]})
    assert errors(ep) == [
        'subsets[0].addresses[1].ip: Invalid value: "127.0.0.1": may not be in the loopback range '
        "(127.0.0.0/8, ::1/128)",
        "subsets[0].ports[0].name: Required value",
    ]
