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
import marshal
import math
import random
import struct
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from .cluster import EPOCH, Cluster, kind_info
from .defaults import apply_defaults
from .labels import label_selector_matches

__all__ = [
    "PODS_CREATED_ANNOTATION",
    "SAFE_ALPHABET",
    "change_template",
    "ensure_new_replicaset",
    "graceful_delete",
    "owned_replicasets",
    "set_rs_replicas",
    "controller_of",
    "deployment_strategy_limits",
    "is_pod_ready",
    "is_terminal",
    "is_terminating",
    "new_pod",
    "parse_time",
    "pod_template_hash",
    "random_suffix",
    "rank_pods_for_deletion",
    "remove",
    "safe_encode",
    "stable_rng",
    "store",
    "sync_deployments",
    "sync_replicasets",
    "sync_statefulsets",
    "update_workload_statuses",
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
    """Seconds since :data:`kubelearn.cluster.EPOCH` of an RFC 3339 timestamp."""
    t = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return (t - EPOCH).total_seconds()


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``ownerReference`` with ``controller: true``, if any."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """A controller ``ownerReference`` pointing at ``owner``."""
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _condition(pod: Mapping[str, Any], ctype: str) -> dict[str, Any] | None:
    for cond in pod.get("status", {}).get("conditions") or ():
        if cond.get("type") == ctype:
            return dict(cond)
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """Whether the pod's ``Ready`` condition is ``"True"``."""
    cond = _condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_terminating(pod: Mapping[str, Any]) -> bool:
    """Whether the pod has a ``metadata.deletionTimestamp``."""
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def is_terminal(pod: Mapping[str, Any]) -> bool:
    """Whether the pod finished for good (restartPolicy decides what "finished" means)."""
    phase = pod.get("status", {}).get("phase")
    policy = pod.get("spec", {}).get("restartPolicy", "Always")
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


def _index_pods(cluster: Cluster) -> dict[str, list[dict[str, Any]]]:
    """Pods by the uid of their controller."""
    out: dict[str, list[dict[str, Any]]] = {}
    for pod in cluster.list("Pod"):
        ref = controller_of(pod)
        if ref is not None:
            out.setdefault(ref.get("uid", ""), []).append(pod)
    return out


def _creation(obj: Mapping[str, Any]) -> str:
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
    spec = deployment.get("spec", {})
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
        node = p.get("spec", {}).get("nodeName")
        if node:
            on_node[node] = on_node.get(node, 0) + 1
    phase_rank = {"Pending": 0, "Unknown": 1, "Running": 2}

    def key(p: Mapping[str, Any]) -> tuple[Any, ...]:
        node = p.get("spec", {}).get("nodeName")
        ready = is_pod_ready(p)
        ready_since = (_condition(p, "Ready") or {}).get("lastTransitionTime", "") if ready else ""
        try:
            cost = int(p["metadata"].get("annotations", {}).get(DELETION_COST_ANNOTATION, 0))
        except ValueError:
            cost = 0
        return (
            1 if node else 0,
            phase_rank.get(p.get("status", {}).get("phase", "Pending"), 0),
            1 if ready else 0,
            cost,
            -(on_node.get(node, 0) if node else 0),
            _Desc(ready_since),
            _Desc(_creation(p)),
            p["metadata"]["name"],
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
    grace = int(new.get("spec", {}).get("terminationGracePeriodSeconds", DEFAULT_GRACE_SECONDS))
    meta["deletionTimestamp"] = cluster.timestamp(cluster.now + grace)
    meta["deletionGracePeriodSeconds"] = grace
    return new


def _remove_pods(cluster: Cluster, pods: Iterable[Mapping[str, Any]], graceful: bool = True) -> Cluster:
    """Delete pods as a controller does: gracefully (Terminating until their deadline), or at once."""
    pods = list(pods)
    if graceful:
        return store(cluster, [graceful_delete(cluster, p) for p in pods])
    return remove(cluster, pods)


# ------------------------------------------------------------- ReplicaSets
def _rs_replicas(rs: Mapping[str, Any]) -> int:
    return int(rs.get("spec", {}).get("replicas", 1))


def _adopt_orphans(cluster: Cluster, owner: Mapping[str, Any], selector: Mapping[str, Any] | None) -> Cluster:
    """Controllers adopt matching pods that have no controller (a famous surprise: a
    hand-made pod labelled ``app: web`` becomes one of the Deployment's replicas)."""
    ns = owner["metadata"]["namespace"]
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
        if only_set is not None and rs["metadata"]["uid"] not in only_set:
            continue
        cluster = _adopt_orphans(cluster, rs, rs.get("spec", {}).get("selector"))
        rs = cluster.get("ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"])
        ns, rs_name, uid = rs["metadata"]["namespace"], rs["metadata"]["name"], rs["metadata"]["uid"]
        owned = [p for p in cluster.list("Pod", ns) if (controller_of(p) or {}).get("uid") == uid]
        active = [p for p in owned if is_active(p)]
        want = _rs_replicas(rs)
        if len(active) < want:
            taken = {p["metadata"]["name"] for p in cluster.list("Pod", ns)}
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
            cluster = _remove_pods(cluster, victims, graceful)
    return cluster


# ------------------------------------------------------------- Deployments
def _template_without_hash(rs: Mapping[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(dict(rs.get("spec", {}).get("template") or {}))
    labels = template.get("metadata", {}).get("labels")
    if labels is not None:
        labels.pop("pod-template-hash", None)
    return template


def owned_replicasets(cluster: Cluster, deployment: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Deployment's ReplicaSets, oldest first."""
    uid = deployment["metadata"]["uid"]
    ns = deployment["metadata"]["namespace"]
    rss = [rs for rs in cluster.list("ReplicaSet", ns) if (controller_of(rs) or {}).get("uid") == uid]
    return sorted(rss, key=lambda r: (_creation(r), int(r["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, 0))))


def find_new_replicaset(cluster: Cluster, deployment: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ReplicaSet whose template equals the Deployment's (ignoring ``pod-template-hash``)."""
    template = deployment["spec"].get("template") or {}
    for rs in owned_replicasets(cluster, deployment):
        if _template_without_hash(rs) == template:
            return rs
    return None


def _revision(obj: Mapping[str, Any]) -> int:
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
    ns, dname = deployment["metadata"]["namespace"], deployment["metadata"]["name"]
    rss = owned_replicasets(cluster, deployment)
    max_rev = max((_revision(r) for r in rss), default=0)
    existing = find_new_replicaset(cluster, deployment)
    if existing is not None:
        if _revision(existing) < max_rev or not existing["metadata"].get("annotations", {}).get(REVISION_ANNOTATION):
            existing = copy.deepcopy(existing)
            existing["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(max_rev + 1)
            cluster = store(cluster, [existing])
        return cluster, cluster.get("ReplicaSet", existing["metadata"]["name"], ns)
    template = deployment["spec"].get("template") or {}
    collision = deployment.get("status", {}).get("collisionCount")
    while True:
        h = pod_template_hash(template, collision)
        name = f"{dname}-{h}"
        if not cluster.has("ReplicaSet", name, ns):
            break
        collision = (collision or 0) + 1
    if collision != deployment.get("status", {}).get("collisionCount"):
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
            if r["metadata"]["uid"] != keep_uid and _rs_replicas(r) == 0]
    olds.sort(key=_revision)
    pods_by_owner = _index_pods(cluster)
    excess = len(olds) - limit
    for rs in olds:
        if excess <= 0:
            break
        if pods_by_owner.get(rs["metadata"]["uid"]):
            continue
        cluster = cluster.without("ReplicaSet", rs["metadata"]["name"], rs["metadata"]["namespace"])
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
        dep = cluster.get("Deployment", dep["metadata"]["name"], dep["metadata"]["namespace"])
        cluster, new_rs = ensure_new_replicaset(cluster, dep)
        dep = cluster.get("Deployment", dep["metadata"]["name"], dep["metadata"]["namespace"])
        replicas = int(dep["spec"].get("replicas", 1))
        cluster = set_rs_replicas(cluster, new_rs, replicas, dep)
        for rs in owned_replicasets(cluster, dep):
            if rs["metadata"]["uid"] != new_rs["metadata"]["uid"] and _rs_replicas(rs) != 0:
                cluster = set_rs_replicas(cluster, rs, 0)
        cluster = _cleanup_history(cluster, dep, new_rs["metadata"]["uid"])
    return cluster


def _adopt_replicasets(cluster: Cluster, dep: Mapping[str, Any]) -> Cluster:
    ns = dep["metadata"]["namespace"]
    adopted = []
    for rs in cluster.list("ReplicaSet", ns):
        if controller_of(rs) is None and \
                label_selector_matches(dep["spec"].get("selector"), rs["metadata"].get("labels") or {}):
            new = copy.deepcopy(rs)
            new["metadata"].setdefault("ownerReferences", []).append(owner_reference(dep))
            adopted.append(new)
    return store(cluster, adopted)


# ------------------------------------------------------------- StatefulSets
def statefulset_revision(sts: Mapping[str, Any]) -> str:
    """``controller-revision-hash`` value: ``<statefulset>-<hash of the template>``."""
    return f"{sts['metadata']['name']}-{pod_template_hash(sts['spec'].get('template') or {})}"


def _ordinal(sts_name: str, pod_name: str) -> int | None:
    prefix = sts_name + "-"
    if pod_name.startswith(prefix) and pod_name[len(prefix):].isdigit():
        return int(pod_name[len(prefix):])
    return None


def _running_and_ready(pod: Mapping[str, Any]) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and is_pod_ready(pod) and not is_terminating(pod)


def sync_statefulsets(cluster: Cluster) -> Cluster:
    """The StatefulSet controller: pods ``<name>-0`` … ``<name>-(replicas-1)``.

    With ``podManagementPolicy: OrderedReady`` (the default) a pod is created only when every
    lower ordinal is Running and Ready, so one unready pod stops the scale-up; ``Parallel``
    creates them all at once.  Surplus pods go from the highest ordinal down, deleted
    gracefully (Terminating until ``now + terminationGracePeriodSeconds``, as the real controller
    deletes them).  A pod that is still Terminating is *not* replaced until it is gone (a
    StatefulSet never runs two pods with one identity).  Pods from an older template are deleted
    gracefully and recreated once gone (RollingUpdate).

    Simplification: surplus and outdated pods all start terminating at once; with
    ``OrderedReady`` a real controller terminates them one at a time, highest ordinal first,
    waiting for each to be gone.
    """
    for sts in cluster.list("StatefulSet"):
        ns, name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        cluster = _adopt_orphans(cluster, sts, sts["spec"].get("selector"))
        uid = sts["metadata"]["uid"]
        replicas = int(sts["spec"].get("replicas", 1))
        start = int((sts["spec"].get("ordinals") or {}).get("start", 0))
        revision = statefulset_revision(sts)
        ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        update_type = (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        owned = {p["metadata"]["name"]: p for p in cluster.list("Pod", ns)
                 if (controller_of(p) or {}).get("uid") == uid}
        # Surplus first (highest ordinal first), then outdated pods, then missing ones.
        wanted = {f"{name}-{i}" for i in range(start, start + replicas)}
        surplus = sorted(
            (p for p in owned.values() if not is_terminating(p) and p["metadata"]["name"] not in wanted),
            key=lambda p: -(_ordinal(name, p["metadata"]["name"]) or 0),
        )
        # Deleted pods stay in `owned` while Terminating: their names are not reused until they are gone.
        doomed = list(surplus)
        if update_type == "RollingUpdate":
            doomed += [p for pname, p in owned.items()
                       if pname in wanted and not is_terminating(p)
                       and p["metadata"].get("labels", {}).get("controller-revision-hash") != revision]
        if doomed:
            cluster = _remove_pods(cluster, doomed)
            for p in doomed:
                owned[p["metadata"]["name"]] = cluster.get("Pod", p["metadata"]["name"], ns)
        new_pods = []
        template = sts["spec"].get("template") or {}
        for i in range(start, start + replicas):
            pname = f"{name}-{i}"
            if pname in owned:
                if ordered and not _running_and_ready(owned[pname]):
                    break
                continue
            overrides = {"hostname": pname}
            if sts["spec"].get("serviceName"):
                overrides["subdomain"] = sts["spec"]["serviceName"]
            new_pods.append(new_pod(pname, ns, template, sts, spec_overrides=overrides, extra_labels={
                "apps.kubernetes.io/pod-index": str(i),
                "controller-revision-hash": revision,
                "statefulset.kubernetes.io/pod-name": pname,
            }))
            if ordered:
                break  # wait for this one to be Running and Ready
        if new_pods:
            cluster = cluster.with_objects(new_pods)
    return cluster


# ------------------------------------------------------------- statuses
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
    pods_by_owner = _index_pods(cluster)
    updates: list[dict[str, Any]] = []
    rs_status: dict[str, dict[str, int]] = {}
    for rs in cluster.list("ReplicaSet"):
        active = [p for p in pods_by_owner.get(rs["metadata"]["uid"], []) if is_active(p)]
        labels_ok = [p for p in active if all(
            (p["metadata"].get("labels") or {}).get(k) == v
            for k, v in ((rs["spec"].get("template") or {}).get("metadata", {}).get("labels") or {}).items())]
        ready = sum(1 for p in active if is_pod_ready(p))
        status = {
            "availableReplicas": ready,
            "fullyLabeledReplicas": len(labels_ok),
            "observedGeneration": int(rs["metadata"].get("generation", 1)),
            "readyReplicas": ready,
            "replicas": len(active),
        }
        rs_status[rs["metadata"]["uid"]] = status
        new = dict(rs)
        new["status"] = _nonzero(status, keep=("replicas",))
        updates.append(new)
    now = cluster.timestamp()
    for dep in cluster.list("Deployment"):
        rss = [r for r in cluster.list("ReplicaSet", dep["metadata"]["namespace"])
               if (controller_of(r) or {}).get("uid") == dep["metadata"]["uid"]]
        template = dep["spec"].get("template") or {}
        new_rs = next((r for r in rss if _template_without_hash(r) == template), None)
        total = sum(rs_status.get(r["metadata"]["uid"], {}).get("replicas", 0) for r in rss)
        ready = sum(rs_status.get(r["metadata"]["uid"], {}).get("readyReplicas", 0) for r in rss)
        updated = rs_status.get(new_rs["metadata"]["uid"], {}).get("replicas", 0) if new_rs else 0
        replicas = int(dep["spec"].get("replicas", 1))
        _, max_unavailable = deployment_strategy_limits(dep)
        old_conds = list(dep.get("status", {}).get("conditions") or [])
        if ready >= replicas - max_unavailable:
            avail = _cond(old_conds, "Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability.", now)
        else:
            avail = _cond(old_conds, "Available", "False", "MinimumReplicasUnavailable",
                          "Deployment does not have minimum availability.", now)
        rs_name = new_rs["metadata"]["name"] if new_rs else ""
        if new_rs is not None and updated == replicas == total and ready == replicas:
            prog = _cond(old_conds, "Progressing", "True", "NewReplicaSetAvailable",
                         f'ReplicaSet "{rs_name}" has successfully progressed.', now)
        else:
            prog = _cond(old_conds, "Progressing", "True", "ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.', now)
        status = _nonzero({
            "availableReplicas": ready,
            "collisionCount": dep.get("status", {}).get("collisionCount"),
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
            new["metadata"].setdefault("annotations", {})[REVISION_ANNOTATION] = str(_revision(new_rs))
        updates.append(new)
    for sts in cluster.list("StatefulSet"):
        pods = [p for p in pods_by_owner.get(sts["metadata"]["uid"], []) if is_active(p)]
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
