"""Every plot is shaped like seaborn's: data in, an optional ``ax``, the ``Axes`` out.

Without ``ax`` a plot makes one figure of its own and returns its axes; given axes, it draws
there, returns those very axes and opens no figure.  The packet tracer widget and a learner's
own ``plt.subplots`` grid rely on both.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.axes import Axes

matplotlib.use("Agg")

import kubelearn as kl  # noqa: E402
from kubelearn import plots  # noqa: E402

PLOT_FUNCTIONS = sorted(name for name in plots.__all__ if name.startswith("plot_"))


def _inputs() -> dict[str, Callable[[], tuple[Any, ...]]]:
    def cluster() -> kl.Cluster:
        return kl.default_scenario()

    def log() -> Any:
        return kl.simulate(cluster(), seed=0)

    def traced() -> kl.proxy.Trace:
        c = cluster()
        pod = next(p for p in c.pods() if p["metadata"]["name"].startswith("my-app"))
        svc = c.get("Service", "my-service")["spec"]
        return kl.trace(c, "kind-worker", pod["status"]["podIP"], f"{svc['clusterIP']}:{svc['ports'][0]['port']}")

    return {
        "plot_affinity": lambda: (kl.simulate(kl.scenario("session-affinity"), seed=0),),
        "plot_first_packet_cost": lambda: (plots.first_packet_cost((1, 10), samples=2),),
        "plot_load": lambda: (log(),),
        "plot_topology": lambda: (cluster(), log()),
        "plot_trace": lambda: (traced(),),
        "plot_traffic": lambda: (log(),),
        "plot_zone_traffic": lambda: (kl.simulate(kl.scenario("three-zones"), seed=0),),
    }


def test_every_plot_function_has_inputs_here() -> None:
    assert PLOT_FUNCTIONS == sorted(_inputs())


@pytest.mark.parametrize("name", PLOT_FUNCTIONS)
def test_ax_is_an_optional_keyword_and_axes_come_back(name: str) -> None:
    sig = inspect.signature(getattr(plots, name))
    ax = sig.parameters["ax"]
    assert ax.kind is inspect.Parameter.KEYWORD_ONLY and ax.default is None
    assert ax.annotation == "Axes | None" and sig.return_annotation == "Axes"


@pytest.mark.parametrize("name", PLOT_FUNCTIONS)
def test_given_axes_are_drawn_on_and_returned_without_a_new_figure(name: str) -> None:
    args = _inputs()[name]()
    fn = getattr(plots, name)
    plt.close("all")
    try:
        _, own = plt.subplots()
        assert fn(*args, ax=own) is own
        assert len(plt.get_fignums()) == 1
        assert own.has_data() or own.texts or own.patches  # something was drawn there
        made = fn(*args)
        assert isinstance(made, Axes) and made is not own
        assert len(plt.get_fignums()) == 2
    finally:
        plt.close("all")
