"""The Deployment controller: one ReplicaSet per version of the pod template.

A Deployment names its ReplicaSets ``<deployment>-<pod-template-hash>``; a template change
creates a new one and moves the replicas over (a *rolling update*, within ``maxSurge`` and
``maxUnavailable``), keeping ``revisionHistoryLimit`` old ReplicaSets scaled to zero.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from ..labels import label_selector_matches
from .pods import (
    DESIRED_REPLICAS_ANNOTATION,
    MAX_REPLICAS_ANNOTATION,
    REVISION_ANNOTATION,
    controller_of,
    creation_timestamp,
    deployment_strategy_limits,
    owner_reference,
    pod_template_hash,
    pods_by_controller,
    store,
)
from .replicaset import replicaset_replicas

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "deployment_revision",
    "ensure_new_replicaset",
    "find_new_replicaset",
    "owned_replicasets",
    "set_rs_replicas",
    "sync_deployments",
    "template_without_hash",
]


def template_without_hash(rs: Mapping[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(dict(objects.spec(rs).get("template") or {}))
    labels = template.get("metadata", {}).get("labels")
    if labels is not None:
        labels.pop("pod-template-hash", None)
    return template


def owned_replicasets(cluster: Cluster, deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Deployment's ReplicaSets, oldest first."""
    uid = objects.uid(deployment)
    ns = objects.namespace(deployment)
    rss = [rs for rs in cluster.list("ReplicaSet", ns) if (controller_of(rs) or {}).get("uid") == uid]
    return sorted(rss, key=lambda r: (creation_timestamp(r), int(r["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, 0))))


def find_new_replicaset(cluster: Cluster, deployment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ReplicaSet whose template equals the Deployment's (ignoring ``pod-template-hash``)."""
    template = deployment["spec"].get("template") or {}
    for rs in owned_replicasets(cluster, deployment):
        if template_without_hash(rs) == template:
            return rs
    return None


def deployment_revision(obj: Mapping[str, Any]) -> int:
    try:
        return int(obj["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, 0))
    except ValueError:
        return 0


def ensure_new_replicaset(cluster: Cluster, deployment: Mapping[str, Any], replicas: int = 0) -> tuple[Cluster, dict[str, Any]]:
    """Find or create the ReplicaSet for the Deployment's current template.

    A new ReplicaSet is named ``<deployment>-<pod-template-hash>``; if that name is taken by a
    ReplicaSet with another template, the Deployment's ``status.collisionCount`` goes up and the
    hash is computed again, as the Deployment controller does.  Its revision is one more than
    the highest revision of the Deployment's ReplicaSets; a ReplicaSet reused by a rollback
    gets the new revision too.
    """
    ns, dname = objects.namespace(deployment), objects.name(deployment)
    rss = owned_replicasets(cluster, deployment)
    max_rev = max((deployment_revision(r) for r in rss), default=0)
    existing = find_new_replicaset(cluster, deployment)
    if existing is not None:
        if deployment_revision(existing) < max_rev or not existing["metadata"].get("annotations", {}).get(REVISION_ANNOTATION):
            existing = copy.deepcopy(existing)
            existing["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(max_rev + 1)
            cluster = store(cluster, [existing])
        return cluster, cluster.get("ReplicaSet", objects.name(existing), ns)
    template = deployment["spec"].get("template") or {}
    collision = objects.status(deployment).get("collisionCount")
    while True:
        h = pod_template_hash(template, collision)
        name = f"{dname}-{h}"
        if not cluster.has("ReplicaSet", name, ns):
            break
        collision = (collision or 0) + 1
    if collision != objects.status(deployment).get("collisionCount"):
        dep = copy.deepcopy(dict(deployment))
        dep.setdefault("status", {})["collisionCount"] = collision
        cluster = store(cluster, [dep])
        deployment = cluster.get("Deployment", dname, ns)
    rs_template = copy.deepcopy(dict(template))
    rs_template.setdefault("metadata", {}).setdefault("labels", {})["pod-template-hash"] = h
    selector = copy.deepcopy(dict(deployment["spec"].get("selector") or {}))
    selector.setdefault("matchLabels", {})["pod-template-hash"] = h
    surge, _ = deployment_strategy_limits(deployment)
    d_replicas = int(deployment["spec"].get("replicas", 1))
    rs: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": dict(rs_template["metadata"]["labels"]),
            "annotations": {
                DESIRED_REPLICAS_ANNOTATION: str(d_replicas),
                MAX_REPLICAS_ANNOTATION: str(d_replicas + surge),
                REVISION_ANNOTATION: str(max_rev + 1),
            },
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {
            "replicas": replicas,
            "selector": selector,
            "template": rs_template,
        },
        "status": {"replicas": 0},
    }
    if "minReadySeconds" in deployment["spec"]:
        rs["spec"]["minReadySeconds"] = deployment["spec"]["minReadySeconds"]
    # The template is copied verbatim (the Deployment's was defaulted when it was stored), so
    # it keeps comparing equal to the Deployment's.
    cluster = cluster.with_object(rs)
    return cluster, cluster.get("ReplicaSet", name, ns)


def set_rs_replicas(cluster: Cluster, rs: Mapping[str, Any], replicas: int, deployment: Mapping[str, Any] | None = None) -> Cluster:
    """Set a ReplicaSet's ``spec.replicas`` (and the Deployment annotations on it)."""
    new = copy.deepcopy(dict(rs))
    new["spec"]["replicas"] = replicas
    if deployment is not None:
        surge, _ = deployment_strategy_limits(deployment)
        d_replicas = int(deployment["spec"].get("replicas", 1))
        ann = new["metadata"].setdefault("annotations", {})
        ann[DESIRED_REPLICAS_ANNOTATION] = str(d_replicas)
        ann[MAX_REPLICAS_ANNOTATION] = str(d_replicas + surge)
    return store(cluster, [new])


def _cleanup_history(cluster: Cluster, deployment: Mapping[str, Any], keep_uid: str) -> Cluster:
    """Delete the oldest empty old ReplicaSets beyond ``revisionHistoryLimit`` (default 10)."""
    limit = int(deployment["spec"].get("revisionHistoryLimit", 10))
    olds = [r for r in owned_replicasets(cluster, deployment)
            if objects.uid(r) != keep_uid and replicaset_replicas(r) == 0]
    olds.sort(key=deployment_revision)
    pods_by_owner = pods_by_controller(cluster)
    excess = len(olds) - limit
    for rs in olds:
        if excess <= 0:
            break
        if pods_by_owner.get(objects.uid(rs)):
            continue
        cluster = cluster.without("ReplicaSet", objects.name(rs), objects.namespace(rs))
        excess -= 1
    return cluster


def sync_deployments(cluster: Cluster) -> Cluster:
    """The Deployment controller, run to completion: each Deployment's current template has a
    ReplicaSet scaled to ``spec.replicas`` and every older ReplicaSet is scaled to 0.

    This jumps straight to the end of a rollout; :func:`kubelearn.controllers.rollout_steps`
    shows the steps in between.  A ``spec.paused`` Deployment is left alone.
    """
    for dep in cluster.list("Deployment"):
        if dep["spec"].get("paused"):
            continue
        cluster = _adopt_replicasets(cluster, dep)
        dep = cluster.get("Deployment", objects.name(dep), objects.namespace(dep))
        cluster, new_rs = ensure_new_replicaset(cluster, dep)
        dep = cluster.get("Deployment", objects.name(dep), objects.namespace(dep))
        replicas = int(dep["spec"].get("replicas", 1))
        cluster = set_rs_replicas(cluster, new_rs, replicas, dep)
        for rs in owned_replicasets(cluster, dep):
            if objects.uid(rs) != objects.uid(new_rs) and replicaset_replicas(rs) != 0:
                cluster = set_rs_replicas(cluster, rs, 0)
        cluster = _cleanup_history(cluster, dep, objects.uid(new_rs))
    return cluster


def _adopt_replicasets(cluster: Cluster, dep: Mapping[str, Any]) -> Cluster:
    ns = objects.namespace(dep)
    adopted = []
    for rs in cluster.list("ReplicaSet", ns):
        if controller_of(rs) is None and \
                label_selector_matches(dep["spec"].get("selector"), rs["metadata"].get("labels") or {}):
            new = copy.deepcopy(rs)
            new["metadata"].setdefault("ownerReferences", []).append(owner_reference(dep))
            adopted.append(new)
    return store(cluster, adopted)


