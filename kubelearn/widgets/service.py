"""The Service explorer: change a Service and its cluster, and see where traffic goes.

Every control is a field of a real manifest or configuration: ``spec.type``,
``spec.clusterIP: None`` (headless), ``spec.sessionAffinity`` and its
``timeoutSeconds``, ``spec.externalTrafficPolicy`` and ``spec.internalTrafficPolicy`` on the
Service; ``spec.replicas`` on the Deployment behind it; ``mode`` and ``ipvs.scheduler`` in
kube-proxy's configuration.  Each change rebuilds the Service manifest, applies it to the
base cluster exactly as ``kubectl apply`` would, simulates the traffic and redraws the
topology and the load per pod.  A combination Kubernetes refuses (a headless NodePort, a
traffic policy on a Service nothing external can reach) shows the API server's own message.
"""

from __future__ import annotations

import copy
import html
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import pandas as pd

from ..cluster import Cluster
from ..errors import KubelearnError
from ..plots import plot_load, plot_topology
from ..plots._common import KubelearnFigure, objects, style
from ._base import View, svg_output

__all__ = ["CLIENT_APP", "Exploration", "ServiceExplorer", "ServiceSettings", "explain_change", "explore_service",
           "service_manifest"]

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer")
AFFINITIES = ("None", "ClientIP")
PROXY_MODES = ("iptables", "nftables", "ipvs")
# kube-proxy's IPVS schedulers (ipvs.scheduler; "" means rr).
IPVS_SCHEDULERS = ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "sed", "nq", "mh")
TRAFFIC_POLICIES = ("Cluster", "Local")
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
    Service is refused, as on a real cluster.
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
    out_meta: dict[str, Any] = {"name": meta["name"], "namespace": meta.get("namespace", "default")}
    if meta.get("labels"):
        out_meta["labels"] = dict(meta["labels"])
    return {"apiVersion": "v1", "kind": "Service", "metadata": out_meta, "spec": new_spec}


def _client_deployment(replicas: int, namespace: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": CLIENT_APP, "namespace": namespace, "labels": {"app": CLIENT_APP}},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": CLIENT_APP}},
                     "template": {"metadata": {"labels": {"app": CLIENT_APP}},
                                  "spec": {"containers": [{"name": "client", "image": "busybox:1.36",
                                                           "command": ["sleep", "infinity"]}]}}}}


def _target(cluster: Cluster) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The base cluster's first Service with a selector, and the Deployment it selects."""
    from ..labels import selector_matches

    for svc in objects(cluster.services()):
        sel = svc["spec"].get("selector")
        if svc["metadata"].get("namespace") == "kube-system" or not sel or svc["metadata"]["name"] == "kubernetes":
            continue
        ns = svc["metadata"].get("namespace", "default")
        for dep in objects(cluster.list("Deployment", ns)):
            labels = dep["spec"].get("template", {}).get("metadata", {}).get("labels") or {}
            if selector_matches(sel, labels):
                return svc, dep
        return svc, None
    raise KubelearnError("the base cluster has no Service with a selector to explore")


def _with_load_balancer_ip(cluster: Cluster, name: str, namespace: str) -> Cluster:
    """Write the address a load-balancer controller would give the Service into its status.

    kind has no cloud: a LoadBalancer Service stays ``EXTERNAL-IP <pending>`` until a controller
    such as cloud-provider-kind or MetalLB assigns an address from the node network and writes
    ``status.loadBalancer.ingress``.  The explorer plays that controller, with the address the
    ``loadbalancer`` scenario uses (simplification: no real controller runs).
    """
    svc = copy.deepcopy(cluster.get("Service", name, namespace))
    svc.setdefault("status", {})["loadBalancer"] = {"ingress": [{"ip": LB_IP, "ipMode": "VIP"}]}
    return cluster.with_object(svc)


def _with_proxy(cluster: Cluster, mode: str, scheduler: str) -> Cluster:
    config = dict(cluster.proxy_config)
    config["mode"] = mode
    ipvs = dict(config.get("ipvs") or {})
    ipvs["scheduler"] = scheduler
    config["ipvs"] = ipvs
    return replace(cluster, proxy_config=config)


