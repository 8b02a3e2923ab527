"""The simulator's engine: every connection through the rules of the node where it enters.

This is lesson 04's picture, step by step.  For each connection:

1. **the client** (:mod:`~kubelearn.traffic.clients`): connections go to the workload's
   clients in turn, at the arrival times; a client that is gone sends nothing more;
2. **its entry node and the address it dials** (:mod:`~kubelearn.traffic.routes`,
   :mod:`~kubelearn.traffic.dns_client`): the client pod's node, the node a NodePort was
   dialled on, the node a load balancer picked;
3. **the trace of the rules that node has at that moment** (:class:`TraceBook`): each node's
   kube-proxy syncs a little after every change (:mod:`~kubelearn.traffic.events`), and
   :func:`kubelearn.proxy.trace` follows the connection through *those* rules.  A trace depends
   only on (the node's rules version, the node, the :class:`~kubelearn.traffic.routes.SourceClass`,
   the address), so it is computed once per distinct key and shared;
4. **the kernel state the trace consults**: none for a plain Service (a random branch with the
   trace's probabilities), ``xt_recent`` lists (:mod:`~kubelearn.traffic.xt_recent`) or nftables
   affinity sets (:mod:`~kubelearn.traffic.nft_sets`) for ClientIP affinity, the IPVS scheduler
   and persistence templates (:mod:`~kubelearn.traffic.ipvs_schedulers`), all per node;
5. **the outcome**: the pod behind the endpoint answers (``ok``), is not listening
   (``refused``) or is gone (``dropped``); then conntrack keeps every request of the connection
   on that pod (:mod:`~kubelearn.traffic.conntrack`).

Connections whose trace consults no state are independent draws, so they are chosen all at
once with numpy (:meth:`Engine.choose_stateless`, THE FAST PATH); connections that consult
kernel state go one at a time, in time order (:meth:`Engine.choose_stateful`), through the
state's own ``choose``.  The oracle test (``tests/test_traffic_oracle.py``) routes every
connection one at a time and checks that both give the same distributions.

One exception, marked where it happens (:meth:`Engine.affinity`): when no affinity entry can
expire during the run, the affinity rules have a closed form over the whole run
(:func:`kubelearn.traffic.xt_recent.choose_without_expiry`,
:func:`kubelearn.traffic.nft_sets.choose_without_expiry`), which
``tests/test_traffic_kernel_state.py`` proves equal, connection for connection, to the
per-connection state.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .. import objects
from ..cluster import Cluster
from ..proxy import Trace, trace
from ..proxy.config import node_zones
from . import conntrack, nft_sets, xt_recent
from . import lb as lbmod
from .clients import Client, pod_ready_ip, stream
from .dns_client import resolve_per_connection
from .events import Timeline
from .ipvs_schedulers import Persistence, Scheduler, hash_bucket, ip_to_int, make_scheduler
from .log import CLIENT_KINDS, LOG_COLUMNS, OUTCOMES, VIAS
from .nft_sets import NFT_AFFINITY_SET_SIZE, AffinitySets
from .routes import Route, SourceClass, lb_ip, service_port, static_routes, via
from .strings import Strings, from_codes
from .workload import Workload
from .xt_recent import XT_RECENT_IP_LIST_TOT, RecentLists

__all__ = ["Engine", "TraceBook", "pod_table"]

NO_NODE = -1  # a connection that enters no node (lost before it got there, or never made)


class Progress(Protocol):
    """What the engine reports progress to (a ``tqdm`` bar)."""

    def update(self, n: float | None = 1) -> bool | None: ...


class TraceBook:
    """The memoised traces: one :func:`kubelearn.proxy.trace` per (rules version, node, source class, address).

    A node's rules tell sources apart only by their :class:`~kubelearn.traffic.routes.SourceClass`,
    so the trace of the first client of a class answers for all of them, with one exception:
    a pod reaching *itself* through a Service is masqueraded by its endpoint chain's hairpin
    rule.  :meth:`branch_masquerade` gives each branch's masquerade for a client that is not
    that endpoint; the engine adds the hairpin per connection.
    """

    def __init__(self, tl: Timeline, protocol: str, mode: str | None):
        self.tl, self.protocol, self.mode = tl, protocol, mode
        self.traces: list[Trace] = []
        self.masq: list[tuple[bool, ...]] = []
        self._index: dict[tuple[int, str, SourceClass, str], int] = {}

    def lookup(self, view: int, node: str, source: SourceClass, dst: str, sources: list[str]) -> int:
        """The index of the trace for this key, traced from ``sources[0]`` (or from another of
        ``sources`` when the first is one of the trace's own endpoints)."""
        key = (view, node, source, dst)
        i = self._index.get(key)
        if i is not None:
            return i
        rules_of = self.tl.snapshots[view].cluster
        tr = trace(rules_of, node, sources[0], dst, self.protocol, mode=self.mode)
        endpoints = {d.endpoint.rsplit(":", 1)[0] for d in tr.destinations}
        if sources[0] in endpoints:
            other = next((s for s in sources if s not in endpoints), None)
            if other is not None:
                tr = trace(rules_of, node, other, dst, self.protocol, mode=self.mode)
        self.traces.append(tr)
        self.masq.append(self.branch_masquerade(tr, sources[0] if sources[0] in endpoints else ""))
        i = self._index[key] = len(self.traces) - 1
        return i

    @staticmethod
    def branch_masquerade(tr: Trace, hairpin_source: str) -> tuple[bool, ...]:
        """Each destination's masquerade for a source that is not that destination.

        When every client of the key is an endpoint, the trace was made from one of them and
        its own branch shows the hairpin; that branch then takes the others' answer (what
        decides masquerading for a non-hairpin source is decided before the endpoint choice).
        """
        own = [d.endpoint.rsplit(":", 1)[0] == hairpin_source for d in tr.destinations]
        others = [d.masquerade for d, mine in zip(tr.destinations, own, strict=True) if not mine]
        return tuple((any(others) if others else d.masquerade) if mine else d.masquerade
                     for d, mine in zip(tr.destinations, own, strict=True))


@dataclass
class Connections:
    """The run's connections, one array element each (a struct of arrays)."""

    start: np.ndarray  # seconds, non-decreasing: connections are numbered in time order
    client: np.ndarray  # index into the clients
    sends: np.ndarray  # False: its client is gone, the connection is never made
    entry: np.ndarray  # node index (NO_NODE: none)
    dst: np.ndarray  # Strings code of the "IP:port" dialled
    nxdomain: np.ndarray  # the name did not resolve
    dns_service: np.ndarray  # Strings code: the Service whose DNS name answered
    dns_port_name: np.ndarray
    truth: np.ndarray  # index of the true snapshot at the start
    trace: np.ndarray  # index into the TraceBook (-1: not traced)
    branch: np.ndarray  # the trace destination chosen (-1: none)

    def subset(self, index: np.ndarray) -> Connections:
        """The connections at ``index``."""
        return Connections(**{f.name: getattr(self, f.name)[index] for f in fields(self)})


def pod_table(snapshot_cluster: Cluster, crashed: frozenset[str],
              failed: frozenset[str]) -> dict[str, tuple[str, str, bool]]:
    """podIP → (pod name, node, listening) in one true snapshot (pods on lost nodes are unreachable)."""
    out: dict[str, tuple[str, str, bool]] = {}
    for p in snapshot_cluster.pods(None):
        ip = pod_ready_ip(p)
        node = (p.get("spec") or {}).get("nodeName") or ""
        if not ip or node in failed or (p.get("spec") or {}).get("hostNetwork"):
            continue
        key = f"{p['metadata'].get('namespace', 'default')}/{p['metadata']['name']}"
        out[ip] = (objects.name(p), node, key not in crashed)
    return out


def _dense(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of a non-negative int array, sorted, and each element's index among them."""
    if len(key) and int(key.max()) < 4 * len(key) + 1_000_000:  # small range: count instead of sorting
        counts = np.bincount(key)
        uniq = np.flatnonzero(counts)
        index = np.zeros(len(counts), dtype=np.int64)
        index[uniq] = np.arange(len(uniq))
        return uniq, index[key]
    uniq, inverse = np.unique(key, return_inverse=True)
    return uniq, inverse.reshape(-1)


def _ravel(parts: list[np.ndarray], dims: list[int]) -> np.ndarray:
    """``np.ravel_multi_index(parts, dims)`` for values known to be in range, in one int64 array
    (no int64 copy of each part)."""
    key = parts[0].astype(np.int64)
    for values, width in zip(parts[1:], dims[1:], strict=True):
        key *= width
        key += values
    return key


class Engine:
    """One simulation run (see the module docstring for the steps)."""

    def __init__(self, cluster: Cluster, wl: Workload, clients: list[Client], tl: Timeline, seed: int,
                 mode: str | None):
        self.cluster, self.wl, self.clients, self.tl, self.seed = cluster, wl, clients, tl, seed
        self.mode = mode or cluster.proxy_mode
        self.nodes = tl.nodes
        self.node_index = {n: i for i, n in enumerate(tl.nodes)}
        self.strings = Strings()
        self.book = TraceBook(tl, wl.protocol, mode)
        self.client_death = self.client_deaths()  # when each client stops sending

    # ------------------------------------------------------------------ 1. the clients
    def connections(self) -> Connections:
        """Arrival times, each connection's client (in turn), and whether its client still sends."""
        wl = self.wl
        n = wl.connections
        rng = stream(self.cluster, self.seed, "traffic/arrivals")
        if wl.arrival == "poisson":
            gaps = rng.exponential(1.0 / wl.rate, size=n)
            start = np.concatenate([[0.0], np.cumsum(gaps[:-1])]) if n else np.zeros(0)
        else:
            start = np.arange(n, dtype=np.float64) / wl.rate
        client = np.arange(n, dtype=np.int32) % np.int32(max(len(self.clients), 1))
        sends = start < self.client_death[client]
        # small integer codes (int32: half the memory a million connections would otherwise take)
        no_name = np.zeros(n, dtype=np.int32)  # the DNS columns, until a DNS route replaces them
        no_name.flags.writeable = False
        return Connections(start=start, client=client, sends=sends, entry=np.full(n, NO_NODE, dtype=np.int32),
                           dst=np.zeros(n, dtype=np.int32), nxdomain=np.zeros(n, dtype=bool), dns_service=no_name,
                           dns_port_name=no_name,
                           truth=self.tl.truth_index(start), trace=np.full(n, -1, dtype=np.int32),
                           branch=np.full(n, -1, dtype=np.int32))

    def client_deaths(self) -> np.ndarray:
        """When each client stops sending: a pod client at the first snapshot where it is gone
        (deleted, grace period over, replaced by a new pod of the same name) or crashed; never
        for nodes and external hosts (a lost node's clients keep trying: their connections time out)."""
        out = np.full(len(self.clients), np.inf)
        snaps = self.tl.snapshots
        for c, cl in enumerate(self.clients):
            if cl.kind != "pod":
                continue
            key = f"{cl.namespace}/{cl.name}"
            for snap in snaps[1:]:
                pod = snap.cluster.get("Pod", cl.name, cl.namespace) if snap.cluster.has(
                    "Pod", cl.name, cl.namespace) else None
                if (pod is None or key in snap.crashed or pod_ready_ip(pod) != cl.ip
                        or (pod.get("spec") or {}).get("nodeName") != cl.node):
                    out[c] = snap.time
                    break
        return out

    # ------------------------------------------------------------------ 2. entry node and address
    def route(self, c: Connections) -> None:
        """Where each connection enters and what it dials."""
        t = self.wl.target
        if "dns" in t:
            static_routes(self.cluster, self.wl, self.clients)  # external clients cannot use the cluster DNS
            d = resolve_per_connection(self.cluster, self.wl, self.clients, self.tl, self.seed, c.start,
                                       c.client, c.sends, self.strings)
            own = np.array([self.node_index[cl.node] for cl in self.clients], dtype=np.int64)
            c.entry[:] = np.where(c.sends, own[c.client], NO_NODE)
            c.dst, c.nxdomain, c.dns_service, c.dns_port_name = d.dst, d.nxdomain, d.service, d.port_name
            return
        routes = static_routes(self.cluster, self.wl, self.clients)
        entry = np.array([self.node_index.get(r.entry, NO_NODE) if r else NO_NODE for r in routes], dtype=np.int64)
        dst = np.array([self.strings.code(r.dst) if r else 0 for r in routes], dtype=np.int64)
        c.entry[:] = entry[c.client]
        c.dst[:] = dst[c.client]
        if any(r is None for r in routes):
            self.balance(c, routes)

    def balance(self, c: Connections, routes: list[Route | None]) -> None:
        """An outside client of a LoadBalancer: the balancer hands each connection to a healthy node."""
        spec = self.wl.target["loadBalancer"]
        ns = spec.get("namespace", "default")
        svc = self.cluster.get("Service", spec["service"], ns)
        ip = lb_ip(svc, spec)
        dcode = self.strings.code(f"{ip}:{service_port(svc, spec.get('port'))['port']}")
        rng = stream(self.cluster, self.seed, "traffic/lb")
        outside = np.array([r is None for r in routes])[c.client]
        for k in np.unique(c.truth[outside]).tolist():
            snap = self.tl.snapshots[k]
            now = snap.cluster.get("Service", spec["service"], ns)
            healthy = [n for n in lbmod.balancer_nodes(snap.cluster, now, spec.get("kind", "cloud"), ip)
                       if n not in snap.failed_nodes]
            m = outside & (c.truth == k)
            c.dst[m] = dcode
            if healthy:
                codes = np.array([self.node_index[n] for n in healthy], dtype=np.int64)
                c.entry[m] = codes[rng.integers(0, len(codes), size=int(m.sum()))]
            else:
                c.entry[m] = NO_NODE  # no healthy node: the balancer has nowhere to send it

    # ------------------------------------------------------------------ 3. the rules of the entry node
    def trace_all(self, c: Connections) -> np.ndarray:
        """The trace each connection meets: the entry node's rules as of its last sync.

        Returns the mask of connections lost before any rule: their entry node is down.
        """
        view = np.zeros(len(c.start), dtype=np.int64)
        if len(self.tl.snapshots) > 1:
            # the rules version each node uses between one adoption time and the next (a small
            # table: stretch of time × node, a last column of 0 for NO_NODE), then for every
            # connection at once: its stretch and its entry node
            cuts = np.unique(self.tl.adopt)
            table = np.zeros((len(cuts) + 1, len(self.nodes) + 1), dtype=np.int64)
            for e in range(len(self.nodes)):
                table[1:, e] = self.tl.view_index(e, cuts)
            view = table[np.searchsorted(cuts, c.start, side="right"), c.entry]
        # whether each node is down in each true snapshot (a last column, always up, for NO_NODE)
        down = np.zeros((len(self.tl.snapshots), len(self.nodes) + 1), dtype=bool)
        for k, snap in enumerate(self.tl.snapshots):
            for node in snap.failed_nodes:
                if node in self.node_index:
                    down[k, self.node_index[node]] = True
        entry_down = down[c.truth, c.entry] if down.any() else np.zeros(len(c.start), dtype=bool)
        traced = (c.entry >= 0) & c.sends & ~c.nxdomain & ~entry_down
        count = int(traced.sum())
        if not count:
            return entry_down
        # (when every connection is traced, the arrays are used as they are, not gathered)
        idx: np.ndarray | slice = slice(None) if count == len(traced) else np.flatnonzero(traced)
        # one trace per distinct (rules version, node, source class, address dialled)
        clients, entry = c.client[idx], c.entry[idx]
        key = _ravel([view[idx], entry, self.source_classes(clients, entry), c.dst[idx]],
                     [len(self.tl.snapshots), len(self.nodes), len(SourceClass), len(self.strings.values)])
        uniq, group = _dense(key)
        # each group's first connection, and the clients it holds (in client order)
        first = np.full(len(uniq), count, dtype=np.int64)
        np.minimum.at(first, group, np.arange(count))
        if isinstance(idx, np.ndarray):
            first = idx[first]
        pairs = np.flatnonzero(np.bincount(group * len(self.clients) + clients))
        members = np.split(pairs % len(self.clients), np.searchsorted(pairs // len(self.clients), np.arange(1, len(uniq))))
        ips = [cl.ip for cl in self.clients]
        trace_of = np.empty(len(uniq), dtype=np.int64)
        for g, k in enumerate(uniq.tolist()):
            v, e, s, d = np.unravel_index(k, (len(self.tl.snapshots), len(self.nodes), len(SourceClass),
                                              len(self.strings.values)))
            # the first client of the key traces; the others stand by for the hairpin case
            sources = [ips[int(c.client[first[g]])], *(ips[x] for x in members[g].tolist())]
            trace_of[g] = self.book.lookup(int(v), self.nodes[int(e)], SourceClass(int(s)),
                                           self.strings.values[int(d)], sources)
        c.trace[idx] = trace_of[group]
        for tr in self.book.traces:
            self.strings.codes(d.endpoint for d in tr.destinations)
        for tr in self.book.traces:
            self.strings.code(tr.service or "")
            self.strings.code(tr.port_name or "")
        return entry_down

    def source_classes(self, client: np.ndarray, entry: np.ndarray) -> np.ndarray:
        """:func:`~kubelearn.traffic.routes.source_class` for many connections at once."""
        kind = np.array([CLIENT_KINDS.index(cl.kind) for cl in self.clients], dtype=np.int64)[:, None]
        own = np.array([self.node_index.get(cl.node, NO_NODE) for cl in self.clients], dtype=np.int64)[:, None]
        local = own == np.arange(len(self.nodes))[None, :]  # clients × nodes
        pod, node = kind == CLIENT_KINDS.index("pod"), kind == CLIENT_KINDS.index("node")
        table = np.select([pod & local, pod, node & local, node],
                          [SourceClass.POD_LOCAL, SourceClass.POD_REMOTE, SourceClass.NODE_LOCAL,
                           SourceClass.NODE_REMOTE], SourceClass.EXTERNAL).astype(np.int64)
        return table[client, entry]

    # ------------------------------------------------------------------ 4. the endpoint
    def choose(self, c: Connections) -> None:
        """The endpoint of every DNATed connection: at random, or as the kernel state says."""
        traces = self.book.traces
        # per trace, and a last element for "not traced"
        stateful = np.array([tr.scheduler is not None or bool(tr.affinity_timeout) for tr in traces] + [False])
        dnat = np.array([tr.verdict == "DNAT" and bool(tr.destinations) for tr in traces] + [False])
        # the statistic / numgen branch every connection would take with no state: one uniform draw each
        u = stream(self.cluster, self.seed, "traffic/endpoints").random(len(c.start))
        has = c.trace >= 0
        g = np.where(has, c.trace, len(traces))
        groups = np.flatnonzero(np.bincount(c.trace[has])).tolist()  # the traces met (small ints: no sort)
        if len(groups) == 1 and dnat[groups[0]] and bool(has.all()):  # one trace for all: no masks
            fallback = self.random_branch(traces[groups[0]], u)
        else:
            bounds = [self.boundaries(tr) if ok else np.zeros(0) for tr, ok in zip(traces, dnat.tolist(), strict=False)]
            widest = max((len(b) for b in bounds), default=0)
            if widest <= 16:
                # every trace's boundaries in one table (a row per trace, +inf past its last one:
                # never crossed), so that all connections count theirs at once
                table = np.full((len(traces) + 1, widest), np.inf)
                for row, b in enumerate(bounds):
                    table[row, :len(b)] = b
                fallback = np.zeros(len(c.start), dtype=np.int64)
                for column in table.T:
                    fallback += u >= column[g]
                fallback[~dnat[g]] = -1
            else:  # many endpoints: trace by trace
                fallback = np.full(len(c.start), -1, dtype=np.int64)
                for k in groups:
                    if dnat[k]:
                        m = c.trace == k
                        fallback[m] = self.random_branch(traces[k], u[m])
        go = dnat[g]
        simple = go & ~stateful[g]
        self.choose_stateless(c, simple, fallback)
        self.choose_stateful(c, go & ~simple, fallback)

    @staticmethod
    def random_branch(tr: Trace, u: np.ndarray) -> np.ndarray:
        """The branch the ``-m statistic`` / ``numgen`` rules take for uniform draws ``u``."""
        bounds = Engine.boundaries(tr)
        if len(bounds) > 8:
            return np.searchsorted(bounds, u, side="right")
        # (the same count of boundaries at or below each draw, a few times faster for few branches)
        out = np.zeros(len(u), dtype=np.int64)
        for bound in bounds.tolist():
            out += u >= bound
        return out

    @staticmethod
    def boundaries(tr: Trace) -> np.ndarray:
        """Where the ``-m statistic`` / ``numgen`` branches of a trace start in [0, 1): a draw ``u``
        takes the branch numbered by how many of these are at or below it."""
        p = np.array([d.probability for d in tr.destinations], dtype=np.float64)
        cum = np.cumsum(p / p.sum())
        return cum[:-1]

    def choose_stateless(self, c: Connections, m: np.ndarray, fallback: np.ndarray) -> None:
        """THE FAST PATH.  Connections whose trace consults no state are independent draws with
        the trace's probabilities, so every one of them takes its random branch at once."""
        c.branch[m] = fallback[m]

    def choose_stateful(self, c: Connections, m: np.ndarray, fallback: np.ndarray) -> None:
        """Connections whose trace consults kernel state, one at a time in time order.

        The state lives in the entry node's kernel: ``xt_recent`` lists and nftables sets per
        endpoint chain (so shared by every Service port that uses that chain), an IPVS scheduler
        and its persistence templates per virtual server.
        """
        idx = np.flatnonzero(m)  # in time order: connections are numbered in time order
        if not len(idx):
            return
        traces = self.book.traces
        ip_of = np.array([ip_to_int(cl.ip) if ":" not in cl.ip else 0 for cl in self.clients], dtype=np.int64)
        if not any(tr.scheduler is not None for tr in traces):  # iptables or nftables mode
            self.affinity(c, idx, ip_of, fallback)
            return
        is_ipvs = np.array([tr.scheduler is not None for tr in traces], dtype=bool)[c.trace[idx]]
        if is_ipvs.any():
            self.ipvs(c, idx[is_ipvs], ip_of)
        if (~is_ipvs).any():
            self.affinity(c, idx[~is_ipvs], ip_of, fallback)

    def affinity(self, c: Connections, idx: np.ndarray, ip_of: np.ndarray, fallback: np.ndarray) -> None:
        """ClientIP affinity in iptables (``xt_recent``) or nftables (affinity sets) mode."""
        traces = self.book.traces
        # (every connection: a slice, not a million-element index array, for the bulk case below)
        sel: np.ndarray | slice = slice(None) if len(idx) == len(c.start) else idx
        memory: dict[int, RecentLists | AffinitySets] = {}
        for e in np.flatnonzero(np.bincount(c.entry[sel])).tolist():
            memory[e] = (AffinitySets(NFT_AFFINITY_SET_SIZE) if self.mode == "nftables"
                         else RecentLists(XT_RECENT_IP_LIST_TOT))
        chains = [tuple(d.chain for d in tr.destinations) for tr in traces]
        timeout = [float(tr.affinity_timeout or 0) for tr in traces]
        entries, groups = c.entry[sel], c.trace[sel]
        one_chain = len(memory) == 1 and bool((groups == groups[0]).all())
        if one_chain and float(c.start[idx[-1]] - c.start[idx[0]]) <= timeout[int(groups[0])]:
            # VECTORISED: nothing expires during the run, so the rules have a closed form over all
            # connections at once (equal to the loop below: tests/test_traffic_kernel_state.py)
            addresses, picks = ip_of[c.client[sel]], fallback[sel]
            bulk = (nft_sets.choose_without_expiry(addresses, picks, NFT_AFFINITY_SET_SIZE) if self.mode == "nftables"
                    else xt_recent.choose_without_expiry(addresses, picks, len(chains[int(groups[0])]),
                                                         XT_RECENT_IP_LIST_TOT))
            if bulk is not None:
                c.branch[sel] = bulk
                return
        times, clients, fallbacks = c.start[idx].tolist(), ip_of[c.client[idx]].tolist(), fallback[idx].tolist()
        if one_chain:
            # one node, one Service chain (the usual case): the same call, fewer lookups
            choose, ch, to = memory[int(entries[0])].choose, chains[int(groups[0])], timeout[int(groups[0])]
            chosen = [choose(t, x, ch, fb, to) for t, x, fb in zip(times, clients, fallbacks, strict=True)]
        else:
            chosen = [memory[e].choose(t, x, chains[g], fb, timeout[g])
                      for t, x, fb, e, g in zip(times, clients, fallbacks, entries.tolist(), groups.tolist(),
                                                strict=True)]
        c.branch[idx] = chosen

    def ipvs(self, c: Connections, idx: np.ndarray, ip_of: np.ndarray) -> None:
        """IPVS: each node's virtual server runs its own scheduler (and persistence templates)."""
        traces = self.book.traces
        servers: dict[tuple[int, int], list[int]] = {}
        for j, key in enumerate(zip(c.entry[idx].tolist(), c.dst[idx].tolist(), strict=True)):
            servers.setdefault(key, []).append(j)
        for (_entry, d), pos in servers.items():
            conns = idx[np.array(pos, dtype=np.int64)]
            groups = np.unique(c.trace[conns]).tolist()
            tr = traces[groups[0]]
            vip = self.strings.values[d].rsplit(":", 1)[0]
            sched = make_scheduler(tr.scheduler, vip)
            dests = {g: [x.endpoint for x in traces[g].destinations] for g in groups}
            if not tr.affinity_timeout and len(groups) == 1 and sched.name in ("rr", "wrr", "sh", "dh"):
                c.branch[conns] = self.ipvs_unchanging(sched, dests[groups[0]], ip_of[c.client[conns]], vip)
                continue
            pick: Scheduler | Persistence = (Persistence(float(tr.affinity_timeout), sched)
                                             if tr.affinity_timeout else sched)
            for j, t, src, g, end in zip(conns.tolist(), c.start[conns].tolist(),
                                         ip_of[c.client[conns]].tolist(), c.trace[conns].tolist(),
                                         (c.start[conns] + self.wl.connection_seconds).tolist(), strict=True):
                c.branch[j] = pick.pick(t, src, dests[g], end)

    @staticmethod
    def ipvs_unchanging(sched: Scheduler, dests: list[str], src: np.ndarray, vip: str) -> np.ndarray:
        """rr, sh and dh over a real-server list that does not change: the same choices, at once."""
        if sched.name in ("rr", "wrr"):
            return sched.rotation(dests, len(src))
        if sched.name == "sh":
            return hash_bucket(src) % len(dests)
        return np.full(len(src), int(hash_bucket(ip_to_int(vip))) % len(dests), dtype=np.int64)

    # ------------------------------------------------------------------ 5. the outcome, and the log
    def run(self, bar: Progress) -> pd.DataFrame:
        """All the steps; one row per request."""
        c = self.connections()
        self.route(c)
        bar.update(1)
        entry_down = self.trace_all(c)
        bar.update(1)
        self.choose(c)
        bar.update(1)
        df = self.log(c, entry_down)
        bar.update(1)
        return df

    def log(self, c: Connections, entry_down: np.ndarray) -> pd.DataFrame:
        """Outcomes per connection, then conntrack's requests, as the log's columns (:data:`LOG_COLUMNS`).

        Connections of one *case* (the same client, entry node, trace, branch, moment of truth and
        address) share every column but their time and latency: the columns are worked out once per
        case (:meth:`case_columns`) and spread to the connections, and to their requests.
        """
        case, rep = self.cases(c, entry_down)
        per = self.case_columns(c.subset(rep), entry_down[rep])
        r = conntrack.requests(self.wl, c.start, c.client, self.client_death, case, per["outcome"], per["death"],
                               per["lost_at"])
        row = r.case  # each request's case
        rng = stream(self.cluster, self.seed, "traffic/latency")
        lat = conntrack.latency(rng, r, per["cross_node"], per["rules_walked"])
        present = np.bincount(row, minlength=len(rep)) > 0  # cases with at least one request
        S = self.strings
        nrows = len(r.connection)
        data: dict[str, Any] = {"time": r.time, "connection": r.connection}
        for name in LOG_COLUMNS:
            if name in ("time", "connection"):
                continue
            if name == "client_kind":
                data[name] = from_codes(per[name][row], list(CLIENT_KINDS))
            elif name == "via":
                data[name] = from_codes(np.full(nrows, VIAS.index(via(self.wl)), dtype=np.int8), list(VIAS))
            elif name == "outcome":
                data[name] = from_codes(r.outcome, list(OUTCOMES))
            elif name == "latency_ms":
                data[name] = lat.astype(np.float32)
            elif name == "rules_walked":
                data[name] = per[name][row].astype(np.int32)
            else:
                data[name] = S.categorical_of_cases(per[name], row, present)
        return pd.DataFrame(data, columns=list(LOG_COLUMNS), copy=False)

    def cases(self, c: Connections, entry_down: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each connection's case, and one connection standing for each case."""
        parts: list[np.ndarray] = []
        dims: list[int] = []
        for values, width in ((c.client, len(self.clients)), (c.entry + 1, len(self.nodes) + 1),
                              (c.trace + 1, len(self.book.traces) + 1),
                              (c.branch + 1, max((len(tr.destinations) for tr in self.book.traces), default=0) + 1),
                              (c.truth, len(self.tl.snapshots)), (c.dst, len(self.strings.values)),
                              (c.nxdomain, 2), (entry_down, 2), (c.dns_service, len(self.strings.values)),
                              (c.dns_port_name, len(self.strings.values))):
            if not len(values) or values.min() == values.max():
                continue  # the same for every connection: it tells no case apart
            if width > 64:
                distinct, values = _dense(values.astype(np.int64))  # renumbered: a narrower key
                width = len(distinct)
            parts.append(values)
            dims.append(width)
        if not parts:
            case = np.zeros(len(c.start), dtype=np.int64)
            return case, np.zeros(1 if len(case) else 0, dtype=np.int64)
        while float(np.prod(np.array(dims, dtype=np.float64))) >= 2.0**62:  # pragma: no cover - very many
            _, merged = _dense(_ravel(parts[:2], dims[:2]))  # number the first two together
            parts, dims = [merged, *parts[2:]], [int(merged.max()) + 1, *dims[2:]]
        uniq, case = _dense(_ravel(parts, dims))
        rep = np.empty(len(uniq), dtype=np.int64)
        rep[case] = np.arange(len(case))  # any connection of a case stands for it: they are alike
        return case, rep

    def case_columns(self, c: Connections, entry_down: np.ndarray) -> dict[str, np.ndarray]:
        """Every column that is the same for all connections of a case, one element per case
        (``c`` holds one connection per case): string codes, outcome, when the pod stops
        answering, when the path is lost, rules walked, whether the pod is on another node."""
        S = self.strings
        traces = self.book.traces
        # flatten the traces' destinations so a connection's branch indexes one array
        offset = np.zeros(len(traces) + 1, dtype=np.int64)
        offset[1:] = np.cumsum([len(tr.destinations) for tr in traces])
        flat_ep = np.array([S.code(d.endpoint) for tr in traces for d in tr.destinations] + [0], dtype=np.int64)
        flat_masq = np.array([m for ms in self.book.masq for m in ms] + [False], dtype=bool)
        traced = c.trace >= 0
        g = np.where(traced, c.trace, len(traces))  # len(traces): "no trace"

        def per_trace(values: list[Any], none: Any) -> np.ndarray:
            """A per-trace value for every connection (``none`` for those not traced)."""
            return np.array([*values, none])[g]

        dnat = c.branch >= 0
        flat = np.where(dnat, offset[g] + c.branch, len(flat_ep) - 1)  # the last element: no branch
        endpoint = np.where(dnat, flat_ep[flat], 0)
        direct = per_trace([tr.verdict == "NONE" for tr in traces], False)  # no rule: to the address itself
        endpoint = np.where(direct, c.dst, endpoint)
        service = per_trace([S.code(tr.service or "") for tr in traces], 0).astype(np.int64)
        portn = per_trace([S.code(tr.port_name or "") for tr in traces], 0).astype(np.int64)
        rules = per_trace([tr.rules_walked for tr in traces], 0).astype(np.int32)
        rejected = per_trace([tr.verdict == "REJECT" for tr in traces], False)
        # DROP, or a DNAT with nowhere to go
        dropped = per_trace([tr.verdict == "DROP" or (tr.verdict == "DNAT" and not tr.destinations)
                             for tr in traces], True) & traced
        # a headless name answers with pod IPs, which no Service rule matches: the Service is the
        # one whose name the client resolved (and its port the one serving the dialled port)
        fill = (service == 0) & (c.dns_service > 0)
        service = np.where(fill, c.dns_service, service)
        portn = np.where(fill & (portn == 0), c.dns_port_name, portn)
        # who answers at the endpoint, in the true cluster at the connection's start
        tables = [pod_table(sn.cluster, sn.crashed, sn.failed_nodes) for sn in self.tl.snapshots]
        node_ips = {self.cluster.node_ip(nm) for nm in self.nodes}
        o = conntrack.answer(self.tl, S, tables, node_ips, c.truth, endpoint, dnat | direct, direct)
        pod, pod_node = o.pod, o.pod_node
        lost_at = conntrack.path_lost_at(self.tl, S, c.entry, pod_node)
        outcome = o.outcome
        outcome[rejected] = OUTCOMES.index("refused")
        outcome[dropped] = OUTCOMES.index("dropped")
        outcome[c.nxdomain] = OUTCOMES.index("nxdomain")
        lost = entry_down | ((c.entry < 0) & ~c.nxdomain)
        outcome[lost] = OUTCOMES.index("dropped")
        # the endpoint is where the rules sent it (even if nobody answered); the pod who is behind it
        no_dnat = ~(dnat | direct) | lost
        endpoint[no_dnat] = 0
        pod[no_dnat] = 0
        pod_node[no_dnat] = 0
        # the source address the pod sees: masqueraded by the trace's branch, or the hairpin
        client_ip = S.codes(cl.ip for cl in self.clients)
        src = client_ip[c.client]
        # (a pod that reached itself: its endpoint's address is its own)
        ip_code = np.array([S.index.get(v.rsplit(":", 1)[0], -1) for v in S.values], dtype=np.int64)
        hairpin = dnat & (ip_code[endpoint] == src)
        masq = (flat_masq[flat] | hairpin) & dnat & ~no_dnat
        seen = conntrack.seen_source(self.cluster, S, self.nodes, c.entry, pod_node, src, masq)
        seen = np.where(pod > 0, seen, 0)
        own_node = S.codes(cl.node for cl in self.clients)[c.client]
        kinds = np.array([CLIENT_KINDS.index(cl.kind) for cl in self.clients], dtype=np.int8)
        entry_name = np.array([S.code(nm) for nm in self.nodes] + [0], dtype=np.int64)
        entry = entry_name[np.where(c.entry >= 0, c.entry, len(self.nodes))]
        name = S.codes(cl.name for cl in self.clients)
        # zones: the topology.kubernetes.io/zone label of the client's node (an external client:
        # the node it entered through) and of the pod's node
        zones = node_zones(self.cluster)
        zone_of = np.array([S.code(zones.get(v, "")) for v in list(S.values)], dtype=np.int64)
        external = kinds[c.client] == CLIENT_KINDS.index("external")
        client_zone = zone_of[np.where(external, entry, own_node)]
        return {"client_zone": client_zone, "endpoint_zone": zone_of[pod_node],"outcome": outcome, "death": o.death, "lost_at": lost_at, "rules_walked": rules,
                "cross_node": pod_node != own_node, "client": name[c.client], "client_kind": kinds[c.client],
                "src_ip": src, "dst": c.dst, "entry_node": entry,
                "service": service, "port_name": portn, "endpoint": endpoint, "pod": pod, "pod_node": pod_node,
                "seen_src_ip": seen}
