"""Deployment → ReplicaSet → Pods and StatefulSet → Pods: the workload controllers (kubelearn.controllers)."""

from __future__ import annotations

import copy
import re

import pytest
from _workloads_fixtures import bare_pod, base_cluster, cluster_with, deployment, pod_template, statefulset

from kubelearn import edits
from kubelearn.controllers.manager import reconcile
from kubelearn.controllers.pods import (
    SAFE_ALPHABET,
    _fnv32a,
    deployment_strategy_limits,
    pod_template_hash,
    rank_pods_for_deletion,
    safe_encode,
)

SUFFIX = f"[{SAFE_ALPHABET}]{{5}}"


# ------------------------------------------------------------------ hashing
@pytest.mark.parametrize(
    ("data", "expected"),
    # Reference vectors of 32-bit FNV-1a (Fowler/Noll/Vo test suite).
    [(b"", 0x811C9DC5), (b"a", 0xE40C292C), (b"foobar", 0xBF9CF968)],
)
def test_fnv32a_reference_vectors(data: bytes, expected: int) -> None:
    assert _fnv32a(data) == expected


def test_safe_encode_maps_digits_like_apimachinery() -> None:
    # '0' is byte 48, 48 % 27 = 21 -> '4'; '6' is 54, 54 % 27 = 0 -> 'b'.
    assert safe_encode("0123456789") == "456789bcdf"


def test_pod_template_hash_shape_and_stability() -> None:
    t = pod_template({"app": "web"})
    h = pod_template_hash(t)
    assert re.fullmatch(r"[4-9bcdf]{1,10}", h)
    assert pod_template_hash(copy.deepcopy(t)) == h
    changed = pod_template({"app": "web"}, image="nginx:1.28")
    assert pod_template_hash(changed) != h
    assert pod_template_hash(t, collision_count=1) != h
    assert pod_template_hash(t, collision_count=1) != pod_template_hash(t, collision_count=2)


@pytest.mark.parametrize(
    ("replicas", "surge", "unavailable", "expected"),
    [(10, "25%", "25%", (3, 2)), (3, "25%", "25%", (1, 0)), (4, 0, 0, (0, 1)), (5, 2, "50%", (2, 2)), (1, "25%", "25%", (1, 0))],
)
def test_strategy_limits_round_surge_up_unavailable_down(replicas: int, surge: object, unavailable: object,
                                                         expected: tuple[int, int]) -> None:
    assert deployment_strategy_limits(deployment(replicas=replicas, max_surge=surge,
                                                 max_unavailable=unavailable)) == expected


