"""One connection's path through kube-proxy's rules, and what the first packet costs.

When a connection's first packet leaves a pod (or reaches a node) for a Service, the kernel
walks kube-proxy's rules.  In iptables mode that is the nat table: ``KUBE-SERVICES`` (one
rule per Service port, tried in order), then the Service's ``KUBE-SVC-…`` chain, whose rules
pick an endpoint with ``-m statistic --mode random --probability p`` (1/n, then 1/(n-1), …,
so each endpoint is equally likely), then the endpoint's ``KUBE-SEP-…`` chain, which DNATs
to the pod.  nftables mode replaces the long list with one verdict-map lookup and a
``numgen random mod n`` choice; IPVS mode with a virtual server in a hash table.  Only the
first packet pays: conntrack remembers the choice for the rest of the connection.

:func:`plot_trace` draws a trace as the path a learner can follow, rule by rule: the rules
every connection meets, the random branch point with one branch per endpoint (its
probability, its rules, its DNAT), and what every branch meets afterwards; :func:`plot_first_packet_cost` draws the curve behind
kube-proxy's move to nftables (rules walked against the number of Services).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle

from .. import objects
from ..proxy.walk import Destination, Step, Trace
from ._common import NEUTRAL_COLOR, OKABE_ITO, PlotDataError, new_axes, require_columns, style

__all__ = ["MODES", "first_packet_cost", "plot_first_packet_cost", "plot_trace", "trace_figsize"]

MODES = ("iptables", "nftables", "ipvs")
MODE_COLORS = {"iptables": OKABE_ITO[5], "nftables": OKABE_ITO[0], "ipvs": OKABE_ITO[2]}
MODE_MARKERS = {"iptables": "o", "nftables": "s", "ipvs": "^"}
TAKEN_COLOR = OKABE_ITO[0]
#: Text of the trace: monospace at the smallest size kubelearn draws, with room between lines.
TRACE_FONT = 8.0
LINE_INCHES = TRACE_FONT * 1.45 / 72
#: A monospace character's advance at TRACE_FONT (DejaVu Sans Mono: 0.602 em), in inches.
CHAR_INCHES = TRACE_FONT * 0.64 / 72  # 0.602 em, with room for bold and rounding
#: Branches side by side in one row (more go on further rows).
MAX_COLUMNS = 3
WIDTH = 8.6


def _pct(p: Any) -> str:
    return f"{float(p):.1%}" if p is not None else ""


class _Block:
    """Lines of text for one part of the path: (text, style, step index or None)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any], int | None]] = []

    def add(self, text: str, width: int, step: int | None = None, indent: str = "", **kw: Any) -> None:
        wrapped = textwrap.wrap(" ".join(str(text).split()), width=max(12, width), subsequent_indent=indent + "  ",
                                break_long_words=True, break_on_hyphens=False) or [""]
        rest = {k: v for k, v in kw.items() if k != "gid"}  # one gid per rule: on its first line
        for k, line in enumerate(wrapped):
            self.lines.append((line, kw if k == 0 else rest, step if k == 0 else None))


