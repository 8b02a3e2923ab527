"""Hostile Workload documents (issue 14): every field typed and ranged, in the API server's words.

Each reproducer of the issue is one named test.  Each runs the real CLI in-process on the
embedded my-service scenario plus one Workload document, and asserts exit code 1, the exact
field error, and no traceback; the simulator is never reached (validation comes first).
"""

from __future__ import annotations

import copy
import importlib
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelearn import cli
from kubelearn.apiserver.workload import (
    MAX_CONNECTIONS,
    MAX_REPLICAS,
    MAX_REQUESTS,
    MAX_REQUESTS_PER_CONNECTION,
    MAX_SECONDS,
    validate_workload,
)
from kubelearn.commands import _common as commands_common
from kubelearn.errors import ApplyError, InvalidError, KubelearnError
from kubelearn.kind import load
from kubelearn.traffic.workload import Event, Workload, cluster_ip, from_object, node_clients, workload

SCENARIO = Path(__file__).resolve().parents[1] / "kubelearn" / "data" / "scenarios" / "my-service.yaml"
TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.54"}]}}


def base() -> dict[str, Any]:
    return {"apiVersion": "kubelearn.dev/v1alpha1", "kind": "Workload", "metadata": {"name": "w"},
            "spec": {"clients": [{"nodes": []}], "target": {"clusterIP": {"service": "my-service"}},
                     "connections": 50}}


