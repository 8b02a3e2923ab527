"""Defaulting: the fields the API server fills in that you never wrote.

Apply a four-line Service and read it back with ``kubectl get svc -o yaml``: it now says
``type: ClusterIP``, ``protocol: TCP``, ``targetPort: 80``, ``sessionAffinity: None`` and
``internalTrafficPolicy: Cluster``.  The API server ran the v1 *defaulting functions*
(``SetDefaults_Service``, ``SetDefaults_Pod``, ``SetDefaults_Deployment`` …) right after
decoding and before validation, so validation and every controller only ever see complete
objects.  Defaulting can also hide a mistake: ``sessionAffinity: None`` silently drops a
``sessionAffinityConfig`` you wrote.

:func:`apply_defaults` reproduces those functions for the kinds kubelearn models
(discovery-api-facts §D; ``pkg/apis/core/v1/defaults.go``, ``pkg/apis/apps/v1/defaults.go``,
``pkg/apis/discovery/v1/defaults.go``).  It never fails: a field of the wrong type is left as is,
for schema checking and validation to report.  Fields set by allocation (clusterIP, node ports,
``ipFamilies``) belong to :mod:`kubelearn.apiserver.allocation`; fields set by admission plugins
(``serviceAccountName``, ``tolerations``, ``priority``) are not modelled.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["DEFAULT_CLIENT_IP_TIMEOUT", "apply_defaults", "pod_spec_defaults"]

#: ``v1.DefaultClientIPServiceAffinitySeconds``: 3 hours.
DEFAULT_CLIENT_IP_TIMEOUT = 10800


def _dict(parent: dict[str, Any], key: str) -> dict[str, Any] | None:
    """``parent[key]`` if it is a dict (created empty when absent); None when it has a wrong type."""
    value = parent.get(key)
    if value is None:
        value = parent[key] = {}
    return value if isinstance(value, dict) else None


def _dicts(value: Any) -> list[dict[str, Any]]:
    """The dict items of a list (wrong-typed items and non-lists are skipped)."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _unset(value: Any) -> bool:
    """Go's zero value: an omitted field, ``null`` or ``""`` all decode to it."""
    return value is None or value == ""


# ------------------------------------------------------------------ Service
def _externally_accessible(spec: Mapping[str, Any]) -> bool:
    """``service.ExternallyAccessible``: NodePort, LoadBalancer, or ClusterIP with externalIPs."""
    t = spec.get("type")
    return t in ("NodePort", "LoadBalancer") or (t == "ClusterIP" and bool(spec.get("externalIPs")))


def _service(obj: dict[str, Any]) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if _unset(spec.get("sessionAffinity")):
        spec["sessionAffinity"] = "None"
    if spec.get("sessionAffinity") == "None":
        # SetDefaults_Service drops the config, so its Forbidden error can never be seen.
        spec.pop("sessionAffinityConfig", None)
    if _unset(spec.get("type")):
        spec["type"] = "ClusterIP"
    for port in _dicts(spec.get("ports")):
        if _unset(port.get("protocol")):
            port["protocol"] = "TCP"
        target = port.get("targetPort")
        if target is None or target == "" or (type(target) is int and target == 0):
            if isinstance(port.get("port"), int) and not isinstance(port.get("port"), bool):
                port["targetPort"] = port["port"]
            elif port.get("port") is None:
                port["targetPort"] = 0  # Go copies the zero port; validation reports both.
    if spec.get("sessionAffinity") == "ClientIP":
        cfg = spec.get("sessionAffinityConfig")
        client = cfg.get("clientIP") if isinstance(cfg, dict) else None
        if not isinstance(client, dict) or client.get("timeoutSeconds") is None:
            spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": DEFAULT_CLIENT_IP_TIMEOUT}}
    if _externally_accessible(spec) and _unset(spec.get("externalTrafficPolicy")):
        spec["externalTrafficPolicy"] = "Cluster"
    if spec.get("internalTrafficPolicy") is None and spec.get("type") in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec["internalTrafficPolicy"] = "Cluster"
    if spec.get("type") == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is None:
            spec["allocateLoadBalancerNodePorts"] = True
    # A stored Service also shows `status: {loadBalancer: {}}`; it is not added here because a
    # re-applied manifest must not replace the status the cluster already holds.
    status = obj.get("status")
    lb = status.get("loadBalancer") if isinstance(status, dict) else None
    if isinstance(lb, dict) and spec.get("type") == "LoadBalancer":
        for ing in _dicts(lb.get("ingress")):
            if ing.get("ip") and ing.get("ipMode") is None:
                ing["ipMode"] = "VIP"


