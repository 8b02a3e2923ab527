"""Service environment variables: the oldest way a pod discovers a Service.

When the kubelet starts a container it injects, for every Service the pod may see, a family
of variables in the style of Docker links: ``MY_SERVICE_SERVICE_HOST=10.96.45.12``,
``MY_SERVICE_SERVICE_PORT=80``, ``MY_SERVICE_PORT=tcp://10.96.45.12:80`` and so on.

Which Services?  Every Service in the pod's own namespace (unless the pod sets
``enableServiceLinks: false``), plus ``default/kubernetes`` (always).  Only Services with a
cluster IP count: headless and ExternalName Services produce nothing.  And only Services that
existed when the container started: the variables are a snapshot, so a Service created after
the pod never appears in its environment.  That ordering trap is why DNS is the preferred
discovery mechanism.

:func:`service_env` gives the kubelet's variables; :func:`container_env` gives what ``env``
prints inside a container (the pod's own ``env`` entries win, and may use ``$(VAR)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import ContainerNotFoundError, EnvVarSourceError

__all__ = ["EnvVarSourceError", "container_env", "expand", "service_env", "service_variables"]


def _pod_obj(cluster: Cluster, pod: str | Mapping[str, Any], namespace: str) -> Mapping[str, Any]:
    if isinstance(pod, Mapping):
        return pod
    return cluster.get("Pod", pod, namespace)


def _parse_ts(ts: str | None) -> datetime | None:
    if not ts:
        return None
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")


def _creation_key(cluster: Cluster, obj: Mapping[str, Any], unset: datetime = datetime.min) -> tuple[datetime, int]:
    """Sort key for "created before": timestamp first, then creation order inside the cluster.

    Timestamps have one-second resolution, so objects applied together share one; the
    cluster's insertion order (which is creation order) breaks the tie.
    """
    meta = obj.get("metadata", {})
    ts = _parse_ts(meta.get("creationTimestamp")) or unset
    kind = obj.get("kind", "")
    key = (kind, meta.get("namespace", "default") if kind != "Node" else "", meta.get("name", ""))
    order = _order(cluster)
    # A pod that is not (yet) stored is started now: after everything stored.
    return ts, order.get(key, len(order))


_ORDER_CACHE: dict[int, tuple[Cluster, dict[tuple[str, str, str], int]]] = {}


def _order(cluster: Cluster) -> dict[tuple[str, str, str], int]:
    # Creation order of every object; cached for the last cluster seen (clusters are immutable).
    cached = _ORDER_CACHE.get(0)
    if cached is not None and cached[0] is cluster:
        return cached[1]
    order = {k: i for i, k in enumerate(cluster.objects)}
    _ORDER_CACHE[0] = (cluster, order)
    return order


def _has_cluster_ip(svc: Mapping[str, Any]) -> bool:
    ip = objects.spec(svc).get("clusterIP")
    return bool(ip) and ip != "None"


def _mangle(name: str) -> str:
    # The kubelet only swaps '-' for '_' and upper-cases; dots and leading digits pass through.
    return name.upper().replace("-", "_")


def _host_port(ip: str, port: int) -> str:
    # net.JoinHostPort: brackets around anything containing a colon (IPv6).
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def service_variables(service: Mapping[str, Any]) -> dict[str, str]:
    """The variables one Service produces, in the order the kubelet's ``FromServices`` emits them.

    Args:
        service: a Service object with a cluster IP.

    Returns:
        An ordered dict: ``<SVC>_SERVICE_HOST``, ``<SVC>_SERVICE_PORT``, one
        ``<SVC>_SERVICE_PORT_<NAME>`` per named port, ``<SVC>_PORT``, then for every port
        ``<SVC>_PORT_<n>_<PROTO>`` and its ``_PROTO``, ``_PORT`` and ``_ADDR``.  Empty for
        headless, ExternalName and unallocated Services.
    """
    if not _has_cluster_ip(service):
        return {}
    spec = service["spec"]
    svc = _mangle(objects.name(service))
    ip = str(spec["clusterIP"])  # only the primary IP; clusterIPs[1] never appears
    ports = spec.get("ports") or []
    out: dict[str, str] = {f"{svc}_SERVICE_HOST": ip}
    if not ports:
        return out
    first = ports[0]
    out[f"{svc}_SERVICE_PORT"] = str(first["port"])
    for p in ports:
        if p.get("name"):
            out[f"{svc}_SERVICE_PORT_{_mangle(p['name'])}"] = str(p["port"])
    first_proto = (first.get("protocol") or "TCP").lower()
    out[f"{svc}_PORT"] = f"{first_proto}://{_host_port(ip, first['port'])}"
    for p in ports:
        proto = (p.get("protocol") or "TCP").lower()
        prefix = f"{svc}_PORT_{p['port']}_{proto.upper()}"
        out[prefix] = f"{proto}://{_host_port(ip, p['port'])}"
        out[f"{prefix}_PROTO"] = proto
        out[f"{prefix}_PORT"] = str(p["port"])
        out[f"{prefix}_ADDR"] = ip
    return out


def _visible_services(cluster: Cluster, pod: Mapping[str, Any], namespace: str) -> list[Mapping[str, Any]]:
    """The Services the kubelet turns into variables for ``pod``, in creation order."""
    links = objects.spec(pod).get("enableServiceLinks", True)  # defaulted to true by the API
    pod_ns = pod.get("metadata", {}).get("namespace", namespace)
    started = _creation_key(cluster, {**pod, "kind": "Pod", "metadata": {**pod.get("metadata", {}),
                                                                          "namespace": pod_ns}},
                            unset=datetime.max)  # a pod not yet created starts after everything
    chosen: dict[str, Mapping[str, Any]] = {}
    # Same-namespace Services overwrite; the master service is only added if the name is free.
    if links:
        for svc in cluster.list("Service", pod_ns):
            if _has_cluster_ip(svc) and _creation_key(cluster, svc) < started:
                chosen[objects.name(svc)] = svc
    if "kubernetes" not in chosen and cluster.has("Service", "kubernetes", "default"):
        master = cluster.get("Service", "kubernetes", "default")
        if _has_cluster_ip(master) and _creation_key(cluster, master) < started:
            chosen["kubernetes"] = master
    return sorted(chosen.values(), key=lambda s: _creation_key(cluster, s))


def service_env(cluster: Cluster, pod: str | Mapping[str, Any], namespace: str = "default") -> dict[str, str]:
    """The Service variables the kubelet injects into ``pod``'s containers.

    Args:
        cluster: the cluster.
        pod: a pod name (looked up in ``namespace``) or a Pod object (which may be one not
            yet stored: it is then treated as starting after every stored Service).
        namespace: the pod's namespace.

    Returns:
        Variable name → value.  Services appear in creation order, each family in the kubelet's
        emission order; a real container's environment has no defined order (treat it as a set).

    Raises:
        NotFoundError: when the pod does not exist.
    """
    obj = _pod_obj(cluster, pod, namespace)
    env: dict[str, str] = {}
    for svc in _visible_services(cluster, obj, namespace):
        env.update(service_variables(svc))
    return env


_REF = re.compile(r"\$(\$|\(([^)]*)\))")


def expand(value: str, mapping: Mapping[str, str]) -> str:
    """Kubernetes' ``$(VAR)`` expansion: defined references are replaced, others stay literal.

    ``$$`` is an escaped ``$``; a ``$`` not followed by ``(`` or ``$`` is kept as is; an
    unterminated ``$(`` is kept literally.

    >>> expand("$(HOST):$(PORT) $(NOPE) $$(HOST)", {"HOST": "10.96.0.1", "PORT": "443"})
    '10.96.0.1:443 $(NOPE) $(HOST)'
    """

    def repl(m: re.Match[str]) -> str:
        if m.group(1) == "$":
            return "$"
        name = m.group(2)
        return mapping[name] if name in mapping else m.group(0)

    return _REF.sub(repl, value)


def _field_ref(pod: Mapping[str, Any], path: str) -> str:
    meta = pod.get("metadata", {})
    spec = objects.spec(pod)
    status = objects.status(pod)
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return str(meta.get(m.group(1), {}).get(m.group(2), ""))
    simple: dict[str, Any] = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName"),
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": status.get("podIP"),
        "status.hostIP": status.get("hostIP"),
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs", []) or []),
        "status.hostIPs": ",".join(p["ip"] for p in status.get("hostIPs", []) or []),
    }
    if path not in simple:
        raise EnvVarSourceError(f"fieldRef {path!r} is not supported by kubelearn")
    return "" if simple[path] is None else str(simple[path])


def _hostname(pod: Mapping[str, Any]) -> str:
    # The pod's hostname: spec.hostname, else its name cut to 63 characters (trailing '-'/'.' dropped).
    name = objects.spec(pod).get("hostname") or pod.get("metadata", {}).get("name", "")
    return str(name)[:63].rstrip("-.")


def container_env(
    cluster: Cluster,
    pod: str | Mapping[str, Any],
    namespace: str = "default",
    container: str | None = None,
) -> dict[str, str]:
    """What ``env`` prints inside a container of ``pod`` (without the image's own variables).

    Built as the kubelet does: ``envFrom`` first, then ``env`` entries in order (each may use
    ``$(VAR)`` to refer to earlier entries and to the Service variables; undefined references
    stay literal), then the Service variables for every name not already set.  The container
    runtime (containerd) also sets ``HOSTNAME`` to the pod's hostname unless ``env`` sets it.

    Simplification: variables baked into the image (``PATH``, ``HOME``…) depend on the image
    and are left out; ConfigMaps, Secrets and ``resourceFieldRef`` are not modelled and raise
    :class:`EnvVarSourceError`.  ``fieldRef`` to the pod's own fields is supported.

    Args:
        cluster: the cluster.
        pod: a pod name (in ``namespace``) or a Pod object.
        namespace: the pod's namespace.
        container: the container's name; default the first container.

    Returns:
        Variable name → value, sorted by name (a process environment has no order).

    Raises:
        NotFoundError: unknown pod or container.
        EnvVarSourceError: an unsupported ``valueFrom``/``envFrom`` source.
    """
    from ..errors import NotFoundError

    obj = _pod_obj(cluster, pod, namespace)
    containers = objects.spec(obj).get("containers") or []
    if container is None:
        if not containers:
            raise NotFoundError("containers", "<none>")
        spec = containers[0]
    else:
        found = [c for c in containers if c.get("name") == container]
        if not found:
            pod_name = obj.get("metadata", {}).get("name", "")
            raise ContainerNotFoundError(container, pod_name)
        spec = found[0]
    env: dict[str, str] = {}
    for source in spec.get("envFrom") or []:
        what = "configMapRef" if "configMapRef" in source else "secretRef" if "secretRef" in source else "source"
        raise EnvVarSourceError(f"envFrom {what} is not supported by kubelearn (ConfigMaps and Secrets are not modelled)")
    services = service_env(cluster, obj, namespace)
    for var in spec.get("env") or []:
        name = var["name"]
        if "valueFrom" in var:
            src = var["valueFrom"]
            if "fieldRef" in src:
                env[name] = _field_ref(obj, src["fieldRef"]["fieldPath"])
                continue
            kinds = ", ".join(sorted(src))
            raise EnvVarSourceError(f"env {name}: valueFrom {kinds} is not supported by kubelearn")
        # Expansion sees the variables set so far, then the Service variables.
        env[name] = expand(str(var.get("value", "")), {**services, **env})
    for key, value in services.items():
        env.setdefault(key, value)
    env.setdefault("HOSTNAME", _hostname(obj))
    return dict(sorted(env.items()))


