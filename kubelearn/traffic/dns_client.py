"""The client's resolver: each client pod looks the name up, caches the answer, and dials from it.

A pod dialling ``my-service`` first asks the cluster DNS (its ``/etc/resolv.conf``: CoreDNS and
the ``<ns>.svc.cluster.local`` search list), gets A records with a TTL, and keeps them until the
TTL runs out (or the workload's ``dnsClient.ttlSeconds``).  A ClusterIP Service answers with one
record, its ClusterIP; a headless Service answers with the ready pods' IPs, shuffled by CoreDNS's
``loadbalance`` plugin (in kubeadm's default Corefile).  With several records, the client's
``strategy`` picks one per connection: ``first`` (what most resolvers' callers do), ``random``,
or ``round-robin`` over the cached list.

A client *node* is not a pod: its processes use the node's own resolver (on kind, Docker's
embedded one, with no cluster search domains), so the cluster's names do not resolve there and
the connection's outcome is ``nxdomain``.  A node reaches a Service by its ClusterIP.

Simplification: a failed lookup is retried after 5 s.  Each client draws its own shuffles and
``random`` picks (one random stream per client), so a client's choices do not depend on the
others'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..cluster import Cluster
from ..discovery.dns import Resolution, resolve
from .clients import Client, stream
from .events import Timeline
from .strings import Strings
from .workload import Workload

__all__ = ["Answer", "dns_service", "lookup", "resolve_per_connection"]

FAILED_LOOKUP_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Answer:
    """What one lookup gave a client: the A records, their TTL, and the Service they name."""

    records: tuple[str, ...]
    ttl: float
    service: str  # "namespace/name" of the Service whose DNS name answered, or ""
    port_name: str  # the name of that Service's port serving the dialled port, or ""


def _resolution(cluster: Cluster, client: Client, name: str) -> Resolution:
    if client.kind == "pod":
        return resolve(cluster, name, "A", from_pod=client.name, namespace=client.namespace)
    # a node asks as a host-network pod with dnsPolicy Default: the node's own resolver
    host = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": client.name, "namespace": client.namespace},
            "spec": {"nodeName": client.node, "hostNetwork": True, "dnsPolicy": "Default"}}
    return resolve(cluster, name, "A", from_pod=host, namespace=client.namespace)


def lookup(cluster: Cluster, client: Client, name: str, port: int) -> Answer:
    """The answer ``client`` gets for ``name`` (no records: NXDOMAIN, NODATA or SERVFAIL)."""
    res = _resolution(cluster, client, name)
    recs = [r for r in res.answer if r.type == "A"]
    if res.rcode.upper() != "NOERROR" or not recs:
        return Answer((), FAILED_LOOKUP_RETRY_SECONDS, "", "")
    svc, port_name = dns_service(cluster, recs[0].name, port)
    return Answer(tuple(r.data for r in recs), float(min(r.ttl or 30 for r in recs)), svc, port_name)


def dns_service(cluster: Cluster, owner: str, port: int) -> tuple[str, str]:
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


@dataclass
class Dialled:
    """Per connection (as :class:`~kubelearn.traffic.strings.Strings` codes): the address
    dialled (``""`` when the lookup failed) and the Service whose name answered, with its port's name."""

    dst: np.ndarray
    nxdomain: np.ndarray  # bool
    service: np.ndarray
    port_name: np.ndarray


def resolve_per_connection(cluster: Cluster, wl: Workload, clients: list[Client], tl: Timeline, seed: int,
                           start: np.ndarray, client_of: np.ndarray, sends: np.ndarray,
                           strings: Strings) -> Dialled:
    """What each connection dials, client by client, one cached answer at a time.

    A client looks the name up at its first connection and again at its first connection after
    the cached answer expired, in the cluster as it is at that moment (the truth, not a node's
    view); every connection in between dials from the cached records.  Connections with
    ``sends`` False (their client is gone) make no lookup.
    """
    n = len(start)
    name, port = str(wl.target["dns"]), int(wl.target["port"])
    dst = np.zeros(n, dtype=np.int64)
    truth = tl.truth_index(start)
    answers: dict[tuple[int, int], Answer] = {}
    # each client's connections in time order (connections are numbered in time order)
    order = np.argsort(client_of, kind="stable")
    order = order[sends[order]]  # a client that is gone makes no lookup
    per_client = np.split(order, np.cumsum(np.bincount(client_of[order], minlength=len(clients)))[:-1]) \
        if len(order) else []
    # every cached answer covers a run of the client's connections: one entry per run (in `order`)
    run_length: list[int] = []
    run_dst: list[int] = []  # -1: decided connection by connection (several records, random or round-robin)
    run_service: list[int] = []
    run_port: list[int] = []
    for c, conns in enumerate(per_client):
        times = start[conns]
        rng: Any = None
        i = 0
        while i < len(conns):
            k = int(truth[conns[i]])
            ans = answers.get((k, c))
            if ans is None:
                ans = answers[(k, c)] = lookup(tl.snapshots[k].cluster, clients[c], name, port)
            ttl = wl.dns_ttl if wl.dns_ttl is not None else ans.ttl
            # the cache holds until the first connection at or after its expiry
            j = max(int(np.searchsorted(times, times[i] + ttl, side="left")), i + 1)
            records = list(ans.records)
            run_length.append(j - i)
            run_service.append(strings.code(ans.service))
            run_port.append(strings.code(ans.port_name))
            if not records:
                run_dst.append(0)  # NXDOMAIN (or no A record): nothing to dial
            else:
                if len(records) > 1:
                    rng = rng if rng is not None else stream(cluster, seed, f"traffic/dns/{c}")
                    records = [records[x] for x in rng.permutation(len(records))]  # CoreDNS loadbalance
                dialled = strings.codes(f"{ip}:{port}" for ip in records)
                if wl.dns_strategy == "first" or len(records) == 1:
                    run_dst.append(int(dialled[0]))
                else:
                    these = conns[i:j]
                    if wl.dns_strategy == "random":
                        dst[these] = dialled[rng.integers(0, len(records), size=len(these))]
                    else:  # round-robin over the cached list, from its first record
                        dst[these] = dialled[np.arange(len(these)) % len(records)]
                    run_dst.append(-1)
            i = j
    lengths = np.array(run_length, dtype=np.int64)
    by_run = np.repeat(np.array(run_dst, dtype=np.int64), lengths)
    fixed = by_run >= 0
    dst[order[fixed]] = by_run[fixed]
    nxdomain = np.zeros(n, dtype=bool)
    nxdomain[order] = dst[order] == 0
    service = np.zeros(n, dtype=np.int64)
    service[order] = np.repeat(np.array(run_service, dtype=np.int64), lengths)
    port_name = np.zeros(n, dtype=np.int64)
    port_name[order] = np.repeat(np.array(run_port, dtype=np.int64), lengths)
    service[nxdomain] = 0
    port_name[nxdomain] = 0
    return Dialled(dst, nxdomain, service, port_name)
