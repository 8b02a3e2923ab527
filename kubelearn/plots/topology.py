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
from typing import Any, overload

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse, FancyArrowPatch, FancyBboxPatch, Patch

from ..cluster import Cluster
from ._common import (
    ERROR_COLOR,
    NEUTRAL_COLOR,
    PlotDataError,
    first_requests,
    new_axes,
    objects,
    result,
    style,
    text_column,
    without_attrs,
)
from ._common import node_colors as node_color_map
from .load import filter_service

__all__ = ["plot_topology"]

NODE_W = 3.4
NODE_GAP = 0.8
POD_H = 0.62
CLIENT_LABELS = {"pod": "client pods", "node": "clients on nodes", "external": "external clients"}


def _pick_service(cluster: Cluster, log: pd.DataFrame | None, service: str | None) -> dict[str, Any] | None:
    if service is None and log is not None and "service" in log.columns and len(log):
        counts = text_column(log, "service").value_counts()
        counts = counts[(counts.index != "") & (counts > 0)]
        service = str(counts.index[0]) if len(counts) else None
    if service is not None:
        ns, _, name = service.rpartition("/")
        return cluster.get("Service", name, ns or "default")
    candidates = [s for s in objects(cluster.services()) if s["metadata"].get("namespace") != "kube-system"
                  and not (s["metadata"]["name"] == "kubernetes" and s["metadata"].get("namespace") == "default")]
    return candidates[0] if candidates else None


def _is_ready(pod: dict[str, Any]) -> bool:
    for cond in pod.get("status", {}).get("conditions", []) or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _endpoint_pods(cluster: Cluster, svc: dict[str, Any]) -> set[str]:
    meta = svc["metadata"]
    names: set[str] = set()
    for sl in objects(cluster.endpoint_slices(meta.get("namespace", "default"), meta["name"])):
        for ep in sl.get("endpoints", []) or []:
            ref = ep.get("targetRef") or {}
            if ref.get("kind") == "Pod" and ref.get("name"):
                names.add(str(ref["name"]))
    return names


def _box(ax: Axes, x: float, y: float, w: float, h: float, *, gid: str, face: str, edge: str, lw: float = 1.2,
         alpha: float = 1.0, hatch: str | None = None, ls: str = "-") -> FancyBboxPatch:
    patch = FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02,rounding_size=0.12", facecolor=face,
                           edgecolor=edge, lw=lw, alpha=alpha, hatch=hatch, ls=ls, gid=gid, zorder=2)
    ax.add_patch(patch)
    return patch


@overload
def plot_topology(cluster: Cluster, log: pd.DataFrame | None = ..., *, service: str | None = ...,
                  ax: None = ...) -> Figure: ...
@overload
def plot_topology(cluster: Cluster, log: pd.DataFrame | None = ..., *, service: str | None = ...,
                  ax: Axes) -> Axes: ...
