"""The simulator's engine against a per-connection oracle built on the REAL tracer and real clusters.

The oracle (:func:`oracle`) routes each connection one at a time: it asks
:func:`kubelearn.proxy.trace` for the rules of the entry node's *current view* of the
cluster, and keeps the kernel's state the plain way (``xt_recent`` lists as Python lists,
nftables affinity sets as dicts, an IPVS scheduler as a counter or a list of open
connections, a DNS cache per client).  None of it shares code with
:mod:`kubelearn.traffic.engine` (its vectorised fast path for connections that consult no
kernel state, its per-connection path for those that do); only the cluster itself (scenarios,
``load``, the event timeline's snapshots) and the cloud balancer's node list come from
kubelearn.

The simulator must agree with it: a chi-square test of homogeneity (fixed seeds and sizes, so
the verdict is deterministic) on where connections land, exact equality where the kernel's
choice is deterministic (IPVS rr/lc/sh/dh), and on stickiness for session affinity.
"""

from __future__ import annotations

import ipaddress
import random
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from kubelearn import proxy, scenarios
from kubelearn.cluster import Cluster
from kubelearn.discovery import dns
from kubelearn.kind import load
from kubelearn.traffic import (
    cluster_ip,
    external_clients,
    load_balancer,
    node_clients,
    node_port,
    pod_clients,
    simulate,
    workload,
)
from kubelearn.traffic import dns as dns_target
from kubelearn.traffic import lb as lbmod
from kubelearn.traffic.events import build_timeline
from kubelearn.traffic.workload import Workload

CLIENTS = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: client}
spec:
  replicas: 4
  selector: {matchLabels: {app: client}}
  template:
    metadata: {labels: {app: client}}
    spec:
      containers: [{name: c, image: busybox}]
"""
CLIENT_PODS = pod_clients(selector={"app": "client"})
P_MIN = 0.001  # fixed seeds: each verdict is deterministic; this is the level it was checked at


def with_clients(name: str) -> Cluster:
    return load(scenarios.scenario_text(name), CLIENTS)


def with_proxy(c: Cluster, mode: str, scheduler: str = "") -> Cluster:
    cfg = dict(c.proxy_config)
    cfg["mode"] = mode
    cfg["ipvs"] = dict(cfg.get("ipvs") or {}, scheduler=scheduler)
    return replace(c, proxy_config=cfg)


def with_service(c: Cluster, name: str, **spec: Any) -> Cluster:
    svc = dict(c.get("Service", name))
    svc["spec"] = dict(svc["spec"], **spec)
    return c.with_object(svc)


# ------------------------------------------------------------------ the oracle
def _clients(c: Cluster, wl: Workload) -> list[tuple[str, str, str, str, str]]:
    """(name, kind, ip, own node, node external traffic arrives at) per client, in workload order."""
    out = []
    workers = [n["metadata"]["name"] for n in c.nodes()
               if "node-role.kubernetes.io/control-plane" not in n["metadata"].get("labels", {})]
    for src in wl.clients:
        (kind, spec), = src.items()
        if kind == "pods":
            sel = spec.get("selector") or {}
            for p in c.pods(spec.get("namespace", "default")):
                labels = p["metadata"].get("labels") or {}
                if all(labels.get(k) == v for k, v in sel.items()) and p["status"].get("podIP"):
                    out.append((p["metadata"]["name"], "pod", p["status"]["podIP"], p["spec"]["nodeName"], ""))
        elif kind == "nodes":
            for n in spec or [n["metadata"]["name"] for n in c.nodes()]:
                out.append((n, "node", c.node_ip(n), n, ""))
        else:
            net = ipaddress.ip_network(spec["cidr"])
            for j in range(spec["count"]):
                ip = str(net.network_address + 1 + j)
                out.append((ip, "external", ip, "", spec.get("node") or workers[0]))
    return out


class _Ipvs:
    """One virtual server's scheduler on one node, the plain way."""

    def __init__(self, name: str, vip: str):
        self.name, self.vip, self.next, self.open = name or "rr", vip, 0, []  # open: (end, server)

    def pick(self, t: float, src: str, dests: list[str], end: float) -> str:
        self.open = [(e, d) for e, d in self.open if e > t]
        if self.name == "rr":
            d = dests[self.next % len(dests)]
            self.next += 1
        elif self.name in ("sh", "dh"):
            # ip_vs_sh/ip_vs_dh: a 256-slot table filled with the servers in turn, slot = addr x 2654435761 mod 256
            addr = int(ipaddress.ip_address(src if self.name == "sh" else self.vip))
            d = dests[((addr * 2654435761) % 256) % len(dests)]
        else:  # lc/wlc/sed/nq with weight 1: fewest active connections, first on a tie
            active = [sum(1 for _, x in self.open if x == dd) for dd in dests]
            d = dests[active.index(min(active))]
        self.open.append((end, d))
        return d


