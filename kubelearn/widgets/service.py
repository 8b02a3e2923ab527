"""The Service explorer: change a Service and its cluster, and see where traffic goes.

Every control is a field of a real manifest or configuration (the manifests are built, and
the cluster changed, by :func:`kubelearn.scenarios.explore_service`; this module only draws
and explains): ``spec.type``,
``spec.clusterIP: None`` (headless), ``spec.sessionAffinity`` and its
``timeoutSeconds``, ``spec.externalTrafficPolicy``, ``spec.internalTrafficPolicy``,
``spec.trafficDistribution`` and the ``service.kubernetes.io/topology-mode`` annotation on the
Service; ``spec.replicas`` on the Deployment behind it; ``mode`` and ``ipvs.scheduler`` in
kube-proxy's configuration.  Each change rebuilds the Service manifest, applies it to the
base cluster exactly as ``kubectl apply`` would, simulates the traffic and redraws the
topology and the load per pod.  On a cluster whose nodes carry ``topology.kubernetes.io/zone``
(the ``three-zones`` scenario) a third picture shows where the requests went by zone
(:func:`kubelearn.plots.plot_zone_traffic`) and, node by node, which endpoints that node's
kube-proxy kept (:func:`kubelearn.proxy.kept_endpoints`).  A combination Kubernetes refuses (a headless NodePort, a
traffic policy on a Service nothing external can reach) shows the API server's own message.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, fields, replace
from typing import Any

import pandas as pd

from .. import objects
from ..cluster import Cluster
from ..errors import KubelearnError
from ..plots import plot_load, plot_topology, plot_zone_traffic, topology_figsize
from ..plots._common import MAX_WIDTH, KubelearnFigure, new_figure, text_values
from ..proxy import kept_endpoints
from ..proxy.config import node_zones
from ..scenarios import (
    AFFINITIES,
    CLIENT_APP,
    IPVS_SCHEDULERS,
    LB_IP,
    PROXY_MODES,
    SERVICE_TYPES,
    TOPOLOGY_MODES,
    TRAFFIC_DISTRIBUTIONS,
    TRAFFIC_POLICIES,
    Exploration,
    ServiceSettings,
    explore_service,
    service_manifest,
)
from ..traffic.zones import cross_zone_share
from ._base import View, legend_inches, place, svg_output

__all__ = ["CLIENT_APP", "Exploration", "ServiceExplorer", "ServiceSettings", "explain_change", "explore_service",
           "service_manifest"]

#: Pictures kept for settings already drawn (flipping a control back is instant).
CACHE_SIZE = 16
#: Height (inches) of the zone picture, drawn under the others on a cluster with zones.
ZONE_HEIGHT = 3.4


# ------------------------------------------------------------------------ explanations
def _share(n: int) -> str:
    return f"{1 / n:.0%}" if n > 0 else "none"


def _local_policy(s: ServiceSettings) -> str:
    """The traffic policy that keeps this explorer's clients on their node's own pods, or ""."""
    if s.type in ("NodePort", "LoadBalancer") and s.external_traffic_policy == "Local":
        return "externalTrafficPolicy Local"
    if s.type == "ClusterIP" and s.internal_traffic_policy == "Local":
        return "internalTrafficPolicy Local"
    return ""


def _zonal(s: ServiceSettings) -> str:
    """The setting that makes each node prefer its own zone's (or node's) endpoints, or ""."""
    if s.traffic_distribution:
        return f"trafficDistribution {s.traffic_distribution}"
    return f"topology-mode {s.topology_mode}" if s.topology_mode else ""


def explain_change(old: ServiceSettings | None, new: ServiceSettings) -> str:
    """One line, in plain words, about what the last change does (or what is shown at first)."""
    if old is None:
        head = (f"{new.type}{' (headless)' if new.headless else ''} Service in front of {new.replicas} pods, "
                f"{new.connections:,} connections from {new.clients} clients")
        if new.session_affinity == "ClientIP":
            return head + ": with ClientIP affinity each client sticks to its first pod, so the shares follow the clients."
        if new.replicas and _local_policy(new):
            return head + (f": with {_local_policy(new)} a node sends its traffic only to its own pods, so the "
                           "shares follow the nodes; the black lines show each pod's predicted share.")
        if new.replicas and _zonal(new):
            return head + (f": with {_zonal(new)} each node keeps the endpoints hinted for its zone (when there are "
                           "hints for it), so the shares follow the zones; the black lines show each pod's "
                           "predicted share.")
        return head + (f": each pod should get about {_share(new.replicas)}." if new.replicas else ": no pod is ready.")
    changed = [f.name for f in fields(ServiceSettings) if getattr(old, f.name) != getattr(new, f.name)]
    if not changed:
        return "Nothing changed."
    f = changed[0]
    a, b = getattr(old, f), getattr(new, f)
    texts: dict[str, Callable[[], str]] = {  # lazily: only the changed field's values fit
        "replicas": lambda: (f"replicas {a} → {b}: under {_local_policy(new)} each node splits its own traffic among "
                             "its own ready pods; the black lines show each pod's predicted share." if b and
                             _local_policy(new) else
                             f"replicas {a} → {b}: under {_zonal(new)} each node splits its traffic among the "
                             "endpoints hinted for its zone, or all of them when there is no hint for it; the black "
                             "lines show each pod's predicted share." if b and _zonal(new) else
                             f"replicas {a} → {b}: each ready pod should now get about {_share(b)} of the connections "
                             f"(was {_share(a)})." if b else
                             f"replicas {a} → 0: no pod is ready, so no new connection should find a ready endpoint."),
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
        "traffic_distribution": lambda: ("trafficDistribution not set: every node's kube-proxy picks among all "
                                         "ready endpoints, whatever their zone." if not b else
                                         f"trafficDistribution {b}: the EndpointSlice controller hints each endpoint "
                                         + ("for its own node (and zone); each kube-proxy keeps its node's "
                                            "endpoints when it has one, else its zone's." if b == "PreferSameNode" else
                                            "for its own zone; each node's kube-proxy keeps its zone's endpoints, or "
                                            "all of them when its zone has none.")),
        "topology_mode": lambda: ("topology-mode Auto: the controller hints endpoints to zones in proportion to "
                                  "their nodes' CPU, but only when that is safe (enough endpoints for every zone); "
                                  "otherwise it writes no hints at all." if b else
                                  "topology-mode not set: no topology-aware routing."),
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

    height = "720px"

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
            "traffic_distribution": w.Dropdown(options=[(v or "not set", v) for v in TRAFFIC_DISTRIBUTIONS],
                                               value=s.traffic_distribution, description="trafficDistribution",
                                               tooltip="spec.trafficDistribution", **label),
            "topology_mode": w.Dropdown(options=[(v or "not set", v) for v in TOPOLOGY_MODES], value=s.topology_mode,
                                        description="topology-mode",
                                        tooltip="the service.kubernetes.io/topology-mode annotation", **label),
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
                    ["traffic_distribution", "topology_mode", "clients", "connections", "seed"]]
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
        if log is None or not len(log):
            return line
        # The explorer's clients send one request per connection; the counts are connections.
        outcome = text_values(log, "outcome")
        ok = int((outcome == "ok").sum())
        line += f" Observed: {ok:,} of {len(log):,} connections answered"
        cluster = self.result.cluster
        answered = set(text_values(log, "pod")[outcome == "ok"].tolist()) - {""}
        terminating = sorted(p for p in answered if cluster is not None and _terminating(cluster, p))
        if terminating:
            n_term = int(((outcome == "ok") & pd.Series(text_values(log, "pod")).isin(terminating).to_numpy()).sum())
            line += (f"; {n_term:,} of them by pod{'s' if len(terminating) > 1 else ''} still terminating in "
                     f"{'their' if len(terminating) > 1 else 'its'} grace period ({', '.join(terminating)}): with no "
                     "ready endpoint left, kube-proxy falls back to endpoints that are serving but terminating, until the "
                     "grace period ends and the pods are gone")
        refused = len(log) - ok
        if refused:
            line += f"; {refused:,} not answered ({', '.join(sorted(set(outcome[outcome != 'ok'].tolist())))})"
        if self.zoned():
            share = cross_zone_share(log)
            if share == share:  # not NaN: some answered request with both zones known
                line += f"; {share:.0%} of the answered requests crossed zones"
        return line + "."

    def zoned(self) -> bool:
        """Whether the explored cluster's nodes carry ``topology.kubernetes.io/zone`` (the zone picture is drawn)."""
        return self.result.cluster is not None and bool(node_zones(self.result.cluster))

    def kept_lines(self) -> list[str]:
        """One line per node: how many of the Service's endpoints its kube-proxy kept, and from which zones."""
        cluster = self.result.cluster
        if cluster is None or self.settings.headless or not self.result.service:
            return []
        ns, name = self.result.service.split("/", 1)
        table = kept_endpoints(cluster, name, ns)
        lines = []
        for node, rows in table.groupby("node", sort=False):
            kept = rows[rows["kept"]]
            zone = str(rows["node_zone"].iloc[0]) or "no zone"
            where = ", ".join(sorted({str(z) or "no zone" for z in kept["endpoint_zone"]})) or "none"
            mode = str(rows["topology"].iloc[0])
            why = {"PreferSameZone": "its zone's hints", "PreferSameNode": "its node's hints"}.get(
                mode, "no hints" if not rows["hints"].any() else f"no hint for {zone}")
            lines.append(f"{node} ({zone}): {len(kept)} of {len(rows)}, in {where}: {why}")
        return lines

    def no_prediction(self) -> str | None:
        """Why the load plot draws no predicted share and no chance band, or None when they apply."""
        s = self.settings
        if s.session_affinity == "ClientIP":
            return "ClientIP affinity (a client sticks to its first pod)"
        if s.proxy_mode == "ipvs" and s.ipvs_scheduler in ("sh", "dh", "mh"):
            return f"IPVS {s.ipvs_scheduler} hashes addresses (not a random pick)"
        return None

    def figure(self) -> KubelearnFigure:
        """Topology (top) and load per pod (bottom) for the current settings, at most 8.8 inches wide.

        Raises:
            KubelearnError: the API server's refusal, when the settings are refused.
        """
        if self.result.error is not None:
            raise _Refused(self.result.error)
        assert self.result.cluster is not None and self.result.log is not None
        tw, th = topology_figsize(self.result.cluster, self.result.log, service=self.result.service)
        width, load_h = min(max(tw, 8.0), MAX_WIDTH), 3.9  # four nodes (three zones) need a little more: squeezed
        zone_h = ZONE_HEIGHT if self.zoned() else 0.0
        fig = new_figure((width, th + load_h + zone_h))
        top, bottom = fig.add_subplot(), fig.add_axes((0, 0, 1, 1))
        if zone_h:
            self._zone_panel(fig, width, zone_h)
        place(bottom, 0.75, 2.7, 1.0, 0.35, box=(0, zone_h, width, load_h))  # provisional: plot_load sizes its labels
        plot_topology(self.result.cluster, self.result.log, service=self.result.service, ax=top)
        plot_load(self.result.log, predicted=self.result.predicted or None, service=self.result.service,
                  no_prediction=self.no_prediction(), ax=bottom)
        # Fixed margins, measured from the labels drawn (see place): the topology's title above,
        # its legend below (two columns); the load plot's legend on the right, pod names below.
        _, legend_h = legend_inches(top, ncol=2)
        place(top, 0.05, 0.05, legend_h + 0.1, 0.5, box=(0, zone_h + load_h, width, th))
        legend_w, _ = legend_inches(bottom)
        ticks = bottom.get_xticklabels()
        upright = not ticks or ticks[0].get_rotation() == 0
        longest = max((len(line) for t in ticks for line in t.get_text().split("\n")), default=4)
        below = 0.6 if upright else longest * 8 * 0.62 / 72 + 0.25
        place(bottom, 0.75, legend_w + 0.1, below, 0.35, box=(0, zone_h, width, load_h))
        return fig

    def _zone_panel(self, fig: KubelearnFigure, width: float, height: float) -> None:
        """The bottom strip: the zone matrix (left) and what each node's kube-proxy kept (right)."""
        assert self.result.log is not None
        ax = fig.add_axes((0, 0, 1, 1))
        answered = bool((text_values(self.result.log, "outcome") == "ok").any())
        if answered:
            plot_zone_traffic(self.result.log, ax=ax)
            place(ax, 1.45, width - 1.45 - (height - 1.35), 0.75, 0.6, box=(0, 0, width, height))
        else:
            ax.set_axis_off()
        lines = self.kept_lines()
        if lines:
            x = (1.45 + height - 1.35 + 0.1) / width  # under the matrix's legend
            fig.text(x, 0.5 * height / fig.get_figheight(),
                     "Endpoints each node's kube-proxy kept (ClusterIP):\n" + "\n".join(lines),
                     fontsize=8, va="top", ha="left", linespacing=1.5, gid="kept-endpoints")

    def __repr__(self) -> str:
        return f"ServiceExplorer({', '.join(f'{k}={v!r}' for k, v in asdict(self.settings).items())})"


def _terminating(cluster: Cluster, pod: str) -> bool:
    found = [p for p in cluster.pods() if objects.name(p) == pod]
    return bool(found) and "deletionTimestamp" in found[0]["metadata"]


class _Refused(KubelearnError):
    """Carries an API server message that was already rendered."""