def plot_topology(cluster: Cluster, log: pd.DataFrame | None = None, *, service: str | None = None,
                  ax: Axes | None = None) -> Figure | Axes:
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
        ax: axes to draw on; without it a new figure is made and returned.

    Returns:
        The new figure, or ``ax`` when it was given.

    Raises:
        NotFoundError: when ``service`` does not exist.
        PlotDataError: when the log lacks a column this picture needs.
    """
    nodes = objects(cluster.nodes())
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
    node_names = [n["metadata"]["name"] for n in nodes]
    node_colors = node_color_map(node_names)
    pods_on: dict[str, list[dict[str, Any]]] = {n: [] for n in node_names}
    for pod in objects(cluster.pods()):
        node = pod.get("spec", {}).get("nodeName")
        if node in pods_on:
            pods_on[node].append(pod)
    max_pods = max((len(v) for v in pods_on.values()), default=0)
    node_h = 0.95 + POD_H * max(1, max_pods)
    width = len(node_names) * (NODE_W + NODE_GAP) - NODE_GAP
    top = node_h + 3.4

    ax, created = new_axes(ax, (max(7.0, 1.45 * width), 0.75 * (top + 1.2) + 0.8))
    anchors: dict[str, tuple[float, float]] = {}  # where arrows start/end, by key
    pod_anchor: dict[str, tuple[float, float]] = {}
    with style():
        for i, name in enumerate(node_names):
            x0 = i * (NODE_W + NODE_GAP)
            color = node_colors[name]
            _box(ax, x0, 0, NODE_W, node_h, gid=f"node:{name}", face="white", edge=color, lw=2)
            role = " (control plane)" if "node-role.kubernetes.io/control-plane" in \
                cluster.get("Node", name, "").get("metadata", {}).get("labels", {}) else ""
            ax.text(x0 + 0.12, node_h - 0.12, f"{name}{role}\n{cluster.node_ip(name)}", ha="left", va="top",
                    fontsize=8, fontweight="bold", color="#222222", zorder=5)
            anchors[f"node:{name}"] = (x0 + NODE_W / 2, node_h)
            for j, pod in enumerate(sorted(pods_on[name], key=lambda p: p["metadata"]["name"])):
                pname = pod["metadata"]["name"]
                py = node_h - 0.95 - (j + 1) * POD_H + 0.08
                is_ep = pname in endpoints
                ready = _is_ready(pod)
                terminating = "deletionTimestamp" in pod.get("metadata", {})
                _box(ax, x0 + 0.15, py, NODE_W - 0.3, POD_H - 0.12, gid=f"pod:{pname}",
                     face=color if is_ep else "white", edge=color, alpha=0.9 if is_ep else 0.6,
                     hatch=None if ready else "xx", ls="-" if not terminating else ":")
                state = "" if ready else " (not ready)"
                state = " (terminating)" if terminating else state
                ip = pod.get("status", {}).get("podIP", "")
                ax.text(x0 + 0.25, py + (POD_H - 0.12) / 2, f"{pname}{state}  {ip}", ha="left", va="center",
                        fontsize=7, color="white" if is_ep else "#444444", zorder=5, clip_on=True)
                pod_anchor[pname] = (x0 + NODE_W - 0.4, py + (POD_H - 0.12) / 2)

        # The Service: its virtual IP (none for headless) and, for LoadBalancer, the cloud load balancer.
        if svc is not None:
            spec = svc.get("spec", {})
            vip = spec.get("clusterIP")
            ports = ", ".join(
                f"{p.get('port')}/{p.get('protocol', 'TCP')}" + (f" (node port {p['nodePort']})" if p.get("nodePort") else "")
                for p in spec.get("ports", []) or [])
            label = f"Service {svc_key}\n{spec.get('type', 'ClusterIP')}"
            label += " headless: no virtual IP, DNS returns pod IPs" if vip == "None" else f", virtual IP {vip}"
            cx = width / 2
            ell = Ellipse((cx, node_h + 1.6), width=min(max(3.8, width * 0.42), 7.5), height=1.05, facecolor="white",
                          edgecolor=NEUTRAL_COLOR, lw=1.5, ls="--", gid=f"service:{svc_key}", zorder=2)
            ax.add_patch(ell)
            ax.text(cx, node_h + 1.6, f"{label}\nports {ports}", ha="center", va="center", fontsize=7.5, zorder=5)
            anchors["vip"] = (cx, node_h + 1.6)
            if spec.get("type") == "LoadBalancer":
                ingress = (svc.get("status", {}).get("loadBalancer", {}) or {}).get("ingress") or []
                lb_ip = ingress[0].get("ip") or ingress[0].get("hostname") if ingress else "<pending>"
                _box(ax, width - 2.6, top - 0.9, 2.6, 0.8, gid="loadbalancer", face="white", edge="#222222")
                ax.text(width - 1.3, top - 0.5, f"load balancer\n{lb_ip}", ha="center", va="center", fontsize=8,
                        zorder=5)
                anchors["lb"] = (width - 1.3, top - 0.9)
            if not log_has_rows(log):
                for pname in sorted(endpoints):
                    if pname in pod_anchor:
                        _arrow(ax, anchors["vip"], pod_anchor[pname], lw=0.8, ls=":", gid=f"selects:{pname}",
                               color=NEUTRAL_COLOR)

        legend: list[Any] = [Patch(facecolor=node_colors[n], label=f"endpoint pod on {n}") for n in node_names
                             if any(p["metadata"]["name"] in endpoints for p in pods_on[n])]
        legend.append(Patch(facecolor="white", edgecolor=NEUTRAL_COLOR, label="other pod"))
        if log_has_rows(log):
            assert log is not None
            _draw_traffic(ax, log, anchors, pod_anchor, top, width)
            legend += [Line2D([], [], color="#222222", lw=2, label="client's source address kept"),
                       Line2D([], [], color=ERROR_COLOR, lw=2, ls="--", label="source rewritten (SNAT)")]
        ax.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_xlim(-0.4, width + 0.4)
        ax.set_ylim(-0.4, top + 0.2)
        ax.set_aspect("auto")
        ax.axis("off")
        n_conn = len(log) if log is not None else 0
        mode = str((mode_attr if log is not None else None) or cluster.proxy_mode)
        walked = ""
        if n_conn and log is not None and "rules_walked" in log.columns:
            walked = f"; a first packet met {float(log['rules_walked'].mean()):.0f} rules on average"
        ax.set_title(f"Cluster topology{': ' + svc_key if svc_key else ''}"
                     + (f", {n_conn:,} connections" if n_conn else "") + f" (kube-proxy mode {mode}{walked})")
    return result(ax, created)


def log_has_rows(log: pd.DataFrame | None) -> bool:
    return log is not None and len(log) > 0


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], *, lw: float, gid: str, ls: str = "-",
           color: str = "#222222", label: str | None = None) -> None:
    arrow = FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=8 + 2 * lw, lw=lw, ls=ls, color=color,
                            shrinkA=4, shrinkB=4, gid=gid, zorder=4, connectionstyle="arc3,rad=0.08")
    ax.add_patch(arrow)
    if label:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2, label, fontsize=7, ha="center", va="center", zorder=6,
                bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})


def _draw_traffic(ax: Axes, log: pd.DataFrame, anchors: dict[str, tuple[float, float]],
                  pod_anchor: dict[str, tuple[float, float]], top: float, width: float) -> None:
    """Client → entry → pod arrows, weighted by connections; dashed where SNAT happened."""
    kind = text_column(log, "client_kind")
    via = text_column(log, "via")
    entry = text_column(log, "entry_node")
    pod = text_column(log, "pod")
    snat = (text_column(log, "seen_src_ip") != text_column(log, "src_ip")) & (pod != "")
    # Where each connection entered the cluster's data path (vectorised: a widget redraws this).
    client = "client:" + kind
    hop = np.where(via == "dns", "", np.where((via == "clusterip") | (entry == ""), "vip", "node:" + entry))
    hop = np.where(hop == "", client, hop)  # headless: the client dials a pod IP from DNS directly
    lb = (via == "loadbalancer").to_numpy() & ("lb" in anchors)
    frame = pd.DataFrame({"client": client.to_numpy(), "hop": hop, "pod": ("pod:" + pod).to_numpy(),
                          "has_pod": (pod != "").to_numpy(), "snat": snat.to_numpy(), "lb": lb})
    edges: Counter[tuple[str, str]] = Counter()
    direct = frame[~frame["lb"] & (frame["client"] != frame["hop"])]
    pairs = direct.groupby(["client", "hop"]).size()
    for a, b, n in zip(pairs.index.get_level_values(0), pairs.index.get_level_values(1), pairs.to_numpy(),
                       strict=True):
        edges[(str(a), str(b))] += int(n)
    via_lb = frame[frame["lb"]]
    if len(via_lb):
        for a, count in via_lb.groupby("client").size().items():
            edges[(str(a), "lb")] += int(count)
        for b, count in via_lb.groupby("hop").size().items():
            edges[("lb", str(b))] += int(count)
    served = frame[frame["has_pod"]]
    snat_edges: Counter[tuple[str, str]] = Counter()
    for (a, b), grp in served.groupby(["hop", "pod"]):
        edges[(str(a), str(b))] += len(grp)
        if grp["snat"].any():
            snat_edges[(str(a), str(b))] += int(grp["snat"].sum())
    kinds = sorted(set(kind))
    for i, k in enumerate(kinds):
        x = 0.1 + i * 2.6
        _box(ax, x, top - 0.9, 2.3, 0.8, gid=f"client:{k}", face="white", edge="#222222")
        ax.text(x + 1.15, top - 0.5, f"{CLIENT_LABELS.get(k, k)}\n{int((kind == k).sum()):,} connections",
                ha="center", va="center", fontsize=7.5, zorder=5)
        anchors[f"client:{k}"] = (x + 1.15, top - 0.9)
    heaviest = max(edges.values(), default=1)
    for (a, b), count in sorted(edges.items()):
        start = anchors.get(a)
        end = pod_anchor.get(b[4:]) if b.startswith("pod:") else anchors.get(b)
        if start is None or end is None:
            continue
        rewritten = snat_edges.get((a, b), 0)
        lw = 0.6 + 5.0 * count / heaviest
        label = f"{count:,}" + (f", {rewritten / count:.0%} SNAT" if rewritten else "")
        _arrow(ax, start, end, lw=lw, gid=f"edge:{a}->{b}", ls="--" if rewritten else "-",
               color=ERROR_COLOR if rewritten else "#222222", label=label)


