"""The learner's edits: what ``kubectl`` (and a failing machine) does to a cluster.

Every function takes a :class:`~kubelearn.cluster.Cluster` and returns a new one; the
:class:`Cluster` methods of the same names delegate here.  Each edit is what a learner types
or causes, followed by the controllers reacting (:func:`kubelearn.controllers.manager.reconcile`):

* the API: :func:`apply`, :func:`delete` (building a cluster, :func:`kubelearn.load`, and
  ``--dry-run=server``, :func:`kubelearn.dry_run`, are in :mod:`kubelearn.kind`);
* workloads: :func:`scale`, :func:`rollout`, :func:`set_image`, :func:`delete_pod`,
  :func:`set_ready` (a readiness probe failing or recovering);
* nodes: :func:`cordon`, :func:`uncordon`, :func:`drain`, :func:`fail_node`,
  :func:`recover_node`;
* time: :func:`advance` (graceful deletions whose grace period ended finish).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import objects
from .api_resources import kind_info
from .apiserver.admission import admit
from .apiserver.validation import replicas_limit_error
from .controllers.garbagecollector import dependents
from .controllers.manager import advance, reconcile
from .controllers.pods import controller_of, graceful_delete, is_pod_ready, is_terminating, remove, store
from .controllers.rollout import TemplateChange, bump_generation, with_template
from .errors import INVALID, FieldError, InvalidError, KubelearnError, ManifestError, NotFoundError
from .manifest import Source, is_cluster_config, read_documents

if TYPE_CHECKING:  # the value these functions edit; it imports this module (its methods delegate here)
    from .cluster import Cluster

__all__ = [
    "DEFAULT_TOLERATION_SECONDS",
    "NODE_MONITOR_GRACE_PERIOD",
    "advance",
    "apply",
    "cordon",
    "delete",
    "delete_pod",
    "drain",
    "fail_node",
    "recover_node",
    "rollout",
    "scale",
    "set_image",
    "set_ready",
    "uncordon",
]

_SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet")

#: Seconds without a kubelet heartbeat before the node lifecycle controller marks a node
#: NotReady (``--node-monitor-grace-period``; 40 s before Kubernetes 1.32, 50 s since).
#: :func:`fail_node` skips this wait.
NODE_MONITOR_GRACE_PERIOD = 50
#: ``tolerationSeconds`` the DefaultTolerationSeconds admission plugin gives every pod for
#: the ``not-ready``/``unreachable`` NoExecute taints: eviction starts 300 s after the taint.
#: :func:`fail_node` evicts at once.
DEFAULT_TOLERATION_SECONDS = 300


# ------------------------------------------------------------------ edits
def scale(cluster: Cluster, name: str, replicas: int, namespace: str = "default", kind: str = "Deployment") -> Cluster:
    """``kubectl scale deployment NAME --replicas=N`` (``kind`` may be ReplicaSet or StatefulSet).

    Scaling down deletes the surplus pods gracefully, as the ReplicaSet controller does (the
    pods it picks are described in :func:`kubelearn.controllers.pods.rank_pods_for_deletion`; a
    StatefulSet picks the highest ordinals): each gets ``deletionTimestamp`` = now + its
    ``terminationGracePeriodSeconds`` and stays Terminating (``kubectl get pods`` says so; its
    EndpointSlice entry is ``ready: false, serving: <its readiness>, terminating: true``) until
    :func:`advance` passes that deadline.  Scaling a ReplicaSet a Deployment owns is undone by
    the Deployment controller, as on a real cluster.

    Raises:
        InvalidError: a negative count, in the API server's words (``spec.replicas: Invalid value:
            -1: must be greater than or equal to 0``), or more than
            :data:`kubelearn.apiserver.validation.MAX_REPLICAS`.
        NotFoundError: ``Error from server (NotFound): deployments.apps "x" not found``.
    """
    info = kind_info(kind)
    if isinstance(replicas, bool) or not isinstance(replicas, int):
        raise InvalidError(info.kind, name, [FieldError("spec.replicas", INVALID, str(replicas), "must be an integer")])
    too_many = replicas_limit_error("spec.replicas", replicas)
    if replicas < 0 or too_many is not None:
        raise InvalidError(info.kind, name, [too_many or FieldError("spec.replicas", INVALID, replicas,
                                                                     "must be greater than or equal to 0")])
    if info.kind not in _SCALABLE:
        raise KubelearnError("Error from server (NotFound): the server could not find the requested resource")
    obj = copy.deepcopy(cluster.get(info.kind, name, namespace))
    if obj["spec"].get("replicas") != replicas:
        obj["spec"]["replicas"] = replicas
        bump_generation(obj)
        cluster = cluster.with_object(obj)
    return reconcile(cluster)


def delete_pod(cluster: Cluster, name: str, namespace: str = "default", grace: bool = False) -> Cluster:
    """``kubectl delete pod NAME``.

    ``grace=False`` removes the pod (``--grace-period=0 --force``).  ``grace=True`` is the
    normal delete: the pod gets ``deletionTimestamp`` = now + its
    ``terminationGracePeriodSeconds`` (30 by default) and stays in its Service's
    EndpointSlices as ``ready: false, serving: <still Ready>, terminating: true`` until
    :func:`advance` passes that deadline.  Either way its ReplicaSet creates a replacement at
    once (new name); a StatefulSet recreates the same name only after the old pod is gone.

    Raises:
        NotFoundError: ``Error from server (NotFound): pods "x" not found``.
    """
    pod = cluster.get("Pod", name, namespace)
    if grace:
        cluster = store(cluster, [graceful_delete(cluster, pod)])
    else:
        cluster = cluster.without("Pod", name, namespace)
    return reconcile(cluster)


def _with_ready(pod: Mapping[str, Any], ready: bool, now: str, containers_too: bool = True) -> dict[str, Any]:
    new = copy.deepcopy(dict(pod))
    names = [c["name"] for c in objects.spec(new).get("containers") or ()]
    conds = new.setdefault("status", {}).setdefault("conditions", [])
    for cond in conds:
        if cond.get("type") == "Ready" or (containers_too and cond.get("type") == "ContainersReady"):
            status = "True" if ready else "False"
            if cond.get("status") != status:
                cond["lastTransitionTime"] = now
            cond["status"] = status
            if ready:
                cond.pop("message", None)
                cond.pop("reason", None)
            elif containers_too:
                cond["message"] = f"containers with unready status: [{' '.join(names)}]"
                cond["reason"] = "ContainersNotReady"
    if containers_too:
        for cs in new["status"].get("containerStatuses") or ():
            cs["ready"] = ready
    return new


def set_ready(cluster: Cluster, pod: str, ready: bool, namespace: str = "default") -> Cluster:
    """Flip a pod's ``Ready`` condition, as a failing (or recovering) readiness probe does.

    The pod keeps running and keeps its IP; its endpoint turns ``ready: false,
    serving: false`` (or back), and it stays that way across reconciles.

    Raises:
        NotFoundError: when the pod does not exist.
        KubelearnError: when the pod is not running (nothing to probe).
    """
    obj = cluster.get("Pod", pod, namespace)
    if objects.status(obj).get("phase") != "Running":
        raise KubelearnError(f'pod "{pod}" is not running (phase {objects.status(obj).get("phase", "Pending")}): '
                             "it has no containers whose readiness could change")
    cluster = store(cluster, [_with_ready(obj, ready, cluster.timestamp())])
    return reconcile(cluster)


def _node(cluster: Cluster, node: str) -> dict[str, Any]:
    return copy.deepcopy(cluster.get("Node", node))


def cordon(cluster: Cluster, node: str) -> Cluster:
    """``kubectl cordon NODE``: ``spec.unschedulable: true`` (and the
    ``node.kubernetes.io/unschedulable:NoSchedule`` taint the node lifecycle controller adds).
    Running pods stay; new pods go elsewhere."""
    obj = _node(cluster, node)
    obj["spec"]["unschedulable"] = True
    taints = obj["spec"].setdefault("taints", [])
    if not any(t.get("key") == "node.kubernetes.io/unschedulable" for t in taints):
        taints.append({"effect": "NoSchedule", "key": "node.kubernetes.io/unschedulable",
                       "timeAdded": cluster.timestamp()})
    return reconcile(store(cluster, [obj]))


def uncordon(cluster: Cluster, node: str) -> Cluster:
    """``kubectl uncordon NODE``: the node takes new pods again (Pending ones are retried)."""
    obj = _node(cluster, node)
    obj["spec"].pop("unschedulable", None)
    taints = [t for t in obj["spec"].get("taints") or () if t.get("key") != "node.kubernetes.io/unschedulable"]
    if taints:
        obj["spec"]["taints"] = taints
    else:
        obj["spec"].pop("taints", None)
    return reconcile(store(cluster, [obj]))


_NO_CONTROLLER = "cannot delete cannot delete Pods that declare no controller (use --force to override)"


def drain(cluster: Cluster, node: str, force: bool = False) -> Cluster:
    """``kubectl drain NODE --ignore-daemonsets``: cordon, then evict every pod on the node.

    Evicted pods are deleted gracefully (Terminating, still serving, until their grace
    period passes) and their controllers create replacements on other nodes.  DaemonSet and
    mirror (static) pods stay.  PodDisruptionBudgets are not modelled.

    Args:
        cluster: the cluster.
        node: the node's name.
        force: also delete pods that no controller owns (``--force``); they are not replaced.

    Raises:
        NotFoundError: ``Error from server (NotFound): nodes "x" not found``.
        KubelearnError: kubectl's refusal when bare pods are on the node and ``force`` is
            false (kubectl 1.33 really prints "cannot delete" twice).  A real kubectl leaves the
            node cordoned in that case; kubelearn's cluster is left unchanged.
    """
    cluster.get("Node", node)
    pods = [p for p in cluster.pods() if objects.node_name(p) == node and not is_terminating(p)]
    evict, bare = [], []
    for pod in pods:
        ref = controller_of(pod)
        if "kubernetes.io/config.mirror" in (pod["metadata"].get("annotations") or {}):
            continue
        if ref is not None and ref.get("kind") == "DaemonSet":
            continue
        if ref is None:
            bare.append(pod)
            if not force:
                continue
        evict.append(pod)
    if bare and not force:
        names = ", ".join(f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in bare)
        raise KubelearnError(
            f'error: unable to drain node "{node}" due to error: {_NO_CONTROLLER}: {names}, continuing command...\n'
            f"There are pending nodes to be drained:\n {node}\n{_NO_CONTROLLER}: {names}")
    cluster = cordon(cluster, node)
    cluster = store(cluster, [graceful_delete(cluster, cluster.get("Pod", objects.name(p), objects.namespace(p)))
                              for p in evict])
    return reconcile(cluster)


_NODE_CONDITIONS = ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")


def fail_node(cluster: Cluster, node: str) -> Cluster:
    """The node stops answering (power cut, kubelet crash, network partition).

    The node lifecycle controller sets every node condition to ``Unknown`` ("Kubelet stopped
    posting node status."), taints the node ``node.kubernetes.io/unreachable`` (NoSchedule
    and NoExecute) and marks its pods not Ready, so they leave the Services' ready endpoints;
    the taint manager then evicts them and their controllers create replacements on other
    nodes.  The evicted pods stay Terminating (nobody can confirm they stopped), and a
    StatefulSet therefore does *not* recreate its pods until the node comes back.

    Simplification: on a real cluster the node turns NotReady only after
    :data:`NODE_MONITOR_GRACE_PERIOD` seconds of silence, and eviction waits another
    :data:`DEFAULT_TOLERATION_SECONDS`; here both happen at once (the traffic simulator owns time).

    Raises:
        NotFoundError: when the node does not exist.
    """
    obj = _node(cluster, node)
    now = cluster.timestamp()
    conds = obj.setdefault("status", {}).setdefault("conditions", [])
    for ctype in _NODE_CONDITIONS:
        cond = next((c for c in conds if c.get("type") == ctype), None)
        if cond is None:
            cond = {"type": ctype}
            conds.append(cond)
        if cond.get("status") != "Unknown":
            cond["lastTransitionTime"] = now
        cond.update({"message": "Kubelet stopped posting node status.", "reason": "NodeStatusUnknown",
                     "status": "Unknown"})
    taints = [t for t in obj["spec"].get("taints") or () if t.get("key") != "node.kubernetes.io/unreachable"]
    taints += [{"effect": "NoSchedule", "key": "node.kubernetes.io/unreachable", "timeAdded": now},
               {"effect": "NoExecute", "key": "node.kubernetes.io/unreachable", "timeAdded": now}]
    obj["spec"]["taints"] = taints
    cluster = store(cluster, [obj])
    updates = []
    for pod in cluster.pods():
        if objects.node_name(pod) != node:
            continue
        new = _with_ready(pod, False, now, containers_too=False)
        ref = controller_of(new)
        if ref is None or ref.get("kind") != "DaemonSet":
            new = graceful_delete(cluster, new)
        updates.append(new)
    return reconcile(store(cluster, updates))


def recover_node(cluster: Cluster, node: str) -> Cluster:
    """The node's kubelet answers again: conditions back to healthy, unreachable taints
    removed.  Pods that were evicted finish terminating once their deadline has passed
    (see :func:`advance`)."""
    obj = _node(cluster, node)
    now = cluster.timestamp()
    healthy = {
        "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
        "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
        "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
        "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
    }
    for cond in objects.status(obj).get("conditions") or ():
        if cond.get("type") in healthy:
            status, reason, message = healthy[cond["type"]]
            if cond.get("status") != status:
                cond["lastTransitionTime"] = now
            cond.update({"status": status, "reason": reason, "message": message})
    taints = [t for t in obj["spec"].get("taints") or ()
              if t.get("key") not in ("node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready")]
    if taints:
        obj["spec"]["taints"] = taints
    else:
        obj["spec"].pop("taints", None)
    cluster = store(cluster, [obj])
    updates = [_with_ready(p, True, now, containers_too=False) for p in cluster.pods()
               if objects.node_name(p) == node and not is_terminating(p) and not is_pod_ready(p)
               and all(cs.get("ready", True) for cs in objects.status(p).get("containerStatuses") or ())]
    return reconcile(store(cluster, updates))


def rollout(cluster: Cluster, name: str, template_change: TemplateChange, namespace: str = "default") -> Cluster:
    """Change a Deployment's pod template and let the rollout run to the end.

    ``template_change`` is a callable ``template -> new template`` or a mapping merged into
    the template (containers matched by name), e.g.
    ``{"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}``.

    Raises:
        NotFoundError: when the Deployment does not exist.
    """
    cluster, _ = with_template(cluster, name, template_change, namespace)
    return reconcile(cluster)


def set_image(cluster: Cluster, name: str, image: str, container: str | None = None,
              namespace: str = "default") -> Cluster:
    """``kubectl set image deployment/NAME CONTAINER=IMAGE`` (every container when
    ``container`` is ``None``, like ``*=IMAGE``), then the rollout runs to the end.

    Raises:
        NotFoundError: when the Deployment does not exist.
        KubelearnError: ``error: unable to find container named "x"``.
    """
    dep = cluster.get("Deployment", name, namespace)
    names = [c["name"] for c in dep["spec"]["template"]["spec"].get("containers") or ()]
    if container is not None and container not in names:
        raise KubelearnError(f'error: unable to find container named "{container}"')

    def change(template: dict[str, Any]) -> dict[str, Any]:
        for c in template["spec"].get("containers") or ():
            if container is None or c["name"] == container:
                c["image"] = image
        return template

    return rollout(cluster, name, change, namespace)


# ----------------------------------------------------------- kubectl apply / delete
def apply(cluster: Cluster, *sources: Source) -> Cluster:
    """``kubectl apply -f``: create or update every object, then let the controllers react.

    Args:
        cluster: the cluster to apply to (unchanged; a new one is returned).
        *sources: paths (files or directories), YAML text, or object dicts.

    Returns:
        The new cluster.

    Raises:
        ManifestError: input that is not Kubernetes objects, or a topology document (those
            describe a cluster to build: use :func:`load`).
        ApplyError: every refused object, each in kubectl's words; nothing is applied.
    """
    docs = read_documents(*sources)
    if not docs:
        raise ManifestError("error: no objects passed to apply")
    for d in docs:
        if is_cluster_config(d):
            raise ManifestError(f"a {d.kind} document describes a cluster to build; give it to load(), not apply()",
                                source=d.source, document=d.index, line=d.line)
    return reconcile(admit(cluster, docs))


def delete(cluster: Cluster, kind: str, name: str, namespace: str = "default") -> Cluster:
    """``kubectl delete KIND NAME``: remove an object, then its dependents, then reconcile.

    Deleting a Namespace removes everything in it; deleting an owner (Deployment, ReplicaSet,
    StatefulSet, Service) removes the objects whose ``ownerReferences`` point at it, as the
    garbage collector does.  Controllers then react (a Pod deleted from a ReplicaSet is
    replaced).

    Raises:
        NotFoundError: ``Error from server (NotFound): services "x" not found``.
    """
    info = kind_info(kind)
    ns = namespace if info.namespaced else ""
    key = (info.kind, ns, name)
    if key not in cluster.objects:
        raise NotFoundError(info.resource, name, namespace if info.namespaced else None)
    # One batch removal: deleting a Deployment with 10 000 pods one object at a time would
    # copy the object table 10 000 times.
    return reconcile(remove(cluster, dependents(cluster, key)))