def _path_parts(steps: Sequence[Step], dests: Sequence[Destination]) -> tuple[list[int], list[list[int]], list[int | None],
                                                                       list[int], int]:
    """Split a trace's steps into the trunk, one list per destination, and the shared tail.

    The tracer walks every branch a random rule can take: after the Service's chain it
    lists each endpoint's chain in turn, then what every branch meets next (filter and
    POSTROUTING), once per branch.  Returns ``(trunk, branches, branch_rule, tail,
    tail_repeats)``: the step indices before the branch point, each destination's own steps,
    the rule that sends a packet to each destination (None when one rule dispatches to all,
    as nftables' ``numgen`` verdict map does: that rule is in the trunk), the steps after the
    branches (one copy when every branch repeats them), and how many copies there were.
    """
    chains = {d.chain: i for i, d in enumerate(dests)}
    owner = [chains.get(st.chain) for st in steps]
    firsts = [i for i, o in enumerate(owner) if o is not None]
    if not dests or not firsts:
        return list(range(len(steps))), [[] for _ in dests], [None] * len(dests), [], 1
    last = firsts[-1]
    dispatch = next((steps[i].chain for i in range(firsts[0] - 1, -1, -1)
                     if owner[i] is None), None)
    branches: list[list[int]] = [[] for _ in dests]
    branch_rule: list[int | None] = [None] * len(dests)
    trunk: list[int] = []
    for i in range(last + 1):
        st = steps[i]
        if owner[i] is not None:
            branches[owner[i]].append(i)  # type: ignore[index]
            continue
        rule = st.rule
        named = [k for c, k in chains.items() if c and c in rule]
        if st.chain == dispatch and len(named) == 1 and branch_rule[named[0]] is None:
            branch_rule[named[0]] = i
        elif i < firsts[0]:
            trunk.append(i)
        else:  # a step of the dispatch chain between branches that names no single branch
            trunk.append(i)
    tail = list(range(last + 1, len(steps)))
    repeats = 1
    n = len(dests)
    if tail and len(tail) % n == 0 and n > 1:
        # Every branch meets the same rules afterwards: the tracer lists them once per branch
        # (iptables, branch after branch; nftables, hook by hook).  Keep each rule's first copy.
        keys = {i: (steps[i].chain, steps[i].rule, steps[i].matched) for i in tail}
        size = len(tail) // n
        ordered = [keys[i] for i in tail]
        if all(ordered[k * size:(k + 1) * size] == ordered[:size] for k in range(n)):
            tail, repeats = tail[:size], n
        elif all(c == n for c in Counter(ordered).values()):
            seen: set[Any] = set()
            firsts_of = [i for i in tail if not (keys[i] in seen or seen.add(keys[i]))]  # type: ignore[func-returns-value]
            tail, repeats = firsts_of, n
    return trunk, branches, branch_rule, tail, repeats


def _rule_lines(block: _Block, steps: Sequence[Step], indices: Sequence[int], width: int, shown: int,
                current: int | None, chain: list[Any]) -> None:
    """Chain headers and rules (wrapped, never cut) for the given steps, up to ``shown``."""
    for i in indices:
        if i >= shown:
            continue
        st = steps[i]
        key = (st.table, st.chain)
        if key != chain[0]:
            block.add(f"{key[0]} table, chain {key[1]}" if key[0] else f"chain {key[1]}", width,
                      fontweight="bold", color="#222222", gid=f"chain:{key[1]}")
            chain[0] = key
        matched = st.matched
        prob = st.probability
        text = ("▶ " if i == current else "") + ("→ " if matched else "✗ ") + st.rule
        if prob is not None:
            text += f"  [random: p = {float(prob):.4g}" + (" → taken]" if matched else " → not this time]")
        block.add(text, width, step=i, indent="",
                  color=TAKEN_COLOR if matched else NEUTRAL_COLOR, fontweight="bold" if matched else "normal",
                  gid=f"{'taken' if matched else 'step'}:{i}")