def oracle(c: Cluster, wl: Workload, *, seed: int, mode: str | None = None) -> pd.DataFrame:
    """Route ``wl``'s connections one at a time through :func:`kubelearn.proxy.trace`.

    Returns one row per connection: ``client``, ``entry_node``, ``endpoint``, ``pod``, ``outcome``.
    """
    assert wl.arrival == "fixed"
    mode = mode or c.proxy_mode
    rnd = random.Random(seed)
    clients = _clients(c, wl)
    tl = build_timeline(c, wl.events, seed=seed, endpoint_slice_seconds=wl.endpoint_slice_seconds, mode=mode)
    snaps = tl.snapshots
    node_i = {n: i for i, n in enumerate(tl.nodes)}
    recent: dict[tuple[str, str], list[list[Any]]] = {}  # (node, endpoint) -> [[client ip, last set]] in LRU order
    nft: dict[tuple[str, str], dict[str, float]] = {}  # (node, endpoint) -> client ip -> expiry
    ipvs: dict[tuple[str, str], _Ipvs] = {}
    persist: dict[tuple[str, str, str], tuple[str, float]] = {}
    dns_cache: dict[str, list[Any]] = {}
    (tkind, tspec), = ((k, v) for k, v in wl.target.items() if k != "port")
    rows = []
    for i in range(wl.connections):
        t = i / wl.rate
        end = t + wl.connection_seconds
        name, kind, ip, own, via = clients[i % len(clients)]
        truth = snaps[max(k for k, s in enumerate(snaps) if s.time <= t)].cluster
        svc = truth.get("Service", tspec["service"]) if tkind != "dns" else None
        # where the connection enters and what it dials
        if tkind == "dns":
            entry = own
            cache = dns_cache.get(name)
            if cache is None or t >= cache[1]:
                res = dns.resolve(truth, tspec, "A", from_pod=name)
                recs = [r.data for r in res.answer if r.type == "A"]
                rnd.shuffle(recs)  # CoreDNS's loadbalance plugin
                ttl = wl.dns_ttl if wl.dns_ttl is not None else min(r.ttl for r in res.answer)
                cache = dns_cache[name] = [recs, t + ttl, 0]
            recs = cache[0]
            if wl.dns_strategy == "first":
                addr = recs[0]
            elif wl.dns_strategy == "random":
                addr = rnd.choice(recs)
            else:
                addr = recs[cache[2] % len(recs)]
                cache[2] += 1
            dst = f"{addr}:{wl.target['port']}"
        elif tkind == "clusterIP":
            entry, dst = own or via, f"{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"
        elif tkind == "nodePort":
            entry = tspec["node"]
            dst = f"{truth.node_ip(entry)}:{svc['spec']['ports'][0]['nodePort']}"
        else:
            lb_ip = svc["status"]["loadBalancer"]["ingress"][0]["ip"]
            entry = own or rnd.choice(lbmod.balancer_nodes(truth, svc, "cloud", lb_ip))
            dst = f"{lb_ip}:{svc['spec']['ports'][0]['port']}"
        # the entry node's rules, as of the last sync it made
        view = max(k for k in range(len(snaps)) if tl.adopt[k, node_i[entry]] <= t)
        tr = proxy.trace(snaps[view].cluster, entry, ip, dst, wl.protocol, mode=mode)
        dests = [d.endpoint for d in tr.destinations]
        if tr.verdict == "NONE":
            ep = dst
        elif tr.verdict != "DNAT":
            rows.append((name, entry, "", "", {"REJECT": "refused", "DROP": "dropped"}[tr.verdict]))
            continue
        elif tr.scheduler:
            sched = ipvs.setdefault((entry, dst), _Ipvs(tr.scheduler, dst.rsplit(":", 1)[0]))
            key = (entry, dst, ip)
            if tr.affinity_timeout and key in persist and persist[key][1] >= t and persist[key][0] in dests:
                ep = persist[key][0]
            else:
                ep = sched.pick(t, ip, dests, end)
            if tr.affinity_timeout:
                persist[key] = (ep, end + tr.affinity_timeout)
        elif tr.affinity_timeout and mode == "nftables":
            ep = next((d for d in dests if nft.get((entry, d), {}).get(ip, -1.0) >= t), "")
            ep = ep or rnd.choices(dests, [d.probability for d in tr.destinations])[0]
            nft.setdefault((entry, ep), {})[ip] = t + tr.affinity_timeout
        elif tr.affinity_timeout:
            # KUBE-SVC: one `-m recent --rcheck --seconds T --reap` per endpoint, in order
            ep = ""
            for d in dests:
                lst = recent.get((entry, d), [])
                mine = [e for e in lst if e[0] == ip]
                if not mine:
                    continue
                fresh = mine[0][1] >= t - tr.affinity_timeout
                if lst[0][1] < t - tr.affinity_timeout:
                    lst.pop(0)  # --reap: the list's least recently set entry, when expired
                if fresh:
                    ep = d
                    break
            ep = ep or rnd.choices(dests, [d.probability for d in tr.destinations])[0]
            # KUBE-SEP: `-m recent --set`; a full list (ip_list_tot=100) forgets its oldest entry
            lst = recent.setdefault((entry, ep), [])
            mine = [e for e in lst if e[0] == ip]
            if mine:
                lst.remove(mine[0])
            elif len(lst) >= 100:
                lst.pop(0)
            lst.append([ip, t])
        else:
            ep = rnd.choices(dests, [d.probability for d in tr.destinations])[0]
        pod = next((p["metadata"]["name"] for p in truth.pods(None) if p["status"].get("podIP") == ep.rsplit(":", 1)[0]),
                   "")
        rows.append((name, entry, ep, pod, "ok" if pod else "dropped"))
    return pd.DataFrame(rows, columns=["client", "entry_node", "endpoint", "pod", "outcome"])


