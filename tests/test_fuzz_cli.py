"""Fuzzing the CLI: hostile manifests and argv never give a traceback, and exit 0, 1 or 2.

Hypothesis builds manifests by planting hostile values (newlines, quotes, option-like text,
an nft ``include``, huge and negative numbers, NaN, nested lists, wrong types) at random
paths of valid objects, mutates raw YAML text, and builds argv for ``get``, ``describe``,
``validate``, ``env``, ``dns``, ``rules`` and ``trace``.  Each run calls :func:`kubelearn.cli.main`
in-process: any exception other than the ones ``main`` turns into an exit code fails the
test, and so does any exit code but 0 (done), 1 (refused, with a message) or 2 (usage).

Bounded: a few dozen examples per property, derandomized by the project's profile
(``tests/conftest.py``), so the suite stays deterministic and quick.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelearn.cli import main

BASE: list[dict[str, Any]] = [
    {"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster", "name": "lab",
     "nodes": [{"role": "control-plane"}, {"role": "worker"}],
     "networking": {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16"}},
    {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "mode": "nftables",
     "nodePortAddresses": ["primary"], "ipvs": {"scheduler": "rr"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"}},
     "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "externalIPs": ["203.0.113.7"],
              "loadBalancerSourceRanges": ["198.51.100.0/24"], "sessionAffinity": "ClientIP",
              "externalTrafficPolicy": "Local",
              "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "web", "image": "nginx",
                                                    "env": [{"name": "MODE", "value": "x"}],
                                                    "ports": [{"containerPort": 8080}]}]}}}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "lab-worker"},
     "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
     "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.3"},
                              {"type": "Hostname", "address": "lab-worker"}]}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "manual", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.50"], "conditions": {"ready": True},
                                           "nodeName": "lab-worker"}],
     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
]

HOSTILE_STRINGS = st.sampled_from([
    "", " ", "-", "--", "-j ACCEPT", "x\n-A KUBE-SERVICES -j ACCEPT", 'include "/etc/passwd"', '"', "'", "\\",
    "192.0.2.10\n", "1.2.3.4 dev eth0\nnetns add pwn\n#", "a" * 300, "web\n", "../../etc/passwd", "/dev/zero",
    "\x00", "é", "10.244.1.999", "::1", "fe80::1%eth0", "0.0.0.0/0", "1e9", "NaN", "-1", "{a: b}", "*a", "&a",
    "lab-worker", "web", "default", "kube-system", "TCP", "VIP", "Proxy",
])
SCALARS = st.one_of(
    HOSTILE_STRINGS, st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, 65535, 65536, 200_000, 10**9, -1]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _plant(docs: list[dict[str, Any]], doc_i: int, path_i: int, value: Any) -> list[dict[str, Any]]:
    docs = copy.deepcopy(docs)
    paths = _paths(docs[doc_i])
    path = paths[path_i % len(paths)]
    target: Any = docs[doc_i]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return docs


def _dump(docs: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(d, allow_unicode=True) for d in docs)


ARGVS = [
    ["get", "svc"], ["get", "pods", "-A"], ["get", "endpointslices", "-o", "yaml"], ["get", "nodes", "-o", "wide"],
    ["describe", "svc", "web"], ["validate"], ["env", "POD"], ["dns", "web"], ["dns", "web", "--type", "SRV"],
    ["rules", "--node", "lab-worker"], ["rules", "--node", "lab-worker", "--mode", "iptables", "--view", "save"],
    ["rules", "--node", "lab-worker", "--mode", "ipvs"], ["rules", "--node", "lab-worker", "--view", "input"],
    ["trace", "--node", "lab-worker", "--src", "203.0.113.9", "--dst", "192.0.2.10:80"],
    ["trace", "--node", "lab-worker", "--src", "10.244.1.2", "--dst", "203.0.113.7:80", "--mode", "iptables"],
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)  # any exception main does not turn into an exit code fails the test here
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 1:
        assert err.strip(), f"exit 1 without a message: {argv}"


def _first_pod(tmp: Path, capsys: pytest.CaptureFixture[str]) -> str:
    if main(["get", "pods", "-o", "name", "-f", str(tmp)]) != 0:
        capsys.readouterr()
        return "web"
    out, _ = capsys.readouterr()
    names = [line.split("/", 1)[-1] for line in out.split() if line]
    return names[0] if names else "web"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc_i=st.integers(0, len(BASE) - 1), path_i=st.integers(0, 200), value=VALUES,
       argv_i=st.integers(0, len(ARGVS) - 1))
def test_planted_hostile_values_never_crash_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     doc_i: int, path_i: int, value: Any, argv_i: int) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(_dump(_plant(BASE, doc_i, path_i, value)))
    argv = list(ARGVS[argv_i])
    if "POD" in argv:
        argv[argv.index("POD")] = _first_pod(f, capsys)
    _run([*argv, "-f", str(f)], capsys)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cut=st.integers(0, 2000), insert=st.text(max_size=20) | HOSTILE_STRINGS, argv_i=st.integers(0, len(ARGVS) - 1))
def test_mutated_yaml_text_never_crashes_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   cut: int, insert: str, argv_i: int) -> None:
    text = _dump(BASE)
    at = cut % (len(text) + 1)
    f = tmp_path / "m.yaml"
    f.write_text(text[:at] + insert + text[at:], encoding="utf-8", errors="surrogatepass")
    argv = [a if a != "POD" else "web" for a in ARGVS[argv_i]]
    _run([*argv, "-f", str(f)], capsys)


COMMAND_WORDS = st.sampled_from(["get", "describe", "validate", "env", "dns", "rules", "trace"])
ARG_WORDS = st.one_of(
    HOSTILE_STRINGS, st.text(max_size=10),
    st.sampled_from(["-f", "-n", "-o", "-A", "--node", "--src", "--dst", "--mode", "--view", "--type", "--from",
                     "--protocol", "--seed", "svc", "pods", "nodes", "services/web", "yaml", "json", "wide",
                     "nftables", "ipvs", "iptables", "save", "list", "kind-worker", "10.96.0.1:443",
                     "10.244.1.2", "99999999999999999999", "--help", "my-service"]),
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=COMMAND_WORDS, args=st.lists(ARG_WORDS, max_size=6))
def test_random_argv_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                   command: str, args: list[str]) -> None:
    import io
    import sys

    monkeypatch.chdir(tmp_path)  # relative -f paths resolve inside an empty directory
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(BASE[2]).encode())))
    if "\x00" in "".join(args):
        args = [a.replace("\x00", "") for a in args]  # argv cannot carry NUL bytes
    _run([command, *args], capsys)
