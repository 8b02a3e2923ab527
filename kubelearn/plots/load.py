"""Where the connections went: load per pod, traffic over time, and session affinity.

kube-proxy does not balance *requests*; it picks an endpoint once per *connection*, at
random in iptables and nftables mode (each pod equally likely), by a scheduler in IPVS mode.
So even a perfectly fair choice gives uneven counts: with 1,000 connections and 3 pods each
pod expects 333, and anything from about 304 to 363 is what chance alone explains.  These
pictures draw the counts *and* that band, so a learner can tell "unlucky" from "unfair".

``sessionAffinity: ClientIP`` changes the unit again: the first connection from a client IP
picks a pod, and later ones return to it until the client has been silent for
``timeoutSeconds`` (10800 s by default).  :func:`plot_affinity` shows each client's pods
over time and marks every place where stickiness broke; :func:`return_rate` is the single
number behind its title (not to be confused with :func:`kubelearn.stickiness`, a per-client
table of each client's share on its most used pod).
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from ..errors import require_scipy
from ._common import (
    ERROR_COLOR,
    MAX_WIDTH,
    NEUTRAL_COLOR,
    PlotDataError,
    colors_for,
    first_requests,
    new_axes,
    require_columns,
    style,
    text_column,
    text_values,
    without_attrs,
)
from ._common import (
    node_colors as node_color_map,
)

__all__ = ["EventMark", "chance_band", "events_of", "plot_affinity", "plot_load", "plot_traffic", "present_shares",
           "return_rate"]

#: Markers for pods, so a pod is told apart by shape as well as colour.
POD_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">", "p")
#: Line styles for pods in time series.
LINESTYLES = ("-", "--", ":", "-.")


def chance_band(n: int, p: float, level: float = 0.95) -> tuple[float, float]:
    """The range of counts that chance alone explains for one pod.

    With ``n`` independent connections each reaching this pod with probability ``p``, the
    count is Binomial(n, p); the band is its central ``level`` interval.

    >>> chance_band(1000, 1/3)
    (304.0, 363.0)
    """
    if n <= 0 or p <= 0:
        return (0.0, 0.0)
    if p >= 1:
        return (float(n), float(n))
    require_scipy("the chance band")
    from scipy.stats import binom  # here, not at import: the core install has no scipy

    tail = (1 - level) / 2
    return (float(binom.ppf(tail, n, p)), float(binom.ppf(1 - tail, n, p)))


def filter_service(log: pd.DataFrame, service: str | None) -> pd.DataFrame:
    if service is None:
        return log
    require_columns(log, ["service"], "this plot")
    services = text_values(log, "service")
    keep = services == service
    if "via" in log.columns:
        # A headless Service's clients dial pod IPs from DNS: no Service rule is involved, and
        # the log leaves ``service`` empty for them; they still belong to this picture.
        keep |= (services == "") & (text_values(log, "via") == "dns")
    return log[keep]


def _pods_by_node(log: pd.DataFrame, extra_pods: Iterable[str] = ()) -> list[tuple[str, list[str]]]:
    """Pods grouped by the node they ran on: [(node, [pods])], nodes and pods sorted."""
    pods = text_column(log, "pod")
    nodes = text_column(log, "pod_node")
    pairs = pd.DataFrame({"pod": pods, "node": nodes})
    pairs = pairs[pairs["pod"] != ""].drop_duplicates("pod")
    groups: dict[str, list[str]] = {}
    for pod, node in zip(pairs["pod"], pairs["node"], strict=True):
        groups.setdefault(node, []).append(pod)
    known = set(pairs["pod"])
    for pod in extra_pods:
        if pod and pod not in known:
            groups.setdefault("", []).append(pod)  # predicted but never reached: node unknown
    return [(node, sorted(groups[node])) for node in sorted(groups, key=lambda n: (n == "", n))]


def plot_load(log: pd.DataFrame, *, predicted: Mapping[str, float] | pd.DataFrame | pd.Series | None = None,
              service: str | None = None, no_prediction: str | None = None,
              count: Literal["connections", "requests"] = "connections", ax: Axes | None = None) -> Axes:
    """Connections answered by each pod, grouped and coloured by node, against the prediction.

    Each bar is one pod's count of answered connections (``outcome == "ok"``).  A dark tick
    marks the count the model predicts, and the grey band around it the counts that chance
    alone explains at this sample size (95 %).  Connections no pod answered (refused,
    dropped, reset, NXDOMAIN) are drawn as hatched bars on the right.

    Args:
        log: a request log (columns ``pod``, ``pod_node``, ``outcome``; ``service`` when
            ``service`` is given).
        predicted: each pod's predicted share of the answered connections (summing to 1):
            a mapping pod → share, or the DataFrame :func:`kubelearn.predicted_shares` returns
            (its ``predicted`` column, indexed by pod).  Without it the log's
            ``attrs["predicted_shares"]`` is used when present, else an equal share for
            every pod seen (what iptables and nftables mode predict without affinity).
        service: only connections to this Service (``"namespace/name"``).
        no_prediction: why no per-connection prediction applies to this run, for example
            ``"sessionAffinity: ClientIP"`` (a client's connections follow its first one, so
            they are not independent choices and the binomial band does not hold).  When
            given, neither a predicted share nor a chance band is drawn, and the legend
            says why.
        count: ``"connections"`` (what kube-proxy balances) or ``"requests"`` (what a
            pod's CPU feels: every request of a keep-alive connection goes where the
            connection went).  Requests ride on connections, so they are not independent
            choices: with ``"requests"`` no prediction or chance band is drawn.
        ax: axes to draw on; without it a new figure is made.

    Returns:
        The axes drawn on.
    """
    require_columns(log, ["pod", "pod_node", "outcome"], "plot_load")
    _check_count(count)
    if count == "requests" and not no_prediction:
        no_prediction = "requests follow their connection's pod"
    if no_prediction:
        predicted = {}
    if predicted is None:
        predicted = log.attrs.get("predicted_shares")
    if isinstance(predicted, pd.DataFrame):
        predicted = predicted["predicted"]
    if isinstance(predicted, pd.Series):
        predicted = {str(k): float(v) for k, v in predicted.items()}
    # kubelearn.predicted_shares says NaN where the model cannot predict (a run with events,
    # clients caching a multi-record DNS answer): draw no reference at all rather than a false one.
    unpredictable = bool(no_prediction) or (predicted is not None and any(v != v for v in predicted.values()))
    if unpredictable:
        predicted = None
    if predicted is not None:
        # Shares of *answered* connections: drop the "" row (connections no pod answers) and
        # renormalise, so a prediction that includes failures still sums to 1 over pods.
        answered_share = {k: float(v) for k, v in predicted.items() if k}
        total = sum(answered_share.values())
        predicted = {k: v / total for k, v in answered_share.items()} if total > 0 else None
    log = filter_service(without_attrs(log), service)
    if count == "connections":
        log = first_requests(log)
    outcome = text_values(log, "outcome")
    pods = text_values(log, "pod")
    is_answered = (outcome == "ok") & (pods != "")
    counts = pd.Series(pods[is_answered], dtype=object).value_counts()
    n = int(is_answered.sum())

    assumed = predicted is None
    groups = _pods_by_node(log, extra_pods=(predicted or {}).keys())
    if assumed:
        all_pods = [p for _, ps in groups for p in ps]
        predicted = {p: 1 / len(all_pods) for p in all_pods} if all_pods else {}
    assert predicted is not None

    failures = pd.Series(outcome[outcome != "ok"], dtype=object).value_counts()
    # Room for every pod's name, whole and upright (split after the ReplicaSet hash) when the
    # bars fit side by side in 8.8 inches next to the legend; else the names stand on end and
    # the figure grows downwards to hold them.
    names = [p for _, ps in groups for p in ps] + [str(o) for o in failures.index]
    label_in = max((max(len(x) for x in _two_lines(n).split("\n")) for n in names), default=1) * 8 * 0.62 / 72
    slots = len(names) + 0.6 * len(groups) + 0.5
    upright_width = slots * (label_in + 0.12) + 3.3
    width = min(MAX_WIDTH, max(7.0, upright_width))
    created = ax is None
    ax = new_axes(ax, (width, 4.0 if upright_width <= MAX_WIDTH else 3.6 + label_in))
    node_colors = node_color_map([node for node, _ in groups if node])

    with style():
        x = 0.0
        ticks: list[float] = []
        tick_labels: list[str] = []
        heights: list[int] = []
        xs: list[float] = []
        colors: list[str] = []
        gids: list[str] = []
        for node, node_pods in groups:
            start = x
            for pod in node_pods:
                xs.append(x)
                heights.append(int(counts.get(pod, 0)))
                colors.append(node_colors.get(node, NEUTRAL_COLOR))
                gids.append(f"pod:{pod}")
                ticks.append(x)
                tick_labels.append(pod)
                x += 1
            # A light band per node, named at the top: the grouping reads without the legend.
            ax.axvspan(start - 0.5, x - 0.5, color=node_colors.get(node, NEUTRAL_COLOR), alpha=0.08, lw=0,
                       gid=f"node:{node}")
            ax.annotate(node or "(node unknown)", xy=((start + x - 1) / 2, 0.98), xycoords=("data", "axes fraction"),
                        ha="center", va="top", fontsize=8, color="#222222", fontweight="bold")
            x += 0.6  # gap between nodes
        bars = ax.bar(xs, heights, width=0.8, color=colors, edgecolor="white", label=f"{count} answered")
        for patch, gid in zip(bars.patches, gids, strict=True):
            patch.set_gid(gid)

        # Each bar's count sits above whatever is drawn over the bar (its band and prediction line),
        # so the line never crosses the digits.
        label_y: dict[float, float] = {xi: float(h) for xi, h in zip(xs, heights, strict=True)}
        for xi, pod in zip(xs, [p for _, ps in groups for p in ps], strict=True):
            if unpredictable:
                break
            p = float(predicted.get(pod, 0.0))
            lo, hi = chance_band(n, p)
            label_y[xi] = max(label_y[xi], hi, n * p)
            ax.add_patch(Rectangle((xi - 0.45, lo), 0.9, hi - lo, facecolor=NEUTRAL_COLOR, alpha=0.25,
                                   edgecolor="none", zorder=3, gid=f"band:{pod}"))
            ax.plot([xi - 0.45, xi + 0.45], [n * p, n * p], color="#222222", lw=2, zorder=4, gid=f"predicted:{pod}")
        for xi, h in zip(xs, heights, strict=True):
            share = f"{h / n:.0%}" if n else ""
            ax.annotate(f"{h}\n{share}", (xi, label_y[xi]), xytext=(0, 2), textcoords="offset points", ha="center",
                        va="bottom", fontsize=8)

        if len(failures):
            x += 0.4
            fx = [x + i for i in range(len(failures))]
            fbars = ax.bar(fx, failures.to_numpy(), width=0.8, color="white", edgecolor=ERROR_COLOR, hatch="///",
                           label="no pod answered")
            for patch, name in zip(fbars.patches, failures.index, strict=True):
                patch.set_gid(f"outcome:{name}")
            ticks += fx
            tick_labels += [str(o) for o in failures.index]

        # Pod names whole, split after the ReplicaSet hash; upright when they fit side by side.
        split = [_two_lines(t) for t in tick_labels]
        room_in = (ax.get_position().width * _figwidth(ax) - (2.6 if created else 0.0)) / max(1.0, slots)
        ax.set_xticks(ticks, split, rotation=0 if label_in + 0.1 <= room_in else 90, fontsize=8)
        ax.set_ylabel(f"{count} answered")
        svc = service or _single(log, "service")
        # y given: matplotlib skips its title-placement layout pass (a widget redraws this often).
        ax.set_title(f"Which pod answered: {len(log):,} {count}" + (f" to {svc}" if svc else ""), y=1.0)
        handles: list[Any] = [Patch(facecolor=c, label=f"pod on {node}") for node, c in node_colors.items()]
        if no_prediction:
            handles.append(Line2D([], [], color="none",
                                  label="\n".join(textwrap.wrap(f"no prediction: {no_prediction}", width=34))))
        elif unpredictable:
            handles.append(Line2D([], [], color="none", label="no prediction for this run"))
        elif xs:  # no pod at all: nothing was predicted, say nothing about it
            handles.append(Line2D([], [], color="#222222", lw=2,
                                  label="equal share (assumed)" if assumed else "predicted share"))
            handles.append(Patch(facecolor=NEUTRAL_COLOR, alpha=0.25, label="what chance alone explains (95%)"))
        if len(failures):
            handles.append(Patch(facecolor="white", edgecolor=ERROR_COLOR, hatch="///", label="no pod answered"))
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0))
        top = max([*heights, *(failures.tolist() or [0]),
                   *(() if unpredictable else (n * float(p) for p in predicted.values()))], default=1)
        ax.set_ylim(0, max(1.0, top) * 1.35)
    return ax


def present_shares(log: pd.DataFrame, bin_seconds: float = 1.0) -> dict[str, float]:
    """Each pod's expected share of the answered connections, given which pods were answering when.

    With pods coming and going (a scale-up, a crash, a rollout), "an equal share each" is
    wrong: a pod added at 15 s cannot have had part of the first 15 s.  The run is cut into
    windows of ``bin_seconds``; in each, the connections answered are shared equally among
    the pods that answered at least one connection in that window (kube-proxy's random
    choice over the ready endpoints of that moment); the shares are summed over windows.

    Simplification: "answering in a window" stands for "a ready endpoint then"; with fewer
    connections per window than pods, a ready pod that chance left idle is missed.

    Returns:
        pod -> share of all answered connections (summing to 1); empty when none was answered.
    """
    require_columns(log, ["time", "pod", "outcome"], "present_shares")
    if bin_seconds <= 0:
        raise PlotDataError(f"bin_seconds must be positive, not {bin_seconds}")
    first = first_requests(without_attrs(log))
    ok = (text_values(first, "outcome") == "ok") & (text_values(first, "pod") != "")
    frame = pd.DataFrame({"bin": (first["time"].to_numpy(dtype=float)[ok] // bin_seconds).astype(int),
                          "pod": text_values(first, "pod")[ok]})
    if frame.empty:
        return {}
    per_bin = frame.groupby("bin")["pod"].agg(["size", "unique"])
    expected: dict[str, float] = {}
    for size, pods in zip(per_bin["size"], per_bin["unique"], strict=True):
        for pod in pods:
            expected[str(pod)] = expected.get(str(pod), 0.0) + size / len(pods)
    total = sum(expected.values())
    return {p: v / total for p, v in sorted(expected.items())}


def _check_count(count: str) -> None:
    if count not in ("connections", "requests"):
        raise PlotDataError(f'count must be "connections" or "requests", not {count!r}')


def _figwidth(ax: Axes) -> float:
    fig = ax.get_figure(root=True)
    return float(fig.get_figwidth()) if fig is not None else 8.8


def _two_lines(name: str) -> str:
    """``my-app-774ddb954b-988m2`` as ``my-app-774ddb954b-`` over ``988m2``: whole, half as wide."""
    cut = name.rfind("-", 0, len(name) - 1)
    return f"{name[:cut + 1]}\n{name[cut + 1:]}" if len(name) > 14 and cut > 0 else name


def _single(log: pd.DataFrame, column: str) -> str:
    """The column's value when every row has the same one, else ""."""
    if column not in log.columns or log.empty:
        return ""
    values = text_column(log, column).unique()
    return str(values[0]) if len(values) == 1 else ""


