"""The Workload kind: builders, YAML round trip, and field errors with their paths."""

from __future__ import annotations

import pytest
import yaml

import kubelearn as kl
from kubelearn.apiserver.schema import BadRequestError
from kubelearn.apiserver.workload import validate_workload
from kubelearn.errors import InvalidError
from kubelearn.traffic import (
    Event,
    cluster_ip,
    dns,
    external_clients,
    from_object,
    load_balancer,
    node_clients,
    pod_clients,
    workload,
)

DOC = """
apiVersion: kubelearn.dev/v1alpha1
kind: Workload
metadata:
  name: web-clients
spec:
  clients:
  - pods: {selector: {app: client}, namespace: default}
  - nodes: []
  - external: {cidr: 203.0.113.0/24, count: 50}
  target:
    dns: my-service
    port: 80
  connections: 500
  arrival: {type: poisson, rate: 50}
  connectionSeconds: 2
  requestsPerConnection: 4
  dnsClient: {strategy: round-robin, ttlSeconds: 10}
  events:
  - {at: 9, cordon: {node: kind-worker}}
  - {at: 5, scale: {deployment: web, replicas: 5}}
"""


def test_yaml_document_becomes_a_workload_and_round_trips():
    wl = from_object(yaml.safe_load(DOC))
    assert wl.name == "web-clients"
    assert wl.connections == 500 and wl.arrival == "poisson" and wl.rate == 50
    assert wl.requests_per_connection == 4 and wl.connection_seconds == 2
    assert wl.dns_strategy == "round-robin" and wl.dns_ttl == 10
    assert [e.action for e in wl.events] == ["scale", "cordon"]  # sorted by time
    assert from_object(wl.to_object()) == wl
    assert validate_workload(wl.to_object()) == []


def test_builders_make_the_same_document():
    wl = workload([pod_clients(selector={"app": "client"}), node_clients(), external_clients("203.0.113.0/24", 50)],
                  dns("my-service", 80), connections=500, arrival="poisson", rate=50, connection_seconds=2,
                  requests_per_connection=4, dns_strategy="round-robin", dns_ttl=10,
                  events=[Event(9, "cordon", {"node": "kind-worker"}), {"at": 5, "scale": {"deployment": "web",
                                                                                          "replicas": 5}}],
                  name="web-clients")
    assert wl == from_object(yaml.safe_load(DOC))


def test_field_errors_carry_their_paths():
    bad = {
        "apiVersion": "kubelearn.dev/v1",
        "kind": "Workload",
        "metadata": {"name": "w"},
        "spec": {
            "clients": [{"pods": {}}, {"external": {"cidr": "300.0.0.0/8", "count": 0}}, {"robots": 1}],
            "target": {"nodePort": {"service": "web", "port": 70000}},
            "connections": -1,
            "arrival": {"type": "burst", "rate": 0},
            "requestsPerConnection": 0,
            "dnsClient": {"strategy": "fastest"},
            "events": [{"at": -1, "explode": {}}, {"at": 1, "scale": {"deployment": "web"}}],
            "colour": "blue",
        },
    }
    msgs = [str(e) for e in validate_workload(bad)]
    expected = [
        'apiVersion: Unsupported value: "kubelearn.dev/v1": supported values: "kubelearn.dev/v1alpha1"',
        'unknown field "spec.colour"',
        'spec.clients[0].pods: Required value: "selector" or "names" is required',
        'spec.clients[1].external.cidr: Invalid value: "300.0.0.0/8": must be a valid CIDR (e.g. 10.0.0.0/8)',
        "spec.clients[1].external.count: Invalid value: 0: must be greater than 0",
        'spec.clients[2]: Invalid value: ["robots"]: must have exactly one of "pods", "nodes", "external"',
        "spec.target.nodePort.port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.target.nodePort.node: Required value",
        "spec.connections: Invalid value: -1: must be greater than 0",
        'spec.arrival.type: Unsupported value: "burst": supported values: "fixed", "poisson"',
        "spec.arrival.rate: Invalid value: 0: must be greater than 0",
        "spec.requestsPerConnection: Invalid value: 0: must be greater than 0",
        'spec.dnsClient.strategy: Unsupported value: "fastest": supported values: "first", "random", "round-robin"',
        "spec.events[0].at: Invalid value: -1: must be greater than or equal to 0",
        "spec.events[1].scale.replicas: Required value",
    ]
    for m in expected:
        assert m in msgs, m
    assert any(m.startswith("spec.events[0]: Invalid value") for m in msgs)
    # unknown fields fail first, in the API server's strict-decoding words (as for any kind)
    with pytest.raises(BadRequestError, match=r'cannot be handled as a Workload: strict decoding error: '
                                              r'unknown field "spec.colour"$'):
        from_object(bad)
    del bad["spec"]["colour"]
    with pytest.raises(InvalidError, match=r'^The Workload "w" is invalid: \n\* apiVersion'):
        from_object(bad)


def test_connections_bound_matches_the_cli(capsys):
    """A run needs at least one connection: the document and --connections say it the same way."""
    from kubelearn import cli

    obj = workload(node_clients(), cluster_ip("web")).to_object()
    obj["spec"]["connections"] = 0
    assert [str(e) for e in validate_workload(obj)] == ["spec.connections: Invalid value: 0: must be greater than 0"]
    assert cli.main(["simulate", "--connections", "0"]) == 2
    assert "must be greater than 0, not 0" in capsys.readouterr().err


def test_builder_rejects_bad_values_with_paths():
    with pytest.raises(InvalidError, match=r"spec.target.loadBalancer.kind: Unsupported value: \"f5\""):
        workload(node_clients(), load_balancer("web", kind="f5"))
    with pytest.raises(InvalidError, match="spec.clients: Required value"):
        workload([], cluster_ip("web"))


def test_external_count_bounded_by_cidr():
    errs = validate_workload(workload(node_clients(), cluster_ip("web")).to_object() | {
        "spec": {"clients": [external_clients("192.0.2.0/30", 5)], "target": cluster_ip("web")}})
    assert [str(e) for e in errs] == [
        "spec.clients[0].external.count: Invalid value: 5: must be at most 2 (the hosts in 192.0.2.0/30)"]


def test_client_builders_are_named_for_clients_not_for_listings() -> None:
    """``kl.pod_clients`` builds a workload's client source; ``Cluster.pods`` lists Pods: two names, two things."""
    cluster = kl.default_scenario()
    source = kl.pod_clients(selector={"app": "client"})
    assert source == {"pods": {"namespace": "default", "selector": {"app": "client"}}}
    assert isinstance(cluster.pods(), list) and all(p["kind"] == "Pod" for p in cluster.pods())
    assert kl.node_clients() == {"nodes": []}
    assert kl.external_clients("203.0.113.0/24", 5) == {"external": {"cidr": "203.0.113.0/24", "count": 5}}
    # The former names are gone; asking for one says what it became.
    with pytest.raises(AttributeError, match=r"kl\.pods\(\) is now kl\.pod_clients\(\)"):
        kl.pods  # noqa: B018
    assert not {"pods", "nodes", "external"} & set(kl.__all__)
