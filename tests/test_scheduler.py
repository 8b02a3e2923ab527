"""Where pods run and which IPs they get (kubelearn.controllers.scheduler)."""

from __future__ import annotations

import copy
import ipaddress

from _workloads_fixtures import NODES, bare_pod, base_cluster, cluster_with, deployment, node

from kubelearn import edits
from kubelearn.cluster import Cluster, NodeSpec, Topology
from kubelearn.controllers.manager import reconcile
from kubelearn.controllers.scheduler import (
    LAST_RESERVED_IP_ANNOTATION,
    allocate_pod_ip,
    schedule,
    unschedulable_message,
)


def placement(c: Cluster) -> list[tuple[str, str, str]]:
    return [(p["metadata"]["name"], p["spec"].get("nodeName", ""), p["status"].get("podIP", "")) for p in c.pods()]


def test_default_pods_spread_over_workers_from_dot_two() -> None:
    c = cluster_with(deployment("web", replicas=4))
    got = [(n, ip) for _, n, ip in placement(c)]
    # Least loaded first, ties by node name; the tainted control plane gets nothing.
    assert got == [("kind-worker", "10.244.1.2"), ("kind-worker2", "10.244.2.2"),
                   ("kind-worker", "10.244.1.3"), ("kind-worker2", "10.244.2.3")]
    assert c.get("Node", "kind-worker")["metadata"]["annotations"][LAST_RESERVED_IP_ANNOTATION] == "10.244.1.3"


def test_running_pod_status() -> None:
    c = cluster_with(deployment("web", replicas=1))
    (pod,) = c.pods()
    st = pod["status"]
    assert st["phase"] == "Running"
    assert st["hostIP"] == "172.18.0.2" and st["hostIPs"] == [{"ip": "172.18.0.2"}]
    assert st["podIPs"] == [{"ip": st["podIP"]}]
    assert [(x["type"], x["status"]) for x in st["conditions"]] == [
        ("PodReadyToStartContainers", "True"), ("Initialized", "True"), ("Ready", "True"),
        ("ContainersReady", "True"), ("PodScheduled", "True")]
    assert st["containerStatuses"][0]["ready"] is True and st["containerStatuses"][0]["name"] == "web"
    assert st["qosClass"] == "BestEffort"


def test_toleration_and_node_selector_reach_the_control_plane() -> None:
    p = bare_pod("dns", {"k8s-app": "kube-dns"},
                 nodeSelector={"node-role.kubernetes.io/control-plane": ""},
                 tolerations=[{"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}])
    c = reconcile(base_cluster().with_objects([p]))
    assert placement(c) == [("dns", "kind-control-plane", "10.244.0.2")]


def test_unschedulable_pod_stays_pending_with_schedulers_message() -> None:
    p = bare_pod("picky", {"app": "x"}, nodeSelector={"disktype": "ssd"})
    c = reconcile(base_cluster().with_objects([p]))
    pod = c.get("Pod", "picky")
    assert "nodeName" not in pod["spec"] and pod["status"]["phase"] == "Pending"
    (cond,) = pod["status"]["conditions"]
    assert (cond["type"], cond["status"], cond["reason"]) == ("PodScheduled", "False", "Unschedulable")
    assert cond["message"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: "
        "3 Preemption is not helpful for scheduling.")
    # Idempotent: another reconcile changes nothing.
    assert reconcile(c).objects == c.objects


def test_cordoned_workers_message_then_uncordon_schedules() -> None:
    c = edits.cordon(edits.cordon(base_cluster(), "kind-worker"), "kind-worker2")
    c = reconcile(c.with_objects([bare_pod("p", {"app": "x"})]))
    msg = c.get("Pod", "p")["status"]["conditions"][0]["message"]
    assert msg.startswith("0/3 nodes are available: 1 node(s) had untolerated taint "
                          "{node-role.kubernetes.io/control-plane: }, 2 node(s) were unschedulable. preemption:")
    c = edits.uncordon(c, "kind-worker2")
    assert placement(c) == [("p", "kind-worker2", "10.244.2.2")]
    assert "unschedulable" not in c.get("Node", "kind-worker2")["spec"]


def test_unschedulable_message_sorts_reasons() -> None:
    msg = unschedulable_message(4, {"a": "node(s) were unschedulable", "b": "node(s) were unschedulable",
                                    "c": "node(s) didn't match Pod's node affinity/selector",
                                    "d": "node(s) had untolerated taint {x: y}"})
    assert msg == ("0/4 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
                   "1 node(s) had untolerated taint {x: y}, 2 node(s) were unschedulable. "
                   "preemption: 0/4 nodes are available: 4 Preemption is not helpful for scheduling.")


def test_freed_ip_is_not_reused_at_once() -> None:
    c = cluster_with(deployment("web", replicas=2))
    first = c.pods()[0]
    assert first["status"]["podIP"] == "10.244.1.2"
    c = edits.delete_pod(c, first["metadata"]["name"])
    # The replacement goes to kind-worker (now the least loaded) and gets .3, not the freed .2.
    new = [p for p in c.pods() if p["metadata"]["name"] != c.pods()[0]["metadata"]["name"]]
    assert [(p["spec"]["nodeName"], p["status"]["podIP"]) for p in new] == [("kind-worker", "10.244.1.3")]


def test_host_local_wraps_around() -> None:
    n = node(NodeSpec("tiny", "worker", "172.18.0.9", "10.244.9.0/29"))  # usable .2 - .6
    c = Cluster().with_objects([n])
    nd = c.get("Node", "tiny")
    assert allocate_pod_ip(c, nd, set()) == "10.244.9.2"
    nd2 = copy.deepcopy(nd)
    nd2["metadata"]["annotations"] = {LAST_RESERVED_IP_ANNOTATION: "10.244.9.6"}
    assert allocate_pod_ip(c, nd2, {"10.244.9.2"}) == "10.244.9.3"
    full = {f"10.244.9.{i}" for i in range(2, 7)}
    assert allocate_pod_ip(c, nd2, full) is None


def test_full_node_leaves_pod_without_ip() -> None:
    spec = NodeSpec("tiny", "worker", "172.18.0.9", "10.244.9.0/30")  # usable: .2 only
    c = Cluster(topology=Topology(nodes=(spec,))).with_objects([node(spec)])
    c = reconcile(c.with_objects([deployment("web", replicas=2)]))
    ips = sorted(p["status"].get("podIP", "") for p in c.pods())
    assert ips == ["", "10.244.9.2"]
    assert c.get("Deployment", "web")["status"]["readyReplicas"] == 1


def test_host_network_pod_uses_node_ip_without_ipam() -> None:
    c = reconcile(base_cluster().with_objects([bare_pod("hn", {"a": "b"}, hostNetwork=True)]))
    pod = c.get("Pod", "hn")
    assert pod["status"]["podIP"] == pod["status"]["hostIP"] == c.node_ip(pod["spec"]["nodeName"])
    assert LAST_RESERVED_IP_ANNOTATION not in (c.get("Node", pod["spec"]["nodeName"])["metadata"].get("annotations") or {})


def test_required_node_affinity() -> None:
    aff = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["kind-worker2"]}]}]}}}
    c = reconcile(base_cluster().with_objects([bare_pod("a", {"x": "y"}, affinity=aff),
                                                           bare_pod("b", {"x": "y"}, affinity=aff)]))
    assert [n for _, n, _ in placement(c)] == ["kind-worker2", "kind-worker2"]


