"""What every kubelearn widget shares: the lazy ipywidgets import and a flicker-free output.

Widgets are optional: ``ipywidgets`` is imported only when a widget is built, so the rest
of kubelearn works (and installs) without it.  Every widget draws with the same pure
functions as :mod:`kubelearn.plots` and puts the picture into an ``Output`` widget with a
minimum height, so the page hardly moves while the learner plays, and no scroll bars: every
picture is at most 8.8 inches (845 CSS pixels as SVG) wide, so it fits JupyterLab's output
area with the file browser open.

Live picture and still: a widget shown in a notebook answers with one output carrying both
the live view (``application/vnd.jupyter.widget-view+json``) and a PNG of its current picture
(``image/png``).  JupyterLab, Voilà and VS Code render the live view and ignore the PNG;
GitHub, nbviewer and HTML exports without widget state fall back to the PNG.  So a reader
never sees a still next to a live picture that has moved on.
"""

from __future__ import annotations

import base64
import html
from typing import Any

from ..errors import KubelearnError, MissingExtraError
from ..plots._common import ERROR_COLOR, KubelearnFigure

__all__ = ["MISSING_IPYWIDGETS", "MissingExtraError", "View", "ipywidgets", "png_output", "svg_output"]

MISSING_IPYWIDGETS = "kubelearn.widgets needs ipywidgets: pip install kubelearn[notebooks]"


def ipywidgets() -> Any:
    """The ipywidgets module, imported on first use.

    Raises:
        MissingExtraError: naming the extra to install when ipywidgets is absent.
    """
    try:
        import ipywidgets as w
    except ImportError as exc:
        raise MissingExtraError(MISSING_IPYWIDGETS) from exc
    return w


def png_output(png: bytes, alt: str) -> dict[str, Any]:
    """An nbformat ``display_data`` output holding a PNG (what an Output widget stores)."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(png).decode("ascii"), "text/plain": alt}}


def svg_output(svg: bytes, alt: str) -> dict[str, Any]:
    """An nbformat ``display_data`` output holding an SVG picture (text, not base64)."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/svg+xml": svg.decode("utf-8"), "text/plain": alt}}


def place(ax: Any, left: float, right: float, bottom: float, top: float, box: tuple[float, float, float, float]
          | None = None) -> None:
    """Put ``ax`` in its figure with margins in inches (left, right, bottom, top) inside ``box``.

    ``box`` is ``(x0, y0, width, height)`` in inches (default: the whole figure).  A widget
    redraws on every change, and matplotlib's constrained layout measures every label twice
    to do what these few numbers do: margins for the known labels of a known picture.
    """
    fw, fh = ax.get_figure(root=True).get_size_inches()
    x0, y0, w, h = box or (0.0, 0.0, fw, fh)
    ax.set_position([(x0 + left) / fw, (y0 + bottom) / fh, max(0.1, w - left - right) / fw,
                     max(0.1, h - bottom - top) / fh])


