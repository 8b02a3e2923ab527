"""Workloads: who sends traffic to a Service, from where, to what, and how.

A Service is only ever seen through its clients.  A pod dialling ``my-service`` goes through
DNS and its own node's kube-proxy rules; a node dialling the ClusterIP is masqueraded; an
external host reaches a NodePort on one node, or a cloud load balancer that picks a node for
it.  What a learner observes depends on all of that, so a workload spells it out.

A workload is plain Python (the builders below: ``workload(pod_clients(selector={"app":
"client"}), dns("my-service", 80), connections=1000)``) or a YAML document of kubelearn's own
kind, loaded by the same ``-f`` as the manifests::

    apiVersion: kubelearn.dev/v1alpha1
    kind: Workload
    metadata:
      name: web-clients
    spec:
      clients:                       # one or more sources, connections spread evenly over them
      - pods: {selector: {app: MyApp}, namespace: default}   # or names: [my-app-774ddb954b-988m2]
      # - nodes: [kind-worker]       # [] means every node; nodes dial a clusterIP (no cluster DNS on a node)
      # - external: {cidr: 203.0.113.0/24, count: 50}   # with a nodePort, externalIP or loadBalancer target
      target:                        # exactly one of:
        dns: my-service              # as a pod writes it: my-service, my-service.prod, FQDN
        port: 80                     # the port dialled (required with dns)
        # clusterIP:    {service: my-service, namespace: default, port: 80}
        # nodePort:     {service: my-service, node: kind-worker, port: 80}
        # externalIP:   {service: my-service, ip: 198.51.100.7, node: kind-worker, port: 80}
        # loadBalancer: {service: my-service, kind: cloud, port: 80}   # kind: cloud | l2; ip: default from status
      connections: 1000
      arrival: {type: poisson, rate: 100}        # or fixed; rate in new connections per second
      connectionSeconds: 0.5                     # how long each connection stays open
      requestsPerConnection: 1                   # keep-alive requests, spread over that time
      protocol: TCP
      dnsClient: {strategy: first, ttlSeconds: 30}   # first | random | round-robin; TTL of the cache
      propagation: {endpointSliceSeconds: 0.1}    # kube-proxy's minSyncPeriod comes from its config
      events:                        # pod names: from kubelearn get pods (seed 0)
      - {at: 2, scale: {deployment: my-app, replicas: 5}}
      - {at: 3, deletePod: {name: my-app-774ddb954b-988m2, grace: true}}
      - {at: 3, setReady: {pod: my-app-774ddb954b-d247v, ready: false}}
      - {at: 3.5, crashPod: {name: my-app-774ddb954b-pf5vd}}
      - {at: 4, rollout: {deployment: my-app, stepSeconds: 1,
                          template: {spec: {containers: [{name: app, image: "registry.k8s.io/e2e-test-images/agnhost:2.54"}]}}}}
      - {at: 6, cordon: {node: kind-worker}}
      - {at: 8, failNode: {node: kind-worker2}}

Defaults: ``connections`` 1000, ``arrival`` fixed at 100/s, ``connectionSeconds`` 0.1,
``requestsPerConnection`` 1, ``protocol`` TCP, DNS strategy ``first`` with the record's TTL.

The bounds every field is checked against at admission are in
:mod:`kubelearn.apiserver.workload`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..apiserver.schema import BadRequestError, DecodeError
from ..apiserver.workload import (  # the kind's schema, checked by the API server
    API_VERSION,
    MAX_CONNECTIONS,
    MAX_EVENTS,
    MAX_EXTERNAL_CLIENTS,
    MAX_RATE,
    MAX_REPLICAS,
    MAX_REQUESTS,
    MAX_REQUESTS_PER_CONNECTION,
    MAX_SECONDS,
    validate_workload,
)
from ..errors import InvalidError, WorkloadError

__all__ = [
    "API_VERSION",
    "MAX_CONNECTIONS",
    "MAX_EVENTS",
    "MAX_EXTERNAL_CLIENTS",
    "MAX_RATE",
    "MAX_REPLICAS",
    "MAX_REQUESTS",
    "MAX_REQUESTS_PER_CONNECTION",
    "MAX_SECONDS",
    "Event",
    "Workload",
    "WorkloadError",
    "cluster_ip",
    "dns",
    "external_clients",
    "external_ip",
    "from_object",
    "load_balancer",
    "node_clients",
    "node_port",
    "pod_clients",
    "validate_workload",
    "workload",
]

@dataclass(frozen=True)
class Event:
    """One change to the cluster during a run: ``action`` with its ``args`` at ``at`` seconds."""

    at: float
    action: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def to_object(self) -> dict[str, Any]:
        """The YAML form: ``{at: 5, scale: {...}}``."""
        return {"at": self.at, self.action: _plain(self.args)}


@dataclass(frozen=True)
class Workload:
    """Who sends how much traffic to what.  Build with :func:`workload` or :func:`from_object`.

    Attributes mirror the YAML ``spec`` (see the module docstring); ``clients`` and ``target``
    keep their YAML dict form.
    """

    clients: tuple[Mapping[str, Any], ...]
    target: Mapping[str, Any]
    connections: int = 1000
    arrival: str = "fixed"
    rate: float = 100.0
    connection_seconds: float = 0.1
    requests_per_connection: int = 1
    protocol: str = "TCP"
    dns_strategy: str = "first"
    dns_ttl: float | None = None
    events: tuple[Event, ...] = ()
    endpoint_slice_seconds: float = 0.1
    name: str = "workload"

    def __post_init__(self) -> None:
        # A Workload is valid or does not exist, however it was made (builders, from_object,
        # the dataclass itself, with_): the simulator and the lab never see an unchecked one.
        errors = validate_workload(self.to_object())
        if errors:
            raise InvalidError("Workload", self.name, errors)  # a non-string name shows as ""

    def to_object(self) -> dict[str, Any]:
        """The ``kubelearn.dev/v1alpha1`` ``Workload`` document for this workload."""
        dns_client: dict[str, Any] = {"strategy": self.dns_strategy}
        if self.dns_ttl is not None:
            dns_client["ttlSeconds"] = self.dns_ttl
        return {
            "apiVersion": API_VERSION,
            "kind": "Workload",
            "metadata": {"name": self.name},
            "spec": {
                "clients": [_plain(c) for c in self.clients],
                "target": _plain(self.target),
                "connections": self.connections,
                "arrival": {"type": self.arrival, "rate": self.rate},
                "connectionSeconds": self.connection_seconds,
                "requestsPerConnection": self.requests_per_connection,
                "protocol": self.protocol,
                "dnsClient": dns_client,
                "propagation": {"endpointSliceSeconds": self.endpoint_slice_seconds},
                "events": [e.to_object() if isinstance(e, Event) else e for e in self.events],
            },
        }

    def with_(self, **changes: Any) -> Workload:
        """A copy with some fields changed, e.g. ``w.with_(connections=10_000)``.

        Raises:
            InvalidError: when the copy is not a valid workload (the same checks as a document).
        """
        from dataclasses import replace

        return replace(self, **changes)


# --------------------------------------------------------------------------- builders
def pod_clients(selector: Mapping[str, str] | None = None, names: Sequence[str] | None = None,
                namespace: str = "default") -> dict[str, Any]:
    """Client pods chosen by label selector (``{"app": "client"}``) or by name: ``- pods: {...}`` in YAML.

    Not to be confused with :meth:`kubelearn.Cluster.pods`, which lists the cluster's Pods.
    """
    spec: dict[str, Any] = {"namespace": namespace}
    if selector is not None:
        spec["selector"] = dict(selector)
    if names is not None:
        spec["names"] = list(names)
    return {"pods": spec}


def node_clients(*names: str) -> dict[str, Any]:
    """Client nodes (the node itself dials, e.g. a hostNetwork process); none given: every node.

    ``- nodes: [...]`` in YAML.  Not to be confused with :meth:`kubelearn.Cluster.nodes`.
    """
    return {"nodes": list(names)}


def external_clients(cidr: str, count: int, node: str | None = None) -> dict[str, Any]:
    """``count`` external hosts with addresses taken in order from ``cidr`` (first host first).

    ``- external: {cidr: ..., count: ...}`` in YAML.

    ``node`` is the node their packets arrive at when they dial a ClusterIP or an external IP
    (the network routes it there); NodePort and load-balancer targets choose the node themselves.
    """
    spec: dict[str, Any] = {"cidr": cidr, "count": count}
    if node is not None:
        spec["node"] = node
    return {"external": spec}


# The names these builders had before (kl.pods beside Cluster.pods, a listing, was one name for
# two things).  Kept while lessons written with them are migrated; new code uses the *_clients names.
pods = pod_clients
nodes = node_clients
external = external_clients


def dns(name: str, port: int) -> dict[str, Any]:
    """Target a name as a pod would write it (``my-service``, ``my-service.prod``, an FQDN)."""
    return {"dns": name, "port": port}


def _svc_target(target_kind: str, service: str, namespace: str, port: int | str | None, /,
                **extra: Any) -> dict[str, Any]:
    # Positional-only: a builder's own keyword (``kind=``, ``node=``, ``ip=``, even ``service=``)
    # must land in ``extra`` and never collide with a parameter of this helper.
    spec: dict[str, Any] = {"service": service, "namespace": namespace}
    if port is not None:
        spec["port"] = port
    spec.update({k: v for k, v in extra.items() if v is not None})
    return {target_kind: spec}


def cluster_ip(service: str, port: int | str | None = None, namespace: str = "default") -> dict[str, Any]:
    """Target the Service's ClusterIP; ``port`` is the Service port (number or name), default the first."""
    return _svc_target("clusterIP", service, namespace, port)


