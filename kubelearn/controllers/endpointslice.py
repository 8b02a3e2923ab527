"""The EndpointSlice controller: which pods stand behind a Service.

A Service with a ``selector`` routes nothing itself.  The EndpointSlice controller writes
``discovery.k8s.io/v1`` **EndpointSlices** labelled ``kubernetes.io/service-name``: one endpoint
per matching pod of the Service's namespace that has an IP and has not finished, with
``ready`` (Ready and not terminating; always true with ``publishNotReadyAddresses``),
``serving`` (Ready, terminating or not) and ``terminating`` (``deletionTimestamp`` set).
kube-proxy reads only these.  A named ``targetPort`` is looked up in *each* pod (first
container port with that name and protocol), so a blue pod serving ``http`` on 8080 and a
green one on 9090 land in two slices; a pod lacking the name is left out of that port.  A
slice holds at most 100 endpoints.  Services without a selector (and ExternalName ones) get
nothing: you write their endpoints yourself.  The legacy ``v1`` **Endpoints** object
(``kubectl get endpoints``) is kept too: ready ``addresses`` and ``notReadyAddresses``.

Each endpoint carries its node's ``topology.kubernetes.io/zone`` as ``zone``.  *Hints* tell
kube-proxy which zone (or node) should use an endpoint: the controller writes them for
``spec.trafficDistribution: PreferClose`` (each ready endpoint for its own zone) and for
topology-aware routing (``service.kubernetes.io/topology-mode: Auto``: zones get endpoints in
proportion to their allocatable CPU, or no hints at all when that would overload a zone); see
:func:`apply_hints`.
"""

from __future__ import annotations

import copy
import ipaddress
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from ..labels import selector_matches
from .pods import generate_name, is_pod_ready, is_terminal, is_terminating, stable_rng, store

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "MANAGED_BY",
    "add_close_hints",
    "add_topology_hints",
    "apply_hints",
    "hints_enabled",
    "zone_cpu_ratios",
    "MAX_ENDPOINTS_PER_SLICE",
    "endpoint_slices_for",
    "endpoints_for",
    "resolve_target_port",
    "sync_endpoints",
]

#: ``endpointslice.kubernetes.io/managed-by`` value of the controller's slices.
MANAGED_BY = "endpointslice-controller.k8s.io"
#: kube-controller-manager's ``--max-endpoints-per-slice`` default.
MAX_ENDPOINTS_PER_SLICE = 100
#: The Endpoints controller keeps at most this many addresses.
MAX_ENDPOINTS_ADDRESSES = 1000

_SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror"
_HEADLESS = "service.kubernetes.io/headless"