# --------------------------------------------------------------------------- events
class EventMark:
    """The mark a change during a run leaves on a time axis: at ``time`` (and until ``end`` for a window).

    Built by :func:`events_of` from the simulator's record of its events (``log.attrs["events"]``),
    from :class:`kubelearn.traffic.Event` values, or from a learner's own tuples and mappings.

    ``kind`` is one of ``scale``, ``crash``, ``rollout``, ``propagation`` or anything else
    the simulator reports; ``label`` is what the picture prints.
    """

    __slots__ = ("time", "end", "kind", "label")

    def __init__(self, time: float, label: str, kind: str = "", end: float | None = None):
        self.time = float(time)
        self.end = None if end is None else float(end)
        self.kind = kind
        self.label = label

    def __repr__(self) -> str:
        span = f"{self.time:g}s" + (f"-{self.end:g}s" if self.end is not None else "")
        return f"EventMark({span}, {self.kind or 'event'}: {self.label})"


def _field(e: Any, *names: str) -> Any:
    for name in names:
        value = e.get(name) if isinstance(e, Mapping) else getattr(e, name, None)
        if value is not None:
            return value
    return None


def events_of(events: Iterable[Any] | None, log: pd.DataFrame | None = None) -> list[EventMark]:
    """Normalise events from a simulator or a learner into :class:`EventMark` objects.

    Accepts mappings or objects with ``time`` (or ``at``/``start``), optional ``end``
    (or ``until``), ``kind`` and ``label`` (or ``description``); tuples ``(time, label)``
    and ``(start, end, label)``; or the simulator's strings ``"label@time"``.  Without ``events`` the log's ``attrs["events"]`` are used.

    Raises:
        PlotDataError: for an event without a time.
    """
    if events is None:
        events = (log.attrs.get("events") if log is not None else None) or ()
    out: list[EventMark] = []
    for e in events:
        if isinstance(e, EventMark):
            out.append(e)
            continue
        if isinstance(e, str):  # the simulator's attrs: "label@time"
            label, sep, when = e.rpartition("@")
            try:
                out.append(EventMark(float(when), label))
            except ValueError:
                raise PlotDataError(f"an event needs a time (label@seconds): {e!r}") from None
            if not sep:  # pragma: no cover - float("") already failed
                raise PlotDataError(f"an event needs a time (label@seconds): {e!r}")
            continue
        if isinstance(e, tuple):
            if len(e) == 2:
                out.append(EventMark(e[0], str(e[1])))
                continue
            if len(e) == 3:
                out.append(EventMark(e[0], str(e[2]), end=e[1]))
                continue
        t = _field(e, "time", "at", "start")
        if t is None:
            raise PlotDataError(f"an event needs a time (time, at or start): {e!r}")
        kind = str(_field(e, "kind", "type", "action") or "")
        label = str(_field(e, "label", "description", "what") or _describe(kind, _field(e, "args")) or "event")
        out.append(EventMark(t, label, kind, _field(e, "end", "until")))
    return sorted(out, key=lambda ev: ev.time)


