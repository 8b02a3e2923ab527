"""The traffic simulator: connections through kube-proxy's rules, as a pandas request log.

A Service has no process of its own.  A new connection to a ClusterIP is rewritten (DNAT) by
the rules kube-proxy wrote on the node where the connection *enters*: the client pod's node
for ClusterIP traffic, the node that was dialled for a NodePort, the node the external load
balancer chose for a LoadBalancer IP.  iptables and nftables pick an endpoint uniformly at
random per new connection; ``ClientIP`` session affinity remembers each client in a
per-endpoint list; IPVS runs a scheduler per node.  Every request on that connection then
goes to the same pod.

The simulator is faithful *by construction*: it asks the kube-proxy model
(:func:`kubelearn.proxy.trace`) once for every distinct (node's view of the cluster, entry
node, kind of source, address dialled) and samples endpoints from that trace's destinations
with numpy, so every connection lands where the rules would send it, a million connections
in well under a second.  Only the state machines that cannot be vectorised (the affinity
lists, least-connection counts, persistence, DNS caches) run connection by connection.

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

import ipaddress
import sys
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

import numpy as np
import pandas as pd

from .. import __version__
from ..cluster import Cluster
from ..errors import KubelearnError, NotFoundError
from . import lb as lbmod
from .events import Timeline, _stable, build_timeline, event_records
from .ipvs_schedulers import Scheduler, hash_bucket, ip_to_int, make_scheduler
from .log import CLIENT_KINDS, LOG_COLUMNS, OUTCOMES, VIAS, conform
from .workload import Workload, WorkloadError, from_object

__all__ = ["simulate", "predicted_shares", "resolve_clients", "Client", "XT_RECENT_IP_LIST_TOT",
           "NFT_AFFINITY_SET_SIZE", "RETRANSMIT_TIMEOUT_MS", "SYN_TIMEOUT_MS", "default_workload", "endpoint_pods"]

#: ``xt_recent``'s ``ip_list_tot`` module parameter default: addresses kept per recent list.
XT_RECENT_IP_LIST_TOT: Final = 100
#: kube-proxy's nftables affinity sets are declared ``size 65535``: the most clients each endpoint remembers.
NFT_AFFINITY_SET_SIZE: Final = 65535
#: Linux's ``tcp_syn_retries`` default (6) gives up connecting after 1+2+4+8+16+32+64 s.
SYN_TIMEOUT_MS: Final = 127_000.0
#: Linux's ``tcp_retries2`` default (15) gives up on an established connection whose data is
#: never acknowledged after about 924.6 s (ip-sysctl.rst's "hypothetical timeout").
RETRANSMIT_TIMEOUT_MS: Final = 924_600.0

TraceFn = Callable[..., Any]
ResolveFn = Callable[..., Any]

# client classes relative to the entry node: what the rules can tell apart about a source
_POD_LOCAL, _POD_REMOTE, _NODE_LOCAL, _NODE_REMOTE, _EXTERNAL = range(5)


@dataclass(frozen=True)
class Client:
    """One traffic source: ``kind`` pod/node/external, its IP, its node (``""`` for external)."""

    name: str
    kind: str
    ip: str
    node: str
    namespace: str = "default"
    via_node: str = ""  # external clients: the node their ClusterIP/externalIP traffic is routed to


def _default_trace() -> TraceFn:
    try:
        from ..proxy import trace
    except ImportError as exc:  # pragma: no cover - the proxy package ships with kubelearn
        raise KubelearnError(f"error: the kube-proxy model is not available ({exc})") from exc
    return trace  # type: ignore[no-any-return]


def _default_resolve() -> ResolveFn:
    try:
        from ..dns import resolve
    except ImportError as exc:  # pragma: no cover
        raise KubelearnError(f"error: the DNS model is not available ({exc})") from exc
    return resolve  # type: ignore[no-any-return]


def _labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def _pod_ready_ip(pod: dict[str, Any]) -> str:
    return str((pod.get("status") or {}).get("podIP") or "")


def resolve_clients(cluster: Cluster, wl: Workload) -> list[Client]:
    """The concrete clients a workload names, in order.

    Raises:
        WorkloadError: when a selector matches nothing or a named pod/node does not exist.
    """
    out: list[Client] = []
    node_names = [n["metadata"]["name"] for n in cluster.nodes()]
    workers = [n["metadata"]["name"] for n in cluster.nodes()
               if "node-role.kubernetes.io/control-plane" not in (n["metadata"].get("labels") or {})]
    for i, src in enumerate(wl.clients):
        kind, spec = next(iter(src.items()))
        if kind == "pods":
            ns = spec.get("namespace", "default")
            if "names" in spec:
                chosen = [cluster.get("Pod", n, ns) for n in spec["names"]]
            else:
                chosen = [p for p in cluster.pods(ns)
                          if _labels_match(spec.get("selector") or {}, p["metadata"].get("labels") or {})
                          and "deletionTimestamp" not in p["metadata"]]
            chosen = [p for p in chosen if _pod_ready_ip(p) and (p.get("spec") or {}).get("nodeName")]
            if not chosen:
                raise WorkloadError(f"error: spec.clients[{i}].pods: no running pods match in namespace {ns}")
            for p in chosen:
                out.append(Client(p["metadata"]["name"], "pod", _pod_ready_ip(p), p["spec"]["nodeName"], ns))
        elif kind == "nodes":
            names = list(spec) or node_names
            for n in names:
                out.append(Client(n, "node", cluster.node_ip(n), n))
        else:
            net = ipaddress.ip_network(str(spec["cidr"]), strict=False)
            via = spec.get("node") or (workers[0] if workers else (node_names[0] if node_names else ""))
            if spec.get("node"):
                cluster.get("Node", spec["node"])
            first = int(net.network_address) + (1 if net.num_addresses > 2 else 0)
            for j in range(int(spec.get("count", 1))):
                ip = str(ipaddress.ip_address(first + j))
                out.append(Client(ip, "external", ip, "", via_node=via))
    return out


def _service_port(svc: dict[str, Any], port: int | str | None) -> dict[str, Any]:
    ports = svc["spec"].get("ports") or []
    if not ports:
        raise WorkloadError(f'error: service "{svc["metadata"]["name"]}" has no ports')
    if port is None:
        return dict(ports[0])
    for p in ports:
        if p.get("name") == port or p.get("port") == port:
            return dict(p)
    raise WorkloadError(f'error: service "{svc["metadata"]["name"]}" has no port {port!r}')


@dataclass
class _Static:
    """A client's route when it does not change per connection: entry node, dialled IP:port."""

    entry: str
    dst: str


