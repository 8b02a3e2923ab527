"""Tests for kubelearn.plots: every picture is drawn with Agg and checked for what it shows."""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Rectangle  # noqa: E402

from kubelearn.cluster import Cluster  # noqa: E402
from kubelearn.errors import KubelearnError  # noqa: E402
from kubelearn.plots import (  # noqa: E402
    OKABE_ITO,
    KubelearnFigure,
    PlotDataError,
    chance_band,
    colors_for,
    events_of,
    plot_affinity,
    plot_first_packet_cost,
    plot_load,
    plot_topology,
    plot_trace,
    plot_traffic,
    return_rate,
)
from kubelearn.proxy import Destination, Step, Trace  # noqa: E402

NODES = {"kind-control-plane": "172.18.0.2", "kind-worker": "172.18.0.3", "kind-worker2": "172.18.0.4"}
PODS = {  # name -> (node, ip, ready)
    "web-7d4b9-aaaaa": ("kind-worker", "10.244.1.2", True),
    "web-7d4b9-bbbbb": ("kind-worker", "10.244.1.3", True),
    "web-7d4b9-ccccc": ("kind-worker2", "10.244.2.2", True),
    "web-7d4b9-ddddd": ("kind-worker2", "10.244.2.3", False),
    "client": ("kind-worker2", "10.244.2.9", True),
}
ENDPOINT_PODS = ["web-7d4b9-aaaaa", "web-7d4b9-bbbbb", "web-7d4b9-ccccc"]


def _node(name: str, ip: str) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
    if "control-plane" in name:
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels},
            "spec": {"podCIDR": "10.244.0.0/24", "podCIDRs": ["10.244.0.0/24"]},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}, {"type": "Hostname", "address": name}],
                       "conditions": [{"type": "Ready", "status": "True"}]}}


