"""conntrack: after the first packet, every request of a connection follows it to the same pod.

kube-proxy's rules only ever see the first packet of a connection.  Once it is DNATed the
kernel's connection tracking remembers the translation, and every later packet of that
connection, every keep-alive request, goes to the same pod without meeting the rules again.
This module follows a connection from its endpoint to its end:

- **who answers** (:func:`answer`): the pod behind the endpoint in the true cluster at the
  connection's start answers (``ok``), answers with a RST because its process is gone
  (``refused``), or nobody has that address any more and the SYN goes unanswered (``dropped``);
- **the source the pod sees** (:func:`seen_source`): the client's own address, or, when the
  trace masqueraded the connection, the address of the interface the packet leaves by: the
  entry node's InternalIP towards another node, the node's pod-network gateway (``.1`` of its
  podCIDR, as kindnet's ptp plugin sets it up) towards a pod on the entry node itself;
- **the requests** (:func:`requests`): ``requestsPerConnection`` requests spread over the
  connection's lifetime, all to the conntrack entry's pod; an open connection fails at the
  first of: its pod stops (a RST: ``reset``) or a node on its path is lost (nothing answers:
  ``dropped`` after the retransmission timeout);
- **latency** (:func:`latency`): an illustrative model (0.05 ms on a node, 0.25 ms across
  nodes, +2 µs per rule walked, exponential service time of mean 1 ms), not a measurement.

Simplifications: every request of a failed connection is logged with the connection's
outcome; nobody retries.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Final

import numpy as np

from ..cluster import Cluster
from .events import Timeline
from .log import OUTCOMES
from .strings import Strings
from .workload import Workload

__all__ = ["RETRANSMIT_TIMEOUT_MS", "SYN_TIMEOUT_MS", "Answers", "Requests", "answer", "latency",
           "path_lost_at", "pod_gateway", "requests", "seen_source"]

#: Linux's ``tcp_syn_retries`` default (6) gives up connecting after 1+2+4+8+16+32+64 s.
SYN_TIMEOUT_MS: Final = 127_000.0
#: Linux's ``tcp_retries2`` default (15) gives up on an established connection whose data is
#: never acknowledged after about 924.6 s (ip-sysctl.rst's "hypothetical timeout").
RETRANSMIT_TIMEOUT_MS: Final = 924_600.0

OK: Final = OUTCOMES.index("ok")
REFUSED: Final = OUTCOMES.index("refused")
DROPPED: Final = OUTCOMES.index("dropped")
RESET: Final = OUTCOMES.index("reset")
NXDOMAIN: Final = OUTCOMES.index("nxdomain")


@dataclass
class Answers:
    """Per connection: outcome code, the pod and its node (Strings codes), and when the pod stops answering."""

    outcome: np.ndarray
    pod: np.ndarray
    pod_node: np.ndarray
    death: np.ndarray


def answer(tl: Timeline, strings: Strings, tables: list[dict[str, tuple[str, str, bool]]], node_ips: set[str],
           truth: np.ndarray, endpoint: np.ndarray, reaches: np.ndarray, direct: np.ndarray) -> Answers:
    """Who answers each connection that ``reaches`` an endpoint, in the true snapshot at its start.

    ``tables`` is each snapshot's podIP → (pod, node, listening); ``direct`` marks connections no
    rule rewrote (they reach the dialled address itself: a node's own address with no rule for
    the port answers with a RST).
    """
    n = len(truth)
    outcome = np.full(n, DROPPED, dtype=np.int8)
    pod = np.zeros(n, dtype=np.int64)
    pod_node = np.zeros(n, dtype=np.int64)
    death = np.full(n, np.inf)
    ri = np.flatnonzero(reaches)
    if not len(ri):
        return Answers(outcome, pod, pod_node, death)
    # one lookup per distinct (snapshot, endpoint): number them, then spread the answers back
    width = len(strings.values)  # (the table grows below, as pods get codes)
    key = truth[ri] * width + endpoint[ri]
    counts = np.bincount(key)
    uniq = np.flatnonzero(counts)
    dense = np.zeros(len(counts), dtype=np.int64)
    dense[uniq] = np.arange(len(uniq))
    group = dense[key]
    all_direct = np.bincount(group, weights=direct[ri], minlength=len(uniq)) == counts[uniq]
    g_outcome = np.full(len(uniq), DROPPED, dtype=np.int8)
    g_pod = np.zeros(len(uniq), dtype=np.int64)
    g_node = np.zeros(len(uniq), dtype=np.int64)
    g_death = np.full(len(uniq), np.inf)
    for j, kv in enumerate(uniq.tolist()):
        k, ep = divmod(kv, width)
        ip = strings.values[ep].rsplit(":", 1)[0]
        info = tables[k].get(ip)
        if info is None:
            # nobody has this address any more (pod deleted, its node lost): the SYN goes unanswered;
            # a node's own address with no rule for the port answers with a RST
            g_outcome[j] = REFUSED if bool(all_direct[j]) and ip in node_ips else DROPPED
            continue
        name, node, listening = info
        g_pod[j] = strings.code(name)
        g_node[j] = strings.code(node)
        g_outcome[j] = OK if listening else REFUSED
        # when does this pod stop answering (deleted, crashed, node lost)?
        for later_k in range(k + 1, len(tables)):
            later = tables[later_k].get(ip)
            if later is None or later[0] != name or not later[2]:
                g_death[j] = tl.times[later_k]
                break
    outcome[ri], pod[ri], pod_node[ri], death[ri] = g_outcome[group], g_pod[group], g_node[group], g_death[group]
    return Answers(outcome, pod, pod_node, death)


def path_lost_at(tl: Timeline, strings: Strings, entry: np.ndarray, pod_node: np.ndarray) -> np.ndarray:
    """When each connection's path is lost: its entry node or its pod's node fails (``inf``: never).

    A dead node sends no RST: the client's packets go unanswered until its TCP gives up.
    """
    nodes = tl.nodes
    fail_at = {nm: np.inf for nm in nodes}
    for k, snap in enumerate(tl.snapshots):
        for fn in snap.failed_nodes:
            if fn in fail_at and not np.isfinite(fail_at[fn]):
                fail_at[fn] = tl.times[k]
    node_fail = np.array([fail_at[nm] for nm in nodes] + [np.inf], dtype=np.float64)
    lost_at = node_fail[np.where(entry >= 0, entry, len(nodes))]
    if np.isfinite(node_fail).any():
        by_code = np.full(len(strings.values) + len(nodes), len(nodes), dtype=np.int64)
        for i, nm in enumerate(nodes):
            by_code[strings.code(nm)] = i
        lost_at = np.minimum(lost_at, node_fail[by_code[pod_node]])
    return lost_at


def pod_gateway(cluster: Cluster, node: str) -> str:
    """The node's own address on its pod network: the first host of ``spec.podCIDR``."""
    spec = cluster.get("Node", node).get("spec", {})
    cidr = spec.get("podCIDR") or (spec.get("podCIDRs") or [None])[0]
    if not cidr:
        return cluster.node_ip(node)
    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))


