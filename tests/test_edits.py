"""The learner's edits (kubelearn.edits: scale, delete_pod, set_ready, cordon, drain, fail_node, rollouts) and the controllers reacting to them."""

from __future__ import annotations

import pytest
from _workloads_fixtures import bare_pod, base_cluster, cluster_with, deployment, service, statefulset
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelearn import edits
from kubelearn.cluster import Cluster
from kubelearn.controllers import manager
from kubelearn.controllers.manager import reconcile
from kubelearn.controllers.pods import parse_time
from kubelearn.controllers.rollout import rollout_steps
from kubelearn.errors import InvalidError, KubelearnError, NotFoundError


def active(c: Cluster) -> list[dict]:
    return [p for p in c.pods() if not p["metadata"].get("deletionTimestamp")]


def names(c: Cluster) -> list[str]:
    return [p["metadata"]["name"] for p in c.pods()]


def test_reconcile_is_idempotent() -> None:
    c = cluster_with(deployment("my-app"), statefulset("web"), service(selector={"app": "MyApp"}),
                     bare_pod("lonely", {"x": "y"}, nodeSelector={"nope": "1"}))
    again = reconcile(c)
    assert again.objects == c.objects and again.clock == c.clock


def test_reconcile_does_not_mutate_its_input() -> None:
    base = base_cluster().with_objects([deployment("my-app")])
    snapshot = {k: repr(v) for k, v in base.objects.items()}
    reconcile(base)
    assert {k: repr(v) for k, v in base.objects.items()} == snapshot


def test_delete_pod_replaces_with_new_name_statefulset_with_same_name() -> None:
    c = cluster_with(deployment("my-app", replicas=2), statefulset("web", replicas=2))
    victim = names(c)[0]
    after = edits.delete_pod(c, victim)
    assert victim not in names(after)
    assert len([n for n in names(after) if n.startswith("my-app-")]) == 2
    sts = edits.delete_pod(c, "web-1")
    assert sorted(n for n in names(sts) if n.startswith("web-")) == ["web-0", "web-1"]
    assert sts.get("Pod", "web-1")["metadata"]["uid"] != c.get("Pod", "web-1")["metadata"]["uid"]


def test_graceful_delete_then_advance_past_deadline() -> None:
    c = cluster_with(deployment("my-app", replicas=2), service(selector={"app": "MyApp"})).at(5)
    victim = names(c)[0]
    c = edits.delete_pod(c, victim, grace=True)
    pod = c.get("Pod", victim)
    # deletionTimestamp is the deadline: now + terminationGracePeriodSeconds.
    assert parse_time(pod["metadata"]["deletionTimestamp"]) == 35
    assert pod["metadata"]["deletionGracePeriodSeconds"] == 30
    assert len(active(c)) == 2 and len(c.pods()) == 3  # replacement created at once
    assert len(edits.advance(c, 34).pods()) == 3
    later = edits.advance(c, 35)
    assert victim not in names(later) and len(later.pods()) == 2
    assert victim not in {e["targetRef"]["name"] for s in later.endpoint_slices() for e in s["endpoints"]}


def test_statefulset_waits_for_terminating_pod_before_recreating() -> None:
    c = cluster_with(statefulset("web", replicas=2))
    c = edits.delete_pod(c, "web-0", grace=True)
    assert names(c) == ["web-0", "web-1"] and c.get("Pod", "web-0")["metadata"].get("deletionTimestamp")
    later = edits.advance(c, 30)
    assert sorted(names(later)) == ["web-0", "web-1"]
    assert not later.get("Pod", "web-0")["metadata"].get("deletionTimestamp")


