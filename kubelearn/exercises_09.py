"""Lesson 09's exercises: connections, not requests.

Each exercise is a dict with ``id`` (``"09-…"``), ``lesson``, ``prompt``, ``check`` (a
function ``answer -> (passed, message)`` that never raises and computes its verdict from the
model: the simulator runs on the lesson's cluster) and ``solution`` (``code``,
``explanation`` and an ``answer`` that ``check`` accepts).  The exercises API
(``kl.check``/``kl.solution``) reads :data:`EXERCISES`.

The cluster is the lesson's ``manifests/09-grpc.yaml`` (kept here as :data:`MANIFEST`, so the
library does not read a notebook's files; a test keeps the two identical): a Deployment
``backend`` of three pods behind a ClusterIP Service ``backend`` and a headless Service
``backend-headless``, and four ``client`` pods.  Every run lasts 60 s; the Deployment is
scaled from 3 to 6 replicas at 20 s; each client sends 20 requests per second.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import cache
from typing import Any

import pandas as pd

__all__ = ["EXERCISES", "MANIFEST", "RATE", "SCALE_AT", "SECONDS", "first_new_pod_request", "new_pod_share",
           "recycled_run"]

MANIFEST = """\
# Lesson 09: a gRPC-style backend behind two Services, and the clients that call it.
# Try it on a kind cluster:  kubectl apply -f 09-grpc.yaml
#   - "backend" is an ordinary ClusterIP Service: kube-proxy picks a pod per *connection*;
#   - "backend-headless" (clusterIP: None) has no virtual IP: DNS answers with every ready
#     pod's IP, so a client can balance by itself (gRPC's round_robin policy does this).
apiVersion: apps/v1
kind: Deployment
metadata:
  name: backend
  labels:
    app: backend
spec:
  replicas: 3
  selector:
    matchLabels:
      app: backend
  template:
    metadata:
      labels:
        app: backend
    spec:
      containers:
        - name: backend
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: ["grpc-health-checking", "--port=9376"]
          ports:
            - containerPort: 9376
              name: grpc
---
apiVersion: v1
kind: Service
metadata:
  name: backend
spec:
  selector:
    app: backend
  ports:
    - name: grpc
      protocol: TCP
      port: 80
      targetPort: grpc
---
apiVersion: v1
kind: Service
metadata:
  name: backend-headless
spec:
  clusterIP: None
  selector:
    app: backend
  ports:
    - name: grpc
      protocol: TCP
      port: 80
      targetPort: grpc
---
# Four client pods; in the simulator a Workload says how they connect and how often they call.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: client
  labels:
    app: client
