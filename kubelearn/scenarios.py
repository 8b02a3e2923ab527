"""Ready-made clusters: one real manifest per Service behaviour worth seeing.

Each scenario is a YAML file in ``kubelearn/data/scenarios/`` that you could hand to
``kubectl apply -f`` on a kind cluster (the ``nftables`` and ``ipvs`` files start with a kind
``Cluster`` config and a ``KubeProxyConfiguration``, which ``kind create cluster --config``
reads).  Each file opens with a comment saying what it teaches.  Loading one gives the same
cluster every time for the same seed::

    c = kubelearn.scenario("nodeport-local")
    print(kubelearn.dump(c.get("Service", "web")))

The default, ``my-service``, is the tutorial's Service (selector ``app: MyApp``, port 80 to
targetPort 9376) in front of a three-replica Deployment, on a kind cluster with one
control-plane node and two workers.  ``terminating`` needs one step YAML cannot express (a
graceful pod deletion); :func:`scenario` performs it after applying the file.

Variations on a scenario, built the way a learner would change a cluster (a manifest applied,
a Deployment scaled, kube-proxy reconfigured) live here too, so a widget only draws:
:func:`explore_service` is the Service explorer's whole pipeline, from a :class:`ServiceSettings`
to the changed cluster, its request log and the predicted shares; :func:`teaching_events`
is the timeline player's default story (scale up, a crash, scale down).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from . import objects
from .cluster import Cluster
from .errors import KubelearnError
from .kind import load

__all__ = ["CLIENT_APP", "SCENARIOS", "TOPOLOGY_MODES", "TRAFFIC_DISTRIBUTIONS", "Exploration", "ServiceSettings",
           "UnknownScenarioError", "client_deployment", "default_scenario", "explore_service", "explorer_workload",
           "scenario", "scenario_path", "scenario_text", "service_manifest", "teaching_events",
           "with_client_pod", "with_load_balancer_ip", "with_proxy_mode"]

#: Scenario name -> what it shows (one line).
SCENARIOS: Mapping[str, str] = MappingProxyType({
    "my-service": "the tutorial's my-service (app: MyApp, 80 -> 9376) in front of 3 replicas",
    "nodeport": "NodePort 30080 with externalTrafficPolicy: Cluster: any node forwards to any pod, source NATed",
    "nodeport-local": "NodePort with externalTrafficPolicy: Local and 2 replicas: one node has no pod and drops",
    "loadbalancer": "LoadBalancer at 172.18.255.200 with eTP Local, source ranges and a healthCheckNodePort",
    "session-affinity": "sessionAffinity: ClientIP: each client sticks to one pod for 10800 s",
    "headless-statefulset": "headless Service nginx + StatefulSet web: DNS returns pod IPs, web-0.nginx...",
    "externalname": "ExternalName: a DNS CNAME to db.example.com, no ClusterIP, no rules",
    "no-endpoints": "a selector that matches no pod: ClusterIP and DNS work, connections are refused",
    "internal-local": "internalTrafficPolicy: Local: pods only reach the Service's pods on their own node",
    "named-targetport": "targetPort http: blue pods serve it on 8080, green pods on 9090",
    "externalips": "ClusterIP Service with externalIPs 203.0.113.10",
    "multi-port": "one Service, named ports tcp-echo (TCP) and udp-echo (UDP)",
    "terminating": "the only pod is terminating: kube-proxy falls back to serving-terminating endpoints",
    "selectorless": "a Service without selector and a hand-written EndpointSlice to 192.0.2.42",
    "nftables": "my-service with kube-proxy in nftables mode",
    "ipvs": "my-service with kube-proxy in IPVS mode, scheduler rr",
})

DEFAULT_SCENARIO = "my-service"


class UnknownScenarioError(KubelearnError, KeyError):
    """A scenario name kubelearn does not have."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(str(self))

    def __str__(self) -> str:
        return f'unknown scenario "{self.name}"; valid scenarios: {", ".join(SCENARIOS)}'

    def __reduce__(self) -> tuple[object, ...]:
        return (UnknownScenarioError, (self.name,))


def _check(name: str) -> None:
    if name not in SCENARIOS:
        raise UnknownScenarioError(name)


def scenario_path(name: str) -> Path:
    """The scenario's manifest file (inside the installed package).

    Raises:
        UnknownScenarioError: listing the valid names.
    """
    _check(name)
    root = resources.files("kubelearn") / "data" / "scenarios" / f"{name}.yaml"
    return Path(str(root))


