"""Issue 14's two injections, run as root against the real lab.

A Node address with newlines once added ``netns add`` / ``netns exec … touch`` commands to the
``ip -batch`` input the lab runs as root, and a LoadBalancer ingress IP once carried an
``iptables-restore`` rule or an ``nft`` ``include`` into the kernel.  Both clusters are built
through the Python API (``Cluster.with_object``: no validation), so only the lab's and the
writers' own checks stand in the way.  After each attempt: no marker file, no namespace
outside the lab's prefix, nothing of the lab left.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from test_netlab_support import lab_skip_reason, make_cluster, requires_lab

from kubelearn.cluster import Cluster
from kubelearn.errors import KubelearnError, UnsafeValueError
from kubelearn.netlab import NetLab, lab_namespaces
from kubelearn.netlab import host as nl_host
from kubelearn.netlab.lab import default_renderer

pytestmark = [pytest.mark.netlab]


def _namespaces() -> set[str]:
    return set(nl_host.list_namespaces())


def _node_payload(marker: Path) -> str:
    return f"172.18.0.9 dev eth0\nnetns add klnlpwn\nnetns exec klnlpwn touch {marker}\n#"


def _edit(cluster: Cluster, kind: str, name: str, fn: Any) -> Cluster:
    obj = copy.deepcopy(cluster.get(kind, name))
    fn(obj)
    return cluster.with_object(obj)


def _assert_nothing_escaped(before: set[str], prefix: str, marker: Path) -> None:
    assert not marker.exists(), "the injected command ran"
    assert "klnlpwn" not in _namespaces()
    assert lab_namespaces(prefix) == []
    # Other labs may come and go on a shared machine; nothing outside the lab family may.
    outside = {n for n in _namespaces() if not n.startswith(nl_host.FAMILY)}
    assert outside == {n for n in before if not n.startswith(nl_host.FAMILY)}


@requires_lab()
def test_issue14_node_address_injection_never_reaches_ip_batch(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    cluster = _edit(make_cluster(2), "Node", "kind-worker",
                    lambda n: n["status"]["addresses"].__setitem__(0, {"type": "InternalIP",
                                                                        "address": _node_payload(marker)}))
    before = _namespaces()
    lab = NetLab(cluster)
    with pytest.raises(KubelearnError, match='node "kind-worker" InternalIP .* is not an IP address'):
        lab.open()
    _assert_nothing_escaped(before, lab.prefix, marker)


@pytest.mark.parametrize(("mode", "ip"), [
    ("iptables", "203.0.113.50\n-A KUBE-SERVICES -j ACCEPT"),
    ("nftables", '203.0.113.50 . tcp . 80 }\ninclude "/etc/passwd"\nadd element ip kube-proxy service-ips { 203.0.113.51'),
], ids=["iptables-rule", "nft-include"])
def test_issue14_lb_ingress_injection_never_reaches_the_kernel(tmp_path: Path, mode: str, ip: str) -> None:
    reason = lab_skip_reason(mode)
    if reason:
        pytest.skip(reason)
    marker = tmp_path / "pwned"
    cluster = make_cluster(2, mode=mode, type_="LoadBalancer")

    def lb(svc: dict[str, Any]) -> None:
        svc["spec"]["allocateLoadBalancerNodePorts"] = True
        svc["status"] = {"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}}

    cluster = _edit(cluster, "Service", "web", lb)
    fed: list[str] = []

    def recording(c: Cluster, node: str, m: str) -> str:
        text = default_renderer(c, node, m)
        fed.append(text)  # only text the writers accepted would be handed to the kernel tools
        return text

    before = _namespaces()
    lab = NetLab(cluster, mode=mode, renderer=recording)
    with pytest.raises(UnsafeValueError, match=r"status\.loadBalancer\.ingress\[\]\.ip .* is not an IP address"):
        lab.open()
    assert fed == []
    _assert_nothing_escaped(before, lab.prefix, marker)


LB_MANIFEST = """
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: {mode}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  type: LoadBalancer
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: 8080}}]
status:
  loadBalancer:
    ingress: [{{ip: {ip}}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: nginx, ports: [{{containerPort: 8080}}]}}]}}
"""


@requires_lab("nftables")
@pytest.mark.parametrize(("mode", "ip"), [
    ("iptables", "192.0.2.10\n-A KUBE-SERVICES -j ACCEPT"),
    ("nftables", '192.0.2.10 . tcp . 80 }\ninclude "/etc/passwd"\n'),
    ("iptables", None),  # the Node payload instead
], ids=["iptables-rule", "nft-include", "node-address"])
def test_issue14_injections_via_netlab_run_are_refused_before_any_namespace(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str, ip: str | None) -> None:
    import json

    from kubelearn.cli import main

    marker = tmp_path / "pwned"
    f = tmp_path / "hostile.yaml"
    if ip is None:
        f.write_text("apiVersion: v1\nkind: Node\nmetadata: {name: kind-worker}\n"
                     "spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}\n"
                     f"status:\n  addresses:\n  - {{type: InternalIP, address: {json.dumps(_node_payload(marker))}}}\n")
    else:
        f.write_text(LB_MANIFEST.format(mode=mode, ip=json.dumps(ip)))
    before = _namespaces()
    assert main(["netlab", "run", "-f", str(f), "--connections", "3"]) == 1
    out, err = capsys.readouterr()
    assert "Traceback" not in err and "is invalid:" in err and "must be a valid IP address" in err
    assert not marker.exists()
    assert _namespaces() - before == set() or all(n.startswith(nl_host.FAMILY) for n in _namespaces() - before)
    assert "klnlpwn" not in _namespaces()
