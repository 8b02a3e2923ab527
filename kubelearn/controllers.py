"""Controllers as pure functions of state: ``reconcile(cluster) -> cluster``.

Kubernetes has no central program that "runs the cluster".  Each controller watches the
objects it cares about, compares what is *desired* (a Deployment's ``replicas``, a Service's
``selector``) with what *is* (the pods that exist), and writes API objects to close the gap.
kubelearn runs the same controllers as functions from one :class:`~kubelearn.cluster.Cluster`
to the next until nothing changes: the garbage collector (owners gone, graceful deletions
due), the Deployment/ReplicaSet/StatefulSet controllers (:mod:`kubelearn.workloads`), the
scheduler and kubelet (:mod:`kubelearn.scheduler`), then the EndpointSlice controller
(:mod:`kubelearn.endpointslices`).  The learner's edits (``scale``, ``delete_pod``,
``set_ready``, ``cordon``, ``drain``, ``fail_node`` …) change the desired state or the world,
then reconcile.  Time moves only when you say so: :func:`advance` moves the clock and lets
graceful deletions finish; :func:`rollout_steps` shows a rolling update step by step.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

from .cluster import Cluster, kind_info
from .endpointslices import sync_endpoints
from .errors import KubelearnError
from .scheduler import is_node_ready, schedule
from .workloads import (
    change_template,
    controller_of,
    deployment_strategy_limits,
    ensure_new_replicaset,
    graceful_delete,
    is_pod_ready,
    is_terminating,
    owned_replicasets,
    parse_time,
    remove,
    set_rs_replicas,
    store,
    sync_deployments,
    sync_replicasets,
    sync_statefulsets,
    update_workload_statuses,
)

__all__ = [
    "DEFAULT_TOLERATION_SECONDS",
    "NODE_MONITOR_GRACE_PERIOD",
    "RolloutSteps",
    "advance",
    "cordon",
    "delete_pod",
    "drain",
    "fail_node",
    "reconcile",
    "recover_node",
    "rollout",
    "rollout_steps",
    "scale",
    "set_image",
    "set_ready",
    "uncordon",
]

#: Seconds without a kubelet heartbeat before the node lifecycle controller marks a node
#: NotReady (``--node-monitor-grace-period``; 40 s before Kubernetes 1.32, 50 s since).
#: :func:`fail_node` skips this wait.
NODE_MONITOR_GRACE_PERIOD = 50
#: ``tolerationSeconds`` the DefaultTolerationSeconds admission plugin gives every pod for
#: the ``not-ready``/``unreachable`` NoExecute taints: eviction starts 300 s after the taint.
#: :func:`fail_node` evicts at once.
DEFAULT_TOLERATION_SECONDS = 300

# Each round makes progress (an OrderedReady StatefulSet needs one per pod); a cluster that
# still changes after this many rounds (plus one per StatefulSet replica) means two
# controllers fight: a kubelearn bug.
_MAX_ROUNDS = 100
_SCALABLE = ("Deployment", "ReplicaSet", "StatefulSet")


# ---------------------------------------------------------------- reconcile
class _NotConverging(KubelearnError, RuntimeError):
    """Controllers that keep rewriting each other's objects (a kubelearn bug, not yours)."""

    def __init__(self, rounds: int) -> None:
        super().__init__(f"kubelearn: the controllers did not settle after {rounds} rounds "
                         "(a bug in kubelearn; please report it with the manifests)")


def _round_limit(cluster: Cluster) -> int:
    return _MAX_ROUNDS + sum(int(s.get("spec", {}).get("replicas", 1)) for s in cluster.list("StatefulSet"))


def _purge_expired(cluster: Cluster) -> Cluster:
    """Remove pods whose deletion deadline passed, if a kubelet is there to confirm it.

    A pod on a NotReady node stays Terminating for ever (its kubelet cannot report the
    containers stopped); an unscheduled pod goes at once.
    """
    nodes = {n["metadata"]["name"]: n for n in cluster.nodes()}
    gone = []
    for pod in cluster.pods():
        ts = pod["metadata"].get("deletionTimestamp")
        if not ts:
            continue
        node = nodes.get(pod.get("spec", {}).get("nodeName") or "")
        if node is not None and not is_node_ready(node):
            continue
        if node is None or cluster.now >= parse_time(ts):
            gone.append(pod)
    return remove(cluster, gone)