def _layout(trace: Trace, upto: int | None) -> tuple[_Block, list[tuple[str, _Block]], _Block, int, int]:
    steps, dests = trace.steps, trace.destinations
    shown = len(steps) if upto is None else upto
    current = None if upto is None or upto == 0 else upto - 1
    trunk_idx, branch_idx, branch_rule, tail_idx, repeats = _path_parts(steps, dests)
    full = int((WIDTH - 0.4) / CHAR_INCHES)
    cols = max(1, min(MAX_COLUMNS, len(dests)))
    col_chars = int(((WIDTH - 0.4) / cols - 0.2) / CHAR_INCHES)
    trunk = _Block()
    _rule_lines(trunk, steps, trunk_idx, full, shown, current, [None])
    branches: list[tuple[str, _Block]] = []
    for k, d in enumerate(dests):
        b = _Block()
        b.add(f"branch {k + 1}: {_pct(d.probability)} of connections", col_chars, fontweight="bold", color="#222222",
              gid=f"branch:{k + 1}")
        rule = branch_rule[k]
        idx = ([rule] if rule is not None else []) + branch_idx[k]
        _rule_lines(b, steps, idx, col_chars, shown, current, [None])
        if not idx:
            b.add("(not walked by this trace)", col_chars, color=NEUTRAL_COLOR, style="italic")
        reached = shown > max(idx, default=len(steps))
        if reached or upto is None:
            masq = " (source rewritten: SNAT)" if d.masquerade else ""
            b.add(f"⇒ pod {d.endpoint}{masq}", col_chars, fontweight="bold", color="#222222", gid=f"endpoint:{d.endpoint}")
        branches.append((d.endpoint, b))
    tail = _Block()
    if tail_idx and any(i < shown for i in tail_idx):
        if repeats > 1:
            tail.add(f"then, the same on each of the {repeats} branches:", full, fontweight="bold", color="#222222",
                     gid="tail")
            last_shown = len(steps) if shown > tail_idx[-1] or upto is None else shown
            _rule_lines(tail, steps, tail_idx, full, last_shown, current, [None])
        else:
            # Branches that differ afterwards (a hairpin connection is masqueraded): when the
            # tail splits into one run per branch, each starting with the same rule, say which is which.
            first = (steps[tail_idx[0]].chain, steps[tail_idx[0]].rule)
            starts = [k for k, i in enumerate(tail_idx) if (steps[i].chain, steps[i].rule) == first]
            if len(starts) == len(dests) > 1:
                bounds = [*starts, len(tail_idx)]
                for k in range(len(dests)):
                    part = tail_idx[bounds[k]:bounds[k + 1]]
                    if not any(i < shown for i in part):
                        continue
                    tail.add(f"then, on branch {k + 1} (to {dests[k].endpoint}):", full,
                             fontweight="bold", color="#222222", gid=f"tail:{k + 1}")
                    _rule_lines(tail, steps, part, full, shown, current, [None])
            else:
                tail.add("then:", full, fontweight="bold", color="#222222", gid="tail")
                _rule_lines(tail, steps, tail_idx, full, shown, current, [None])
    finished = upto is None or upto == len(steps)
    if finished:
        tail.add(f"verdict: {trace.verdict}", full, fontweight="bold", color="#222222", gid="verdict")
        tail.add("source address rewritten (SNAT, masquerade)" if trace.masquerade else "source address kept (no SNAT)",
                 full, color="#222222", gid="masquerade")
    return trunk, branches, tail, cols, len(steps)


def _trace_lines(trace: Trace, upto: int | None) -> float:
    trunk, branches, tail, cols, _ = _layout(trace, upto)
    rows = [branches[i:i + cols] for i in range(0, len(branches), cols)]
    return len(trunk.lines) + len(tail.lines) + sum(max(len(b.lines) for _, b in row) + 1.5 for row in rows) + 2


def trace_figsize(trace: Trace) -> tuple[float, float]:
    """The figure size (inches) that shows a whole trace at 8 pt: every rule wrapped, none cut.

    The size does not depend on how many steps are shown, so a widget stepping through the
    trace keeps one layout.
    """
    return (WIDTH, max(2.0, _trace_lines(trace, None) * LINE_INCHES + 0.7))