spec:
  replicas: 4
  selector:
    matchLabels:
      app: client
  template:
    metadata:
      labels:
        app: client
    spec:
      containers:
        - name: client
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: ["pause"]
"""

#: Length of every run, the moment of the scale-up (3 -> 6 replicas), requests per second per client.
SECONDS, SCALE_AT, RATE, CLIENTS = 60.0, 20.0, 20, 4


@cache
def _cluster() -> Any:
    from .apply import load

    return load(MANIFEST)


def _scale() -> list[Any]:
    from .traffic import Event

    return [Event(SCALE_AT, "scale", {"deployment": "backend", "replicas": 6})]


def _original_pods() -> set[str]:
    return {p["metadata"]["name"] for p in _cluster().pods() if p["metadata"]["name"].startswith("backend-")}


def new_pod_share(log: pd.DataFrame, start: float, end: float = SECONDS) -> float:
    """Share of the requests answered between ``start`` and ``end`` that the pods added by the scale-up answered."""
    window = log[(log["time"] >= start) & (log["time"] < end) & (log["outcome"] == "ok")]
    if window.empty:
        return 0.0
    pods = window["pod"].astype(str)
    return float((~pods.isin(_original_pods())).mean())


@cache
def _pinned() -> pd.DataFrame:
    """One long-lived connection per client, open for the whole run (HTTP/2, gRPC)."""
    from .traffic import cluster_ip, pods, simulate, workload

    wl = workload(pods(selector={"app": "client"}), cluster_ip("backend", 80), connections=CLIENTS, rate=CLIENTS,
                  connection_seconds=SECONDS, requests_per_connection=int(RATE * SECONDS), events=_scale())
    return simulate(_cluster(), wl, seed=0)


@cache
def recycled_run(max_age: float) -> pd.DataFrame:
    """Each client's connection is closed after ``max_age`` seconds (``maxConnectionAge``) and opened again.

    About four connections are open at any moment, each carrying 20 requests per second;
    a new connection is a new choice of pod by kube-proxy.
    """
    from .traffic import cluster_ip, pods, simulate, workload

    n = max(CLIENTS, round(CLIENTS * SECONDS / max_age))
    wl = workload(pods(selector={"app": "client"}), cluster_ip("backend", 80), connections=n,
                  rate=CLIENTS / max_age, connection_seconds=max_age,
                  requests_per_connection=max(1, round(RATE * max_age)), events=_scale())
    return simulate(_cluster(), wl, seed=0)


def _number(answer: Any) -> float | None:
    if isinstance(answer, bool) or answer is None or answer is Ellipsis:
        return None
    if isinstance(answer, int | float):
        return float(answer) if math.isfinite(float(answer)) else None
    return None


NOT_YET = "Not yet: replace the ... with your answer and run this cell again."


# ------------------------------------------------------------------ 1. predict the share
def _check_pinned(answer: Any) -> tuple[bool, str]:
    if answer is Ellipsis:
        return False, NOT_YET
    value = _number(answer)
    if value is None:
        return False, f"Expected a number between 0 and 1 (a share, like 0.25), not {type(answer).__name__}."
    if value > 1 and value <= 100:
        return False, f"Give the share as a fraction between 0 and 1: {value:g} % is {value / 100:g}."
    share = new_pod_share(_pinned(), SCALE_AT + 10)
    if abs(value - share) <= 0.02:
        return True, (f"Right: the three new pods answered {share:.0%} of the requests after {SCALE_AT + 10:g} s. "
                      "The four connections were opened before the scale-up, and kube-proxy only chooses a pod "
                      "when a connection opens.")
    if abs(value - 0.5) <= 0.05:
        return False, ("That is what six pods sharing the requests equally would give (3 new of 6). But kube-proxy "
                       "chooses per connection, and no connection opened after the scale-up.")
    return False, (f"You predicted {value:.0%}. Ask: when does kube-proxy choose a pod, and did any of the four "
                   "connections open after 20 s?")


# ------------------------------------------------------------- 2. choose a connection age
def _check_max_age(answer: Any) -> tuple[bool, str]:
    if answer is Ellipsis:
        return False, NOT_YET
    value = _number(answer)
    if value is None:
        return False, f"Expected a number of seconds (like 30), not {type(answer).__name__}."
    if value < 1:
        return False, (f"{value:g} s is a new connection for (almost) every request: balanced, but every request "
                       "pays a TCP and TLS handshake. Choose at least 1 s.")
    if value > SECONDS:
        return False, f"The run lasts {SECONDS:g} s: a connection older than that is never recycled in it."
    # A connection opened just before the scale-up lives until SCALE_AT + age; every connection
    # open after 40 s was opened after the scale-up exactly when that is at most 40 s.
    measured = new_pod_share(recycled_run(value), 40.0)
    if SCALE_AT + value <= 40.0:
        return True, (f"Right: every connection opened before {SCALE_AT:g} s is closed by {SCALE_AT + value:g} s, so "
                      f"from 40 s on each connection was a fresh choice over six pods. In this run the new pods "
                      f"answered {measured:.0%} of the requests between 40 and 60 s (half is the expectation: few "
                      "connections, so chance shows).")
    return False, (f"With an age of {value:g} s a connection opened just before the scale-up stays open until "
                   f"{SCALE_AT + value:g} s, still pinned to an old pod after 40 s (in this run the new pods "
                   f"answered {measured:.0%} of the requests between 40 and 60 s).")


# ------------------------------------------------------------ 3. write the headless Service
def _as_manifest(answer: Any) -> dict[str, Any] | str:
    """The learner's Service as a dict, or a sentence saying what is wrong with the answer."""
    if isinstance(answer, str):
        import yaml

        try:
            docs = [d for d in yaml.safe_load_all(answer) if d is not None]
        except yaml.YAMLError as exc:
            return f"That YAML does not parse: {str(exc).splitlines()[0]}"
        if len(docs) != 1 or not isinstance(docs[0], dict):
            return "Expected one Service manifest (a YAML document or a dict)."
        answer = docs[0]
    if not isinstance(answer, dict):
        return f"Expected a Service manifest (a dict or YAML text), not {type(answer).__name__}."
    return answer