def test_scale_errors_in_kubectl_words() -> None:
    c = cluster_with(deployment("my-app", replicas=1))
    with pytest.raises(InvalidError, match=r'The Deployment "my-app" is invalid: spec\.replicas: Invalid v') as neg:
        edits.scale(c, "my-app", -1)
    assert str(neg.value) == ('The Deployment "my-app" is invalid: spec.replicas: Invalid value: -1: must be greater '
                              "than or equal to 0")
    with pytest.raises(InvalidError, match='spec.replicas: Invalid value: "3": must be an integer'):
        edits.scale(c, "my-app", "3")  # type: ignore[arg-type]
    with pytest.raises(NotFoundError, match=r'Error from server \(NotFound\): deployments\.apps "nope" not fo') as nf:
        edits.scale(c, "nope", 2)
    assert str(nf.value) == 'Error from server (NotFound): deployments.apps "nope" not found'
    with pytest.raises(KubelearnError, match="could not find the requested resource"):
        edits.scale(c, "my-app", 2, kind="Service")
    with pytest.raises(NotFoundError, match='pods "nope" not found'):
        edits.delete_pod(c, "nope")
    with pytest.raises(NotFoundError, match='nodes "nope" not found'):
        edits.cordon(c, "nope")


def test_scaling_a_deployments_replicaset_is_undone() -> None:
    c = cluster_with(deployment("my-app", replicas=2))
    rs = c.list("ReplicaSet")[0]["metadata"]["name"]
    after = edits.scale(c, rs, 5, kind="ReplicaSet")
    assert after.get("ReplicaSet", rs)["spec"]["replicas"] == 2 and len(after.pods()) == 2


def test_cordon_keeps_pods_and_sends_new_ones_elsewhere() -> None:
    c = cluster_with(deployment("my-app", replicas=2))
    c = edits.cordon(c, "kind-worker")
    nd = c.get("Node", "kind-worker")
    assert nd["spec"]["unschedulable"] is True
    assert {"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable"}.items() <= nd["spec"]["taints"][0].items()
    assert sorted(p["spec"]["nodeName"] for p in c.pods()) == ["kind-worker", "kind-worker2"]
    up = edits.scale(c, "my-app", 4)
    assert sorted(p["spec"]["nodeName"] for p in up.pods()) == ["kind-worker", "kind-worker2", "kind-worker2",
                                                                "kind-worker2"]
    back = edits.uncordon(up, "kind-worker")
    assert "taints" not in back.get("Node", "kind-worker")["spec"]


def test_drain_evicts_and_replaces_elsewhere() -> None:
    c = cluster_with(deployment("my-app", replicas=2), service(selector={"app": "MyApp"}))
    on_worker = [p["metadata"]["name"] for p in c.pods() if p["spec"]["nodeName"] == "kind-worker"]
    d = edits.drain(c, "kind-worker")
    assert d.get("Node", "kind-worker")["spec"]["unschedulable"] is True
    for name in on_worker:
        assert d.get("Pod", name)["metadata"]["deletionTimestamp"]
    assert sorted(p["spec"]["nodeName"] for p in active(d)) == ["kind-worker2", "kind-worker2"]
    # Evicted pods still serve while terminating.
    conds = {e["targetRef"]["name"]: e["conditions"] for s in d.endpoint_slices() for e in s["endpoints"]}
    assert all(conds[n] == {"ready": False, "serving": True, "terminating": True} for n in on_worker)


def test_drain_refuses_bare_pods_without_force() -> None:
    c = reconcile(base_cluster().with_objects([bare_pod("bare", {"a": "b"},
                                                                     nodeSelector={"kubernetes.io/hostname": "kind-worker"})]))
    with pytest.raises(KubelearnError, match=r'error: unable to drain node "kind-worker" due to error: cann') as err:
        edits.drain(c, "kind-worker")
    assert str(err.value).splitlines()[0] == (
        'error: unable to drain node "kind-worker" due to error: cannot delete cannot delete Pods that declare no '
        "controller (use --force to override): default/bare, continuing command...")
    forced = edits.drain(c, "kind-worker", force=True)
    assert forced.get("Pod", "bare")["metadata"]["deletionTimestamp"]
    assert len(forced.pods()) == 1  # nobody replaces a bare pod


