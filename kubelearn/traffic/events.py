"""Events over time: the cluster changes, and every node learns about it a little later.

When a pod is deleted, scaled away or fails its readiness probe, nothing on the nodes changes
at that instant.  The EndpointSlice controller first updates the Service's EndpointSlices;
then kube-proxy on *each node* notices and rewrites its rules at its next sync, which is
rate-limited by ``minSyncPeriod`` (``iptables.minSyncPeriod`` / ``nftables.minSyncPeriod``,
1 s on kind; ``ipvs.minSyncPeriod``, 0 s; ``syncPeriod``, 30 s, is only the periodic full resync).  In that window a node still sends new connections to the old
endpoint, and they fail: exactly what learners should see before they reach for
``preStop`` hooks and readiness gates.

kubelearn models this with two clocks:

- the **truth**: the sequence of cluster snapshots, one per event, which says which pods
  exist, listen and are reachable at any instant;
- each **node's view**: the snapshot its kube-proxy last synced, which decides where its
  rules send a new connection.  A node adopts snapshot *k* at ``T_k + endpointSliceSeconds
  + U_k,n`` with ``U_k,n`` uniform in ``[0, minSyncPeriod)`` from the run's seed (the phase
  of that node's rate limiter), never before it adopted snapshot *k - 1*.

Event semantics (simplifications said here): ``deletePod`` with ``grace`` leaves the pod
Terminating and serving until its ``deletionTimestamp`` (now + ``terminationGracePeriodSeconds``,
30 by default), then it is killed and removed; without ``grace`` it is gone at once.  The same
holds for the old pods a rollout or a scale-down leaves Terminating.  ``crashPod`` stops the process at once
(new connections are refused, open ones reset); the kubelet notices the exited container
within its 1 s relist (:data:`KUBELET_RELIST_SECONDS`) and the pod turns NotReady, whatever
its readiness probe says (probes matter for a process that hangs: model that with
``setReady``); the container is not restarted.  ``failNode`` makes the node and its pods unreachable at once
(connections through or to it time out); its pods are replaced as the controllers decide.
``rollout`` applies the controller's rolling-update steps ``stepSeconds`` apart (default 5);
each step is fitted to its real time (old pods it starts terminating get their deadline from
then; pods whose grace period ended in between stay gone).

A run's log lists the changes in ``attrs["events"]`` (:func:`event_records`): plain dicts
with ``time``, a human ``label`` (``scale web to 5``, ``delete pod web-…``, ``rollout web
step 2/6``), ``action`` and ``end``, when the last node adopted the change: the propagation
window :func:`kubelearn.plots.plot_traffic` shades.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from .. import objects
from ..cluster import EPOCH, Cluster
from ..errors import KubelearnError
from .workload import Event

__all__ = ["Snapshot", "Timeline", "build_timeline", "event_records", "min_sync_period", "parse_duration"]


@dataclass(frozen=True)
class Snapshot:
    """The truth from ``time`` on: the cluster, crashed pods (``ns/name``) and lost nodes."""

    time: float
    cluster: Cluster
    crashed: frozenset[str] = frozenset()
    failed_nodes: frozenset[str] = frozenset()
    label: str = "start"
    action: str = ""


@dataclass
class Timeline:
    """Every snapshot and, per node, when its kube-proxy adopted each one."""

    snapshots: list[Snapshot]
    nodes: list[str]
    adopt: np.ndarray  # shape (len(snapshots), len(nodes)): time node n adopts snapshot k
    times: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.times = np.array([s.time for s in self.snapshots], dtype=np.float64)

    def truth_index(self, t: np.ndarray) -> np.ndarray:
        """Index of the true snapshot at each time."""
        return np.searchsorted(self.times, t, side="right") - 1

    def view_index(self, node: int, t: np.ndarray) -> np.ndarray:
        """Index of the snapshot node ``node``'s kube-proxy uses at each time."""
        return np.searchsorted(self.adopt[:, node], t, side="right") - 1


