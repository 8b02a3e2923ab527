"""The simulator on real clusters (kubelearn's apply and controllers), through the real tracer and resolver.

Expected values come from the real model (a pod's IP, a node's address, a trace's destinations),
not from constants.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

sys.path.insert(0, str(Path(__file__).parent / "data" / "traffic"))
import clusters as k  # noqa: E402

from kubelearn import proxy  # noqa: E402
from kubelearn.traffic import (  # noqa: E402
    LOG_COLUMNS,
    chi_square,
    cluster_ip,
    dns,
    external_clients,
    external_ip,
    load_balancer,
    node_clients,
    node_port,
    pod_clients,
    pod_shares,
    predicted_shares,
    simulate,
    stickiness,
    workload,
)
from kubelearn.traffic.workload import WorkloadError  # noqa: E402
from kubelearn.traffic.xt_recent import XT_RECENT_IP_LIST_TOT  # noqa: E402

TEN = k.TEN
engine = sys.modules["kubelearn.traffic.engine"]


def run(cluster, wl, seed=0, mode=None):
    return simulate(cluster, wl, seed=seed, mode=mode)


def gateway(c, node):
    """The node's end of its pods' veths: the first address of its podCIDR."""
    return c.get("Node", node)["spec"]["podCIDR"].rsplit(".", 1)[0] + ".1"


def conns(df):
    return df.drop_duplicates("connection")


# ------------------------------------------------------------------ schema and determinism
def test_log_schema_dtypes_and_attrs():
    c = k.make_cluster()
    df = run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=200,
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
    c = k.make_cluster(backends=TEN)
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=500, arrival="poisson")
    a, b, other = run(c, wl, seed=7), run(c, wl, seed=7), run(c, wl, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a["endpoint"].astype(str).equals(other["endpoint"].astype(str))
    assert not np.allclose(a["time"], other["time"])


def test_trace_called_once_per_distinct_route(monkeypatch):
    c = k.make_cluster(backends=TEN, clients=3)
    calls = []

    def counting(*args, **kw):
        calls.append(args[1:4])
        return proxy.trace(*args, **kw)

    monkeypatch.setattr(engine, "trace", counting)
    run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=5000))
    # one call per (entry node, source class, destination): two worker nodes, pod sources
    assert sorted(n for n, _, _ in calls) == ["kind-worker", "kind-worker2"]


# ------------------------------------------------------------------ ClusterIP, random choice
def test_clusterip_random_matches_prediction():
    c = k.make_cluster(backends=TEN)
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=4000)
    df = run(c, wl, seed=3)
    # (the agreement with the per-connection oracle on the real tracer is in test_traffic_oracle.py)
    pred = predicted_shares(c, wl)
    assert pred["predicted"].sum() == pytest.approx(1.0)
    assert pred["predicted"].to_numpy() == pytest.approx(0.1)
    assert chi_square(df, pred).pvalue > 0.001
    # the pod sees the client pod's own IP (no masquerade from a pod to a ClusterIP)
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()


def test_node_client_is_masqueraded_to_its_own_ip():
    """MASQUERADE writes the outgoing interface's address: InternalIP across nodes, the pod gateway locally."""
    c = k.make_cluster()
    df = run(c, workload(node_clients("kind-worker"), cluster_ip("my-service"), connections=50))
    local = df["pod_node"].astype(str) == "kind-worker"
    assert local.any() and (~local).any()
    assert set(df.loc[~local, "seen_src_ip"].astype(str)) == {c.node_ip("kind-worker")}
    assert set(df.loc[local, "seen_src_ip"].astype(str)) == {gateway(c, "kind-worker")}
    assert set(df["client_kind"].astype(str)) == {"node"}


def test_hairpin_pod_reaching_itself_is_masqueraded():
    c = k.make_cluster(backends=[(1, 0)])
    df = run(c, workload(pod_clients(names=["web-0"]), cluster_ip("my-service"), connections=10))
    assert set(df["pod"].astype(str)) == {"web-0"}
    # the pod itself is on the entry node: it sees the node's end of its veth, the pod gateway
    assert set(df["seen_src_ip"].astype(str)) == {gateway(c, "kind-worker")}


