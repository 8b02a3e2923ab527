"""The packet tracer: pick a source and a destination, then step through kube-proxy's rules.

A connection's first packet meets the rules of the node where it *enters*: a pod's packets
meet its own node's rules (the OUTPUT path for a node's own processes, PREROUTING for pods),
an external client's packets meet the rules of the node the network delivers them to (the
node whose IP it dialled, for a NodePort).  The tracer follows that packet through the very
rules :func:`kubelearn.proxy.rules` prints, one rule at a time, showing which ones matched
and the probability behind each random branch.  On a cluster with zones it also names the entry
node's zone and says how many of the Service's endpoints that node's kube-proxy kept, and why
(the EndpointSlice hints for its zone, or none it can use).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import KubelearnError
from ..plots import plot_trace, trace_figsize
from ..plots._common import KubelearnFigure, new_figure
from ..proxy import kept_endpoints
from ..proxy.config import node_zones
from ._base import View, place

__all__ = ["PacketTracer", "destinations", "sources"]

EXTERNAL_CLIENT = "203.0.113.10"  # TEST-NET-3, a documentation address


def sources(cluster: Cluster) -> list[tuple[str, tuple[str, str, str]]]:
    """Choices of source: ``(label, (kind, ip, node))`` for every running pod, node, and one external client.

    Client pods come first: pods outside ``kube-system`` that no Service selects (a learner's
    ``client`` pod), then the other pods of the learner's namespaces, then system pods (CoreDNS
    is a Service's backend, not where a learner's connection starts), nodes and the outside.
    """
    from ..labels import selector_matches

    selectors = [s["spec"]["selector"] for s in list(cluster.services()) if (s.get("spec") or {}).get("selector")]

    def rank(pod: dict[str, Any]) -> tuple[int, str]:
        labels = pod["metadata"].get("labels") or {}
        system = pod["metadata"].get("namespace", "default") == "kube-system"
        backend = any(selector_matches(sel, labels) for sel in selectors)
        return (2 if system else 1 if backend else 0, objects.name(pod))

    out: list[tuple[str, tuple[str, str, str]]] = []
    for pod in sorted(list(cluster.pods()), key=rank):
        ip = pod.get("status", {}).get("podIP")
        node = pod.get("spec", {}).get("nodeName")
        if ip and node:
            ns = pod["metadata"].get("namespace", "default")
            out.append((f"pod {ns}/{pod['metadata']['name']} ({ip}) on {node}", ("pod", str(ip), str(node))))
    for n in list(cluster.nodes()):
        name = objects.name(n)
        out.append((f"node {name} ({cluster.node_ip(name)})", ("node", cluster.node_ip(name), name)))
    out.append((f"external client {EXTERNAL_CLIENT}", ("external", EXTERNAL_CLIENT, "")))
    return out


def destinations(cluster: Cluster) -> list[tuple[str, str]]:
    """Choices of destination ``(label, "IP:port")``: every ClusterIP, NodePort, externalIP and LB IP."""
    out: list[tuple[str, str]] = []
    nodes = [objects.name(n) for n in list(cluster.nodes())]
    for svc in list(cluster.services()):
        key = f"{svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}"
        spec = svc.get("spec", {})
        ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
        for p in spec.get("ports") or []:
            port = p["port"]
            if spec.get("clusterIP") and spec["clusterIP"] != "None":
                out.append((f"{key} ClusterIP {spec['clusterIP']}:{port}/{p.get('protocol', 'TCP')}",
                            f"{spec['clusterIP']}:{port}"))
            if p.get("nodePort"):
                for n in nodes:
                    ip = cluster.node_ip(n)
                    out.append((f"{key} NodePort on {n} {ip}:{p['nodePort']}", f"{ip}:{p['nodePort']}"))
            for ext in spec.get("externalIPs") or []:
                out.append((f"{key} externalIP {ext}:{port}", f"{ext}:{port}"))
            for ing in ingress:
                if ing.get("ip"):
                    out.append((f"{key} LoadBalancer {ing['ip']}:{port}", f"{ing['ip']}:{port}"))
    return out


class PacketTracer(View):
    """Trace one new connection through one node's kube-proxy rules, step by step.

    Attributes:
        trace: the current :class:`kubelearn.proxy.Trace` (``None`` when refused).
        inputs: the controls: ``source``, ``destination``, ``node``, ``mode``, ``protocol``, ``step``.
    """

    height = "480px"

    def __init__(self, cluster: Cluster | None = None, mode: str | None = None) -> None:
        super().__init__()
        if cluster is None:  # the tutorial's my-service, and a client pod to start from
            from ..scenarios import default_scenario, with_client_pod

            cluster = with_client_pod(default_scenario())
        self.cluster = cluster
        w = self._w
        srcs = sources(cluster)
        dsts = destinations(cluster)
        if not dsts:
            raise KubelearnError("this cluster has no Service address to trace a connection to")
        nodes = [objects.name(n) for n in list(cluster.nodes())]
        wide = {"style": {"description_width": "initial"}, "layout": w.Layout(width="auto", min_width="300px")}
        self.inputs: dict[str, Any] = {
            "source": w.Dropdown(options=srcs, value=srcs[0][1], description="from", **wide),
            "destination": w.Dropdown(options=dsts, value=dsts[0][1], description="to", **wide),
            "node": w.Dropdown(options=nodes, value=srcs[0][1][2], description="enters at node", **wide),
            "mode": w.Dropdown(options=("iptables", "nftables", "ipvs"), value=mode or cluster.proxy_mode,
                               description="kube-proxy mode", **wide),
            "protocol": w.Dropdown(options=("TCP", "UDP", "SCTP"), value="TCP", description="protocol", **wide),
            "step": w.IntSlider(value=0, min=0, max=0, description="step", continuous_update=False, **wide),
        }
        self.next_button = w.Button(description="next rule ▶", tooltip="show one more rule")
        self.next_button.on_click(lambda _: self.step(+1))
        for key in ("source", "destination", "node", "mode", "protocol"):
            self.inputs[key].observe(self._on_route, names="value")
        self.inputs["step"].observe(lambda _: self.refresh(), names="value")
        self.controls = [*self.inputs.values(), self.next_button]
        self.trace: Any = None
        self._trace_error: str | None = None
        self._sync_node()
        self._retrace()

    def _sync_node(self) -> None:
        kind, _ip, node = self.inputs["source"].value
        dst_ip = str(self.inputs["destination"].value).rsplit(":", 1)[0]
        node_by_ip = {self.cluster.node_ip(n): n for n in self.inputs["node"].options}
        if kind in ("pod", "node"):
            target = node  # a pod's packets meet its own node's rules
        elif dst_ip in node_by_ip:
            target = node_by_ip[dst_ip]  # the network delivers a NodePort packet to that node
        else:
            target = self.inputs["node"].value
        self.inputs["node"].unobserve(self._on_route, names="value")
        self.inputs["node"].value = target
        self.inputs["node"].observe(self._on_route, names="value")
        # Only an external client to a non-node address can arrive at a node of the learner's choice.
        self.inputs["node"].disabled = kind != "external" or dst_ip in node_by_ip

    def _on_route(self, change: Mapping[str, Any]) -> None:
        self._sync_node()
        # The same connection in another proxy mode or protocol keeps its step (as far as the
        # new trace has one); a new source or destination is a new route, shown whole.
        owner = getattr(change, "owner", None) if not isinstance(change, Mapping) else change.get("owner")
        keep = owner is self.inputs["mode"] or owner is self.inputs["protocol"]
        self._retrace(keep_step=keep)

    def _retrace(self, keep_step: bool = False) -> None:
        from ..proxy import trace

        _kind, src_ip, _ = self.inputs["source"].value
        try:
            self.trace = trace(self.cluster, self.inputs["node"].value, src_ip, self.inputs["destination"].value,
                               self.inputs["protocol"].value, mode=self.inputs["mode"].value)
            self._trace_error = None
            n = len(self.trace.steps)
        except KubelearnError as exc:
            self.trace, self._trace_error, n = None, str(exc), 0
        slider = self.inputs["step"]
        step = slider.value
        slider.unobserve_all("value")
        slider.max = n
        slider.value = min(step, n) if keep_step else n  # a new route is shown whole; step back with the slider
        slider.observe(lambda _: self.refresh(), names="value")
        self.refresh()

    def step(self, delta: int) -> None:
        """Show ``delta`` more (or fewer) rules; wraps to the first rule after the last."""
        slider = self.inputs["step"]
        value = slider.value + delta
        slider.value = 0 if value > slider.max else max(0, value)

    def figure(self) -> KubelearnFigure:
        """The trace up to the current step, as a static figure.

        Raises:
            KubelearnError: when the trace was refused (bad address, unknown node).
        """
        if self.trace is None:
            raise KubelearnError(self._trace_error or "nothing traced")
        fig = new_figure(trace_figsize(self.trace))
        ax = fig.add_subplot()
        place(ax, 0.1, 0.1, 0.1, 0.4)  # fixed margins (see place): the title above, nothing else outside
        plot_trace(self.trace, upto=self.inputs["step"].value, ax=ax)
        return fig

    def _kept(self, node: str, zone: str) -> str:
        """On a cluster with zones: how many of the Service's endpoints this node's kube-proxy kept, and why."""
        t = self.trace
        if not zone or t is None or not t.service or "/" not in t.service:
            return ""
        ns, name = t.service.split("/", 1)
        try:
            table = kept_endpoints(self.cluster, name, ns, port_name=t.port_name or "", nodes=[node])
        except KubelearnError:
            return ""
        if table.empty:
            return ""
        kept, mode = int(table["kept"].sum()), str(table["topology"].iloc[0])
        why = {"PreferSameZone": f"those hinted for {zone}", "PreferSameNode": f"those hinted for {node}"}.get(
            mode, f"none is hinted for {zone}, so all of them" if (table["hints"] != "").any()
            else "no topology hints, so all of them")
        return f" Its kube-proxy keeps {kept} of {len(table)} endpoints of {t.service}: {why}."

    def explain(self) -> str:
        if self.trace is None:
            return ""
        t = self.trace
        k = self.inputs["step"].value
        node = str(self.inputs["node"].value)
        zone = node_zones(self.cluster).get(node, "")
        head = (f"{t.src} → {t.dst} entering {node}{f' ({zone})' if zone else ''} ({t.mode}): {t.verdict}, "
                f"{t.rules_walked} rules walked.") + self._kept(node, zone)
        if 0 < k <= len(t.steps):
            s = t.steps[k - 1]
            # the steps run through every branch, so there are more steps than rules on one path
            head += (f" Step {k} of {len(t.steps)} (all branches together): "
                     f"{'matched' if s.matched else 'no match'} in {s.chain}.")
        return head