def parse_duration(value: Any, default: float) -> float:
    """A Go duration string (``1s``, ``500ms``, ``1m30s``) or a number, in seconds."""
    if value is None or value == "":
        return default
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value)
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total, num = 0.0, ""
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isdigit() or ch == ".":
            num += ch
            i += 1
            continue
        unit = text[i:i + 2] if text[i:i + 2] in units else ch
        if unit not in units or not num:
            raise KubelearnError(f'error: invalid duration "{text}"')
        total += float(num) * units[unit]
        num = ""
        i += len(unit)
    if num:
        raise KubelearnError(f'error: invalid duration "{text}": missing unit')
    return total


def _pod(cluster: Cluster, name: str, ns: str) -> dict[str, Any]:
    return cluster.get("Pod", name, ns)


#: How soon the kubelet notices that a container exited: its pod lifecycle event generator
#: relists containers every second.  A container that is not running is never ready, so the pod
#: turns NotReady then, whatever its readiness probe says (probes only matter for a process
#: that hangs while its container keeps running: model that with a ``setReady`` event).
KUBELET_RELIST_SECONDS = 1.0


def min_sync_period(cluster: Cluster, mode: str | None = None) -> float:
    """kube-proxy's ``minSyncPeriod`` in seconds for the proxy mode being run.

    ``KubeProxyConfiguration`` keeps it per mode, under ``iptables.minSyncPeriod``,
    ``nftables.minSyncPeriod`` or ``ipvs.minSyncPeriod`` (kind sets 1 s for iptables and
    nftables; IPVS defaults to 0 s, a sync on every change).

    Args:
        cluster: the cluster whose KubeProxyConfiguration is read.
        mode: ``iptables``, ``nftables`` or ``ipvs`` (default: the cluster's mode).
    """
    mode = mode or cluster.proxy_mode
    section = cluster.proxy_config.get(mode) or {}
    default = 0.0 if mode == "ipvs" else 1.0
    return parse_duration(section.get("minSyncPeriod") if isinstance(section, dict) else None, default)


