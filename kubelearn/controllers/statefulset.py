"""The StatefulSet controller: pods with stable identities.

A StatefulSet's pods are ``<name>-0``, ``<name>-1`` … with ``spec.hostname`` = the pod name and
``spec.subdomain`` = its headless Service, so ``web-0.<service>`` resolves in DNS.  With
``podManagementPolicy: OrderedReady`` it scales up from the lowest ordinal, one Running and
Ready pod at a time, and down from the highest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from .pods import controller_of, is_pod_ready, is_terminating, new_pod, pod_template_hash, remove_pods
from .replicaset import adopt_orphans

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "statefulset_revision",
    "sync_statefulsets",
]


def statefulset_revision(sts: Mapping[str, Any]) -> str:
    """``controller-revision-hash`` value: ``<statefulset>-<hash of the template>``."""
    return f"{sts['metadata']['name']}-{pod_template_hash(sts['spec'].get('template') or {})}"


def _ordinal(sts_name: str, pod_name: str) -> int | None:
    prefix = sts_name + "-"
    if pod_name.startswith(prefix) and pod_name[len(prefix):].isdigit():
        return int(pod_name[len(prefix):])
    return None


def _running_and_ready(pod: Mapping[str, Any]) -> bool:
    return objects.status(pod).get("phase") == "Running" and is_pod_ready(pod) and not is_terminating(pod)


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
        ns, name = objects.namespace(sts), objects.name(sts)
        cluster = adopt_orphans(cluster, sts, sts["spec"].get("selector"))
        uid = objects.uid(sts)
        replicas = int(sts["spec"].get("replicas", 1))
        start = int((sts["spec"].get("ordinals") or {}).get("start", 0))
        revision = statefulset_revision(sts)
        ordered = sts["spec"].get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        update_type = (sts["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")
        owned = {objects.name(p): p for p in cluster.list("Pod", ns)
                 if (controller_of(p) or {}).get("uid") == uid}
        # Surplus first (highest ordinal first), then outdated pods, then missing ones.
        wanted = {f"{name}-{i}" for i in range(start, start + replicas)}
        surplus = sorted(
            (p for p in owned.values() if not is_terminating(p) and objects.name(p) not in wanted),
            key=lambda p: -(_ordinal(name, objects.name(p)) or 0),
        )
        # Deleted pods stay in `owned` while Terminating: their names are not reused until they are gone.
        doomed = list(surplus)
        if update_type == "RollingUpdate":
            doomed += [p for pname, p in owned.items()
                       if pname in wanted and not is_terminating(p)
                       and p["metadata"].get("labels", {}).get("controller-revision-hash") != revision]
        if doomed:
            cluster = remove_pods(cluster, doomed)
            for p in doomed:
                owned[objects.name(p)] = cluster.get("Pod", objects.name(p), ns)
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