def _collect_garbage(cluster: Cluster) -> Cluster:
    """Delete ReplicaSets and pods whose controlling owner no longer exists, and pods bound
    to a Node that no longer exists (the pod garbage collector's "orphaned pods").

    Simplification: the garbage collector deletes dependent pods gracefully on a real
    cluster; kubelearn removes them at once.
    """
    nodes = {n["metadata"]["name"] for n in cluster.nodes()}
    cluster = remove(cluster, [pod for pod in cluster.pods()
                               if pod.get("spec", {}).get("nodeName") and pod["spec"]["nodeName"] not in nodes])
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


def reconcile(cluster: Cluster) -> Cluster:
    """Run every controller until the cluster is stable.

    Idempotent: ``reconcile(reconcile(c))`` holds exactly the same objects (same
    ``resourceVersion``) as ``reconcile(c)``.  A rollout in progress is completed at once
    (see :func:`rollout_steps` for its steps).
    """
    return _run(cluster, (_purge_expired, _collect_garbage, sync_deployments, sync_replicasets,
                          sync_statefulsets, schedule))


def _settle(cluster: Cluster) -> Cluster:
    """Everything but the Deployment controller (used between rollout steps)."""
    return _run(cluster, (_collect_garbage, sync_replicasets, sync_statefulsets, schedule))


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
        raise _NotConverging(limit)
    cluster = update_workload_statuses(cluster)
    return sync_endpoints(cluster)


def advance(cluster: Cluster, now: float) -> Cluster:
    """Move the clock to ``now`` seconds and let graceful deletions that are due finish.

    The ReplicaSet and StatefulSet controllers, the scheduler and the EndpointSlice controller
    then react (a StatefulSet recreates a pod once the old one is gone).  Unlike
    :func:`reconcile` this does not run the Deployment controller, so it can be used on the
    intermediate states of :func:`rollout_steps` without finishing the rollout.
    """
    return _settle(_purge_expired(cluster.at(now)))


# ------------------------------------------------------------------ edits
def _bump_generation(obj: dict[str, Any]) -> None:
    meta = obj["metadata"]
    meta["generation"] = int(meta.get("generation", 1)) + 1


