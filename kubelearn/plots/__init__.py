"""Pictures of a cluster and its traffic, for notebooks (issue 5).

Every function here is a pure function of data: a request log, a :class:`~kubelearn.cluster.Cluster`
or a trace.  Each takes an optional matplotlib ``ax``; without one it makes a new figure and
returns it (it shows itself in a notebook), with one it draws there and returns ``ax``.  None
calls ``plt.show()`` or changes matplotlib's global settings, so they compose into a learner's
own subplots.  One colour-blind-safe palette (Okabe–Ito) is used for pods and nodes
throughout; figures have a white background so they read in light and dark themes.
"""

from ._common import (
    ERROR_COLOR,
    NEUTRAL_COLOR,
    OKABE_ITO,
    KubelearnFigure,
    PlotDataError,
    colors_for,
    node_colors,
    style,
)
from .chains import MODES, first_packet_cost, plot_first_packet_cost, plot_trace
from .load import Event, chance_band, events_of, plot_affinity, plot_load, plot_traffic, return_rate
from .topology import plot_topology

__all__ = [
    "ERROR_COLOR",
    "Event",
    "KubelearnFigure",
    "MODES",
    "NEUTRAL_COLOR",
    "OKABE_ITO",
    "PlotDataError",
    "chance_band",
    "colors_for",
    "events_of",
    "node_colors",
    "first_packet_cost",
    "plot_affinity",
    "plot_first_packet_cost",
    "plot_load",
    "plot_topology",
    "plot_trace",
    "plot_traffic",
    "return_rate",
    "style",
]
