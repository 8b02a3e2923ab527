"""One connection's path through kube-proxy's rules, and what the first packet costs.

When a connection's first packet leaves a pod (or reaches a node) for a Service, the kernel
walks kube-proxy's rules.  In iptables mode that is the nat table: ``KUBE-SERVICES`` (one
rule per Service port, tried in order), then the Service's ``KUBE-SVC-…`` chain, whose rules
pick an endpoint with ``-m statistic --mode random --probability p`` (1/n, then 1/(n-1), …,
so each endpoint is equally likely), then the endpoint's ``KUBE-SEP-…`` chain, which DNATs
to the pod.  nftables mode replaces the long list with one verdict-map lookup and a
``numgen random mod n`` choice; IPVS mode with a virtual server in a hash table.  Only the
first packet pays: conntrack remembers the choice for the rest of the connection.

:func:`plot_trace` draws a trace as a list a learner can follow, rule by rule, with the
branch taken and its probability; :func:`plot_first_packet_cost` draws the curve behind
kube-proxy's move to nftables (rules walked against the number of Services).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, overload

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import KubelearnError
from ._common import NEUTRAL_COLOR, OKABE_ITO, PlotDataError, new_axes, objects, require_columns, result, style

__all__ = ["MODES", "first_packet_cost", "plot_first_packet_cost", "plot_trace"]

MODES = ("iptables", "nftables", "ipvs")
MODE_COLORS = {"iptables": OKABE_ITO[5], "nftables": OKABE_ITO[0], "ipvs": OKABE_ITO[2]}
MODE_MARKERS = {"iptables": "o", "nftables": "s", "ipvs": "^"}
TAKEN_COLOR = OKABE_ITO[0]
MAX_RULE_CHARS = 100


def _short(text: str, limit: int = MAX_RULE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _pct(p: Any) -> str:
    return f"{float(p):.1%}" if p is not None else ""


@overload
def plot_trace(trace: Any, *, upto: int | None = ..., ax: None = ...) -> Figure: ...
@overload
def plot_trace(trace: Any, *, upto: int | None = ..., ax: Axes) -> Axes: ...
def plot_trace(trace: Any, *, upto: int | None = None, ax: Axes | None = None) -> Figure | Axes:
    """The rules one connection's first packet walked, as a list to follow from top to bottom.

    Rules are grouped under their table and chain.  The rule whose match sent the packet on
    (the branch taken) is bold, blue and marked ``→``; rules tried and passed over are grey.
    A rule with a probability (``-m statistic --mode random``, ``numgen``) shows it.  At the
    bottom: the verdict, whether the source was masqueraded (SNAT), and every pod this
    connection could have reached with its probability, as bars.

    Args:
        trace: a :class:`kubelearn.proxy.trace` result (``steps``, ``verdict``,
            ``destinations``, ``masquerade``, ``rules_walked``).
        upto: show only the first ``upto`` steps (the packet tracer steps through with this).
        ax: axes to draw on; without it a new figure is made and returned.

    Returns:
        The new figure, or ``ax`` when it was given.
    """
    steps: Sequence[Any] = list(getattr(trace, "steps", None) or [])
    dests: Sequence[Any] = list(getattr(trace, "destinations", None) or [])
    if upto is not None and not 0 <= upto <= len(steps):
        raise PlotDataError(f"upto must be between 0 and {len(steps)} (this trace has {len(steps)} steps), not {upto}")
    shown = steps if upto is None else steps[:upto]
    finished = upto is None or upto == len(steps)
    rows: list[tuple[str, dict[str, Any]]] = []
    chain = None
    for i, st in enumerate(shown):
        key = (getattr(st, "table", ""), getattr(st, "chain", ""))
        if key != chain:
            rows.append((f"{key[0]} table, chain {key[1]}" if key[0] else f"chain {key[1]}",
                         {"fontweight": "bold", "color": "#222222", "gid": f"chain:{key[1]}"}))
            chain = key
        matched = bool(getattr(st, "matched", False))
        prob = getattr(st, "probability", None)
        suffix = ""
        if prob is not None:
            suffix = f"   [random: p = {float(prob):.4g}" + (" → taken]" if matched else " → not this time]")
        current = upto is not None and i == upto - 1
        text = ("→ " if matched else "   ") + _short(getattr(st, "rule", "")) + suffix
        rows.append((("▶ " if current else "   ") + text,
                     {"color": TAKEN_COLOR if matched else NEUTRAL_COLOR,
                      "fontweight": "bold" if matched else "normal", "gid": f"{'taken' if matched else 'step'}:{i}"}))
    if finished:
        verdict = getattr(trace, "verdict", "")
        rows.append((f"verdict: {verdict}", {"fontweight": "bold", "color": "#222222", "gid": "verdict"}))
        masq = getattr(trace, "masquerade", None)
        if masq is not None:
            rows.append(("source address rewritten (SNAT, masquerade)" if masq else "source address kept (no SNAT)",
                         {"color": "#222222", "gid": "masquerade"}))
    n_rows = len(rows) + (len(dests) + 1 if finished and dests else 0)
    ax, created = new_axes(ax, (10.0, max(2.0, 0.24 * n_rows + 0.9)))
    with style():
        y = 0.0
        for text, kw in rows:
            ax.text(0.0, y, text, ha="left", va="center", family="monospace", fontsize=7.5, **kw)
            y -= 1
        if finished and dests:
            ax.text(0.0, y, "where this connection could go:", ha="left", va="center", fontsize=8,
                    fontweight="bold")
            y -= 1
            for d in dests:
                p = float(getattr(d, "probability", 0.0) or 0.0)
                ep = str(getattr(d, "endpoint", ""))
                ax.barh(y, 0.35 * p, left=0.02, height=0.6, color=TAKEN_COLOR, alpha=0.8, gid=f"dest:{ep}")
                ax.text(0.39, y, f"{ep}  {_pct(p)}  via {getattr(d, 'chain', '')}", ha="left", va="center",
                        fontsize=7.5, family="monospace")
                y -= 1
        ax.set_xlim(0, 1)
        ax.set_ylim(y + 0.3, 0.8)
        ax.axis("off")
        walked = getattr(trace, "rules_walked", None)
        title = "Path of one connection's first packet"
        if walked is not None:
            title += f": {walked} rules walked"
        if upto is not None:
            title += f" (step {upto} of {len(steps)})"
        ax.set_title(title, loc="left")
    return result(ax, created)


def first_packet_cost(service_counts: Iterable[int] = (1, 10, 100, 1000), modes: Iterable[str] = MODES,
                      seed: int = 0, samples: int = 8) -> pd.DataFrame:
    """Rules a connection's first packet walks, against the number of Services, per proxy mode.

    Builds the default scenario with extra ClusterIP Services (``svc-00001``, …, selecting the
    same pods), and traces a connection from a pod to ``samples`` of them, spread over the
    list, with :func:`kubelearn.proxy.trace` in each mode.

    Returns:
        One row per (mode, services): ``mode``, ``services`` (every Service in the cluster,
        ``kubernetes`` and ``kube-dns`` included), ``rules_walked`` (mean over the sampled
        Services), ``max_rules_walked``.

    Raises:
        KubelearnError: when the tracer or the scenarios are not available in this build.
    """
    try:
        from ..proxy import trace  # type: ignore[attr-defined]  # the tracer (issue 3) may be absent
        from ..scenarios import default_scenario
    except ImportError as exc:  # pragma: no cover - depends on the build
        raise KubelearnError(f"first_packet_cost needs kubelearn.proxy and kubelearn.scenarios: {exc}") from exc
    counts = sorted({int(c) for c in service_counts})
    if not counts or counts[0] < 1:
        raise PlotDataError("service_counts must be positive numbers of Services")
    base = default_scenario(seed=seed)
    template = next((s for s in objects(base.services("default")) if s["metadata"]["name"] != "kubernetes"
                     and s["spec"].get("selector")), None)
    if template is None:
        raise PlotDataError("the default scenario has no Service with a selector to copy")
    client = next((p for p in objects(base.pods("default")) if p.get("status", {}).get("podIP")), None)
    if client is None:
        raise PlotDataError("the default scenario has no running pod to send from")
    rows = []
    built = base
    existing = 1
    for n in counts:
        extra = [{"apiVersion": "v1", "kind": "Service",
                  "metadata": {"name": f"svc-{i:05d}", "namespace": "default"},
                  "spec": {"selector": dict(template["spec"]["selector"]),
                           "ports": [{"port": p["port"], "targetPort": p["targetPort"], "protocol": p["protocol"],
                                      **({"name": p["name"]} if p.get("name") else {})}
                                     for p in template["spec"]["ports"]]}}
                 for i in range(existing, n)]
        if extra:
            built = built.apply(*extra)
            existing = n
        svcs = [s for s in objects(built.services("default")) if s["metadata"]["name"] == template["metadata"]["name"]
                or s["metadata"]["name"].startswith("svc-")]
        picks = [svcs[round(k * (len(svcs) - 1) / max(1, samples - 1))] for k in range(min(samples, len(svcs)))]
        for mode in modes:
            walked = [trace(built, client["spec"]["nodeName"], client["status"]["podIP"],
                            f"{s['spec']['clusterIP']}:{s['spec']['ports'][0]['port']}", mode=mode).rules_walked
                      for s in picks]
            rows.append({"mode": mode, "services": len(objects(built.services())), "rules_walked": sum(walked) / len(walked),
                         "max_rules_walked": max(walked)})
    return pd.DataFrame(rows)


@overload
def plot_first_packet_cost(data: pd.DataFrame, *, ax: None = ...) -> Figure: ...
@overload
def plot_first_packet_cost(data: pd.DataFrame, *, ax: Axes) -> Axes: ...
def plot_first_packet_cost(data: pd.DataFrame, *, ax: Axes | None = None) -> Figure | Axes:
    """Rules walked by a connection's first packet against the number of Services, per mode.

    iptables mode matches the first packet against ``KUBE-SERVICES`` one rule at a time, so
    the cost grows with the number of Services; nftables mode does one verdict-map lookup
    and IPVS one hash-table lookup, so theirs stays flat.  This count of rules is the
    *shape* of the cost, not a time: kernels differ, but the line's slope is the reason
    kube-proxy's nftables mode was built (GA in Kubernetes 1.33).

    Args:
        data: columns ``mode``, ``services``, ``rules_walked`` (as from
            :func:`first_packet_cost`); ``max_rules_walked`` is drawn as a band when present.
        ax: axes to draw on; without it a new figure is made and returned.

    Returns:
        The new figure, or ``ax`` when it was given.
    """
    require_columns(data, ["mode", "services", "rules_walked"], "plot_first_packet_cost")
    if data.empty:
        raise PlotDataError("plot_first_packet_cost needs at least one measurement")
    ax, created = new_axes(ax, (7.0, 4.0))
    with style():
        for mode in [m for m in MODES if m in set(data["mode"])] + sorted(set(data["mode"]) - set(MODES)):
            sub = data[data["mode"] == mode].sort_values("services")
            color = MODE_COLORS.get(mode, NEUTRAL_COLOR)
            ax.plot(sub["services"], sub["rules_walked"], marker=MODE_MARKERS.get(mode, "o"), color=color, lw=2,
                    label=f"{mode} (mean)", gid=f"mode:{mode}")
            if "max_rules_walked" in sub.columns:
                ax.fill_between(sub["services"], sub["rules_walked"], sub["max_rules_walked"], color=color,
                                alpha=0.15, lw=0, gid=f"worst:{mode}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("number of Services in the cluster")
        ax.set_ylabel("rules walked by the first packet")
        ax.set_title("What a new connection costs as the cluster grows")
        ax.legend(title="kube-proxy mode (band: worst Service)", loc="upper left")
        ax.grid(True, which="major", alpha=0.3)
    return result(ax, created)
