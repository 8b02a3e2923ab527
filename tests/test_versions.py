"""Versions: kind's node image picks the release; everything a learner sees follows it.

Upstream sources of every expected value: docs/versions.md (file, branch or PR, how dated).
"""

from __future__ import annotations

import pytest
import yaml

import kubelearn as kl
from kubelearn import kubectl
from kubelearn.errors import ManifestError
from kubelearn.versions import (
    DEFAULT_VERSION,
    NEWEST_MINOR,
    RELEASES,
    SUPPORTED_MINORS,
    UnsupportedVersionError,
    cluster_minor,
    feature_gate,
    gate_default,
    image_version,
    kube_proxy_warnings,
    parse_version,
)


def kind_config(*images: str | None) -> dict:
    nodes = []
    for i, image in enumerate(images):
        node = {"role": "control-plane" if i == 0 else "worker"}
        if image is not None:
            node["image"] = image
        nodes.append(node)
    return {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": nodes}


def load_kind(doc: dict) -> kl.Cluster:
    """The cluster ``kind create cluster --config`` builds from ``doc`` (through kubelearn's own load)."""
    return kl.load(yaml.safe_dump(doc))


def test_image_version() -> None:
    assert image_version("kindest/node:v1.33.1") == (1, 33, 1)
    assert image_version("docker.io/kindest/node:v1.36.4@sha256:" + "a" * 64) == (1, 36, 4)
    assert image_version("registry.example/node:v1.36.1") is None  # not kind's image: unknown
    assert parse_version("v1.37.0") == (1, 37, 0)


def test_every_release_from_v1_33_to_the_newest_is_modelled() -> None:
    assert NEWEST_MINOR == 37  # CHANGELOG-1.38.md holds only v1.38.0-alpha.* (docs/versions.md)
    assert SUPPORTED_MINORS == (33, 34, 35, 36, 37)
    for minor in SUPPORTED_MINORS:
        assert image_version(RELEASES[minor].kind_image)[1] == minor


@pytest.mark.parametrize(("image", "words"), [
    ("kindest/node:v1.38.0", "not a published release (the newest is v1.37)"),
    ("kindest/node:v1.32.2", "out of kubelearn's range (v1.33 to v1.37)"),
])
def test_other_releases_are_refused_by_name(image: str, words: str) -> None:
    with pytest.raises(UnsupportedVersionError, match=words.replace("(", r"\(").replace(")", r"\)")):
        image_version(image)


@pytest.mark.parametrize("minor", [33, 34, 35, 36, 37])
def test_kind_config_image_sets_the_version_every_node_reports(minor: int) -> None:
    image = RELEASES[minor].kind_image
    cluster = load_kind(kind_config(image, image))
    version = RELEASES[minor].version
    assert cluster.topology.kubernetes_version == version and cluster_minor(cluster) == minor
    for node in cluster.nodes():
        info = node["status"]["nodeInfo"]
        assert info["kubeletVersion"] == info["kubeProxyVersion"] == version
    # kubectl get nodes: the VERSION column is the kubelet's
    out = kubectl.get(cluster, "nodes")
    assert f"   {version}" in out.splitlines()[1]
    coredns = cluster.get("Deployment", "coredns", "kube-system")
    assert coredns["spec"]["template"]["spec"]["containers"][0]["image"] == \
        f"registry.k8s.io/coredns/coredns:{RELEASES[minor].coredns}"


def test_coredns_per_release() -> None:
    # kubeadm's CoreDNS: v1.33 v1.12.0 (build/dependencies.yaml at v1.33.0), v1.34 v1.12.1
    # (CHANGELOG-1.34 #131151), v1.35 v1.13.1 (#133968, issue #141229), v1.36 v1.14.2
    # (`kubeadm config images list` of v1.36.x), v1.37 v1.14.4 (#139735, kubeadm issue #3322)
    assert [RELEASES[m].coredns for m in SUPPORTED_MINORS] == ["v1.12.0", "v1.12.1", "v1.13.1", "v1.14.2", "v1.14.4"]


def test_kind_config_without_image_runs_the_default_release() -> None:
    assert load_kind(kind_config(None)).topology.kubernetes_version == DEFAULT_VERSION
    assert kl.default_cluster().topology.kubernetes_version == DEFAULT_VERSION == "v1.35.0"


def test_mixed_node_versions_are_refused() -> None:
    with pytest.raises(ManifestError, match="nodes run different Kubernetes versions") as info:
        load_kind(kind_config("kindest/node:v1.36.1", "kindest/node:v1.37.0"))
    assert "nodes run different Kubernetes versions: v1.36.1 (nodes[0]), v1.37.0 (nodes[1])" in str(info.value)


def test_kind_config_image_errors() -> None:
    with pytest.raises(ManifestError, match="not a published release") as info:
        load_kind(kind_config("kindest/node:v1.38.0"))
    assert "nodes[0].image" in str(info.value) and "not a published release" in str(info.value)
    with pytest.raises(ManifestError, match="must be a kind node image, kindest/node:vX.Y.Z"):
        load_kind(kind_config("registry.example/node:v1.36.1"))


def test_gate_defaults_per_release() -> None:
    assert [gate_default("PreferSameTrafficDistribution", m) for m in (33, 34, 35, 36, 37)] == \
        [False, True, True, True, True]
    assert gate_default("StrictIPCIDRValidation", 33) is False
    assert feature_gate({"featureGates": {"PreferSameTrafficDistribution": True}}, "PreferSameTrafficDistribution",
                        33) is True
    assert feature_gate({}, "PreferSameTrafficDistribution", 33) is False


def test_ipvs_deprecation_from_v1_35() -> None:
    # cmd/kube-proxy/app/server_linux.go (PR #134539, v1.35): klog.Warning + event IPVSDeprecation
    msg = ("The ipvs proxier is now deprecated and may be removed in a future release. "
           "Please use 'nftables' instead.")
    assert [kube_proxy_warnings("ipvs", m) for m in (33, 34)] == [[], []]
    assert [kube_proxy_warnings("ipvs", m) for m in (35, 36, 37)] == [[msg]] * 3
    assert kube_proxy_warnings("iptables", 37) == kube_proxy_warnings("nftables", 37) == []


# ------------------------------------------------------------------ the API server per release
def cluster_at(minor: int):
    image = RELEASES[minor].kind_image
    return load_kind(kind_config(image, image))


def svc_with(td: str) -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50"],
                     "sessionAffinity": "None", "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                     "ipFamilyPolicy": "SingleStack", "trafficDistribution": td,
                     "ports": [{"port": 80, "protocol": "TCP", "targetPort": 80}]}}


