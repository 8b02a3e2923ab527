"""Lenient IPs and CIDRs in Service and EndpointSlice fields, and the API server's warnings.

Expected values: ``data/validation/upstream_ip_cidr.yaml``, quoted from apimachinery's
``pkg/util/validation/ip_test.go``.  Every release kubelearn models keeps the
StrictIPCIDRValidation gate at its default (off): values are accepted with a warning.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubelearn.apiserver.validation import (
    cidr_warnings,
    ip_warnings,
    legacy_cidr_errors,
    legacy_ip_errors,
    service_address_warnings,
)
from kubelearn.kind import default_cluster
from kubelearn.proxy import rules

CASES = yaml.safe_load((Path(__file__).parent / "data" / "validation" / "upstream_ip_cidr.yaml").read_text())


def _detail(errs: list) -> str:
    assert len(errs) <= 1
    return errs[0].detail if errs else ""


@pytest.mark.parametrize("case", CASES["ip"], ids=lambda c: repr(c["in"]))
def test_legacy_ip_field(case: dict) -> None:
    assert case["legacyErr"] in _detail(legacy_ip_errors("", case["in"]))
    assert bool(case["legacyErr"]) == bool(legacy_ip_errors("", case["in"]))
    assert case["legacyStrictErr"] in _detail(legacy_ip_errors("", case["in"], strict=True))
    assert bool(case["legacyStrictErr"]) == bool(legacy_ip_errors("", case["in"], strict=True))


@pytest.mark.parametrize("case", CASES["cidr"], ids=lambda c: repr(c["in"]))
def test_legacy_cidr_field(case: dict) -> None:
    assert case["legacyErr"] in _detail(legacy_cidr_errors("", case["in"]))
    assert bool(case["legacyErr"]) == bool(legacy_cidr_errors("", case["in"]))
    assert case["legacyStrictErr"] in _detail(legacy_cidr_errors("", case["in"], strict=True))
    assert bool(case["legacyStrictErr"]) == bool(legacy_cidr_errors("", case["in"], strict=True))


@pytest.mark.parametrize("case", CASES["ip_warnings"], ids=lambda c: c["in"])
def test_ip_warnings(case: dict) -> None:
    assert ip_warnings(case["path"], case["in"]) == case["want"]


@pytest.mark.parametrize("case", CASES["cidr_warnings"], ids=lambda c: c["in"])
def test_cidr_warnings(case: dict) -> None:
    assert cidr_warnings(case["path"], case["in"]) == case["want"]


def _lb(**spec: object) -> dict:
    s = {"type": "LoadBalancer", "selector": {"app": "web"}, "ports": [{"port": 80}], **spec}
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"}, "spec": s}


def test_the_issues_values_are_accepted_and_warned_about() -> None:
    """clusterIP 172.30.0.041 and loadBalancerSourceRanges 203.0.113.000/025: accepted (gate off)."""
    svc = _lb(clusterIP="10.96.0.041", externalIPs=["1.2.3.004"], loadBalancerSourceRanges=["203.0.113.000/025"])
    c = default_cluster(seed=0).apply(svc)
    stored = c.get("Service", "web")
    assert stored["spec"]["clusterIP"] == "10.96.0.041"  # stored as written
    assert service_address_warnings(stored) == [
        'spec.clusterIPs[0]: non-standard IP address "10.96.0.041" will be considered invalid in a future '
        'Kubernetes release: use "10.96.0.41"',
        'spec.externalIPs[0]: non-standard IP address "1.2.3.004" will be considered invalid in a future '
        'Kubernetes release: use "1.2.3.4"',
        'spec.loadBalancerSourceRanges[0]: non-standard CIDR value "203.0.113.000/025" will be considered invalid '
        'in a future Kubernetes release: use "203.0.113.0/25"',
    ]
    text = str(rules(c, "kind-worker"))
    assert "-d 10.96.0.41" in text and "10.96.0.041" not in text


def test_sloppy_cluster_ip_conflicts_with_its_canonical_form() -> None:
    from kubelearn.errors import KubelearnError

    c = default_cluster(seed=0).apply(_lb(clusterIP="10.96.0.41"))
    other = _lb(clusterIP="10.96.0.041")
    other["metadata"]["name"] = "web2"
    with pytest.raises(KubelearnError, match="provided IP is already allocated"):
        c.apply(other)