def scale(cluster: Cluster, name: str, replicas: int, namespace: str = "default", kind: str = "Deployment") -> Cluster:
    """``kubectl scale deployment NAME --replicas=N`` (``kind`` may be ReplicaSet or StatefulSet).

    Scaling down deletes the surplus pods gracefully, as the ReplicaSet controller does (the
    pods it picks are described in :func:`kubelearn.workloads.rank_pods_for_deletion`; a
    StatefulSet picks the highest ordinals): each gets ``deletionTimestamp`` = now + its
    ``terminationGracePeriodSeconds`` and stays Terminating (``kubectl get pods`` says so; its
    EndpointSlice entry is ``ready: false, serving: <its readiness>, terminating: true``) until
    :func:`advance` passes that deadline.  Scaling a ReplicaSet a Deployment owns is undone by
    the Deployment controller, as on a real cluster.

    Raises:
        KubelearnError: ``error: The --replicas=COUNT flag is required, and COUNT must be
            greater than or equal to 0`` for a negative count.
        NotFoundError: ``Error from server (NotFound): deployments.apps "x" not found``.
    """
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
        raise KubelearnError(
            "error: The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    info = kind_info(kind)
    if info.kind not in _SCALABLE:
        raise KubelearnError("Error from server (NotFound): the server could not find the requested resource")
    obj = copy.deepcopy(cluster.get(info.kind, name, namespace))
    if obj["spec"].get("replicas") != replicas:
        obj["spec"]["replicas"] = replicas
        _bump_generation(obj)
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
    names = [c["name"] for c in new.get("spec", {}).get("containers") or ()]
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
    if obj.get("status", {}).get("phase") != "Running":
        raise KubelearnError(f'pod "{pod}" is not running (phase {obj.get("status", {}).get("phase", "Pending")}): '
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
    pods = [p for p in cluster.pods() if p.get("spec", {}).get("nodeName") == node and not is_terminating(p)]
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
    cluster = store(cluster, [graceful_delete(cluster, cluster.get("Pod", p["metadata"]["name"], p["metadata"]["namespace"]))
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
        if pod.get("spec", {}).get("nodeName") != node:
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
    for cond in obj.get("status", {}).get("conditions") or ():
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
               if p.get("spec", {}).get("nodeName") == node and not is_terminating(p) and not is_pod_ready(p)
               and all(cs.get("ready", True) for cs in p.get("status", {}).get("containerStatuses") or ())]
    return reconcile(store(cluster, updates))


# ---------------------------------------------------------------- rollouts
TemplateChange = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]


def _with_template(cluster: Cluster, name: str, change: TemplateChange, namespace: str) -> tuple[Cluster, bool]:
    dep = copy.deepcopy(cluster.get("Deployment", name, namespace))
    template = change_template(dep["spec"].get("template") or {}, change)
    if template == dep["spec"].get("template"):
        return cluster, False
    dep["spec"]["template"] = template
    _bump_generation(dep)
    return cluster.with_object(dep), True


def rollout(cluster: Cluster, name: str, template_change: TemplateChange, namespace: str = "default") -> Cluster:
    """Change a Deployment's pod template and let the rollout run to the end.

    ``template_change`` is a callable ``template -> new template`` or a mapping merged into
    the template (containers matched by name), e.g.
    ``{"spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}}``.

    Raises:
        NotFoundError: when the Deployment does not exist.
    """
    cluster, _ = _with_template(cluster, name, template_change, namespace)
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


class RolloutSteps(list[Cluster]):
    """The states of a rollout (a plain ``list`` of clusters) that prints as a table:
    each step's ReplicaSet sizes and how many pods are ready, or terminating."""

    def __init__(self, states: list[Cluster], deployment: str, namespace: str):
        super().__init__(states)
        self.deployment = deployment
        self.namespace = namespace

    def rows(self) -> list[dict[str, Any]]:
        """One dict per step: ``step``, ``time``, each ReplicaSet's replicas, ``ready``, ``terminating``."""
        out = []
        for i, c in enumerate(self, 1):
            dep = c.get("Deployment", self.deployment, self.namespace)
            uids = {r["metadata"]["uid"]: r["metadata"]["name"] for r in owned_replicasets(c, dep)}
            row: dict[str, Any] = {"step": i, "time": c.now}
            row.update({name: 0 for name in uids.values()})
            ready = terminating = 0
            for pod in c.pods(self.namespace):
                rs = uids.get((controller_of(pod) or {}).get("uid", ""))
                if rs is None:
                    continue
                if is_terminating(pod):
                    terminating += 1
                elif is_pod_ready(pod):
                    ready += 1
            for r in owned_replicasets(c, dep):
                row[r["metadata"]["name"]] = int(r["spec"].get("replicas", 0))
            row["ready"], row["terminating"] = ready, terminating
            out.append(row)
        return out

    def __repr__(self) -> str:
        rows = self.rows()
        if not rows:
            return f"<rollout of {self.deployment}: no change>"
        cols = list(dict.fromkeys(k for r in rows for k in r))
        widths = {c: max(len(str(c)), *(len(str(r.get(c, ""))) for r in rows)) for c in cols}
        fixed = {"step", "time", "ready", "terminating"}
        lines = ["   ".join((c.upper() if c in fixed else c).ljust(widths[c]) for c in cols)]
        lines += ["   ".join(str(r.get(c, "")).ljust(widths[c]) for c in cols) for r in rows]
        return "\n".join(line.rstrip() for line in lines)

    def _repr_html_(self) -> str:
        import html

        rows = self.rows()
        cols = list(dict.fromkeys(k for r in rows for k in r))
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(str(r.get(c, '')))}</td>" for c in cols) + "</tr>"
                       for r in rows)
        return f"<table><caption>rollout of {html.escape(self.deployment)}</caption><tr>{head}</tr>{body}</table>"


def _available_by_rs(cluster: Cluster) -> dict[str, int]:
    out: dict[str, int] = {}
    for pod in cluster.pods():
        ref = controller_of(pod)
        if ref is not None and is_pod_ready(pod) and not is_terminating(pod):
            out[ref.get("uid", "")] = out.get(ref.get("uid", ""), 0) + 1
    return out


