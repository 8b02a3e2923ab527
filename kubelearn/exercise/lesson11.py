"""Lesson 11's exercises: cross-zone traffic, where it comes from and how a Service keeps it in its zone.

The lesson starts from the ``three-zones`` scenario (three workers in ``zone-a``, ``zone-b`` and
``zone-c``, a Deployment ``web`` of six replicas behind the Services ``web`` and ``web-auto``) with
nine client pods spread over the workers, as the Service explorer builds it
(:func:`kubelearn.scenarios.explore_service`).  Every expected answer is computed with the same
model the learner uses: the EndpointSlice controller's hints, each node's kube-proxy
(:func:`kubelearn.kept_endpoints`) and the simulated request log (:func:`kubelearn.cross_zone_share`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..cluster import Cluster
from ._core import WrongType, percent, text, whole
from .lessons import applied, ex, kinds_in

__all__ = ["CLIENTS", "lesson_cluster", "zoned"]

#: Client pods the lesson sends from (three per worker: the scheduler spreads them).
CLIENTS = 9
ZONES = ("zone-a", "zone-b", "zone-c")


def zoned(replicas: int = 6, traffic_distribution: str = "", topology_mode: str = "") -> Cluster:
    """The three-zones cluster with ``web`` scaled to ``replicas``, its Service ``web`` set as given,
    and the lesson's client pods, as ``kl.widgets.ServiceExplorer`` builds it."""
    return _zoned(replicas, traffic_distribution, topology_mode)


@cache
def _zoned(replicas: int, traffic_distribution: str, topology_mode: str) -> Cluster:
    from ..errors import KubelearnError
    from ..scenarios import ServiceSettings, explore_service, scenario

    result = explore_service(ServiceSettings(replicas=replicas, traffic_distribution=traffic_distribution,
                                             topology_mode=topology_mode, clients=CLIENTS, connections=100),
                             scenario("three-zones"))
    if result.cluster is None:
        raise KubelearnError(result.error or "the three-zones cluster could not be built")
    return result.cluster


def lesson_cluster() -> Cluster:
    """The lesson's starting point: six replicas, ``web`` without trafficDistribution, nine clients."""
    return zoned()


def _expected_cross_share(cluster: Cluster, service: str = "web") -> float:
    """What the rules predict: each client picks uniformly among its node's kept endpoints."""
    from ..proxy import kept_endpoints

    table = kept_endpoints(cluster, service)
    clients = [p["spec"]["nodeName"] for p in cluster.pods()
               if (p["metadata"].get("labels") or {}).get("app") == "kubelearn-client"]
    shares = []
    for node in clients:
        kept = table[(table["node"] == node) & table["kept"]]
        shares.append(float((kept["endpoint_zone"] != kept["node_zone"]).mean()) if len(kept) else 0.0)
    return 100 * sum(shares) / len(shares) if shares else 0.0


def _simulated_cross_share(cluster: Cluster, service: str, connections: int = 3000) -> float:
    from ..traffic import simulate
    from ..traffic.workload import cluster_ip, pod_clients, workload
    from ..traffic.zones import cross_zone_share

    wl = workload(pod_clients(selector={"app": "kubelearn-client"}), cluster_ip(service, 80), connections=connections)
    return cross_zone_share(simulate(cluster, wl, seed=0, progress=False))


# ------------------------------------------------------------- 1. predict the cross-zone share
@ex("11-predict-cross-share", "How much crosses zones without trafficDistribution", "predict",
    "a share, such as 50 (per cent) or 0.5",
    "`web` has six pods, two in each zone, and no `trafficDistribution`. Clients sit in all three zones. "
    "Before you simulate: what share of the requests does a pod in **another** zone answer?",
    'log = zoned(replicas=6).log       # no trafficDistribution\nanswer = kl.cross_zone_share(log)',
    "Without hints every node's kube-proxy keeps all six endpoints and picks one at random per connection. "
    "Two of the six are in the client's own zone, so four in six, about 67 %, cross zones. The simulation "
    "wobbles around that by chance.",
    lambda: round(_expected_cross_share(lesson_cluster()), 1))
def _11_cross(answer: Any) -> tuple[bool, str]:
    got = percent(answer)
    want = _expected_cross_share(lesson_cluster())
    if abs(got - want) <= 4:
        return True, (f"The rules predict {want:.0f} %: each node keeps all six endpoints, four of them in other "
                      "zones. `kl.cross_zone_share(log)` measures about that.")
    if abs(got - 100 / 3) <= 4:
        return False, ("33 % is the share that stays in the client's zone (two endpoints of six). The question is "
                       "the other part.")
    if got <= 1:
        return False, ("0 % is what `trafficDistribution: PreferClose` gives. Here the Service has none: which "
                       "endpoints does a node's kube-proxy keep then? (`kl.kept_endpoints(cluster, \"web\")`)")
    return False, (f"You predicted {got:g} %. Count, for one client: how many of the six endpoints are in its own "
                   "zone, and how many elsewhere? kube-proxy picks each with the same probability.")


# ------------------------------------------------------------- 2. the zone without an endpoint
@ex("11-zone-without-endpoints", "The zone that falls back", "name", "a zone name in a string, such as \"zone-a\"",
    "Scale `web` to two replicas with `trafficDistribution: PreferClose` (in the lesson: "
    "`zoned(replicas=2, traffic_distribution=\"PreferClose\")`, or in the explorer). One zone has no endpoint. "
    "Whose requests still cross zones: the clients of which zone?",
    'c = zoned(replicas=2, traffic_distribution="PreferClose").cluster\nkept = kl.kept_endpoints(c, "web")\n'
    'print(kept[kept.kept])\nanswer = sorted(set(kept.node_zone) - set(kept[kept.topology != ""].node_zone))[0]',
    "The EndpointSlice controller hints each endpoint for its own zone. A node whose zone has no hinted "
    "endpoint cannot use the hints (it would have nowhere to send), so its kube-proxy ignores them and keeps "
    "every endpoint: its clients' traffic all crosses zones, while the two other zones stay at home.",
    lambda: _fallback_zone())