def _has_selector(service: Mapping[str, Any]) -> bool:
    spec = objects.spec(service)
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def resolve_target_port(pod: Mapping[str, Any], service_port: Mapping[str, Any]) -> int | None:
    """The pod port a Service port sends to (``FindPort``), or ``None`` if the pod lacks it.

    A number is used as is.  A name is looked up in the pod's containers in order, then in its
    restartable (sidecar) init containers: the first port whose ``name`` *and* ``protocol``
    match wins.
    """
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    protocol = service_port.get("protocol", "TCP")
    spec = objects.spec(pod)
    containers = list(spec.get("containers") or ())
    containers += [c for c in spec.get("initContainers") or () if c.get("restartPolicy") == "Always"]
    for container in containers:
        for port in container.get("ports") or ():
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def _selected_pods(cluster: Cluster, service: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Pods of the Service's namespace matching its selector, with an IP, not finished."""
    ns = service["metadata"].get("namespace", "default")
    selector = service["spec"]["selector"]
    return [
        p for p in cluster.pods(ns)
        if selector_matches(selector, p["metadata"].get("labels") or {})
        and objects.pod_ip(p) and not is_terminal(p)
    ]


def _ip_key(ip: str) -> tuple[int, int]:
    addr = ipaddress.ip_address(ip)
    return (addr.version, int(addr))


def _endpoint(cluster: Cluster, service: Mapping[str, Any], pod: Mapping[str, Any],
              zones: Mapping[str, str]) -> dict[str, Any]:
    publish = bool(service["spec"].get("publishNotReadyAddresses"))
    terminating = is_terminating(pod)
    serving = publish or is_pod_ready(pod)
    ready = publish or (serving and not terminating)
    ep: dict[str, Any] = {
        "addresses": [pod["status"]["podIP"]],
        "conditions": {"ready": ready, "serving": serving, "terminating": terminating},
    }
    spec = objects.spec(pod)
    if spec.get("hostname") and spec.get("subdomain") == objects.name(service):
        ep["hostname"] = spec["hostname"]
    node = spec.get("nodeName")
    if node:
        ep["nodeName"] = node
    ep["targetRef"] = {
        "kind": "Pod",
        "name": objects.name(pod),
        "namespace": objects.namespace(pod),
        "uid": pod["metadata"].get("uid", ""),
    }
    if node and node in zones:
        ep["zone"] = zones[node]
    return ep


def _pod_ports(service: Mapping[str, Any], pod: Mapping[str, Any]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    """The slice ports for one pod: every Service port whose target it resolves, hashable."""
    out = []
    for sp in service["spec"].get("ports") or ():
        number = resolve_target_port(pod, sp)
        if number is None:
            continue
        port: dict[str, Any] = {"name": sp.get("name", ""), "port": number, "protocol": sp.get("protocol", "TCP")}
        if sp.get("appProtocol"):
            port["appProtocol"] = sp["appProtocol"]
        out.append(tuple(port.items()))
    return tuple(out)


def _slice_labels(service: Mapping[str, Any]) -> dict[str, str]:
    labels = {k: v for k, v in objects.labels(service).items()
              if k not in ("kubernetes.io/service-name", "endpointslice.kubernetes.io/managed-by")}
    labels["endpointslice.kubernetes.io/managed-by"] = MANAGED_BY
    labels["kubernetes.io/service-name"] = objects.name(service)
    if service["spec"].get("clusterIP") == "None":
        labels[_HEADLESS] = ""
    return labels


def _owner(service: Mapping[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "name": objects.name(service),
            "uid": service["metadata"].get("uid", ""), "controller": True, "blockOwnerDeletion": True}


def _ports_key(slice_: Mapping[str, Any]) -> tuple[tuple[tuple[str, Any], ...], ...]:
    return tuple(tuple(p.items()) for p in slice_.get("ports") or ())


def endpoint_slices_for(cluster: Cluster, service: Mapping[str, Any] | str, namespace: str = "default") -> list[dict[str, Any]]:
    """The EndpointSlices the controller wants for one Service (empty without a selector).

    Endpoints are grouped by their resolved port list, sorted by IP, and cut into slices of
    at most :data:`MAX_ENDPOINTS_PER_SLICE`.  A Service that selects no pod still gets one
    empty placeholder slice.  Existing controller slices of the Service are reused (same
    name) for the same port list, so names stay put across reconciles; new slices are named
    ``<service>-<5 characters>`` from a generator seeded with the cluster seed and the
    Service.  Slices keep their order of creation; placement is simplified (the real
    controller packs changes into existing slices rather than re-sorting).

    Args:
        cluster: the cluster.
        service: the Service object or its name.
        namespace: the namespace when ``service`` is a name.
    """
    svc = cluster.get("Service", service, namespace) if isinstance(service, str) else service
    if not _has_selector(svc):
        return []
    ns = svc["metadata"].get("namespace", "default")
    name = objects.name(svc)
    zones = {objects.name(n): n["metadata"]["labels"]["topology.kubernetes.io/zone"]
             for n in cluster.nodes() if "topology.kubernetes.io/zone" in objects.labels(n)}
    groups: dict[tuple[tuple[tuple[str, Any], ...], ...], list[dict[str, Any]]] = {}
    for pod in _selected_pods(cluster, svc):
        groups.setdefault(_pod_ports(svc, pod), []).append(_endpoint(cluster, svc, pod, zones))
    chunks: list[tuple[tuple[tuple[tuple[str, Any], ...], ...], list[dict[str, Any]]]] = []
    for key in sorted(groups, key=repr):
        eps = sorted(groups[key], key=lambda e: _ip_key(e["addresses"][0]))
        for i in range(0, len(eps), MAX_ENDPOINTS_PER_SLICE):
            chunks.append((key, eps[i:i + MAX_ENDPOINTS_PER_SLICE]))
    if not chunks:
        chunks.append(((), []))  # the placeholder slice
    existing = [s for s in cluster.endpoint_slices(ns, name)
                if objects.labels(s).get("endpointslice.kubernetes.io/managed-by") == MANAGED_BY]
    unused = list(existing)
    names: list[str | None] = []
    for key, _eps in chunks:
        match = next((s for s in unused if _ports_key(s) == key), None)
        if match is None and not key:
            match = next(iter(unused), None)
        if match is not None:
            unused.remove(match)
            names.append(objects.name(match))
        else:
            names.append(None)
    taken = {objects.name(s) for s in cluster.list("EndpointSlice", ns)}
    # Seeded by the Service's identity only (not its uid, which depends on how many objects
    # were stored before it): the same manifests and seed give the same slice names.  Names
    # still taken are skipped, so a new slice never collides with one that exists.
    rng = stable_rng(cluster.seed, "endpointslice", ns, name)
    labels = _slice_labels(svc)
    out = []
    for (key, eps), slice_name in zip(chunks, names, strict=True):
        if slice_name is None:
            slice_name = generate_name(name + "-", rng, taken)
            taken.add(slice_name)
        out.append({
            "addressType": "IPv4",
            "apiVersion": "discovery.k8s.io/v1",
            "endpoints": eps,
            "kind": "EndpointSlice",
            "metadata": {
                "generateName": name + "-",
                "labels": dict(labels),
                "name": slice_name,
                "namespace": ns,
                "ownerReferences": [_owner(svc)],
            },
            "ports": [dict(p) for p in key],
        })
    apply_hints(cluster, svc, out)
    return out


def endpoints_for(cluster: Cluster, service: Mapping[str, Any] | str, namespace: str = "default") -> dict[str, Any] | None:
    """The legacy ``v1`` Endpoints object the Endpoints controller keeps (``None`` without a
    selector).

    Terminating pods are left out (unless ``publishNotReadyAddresses``).  Subsets group the
    addresses by resolved ports; addresses are sorted as the API's ``RepackSubsets`` does (by
    the IP *string*, so ``10.244.1.10`` comes before ``10.244.1.2``).  More than 1000
    addresses are truncated, with the ``endpoints.kubernetes.io/over-capacity: truncated``
    annotation.
    """
    svc = cluster.get("Service", service, namespace) if isinstance(service, str) else service
    if not _has_selector(svc):
        return None
    publish = bool(svc["spec"].get("publishNotReadyAddresses"))
    subsets: dict[tuple[tuple[tuple[str, Any], ...], ...], dict[str, list[dict[str, Any]]]] = {}
    for pod in _selected_pods(cluster, svc):
        if is_terminating(pod) and not publish:
            continue
        key = _pod_ports(svc, pod)
        if not key and svc["spec"].get("ports"):
            continue
        addr: dict[str, Any] = {"ip": pod["status"]["podIP"]}
        spec = objects.spec(pod)
        if spec.get("hostname") and spec.get("subdomain") == objects.name(svc):
            addr["hostname"] = spec["hostname"]
        if spec.get("nodeName"):
            addr["nodeName"] = spec["nodeName"]
        addr["targetRef"] = {"kind": "Pod", "name": objects.name(pod), "namespace": objects.namespace(pod),
                             "uid": pod["metadata"].get("uid", "")}
        bucket = "addresses" if publish or is_pod_ready(pod) else "notReadyAddresses"
        subsets.setdefault(key, {}).setdefault(bucket, []).append(addr)
    meta: dict[str, Any] = {"name": objects.name(svc), "namespace": svc["metadata"].get("namespace", "default")}
    labels = {k: v for k, v in objects.labels(svc).items()}
    labels[_SKIP_MIRROR] = "true"
    if svc["spec"].get("clusterIP") == "None":
        labels[_HEADLESS] = ""
    meta["labels"] = labels
    out_subsets = []
    budget = MAX_ENDPOINTS_ADDRESSES
    truncated = False
    for key in sorted(subsets, key=repr):
        sub: dict[str, Any] = {}
        for bucket in ("addresses", "notReadyAddresses"):
            addrs = sorted(subsets[key].get(bucket, []), key=lambda a: a["ip"])
            if len(addrs) > budget:
                addrs, truncated = addrs[:budget], True
            budget -= len(addrs)
            if addrs:
                sub[bucket] = addrs
        if sub:
            if key:
                # v1 EndpointPort.name is omitempty, unlike discovery/v1's.
                sub["ports"] = [{k: v for k, v in p if not (k == "name" and v == "")} for p in key]
            out_subsets.append(sub)
    if truncated:
        meta["annotations"] = {"endpoints.kubernetes.io/over-capacity": "truncated"}
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": meta}
    if out_subsets:
        obj["subsets"] = out_subsets
    return obj


def sync_endpoints(cluster: Cluster) -> Cluster:
    """Run the EndpointSlice and Endpoints controllers over every Service.

    Controller-managed slices (and Endpoints labelled ``endpointslice.kubernetes.io/
    skip-mirror``) whose Service is gone, or no longer wanted, are deleted; slices and
    Endpoints you wrote yourself for selector-less Services are left alone.
    """
    wanted: list[dict[str, Any]] = []
    keep_slices: set[tuple[str, str]] = set()
    keep_endpoints: set[tuple[str, str]] = set()
    for svc in cluster.services():
        ns = svc["metadata"].get("namespace", "default")
        for s in endpoint_slices_for(cluster, svc):
            keep_slices.add((ns, objects.name(s)))
            wanted.append(s)
        ep = endpoints_for(cluster, svc)
        if ep is not None:
            keep_endpoints.add((ns, objects.name(ep)))
            wanted.append(ep)
    for s in cluster.list("EndpointSlice"):
        key = (objects.namespace(s), objects.name(s))
        if objects.labels(s).get("endpointslice.kubernetes.io/managed-by") == MANAGED_BY \
                and key not in keep_slices:
            cluster = cluster.without("EndpointSlice", key[1], key[0])
    for e in cluster.list("Endpoints"):
        key = (objects.namespace(e), objects.name(e))
        if objects.labels(e).get(_SKIP_MIRROR) == "true" and key not in keep_endpoints:
            cluster = cluster.without("Endpoints", key[1], key[0])
    return store(cluster, [copy.deepcopy(w) for w in wanted])


# ------------------------------------------------------------------- topology hints
# Where EndpointSlice hints come from (staging/src/k8s.io/endpointslice: reconciler.go,
# topologycache/, trafficdist/).  Two mechanisms, the annotation winning:
#   * ``service.kubernetes.io/topology-mode: Auto`` (or the deprecated
#     ``service.kubernetes.io/topology-aware-hints``): topology-aware routing.  The controller
#     gives each zone a share of the ready endpoints proportional to the allocatable CPU of its
#     ready nodes (control-plane nodes excluded), moving hints between zones so no zone gets less
#     than its share / 1.2 (the 20 % overload threshold) -- or writes no hints at all when that
#     is unsafe: a node without zone or CPU, nodes in one zone only, fewer endpoints than zones,
#     an endpoint without zone, or minimums that cannot all be met.
#   * ``spec.trafficDistribution: PreferClose`` (``PreferSameZone``; ``PreferSameNode`` adds a
#     node hint): every ready endpoint is hinted for its own zone (and node).
#   Otherwise slices carry no hints.
# Go iterates maps in random order when it moves hints between zones; kubelearn takes zones in
# sorted order, so the same cluster always gets the same hints.

TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
DEPRECATED_HINTS_ANNOTATION = "service.kubernetes.io/topology-aware-hints"
#: topologycache's overloadThreshold: no endpoint should take more than 20 % above its share.
OVERLOAD_THRESHOLD = 0.2
_CLOSE = ("PreferClose", "PreferSameZone", "PreferSameNode")

# topologycache/event.go
NO_ZONE_SPECIFIED = "One or more endpoints do not have a zone specified"
NO_ALLOCATED_HINTS_FOR_ZONES = "No hints allocated for zones"
TOPOLOGY_AWARE_HINTS_ENABLED = "Topology Aware Hints has been enabled"
INSUFFICIENT_NODE_INFO = "Insufficient Node information: allocatable CPU or zone not specified on one or more nodes"
NODES_READY_IN_ONE_ZONE_ONLY = "Nodes only ready in one zone"
INSUFFICIENT_NUMBER_OF_ENDPOINTS = "Insufficient number of endpoints"
MIN_ALLOCATION_EXCEEDS_OVERLOAD_THRESHOLD = ("Unable to allocate minimum required endpoints to each zone without "
                                             "exceeding overload threshold")


def hints_enabled(service: Mapping[str, Any]) -> bool:
    """``hintsEnabled``: the topology-mode annotation (or the deprecated one) is ``Auto``/``auto``."""
    ann = (service.get("metadata") or {}).get("annotations") or {}
    val = ann.get(TOPOLOGY_MODE_ANNOTATION, ann.get(DEPRECATED_HINTS_ANNOTATION))
    return val in ("Auto", "auto")


def _millicpu(q: Any) -> int:
    """A CPU quantity in millicores (``"8"``, ``"7500m"``, ``"0.5"``); 0 when unreadable."""
    text = str(q).strip() if q is not None else ""
    try:
        if text.endswith("m"):
            return int(text[:-1])
        return int(round(float(text) * 1000))
    except ValueError:
        return 0


def zone_cpu_ratios(cluster: Cluster) -> dict[str, float] | None:
    """``TopologyCache.SetNodes``: each zone's share of the ready nodes' allocatable CPU, or None
    when the controller would refuse hints (a node without zone or CPU, or fewer than 2 zones)."""
    cpu: dict[str, int] = {}
    for node in cluster.nodes():
        labels = objects.labels(node)
        if objects.is_control_plane(node):
            continue
        ready = objects.condition(node, "Ready")
        if ready is None or ready.get("status") != "True":
            continue
        zone = labels.get("topology.kubernetes.io/zone")
        millis = _millicpu(((node.get("status") or {}).get("allocatable") or {}).get("cpu"))
        if not zone or millis == 0:
            return None
        cpu[zone] = cpu.get(zone, 0) + millis
    total = sum(cpu.values())
    if total == 0 or len(cpu) < 2:
        return None
    return {z: c / total for z, c in sorted(cpu.items())}


def _allocations(ratios: dict[str, float] | None, n: int) -> tuple[dict[str, tuple[int, int, float]] | None, str]:
    """``getAllocations``: zone -> (minimum, maximum, desired), or None and the event message."""
    if ratios is None:
        return None, INSUFFICIENT_NODE_INFO
    if len(ratios) < 2:
        return None, NODES_READY_IN_ONE_ZONE_ONLY
    if len(ratios) > n:
        return None, f"{INSUFFICIENT_NUMBER_OF_ENDPOINTS} ({n} endpoints, {len(ratios)} zones)"
    remaining, min_total = n, 0
    mins: dict[str, tuple[int, float]] = {}
    for zone, ratio in ratios.items():
        desired = ratio * n
        minimum = math.ceil(desired * (1 / (1 + OVERLOAD_THRESHOLD)))
        mins[zone] = (minimum, max(desired, float(minimum)))
        min_total += minimum
        remaining -= minimum
        if remaining < 0:
            return None, f"{MIN_ALLOCATION_EXCEEDS_OVERLOAD_THRESHOLD} ({n} endpoints, {len(ratios)} zones)"
    return {z: (m, m + n - min_total, d) for z, (m, d) in mins.items()}, ""


def _most(values: dict[str, float]) -> tuple[str, float]:
    zone, num = "", 0.0
    for z in sorted(values):
        if values[z] > num:
            zone, num = z, values[z]
    return zone, num


def _giving_receiving(allocs: dict[str, tuple[int, int, float]], hinted: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    """``getGivingAndReceivingZones``."""
    giving_d: dict[str, float] = {}
    receiving_d: dict[str, float] = {}
    for zone, (_mn, _mx, target) in allocs.items():
        have = hinted.get(zone, 0)
        if have > target:
            giving_d[zone] = have - target
        elif have < target:
            receiving_d[zone] = target - have
    giving: dict[str, int] = {}
    receiving: dict[str, int] = {}
    while True:
        gz, ng = _most(giving_d)
        rz, nr = _most(receiving_d)
        if not gz or not rz or (ng < 1.0 and nr < 1.0) or ng < 0.5 or nr < 0.5:
            break
        giving[gz] = giving.get(gz, 0) + 1
        giving_d[gz] -= 1
        receiving[rz] = receiving.get(rz, 0) + 1
        receiving_d[rz] -= 1
    return giving, receiving


def _ready(ep: Mapping[str, Any]) -> bool:
    return bool((ep.get("conditions") or {}).get("ready"))


def add_topology_hints(slices: list[dict[str, Any]], ratios: dict[str, float] | None) -> str:
    """``TopologyCache.AddHints`` on freshly built slices (changed in place).

    Returns:
        The event message: ``Topology Aware Hints has been enabled`` or why hints were removed.
    """
    eps = [ep for s in slices for ep in s["endpoints"]]
    allocs, message = _allocations(ratios, sum(1 for ep in eps if _ready(ep)))
    if allocs is None:
        _remove_hints(slices)
        return message
    hinted: dict[str, int] = {}
    for ep in eps:  # step 1: every ready endpoint hinted for its own zone
        ep.pop("hints", None)
        if not _ready(ep):
            continue
        if not ep.get("zone"):
            _remove_hints(slices)
            return NO_ZONE_SPECIFIED
        hinted[ep["zone"]] = hinted.get(ep["zone"], 0) + 1
        ep["hints"] = {"forZones": [{"name": ep["zone"]}]}
    giving, receiving = _giving_receiving(allocs, hinted)  # step 2
    for ep in eps:  # step 3: move hints from giving zones to receiving ones
        if not _ready(ep):
            continue
        if not giving or not receiving:
            break
        gz = ep["zone"]
        if giving.get(gz, 0) > 0:
            for rz in sorted(receiving):
                if receiving[rz] > 0:
                    ep["hints"] = {"forZones": [{"name": rz}]}
                    giving[gz] -= 1
                    if not giving[gz]:
                        del giving[gz]
                    receiving[rz] -= 1
                    if not receiving[rz]:
                        del receiving[rz]
                    break
    if not hinted:
        _remove_hints(slices)
        return NO_ALLOCATED_HINTS_FOR_ZONES
    return TOPOLOGY_AWARE_HINTS_ENABLED


def _remove_hints(slices: list[dict[str, Any]]) -> None:
    for s in slices:
        for ep in s["endpoints"]:
            ep.pop("hints", None)


def add_close_hints(slices: list[dict[str, Any]], same_node: bool) -> None:
    """``trafficdist``'s preferCloseHeuristic: each ready endpoint hinted for its own zone (and
    node, for ``PreferSameNode``)."""
    for s in slices:
        for ep in s["endpoints"]:
            if not _ready(ep):
                continue
            hints: dict[str, Any] = {}
            if ep.get("zone"):
                hints["forZones"] = [{"name": ep["zone"]}]
            if same_node and ep.get("nodeName"):
                hints["forNodes"] = [{"name": ep["nodeName"]}]
            if hints:
                ep["hints"] = hints
            else:
                ep.pop("hints", None)


def apply_hints(cluster: Cluster, service: Mapping[str, Any], slices: list[dict[str, Any]]) -> str:
    """Give ``slices`` the hints the controller writes for ``service`` (see the comment above).

    Returns:
        The topology-aware-routing event message when the annotation is set, else "".
    """
    if hints_enabled(service):
        return add_topology_hints(slices, zone_cpu_ratios(cluster))
    td = (service.get("spec") or {}).get("trafficDistribution")
    if td in _CLOSE:
        add_close_hints(slices, same_node=td == "PreferSameNode")
    else:
        _remove_hints(slices)
    return ""