def plot_trace(trace: Trace, *, upto: int | None = None, ax: Axes | None = None) -> Axes:
    """The path of one connection's first packet through the rules, with its branches.

    From the top: the rules every connection meets (grouped under their table and chain),
    then the branch point where kube-proxy picks an endpoint at random, drawn as side-by-side
    branches (one per endpoint, with its probability, the rule that sends a packet there and
    that endpoint's own chain ending in the DNAT), then what every branch meets next,
    listed once.  A rule that matched (the packet went on from it) is bold, blue and marked
    ``→``; a rule tried and passed over is grey and marked ``✗``.  Rules are wrapped, never
    cut.  At the bottom: the verdict and whether the source was masqueraded (SNAT).

    Args:
        trace: a :class:`~kubelearn.proxy.Trace`, from :func:`kubelearn.trace` or
            :func:`kubelearn.trace_rules`.
        upto: show only the first ``upto`` steps, marking the last with ``▶`` (the packet
            tracer steps through with this); on given axes sized by :func:`trace_figsize`
            the rows keep the places they have in the whole trace.
        ax: axes to draw on; without it a new figure of :func:`trace_figsize` is made.

    Returns:
        The axes drawn on.
    """
    steps = trace.steps
    if upto is not None and not 0 <= upto <= len(steps):
        raise PlotDataError(f"upto must be between 0 and {len(steps)} (this trace has {len(steps)} steps), not {upto}")
    # On the caller's axes (the packet tracer's figure, sized for the whole trace) the rows keep
    # their places as steps are revealed; a figure of its own fits the steps shown.
    total = _trace_lines(trace, None if ax is not None else upto)
    trunk, branches, tail, cols, n_steps = _layout(trace, upto)
    ax = new_axes(ax, (WIDTH, max(2.0, total * LINE_INCHES + 0.7)))
    with style():
        text_kw: dict[str, Any] = {"ha": "left", "va": "center", "family": "monospace", "fontsize": TRACE_FONT}
        y = 0.0

        def draw(block: _Block, x: float, y: float) -> float:
            for text, kw, _step in block.lines:
                ax.text(x, y, text, **text_kw, **kw)
                y -= 1
            return y

        y = draw(trunk, 0.0, y)
        col_w = 1.0 / cols
        rows = [branches[i:i + cols] for i in range(0, len(branches), cols)]
        fork = y + 0.4
        for r, row in enumerate(rows):
            height = max(len(b.lines) for _, b in row)
            top = y - (1.6 if r == 0 else 0.6)
            for c, (endpoint, b) in enumerate(row):
                x0 = c * col_w + 0.004
                ax.add_patch(Rectangle((x0, top - height + 0.4), col_w - 0.012, height + 0.2,
                                       facecolor="#F4F8FC", edgecolor=TAKEN_COLOR, lw=0.8, zorder=0,
                                       gid=f"dest:{endpoint}"))
                if r == 0:  # the fork: one arrow from the trunk to each branch
                    ax.annotate("", xy=(x0 + col_w / 2, top + 0.6), xytext=(0.12, fork),
                                arrowprops={"arrowstyle": "-|>", "color": TAKEN_COLOR, "lw": 1.2,
                                            "shrinkA": 0, "shrinkB": 0}, zorder=1)
                draw(b, x0 + 0.008, top)
            y = top - height - 0.9
        draw(tail, 0.0, y)
        ax.set_xlim(0, 1)
        ax.set_ylim(-total + 0.5, 0.8)
        ax.axis("off")
        title = f"Path of one connection's first packet: {trace.rules_walked} rules walked"
        if upto is not None:
            title += f" (step {upto} of {n_steps}, all branches together)"
        ax.set_title(title, loc="left")
    return ax


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
    """
    from ..proxy import trace
    from ..scenarios import default_scenario

    counts = sorted({int(c) for c in service_counts})
    if not counts or counts[0] < 1:
        raise PlotDataError("service_counts must be positive numbers of Services")
    base = default_scenario(seed=seed)
    template = next((s for s in list(base.services("default")) if objects.name(s) != "kubernetes"
                     and s["spec"].get("selector")), None)
    if template is None:
        raise PlotDataError("the default scenario has no Service with a selector to copy")
    client = next((p for p in list(base.pods("default")) if p.get("status", {}).get("podIP")), None)
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
        svcs = [s for s in list(built.services("default")) if objects.name(s) == objects.name(template)
                or objects.name(s).startswith("svc-")]
        picks = [svcs[round(k * (len(svcs) - 1) / max(1, samples - 1))] for k in range(min(samples, len(svcs)))]
        for mode in modes:
            walked = [trace(built, client["spec"]["nodeName"], client["status"]["podIP"],
                            f"{s['spec']['clusterIP']}:{s['spec']['ports'][0]['port']}", mode=mode).rules_walked
                      for s in picks]
            rows.append({"mode": mode, "services": len(list(built.services())), "rules_walked": sum(walked) / len(walked),
                         "max_rules_walked": max(walked)})
    return pd.DataFrame(rows)


def plot_first_packet_cost(data: pd.DataFrame, *, ax: Axes | None = None) -> Axes:
    """Rules walked by a connection's first packet against the number of Services, per mode.

    iptables mode matches the first packet against ``KUBE-SERVICES`` one rule at a time, so
    the cost grows with the number of Services; nftables mode does one verdict-map lookup
    and IPVS one hash-table lookup, so theirs stays flat.  This count of rules is the
    *shape* of the cost, not a time: kernels differ, but the line's slope is the reason
    kube-proxy's nftables mode was built (GA in Kubernetes 1.33).

    Args:
        data: columns ``mode``, ``services``, ``rules_walked`` (as from
            :func:`first_packet_cost`); ``max_rules_walked`` is drawn as a band when present.
        ax: axes to draw on; without it a new figure is made.

    Returns:
        The axes drawn on.
    """
    require_columns(data, ["mode", "services", "rules_walked"], "plot_first_packet_cost")
    if data.empty:
        raise PlotDataError("plot_first_packet_cost needs at least one measurement")
    ax = new_axes(ax, (7.0, 4.0))
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
    return ax