def scenario_text(name: str) -> str:
    """The scenario's manifest, as text (comment header included)."""
    _check(name)
    return (resources.files("kubelearn") / "data" / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8")


def _terminating(cluster: Cluster) -> Cluster:
    # `kubectl delete pod web-0` starts a graceful deletion: the pod keeps running, Terminating,
    # for terminationGracePeriodSeconds.
    return cluster.delete_pod("web-0", grace=True)


_AFTER: Mapping[str, Callable[[Cluster], Cluster]] = MappingProxyType({"terminating": _terminating})


def scenario(name: str, seed: int = 0) -> Cluster:
    """Load a scenario by name (see :data:`SCENARIOS`).

    Args:
        name: e.g. ``"nodeport-local"``.
        seed: seed for ClusterIPs, node ports and pod names.

    Raises:
        UnknownScenarioError: for a name not in :data:`SCENARIOS`, listing the valid ones.
    """
    _check(name)
    path = scenario_path(name)
    cluster = load(path if path.is_file() else scenario_text(name), seed=seed)
    after = _AFTER.get(name)
    return after(cluster) if after is not None else cluster


def default_scenario(seed: int = 0) -> Cluster:
    """The tutorial's ``my-service`` on the default three-node kind cluster."""
    return scenario(DEFAULT_SCENARIO, seed=seed)


# ------------------------------------------------------------------ variations on a scenario
SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
AFFINITIES = ("None", "ClientIP")
PROXY_MODES = ("iptables", "nftables", "ipvs")
# kube-proxy's IPVS schedulers (ipvs.scheduler; "" means rr).
IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh")
TRAFFIC_POLICIES = ("Cluster", "Local")
#: ``spec.trafficDistribution`` values ("" = not set).  Which ones the API server accepts depends
#: on the version modelled (PreferSameZone and PreferSameNode need the PreferSameTrafficDistribution
#: gate); the explorer offers all and shows the API server's answer.
TRAFFIC_DISTRIBUTIONS = ("", "PreferClose", "PreferSameZone", "PreferSameNode")
#: The ``service.kubernetes.io/topology-mode`` annotation (topology-aware routing): "" = not set.
TOPOLOGY_MODES = ("", "Auto")
TOPOLOGY_MODE_ANNOTATION = "service.kubernetes.io/topology-mode"
#: Label of the client pods the explorer adds for in-cluster traffic.
CLIENT_APP = "kubelearn-client"
#: The load balancer's address (what cloud-provider-kind would assign from the kind network).
LB_IP = "172.18.255.200"
EXTERNAL_CIDR = "203.0.113.0/24"  # TEST-NET-3: documentation addresses, never a real client
#: Simulated run length: arrivals are spread over this many seconds, so short affinity
#: timeouts are visibly reached.
RUN_SECONDS = 600.0
#: Pictures kept for settings already drawn (flipping a control back is instant).
CACHE_SIZE = 16


@dataclass(frozen=True)
class ServiceSettings:
    """Everything the explorer's controls set.

    ``external_traffic_policy`` is ``""`` for "not set" (the API server then defaults it to
    ``Cluster`` on NodePort and LoadBalancer Services); setting it on a plain ClusterIP
    Service is refused, as on a real cluster.  ``traffic_distribution`` is
    ``spec.trafficDistribution`` and ``topology_mode`` the ``service.kubernetes.io/topology-mode``
    annotation (``"Auto"``), both ``""`` for "not set".
    """

    type: str = "ClusterIP"
    headless: bool = False
    replicas: int = 3
    session_affinity: str = "None"
    affinity_timeout: int = 10800
    proxy_mode: str = "iptables"
    ipvs_scheduler: str = "rr"
    external_traffic_policy: str = ""
    internal_traffic_policy: str = "Cluster"
    traffic_distribution: str = ""
    topology_mode: str = ""
    clients: int = 10
    connections: int = 2000
    seed: int = 0


@dataclass
class Exploration:
    """The result of one setting: the cluster, the request log and the predicted shares, or an error."""

    settings: ServiceSettings
    cluster: Cluster | None = None
    log: pd.DataFrame | None = None
    predicted: dict[str, float] = field(default_factory=dict)
    service: str = ""
    error: str | None = None


def service_manifest(settings: ServiceSettings, template: Mapping[str, Any]) -> dict[str, Any]:
    """The Service manifest for ``settings``, keeping the template's name, selector and ports.

    Allocated fields (clusterIP, nodePort) are not copied: the API server allocates them again,
    as it would for a Service deleted and re-created.
    """
    meta = template["metadata"]
    spec = template["spec"]
    ports = []
    for p in spec.get("ports") or []:
        port = {"port": p["port"], "targetPort": p.get("targetPort", p["port"]), "protocol": p.get("protocol", "TCP")}
        if p.get("name"):
            port["name"] = p["name"]
        ports.append(port)
    new_spec: dict[str, Any] = {"type": settings.type, "selector": dict(spec.get("selector") or {}), "ports": ports,
                                "sessionAffinity": settings.session_affinity,
                                "internalTrafficPolicy": settings.internal_traffic_policy}
    if settings.headless:
        new_spec["clusterIP"] = "None"
    if settings.session_affinity == "ClientIP":
        new_spec["sessionAffinityConfig"] = {"clientIP": {"timeoutSeconds": settings.affinity_timeout}}
    if settings.external_traffic_policy:
        new_spec["externalTrafficPolicy"] = settings.external_traffic_policy
    if settings.traffic_distribution:
        new_spec["trafficDistribution"] = settings.traffic_distribution
    out_meta: dict[str, Any] = {"name": meta["name"], "namespace": meta.get("namespace", "default")}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    # the template's annotations, but the topology mode is the setting's (set or not)
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != TOPOLOGY_MODE_ANNOTATION}
    if settings.topology_mode:
        annotations[TOPOLOGY_MODE_ANNOTATION] = settings.topology_mode
    if annotations:
        out_meta["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Service", "metadata": out_meta, "spec": new_spec}