@pytest.mark.parametrize("td", ["PreferSameZone", "PreferSameNode"])
def test_prefer_same_refused_where_the_gate_is_off(td: str) -> None:
    # pkg/apis/core/validation/validation.go: field.NotSupported with the gate's values
    # (PreferSameTrafficDistribution alpha/off in v1.33, beta/on in v1.34, GA in v1.35)
    from kubelearn.apiserver.validation import validate

    got = [str(e) for e in validate(svc_with(td), cluster_at(33))]
    assert got == [f'spec.trafficDistribution: Unsupported value: "{td}": supported values: "PreferClose"']
    for minor in (34, 35, 36, 37):
        assert validate(svc_with(td), cluster_at(minor)) == []
    bad = [str(e) for e in validate(svc_with("PreferFar"), cluster_at(37))]
    assert bad == ['spec.trafficDistribution: Unsupported value: "PreferFar": supported values: '
                   '"PreferClose", "PreferSameZone", "PreferSameNode"']


def test_prefer_close_deprecated_from_v1_35() -> None:
    # pkg/api/service/warnings.go (PR #134457, v1.35):
    # fmt.Sprintf("spec.trafficDistribution: %q is deprecated; use %q", PreferClose, PreferSameZone)
    from kubelearn.apiserver.validation import service_warnings

    expected = 'spec.trafficDistribution: "PreferClose" is deprecated; use "PreferSameZone"'
    assert [service_warnings(svc_with("PreferClose"), m) for m in (33, 34)] == [[], []]
    assert [service_warnings(svc_with("PreferClose"), m) for m in (35, 36, 37)] == [[expected]] * 3
    assert service_warnings(svc_with("PreferSameZone"), 37) == []


def test_apply_on_a_kind_cluster_of_v1_33_refuses_prefer_same_zone() -> None:
    config = ("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"
              "  image: kindest/node:v1.33.1\n---\n")
    svc = ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\n"
           "spec: {trafficDistribution: PreferSameZone, ports: [{port: 80}]}\n")
    with pytest.raises(kl.ApplyError, match="Unsupported value") as info:
        kl.load(config + svc)
    assert 'spec.trafficDistribution: Unsupported value: "PreferSameZone": supported values: "PreferClose"' \
        in str(info.value)
    newer = kl.load(config.replace("v1.33.1", "v1.34.0") + svc)
    assert newer.get("Service", "web")["spec"]["trafficDistribution"] == "PreferSameZone"


def test_kube_proxy_in_ipvs_mode_warns_from_v1_35(capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    from kubelearn.cli import main
    from kubelearn.proxy import rules

    for minor, warned in ((34, False), (35, True), (37, True)):
        image = RELEASES[minor].kind_image
        cfg = tmp_path / f"kind{minor}.yaml"
        cfg.write_text("kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {kubeProxyMode: ipvs}\n"
                       f"nodes:\n- role: control-plane\n  image: {image}\n")
        cluster = kl.load(str(cfg))
        assert bool(rules(cluster, "kind-control-plane").warnings) is warned
        assert main(["rules", "-f", str(cfg), "--node", "kind-control-plane"]) == 0
        err = capsys.readouterr().err
        assert ("kube-proxy warning: The ipvs proxier is now deprecated" in err) is warned


def test_a_bad_image_is_one_error_not_also_a_version_mix() -> None:
    with pytest.raises(ManifestError, match="not a published release") as info:
        load_kind(kind_config("kindest/node:v1.38.0", "kindest/node:v1.36.1"))
    assert "not a published release" in str(info.value) and "different Kubernetes versions" not in str(info.value)
