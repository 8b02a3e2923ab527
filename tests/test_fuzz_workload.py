"""Fuzz (issue 14): hostile Workload documents and ``simulate`` argv never give a traceback.

Hypothesis mutates a valid Workload (every field, events included) with hostile values
(NaN, infinities, huge and negative numbers, wrong types, long and multi-line strings) and
mixes hostile ``simulate`` options.  Whatever comes in: validation returns field errors
and never raises, the CLI exits 0, 1 or 2 and never prints a traceback.  The examples are
deterministic (the suite's derandomized profile) and bounded: every hostile number is either
small or beyond the documented bounds, so no example can ask for a long run.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelearn import cli
from kubelearn.apiserver.workload import validate_workload
from kubelearn.errors import KubelearnError
from kubelearn.traffic.workload import Event, cluster_ip, from_object, node_clients, workload

SCENARIO = Path(__file__).resolve().parents[1] / "kubelearn" / "data" / "scenarios" / "my-service.yaml"
TEMPLATE = {"spec": {"containers": [{"name": "app", "image": "registry.k8s.io/e2e-test-images/agnhost:2.54"}]}}

BASE: dict[str, Any] = {
    "apiVersion": "kubelearn.dev/v1alpha1", "kind": "Workload", "metadata": {"name": "fuzz"},
    "spec": {
        "clients": [{"nodes": []}, {"external": {"cidr": "203.0.113.0/24", "count": 3, "node": "kind-worker"}}],
        "target": {"clusterIP": {"service": "my-service", "port": 80}},
        "connections": 40, "arrival": {"type": "poisson", "rate": 100}, "connectionSeconds": 0.5,
        "requestsPerConnection": 2, "protocol": "TCP", "dnsClient": {"strategy": "random", "ttlSeconds": 5},
        "propagation": {"endpointSliceSeconds": 0.1},
        "events": [{"at": 0.1, "scale": {"deployment": "my-app", "replicas": 4}},
                   {"at": 0.2, "rollout": {"deployment": "my-app", "stepSeconds": 0.1, "template": TEMPLATE}},
                   {"at": 0.3, "cordon": {"node": "kind-worker"}},
                   {"at": 0.4, "failNode": {"node": "kind-worker2"}}],
    },
}

# Where a mutation lands: every field of the document, as a path of keys and list indices.
PATHS: list[tuple[Any, ...]] = [
    ("apiVersion",), ("kind",), ("metadata",), ("metadata", "name"), ("metadata", "labels"), ("spec",),
    ("spec", "clients"), ("spec", "clients", 0), ("spec", "clients", 0, "nodes"),
    ("spec", "clients", 1, "external"), ("spec", "clients", 1, "external", "cidr"),
    ("spec", "clients", 1, "external", "count"), ("spec", "clients", 1, "external", "node"),
    ("spec", "target"), ("spec", "target", "clusterIP"), ("spec", "target", "clusterIP", "service"),
    ("spec", "target", "clusterIP", "port"), ("spec", "target", "clusterIP", "namespace"),
    ("spec", "connections"), ("spec", "arrival"), ("spec", "arrival", "type"), ("spec", "arrival", "rate"),
    ("spec", "connectionSeconds"), ("spec", "requestsPerConnection"), ("spec", "protocol"),
    ("spec", "dnsClient"), ("spec", "dnsClient", "strategy"), ("spec", "dnsClient", "ttlSeconds"),
    ("spec", "propagation"), ("spec", "propagation", "endpointSliceSeconds"),
    ("spec", "events"), ("spec", "events", 0), ("spec", "events", 0, "at"),
    ("spec", "events", 0, "scale"), ("spec", "events", 0, "scale", "deployment"),
    ("spec", "events", 0, "scale", "replicas"), ("spec", "events", 0, "scale", "namespace"),
    ("spec", "events", 1, "rollout", "stepSeconds"), ("spec", "events", 1, "rollout", "template"),
    ("spec", "events", 1, "rollout", "template", "spec"),
    ("spec", "events", 1, "rollout", "template", "spec", "containers"),
    ("spec", "events", 1, "rollout", "template", "spec", "containers", 0, "image"),
    ("spec", "events", 1, "rollout", "template", "metadata"),
    ("spec", "events", 2, "at"), ("spec", "events", 2, "cordon", "node"),
    ("spec", "events", 3, "failNode"), ("spec", "events", 3, "failNode", "node"),
]

HOSTILE = st.sampled_from([
    math.nan, math.inf, -math.inf, -1, 0, -0.0, 1, 2.5, 10**9, 2**63, 10**30, 1e308, True, False, None,
    "", "abc", "kind-worker", "x" * 300, "a\nb", "1.2.3.4 dev eth0\nnetns add x\n#", "--help", "0",
    [], ["a"], [1, 2], {}, {"a": 1}, {"nodes": []}, {"x": {"y": [None]}},
])


def _set(doc: Any, path: tuple[Any, ...], value: Any, delete: bool) -> None:
    cur = doc
    for key in path[:-1]:
        if isinstance(cur, dict) and isinstance(key, str):
            cur = cur.setdefault(key, {})
        elif isinstance(cur, list) and isinstance(key, int) and key < len(cur):
            cur = cur[key]
        else:
            return  # an earlier mutation changed the shape: nothing to set here
    last = path[-1]
    if isinstance(cur, dict) and isinstance(last, str):
        if delete:
            cur.pop(last, None)
        else:
            cur[last] = copy.deepcopy(value)
    elif isinstance(cur, list) and isinstance(last, int) and last < len(cur):
        if delete:
            del cur[last]
        else:
            cur[last] = copy.deepcopy(value)


MUTATIONS = st.lists(st.tuples(st.sampled_from(PATHS), HOSTILE, st.booleans()), min_size=1, max_size=3)


def _mutated(mutations: list[tuple[tuple[Any, ...], Any, bool]]) -> dict[str, Any]:
    doc = copy.deepcopy(BASE)
    for path, value, delete in mutations:
        _set(doc, path, value, delete and len(path) > 1)
    return doc


def test_the_base_document_is_valid_and_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert validate_workload(BASE) == []
    (tmp_path / "w.yaml").write_text(yaml.safe_dump(BASE))
    assert cli.main(["simulate", "-f", str(SCENARIO), "-f", str(tmp_path / "w.yaml")]) == 0
    assert "40 connections x 2 requests" in capsys.readouterr().out


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(MUTATIONS)
def test_validation_never_raises(mutations: list[tuple[tuple[Any, ...], Any, bool]]) -> None:
    doc = _mutated(mutations)
    errs = validate_workload(doc)
    for e in errs:
        assert str(e) and "\n" not in e.path
    try:
        from_object(doc)
    except KubelearnError:
        assert errs
    else:
        assert not errs


BUILDER_ARGS = st.dictionaries(st.sampled_from([
    "connections", "arrival", "rate", "connection_seconds", "requests_per_connection", "protocol", "dns_strategy",
    "dns_ttl", "endpoint_slice_seconds", "name", "events", "clients", "target"]), HOSTILE, max_size=3)


@settings(max_examples=200)
@given(BUILDER_ARGS, HOSTILE)
def test_the_python_builders_raise_only_clear_errors(kwargs: dict[str, Any], at: Any) -> None:
    clients = kwargs.pop("clients", node_clients())
    target = kwargs.pop("target", cluster_ip("my-service"))
    kwargs.setdefault("events", [Event(at, "cordon", {"node": "kind-worker"})])
    try:
        wl = workload(clients, target, **kwargs)
    except KubelearnError as exc:
        assert str(exc).startswith('The Workload "') or "cannot be handled as a Workload" in str(exc)
    else:
        assert validate_workload(wl.to_object()) == []


OPTIONS = st.lists(st.one_of(
    st.tuples(st.sampled_from(["--connections", "--requests-per-connection", "--seed"]),
              st.sampled_from(["0", "-1", "1", "7", "abc", "nan", "1e3", "", "2000000000", "10000000",
                               "9" * 30])),
    st.tuples(st.just("-o"), st.sampled_from(["/proc/x.csv", "OUT/out.csv", "OUT/out.parquet", "OUT", "x.txt",
                                              "/nonexistent/x.csv", "OUT/" + "a" * 300 + ".csv", "OUT/d.csv"])),
), max_size=3)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(MUTATIONS, OPTIONS)
def test_simulate_never_shows_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          mutations: list[tuple[tuple[Any, ...], Any, bool]],
                                          options: list[tuple[str, str]]) -> None:
    (tmp_path / "d.csv").mkdir(exist_ok=True)
    doc = tmp_path / "w.yaml"
    doc.write_text(yaml.safe_dump(_mutated(mutations)))
    argv = ["simulate", "-f", str(SCENARIO), "-f", str(doc)]
    for flag, value in options:
        argv += [flag, value.replace("OUT", str(tmp_path))]
    code = cli.main(argv)  # anything but a KubelearnError or a usage error would propagate here
    err = capsys.readouterr().err
    assert code in (0, 1, 2), (argv, err)
    assert "Traceback" not in err
    if code == 1:
        assert err.strip()
