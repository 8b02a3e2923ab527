"""The DNS explorer: pick a pod, type a name, and watch the resolver walk its search list.

A pod's ``/etc/resolv.conf`` (written by the kubelet) names the cluster DNS Service and a
search list such as ``default.svc.cluster.local svc.cluster.local cluster.local`` with
``options ndots:5``.  A name with fewer than five dots is therefore tried with each search
suffix *first*: ``my-service`` becomes ``my-service.default.svc.cluster.local.`` (found),
while ``example.com`` costs three NXDOMAIN answers before it is asked as written.  The
explorer shows every query the pod's resolver sends, its response code and its answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from matplotlib.axes import Axes

from .. import objects
from ..cluster import Cluster
from ..errors import KubelearnError
from ..plots._common import ERROR_COLOR, NEUTRAL_COLOR, OKABE_ITO, KubelearnFigure, new_axes, new_figure, style
from ._base import View, place

__all__ = ["DnsExplorer", "plot_resolution", "resolution_figsize"]

RECORD_TYPES = ("A", "AAAA", "SRV", "PTR", "CNAME", "TXT")
ANSWERED = OKABE_ITO[2]  # bluish green


def resolution_figsize(resolution: Any, resolv_conf: str = "") -> tuple[float, float]:
    """The figure size (inches) :func:`plot_resolution` needs for this session at 8 pt."""
    conf = [ln for ln in resolv_conf.splitlines() if ln.strip()]
    queries = list(getattr(resolution, "queries", ()) or ())
    answers = sum(max(1, len(getattr(q, "answer", ()) or ())) for q in queries)
    return (8.6, max(2.2, 0.19 * (len(conf) + answers + 2 * len(queries) + 5)))


def plot_resolution(resolution: Any, resolv_conf: str = "", *, ax: Axes | None = None) -> Axes:
    """A resolver's session: resolv.conf, then one line per query with its answer.

    Args:
        resolution: a :class:`kubelearn.discovery.dns.Resolution` (``queries`` with ``name``, ``type``,
            ``rcode``, ``answer``; ``rcode`` and ``answer`` overall).
        resolv_conf: the pod's resolv.conf text, drawn above the queries when given.
        ax: axes to draw on; without it a new figure of :func:`resolution_figsize` is made.

    Returns:
        The axes drawn on.
    """
    conf = [ln for ln in resolv_conf.splitlines() if ln.strip()]
    queries = list(getattr(resolution, "queries", ()) or ())
    ax = new_axes(ax, resolution_figsize(resolution, resolv_conf))
    with style():
        y = 0.0
        if conf:
            ax.text(0, y, "the pod's /etc/resolv.conf:", fontweight="bold", va="center", fontsize=8)
            y -= 1
            for ln in conf:
                ax.text(0.02, y, ln, family="monospace", va="center", fontsize=8, color=NEUTRAL_COLOR)
                y -= 1
            y -= 0.5
        for i, q in enumerate(queries, 1):
            rcode = str(getattr(q, "rcode", ""))
            answer = list(getattr(q, "answer", ()) or ())
            ok = rcode == "NOERROR" and bool(answer)
            status = rcode if answer or rcode != "NOERROR" else "NOERROR (no records: NODATA)"
            ax.text(0, y, f"query {i}: {getattr(q, 'name', '')}  {getattr(q, 'type', '')}  →  {status}",
                    family="monospace", va="center", fontsize=8, fontweight="bold" if ok else "normal",
                    color=ANSWERED if ok else ERROR_COLOR if rcode != "NOERROR" else NEUTRAL_COLOR,
                    gid=f"query:{i}:{rcode}")
            y -= 1
            note = str(getattr(q, "note", "") or "")
            if note:
                ax.text(0.04, y, note, va="center", fontsize=8, style="italic", color=NEUTRAL_COLOR)
                y -= 1
            for rec in answer:
                ax.text(0.04, y, str(rec).replace("\t", "  "), family="monospace", va="center", fontsize=8,
                        gid=f"answer:{i}")
                y -= 1
        ax.set_xlim(0, 1)
        ax.set_ylim(y + 0.3, 0.8)
        ax.axis("off")
        final = str(getattr(resolution, "rcode", ""))
        ax.set_title(f"Resolving {getattr(resolution, 'name', '')!r} ({getattr(resolution, 'type', '')}) from "
                     f"{getattr(resolution, 'client', '') or 'a pod'}: {len(queries)} "
                     f"quer{'y' if len(queries) == 1 else 'ies'}, {final}", loc="left")
    return ax


class DnsExplorer(View):
    """Resolve a name from a pod, showing each query of the search list and its answer.

    Attributes:
        resolution: the current :class:`kubelearn.discovery.dns.Resolution` (``None`` when refused).
        inputs: ``pod``, ``name`` and ``type`` controls.
    """

    height = "400px"

    def __init__(self, cluster: Cluster | None = None, name: str | None = None) -> None:
        super().__init__()
        if cluster is None:  # the tutorial's my-service, and a client pod to start from
            from ..scenarios import default_scenario, with_client_pod

            cluster = with_client_pod(default_scenario())
        self.cluster = cluster
        w = self._w
        pods = [(f"{p['metadata'].get('namespace', 'default')}/{p['metadata']['name']}",
                 (p["metadata"].get("namespace", "default"), objects.name(p)))
                for p in list(cluster.pods()) if p.get("status", {}).get("podIP")]
        if not pods:
            raise KubelearnError("this cluster has no running pod to ask DNS from")
        pods.sort(key=lambda item: (item[1][0] == "kube-system", item[0]))
        if name is None:
            svcs = [objects.name(s) for s in list(cluster.services())
                    if s["metadata"].get("namespace") == "default" and objects.name(s) != "kubernetes"]
            name = svcs[0] if svcs else "kubernetes"
        wide = {"style": {"description_width": "initial"}, "layout": w.Layout(width="auto", min_width="260px")}
        self.inputs: dict[str, Any] = {
            "pod": w.Dropdown(options=pods, value=pods[0][1], description="from pod", **wide),
            "name": w.Text(value=name, description="name", continuous_update=False, **wide),
            "type": w.Dropdown(options=RECORD_TYPES, value="A", description="type", **wide),
        }
        for control in self.inputs.values():
            control.observe(self._on_change, names="value")
        self.controls = list(self.inputs.values())
        self.resolution: Any = None
        self._error: str | None = None
        self._resolve()

    def _on_change(self, change: Mapping[str, Any]) -> None:
        self._resolve()

    def _resolve(self) -> None:
        from ..discovery.dns import resolve

        ns, pod = self.inputs["pod"].value
        try:
            self.resolution = resolve(self.cluster, self.inputs["name"].value.strip(), self.inputs["type"].value,
                                      from_pod=pod, namespace=ns)
            self._error = None
        except KubelearnError as exc:
            self.resolution, self._error = None, str(exc)
        self.refresh()

    def figure(self) -> KubelearnFigure:
        """The current resolution as a static figure.

        Raises:
            KubelearnError: when the name or type was refused.
        """
        from ..discovery.dns import resolv_conf

        if self.resolution is None:
            raise KubelearnError(self._error or "nothing resolved")
        ns, pod = self.inputs["pod"].value
        conf = resolv_conf(self.cluster, pod, ns)
        fig = new_figure(resolution_figsize(self.resolution, conf))
        ax = fig.add_subplot()
        place(ax, 0.1, 0.1, 0.1, 0.4)  # fixed margins (see place): the title above, nothing else outside
        plot_resolution(self.resolution, conf, ax=ax)
        return fig

    def explain(self) -> str:
        r = self.resolution
        if r is None:
            return ""
        found = ", ".join(str(getattr(a, "data", a)) for a in r.answer) or "no answer"
        return f"{len(r.queries)} quer{'y' if len(r.queries) == 1 else 'ies'} sent; result {r.rcode}: {found}."
