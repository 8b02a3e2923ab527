"""Pods going away, as the traffic shows it (lesson 06's manifests, through the real cluster model).

kube-proxy notices a change only at its next sync (``minSyncPeriod``, read from the section of
the mode it runs in), so connections keep landing on a removed pod for that long; a scale-down
leaves its victims terminating until their grace period ends (through ``apply`` too), which
costs nothing while they keep serving; a lost node's open connections time out rather than
being reset; a crashed container is unready within the kubelet's relist, not the probe's time.
The per-pod table lists endpoints that got nothing.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import kubelearn as kl
from kubelearn import edits
from kubelearn.controllers.manager import reconcile
from kubelearn.traffic import errors_over_time, jain_index, pod_shares, read_log, write_log
from kubelearn.traffic.analysis import first_requests
from kubelearn.traffic.events import min_sync_period
from kubelearn.traffic.simulate import RETRANSMIT_TIMEOUT_MS, SYN_TIMEOUT_MS

MANIFESTS = Path(__file__).parent.parent / "notebooks" / "manifests"


@pytest.fixture(scope="module")
def web() -> kl.Cluster:
    return kl.load(str(MANIFESTS / "06-web.yaml"))


def _web_pods(cluster: kl.Cluster) -> list[str]:
    return sorted(p["metadata"]["name"] for p in cluster.pods() if p["metadata"]["labels"].get("app") == "web")


def _run(cluster: kl.Cluster, events: list[kl.Event], clients=None, seconds: int = 30):
    wl = kl.workload(clients or kl.pod_clients(selector={"app": "client"}), kl.traffic.dns("web", 80),
                     connections=100 * seconds, rate=100, connection_seconds=2.0, requests_per_connection=4,
                     events=events)
    return kl.simulate(cluster, wl, seed=0)


# ---------------------------------------------------------------- minSyncPeriod per mode
def test_min_sync_period_is_read_from_the_modes_section(web: kl.Cluster) -> None:
    slow = kl.load(str(MANIFESTS / "06-web.yaml"), str(MANIFESTS / "06-slow-sync.yaml"))
    assert min_sync_period(web) == 1.0  # kind's iptables.minSyncPeriod
    assert min_sync_period(slow) == 5.0
    assert min_sync_period(slow, "nftables") == 1.0 and min_sync_period(slow, "ipvs") == 0.0


def test_a_slow_min_sync_period_widens_the_dropped_window(web: kl.Cluster) -> None:
    slow = kl.load(str(MANIFESTS / "06-web.yaml"), str(MANIFESTS / "06-slow-sync.yaml"))
    victim = _web_pods(web)[0]
    windows = []
    for cluster in (web, slow):
        log = _run(cluster, [kl.Event(10, "deletePod", {"name": victim})])
        [ev] = log.attrs["events"]
        conns = first_requests(log)
        dropped = conns[conns["outcome"] == "dropped"]
        assert len(dropped) and dropped["time"].min() >= 10.0 and dropped["time"].max() < ev["end"]
        windows.append((ev["end"] - ev["time"], dropped["time"].max() - 10.0))
    (fast_window, fast_last), (slow_window, slow_last) = windows
    assert fast_window < 1.1  # EndpointSlice 0.1 s + a sync within 1 s
    assert 1.5 < slow_window < 5.1 and slow_last > 1.5  # a sync within 5 s: new connections fail for longer


# ---------------------------------------------------------------- errors_over_time
def test_errors_over_time_index_is_named_time(web: kl.Cluster) -> None:
    log = _run(web, [kl.Event(5, "deletePod", {"name": _web_pods(web)[0]})], seconds=8)
    table = errors_over_time(log)
    assert table.index.name == "time" and table.columns.name == "outcome"
    assert table.loc[5.0, "dropped"] > 0 and int(table.to_numpy().sum()) == len(log)


# ---------------------------------------------------------------- graceful scale-down
def test_scale_down_leaves_the_victims_terminating_until_their_deadline(web: kl.Cluster) -> None:
    down = web.at(100.0).scale("web", 2)
    term = [p for p in down.pods() if p["metadata"].get("deletionTimestamp")]
    assert len(term) == 1 and term[0]["metadata"]["name"] in _web_pods(web)
    assert term[0]["metadata"]["deletionTimestamp"] == down.timestamp(130.0)  # grace 30 s in 06-web.yaml
    [line] = [ln for ln in kl.get(down, "pods").splitlines() if ln.startswith(term[0]["metadata"]["name"])]
    assert "Terminating" in line.split()
    ep = {e["targetRef"]["name"]: e["conditions"] for sl in down.endpoint_slices("default", "web")
          for e in sl["endpoints"]}
    assert ep[term[0]["metadata"]["name"]] == {"ready": False, "serving": True, "terminating": True}
    assert reconcile(down).objects == down.objects  # idempotent: nothing more is deleted
    assert edits.advance(down, 129.0).has("Pod", term[0]["metadata"]["name"])
    after = edits.advance(down, 130.0)
    assert not after.has("Pod", term[0]["metadata"]["name"]) and len(_web_pods(after)) == 2


def test_scale_down_through_apply_is_graceful_too(web: kl.Cluster) -> None:
    dep = web.get("Deployment", "web")
    smaller = web.apply({**dep, "metadata": {k: v for k, v in dep["metadata"].items()
                                             if k in ("name", "namespace", "labels")},
                         "spec": {**dep["spec"], "replicas": 1}})
    assert len(_web_pods(smaller)) == 3
    assert sum(bool(p["metadata"].get("deletionTimestamp")) for p in smaller.pods()) == 2


def test_scale_down_costs_nothing_when_pods_serve_through_their_grace_period(web: kl.Cluster) -> None:
    log = _run(web, [kl.Event(5, "scale", {"deployment": "web", "replicas": 5}),
                     kl.Event(20, "scale", {"deployment": "web", "replicas": 2})], seconds=60)
    assert (log["outcome"] == "ok").all()
    removed = [e for e in log.attrs["events"] if e["action"] == "removePod"]
    assert len(removed) == 3 and {e["time"] for e in removed} == {50.0}  # 20 s + 30 s of grace
    # the pods scaled away still answer their open connections, but get no new ones once synced
    scaled = {e["label"].split()[1] for e in removed}
    late = first_requests(log)
    assert not late[(late["time"] > 21.2) & late["pod"].astype(str).isin(scaled)].size


# ---------------------------------------------------------------- a lost node sends no RST
def test_lost_node_open_connections_time_out_instead_of_reset(web: kl.Cluster) -> None:
    survivors = sorted(p["metadata"]["name"] for p in web.pods()
                       if p["metadata"]["labels"].get("app") == "client" and p["spec"]["nodeName"] == "kind-worker")
    log = _run(web, [kl.Event(10, "failNode", {"node": "kind-worker2"})], clients=kl.pod_clients(names=survivors))
    assert not (log["outcome"] == "reset").any()
    dead = {p["status"]["podIP"] for p in web.pods() if p["spec"]["nodeName"] == "kind-worker2"}
    lost = log[log["endpoint"].astype(str).str.rsplit(":", n=1).str[0].isin(dead) & (log["time"] >= 10.0)]
    assert len(lost) and (lost["outcome"] == "dropped").all()
    opened_before = lost["connection"].isin(log.loc[log["time"] < 10.0, "connection"])
    assert opened_before.any() and (~opened_before).any()
    # a request on an open connection waits for TCP's retransmissions; a new connection for its SYN retries
    assert np.allclose(lost.loc[opened_before, "latency_ms"], RETRANSMIT_TIMEOUT_MS)
    assert np.allclose(lost.loc[~opened_before, "latency_ms"], SYN_TIMEOUT_MS)
    assert (log.loc[log["time"] < 10.0, "outcome"] == "ok").all()


# ---------------------------------------------------------------- pod_shares lists idle endpoints
def test_pod_shares_lists_endpoints_that_got_nothing(tmp_path: Path) -> None:
    cluster = kl.scenario("my-service")
    wl = kl.traffic.default_workload(cluster, connections=4, requests_per_connection=250)
    log = kl.simulate(cluster, wl, seed=1)
    pods = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in cluster.pods()
            if p["metadata"]["labels"].get("app") == "MyApp"}
    assert log.attrs["endpoints"] == {"default/my-service": dict(sorted(pods.items()))}
    shares = pod_shares(log)
    assert sorted(shares.index) == sorted(pods) and (shares["connections"] == 0).sum() == 1
    assert shares["node"].to_dict() == pods and "predicted" not in shares
    assert jain_index(shares) == pytest.approx(2 / 3)
    # a CSV keeps the record in its side-car; a log without it lists only the pods it names
    write_log(log, tmp_path / "log.csv")
    assert len(pod_shares(read_log(tmp_path / "log.csv"))) == 3
    bare = log.copy()
    bare.attrs = {}
    assert len(pod_shares(bare)) == 2 and jain_index(pod_shares(bare)) == pytest.approx(1.0)


def test_a_crashed_container_is_unready_within_the_kubelets_relist_not_the_probe_time() -> None:
    """A container that exits is not ready at once (~1 s relist); probe thresholds are for hung processes."""
    import yaml

    from kubelearn.scenarios import scenario_text

    docs = list(yaml.safe_load_all(scenario_text("my-service")))
    for doc in docs:
        if doc and doc["kind"] == "Deployment":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["readinessProbe"] = {"tcpSocket": {"port": 9376}, "periodSeconds": 10, "failureThreshold": 3}
    cluster = kl.load(*[d for d in docs if d])
    victim = sorted(p["metadata"]["name"] for p in cluster.pods("default"))[0]
    clients = sorted(p["metadata"]["name"] for p in cluster.pods("default"))
    wl = kl.workload(kl.pod_clients(names=clients), kl.cluster_ip("my-service"), connections=2000, rate=100,
                     events=[kl.Event(5.0, "crashPod", {"name": victim})])
    log = kl.simulate(cluster, wl, seed=0)
    refused = log[(log["outcome"] == "refused") & (log["client"].astype(str) != victim)]
    assert len(refused) > 0
    # kubelet relist (1 s) + EndpointSlice update + each node's next sync (minSyncPeriod 1 s): well under 30 s
    assert refused["time"].max() < 5.0 + 1.0 + 0.1 + 1.0 + 0.2
    labels = [e["label"] for e in log.attrs["events"]]
    assert any(label.endswith("not ready (its container exited)") for label in labels)
