"""Lesson 09's exercises: connections, not requests.

kube-proxy chooses a pod for a connection's first packet; conntrack sends the rest of the
connection, and every request on it, to the same pod.  The exercises ask what that means after a
scale-up, and every expected value comes from the simulator run on the lesson's cluster
(``09-grpc.yaml``: a Deployment ``backend`` of three pods behind a ClusterIP Service ``backend``
and a headless Service ``backend-headless``, and four ``client`` pods).  Every run lasts
:data:`SECONDS`; the Deployment is scaled from 3 to 6 replicas at :data:`SCALE_AT`; each client
sends :data:`RATE` requests per second.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import pandas as pd

from .. import objects
from ._core import number, percent
from .lessons import applied, ex, kinds_in, lesson_cluster

__all__ = ["RATE", "SCALE_AT", "SECONDS", "first_new_pod_request", "new_pod_share", "pinned_run", "recycled_run"]

L09 = ("09-grpc.yaml",)
#: Length of every run, the moment of the scale-up (3 -> 6 replicas), requests per second per client.
SECONDS, SCALE_AT, RATE, CLIENTS = 60.0, 20.0, 20, 4
#: The moment from which exercise 2 wants every connection to have been opened after the scale-up.
FRESH_FROM = 40.0


def _scale() -> list[Any]:
    from ..traffic import Event

    return [Event(SCALE_AT, "scale", {"deployment": "backend", "replicas": 6})]


def _original_pods() -> set[str]:
    return {objects.name(p) for p in lesson_cluster(*L09).pods() if objects.name(p).startswith("backend-")}


def new_pod_share(log: pd.DataFrame, start: float, end: float = SECONDS) -> float:
    """Share of the requests answered in ``[start, end)`` that the pods added by the scale-up answered."""
    window = log[(log["time"] >= start) & (log["time"] < end) & (log["outcome"] == "ok")]
    if window.empty:
        return 0.0
    return float((~window["pod"].astype(str).isin(_original_pods())).mean())


@cache
def pinned_run() -> pd.DataFrame:
    """One long-lived connection per client, open for the whole run (HTTP/2, gRPC)."""
    from ..traffic import cluster_ip, pod_clients, simulate, workload

    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("backend", 80), connections=CLIENTS, rate=CLIENTS,
                  connection_seconds=SECONDS, requests_per_connection=int(RATE * SECONDS), events=_scale())
    return simulate(lesson_cluster(*L09), wl, seed=0)


@cache
def recycled_run(max_age: float) -> pd.DataFrame:
    """Each client's connection is closed after ``max_age`` seconds (``maxConnectionAge``) and opened again."""
    from ..traffic import cluster_ip, pod_clients, simulate, workload

    n = max(CLIENTS, round(CLIENTS * SECONDS / max_age))
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("backend", 80), connections=n,
                  rate=CLIENTS / max_age, connection_seconds=max_age,
                  requests_per_connection=max(1, round(RATE * max_age)), events=_scale())
    return simulate(lesson_cluster(*L09), wl, seed=0)


@cache
def _headless_run(ttl: float) -> pd.DataFrame:
    from ..traffic import dns, pod_clients, simulate, workload

    n = int(RATE * CLIENTS * SECONDS)
    wl = workload(pod_clients(selector={"app": "client"}), dns("backend-headless", 80), connections=n,
                  rate=n / SECONDS, connection_seconds=0.05, dns_strategy="round-robin", dns_ttl=ttl,
                  events=_scale())
    return simulate(lesson_cluster(*L09), wl, seed=0)


def first_new_pod_request(ttl: float) -> float:
    """Seconds after the scale-up until a client first reached a new pod, its DNS answers cached ``ttl`` s."""
    log = _headless_run(ttl)
    new = log[(log["outcome"] == "ok") & ~log["pod"].astype(str).isin(_original_pods())]
    return float(new["time"].min() - SCALE_AT) if len(new) else math.inf


def _pinned_share() -> float:
    return round(new_pod_share(pinned_run(), SCALE_AT + 10) * 100, 1)


def _longest_age() -> float:
    # A connection opened just before the scale-up lives until SCALE_AT + age.
    return FRESH_FROM - SCALE_AT


def _dns_delay() -> float:
    return round(first_new_pod_request(30.0), 1)


