"""The controller manager: run every controller until nothing changes.

Kubernetes has no central program that "runs the cluster".  Each controller watches the
objects it cares about, compares what is *desired* (a Deployment's ``replicas``, a Service's
``selector``) with what *is* (the pods that exist), and writes API objects to close the gap.
kubelearn runs the same controllers as functions from one :class:`~kubelearn.cluster.Cluster`
to the next until a whole round changes nothing: the garbage collector
(:mod:`~kubelearn.controllers.garbagecollector`), the Deployment, ReplicaSet and StatefulSet
controllers, the scheduler and kubelet (:mod:`~kubelearn.controllers.scheduler`), then the
workload statuses and the EndpointSlice controller (:mod:`~kubelearn.controllers.endpointslice`).
Time moves only when you say so: :func:`advance` moves the clock and lets graceful deletions
finish.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import objects
from ..errors import NotConvergingError
from .deployment import sync_deployments
from .endpointslice import sync_endpoints
from .garbagecollector import collect_garbage
from .pods import parse_time, remove
from .replicaset import sync_replicasets
from .scheduler import is_node_ready, schedule
from .statefulset import sync_statefulsets
from .status import update_workload_statuses

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "advance",
    "purge_expired",
    "reconcile",
    "settle",
]

# Each round makes progress (an OrderedReady StatefulSet needs one per pod); a cluster that
# still changes after this many rounds (plus one per StatefulSet replica) means two
# controllers fight: a kubelearn bug.
_MAX_ROUNDS = 100


def _round_limit(cluster: Cluster) -> int:
    return _MAX_ROUNDS + sum(int(objects.spec(s).get("replicas", 1)) for s in cluster.list("StatefulSet"))


def purge_expired(cluster: Cluster) -> Cluster:
    """Remove pods whose deletion deadline passed, if a kubelet is there to confirm it.

    A pod on a NotReady node stays Terminating for ever (its kubelet cannot report the
    containers stopped); an unscheduled pod goes at once.
    """
    nodes = {objects.name(n): n for n in cluster.nodes()}
    gone = []
    for pod in cluster.pods():
        ts = pod["metadata"].get("deletionTimestamp")
        if not ts:
            continue
        node = nodes.get(objects.node_name(pod) or "")
        if node is not None and not is_node_ready(node):
            continue
        if node is None or cluster.now >= parse_time(ts):
            gone.append(pod)
    return remove(cluster, gone)


def reconcile(cluster: Cluster) -> Cluster:
    """Run every controller until the cluster is stable.

    Idempotent: ``reconcile(reconcile(c))`` holds exactly the same objects (same
    ``resourceVersion``) as ``reconcile(c)``.  A rollout in progress is completed at once
    (see :func:`rollout_steps` for its steps).
    """
    return _run(cluster, (purge_expired, collect_garbage, sync_deployments, sync_replicasets,
                          sync_statefulsets, schedule))


def settle(cluster: Cluster) -> Cluster:
    """Everything but the Deployment controller (used between rollout steps)."""
    return _run(cluster, (collect_garbage, sync_replicasets, sync_statefulsets, schedule))


def _run(cluster: Cluster, controllers: tuple[Callable[[Cluster], Cluster], ...]) -> Cluster:
    """Run ``controllers`` in turn until a whole round changes nothing, then statuses and slices.

    Each controller returns the very same cluster when it has nothing to do, so "nothing
    changed" is an identity check on the object table.
    """
    limit = _round_limit(cluster)
    for _ in range(limit):
        before = cluster.objects
        for controller in controllers:
            cluster = controller(cluster)
        if cluster.objects is before:
            break
    else:
        raise NotConvergingError(limit)
    cluster = update_workload_statuses(cluster)
    return sync_endpoints(cluster)


def advance(cluster: Cluster, now: float) -> Cluster:
    """Move the clock to ``now`` seconds and let graceful deletions that are due finish.

    The ReplicaSet and StatefulSet controllers, the scheduler and the EndpointSlice controller
    then react (a StatefulSet recreates a pod once the old one is gone).  Unlike
    :func:`reconcile` this does not run the Deployment controller, so it can be used on the
    intermediate states of :func:`rollout_steps` without finishing the rollout.
    """
    return settle(purge_expired(cluster.at(now)))

