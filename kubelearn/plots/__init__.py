"""Pictures of a cluster and its traffic, for notebooks.

Every function here is a pure function of data: a request log, a :class:`~kubelearn.cluster.Cluster`
or a trace.  As in seaborn, each takes an optional matplotlib ``ax``, draws there and returns
the ``Axes``; without ``ax`` it makes a new pyplot figure sized for the picture (so a
notebook shows it at the end of the cell) and returns its axes.  None calls ``plt.show()``
or changes matplotlib's settings, so they compose into a learner's own subplots.  Pictures
whose size depends on the data say which size they need (:func:`trace_figsize`,
:func:`topology_figsize`), for a caller that makes its own figure.

Every figure is at most 8.8 inches wide at 100 dpi (880 pixels: JupyterLab's output area with
the file browser open holds it unscaled) and no text is smaller than 8 pt.  One colour-blind-safe palette (Okabe–Ito) is used for pods and nodes
throughout; figures have a white background so they read in light and dark themes.
"""

from ._common import (
    DPI,
    ERROR_COLOR,
    MAX_WIDTH,
    MIN_FONT,
    NEUTRAL_COLOR,
    OKABE_ITO,
    KubelearnFigure,
    PlotDataError,
    colors_for,
    new_figure,
    node_colors,
    style,
)
from .chains import MODES, first_packet_cost, plot_first_packet_cost, plot_trace, trace_figsize
from .load import (
    EventMark,
    chance_band,
    events_of,
    plot_affinity,
    plot_load,
    plot_traffic,
    present_shares,
    return_rate,
)
from .topology import plot_topology, topology_figsize
from .zones import CROSS_ZONE_COLOR, SAME_ZONE_COLOR, plot_zone_traffic, zone_traffic_figsize

__all__ = [
    "DPI",
    "ERROR_COLOR",
    "MAX_WIDTH",
    "MIN_FONT",
    "EventMark",
    "KubelearnFigure",
    "MODES",
    "NEUTRAL_COLOR",
    "OKABE_ITO",
    "PlotDataError",
    "chance_band",
    "colors_for",
    "events_of",
    "new_figure",
    "node_colors",
    "first_packet_cost",
    "plot_affinity",
    "plot_first_packet_cost",
    "plot_load",
    "plot_topology",
    "plot_trace",
    "plot_traffic",
    "present_shares",
    "return_rate",
    "style",
    "topology_figsize",
    "trace_figsize",
    "CROSS_ZONE_COLOR",
    "SAME_ZONE_COLOR",
    "plot_zone_traffic",
    "zone_traffic_figsize",
]
