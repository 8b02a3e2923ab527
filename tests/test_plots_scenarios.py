"""Every plot on the scenario suite, through the real pipeline (apply, controllers, kube-proxy, simulate)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

from typing import Any  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.patches import FancyBboxPatch, Rectangle  # noqa: E402

from kubelearn.plots import first_packet_cost, plot_load, plot_topology, plot_trace, plot_traffic  # noqa: E402
from kubelearn.proxy import trace  # noqa: E402
from kubelearn.scenarios import SCENARIOS, scenario  # noqa: E402
from kubelearn.traffic import simulate  # noqa: E402
from kubelearn.traffic.workload import WorkloadError  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_plot_on_every_scenario(name: str) -> None:
    cluster = scenario(name)
    ax = plot_topology(cluster)
    boxes = {p.get_gid() for p in ax.patches if isinstance(p, FancyBboxPatch)}
    assert {g for g in boxes if g.startswith("node:")} == {f"node:{n['metadata']['name']}" for n in cluster.nodes()}
    scheduled = {p["metadata"]["name"] for p in cluster.pods() if p.get("spec", {}).get("nodeName")}
    assert {g[4:] for g in boxes if g.startswith("pod:")} == scheduled
    try:
        log = simulate(cluster, seed=1, progress=False)
    except WorkloadError as exc:  # e.g. an ExternalName Service: nothing for kube-proxy to route
        assert "error:" in str(exc)
        return
    ax = plot_load(log)
    heights = {p.get_gid()[4:]: p.get_height() for p in ax.patches
               if isinstance(p, Rectangle) and (p.get_gid() or "").startswith("pod:")}
    ok = log[log["outcome"] == "ok"]
    assert heights == {p: float((ok["pod"] == p).sum()) for p in heights}
    assert sum(heights.values()) == len(ok)
    plot_traffic(log)
    ax = plot_topology(cluster, log)
    assert f"{len(log):,} connections" in ax.get_title()


def test_trace_of_the_default_service_through_the_real_tracer() -> None:
    cluster = scenario("my-service")
    svc = cluster.get("Service", "my-service")
    client = next(p for p in cluster.pods() if p["metadata"].get("namespace") == "default")
    t = trace(cluster, client["spec"]["nodeName"], client["status"]["podIP"], f"{svc['spec']['clusterIP']}:80")
    ax = plot_trace(t)
    taken = [x for x in ax.texts if (x.get_gid() or "").startswith("taken:")]
    assert len(taken) == sum(s.matched for s in t.steps)
    dests = [p for p in ax.patches if (p.get_gid() or "").startswith("dest:")]
    assert len(dests) == len(t.destinations) == 3


def test_first_packet_cost_grows_only_in_iptables_mode() -> None:
    data = first_packet_cost((1, 12, 30), samples=3)
    ipt = data[data["mode"] == "iptables"].sort_values("services")
    nft = data[data["mode"] == "nftables"].sort_values("services")
    assert list(ipt["rules_walked"]) == sorted(ipt["rules_walked"]) and ipt["rules_walked"].iloc[-1] > \
        ipt["rules_walked"].iloc[0]
    assert nft["rules_walked"].nunique() == 1  # one verdict-map lookup, whatever the number of Services
    assert list(ipt["services"]) == [3, 14, 32]  # kubernetes and kube-dns count too


def test_plot_load_takes_predicted_shares_as_returned() -> None:
    """The DataFrame from kubelearn.predicted_shares draws the same reference as its dict form."""
    import kubelearn as kl

    cluster = kl.default_scenario()
    log = kl.simulate(cluster, seed=0)
    pred = kl.predicted_shares(cluster)
    from_frame = kl.plots.plot_load(log, predicted=pred)
    from_dict = kl.plots.plot_load(log, predicted=pred["predicted"].to_dict())
    legend = [t.get_text() for t in from_frame.get_legend().get_texts()]
    assert "equal share (assumed)" not in legend
    lines = lambda ax: [tuple(map(tuple, ln.get_xydata())) for ln in ax.get_lines()]  # noqa: E731
    assert lines(from_frame) == lines(from_dict) and lines(from_frame)


def test_plot_load_renormalises_a_prediction_with_failures() -> None:
    """A prediction with a "" row (connections nobody answers) is drawn as shares of answered ones."""
    import pandas as pd

    import kubelearn as kl

    cluster = kl.default_scenario()
    log = kl.simulate(cluster, seed=0)
    pods = sorted(set(log["pod"].astype(str)) - {""})
    frame = pd.DataFrame({"node": ["n"] * (len(pods) + 1), "predicted": [0.25] * len(pods) + [0.25]},
                         index=pd.Index([*pods, ""], name="pod"))
    ax = kl.plots.plot_load(log, predicted=frame)
    n = int((log.drop_duplicates("connection")["outcome"] == "ok").sum())
    ys = sorted({round(float(y), 6) for ln in ax.get_lines() for y in ln.get_ydata()})
    assert round(n / len(pods), 6) in ys  # each pod's reference is 1/3 of the answered connections


def test_plot_load_draws_no_reference_when_the_model_cannot_predict() -> None:
    """A run with events gets NaN predictions: no predicted line or band is drawn, and the legend says so."""
    import kubelearn as kl

    cluster = kl.default_scenario()
    pods = sorted(p["metadata"]["name"] for p in cluster.pods("default"))
    wl = kl.workload(kl.pod_clients(names=pods), kl.cluster_ip("my-service"), connections=300,
                     events=[kl.Event(1.0, "scale", {"deployment": "my-app", "replicas": 5})])
    pred = kl.predicted_shares(cluster, wl)
    assert pred["predicted"].isna().all()
    ax = kl.plots.plot_load(kl.simulate(cluster, wl, seed=0), predicted=pred)
    assert not [ln for ln in ax.get_lines() if (ln.get_gid() or "").startswith("predicted:")]
    assert not [p for p in ax.patches if (p.get_gid() or "").startswith("band:")]
    assert "no prediction for this run" in [t.get_text() for t in ax.get_legend().get_texts()]
