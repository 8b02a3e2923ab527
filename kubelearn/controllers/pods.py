"""Workloads: Deployment → ReplicaSet → Pods, and StatefulSet → Pods.

You rarely create Pods yourself.  A **Deployment** holds a pod *template* and a replica count.
Its controller makes one **ReplicaSet** per version of the template, named
``<deployment>-<pod-template-hash>`` (``web-7c5ddbdf54``), whose controller makes the pods,
named ``<replicaset>-<5 random characters>`` (``web-7c5ddbdf54-x8kqz``), labelled with the
template's labels plus ``pod-template-hash`` and owned (``ownerReferences``) by the
ReplicaSet.  Changing the template creates a new ReplicaSet and moves the replicas over: a
*rolling update*.  A **StatefulSet** gives its pods stable identities instead: ``web-0``,
``web-1`` … with ``spec.hostname`` = the pod name and ``spec.subdomain`` = its headless
Service, so ``web-0.<service>`` resolves in DNS; it scales up from the lowest ordinal and down
from the highest.  Every "random" name comes from a generator seeded with ``cluster.seed`` and
a stable string (never Python's salted ``hash()``): same manifests and seed, same names.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
import random
import struct
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .. import objects
from ..api_resources import EPOCH, kind_info
from ..apiserver.defaults import apply_defaults
from ..objects import condition, controller_of, is_pod_ready, is_terminating

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "controller_of",
    "creation_timestamp",
    "deployment_strategy_limits",
    "generate_name",
    "graceful_delete",
    "is_active",
    "is_pod_ready",
    "is_terminal",
    "is_terminating",
    "new_pod",
    "owner_reference",
    "parse_time",
    "pod_template_hash",
    "pods_by_controller",
    "PODS_CREATED_ANNOTATION",
    "random_suffix",
    "rank_pods_for_deletion",
    "remove",
    "remove_pods",
    "SAFE_ALPHABET",
    "safe_encode",
    "stable_rng",
    "store",
]

#: The alphabet of apimachinery's ``rand.String`` and ``rand.SafeEncodeString``: no vowels
#: (no accidental words) and no look-alikes such as 0/o, 1/l, 3/e.
SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"

#: ``metadata.generateName`` names get 5 random characters; the base is cut to 58 so the
#: name stays within 63 characters (apiserver's SimpleNameGenerator).
GENERATED_SUFFIX_LENGTH = 5
MAX_GENERATE_NAME_BASE = 63 - GENERATED_SUFFIX_LENGTH

REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost"
#: How many pods a ReplicaSet has created so far (a kubelearn addition: the real controller
#: needs no memory because its suffixes are truly random).  Pod name *n* of a ReplicaSet is
#: seeded with the cluster seed, the ReplicaSet's identity and *n* only, so the same manifests
#: and seed give the same pod names whatever else was applied, and a replacement pod never
#: reuses a deleted pod's name.
PODS_CREATED_ANNOTATION = "kubelearn.dev/pods-created"
DEFAULT_GRACE_SECONDS = 30


# --------------------------------------------------------------------------- helpers
def stable_rng(seed: int, *parts: object) -> random.Random:
    """A ``random.Random`` seeded from ``seed`` and stable strings (same on every machine).

    Args:
        seed: the cluster's seed.
        *parts: anything with a stable ``str()`` (names, counters).
    """
    text = "\x1f".join([str(seed), *(str(p) for p in parts)])
    return random.Random(int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big"))


def random_suffix(rng: random.Random, length: int = GENERATED_SUFFIX_LENGTH) -> str:
    """``length`` characters from :data:`SAFE_ALPHABET`, as ``metadata.generateName`` appends."""
    return "".join(rng.choice(SAFE_ALPHABET) for _ in range(length))


def generate_name(base: str, rng: random.Random, taken: Iterable[str] | set[str]) -> str:
    """``generateName`` semantics: ``base`` (cut to 58 characters) + 5 random characters.

    Names in ``taken`` are skipped (the API server would answer AlreadyExists and the
    controller would retry with a new suffix).
    """
    taken_set = taken if isinstance(taken, set) else set(taken)
    prefix = base[:MAX_GENERATE_NAME_BASE]
    while True:
        name = prefix + random_suffix(rng)
        if name not in taken_set:
            return name


def _fnv32a(data: bytes) -> int:
    h = 2166136261
    for byte in data:
        h ^= byte
        h = (h * 16777619) & 0xFFFFFFFF
    return h


def pod_template_hash(template: Mapping[str, Any], collision_count: int | None = None) -> str:
    """The ``pod-template-hash`` label value of a pod template (``7c5ddbdf54``).

    Kubernetes hashes the template with 32-bit FNV-1a, appends the Deployment's
    ``status.collisionCount`` (4 little-endian bytes in an 8-byte buffer) when it is set, and
    "safe-encodes" the decimal digits of the hash: each digit's byte value modulo 27 picks a
    character of :data:`SAFE_ALPHABET`, so hashes only ever use ``4-9 b c d f`` and are at most
    10 characters long.  kubelearn does the same, but feeds FNV the template as canonical JSON
    (sorted keys) where Kubernetes feeds it Go's ``spew`` dump of the struct, so the *value*
    differs from a real cluster's; its shape and stability (same template, same hash, on any
    machine) are the same.

    Args:
        template: a pod template (``metadata`` + ``spec``), without ``pod-template-hash``.
        collision_count: the Deployment's ``status.collisionCount``, if any.
    """
    data = json.dumps(template, sort_keys=True, separators=(",", ":"), default=str).encode()
    if collision_count is not None:
        data += struct.pack("<I", collision_count & 0xFFFFFFFF) + b"\0\0\0\0"
    return safe_encode(str(_fnv32a(data)))


def safe_encode(text: str) -> str:
    """apimachinery's ``rand.SafeEncodeString``: each byte modulo 27 picks a character of
    :data:`SAFE_ALPHABET` (``"0123456789"`` → ``"456789bcdf"``)."""
    return "".join(SAFE_ALPHABET[b % len(SAFE_ALPHABET)] for b in text.encode())


def parse_time(ts: str) -> float:
    """Seconds since :data:`kubelearn.api_resources.EPOCH` of an RFC 3339 timestamp."""
    t = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (t - EPOCH).total_seconds()


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """A controller ``ownerReference`` pointing at ``owner``."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": objects.name(owner),
        "uid": objects.uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def is_terminal(pod: Mapping[str, Any]) -> bool:
    """Whether the pod finished for good (restartPolicy decides what "finished" means)."""
    phase = objects.status(pod).get("phase")
    policy = objects.spec(pod).get("restartPolicy", "Always")
    if policy == "Never":
        return phase in ("Succeeded", "Failed")
    if policy == "OnFailure":
        return phase == "Succeeded"
    return False