# ------------------------------------------------------------------ Pod and pod templates
def _probe(probe: Any) -> None:
    if not isinstance(probe, dict):
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10), ("successThreshold", 1),
                       ("failureThreshold", 3)):
        if probe.get(key) is None or probe.get(key) == 0:
            probe[key] = value
    http = probe.get("httpGet")
    if isinstance(http, dict):
        if _unset(http.get("path")):
            http["path"] = "/"
        if _unset(http.get("scheme")):
            http["scheme"] = "HTTP"


def _image_pull_policy(image: Any) -> str:
    """``:latest`` or no tag (and no digest) pulls ``Always``; anything else ``IfNotPresent``."""
    if not isinstance(image, str):
        return "IfNotPresent"
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    tag = last.split(":", 1)[1] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _container(c: dict[str, Any], host_network: bool) -> None:
    if _unset(c.get("terminationMessagePath")):
        c["terminationMessagePath"] = "/dev/termination-log"
    if _unset(c.get("terminationMessagePolicy")):
        c["terminationMessagePolicy"] = "File"
    if _unset(c.get("imagePullPolicy")):
        c["imagePullPolicy"] = _image_pull_policy(c.get("image"))
    if c.get("resources") is None:
        c["resources"] = {}
    for port in _dicts(c.get("ports")):
        if _unset(port.get("protocol")):
            port["protocol"] = "TCP"
        if host_network and port.get("hostPort") in (None, 0):
            port["hostPort"] = port.get("containerPort")
    for env in _dicts(c.get("env")):
        value_from = env.get("valueFrom")
        if isinstance(value_from, dict) and isinstance(value_from.get("fieldRef"), dict):
            if _unset(value_from["fieldRef"].get("apiVersion")):
                value_from["fieldRef"]["apiVersion"] = "v1"
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        _probe(c.get(key))


def pod_spec_defaults(spec: dict[str, Any]) -> None:
    """``SetDefaults_PodSpec`` and the container defaults, in place (pods and pod templates).

    ``enableServiceLinks`` is a *Pod* default (``SetDefaults_Pod``), so a Deployment's template
    does not get it; :func:`apply_defaults` adds it to Pods only, as the API server does.
    """
    if _unset(spec.get("dnsPolicy")):
        spec["dnsPolicy"] = "ClusterFirst"
    if _unset(spec.get("restartPolicy")):
        spec["restartPolicy"] = "Always"
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if _unset(spec.get("schedulerName")):
        spec["schedulerName"] = "default-scheduler"
    host_network = spec.get("hostNetwork") is True
    for key in ("initContainers", "containers"):
        for c in _dicts(spec.get(key)):
            _container(c, host_network)


def _pod(obj: dict[str, Any]) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    pod_spec_defaults(spec)
    if spec.get("enableServiceLinks") is None:
        spec["enableServiceLinks"] = True
    for c in _dicts(spec.get("containers")):
        res = c.get("resources")
        if isinstance(res, dict) and isinstance(res.get("limits"), dict):
            # SetDefaults_Pod (pods only, not templates): requests default to limits.
            requests = res.get("requests")
            if requests is None:
                requests = res["requests"] = {}
            if isinstance(requests, dict):
                for name, qty in res["limits"].items():
                    requests.setdefault(name, qty)


def _template(spec: dict[str, Any]) -> None:
    template = spec.get("template")
    if isinstance(template, dict):
        tspec = _dict(template, "spec")
        if tspec is not None:
            pod_spec_defaults(tspec)


# ------------------------------------------------------------------ apps/v1
def _deployment(obj: dict[str, Any]) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    strategy = _dict(spec, "strategy")
    if strategy is not None:
        if _unset(strategy.get("type")):
            strategy["type"] = "RollingUpdate"
        if strategy.get("type") == "RollingUpdate":
            ru = _dict(strategy, "rollingUpdate")
            if ru is not None:
                if ru.get("maxUnavailable") is None:
                    ru["maxUnavailable"] = "25%"
                if ru.get("maxSurge") is None:
                    ru["maxSurge"] = "25%"
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    if spec.get("progressDeadlineSeconds") is None:
        spec["progressDeadlineSeconds"] = 600
    _template(spec)


