"""kind cluster configs, KubeProxyConfiguration defaults and the default cluster's objects (kubelearn.kind)."""

from __future__ import annotations

import pytest

from kubelearn.errors import ManifestError
from kubelearn.kind import (
    IPVS_SCHEDULERS,
    default_cluster,
    default_proxy_config,
    default_topology,
    topology_from_kind_config,
)

KIND = {"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster"}


def test_default_topology_is_one_control_plane_and_two_workers():
    t = default_topology()
    assert [(n.name, n.role, n.ip, n.pod_cidr) for n in t.nodes] == [
        ("kind-control-plane", "control-plane", "172.18.0.2", "10.244.0.0/24"),
        ("kind-worker", "worker", "172.18.0.3", "10.244.1.0/24"),
        ("kind-worker2", "worker", "172.18.0.4", "10.244.2.0/24"),
    ]
    assert t.service_subnet == "10.96.0.0/16"  # kind's default, not kubeadm's /12
    assert t.dns_ip == "10.96.0.10"


def test_kind_naming_with_several_control_planes_and_custom_name():
    doc = {**KIND, "name": "lab", "nodes": [{"role": "worker"}, {"role": "control-plane"}, {"role": "control-plane"},
                                            {"role": "worker"}, {"role": "worker"}],
           "networking": {"podSubnet": "10.100.0.0/16", "serviceSubnet": "10.200.0.0/24", "kubeProxyMode": "ipvs"}}
    t = topology_from_kind_config(doc)
    assert [n.name for n in t.nodes] == ["lab-control-plane", "lab-control-plane2", "lab-worker", "lab-worker2",
                                         "lab-worker3"]
    assert [n.pod_cidr for n in t.nodes][:2] == ["10.100.0.0/24", "10.100.1.0/24"]
    assert t.dns_ip == "10.200.0.10" and t.kube_proxy_mode == "ipvs" and t.name == "lab"


def test_kind_defaults_to_a_single_control_plane():
    t = topology_from_kind_config(KIND)
    assert [n.name for n in t.nodes] == ["kind-control-plane"]
    c = default_cluster(topology=t)
    node = c.get("Node", "kind-control-plane")
    assert "taints" not in node["spec"]  # kind untaints the only node so pods can run


@pytest.mark.parametrize(
    ("doc", "path", "words"),
    [
        ({**KIND, "nodes": [{"role": "master"}]}, "nodes[0].role", 'Unsupported value: "master"'),
        ({**KIND, "nodes": [{"role": "worker"}]}, "nodes", "at least one control-plane"),
        ({**KIND, "nodes": [{"rol": "worker"}]}, "nodes[0].rol", 'unknown field "nodes[0].rol"'),
        ({**KIND, "networking": {"kubeProxyMode": "userspace"}}, "networking.kubeProxyMode", "Unsupported value"),
        ({**KIND, "networking": {"podSubnet": "10.244.0.0/33"}}, "networking.podSubnet", "invalid CIDR"),
        ({**KIND, "networking": {"ipFamily": "dual"}}, "networking.ipFamily", "not modelled"),
        ({**KIND, "featureGates": {"X": True}}, "featureGates", "not modelled"),
        ({**KIND, "networking": {"serviceSubnet": "10.244.0.0/20"}}, "networking.serviceSubnet", "overlaps"),
    ],
)
def test_bad_kind_configs_name_the_field(doc, path, words):
    with pytest.raises(ManifestError, match=r"^kind Cluster config: ") as info:
        topology_from_kind_config(doc)
    assert info.value.path == path
    assert words in info.value.message


def test_proxy_config_defaults_and_kind_overrides():
    cfg = default_proxy_config(default_topology())
    assert cfg["mode"] == "iptables"
    assert cfg["clusterCIDR"] == "10.244.0.0/16"
    assert cfg["detectLocalMode"] == "ClusterCIDR"
    assert cfg["iptables"] == {"localhostNodePorts": True, "masqueradeAll": False, "masqueradeBit": 14,
                               "minSyncPeriod": "1s", "syncPeriod": "30s"}
    assert cfg["ipvs"]["scheduler"] == "" and cfg["ipvs"]["strictARP"] is False
    assert cfg["conntrack"]["maxPerCore"] == 0  # kind leaves the host's conntrack table alone


def test_proxy_config_merges_a_document():
    doc = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
           "mode": "ipvs", "ipvs": {"scheduler": "wrr", "strictARP": True}}
    cfg = default_proxy_config(default_topology(), doc)
    assert cfg["mode"] == "ipvs" and cfg["ipvs"]["scheduler"] == "wrr" and cfg["ipvs"]["strictARP"] is True
    assert cfg["ipvs"]["syncPeriod"] == "30s"  # untouched defaults stay


def test_nftables_mode_from_kind_sets_tcp_be_liberal():
    t = topology_from_kind_config({**KIND, "networking": {"kubeProxyMode": "nftables"}})
    cfg = default_proxy_config(t)
    assert cfg["mode"] == "nftables" and cfg["conntrack"]["tcpBeLiberal"] is True


