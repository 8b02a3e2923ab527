"""The cluster as a picture: nodes, their pods, the Service's virtual IP and the paths traffic took.

A Service's ClusterIP belongs to no machine.  No interface answers it: kube-proxy on every
node rewrites the destination of each new connection from the virtual IP to one pod's IP
(DNAT), on the node where the connection starts.  A NodePort is a port opened on *every*
node, and a cloud load balancer spreads clients over the nodes' NodePorts; with
``externalTrafficPolicy: Cluster`` the receiving node may forward to a pod on another node
and must then rewrite the *source* address too (SNAT, "masquerade"), so the pod sees the
node's IP instead of the client's.  With ``Local`` only local pods are used and the client's
address is kept.

:func:`plot_topology` draws nodes as boxes holding their pods, the virtual IP, the clients
and the load balancer, and (given a request log) arrows as thick as the traffic each path
carried, dashed where the source address was rewritten.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch, Patch

from .. import objects
from ..cluster import Cluster
from ..objects import is_pod_ready
from ._common import (
    ERROR_COLOR,
    NEUTRAL_COLOR,
    PlotDataError,
    first_requests,
    new_axes,
    style,
    text_codes,
    text_column,
    text_values,
    without_attrs,
)
from ._common import node_colors as node_color_map
from .load import filter_service

__all__ = ["plot_topology", "topology_figsize"]

# The picture is laid out in inches (one data unit is about an inch of the figure), so that
# its text, always 8 pt, fits the boxes it labels whatever the number of nodes and pods.
FONT = 8.0
#: Width of a character of DejaVu Sans at FONT, in inches (0.62 em: digits and hashes are wide).
CHAR = FONT * 0.62 / 72
LINE = FONT * 1.25 / 72
NODE_MIN_W = 1.9
NODE_GAP = 0.25
POD_GAP = 0.1
POD_H = 3 * LINE + 0.12
PROXY_H = 2 * LINE + 0.12
BAND_H = 0.75  # between a node's kube-proxy box and its pods: where the forwarding arrows run
#: Room for the whole picture: JupyterLab's output area with the file browser open.
MAX_CONTENT_W = 8.2
CLIENT_LABELS = {"pod": "client pods", "node": "clients on nodes", "external": "external clients"}
#: Text on a filled pod box: dark on light palette colours, white on dark ones (WCAG contrast).
DARK_TEXT = "#111111"


def text_on(face: str) -> str:
    """The readable text colour (near-black or white) on a background colour."""
    r, g, b = (int(face[i:i + 2], 16) / 255 for i in (1, 3, 5))
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    lum = 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    # Contrast against white is 1.05/(L+0.05), against #111111 (L≈0.0056) (L+0.05)/0.0556.
    return "white" if 1.05 / (lum + 0.05) >= (lum + 0.05) / 0.0556 else DARK_TEXT


def _pick_service(cluster: Cluster, log: pd.DataFrame | None, service: str | None) -> dict[str, Any] | None:
    if service is None and log is not None and "service" in log.columns and len(log):
        counts = text_column(log, "service").value_counts()
        counts = counts[(counts.index != "") & (counts > 0)]
        service = str(counts.index[0]) if len(counts) else None
    if service is not None:
        ns, _, name = service.rpartition("/")
        return cluster.get("Service", name, ns or "default")
    candidates = [s for s in list(cluster.services()) if s["metadata"].get("namespace") != "kube-system"
                  and not (objects.name(s) == "kubernetes" and s["metadata"].get("namespace") == "default")]
    return candidates[0] if candidates else None


#: Pods on a node that are not the Service's endpoints, drawn one by one up to this many;
#: more are drawn as one box saying how many (the explorer's client pods, say).
MAX_OTHER_PODS = 2


@dataclass
class _Geometry:
    node_names: list[str]
    pods_on: dict[str, list[dict[str, Any]]]
    labels: dict[str, str]
    layout: dict[str, tuple[list[dict[str, Any]], int, int]]  # node -> (pods in order, columns, rows)
    node_ws: list[float]
    pod_w: float
    pods_top: float
    node_h: float
    width: float
    mid_y: float
    top: float
    figsize: tuple[float, float]


def _geometry(cluster: Cluster, endpoints: set[str], has_log: bool) -> _Geometry:
    """Where everything goes, in inches: the same for the picture and for :func:`topology_figsize`."""
    node_names = [objects.name(n) for n in list(cluster.nodes())]
    pods_on: dict[str, list[dict[str, Any]]] = {n: [] for n in node_names}
    for pod in list(cluster.pods()):
        node = pod.get("spec", {}).get("nodeName")
        if node in pods_on:
            pods_on[node].append(pod)
    for node, pods in pods_on.items():
        others = [p for p in pods if objects.name(p) not in endpoints]
        if len(others) > MAX_OTHER_PODS:
            names = sorted(objects.name(p) for p in others)
            summary = {"metadata": {"name": f"{len(others)} other pods on {node}"},
                       "kubelearn": {"others": names}}
            pods_on[node] = [p for p in pods if objects.name(p) in endpoints] + [summary]
    # A pod's label is its name split after the ReplicaSet hash (``my-app-774ddb954b-`` over
    # ``988m2  10.244.1.3``) and its state: never cut, so every box is as wide as the widest label.
    labels = {objects.name(p): _pod_label(p) for pods in pods_on.values() for p in pods}
    pod_w = max([1.3, *(max(len(line) for line in text.split("\n")) * CHAR + 0.16 for text in labels.values())])
    # Endpoint pods side by side in a node's first row, so the arrows coming down from
    # kube-proxy reach each of them without crossing another pod; other pods below them.
    # As many columns as fit in the width available; further pods go on more rows.
    ordered_on = {name: sorted(pods_on[name], key=lambda p: (objects.name(p) not in endpoints,
                                                            "kubelearn" in p, objects.name(p)))
                  for name in node_names}
    cols_of = {name: max(1, sum(1 for p in ordered_on[name] if objects.name(p) in endpoints))
               for name in node_names}

    def node_w(cols: int) -> float:
        return max(NODE_MIN_W, 0.2 + cols * pod_w + (cols - 1) * POD_GAP)

    while sum(node_w(c) for c in cols_of.values()) + NODE_GAP * (len(cols_of) - 1) > MAX_CONTENT_W \
            and max(cols_of.values()) > 1:
        widest = max(cols_of, key=lambda n: cols_of[n])
        cols_of[widest] -= 1
    layout = {name: (ordered_on[name], cols_of[name], -(-len(ordered_on[name]) // cols_of[name]))
              for name in node_names}
    node_ws = [node_w(c) for _, c, _ in layout.values()]
    max_rows = max((r for _, _, r in layout.values()), default=0)
    pods_top = -(PROXY_H + BAND_H + 0.1)  # measured from the node box's top edge
    node_h = -pods_top + max(1, max_rows) * (POD_H + POD_GAP) + 0.05
    width = sum(node_ws) + NODE_GAP * (len(node_ws) - 1)
    mid_y = node_h + 0.95  # the Service and the load balancer
    top = node_h + 2.3  # top of the client boxes
    figsize = (width + 0.6, (top if has_log else mid_y + 0.6) + 1.7)
    return _Geometry(node_names, pods_on, labels, layout, node_ws, pod_w, pods_top, node_h, width, mid_y, top,
                     figsize)


def topology_figsize(cluster: Cluster, log: pd.DataFrame | None = None, *, service: str | None = None) -> tuple[float, float]:
    """The figure size (inches) at which :func:`plot_topology` draws its text at 8 pt, uncut."""
    svc = _pick_service(cluster, log, service)
    endpoints = _endpoint_pods(cluster, svc) if svc else set()
    return _geometry(cluster, endpoints, log_has_rows(log)).figsize


def _pod_label(pod: dict[str, Any]) -> str:
    """``my-app-774ddb954b-`` / ``988m2  10.244.1.3`` / state: a pod's full name and IP on short lines."""
    name = str(objects.name(pod))
    if "kubelearn" in pod:  # several other pods drawn as one box
        others = pod["kubelearn"]["others"]
        prefixes = sorted({o.rsplit("-", 2)[0] if o.count("-") >= 2 else o for o in others})
        what = ", ".join(prefixes[:2]) + ("…" if len(prefixes) > 2 else "")
        return f"{len(others)} other pods\n{what}"
    ip = pod.get("status", {}).get("podIP", "") or "no IP"
    cut = name.rfind("-", 0, len(name) - 1)
    head, tail = (name[:cut + 1], name[cut + 1:]) if len(name) > 16 and cut > 0 else (name, "")
    second = f"{tail}  {ip}" if tail else ip
    state = "terminating" if "deletionTimestamp" in pod.get("metadata", {}) else "" if is_pod_ready(pod) else "not ready"
    return f"{head}\n{second}" + (f"\n{state}" if state else "")


