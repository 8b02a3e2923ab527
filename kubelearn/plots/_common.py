"""Shared vocabulary of every kubelearn picture: one palette, one style, one way to make a figure.

The palette is Okabe and Ito's set of eight colours, chosen so that people with the common
forms of colour blindness can still tell them apart.  Black is replaced by a mid grey so the
same colours read on JupyterLab's light and dark themes; every figure also has an opaque
white background, so black text never lands on a dark notebook page.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import matplotlib
import matplotlib.rcsetup
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from ..errors import PlotDataError

__all__ = [
    "OKABE_ITO",
    "ERROR_COLOR",
    "NEUTRAL_COLOR",
    "STYLE",
    "DPI",
    "KubelearnFigure",
    "MAX_WIDTH",
    "MIN_FONT",
    "PlotDataError",
    "color_for",
    "colors_for",
    "node_colors",
    "new_axes",
    "new_figure",
    "style",
]

#: Okabe & Ito (2008), "Color Universal Design"; grey stands in for their black (dark themes).
OKABE_ITO: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#D55E00",  # vermillion
    "#F0E442",  # yellow
    "#999999",  # grey
)
#: Failed connections (refused, dropped, reset, NXDOMAIN): vermillion, always with a hatch as well,
#: so the meaning never rests on colour alone.
ERROR_COLOR = "#D55E00"
#: Things that are not a pod or a node (the Service's virtual IP, clients, rules not taken).
NEUTRAL_COLOR = "#6E6E6E"

# The style every kubelearn picture is drawn with, applied through matplotlib.style.context so
# the learner's own rcParams are restored afterwards (plots never change global state).
STYLE: Mapping[str, Any] = {
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "savefig.facecolor": "white",
    "text.color": "#222222",
    "axes.labelcolor": "#222222",
    "axes.edgecolor": "#444444",
    "xtick.color": "#222222",
    "ytick.color": "#222222",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "font.size": 9,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.title_fontsize": 8,
    "legend.frameon": False,
    "axes.prop_cycle": matplotlib.rcsetup.cycler(color=list(OKABE_ITO)),
}


@contextmanager
def style() -> Iterator[None]:
    """Draw inside kubelearn's style; the caller's rcParams are restored on exit."""
    with matplotlib.style.context(dict(STYLE)):
        yield


#: Resolution of every figure kubelearn makes: at 100 dpi an 8 pt label is 11 pixels tall, and
#: a figure 8.8 inches wide is 880 pixels, which fits JupyterLab's output area with the file
#: browser open (about 900 px) without being scaled down.
DPI = 100
#: The widest figure kubelearn makes, in inches (880 px at :data:`DPI`; an SVG is 845 CSS px).
MAX_WIDTH = 8.8
#: The smallest text kubelearn draws, in points.
MIN_FONT = 8.0


class KubelearnFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG in any notebook.

    Figures made without pyplot (what the widgets draw on) are not registered anywhere, so
    they would not be displayed automatically; ``_repr_png_`` lets IPython show one that a
    cell returns.
    """

    def _repr_png_(self) -> bytes:
        return self.to_png()

    def to_svg(self) -> bytes:
        """The figure as SVG with real text (the browser draws the letters).

        Rasterising text glyph by glyph is most of the cost of a PNG; an SVG whose text stays
        text is much faster to produce, which is what keeps a widget redraw fast.
        """
        buf = io.BytesIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "kubelearn"}):
            self.savefig(buf, format="svg", metadata={"Date": None})
        return buf.getvalue()

    def to_png(self, dpi: float | None = None) -> bytes:
        """The figure as PNG bytes at ``dpi`` (default the figure's own, :data:`DPI`)."""
        buf = io.BytesIO()
        # Fast zlib level: widgets redraw on every change, and the PNG is only a few hundred kB.
        self.savefig(buf, format="png", dpi=dpi or self.dpi, pil_kwargs={"compress_level": 1})
        return buf.getvalue()


def new_figure(figsize: tuple[float, float], layout: Literal["constrained"] | None = None) -> KubelearnFigure:
    """A figure in kubelearn's style that pyplot does not know about (widgets draw on these).

    Args:
        figsize: width and height in inches; the width is capped at :data:`MAX_WIDTH`.
        layout: matplotlib's layout engine (``"constrained"``) or None for fixed margins.
    """
    with style():
        return KubelearnFigure(figsize=(min(figsize[0], MAX_WIDTH), figsize[1]), dpi=DPI, layout=layout)


def new_axes(ax: Axes | None, figsize: tuple[float, float]) -> Axes:
    """The axes to draw on: the caller's, or those of a new pyplot figure.

    As in seaborn, a plot called without ``ax`` makes its own figure through pyplot, so a
    notebook with the inline backend shows it at the end of the cell; the figure is sized for
    the picture (at most :data:`MAX_WIDTH` inches wide) and laid out by constrained layout.
    """
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    with style():
        fig = plt.figure(figsize=(min(figsize[0], MAX_WIDTH), figsize[1]), dpi=DPI, layout="constrained",
                         FigureClass=KubelearnFigure)
        return fig.add_subplot()