def legend_inches(ax: Any, ncol: int = 1) -> tuple[float, float]:
    """Width and height (inches) of the axes' legend at 8 pt, from its labels (no renderer needed)."""
    legend = ax.get_legend()
    if legend is None:
        return (0.0, 0.0)
    texts = [t.get_text() for t in legend.get_texts()]
    width = max((len(line) for t in texts for line in t.split("\n")), default=0) * 8 * 0.58 / 72 + 0.55
    rows = -(-sum(t.count("\n") + 1 for t in texts) // ncol)
    return (width * ncol, rows * 8 * 1.5 / 72 + 0.15)


def error_output(message: str) -> dict[str, Any]:
    """An output showing an error message as the API server worded it, without a traceback."""
    body = html.escape(message)
    return {"output_type": "display_data", "metadata": {},
            "data": {"text/html": f'<pre style="color:{ERROR_COLOR};white-space:pre-wrap;margin:0">{body}</pre>',
                     "text/plain": message}}


class View:
    """Base of the widgets: controls, a one-line explanation and a fixed-height picture.

    Subclasses build ``self.controls`` (a list of widgets), implement :meth:`figure` and
    :meth:`explain`, and call :meth:`refresh` whenever a control changes.

    Why the picture is written into the Output widget's ``outputs`` rather than shown with
    ``plt.show()`` inside ``with out:``: with matplotlib 3.11 and IPython 9 the inline
    backend no longer flushes pyplot figures into an ``interact``/``Output`` area, and nbval
    cannot see through Output capture (notebook-ecosystem.md §0).  Rendering the figure
    ourselves and replacing the outputs in one assignment works in JupyterLab, Voilà,
    nbclient and plain Python alike, has the effect of ``clear_output(wait=True)`` (the old
    picture stays until the new one is ready, so nothing flickers), and never opens a
    pyplot figure.  The picture is an SVG whose text stays text: rasterising letters is most
    of a PNG's cost (the Service explorer's picture: about 40 ms as SVG, 130 ms as a PNG at
    100 dpi, on an idle 2-core machine; see ``benchmarks/bench_widgets.py``).  Every redraw
    makes a fresh figure (cheaper than clearing one), laid out with fixed margins from the
    labels it draws (:func:`place`), not by a layout engine that measures every label again.
    """

    #: Minimum height of the picture area, so the notebook hardly moves on a change; the area
    #: grows with a taller picture rather than scrolling.
    height = "480px"

    def __init__(self) -> None:
        w = ipywidgets()
        self._w = w
        self.output = w.Output(layout=w.Layout(min_height=self.height, border="1px solid #ddd"))
        self.message = w.HTML(value="")
        self.error: str | None = None
        self.renders = 0
        self.controls: list[Any] = []
        self._widget: Any = None

    # -- to implement
    def figure(self) -> KubelearnFigure:
        """The current picture as a static figure (for GitHub, nbviewer, exported HTML)."""
        raise NotImplementedError

    def explain(self) -> str:
        """One line saying what the picture shows and what the last change did."""
        return ""

    # -- shared
    @property
    def widget(self) -> Any:
        """The whole widget (controls, explanation, picture) as one ipywidgets box."""
        if self._widget is None:
            w = self._w
            self._widget = w.VBox([w.HBox(self.controls[:4], layout=w.Layout(flex_flow="row wrap")),
                                   w.HBox(self.controls[4:], layout=w.Layout(flex_flow="row wrap")),
                                   self.message, self.output])
        return self._widget

    def refresh(self) -> None:
        """Recompute and redraw; a refused combination shows the API server's message instead."""
        try:
            fig = self.figure()
            svg = fig.to_svg()
            self.error = None
            self.output.outputs = (svg_output(svg, self.explain() or "kubelearn figure"),)
            self.message.value = f"<b>{html.escape(self.explain())}</b>"
        except KubelearnError as exc:
            self.error = str(exc)
            self.output.outputs = (error_output(self.error),)
            self.message.value = (f'<b style="color:{ERROR_COLOR}">Kubernetes refuses this combination '
                                  "(the API server's answer is below).</b>")
        self.renders += 1

    def picture(self) -> bytes | None:
        """The picture currently shown (SVG bytes), or None when an error is shown."""
        outs = self.output.outputs
        if outs and "image/svg+xml" in outs[0]["data"]:
            return str(outs[0]["data"]["image/svg+xml"]).encode("utf-8")
        if outs and "image/png" in outs[0]["data"]:
            return base64.b64decode(outs[0]["data"]["image/png"])
        return None

    def still(self) -> bytes | None:
        """The current picture as PNG bytes (what readers without a widget manager see), or None
        when an error is shown."""
        if self.error or self.picture() is None:
            return None
        return self.figure().to_png()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        # One output, two representations: the live widget, which JupyterLab and Voilà render
        # (the widget view outranks every other mimetype there), and the current picture as a
        # PNG, which GitHub, nbviewer and HTML exports without widget state show instead.
        bundle = dict(self.widget._repr_mimebundle_(**kwargs) or {})
        if self.error:
            bundle["text/plain"] = self.error
        else:
            still = self.still()
            if still is not None:
                bundle["image/png"] = base64.b64encode(still).decode("ascii")
                bundle["text/plain"] = self.explain() or bundle.get("text/plain", "")
        return bundle