# --------------------------------------------------------------- Deployments
def test_deployment_creates_replicaset_and_pods() -> None:
    dep = deployment("web", replicas=3)
    c = cluster_with(dep)
    h = pod_template_hash(dep["spec"]["template"])
    (rs,) = c.list("ReplicaSet")
    d = c.get("Deployment", "web")
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["metadata"]["labels"] == {"app": "MyApp", "pod-template-hash": h}
    assert rs["metadata"]["ownerReferences"] == [{
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "web", "uid": d["metadata"]["uid"],
        "controller": True, "blockOwnerDeletion": True}]
    assert rs["spec"]["selector"] == {"matchLabels": {"app": "MyApp", "pod-template-hash": h}}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {"deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4",
                                             "deployment.kubernetes.io/revision": "1",
                                             "kubelearn.dev/pods-created": "3"}
    pods = c.pods()
    assert len(pods) == 3
    for p in pods:
        assert re.fullmatch(f"web-{h}-{SUFFIX}", p["metadata"]["name"])
        assert p["metadata"]["generateName"] == f"web-{h}-"
        assert p["metadata"]["labels"] == {"app": "MyApp", "pod-template-hash": h}
        assert p["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
        assert p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert p["spec"]["containers"] == dep["spec"]["template"]["spec"]["containers"]
    assert len({p["metadata"]["name"] for p in pods}) == 3
    assert d["status"]["replicas"] == d["status"]["readyReplicas"] == d["status"]["updatedReplicas"] == 3
    assert d["status"]["availableReplicas"] == 3
    assert rs["status"] == {"availableReplicas": 3, "fullyLabeledReplicas": 3, "observedGeneration": 1,
                            "readyReplicas": 3, "replicas": 3}


def test_same_seed_same_names_other_seed_other_suffixes() -> None:
    def names(seed: int) -> list[str]:
        return [p["metadata"]["name"] for p in cluster_with(deployment("web"), seed=seed).pods()]

    assert names(7) == names(7)
    a, b = names(7), names(8)
    assert [n.rsplit("-", 1)[0] for n in a] == [n.rsplit("-", 1)[0] for n in b]  # same ReplicaSet
    assert {n.rsplit("-", 1)[1] for n in a}.isdisjoint({n.rsplit("-", 1)[1] for n in b})


def test_scale_up_keeps_existing_pods_and_scale_down_removes_newest() -> None:
    c = cluster_with(deployment("web", replicas=2))
    first = [p["metadata"]["name"] for p in c.pods()]
    up = edits.scale(c, "web", 5)
    names = [p["metadata"]["name"] for p in up.pods()]
    assert names[:2] == first and len(names) == 5
    assert up.get("Deployment", "web")["metadata"]["generation"] == 2
    on = {n: [p["metadata"]["name"] for p in up.pods() if p["spec"]["nodeName"] == n] for n in ("kind-worker", "kind-worker2")}
    assert (len(on["kind-worker"]), len(on["kind-worker2"])) == (3, 2)
    down = edits.scale(up, "web", 2)
    # All Ready and Running: the ranking is computed once, and the node with more of the
    # ReplicaSet's pods ranks first, so all three victims come from kind-worker.  They are
    # deleted gracefully: Terminating, with the deadline now + terminationGracePeriodSeconds.
    victims = [p for p in down.pods() if p["metadata"].get("deletionTimestamp")]
    assert sorted(p["metadata"]["name"] for p in victims) == sorted(on["kind-worker"])
    assert {p["metadata"]["deletionTimestamp"] for p in victims} == {down.timestamp(down.now + 30)}
    assert {p["metadata"]["deletionGracePeriodSeconds"] for p in victims} == {30}
    assert reconcile(down).objects == down.objects  # nothing more to delete
    gone = edits.advance(down, down.now + 30)
    assert [p["metadata"]["name"] for p in gone.pods()] == on["kind-worker2"]


def test_scale_down_removes_not_ready_pod_first() -> None:
    c = cluster_with(deployment("web", replicas=3))
    victim = c.pods()[0]["metadata"]["name"]
    c = edits.set_ready(c, victim, False)
    down = edits.scale(c, "web", 2)
    assert [p["metadata"]["name"] for p in down.pods() if p["metadata"].get("deletionTimestamp")] == [victim]
    gone = edits.advance(down, down.now + 30)
    assert victim not in {p["metadata"]["name"] for p in gone.pods()}
    assert len(gone.pods()) == 2


def test_rank_pods_for_deletion_order() -> None:
    def pod(name: str, node: str | None, ready: bool, created: str, phase: str = "Running") -> dict:
        p = bare_pod(name, {"app": "x"})
        p["metadata"]["creationTimestamp"] = created
        if node:
            p["spec"]["nodeName"] = node
        p["status"] = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                       "lastTransitionTime": created}]}
        return p

    pods = [
        pod("old-ready", "n1", True, "2026-01-01T00:00:00Z"),
        pod("new-ready", "n2", True, "2026-01-01T00:01:00Z"),
        pod("unready", "n3", False, "2026-01-01T00:00:00Z"),
        pod("unscheduled", None, False, "2026-01-01T00:00:00Z", phase="Pending"),
        pod("pending", "n4", False, "2026-01-01T00:00:00Z", phase="Pending"),
    ]
    order = [p["metadata"]["name"] for p in rank_pods_for_deletion(pods)]
    assert order == ["unscheduled", "pending", "unready", "new-ready", "old-ready"]


def test_bare_replicaset_adopts_matching_pod_but_deployment_replicaset_does_not() -> None:
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "frontend", "namespace": "default"},
          "spec": {"replicas": 2, "selector": {"matchLabels": {"tier": "frontend"}},
                   "template": pod_template({"tier": "frontend"})}}
    c = base_cluster().with_objects([bare_pod("stray", {"tier": "frontend"}), rs])
    c = reconcile(c)
    assert c.get("Pod", "stray")["metadata"]["ownerReferences"][0]["name"] == "frontend"
    assert len(c.pods()) == 2  # the stray pod counts as one of the two replicas
    # A Deployment's ReplicaSet selects pod-template-hash too, so the stray pod stays alone.
    d = base_cluster().with_objects([bare_pod("stray", {"app": "MyApp"}), deployment("web", replicas=2)])
    d = reconcile(d)
    assert "ownerReferences" not in d.get("Pod", "stray")["metadata"]
    assert len(d.pods()) == 3