def node_port(service: str, node: str, port: int | str | None = None, namespace: str = "default") -> dict[str, Any]:
    """Target ``<node IP>:<nodePort>`` of the Service port ``port`` (number or name)."""
    return _svc_target("nodePort", service, namespace, port, node=node)


def external_ip(service: str, ip: str | None = None, node: str | None = None, port: int | str | None = None,
                namespace: str = "default") -> dict[str, Any]:
    """Target one of ``spec.externalIPs`` (default the first), arriving at ``node`` (default the first worker)."""
    return _svc_target("externalIP", service, namespace, port, ip=ip, node=node)


def load_balancer(service: str, kind: str = "cloud", port: int | str | None = None, namespace: str = "default",
                  ip: str | None = None) -> dict[str, Any]:
    """Target a LoadBalancer Service through a modelled external balancer (``cloud`` or ``l2``).

    ``ip`` is the load-balancer IP; by default the Service's ``status.loadBalancer.ingress[0].ip``.
    """
    return _svc_target("loadBalancer", service, namespace, port, kind=kind, ip=ip)


def workload(clients: Sequence[Mapping[str, Any]] | Mapping[str, Any], target: Mapping[str, Any], *,
             connections: int = 1000, arrival: str = "fixed", rate: float = 100.0,
             connection_seconds: float = 0.1, requests_per_connection: int = 1, protocol: str = "TCP",
             dns_strategy: str = "first", dns_ttl: float | None = None,
             events: Sequence[Event | Mapping[str, Any]] = (), endpoint_slice_seconds: float = 0.1,
             name: str = "workload") -> Workload:
    """Build and validate a :class:`Workload`.

    Args:
        clients: one client source (``pod_clients(...)``, ``node_clients(...)``,
            ``external_clients(...)``) or a list.
        target: ``dns(...)``, ``cluster_ip(...)``, ``node_port(...)``, ``external_ip(...)`` or
            ``load_balancer(...)``.
        connections: how many connections in total.
        arrival: ``fixed`` (evenly spaced) or ``poisson`` arrivals at ``rate`` per second.
        connection_seconds: how long each connection stays open.
        requests_per_connection: keep-alive requests per connection.
        dns_strategy: which A record a client uses: ``first``, ``random`` or ``round-robin``.
        dns_ttl: seconds a client caches an answer (default: the record's TTL).
        events: :class:`Event` values or their YAML dicts.
        endpoint_slice_seconds: delay between a change and its EndpointSlice update.

    Raises:
        InvalidError: listing every invalid field, with its path.
    """
    if isinstance(clients, Mapping):
        clients = [clients]
    clients = list(clients) if isinstance(clients, (list, tuple)) else clients  # anything else: refused below
    evs = [e.to_object() if isinstance(e, Event) else _plain(e) for e in events] \
        if isinstance(events, (list, tuple)) else events
    dns_client: dict[str, Any] = {"strategy": dns_strategy}
    if dns_ttl is not None:
        dns_client["ttlSeconds"] = dns_ttl
    # The document first, validated as a whole: every error is listed at once.
    return from_object({
        "apiVersion": API_VERSION,
        "kind": "Workload",
        "metadata": {"name": name},
        "spec": {
            "clients": [_plain(c) for c in clients] if isinstance(clients, list) else clients,
            "target": _plain(target),
            "connections": connections,
            "arrival": {"type": arrival, "rate": rate},
            "connectionSeconds": connection_seconds,
            "requestsPerConnection": requests_per_connection,
            "protocol": protocol,
            "dnsClient": dns_client,
            "propagation": {"endpointSliceSeconds": endpoint_slice_seconds},
            "events": evs,
        },
    })