def is_active(pod: Mapping[str, Any]) -> bool:
    """Counted by a ReplicaSet: neither terminating nor terminal."""
    return not is_terminating(pod) and not is_terminal(pod)


def _strip_meta(obj: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(obj)
    meta = dict(out.get("metadata", {}))
    meta.pop("resourceVersion", None)
    out["metadata"] = meta
    return out


def store(cluster: Cluster, objs: Iterable[Mapping[str, Any]]) -> Cluster:
    """Store only the objects that differ from what the cluster holds (ignoring
    ``resourceVersion``), so a reconcile of a stable cluster changes nothing at all."""
    changed = []
    for obj in objs:
        meta = obj["metadata"]
        key_ns = meta.get("namespace", "default") if kind_info(obj["kind"]).namespaced else ""
        old = cluster.objects.get((obj["kind"], key_ns, meta["name"]))
        if old is not None:
            candidate = _strip_meta(obj)
            candidate["metadata"].setdefault("uid", old["metadata"].get("uid"))
            candidate["metadata"].setdefault("creationTimestamp", old["metadata"].get("creationTimestamp"))
            if candidate == _strip_meta(old):
                continue
        changed.append(obj)
    return cluster.with_objects(changed) if changed else cluster


def remove(cluster: Cluster, objs: Iterable[Mapping[str, Any]]) -> Cluster:
    """Remove several stored objects at once, exactly as repeated :meth:`Cluster.without`
    calls would (each removal counts one ``resourceVersion``), but copying the object table
    once instead of once per object (deleting 10 000 pods one by one is quadratic).

    Objects that are not stored are skipped.
    """
    keys = []
    for obj in objs:
        info = kind_info(obj["kind"])
        meta = obj["metadata"]
        key = (info.kind, meta.get("namespace", "default") if info.namespaced else "", meta["name"])
        if key in cluster.objects:
            keys.append(key)
    if not keys:
        return cluster
    gone = set(keys)
    objects = {k: v for k, v in cluster.objects.items() if k not in gone}
    return dataclasses.replace(cluster, objects=MappingProxyType(objects), clock=cluster.clock + len(gone))


def _qos_class(spec: Mapping[str, Any]) -> str:
    containers = list(spec.get("containers") or ())
    any_set = False
    guaranteed = True
    for c in containers:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def new_pod(
    name: str,
    namespace: str,
    template: Mapping[str, Any],
    owner: Mapping[str, Any],
    *,
    extra_labels: Mapping[str, str] | None = None,
    generate_name: str | None = None,
    spec_overrides: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A Pod as a controller creates it from a template: Pending, not yet scheduled.

    Args:
        name: the pod's name.
        namespace: its namespace (the owner's).
        template: the owner's ``spec.template``.
        owner: the owning ReplicaSet or StatefulSet (for ``ownerReferences``).
        extra_labels: labels added to the template's (``pod-template-hash`` …).
        generate_name: ``metadata.generateName`` when the name was generated.
        spec_overrides: fields set on ``spec`` (``hostname``/``subdomain`` for StatefulSets).
    """
    tmeta = template.get("metadata") or {}
    meta: dict[str, Any] = {"name": name}
    if generate_name:
        meta["generateName"] = generate_name
    meta["namespace"] = namespace
    labels = dict(tmeta.get("labels") or {})
    labels.update(extra_labels or {})
    meta["labels"] = labels
    if tmeta.get("annotations"):
        meta["annotations"] = dict(tmeta["annotations"])
    meta["ownerReferences"] = [owner_reference(owner)]
    spec = copy.deepcopy(dict(template.get("spec") or {}))
    spec.update(spec_overrides or {})
    # The API server defaults a controller's pods like any other (enableServiceLinks …).
    pod = apply_defaults({"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    pod["status"] = {"phase": "Pending", "qosClass": _qos_class(pod["spec"])}
    return pod


def pods_by_controller(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """Pods by the uid of their controller."""
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in cluster.list("Pod"):
        ref = controller_of(pod)
        if ref is not None:
            out.setdefault(ref.get("uid", ""), []).append(pod)
    return out


def creation_timestamp(obj: Mapping[str, Any]) -> str:
    return str(obj["metadata"].get("creationTimestamp", ""))


def _scaled(value: Any, total: int, round_up: bool) -> int:
    """``intstr.GetScaledValueFromIntOrPercent``: ``25%`` of ``total``, rounded as asked."""
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        pct = int(value[:-1])
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def deployment_strategy_limits(deployment: Mapping[str, Any]) -> tuple[int, int]:
    """``(maxSurge, maxUnavailable)`` as pod counts: percentages round surge up, unavailable
    down, and if both come out 0, maxUnavailable becomes 1 (``deploymentutil.ResolveFenceposts``).
    """
    spec = objects.spec(deployment)
    replicas = int(spec.get("replicas", 1))
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return 0, replicas
    ru = strategy.get("rollingUpdate") or {}
    surge = _scaled(ru.get("maxSurge", "25%"), replicas, True)
    unavailable = _scaled(ru.get("maxUnavailable", "25%"), replicas, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


# ------------------------------------------------------------ scale-down ranking
def rank_pods_for_deletion(pods: list[dict[str, Any]], all_pods: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Pods in the order a ReplicaSet deletes them when scaling down (first = first to go).

    The ReplicaSet controller's ranking (``controller.ActivePodsWithRanks``), simplified:

    1. not yet scheduled before scheduled;
    2. ``Pending`` before ``Unknown`` before ``Running``;
    3. not Ready before Ready;
    4. lower ``controller.kubernetes.io/pod-deletion-cost`` first;
    5. more sibling pods (``pods``) on the same node first (this spreads the survivors);
    6. Ready for less time first;
    7. created later first;

    then by name, so ties are deterministic (Kubernetes leaves them to chance).  Restart counts
    are not modelled (always 0).
    """
    on_node: dict[str, int] = {}
    for p in pods:
        node = objects.node_name(p)
        if node:
            on_node[node] = on_node.get(node, 0) + 1
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}

    def key(p: Mapping[str, Any]) -> tuple[Any, ...]:
        node = objects.node_name(p)
        ready = is_pod_ready(p)
        ready_since = (condition(p, "Ready") or {}).get("lastTransitionTime", "") if ready else ""
        try:
            cost = int(p["metadata"].get("annotations", {}).get(DELETION_COST_ANNOTATION, 0))
        except ValueError:
            cost = 0
        return (
            1 if node else 0,
            phase_rank.get(objects.status(p).get("phase", "Pending"), 0),
            1 if ready else 0,
            cost,
            -(on_node.get(node, 0) if node else 0),
            _Desc(ready_since),
            _Desc(creation_timestamp(p)),
            objects.name(p),
        )

    return sorted(pods, key=key)


class _Desc:
    """Sort key wrapper for descending strings (later timestamps first)."""

    __slots__ = ("v",)

    def __init__(self, v: str):
        self.v = v

    def __lt__(self, other: _Desc) -> bool:
        return self.v > other.v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and self.v == other.v


# ------------------------------------------------------------- pod deletion
def graceful_delete(cluster: Cluster, pod: Mapping[str, Any]) -> dict[str, Any]:
    """The pod as the API server stores it after a graceful DELETE.

    ``metadata.deletionTimestamp`` is the *deadline* (now + grace period) and
    ``metadata.deletionGracePeriodSeconds`` the grace period, from
    ``spec.terminationGracePeriodSeconds`` (default 30).  A pod already terminating keeps its
    deadline (a second delete cannot extend it).
    """
    new = copy.deepcopy(dict(pod))
    meta = new["metadata"]
    if meta.get("deletionTimestamp"):
        return new
    grace = int(objects.spec(new).get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))
    meta["deletionTimestamp"] = cluster.timestamp(cluster.now + grace)
    meta["deletionGracePeriodSeconds"] = grace
    return new


def remove_pods(cluster: Cluster, pods: Iterable[Mapping[str, Any]], graceful: bool = True) -> Cluster:
    """Delete pods as a controller does: gracefully (Terminating until their deadline), or at once."""
    pods = list(pods)
    if graceful:
        return store(cluster, [graceful_delete(cluster, p) for p in pods])
    return remove(cluster, pods)