def client_deployment(replicas: int, namespace: str = "default") -> dict[str, Any]:
    """A Deployment of ``replicas`` idle client pods (label ``app: kubelearn-client``) to send traffic from."""
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": CLIENT_APP, "namespace": namespace, "labels": {"app": CLIENT_APP}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": CLIENT_APP}},
                     "template": {"metadata": {"labels": {"app": CLIENT_APP}},
                                  "spec": {"containers": [{"name": "client", "image": "busybox:1.36",
                                                           "command": ["sleep", "infinity"]}]}}}}


def _target(cluster: Cluster) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The base cluster's first Service with a selector, and the Deployment it selects."""
    from .labels import selector_matches

    for svc in list(cluster.services()):
        sel = svc["spec"].get("selector")
        if svc["metadata"].get("namespace") == "kube-system" or not sel or objects.name(svc) == "kubernetes":
            continue
        ns = svc["metadata"].get("namespace", "default")
        for dep in list(cluster.list("Deployment", ns)):
            labels = dep["spec"].get("template", {}).get("metadata", {}).get("labels") or {}
            if selector_matches(sel, labels):
                return svc, dep
        return svc, None
    raise KubelearnError("the base cluster has no Service with a selector to explore")


def with_load_balancer_ip(cluster: Cluster, name: str, namespace: str) -> Cluster:
    """Write the address a load-balancer controller would give the Service into its status.

    kind has no cloud: a LoadBalancer Service stays ``EXTERNAL-IP <pending>`` until a controller
    such as cloud-provider-kind or MetalLB assigns an address from the node network and writes
    ``status.loadBalancer.ingress``.  The explorer plays that controller, with the address the
    ``loadbalancer`` scenario uses (simplification: no real controller runs).
    """
    svc = copy.deepcopy(cluster.get("Service", name, namespace))
    svc.setdefault("status", {})["loadBalancer"] = {"ingress": [{"ip": LB_IP, "ipMode": "VIP"}]}
    return cluster.with_object(svc)


def with_proxy_mode(cluster: Cluster, mode: str, scheduler: str = "rr") -> Cluster:
    """The cluster with kube-proxy's ``mode`` (and ``ipvs.scheduler``) set in its configuration."""
    config = dict(cluster.proxy_config)
    config["mode"] = mode
    ipvs = dict(config.get("ipvs") or {})
    ipvs["scheduler"] = scheduler
    config["ipvs"] = ipvs
    return replace(cluster, proxy_config=config)


def explorer_workload(settings: ServiceSettings, svc: Mapping[str, Any], cluster: Cluster) -> Any:
    """The clients the explorer sends from: client pods in the cluster for a ClusterIP or
    headless Service, outside addresses (TEST-NET-3) through a node port or the load balancer."""
    from .traffic.workload import cluster_ip, dns, external_clients, load_balancer, node_port, pod_clients, workload

    name = objects.name(svc)
    ns = svc["metadata"].get("namespace", "default")
    port = int(svc["spec"]["ports"][0]["port"])
    if settings.headless:
        clients, target = pod_clients(selector={"app": CLIENT_APP}, namespace=ns), dns(name, port)
    elif settings.type == "ClusterIP":
        clients, target = pod_clients(selector={"app": CLIENT_APP}, namespace=ns), cluster_ip(name, port, ns)
    elif settings.type == "NodePort":
        workers = [objects.name(n) for n in cluster.nodes() if not objects.is_control_plane(n)]
        node = workers[0] if workers else objects.name(cluster.nodes()[0])
        clients, target = external_clients(EXTERNAL_CIDR, settings.clients), node_port(name, node, port, ns)
    else:
        clients, target = external_clients(EXTERNAL_CIDR, settings.clients), load_balancer(name, "cloud", port, ns)
    return workload(clients, target, connections=settings.connections, arrival="poisson",
                       rate=settings.connections / RUN_SECONDS, name="service-explorer")