def test_no_endpoints_refused_and_itp_local_dropped():
    c = k.make_cluster(backends=[])
    df = run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=20))
    assert set(df["outcome"].astype(str)) == {"refused"}
    assert set(df["endpoint"].astype(str)) == {""}
    # iTP=Local: the client on kind-worker2 has no local endpoint -> DROP (a timeout for it)
    c2 = k.make_cluster(backends=[(1, 0)], service_obj=k.service(itp="Local"))
    df2 = run(c2, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=40))
    by_node = df2.groupby(df2["entry_node"].astype(str))["outcome"].agg(lambda x: set(x.astype(str)))
    assert by_node["kind-worker"] == {"ok"}
    assert by_node["kind-worker2"] == {"dropped"}
    assert (df2.loc[df2["outcome"] == "dropped", "latency_ms"] > 100_000).all()


# ------------------------------------------------------------------ session affinity
def test_affinity_one_client_one_pod_until_timeout():
    c = k.make_cluster(backends=TEN, service_obj=k.service(affinity=10))
    # 1 connection per second: within the 10 s timeout every connection refreshes the entry
    df = run(c, workload(pod_clients(names=["client-1-0"]), cluster_ip("my-service"), connections=60, rate=1.0))
    assert df["pod"].nunique() == 1
    # one connection every 20 s: the entry has always expired, so the choice is random again
    df2 = run(c, workload(pod_clients(names=["client-1-0"]), cluster_ip("my-service"), connections=60, rate=0.05))
    assert df2["pod"].nunique() > 3


def test_affinity_few_clients_sticky_many_clients_degrade():
    svc = k.service(affinity=10800)
    few = k.make_cluster(backends=TEN, service_obj=svc)
    df = run(few, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=400))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    # 3000 external clients arriving at one node: 10 lists x 100 entries cannot hold them
    wl = workload(external_clients("198.51.0.0/16", 1500, node="kind-worker"), cluster_ip("my-service"),
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
    c = k.make_cluster(backends=TEN, mode="ipvs", scheduler="rr")
    df = run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=200))
    for node, grp in conns(df).groupby(df["entry_node"].astype(str)):
        # the real servers in the order IPVS lists them on that node
        tr = proxy.trace(c, node, k.ip(c, "client-1-0"), "10.96.0.100:80")
        eps = [d.endpoint for d in tr.destinations]
        assert len(eps) == 10 and tr.scheduler == "rr"
        seq = grp["endpoint"].astype(str).tolist()
        assert len(seq) == 100
        assert seq == [eps[i % 10] for i in range(len(seq))], node


@pytest.mark.parametrize("sched", ["lc", "wlc", "sed", "nq"])
def test_ipvs_least_connection_balances_active_connections(sched):
    c = k.make_cluster(backends=TEN[:4], mode="ipvs", scheduler=sched)
    # long connections (10 s) at 10/s from one node: 100 open at once, spread 25 each
    df = run(c, workload(pod_clients(names=["client-1-0"]), cluster_ip("my-service"), connections=100, rate=10,
                         connection_seconds=10))
    counts = df["pod"].value_counts()
    assert len(counts) == 4 and counts.max() - counts.min() <= 1
    # the first four connections go to the four servers in list order (each the least loaded)
    tr = proxy.trace(c, "kind-worker", k.ip(c, "client-1-0"), "10.96.0.100:80")
    assert df["endpoint"].astype(str).tolist()[:4] == [d.endpoint for d in tr.destinations]


def test_ipvs_sh_sticks_per_client_dh_one_server():
    c = k.make_cluster(backends=TEN, mode="ipvs", scheduler="sh", clients=5)
    df = run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=300))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    c2 = k.make_cluster(backends=TEN, mode="ipvs", scheduler="dh", clients=5)
    df2 = run(c2, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=300))
    assert df2["pod"].nunique() == 1


