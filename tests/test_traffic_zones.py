"""Cross-zone traffic made visible: the log's zone columns, the zone tables, the zone plot, which
endpoints each node's kube-proxy keeps, and the Service explorer on the three-zones scenario."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import kubelearn as kl  # noqa: E402
from kubelearn.plots import PlotDataError, plot_zone_traffic  # noqa: E402
from kubelearn.proxy import kept_endpoints  # noqa: E402
from kubelearn.scenarios import ServiceSettings, explore_service, service_manifest  # noqa: E402
from kubelearn.traffic.log import LOG_SCHEMA, LogFormatError, read_log, write_log  # noqa: E402
from kubelearn.traffic.zones import NO_ZONE, cross_zone_share, zone_traffic  # noqa: E402


@pytest.fixture(scope="module")
def zones():  # type: ignore[no-untyped-def]
    return kl.scenario("three-zones")


def _zone(cluster: kl.Cluster, node: str) -> str:
    return str((cluster.get("Node", node)["metadata"].get("labels") or {}).get("topology.kubernetes.io/zone", ""))


def _spread(zones: kl.Cluster, **settings: object) -> pd.DataFrame:
    result = explore_service(ServiceSettings(clients=9, connections=900, **settings), zones)  # type: ignore[arg-type]
    assert result.error is None and result.log is not None, result.error
    return result.log


def test_zone_columns_come_from_the_node_label(zones) -> None:  # type: ignore[no-untyped-def]
    log = _spread(zones)
    assert {"client_zone", "endpoint_zone"} <= set(log.columns)
    ok = log[log["outcome"] == "ok"]
    for pod_node, endpoint_zone in set(zip(ok["pod_node"].astype(str), ok["endpoint_zone"].astype(str), strict=True)):
        assert endpoint_zone == _zone(zones, pod_node)
    for entry, client_zone in set(zip(ok["entry_node"].astype(str), ok["client_zone"].astype(str), strict=True)):
        assert client_zone == _zone(zones, entry)  # a client pod's traffic enters at its own node
    assert set(ok["client_zone"].astype(str)) == {"zone-a", "zone-b", "zone-c"}


def test_no_zone_labels_leave_the_columns_empty() -> None:
    log = kl.simulate(kl.default_scenario(), seed=0)
    assert set(log["client_zone"].astype(str)) == {""} and set(log["endpoint_zone"].astype(str)) == {""}
    assert math.isnan(cross_zone_share(log))
    assert set(zone_traffic(log)["client_zone"]) == {NO_ZONE}


def test_without_trafficdistribution_two_thirds_cross_and_preferclose_keeps_zones(zones) -> None:  # type: ignore[no-untyped-def]
    spread = cross_zone_share(_spread(zones, replicas=6))
    assert 0.55 < spread < 0.78  # two endpoints of six in the client's own zone
    assert cross_zone_share(_spread(zones, replicas=6, traffic_distribution="PreferClose")) == 0.0
    assert cross_zone_share(_spread(zones, replicas=6, topology_mode="Auto")) == 0.0


def test_a_zone_without_endpoints_falls_back_to_all(zones) -> None:  # type: ignore[no-untyped-def]
    # two replicas for three zones: one zone has no endpoint, so its nodes ignore the hints
    log = _spread(zones, replicas=2, traffic_distribution="PreferClose")
    table = zone_traffic(log)
    empty = sorted({"zone-a", "zone-b", "zone-c"} - set(table["endpoint_zone"]))
    assert len(empty) == 1
    crossing = table[table["cross_zone"]]
    assert set(crossing["client_zone"]) == set(empty)
    assert cross_zone_share(log) == pytest.approx(float(crossing["requests"].sum()) / table["requests"].sum())


def test_topology_auto_safeguard_removes_hints_with_too_few_endpoints(zones) -> None:  # type: ignore[no-untyped-def]
    result = explore_service(ServiceSettings(replicas=2, topology_mode="Auto", clients=9, connections=300), zones)
    assert result.cluster is not None
    table = kept_endpoints(result.cluster, "web")
    assert (table["hints"] == "").all() and table["kept"].all() and (table["topology"] == "").all()


def test_kept_endpoints_per_node_follow_the_hints(zones) -> None:  # type: ignore[no-untyped-def]
    table = kept_endpoints(zones, "web")
    assert sorted(set(table["node"])) == ["kind-worker", "kind-worker2", "kind-worker3"]
    kept = table[table["kept"]]
    assert (kept["endpoint_zone"] == kept["node_zone"]).all()
    assert kept.groupby("node").size().to_dict() == {"kind-worker": 2, "kind-worker2": 2, "kind-worker3": 2}
    assert (table["topology"] == "PreferSameZone").all()
    with pytest.raises(kl.NotFoundError, match="nope"):
        kept_endpoints(zones, "nope")


def test_zone_traffic_counts_requests_or_connections(zones) -> None:  # type: ignore[no-untyped-def]
    log = _spread(zones)
    req = zone_traffic(log)
    conn = zone_traffic(log, count="connections")
    assert int(req["requests"].sum()) == int((log["outcome"] == "ok").sum())
    assert int(conn["connections"].sum()) == int(log[log["outcome"] == "ok"]["connection"].nunique())
    assert req["share"].sum() == pytest.approx(1.0)
    assert (req["cross_zone"] == (req["client_zone"] != req["endpoint_zone"])).all()
    with pytest.raises(kl.KubelearnError, match='count must be "requests" or "connections"'):
        zone_traffic(log, count="bytes")


def test_plot_zone_traffic_draws_every_cell_and_says_the_share(zones) -> None:  # type: ignore[no-untyped-def]
    log = _spread(zones, replicas=6)
    ax = plot_zone_traffic(log)
    gids = {p.get_gid() for p in ax.patches if p.get_gid()}
    assert {f"zone-{a}-{b}" for a in ("zone-a", "zone-b", "zone-c") for b in ("zone-a", "zone-b", "zone-c")} == gids
    share = cross_zone_share(log)
    assert f"{share:.0%} crossed zones" in ax.get_title(loc="left")
    fig = ax.get_figure(root=True)
    assert fig is not None and fig.get_figwidth() <= 8.8
    with pytest.raises(PlotDataError, match="client_zone"):
        plot_zone_traffic(log.drop(columns=["client_zone"]))


def test_log_schema_is_recorded_and_old_logs_read_without_zones(zones, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log = _spread(zones)
    path = write_log(log, tmp_path / "zones.csv")
    side = json.loads((tmp_path / "zones.csv.attrs.json").read_text())
    assert side["kubelearn.file"]["log_schema"] == LOG_SCHEMA == 2
    back = read_log(path)
    assert back["endpoint_zone"].astype(str).tolist() == log["endpoint_zone"].astype(str).tolist()
    # a log saved before schema 2: no zone columns, no schema in the sidecar
    old = tmp_path / "old.csv"
    log.drop(columns=["client_zone", "endpoint_zone"]).to_csv(old, index=False)
    read = read_log(old)
    assert list(read.columns) == list(kl.LOG_COLUMNS) and set(read["client_zone"].astype(str)) == {""}
    # a newer schema is refused rather than misread
    side["kubelearn.file"]["log_schema"] = 3
    (tmp_path / "zones.csv.attrs.json").write_text(json.dumps(side))
    with pytest.raises(LogFormatError, match="log schema 3"):
        read_log(path)


def test_service_manifest_sets_traffic_distribution_and_topology_mode(zones) -> None:  # type: ignore[no-untyped-def]
    auto = zones.get("Service", "web-auto")
    m = service_manifest(ServiceSettings(traffic_distribution="PreferClose"), auto)
    assert m["spec"]["trafficDistribution"] == "PreferClose"
    assert "service.kubernetes.io/topology-mode" not in m["metadata"].get("annotations", {})
    m = service_manifest(ServiceSettings(topology_mode="Auto"), zones.get("Service", "web"))
    assert m["metadata"]["annotations"] == {"service.kubernetes.io/topology-mode": "Auto"}
    assert "trafficDistribution" not in m["spec"]


def test_explorer_shows_zones_and_what_each_node_kept(zones) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ipywidgets")
    from kubelearn.widgets import ServiceExplorer

    ex = ServiceExplorer(zones, ServiceSettings(replicas=6, clients=9, connections=600))
    assert "crossed zones" in ex.explain()
    assert "traffic_distribution" in ex.inputs and "topology_mode" in ex.inputs
    ex.inputs["traffic_distribution"].value = "PreferClose"
    assert ex.settings.traffic_distribution == "PreferClose" and ex.error is None
    assert "0% of the answered requests crossed zones" in ex.explain()
    fig = ex.figure()
    texts = [t.get_text() for t in fig.texts if t.get_gid() == "kept-endpoints"]
    assert texts and "kind-worker (zone-a): 2 of 6, in zone-a: its zone's hints" in texts[0]
    assert fig.get_figwidth() <= 8.8
    # the default cluster has no zones: no zone picture
    plain = ServiceExplorer(kl.default_scenario(), ServiceSettings(connections=300))
    assert not plain.zoned() and "crossed zones" not in plain.explain()


def test_topology_picture_names_each_nodes_zone(zones) -> None:  # type: ignore[no-untyped-def]
    ax = kl.plots.plot_topology(zones)
    labels = {t.get_gid(): t.get_text() for t in ax.texts if (t.get_gid() or "").startswith("nodelabel:")}
    assert labels["nodelabel:kind-worker2"].endswith(", zone-b")
    assert "zone" not in labels["nodelabel:kind-control-plane"]


def test_packet_tracer_says_which_endpoints_the_nodes_kube_proxy_kept(zones) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("ipywidgets")
    from kubelearn.widgets import PacketTracer

    tracer = PacketTracer(zones)
    web = next(v for k, v in tracer.inputs["destination"].options if "default/web " in k)
    tracer.inputs["destination"].value = web
    node = tracer.inputs["node"].value
    zone = {"kind-worker": "zone-a", "kind-worker2": "zone-b", "kind-worker3": "zone-c"}[node]
    assert f"entering {node} ({zone})" in tracer.explain()
    assert f"keeps 2 of 6 endpoints of default/web: those hinted for {zone}" in tracer.explain()
    assert tracer.trace is not None and len(tracer.trace.destinations) == 2
    kubernetes = next(v for k, v in tracer.inputs["destination"].options if "default/kubernetes " in k)
    tracer.inputs["destination"].value = kubernetes
    assert "no topology hints, so all of them" in tracer.explain()
