"""The fast simulator against the per-connection oracle and the rules' deterministic properties."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent / "data" / "traffic"))
import standin as s  # noqa: E402

from kubelearn.traffic import (  # noqa: E402
    LOG_COLUMNS,
    chi_square,
    cluster_ip,
    dns,
    external,
    external_ip,
    load_balancer,
    node_port,
    nodes,
    pod_shares,
    pods,
    predicted_shares,
    simulate,
    stickiness,
    workload,
)
from kubelearn.traffic.simulate import XT_RECENT_IP_LIST_TOT  # noqa: E402
from kubelearn.traffic.workload import WorkloadError  # noqa: E402

TEN = [(1 + i % 2, 10 + i) for i in range(10)]


def run(cluster, wl, seed=0, mode=None):
    return simulate(cluster, wl, seed=seed, mode=mode, trace=s.trace, resolve=s.resolve)


def conns(df):
    return df.drop_duplicates("connection")


# ------------------------------------------------------------------ schema and determinism
def test_log_schema_dtypes_and_attrs():
    c = s.make_cluster()
    df = run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=200,
                         requests_per_connection=3))
    assert list(df.columns) == list(LOG_COLUMNS)
    for name, col in LOG_COLUMNS.items():
        assert str(df[name].dtype) == col.dtype, name
    assert len(df) == 600
    assert df.attrs["seed"] == 0 and df.attrs["mode"] == "iptables"
    assert df.attrs["workload"]["kind"] == "Workload"
    assert df.attrs["connections"] == 200
    # every request of a connection reaches the same pod
    assert (df.groupby("connection", observed=True)["pod"].nunique() == 1).all()
    assert df.memory_usage(deep=True, index=False).sum() / len(df) <= 150


def test_same_seed_same_log_other_seed_other_log():
    c = s.make_cluster(backends=TEN)
    wl = workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=500, arrival="poisson")
    a, b, other = run(c, wl, seed=7), run(c, wl, seed=7), run(c, wl, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["endpoint"].astype(str).equals(other["endpoint"].astype(str))
    assert not np.allclose(a["time"], other["time"])


def test_trace_called_once_per_distinct_route():
    c = s.make_cluster(backends=TEN, clients=3)
    s.CALLS.clear()
    run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=5000))
    # one call per (entry node, source class, destination): two worker nodes, pod sources
    assert len(s.CALLS) == 2


# ------------------------------------------------------------------ ClusterIP, random choice
def test_clusterip_random_matches_prediction():
    c = s.make_cluster(backends=TEN)
    wl = workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=4000)
    df = run(c, wl, seed=3)
    # (the agreement with the per-connection oracle on the real tracer is in test_traffic_oracle.py)
    pred = predicted_shares(c, wl, trace=s.trace)
    assert pred["predicted"].sum() == pytest.approx(1.0)
    assert chi_square(df, pred).pvalue > 0.001
    # the pod sees the client pod's own IP (no masquerade from a pod to a ClusterIP)
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()


def test_node_client_is_masqueraded_to_its_own_ip():
    """MASQUERADE writes the outgoing interface's address: InternalIP across nodes, the pod gateway locally."""
    c = s.make_cluster()
    df = run(c, workload(nodes("kind-worker"), cluster_ip("my-service"), connections=50))
    local = df["pod_node"].astype(str) == "kind-worker"
    assert local.any() and (~local).any()
    assert set(df.loc[~local, "seen_src_ip"].astype(str)) == {"172.18.0.3"}
    assert set(df.loc[local, "seen_src_ip"].astype(str)) == {"10.244.1.1"}
    assert set(df["client_kind"].astype(str)) == {"node"}


def test_hairpin_pod_reaching_itself_is_masqueraded():
    c = s.make_cluster(backends=[(1, 10)])
    df = run(c, workload(pods(names=["web-0"]), cluster_ip("my-service"), connections=10))
    assert set(df["pod"].astype(str)) == {"web-0"}
    # the pod itself is on the entry node: it sees the node's end of its veth, the pod gateway
    assert set(df["seen_src_ip"].astype(str)) == {"10.244.1.1"}