def test_ipvs_affinity_is_persistence():
    c = k.make_cluster(backends=TEN, mode="ipvs", scheduler="rr", service_obj=k.service(affinity=60), clients=3)
    df = run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=120))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    assert df["pod"].nunique() > 1


def test_unsupported_scheduler_is_a_clear_error():
    from kubelearn.errors import KubelearnError

    c = k.make_cluster(mode="ipvs", scheduler="mh")
    with pytest.raises(KubelearnError, match='IPVS scheduler "mh" is not modelled'):
        run(c, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=5))


# ------------------------------------------------------------------ external traffic
def test_nodeport_local_never_remote_and_keeps_client_ip():
    svc = k.service(type="NodePort", etp="Local")
    c = k.make_cluster(service_obj=svc)  # web-0, web-1 on kind-worker; web-2 on kind-worker2
    df = run(c, workload(external_clients("203.0.113.0/24", 20), node_port("my-service", "kind-worker2"),
                         connections=300))
    assert set(df["pod_node"].astype(str)) == {"kind-worker2"}
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()
    # the control plane has no endpoint: external traffic is dropped there
    df0 = run(c, workload(external_clients("203.0.113.0/24", 5), node_port("my-service", "kind-control-plane"),
                          connections=10))
    assert set(df0["outcome"].astype(str)) == {"dropped"}
    assert set(df["dst"].astype(str)) == {c.node_ip("kind-worker2") + ":30080"}
    assert set(df["via"].astype(str)) == {"nodeport"}


def test_nodeport_cluster_shows_node_ip_and_reaches_all():
    c = k.make_cluster(service_obj=k.service(type="NodePort", etp="Cluster"))
    wl = workload(external_clients("203.0.113.0/24", 20), node_port("my-service", "kind-control-plane"), connections=600)
    df = run(c, wl)
    assert set(df["seen_src_ip"].astype(str)) == {c.node_ip("kind-control-plane")}
    assert df["pod"].nunique() == 3
    assert chi_square(df, predicted_shares(c, wl)).pvalue > 0.001


def test_cloud_lb_local_only_nodes_with_endpoints_cluster_all_ready_nodes():
    local = k.make_cluster(service_obj=k.service(type="LoadBalancer", etp="Local", lb_ip="192.0.2.10"),
                           backends=[(1, 0), (1, 1)])
    df = run(local, workload(external_clients("203.0.113.0/24", 30), load_balancer("my-service"), connections=300))
    assert set(df["entry_node"].astype(str)) == {"kind-worker"}
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()
    assert set(df["outcome"].astype(str)) == {"ok"}
    clus = k.make_cluster(service_obj=k.service(type="LoadBalancer", etp="Cluster", lb_ip="192.0.2.10"))
    wl = workload(external_clients("203.0.113.0/24", 30), load_balancer("my-service"), connections=3000)
    df2 = run(clus, wl)
    # kind labels its control plane node.kubernetes.io/exclude-from-external-load-balancers
    assert "node.kubernetes.io/exclude-from-external-load-balancers" in clus.get("Node", k.NODES[0])["metadata"]["labels"]
    assert set(df2["entry_node"].astype(str)) == set(k.NODES[1:])
    assert stats.chisquare(df2["entry_node"].value_counts().to_numpy()).pvalue > 0.001
    pred = predicted_shares(clus, wl)
    assert chi_square(df2, pred).pvalue > 0.001


def test_l2_lb_sends_everything_to_one_node():
    c = k.make_cluster(service_obj=k.service(type="LoadBalancer", lb_ip="192.0.2.10"))
    df = run(c, workload(external_clients("203.0.113.0/24", 30), load_balancer("my-service", kind="l2"), connections=200))
    assert df["entry_node"].nunique() == 1


def test_lb_from_inside_is_captured_by_own_node():
    c = k.make_cluster(service_obj=k.service(type="LoadBalancer", etp="Local", lb_ip="192.0.2.10"))
    df = run(c, workload(pod_clients(selector={"app": "client"}), load_balancer("my-service"), connections=100))
    assert (df["entry_node"].astype(str).to_numpy() == np.array(
        [n for n in df["client"].astype(str).map(lambda x: "kind-worker" if x.startswith("client-1") else "kind-worker2")]
    )).all()
    # a pod is short-circuited to every endpoint, unmasqueraded
    assert df["pod"].nunique() == 3
    assert (df["seen_src_ip"].astype(str) == df["src_ip"].astype(str)).all()