def build_timeline(cluster: Cluster, events: tuple[Event, ...] | list[Event], *, seed: int,
                   endpoint_slice_seconds: float = 0.1, min_sync_seconds: float | None = None,
                   mode: str | None = None) -> Timeline:
    """Apply the events in order and work out when each node sees each snapshot.

    Args:
        cluster: the cluster at time 0.
        events: the workload's events (any order; applied by time).
        seed: mixed with ``"traffic/sync"`` for the nodes' sync phases.
        endpoint_slice_seconds: delay before the EndpointSlices reflect a change.
        min_sync_seconds: kube-proxy's ``minSyncPeriod`` (default: from the cluster's
            KubeProxyConfiguration, the section of ``mode``; see :func:`min_sync_period`).
        mode: the kube-proxy mode simulated (default: the cluster's).

    Raises:
        KubelearnError: for an event naming a missing object (kubectl's NotFound wording).
    """
    if min_sync_seconds is None:
        min_sync_seconds = min_sync_period(cluster, mode)
    pending: list[tuple[float, int, str, dict[str, Any]]] = [
        (float(e.at), i, e.action, dict(e.args)) for i, e in enumerate(events)]
    snaps = [Snapshot(0.0, cluster)]
    seq = len(pending)
    removals: set[tuple[str, str]] = set()
    gone: set[tuple[str, str]] = set()
    seq = _schedule_removals(cluster, 0.0, pending, removals, seq)
    while pending:
        pending.sort(key=lambda p: (p[0], p[1]))
        if pending[0][0] < snaps[-1].time:  # pragma: no cover - events are queued in time order
            raise KubelearnError("error: internal: events out of time order")
        at, _, action, args = pending.pop(0)
        cur = snaps[-1]
        c = cur.cluster.at(at)
        crashed, failed = set(cur.crashed), set(cur.failed_nodes)
        ns = str(args.get("namespace", "default"))
        label, kind = _label(action, args), action
        if action == "scale":
            c = c.scale(args["deployment"], int(args["replicas"]), namespace=ns)
        elif action == "deletePod":
            c = c.delete_pod(args["name"], namespace=ns, grace=bool(args.get("grace", False)))
        elif action == "_removePod":
            kind = "removePod"
            c = _advance(c, at)
            if c.has("Pod", args["name"], ns) and c.get("Pod", args["name"], ns)["metadata"].get("deletionTimestamp"):
                c = c.without("Pod", args["name"], ns)  # the stand-in-free fallback: the kubelet confirmed it
        elif action == "setReady":
            c = c.set_ready(args["pod"], bool(args["ready"]), namespace=ns)
        elif action == "crashPod":
            crashed.add(f"{ns}/{args['name']}")
            seq += 1
            _pod(c, args["name"], ns)  # the pod must exist
            pending.append((at + KUBELET_RELIST_SECONDS, seq, "setReady",
                            {"pod": args["name"], "ready": False, "namespace": ns, "_crashed": True}))
        elif action == "rollout":
            from ..controllers.rollout import rollout_steps  # lazy: controllers build on the cluster model

            steps = rollout_steps(c, args["deployment"], args["template"], ns)
            step = float(args.get("stepSeconds", 5))
            if not steps:
                continue
            c = steps[0].at(at)
            total = len(steps)
            label = f"rollout {args['deployment']} step 1/{total}"
            # later steps happen in time order with everything else (a grace period may end between them)
            for j, sc in enumerate(steps[1:], start=2):
                seq += 1
                pending.append((at + (j - 1) * step, seq, "_rolloutStep",
                                {"cluster": sc, "label": f"rollout {args['deployment']} step {j}/{total}"}))
        elif action == "_rolloutStep":
            # the step was planned at the rollout's start: pods whose grace period has ended since are gone
            c = _advance(_restamp(args["cluster"].at(at), snaps[-1].cluster, at, gone), at)
            label, kind = args["label"], "rollout"
        elif action == "cordon":
            c = c.cordon(args["node"])
        elif action == "failNode":
            failed.add(str(args["node"]))
            c = c.fail_node(args["node"])
        else:
            raise KubelearnError(f'error: unknown event "{action}"')
        prev_pods = {(p["metadata"].get("namespace", "default"), objects.name(p)) for p in cur.cluster.pods(None)}
        gone |= prev_pods - {(p["metadata"].get("namespace", "default"), objects.name(p)) for p in c.pods(None)}
        snaps.append(Snapshot(at, c, frozenset(crashed), frozenset(failed), label, kind))
        seq = _schedule_removals(c, at, pending, removals, seq)
    nodes = [objects.name(n) for n in cluster.nodes()]
    rng = np.random.default_rng([cluster.seed & 0xFFFFFFFF, seed & 0xFFFFFFFF, _stable("traffic/sync")])
    adopt = np.empty((len(snaps), len(nodes)), dtype=np.float64)
    adopt[0, :] = -np.inf
    for k in range(1, len(snaps)):
        phase = rng.uniform(0.0, min_sync_seconds, size=len(nodes)) if min_sync_seconds > 0 else np.zeros(len(nodes))
        adopt[k] = np.maximum(adopt[k - 1], snaps[k].time + endpoint_slice_seconds + phase)
    return Timeline(snaps, nodes, adopt)


def _label(action: str, args: dict[str, Any]) -> str:
    """The human caption of one change, e.g. ``scale my-app to 5`` or ``delete pod my-app-…``."""
    a = args
    if action == "scale":
        return f"scale {a['deployment']} to {a['replicas']}"
    if action == "deletePod":
        return f"delete pod {a['name']}" + (" (graceful)" if a.get("grace") else "")
    if action == "_removePod":
        return f"pod {a['name']} removed (grace period over)"
    if action == "setReady":
        state = "ready" if a["ready"] else "not ready"
        return f"pod {a['pod']} {state}" + (" (its container exited)" if a.get("_crashed") else "")
    if action == "crashPod":
        return f"pod {a['name']} crashes"
    if action == "rollout":
        return f"rollout {a['deployment']}"
    if action == "cordon":
        return f"cordon {a['node']}"
    if action == "failNode":
        return f"node {a['node']} fails"
    return action