def test_no_endpoints_refused_and_itp_local_dropped():
    c = s.make_cluster(backends=[])
    df = run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=20))
    assert set(df["outcome"].astype(str)) == {"refused"}
    assert set(df["endpoint"].astype(str)) == {""}
    # iTP=Local: the client on kind-worker2 has no local endpoint -> DROP (a timeout for it)
    c2 = s.make_cluster(backends=[(1, 10)], service=s.service_obj(itp="Local"))
    df2 = run(c2, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=40))
    by_node = df2.groupby(df2["entry_node"].astype(str))["outcome"].agg(lambda x: set(x.astype(str)))
    assert by_node["kind-worker"] == {"ok"}
    assert by_node["kind-worker2"] == {"dropped"}
    assert (df2.loc[df2["outcome"] == "dropped", "latency_ms"] > 100_000).all()


# ------------------------------------------------------------------ session affinity
def test_affinity_one_client_one_pod_until_timeout():
    c = s.make_cluster(backends=TEN, service=s.service_obj(affinity=10))
    # 1 connection per second: within the 10 s timeout every connection refreshes the entry
    df = run(c, workload(pods(names=["client-1-0"]), cluster_ip("my-service"), connections=60, rate=1.0))
    assert df["pod"].nunique() == 1
    # one connection every 20 s: the entry has always expired, so the choice is random again
    df2 = run(c, workload(pods(names=["client-1-0"]), cluster_ip("my-service"), connections=60, rate=0.05))
    assert df2["pod"].nunique() > 3


def test_affinity_few_clients_sticky_many_clients_degrade():
    svc = s.service_obj(affinity=10800)
    few = s.make_cluster(backends=TEN, service=svc)
    df = run(few, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=400))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    # 3000 external clients arriving at one node: 10 lists x 100 entries cannot hold them
    wl = workload(external("198.51.0.0/16", 1500, node="kind-worker"), cluster_ip("my-service"),
                  connections=6000)
    df = run(few, wl, seed=1)
    st = stickiness(df)["stickiness"]
    assert st.mean() < 0.6
    # nftables sets have no size limit: the same traffic stays sticky
    df_nft = run(few, wl, seed=1, mode="nftables")
    assert (stickiness(df_nft)["stickiness"] == 1.0).all()


def test_recent_list_cap_is_xt_recent_default():
    assert XT_RECENT_IP_LIST_TOT == 100


# ------------------------------------------------------------------ IPVS
def test_ipvs_rr_exact_rotation_per_node():
    c = s.make_cluster(backends=TEN, mode="ipvs", scheduler="rr")
    df = run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=200))
    eps = [f"10.244.{n}.{h}:8080" for n, h in TEN]
    for node, grp in conns(df).groupby(df["entry_node"].astype(str)):
        seq = grp["endpoint"].astype(str).tolist()
        assert seq == [eps[i % 10] for i in range(len(seq))], node


@pytest.mark.parametrize("sched", ["lc", "wlc", "sed", "nq"])
def test_ipvs_least_connection_balances_active_connections(sched):
    c = s.make_cluster(backends=TEN[:4], mode="ipvs", scheduler=sched)
    # long connections (10 s) at 10/s from one node: 100 open at once, spread 25 each
    df = run(c, workload(pods(names=["client-1-0"]), cluster_ip("my-service"), connections=100, rate=10,
                         connection_seconds=10))
    counts = df["pod"].value_counts()
    assert counts.max() - counts.min() <= 1
    # the first four connections go to the four servers in list order (each the least loaded)
    assert df["pod"].astype(str).tolist()[:4] == ["web-0", "web-1", "web-2", "web-3"]


