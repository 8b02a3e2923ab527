"""Versions: kind's node image picks the release; kubelearn says which ones it models."""

from __future__ import annotations

import pytest

from kubelearn.kind import TopologyError, topology_from_kind_config
from kubelearn.versions import (
    NEWEST_MINOR,
    UnsupportedVersionError,
    feature_gate,
    gate_default,
    image_version,
)


def test_image_version() -> None:
    assert image_version("kindest/node:v1.33.1") == (1, 33, 1)
    assert image_version("docker.io/kindest/node:v1.33.4@sha256:" + "a" * 64) == (1, 33, 4)
    assert image_version("registry.example/node:v1.36.1") is None  # not kind's image: unknown


@pytest.mark.parametrize(("image", "words"), [
    ("kindest/node:v1.36.1", "v1.36 is known"),
    ("kindest/node:v1.34.0", "v1.34 is known"),
    ("kindest/node:v1.38.0", "not a published release (the newest is v1.37)"),
    ("kindest/node:v1.32.2", "out of kubelearn's range (v1.33 to v1.37)"),
])
def test_other_releases_are_refused_by_name(image: str, words: str) -> None:
    with pytest.raises(UnsupportedVersionError, match=words.replace("(", r"\(").replace(")", r"\)")):
        image_version(image)


def test_kind_config_image_is_checked() -> None:
    doc = {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4",
           "nodes": [{"role": "control-plane", "image": "kindest/node:v1.36.1"}]}
    with pytest.raises((TopologyError, Exception)) as info:
        topology_from_kind_config(doc)
    assert "nodes[0].image" in str(info.value) and "v1.36 is known" in str(info.value)
    ok = {**doc, "nodes": [{"role": "control-plane", "image": "kindest/node:v1.33.1"}]}
    topology_from_kind_config(ok)


def test_gate_defaults_per_release() -> None:
    assert NEWEST_MINOR == 37
    assert [gate_default("PreferSameTrafficDistribution", m) for m in (33, 34, 35, 36, 37)] == [False, True, True, True, True]
    assert gate_default("StrictIPCIDRValidation", 33) is False
    assert feature_gate({"featureGates": {"PreferSameTrafficDistribution": True}}, "PreferSameTrafficDistribution") is True
    assert feature_gate({}, "PreferSameTrafficDistribution") is False  # v1.33 default
