"""Workload status: what ``kubectl get deploy,rs,sts`` reads.

After the other controllers ran, each Deployment, ReplicaSet and StatefulSet gets the
``status`` its controller would write: ``replicas``, ``readyReplicas``,
``availableReplicas``, ``updatedReplicas`` and conditions (``Available``, ``Progressing``),
with zero counters left out as Go's ``omitempty`` does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from .deployment import deployment_revision, template_without_hash
from .pods import (
    REVISION_ANNOTATION,
    controller_of,
    deployment_strategy_limits,
    is_active,
    is_pod_ready,
    is_terminating,
    pods_by_controller,
    store,
)
from .statefulset import statefulset_revision

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "update_workload_statuses",
]


def _available(pod: Mapping[str, Any]) -> bool:
    return is_pod_ready(pod) and not is_terminating(pod)


def _nonzero(d: dict[str, Any], keep: Iterable[str] = ()) -> dict[str, Any]:
    """Drop zero counters as Go's ``omitempty`` does (except the ones listed in ``keep``)."""
    keep = set(keep)
    return {k: v for k, v in d.items() if v or k in keep}


def _cond(old: list[dict[str, Any]], ctype: str, status: str, reason: str, message: str, now: str) -> dict[str, Any]:
    for c in old:
        if c.get("type") == ctype:
            if (c.get("status"), c.get("reason"), c.get("message")) == (status, reason, message):
                return c
            ltt = c.get("lastTransitionTime", now) if c.get("status") == status else now
            return {"lastTransitionTime": ltt, "lastUpdateTime": now, "message": message, "reason": reason,
                    "status": status, "type": ctype}
    return {"lastTransitionTime": now, "lastUpdateTime": now, "message": message, "reason": reason,
            "status": status, "type": ctype}


def update_workload_statuses(cluster: Cluster) -> Cluster:
    """Write ``status`` of every ReplicaSet, Deployment and StatefulSet from its pods, as
    ``kubectl get deploy`` (READY, UP-TO-DATE, AVAILABLE) reads it."""
    pods_by_owner = pods_by_controller(cluster)
    updates: list[dict[str, Any]] = []
    rs_status: dict[str, dict[str, int]] = {}
    for rs in cluster.list("ReplicaSet"):
        active = [p for p in pods_by_owner.get(objects.uid(rs), []) if is_active(p)]
        labels_ok = [p for p in active if all(
            objects.labels(p).get(k) == v
            for k, v in ((rs["spec"].get("template") or {}).get("metadata", {}).get("labels") or {}).items())]
        ready = sum(1 for p in active if is_pod_ready(p))
        status = {
            "availableReplicas": ready,
            "fullyLabeledReplicas": len(labels_ok),
            "observedGeneration": int(rs["metadata"].get("generation", 1)),
            "readyReplicas": ready,
            "replicas": len(active),
        }
        rs_status[objects.uid(rs)] = status
        new = dict(rs)
        new["status"] = _nonzero(status, keep=("replicas",))
        updates.append(new)
    now = cluster.timestamp()
    for dep in cluster.list("Deployment"):
        rss = [r for r in cluster.list("ReplicaSet", objects.namespace(dep))
               if (controller_of(r) or {}).get("uid") == objects.uid(dep)]
        template = dep["spec"].get("template") or {}
        new_rs = next((r for r in rss if template_without_hash(r) == template), None)
        total = sum(rs_status.get(objects.uid(r), {}).get("replicas", 0) for r in rss)
        ready = sum(rs_status.get(objects.uid(r), {}).get("readyReplicas", 0) for r in rss)
        updated = rs_status.get(objects.uid(new_rs), {}).get("replicas", 0) if new_rs else 0
        replicas = int(dep["spec"].get("replicas", 1))
        _, max_unavailable = deployment_strategy_limits(dep)
        old_conds = list(objects.status(dep).get("conditions") or [])
        if ready >= replicas - max_unavailable:
            avail = _cond(old_conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
        else:
            avail = _cond(old_conds, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now)
        rs_name = objects.name(new_rs) if new_rs else ""
        if new_rs is not None and updated == replicas == total and ready == replicas:
            prog = _cond(old_conds, "Progressing", "True", "NewReplicaSetAvailable",
                         f'ReplicaSet "{rs_name}" has successfully progressed.', now)
        else:
            prog = _cond(old_conds, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', now)
        status = _nonzero({
            "availableReplicas": ready,
            "collisionCount": objects.status(dep).get("collisionCount"),
            "conditions": [avail, prog],
            "observedGeneration": int(dep["metadata"].get("generation", 1)),
            "readyReplicas": ready,
            "replicas": total,
            "unavailableReplicas": max(replicas - ready, 0),
            "updatedReplicas": updated,
        })
        new = copy.deepcopy(dict(dep))
        new["status"] = status
        if new_rs is not None:
            new["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(deployment_revision(new_rs))
        updates.append(new)
    for sts in cluster.list("StatefulSet"):
        pods = [p for p in pods_by_owner.get(objects.uid(sts), []) if is_active(p)]
        revision = statefulset_revision(sts)
        ready = sum(1 for p in pods if is_pod_ready(p))
        current = sum(1 for p in pods if p["metadata"].get("labels", {}).get("controller-revision-hash") == revision)
        status = _nonzero({
            "availableReplicas": ready,
            "collisionCount": 0,
            "currentReplicas": current,
            "currentRevision": revision,
            "observedGeneration": int(sts["metadata"].get("generation", 1)),
            "readyReplicas": ready,
            "replicas": len(pods),
            "updateRevision": revision,
            "updatedReplicas": current,
        }, keep=("availableReplicas", "collisionCount", "replicas"))
        new = dict(sts)
        new["status"] = status
        updates.append(new)
    return store(cluster, updates)