def _workload(settings: ServiceSettings, svc: Mapping[str, Any], cluster: Cluster) -> Any:
    from ..traffic.workload import cluster_ip, dns, external, load_balancer, node_port, pods, workload

    name = svc["metadata"]["name"]
    ns = svc["metadata"].get("namespace", "default")
    port = int(svc["spec"]["ports"][0]["port"])
    if settings.headless:
        clients, target = pods(selector={"app": CLIENT_APP}, namespace=ns), dns(name, port)
    elif settings.type == "ClusterIP":
        clients, target = pods(selector={"app": CLIENT_APP}, namespace=ns), cluster_ip(name, port, ns)
    elif settings.type == "NodePort":
        workers = [n["metadata"]["name"] for n in objects(cluster.nodes())
                   if "node-role.kubernetes.io/control-plane" not in (n["metadata"].get("labels") or {})]
        node = workers[0] if workers else objects(cluster.nodes())[0]["metadata"]["name"]
        clients, target = external(EXTERNAL_CIDR, settings.clients), node_port(name, node, port, ns)
    else:
        clients, target = external(EXTERNAL_CIDR, settings.clients), load_balancer(name, "cloud", port, ns)
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
    from ..traffic import simulate
    from ..traffic.simulate import predicted_shares

    result = Exploration(settings)
    try:
        if base is None:
            from ..scenarios import default_scenario

            base = default_scenario()
        svc, dep = _target(base)
        ns = svc["metadata"].get("namespace", "default")
        result.service = f"{ns}/{svc['metadata']['name']}"
        cluster = base
        if dep is not None:
            cluster = cluster.scale(dep["metadata"]["name"], settings.replicas, namespace=ns)
        # The Service is deleted and created again (so the API server allocates afresh); the
        # client pods are applied with it, in one apply: one round of the controllers, not two.
        manifests = [service_manifest(settings, svc)]
        if settings.headless or settings.type == "ClusterIP":
            manifests.insert(0, _client_deployment(settings.clients, ns))
        cluster = cluster.delete("Service", svc["metadata"]["name"], ns).apply(*manifests)
        if settings.type == "LoadBalancer":
            cluster = _with_load_balancer_ip(cluster, svc["metadata"]["name"], ns)
        cluster = _with_proxy(cluster, settings.proxy_mode, settings.ipvs_scheduler)
        new_svc = cluster.get("Service", svc["metadata"]["name"], ns)
        wl = _workload(settings, new_svc, cluster)
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


# ------------------------------------------------------------------------ explanations
def _share(n: int) -> str:
    return f"{1 / n:.0%}" if n > 0 else "none"


def explain_change(old: ServiceSettings | None, new: ServiceSettings) -> str:
    """One line, in plain words, about what the last change does (or what is shown at first)."""
    if old is None:
        return (f"{new.type}{' (headless)' if new.headless else ''} Service in front of {new.replicas} pods, "
                f"{new.connections:,} connections from {new.clients} clients: each pod should get about "
                f"{_share(new.replicas)}.")
    changed = [f.name for f in fields(ServiceSettings) if getattr(old, f.name) != getattr(new, f.name)]
    if not changed:
        return "Nothing changed."
    f = changed[0]
    a, b = getattr(old, f), getattr(new, f)
    texts: dict[str, Callable[[], str]] = {  # lazily: only the changed field's values fit
        "replicas": lambda: f"replicas {a} → {b}: each ready pod should now get about {_share(b)} of the connections "
                    f"(was {_share(a)}).",
        "type": lambda: {"ClusterIP": "type ClusterIP: only reachable inside the cluster, through its virtual IP.",
                 "NodePort": "type NodePort: every node now also listens on the node port; external clients dial "
                             "a node's IP.",
                 "LoadBalancer": f"type LoadBalancer: a load balancer at {LB_IP} (the address cloud-provider-kind would "
                                 "give) spreads clients over the nodes' node ports."}.get(str(b), f"type {a} → {b}."),
        "headless": lambda: ("headless (clusterIP: None): no virtual IP and no kube-proxy rules; DNS returns every pod's IP "
                     "and the client picks one." if b else "not headless: the Service gets a virtual IP again "
                     "and kube-proxy picks a pod per connection."),
        "session_affinity": lambda: ("sessionAffinity ClientIP: a client's later connections return to its first pod "
                             f"until it is silent for {new.affinity_timeout:,} s." if b == "ClientIP" else
                             "sessionAffinity None: every connection picks a pod afresh."),
        "affinity_timeout": lambda: f"affinity timeout {a:,} s → {b:,} s: a client silent for longer is sent to a pod "
                            "chosen afresh.",
        "proxy_mode": lambda: f"kube-proxy mode {a} → {b}: the same Service, programmed into "
                      + {"iptables": "iptables chains (one rule per Service port, tried in order).",
                         "nftables": "nftables verdict maps (one lookup per packet).",
                         "ipvs": "the kernel's IPVS load balancer (a scheduler picks the pod)."}.get(str(b), f"{b}."),
        "ipvs_scheduler": lambda: f"IPVS scheduler {a} → {b}: "
                          + {"rr": "pods in turn.", "lc": "the pod with the fewest active connections.",
                             "sh": "a hash of the client's address: each client always reaches the same pod.",
                             "dh": "a hash of the destination address: all clients reach the same pod.",
                             "wrr": "pods in turn, by weight (all weights are 1).",
                             "mh": "Maglev hashing of the client's address."}.get(str(b), "another way to pick."),
        "external_traffic_policy": lambda: ("externalTrafficPolicy Local: a node only sends outside traffic to its own pods "
                                    "and keeps the client's address (no SNAT); a node without one drops it."
                                    if b == "Local" else "externalTrafficPolicy Cluster: any node forwards to any "
                                    "pod, rewriting the source address (SNAT) when it crosses nodes."
                                    if b == "Cluster" else "externalTrafficPolicy not set: the API server "
                                    "defaults it to Cluster for NodePort and LoadBalancer Services."),
        "internal_traffic_policy": lambda: ("internalTrafficPolicy Local: pods only reach endpoints on their own node; a "
                                    "node without one drops the traffic." if b == "Local" else
                                    "internalTrafficPolicy Cluster: pods reach endpoints on any node."),
        "clients": lambda: f"clients {a} → {b}: more clients means more, smaller per-client streams.",
        "connections": lambda: f"connections {a:,} → {b:,}: a bigger sample; the counts hug the prediction more "
                       f"(the band's relative width shrinks by about {math.sqrt(b / a) if a else 1:.1f}×).",
        "seed": lambda: f"seed {a} → {b}: the same settings with different luck; the counts move within the grey band.",
    }
    more = f" (and {len(changed) - 1} more change{'s' if len(changed) > 2 else ''})" if len(changed) > 1 else ""
    return (texts[f]() if f in texts else f"{f}: {a} → {b}.") + more