def test_deleted_deployment_takes_replicasets_and_pods_with_it() -> None:
    c = cluster_with(deployment("web"))
    gone = reconcile(c.without("Deployment", "web"))
    assert gone.list("ReplicaSet") == [] and gone.pods() == []


def test_template_change_creates_new_replicaset_and_keeps_old_at_zero() -> None:
    c = cluster_with(deployment("web", replicas=2))
    old_rs = c.list("ReplicaSet")[0]["metadata"]["name"]
    c2 = edits.set_image(c, "web", "nginx:1.28")
    rss = {r["metadata"]["name"]: r for r in c2.list("ReplicaSet")}
    assert set(rss) == {old_rs, f"web-{pod_template_hash(c2.get('Deployment', 'web')['spec']['template'])}"}
    assert rss[old_rs]["spec"]["replicas"] == 0
    new = next(r for n, r in rss.items() if n != old_rs)
    assert new["spec"]["replicas"] == 2 and new["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    # The old pods are Terminating (still running nginx's old image) until their grace period ends.
    assert {p["spec"]["containers"][0]["image"] for p in c2.pods() if not p["metadata"].get("deletionTimestamp")} \
        == {"nginx:1.28"}
    assert len([p for p in c2.pods() if p["metadata"].get("deletionTimestamp")]) == 2
    c2 = edits.advance(c2, c2.now + 30)
    assert {p["spec"]["containers"][0]["image"] for p in c2.pods()} == {"nginx:1.28"}
    assert c2.get("Deployment", "web")["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    # Rolling back reuses the old ReplicaSet, which gets revision 3.
    back = edits.set_image(c2, "web", "nginx:1.27")
    rs = back.get("ReplicaSet", old_rs)
    assert rs["spec"]["replicas"] == 2 and rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    assert len(back.list("ReplicaSet")) == 2


def test_hash_collision_bumps_collision_count() -> None:
    dep = deployment("web", replicas=1)
    h = pod_template_hash(dep["spec"]["template"])
    squatter = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
                "metadata": {"name": f"web-{h}", "namespace": "default", "labels": {"other": "x"}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"other": "x"}},
                         "template": pod_template({"other": "x"})}}
    c = reconcile(base_cluster().with_objects([squatter, dep]))
    d = c.get("Deployment", "web")
    assert d["status"]["collisionCount"] == 1
    assert c.has("ReplicaSet", f"web-{pod_template_hash(dep['spec']['template'], 1)}")


