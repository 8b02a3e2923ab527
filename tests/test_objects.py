"""The questions every module asks of an object, answered one way (kubelearn.objects).

A pod is ready only when its Ready condition says "True"; terminating once it has a
deletionTimestamp; its controller is the owner reference with ``controller: true``; a node is a
control-plane node by its node-role label.  Answers on a real default cluster and on edge cases.
"""

from __future__ import annotations

import kubelearn as kl
from kubelearn import objects


def _pod(**status: object) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
            "spec": {"nodeName": "kind-worker"}, "status": status}


def test_readiness_is_the_ready_condition_only() -> None:
    assert objects.is_pod_ready(_pod(conditions=[{"type": "Ready", "status": "True"}]))
    assert not objects.is_pod_ready(_pod(conditions=[{"type": "Ready", "status": "False"}]))
    assert not objects.is_pod_ready(_pod(conditions=[{"type": "ContainersReady", "status": "True"}]))
    assert not objects.is_pod_ready(_pod())
    assert not objects.is_pod_ready({"metadata": {"name": "p"}})  # no status at all


def test_a_pod_s_node_ip_and_deletion() -> None:
    pod = _pod(podIP="10.244.1.5")
    assert objects.node_name(pod) == "kind-worker" and objects.pod_ip(pod) == "10.244.1.5"
    assert objects.node_name({"metadata": {"name": "p"}, "spec": {}}) is None
    assert objects.pod_ip(_pod()) is None
    assert not objects.is_terminating(pod)
    pod["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:30Z"  # type: ignore[index]
    assert objects.is_terminating(pod)


def test_the_controller_is_the_owner_marked_controller() -> None:
    owned = {"metadata": {"name": "p", "ownerReferences": [
        {"kind": "Service", "name": "a", "uid": "1"},
        {"kind": "ReplicaSet", "name": "web-1", "uid": "2", "controller": True}]}}
    ref = objects.controller_of(owned)
    assert ref is not None and ref["name"] == "web-1"
    assert objects.controller_of({"metadata": {"name": "p"}}) is None


def test_on_the_default_cluster() -> None:
    cluster = kl.default_cluster()
    roles = {objects.name(n): objects.is_control_plane(n) for n in cluster.nodes()}
    assert roles == {"kind-control-plane": True, "kind-worker": False, "kind-worker2": False}
    coredns = [p for p in cluster.pods("kube-system") if objects.labels(p).get("k8s-app") == "kube-dns"]
    assert len(coredns) == 2 and all(objects.is_pod_ready(p) for p in coredns)
    assert {objects.node_name(p) for p in coredns} == {"kind-control-plane"}
    assert all(objects.namespace(p) == "kube-system" and objects.uid(p) for p in coredns)
    assert objects.namespace(cluster.nodes()[0]) == ""  # cluster-scoped
    assert objects.labels({"metadata": {"name": "x"}}) == {}