def run_cli(tmp_path: Path, doc: dict[str, Any], capsys: pytest.CaptureFixture[str],
            monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, str]:
    """``kubelearn simulate -f my-service.yaml -f <doc>``; fails the test if the simulator is reached."""
    sim = importlib.import_module("kubelearn.traffic.simulate")  # the module, not the function of that name

    def never(*a: Any, **k: Any) -> Any:
        raise AssertionError("the simulator ran on an invalid workload")

    monkeypatch.setattr(sim, "simulate", never)
    path = tmp_path / "workload.yaml"
    path.write_text(yaml.safe_dump(doc))  # writes .nan / .inf for non-finite floats
    code = cli.main(["simulate", "-f", str(SCENARIO), "-f", str(path), *argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def with_event(event: dict[str, Any]) -> dict[str, Any]:
    d = base()
    d["spec"]["events"] = [event]
    return d


def test_metadata_name_list_is_a_type_error(tmp_path, capsys, monkeypatch):
    d = base()
    d["metadata"]["name"] = ["x"]
    code, err = run_cli(tmp_path, d, capsys, monkeypatch)
    assert code == 1
    assert ('metadata.name: Invalid value: "array": metadata.name in body must be of type string: "array"'
            in err)
    assert err.startswith('The Workload "" is invalid')  # no Python repr of the list in the message


@pytest.mark.parametrize(("value", "shown"), [(math.nan, "NaN"), (math.inf, "+Inf"), (-math.inf, "-Inf")])
def test_event_at_nan_or_infinity_is_refused(tmp_path, capsys, monkeypatch, value, shown):
    code, err = run_cli(tmp_path, with_event({"at": value, "cordon": {"node": "kind-worker"}}), capsys, monkeypatch)
    assert code == 1
    assert f"spec.events[0].at: Invalid value: {shown}: must be a finite number" in err


def test_rollout_template_string_is_a_type_error(tmp_path, capsys, monkeypatch):
    code, err = run_cli(tmp_path, with_event({"at": 1, "rollout": {"deployment": "my-app", "template": "abc"}}),
                        capsys, monkeypatch)
    assert code == 1
    assert ('spec.events[0].rollout.template: Invalid value: "string": spec.events[0].rollout.template in body '
            'must be of type object: "string"') in err


def test_rollout_step_seconds_string_is_a_type_error(tmp_path, capsys, monkeypatch):
    ev = {"at": 1, "rollout": {"deployment": "my-app", "stepSeconds": "abc", "template": TEMPLATE}}
    code, err = run_cli(tmp_path, with_event(ev), capsys, monkeypatch)
    assert code == 1
    assert ('spec.events[0].rollout.stepSeconds: Invalid value: "string": spec.events[0].rollout.stepSeconds '
            'in body must be of type number: "string"') in err


def test_rollout_negative_step_seconds_is_refused_not_internal(tmp_path, capsys, monkeypatch):
    ev = {"at": 1, "rollout": {"deployment": "my-app", "stepSeconds": -1, "template": TEMPLATE}}
    code, err = run_cli(tmp_path, with_event(ev), capsys, monkeypatch)
    assert code == 1
    assert "spec.events[0].rollout.stepSeconds: Invalid value: -1: must be greater than or equal to 0" in err
    assert "internal" not in err


def test_fail_node_list_is_a_type_error(tmp_path, capsys, monkeypatch):
    code, err = run_cli(tmp_path, with_event({"at": 1, "failNode": {"node": ["a"]}}), capsys, monkeypatch)
    assert code == 1
    assert ('spec.events[0].failNode.node: Invalid value: "array": spec.events[0].failNode.node in body must be '
            'of type string: "array"') in err


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize(("where", "path"), [
    (("arrival", "rate"), "spec.arrival.rate"),
    (("connectionSeconds",), "spec.connectionSeconds"),
    (("dnsClient", "ttlSeconds"), "spec.dnsClient.ttlSeconds"),
    (("propagation", "endpointSliceSeconds"), "spec.propagation.endpointSliceSeconds"),
])
def test_non_finite_numbers_are_refused(tmp_path, capsys, monkeypatch, value, where, path):
    d = base()
    spec = d["spec"]
    if len(where) == 2:
        spec[where[0]] = {where[1]: value}
    else:
        spec[where[0]] = value
    code, err = run_cli(tmp_path, d, capsys, monkeypatch)
    assert code == 1
    assert f"{path}: Invalid value: {'NaN' if math.isnan(value) else '+Inf' if value > 0 else '-Inf'}: " \
           "must be a finite number" in err


def test_scale_event_to_a_billion_replicas_is_refused(tmp_path, capsys, monkeypatch):
    code, err = run_cli(tmp_path, with_event({"at": 2, "scale": {"deployment": "my-app", "replicas": 10**9}}),
                        capsys, monkeypatch)
    assert code == 1
    assert (f"spec.events[0].scale.replicas: Invalid value: 1000000000: must be less than or equal to "
            f"{MAX_REPLICAS}") in err


def test_documented_bounds_on_connections_requests_and_clients():
    d = base()
    d["spec"].update(connections=MAX_CONNECTIONS + 1, requestsPerConnection=MAX_REQUESTS_PER_CONNECTION + 1)
    d["spec"]["clients"] = [{"external": {"cidr": "10.0.0.0/8", "count": 70_000}}]
    msgs = [str(e) for e in validate_workload(d)]
    assert f"spec.connections: Invalid value: {MAX_CONNECTIONS + 1}: must be less than or equal to " \
           f"{MAX_CONNECTIONS}" in msgs
    assert f"spec.requestsPerConnection: Invalid value: {MAX_REQUESTS_PER_CONNECTION + 1}: must be less than or " \
           f"equal to {MAX_REQUESTS_PER_CONNECTION}" in msgs
    assert "spec.clients[0].external.count: Invalid value: 70000: must be less than or equal to 65536" in msgs
    # each within bounds, but the product (rows of the log) is not
    d["spec"].update(connections=MAX_CONNECTIONS, requestsPerConnection=2)
    d["spec"]["clients"] = [{"nodes": []}]
    assert [str(e) for e in validate_workload(d)] == [
        f"spec.requestsPerConnection: Invalid value: 2: must be at most 1 with {MAX_CONNECTIONS} connections "
        f"(at most {MAX_REQUESTS} requests in one run)"]


def test_cli_connections_bound_is_a_usage_error(capsys):
    assert cli.main(["simulate", "--connections", "2000000000"]) == 2
    assert "must be at most 10,000,000, not 2,000,000,000" in capsys.readouterr().err


def test_cli_requests_per_connection_bound_is_a_usage_error(capsys):
    assert cli.main(["simulate", "--requests-per-connection", "10000000"]) == 2
    assert "must be at most 10,000, not 10,000,000" in capsys.readouterr().err


def test_cli_product_bound_is_an_error_before_any_work(capsys, monkeypatch):
    monkeypatch.setattr(commands_common, "cluster_from_args", lambda args: pytest.fail("loaded the cluster"))
    assert cli.main(["simulate", "--connections", "5000000", "--requests-per-connection", "3"]) == 1
    assert "must be at most 10,000,000 requests, not 15,000,000" in capsys.readouterr().err


def test_cli_bounds_are_the_documented_ones():
    from kubelearn.commands import traffic as cmd

    assert (cmd.MAX_CONNECTIONS, cmd.MAX_REQUESTS_PER_CONNECTION, cmd.MAX_REQUESTS) == (
        MAX_CONNECTIONS, MAX_REQUESTS_PER_CONNECTION, MAX_REQUESTS)
    sub = cli.build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    helptext = " ".join(sub.choices["simulate"].format_help().split())  # type: ignore[attr-defined]
    assert "1 to 10,000,000" in helptext and "1 to 10,000 " in helptext
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "10,000,000 connections" in readme and "10,000 requests per connection" in readme


def test_every_error_is_listed_at_once():
    d = base()
    d["metadata"]["name"] = "Bad_Name"
    d["spec"].update(connections="many", connectionSeconds=math.nan)
    d["spec"]["events"] = [{"at": -1, "failNode": {"node": ["a"]}},
                           {"at": 1, "scale": {"deployment": "my-app", "replicas": 10**9}}]
    with pytest.raises(InvalidError, match=r'The Workload "Bad_Name" is invalid:') as info:
        from_object(d)
    paths = [c.path for c in info.value.causes]
    assert paths == ["metadata.name", "spec.connections", "spec.connectionSeconds", "spec.events[0].at",
                     "spec.events[0].failNode.node", "spec.events[1].scale.replicas"]


def test_an_invalid_workload_applies_nothing():
    d = base()
    d["spec"]["events"] = [{"at": math.inf, "cordon": {"node": "kind-worker"}}]
    text = SCENARIO.read_text() + "\n---\n" + yaml.safe_dump(d)
    with pytest.raises(ApplyError, match=r"spec.events\[0\].at: Invalid value: \+Inf"):
        load(text)


def test_python_api_cannot_make_an_invalid_workload():
    wl = workload(node_clients(), cluster_ip("my-service"), connections=10)
    with pytest.raises(InvalidError, match="spec.connections: Invalid value: 2000000000"):
        wl.with_(connections=2_000_000_000)
    with pytest.raises(InvalidError, match="spec.arrival.rate: Invalid value: NaN"):
        Workload(clients=({"nodes": []},), target={"clusterIP": {"service": "web"}}, rate=math.nan)
    with pytest.raises(InvalidError, match=r"spec.events\[0\].scale.replicas: Invalid value: -1"):
        wl.with_(events=(Event(1.0, "scale", {"deployment": "web", "replicas": -1}),))
    with pytest.raises(InvalidError, match=r"spec.events\[0\].scale: Invalid value: \"string\""):
        wl.with_(events=(Event(1.0, "scale", "abc"),))  # type: ignore[arg-type]


def test_rollout_template_is_decoded_like_a_pod_template():
    ev = {"at": 1, "rollout": {"deployment": "web", "template": {"spec": {"containers": [
        {"name": "app", "image": 5}, {"image": "x"}], "containerz": 1}}}}
    msgs = [str(e) for e in validate_workload(with_event(ev))]
    assert ('spec.events[0].rollout.template.spec.containers[0].image: Invalid value: "integer": '
            'spec.events[0].rollout.template.spec.containers[0].image in body must be of type string: "integer"'
            in msgs)
    assert "spec.events[0].rollout.template.spec.containers[1].name: Required value" in msgs
    assert 'unknown field "spec.events[0].rollout.template.spec.containerz"' in msgs


def test_names_follow_the_rules_of_what_they_name():
    d = base()
    d["spec"]["clients"] = [{"pods": {"names": ["Not A Pod"], "namespace": "Bad.NS"}}, {"nodes": [7]}]
    d["spec"]["target"] = {"nodePort": {"service": "9web", "node": "x\ny"}}
    msgs = [str(e) for e in validate_workload(d)]
    assert any(m.startswith('spec.clients[0].pods.names[0]: Invalid value: "Not A Pod": a lowercase RFC 1123 '
                            'subdomain') for m in msgs)
    assert any(m.startswith('spec.clients[0].pods.namespace: Invalid value: "Bad.NS"') for m in msgs)
    assert ('spec.clients[1].nodes[0]: Invalid value: "integer": spec.clients[1].nodes[0] in body must be of '
            'type string: "integer"') in msgs
    assert any(m.startswith('spec.target.nodePort.service: Invalid value: "9web": a DNS-1035 label') for m in msgs)
    assert any(m.startswith('spec.target.nodePort.node: Invalid value: "x\\ny"') for m in msgs)


def test_valid_documents_still_round_trip():
    d = base()
    d["spec"].update(arrival={"type": "poisson", "rate": 50}, connectionSeconds=2, requestsPerConnection=4,
                     dnsClient={"strategy": "random", "ttlSeconds": 10},
                     propagation={"endpointSliceSeconds": 0.5},
                     events=[{"at": 3, "rollout": {"deployment": "my-app", "stepSeconds": 0, "template": TEMPLATE}},
                             {"at": 1, "scale": {"deployment": "my-app", "replicas": MAX_REPLICAS}}])
    assert validate_workload(d) == []
    wl = from_object(copy.deepcopy(d))
    assert from_object(wl.to_object()) == wl
    assert MAX_SECONDS >= 86400  # a day of simulated time fits


def test_non_mapping_documents_are_errors_not_crashes():
    for doc in (None, [], "abc", 5, {"spec": []}, {"spec": {"clients": "abc", "target": []}}):
        errs = validate_workload(doc)  # type: ignore[arg-type]
        assert errs and all(str(e) for e in errs)
        with pytest.raises(KubelearnError, match=r'^The Workload "" is invalid: '):
            from_object(doc)  # type: ignore[arg-type]


def test_lab_bounds_match_the_cli_help():
    from kubelearn.commands import netlab as cmd
    from kubelearn.netlab import lab

    assert (cmd.MAX_LAB_CONNECTIONS, cmd.MAX_TIMEOUT_SECONDS) == (lab.MAX_LAB_CONNECTIONS, lab.MAX_TIMEOUT_SECONDS)
    sub = cli.build_parser()._subparsers._group_actions[0]  # type: ignore[union-attr]
    run = sub.choices["netlab"]._subparsers._group_actions[0].choices["run"]  # type: ignore[attr-defined]
    text = " ".join(run.format_help().split())
    assert "1 to 100,000" in text and "at most 60" in text


def test_netlab_refuses_a_workload_too_large_for_the_kernel_before_building(tmp_path, capsys, monkeypatch):
    import kubelearn.netlab as netlab

    monkeypatch.setattr(netlab, "preflight", lambda *a, **k: None)  # this test builds no lab, root or not
    monkeypatch.setattr(netlab, "NetLab", lambda *a, **k: pytest.fail("built a lab"))
    d = base()
    d["spec"]["connections"] = 200_000  # fine for the simulator, too many real connections
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(d))
    assert cli.main(["netlab", "run", "-f", str(SCENARIO), "-f", str(tmp_path / "w.yaml")]) == 1
    assert "the lab opens at most 100,000 real connections in one run, not 200,000" in capsys.readouterr().err


def test_times_and_rates_have_documented_upper_bounds():
    d = base()
    d["spec"].update(connectionSeconds=2e6, arrival={"rate": 1e7})
    d["spec"]["events"] = [{"at": 10**9, "cordon": {"node": "kind-worker"}}]
    assert [str(e) for e in validate_workload(d)] == [
        "spec.arrival.rate: Invalid value: 10000000.0: must be less than or equal to 1000000",
        "spec.connectionSeconds: Invalid value: 2000000.0: must be less than or equal to 1000000",
        "spec.events[0].at: Invalid value: 1000000000: must be less than or equal to 1000000",
    ]