# ------------------------------------------------------------- StatefulSets
def test_statefulset_pods_have_stable_identities() -> None:
    c = cluster_with(statefulset("web", replicas=3, service="nginx"))
    pods = c.pods()
    assert [p["metadata"]["name"] for p in pods] == ["web-0", "web-1", "web-2"]
    sts = c.get("StatefulSet", "web")
    for i, p in enumerate(pods):
        assert p["spec"]["hostname"] == f"web-{i}"
        assert p["spec"]["subdomain"] == "nginx"
        labels = p["metadata"]["labels"]
        assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
        assert labels["apps.kubernetes.io/pod-index"] == str(i)
        assert labels["controller-revision-hash"] == sts["status"]["currentRevision"]
        assert labels["app"] == "web"
        assert p["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    assert sts["status"]["readyReplicas"] == 3


def test_statefulset_scales_down_from_highest_ordinal() -> None:
    c = cluster_with(statefulset("web", replicas=4))
    down = edits.scale(c, "web", 2, kind="StatefulSet")
    assert [p["metadata"]["name"] for p in down.pods() if p["metadata"].get("deletionTimestamp")] == ["web-2", "web-3"]
    assert reconcile(down).objects == down.objects
    gone = edits.advance(down, down.now + 30)
    assert [p["metadata"]["name"] for p in gone.pods()] == ["web-0", "web-1"]


def test_ordered_ready_waits_for_unready_pod_parallel_does_not() -> None:
    c = cluster_with(statefulset("web", replicas=2))
    c = edits.set_ready(c, "web-0", False)
    up = edits.scale(c, "web", 4, kind="sts")
    assert [p["metadata"]["name"] for p in up.pods()] == ["web-0", "web-1"]
    back = edits.set_ready(up, "web-0", True)
    assert [p["metadata"]["name"] for p in back.pods()] == ["web-0", "web-1", "web-2", "web-3"]
    par = cluster_with(statefulset("db", replicas=1, parallel=True))
    par = edits.set_ready(par, "db-0", False)
    par = edits.scale(par, "db", 3, kind="StatefulSet")
    assert [p["metadata"]["name"] for p in par.pods()] == ["db-0", "db-1", "db-2"]


GOLDEN = """
import json, sys
sys.path.insert(0, "tests")
from _workloads_fixtures import cluster_with, deployment
c = cluster_with(deployment("web", replicas=3), seed=42)
print(json.dumps([c.list("ReplicaSet")[0]["metadata"]["name"]] + [p["metadata"]["name"] for p in c.pods()]))
"""


def test_names_are_the_same_in_every_python_process() -> None:
    # Python's hash() is salted per process; kubelearn's names must not depend on it.
    import json
    import os
    import subprocess
    import sys

    runs = []
    for salt in ("1", "2"):
        env = dict(os.environ, PYTHONHASHSEED=salt)
        out = subprocess.run([sys.executable, "-c", GOLDEN], env=env, capture_output=True, text=True, check=True,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        runs.append(json.loads(out.stdout))
    assert runs[0] == runs[1]
    here = cluster_with(deployment("web", replicas=3), seed=42)
    assert runs[0] == [here.list("ReplicaSet")[0]["metadata"]["name"]] + [p["metadata"]["name"] for p in here.pods()]


# ------------------------------------------------ names do not depend on unrelated objects
_MY_SERVICE = """apiVersion: v1
kind: Service
metadata: {name: my-service}
spec:
  selector: {app: MyApp}
  ports: [{port: 80, targetPort: 9376}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-app}
spec:
  replicas: 3
  selector: {matchLabels: {app: MyApp}}
  template:
    metadata: {labels: {app: MyApp}}
    spec:
      containers: [{name: app, image: agnhost, ports: [{containerPort: 9376}]}]
"""
_UNRELATED = """apiVersion: v1
kind: Service
metadata: {name: other}
spec:
  selector: {app: other}
  ports: [{port: 81}]
---
apiVersion: kubelearn.dev/v1alpha1
kind: Workload
metadata: {name: clients}
spec:
  clients: [{external: {cidr: 203.0.113.0/24, count: 2}}]
  target: {dns: my-service, port: 80}
"""


def _names(c, kind, prefix):
    return sorted(o["metadata"]["name"] for o in c.list(kind) if o["metadata"]["name"].startswith(prefix))


def test_generated_names_do_not_depend_on_other_documents():
    from kubelearn.kind import load

    alone = load(_MY_SERVICE)
    for other in (load(_UNRELATED, _MY_SERVICE), load(_MY_SERVICE, _UNRELATED)):
        assert _names(other, "Pod", "my-app-") == _names(alone, "Pod", "my-app-")
        assert _names(other, "EndpointSlice", "my-service-") == _names(alone, "EndpointSlice", "my-service-")
    assert len(_names(alone, "Pod", "my-app-")) == 3
    assert load(_MY_SERVICE, seed=1).pods() != alone.pods()  # the seed still matters


def test_replacement_pod_gets_a_new_name_and_the_counter_grows():
    from kubelearn.controllers.pods import PODS_CREATED_ANNOTATION
    from kubelearn.kind import load

    c = load(_MY_SERVICE)
    before = _names(c, "Pod", "my-app-")
    c2 = edits.delete_pod(c, before[0])  # force-deleted: gone at once
    after = _names(c2, "Pod", "my-app-")
    assert len(after) == 3 and before[0] not in after and set(before[1:]) <= set(after)
    (rs,) = [r for r in c2.list("ReplicaSet") if r["metadata"]["name"].startswith("my-app-")]
    assert rs["metadata"]["annotations"][PODS_CREATED_ANNOTATION] == "4"


def test_remove_is_repeated_without():
    from kubelearn.controllers.pods import remove
    from kubelearn.kind import load

    c = load(_MY_SERVICE)
    pods = [p for p in c.pods("default")]
    one_by_one = c
    for p in pods:
        one_by_one = one_by_one.without("Pod", p["metadata"]["name"])
    batch = remove(c, pods)
    assert batch.objects == one_by_one.objects and batch.clock == one_by_one.clock
    assert remove(c, []) is c