# --------------------------------------------------------------------------- the widget
Runner = Callable[[ServiceSettings, "Cluster | None"], Exploration]


class ServiceExplorer(View):
    """A Service explorer for notebooks: controls on top, topology and load per pod below.

    >>> ServiceExplorer()          # doctest: +SKIP  (shows the widget in a notebook)

    Attributes:
        settings: the current :class:`ServiceSettings`.
        result: the current :class:`Exploration` (cluster, log, predicted shares or error).
        controls: the ipywidgets controls, by field name in :attr:`inputs`.
    """

    height = "760px"

    def __init__(self, base: Cluster | None = None, settings: ServiceSettings | None = None,
                 run: Runner | None = None) -> None:
        super().__init__()
        w = self._w
        self.base = base
        self._run: Runner = run or explore_service
        self.settings = settings or ServiceSettings()
        self._previous: ServiceSettings | None = None
        s = self.settings
        common = {"continuous_update": False, "style": {"description_width": "initial"}}
        label = {"style": {"description_width": "initial"}}  # field names in full: sessionAffinity, not "sessionA..."
        self.inputs: dict[str, Any] = {
            "type": w.Dropdown(options=SERVICE_TYPES, value=s.type, description="type",
                               tooltip="spec.type", **label),
            "headless": w.Checkbox(value=s.headless, description="headless (clusterIP: None)", indent=False),
            "replicas": w.IntSlider(value=s.replicas, min=0, max=12, description="replicas",
                                    tooltip="the Deployment's spec.replicas", **common),
            "session_affinity": w.Dropdown(options=AFFINITIES, value=s.session_affinity,
                                           description="sessionAffinity", **label),
            "affinity_timeout": w.BoundedIntText(value=s.affinity_timeout, min=-1, max=100000,
                                                 description="timeoutSeconds", **common),
            "proxy_mode": w.Dropdown(options=PROXY_MODES, value=s.proxy_mode, description="kube-proxy mode", **label),
            "ipvs_scheduler": w.Dropdown(options=IPVS_SCHEDULERS, value=s.ipvs_scheduler,
                                         description="IPVS scheduler", **label),
            "external_traffic_policy": w.Dropdown(options=[("not set", ""), ("Cluster", "Cluster"),
                                                           ("Local", "Local")],
                                                  value=s.external_traffic_policy,
                                                  description="externalTrafficPolicy", **label),
            "internal_traffic_policy": w.Dropdown(options=TRAFFIC_POLICIES, value=s.internal_traffic_policy,
                                                  description="internalTrafficPolicy", **label),
            "clients": w.IntSlider(value=s.clients, min=1, max=50, description="clients", **common),
            "connections": w.IntSlider(value=s.connections, min=100, max=20000, step=100,
                                       description="connections", **common),
            "seed": w.IntText(value=s.seed, description="seed", **common),
        }
        for key, control in self.inputs.items():
            control.layout = w.Layout(width="auto", min_width="210px")
            control.observe(self._on_change, names="value")
            control.tooltip = control.tooltip or key
        self.controls = list(self.inputs.values())
        self.result = Exploration(self.settings)
        self._cache: dict[ServiceSettings, tuple[Exploration, bytes]] = {}
        self._sync_enabled()
        self.refresh()

    @property
    def widget(self) -> Any:
        if self._widget is None:
            w = self._w
            rows = [["type", "headless", "replicas", "session_affinity", "affinity_timeout"],
                    ["proxy_mode", "ipvs_scheduler", "external_traffic_policy", "internal_traffic_policy"],
                    ["clients", "connections", "seed"]]
            self._widget = w.VBox([*(w.HBox([self.inputs[k] for k in row], layout=w.Layout(flex_flow="row wrap"))
                                     for row in rows), self.message, self.output])
        return self._widget

    def _sync_enabled(self) -> None:
        # A control that does not apply is greyed out rather than silently ignored.
        self.inputs["affinity_timeout"].disabled = self.settings.session_affinity != "ClientIP"
        self.inputs["ipvs_scheduler"].disabled = self.settings.proxy_mode != "ipvs"

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self.set(**{k: c.value for k, c in self.inputs.items()})

    def set(self, **values: Any) -> None:
        """Change settings programmatically (as the controls do) and redraw.

        Raises:
            KubelearnError: for a name that is not one of :class:`ServiceSettings`' fields.
        """
        unknown = sorted(set(values) - {f.name for f in fields(ServiceSettings)})
        if unknown:
            raise KubelearnError(f"unknown setting(s) {', '.join(unknown)}; the explorer's settings are "
                                 + ", ".join(f.name for f in fields(ServiceSettings)))
        new = replace(self.settings, **values)
        if new == self.settings and self.renders:
            return
        self._previous, self.settings = self.settings, new
        for key, value in values.items():  # keep the controls in step when called from code
            if self.inputs[key].value != value:
                self.inputs[key].unobserve(self._on_change, names="value")
                self.inputs[key].value = value
                self.inputs[key].observe(self._on_change, names="value")
        self._sync_enabled()
        self.refresh()

    def refresh(self) -> None:
        # Learners flip a control back and forth; a settings value already drawn is shown again
        # at once (the pipeline is deterministic, so the picture would be identical).
        hit = self._cache.get(self.settings)
        if hit is not None:
            self.result, svg = hit
            self.error = None
            self.output.outputs = (svg_output(svg, self.explain()),)
            self.message.value = f"<b>{html.escape(self.explain())}</b>"
            self.renders += 1
            return
        self.result = self._run(self.settings, self.base)
        super().refresh()
        drawn = self.picture()
        if drawn is not None:
            self._cache[self.settings] = (self.result, drawn)
            while len(self._cache) > CACHE_SIZE:
                self._cache.pop(next(iter(self._cache)))

    def explain(self) -> str:
        line = explain_change(self._previous, self.settings)
        log = self.result.log
        if log is not None and len(log):
            ok = int((log["outcome"] == "ok").sum())
            line += f" Observed: {ok:,} of {len(log):,} requests answered."
        return line

    def figure(self) -> KubelearnFigure:
        """Topology (top) and load per pod (bottom) for the current settings.

        Raises:
            KubelearnError: the API server's refusal, when the settings are refused.
        """
        if self.result.error is not None:
            raise _Refused(self.result.error)
        assert self.result.cluster is not None and self.result.log is not None
        with style():
            # Fixed margins instead of constrained layout: a widget redraws on every change and
            # the layout engine costs as much as the drawing; the legends sit in the right margin.
            fig = KubelearnFigure(figsize=(13, 10))
            top, bottom = fig.subplots(2, 1, height_ratios=[1.7, 1])
            fig.subplots_adjust(left=0.06, right=0.81, top=0.96, bottom=0.12, hspace=0.2)
        plot_topology(self.result.cluster, self.result.log, service=self.result.service, ax=top)
        plot_load(self.result.log, predicted=self.result.predicted or None, service=self.result.service, ax=bottom)
        return fig

    def __repr__(self) -> str:
        return f"ServiceExplorer({', '.join(f'{k}={v!r}' for k, v in asdict(self.settings).items())})"


class _Refused(KubelearnError):
    """Carries an API server message that was already rendered."""