def test_fail_node() -> None:
    c = cluster_with(deployment("my-app", replicas=2), statefulset("web", replicas=2),
                     service(selector={"app": "MyApp"}))
    lost = [p["metadata"]["name"] for p in c.pods() if p["spec"]["nodeName"] == "kind-worker"]
    f = edits.fail_node(c, "kind-worker")
    nd = f.get("Node", "kind-worker")
    ready = next(x for x in nd["status"]["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == ("Unknown", "NodeStatusUnknown",
                                                                    "Kubelet stopped posting node status.")
    assert [(t["key"], t["effect"]) for t in nd["spec"]["taints"]] == [
        ("node.kubernetes.io/unreachable", "NoSchedule"), ("node.kubernetes.io/unreachable", "NoExecute")]
    for name in lost:
        pod = f.get("Pod", name)
        assert pod["metadata"]["deletionTimestamp"]
        assert next(x for x in pod["status"]["conditions"] if x["type"] == "Ready")["status"] == "False"
    # Deployment pods are replaced on the other worker; the StatefulSet pod is not (it is
    # still Terminating: nobody can confirm it stopped), and stays so however long we wait.
    deploy_active = [p for p in active(f) if p["metadata"]["name"].startswith("my-app-")]
    assert [p["spec"]["nodeName"] for p in deploy_active] == ["kind-worker2", "kind-worker2"]
    lost_sts = [n for n in lost if n.startswith("web-")]
    assert lost_sts and all(f.get("Pod", n)["metadata"].get("deletionTimestamp") for n in lost_sts)
    assert set(lost) <= set(names(edits.advance(f, 10_000)))
    conds = {e["targetRef"]["name"]: e["conditions"] for s in f.endpoint_slices() for e in s["endpoints"]}
    assert all(conds[n] == {"ready": False, "serving": False, "terminating": True}
               for n in lost if n.startswith("my-app-"))
    # The node comes back: the evicted pods finish terminating, the StatefulSet pod returns.
    back = edits.advance(edits.recover_node(f, "kind-worker"), 100)
    assert not set(lost) & {p["metadata"]["name"] for p in back.pods() if p["metadata"].get("deletionTimestamp")}
    assert sorted(n for n in names(back) if n.startswith("web-")) == ["web-0", "web-1"]


def test_rollout_steps_honour_surge_and_unavailable() -> None:
    c = cluster_with(deployment("my-app", replicas=10), service(selector={"app": "MyApp"}))
    old_rs = c.list("ReplicaSet")[0]["metadata"]["name"]
    steps = rollout_steps(c, "my-app", {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}})
    assert len(steps) >= 2
    totals, availables = [], []
    for s in steps:
        live = active(s)
        totals.append(len(live))
        availables.append(sum(1 for p in live if any(x["type"] == "Ready" and x["status"] == "True"
                                                     for x in p["status"]["conditions"])))
    # 25% of 10: surge rounds up to 3, unavailable rounds down to 2.
    assert max(totals) == 13 and min(availables) == 8
    last = steps[-1]
    rss = {r["metadata"]["name"]: r["spec"]["replicas"] for r in last.list("ReplicaSet")}
    assert rss.pop(old_rs) == 0 and list(rss.values()) == [10]
    assert {p["spec"]["containers"][0]["image"] for p in active(last)} == {"nginx:1.28"}
    # Old pods are Terminating, still serving, until time passes.
    assert sum(1 for p in last.pods() if p["metadata"].get("deletionTimestamp")) == 10
    assert len(edits.advance(last, 30).pods()) == 10
    # Finishing the rollout in one go gives the same desired state.
    done = edits.set_image(c, "my-app", "nginx:1.28")
    assert {r["metadata"]["name"]: r["spec"]["replicas"] for r in done.list("ReplicaSet")} == \
        {r["metadata"]["name"]: r["spec"]["replicas"] for r in last.list("ReplicaSet")}
    assert rollout_steps(c, "my-app", lambda t: t) == []


