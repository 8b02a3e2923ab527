"""Events over time: the propagation window, resets, grace periods, crashes and lost nodes."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data" / "traffic"))
import clusters as k  # noqa: E402

from kubelearn.errors import KubelearnError  # noqa: E402
from kubelearn.traffic import Event, cluster_ip, errors_over_time, pod_clients, simulate, workload  # noqa: E402
from kubelearn.traffic.events import build_timeline, parse_duration  # noqa: E402

# the real controllers apply the events (kubelearn.controllers: bare pods are not replaced)


def run(c, wl, seed=0):
    return simulate(c, wl, seed=seed)


def endpoint(c, pod):
    """The endpoint string the rules use for a web pod."""
    return k.ip(c, pod) + ":8080"


def test_timeline_adoption_window():
    c = k.make_cluster()
    tl = build_timeline(c, [Event(5.0, "deletePod", {"name": "web-1"})], seed=0, endpoint_slice_seconds=0.1)
    assert len(tl.snapshots) == 2
    adopt = tl.adopt[1]
    assert ((adopt >= 5.1) & (adopt < 6.1)).all()
    assert len(set(adopt.tolist())) == 3  # each node syncs at its own phase
    assert list(tl.view_index(0, np.array([0.0, 5.0, 7.0]))) == [0, 0, 1]
    assert list(tl.truth_index(np.array([4.99, 5.0]))) == [0, 1]


def test_deleted_pod_fails_only_in_the_propagation_window():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=1000, rate=100,
                  events=[Event(5.0, "deletePod", {"name": "web-1"})])
    df = run(c, wl)
    bad = df[df["outcome"] != "ok"]
    assert len(bad) > 0
    assert set(bad["outcome"].astype(str)) == {"dropped"}
    web1 = endpoint(c, "web-1")
    assert set(bad["endpoint"].astype(str)) == {web1}
    assert bad["time"].min() >= 5.0 and bad["time"].max() < 6.1
    assert (df.loc[df["time"] >= 6.1, "endpoint"].astype(str) != web1).all()
    assert (df.loc[df["time"] < 5.0, "outcome"] == "ok").all()
    [ev] = df.attrs["events"]
    assert (ev["time"], ev["action"], ev["label"]) == (5.0, "deletePod", "delete pod web-1")
    assert 5.1 <= ev["end"] < 6.1  # the last node adopted it: EndpointSlice 0.1 s + a sync within 1 s
    assert bad["time"].max() < ev["end"]  # failures only inside the propagation window
    per_second = errors_over_time(df, 1.0)
    assert per_second.loc[5.0, "dropped"] == len(bad[bad["time"] < 6.0])
    assert per_second["dropped"].sum() == len(bad)


def test_established_connections_to_a_deleted_pod_are_reset():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=40, rate=10,
                  connection_seconds=4.0, requests_per_connection=8,
                  events=[Event(3.0, "deletePod", {"name": "web-1"})])
    df = run(c, wl)
    reset = df[df["outcome"] == "reset"]
    assert len(reset) > 0
    assert (reset["time"] >= 3.0).all()
    assert set(reset["pod"].astype(str)) == {"web-1"}
    # the requests before the deletion on those same connections were fine
    early = df[df["connection"].isin(reset["connection"]) & (df["time"] < 3.0)]
    assert len(early) > 0 and (early["outcome"] == "ok").all()


def test_graceful_delete_keeps_serving_until_the_grace_period_ends():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=2000, rate=100,
                  events=[Event(2.0, "deletePod", {"name": "web-1", "grace": True})])
    df = run(c, wl)
    assert (df["outcome"] == "ok").all()
    # once every node has synced, nothing new goes to the terminating pod
    assert (df.loc[df["time"] >= 3.1, "pod"].astype(str) != "web-1").all()
    assert (df.loc[df["time"] < 2.0, "pod"].astype(str) == "web-1").any()


def test_crashed_pod_refuses_until_nodes_drop_it():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=1000, rate=100,
                  events=[Event(4.0, "crashPod", {"name": "web-1"})])
    df = run(c, wl)
    bad = df[df["outcome"] != "ok"]
    assert set(bad["outcome"].astype(str)) == {"refused"}
    assert set(bad["pod"].astype(str)) == {"web-1"}
    # the kubelet notices the exited container within its 1 s relist, then the EndpointSlice
    # update (0.1 s) and each node's next sync (minSyncPeriod 1 s)
    assert bad["time"].min() >= 4.0 and bad["time"].max() < 4.0 + 1.0 + 0.1 + 1.0
    assert bad["time"].max() > 5.0  # not before the kubelet could have noticed


def test_lost_node_drops_traffic_through_and_to_it():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=1000, rate=100,
                  events=[Event(3.0, "failNode", {"node": "kind-worker2"})])
    df = run(c, wl)
    after = df[df["time"] >= 3.0]
    via_lost = after[after["entry_node"].astype(str) == "kind-worker2"]
    assert len(via_lost) > 0 and (via_lost["outcome"] == "dropped").all()
    web2 = endpoint(c, "web-2")  # the only web pod on kind-worker2
    assert c.get("Pod", "web-2")["spec"]["nodeName"] == "kind-worker2"
    to_lost = after[(after["entry_node"].astype(str) == "kind-worker") & (after["endpoint"].astype(str) == web2)]
    assert len(to_lost) > 0 and (to_lost["outcome"] == "dropped").all()
    assert (after.loc[after["time"] >= 4.1, "endpoint"].astype(str) != web2).all()


def test_unknown_event_target_is_kubectl_not_found():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=10,
                  events=[Event(1.0, "deletePod", {"name": "ghost", "grace": True})])
    with pytest.raises(KubelearnError, match='pods "ghost" not found'):
        run(c, wl)


def test_parse_duration():
    assert parse_duration("1s", 0) == 1.0
    assert parse_duration("1m30s", 0) == 90.0
    assert parse_duration("500ms", 0) == 0.5
    assert parse_duration(None, 2.5) == 2.5
    with pytest.raises(KubelearnError, match="invalid duration"):
        parse_duration("10", 0)


def test_grace_period_end_resets_long_connections():
    c = k.make_cluster()
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=200, rate=100,
                  connection_seconds=40.0, requests_per_connection=40,
                  events=[Event(1.0, "deletePod", {"name": "web-1", "grace": True})])
    df = run(c, wl)
    reset = df[df["outcome"] == "reset"]
    assert set(reset["pod"].astype(str)) == {"web-1"}
    assert reset["time"].min() >= 31.0  # deletionTimestamp = 1 s + 30 s grace
    assert (df.loc[(df["pod"] == "web-1") & (df["time"] < 31.0), "outcome"] == "ok").all()
    assert [(e["time"], e["action"], e["label"]) for e in df.attrs["events"]] == [
        (1.0, "deletePod", "delete pod web-1 (graceful)"),
        (31.0, "removePod", "pod web-1 removed (grace period over)")]