def _static_route(cluster: Cluster, wl: Workload, client: Client) -> _Static | None:
    """Entry node and destination for ClusterIP / NodePort / externalIP targets (None: per connection)."""
    t = wl.target
    if "dns" in t:
        if client.kind == "external":
            raise WorkloadError("error: external clients cannot use the cluster's DNS; "
                                "target a nodePort, externalIP or loadBalancer instead")
        return None
    kind = next(k for k in ("clusterIP", "nodePort", "externalIP", "loadBalancer") if k in t)
    spec = t[kind]
    svc = cluster.get("Service", spec["service"], spec.get("namespace", "default"))
    port = _service_port(svc, spec.get("port"))
    own = client.node or client.via_node
    if kind == "clusterIP":
        ip = svc["spec"].get("clusterIP")
        if not ip or ip == "None":
            raise WorkloadError(f'error: service "{spec["service"]}" is headless (clusterIP: None); '
                                "target it by DNS name")
        return _Static(own, f"{ip}:{port['port']}")
    if kind == "nodePort":
        if "nodePort" not in port:
            raise WorkloadError(f'error: service "{spec["service"]}" of type {svc["spec"].get("type")} '
                                "has no nodePort")
        node = spec["node"]
        # A node's own IP is local only on that node: other nodes route the packet there.
        return _Static(node, f"{cluster.node_ip(node)}:{port['nodePort']}")
    if kind == "externalIP":
        ips = svc["spec"].get("externalIPs") or []
        ip = spec.get("ip") or (ips[0] if ips else None)
        if not ip:
            raise WorkloadError(f'error: service "{spec["service"]}" has no spec.externalIPs')
        # In-cluster clients are captured by their own node's rules; outside traffic is routed to a node.
        entry = client.node if client.kind != "external" else (spec.get("node") or client.via_node)
        return _Static(entry, f"{ip}:{port['port']}")
    # loadBalancer: in-cluster clients are captured by their own node's rules (no trip outside)
    ip = _lb_ip(svc, spec)
    if client.kind != "external":
        return _Static(client.node, f"{ip}:{port['port']}")
    return None


def _lb_ip(svc: dict[str, Any], spec: dict[str, Any]) -> str:
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ip = spec.get("ip") or next((i.get("ip") for i in ingress if i.get("ip")), None)
    if not ip:
        raise WorkloadError(f'error: service "{svc["metadata"]["name"]}" has no load-balancer IP yet '
                            "(EXTERNAL-IP <pending>); give one with target.loadBalancer.ip")
    return str(ip)


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
    svcs = [s for s in cluster.services() if s["metadata"]["name"] != "kubernetes"
            and s["metadata"].get("namespace", "default") != "kube-system"
            and s["spec"].get("type") != "ExternalName" and s["spec"].get("ports")]
    if not svcs:
        raise WorkloadError("error: no Service to send traffic to")
    svc = svcs[0]
    ns = svc["metadata"].get("namespace", "default")
    selector = svc["spec"].get("selector") or {}
    pods = [p for p in cluster.pods(ns) if _pod_ready_ip(p)]
    others = [p for p in pods if not (selector and _labels_match(selector, p["metadata"].get("labels") or {}))]
    chosen = others or pods
    if not chosen:
        raise WorkloadError(f"error: no running pods in namespace {ns} to act as clients")
    from .workload import dns, workload
    from .workload import pods as pods_builder

    return workload(pods_builder(names=[p["metadata"]["name"] for p in chosen], namespace=ns),
                    dns(svc["metadata"]["name"], int(svc["spec"]["ports"][0]["port"])),
                    connections=1000 if connections is None else connections,
                    requests_per_connection=1 if requests_per_connection is None else requests_per_connection,
                    name="default")


# ----------------------------------------------------------------------- affinity state
class _RecentLists:
    """Per-endpoint lists of (client → last time) on one node, as ``xt_recent`` or nft sets keep them.

    iptables (``xt_recent``): at most ``cap`` addresses per list, the least recently set one
    evicted; an ``--rcheck --reap`` that finds the client also removes the list's least
    recently set entry when it has expired.

    nftables (``refuse=True``): one set per endpoint, declared ``size 65535`` with a timeout
    (:data:`NFT_AFFINITY_SET_SIZE`).  Nothing is evicted: an element lives until its timeout
    expires (the kernel's set garbage collector then frees it; modelled as at once, the real
    collector runs about every second).  When a set is full, the endpoint chain's rule
    ``update @affinity-… { ip saddr }`` cannot add a *new* client: the kernel's dynset
    expression fails to allocate the element and ends that rule (``NFT_BREAK``), so
    evaluation goes on to the next rule, ``dnat to <endpoint>``.  The connection still
    reaches the endpoint its numgen chose, but the client is not remembered, and its next
    connection is balanced at random again.  Clients already in the set keep refreshing their
    timeout (an update of an existing element needs no room).

    ``member`` indexes which lists hold each client, so a connection only looks at the lists
    that can match (the rules check every list in order; the others cannot match and a
    ``--rcheck`` that finds nothing reaps nothing, so the result is the same).
    """

    def __init__(self, timeout: float, cap: int | None, reap: bool, refuse: bool = False):
        self.timeout = timeout
        self.cap = cap
        self.reap = reap
        self.refuse = refuse
        self.lists: dict[str, OrderedDict[int, float]] = {}
        self.member: dict[int, set[str]] = {}

    def choose(self, t: float, ip: int, dests: Sequence[str], pos: dict[str, int], fallback: int) -> int:
        horizon = t - self.timeout
        chosen = -1
        lists, member = self.lists, self.member
        mem = member.get(ip)
        if mem:
            cands = sorted((pos[ep], ep) for ep in mem if ep in pos) if len(mem) > 1 else \
                [(pos[ep], ep) for ep in mem if ep in pos]
            for k, ep in cands:
                lst = lists[ep]
                fresh = lst[ip] >= horizon
                if self.reap:
                    head = next(iter(lst))
                    if lst[head] < horizon:
                        del lst[head]
                        member[head].discard(ep)
                if fresh:
                    chosen = k
                    break
        if chosen < 0:
            chosen = fallback
        ep = dests[chosen]
        if ep not in lists:
            lists[ep] = OrderedDict()
        lst = lists[ep]
        if ip in lst:
            lst[ip] = t
            lst.move_to_end(ip)
        else:
            if self.cap is not None and len(lst) >= self.cap:
                if self.refuse:
                    if not _collect(lst, member, ep, horizon, self.cap):
                        return chosen  # set full: the packet is DNATed, the client not remembered
                else:
                    old, _ = lst.popitem(last=False)
                    member[old].discard(ep)
            lst[ip] = t
            if mem is None:
                member[ip] = {ep}
            else:
                mem.add(ep)
        return chosen

    def run(self, times: list[float], ips: list[int], dests: Any, pos: Any, fallback: list[int]) -> list[int]:
        """:meth:`choose` for many connections in time order (the same steps, inlined for speed).

        ``dests``/``pos`` are one list and its index for every connection, or per-connection lists.
        """
        if isinstance(pos, list):
            return [self.choose(t, ip, d, p, f) for t, ip, d, p, f in zip(times, ips, dests, pos, fallback, strict=True)]
        # One destination list for the whole run: lists by index, membership as endpoint indices.
        timeout, reap, refuse = self.timeout, self.reap, self.refuse
        cap = self.cap if self.cap is not None else sys.maxsize
        for ep in dests:
            if ep not in self.lists:
                self.lists[ep] = OrderedDict()
        lst_of = [self.lists[ep] for ep in dests]
        member: dict[int, set[int]] = {}
        out = [0] * len(times)
        for j in range(len(times)):
            t = times[j]
            ip = ips[j]
            chosen = -1
            mem = member.get(ip)
            if mem:
                horizon = t - timeout
                for k in (sorted(mem) if len(mem) > 1 else tuple(mem)):
                    lst = lst_of[k]
                    fresh = lst[ip] >= horizon
                    if reap:
                        head = next(iter(lst))
                        if lst[head] < horizon:
                            del lst[head]
                            member[head].discard(k)
                    if fresh:
                        chosen = k
                        break
            if chosen < 0:
                chosen = fallback[j]
            lst = lst_of[chosen]
            if ip in lst:
                lst[ip] = t
                lst.move_to_end(ip)
            else:
                if len(lst) >= cap:
                    if refuse:
                        if not _collect(lst, member, chosen, t - timeout, cap):
                            out[j] = chosen  # set full: DNATed, not remembered
                            continue
                    else:
                        member[lst.popitem(last=False)[0]].discard(chosen)
                lst[ip] = t
                if mem is None:
                    member[ip] = {chosen}
                else:
                    mem.add(chosen)
            out[j] = chosen
        return out


