"""The simulator through the real kube-proxy model (kubelearn.proxy) and DNS model (kubelearn.discovery.dns)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data" / "traffic"))
import clusters as k  # noqa: E402

proxy = pytest.importorskip("kubelearn.proxy")
dnsmod = pytest.importorskip("kubelearn.discovery.dns")
topology = pytest.importorskip("kubelearn.kind")

from kubelearn.traffic import (  # noqa: E402
    chi_square,
    cluster_ip,
    dns,
    external_clients,
    node_clients,
    node_port,
    pod_clients,
    predicted_shares,
    simulate,
    stickiness,
    workload,
)

TEN = k.TEN


def real(c, mode="iptables", scheduler=""):
    cfg = topology.default_proxy_config(c.topology)
    cfg["mode"] = mode
    cfg["ipvs"]["scheduler"] = scheduler
    return replace(c, proxy_config=cfg)


def test_clusterip_by_name_through_real_dns_and_rules():
    c = real(k.make_cluster(backends=TEN))
    wl = workload(pod_clients(selector={"app": "client"}), dns("my-service", 80), connections=3000)
    df = simulate(c, wl, seed=2)
    assert set(df["dst"].astype(str)) == {"10.96.0.100:80"}
    assert (df["outcome"] == "ok").all()
    assert set(df["service"].astype(str)) == {"default/my-service"}
    pred = predicted_shares(c, wl)
    assert pred["predicted"].sum() == pytest.approx(1.0)
    assert chi_square(df, pred).pvalue > 0.001
    # the tracer's own count of rules walked is carried into the log
    tr = proxy.trace(c, "kind-worker", k.ip(c, "client-1-0"), "10.96.0.100:80")
    assert set(df.loc[df["entry_node"] == "kind-worker", "rules_walked"]) == {tr.rules_walked}


def test_hairpin_and_local_policy_with_real_rules():
    c = real(k.make_cluster(backends=[(1, 0)]))
    df = simulate(c, workload(pod_clients(names=["web-0", "client-1-0"]), cluster_ip("my-service"), connections=10))
    seen = df.groupby(df["client"].astype(str))["seen_src_ip"].agg(lambda x: set(x.astype(str)))
    gateway = c.get("Node", "kind-worker")["spec"]["podCIDR"].rsplit(".", 1)[0] + ".1"
    assert seen["web-0"] == {gateway}  # hairpin: masqueraded to the node's pod gateway
    assert seen["client-1-0"] == {k.ip(c, "client-1-0")}  # another pod: its own IP
    c2 = real(k.make_cluster(service_obj=k.service(type="NodePort", etp="Local")))
    df2 = simulate(c2, workload(external_clients("203.0.113.0/24", 20), node_port("my-service", "kind-worker2"),
                                connections=200))
    assert set(df2["pod_node"].astype(str)) == {"kind-worker2"}
    assert (df2["seen_src_ip"].astype(str) == df2["src_ip"].astype(str)).all()


def test_ipvs_and_nftables_through_real_rules():
    sh = real(k.make_cluster(backends=TEN), "ipvs", "sh")
    df = simulate(sh, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=200))
    assert (stickiness(df)["stickiness"] == 1.0).all()
    rr = real(k.make_cluster(backends=TEN), "ipvs", "rr")
    df = simulate(rr, workload(pod_clients(names=["client-1-0"]), cluster_ip("my-service"), connections=30))
    seq = df["endpoint"].astype(str).tolist()
    assert len(set(seq[:10])) == 10 and seq[:10] == seq[10:20] == seq[20:30]
    nft = real(k.make_cluster(backends=TEN, service_obj=k.service(affinity=300)), "nftables")
    df = simulate(nft, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=200))
    assert (stickiness(df)["stickiness"] == 1.0).all()


ROLLOUT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: GRACE
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  replicas: 2
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers: [{name: c, image: busybox}]
---
apiVersion: kubelearn.dev/v1alpha1
kind: Workload
metadata: {name: rollout}
spec:
  clients: [{pods: {selector: {app: client}}}]
  target: {dns: web, port: 80}
  connections: 3000
  arrival: {type: fixed, rate: 100}
  events:
  - at: 5
    rollout:
      deployment: web
      stepSeconds: 4
      template: {spec: {containers: [{name: web, image: "nginx:1.28", ports: [{containerPort: 8080}]}]}}
"""


def test_rolling_update_through_apply_and_controllers():
    from kubelearn.kind import load

    graceful = load(ROLLOUT.replace("GRACE", "10"))
    df = simulate(graceful)  # the Workload document loaded with -f is the one that runs
    assert df.attrs["workload"]["metadata"]["name"] == "rollout"
    assert len(df) == 3000 and (df["outcome"] == "ok").all()  # old pods serve out their grace period
    old = {p["metadata"]["name"] for p in graceful.pods("default") if p["metadata"]["labels"]["app"] == "web"}
    assert set(df.loc[df["time"] < 5, "pod"].astype(str)) == old
    assert not (set(df.loc[df["time"] >= 29, "pod"].astype(str)) & old)  # all new pods at the end
    abrupt = load(ROLLOUT.replace("GRACE", "0"))
    df0 = simulate(abrupt)
    bad = df0[df0["outcome"] != "ok"]
    assert len(bad) > 0 and set(bad["outcome"].astype(str)) == {"dropped"}
    # failures only inside a propagation window (< 0.1 s + minSyncPeriod 1 s) after some rollout step
    evs = df0.attrs["events"]
    assert all(e["action"] == "rollout" and e["label"].startswith("rollout web step ") for e in evs)
    assert evs[-1]["label"] == f"rollout web step {len(evs)}/{len(evs)}"
    steps = np.array([e["time"] for e in evs])
    ends = np.array([e["end"] for e in evs])
    assert ((ends > steps) & (ends < steps + 1.1)).all()
    since = bad["time"].to_numpy()[:, None] - steps[None, :]
    assert (((since >= 0) & (bad["time"].to_numpy()[:, None] < ends[None, :])).any(axis=1)).all()


def test_node_client_by_name_gets_nxdomain_from_the_nodes_resolver():
    """A node is not a ClusterFirst pod: on kind its resolver is Docker's, which knows no cluster names."""
    c = real(k.make_cluster(backends=TEN))
    wl = workload(node_clients("kind-worker"), dns("my-service", 80), connections=20)
    df = simulate(c, wl, seed=0)
    assert set(df["outcome"].astype(str)) == {"nxdomain"}
    assert set(df["pod"].astype(str)) == {""}
    fq = simulate(c, workload(node_clients(), dns("my-service.default.svc.cluster.local", 80), connections=9), seed=0)
    assert set(fq["outcome"].astype(str)) == {"nxdomain"}
    # a pod on the same node resolves the same name through CoreDNS
    ok = simulate(c, workload(pod_clients(names=["client-1-0"]), dns("my-service", 80), connections=20), seed=0)
    assert (ok["outcome"] == "ok").all()
    # and the prediction agrees: nothing reaches a pod
    pred = predicted_shares(c, wl)
    assert pred.loc["", "predicted"] == pytest.approx(1.0)