# ------------------------------------------------------------------ 1. predict the share
@ex("09-predict-new-pods-share", "The new pods' share on long-lived connections", "predict",
    "a share, such as 25 (per cent) or 0.25",
    "Four clients each keep one HTTP/2 connection to the ClusterIP Service `backend` for the whole minute. "
    "At 20 s the Deployment is scaled from 3 to 6 replicas. Before you measure it: what share of the "
    "requests sent after 30 s will the three new pods answer?",
    "pinned = kl.simulate(cluster, kl.workload(CLIENTS, kl.cluster_ip(\"backend\", 80), connections=4, rate=4,\n"
    "                     connection_seconds=60, requests_per_connection=1200, events=SCALE), seed=0)\n"
    "answer = new_pods_share(pinned, 30)",
    "kube-proxy's rules only see a connection's first packet; conntrack sends every later packet, and so every "
    "request on that connection, to the same pod. No connection opened after the scale-up, so the new pods "
    "answer nothing until a connection is closed and opened again.",
    _pinned_share)
def _09_share(answer: Any) -> tuple[bool, str]:
    got = percent(answer)
    want = _pinned_share()
    if abs(got - want) <= 2:
        return True, (f"The three new pods answered {want:g} % of the requests after {SCALE_AT + 10:g} s. The four "
                      "connections were opened before the scale-up, and kube-proxy only chooses a pod when a "
                      "connection opens.")
    if abs(got - 50) <= 5:
        return False, ("50 % is what six pods sharing the requests equally would give (3 new of 6). But kube-proxy "
                       "chooses per connection, and no connection opened after the scale-up.")
    return False, (f"You predicted {got:g} %. Ask: when does kube-proxy choose a pod, and did any of the four "
                   f"connections open after {SCALE_AT:g} s?")


# ------------------------------------------------------------- 2. choose a connection age
@ex("09-choose-max-connection-age", "The longest maximum connection age that still rebalances", "predict",
    "a number of seconds, such as 30",
    "The backend now closes every connection after a maximum age (gRPC's `MaxConnectionAge`); each client "
    "reconnects at once, and kube-proxy chooses a pod for the new connection. What is the **longest** age, in "
    "seconds, for which every connection carrying requests after 40 s was opened after the scale-up at 20 s?",
    "# a connection opened just before 20 s lives until 20 + age: that must be 40 s at the latest\nanswer = 20",
    "Every new connection is a new random choice over the endpoints of that moment. With an age of 20 s, every "
    "connection opened before the scale-up is gone by 40 s. A shorter age rebalances sooner but costs a TCP and "
    "TLS handshake more often; a few tens of seconds, with some jitter so that clients do not reconnect all at "
    "once, is a common compromise.",
    _longest_age)
def _09_age(answer: Any) -> tuple[bool, str]:
    value = number(answer, "a number of seconds, such as 30")
    want = _longest_age()
    if value < 1:
        return False, (f"{value:g} s is a new connection for (almost) every request: balanced, but every request "
                       "pays a TCP and TLS handshake. Choose at least 1 s.")
    if value > SECONDS:
        return False, f"The run lasts {SECONDS:g} s: a connection older than that is never recycled in it."
    measured = new_pod_share(recycled_run(value), FRESH_FROM)
    if abs(value - want) <= 0.5:
        return True, (f"Every connection opened before {SCALE_AT:g} s is closed by {SCALE_AT + value:g} s, so from "
                      f"{FRESH_FROM:g} s on each connection was a fresh choice over six pods. In this run the new pods "
                      f"answered {measured:.0%} of the requests after {FRESH_FROM:g} s (half is the expectation; with "
                      "four connections, chance shows).")
    if value < want:
        return False, (f"{value:g} s works (connections opened before the scale-up are gone by "
                       f"{SCALE_AT + value:g} s), but it is not the longest age that does: every extra "
                       "reconnection costs a handshake. How long may a connection opened just before "
                       f"{SCALE_AT:g} s live?")
    return False, (f"With an age of {value:g} s a connection opened just before the scale-up stays open until "
                   f"{SCALE_AT + value:g} s, still pinned to an old pod after {FRESH_FROM:g} s (in this run the new "
                   f"pods answered {measured:.0%} of the requests after {FRESH_FROM:g} s).")


# ------------------------------------------------------------ 3. write the headless Service
HEADLESS = """\
apiVersion: v1
kind: Service
metadata:
  name: backend-rr
spec:
  clusterIP: None
  selector:
    app: backend
  ports:
    - name: grpc
      port: 80
      targetPort: grpc
"""


