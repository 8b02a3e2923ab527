"""The API server's warnings: accepted objects it warns about, printed by `kubelearn apply` as kubectl prints
them (`Warning: <text>` on stderr, before the object's `service/web created` line) and returned by
`kl.api_warnings`."""

from __future__ import annotations

from pathlib import Path

import pytest

import kubelearn as kl
from kubelearn.cli import main

WARNED = """\
apiVersion: v1
kind: Service
metadata: {name: web, annotations: {service.kubernetes.io/topology-aware-hints: Auto}}
spec:
  selector: {app: web}
  ports: [{port: 80}]
  clusterIP: 10.96.0.077
  loadBalancerSourceRanges: ["203.0.113.000/025"]
  type: LoadBalancer
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx}]}
"""

EXPECTED = [
    "annotation service.kubernetes.io/topology-aware-hints is deprecated, please use "
    "service.kubernetes.io/topology-mode instead",
    'spec.clusterIPs[0]: non-standard IP address "10.96.0.077" will be considered invalid in a future Kubernetes '
    'release: use "10.96.0.77"',
    'spec.loadBalancerSourceRanges[0]: non-standard CIDR value "203.0.113.000/025" will be considered invalid in a '
    'future Kubernetes release: use "203.0.113.0/25"',
]


def test_api_warnings_in_the_api_servers_words() -> None:
    assert kl.api_warnings(None, WARNED) == EXPECTED
    # on an existing cluster too; a clean manifest has none
    assert kl.api_warnings(kl.default_scenario(), WARNED.replace("my-", "")) == EXPECTED
    assert kl.api_warnings(None, WARNED.split("---")[1]) == []


def test_api_warnings_raise_for_a_refused_object() -> None:
    with pytest.raises(kl.ApplyError, match="spec.ports"):
        kl.api_warnings(None, "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: []}\n")


def test_cli_apply_prints_warnings_on_stderr_then_the_objects(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "web.yaml"
    f.write_text(WARNED)
    assert main(["apply", "-f", str(f)]) == 0
    out, err = capfd.readouterr()
    assert out == "service/web created\ndeployment.apps/web created\n"
    assert err == "".join(f"Warning: {w}\n" for w in EXPECTED)


def test_cli_validate_prints_warnings_and_valid(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "web.yaml"
    f.write_text(WARNED)
    assert main(["validate", "-f", str(f)]) == 0
    out, err = capfd.readouterr()
    assert out == "valid\n" and err.startswith("Warning: annotation service.kubernetes.io/topology-aware-hints")


def test_cli_apply_needs_files(capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["apply"]) == 1
    assert capfd.readouterr().err == "error: must specify one of -f and -k\n"


def test_apply_output_says_configured_for_an_object_that_existed() -> None:
    from kubelearn.responses import apply_output

    base = kl.default_scenario()
    svc = "apiVersion: v1\nkind: Service\nmetadata: {name: my-service}\nspec: {selector: {app: MyApp}, ports: [{port: 80}]}\n"
    cluster, lines = apply_output(base, svc + "---\n" + svc.replace("my-service", "other"))
    assert lines == ["service/my-service configured", "service/other created"]
    assert cluster.get("Service", "other")["spec"]["ports"][0]["port"] == 80


def test_prefer_close_is_deprecated_from_v1_35() -> None:
    """GetWarningsForService warns about PreferClose from v1.35 (PreferSameZone's GA); v1.33 does not."""
    from kubelearn.apiserver.validation import PREFER_CLOSE_WARNING
    from kubelearn.versions import cluster_minor

    svc = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
           "spec: {selector: {app: web}, ports: [{port: 80}], trafficDistribution: PreferClose}\n")
    old = ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"
           "  image: kindest/node:v1.33.1\n---\n")
    default = kl.api_warnings(None, svc)
    assert default == ([PREFER_CLOSE_WARNING] if cluster_minor(kl.default_scenario()) >= 35 else [])
    assert kl.api_warnings(None, old + svc) == []
