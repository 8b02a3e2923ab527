"""The traffic simulator: connections through kube-proxy's rules, as a pandas request log.

A Service has no process of its own.  A new connection to a ClusterIP is rewritten (DNAT) by
the rules kube-proxy wrote on the node where the connection *enters*: the client pod's node
for ClusterIP traffic, the node that was dialled for a NodePort, the node the external load
balancer chose for a LoadBalancer IP.  iptables and nftables pick an endpoint uniformly at
random per new connection; ``ClientIP`` session affinity remembers each client in a
per-endpoint list; IPVS runs a scheduler per node.  Every request on that connection then
goes to the same pod.

The simulator is faithful *by construction*: every connection goes through the trace of the
rules its entry node has at that moment (:func:`kubelearn.proxy.trace`), and through the kernel
state that trace consults.  :mod:`kubelearn.traffic.engine` does it step by step, as lesson 04
tells it; the kernel's state lives in modules named for the mechanism
(:mod:`~kubelearn.traffic.xt_recent`, :mod:`~kubelearn.traffic.nft_sets`,
:mod:`~kubelearn.traffic.ipvs_schedulers`, :mod:`~kubelearn.traffic.conntrack`), the client's
DNS cache in :mod:`~kubelearn.traffic.dns_client`.

When a connection is masqueraded, the pod sees the entry node's InternalIP if it runs on
another node, and the entry node's pod-network gateway (``.1`` of its podCIDR) if it runs on
the entry node itself: the source MASQUERADE writes is that of the outgoing interface.

Simplifications (the rest is as a cluster does it): latencies are an illustrative model (0.05 ms on a node, 0.25 ms across nodes, +2 µs per
rule walked, exponential service time of mean 1 ms, 127 s for a dropped SYN: Linux's
``tcp_syn_retries=6``, 924.6 s for a request on an open connection nobody answers any more:
``tcp_retries2=15``), not measurements; every request of a failed connection is logged
with the connection's outcome; nobody retries.

How connections fail: a pod whose IP is gone leaves new connections ``dropped`` (nobody
answers the SYN); a crashed process ``refused`` (its node answers with a RST); open
connections to a pod that is killed or crashes are ``reset``.  When a node is lost
(``failNode``) nothing answers at all, not even a RST: new connections to its pods, and the
rest of the requests on connections open to them or entering through it, are ``dropped``
after a timeout.

Clients live and die with the cluster: a client pod that is deleted (at once, or when its
grace period ends), replaced, or crashed stops sending at that moment.  Its later
connections are not made (the log has no rows for them and their connection numbers are
missing) and the rest of the requests on its open connections are never sent.  A pod that
is only Terminating keeps sending until it is killed.  Clients on a lost node keep trying
(their connections time out).  A headless name (pod IPs, no Service rule) is logged with
the Service whose DNS name answered, and its port's name.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from .. import __version__, objects
from ..cluster import Cluster
from ..proxy import Trace, trace
from . import lb as lbmod
from .clients import Client, labels_match, pod_ready_ip, resolve_clients
from .conntrack import RETRANSMIT_TIMEOUT_MS, SYN_TIMEOUT_MS
from .dns_client import lookup
from .engine import Engine, pod_table
from .events import Timeline, build_timeline, event_records
from .ipvs_schedulers import hash_bucket, ip_to_int
from .nft_sets import NFT_AFFINITY_SET_SIZE
from .routes import SourceClass, lb_ip, service_port, source_class, static_routes
from .workload import Workload, WorkloadError, from_object
from .xt_recent import XT_RECENT_IP_LIST_TOT

__all__ = ["simulate", "predicted_shares", "resolve_clients", "Client", "XT_RECENT_IP_LIST_TOT",
           "NFT_AFFINITY_SET_SIZE", "RETRANSMIT_TIMEOUT_MS", "SYN_TIMEOUT_MS", "default_workload", "endpoint_pods"]


def default_workload(cluster: Cluster, connections: int | None = None,
                     requests_per_connection: int | None = None) -> Workload:
    """The cluster's stored ``Workload`` (loaded with ``-f``), else: pods spread over the nodes dial the first Service by name.

    Client pods are the pods the Service does not select, or its own backends when there are
    no others (a pod reaching its own Service through the ClusterIP is hairpinned).

    Raises:
        WorkloadError: when the cluster has no Service or no running pod.
    """
    stored = cluster.list("Workload")
    if stored:
        wl = from_object(stored[0])
        changes: dict[str, Any] = {}
        if connections is not None:
            changes["connections"] = connections
        if requests_per_connection is not None:
            changes["requests_per_connection"] = requests_per_connection
        return wl.with_(**changes) if changes else wl
    # the learner's own Services: not the API server's `kubernetes` nor the kube-system add-ons
    svcs = [s for s in cluster.services() if objects.name(s) != "kubernetes"
            and s["metadata"].get("namespace", "default") != "kube-system"
            and s["spec"].get("type") != "ExternalName" and s["spec"].get("ports")]
    if not svcs:
        raise WorkloadError("error: no Service to send traffic to")
    svc = svcs[0]
    ns = svc["metadata"].get("namespace", "default")
    selector = svc["spec"].get("selector") or {}
    pods = [p for p in cluster.pods(ns) if pod_ready_ip(p)]
    others = [p for p in pods if not (selector and labels_match(selector, p["metadata"].get("labels") or {}))]
    chosen = others or pods
    if not chosen:
        raise WorkloadError(f"error: no running pods in namespace {ns} to act as clients")
    from .workload import dns, pod_clients, workload

    return workload(pod_clients(names=[objects.name(p) for p in chosen], namespace=ns),
                    dns(objects.name(svc), int(svc["spec"]["ports"][0]["port"])),
                    connections=1000 if connections is None else connections,
                    requests_per_connection=1 if requests_per_connection is None else requests_per_connection,
                    name="default")


def simulate(cluster: Cluster, workload: Workload | dict[str, Any] | None = None, *, seed: int = 0,
             mode: str | None = None, progress: bool | None = None) -> pd.DataFrame:
    """Run a workload against a cluster and return the request log (see :data:`LOG_COLUMNS`).

    Args:
        cluster: the cluster at time 0.
        workload: a :class:`Workload`, its YAML dict, or ``None`` for the cluster's stored
            Workload (else :func:`default_workload`).
        seed: mixed with ``cluster.seed``; the same inputs and seed give the same log.
        mode: kube-proxy mode to simulate (default: the cluster's).
        progress: show a progress bar (``None``: only when the run takes over 2 s).

    Returns:
        one row per request, with the run's parameters in ``.attrs``; ``attrs["events"]`` is a
        list of plain dicts ``{time, label, action, end}``, one per change to the cluster, where
        ``end`` is when the last node's kube-proxy adopted it (see
        :func:`kubelearn.traffic.events.event_records`); ``attrs["endpoints"]`` maps each
        Service dialled (``namespace/name``) to its endpoint pods and their nodes (see
        :func:`endpoint_pods`).

    Raises:
        WorkloadError: for clients or targets that do not exist on this cluster.
        InvalidError: for a workload document with invalid fields.
    """
    if workload is None:
        wl = default_workload(cluster)
    elif isinstance(workload, Workload):
        wl = workload
    else:
        wl = from_object(workload)
    clients = resolve_clients(cluster, wl)
    tl = build_timeline(cluster, wl.events, seed=seed, endpoint_slice_seconds=wl.endpoint_slice_seconds,
                        mode=mode)
    bar = _Progress(enabled=progress is not False)
    try:
        df = Engine(cluster, wl, clients, tl, seed, mode).run(bar)
    finally:
        bar.close()
    df.attrs = {
        "kubelearn_version": __version__,
        "seed": seed,
        "cluster_seed": cluster.seed,
        "mode": mode or cluster.proxy_mode,
        "cluster": {"name": cluster.topology.name, "resourceVersion": str(cluster.clock),
                    "nodes": tl.nodes, "objects": cluster.summary()},
        "workload": wl.to_object(),
        "connections": wl.connections,
        "requests_per_connection": wl.requests_per_connection,
        "events": event_records(tl),
        "endpoints": endpoint_pods(tl, _target_services(cluster, wl, df)),
    }
    return df


class _Progress:
    """The run's four steps as a ``tqdm`` bar, shown only once the run has taken over 2 s (tqdm,
    and in a notebook its widget, are imported only then: short runs do not pay for them)."""

    STEPS = 4
    DELAY = 2.0

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.start = time.perf_counter()
        self.done = 0
        self.bar: Any = None

    def update(self, n: float | None = 1) -> bool | None:
        self.done += int(n or 0)
        if self.bar is None and self.enabled and time.perf_counter() - self.start >= self.DELAY:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.STEPS, desc="simulate", leave=False)
            self.bar.update(self.done - int(n or 0))
        if self.bar is not None:
            self.bar.update(n)
        return None

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _target_services(cluster: Cluster, wl: Workload, df: pd.DataFrame) -> list[str]:
    """The Services (``namespace/name``) the run dialled: the target's, and any the log names."""
    out = {str(v) for v in df["service"].cat.categories if str(v)}
    t = wl.target
    kind = next((k for k in ("clusterIP", "nodePort", "externalIP", "loadBalancer") if k in t), None)
    if kind is not None:
        spec = t[kind]
        out.add(f"{spec.get('namespace', 'default')}/{spec['service']}")
    return sorted(s for s in out if cluster.has("Service", s.split("/", 1)[1], s.split("/", 1)[0]))


