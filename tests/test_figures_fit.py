"""Every picture fits and reads: at JupyterLab's notebook width, nothing cut, nothing tiny.

A notebook with the file browser open gives an output about 900 CSS pixels wide; a wider
image is scaled down (and its 8 pt labels with it).  Each plot function and each widget
picture is drawn here at the size it is stored at, and checked as a learner would see it:

- the figure, cropped as the inline backend crops it (``bbox_inches="tight"``), is at most
  900 pixels wide at its dpi (so never scaled down), and never more than 1000;
- every text on it lies inside the figure, and a text clipped to a box lies inside the box
  (a label cut at an edge, as pod names and rules once were, fails here);
- no text is smaller than 8 pt.

The lessons' own ``figsize=`` values are checked against the same width.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.text import Text  # noqa: E402

import kubelearn as kl  # noqa: E402
from kubelearn.plots import (  # noqa: E402
    first_packet_cost,
    plot_affinity,
    plot_first_packet_cost,
    plot_load,
    plot_topology,
    plot_trace,
    plot_traffic,
)

REPO = Path(__file__).resolve().parents[1]
LESSONS = sorted((REPO / "notebooks").glob("[0-9][0-9]-*.ipynb"))
MAX_PX = 900  # JupyterLab's output area with the file browser open: shown unscaled
HARD_MAX_PX = 1000


@pytest.fixture(autouse=True)
def _close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def check_fits(fig: Figure, what: str) -> None:
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    tight = fig.get_tightbbox(renderer)
    width_px = tight.width * fig.dpi
    assert width_px <= MAX_PX, f"{what}: {width_px:.0f} px wide at {fig.dpi:g} dpi (scaled down in JupyterLab)"
    assert fig.bbox.width <= HARD_MAX_PX, f"{what}: stored {fig.bbox.width:.0f} px wide"
    page = fig.bbox.padded(1.5)
    # Tick labels outside the axes' view interval exist as Text objects but are never drawn.
    undrawn = set()
    for ax in fig.axes:
        if not ax.axison:  # axis("off"): no tick is drawn
            undrawn |= {id(t) for t in [*ax.get_xticklabels(which="both"), *ax.get_yticklabels(which="both")]}
            continue
        box = ax.get_window_extent(renderer)
        for t in ax.get_xticklabels(which="both"):
            c = t.get_window_extent(renderer)
            if not box.x0 - 1 <= (c.x0 + c.x1) / 2 <= box.x1 + 1:
                undrawn.add(id(t))
        for t in ax.get_yticklabels(which="both"):
            c = t.get_window_extent(renderer)
            if not box.y0 - 1 <= (c.y0 + c.y1) / 2 <= box.y1 + 1:
                undrawn.add(id(t))
    for text in fig.findobj(Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in undrawn:
            continue
        label = f"{what}: {text.get_text()[:60]!r}"
        assert text.get_fontsize() >= 8, f"{label} is {text.get_fontsize()} pt"
        extent = text.get_window_extent(renderer)
        assert page.x0 <= extent.x0 and extent.x1 <= page.x1 and page.y0 <= extent.y0 and extent.y1 <= page.y1, \
            f"{label} lies outside its figure ({extent} not in {fig.bbox})"
        clip = text.get_clip_box() if text.get_clip_on() else None
        if clip is not None:
            box = clip.padded(1.5)
            assert box.x0 <= extent.x0 and extent.x1 <= box.x1 and box.y0 <= extent.y0 and extent.y1 <= box.y1, \
                f"{label} is clipped by its box"


# ------------------------------------------------------------------------- the data
def lesson_cluster(name: str) -> kl.Cluster:
    return kl.load(str(REPO / "notebooks" / "manifests" / name))


def traced(mode: str) -> Any:
    cluster = lesson_cluster("03-my-service.yaml")
    client = cluster.get("Pod", "client")["status"]["podIP"]
    svc = cluster.get("Service", "my-service")["spec"]["clusterIP"]
    return kl.trace(cluster, "kind-worker", client, f"{svc}:80", mode=mode)


def traffic_with_events() -> Any:
    cluster = lesson_cluster("06-web.yaml")
    wl = kl.workload(kl.pod_clients(selector={"app": "client"}), kl.traffic.dns("web", 80), connections=3000, rate=100,
                     connection_seconds=2.0, requests_per_connection=4,
                     events=[kl.Event(5, "scale", {"deployment": "web", "replicas": 5}),
                             kl.Event(20, "scale", {"deployment": "web", "replicas": 2})])
    return kl.simulate(cluster, wl, seed=0)


def scaled_load(replicas: int) -> Any:
    cluster = kl.default_scenario().scale("my-app", replicas)
    return kl.simulate(cluster, seed=0)


PLOTS: dict[str, Callable[[], Any]] = {
    "plot_topology, lesson 01": lambda: plot_topology(lesson_cluster("01-my-service.yaml"), service="my-service"),
    "plot_topology, NodePort traffic": lambda: plot_topology(kl.scenario("nodeport"),
                                                             kl.simulate(kl.scenario("nodeport"), seed=0)),
    "plot_topology, LoadBalancer traffic": lambda: plot_topology(kl.scenario("loadbalancer"),
                                                                 kl.simulate(kl.scenario("loadbalancer"), seed=0)),
    "plot_topology, 12 replicas": lambda: plot_topology(kl.default_scenario().scale("my-app", 12), scaled_load(12)),
    "plot_load, 3 pods": lambda: plot_load(scaled_load(3)),
    "plot_load, 12 pods": lambda: plot_load(scaled_load(12)),
    "plot_traffic with events": lambda: plot_traffic(traffic_with_events(), bin_seconds=0.5),
    "plot_affinity": lambda: plot_affinity(kl.simulate(kl.scenario("session-affinity"), seed=0), max_clients=20),
    "plot_trace iptables": lambda: plot_trace(traced("iptables")),
    "plot_trace nftables": lambda: plot_trace(traced("nftables")),
    "plot_trace ipvs": lambda: plot_trace(traced("ipvs")),
    "plot_trace, stepping": lambda: plot_trace(traced("iptables"), upto=8),
    "plot_first_packet_cost": lambda: plot_first_packet_cost(first_packet_cost((1, 10), samples=2)),
}


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_every_plot_fits_and_reads(name: str) -> None:
    ax = PLOTS[name]()
    check_fits(ax.get_figure(root=True), name)


def test_traffic_event_labels_never_squash_the_axes() -> None:
    """Lesson 06's warning: long rotated event labels once collapsed the axes to nothing."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "constrained_layout not applied ..." would fail here
        ax = plot_traffic(traffic_with_events(), bin_seconds=0.5)
        fig = ax.get_figure(root=True)
        FigureCanvasAgg(fig).draw()
    assert ax.get_position().height * fig.get_figheight() > 2.0  # inches of plot, not a sliver