def test_lb_without_ip_is_a_clear_error():
    c = k.make_cluster(service_obj=k.service(type="LoadBalancer"))
    with pytest.raises(WorkloadError, match="EXTERNAL-IP <pending>"):
        run(c, workload(external_clients("203.0.113.0/24", 3), load_balancer("my-service"), connections=5))


def test_external_ip_enters_at_given_node():
    c = k.make_cluster(service_obj=k.service(external_ips=["198.51.100.7"]))
    df = run(c, workload(external_clients("203.0.113.0/24", 3), external_ip("my-service", node="kind-worker2"),
                         connections=30))
    assert set(df["entry_node"].astype(str)) == {"kind-worker2"}
    assert set(df["dst"].astype(str)) == {"198.51.100.7:80"}
    assert set(df["via"].astype(str)) == {"externalip"}


# ------------------------------------------------------------------ DNS targets
def test_dns_clusterip_name_and_nxdomain():
    c = k.make_cluster(backends=TEN)
    df = run(c, workload(pod_clients(selector={"app": "client"}), dns("my-service", 80), connections=100))
    assert set(df["dst"].astype(str)) == {"10.96.0.100:80"}
    assert set(df["via"].astype(str)) == {"dns"}
    df2 = run(c, workload(pod_clients(selector={"app": "client"}), dns("nope", 80), connections=10))
    assert set(df2["outcome"].astype(str)) == {"nxdomain"}


def _headless():
    return k.make_cluster(backends=TEN[:4], service_obj=k.service(cluster_ip="None"))


def test_headless_first_sticks_within_ttl():
    c = _headless()
    df = run(c, workload(pod_clients(selector={"app": "client"}), dns("my-service", 8080), connections=400,
                                   dns_strategy="first", dns_ttl=1000))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    assert set(df["outcome"].astype(str)) == {"ok"}
    # no Service rule matched a pod IP: the log carries the tracer's count for that packet
    tr = proxy.trace(c, "kind-worker", k.ip(c, "client-1-0"), k.ip(c, "web-0") + ":8080")
    assert tr.verdict == "NONE"
    assert set(df["rules_walked"]) == {tr.rules_walked}


def test_headless_round_robin_rotates_per_client():
    df = run(_headless(), workload(pod_clients(names=["client-1-0"]), dns("my-service", 8080), connections=40,
                                   dns_strategy="round-robin", dns_ttl=1000))
    seq = df["pod"].astype(str).tolist()
    assert seq[:4] == seq[4:8] == seq[8:12]
    assert len(set(seq[:4])) == 4


def test_headless_random_is_uniform():
    df = run(_headless(), workload(pod_clients(selector={"app": "client"}), dns("my-service", 8080), connections=2000,
                                   dns_strategy="random"))
    assert stats.chisquare(df["pod"].value_counts().to_numpy()).pvalue > 0.001
    shares = pod_shares(df)
    assert shares["share"].sum() == pytest.approx(1.0)


def test_external_client_cannot_use_cluster_dns():
    c = k.make_cluster()
    with pytest.raises(WorkloadError, match="cluster's DNS"):
        run(c, workload(external_clients("203.0.113.0/24", 2), dns("my-service", 80), connections=3))


def test_unknown_client_pod_is_a_clear_error():
    from kubelearn.errors import NotFoundError

    c = k.make_cluster()
    with pytest.raises(NotFoundError, match='pods "ghost" not found'):
        run(c, workload(pod_clients(names=["ghost"]), cluster_ip("my-service"), connections=3))
    with pytest.raises(WorkloadError, match="no running pods match"):
        run(c, workload(pod_clients(selector={"app": "none"}), cluster_ip("my-service"), connections=3))