def _check_headless(answer: Any) -> tuple[bool, str]:
    if answer is Ellipsis:
        return False, NOT_YET
    manifest = _as_manifest(answer)
    if isinstance(manifest, str):
        return False, manifest
    from .apply import load
    from .dns import resolve
    from .errors import KubelearnError

    if manifest.get("kind") != "Service":
        return False, f"Expected kind: Service, not {manifest.get('kind')!r}."
    name = (manifest.get("metadata") or {}).get("name")
    if name in ("backend", "backend-headless"):
        return False, f"The lesson's cluster already has a Service named {name}: give yours a new name."
    try:
        import yaml

        cluster = load(MANIFEST + "---\n" + yaml.safe_dump(manifest))
    except KubelearnError as exc:
        return False, f"The API server refuses it: {exc}"
    except Exception as exc:  # noqa: BLE001 - a learner's answer must never raise
        return False, f"That manifest cannot be applied: {exc}"
    svc = cluster.get("Service", str(name))
    if svc["spec"].get("clusterIP") != "None":
        return False, (f"Service {name} got the virtual IP {svc['spec'].get('clusterIP')}: a client would still reach "
                       "one pod per connection through kube-proxy. A headless Service sets clusterIP: None.")
    client = next(p["metadata"]["name"] for p in cluster.pods() if p["metadata"]["name"].startswith("client-"))
    try:
        answer_ips = sorted(a.data for a in resolve(cluster, str(name), "A", from_pod=client).answer)
    except KubelearnError as exc:
        return False, f"DNS cannot answer for {name}: {exc}"
    backend_ips = sorted(p["status"]["podIP"] for p in cluster.pods() if p["metadata"]["name"].startswith("backend-"))
    if answer_ips != backend_ips:
        return False, (f"DNS answers {name} with {answer_ips or 'no address'}; the backend pods are {backend_ips}. "
                       "Check the selector (app: backend).")
    ports = svc["spec"].get("ports") or []
    if not any(p.get("port") == 80 for p in ports):
        return False, "Give the Service port 80, as the clients dial backend on port 80."
    return True, (f"Right: {name} is headless and DNS answers with the three backend pods' IPs {backend_ips}; a "
                  "client library can now open a connection to each and balance requests over them.")


# -------------------------------------------------------- 4. how long until a new pod is seen
@cache
def _headless_run(ttl: float) -> pd.DataFrame:
    from .traffic import dns, pods, simulate, workload

    n = int(RATE * CLIENTS * SECONDS)
    wl = workload(pods(selector={"app": "client"}), dns("backend-headless", 80), connections=n,
                  rate=n / SECONDS, connection_seconds=0.05, dns_strategy="round-robin", dns_ttl=ttl,
                  events=_scale())
    return simulate(_cluster(), wl, seed=0)


def first_new_pod_request(ttl: float) -> float:
    """Seconds after the scale-up until a client first sent a request to a new pod, with DNS answers cached ``ttl`` s."""
    log = _headless_run(ttl)
    new = log[(log["outcome"] == "ok") & ~log["pod"].astype(str).isin(_original_pods())]
    return float(new["time"].min() - SCALE_AT) if len(new) else math.inf


def _check_ttl(answer: Any) -> tuple[bool, str]:
    if answer is Ellipsis:
        return False, NOT_YET
    value = _number(answer)
    if value is None:
        return False, f"Expected a number of seconds (like 3.5), not {type(answer).__name__}."
    delay = first_new_pod_request(30.0)
    if abs(value - delay) <= 2.0:
        return True, (f"Right: about {delay:.1f} s. The clients keep the old answer until their cached DNS answer "
                      "expires (30 s TTL here), then resolve again and find the new pods.")
    if value < 2:
        return False, ("The new pods are Ready within a second or two, but a client only learns their IPs when it "
                       "asks DNS again. When does its cached answer expire?")
    return False, f"You said {value:g} s. Look at the TTL the clients cache the answer for, and when they last asked."


def _exercise(id_: str, prompt: str, check: Callable[[Any], tuple[bool, str]], code: str, explanation: str,
              answer: Any) -> dict[str, Any]:
    return {"id": id_, "lesson": "09", "prompt": prompt, "check": check,
            "solution": {"code": code, "explanation": explanation, "answer": answer}}


