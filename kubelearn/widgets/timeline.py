"""The timeline player: replay a run's events and watch the traffic move.

Changes in a cluster are not instant.  When a Deployment is scaled or a pod crashes, the
EndpointSlice controller updates the slice, then every node's kube-proxy rewrites its rules
on its own schedule: for a moment some nodes still send connections to a pod that is gone
(refused or dropped) while others already use the new one.  The player steps through a
request log in time, with the events marked, and shows the load per pod up to the moment
on the slider.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ..cluster import Cluster
from ..plots import plot_load, plot_traffic
from ..plots._common import KubelearnFigure, PlotDataError, objects, require_columns, style
from ._base import View
from .service import CLIENT_APP, _client_deployment

__all__ = ["TimelinePlayer"]


def _teaching_events(cluster: Cluster, wl: Any) -> list[dict[str, Any]]:
    """Scale up, a crash, scale down: the Deployment behind the workload's Service."""
    from ..labels import selector_matches

    target = dict(next(iter(wl.target.values()))) if not isinstance(next(iter(wl.target.values())), str) else {}
    svc_name = target.get("service") or wl.target.get("dns")
    ns = target.get("namespace", "default")
    svc = cluster.get("Service", str(svc_name).split(".")[0], ns)
    selector = svc["spec"].get("selector") or {}
    deps = [d for d in objects(cluster.list("Deployment", ns))
            if selector_matches(selector, d["spec"]["template"]["metadata"].get("labels") or {})]
    if not deps:
        return []
    dep = deps[0]["metadata"]["name"]
    replicas = int(deps[0]["spec"].get("replicas", 1))
    pods = sorted(p["metadata"]["name"] for p in objects(cluster.pods(ns))
                  if selector_matches(selector, p["metadata"].get("labels") or {}))
    events: list[dict[str, Any]] = [{"at": 15, "scale": {"deployment": dep, "replicas": replicas + 2}}]
    if pods:
        events.append({"at": 30, "crashPod": {"name": pods[0]}})
    events.append({"at": 45, "scale": {"deployment": dep, "replicas": max(1, replicas - 1)}})
    return events


class TimelinePlayer(View):
    """Play a request log over time: traffic per pod with events, and the load so far.

    Args:
        log: a request log (from :func:`kubelearn.traffic.simulate`).
        events: events to mark (default: the log's ``attrs["events"]``).
        step: seconds per slider step (default about 1/50 of the run).

    Attributes:
        inputs: ``time`` (the slider) and ``play`` (the play button, linked to it).
    """

    height = "700px"

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
        from ..traffic.workload import Event, pods, workload

        base = cluster if cluster is not None else scenario(name, seed=seed)
        wl = default_workload(base, connections=connections)
        if events is None and not wl.events:
            events = _teaching_events(base, wl)
        if events is not None:
            evs = [e if isinstance(e, Event) else Event(float(e["at"]), *next((k, v) for k, v in e.items() if k != "at"))
                   for e in events]
            # Separate client pods, so the events (a crash, a scale-down) only touch the servers.
            ns = next(iter(wl.clients[0].values())).get("namespace", "default") \
                if isinstance(next(iter(wl.clients[0].values())), dict) else "default"
            base = base.apply(_client_deployment(3, ns))
            wl = workload(pods(selector={"app": CLIENT_APP}, namespace=ns), wl.target, connections=connections,
                          arrival="poisson", rate=connections / 60.0, events=evs, name="timeline")
        return cls(simulate(base, wl, seed=seed, progress=False))

    @property
    def now(self) -> float:
        """The time on the slider, in seconds."""
        return float(self.inputs["time"].value * self.step_seconds)

    def figure(self) -> KubelearnFigure:
        """Traffic over the whole run with a "now" line, and the load per pod up to now."""
        with style():
            fig = KubelearnFigure(figsize=(11, 7.5))  # fixed margins: see ServiceExplorer.figure
            top, bottom = fig.subplots(2, 1, height_ratios=[1, 1])
            fig.subplots_adjust(left=0.07, right=0.75, top=0.95, bottom=0.16, hspace=0.35)
        plot_traffic(self.log, events=self.events, now=self.now, ax=top)
        so_far = self.log[self.log["time"] <= self.now]
        so_far.attrs = {k: v for k, v in self.log.attrs.items() if k != "predicted_shares"}
        plot_load(so_far, ax=bottom)
        bottom.set_title(f"Which pod answered, up to {self.now:g} s ({len(so_far):,} requests)")
        return fig

    def explain(self) -> str:
        so_far = self.log[self.log["time"] <= self.now]
        failed = int((so_far["outcome"] != "ok").sum())
        return f"At {self.now:g} s: {len(so_far):,} requests so far, {failed:,} failed."