def rollout_steps(cluster: Cluster, deployment: str, new_template: TemplateChange,
                  namespace: str = "default", step_seconds: float = 0.0) -> RolloutSteps:
    """The successive states of a rollout, one per Deployment-controller action.

    With ``strategy: RollingUpdate`` the new ReplicaSet is scaled up by at most
    ``maxSurge`` pods above ``replicas``, and old ReplicaSets (oldest first) are scaled down
    while at least ``replicas - maxUnavailable`` pods stay available (percentages round surge
    up and unavailable down; if both are 0, maxUnavailable is 1).  Old pods leave as
    Terminating pods that still serve until their grace period ends: *when* that is, and how
    long each step takes, is up to the caller (move time with :func:`advance`, which does not
    finish the rollout; :func:`reconcile` would).  New pods are Ready as soon as they are
    scheduled.  With ``strategy: Recreate`` the steps are: old pods Terminating, old pods
    gone, new pods created.

    Args:
        cluster: a reconciled cluster.
        deployment: the Deployment's name.
        new_template: a callable or a mapping merged into the template (see :func:`rollout`).
        namespace: the Deployment's namespace.
        step_seconds: time between two steps.  Step ``j`` (from 0) then happens at
            ``cluster.now + j * step_seconds``: its pods get that time in their timestamps
            (so a Terminating pod's deadline is its own step's time + grace), and pods whose
            deadline has passed by then are gone.  With 0 (the default) every step happens
            at ``cluster.now``.

    Returns:
        The states after each step (a list that prints as a table), the last one being the
        finished rollout; empty when the template does not change.
    """
    start = cluster.now
    cluster, changed = _with_template(cluster, deployment, new_template, namespace)
    if not changed:
        return RolloutSteps([], deployment, namespace)
    dep = cluster.get("Deployment", deployment, namespace)
    cluster, new_rs = ensure_new_replicaset(cluster, dep, replicas=0)
    dep = cluster.get("Deployment", deployment, namespace)
    replicas = int(dep["spec"].get("replicas", 1))
    surge, max_unavailable = deployment_strategy_limits(dep)
    new_uid = new_rs["metadata"]["uid"]
    states = RolloutSteps([], deployment, namespace)

    def current() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rss = owned_replicasets(cluster, dep)
        new = next(r for r in rss if r["metadata"]["uid"] == new_uid)
        return new, [r for r in rss if r["metadata"]["uid"] != new_uid]

    def reps(rs: Mapping[str, Any]) -> int:
        return int(rs["spec"].get("replicas", 1))

    def tick() -> Cluster:
        """The cluster at the time of the next step, with expired pods gone."""
        if not step_seconds:
            return cluster
        return _purge_expired(cluster.at(start + len(states) * step_seconds))

    if (dep["spec"].get("strategy") or {}).get("type") == "Recreate":
        _, olds = current()
        cluster = tick()
        for rs in olds:
            cluster = set_rs_replicas(cluster, rs, 0)
        cluster = _settle(cluster)
        states.append(cluster)
        old_uids = {r["metadata"]["uid"] for r in olds}
        cluster = tick()
        cluster = remove(cluster, [pod for pod in cluster.pods(namespace)
                                   if (controller_of(pod) or {}).get("uid") in old_uids])
        cluster = _settle(cluster)
        states.append(cluster)
        new, _ = current()
        cluster = tick()
        cluster = _settle(set_rs_replicas(cluster, new, replicas, dep))
        states.append(cluster)
        return states

    for _ in range(4 * replicas + 4):
        cluster = tick()
        new, olds = current()
        total = reps(new) + sum(reps(r) for r in olds)
        # Scale up the new ReplicaSet (reconcileNewReplicaSet).
        if reps(new) < replicas:
            target = min(replicas + surge - total + reps(new), replicas)
            if target > reps(new):
                cluster = _settle(set_rs_replicas(cluster, new, target, dep))
                states.append(cluster)
                continue
        # Scale down old ReplicaSets (reconcileOldReplicaSets).
        old_count = sum(reps(r) for r in olds)
        if old_count == 0:
            break
        available = _available_by_rs(cluster)
        min_available = replicas - max_unavailable
        new_unavailable = reps(new) - available.get(new_uid, 0)
        max_scaled_down = total - min_available - new_unavailable
        scaled = False
        if max_scaled_down > 0:
            # First the old ReplicaSets' unavailable pods (cleanupUnhealthyReplicas) ...
            budget = max_scaled_down
            for rs in olds:
                unhealthy = reps(rs) - available.get(rs["metadata"]["uid"], 0)
                cut = min(budget, max(unhealthy, 0))
                if cut > 0:
                    cluster = set_rs_replicas(cluster, rs, reps(rs) - cut)
                    budget -= cut
                    scaled = True
            # ... then available ones, keeping minAvailable.
            _, olds = current()
            available_all = sum(_available_by_rs(cluster).get(r["metadata"]["uid"], 0) for r in [new, *olds])
            to_cut = available_all - min_available
            for rs in olds:
                if to_cut <= 0:
                    break
                cut = min(reps(rs), to_cut)
                if cut > 0:
                    cluster = set_rs_replicas(cluster, rs, reps(rs) - cut)
                    to_cut -= cut
                    scaled = True
        if not scaled:
            break  # stalled (new pods cannot become available): the rollout waits
        cluster = _settle(cluster)
        states.append(cluster)
    return states