def _pod(name: str, node: str, ip: str, ready: bool) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web" if name != "client" else "c"}},
            "spec": {"nodeName": node, "containers": [{"name": "web", "image": "nginx"}]},
            "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": NODES[node],
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def hand_cluster(service_type: str = "NodePort") -> Cluster:
    """A fully defaulted three-node cluster with my-service in front of three ready web pods."""
    port: dict[str, Any] = {"port": 80, "targetPort": 8080, "protocol": "TCP"}
    if service_type in ("NodePort", "LoadBalancer"):
        port["nodePort"] = 30080
    spec: dict[str, Any] = {"type": service_type, "selector": {"app": "web"}, "ports": [port],
                            "clusterIP": "10.96.10.20", "clusterIPs": ["10.96.10.20"], "sessionAffinity": "None",
                            "internalTrafficPolicy": "Cluster", "ipFamilies": ["IPv4"],
                            "ipFamilyPolicy": "SingleStack"}
    if service_type != "ClusterIP":
        spec["externalTrafficPolicy"] = "Cluster"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "my-service", "namespace": "default"},
           "spec": spec, "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}
                                    if service_type == "LoadBalancer" else {}}}
    slice_ = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
              "metadata": {"name": "my-service-x7k2p", "namespace": "default",
                           "labels": {"kubernetes.io/service-name": "my-service",
                                      "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
              "endpoints": [{"addresses": [PODS[p][1]], "nodeName": PODS[p][0],
                             "conditions": {"ready": True, "serving": True, "terminating": False},
                             "targetRef": {"kind": "Pod", "name": p, "namespace": "default"}} for p in ENDPOINT_PODS],
              "ports": [{"name": "", "port": 8080, "protocol": "TCP"}]}
    objs = [_node(n, ip) for n, ip in NODES.items()] + [_pod(n, *v) for n, v in PODS.items()] + [svc, slice_]
    return Cluster().with_objects(objs)


def synthetic_log(n: int = 900, seed: int = 7, via: str = "nodeport", fail_every: int = 0,
                  sticky: bool = False, clients: int = 12, duration: float = 60.0) -> pd.DataFrame:
    """A request log built to the issue-4 schema: each connection picks an endpoint pod at random."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.random(n) * duration)
    client_ids = rng.integers(0, clients, n)
    if sticky:
        pick = np.array([ENDPOINT_PODS[c % 3] for c in client_ids])
    else:
        pick = rng.choice(ENDPOINT_PODS, n)
    outcome = np.array(["ok"] * n, dtype=object)
    if fail_every:
        outcome[::fail_every] = "refused"
    pod = np.where(outcome == "ok", pick, "")
    entry = rng.choice(["kind-worker", "kind-worker2"], n) if via != "clusterip" else np.array(["kind-worker2"] * n)
    src = np.array([f"203.0.113.{c + 1}" for c in client_ids])
    # With externalTrafficPolicy: Cluster, a connection forwarded to another node is masqueraded.
    forwarded = np.array([PODS[p][0] != e if p else False for p, e in zip(pod, entry, strict=True)])
    seen = np.where(forwarded, [NODES[e] for e in entry], src)
    frame = pd.DataFrame({
        "time": time, "connection": np.arange(n), "client": src, "client_kind": "external", "src_ip": src,
        "dst": "172.18.0.3:30080", "via": via, "entry_node": entry, "service": "default/my-service",
        "port_name": "", "endpoint": [f"{PODS[p][1]}:8080" if p else "" for p in pod], "pod": pod,
        "pod_node": [PODS[p][0] if p else "" for p in pod], "seen_src_ip": seen, "outcome": outcome,
        "latency_ms": np.full(n, 1.5, dtype="float32"), "rules_walked": np.full(n, 9, dtype="int32"),
    })
    for col in ("client", "client_kind", "src_ip", "dst", "via", "entry_node", "service", "port_name", "endpoint",
                "pod", "pod_node", "seen_src_ip", "outcome"):
        frame[col] = frame[col].astype("category")
    return frame


def bar_heights(ax: Any, prefix: str) -> dict[str, float]:
    return {p.get_gid()[len(prefix):]: p.get_height() for p in ax.patches
            if isinstance(p, Rectangle) and (p.get_gid() or "").startswith(prefix)}


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


# ----------------------------------------------------------------------- palette
def test_palette_is_okabe_ito_and_stable() -> None:
    assert OKABE_ITO[:3] == ("#0072B2", "#E69F00", "#009E73")
    assert "#000000" not in OKABE_ITO  # black vanishes on a dark notebook theme
    assert colors_for(["b", "a", "b"]) == {"b": OKABE_ITO[0], "a": OKABE_ITO[1]}


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def test_plots_without_ax_make_one_figure_each_and_leave_rcparams_alone() -> None:
    """Like seaborn: without ``ax`` a plot opens one pyplot figure (the notebook shows it) and
    returns its Axes; with ``ax`` it opens none.  The learner's rcParams are never changed."""
    before = dict(matplotlib.rcParams)
    figs_before = plt.get_fignums()
    ax = plot_load(synthetic_log())
    assert isinstance(ax, Axes) and isinstance(ax.figure, KubelearnFigure)
    assert len(plt.get_fignums()) == len(figs_before) + 1
    _, own = plt.subplots()
    n = len(plt.get_fignums())
    assert plot_topology(hand_cluster(), synthetic_log(), ax=own) is own
    assert len(plt.get_fignums()) == n
    assert {k: v for k, v in matplotlib.rcParams.items() if before.get(k) != v} == {}


def test_plotting_uses_no_private_matplotlib_api() -> None:
    """No patched renderer methods, no underscore names from matplotlib (issue 10)."""
    import pathlib
    import re

    import kubelearn.plots
    import kubelearn.widgets

    for package in (kubelearn.plots, kubelearn.widgets):
        for path in pathlib.Path(package.__path__[0]).glob("*.py"):
            text = path.read_text()
            assert not re.search(r"(fontManager|renderer|matplotlib[\w.]*)\._[a-z]", text), path
            assert "get_text_width_height_descent" not in text, path


# -------------------------------------------------------------------------- load
def test_chance_band_is_the_binomial_95_percent_interval() -> None:
    assert chance_band(1000, 1 / 3) == (304.0, 363.0)
    lo, hi = chance_band(100, 0.5)
    assert lo < 50 < hi and hi - lo < 25
    assert chance_band(0, 0.5) == (0.0, 0.0)


def test_load_bars_equal_the_logs_counts() -> None:
    log = synthetic_log(fail_every=10)
    ax = plot_load(log)
    assert isinstance(ax, Axes)
    heights = bar_heights(ax, "pod:")
    ok = log[log["outcome"] == "ok"]
    assert heights == {p: float((ok["pod"] == p).sum()) for p in ENDPOINT_PODS}
    assert bar_heights(ax, "outcome:") == {"refused": float((log["outcome"] == "refused").sum())}
    assert "900 connections to default/my-service" in ax.get_title()


def test_load_bars_are_grouped_and_coloured_by_node() -> None:
    ax = plot_load(synthetic_log())
    bars = {p.get_gid()[4:]: p for p in ax.patches if (p.get_gid() or "").startswith("pod:")}
    a, b, c = (bars[p] for p in ENDPOINT_PODS)
    assert a.get_facecolor() == b.get_facecolor() != c.get_facecolor()  # kind-worker vs kind-worker2
    assert c.get_x() - b.get_x() > 1.2  # a gap separates the nodes
    texts = {t.get_text() for t in ax.texts}
    assert {"kind-worker", "kind-worker2"} <= texts
    assert [t.get_text().replace("\n", "") for t in ax.get_xticklabels()] == ENDPOINT_PODS  # whole names


def test_load_counts_connections_not_keep_alive_requests() -> None:
    log = synthetic_log(n=300)
    repeated = pd.concat([log, log, log]).sort_values(["connection", "time"], kind="stable")  # 3 requests each
    ax = plot_load(repeated)
    ok = log[log["outcome"] == "ok"]
    assert bar_heights(ax, "pod:") == {p: float((ok["pod"] == p).sum()) for p in ENDPOINT_PODS}
    assert "300 connections" in ax.get_title()


def test_load_draws_prediction_and_band_from_given_shares() -> None:
    log = synthetic_log(n=600)
    shares = {"web-7d4b9-aaaaa": 0.5, "web-7d4b9-bbbbb": 0.25, "web-7d4b9-ccccc": 0.25}
    ax = plot_load(log, predicted=shares)
    lines = {ln.get_gid(): ln for ln in ax.lines}
    assert lines["predicted:web-7d4b9-aaaaa"].get_ydata()[0] == pytest.approx(300)
    assert lines["predicted:web-7d4b9-ccccc"].get_ydata()[0] == pytest.approx(150)
    band = next(p for p in ax.patches if p.get_gid() == "band:web-7d4b9-aaaaa")
    lo, hi = chance_band(600, 0.5)
    assert (band.get_y(), band.get_y() + band.get_height()) == (lo, hi)
    assert "predicted share" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_load_says_when_the_equal_share_is_assumed() -> None:
    ax = plot_load(synthetic_log(n=300))
    assert "equal share (assumed)" in [t.get_text() for t in ax.get_legend().get_texts()]
    line = next(ln for ln in ax.lines if ln.get_gid() == "predicted:web-7d4b9-bbbbb")
    assert line.get_ydata()[0] == pytest.approx(100)


def test_load_on_given_axes_returns_them() -> None:
    fig = Figure()
    ax = fig.add_subplot()
    assert plot_load(synthetic_log(), ax=ax) is ax


def test_load_filters_by_service() -> None:
    log = pd.concat([synthetic_log(n=300), synthetic_log(n=200, seed=3).assign(service="default/other")])
    ax = plot_load(log, service="default/other")
    assert sum(bar_heights(ax, "pod:").values()) == 200


def test_load_rejects_something_that_is_not_a_log() -> None:
    with pytest.raises(PlotDataError, match="needs the request-log column"):
        plot_load(pd.DataFrame({"pod": ["a"]}))
    with pytest.raises(KubelearnError, match="not list"):
        plot_load([1, 2])  # type: ignore[call-overload]


def test_figure_shows_itself_as_png_in_a_notebook() -> None:
    fig = plot_load(synthetic_log()).figure
    data = fig._repr_png_()  # type: ignore[union-attr]
    assert data[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------- traffic
def test_traffic_lines_add_up_to_the_answered_connections() -> None:
    log = synthetic_log(n=1200, fail_every=20)
    ax = plot_traffic(log, bin_seconds=5)
    total = 0.0
    for p in ENDPOINT_PODS:
        stairs = next(a for a in ax.patches if a.get_gid() == f"pod:{p}")
        rate = stairs.get_data().values
        assert rate.sum() * 5 == pytest.approx(((log["pod"] == p) & (log["outcome"] == "ok")).sum())
        total += rate.sum() * 5
    [failed] = [p for p in ax.patches if p.get_gid() == "failed"]  # one stepped, hatched patch
    assert failed.get_data().values.sum() * 5 == pytest.approx((log["outcome"] != "ok").sum())
    assert total == pytest.approx((log["outcome"] == "ok").sum())


def test_traffic_marks_events_and_windows() -> None:
    log = synthetic_log()
    events = [{"at": 20, "action": "scale", "args": {"deployment": "web", "replicas": 5}},
              {"start": 30, "end": 34, "label": "propagation window"}, (50, "pod crashes")]
    ax = plot_traffic(log, events=events, now=42)
    gids = {a.get_gid() for a in [*ax.lines, *ax.patches]}
    assert {"event:scale web to 5", "window:propagation window", "event:pod crashes", "now"} <= gids
    captions = next(t.get_text() for t in ax.texts if t.get_gid() == "eventcaptions").replace("\n", " ")
    assert "(1) 20 s: scale web to 5" in captions and "(2) 30-34 s: propagation window" in captions
    assert "(3) 50 s: pod crashes" in captions
    assert {t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("eventnumber:")} == {"1", "2", "3"}


def test_events_from_log_attrs_and_bad_events() -> None:
    log = synthetic_log()
    log.attrs["events"] = [{"at": 5, "crashPod": {"name": "x"}, "action": "crashPod", "args": {"name": "x"}}]
    assert [e.label for e in events_of(None, log)] == ["pod x crashes"]
    with pytest.raises(PlotDataError, match="needs a time"):
        events_of([{"label": "when?"}])


# ---------------------------------------------------------------------- affinity
def test_affinity_marks_where_stickiness_broke() -> None:
    sticky = synthetic_log(sticky=True)
    assert return_rate(sticky) == 1.0
    ax = plot_affinity(sticky)
    assert not [c for c in ax.collections if (c.get_gid() or "").startswith("break:")]
    assert "100% of repeat connections" in ax.get_title()

    random_log = synthetic_log()
    ax = plot_affinity(random_log, timeout=1000)
    moved = next(c for c in ax.collections if c.get_gid() == "break:moved")
    assert len(moved.get_offsets()) > 100
    assert f"{return_rate(random_log):.0%}" in ax.get_title()
    assert 0.25 < return_rate(random_log) < 0.42  # random over 3 pods: about 1/3 return by chance


def test_affinity_timeout_breaks_are_told_apart() -> None:
    log = synthetic_log(n=4, clients=1)
    log["time"] = [0.0, 1.0, 100.0, 101.0]
    log["pod"] = pd.Categorical(["web-7d4b9-aaaaa", "web-7d4b9-aaaaa", "web-7d4b9-bbbbb", "web-7d4b9-ccccc"])
    ax = plot_affinity(log, timeout=10)
    breaks = {c.get_gid(): [tuple(o) for o in c.get_offsets()] for c in ax.collections
              if (c.get_gid() or "").startswith("break:")}
    assert breaks == {"break:timed out": [(100.0, 0.0)], "break:moved": [(101.0, 0.0)]}


def test_affinity_limits_the_clients_shown() -> None:
    ax = plot_affinity(synthetic_log(clients=40, n=2000), max_clients=10)
    assert len(ax.get_yticks()) == 10 and "first 10 of 40 clients" in ax.get_title()


# ---------------------------------------------------------------------- topology
def test_topology_draws_one_box_per_node_with_its_pods() -> None:
    cluster = hand_cluster()
    ax = plot_topology(cluster)
    boxes = {p.get_gid() for p in ax.patches if isinstance(p, FancyBboxPatch)}
    assert {g for g in boxes if g.startswith("node:")} == {f"node:{n}" for n in NODES}
    assert {g for g in boxes if g.startswith("pod:")} == {f"pod:{p}" for p in PODS}
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "kind-control-plane\n172.18.0.2, control plane" in texts and "virtual IP 10.96.10.20" in texts
    assert "node port 30080" in texts
    labels = {t.get_gid(): t.get_text() for t in ax.texts}
    assert "not ready" in labels["podlabel:web-7d4b9-ddddd"] and "not ready" not in labels["podlabel:web-7d4b9-aaaaa"]
    # Pod names are never cut: split after the ReplicaSet hash, whole.
    assert labels["podlabel:web-7d4b9-aaaaa"].replace("\n", " ").startswith("web-7d4b9-aaaaa")
    # Every node runs kube-proxy: one box of rules per node.
    assert {g for g in boxes if g.startswith("proxy:")} == {f"proxy:{n}" for n in NODES}
    # Without a log: the Service selects its three endpoints.
    selects = {p.get_gid() for p in ax.patches if isinstance(p, FancyArrowPatch)}
    assert selects == {f"selects:{p}" for p in ENDPOINT_PODS}


def test_topology_arrows_carry_the_logs_traffic_and_show_snat() -> None:
    cluster = hand_cluster()
    log = synthetic_log(n=600)
    ax = plot_topology(cluster, log)
    arrows = {p.get_gid(): p for p in ax.patches if isinstance(p, FancyArrowPatch)}
    into_pods = {g: a for g, a in arrows.items() if "->pod:" in g}
    # Every connection reaches its pod from the kube-proxy of the node it entered.
    assert all(g.startswith("edge:proxy:") for g in into_pods)
    # A pod on kind-worker reached through kind-worker2 was forwarded, hence masqueraded: dashed.
    assert into_pods["edge:proxy:kind-worker2->pod:web-7d4b9-aaaaa"].get_linestyle() == "--"
    assert into_pods["edge:proxy:kind-worker->pod:web-7d4b9-aaaaa"].get_linestyle() == "-"
    n = int(((log["entry_node"] == "kind-worker") & (log["pod"] == "web-7d4b9-aaaaa")).sum())
    labels = {t.get_gid(): t.get_text() for t in ax.texts}
    assert labels["label:proxy:kind-worker->pod:web-7d4b9-aaaaa"] == f"{n:,}"
    assert sum(int(labels[f"label:{g[5:]}"].split()[0].replace(",", "")) for g in into_pods) == len(log)
    widths = [a.get_linewidth() for a in into_pods.values()]
    assert max(widths) <= 5.6 and min(widths) >= 0.6
    # NodePort: the client dials a node's IP, so its arrows go straight to the nodes' kube-proxy.
    assert sum(1 for g in arrows if g.startswith("edge:client:external->proxy:")) == 2
    assert not [g for g in arrows if "vip" in g]
    # The kube-proxy of a node that forwarded to another node says it rewrote source addresses.
    assert "SNAT" in labels["proxylabel:kind-worker2"]


def test_topology_clusterip_path_goes_client_service_kube_proxy_pod() -> None:
    cluster = hand_cluster("ClusterIP")
    log = synthetic_log(n=300, via="clusterip")
    ax = plot_topology(cluster, log)
    arrows = {p.get_gid() for p in ax.patches if isinstance(p, FancyArrowPatch)}
    assert "edge:client:external->vip" in arrows and "edge:vip->proxy:kind-worker2" in arrows
    assert not [g for g in arrows if g.startswith("edge:client:") and "->vip" not in g]
    assert {g.split("->")[1] for g in arrows if g.startswith("edge:proxy:")} == {f"pod:{p}" for p in ENDPOINT_PODS}


@pytest.mark.parametrize("service_type,via", [("NodePort", "nodeport"), ("LoadBalancer", "loadbalancer"),
                                              ("ClusterIP", "clusterip")])
def test_topology_arrows_avoid_the_service_and_labels_avoid_each_other(service_type: str, via: str) -> None:
    """What a learner reads must not be covered: no label on another, no arrow through the Service."""
    ax = plot_topology(hand_cluster(service_type), synthetic_log(n=600, via=via))
    fig = ax.figure
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    boxes = {t.get_gid(): t.get_window_extent(renderer) for t in ax.texts if t.get_gid()}
    edge_labels = [g for g in boxes if g.startswith("label:")]
    fixed = [g for g in boxes if g.startswith(("podlabel:", "nodelabel:", "proxylabel:", "clientlabel:",
                                               "servicelabel", "lblabel"))]
    assert edge_labels and fixed
    for i, g in enumerate(edge_labels):
        assert not [h for h in fixed if boxes[g].overlaps(boxes[h])], g
        assert not [h for h in edge_labels[i + 1:] if boxes[g].overlaps(boxes[h])], g
    ellipse = next(p for p in ax.patches if (p.get_gid() or "").startswith("service:"))
    ell_box = ellipse.get_window_extent(renderer)
    for arrow in (p for p in ax.patches if isinstance(p, FancyArrowPatch)):
        if "vip" in arrow.get_gid():
            continue
        pts = ax.transData.transform(arrow.get_path().vertices)  # get_path() is in data coordinates
        inside = (pts[:, 0] > ell_box.x0) & (pts[:, 0] < ell_box.x1) & (pts[:, 1] > ell_box.y0) & (pts[:, 1] < ell_box.y1)
        assert not inside.any(), arrow.get_gid()


def test_text_on_filled_boxes_is_readable() -> None:
    """Pod names on their node's colour keep a WCAG contrast of at least 4.5:1."""
    from matplotlib.colors import to_rgb

    def luminance(c: str) -> float:
        lin = [v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4 for v in to_rgb(c)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    from kubelearn.plots.topology import text_on

    for face in OKABE_ITO:
        a, b = sorted((luminance(face), luminance(text_on(face))))
        assert (b + 0.05) / (a + 0.05) >= 4.5, face


def test_topology_of_a_load_balancer_draws_it() -> None:
    cluster = hand_cluster("LoadBalancer")
    log = synthetic_log(n=300, via="loadbalancer")
    ax = plot_topology(cluster, log)
    gids = {p.get_gid() for p in ax.patches}
    assert "loadbalancer" in gids and "edge:client:external->lb" in gids and "edge:lb->proxy:kind-worker" in gids
    assert any("172.18.255.200" in t.get_text() for t in ax.texts)


def test_topology_unknown_service_is_kubectls_not_found() -> None:
    with pytest.raises(KubelearnError, match='services "nope" not found'):
        plot_topology(hand_cluster(), service="default/nope")


# ------------------------------------------------------------------------ chains
def sample_trace() -> Trace:
    step = Step
    steps = [
        step(table="nat", chain="PREROUTING", rule="-A PREROUTING -j KUBE-SERVICES", matched=True, probability=None),
        step(table="nat", chain="KUBE-SERVICES", rule="-A KUBE-SERVICES -d 10.96.0.1/32 -p tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y",
             matched=False, probability=None),
        step(table="nat", chain="KUBE-SERVICES", rule="-A KUBE-SERVICES -d 10.96.10.20/32 -p tcp --dport 80 -j KUBE-SVC-ABC",
             matched=True, probability=None),
        step(table="nat", chain="KUBE-SVC-ABC", rule="-A KUBE-SVC-ABC -m statistic --mode random --probability 0.3333333333 -j KUBE-SEP-1",
             matched=False, probability=1 / 3),
        step(table="nat", chain="KUBE-SVC-ABC", rule="-A KUBE-SVC-ABC -m statistic --mode random --probability 0.5000000000 -j KUBE-SEP-2",
             matched=True, probability=0.5),
        step(table="nat", chain="KUBE-SEP-2", rule="-A KUBE-SEP-2 -p tcp -j DNAT --to-destination 10.244.1.3:8080",
             matched=True, probability=None),
    ]
    dests = tuple(Destination(f"{PODS[p][1]}:8080", 1 / 3, f"KUBE-SEP-{i}") for i, p in enumerate(ENDPOINT_PODS, 1))
    return Trace(verdict="DNAT", destinations=dests, masquerade=False, service="default/my-service", port_name=None,
                 hook="PREROUTING", steps=tuple(steps), rules_walked=6)


def test_trace_lists_every_rule_and_highlights_the_branch_taken() -> None:
    ax = plot_trace(sample_trace())
    taken = sorted(int(t.get_gid().split(":")[1]) for t in ax.texts if (t.get_gid() or "").startswith("taken:"))
    passed = sorted(int(t.get_gid().split(":")[1]) for t in ax.texts if (t.get_gid() or "").startswith("step:"))
    assert taken == [0, 2, 4, 5] and passed == [1, 3]
    text = " ".join(" ".join(t.get_text() for t in ax.texts).split())  # wrapped lines, read as one
    assert "p = 0.5 → taken" in text and "p = 0.3333 → not this time" in text
    texts = [t.get_text() for t in ax.texts]
    assert "nat table, chain KUBE-SVC-ABC" in texts
    assert "source address kept (no SNAT)" in texts and "verdict: DNAT" in texts
    # The branch point is drawn as branches: one box per endpoint, each headed by its share.
    assert [t for t in texts if t.startswith("branch ")] == [f"branch {k}: 33.3% of connections" for k in (1, 2, 3)]
    # Rules are wrapped, never cut: every character of every rule is on the picture.
    for st in sample_trace().steps:
        assert " ".join(st.rule.split()) in text.replace("  ", " ")
    dest = {p.get_gid(): p.get_width() for p in ax.patches if (p.get_gid() or "").startswith("dest:")}
    assert len(dest) == 3 and len(set(dest.values())) == 1
    assert "6 rules walked" in ax.get_title(loc="left")


def test_trace_steps_through_with_upto() -> None:
    ax = plot_trace(sample_trace(), upto=3)
    gids = [t.get_gid() for t in ax.texts if (t.get_gid() or "").startswith(("taken:", "step:"))]
    assert gids == ["taken:0", "step:1", "taken:2"]
    assert "verdict" not in {t.get_gid() for t in ax.texts}
    assert "step 3 of 6" in ax.get_title(loc="left")
    assert any(t.get_text().startswith("▶") for t in ax.texts)
    with pytest.raises(PlotDataError, match="between 0 and 6"):
        plot_trace(sample_trace(), upto=7)


def test_first_packet_cost_curve() -> None:
    data = pd.DataFrame({"mode": ["iptables"] * 3 + ["nftables"] * 3,
                         "services": [10, 100, 1000] * 2,
                         "rules_walked": [8.0, 53.0, 503.0, 4.0, 4.0, 4.0],
                         "max_rules_walked": [13, 103, 1003, 4, 4, 4]})
    ax = plot_first_packet_cost(data)
    line = next(ln for ln in ax.lines if ln.get_gid() == "mode:iptables")
    assert list(line.get_ydata()) == [8.0, 53.0, 503.0]
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["iptables (mean)", "nftables (mean)"]
    with pytest.raises(PlotDataError, match=r"plot_first_packet_cost needs at least one measurement"):
        plot_first_packet_cost(data.iloc[0:0])


def test_load_counts_sit_above_the_prediction_line_and_band() -> None:
    """The count over each bar is never crossed by the prediction line or hidden in the chance band."""
    import matplotlib
    from matplotlib.patches import Rectangle

    matplotlib.use("Agg")
    import kubelearn as kl

    cluster = kl.default_scenario()
    log = kl.simulate(cluster, seed=0)
    ax = kl.plots.plot_load(log, predicted=kl.predicted_shares(cluster))
    tops = {round(r.get_x() + r.get_width() / 2, 6): r.get_y() + r.get_height()
            for r in ax.patches if isinstance(r, Rectangle) and (r.get_gid() or "").startswith("band:")}
    counts = [t for t in ax.texts if "%" in t.get_text()]
    assert tops and len(counts) == len(tops)
    for t in counts:
        x, y = t.xy
        assert y >= tops[round(x, 6)], (t.get_text(), y, tops[round(x, 6)])
    matplotlib.pyplot.close("all")
