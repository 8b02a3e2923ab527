"""Where the load went by zone: a client-zone × endpoint-zone matrix.

Each row is the zone requests came from (``client_zone``), each column the zone of the pod that
answered (``endpoint_zone``).  Cells on the diagonal stayed in their zone (green); every other
cell crossed zones (orange, hatched, so the difference never rests on colour alone), which a
cloud bills as inter-zone data transfer.  A cell's colour deepens with its share of all answered
traffic, and its text gives the count and that share.  The title says how much crossed zones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.patches import Patch, Rectangle

from ..traffic.zones import NO_ZONE, zone_traffic
from ._common import OKABE_ITO, PlotDataError, new_axes, require_columns, style

__all__ = ["SAME_ZONE_COLOR", "CROSS_ZONE_COLOR", "plot_zone_traffic", "zone_traffic_figsize"]

#: Traffic that stayed in its zone: Okabe–Ito bluish green.
SAME_ZONE_COLOR = OKABE_ITO[2]
#: Traffic that crossed zones: Okabe–Ito orange (vermillion is kubelearn's colour for failures).
CROSS_ZONE_COLOR = OKABE_ITO[1]


def _zones(table: pd.DataFrame) -> list[str]:
    zones = sorted(set(table["client_zone"]) | set(table["endpoint_zone"]) - {NO_ZONE})
    return zones + ([NO_ZONE] if NO_ZONE in set(table["client_zone"]) | set(table["endpoint_zone"]) else [])


def zone_traffic_figsize(log: pd.DataFrame) -> tuple[float, float]:
    """The figure size (inches) :func:`plot_zone_traffic` needs for this log's zones."""
    k = len(_zones(zone_traffic(log))) if len(log) else 1
    return (min(8.8, 3.4 + 1.25 * k), 1.7 + 0.75 * k)


def plot_zone_traffic(log: pd.DataFrame, *, count: str = "requests", ax: Axes | None = None) -> Axes:
    """Draw the client-zone × endpoint-zone matrix of answered traffic, and the cross-zone share.

    Args:
        log: a request log with the zone columns (schema 2: ``client_zone``, ``endpoint_zone``).
        count: ``"requests"`` or ``"connections"``.
        ax: the axes to draw on (default: a new figure sized by :func:`zone_traffic_figsize`).

    Returns:
        The ``Axes`` drawn on.

    Raises:
        PlotDataError: for a log without the zone columns or without an answered request.
    """
    require_columns(log, ["connection", "client_zone", "endpoint_zone", "outcome"], "plot_zone_traffic")
    if count not in ("requests", "connections"):
        raise PlotDataError(f'count must be "requests" or "connections", not {count!r}')
    table = zone_traffic(log, count)
    if table.empty:
        raise PlotDataError("plot_zone_traffic needs a log with at least one answered request")
    zones = _zones(table)
    idx = {z: i for i, z in enumerate(zones)}
    k = len(zones)
    counts = np.zeros((k, k), dtype=np.int64)
    for row in table.itertuples(index=False):
        counts[idx[str(row.client_zone)], idx[str(row.endpoint_zone)]] += int(getattr(row, count))
    total = int(counts.sum())
    known = [i for i, z in enumerate(zones) if z != NO_ZONE]
    known_total = int(counts[np.ix_(known, known)].sum()) if known else 0
    crossed = int(sum(counts[i, j] for i in known for j in known if i != j))
    answered = total
    failed = int((log["outcome"].astype(str) != "ok").sum()) if count == "requests" else None
    if ax is None:
        ax = new_axes(None, zone_traffic_figsize(log))
    with style():
        peak = int(np.max(counts)) or 1
        for i in range(k):
            for j in range(k):
                n = int(counts[i, j])
                same = i == j or zones[i] == NO_ZONE or zones[j] == NO_ZONE
                color = SAME_ZONE_COLOR if i == j else CROSS_ZONE_COLOR if not same else "#BBBBBB"
                alpha = 0.12 + 0.78 * n / peak if n else 0.0
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor=color, alpha=alpha, edgecolor="none",
                                       gid=f"zone-{zones[i]}-{zones[j]}"))
                ax.add_patch(Rectangle((j, i), 1, 1, facecolor="none", edgecolor="white", lw=2,
                                       hatch="//" if (i != j and not same and n) else None))
                text = f"{n:,}\n{n / total:.0%}" if n else "0"
                ax.text(j + 0.5, i + 0.5, text, ha="center", va="center", fontsize=9,
                        color="#222222" if n else "#888888", fontweight="bold" if n and i == j else "normal")
        ax.set_xlim(0, k)
        ax.set_ylim(k, 0)
        ax.set_aspect("equal")
        ax.set_xticks(np.arange(k) + 0.5, zones)
        ax.set_yticks(np.arange(k) + 0.5, zones)
        ax.tick_params(length=0)
        for side in ("left", "bottom", "top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_xlabel("zone of the pod that answered (endpoint_zone)")
        ax.set_ylabel("zone the request came from\n(client_zone)")
        share = f"{crossed / known_total:.0%}" if known_total else "unknown"
        ax.set_title(f"Where the {count} went by zone: {share} crossed zones\n"
                     f"({crossed:,} of {known_total if known_total else answered:,} answered {count}"
                     + (f"; {failed:,} not answered, not shown" if failed else "") + ")", fontsize=10, loc="left")
        handles = [Patch(facecolor=SAME_ZONE_COLOR, alpha=0.7, label="same zone"),
                   Patch(facecolor=CROSS_ZONE_COLOR, alpha=0.7, hatch="//", edgecolor="white",
                         label="cross-zone\n(billed as inter-zone\ndata transfer)")]
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False, fontsize=8)
    return ax