def test_rollout_steps_three_replicas_sequence() -> None:
    c = cluster_with(deployment("my-app", replicas=3))
    old = c.list("ReplicaSet")[0]["metadata"]["name"]
    steps = rollout_steps(c, "my-app", {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}})
    seq = []
    for s in steps:
        rs = {r["metadata"]["name"]: r["spec"]["replicas"] for r in s.list("ReplicaSet")}
        seq.append((rs.pop(old), *rs.values()))
    # maxSurge 1 (25% of 3, rounded up), maxUnavailable 0 (rounded down): one in, one out.
    assert seq == [(3, 1), (2, 1), (2, 2), (1, 2), (1, 3), (0, 3)]


def test_recreate_rollout_steps() -> None:
    dep = deployment("my-app", replicas=2)
    dep["spec"]["strategy"] = {"type": "Recreate"}
    c = cluster_with(dep)
    steps = rollout_steps(c, "my-app", {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}})
    assert [(len(active(s)), len(s.pods())) for s in steps] == [(0, 2), (0, 0), (2, 2)]


def test_set_image_unknown_container() -> None:
    c = cluster_with(deployment("my-app", replicas=1))
    with pytest.raises(KubelearnError, match='error: unable to find container named "nope"'):
        edits.set_image(c, "my-app", "x", container="nope")


def test_set_ready_survives_reconcile_and_refuses_pending_pod() -> None:
    c = cluster_with(deployment("my-app", replicas=1), bare_pod("stuck", {"a": "b"}, nodeSelector={"no": "where"}))
    name = next(n for n in names(c) if n.startswith("my-app"))
    c = edits.set_ready(c, name, False)
    c = edits.scale(c, "my-app", 2)
    assert c.get("Pod", name)["status"]["conditions"][2] | {"lastTransitionTime": ""} == {
        "lastProbeTime": None, "lastTransitionTime": "", "message": "containers with unready status: [web]",
        "reason": "ContainersNotReady", "status": "False", "type": "Ready"}
    with pytest.raises(KubelearnError, match='pod "stuck" is not running'):
        edits.set_ready(c, "stuck", True)


def test_cluster_methods_delegate_here() -> None:
    c = cluster_with(deployment("my-app", replicas=1))
    assert len(c.scale("my-app", 3).pods()) == 3
    assert c.cordon("kind-worker").get("Node", "kind-worker")["spec"]["unschedulable"] is True


def test_integration_with_default_scenario() -> None:
    from kubelearn import scenarios

    c = scenarios.default_scenario(seed=0)
    assert reconcile(c).objects == c.objects
    dns = [p for p in c.pods("kube-system") if p["metadata"]["name"].startswith("coredns-")]
    assert len(dns) == 2 and all(p["status"]["phase"] == "Running" for p in dns)
    assert "kind-control-plane" in {p["spec"]["nodeName"] for p in dns}  # CoreDNS tolerates the taint
    app = [p for p in c.pods("default")]
    assert app and all(p["spec"]["nodeName"] != "kind-control-plane" for p in app)
    (sl,) = [s for s in c.endpoint_slices("kube-system", "kube-dns")]
    assert [p["port"] for p in sl["ports"]] == [53, 53, 9153]


def test_pods_of_a_deleted_node_are_collected_and_replaced() -> None:
    c = cluster_with(deployment("my-app", replicas=2))
    gone = reconcile(c.without("Node", "kind-worker"))
    assert [p["spec"]["nodeName"] for p in gone.pods()] == ["kind-worker2", "kind-worker2"]


def test_advance_does_not_finish_a_rollout() -> None:
    c = cluster_with(deployment("my-app", replicas=3))
    steps = rollout_steps(c, "my-app", {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}})
    mid = steps[1]
    later = edits.advance(mid, 60)
    reps = sorted(r["spec"]["replicas"] for r in later.list("ReplicaSet"))
    assert reps == sorted(r["spec"]["replicas"] for r in mid.list("ReplicaSet")) == [1, 2]
    assert len(later.pods()) == 3  # the terminating pod is gone, nothing new was created
    assert sorted(r["spec"]["replicas"] for r in reconcile(later).list("ReplicaSet")) == [0, 3]