EXERCISES: list[dict[str, Any]] = [
    _exercise(
        "09-predict-new-pods-share",
        "Four clients each keep one HTTP/2 connection to the ClusterIP Service `backend` for the whole minute. "
        "At 20 s the Deployment is scaled from 3 to 6 replicas. Before you measure it: what share of the "
        "requests sent after 30 s will the three new pods answer? (a number between 0 and 1)",
        _check_pinned,
        "log = kl.simulate(cluster, kl.workload(CLIENTS, kl.cluster_ip(\"backend\", 80), connections=4, rate=4,\n"
        "                  connection_seconds=60, requests_per_connection=1200, events=SCALE), seed=0)\n"
        "late = log[(log[\"time\"] >= 30) & (log[\"outcome\"] == \"ok\")]\n"
        "answer = float((~late[\"pod\"].astype(str).isin(OLD_PODS)).mean())",
        "kube-proxy's rules only see a connection's first packet; conntrack sends every later packet, and so every "
        "request on that connection, to the same pod. No connection opened after the scale-up, so the new pods "
        "answer nothing until a connection is closed and opened again.",
        0.0),
    _exercise(
        "09-choose-max-connection-age",
        "The backend now closes every connection after a maximum age (what gRPC servers call maxConnectionAge); "
        "each client reconnects at once, and kube-proxy chooses a pod for the new connection. Choose an age in "
        "seconds (at least 1) so that every connection carrying requests after 40 s was opened after the "
        "scale-up at 20 s.",
        _check_max_age,
        "# a connection opened just before 20 s lives until 20 + age: that must be 40 s at the latest\n"
        "answer = 20",
        "Every new connection is a new random choice over the endpoints of that moment. With an age of 20 s (or "
        "less) every connection opened before the scale-up is gone by 40 s, so from then on the connections are "
        "spread over six pods. Shorter ages balance faster but cost a handshake more often; a few tens of seconds, with "
        "some jitter so that clients do not reconnect all at once, is a common compromise.",
        20),
    _exercise(
        "09-write-headless-service",
        "Write a headless Service named `backend-rr` for the backend pods (selector `app: backend`, port 80 to the "
        "named port `grpc`), so that DNS answers with every pod's IP and a client can balance requests itself. "
        "Give it as YAML text or a dict.",
        _check_headless,
        "answer = \"\"\"\napiVersion: v1\nkind: Service\nmetadata:\n  name: backend-rr\nspec:\n  clusterIP: None\n"
        "  selector:\n    app: backend\n  ports:\n    - name: grpc\n      port: 80\n      targetPort: grpc\n\"\"\"",
        "clusterIP: None makes the Service headless: no virtual IP, no kube-proxy rules, and the cluster DNS answers "
        "the Service's name with one A record per ready pod. A client that resolves it (gRPC's round_robin policy "
        "over a dns:/// target) opens a connection to each pod and spreads its requests over all of them.",
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "backend-rr"},
         "spec": {"clusterIP": "None", "selector": {"app": "backend"},
                  "ports": [{"name": "grpc", "port": 80, "targetPort": "grpc"}]}}),
    _exercise(
        "09-predict-dns-delay",
        "Clients that balance by themselves over the headless Service cache its DNS answer for 30 s (the TTL). "
        "About how many seconds after the scale-up at 20 s does the first request reach a new pod?",
        _check_ttl,
        "log = kl.simulate(cluster, kl.workload(CLIENTS, kl.traffic.dns(\"backend-headless\", 80), connections=4800,\n"
        "                  rate=80, connection_seconds=0.05, dns_strategy=\"round-robin\", dns_ttl=30,\n"
        "                  events=SCALE), seed=0)\n"
        "new = log[(log[\"outcome\"] == \"ok\") & ~log[\"pod\"].astype(str).isin(OLD_PODS)]\n"
        "answer = float(new[\"time\"].min() - 20)",
        "Client-side balancing only knows the pods DNS told it about. Each client asked at its first request, near "
        "0 s, and keeps that answer for 30 s; it asks again at about 30 s and only then sees the new pods. A "
        "shorter TTL (or a client that re-resolves on a timer) finds new pods sooner.",
        None),
]

class _Solution(dict):  # type: ignore[type-arg]
    """A solution whose ``answer`` is computed from the model when first read (importing runs nothing)."""

    def __init__(self, compute: Callable[[], Any], **fields: Any) -> None:
        super().__init__(**fields)
        self._compute = compute

    def __missing__(self, key: str) -> Any:
        if key != "answer":
            raise KeyError(key)
        self["answer"] = self._compute()
        return self["answer"]

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        return self[key] if key in self or key == "answer" else default


# The last answer depends on the model's timing: computed from the model, never written by hand.
_last = EXERCISES[-1]["solution"]
EXERCISES[-1]["solution"] = _Solution(lambda: round(first_new_pod_request(30.0), 1), code=_last["code"],
                                      explanation=_last["explanation"])
