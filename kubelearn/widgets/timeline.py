"""The timeline player: replay a run's events and watch the traffic move.

Changes in a cluster are not instant.  When a Deployment is scaled or a pod crashes, the
EndpointSlice controller updates the slice, then every node's kube-proxy rewrites its rules
on its own schedule: for a moment some nodes still send connections to a pod that is gone
(refused or dropped) while others already use the new one.  The player steps through a
request log in time, with the events marked, and shows the load per pod up to the moment
on the slider, against what each pod should have had given the pods that were answering at
each moment (a pod added at 15 s is not expected to have had a share of the first 15 s).
Everything is counted in connections: kube-proxy picks a pod per connection, and every
request of a keep-alive connection goes where its connection went.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..cluster import Cluster
from ..plots import plot_load, plot_traffic, present_shares
from ..plots._common import KubelearnFigure, PlotDataError, new_figure, require_columns
from ..scenarios import CLIENT_APP, client_deployment, teaching_events
from ._base import View, legend_inches, place

__all__ = ["TimelinePlayer"]


class TimelinePlayer(View):
    """Play a request log over time: traffic per pod with events, and the load so far.

    Args:
        log: a request log (from :func:`kubelearn.traffic.simulate`).
        events: events to mark (default: the log's ``attrs["events"]``).
        step: seconds per slider step (default about 1/50 of the run).

    Attributes:
        inputs: ``time`` (the slider) and ``play`` (the play button, linked to it).
    """

    height = "560px"

    def __init__(self, log: pd.DataFrame, events: Iterable[Any] | None = None, step: float | None = None,
                 interval_ms: int = 400) -> None:
        super().__init__()
        require_columns(log, ["time", "pod", "pod_node", "outcome"], "TimelinePlayer")
        if log.empty:
            raise PlotDataError("TimelinePlayer needs a log with at least one request")
        self.log = log
        self.events = list(events) if events is not None else None
        end = float(log["time"].max())
        self.step_seconds = float(step) if step else max(0.1, round(end / 50, 1))
        steps = max(1, math.ceil(end / self.step_seconds))
        w = self._w
        self.inputs: dict[str, Any] = {
            "time": w.IntSlider(value=steps, min=0, max=steps, description="time step", continuous_update=False,
                                layout=w.Layout(width="60%")),
            "play": w.Play(value=steps, min=0, max=steps, interval=interval_ms, description="play"),
        }
        # The play button moves the slider in the browser; the slider's change redraws.
        w.jslink((self.inputs["play"], "value"), (self.inputs["time"], "value"))
        self.inputs["time"].observe(lambda _: self.refresh(), names="value")
        self.controls = [self.inputs["play"], self.inputs["time"]]
        self.refresh()

    @classmethod
    def from_scenario(cls, name: str = "my-service", seed: int = 0, events: Iterable[Any] | None = None,
                      connections: int = 6000, cluster: Cluster | None = None) -> TimelinePlayer:
        """Simulate a scenario with events and play it.

        The scenario's stored Workload is used when it has one, else its default workload
        (client pods dialling the first Service by name).  Without ``events`` (and none
        stored), a teaching set is used: the Service's Deployment scaled up at 15 s, one of
        its pods crashing at 30 s, and the Deployment scaled down at 45 s.

        Args:
            name: a scenario from :data:`kubelearn.scenarios.SCENARIOS`.
            seed: seed of the scenario and of the simulation.
            events: Workload events (``{"at": 15, "scale": {...}}`` or ``Event`` values).
            connections: connections in the run (spread over 60 s).
            cluster: use this cluster instead of building the scenario.
        """
        from ..scenarios import scenario
        from ..traffic import default_workload, simulate
        from ..traffic.workload import Event, pod_clients, workload

        base = cluster if cluster is not None else scenario(name, seed=seed)
        wl = default_workload(base, connections=connections)
        if events is None and not wl.events:
            events = teaching_events(base, wl)
        if events is not None:
            evs = [e if isinstance(e, Event) else Event(float(e["at"]), *next((k, v) for k, v in e.items() if k != "at"))
                   for e in events]
            # Separate client pods, so the events (a crash, a scale-down) only touch the servers.
            ns = next(iter(wl.clients[0].values())).get("namespace", "default") \
                if isinstance(next(iter(wl.clients[0].values())), dict) else "default"
            base = base.apply(client_deployment(3, ns))
            wl = workload(pod_clients(selector={"app": CLIENT_APP}, namespace=ns), wl.target, connections=connections,
                          arrival="poisson", rate=connections / 60.0, events=evs, name="timeline")
        return cls(simulate(base, wl, seed=seed, progress=False))

    @property
    def now(self) -> float:
        """The time on the slider, in seconds."""
        return float(self.inputs["time"].value * self.step_seconds)

    def _so_far(self) -> pd.DataFrame:
        so_far = self.log[self.log["time"] <= self.now]
        so_far.attrs = {k: v for k, v in self.log.attrs.items() if k != "predicted_shares"}
        return so_far

    def figure(self) -> KubelearnFigure:
        """Traffic over the whole run with a "now" line, and the connections per pod up to now
        against each pod's expected share given the pods answering at each moment."""
        so_far = self._so_far()
        width, top_h, load_h = 8.8, 4.1, 3.9
        fig = new_figure((width, top_h + load_h))
        top = fig.add_axes((0, 0, 1, 1))
        bottom = fig.add_axes((0, 0, 1, 1))
        place(bottom, 0.75, 2.7, 1.0, 0.35, box=(0, 0, width, load_h))  # provisional: plot_load sizes its labels
        place(top, 0.75, 2.7, 1.0, 0.45, box=(0, load_h, width, top_h))
        plot_traffic(self.log, events=self.events, now=self.now, ax=top)
        expected = present_shares(so_far, bin_seconds=self.step_seconds) if len(so_far) else None
        plot_load(so_far, predicted=expected or None, ax=bottom)
        n = int(so_far["connection"].nunique()) if "connection" in so_far.columns else len(so_far)
        bottom.set_title(f"Which pod answered, up to {self.now:g} s ({n:,} connections)")
        # Fixed margins from the labels drawn (see place): legends on the right, the event
        # captions under the traffic plot, pod names under the load plot.
        captions = next((t.get_text() for t in top.texts if t.get_gid() == "eventcaptions"), "")
        lines = captions.count("\n") + 1 if captions else 0
        place(top, 0.75, legend_inches(top)[0] + 0.1, 0.5 + 0.17 * lines + (0.15 if lines else 0), 0.45,
              box=(0, load_h, width, top_h))
        ticks = bottom.get_xticklabels()
        upright = not ticks or ticks[0].get_rotation() == 0
        longest = max((len(line) for t in ticks for line in t.get_text().split("\n")), default=4)
        place(bottom, 0.75, legend_inches(bottom)[0] + 0.1, 0.6 if upright else longest * 8 * 0.62 / 72 + 0.25, 0.35,
              box=(0, 0, width, load_h))
        return fig

    def explain(self) -> str:
        so_far = self._so_far()
        first = so_far.drop_duplicates("connection") if "connection" in so_far.columns else so_far
        failed = int((first["outcome"] != "ok").sum())
        return (f"At {self.now:g} s: {len(first):,} connections so far ({len(so_far):,} requests on them), "
                f"{failed:,} connections not answered.")