def seen_source(cluster: Cluster, strings: Strings, nodes: list[str], entry: np.ndarray, pod_node: np.ndarray,
                src: np.ndarray, masquerade: np.ndarray) -> np.ndarray:
    """The source address the pod sees (Strings codes): the client's, or MASQUERADE's choice."""
    node_ip = np.array([strings.code(cluster.node_ip(nm)) for nm in nodes] + [0], dtype=np.int64)
    gateway = np.array([strings.code(pod_gateway(cluster, nm)) for nm in nodes] + [0], dtype=np.int64)
    node_name = np.array([strings.code(nm) for nm in nodes] + [-1], dtype=np.int64)
    e = np.where(entry >= 0, entry, len(nodes))
    snat = np.where(pod_node == node_name[e], gateway[e], node_ip[e])
    return np.where(masquerade, snat, src)


@dataclass
class Requests:
    """One element per request: its connection, its position on it, time and outcome, and its
    connection's case; ``hung`` marks requests on a connection whose path was lost (they wait for
    the retransmission timeout)."""

    connection: np.ndarray
    position: np.ndarray
    time: np.ndarray
    outcome: np.ndarray
    hung: np.ndarray
    case: np.ndarray


def requests(wl: Workload, start: np.ndarray, client: np.ndarray, client_death: np.ndarray, case: np.ndarray,
             outcome: np.ndarray, pod_death: np.ndarray, lost_at: np.ndarray) -> Requests:
    """Expand connections into their keep-alive requests, all on the conntrack entry's pod.

    ``case`` is each connection's case; ``outcome``, ``pod_death`` (when the pod stops answering)
    and ``lost_at`` (when a node on the path is lost) are per case.  A dead client sends nothing:
    its later connections are not made, and the rest of an open connection's requests are never
    sent (connection numbers keep their gaps).
    """
    n, per = len(start), wl.requests_per_connection
    if per == 1:
        conn, position, t = np.arange(n, dtype=np.int64), np.zeros(n), start.copy()
    else:
        conn = np.repeat(np.arange(n, dtype=np.int64), per)
        position = np.tile(np.arange(per, dtype=np.float64), n)
        t = start[conn] + position * (wl.connection_seconds / per)
    if np.isfinite(client_death).any():
        keep = t < client_death[client[conn]]
        conn, position, t = conn[keep], position[keep], t[keep]
    row = case[conn] if len(conn) != n else case
    out = outcome[row]
    hung = np.zeros(len(conn), dtype=bool)
    if np.isfinite(pod_death).any() or np.isfinite(lost_at).any():  # some open connection can fail
        death, lost = pod_death[row], lost_at[row]
        was_ok = out == OK
        cut = np.minimum(death, lost)
        hung = was_ok & (t >= cut) & (lost <= death)
        reset = was_ok & (t >= cut) & ~hung
        out[reset] = RESET
        out[hung] = DROPPED
    return Requests(conn, position, t, out, hung, row)


def latency(rng: np.random.Generator, r: Requests, cross_node: np.ndarray, rules_walked: np.ndarray) -> np.ndarray:
    """Illustrative latency per request in ms (see the module docstring); ``cross_node`` and
    ``rules_walked`` per case."""
    rtt = np.where(cross_node, 0.25, 0.05)[r.case]
    lat = rtt + 0.002 * rules_walked[r.case] + rng.exponential(1.0, size=len(r.connection))
    lat = np.where(r.position == 0, lat + rtt, lat)  # the first request pays for the handshake
    for outcome, fixed in ((REFUSED, rtt), (RESET, rtt), (DROPPED, SYN_TIMEOUT_MS)):
        failed = r.outcome == outcome
        if failed.any():
            lat = np.where(failed, fixed, lat)
    if r.hung.any():
        lat = np.where(r.hung, RETRANSMIT_TIMEOUT_MS, lat)
    failed = r.outcome == NXDOMAIN
    return np.where(failed, 0.5, lat) if failed.any() else lat