def _endpoint_pods(cluster: Cluster, svc: dict[str, Any]) -> set[str]:
    meta = svc["metadata"]
    names: set[str] = set()
    for sl in list(cluster.endpoint_slices(meta.get("namespace", "default"), meta["name"])):
        for ep in sl.get("endpoints", []) or []:
            ref = ep.get("targetRef") or {}
            if ref.get("kind") == "Pod" and ref.get("name"):
                names.add(str(ref["name"]))
    return names


def _box(ax: Axes, x: float, y: float, w: float, h: float, *, gid: str, face: str, edge: str, lw: float = 1.2,
         alpha: float = 1.0, hatch: str | None = None, ls: str = "-") -> FancyBboxPatch:
    patch = FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=face,
                           edgecolor=edge, lw=lw, alpha=alpha, hatch=hatch, ls=ls, gid=gid, zorder=2)
    _add(ax, patch)
    return patch


def plot_topology(cluster: Cluster, log: pd.DataFrame | None = None, *, service: str | None = None,
                  ax: Axes | None = None) -> Axes:
    """Nodes with their pods, a Service's virtual IP, clients, the load balancer and the traffic.

    Every Node is a box holding its pods (name and IP); the Service's endpoints are drawn in
    their node's colour, other pods faded, pods that are not Ready hatched.  Given a request
    log, arrows go from each kind of client to where its connections entered (the virtual IP
    for ClusterIP traffic, a node for NodePort traffic, the load balancer then a node for
    LoadBalancer traffic) and from there to the pods, each as thick as the connections it
    carried.  An arrow into a pod is dashed where the pod saw a rewritten source address
    (SNAT) and solid where it saw the client's own address.

    Args:
        cluster: the cluster to draw.
        log: an optional request log (columns ``client_kind``, ``via``, ``entry_node``,
            ``pod``, ``src_ip``, ``seen_src_ip``, ``outcome``) whose traffic to draw.
        service: the Service (``"namespace/name"``); default the log's busiest Service, or
            the cluster's first Service outside kube-system.
        ax: axes to draw on; without it a new figure is made.

    Returns:
        The axes drawn on.

    Raises:
        NotFoundError: when ``service`` does not exist.
        PlotDataError: when the log lacks a column this picture needs.
    """
    nodes = list(cluster.nodes())
    if not nodes:
        raise PlotDataError("plot_topology needs a cluster with at least one Node")
    svc = _pick_service(cluster, log, service)
    svc_key = f"{svc['metadata'].get('namespace', 'default')}/{svc['metadata']['name']}" if svc else ""
    if log is not None:
        from ._common import require_columns

        require_columns(log, ["client_kind", "via", "entry_node", "pod", "src_ip", "seen_src_ip", "outcome"],
                        "plot_topology")
        mode_attr = log.attrs.get("mode")
        log = without_attrs(log)
        if "service" in log.columns and svc_key:
            log = filter_service(log, svc_key)
        log = first_requests(log)  # paths are chosen per connection
    else:
        mode_attr = None
    endpoints = _endpoint_pods(cluster, svc) if svc else set()
    geo = _geometry(cluster, endpoints, log_has_rows(log))
    node_names, node_ws, layout, labels, pod_w = geo.node_names, geo.node_ws, geo.layout, geo.labels, geo.pod_w
    node_h, width, mid_y, top, pods_top = geo.node_h, geo.width, geo.mid_y, geo.top, geo.pods_top
    node_colors = node_color_map(node_names)
    pods_on = geo.pods_on
    has_log = log_has_rows(log)
    ax = new_axes(ax, geo.figsize)
    anchors: dict[str, tuple[float, float]] = {}  # arrow ends (bottom centre of a box), by key
    pod_anchor: dict[str, tuple[float, float]] = {}  # top centre of each pod box
    proxy_boxes: dict[str, tuple[float, float]] = {}  # node -> (x0, width) of its kube-proxy box
    proxy_patches: dict[str, FancyBboxPatch] = {}
    mode = str(mode_attr or cluster.proxy_mode)
    headless = svc is not None and svc.get("spec", {}).get("clusterIP") == "None"
    with style():
        x0 = 0.0
        for name, nw in zip(node_names, node_ws, strict=True):
            color = node_colors[name]
            _box(ax, x0, 0, nw, node_h, gid=f"node:{name}", face="white", edge=color, lw=2)
            node_labels = cluster.get("Node", name, "").get("metadata", {}).get("labels", {})
            role = ", control plane" if "node-role.kubernetes.io/control-plane" in node_labels else ""
            # its zone (topology.kubernetes.io/zone), on a cluster with zones
            role += f", {node_labels['topology.kubernetes.io/zone']}" if node_labels.get(
                "topology.kubernetes.io/zone") else ""
            # The node's name under its box: the space above it is where the arrows arrive.
            ax.text(x0 + 0.08, -0.06, f"{name}\n{cluster.node_ip(name)}{role}", ha="left", va="top",
                    fontsize=FONT, fontweight="bold", color=DARK_TEXT, zorder=5, gid=f"nodelabel:{name}")
            # Every node runs kube-proxy: a connection is DNATed (and maybe SNATed) by the rules
            # of the node where it enters, whatever node the chosen pod is on.
            px, pw = x0 + 0.1, nw - 0.2
            proxy_patches[name] = _box(ax, px, node_h - 0.08 - PROXY_H, pw, PROXY_H, gid=f"proxy:{name}",
                                       face="#F2F2F2", edge=NEUTRAL_COLOR, lw=1)
            proxy_boxes[name] = (px, pw)
            anchors[f"proxy:{name}"] = (px + pw / 2, node_h - 0.08)
            ordered, cols, _ = layout[name]
            for j, pod in enumerate(ordered):
                pname = objects.name(pod)
                r, c = divmod(j, cols)
                px_ = x0 + 0.1 + c * (pod_w + POD_GAP)
                py = node_h + pods_top - (r + 1) * (POD_H + POD_GAP) + POD_GAP
                is_ep = pname in endpoints
                ready = is_pod_ready(pod) or "kubelearn" in pod  # (a box standing for several other pods)
                terminating = "deletionTimestamp" in pod.get("metadata", {})
                _box(ax, px_, py, pod_w, POD_H, gid=f"pod:{pname}", face=color if is_ep else "white",
                     edge=color, alpha=0.9 if is_ep else 0.6, hatch=None if ready else "xx",
                     ls="-" if not terminating else ":")
                ax.text(px_ + 0.08, py + POD_H / 2, labels[pname], ha="left", va="center", fontsize=FONT,
                        linespacing=1.1, color=text_on(color) if is_ep else "#444444", zorder=5,
                        gid=f"podlabel:{pname}")
                pod_anchor[pname] = (px_ + pod_w / 2, py + POD_H)
            x0 += nw + NODE_GAP

        # The Service: its virtual IP (none for headless) and, for LoadBalancer, the cloud load balancer.
        lb_x = None
        if svc is not None:
            spec = svc.get("spec", {})
            vip = spec.get("clusterIP")
            ports = ", ".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" + (f" (node port {p['nodePort']})" if p.get("nodePort") else "")
                for p in spec.get("ports", []) or [])
            label = f"Service {svc_key}\n{spec.get('type', 'ClusterIP')}"
            label += " headless: no virtual IP,\nDNS returns pod IPs" if vip == "None" else f", virtual IP {vip}"
            text = f"{label}\nports {ports}"
            ew = min(width, max(len(line) for line in text.split("\n")) * CHAR * 0.95 + 0.7)
            # Centred when clients dial the virtual IP; otherwise out of the way on the right, so
            # arrows from clients to nodes do not seem to pass through it.
            dialled = log is not None and len(log) > 0 and bool(_dials_vip(log, headless).any())
            cx = width / 2 if dialled or not log_has_rows(log) else width - ew / 2
            ell = Ellipse((cx, mid_y), width=ew, height=0.75, facecolor="white",
                          edgecolor=NEUTRAL_COLOR, lw=1.5, ls="--", gid=f"service:{svc_key}", zorder=2)
            _add(ax, ell)
            ax.text(cx, mid_y, text, ha="center", va="center", fontsize=FONT, zorder=5, linespacing=1.1,
                    color=DARK_TEXT, gid="servicelabel")
            anchors["vip"] = (cx, mid_y - 0.375)
            anchors["vip:top"] = (cx, mid_y + 0.375)
            if spec.get("type") == "LoadBalancer":
                ingress = (svc.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
                lb_ip = ingress[0].get("ip") or ingress[0].get("hostname") if ingress else "<pending>"
                lb_x = max(0.05, cx - ew / 2 - 1.7) if cx > width / 2 else 0.05
                _box(ax, lb_x, mid_y - 0.3, 1.5, 0.6, gid="loadbalancer", face="white", edge=DARK_TEXT)
                ax.text(lb_x + 0.75, mid_y, f"load balancer\n{lb_ip}", ha="center", va="center", fontsize=FONT,
                        zorder=5, color=DARK_TEXT, gid="lblabel")
                anchors["lb"] = (lb_x + 0.75, mid_y - 0.3)
                anchors["lb:top"] = (lb_x + 0.75, mid_y + 0.3)
            if not log_has_rows(log):
                for pname in sorted(endpoints):
                    if pname in pod_anchor:
                        _arrow(ax, anchors["vip"], pod_anchor[pname], lw=1.0, ls=":", gid=f"selects:{pname}",
                               color=DARK_TEXT, zorder=4.5)

        legend: list[Any] = [Patch(facecolor=node_colors[n], label=f"endpoint pod on {n}") for n in node_names
                             if any(objects.name(p) in endpoints for p in pods_on[n])]
        legend.append(Patch(facecolor="white", edgecolor=NEUTRAL_COLOR, label="other pod"))
        legend.append(Patch(facecolor="#F2F2F2", edgecolor=NEUTRAL_COLOR, label="kube-proxy's rules on the node"))
        snat_nodes: dict[str, float] = {}
        if log_has_rows(log):
            assert log is not None
            snat_nodes = _draw_traffic(ax, log, anchors, pod_anchor, proxy_boxes, top, headless, pod_w)
            legend += [Line2D([], [], color=DARK_TEXT, lw=2, label="client's source address kept"),
                       Line2D([], [], color=ERROR_COLOR, lw=2, ls="--", label="source rewritten (SNAT)")]
        for name, (px, _pw) in proxy_boxes.items():
            what = "unused (headless)" if headless else "DNAT"
            if snat_nodes.get(name):
                what += f", SNAT {snat_nodes[name]:.0%}"
            ax.text(px + 0.08, node_h - 0.08 - PROXY_H / 2, f"kube-proxy ({mode})\n{what}", ha="left",
                    va="center", fontsize=FONT, color=DARK_TEXT, zorder=5, linespacing=1.1, gid=f"proxylabel:{name}")
        ax.legend(handles=legend, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=2)
        ax.set_xlim(-0.05, width + 0.05)
        ax.set_ylim(-0.45, (top if has_log else mid_y + 0.45) + 0.05)
        ax.set_aspect("auto")
        ax.axis("off")
        n_conn = len(log) if log is not None else 0
        walked = ""
        if n_conn and log is not None and "rules_walked" in log.columns:
            walked = f"; a first packet met {float(log['rules_walked'].mean()):.0f} rules on average"
        ax.set_title(f"Cluster topology{': ' + svc_key if svc_key else ''}"
                     + (f", {n_conn:,} connections" if n_conn else "") + f"\nkube-proxy mode {mode}{walked}",
                     y=1.0)  # y given: matplotlib skips its title-placement layout pass on every draw
    return ax


def _add(ax: Axes, patch: Patch) -> None:
    """Put a patch on the axes, clipped to them, without growing the data limits.

    ``Axes.add_patch`` also extends the data limits by the patch's path (for an arrow, its
    path in display coordinates), which this picture never uses: it sets its limits itself.
    With a few hundred patches that bookkeeping was a sizeable part of a widget redraw.
    ``add_artist`` clips to the axes rectangle as ``add_patch`` does (a rectangle, which
    SVG and Agg clip cheaply, rather than a path that each export must write out again).
    """
    ax.add_artist(patch)


def log_has_rows(log: pd.DataFrame | None) -> bool:
    return log is not None and len(log) > 0


def _dials_vip(log: pd.DataFrame, headless: bool) -> np.ndarray:
    """Connections whose client dialled the Service's virtual IP (directly or after DNS)."""
    if headless:
        return np.zeros(len(log), dtype=bool)
    via = text_values(log, "via")
    return (via == "clusterip") | (via == "dns")


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], *, lw: float, gid: str, ls: str = "-",
           color: str = DARK_TEXT, label: str | None = None, at: float = 0.5, zorder: float = 4) -> None:
    arrow = FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=8 + 2 * lw, lw=lw, ls=ls, color=color,
                            shrinkA=1, shrinkB=1, gid=gid, zorder=zorder)
    _add(ax, arrow)
    if label:
        ax.text(a[0] + at * (b[0] - a[0]), a[1] + at * (b[1] - a[1]), label, fontsize=FONT, ha="center",
                va="center", zorder=6, color=DARK_TEXT, gid=f"label:{gid[5:]}",
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.9})