# ------------------------------------------------------------------ comparison helpers
def conns(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop_duplicates("connection").reset_index(drop=True)


def homogeneity_p(a: pd.Series, b: pd.Series) -> float:
    """Chi-square test that two samples of labels come from one distribution."""
    table = pd.crosstab(np.r_[np.zeros(len(a)), np.ones(len(b))],
                        np.r_[a.astype(str).to_numpy(dtype=object), b.astype(str).to_numpy(dtype=object)])
    if table.shape[1] < 2:
        return 1.0 if set(a.astype(str)) == set(b.astype(str)) else 0.0
    return float(stats.chi2_contingency(table.to_numpy())[1])


def repeats(df: pd.DataFrame) -> pd.Series:
    """Per connection: did this client land on the same pod as on its previous connection?"""
    prev = df.groupby(df["client"].astype(str), sort=False)["pod"].shift().astype(object)
    return (df["pod"].astype(str) == prev.astype(str))[prev.notna()]


def run_starts(df: pd.DataFrame) -> pd.Series:
    """The pod of each client's first connection and of every connection that changed pod.

    With stickiness a client's connections are not independent draws; the choices that are
    (a new client, a forgotten one, a fresh DNS answer) start a new run on a pod.
    """
    prev = df.groupby(df["client"].astype(str), sort=False)["pod"].shift().astype(object)
    return df["pod"][prev.isna() | (df["pod"].astype(str) != prev.astype(str))]


def agree(c: Cluster, wl: Workload, *, seed: int = 0, sticky: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Simulate and run the oracle; assert they agree; return both (one row per connection)."""
    sim = conns(simulate(c, wl, seed=seed))
    ref = oracle(c, wl, seed=seed + 1000)
    assert len(sim) == len(ref) == wl.connections
    if sticky:
        assert homogeneity_p(run_starts(sim), run_starts(ref)) > P_MIN
    else:
        assert homogeneity_p(sim["pod"], ref["pod"]) > P_MIN
    assert homogeneity_p(sim["outcome"], ref["outcome"]) > P_MIN
    assert homogeneity_p(sim["entry_node"], ref["entry_node"]) > P_MIN
    if sticky:
        assert homogeneity_p(repeats(sim), repeats(ref)) > P_MIN
    return sim, ref


# ------------------------------------------------------------------ the scenario suite
def test_oracle_detects_a_wrong_distribution():
    """The comparison has teeth: a simulator that always picks the first endpoint fails it."""
    c = with_clients("my-service")
    wl = workload(CLIENT_PODS, cluster_ip("my-service"), connections=600)
    ref = oracle(c, wl, seed=1)
    first = ref["pod"].where(ref["pod"] == ref["pod"].iloc[0], ref["pod"].iloc[0])
    assert homogeneity_p(first, ref["pod"]) < P_MIN
    assert ref["pod"].nunique() == 3


def test_clusterip_random():
    agree(with_clients("my-service"), workload(CLIENT_PODS, cluster_ip("my-service"), connections=1500))


def test_the_fast_path_is_the_per_connection_path_in_distribution(monkeypatch):
    """Connections that consult no kernel state are drawn at once (``Engine.choose_stateless``);
    per (entry node, pod) pair and per outcome they land as the one-at-a-time oracle lands them,
    also while the rules change under them (a scale-down and a scale-up, propagating node by node)."""
    from kubelearn.traffic import engine

    fast = []
    real_fast = engine.Engine.choose_stateless

    def spy(self, c, m, fallback):
        fast.append(int(m.sum()))
        return real_fast(self, c, m, fallback)

    monkeypatch.setattr(engine.Engine, "choose_stateless", spy)
    c = load(ROLLOUT, CLIENTS)
    wl = workload([CLIENT_PODS, node_clients()], cluster_ip("web"), connections=3000, rate=100, events=[
        {"at": 10, "scale": {"deployment": "web", "replicas": 1}},
        {"at": 20, "scale": {"deployment": "web", "replicas": 4}}])
    sim = conns(simulate(c, wl, seed=4))
    ref = oracle(c, wl, seed=4000)
    assert fast == [len(sim)]  # every connection, in one call
    assert 0 < int((sim["outcome"] == "dropped").sum()) < 200  # stale rules in the propagation windows
    pair = sim["entry_node"].astype(str) + "/" + sim["pod"].astype(str)
    ref_pair = ref["entry_node"].astype(str) + "/" + ref["pod"].astype(str)
    assert homogeneity_p(pair, ref_pair) > P_MIN
    for lo in (0, 1000, 2000):  # before, between and after the changes
        m = slice(lo, lo + 1000)
        assert homogeneity_p(pair[m], ref_pair[m]) > P_MIN, lo
    assert homogeneity_p(sim["outcome"], ref["outcome"]) > P_MIN


def test_affinity_few_clients():
    c = with_clients("session-affinity")
    sim, ref = agree(c, workload(CLIENT_PODS, cluster_ip("sticky"), connections=600), sticky=True)
    assert repeats(ref).all() and repeats(sim).all()


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_affinity_many_clients_more_than_100_per_endpoint(mode):
    # 1200 external clients at one node, 3 connections each: xt_recent's 100-entry lists overflow
    c = with_proxy(with_clients("session-affinity"), mode)
    wl = workload(external_clients("198.51.0.0/16", 1200, node="kind-worker"), cluster_ip("sticky"), connections=3600,
                  rate=1000)
    sim, ref = agree(c, wl, seed=2, sticky=True)
    if mode == "iptables":
        assert repeats(ref).mean() < 0.6  # most clients were forgotten
    else:
        assert repeats(ref).all()  # nft sets hold 65535 clients


@pytest.mark.parametrize("sched", ["rr", "lc", "wlc", "sed", "nq", "sh", "dh"])
def test_each_ipvs_scheduler(sched):
    c = with_proxy(with_clients("ipvs"), "ipvs", sched)
    wl = workload(CLIENT_PODS, cluster_ip("my-service"), connections=400, rate=20, connection_seconds=0.5)
    sim, ref = agree(c, wl)
    # the schedulers are deterministic: the same server, connection by connection
    assert sim["endpoint"].astype(str).tolist() == ref["endpoint"].tolist()


def test_ipvs_persistence():
    c = with_service(with_proxy(with_clients("ipvs"), "ipvs", "rr"), "my-service", sessionAffinity="ClientIP",
                     sessionAffinityConfig={"clientIP": {"timeoutSeconds": 5}})
    wl = workload(CLIENT_PODS, cluster_ip("my-service"), connections=200, rate=2)
    sim, ref = agree(c, wl, sticky=True)
    assert sim["endpoint"].astype(str).tolist() == ref["endpoint"].tolist()


@pytest.mark.parametrize("scenario", ["nodeport", "nodeport-local"])
@pytest.mark.parametrize("entry", ["kind-worker", "kind-control-plane"])
def test_nodeport_both_external_traffic_policies(scenario, entry):
    c = with_clients(scenario)
    wl = workload(external_clients("203.0.113.0/24", 20), node_port("web", entry), connections=600)
    sim, ref = agree(c, wl)
    local = {p["metadata"]["name"] for p in c.pods("default") if p["spec"]["nodeName"] == entry}
    if scenario == "nodeport-local" and local:
        assert set(ref["pod"]) <= local and (ref["outcome"] == "ok").all()
    elif scenario == "nodeport-local":  # no endpoint on the node dialled: external traffic is dropped
        assert set(ref["outcome"]) == {"dropped"}
    else:
        assert ref["pod"].nunique() == 3


@pytest.mark.parametrize("etp", ["Local", "Cluster"])
def test_load_balancer_both_external_traffic_policies(etp):
    c = with_service(with_clients("loadbalancer"), "web-lb", externalTrafficPolicy=etp)
    wl = workload(external_clients("203.0.113.0/24", 30), load_balancer("web-lb"), connections=1500)
    sim, ref = agree(c, wl)
    assert (ref["outcome"] == "ok").all()


def test_internal_traffic_policy_local():
    c = with_clients("internal-local")
    sim, ref = agree(c, workload(CLIENT_PODS, cluster_ip("node-cache"), connections=400))
    assert set(ref["outcome"]) == {"ok", "dropped"}  # the node without a local endpoint drops


@pytest.mark.parametrize("strategy", ["first", "random", "round-robin"])
def test_headless_each_client_strategy(strategy):
    c = with_clients("headless-statefulset")
    wl = workload(CLIENT_PODS, dns_target("nginx", 80), connections=1200, rate=40, dns_strategy=strategy,
                  dns_ttl=2)
    sim, ref = agree(c, wl, sticky=True)
    assert ref["pod"].nunique() == 3


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
      terminationGracePeriodSeconds: 0
      containers: [{name: web, image: "nginx:1.27", ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_rolling_update_with_propagation_window():
    c = load(ROLLOUT, CLIENTS)
    wl = workload(CLIENT_PODS, cluster_ip("web"), connections=2000, rate=100, endpoint_slice_seconds=0.3, events=[
        {"at": 4, "rollout": {"deployment": "web", "stepSeconds": 3, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.28", "ports": [{"containerPort": 8080}]}]}}}}])
    sim, ref = agree(c, wl, seed=3)
    # abrupt termination: connections routed by stale rules inside the window are lost, in both
    assert 0 < (ref["outcome"] == "dropped").sum() < 200
    # and the time each pod is reachable matches: compare per 2-second bucket
    bucket = np.arange(len(ref)) // 200
    for b in np.unique(bucket):
        m = bucket == b
        assert homogeneity_p(sim["pod"][m], ref["pod"][m]) > P_MIN, b


def test_node_clients_through_clusterip():
    agree(with_clients("my-service"), workload(node_clients(), cluster_ip("my-service"), connections=900))