def event_records(tl: Timeline) -> list[dict[str, Any]]:
    """The timeline's changes as plain, JSON-ready dicts (what ``DataFrame.attrs["events"]`` holds).

    Each has ``time`` (s, when the truth changed), ``label`` (a human caption), ``action``
    (the workload action; ``removePod`` when a grace period ends) and ``end``: when the last
    node's kube-proxy adopted the change, the end of the *propagation window* (nodes lost by
    then are left out: their rules no longer matter).
    """
    out: list[dict[str, Any]] = []
    for k in range(1, len(tl.snapshots)):
        snap = tl.snapshots[k]
        live = [i for i, n in enumerate(tl.nodes) if n not in snap.failed_nodes]
        end = float(np.max(tl.adopt[k, live])) if live else snap.time
        out.append({"time": float(snap.time), "label": snap.label, "action": snap.action or snap.label,
                    "end": max(end, float(snap.time))})
    return out


def _restamp(step: Cluster, before: Cluster, now: float, gone: set[tuple[str, str]]) -> Cluster:
    """Fit a rollout step planned at the rollout's start to the step's real time.

    Pods it starts terminating get their deadline from now; pods already terminating keep
    theirs; pods whose grace period ended since the plan was made stay gone.
    """
    changed = []
    for pod in step.pods(None):
        meta = pod["metadata"]
        ns = meta.get("namespace", "default")
        if (ns, meta["name"]) in gone:
            step = step.without("Pod", meta["name"], ns)
            continue
        if not meta.get("deletionTimestamp"):
            continue
        prev = before.get("Pod", meta["name"], ns) if before.has("Pod", meta["name"], ns) else None
        if prev is not None and prev["metadata"].get("deletionTimestamp"):
            # already terminating: keep the deadline it got when it started (an earlier step's real time)
            if prev["metadata"]["deletionTimestamp"] != meta["deletionTimestamp"]:
                changed.append(dict(pod, metadata=dict(meta, deletionTimestamp=prev["metadata"]["deletionTimestamp"])))
            continue
        grace = float(meta.get("deletionGracePeriodSeconds",
                               pod.get("spec", {}).get("terminationGracePeriodSeconds", 30)))
        changed.append(dict(pod, metadata=dict(meta, deletionTimestamp=step.timestamp(now + grace))))
    return step.with_objects(changed) if changed else step


def _advance(cluster: Cluster, now: float) -> Cluster:
    """The controllers at ``now``: due graceful deletions finish, without finishing a rollout."""
    from ..controllers.manager import advance  # lazy: controllers build on the cluster model

    return advance(cluster, now)


def _schedule_removals(cluster: Cluster, now: float, pending: list[tuple[float, int, str, dict[str, Any]]],
                       done: set[tuple[str, str]], seq: int) -> int:
    """Queue the end of every Terminating pod's grace period (its ``deletionTimestamp``): the kubelet
    kills it then, and the API server removes it."""
    for pod in cluster.pods(None):
        meta = pod["metadata"]
        stamp = meta.get("deletionTimestamp")
        key = (meta.get("namespace", "default"), meta["name"])
        if not stamp or key in done:
            continue
        done.add(key)
        deadline = (datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) - EPOCH).total_seconds()
        seq += 1
        pending.append((max(deadline, now), seq, "_removePod", {"name": meta["name"], "namespace": key[0]}))
    return seq


def _stable(text: str) -> int:
    """A stable 32-bit integer for a string (Python's hash() is salted per process)."""
    import zlib

    return zlib.crc32(text.encode())