def test_ipvs_sh_sticks_per_client_dh_one_server():
    c = s.make_cluster(backends=TEN, mode="ipvs", scheduler="sh", clients=5)
    df = run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=300))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    c2 = s.make_cluster(backends=TEN, mode="ipvs", scheduler="dh", clients=5)
    df2 = run(c2, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=300))
    assert df2["pod"].nunique() == 1


def test_ipvs_affinity_is_persistence():
    c = s.make_cluster(backends=TEN, mode="ipvs", scheduler="rr", service=s.service_obj(affinity=60), clients=3)
    df = run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=120))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    assert df["pod"].nunique() > 1


def test_unsupported_scheduler_is_a_clear_error():
    from kubelearn.errors import KubelearnError

    c = s.make_cluster(mode="ipvs", scheduler="mh")
    with pytest.raises(KubelearnError, match='IPVS scheduler "mh" is not modelled'):
        run(c, workload(pods(selector={"app": "client"}), cluster_ip("my-service"), connections=5))


# ------------------------------------------------------------------ external traffic
def test_nodeport_local_never_remote_and_keeps_client_ip():
    svc = s.service_obj(type="NodePort", etp="Local")
    c = s.make_cluster(service=svc)  # web-0, web-1 on kind-worker; web-2 on kind-worker2
    df = run(c, workload(external("203.0.113.0/24", 20), node_port("my-service", "kind-worker2"),
                         connections=300))
    assert set(df["pod_node"].astype(str)) == {"kind-worker2"}
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()
    # the control plane has no endpoint: external traffic is dropped there
    df0 = run(c, workload(external("203.0.113.0/24", 5), node_port("my-service", "kind-control-plane"),
                          connections=10))
    assert set(df0["outcome"].astype(str)) == {"dropped"}
    assert set(df["dst"].astype(str)) == {"172.18.0.4:30080"}
    assert set(df["via"].astype(str)) == {"nodeport"}


def test_nodeport_cluster_shows_node_ip_and_reaches_all():
    c = s.make_cluster(service=s.service_obj(type="NodePort", etp="Cluster"))
    wl = workload(external("203.0.113.0/24", 20), node_port("my-service", "kind-control-plane"), connections=600)
    df = run(c, wl)
    assert set(df["seen_src_ip"].astype(str)) == {"172.18.0.2"}
    assert df["pod"].nunique() == 3
    assert chi_square(df, predicted_shares(c, wl, trace=s.trace)).pvalue > 0.001


def test_cloud_lb_local_only_nodes_with_endpoints_cluster_all_ready_nodes():
    local = s.make_cluster(service=s.service_obj(type="LoadBalancer", etp="Local", lb_ip="192.0.2.10"),
                           backends=[(1, 10), (1, 11)])
    df = run(local, workload(external("203.0.113.0/24", 30), load_balancer("my-service"), connections=300))
    assert set(df["entry_node"].astype(str)) == {"kind-worker"}
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()
    assert set(df["outcome"].astype(str)) == {"ok"}
    clus = s.make_cluster(service=s.service_obj(type="LoadBalancer", etp="Cluster", lb_ip="192.0.2.10"))
    wl = workload(external("203.0.113.0/24", 30), load_balancer("my-service"), connections=3000)
    df2 = run(clus, wl)
    assert set(df2["entry_node"].astype(str)) == set(s.NODES)
    assert stats.chisquare(df2["entry_node"].value_counts().to_numpy()).pvalue > 0.001
    pred = predicted_shares(clus, wl, trace=s.trace)
    assert chi_square(df2, pred).pvalue > 0.001


def test_l2_lb_sends_everything_to_one_node():
    c = s.make_cluster(service=s.service_obj(type="LoadBalancer", lb_ip="192.0.2.10"))
    df = run(c, workload(external("203.0.113.0/24", 30), load_balancer("my-service", kind="l2"), connections=200))
    assert df["entry_node"].nunique() == 1