def _describe(action: str, args: Any) -> str:
    """A short caption for a simulator event such as ``{at: 5, scale: {deployment: web, replicas: 5}}``."""
    a = dict(args) if isinstance(args, Mapping) else {}
    captions = {
        "scale": lambda: f"scale {a.get('deployment', '')} to {a.get('replicas', '?')}",
        "deletePod": lambda: f"delete pod {a.get('name', '')}",
        "setReady": lambda: f"{a.get('pod', '')} {'ready' if a.get('ready') else 'not ready'}",
        "crashPod": lambda: f"pod {a.get('name', '')} crashes",
        "rollout": lambda: f"rollout of {a.get('deployment', '')}",
        "cordon": lambda: f"cordon {a.get('node', '')}",
        "failNode": lambda: f"node {a.get('node', '')} fails",
    }
    return captions[action]() if action in captions else action


def _nice_bin(duration: float, target: int = 40) -> float:
    raw = max(duration, 1e-9) / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * mag:
            return float(m * mag)
    return float(10 * mag)  # pragma: no cover


def plot_traffic(log: pd.DataFrame, *, events: Iterable[Any] | None = None, bin_seconds: float | None = None,
                 count: Literal["connections", "requests"] = "connections",
                 service: str | None = None, now: float | None = None, ax: Axes | None = None) -> Axes:
    """New connections (or requests) per second reaching each pod over time, with events marked.

    One line per pod; failed connections (no pod answered) are hatched vermillion bars along
    the bottom.  Events (a Deployment scaled, a pod crashed, a rollout) are dashed vertical
    lines; windows with a start and an end (for example the seconds before every node's
    kube-proxy has heard about a change: the *propagation window*) are shaded.

    Args:
        log: a request log (columns ``time``, ``pod``, ``outcome``).
        events: events to mark (see :func:`events_of`); default ``log.attrs["events"]``.
        bin_seconds: width of each time bin; default about 1/40 of the run.
        count: ``"connections"`` (new connections per second: where kube-proxy's choices
            went) or ``"requests"`` (requests per second: where the work went, keep-alive
            requests included).
        service: only connections to this Service (``"namespace/name"``).
        now: draw a "now" line here (the timeline player's position).
        ax: axes to draw on; without it a new figure is made.

    Returns:
        The axes drawn on.
    """
    require_columns(log, ["time", "pod", "outcome"], "plot_traffic")
    evs = events_of(events, log)
    _check_count(count)
    log = filter_service(without_attrs(log), service)
    if count == "connections":
        log = first_requests(log)
    times = log["time"].to_numpy(dtype=float)
    end = max([float(times.max()) if len(times) else 0.0, *(e.end or e.time for e in evs), 0.0])
    bw = float(bin_seconds) if bin_seconds else _nice_bin(end)
    if bw <= 0:
        raise PlotDataError(f"bin_seconds must be positive, not {bin_seconds}")
    nbins = max(1, int(math.floor(end / bw)) + 1)
    edges = np.arange(nbins + 1) * bw
    ax = new_axes(ax, (9.0, 3.6))
    pods = text_column(log, "pod")
    ok = text_column(log, "outcome") == "ok"
    bins = np.minimum((times // bw).astype(int), nbins - 1) if len(times) else np.array([], dtype=int)
    pod_names = sorted(p for p in pods[ok].unique() if p)
    pod_colors = colors_for(pod_names)
    with style():
        for i, pod in enumerate(pod_names):
            sel = (ok & (pods == pod)).to_numpy()
            rate = np.bincount(bins[sel], minlength=nbins) / bw
            # Line style as well as colour tells pods apart (never colour alone).
            ax.stairs(rate, edges, color=pod_colors[pod], lw=1.6, label=pod, gid=f"pod:{pod}",
                      linestyle=LINESTYLES[i % len(LINESTYLES)])
        failed = (~ok).to_numpy()
        if failed.any():
            frate = np.bincount(bins[failed], minlength=nbins) / bw
            # One stepped patch, not a bar per bin: a bar is a patch of its own, and a widget redraws often.
            ax.stairs(frate, edges, fill=True, facecolor="white", edgecolor=ERROR_COLOR, hatch="///", lw=1,
                      label="failed (no pod answered)", gid="failed")
        # Events at the same moment share one caption, so their labels do not overprint.
        # Their propagation windows may end at different times: keep the longest.
        merged: dict[float, EventMark] = {}
        for ev in evs:
            if ev.time in merged:
                first = merged[ev.time]
                ends = [e for e in (first.end, ev.end) if e is not None]
                merged[ev.time] = EventMark(ev.time, f"{first.label}, {ev.label}", first.kind, max(ends) if ends else None)
            else:
                merged[ev.time] = ev
        # Each event is a numbered line (or shaded window) with its number just above the axes;
        # the captions are listed under the x axis, wrapped to the axes' width, so a long
        # caption can never squash the plot (as rotated labels inside it did).
        captions = []
        for k, ev in enumerate(merged.values(), 1):
            if ev.end is not None:
                ax.axvspan(ev.time, ev.end, color=NEUTRAL_COLOR, alpha=0.18, lw=0, gid=f"window:{ev.label}")
            else:
                ax.axvline(ev.time, color="#222222", ls="--", lw=1, gid=f"event:{ev.label}")
            ax.annotate(str(k), (ev.time, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize=8, fontweight="bold",
                        gid=f"eventnumber:{k}",
                        bbox={"boxstyle": "circle,pad=0.15", "facecolor": "white", "edgecolor": "#222222", "lw": 0.6})
            span = f"{ev.time:.3g}-{ev.end:.3g} s" if ev.end is not None else f"{ev.time:.3g} s"
            captions.append(f"({k}) {span}: {ev.label}")
        if captions:
            width_in = ax.get_position().width * _figwidth(ax)
            chars = max(40, int(width_in * 72 / (8 * 0.55)))
            text = "\n".join(textwrap.wrap("    ".join(captions), width=chars, break_on_hyphens=False))
            ax.annotate(text, (0, 0), xycoords="axes fraction", xytext=(0, -30), textcoords="offset points",
                        ha="left", va="top", fontsize=8, gid="eventcaptions", annotation_clip=False)
        if now is not None:
            ax.axvline(now, color=ERROR_COLOR, lw=2, gid="now", label=f"now ({now:g} s)")
        ax.set_xlim(0, max(edges[-1], now or 0.0))
        ax.set_xlabel("time (seconds)")
        ax.set_ylabel(f"{'new connections' if count == 'connections' else 'requests'} per second")
        svc = service or _single(log, "service")
        # Room above the axes for the events' numbers.
        ax.set_title("Traffic over time, per pod" + (f" behind {svc}" if svc else ""), pad=16 if captions else 6)
        if pod_names or failed.any():
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


# ------------------------------------------------------------------------- affinity
def _breaks(client_log: pd.DataFrame, timeout: float | None) -> list[tuple[float, str]]:
    """(time, reason) where a client's connection went to a different pod than the last one."""
    out: list[tuple[float, str]] = []
    prev_pod, prev_t = None, None
    for t, pod in zip(client_log["time"], client_log["pod"], strict=True):
        if prev_pod is not None and pod != prev_pod:
            gap = float(t) - float(prev_t)  # type: ignore[arg-type]
            reason = "timed out" if timeout is not None and gap > timeout else "moved"
            out.append((float(t), reason))
        prev_pod, prev_t = pod, t
    return out


def return_rate(log: pd.DataFrame) -> float:
    """Share of repeat connections that reached the same pod as the same client's previous one.

    Every answered connection after a client's first is a *repeat*; it *returns* when it
    reached the pod that client's previous connection reached.  1.0 is perfect affinity;
    without affinity, over ``k`` equally likely pods, about ``1/k`` return by chance (1/3
    with three pods).  Compare :func:`kubelearn.stickiness`, which asks per client what share
    of its connections reached its most used pod: with 5 connections over 3 pods that is
    already about 0.55 by chance, so it is the weaker single number.

    Returns:
        The share, or NaN when no client connected twice.
    """
    require_columns(log, ["time", "client", "pod", "outcome"], "return_rate")
    log = first_requests(log)
    ok = log[(text_column(log, "outcome") == "ok") & (text_column(log, "pod") != "")]
    frame = pd.DataFrame({"client": text_column(ok, "client"), "pod": text_column(ok, "pod"),
                          "time": ok["time"].to_numpy(dtype=float)}).sort_values(["client", "time"], kind="stable")
    same_client = frame["client"].eq(frame["client"].shift())
    repeats = int(same_client.sum())
    if repeats == 0:
        return float("nan")
    return float((same_client & frame["pod"].eq(frame["pod"].shift())).sum() / repeats)


def plot_affinity(log: pd.DataFrame, *, timeout: float | None = None, max_clients: int = 30,
                  service: str | None = None, ax: Axes | None = None) -> Axes:
    """Each client's connections over time, coloured by the pod that answered.

    A row per client; a point per answered connection, in the pod's colour and shape.
    With ``sessionAffinity: ClientIP`` a row should be one colour.  A ring marks every
    connection that went to a different pod than the client's previous one: a vermillion (red-orange) ring when
    the client had been silent longer than the affinity timeout (the entry expired), a grey
    ring otherwise (the affinity list forgot the client, the pod went away, or there is no
    affinity at all).

    Args:
        log: a request log (columns ``time``, ``client``, ``pod``, ``outcome``).
        timeout: ``sessionAffinityConfig.clientIP.timeoutSeconds``; default
            ``log.attrs["affinity_timeout"]`` when present.
        max_clients: draw at most this many clients (the first to connect).
        service: only connections to this Service (``"namespace/name"``).
        ax: axes to draw on; without it a new figure is made.

    Returns:
        The axes drawn on.
    """
    require_columns(log, ["time", "client", "pod", "outcome"], "plot_affinity")
    if timeout is None:
        t_attr = log.attrs.get("affinity_timeout")
        timeout = float(t_attr) if t_attr is not None else None
    log = first_requests(filter_service(without_attrs(log), service))
    ok = log[(text_column(log, "outcome") == "ok") & (text_column(log, "pod") != "")]
    frame = pd.DataFrame({"client": text_column(ok, "client"), "pod": text_column(ok, "pod"),
                          "time": ok["time"].to_numpy(dtype=float)}).sort_values("time", kind="stable")
    first_seen = list(dict.fromkeys(frame["client"]))
    clients = first_seen[:max_clients]
    frame = frame[frame["client"].isin(clients)]
    row = {c: i for i, c in enumerate(clients)}
    pod_names = sorted(frame["pod"].unique())
    pod_colors = colors_for(pod_names)
    ax = new_axes(ax, (9.0, max(2.5, 0.28 * len(clients) + 1.5)))
    with style():
        for i, pod in enumerate(pod_names):
            sel = frame[frame["pod"] == pod]
            ax.scatter(sel["time"], [row[c] for c in sel["client"]], color=pod_colors[pod], s=22,
                       marker=POD_MARKERS[i % len(POD_MARKERS)], label=pod, gid=f"pod:{pod}", zorder=3)
        broke: dict[str, list[tuple[float, int]]] = {"timed out": [], "moved": []}
        for client, sub in frame.groupby("client", sort=False):
            for t, reason in _breaks(sub, timeout):
                broke[reason].append((t, row[str(client)]))
        styles = {"timed out": (ERROR_COLOR, "affinity timed out, new pod chosen"),
                  "moved": (NEUTRAL_COLOR, "went to a different pod")}
        for reason, points in broke.items():
            if points:
                color, label = styles[reason]
                ax.scatter([p[0] for p in points], [p[1] for p in points], s=110, facecolors="none",
                           edgecolors=color, linewidths=1.5, label=label, gid=f"break:{reason}", zorder=4)
        ax.set_yticks(range(len(clients)), clients)
        ax.invert_yaxis()
        ax.set_xlabel("time (seconds)")
        ax.set_ylabel("client")
        s = return_rate(ok) if len(ok) else float("nan")
        more = f" (first {len(clients)} of {len(first_seen)} clients)" if len(first_seen) > len(clients) else ""
        sticky = "no client connected twice" if math.isnan(s) else \
            f"{s:.0%} of repeat connections returned to the same pod"
        ax.set_title(f"Session affinity: {sticky}{more}")
        if pod_names:
            ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