def widget_figures() -> dict[str, Callable[[], Figure]]:
    pytest.importorskip("ipywidgets")
    from kubelearn.widgets import DnsExplorer, PacketTracer, ServiceExplorer, ServiceSettings, TimelinePlayer

    def explorer(**settings: Any) -> Figure:
        return ServiceExplorer(settings=ServiceSettings(connections=1000, **settings)).figure()

    def tracer_step() -> Figure:
        tracer = PacketTracer()
        tracer.inputs["step"].value = 6
        return tracer.figure()

    return {
        "Service explorer": lambda: explorer(),
        "Service explorer, 12 replicas": lambda: explorer(replicas=12),
        "Service explorer, LoadBalancer": lambda: explorer(type="LoadBalancer", external_traffic_policy="Local"),
        "Service explorer, affinity": lambda: explorer(session_affinity="ClientIP"),
        "Service explorer, 0 replicas": lambda: explorer(replicas=0),
        "packet tracer": lambda: PacketTracer().figure(),
        "packet tracer, stepping": tracer_step,
        "DNS explorer": lambda: DnsExplorer().figure(),
        "timeline player": lambda: TimelinePlayer.from_scenario(connections=1500).figure(),
    }


@pytest.mark.parametrize("name", ["Service explorer", "Service explorer, 12 replicas", "Service explorer, LoadBalancer",
                                  "Service explorer, affinity", "Service explorer, 0 replicas", "packet tracer",
                                  "packet tracer, stepping", "DNS explorer", "timeline player"])
def test_every_widget_picture_fits_and_reads(name: str) -> None:
    check_fits(widget_figures()[name](), name)


FIGSIZE = re.compile(r"figsize\s*=\s*\(\s*([0-9.]+)\s*,\s*([0-9.]+)\s*\)")


@pytest.mark.parametrize("lesson", [p.name for p in LESSONS])
def test_lesson_figure_sizes_fit_the_notebook(lesson: str) -> None:
    """A lesson's own ``plt.subplots(figsize=...)`` is at most 9 inches wide (900 px at 100 dpi)."""
    nb = json.loads((REPO / "notebooks" / lesson).read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for w, _h in FIGSIZE.findall("".join(cell["source"])):
            assert float(w) * 100 <= MAX_PX, f"{lesson}: figsize width {w} in"


def _png_width(data: str) -> int:
    import base64
    import struct

    raw = base64.b64decode(data[:64])
    return int(struct.unpack(">I", raw[16:20])[0])  # the IHDR chunk's width


@pytest.mark.parametrize("lesson", [p.name for p in LESSONS])
def test_stored_lesson_pictures_are_not_scaled_down(lesson: str) -> None:
    """Every PNG stored in a lesson is at most 900 px wide: JupyterLab shows it at its own size."""
    nb = json.loads((REPO / "notebooks" / lesson).read_text())
    widths = [_png_width(out["data"]["image/png"]) for cell in nb["cells"] if cell["cell_type"] == "code"
              for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
    too_wide = [w for w in widths if w > MAX_PX]
    assert not too_wide, f"{lesson}: pictures {too_wide} px wide"