def test_lb_from_inside_is_captured_by_own_node():
    c = s.make_cluster(service=s.service_obj(type="LoadBalancer", etp="Local", lb_ip="192.0.2.10"))
    df = run(c, workload(pods(selector={"app": "client"}), load_balancer("my-service"), connections=100))
    assert (df["entry_node"].astype(str).to_numpy() == np.array(
        [n for n in df["client"].astype(str).map(lambda x: "kind-worker" if x.startswith("client-1") else "kind-worker2")]
    )).all()
    # a pod is short-circuited to every endpoint, unmasqueraded
    assert df["pod"].nunique() == 3
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()


def test_lb_without_ip_is_a_clear_error():
    c = s.make_cluster(service=s.service_obj(type="LoadBalancer"))
    with pytest.raises(WorkloadError, match="EXTERNAL-IP <pending>"):
        run(c, workload(external("203.0.113.0/24", 3), load_balancer("my-service"), connections=5))


def test_external_ip_enters_at_given_node():
    c = s.make_cluster(service=s.service_obj(external_ips=["198.51.100.7"]))
    df = run(c, workload(external("203.0.113.0/24", 3), external_ip("my-service", node="kind-worker2"),
                         connections=30))
    assert set(df["entry_node"].astype(str)) == {"kind-worker2"}
    assert set(df["dst"].astype(str)) == {"198.51.100.7:80"}
    assert set(df["via"].astype(str)) == {"externalip"}


# ------------------------------------------------------------------ DNS targets
def test_dns_clusterip_name_and_nxdomain():
    c = s.make_cluster(backends=TEN)
    df = run(c, workload(pods(selector={"app": "client"}), dns("my-service", 80), connections=100))
    assert set(df["dst"].astype(str)) == {"10.96.0.100:80"}
    assert set(df["via"].astype(str)) == {"dns"}
    df2 = run(c, workload(pods(selector={"app": "client"}), dns("nope", 80), connections=10))
    assert set(df2["outcome"].astype(str)) == {"nxdomain"}


def _headless():
    return s.make_cluster(backends=TEN[:4], service=s.service_obj(cluster_ip="None"))


def test_headless_first_sticks_within_ttl():
    df = run(_headless(), workload(pods(selector={"app": "client"}), dns("my-service", 8080), connections=400,
                                   dns_strategy="first", dns_ttl=1000))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    assert set(df["outcome"].astype(str)) == {"ok"}
    assert set(df["rules_walked"]) == {4}  # no Service rule matched a pod IP


def test_headless_round_robin_rotates_per_client():
    df = run(_headless(), workload(pods(names=["client-1-0"]), dns("my-service", 8080), connections=40,
                                   dns_strategy="round-robin", dns_ttl=1000))
    seq = df["pod"].astype(str).tolist()
    assert seq[:4] == seq[4:8] == seq[8:12]
    assert len(set(seq[:4])) == 4


def test_headless_random_is_uniform():
    df = run(_headless(), workload(pods(selector={"app": "client"}), dns("my-service", 8080), connections=2000,
                                   dns_strategy="random"))
    assert stats.chisquare(df["pod"].value_counts().to_numpy()).pvalue > 0.001
    shares = pod_shares(df)
    assert shares["share"].sum() == pytest.approx(1.0)


def test_external_client_cannot_use_cluster_dns():
    c = s.make_cluster()
    with pytest.raises(WorkloadError, match="cluster's DNS"):
        run(c, workload(external("203.0.113.0/24", 2), dns("my-service", 80), connections=3))


def test_unknown_client_pod_is_a_clear_error():
    from kubelearn.errors import NotFoundError

    c = s.make_cluster()
    with pytest.raises(NotFoundError, match='pods "ghost" not found'):
        run(c, workload(pods(names=["ghost"]), cluster_ip("my-service"), connections=3))
    with pytest.raises(WorkloadError, match="no running pods match"):
        run(c, workload(pods(selector={"app": "none"}), cluster_ip("my-service"), connections=3))