def _replica_set(obj: dict[str, Any]) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    _template(spec)


def _stateful_set(obj: dict[str, Any]) -> None:
    spec = _dict(obj, "spec")
    if spec is None:
        return
    if _unset(spec.get("podManagementPolicy")):
        spec["podManagementPolicy"] = "OrderedReady"
    strategy = _dict(spec, "updateStrategy")
    if strategy is not None:
        if _unset(strategy.get("type")):
            strategy["type"] = "RollingUpdate"
            strategy.setdefault("rollingUpdate", {})
        # An explicit `type: RollingUpdate` without `rollingUpdate` stays without it, as upstream.
        ru = strategy.get("rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and isinstance(ru, dict) and ru.get("partition") is None:
            ru["partition"] = 0
    policy = _dict(spec, "persistentVolumeClaimRetentionPolicy")  # StatefulSetAutoDeletePVC, GA in 1.32
    if policy is not None:
        for key in ("whenDeleted", "whenScaled"):
            if _unset(policy.get(key)):
                policy[key] = "Retain"
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    if spec.get("revisionHistoryLimit") is None:
        spec["revisionHistoryLimit"] = 10
    _template(spec)


# ------------------------------------------------------------------ the rest
def _endpoint_slice(obj: dict[str, Any]) -> None:
    # SetDefaults_EndpointPort: name "" and protocol TCP.  Endpoint conditions have no
    # defaults: an unset `ready` means "unknown", which consumers treat as ready.
    for port in _dicts(obj.get("ports")):
        if port.get("name") is None:
            port["name"] = ""
        if port.get("protocol") is None:
            port["protocol"] = "TCP"


def _endpoints(obj: dict[str, Any]) -> None:
    for subset in _dicts(obj.get("subsets")):
        for port in _dicts(subset.get("ports")):
            if _unset(port.get("protocol")):
                port["protocol"] = "TCP"


def _namespace(obj: dict[str, Any]) -> None:
    # The namespace strategy adds the immutable name label (1.21+) and the `kubernetes`
    # finalizer; SetDefaults_NamespaceStatus sets the phase.
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("name"), str):
        labels = _dict(meta, "labels")
        if labels is not None:
            labels["kubernetes.io/metadata.name"] = meta["name"]
    spec = _dict(obj, "spec")
    if spec is not None and spec.get("finalizers") is None:
        spec["finalizers"] = ["kubernetes"]
    status = _dict(obj, "status")
    if status is not None and _unset(status.get("phase")):
        status["phase"] = "Active"


def _node(obj: dict[str, Any]) -> None:
    # SetDefaults_NodeStatus: allocatable defaults to capacity.
    status = obj.get("status")
    if isinstance(status, dict) and status.get("allocatable") is None and isinstance(status.get("capacity"), dict):
        status["allocatable"] = dict(status["capacity"])


_DEFAULTERS: Mapping[str, Callable[[dict[str, Any]], None]] = {
    "Service": _service,
    "Pod": _pod,
    "Deployment": _deployment,
    "ReplicaSet": _replica_set,
    "StatefulSet": _stateful_set,
    "EndpointSlice": _endpoint_slice,
    "Endpoints": _endpoints,
    "Namespace": _namespace,
    "Node": _node,
}


def apply_defaults(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with the API server's defaults filled in.

    Args:
        obj: a decoded manifest (``kind`` one of ``cluster.KINDS``; other kinds are copied
            unchanged).  Wrong-typed fields are left alone, never "fixed" and never fatal.

    Returns:
        A new dict; ``obj`` is not modified.

    >>> svc = apply_defaults({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    ...                       "spec": {"ports": [{"port": 80}]}})
    >>> svc["spec"]["type"], svc["spec"]["ports"][0]
    ('ClusterIP', {'port': 80, 'protocol': 'TCP', 'targetPort': 80})
    """
    new = copy.deepcopy(dict(obj))
    fn = _DEFAULTERS.get(str(new.get("kind")))
    if fn is not None:
        fn(new)
    return new
