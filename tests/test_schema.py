"""Strict decoding against the v1.33 OpenAPI schema: exact paths and the server's wording."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelearn.apiserver.schema import (
    UNKNOWN_FIELD,
    WRONG_TYPE,
    BadRequestError,
    DecodeError,
    UnknownKindError,
    check,
    decode_message,
)
from kubelearn.errors import KubelearnError

DATA = Path(__file__).parent / "data" / "validation"


def load(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((DATA / name).read_text())
    return doc


SERVICE: dict[str, Any] = {
    "apiVersion": "v1", "kind": "Service",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]},
}
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [
                 {"name": "web", "image": "nginx", "ports": [{"containerPort": 80, "name": "http"}],
                  "resources": {"limits": {"cpu": "100m", "memory": 128}},
                  "readinessProbe": {"httpGet": {"path": "/", "port": "http"}}}]}}},
}


def strs(errs: list[Any]) -> list[str]:
    return [str(e) for e in errs]


def test_valid_objects_decode_cleanly() -> None:
    assert check(SERVICE) == []
    assert check(DEPLOYMENT) == []
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]},
           "status": {"podIP": "10.244.1.5", "conditions": [{"type": "Ready", "status": "True"}]}}
    assert check(pod) == []
    eps = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "web-abc"},
           "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.5"], "conditions": {"ready": True}}],
           "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}
    assert check(eps) == []
    for kind, api in (("Namespace", "v1"), ("Node", "v1"), ("Endpoints", "v1"), ("ReplicaSet", "apps/v1"),
                      ("StatefulSet", "apps/v1")):
        assert check({"apiVersion": api, "kind": kind, "metadata": {"name": "x"}}) == []


def test_int_or_string_target_port_accepts_both() -> None:
    for target in (8080, "http"):
        svc = copy.deepcopy(SERVICE)
        svc["spec"]["ports"][0]["targetPort"] = target
        assert check(svc) == []
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["ports"][0]["targetPort"] = True
    assert strs(check(svc)) == ["json: cannot unmarshal bool into Go value of type int32"]
    assert check(svc)[0].path == "spec.ports[0].targetPort"


def test_lowercase_targetport_is_an_unknown_field() -> None:
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["ports"][0]["targetport"] = 8080
    errs = check(svc)
    assert [(e.path, e.type) for e in errs] == [("spec.ports[0].targetport", UNKNOWN_FIELD)]
    assert strs(errs) == ['unknown field "spec.ports[0].targetport"']


def test_selectors_plural_is_unknown() -> None:
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["selectors"] = svc["spec"].pop("selector")
    assert strs(check(svc)) == ['unknown field "spec.selectors"']


def test_misindented_keys_from_a_file() -> None:
    errs = check(load("misindented-service.yaml"))
    # kubectl sends JSON with sorted keys, so the server meets "selector" before "targetport"
    assert strs(errs) == ['unknown field "spec.ports[0].selector"', 'unknown field "spec.ports[0].targetport"']
    assert decode_message(load("misindented-service.yaml"), errs) == (
        'Service in version "v1" cannot be handled as a Service: strict decoding error: '
        'unknown field "spec.ports[0].selector", unknown field "spec.ports[0].targetport"')


def test_tutorial_manifest_that_lost_its_spec_line() -> None:
    errs = check(load("tutorial-service-broken.yaml"))
    assert [e.path for e in errs] == ["ports", "selector"]
    assert strs(errs) == ['unknown field "ports"', 'unknown field "selector"']


def test_string_port_is_a_type_error_with_gos_wording() -> None:
    obj = load("string-port-service.yaml")
    errs = check(obj)
    assert len(errs) == 1 and isinstance(errs[0], DecodeError)
    assert errs[0].path == "spec.ports[0].port" and errs[0].type == WRONG_TYPE and errs[0].value == "80"
    assert str(errs[0]) == "json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32"
    assert str(BadRequestError(obj, errs, "svc.yaml")) == (
        'Error from server (BadRequest): error when creating "svc.yaml": Service in version "v1" cannot be '
        "handled as a Service: json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port "
        "of type int32")


def test_service_selector_with_match_labels_is_a_type_error() -> None:
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    errs = check(svc)
    assert [e.path for e in errs] == ["spec.selector[matchLabels]"]
    assert strs(errs) == [
        "json: cannot unmarshal object into Go struct field ServiceSpec.spec.selector of type string"]


def test_first_type_error_hides_everything_else_unless_asked() -> None:
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["typo"] = 1
    svc["spec"]["ports"][0]["port"] = 80.5
    svc["spec"]["type"] = 3
    errs = check(svc)
    assert strs(errs) == [
        "json: cannot unmarshal number 80.5 into Go struct field ServicePort.spec.ports.port of type int32"]
    every = check(svc, all_errors=True)
    # Sorted key order (kubectl's JSON): the decoder meets ports, then type, then typo.
    assert [e.path for e in every] == ["spec.ports[0].port", "spec.type", "spec.typo"]
    assert str(every[1]) == ("json: cannot unmarshal number into Go struct field ServiceSpec.spec.type of type "
                             "v1.ServiceType")


def test_int32_overflow_and_string_replicas() -> None:
    d = copy.deepcopy(DEPLOYMENT)
    d["spec"]["replicas"] = "3"
    assert strs(check(d)) == [
        "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32"]
    d["spec"]["replicas"] = 2**31
    assert strs(check(d)) == [
        "json: cannot unmarshal number 2147483648 into Go struct field DeploymentSpec.spec.replicas of type int32"]


def test_map_values_and_lists() -> None:
    svc = copy.deepcopy(SERVICE)
    svc["metadata"]["labels"] = {"app": 5}
    (err,) = check(svc)
    assert err.path == "metadata.labels[app]"
    assert str(err) == "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string"
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["ports"] = {"port": 80}
    assert strs(check(svc)) == [
        "json: cannot unmarshal object into Go struct field ServiceSpec.spec.ports of type []v1.ServicePort"]
    svc["spec"] = "web"
    assert strs(check(svc)) == ["json: cannot unmarshal string into Go struct field Service.spec of type v1.ServiceSpec"]


def test_null_values_decode_as_zero_values() -> None:
    svc = copy.deepcopy(SERVICE)
    svc["spec"]["type"] = None
    svc["spec"]["ports"][0]["port"] = None
    assert check(svc) == []


def test_deep_unknown_field_in_a_pod_template() -> None:
    d = copy.deepcopy(DEPLOYMENT)
    d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerport"] = 80
    assert strs(check(d)) == ['unknown field "spec.template.spec.containers[0].ports[0].containerport"']


def test_unknown_kind_and_workload() -> None:
    with pytest.raises(UnknownKindError, match=r'resource mapping not found for name: "" namespace: "" from "') as info:
        check({"apiVersion": "v1", "kind": "Deployment"})
    assert isinstance(info.value, KubelearnError)
    assert 'no matches for kind "Deployment" in version "v1"' in str(info.value)
    assert check({"apiVersion": "kubelearn.dev/v1alpha1", "kind": "Workload", "whatever": 1}) == []


def test_errors_pickle_and_keep_their_text() -> None:
    err = check(load("string-port-service.yaml"))
    exc = BadRequestError(load("string-port-service.yaml"), err, "svc.yaml")
    again = pickle.loads(pickle.dumps(exc))
    assert str(again) == str(exc)
    assert str(pickle.loads(pickle.dumps(UnknownKindError("v9", "Thing")))) == str(UnknownKindError("v9", "Thing"))