def _draw_traffic(ax: Axes, log: pd.DataFrame, anchors: dict[str, tuple[float, float]],
                  pod_anchor: dict[str, tuple[float, float]], proxy_boxes: dict[str, tuple[float, float]],
                  top: float, headless: bool, pod_w: float) -> dict[str, float]:
    """Client → (Service | load balancer) → entry node's kube-proxy → pod, weighted by connections.

    Returns:
        Each entry node's share of connections whose source address it rewrote (SNAT).
    """
    # Integer codes rather than strings: every comparison and count below runs in C (see
    # text_codes); the hops are numbered in one label space: clients, kube-proxies, the
    # Service's virtual IP and the load balancer, pods.
    kind_codes, kind_labels = text_codes(log, "client_kind")
    entry_codes, entry_labels = text_codes(log, "entry_node")
    pod_codes, pod_labels = text_codes(log, "pod")
    kind, entry, pod = kind_labels[kind_codes], entry_labels[entry_codes], pod_labels[pod_codes]
    via = text_values(log, "via")
    snat = (text_values(log, "seen_src_ip") != text_values(log, "src_ip")) & (pod != "")
    labels = [*(f"client:{k}" for k in kind_labels.tolist()), *(f"proxy:{e}" for e in entry_labels.tolist()),
              "vip", "lb", *(f"pod:{p}" for p in pod_labels.tolist())]
    proxy_at = len(kind_labels)
    hop_at = proxy_at + len(entry_labels)
    pod_at = hop_at + 2
    client = kind_codes
    # The hop where kube-proxy's rules act: the entry node; none for a headless Service (the
    # client dials a pod IP from DNS) or when no node's rules handled the connection.
    direct = headless | (entry == "")
    proxy = np.where(direct, client, proxy_at + entry_codes)
    vip = _dials_vip(log, headless) & ~direct & ("vip" in anchors)
    lb = (via == "loadbalancer") & ~direct & ("lb" in anchors)
    edges: Counter[tuple[str, str]] = Counter()
    snat_edges: Counter[tuple[str, str]] = Counter()
    n_labels = len(labels)

    def add(a: np.ndarray, b: np.ndarray, keep: np.ndarray, rewritten: np.ndarray | None = None) -> None:
        # Count the (source, target) pairs of the kept connections, by code.
        if not keep.any():
            return
        key = a[keep] * n_labels + b[keep]
        counts = np.bincount(key, minlength=n_labels * n_labels)
        snat_counts = np.bincount(key, weights=rewritten[keep], minlength=n_labels * n_labels) \
            if rewritten is not None else np.zeros(len(counts))
        found = [(labels[k // n_labels], labels[k % n_labels], int(counts[k]), int(snat_counts[k]))
                 for k in np.flatnonzero(counts).tolist()]
        for source, target, n, r in sorted(found):  # in (source, target) order, as a groupby gives
            edges[(source, target)] += n
            if r:
                snat_edges[(source, target)] += r

    middle = vip | lb
    hop = np.where(vip, hop_at, hop_at + 1)
    add(client, hop, middle)
    add(hop, proxy, middle)
    add(client, proxy, ~middle & (client != proxy))
    add(proxy, pod_at + pod_codes, pod != "", snat)
    per_kind = np.bincount(kind_codes, minlength=len(kind_labels))
    kinds = sorted(str(k) for k, n in zip(kind_labels.tolist(), per_kind.tolist(), strict=True) if n)
    # Clients above what they dial: the Service when they use its virtual IP, else the left edge.
    centre = anchors["vip"][0] if "vip" in anchors and bool(vip.any()) else 0.85 * len(kinds)
    for i, k in enumerate(kinds):
        x = max(0.05, centre - 0.85 * len(kinds)) + i * 1.7
        _box(ax, x, top - 0.55, 1.55, 0.55, gid=f"client:{k}", face="white", edge=DARK_TEXT)
        ax.text(x + 0.775, top - 0.275, f"{CLIENT_LABELS.get(k, k)}\n{int((kind == k).sum()):,} connections",
                ha="center", va="center", fontsize=FONT, zorder=5, color=DARK_TEXT, gid=f"clientlabel:{k}")
        anchors[f"client:{k}"] = (x + 0.775, top - 0.55)
    # Arrows into a kube-proxy box arrive at its top edge, side by side; arrows leaving it
    # start from its bottom edge, one slot per target pod, in the targets' left-to-right order.
    out_of: dict[str, list[str]] = {}
    for a, b in sorted(edges, key=lambda e: pod_anchor.get(e[1][4:], (0.0, 0.0))[0]):
        if a.startswith("proxy:") and b.startswith("pod:"):
            out_of.setdefault(a, []).append(b)
    # Arrows into a pod arrive side by side on its top edge, in their sources' left-to-right order.
    def source_x(key: str) -> float:
        return proxy_boxes[key[6:]][0] if key.startswith("proxy:") else anchors.get(key, (0.0, 0.0))[0]

    into: dict[str, list[str]] = {}
    for a, b in sorted(edges, key=lambda e: source_x(e[0])):
        if b.startswith("pod:"):
            into.setdefault(b, []).append(a)
    heaviest = max(edges.values(), default=1)
    # Many arrows into pods: their counts would cover the pods; the load plot has them.
    crowded = sum(1 for a, b in edges if b.startswith("pod:")) > 8
    for (a, b), count in sorted(edges.items()):
        if a.startswith("proxy:"):
            px, pw = proxy_boxes[a[6:]]
            slots = out_of[a]
            start: tuple[float, float] | None = (px + pw * (slots.index(b) + 0.5) / len(slots),
                                                 anchors[a][1] - PROXY_H)
        else:
            start = anchors.get(a)
        end = pod_anchor.get(b[4:]) if b.startswith("pod:") else anchors.get(b + ":top", anchors.get(b))
        if start is None or end is None:
            continue
        if b.startswith("pod:"):
            sources = into[b]
            end = (end[0] + pod_w * ((sources.index(a) + 0.5) / len(sources) - 0.5) * 0.8, end[1])
        rewritten = snat_edges.get((a, b), 0)
        lw = 0.6 + 5.0 * count / heaviest
        # Every connection rewritten: the dashed line says it; a partial share is worth a number.
        label = f"{count:,}" + (f" ({rewritten / count:.0%} SNAT)" if 0 < rewritten < count else "")
        if crowded and b.startswith("pod:"):
            label = ""
        # Out of kube-proxy, the label sits near the arrow's start, where each arrow has a slot of
        # its own: arrows from different nodes cross in the band and converge on their pods.
        _arrow(ax, start, end, lw=lw, gid=f"edge:{a}->{b}", ls="--" if rewritten else "-",
               color=ERROR_COLOR if rewritten else DARK_TEXT, label=label, at=0.2 if a.startswith("proxy:") else 0.5,
               # A client that dials a pod IP bypasses kube-proxy: its arrow passes behind the rules.
               zorder=1.5 if a.startswith("client:") and b.startswith("pod:") else 4)
    entered = ~direct
    if not entered.any():
        return {}
    counts = np.bincount(entry_codes[entered], minlength=len(entry_labels))
    rewritten_at = np.bincount(entry_codes[entered], weights=snat[entered], minlength=len(entry_labels))
    return {str(e): float(r / n) for e, n, r in zip(entry_labels.tolist(), counts.tolist(), rewritten_at.tolist(),
                                                    strict=True) if n and r > 0}