def endpoint_pods(tl: Timeline, services: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per Service (``namespace/name``), every pod that was one of its ready endpoints at some
    moment of the run, with its node: ``{"default/web": {"web-…": "kind-worker", …}}``.

    These are the pods the rules could choose.  The log only names pods that got a connection,
    so :func:`kubelearn.traffic.pod_shares` reads this (``attrs["endpoints"]``) to list the ones
    that got none with zero counts.
    """
    out: dict[str, dict[str, str]] = {}
    for key in services:
        ns, name = key.split("/", 1)
        pods: dict[str, str] = {}
        for snap in tl.snapshots:
            for sl in snap.cluster.endpoint_slices(ns, name):
                for ep in sl.get("endpoints") or ():
                    ref = ep.get("targetRef") or {}
                    if ref.get("kind") == "Pod" and (ep.get("conditions") or {}).get("ready", True) is not False:
                        pods.setdefault(str(ref.get("name")), str(ep.get("nodeName") or ""))
        out[key] = dict(sorted(pods.items()))
    return out


def predicted_shares(cluster: Cluster, workload: Workload | dict[str, Any] | None = None, *,
                     mode: str | None = None) -> pd.DataFrame:
    """The share of connections each pod should get, from the rules' probabilities × the client mix.

    Each client's share of the connections, times the probability its entry node's trace
    gives each endpoint (and, for an external load balancer, each healthy node equally
    likely; for a headless name with the ``random`` DNS strategy, each record equally likely).
    ``sh``/``dh`` IPVS schedulers are deterministic per client.

    Where a static prediction would mislead, there is none: ``predicted`` is NaN for every pod
    and ``attrs["unpredictable"]`` says why.  That is the case when the workload has events
    (the rules, and the pods, change during the run) and when clients cache a multi-record
    DNS answer and use it with the ``first`` or ``round-robin`` strategy (where the traffic
    goes is decided by a handful of lookups, not by per-connection probabilities).

    Returns:
        a frame indexed by pod with columns ``node`` and ``predicted`` (shares summing to the
        fraction of connections that reach a pod), plus a ``""`` row for connections that reach none.
    """
    if workload is None:
        wl = default_workload(cluster)
    elif isinstance(workload, Workload):
        wl = workload
    else:
        wl = from_object(workload)
    clients = resolve_clients(cluster, wl)
    pods = pod_table(cluster, frozenset(), frozenset())
    shares: dict[str, float] = {}
    weight = 1.0 / len(clients)

    def pod_of(ep: str) -> str:
        info = pods.get(ep.rsplit(":", 1)[0]) if ep else None
        return info[0] if info else ""

    def add(ep: str, w: float) -> None:
        key = pod_of(ep)
        shares[key] = shares.get(key, 0.0) + w

    # one trace per (node, source class, address), as the simulator memoises them
    traces: dict[tuple[str, SourceClass, str], Trace] = {}

    # what one route adds, per weight: many clients share a route (the same additions, in the same order)
    additions: dict[tuple[str, SourceClass, str, float], list[tuple[str, float]]] = {}

    def via_trace(node: str, c: Client, dst: str, w: float) -> None:
        key = (node, source_class(c, node), dst)
        tr = traces.get(key)
        if tr is None:
            tr = traces[key] = trace(cluster, node, c.ip, dst, wl.protocol, mode=mode)
        if tr.verdict == "DNAT" and tr.destinations and tr.scheduler not in ("sh", "dh"):
            adds = additions.get((*key, w))
            if adds is None:
                total = sum(d.probability for d in tr.destinations)
                adds = additions[(*key, w)] = [(pod_of(d.endpoint), w * d.probability / total)
                                               for d in tr.destinations]
            for pod, share in adds:
                shares[pod] = shares.get(pod, 0.0) + share
            return
        if tr.verdict == "NONE":
            add(dst, w)
            return
        if tr.verdict != "DNAT" or not tr.destinations:
            add("", w)
            return
        dests = list(tr.destinations)
        sched = tr.scheduler
        if sched in ("sh", "dh"):
            vip = dst.rsplit(":", 1)[0]
            b = int(hash_bucket(ip_to_int(c.ip if sched == "sh" else vip)))
            add(dests[b % len(dests)].endpoint, w)
            return
        total = sum(d.probability for d in dests)
        for d in dests:
            add(d.endpoint, w * d.probability / total)

    reason = ("the workload has events: the rules and the pods change during the run"
              if wl.events else "")
    for c, s in zip(clients, static_routes(cluster, wl, clients), strict=True):
        if s is not None:
            via_trace(s.entry, c, s.dst, weight)
        elif "dns" in wl.target:
            recs = lookup(cluster, c, str(wl.target["dns"]), int(wl.target["port"])).records
            if not recs:
                add("", weight)
            if len(recs) > 1 and wl.dns_strategy != "random" and not reason:
                reason = (f"each client caches one DNS answer of {len(recs)} records and dials them "
                          f"{wl.dns_strategy}: a few lookups decide where traffic goes")
            for ip in recs:
                via_trace(c.node, c, f"{ip}:{wl.target['port']}", weight / len(recs))
        else:
            spec = wl.target["loadBalancer"]
            svc = cluster.get("Service", spec["service"], spec.get("namespace", "default"))
            ip = lb_ip(svc, spec)
            port = service_port(svc, spec.get("port"))
            nodes = lbmod.balancer_nodes(cluster, svc, spec.get("kind", "cloud"), ip)
            if not nodes:
                add("", weight)
            for nd in nodes:
                via_trace(nd, c, f"{ip}:{port['port']}", weight / len(nodes))
    node_of = {v[0]: v[1] for v in pods.values()}
    df = pd.DataFrame({"node": [node_of.get(p, "") for p in shares], "predicted": list(shares.values())},
                      index=pd.Index(list(shares), name="pod"))
    if reason:
        df["predicted"] = np.nan
        df.attrs["unpredictable"] = reason
    return df.sort_index()