def test_schedule_is_noop_when_everything_is_placed() -> None:
    c = cluster_with(deployment("web", replicas=3))
    assert schedule(c) is c
    assert all(ipaddress.ip_address(ip) in ipaddress.ip_network("10.244.0.0/16") for _, _, ip in placement(c))
    assert len(NODES) == 3


def test_max_pods_per_node() -> None:
    nodes = [node(n) for n in NODES]
    for n in nodes:
        n["status"]["allocatable"] = {"pods": "1"}
    c = Cluster(topology=Topology(nodes=NODES)).with_objects(nodes)
    c = reconcile(c.with_objects([deployment("web", replicas=3)]))
    pending = [p for p in c.pods() if "nodeName" not in p["spec"]]
    assert len(pending) == 1 and len(c.pods()) == 3
    assert pending[0]["status"]["conditions"][0]["message"] == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 Too many pods. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, "
        "2 No preemption victims found for incoming pod.")


def test_other_schedulers_pods_are_left_alone() -> None:
    c = reconcile(base_cluster().with_objects([bare_pod("mine", {"a": "b"}, schedulerName="my-scheduler")]))
    pod = c.get("Pod", "mine")
    assert "nodeName" not in pod["spec"] and "conditions" not in pod["status"]


def test_pending_pods_beyond_max_pods_are_cheap(monkeypatch):
    """300 replicas on two workers of 110 pods: 220 run, 80 stay Pending with the scheduler's
    message, and the node filters run once for all the Pending pods, not once each."""
    import kubelearn.controllers.scheduler as sched

    calls = []
    real = sched.feasible_nodes

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(sched, "feasible_nodes", counting)
    c = cluster_with(deployment("web", replicas=300))
    pods = [p for p in c.pods("default") if p["metadata"]["labels"].get("app") == "MyApp"]
    running = [p for p in pods if p["status"].get("podIP")]
    pending = [p for p in pods if not p["status"].get("podIP")]
    assert len(running) == 220 and len(pending) == 80
    messages = {p["status"]["conditions"][0]["message"] for p in pending}
    assert messages == {"0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/"
                        "control-plane: }, 2 Too many pods. preemption: 0/3 nodes are available: 1 Preemption is "
                        "not helpful for scheduling, 2 No preemption victims found for incoming pod."}
    assert len(calls) <= 220 + 5  # one per bound pod, plus one verdict per round for the rest
