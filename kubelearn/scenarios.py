"""Ready-made clusters: one real manifest per Service behaviour worth seeing.

Each scenario is a YAML file in ``kubelearn/data/scenarios/`` that you could hand to
``kubectl apply -f`` on a kind cluster (the ``nftables`` and ``ipvs`` files start with a kind
``Cluster`` config and a ``KubeProxyConfiguration``, which ``kind create cluster --config``
reads).  Each file opens with a comment saying what it teaches.  Loading one gives the same
cluster every time for the same seed::

    c = kubelearn.scenario("nodeport-local")
    print(kubelearn.dump(c.get("Service", "web")))

The default, ``my-service``, is the tutorial's Service (selector ``app: MyApp``, port 80 to
targetPort 9376) in front of a three-replica Deployment, on a kind cluster with one
control-plane node and two workers.  ``terminating`` needs one step YAML cannot express (a
graceful pod deletion); :func:`scenario` performs it after applying the file.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from .apply import load
from .cluster import Cluster
from .errors import KubelearnError

__all__ = ["SCENARIOS", "UnknownScenarioError", "default_scenario", "scenario", "scenario_path", "scenario_text"]

#: Scenario name -> what it shows (one line).
SCENARIOS: Mapping[str, str] = MappingProxyType({
    "my-service": "the tutorial's my-service (app: MyApp, 80 -> 9376) in front of 3 replicas",
    "nodeport": "NodePort 30080 with externalTrafficPolicy: Cluster: any node forwards to any pod, source NATed",
    "nodeport-local": "NodePort with externalTrafficPolicy: Local and 2 replicas: one node has no pod and drops",
    "loadbalancer": "LoadBalancer at 172.18.255.200 with eTP Local, source ranges and a healthCheckNodePort",
    "session-affinity": "sessionAffinity: ClientIP: each client sticks to one pod for 10800 s",
    "headless-statefulset": "headless Service nginx + StatefulSet web: DNS returns pod IPs, web-0.nginx...",
    "externalname": "ExternalName: a DNS CNAME to db.example.com, no ClusterIP, no rules",
    "no-endpoints": "a selector that matches no pod: ClusterIP and DNS work, connections are refused",
    "internal-local": "internalTrafficPolicy: Local: pods only reach the Service's pods on their own node",
    "named-targetport": "targetPort http: blue pods serve it on 8080, green pods on 9090",
    "externalips": "ClusterIP Service with externalIPs 203.0.113.10",
    "multi-port": "one Service, named ports tcp-echo (TCP) and udp-echo (UDP)",
    "terminating": "the only pod is terminating: kube-proxy falls back to serving-terminating endpoints",
    "selectorless": "a Service without selector and a hand-written EndpointSlice to 192.0.2.42",
    "nftables": "my-service with kube-proxy in nftables mode",
    "ipvs": "my-service with kube-proxy in IPVS mode, scheduler rr",
})

DEFAULT_SCENARIO = "my-service"


class UnknownScenarioError(KubelearnError, KeyError):
    """A scenario name kubelearn does not have."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(str(self))

    def __str__(self) -> str:
        return f'unknown scenario "{self.name}"; valid scenarios: {", ".join(SCENARIOS)}'

    def __reduce__(self) -> tuple[object, ...]:
        return (UnknownScenarioError, (self.name,))


def _check(name: str) -> None:
    if name not in SCENARIOS:
        raise UnknownScenarioError(name)


def scenario_path(name: str) -> Path:
    """The scenario's manifest file (inside the installed package).

    Raises:
        UnknownScenarioError: listing the valid names.
    """
    _check(name)
    root = resources.files("kubelearn") / "data" / "scenarios" / f"{name}.yaml"
    return Path(str(root))


def scenario_text(name: str) -> str:
    """The scenario's manifest, as text (comment header included)."""
    _check(name)
    return (resources.files("kubelearn") / "data" / "scenarios" / f"{name}.yaml").read_text(encoding="utf-8")


def _terminating(cluster: Cluster) -> Cluster:
    # `kubectl delete pod web-0` starts a graceful deletion: the pod keeps running, Terminating,
    # for terminationGracePeriodSeconds.
    return cluster.delete_pod("web-0", grace=True)


_AFTER: Mapping[str, Callable[[Cluster], Cluster]] = MappingProxyType({"terminating": _terminating})


def scenario(name: str, seed: int = 0) -> Cluster:
    """Load a scenario by name (see :data:`SCENARIOS`).

    Args:
        name: e.g. ``"nodeport-local"``.
        seed: seed for ClusterIPs, node ports and pod names.

    Raises:
        UnknownScenarioError: for a name not in :data:`SCENARIOS`, listing the valid ones.
    """
    _check(name)
    path = scenario_path(name)
    cluster = load(path if path.is_file() else scenario_text(name), seed=seed)
    after = _AFTER.get(name)
    return after(cluster) if after is not None else cluster


def default_scenario(seed: int = 0) -> Cluster:
    """The tutorial's ``my-service`` on the default three-node kind cluster."""
    return scenario(DEFAULT_SCENARIO, seed=seed)


# Three zones (issue 13): added here, at the end, to stay clear of other edits to the table above.
SCENARIOS = MappingProxyType({
    **SCENARIOS,
    "three-zones": "three workers in zones a, b, c; Service web with trafficDistribution: PreferClose "
                   "and web-auto with topology-mode: Auto",
})