@pytest.mark.parametrize(
    ("over", "path"),
    [({"mode": "userspace"}, "mode"), ({"ipvs": {"scheduler": "fastest"}}, "ipvs.scheduler"),
     ({"iptables": {"masqueradeBits": 14}}, "iptables.masqueradeBits")],
)
def test_proxy_config_refuses_bad_values(over, path):
    doc = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", **over}
    with pytest.raises(ManifestError, match=r"^KubeProxyConfiguration: ") as info:
        default_proxy_config(default_topology(), doc)
    assert info.value.path == path


def test_every_ipvs_scheduler_is_accepted():
    for s in IPVS_SCHEDULERS:
        doc = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
               "ipvs": {"scheduler": s}}
        assert default_proxy_config(default_topology(), doc)["ipvs"]["scheduler"] == s


def test_default_cluster_objects():
    c = default_cluster(seed=3)
    assert c.seed == 3
    cp = c.get("Node", "kind-control-plane")
    assert cp["metadata"]["labels"]["node-role.kubernetes.io/control-plane"] == ""
    assert cp["spec"]["taints"] == [{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]
    assert c.node_ip("kind-worker2") == "172.18.0.4"
    worker = c.get("Node", "kind-worker")
    assert "node-role.kubernetes.io/control-plane" not in worker["metadata"]["labels"]
    assert worker["metadata"]["labels"]["kubernetes.io/hostname"] == "kind-worker"
    assert [n["metadata"]["name"] for n in c.list("Namespace")] == ["default", "kube-node-lease", "kube-public",
                                                                    "kube-system"]
    api = c.get("Service", "kubernetes")
    assert api["spec"]["clusterIP"] == "10.96.0.1" and "selector" not in api["spec"]
    assert api["spec"]["ports"] == [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]
    (eps,) = c.endpoint_slices("default", "kubernetes")
    assert eps["endpoints"][0]["addresses"] == ["172.18.0.2"]
    assert eps["ports"] == [{"name": "https", "port": 6443, "protocol": "TCP"}]
    assert "endpointslice.kubernetes.io/managed-by" not in eps["metadata"]["labels"]
    dns = c.get("Service", "kube-dns", "kube-system")
    assert dns["spec"]["clusterIP"] == "10.96.0.10"
    assert [(p["name"], p["port"], p["protocol"]) for p in dns["spec"]["ports"]] == [
        ("dns", 53, "UDP"), ("dns-tcp", 53, "TCP"), ("metrics", 9153, "TCP")]
    coredns = c.get("Deployment", "coredns", "kube-system")
    assert coredns["spec"]["replicas"] == 2
    tolerations = coredns["spec"]["template"]["spec"]["tolerations"]
    assert {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"} in tolerations


def test_control_plane_is_kept_out_of_external_load_balancers() -> None:
    """kubeadm's label on the control plane, removed by kind on a one-node cluster."""
    from kubelearn.kind import default_cluster, topology_from_kind_config

    label = "node.kubernetes.io/exclude-from-external-load-balancers"
    c = default_cluster()
    assert c.get("Node", "kind-control-plane")["metadata"]["labels"][label] == ""
    assert label not in c.get("Node", "kind-worker")["metadata"]["labels"]
    single = default_cluster(topology=topology_from_kind_config(
        {"kind": "Cluster", "apiVersion": "kind.x-k8s.io/v1alpha4", "nodes": [{"role": "control-plane"}]}))
    assert label not in single.get("Node", "kind-control-plane")["metadata"]["labels"]


def test_kind_config_reports_every_error_with_its_line(tmp_path):
    from kubelearn.kind import TopologyError, load

    f = tmp_path / "kind.yaml"
    f.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n---\n"
                 "kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnodes:\n- role: control-plane\n"
                 "- role: master\n- rol: worker\nnetworking:\n  podSubnet: 10.244.0.0/33\n"
                 "  kubeProxyMode: userspace\n")
    with pytest.raises(TopologyError, match=r'nodes\[1\]\.role: Unsupported value: "master": supported values') as info:
        load(f)
    got = [(e.path, e.line) for e in info.value.errors]
    assert got == [("nodes[1].role", 9), ("nodes[2].rol", 10), ("networking.podSubnet", 12),
                   ("networking.kubeProxyMode", 13)]
    lines = str(info.value).splitlines()
    assert len(lines) == 4 and lines[0].startswith(f"{f}, line 9: nodes[1].role: Unsupported value: \"master\"")
    assert isinstance(info.value, ManifestError) and info.value.path == "nodes[1].role"


def test_proxy_config_reports_every_error():
    from kubelearn.kind import TopologyError

    doc = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
           "mode": "userspace", "ipvs": {"scheduler": "xx", "bogus": 1}}
    with pytest.raises(TopologyError, match=r"KubeProxyConfiguration: ipvs\.bogus: strict decoding error: u") as info:
        default_proxy_config(default_topology(), doc)
    assert sorted(e.path for e in info.value.errors) == ["ipvs.bogus", "ipvs.scheduler", "mode"]
