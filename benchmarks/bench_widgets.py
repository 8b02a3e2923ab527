"""How fast a widget answers: re-simulate 10,000 connections and redraw, per control change.

Run:  .venv/bin/python benchmarks/bench_widgets.py [--repeat 15]

Prints the median (and 90th percentile) wall time of one replicas change in the Service
explorer with 10,000 connections, the picture cache cleared before each change so every
change really re-applies, re-simulates and redraws; then its parts (pipeline: apply +
controllers + simulate + predicted shares; figure: building the matplotlib artists; SVG:
rendering it with real text, what the widget shows; PNG: the still in the widget's output
for readers without widgets, made once when the widget is displayed), and a change in each
of the other widgets, and a trafficDistribution change on the three-zones cluster (which adds the
zone picture and each node's kept endpoints).  The target is a median under 150 ms.  Wall time: note the machine's
load (``uptime``) next to the numbers; to compare two versions on a busy machine, run them
in turn (``PYTHONPATH=<other checkout> python benchmarks/bench_widgets.py``) several times.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import matplotlib

matplotlib.use("Agg")

from kubelearn.scenarios import default_scenario, scenario  # noqa: E402
from kubelearn.widgets import (  # noqa: E402
    DnsExplorer,
    PacketTracer,
    ServiceExplorer,
    ServiceSettings,
    TimelinePlayer,
    explore_service,
)


def timed(fn: Callable[[int], object], repeat: int) -> list[float]:
    out = []
    for i in range(repeat):
        start = time.perf_counter()
        fn(i)
        out.append((time.perf_counter() - start) * 1000)
    return out


def row(name: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    print(f"{name:<58} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   (n={len(ms)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--connections", type=int, default=10_000)
    args = parser.parse_args()

    base = default_scenario()
    explorer = ServiceExplorer(base, ServiceSettings(connections=args.connections))
    replicas = [4, 5, 2, 6, 3]

    def change(i: int) -> None:
        explorer._cache.clear()  # measure a real recompute, not a cached picture
        explorer.inputs["replicas"].value = replicas[i % len(replicas)] if explorer.settings.replicas != \
            replicas[i % len(replicas)] else 7

    change(0)  # warm-up: imports, font cache, tracer caches
    print(f"kubelearn widgets benchmark: {args.connections:,} connections, {args.repeat} changes each\n")
    row("Service explorer: replicas change (simulate + redraw)", timed(change, args.repeat))

    settings = [ServiceSettings(connections=args.connections, replicas=r) for r in replicas]
    row("  pipeline: apply, controllers, simulate, predicted shares",
        timed(lambda i: explore_service(settings[i % len(settings)], base), args.repeat))
    row("  figure: topology + load artists", timed(lambda i: explorer.figure(), args.repeat))
    fig = explorer.figure()
    row("  SVG rendering (what the widget shows)", timed(lambda i: fig.to_svg(), args.repeat))
    row(f"  PNG rendering at {fig.dpi:g} dpi (the still, for readers without widgets)",
        timed(lambda i: fig.to_png(), args.repeat))
    explorer.set(replicas=3)
    explorer.set(replicas=4)
    row("Service explorer: flip back to a drawn setting (cached)",
        timed(lambda i: explorer.set(replicas=3 if i % 2 == 0 else 4), args.repeat))

    zoned = ServiceExplorer(scenario("three-zones"), ServiceSettings(connections=args.connections, replicas=6,
                                                                     clients=9))
    distributions = ["PreferClose", ""]

    def zone_change(i: int) -> None:
        zoned._cache.clear()
        zoned.inputs["traffic_distribution"].value = distributions[i % 2]

    zone_change(0)
    row("Service explorer, three zones: trafficDistribution change", timed(zone_change, args.repeat))

    tracer = PacketTracer(base)
    steps = tracer.inputs["step"].max
    row("Packet tracer: one step", timed(lambda i: tracer.inputs["step"].__setattr__("value", i % steps), args.repeat))
    dns = DnsExplorer(base)
    names = ["my-service", "my-service.default", "kubernetes.default.svc", "example.com"]
    row("DNS explorer: new name", timed(lambda i: dns.inputs["name"].__setattr__("value", names[i % 4]), args.repeat))
    player = TimelinePlayer.from_scenario(cluster=base, connections=args.connections)
    top = player.inputs["time"].max
    row("Timeline player: move the slider",
        timed(lambda i: player.inputs["time"].__setattr__("value", (i * 7) % top), args.repeat))


if __name__ == "__main__":
    main()