def _collect(lst: OrderedDict[int, float], member: dict[int, set[Any]], key: Any, horizon: float,
             cap: int) -> bool:
    """Free a full nft set's expired elements (oldest first); whether there is room now."""
    while lst:
        head = next(iter(lst))
        if lst[head] >= horizon:
            break
        del lst[head]
        member[head].discard(key)
    return len(lst) < cap


class _Persistence:
    """IPVS persistence templates: client → server until ``timeout`` after its last connection."""

    def __init__(self, timeout: float, sched: Scheduler):
        self.timeout = timeout
        self.sched = sched
        self.templates: dict[int, tuple[str, float]] = {}

    def choose(self, t: float, ip: int, dests: Sequence[str], end: float) -> int:
        tpl = self.templates.get(ip)
        if tpl is not None and tpl[1] >= t and tpl[0] in dests:
            i = list(dests).index(tpl[0])
        else:
            i = self.sched.pick(t, ip, dests, end)
        self.templates[ip] = (dests[i], max(end, t) + self.timeout)
        return i


# ----------------------------------------------------------------------- the simulator
def _rng(cluster: Cluster, seed: int, what: str) -> np.random.Generator:
    return np.random.default_rng([cluster.seed & 0xFFFFFFFF, seed & 0xFFFFFFFF, _stable(what)])


def _arrivals(wl: Workload, rng: np.random.Generator) -> np.ndarray:
    n = wl.connections
    if wl.arrival == "poisson":
        gaps = rng.exponential(1.0 / wl.rate, size=n)
        return np.concatenate([[0.0], np.cumsum(gaps[:-1])]) if n else np.zeros(0)
    return np.arange(n, dtype=np.float64) / wl.rate


class _Codes:
    """Strings ↔ small integer codes, so per-connection columns stay numpy arrays."""

    def __init__(self, first: Sequence[str] = ("",)):
        self.values: list[str] = []
        self.index: dict[str, int] = {}
        for v in first:
            self.code(v)

    def code(self, v: str) -> int:
        c = self.index.get(v)
        if c is None:
            c = self.index[v] = len(self.values)
            self.values.append(v)
        return c


def _pod_table(cluster: Cluster, crashed: frozenset[str], failed: frozenset[str]) -> dict[str, tuple[str, str, bool]]:
    """podIP → (pod name, node, listening) in one true snapshot."""
    out: dict[str, tuple[str, str, bool]] = {}
    for p in cluster.pods(None):
        ip = _pod_ready_ip(p)
        node = (p.get("spec") or {}).get("nodeName") or ""
        if not ip or node in failed:
            continue
        if (p.get("spec") or {}).get("hostNetwork"):
            continue
        key = f"{p['metadata'].get('namespace', 'default')}/{p['metadata']['name']}"
        out[ip] = (p["metadata"]["name"], node, key not in crashed)
    return out


def simulate(cluster: Cluster, workload: Workload | dict[str, Any] | None = None, *, seed: int = 0,
             mode: str | None = None, progress: bool | None = None, trace: TraceFn | None = None,
             resolve: ResolveFn | None = None) -> pd.DataFrame:
    """Run a workload against a cluster and return the request log (see :data:`LOG_COLUMNS`).

    Args:
        cluster: the cluster at time 0.
        workload: a :class:`Workload`, its YAML dict, or ``None`` for the cluster's stored
            Workload (else :func:`default_workload`).
        seed: mixed with ``cluster.seed``; the same inputs and seed give the same log.
        mode: kube-proxy mode to simulate (default: the cluster's).
        progress: show a progress bar (``None``: only when the run takes over 2 s).
        trace: the kube-proxy tracer (default :func:`kubelearn.proxy.trace`).
        resolve: the DNS resolver (default :func:`kubelearn.dns.resolve`).

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
    tracer = trace or _default_trace()
    clients = resolve_clients(cluster, wl)
    tl = build_timeline(cluster, wl.events, seed=seed, endpoint_slice_seconds=wl.endpoint_slice_seconds,
                        mode=mode)
    from tqdm.auto import tqdm

    bar = tqdm(total=4, desc="simulate", delay=2.0, disable=progress is False, leave=False)
    try:
        df = _Run(cluster, wl, clients, tl, seed, mode, tracer, resolve).run(bar)
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


def _target_services(cluster: Cluster, wl: Workload, df: pd.DataFrame) -> list[str]:
    """The Services (``namespace/name``) the run dialled: the target's, and any the log names."""
    out = {str(v) for v in df["service"].astype(str).unique() if str(v)}
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