def _11_fallback(answer: Any) -> tuple[bool, str]:
    got = text(answer, "a zone name in a string, such as \"zone-a\"", limit=40)
    want = _fallback_zone()
    if got == want:
        return True, (f"{want} has no endpoint: its nodes find no hint for their zone, ignore the hints and keep "
                      "both endpoints, both in other zones.")
    if got not in ZONES:
        return False, f"Give one of {', '.join(ZONES)} (the `topology.kubernetes.io/zone` labels of the workers)."
    return False, (f"{got} has an endpoint of its own, so its nodes keep it and nothing else. Look for the zone "
                   "with no pod of `web`: `kl.kept_endpoints(c, \"web\")` shows which nodes found no hint.")


def _fallback_zone() -> str:
    from ..proxy import kept_endpoints

    table = kept_endpoints(zoned(2, "PreferClose"), "web")
    fallback = sorted(set(table[table["topology"] == ""]["node_zone"]))
    return fallback[0] if fallback else ""


# ------------------------------------------------------------- 3. a Service that stays in its zone
STARTER_11 = """\
apiVersion: v1
kind: Service
metadata:
  name: web-close
spec:
  selector:
    app: web
  ports:
    - protocol: TCP
      port: 80
      targetPort: 8080
"""
FIXED_11 = STARTER_11.replace("spec:\n", "spec:\n  trafficDistribution: PreferClose\n")


@ex("11-keep-it-in-the-zone", "A Service whose traffic stays in its zone", "manifest",
    "a manifest: YAML text in a string",
    "Change the Service `web-close` below so that, with six replicas spread over the three zones, no request "
    "from the client pods crosses a zone. The check applies it to the lesson's cluster and simulates 3,000 "
    "connections to it.",
    "answer = '''\n" + FIXED_11 + "'''",
    "`spec.trafficDistribution: PreferClose` asks the EndpointSlice controller to hint every endpoint for its "
    "own zone; each node's kube-proxy then keeps only its zone's endpoints. (The annotation "
    "`service.kubernetes.io/topology-mode: Auto` also works here, because every zone has enough endpoints for "
    "its share of the CPU; with fewer replicas its safeguards would remove the hints.)",
    lambda: FIXED_11, starter=STARTER_11)
def _11_keep(answer: Any) -> tuple[bool, str]:
    cluster, why = applied(lesson_cluster(), answer)
    if cluster is None:
        return False, why
    names = [(s.get("metadata") or {}).get("name") for s in kinds_in(answer, "Service")]
    if "web-close" not in names:
        return False, "Write the Service `web-close` (keep its name)."
    try:
        share = _simulated_cross_share(cluster, "web-close")
    except WrongType:
        raise
    except Exception as exc:  # a Service that does not serve port 80: say so in words
        return False, f"kubelearn could not send traffic to `web-close` on port 80: {exc}"
    if share != share:
        return False, "No request to `web-close` was answered: does it still select `app: web` on port 80 → 8080?"
    if share == 0:
        return True, "Simulated: 0 % of the requests to `web-close` crossed zones; every node kept its zone's pods."
    return False, (f"Simulated: {share:.0%} of the requests still crossed zones. Which field asks the EndpointSlice "
                   "controller to hint endpoints for their zone? (`kubectl explain service.spec`)")


# ------------------------------------------------------------- 4. topology-mode Auto's safeguard
@ex("11-predict-auto-replicas", "When topology-mode Auto starts to hint", "predict", "a whole number of replicas",
    "`web-auto` uses `service.kubernetes.io/topology-mode: Auto`. Scale `web` from 1 upwards: from how many "
    "replicas on does the EndpointSlice controller write hints for `web-auto` (the three zones have the same "
    "CPU, and the scheduler spreads the pods)?",
    'for n in range(1, 7):\n    c = zoned(replicas=n).cluster\n    hinted = (kl.kept_endpoints(c, "web-auto").hints != "").all()\n'
    '    print(n, hinted)\nanswer = 3',
    "Topology-aware routing gives each zone a share of the endpoints in proportion to its CPU, and refuses "
    "(no hints at all) when that is unsafe: with fewer endpoints than zones ('Insufficient number of "
    "endpoints'), some zone would get none. From three replicas, one per zone, every zone gets its share.",
    lambda: _auto_replicas())
def _11_auto(answer: Any) -> tuple[bool, str]:
    got = whole(answer, "a whole number of replicas")
    want = _auto_replicas()
    if got == want:
        return True, (f"From {want} replicas the controller hints: one endpoint per zone meets every zone's minimum; "
                      "below that there are fewer endpoints than zones.")
    if got < want:
        return False, (f"With {got} replica(s) there are fewer endpoints than zones: the controller's safeguard "
                       "('Insufficient number of endpoints') removes every hint.")
    return False, (f"At {got} it hints, but earlier already. Try fewer: what is the least that gives every zone at "
                   "least one endpoint?")


def _auto_replicas() -> int:
    from ..proxy import kept_endpoints

    for n in range(1, 13):
        if (kept_endpoints(zoned(n), "web-auto")["hints"] != "").all():
            return n
    return 0
