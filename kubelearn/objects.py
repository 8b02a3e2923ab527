"""What every part of kubelearn asks of an API object, asked one way.

An object is the dict ``kubectl get -o yaml`` prints.  The same few questions come up in the
API server, the controllers, kubectl's tables and the plots: its name and namespace, its
labels, who controls it; for a pod, whether it is Ready, whether it is terminating, which node
it runs on and which IP it has; for a node, whether it is a control-plane node.  Each has one
function here, with Kubernetes' own meaning:

* a pod is *ready* when its ``Ready`` condition is ``"True"`` (``podutil.IsPodReady``);
* it is *terminating* once it has a ``metadata.deletionTimestamp``;
* its *controller* is the owner reference with ``controller: true`` (``metav1.GetControllerOf``);
* a *control-plane* node carries the ``node-role.kubernetes.io/control-plane`` label (kubeadm
  sets it; the older ``node-role.kubernetes.io/master`` counts too).

The accessors read stored objects (defaulted by the API server, so ``metadata``, ``spec`` and
``status`` are there); they tolerate a missing ``spec``/``status``/``labels`` and return an
empty mapping, which must not be written to.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

__all__ = [
    "CONTROL_PLANE_LABELS",
    "condition",
    "controller_of",
    "is_control_plane",
    "is_pod_ready",
    "is_terminating",
    "labels",
    "name",
    "namespace",
    "node_name",
    "pod_ip",
    "spec",
    "status",
    "uid",
]

# Shared by every answer about an absent field, so it must refuse writes.
_EMPTY: Mapping[str, Any] = MappingProxyType({})

#: The labels that make a node a control-plane node (kubeadm's current one and the old one).
CONTROL_PLANE_LABELS = ("node-role.kubernetes.io/control-plane", "node-role.kubernetes.io/master")


def name(obj: Mapping[str, Any]) -> str:
    """``metadata.name``."""
    return str(obj["metadata"]["name"])


def namespace(obj: Mapping[str, Any]) -> str:
    """``metadata.namespace`` (``""`` for a cluster-scoped object)."""
    return str(obj["metadata"].get("namespace") or "")


def uid(obj: Mapping[str, Any]) -> str:
    """``metadata.uid``, set by the API server when the object was stored."""
    return str(obj["metadata"].get("uid") or "")


def labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    """``metadata.labels`` (empty when there are none)."""
    return obj["metadata"].get("labels") or _EMPTY


def spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``spec`` (empty when absent)."""
    return obj.get("spec") or _EMPTY


def status(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    """``status`` (empty when absent)."""
    return obj.get("status") or _EMPTY


def condition(obj: Mapping[str, Any], ctype: str) -> Mapping[str, Any] | None:
    """The ``status.conditions`` entry of type ``ctype`` (``Ready``, ``Available`` ...), or None."""
    for cond in status(obj).get("conditions") or ():
        if cond.get("type") == ctype:
            return cond  # type: ignore[no-any-return]
    return None


def controller_of(obj: Mapping[str, Any]) -> dict[str, Any] | None:
    """The owner reference with ``controller: true`` (``metav1.GetControllerOf``), or None."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or ():
        if ref.get("controller"):
            return dict(ref)
    return None


def is_pod_ready(pod: Mapping[str, Any]) -> bool:
    """Whether the pod's ``Ready`` condition is ``"True"`` (``podutil.IsPodReady``)."""
    cond = condition(pod, "Ready")
    return cond is not None and cond.get("status") == "True"


def is_terminating(pod: Mapping[str, Any]) -> bool:
    """Whether the object has a ``metadata.deletionTimestamp`` (it is being deleted)."""
    return bool(pod.get("metadata", {}).get("deletionTimestamp"))


def node_name(pod: Mapping[str, Any]) -> str | None:
    """The node a pod is bound to (``spec.nodeName``), or None while it is unscheduled."""
    return spec(pod).get("nodeName") or None


def pod_ip(pod: Mapping[str, Any]) -> str | None:
    """The pod's primary IP (``status.podIP``), or None before the kubelet reported one."""
    return status(pod).get("podIP") or None


def is_control_plane(node: Mapping[str, Any]) -> bool:
    """Whether a Node is a control-plane node (by its ``node-role`` label)."""
    node_labels = labels(node)
    return any(label in node_labels for label in CONTROL_PLANE_LABELS)
