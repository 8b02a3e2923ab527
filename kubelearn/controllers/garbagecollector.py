"""The garbage collector: objects whose owner is gone go too.

Objects point at their owner with ``metadata.ownerReferences`` (a Pod at its ReplicaSet, a
ReplicaSet at its Deployment, an EndpointSlice at its Service).  When the owner is deleted, the
garbage collector deletes the dependents ("cascading deletion", the default
``propagationPolicy: Background``); the namespace controller empties a deleted Namespace; the
pod garbage collector deletes pods bound to a Node that no longer exists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import objects
from ..api_resources import ObjectKey
from .pods import controller_of, remove

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = ["collect_garbage", "dependents"]


def dependents(cluster: Cluster, key: ObjectKey) -> list[dict[str, Any]]:
    """The object at ``key`` and everything that goes with it when it is deleted: a Namespace's
    objects, then every object whose ``ownerReferences`` lead back to one of those (by uid)."""
    gone = {key}
    if key[0] == "Namespace":
        gone |= {k for k in cluster.objects if k[1] == key[2]}
    # Follow ownerReferences (by uid) until nothing new is found.
    uids = {cluster.objects[k]["metadata"].get("uid") for k in gone}
    changed = True
    while changed:
        changed = False
        for k, obj in cluster.objects.items():
            if k in gone:
                continue
            owners = {o.get("uid") for o in obj.get("metadata", {}).get("ownerReferences") or []}
            if owners & uids:
                gone.add(k)
                uids.add(obj["metadata"].get("uid"))
                changed = True
    return [obj for k, obj in cluster.objects.items() if k in gone]


def collect_garbage(cluster: Cluster) -> Cluster:
    """Delete ReplicaSets and pods whose controlling owner no longer exists, and pods bound
    to a Node that no longer exists (the pod garbage collector's "orphaned pods").

    Simplification: the garbage collector deletes dependent pods gracefully on a real
    cluster; kubelearn removes them at once.
    """
    nodes = {objects.name(n) for n in cluster.nodes()}
    cluster = remove(cluster, [pod for pod in cluster.pods()
                               if objects.node_name(pod) and pod["spec"]["nodeName"] not in nodes])
    uids = {obj["metadata"].get("uid") for obj in cluster.objects.values()}
    for kind in ("ReplicaSet", "Pod"):
        orphans = []
        for obj in cluster.list(kind):
            ref = controller_of(obj)
            if ref is not None and ref.get("kind") in ("Deployment", "ReplicaSet", "StatefulSet") \
                    and ref.get("uid") not in uids:
                orphans.append(obj)
        cluster = remove(cluster, orphans)
    return cluster
