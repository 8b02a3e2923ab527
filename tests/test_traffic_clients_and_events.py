"""Clients that come and go, and what the request log records about them.

A client pod deleted or crashed during a run stops sending (one terminating gracefully sends
until its grace period ends); every row names the Service and port the connection reached, a
headless Service's included; the run's events are kept in the log's attrs as plain dicts with
their propagation windows, as the plots read them; the builders take every keyword their YAML
form has.
"""

from __future__ import annotations

import json

import pytest

from kubelearn.plots import events_of
from kubelearn.scenarios import default_scenario, scenario
from kubelearn.traffic import (
    Event,
    default_workload,
    dns,
    external_clients,
    load_balancer,
    pod_clients,
    read_log,
    simulate,
    workload,
    write_log,
)


# ------------------------------------------------------------------ builders
def test_load_balancer_builder_takes_every_keyword():
    from kubelearn.traffic.workload import load_balancer as lb

    assert lb("web", kind="l2", port="http", namespace="prod", ip="192.0.2.9") == {
        "loadBalancer": {"service": "web", "namespace": "prod", "port": "http", "kind": "l2", "ip": "192.0.2.9"}}
    assert load_balancer("web", "cloud", 80) == {
        "loadBalancer": {"service": "web", "namespace": "default", "port": 80, "kind": "cloud"}}
    # the document it makes is a valid target
    wl = workload(external_clients("203.0.113.0/24", 3), load_balancer("web", kind="l2"))
    assert wl.target["loadBalancer"]["kind"] == "l2"


# ------------------------------------------------------------------ a client that goes away
def _my_app_pods(c):
    return [p["metadata"]["name"] for p in c.pods("default") if p["metadata"]["name"].startswith("my-app")]


@pytest.mark.parametrize("action", ["deletePod", "crashPod"])
def test_a_deleted_or_crashed_client_stops_sending(action):
    c = default_scenario()
    victim = _my_app_pods(c)[0]
    base = default_workload(c)  # the Service's own pods are the clients, by DNS name
    assert victim in base.clients[0]["pods"]["names"]
    # a short TTL so that clients look the name up again after the event (this crashed before)
    wl = base.with_(dns_ttl=1.0, connection_seconds=2.0, requests_per_connection=4,
                    events=(Event(5.0, action, {"name": victim}),))
    df = simulate(c, wl)
    mine = df[df["client"].astype(str) == victim]
    assert len(mine) > 0 and mine["time"].max() < 5.0  # nothing sent after its death, not even on open connections
    others = df[df["client"].astype(str) != victim]
    assert others["time"].max() > 9.0  # the other clients go on
    # connection numbers are the arrival process's: the victim's missing connections leave gaps
    assert set(others["connection"]) == {i for i in range(wl.connections) if i % 3 != 0}
    assert df["connection"].nunique() < wl.connections


def test_a_client_terminating_gracefully_sends_until_its_grace_period_ends():
    c = default_scenario()
    victim = _my_app_pods(c)[0]
    wl = default_workload(c).with_(connections=4000, dns_ttl=1.0,
                                   events=(Event(5.0, "deletePod", {"name": victim, "grace": True}),))
    df = simulate(c, wl)
    mine = df[df["client"].astype(str) == victim]
    assert mine["time"].max() > 30.0 and mine["time"].max() < 35.0  # grace 30 s: removed at 35 s


# ------------------------------------------------------------------ rows name their Service
def test_headless_rows_name_the_service_and_port():
    c = scenario("headless-statefulset")
    wl = workload(pod_clients(names=["web-0", "web-1"]), dns("nginx", 80), connections=200)
    df = simulate(c, wl)
    ok = df[df["outcome"] == "ok"]
    assert len(ok) > 0
    assert set(ok["via"].astype(str)) == {"dns"}
    assert set(ok["service"].astype(str)) == {"default/nginx"}
    assert set(ok["port_name"].astype(str)) == {"web"}
    # a pod's own record (<hostname>.<service>) names the Service too
    df1 = simulate(c, workload(pod_clients(names=["web-0"]), dns("web-1.nginx", 80), connections=10))
    assert set(df1["service"].astype(str)) == {"default/nginx"}
    assert set(df1["pod"].astype(str)) == {"web-1"}


def test_clusterip_service_by_dns_keeps_the_traced_service():
    c = default_scenario()
    df = simulate(c, default_workload(c, connections=50))
    assert set(df["service"].astype(str)) == {"default/my-service"}


# ------------------------------------------------------------------ events in attrs
def test_events_in_attrs_are_plain_dicts_with_propagation_windows(tmp_path):
    c = default_scenario()
    victim = _my_app_pods(c)[1]
    wl = default_workload(c, connections=3000).with_(events=(
        Event(5.0, "scale", {"deployment": "my-app", "replicas": 5}),
        Event(12.0, "deletePod", {"name": victim}),
    ))
    df = simulate(c, wl)
    evs = df.attrs["events"]
    assert [(e["time"], e["action"], e["label"]) for e in evs] == [
        (5.0, "scale", "scale my-app to 5"), (12.0, "deletePod", f"delete pod {victim}")]
    for e in evs:
        assert set(e) == {"time", "label", "action", "end"}
        assert e["time"] < e["end"] < e["time"] + 0.1 + 1.0  # endpointSliceSeconds + one minSyncPeriod
    json.dumps(evs)  # plain data
    # the plots read them: shaded propagation windows with the labels
    got = events_of(None, df)
    assert [(g.time, g.end, g.kind, g.label) for g in got] == [
        (e["time"], e["end"], e["action"], e["label"]) for e in evs]
    # and they survive a CSV and a Parquet round trip
    for name in ("log.csv", "log.parquet"):
        back = read_log(write_log(df, tmp_path / name))
        assert back.attrs["events"] == evs


def test_rollout_events_are_numbered_steps():
    c = default_scenario()
    dep = c.get("Deployment", "my-app")
    tmpl = json.loads(json.dumps(dep["spec"]["template"]))
    tmpl["metadata"].setdefault("labels", {})["version"] = "v2"
    wl = default_workload(c, connections=4000).with_(
        events=(Event(2.0, "rollout", {"deployment": "my-app", "template": tmpl, "stepSeconds": 5}),))
    evs = [e for e in simulate(c, wl).attrs["events"] if e["action"] == "rollout"]
    assert len(evs) >= 2
    n = len(evs)
    assert [e["label"] for e in evs] == [f"rollout my-app step {j}/{n}" for j in range(1, n + 1)]
    assert [e["time"] for e in evs] == [2.0 + 5 * j for j in range(n)]
