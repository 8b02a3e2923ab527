"""Rollouts step by step: the Deployment controller's moves, one state per move.

:func:`rollout_steps` changes a Deployment's pod template and returns every intermediate
cluster (a list that prints as a table: each ReplicaSet's size, ready and terminating pods),
following the Deployment controller's ``reconcileNewReplicaSet`` / ``reconcileOldReplicaSets``
within ``maxSurge`` and ``maxUnavailable``.  :func:`change_template` is how a learner's change
(a mapping merged like a strategic-merge patch, or a function) is applied to a template.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from .deployment import ensure_new_replicaset, owned_replicasets, set_rs_replicas
from .manager import purge_expired, settle
from .pods import controller_of, deployment_strategy_limits, is_pod_ready, is_terminating, remove

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "bump_generation",
    "change_template",
    "rollout_steps",
    "RolloutSteps",
    "with_template",
]


def bump_generation(obj: dict[str, Any]) -> None:
    """A spec change: the API server increments ``metadata.generation``."""
    meta = obj["metadata"]
    meta["generation"] = int(meta.get("generation", 1)) + 1


def change_template(template: Mapping[str, Any], change: Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]) -> dict[str, Any]:
    """Apply a learner's change to a pod template.

    ``change`` is either a callable (``template -> new template``) or a mapping that is merged
    into the template the way a strategic-merge patch merges maps (``containers`` entries are
    matched by ``name``).
    """
    base = copy.deepcopy(dict(template))
    if callable(change):
        return copy.deepcopy(dict(change(base)))
    return _merge(base, change)


def _merge(base: Any, patch: Any) -> Any:
    if isinstance(base, dict) and isinstance(patch, Mapping):
        out = dict(base)
        for k, v in patch.items():
            out[k] = _merge(base.get(k), v) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(x, Mapping) and "name" in x for x in [*base, *patch]):
        by_name = {x["name"]: i for i, x in enumerate(base)}
        out_list = list(base)
        for item in patch:
            if item["name"] in by_name:
                out_list[by_name[item["name"]]] = _merge(base[by_name[item["name"]]], item)
            else:
                out_list.append(copy.deepcopy(dict(item)))
        return out_list
    return copy.deepcopy(patch)


# ---------------------------------------------------------------- rollouts
TemplateChange = Mapping[str, Any] | Callable[[dict[str, Any]], Mapping[str, Any]]


def with_template(cluster: Cluster, name: str, change: TemplateChange, namespace: str) -> tuple[Cluster, bool]:
    dep = copy.deepcopy(cluster.get("Deployment", name, namespace))
    template = change_template(dep["spec"].get("template") or {}, change)
    if template == dep["spec"].get("template"):
        return cluster, False
    dep["spec"]["template"] = template
    bump_generation(dep)
    return cluster.with_object(dep), True


class RolloutSteps(list["Cluster"]):
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
            uids = {objects.uid(r): objects.name(r) for r in owned_replicasets(c, dep)}
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
                row[objects.name(r)] = int(r["spec"].get("replicas", 0))
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
    cluster, changed = with_template(cluster, deployment, new_template, namespace)
    if not changed:
        return RolloutSteps([], deployment, namespace)
    dep = cluster.get("Deployment", deployment, namespace)
    cluster, new_rs = ensure_new_replicaset(cluster, dep, replicas=0)
    dep = cluster.get("Deployment", deployment, namespace)
    replicas = int(dep["spec"].get("replicas", 1))
    surge, max_unavailable = deployment_strategy_limits(dep)
    new_uid = objects.uid(new_rs)
    states = RolloutSteps([], deployment, namespace)

    def current() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        rss = owned_replicasets(cluster, dep)
        new = next(r for r in rss if objects.uid(r) == new_uid)
        return new, [r for r in rss if objects.uid(r) != new_uid]

    def reps(rs: Mapping[str, Any]) -> int:
        return int(rs["spec"].get("replicas", 1))

    def tick() -> Cluster:
        """The cluster at the time of the next step, with expired pods gone."""
        if not step_seconds:
            return cluster
        return purge_expired(cluster.at(start + len(states) * step_seconds))

    if (dep["spec"].get("strategy") or {}).get("type") == "Recreate":
        _, olds = current()
        cluster = tick()
        for rs in olds:
            cluster = set_rs_replicas(cluster, rs, 0)
        cluster = settle(cluster)
        states.append(cluster)
        old_uids = {objects.uid(r) for r in olds}
        cluster = tick()
        cluster = remove(cluster, [pod for pod in cluster.pods(namespace)
                                   if (controller_of(pod) or {}).get("uid") in old_uids])
        cluster = settle(cluster)
        states.append(cluster)
        new, _ = current()
        cluster = tick()
        cluster = settle(set_rs_replicas(cluster, new, replicas, dep))
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
                cluster = settle(set_rs_replicas(cluster, new, target, dep))
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
                unhealthy = reps(rs) - available.get(objects.uid(rs), 0)
                cut = min(budget, max(unhealthy, 0))
                if cut > 0:
                    cluster = set_rs_replicas(cluster, rs, reps(rs) - cut)
                    budget -= cut
                    scaled = True
            # ... then available ones, keeping minAvailable.
            _, olds = current()
            available_all = sum(_available_by_rs(cluster).get(objects.uid(r), 0) for r in [new, *olds])
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
        cluster = settle(cluster)
        states.append(cluster)
    return states