def explore_service(settings: ServiceSettings, base: Cluster | None = None) -> Exploration:
    """Apply ``settings`` to ``base`` (default: the default scenario) and simulate the traffic.

    The Deployment behind the Service is scaled to ``replicas``, the Service is deleted and
    re-created from :func:`service_manifest` (so a change of type or of ``clusterIP`` is a
    clean create, as a learner would do with ``kubectl delete`` and ``kubectl apply``), client
    pods are added for in-cluster traffic, kube-proxy's mode is set, and
    :func:`kubelearn.traffic.simulate` runs.

    Returns:
        An :class:`Exploration`; ``error`` holds the API server's message when Kubernetes
        refuses the combination (nothing is raised for that).
    """
    from .traffic import simulate
    from .traffic.simulate import predicted_shares

    result = Exploration(settings)
    try:
        if base is None:
            base = default_scenario()
        svc, dep = _target(base)
        ns = svc["metadata"].get("namespace", "default")
        result.service = f"{ns}/{svc['metadata']['name']}"
        cluster = base
        if dep is not None:
            cluster = cluster.scale(objects.name(dep), settings.replicas, namespace=ns)
        # The Service is deleted and created again (so the API server allocates afresh); the
        # client pods are applied with it, in one apply: one round of the controllers, not two.
        manifests = [service_manifest(settings, svc)]
        if settings.headless or settings.type == "ClusterIP":
            manifests.insert(0, client_deployment(settings.clients, ns))
        cluster = cluster.delete("Service", objects.name(svc), ns).apply(*manifests)
        if settings.type == "LoadBalancer":
            cluster = with_load_balancer_ip(cluster, objects.name(svc), ns)
        cluster = with_proxy_mode(cluster, settings.proxy_mode, settings.ipvs_scheduler)
        new_svc = cluster.get("Service", objects.name(svc), ns)
        wl = explorer_workload(settings, new_svc, cluster)
        result.cluster = cluster
        result.log = simulate(cluster, wl, seed=settings.seed, progress=False)
        shares = predicted_shares(cluster, wl)
        # NaN where the model cannot predict (events, cached multi-record DNS answers): no reference
        reached = {str(p): float(v) for p, v in shares["predicted"].items() if p and v == v}
        total = sum(reached.values())
        result.predicted = {p: v / total for p, v in reached.items()} if total else {}
    except KubelearnError as exc:
        result.error = str(exc)
    return result


def with_client_pod(cluster: Cluster, name: str = "client", namespace: str = "default") -> Cluster:
    """The cluster with one idle client pod (``app: client``), where a learner's connections start.

    The same Pod as the lessons' ``client`` (busybox sleeping), applied as ``kubectl apply``
    would: the scheduler places it, the kubelet gives it an IP.
    """
    return cluster.apply({"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": name, "namespace": namespace, "labels": {"app": "client"}},
                          "spec": {"containers": [{"name": "client", "image": "busybox:1.36",
                                                   "command": ["sleep", "infinity"]}]}})


def teaching_events(cluster: Cluster, wl: Any) -> list[dict[str, Any]]:
    """Scale up at 15 s, a crash at 30 s, scale down at 45 s: the Deployment behind the workload's Service.

    Returns:
        Workload events (``{"at": 15, "scale": {...}}``); none when no Deployment backs the Service.
    """
    from .labels import selector_matches

    first = next(iter(wl.target.values()))
    target = dict(first) if not isinstance(first, str) else {}
    svc_name = target.get("service") or wl.target.get("dns")
    ns = target.get("namespace", "default")
    svc = cluster.get("Service", str(svc_name).split(".")[0], ns)
    selector = svc["spec"].get("selector") or {}
    deps = [d for d in cluster.list("Deployment", ns)
            if selector_matches(selector, d["spec"]["template"]["metadata"].get("labels") or {})]
    if not deps:
        return []
    dep = objects.name(deps[0])
    replicas = int(deps[0]["spec"].get("replicas", 1))
    pods = sorted(objects.name(p) for p in cluster.pods(ns)
                  if selector_matches(selector, p["metadata"].get("labels") or {}))
    events: list[dict[str, Any]] = [{"at": 15, "scale": {"deployment": dep, "replicas": replicas + 2}}]
    if pods:
        events.append({"at": 30, "crashPod": {"name": pods[0]}})
    events.append({"at": 45, "scale": {"deployment": dep, "replicas": max(1, replicas - 1)}})
    return events


# Three zones (issue 13): added here, at the end, to stay clear of other edits to the table above.
SCENARIOS = MappingProxyType({
    **SCENARIOS,
    "three-zones": "three workers in zones a, b, c; Service web with trafficDistribution: PreferClose "
                   "and web-auto with topology-mode: Auto",
})