def _plain(v: Any) -> Any:
    """A mapping as a plain dict (anything else as it is, for validation to judge)."""
    return dict(v) if isinstance(v, Mapping) else v


# --------------------------------------------------------------------------- YAML kind
def from_object(obj: Mapping[str, Any]) -> Workload:
    """The :class:`Workload` a ``kubelearn.dev/v1alpha1`` ``Workload`` document describes.

    Raises:
        BadRequestError: unknown fields, in the API server's strict-decoding words.
        InvalidError: listing every invalid field, with its path.
    """
    errors = validate_workload(obj)
    meta = obj.get("metadata") if isinstance(obj, Mapping) else None
    name = meta.get("name") if isinstance(meta, Mapping) else ""
    name = name if isinstance(name, str) else ""
    unknown = [e for e in errors if isinstance(e, DecodeError)]
    if unknown:
        raise BadRequestError(obj, tuple(unknown))
    if errors:
        raise InvalidError("Workload", name, errors)
    spec = obj["spec"]
    arrival = spec.get("arrival") or {}
    dns_client = spec.get("dnsClient") or {}
    prop = spec.get("propagation") or {}
    events = []
    for e in spec.get("events") or []:
        action = next(k for k in e if k != "at")
        events.append(Event(float(e["at"]), action, dict(e[action])))
    return Workload(
        clients=tuple(dict(c) for c in spec["clients"]),
        target=dict(spec["target"]),
        connections=int(spec.get("connections", 1000)),
        arrival=str(arrival.get("type", "fixed")),
        rate=float(arrival.get("rate", 100.0)),
        connection_seconds=float(spec.get("connectionSeconds", 0.1)),
        requests_per_connection=int(spec.get("requestsPerConnection", 1)),
        protocol=str(spec.get("protocol", "TCP")),
        dns_strategy=str(dns_client.get("strategy", "first")),
        dns_ttl=None if dns_client.get("ttlSeconds") is None else float(dns_client["ttlSeconds"]),
        events=tuple(sorted(events, key=lambda ev: ev.at)),
        endpoint_slice_seconds=float(prop.get("endpointSliceSeconds", 0.1)),
        name=name,
    )