def color_for(name: str, names: Sequence[str]) -> str:
    """The palette colour of ``name`` among ``names`` (stable: same order, same colour)."""
    try:
        i = list(names).index(name)
    except ValueError:
        return NEUTRAL_COLOR
    return OKABE_ITO[i % len(OKABE_ITO)]


def colors_for(names: Iterable[str]) -> dict[str, str]:
    """A colour for each name, in the order given (nodes in node order, pods in pod order)."""
    ordered = list(dict.fromkeys(names))
    return {n: OKABE_ITO[i % len(OKABE_ITO)] for i, n in enumerate(ordered)}


_KIND_NODE = re.compile(r"-(control-plane|worker)(\d*)$")


def node_colors(names: Iterable[str]) -> dict[str, str]:
    """A colour for each node that is the same in every picture, whichever nodes it shows.

    kind names its nodes ``<cluster>-control-plane``, ``<cluster>-worker``,
    ``<cluster>-worker2``, …: the control plane is blue, worker N takes the Nth colour
    (orange, bluish green, …), so a node keeps its colour in a load plot that only sees the
    workers.  Other names are coloured in the order given.
    """
    ordered = list(dict.fromkeys(names))
    out: dict[str, str] = {}
    others = []
    for name in ordered:
        m = _KIND_NODE.search(name)
        if m is None:
            others.append(name)
            continue
        k = int(m.group(2) or 1)
        index = k if m.group(1) == "worker" else (0 if k == 1 else len(OKABE_ITO) - k + 1)
        out[name] = OKABE_ITO[index % len(OKABE_ITO)]
    for i, name in enumerate(others):
        out[name] = OKABE_ITO[i % len(OKABE_ITO)]
    return {n: out[n] for n in ordered}



def require_columns(log: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Raise :class:`PlotDataError` naming every missing request-log column."""
    if not isinstance(log, pd.DataFrame):
        raise PlotDataError(f"{what} needs a request log (a pandas DataFrame from kubelearn.traffic.simulate), "
                            f"not {type(log).__name__}")
    missing = [c for c in columns if c not in log.columns]
    if missing:
        raise PlotDataError(f"{what} needs the request-log column(s) {', '.join(missing)}; "
                            f"this log has {', '.join(map(str, log.columns))}")


def first_requests(log: pd.DataFrame) -> pd.DataFrame:
    """One row per connection: its first request.

    kube-proxy picks a pod once per *connection* (conntrack keeps the choice for every later
    packet), so loads, shares and affinity are counted in connections; a log with keep-alive
    requests has several rows per connection.
    """
    if "connection" not in log.columns or log.empty:
        return log
    keys = [c for c in ("service", "connection") if c in log.columns]
    return log.drop_duplicates(keys, keep="first")


def text_column(log: pd.DataFrame, name: str) -> pd.Series:
    """A column as plain strings (categoricals decoded, missing values as ""), without ``attrs``."""
    col = log[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        # Decode through the categories: one conversion per category, not per row.
        cats = np.asarray(col.cat.categories.astype(str), dtype=object)
        codes = col.cat.codes.to_numpy()
        values = np.where(codes >= 0, cats[np.maximum(codes, 0)] if len(cats) else "", "")
    else:
        raw = col.to_numpy(dtype=object)
        values = np.array(["" if v is None or (isinstance(v, float) and v != v) else str(v) for v in raw],
                          dtype=object)
    return pd.Series(values, index=log.index, name=name, dtype=object)


def text_values(log: pd.DataFrame, name: str) -> np.ndarray:
    """A column as a NumPy string array (missing values as ""), for fast comparisons.

    Comparing a 10,000-row object column with a string runs in Python, element by element;
    a fixed-width NumPy string array compares in C, about fifteen times faster, which counts
    in a widget that filters the same log a dozen times per redraw.
    """
    codes, labels = text_codes(log, name)
    return labels[codes]


def text_codes(log: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray]:
    """A column as integer codes into an array of its distinct strings: ``labels[codes]`` is the column.

    For a categorical column (what :func:`kubelearn.traffic.simulate` writes) this is its own
    codes, with missing values pointing at a "" appended to the categories; counting pairs of
    codes is much faster than grouping strings.
    """
    col = log[name]
    if isinstance(col.dtype, pd.CategoricalDtype):
        cats = np.asarray(col.cat.categories.astype(str), dtype=str)
        codes = col.cat.codes.to_numpy().astype(np.intp)
        codes[codes < 0] = len(cats)
        return codes, np.append(cats, "")
    labels, codes = np.unique(text_column(log, name).to_numpy().astype(str), return_inverse=True)
    return codes.ravel().astype(np.intp), labels


def without_attrs(log: pd.DataFrame) -> pd.DataFrame:
    """The same rows without ``attrs``: pandas deep-copies attrs on every operation, and a log's
    attrs (the workload, the cluster summary) make that the slowest part of a redraw."""
    out = log.copy(deep=False)
    out.attrs = {}
    return out
