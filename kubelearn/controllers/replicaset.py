"""The ReplicaSet controller: keep ``replicas`` pods alive.

A ReplicaSet owns pods through ``metadata.ownerReferences`` and counts the active (not
terminating) ones that match its selector: too few, it creates pods named
``<replicaset>-<5 characters>`` from its template; too many, it deletes the ones
:func:`~kubelearn.controllers.pods.rank_pods_for_deletion` picks, gracefully.  It also adopts
matching pods that no controller owns.
"""

from __future__ import annotations

import copy
import marshal
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from ..labels import label_selector_matches
from .pods import (
    PODS_CREATED_ANNOTATION,
    controller_of,
    generate_name,
    is_active,
    new_pod,
    owner_reference,
    rank_pods_for_deletion,
    remove_pods,
    stable_rng,
    store,
)

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "adopt_orphans",
    "replicaset_replicas",
    "sync_replicasets",
]


def replicaset_replicas(rs: Mapping[str, Any]) -> int:
    return int(objects.spec(rs).get("replicas", 1))


def adopt_orphans(cluster: Cluster, owner: Mapping[str, Any], selector: Mapping[str, Any] | None) -> Cluster:
    """Controllers adopt matching pods that have no controller (a famous surprise: a
    hand-made pod labelled ``app: web`` becomes one of the Deployment's replicas)."""
    ns = objects.namespace(owner)
    adopted = []
    for pod in cluster.list("Pod", ns):
        if controller_of(pod) is None and is_active(pod) and \
                label_selector_matches(selector, pod["metadata"].get("labels") or {}):
            new = copy.deepcopy(pod)
            new["metadata"].setdefault("ownerReferences", []).append(owner_reference(owner))
            adopted.append(new)
    return store(cluster, adopted)


def _fast_copier(obj: Mapping[str, Any]) -> Callable[[], dict[str, Any]]:
    """A function returning fresh deep copies of ``obj`` (plain JSON-like data)."""
    try:
        blob = marshal.dumps(dict(obj))
    except ValueError:  # something marshal cannot encode (a YAML timestamp …): deepcopy
        return lambda: copy.deepcopy(dict(obj))
    return lambda: dict(marshal.loads(blob))


def _pods_created(rs: Mapping[str, Any]) -> int:
    try:
        return int((rs["metadata"].get("annotations") or {}).get(PODS_CREATED_ANNOTATION, 0))
    except ValueError:
        return 0


def sync_replicasets(cluster: Cluster, *, graceful: bool = True, only: Iterable[str] | None = None) -> Cluster:
    """The ReplicaSet controller: create or delete pods until each ReplicaSet has ``replicas``
    active (not terminating) pods.

    New pods are named ``<replicaset>-<5 characters>`` from a generator seeded with the cluster
    seed, the ReplicaSet's namespace and name, and how many pods it has created so far (kept in
    the :data:`PODS_CREATED_ANNOTATION` annotation), so names never depend on unrelated objects
    and a replacement never reuses a deleted pod's name.  Surplus pods go in :func:`rank_pods_for_deletion` order and
    are deleted the way the real controller deletes them, gracefully: each gets
    ``deletionTimestamp`` = now + its ``terminationGracePeriodSeconds`` and stays Terminating
    (still running, ``terminating: true`` in its EndpointSlice) until that deadline passes
    (:func:`kubelearn.controllers.advance`).  Terminating pods no longer count, so a second
    pass deletes nothing more.

    Args:
        cluster: the cluster.
        graceful: ``False`` removes surplus pods at once (like ``--grace-period=0 --force``);
            the controllers never do that.
        only: restrict to these ReplicaSet uids.
    """
    only_set = set(only) if only is not None else None
    for rs in cluster.list("ReplicaSet"):
        if only_set is not None and objects.uid(rs) not in only_set:
            continue
        cluster = adopt_orphans(cluster, rs, objects.spec(rs).get("selector"))
        rs = cluster.get("ReplicaSet", objects.name(rs), objects.namespace(rs))
        ns, rs_name, uid = objects.namespace(rs), objects.name(rs), objects.uid(rs)
        owned = [p for p in cluster.list("Pod", ns) if (controller_of(p) or {}).get("uid") == uid]
        active = [p for p in owned if is_active(p)]
        want = replicaset_replicas(rs)
        if len(active) < want:
            taken = {objects.name(p) for p in cluster.list("Pod", ns)}
            created = _pods_created(rs)
            template = rs["spec"].get("template") or {}
            # Every pod of a ReplicaSet starts as the same defaulted template: build it once and
            # copy it (a marshal round trip is several times faster than deepcopy), so creating
            # 10 000 replicas costs 10 000 copies, not 10 000 defaultings.
            proto = new_pod("", ns, template, rs, generate_name=rs_name + "-")
            copy_proto = _fast_copier(proto)
            new_pods = []
            for _ in range(want - len(active)):
                rng = stable_rng(cluster.seed, "pod", ns, rs_name, created)
                created += 1
                name = generate_name(rs_name + "-", rng, taken)
                taken.add(name)
                pod = copy_proto()
                pod["metadata"]["name"] = name
                new_pods.append(pod)
            counted = copy.deepcopy(rs)
            counted["metadata"].setdefault("annotations", {})[PODS_CREATED_ANNOTATION] = str(created)
            cluster = cluster.with_objects([counted, *new_pods])
        elif len(active) > want:
            victims = rank_pods_for_deletion(active)[: len(active) - want]
            cluster = remove_pods(cluster, victims, graceful)
    return cluster