@ex("09-write-headless-service", "A headless Service for client-side balancing", "manifest",
    "a manifest: YAML text in a string",
    "Write a headless Service named `backend-rr` for the backend pods (selector `app: backend`, port 80 to the "
    "named port `grpc`), so that DNS answers with every pod's IP and a client can balance requests itself.",
    "answer = '''\n" + HEADLESS + "'''",
    "`clusterIP: None` makes the Service headless: no virtual IP, no kube-proxy rules, and the cluster DNS answers "
    "the Service's name with one A record per ready pod. A client that resolves it (gRPC's `round_robin` policy "
    "over a `dns:///` target) opens a connection to each pod and spreads its requests over all of them.",
    lambda: HEADLESS)
def _09_headless(answer: Any) -> tuple[bool, str]:
    from ..discovery.dns import resolve
    from ..errors import KubelearnError

    services = kinds_in(answer, "Service")
    names = [str((s.get("metadata") or {}).get("name", "")) for s in services]
    taken = [n for n in names if n in ("backend", "backend-headless")]
    if taken:
        return False, f"The lesson's cluster already has a Service named `{taken[0]}`: call yours `backend-rr`."
    cluster, why = applied(lesson_cluster(*L09), answer)
    if cluster is None:
        return False, why
    if len(services) != 1:
        return False, f"Write exactly one Service; your YAML has {len(services)}."
    name = names[0]
    svc = cluster.get("Service", name)
    if svc["spec"].get("clusterIP") != "None":
        return False, (f"`{name}` got the virtual IP {svc['spec'].get('clusterIP')}: a client would still reach one "
                       "pod per connection through kube-proxy. A headless Service sets `clusterIP: None`.")
    client = sorted(objects.name(p) for p in cluster.pods() if objects.name(p).startswith("client-"))[0]
    try:
        ips = sorted(r.data for r in resolve(cluster, name, "A", from_pod=client).answer)
    except KubelearnError as exc:
        return False, f"DNS cannot answer for `{name}`: `{exc}`"
    backends = sorted(p["status"]["podIP"] for p in cluster.pods() if objects.name(p).startswith("backend-"))
    if ips != backends:
        return False, (f"DNS answers `{name}` with {each_or_none(ips)}; the backend pods are {', '.join(backends)}. "
                       "Check the selector (`app: backend`).")
    if not any(p.get("port") == 80 for p in svc["spec"].get("ports") or []):
        return False, "Give the Service port 80: the clients dial the backend on port 80."
    return True, (f"`{name}` is headless and DNS answers with the three backend pods' IPs ({', '.join(backends)}); a "
                  "client library can now open a connection to each and balance its requests over them.")


def each_or_none(values: list[str]) -> str:
    return ", ".join(values) if values else "no address"


# -------------------------------------------------------- 4. how long until a new pod is seen
@ex("09-predict-dns-delay", "When does client-side balancing find the new pods?", "predict",
    "a number of seconds, such as 3.5",
    "Clients that balance by themselves over the headless Service cache its DNS answer for 30 s (the TTL). About "
    "how many seconds after the scale-up at 20 s does the first request reach a new pod?",
    "balanced = kl.simulate(cluster, kl.workload(CLIENTS, kl.traffic.dns(\"backend-headless\", 80),\n"
    "                       connections=4800, rate=80, connection_seconds=0.05, dns_strategy=\"round-robin\",\n"
    "                       dns_ttl=30, events=SCALE), seed=0)\n"
    "new = balanced[(balanced[\"outcome\"] == \"ok\") & ~balanced[\"pod\"].astype(str).isin(OLD_PODS)]\n"
    "answer = new[\"time\"].min() - 20",
    "Client-side balancing only knows the pods DNS told it about. Each client asked at its first request, near "
    "0 s, and keeps that answer for 30 s; it asks again at about 30 s and only then sees the new pods. A "
    "shorter TTL (or a client that re-resolves on a timer) finds new pods sooner.",
    _dns_delay)
def _09_delay(answer: Any) -> tuple[bool, str]:
    value = number(answer, "a number of seconds, such as 3.5")
    delay = _dns_delay()
    if abs(value - delay) <= 2.0:
        return True, (f"About {delay:g} s. The clients keep their first DNS answer until it expires (30 s TTL), "
                      "then resolve again and find the new pods.")
    if value < 2:
        return False, ("The new pods are Ready within a second or two, but a client only learns their IPs when it "
                       "asks DNS again. When does its cached answer expire?")
    return False, (f"You said {value:g} s. The clients asked DNS at their first request, near 0 s, and cache the "
                   "answer for 30 s: when do they ask again, and how long after the scale-up is that?")