def test_rollout_steps_with_step_seconds_time_each_step() -> None:
    c = cluster_with(deployment("my-app", replicas=3)).at(100)
    steps = rollout_steps(c, "my-app", {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}},
                                      step_seconds=20)
    assert [s.now for s in steps] == [100, 120, 140, 160, 180, 200]
    # The pod scaled down at step 2 (t=120) has the deadline 150 and is gone by step 4 (t=160).
    first_victim = next(p for p in steps[1].pods() if p["metadata"].get("deletionTimestamp"))
    assert parse_time(first_victim["metadata"]["deletionTimestamp"]) == 150
    assert first_victim["metadata"]["name"] in names(steps[2])
    assert first_victim["metadata"]["name"] not in names(steps[3])
    last_deadlines = sorted(parse_time(p["metadata"]["deletionTimestamp"]) for p in steps[-1].pods()
                            if p["metadata"].get("deletionTimestamp"))
    # Step 4 (t=160) terminated one with deadline 190, gone by step 6 (t=200): only t=200's is left.
    assert last_deadlines == [230]


# ------------------------------------------------------------------ properties
_EDITS = st.lists(st.one_of(
    st.tuples(st.just("scale"), st.integers(0, 6)),
    st.tuples(st.just("delete"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("ready"), st.integers(0, 20), st.booleans()),
    st.tuples(st.just("cordon"), st.sampled_from(["kind-worker", "kind-worker2"])),
    st.tuples(st.just("uncordon"), st.sampled_from(["kind-worker", "kind-worker2"])),
    st.tuples(st.just("fail"), st.sampled_from(["kind-worker", "kind-worker2"])),
    st.tuples(st.just("recover"), st.sampled_from(["kind-worker", "kind-worker2"])),
    st.tuples(st.just("advance"), st.integers(1, 40)),
), max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_EDITS)
def test_edits_keep_the_cluster_consistent(steps: list[tuple]) -> None:
    import ipaddress

    c = cluster_with(deployment("my-app", replicas=3), service(selector={"app": "MyApp"}))
    for edit in steps:
        pods = names(c)
        op = edit[0]
        if op == "scale":
            c = edits.scale(c, "my-app", edit[1])
        elif op == "delete" and pods:
            c = edits.delete_pod(c, pods[edit[1] % len(pods)], grace=edit[2])
        elif op == "ready":
            running = [p["metadata"]["name"] for p in c.pods() if p["status"].get("phase") == "Running"]
            if running:
                c = edits.set_ready(c, running[edit[1] % len(running)], edit[2])
        elif op == "cordon":
            c = edits.cordon(c, edit[1])
        elif op == "uncordon":
            c = edits.uncordon(c, edit[1])
        elif op == "fail":
            c = edits.fail_node(c, edit[1])
        elif op == "recover":
            c = edits.recover_node(c, edit[1])
        elif op == "advance":
            c = edits.advance(c, c.now + edit[1])
        assert reconcile(c).objects == c.objects
        dep = c.get("Deployment", "my-app")
        live = active(c)
        assert len(live) == dep["spec"]["replicas"]
        ips = [p["status"]["podIP"] for p in c.pods() if p["status"].get("podIP")]
        assert len(ips) == len(set(ips))
        for p in c.pods():
            if p["status"].get("podIP"):
                cidr = c.get("Node", p["spec"]["nodeName"])["spec"]["podCIDR"]
                assert ipaddress.ip_address(p["status"]["podIP"]) in ipaddress.ip_network(cidr)
        in_slices = {e["targetRef"]["name"]: e for s in c.endpoint_slices("default", "my-service") for e in s["endpoints"]}
        assert set(in_slices) == {p["metadata"]["name"] for p in c.pods() if p["status"].get("podIP")}
        for name, e in in_slices.items():
            pod = c.get("Pod", name)
            ready = any(x["type"] == "Ready" and x["status"] == "True" for x in pod["status"]["conditions"])
            terminating = bool(pod["metadata"].get("deletionTimestamp"))
            assert e["conditions"] == {"ready": ready and not terminating, "serving": ready, "terminating": terminating}


_STS_EDITS = st.lists(st.one_of(
    st.tuples(st.just("scale"), st.integers(0, 5)),
    st.tuples(st.just("delete"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("ready"), st.integers(0, 5), st.booleans()),
    st.tuples(st.just("fail"), st.sampled_from(["kind-worker", "kind-worker2"])),
    st.tuples(st.just("recover"), st.sampled_from(["kind-worker", "kind-worker2"])),
    st.tuples(st.just("advance"), st.integers(1, 40)),
), max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=_STS_EDITS, parallel=st.booleans())
def test_statefulset_identities_survive_any_edits(steps: list[tuple], parallel: bool) -> None:
    c = cluster_with(statefulset("web", replicas=3, parallel=parallel))
    for edit in steps:
        op = edit[0]
        if op == "scale":
            c = edits.scale(c, "web", edit[1], kind="StatefulSet")
        elif op == "delete" and c.has("Pod", f"web-{edit[1]}"):
            c = edits.delete_pod(c, f"web-{edit[1]}", grace=edit[2])
        elif op == "ready" and c.has("Pod", f"web-{edit[1]}") and \
                c.get("Pod", f"web-{edit[1]}")["status"].get("phase") == "Running":
            c = edits.set_ready(c, f"web-{edit[1]}", edit[2])
        elif op == "fail":
            c = edits.fail_node(c, edit[1])
        elif op == "recover":
            c = edits.recover_node(c, edit[1])
        elif op == "advance":
            c = edits.advance(c, c.now + edit[1])
        assert reconcile(c).objects == c.objects
        replicas = c.get("StatefulSet", "web")["spec"]["replicas"]
        for p in active(c):
            assert p["metadata"]["name"] in {f"web-{i}" for i in range(replicas)}
            assert p["spec"]["hostname"] == p["metadata"]["name"]
        healthy_nodes = all(x["status"] == "True" for n in c.nodes() for x in n["status"]["conditions"]
                            if x["type"] == "Ready")
        settled = not any(p["metadata"].get("deletionTimestamp") for p in c.pods())
        all_ready = all(any(x["type"] == "Ready" and x["status"] == "True" for x in p["status"].get("conditions", []))
                        for p in c.pods())
        if healthy_nodes and settled and all_ready:
            assert sorted(names(c)) == sorted(f"web-{i}" for i in range(replicas))


def test_fighting_controllers_raise_instead_of_spinning(monkeypatch: pytest.MonkeyPatch) -> None:
    def flapping(c: Cluster) -> Cluster:  # a "scheduler" that rewrites an object every round
        return c.with_object({"apiVersion": "v1", "kind": "Namespace",
                              "metadata": {"name": "flap", "labels": {"n": str(c.clock)}}})

    monkeypatch.setattr(manager, "schedule", flapping)
    with pytest.raises(KubelearnError, match=r"the controllers did not settle after 100 rounds"):
        reconcile(base_cluster())


def test_rollout_steps_print_as_a_table() -> None:
    c = cluster_with(deployment("my-app", replicas=3))
    old = c.list("ReplicaSet")[0]["metadata"]["name"]
    steps = rollout_steps(c, "my-app", {"spec": {"containers": [{"name": "web", "image": "nginx:1.28"}]}},
                                      step_seconds=5)
    new = next(r["metadata"]["name"] for r in steps[-1].list("ReplicaSet") if r["metadata"]["name"] != old)
    lines = repr(steps).splitlines()
    assert lines[0].split() == ["STEP", "TIME", old, new, "READY", "TERMINATING"]
    assert [line.split() for line in lines[1:]] == [
        ["1", "0.0", "3", "1", "4", "0"], ["2", "5.0", "2", "1", "3", "1"], ["3", "10.0", "2", "2", "4", "1"],
        ["4", "15.0", "1", "2", "3", "2"], ["5", "20.0", "1", "3", "4", "2"], ["6", "25.0", "0", "3", "3", "3"]]
    assert f"<th>{new}</th>" in steps._repr_html_()