class _Run:
    """One simulation: builds per-connection numpy columns, then expands them to requests."""

    def __init__(self, cluster: Cluster, wl: Workload, clients: list[Client], tl: Timeline, seed: int,
                 mode: str | None, tracer: TraceFn, resolver: ResolveFn | None):
        self.cluster, self.wl, self.clients, self.tl, self.seed = cluster, wl, clients, tl, seed
        self.mode, self.tracer, self.resolver = mode, tracer, resolver
        self.node_index = {n: i for i, n in enumerate(tl.nodes)}
        self.node_ips = {n: cluster.node_ip(n) for n in tl.nodes}
        self.pod_gateways = {n: _pod_gateway(cluster, n) for n in tl.nodes}
        self.str = _Codes()
        self.traces: dict[tuple[int, str, int, str], Any] = {}

    # -- per-connection routes -------------------------------------------------------
    def _routes(self, start: np.ndarray, client_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """entry node code, dst code, client class for every connection (-1 entry: none/unreachable)."""
        n = len(start)
        entry = np.full(n, -1, dtype=np.int64)
        dst = np.zeros(n, dtype=np.int64)
        statics = [_static_route(self.cluster, self.wl, c) for c in self.clients]
        t = self.wl.target
        if "dns" in t:
            self.nxdomain = np.zeros(n, dtype=bool)
            self._dns_routes(start, client_of, entry, dst)
        elif "loadBalancer" in t and any(s is None for s in statics):
            self._lb_routes(start, client_of, entry, dst, statics)
        else:
            ent = np.array([self.node_index.get(s.entry, -1) if s else -1 for s in statics], dtype=np.int64)
            dcode = np.array([self.str.code(s.dst) if s else 0 for s in statics], dtype=np.int64)
            entry[:] = ent[client_of]
            dst[:] = dcode[client_of]
        return entry, dst, self._classes(entry, client_of)

    def _classes(self, entry: np.ndarray, client_of: np.ndarray) -> np.ndarray:
        kinds = np.array([CLIENT_KINDS.index(c.kind) for c in self.clients], dtype=np.int64)
        own = np.array([self.node_index.get(c.node, -2) for c in self.clients], dtype=np.int64)
        k = kinds[client_of]
        local = own[client_of] == entry
        cls = np.full(len(entry), _EXTERNAL, dtype=np.int64)
        cls[(k == 0) & local] = _POD_LOCAL
        cls[(k == 0) & ~local] = _POD_REMOTE
        cls[(k == 1) & local] = _NODE_LOCAL
        cls[(k == 1) & ~local] = _NODE_REMOTE
        return cls

    def _lb_routes(self, start: np.ndarray, client_of: np.ndarray, entry: np.ndarray, dst: np.ndarray,
                   statics: list[_Static | None]) -> None:
        spec = self.wl.target["loadBalancer"]
        ns = spec.get("namespace", "default")
        svc = self.cluster.get("Service", spec["service"], ns)
        port = _service_port(svc, spec.get("port"))
        ip = _lb_ip(svc, spec)
        dcode = self.str.code(f"{ip}:{port['port']}")
        rng = _rng(self.cluster, self.seed, "traffic/lb")
        truth = self.tl.truth_index(start)
        for c, s in enumerate(statics):
            if s is not None:
                m = client_of == c
                entry[m] = self.node_index.get(s.entry, -1)
                dst[m] = self.str.code(s.dst)
        ext = np.array([s is None for s in statics])[client_of]
        for k in np.unique(truth[ext]):
            snap = self.tl.snapshots[int(k)]
            sv = snap.cluster.get("Service", spec["service"], ns)
            nodes = [n for n in lbmod.balancer_nodes(snap.cluster, sv, spec.get("kind", "cloud"), ip)
                     if n not in snap.failed_nodes]
            m = ext & (truth == k)
            dst[m] = dcode
            if nodes:
                codes = np.array([self.node_index[n] for n in nodes], dtype=np.int64)
                entry[m] = codes[rng.integers(0, len(codes), size=int(m.sum()))]
            else:
                entry[m] = -1  # no healthy node: the balancer has nowhere to send it

    def _dns_routes(self, start: np.ndarray, client_of: np.ndarray, entry: np.ndarray, dst: np.ndarray) -> None:
        resolver = self.resolver or _default_resolve()
        name, port = str(self.wl.target["dns"]), int(self.wl.target["port"])
        rng = _rng(self.cluster, self.seed, "traffic/dns")
        truth = self.tl.truth_index(start)
        answers: dict[tuple[int, str, str], tuple[list[str], float, int, int]] = {}
        strategy = self.wl.dns_strategy
        order = np.argsort(start, kind="stable")
        caches: dict[int, tuple[list[str], float, int, int, int]] = {}
        dead = self.dead
        for i in order.tolist():
            if dead[i]:
                continue  # the client is gone: it makes no lookup and no connection
            c = int(client_of[i])
            cl = self.clients[c]
            entry[i] = self.node_index[cl.node]
            t = float(start[i])
            cache = caches.get(c)
            if cache is None or t >= cache[1]:
                k = int(truth[i])
                key = (k, cl.namespace, cl.name if cl.kind == "pod" else "")
                if key not in answers:
                    answers[key] = self._query(resolver, k, cl, name, port)
                recs, ttl, sv, pn = answers[key]
                recs = list(recs)
                # CoreDNS's `loadbalance` plugin (in kubeadm's default Corefile) shuffles A records per answer.
                if len(recs) > 1:
                    perm = rng.permutation(len(recs))
                    recs = [recs[j] for j in perm]
                ttl = self.wl.dns_ttl if self.wl.dns_ttl is not None else ttl
                cache = (recs, t + ttl, 0, sv, pn)
            recs, expiry, counter, sv, pn = cache
            if not recs:
                self.nxdomain[i] = True
                dst[i] = self.str.code("")
                caches[c] = cache
                continue
            if strategy == "first":
                ip = recs[0]
            elif strategy == "random":
                ip = recs[int(rng.integers(0, len(recs)))]
            else:
                ip = recs[counter % len(recs)]
            caches[c] = (recs, expiry, counter + 1, sv, pn)
            dst[i] = self.str.code(f"{ip}:{port}")
            self.dns_svc[i] = sv
            self.dns_port[i] = pn

    def _query(self, resolver: ResolveFn, k: int, cl: Client, name: str,
               port: int) -> tuple[list[str], float, int, int]:
        """The answer at snapshot ``k``, with the codes of the Service it names and of its port's name."""
        snap = self.tl.snapshots[k].cluster
        recs, ttl, owner = _dns_query_owner(resolver, snap, cl, name)
        svc, port_name = _dns_service(snap, owner, port) if recs else ("", "")
        return recs, ttl, self.str.code(svc), self.str.code(port_name)

    def _client_deaths(self) -> np.ndarray:
        """When each client stops sending: a pod client at the first snapshot where it is gone
        (deleted, grace period over, replaced by a new pod of the same name) or crashed; never
        for nodes and external hosts (a lost node's clients keep trying: their connections time out)."""
        out = np.full(len(self.clients), np.inf)
        snaps = self.tl.snapshots
        for c, cl in enumerate(self.clients):
            if cl.kind != "pod":
                continue
            key = f"{cl.namespace}/{cl.name}"
            for k in range(1, len(snaps)):
                snap = snaps[k]
                pod = snap.cluster.get("Pod", cl.name, cl.namespace) if snap.cluster.has(
                    "Pod", cl.name, cl.namespace) else None
                if (pod is None or key in snap.crashed or _pod_ready_ip(pod) != cl.ip
                        or (pod.get("spec") or {}).get("nodeName") != cl.node):
                    out[c] = snap.time
                    break
        return out

    # -- endpoint choice ----------------------------------------------------------------
    def _trace(self, view: int, entry: int, cls: int, dst: int, src_ip: str, refresh: bool = False) -> Any:
        key = (view, self.tl.nodes[entry], cls, self.str.values[dst])
        tr = self.traces.get(key)
        if tr is None or refresh:
            node = self.tl.nodes[entry]
            snap = self.tl.snapshots[view].cluster
            tr = self.tracer(snap, node, src_ip, self.str.values[dst], self.wl.protocol, mode=self.mode)
            self.traces[key] = tr
        return tr

    def run(self, bar: Any) -> pd.DataFrame:
        wl = self.wl
        n = wl.connections
        rng = _rng(self.cluster, self.seed, "traffic/arrivals")
        start = _arrivals(wl, rng)
        nclients = len(self.clients)
        client_of = (np.arange(n, dtype=np.int64) % nclients) if nclients else np.zeros(n, dtype=np.int64)
        self.nxdomain = np.zeros(n, dtype=bool)
        self.dns_svc = np.zeros(n, dtype=np.int64)
        self.dns_port = np.zeros(n, dtype=np.int64)
        # a client pod that is gone (deleted, its grace period over) or crashed sends nothing more
        self.client_death = self._client_deaths()
        self.dead = start >= self.client_death[client_of] if nclients else np.zeros(n, dtype=bool)
        entry, dst, cls = self._routes(start, client_of)
        bar.update(1)
        client_ips = [c.ip for c in self.clients]
        client_ip_int = np.array([ip_to_int(ip) if ":" not in ip else 0 for ip in client_ips], dtype=np.int64)
        # view index per connection (per entry node)
        view = np.zeros(n, dtype=np.int64)
        if len(self.tl.snapshots) > 1:
            for e in np.unique(entry[entry >= 0]):
                m = entry == e
                view[m] = self.tl.view_index(int(e), start[m])
        truth = self.tl.truth_index(start)
        # entry node lost: nothing answers
        failed_entry = np.zeros(n, dtype=bool)
        for k, snap in enumerate(self.tl.snapshots):
            for fn in snap.failed_nodes:
                if fn in self.node_index:
                    failed_entry |= (truth == k) & (entry == self.node_index[fn])
        # group by (view, entry, class, dst)
        valid = (entry >= 0) & ~self.nxdomain & ~failed_entry & ~self.dead
        ep_code = np.zeros(n, dtype=np.int64)  # endpoint string code ("" = none)
        verdict = np.full(n, 2, dtype=np.int8)  # 0 ok-DNAT, 1 refused, 2 dropped, 3 direct
        masq = np.zeros(n, dtype=bool)
        rules = np.zeros(n, dtype=np.int32)
        svc_code = np.zeros(n, dtype=np.int64)
        portname_code = np.zeros(n, dtype=np.int64)
        D = max(len(self.str.values), 1)
        C = 5
        E = max(len(self.tl.nodes), 1)
        key = ((view * E + np.maximum(entry, 0)) * C + cls) * D + dst
        vidx = np.flatnonzero(valid)
        ukeys, first, inv = np.unique(key[vidx], return_index=True, return_inverse=True)
        groups: list[Any] = []
        members = np.split(vidx[np.argsort(inv, kind="stable")], np.cumsum(np.bincount(inv))[:-1]) if len(vidx) else []
        masq_of: list[tuple[np.ndarray, np.ndarray]] = []
        for g, fi in enumerate(first.tolist()):
            i = int(vidx[fi])
            rep = client_ips[int(client_of[i])]
            tr = self._trace(int(view[i]), int(entry[i]), int(cls[i]), int(dst[i]), rep)
            dest_ips = {d.endpoint.rsplit(":", 1)[0] for d in tr.destinations}
            if rep in dest_ips:
                # The tracer masquerades a pod reaching itself (hairpin); trace again from a member that
                # is not an endpoint so the group's flags say only what applies to every member.
                alt = next((client_ips[c] for c in np.unique(client_of[members[g]]).tolist()
                            if client_ips[c] not in dest_ips), None)
                if alt is not None:
                    rep = alt
                    tr = self._trace(int(view[i]), int(entry[i]), int(cls[i]), int(dst[i]), rep, refresh=True)
            groups.append(tr)
            # per-destination masquerade, without the representative's own hairpin (added per connection below)
            others = [bool(d.masquerade) for d in tr.destinations
                      if d.endpoint.rsplit(":", 1)[0] != rep and hasattr(d, "masquerade")]
            flags = []
            for d in tr.destinations:
                if not hasattr(d, "masquerade"):
                    flags.append(bool(getattr(tr, "masquerade", False)))
                elif d.endpoint.rsplit(":", 1)[0] == rep and others:
                    flags.append(any(others))
                else:
                    flags.append(bool(d.masquerade))
            codes = np.array([self.str.code(d.endpoint) for d in tr.destinations], dtype=np.int64)
            masq_of.append((codes, np.array(flags, dtype=bool)))
        bar.update(1)
        group_of = np.full(n, -1, dtype=np.int64)
        group_of[vidx] = inv
        rng_pick = _rng(self.cluster, self.seed, "traffic/endpoints")
        u = rng_pick.random(n)
        end = start + wl.connection_seconds
        # stateful machines are keyed per (entry node, dst): that is one SVC chain / virtual server
        stateful: dict[tuple[int, int], list[int]] = {}
        for g, tr in enumerate(groups):
            m = vidx[inv == g]
            v = str(getattr(tr, "verdict", "NONE"))
            svc_code[m] = self.str.code(str(getattr(tr, "service", "") or ""))
            portname_code[m] = self.str.code(str(getattr(tr, "port_name", "") or ""))
            rules[m] = int(getattr(tr, "rules_walked", 0) or 0)
            if not tr.destinations:
                masq[m] = bool(getattr(tr, "masquerade", False))
            if v == "REJECT":
                verdict[m] = 1
            elif v == "DROP":
                verdict[m] = 2
            elif v == "NONE":
                verdict[m] = 3  # no rule: the packet is routed to the dialled address itself
                ip = self.str.values[int(dst[m[0]])].rsplit(":", 1)[0]
                ep_code[m] = self.str.code(self.str.values[int(dst[m[0]])])
                _ = ip
            else:
                dests = [d.endpoint for d in tr.destinations]
                if not dests:
                    verdict[m] = 2
                    continue
                verdict[m] = 0
                sched = getattr(tr, "scheduler", None)
                aff = getattr(tr, "affinity_timeout", None)
                if sched is not None or aff:
                    stateful.setdefault((int(entry[m[0]]), int(dst[m[0]])), []).append(g)
                    continue
                p = np.array([d.probability for d in tr.destinations], dtype=np.float64)
                cum = np.cumsum(p / p.sum())
                cum[-1] = 1.0
                pick = np.searchsorted(cum, u[m], side="right")
                codes = np.array([self.str.code(d) for d in dests], dtype=np.int64)
                ep_code[m] = codes[pick]
        if "dns" in wl.target:
            # a headless name answers with pod IPs, which no Service rule matches: the Service is the
            # one whose name the client resolved (and its port the one serving the dialled port)
            fill = (svc_code == 0) & (self.dns_svc > 0)
            svc_code[fill] = self.dns_svc[fill]
            fill &= portname_code == 0
            portname_code[fill] = self.dns_port[fill]
        for (e, d), gs in stateful.items():
            self._stateful(gs, groups, group_of, start, end, u, client_of, client_ip_int, ep_code,
                           self.tl.nodes[e], self.str.values[d])
        for g, (mcodes, mflags) in enumerate(masq_of):
            if mflags.any():
                m = members[g]
                masq[m] = np.isin(ep_code[m], mcodes[mflags])
        bar.update(1)
        df = self._finish(start, end, client_of, entry, dst, ep_code, verdict, masq, rules, svc_code,
                          portname_code, truth, failed_entry)
        bar.update(1)
        return df

    def _stateful(self, gs: list[int], groups: list[Any], group_of: np.ndarray, start: np.ndarray,
                  end: np.ndarray, u: np.ndarray, client_of: np.ndarray, client_ip_int: np.ndarray,
                  ep_code: np.ndarray, node: str, dst: str) -> None:
        gset = np.array(gs, dtype=np.int64)
        idx = np.flatnonzero(np.isin(group_of, gset))
        if len(idx) > 1 and not bool(np.all(np.diff(start[idx]) >= 0)):
            idx = idx[np.argsort(start[idx], kind="stable")]
        tr0 = groups[gs[0]]
        sched_name = getattr(tr0, "scheduler", None)
        aff = getattr(tr0, "affinity_timeout", None)
        dests_of = {g: [d.endpoint for d in groups[g].destinations] for g in gs}
        codes_of = {g: np.array([self.str.code(x) for x in dests_of[g]], dtype=np.int64) for g in gs}
        gi = group_of[idx]
        ips = client_ip_int[client_of[idx]]
        chosen = np.empty(len(idx), dtype=np.int64)
        if sched_name is not None:
            vip = dst.rsplit(":", 1)[0]
            sched = make_scheduler(str(sched_name), vip)
            if not aff and len(gs) == 1 and sched.name in ("rr", "wrr", "sh", "dh"):
                dl = dests_of[gs[0]]
                if sched.name in ("rr", "wrr"):
                    chosen = sched.rotation(dl, len(idx))
                elif sched.name == "sh":
                    chosen = hash_bucket(ips) % len(dl)
                else:
                    chosen = np.full(len(idx), int(hash_bucket(ip_to_int(vip))) % len(dl), dtype=np.int64)
            else:
                pers = _Persistence(float(aff), sched) if aff else None
                t_l, ip_l, g_l, e_l = start[idx].tolist(), ips.tolist(), gi.tolist(), end[idx].tolist()
                for j in range(len(idx)):
                    dl = dests_of[g_l[j]]
                    if pers is not None:
                        chosen[j] = pers.choose(t_l[j], ip_l[j], dl, e_l[j])
                    else:
                        chosen[j] = sched.pick(t_l[j], ip_l[j], dl, e_l[j])
        else:
            mode = (self.mode or self.cluster.proxy_mode)
            nft = mode == "nftables"
            lists = _RecentLists(float(aff or 0), NFT_AFFINITY_SET_SIZE if nft else XT_RECENT_IP_LIST_TOT,
                                 reap=not nft, refuse=nft)
            # the statistic/numgen choice for a client with no fresh entry, drawn up front (vectorised)
            fb = np.empty(len(idx), dtype=np.int64)
            for g in gs:
                m = gi == g
                p = np.array([d.probability for d in groups[g].destinations], dtype=np.float64)
                cum = np.cumsum(p / p.sum())
                cum[-1] = 1.0
                fb[m] = np.searchsorted(cum, u[idx[m]], side="right")
            t_l, ip_l, g_l, fb_l = start[idx].tolist(), ips.tolist(), gi.tolist(), fb.tolist()
            pos_of = {g: {ep: k for k, ep in enumerate(dests_of[g])} for g in gs}
            out = lists.run(t_l, ip_l, [dests_of[g] for g in g_l] if len(gs) > 1 else dests_of[gs[0]],
                            [pos_of[g] for g in g_l] if len(gs) > 1 else pos_of[gs[0]], fb_l)
            chosen = np.array(out, dtype=np.int64)
        for g in gs:
            m = gi == g
            ep_code[idx[m]] = codes_of[g][chosen[m]]
        _ = node

    # -- outcomes and the request rows -----------------------------------------------------
    def _finish(self, start: np.ndarray, end: np.ndarray, client_of: np.ndarray, entry: np.ndarray,
                dst: np.ndarray, ep_code: np.ndarray, verdict: np.ndarray, masq: np.ndarray, rules: np.ndarray,
                svc_code: np.ndarray, portname_code: np.ndarray, truth: np.ndarray,
                failed_entry: np.ndarray) -> pd.DataFrame:
        wl = self.wl
        n = len(start)
        S = self.str
        outcome = np.full(n, OUTCOMES.index("dropped"), dtype=np.int8)
        pod_code = np.zeros(n, dtype=np.int64)
        podnode_code = np.zeros(n, dtype=np.int64)
        death = np.full(n, np.inf)
        tables = [_pod_table(s.cluster, s.crashed, s.failed_nodes) for s in self.tl.snapshots]
        reaches = (verdict == 0) | (verdict == 3)
        # endpoint status in the true snapshot at connection start, by unique (snapshot, endpoint)
        E = len(S.values)
        pair = truth * E + ep_code
        ri = np.flatnonzero(reaches)
        up, pinv = np.unique(pair[ri], return_inverse=True)
        times = self.tl.times
        for j, pv in enumerate(up.tolist()):
            k, ec = divmod(int(pv), E)
            ep = S.values[ec]
            ip = ep.rsplit(":", 1)[0]
            m = ri[pinv == j]
            info = tables[k].get(ip)
            direct = verdict[m] == 3
            if info is None:
                # nobody has this address any more (pod deleted, its node lost): the SYN goes unanswered;
                # a node's own address with no rule for the port answers with a RST
                refused = direct.all() and ip in self.node_ips.values()
                outcome[m] = OUTCOMES.index("refused") if refused else OUTCOMES.index("dropped")
                continue
            name, pnode, listening = info
            pod_code[m] = S.code(name)
            podnode_code[m] = S.code(pnode)
            outcome[m] = OUTCOMES.index("ok") if listening else OUTCOMES.index("refused")
            # when does this pod stop answering (deleted, crashed, node lost)?
            for kk in range(k + 1, len(tables)):
                later = tables[kk].get(ip)
                if later is None or later[0] != name or not later[2]:
                    death[m] = times[kk]
                    break
        # when each connection's path is lost: its entry node or its pod's node fails.  A dead node
        # sends no RST: the client's packets go unanswered until its TCP gives up (a timeout).
        fail_at = {nm: np.inf for nm in self.tl.nodes}
        for kk, snap in enumerate(self.tl.snapshots):
            for fn in snap.failed_nodes:
                if fn in fail_at and not np.isfinite(fail_at[fn]):
                    fail_at[fn] = times[kk]
        node_fail = np.array([fail_at[nm] for nm in self.tl.nodes] + [np.inf], dtype=np.float64)
        lost_at = node_fail[np.where(entry >= 0, entry, len(self.tl.nodes))]
        if np.isfinite(node_fail).any():
            name_node = {S.code(nm): i for i, nm in enumerate(self.tl.nodes)}
            pn_idx = np.array([name_node.get(int(c), len(self.tl.nodes)) for c in podnode_code], dtype=np.int64)
            lost_at = np.minimum(lost_at, node_fail[pn_idx])
        outcome[verdict == 1] = OUTCOMES.index("refused")
        outcome[verdict == 2] = OUTCOMES.index("dropped")
        outcome[self.nxdomain] = OUTCOMES.index("nxdomain")
        lost = failed_entry | ((entry < 0) & ~self.nxdomain)
        outcome[lost] = OUTCOMES.index("dropped")
        # endpoint: where the rules sent it (even if nobody answered); pod: who is behind it
        no_dnat = ~reaches | lost
        ep_code[no_dnat] = 0
        pod_code[no_dnat] = 0
        podnode_code[no_dnat] = 0
        # the source address the pod sees
        src_codes = np.array([S.code(c.ip) for c in self.clients], dtype=np.int64)
        node_ip_codes = np.array([S.code(self.node_ips[nm]) for nm in self.tl.nodes] + [0], dtype=np.int64)
        src = src_codes[client_of]
        # hairpin: a pod reaching itself through the Service is masqueraded by its KUBE-SEP chain
        ep_ip = np.array([v.rsplit(":", 1)[0] for v in S.values], dtype=object)
        hair = np.zeros(n, dtype=bool)
        ok_like = ep_code > 0
        if ok_like.any():
            src_str = np.array([c.ip for c in self.clients], dtype=object)[client_of[ok_like]]
            hair[ok_like] = ep_ip[ep_code[ok_like]] == src_str
        masq_all = (masq | hair) & (verdict == 0)
        # MASQUERADE picks the address of the interface the packet leaves by: towards a pod on
        # another node that is the node's InternalIP; towards a pod on the entry node itself it
        # is the node's end of the pod's veth, the pod network's gateway (.1 of the node's
        # podCIDR, as kindnet's ptp plugin sets it up).  The kernel lab confirms both.
        entry_i = np.where(entry >= 0, entry, len(self.tl.nodes))
        gw_codes = np.array([S.code(self.pod_gateways[nm]) for nm in self.tl.nodes] + [0], dtype=np.int64)
        node_name_codes = np.array([S.code(nm) for nm in self.tl.nodes] + [-1], dtype=np.int64)
        same_node = podnode_code == node_name_codes[entry_i]
        snat = np.where(same_node, gw_codes[entry_i], node_ip_codes[entry_i])
        seen = np.where(masq_all, snat, src)
        seen = np.where(pod_code > 0, seen, 0)
        # expand connections into requests
        K = wl.requests_per_connection
        conn = np.repeat(np.arange(n, dtype=np.int64), K)
        jr = np.tile(np.arange(K, dtype=np.float64), n)
        t = start[conn] + jr * (wl.connection_seconds / K)
        # a dead client sends nothing: its later connections are not made, and the rest of an open
        # connection's requests are never sent (connection numbers keep their gaps)
        if np.isfinite(self.client_death).any():
            keep = t < self.client_death[client_of[conn]]
            conn, jr, t = conn[keep], jr[keep], t[keep]
        nrows = len(conn)
        out_rows = outcome[conn].copy()
        # an open connection fails at the first of: its pod stops (a RST: reset) or a node on its
        # path is lost (no answer at all: dropped, after the retransmission timeout)
        was_ok = out_rows == OUTCOMES.index("ok")
        lost_c = lost_at[conn]
        cut = np.minimum(death[conn], lost_c)
        hung = was_ok & (t >= cut) & (lost_c <= death[conn])
        reset = was_ok & (t >= cut) & ~hung
        out_rows[reset] = OUTCOMES.index("reset")
        out_rows[hung] = OUTCOMES.index("dropped")
        # latency (illustrative): RTT by path, per-rule cost, service time
        rng = _rng(self.cluster, self.seed, "traffic/latency")
        entry_c = entry[conn]
        podnode_name_codes = podnode_code[conn]
        own_node_code = np.array([S.code(c.node) for c in self.clients], dtype=np.int64)[client_of][conn]
        cross = podnode_name_codes != own_node_code
        rtt = np.where(cross, 0.25, 0.05)
        lat = rtt + 0.002 * rules[conn] + rng.exponential(1.0, size=nrows)
        lat = np.where(jr == 0, lat + rtt, lat)  # the first request pays for the handshake
        lat = np.where(out_rows == OUTCOMES.index("refused"), rtt, lat)
        lat = np.where(out_rows == OUTCOMES.index("reset"), rtt, lat)
        lat = np.where(out_rows == OUTCOMES.index("dropped"), SYN_TIMEOUT_MS, lat)
        lat = np.where(hung, RETRANSMIT_TIMEOUT_MS, lat)
        lat = np.where(out_rows == OUTCOMES.index("nxdomain"), 0.5, lat)
        cats = S.values
        kinds = np.array([CLIENT_KINDS.index(c.kind) for c in self.clients], dtype=np.int8)
        via = VIAS.index(_via(wl))
        entry_codes = np.array([S.code(nm) for nm in self.tl.nodes] + [0], dtype=np.int64)
        name_codes = np.array([S.code(c.name) for c in self.clients], dtype=np.int64)

        def cat(codes: np.ndarray) -> pd.Categorical:
            # only the strings this column uses become its categories (O(n): no sort of the rows)
            used = np.flatnonzero(np.bincount(codes, minlength=len(cats)))
            remap = np.zeros(len(cats), dtype=np.int32)
            remap[used] = np.arange(len(used), dtype=np.int32)
            return _from_codes(remap[codes], [cats[int(c)] for c in used])

        data = {
            "time": t,
            "connection": conn,
            "client": cat(name_codes[client_of][conn]),
            "client_kind": _from_codes(kinds[client_of][conn], list(CLIENT_KINDS)),
            "src_ip": cat(src[conn]),
            "dst": cat(dst[conn]),
            "via": _from_codes(np.full(nrows, via, dtype=np.int8), list(VIAS)),
            "entry_node": cat(entry_codes[np.where(entry_c >= 0, entry_c, len(self.tl.nodes))]),
            "service": cat(svc_code[conn]),
            "port_name": cat(portname_code[conn]),
            "endpoint": cat(ep_code[conn]),
            "pod": cat(pod_code[conn]),
            "pod_node": cat(podnode_code[conn]),
            "seen_src_ip": cat(seen[conn]),
            "outcome": _from_codes(out_rows, list(OUTCOMES)),
            "latency_ms": lat.astype(np.float32),
            "rules_walked": rules[conn].astype(np.int32),
        }
        df = pd.DataFrame(data, columns=list(LOG_COLUMNS))
        _ = entry_c
        return df


def _from_codes(codes: np.ndarray, categories: list[str]) -> pd.Categorical:
    return cast(Any, pd.Categorical).from_codes(codes, categories)  # the stubs want an Index; a list is fine


def _via(wl: Workload) -> str:
    t = wl.target
    return {"dns": "dns", "clusterIP": "clusterip", "nodePort": "nodeport", "externalIP": "externalip",
            "loadBalancer": "loadbalancer"}[next(k for k in ("dns", "clusterIP", "nodePort", "externalIP",
                                                               "loadBalancer") if k in t)]


def _dns_query(resolver: ResolveFn, cluster: Cluster, cl: Client, name: str) -> tuple[list[str], float]:
    """The A records a client pod gets for ``name`` and their TTL (none: NXDOMAIN/NODATA/SERVFAIL)."""
    recs, ttl, _ = _dns_query_owner(resolver, cluster, cl, name)
    return recs, ttl


def _dns_query_owner(resolver: ResolveFn, cluster: Cluster, cl: Client, name: str) -> tuple[list[str], float, str]:
    """:func:`_dns_query` and the name that owns the A records (the FQDN that answered).

    A client pod asks with its own resolv.conf (``dnsPolicy: ClusterFirst``: CoreDNS and the
    ``<ns>.svc.cluster.local`` search list).  A client *node* is not a pod: its processes use
    the node's own ``/etc/resolv.conf``, which on kind points at Docker's embedded resolver
    (the Docker network's gateway), with no cluster search domains.  kubelearn's DNS model
    gives that view to a pod with ``hostNetwork: true`` and ``dnsPolicy: Default``, so the
    node asks as one: ``my-service`` is NXDOMAIN there and a cluster FQDN does not resolve
    (the model answers SERVFAIL: it is forwarded upstream), and the connection's outcome is
    ``nxdomain``.  A node reaches a Service by its ClusterIP, not by its name.
    """
    kw: dict[str, Any] = {"namespace": cl.namespace}
    if cl.kind == "pod":
        kw["from_pod"] = cl.name
    elif cl.kind == "node":
        kw["from_pod"] = {"apiVersion": "v1", "kind": "Pod",
                          "metadata": {"name": cl.name, "namespace": cl.namespace},
                          "spec": {"nodeName": cl.node, "hostNetwork": True, "dnsPolicy": "Default"}}
    res = resolver(cluster, name, "A", **kw)
    recs = [r for r in (getattr(res, "answer", None) or []) if _rec(r, "type") == "A"]
    if str(getattr(res, "rcode", "NOERROR")).upper() != "NOERROR" or not recs:
        return [], 5.0, ""  # simplification: a failed lookup is retried after 5 s
    return ([str(_rec(r, "data")) for r in recs], float(min(_rec(r, "ttl") or 30 for r in recs)),
            str(_rec(recs[0], "name") or ""))


def _dns_service(cluster: Cluster, owner: str, port: int) -> tuple[str, str]:
    """The Service (``namespace/name``) a cluster DNS name belongs to, and the name of its port serving ``port``.

    ``<svc>.<ns>.svc.<zone>`` and ``<hostname>.<svc>.<ns>.svc.<zone>`` (a headless Service's
    pod records) name a Service; anything else (upstream names, pod A records) does not.  The
    port name comes from the Service's EndpointSlices (``ports[].port`` is the target port a
    pod listens on, which is what a client of a headless Service dials), else from a Service
    port numbered ``port``.
    """
    zone = cluster.topology.domain.lower().strip(".")
    name = owner.lower().rstrip(".")
    if not name.endswith("." + zone):
        return "", ""
    labels = name[: -len(zone) - 1].split(".")
    if len(labels) not in (3, 4) or labels[-1] != "svc":
        return "", ""
    svc_name, ns = labels[-3], labels[-2]
    if not cluster.has("Service", svc_name, ns):
        return "", ""
    svc = cluster.get("Service", svc_name, ns)
    names = {str(p.get("name") or "") for sl in cluster.endpoint_slices(ns, svc_name)
             for p in sl.get("ports") or () if p.get("port") == port}
    if not names:
        names = {str(p.get("name") or "") for p in svc["spec"].get("ports") or ()
                 if p.get("port") == port or p.get("targetPort") == port}
    return f"{ns}/{svc_name}", (names.pop() if len(names) == 1 else "")


def _rec(r: Any, field: str) -> Any:
    return r.get(field) if isinstance(r, dict) else getattr(r, field, None)


def predicted_shares(cluster: Cluster, workload: Workload | dict[str, Any] | None = None, *,
                     mode: str | None = None, trace: TraceFn | None = None,
                     resolve: ResolveFn | None = None) -> pd.DataFrame:
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
    tracer = trace or _default_trace()
    clients = resolve_clients(cluster, wl)
    pods = _pod_table(cluster, frozenset(), frozenset())
    shares: dict[str, float] = {}
    weight = 1.0 / len(clients)

    def add(ep: str, w: float) -> None:
        info = pods.get(ep.rsplit(":", 1)[0]) if ep else None
        key = info[0] if info else ""
        shares[key] = shares.get(key, 0.0) + w

    def via_trace(node: str, c: Client, dst: str, w: float) -> None:
        tr = tracer(cluster, node, c.ip, dst, wl.protocol, mode=mode)
        v = str(getattr(tr, "verdict", "NONE"))
        if v == "NONE":
            add(dst, w)
            return
        if v != "DNAT" or not tr.destinations:
            add("", w)
            return
        dests = list(tr.destinations)
        sched = getattr(tr, "scheduler", None)
        if sched in ("sh", "dh"):
            vip = dst.rsplit(":", 1)[0]
            b = int(hash_bucket(ip_to_int(c.ip if sched == "sh" else vip)))
            add(dests[b % len(dests)].endpoint, w)
            return
        total = sum(d.probability for d in dests)
        for d in dests:
            add(d.endpoint, w * d.probability / total)

    resolver = None
    reason = ("the workload has events: the rules and the pods change during the run"
              if wl.events else "")
    for c in clients:
        s = _static_route(cluster, wl, c)
        if s is not None:
            via_trace(s.entry, c, s.dst, weight)
        elif "dns" in wl.target:
            resolver = resolver or resolve or _default_resolve()
            recs, _ = _dns_query(resolver, cluster, c, str(wl.target["dns"]))
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
            ip = _lb_ip(svc, spec)
            port = _service_port(svc, spec.get("port"))
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


# keep the names used only for typing/export
_ = (NotFoundError, conform)


def _pod_gateway(cluster: Cluster, node: str) -> str:
    """The node's own address on its pod network: the first host of ``spec.podCIDR``."""
    spec = cluster.get("Node", node).get("spec", {})
    cidr = spec.get("podCIDR") or (spec.get("podCIDRs") or [None])[0]
    if not cidr:
        return cluster.node_ip(node)
    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))
