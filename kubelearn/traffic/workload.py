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

A workload is input from a stranger as much as a manifest is, so every field is typed and
ranged before anything runs, and every problem is listed at once (as the API server lists
field errors).  Wrong types are worded as the API server words them for a custom resource
(``spec.events[0].failNode.node: Invalid value: "array": spec.events[0].failNode.node in body
must be of type string: "array"``); NaN and infinity are refused (``must be a finite number``);
names follow the rules of what they name (pods, nodes, Deployments: DNS-1123 subdomains).  The
upper bounds keep memory and time bounded on any document (one request is one log row of about
40-150 bytes):

==================================  ==========================================
``connections``                     1 to 10,000,000 (:data:`MAX_CONNECTIONS`)
``requestsPerConnection``           1 to 10,000, and connections x requests at
                                    most 10,000,000 (:data:`MAX_REQUESTS`)
``arrival.rate``                    above 0, at most 1,000,000 per second
every time and duration             0 to 1,000,000 s (:data:`MAX_SECONDS`)
``replicas`` of a scale event       0 to 10,000 (:data:`MAX_REPLICAS`)
``external.count``                  1 to 65,536 (and the hosts of its CIDR)
``events``                          at most 1,000; client sources at most 100
==================================  ==========================================
"""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import INVALID, NO_VALUE, REQUIRED, UNSUPPORTED, FieldError, InvalidError, KubelearnError
from ..labels import is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_valid_port_name, validate_labels
from ..schema import _GO_NAMED_TYPES, UNKNOWN_FIELD, BadRequestError, DecodeError
from ..schema import check as schema_check
from ..validation import validate_object_meta

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

API_VERSION: Final = "kubelearn.dev/v1alpha1"
TARGET_KINDS: Final = ("dns", "clusterIP", "nodePort", "externalIP", "loadBalancer")
EVENT_ACTIONS: Final = ("scale", "deletePod", "setReady", "crashPod", "rollout", "cordon", "failNode")
DNS_STRATEGIES: Final = ("first", "random", "round-robin")
ARRIVALS: Final = ("fixed", "poisson")
LB_KINDS: Final = ("cloud", "l2")
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")

#: Upper bounds (see the module docstring): what one run may ask for, on any input.
MAX_CONNECTIONS: Final = 10_000_000
MAX_REQUESTS_PER_CONNECTION: Final = 10_000
#: Connections x requests per connection: the rows of one request log.
MAX_REQUESTS: Final = 10_000_000
MAX_RATE: Final = 1_000_000.0
#: Every time and duration (``at``, ``connectionSeconds``, TTLs, delays, ``stepSeconds``).
MAX_SECONDS: Final = 1_000_000.0
MAX_REPLICAS: Final = 10_000
MAX_EXTERNAL_CLIENTS: Final = 65_536
MAX_EVENTS: Final = 1_000
MAX_CLIENT_SOURCES: Final = 100
#: Names in one list (``pods.names``, ``nodes``, a template's containers).
MAX_NAMES: Final = 10_000
TOO_MANY: Final = "Too many"


class WorkloadError(KubelearnError, ValueError):
    """A workload that cannot run on this cluster (a client or target that does not exist)."""


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


# --------------------------------------------------------------------------- validation
class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict usable as a FieldError value (FieldError is a frozen, hashable dataclass)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


class _GoFloat(float):
    """A non-finite number, printed the way Go prints it (``NaN``, ``+Inf``, ``-Inf``)."""

    def __str__(self) -> str:
        return "NaN" if math.isnan(self) else ("+Inf" if self > 0 else "-Inf")

    __repr__ = __str__


def _h(v: Any) -> Any:
    """Make a bad value hashable for FieldError, keeping how render_value prints it."""
    if isinstance(v, (list, tuple)):
        return tuple(_h(x) for x in v)
    if isinstance(v, Mapping):
        return _FrozenDict({str(k): _h(x) for k, x in v.items()})
    if isinstance(v, float) and not math.isfinite(v):
        return _GoFloat(v)
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return str(v)  # a YAML timestamp or another scalar JSON would carry as a string


def _err(path: str, type_: str, value: Any = NO_VALUE, detail: str = "") -> FieldError:
    return FieldError(path, type_, _h(value), detail)


def _json_type(v: Any) -> str:
    """The OpenAPI type name of a decoded value, as a CRD's schema validation names it."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, Mapping):
        return "object"
    if isinstance(v, (list, tuple)):
        return "array"
    return "string"


def _type_err(path: str, v: Any, want: str) -> FieldError:
    # A custom resource's structural schema words a wrong type this way, e.g.
    # spec.events[0].failNode.node: Invalid value: "array": spec.events[0].failNode.node in body
    # must be of type string: "array"
    got = _json_type(v)
    return FieldError(path, INVALID, got, f'{path} in body must be of type {want}: "{got}"')


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _unknown(errs: list[FieldError], path: str, obj: Mapping[str, Any], allowed: Sequence[str]) -> None:
    # As the API server's strict decoder words it, before any validation.
    for k in obj:
        if k not in allowed:
            p = f"{path}.{k}" if path else str(k)
            errs.append(DecodeError(p, UNKNOWN_FIELD, message=f'unknown field "{p}"'))


def _object(errs: list[FieldError], path: str, v: Any, required: bool = False) -> Mapping[str, Any] | None:
    """``v`` when it is an object; else record why (absent and not required: ``None``, no error)."""
    if v is None:
        if required:
            errs.append(_err(path, REQUIRED))
        return None
    if not isinstance(v, Mapping):
        errs.append(_type_err(path, v, "object"))
        return None
    return v


def _number(errs: list[FieldError], path: str, v: Any, *, minimum: float, maximum: float,
            exclusive_minimum: bool = False, integer: bool = False) -> bool:
    """Check a number: its type, finite, within ``[minimum, maximum]`` (or ``(minimum, maximum]``)."""
    if integer and not _is_int(v):
        errs.append(_type_err(path, v, "integer"))
        return False
    if not _is_num(v):
        errs.append(_type_err(path, v, "number"))
        return False
    if isinstance(v, float) and not math.isfinite(v):
        errs.append(_err(path, INVALID, v, "must be a finite number"))
        return False
    low, high = (str(int(b)) if float(b).is_integer() else repr(float(b)) for b in (minimum, maximum))
    if exclusive_minimum and v <= minimum:
        errs.append(_err(path, INVALID, v, f"must be greater than {low}"))
        return False
    if not exclusive_minimum and v < minimum:
        errs.append(_err(path, INVALID, v, f"must be greater than or equal to {low}"))
        return False
    if v > maximum:
        errs.append(_err(path, INVALID, v, f"must be less than or equal to {high}"))
        return False
    return True


def _string(errs: list[FieldError], path: str, v: Any, *, required: bool = False) -> str | None:
    if v is None:
        if required:
            errs.append(_err(path, REQUIRED))
        return None
    if not isinstance(v, str):
        errs.append(_type_err(path, v, "string"))
        return None
    if not v and required:
        errs.append(_err(path, REQUIRED))
        return None
    return v


def _name(errs: list[FieldError], path: str, v: Any, rule: Callable[[str], list[str]] = is_dns1123_subdomain,
          *, required: bool = True) -> str | None:
    """A name of a pod, node, Deployment (DNS-1123 subdomain), namespace or Service (labels)."""
    s = _string(errs, path, v, required=required)
    if s is None or not s:
        return s
    msgs = rule(s)
    errs.extend(_err(path, INVALID, s, m) for m in msgs)
    return None if msgs else s


def _bool(errs: list[FieldError], path: str, v: Any) -> None:
    if not isinstance(v, bool):
        errs.append(_type_err(path, v, "boolean"))


def _port(errs: list[FieldError], path: str, v: Any, required: bool, names: bool = True) -> None:
    if v is None:
        if required:
            errs.append(_err(path, REQUIRED))
        return
    if _is_int(v):
        if not 1 <= v <= 65535:
            errs.append(_err(path, INVALID, v, "must be between 1 and 65535, inclusive"))
    elif isinstance(v, str) and names:
        errs.extend(_err(path, INVALID, v, m) for m in (is_valid_port_name(v) if v else ["must be a port name"]))
    elif isinstance(v, str):
        errs.append(_err(path, INVALID, v, "must be a port number"))
    else:
        errs.append(_type_err(path, v, "integer" if not names else "integer or string"))


def _list(errs: list[FieldError], path: str, v: Any, limit: int, what: str) -> list[Any] | None:
    if not isinstance(v, list):
        errs.append(_type_err(path, v, "array"))
        return None
    if len(v) > limit:
        errs.append(_err(path, TOO_MANY, len(v), f"must have at most {limit} {what}"))
        return None
    return v


def validate_workload(obj: Mapping[str, Any]) -> list[FieldError]:
    """Every problem with a ``Workload`` document, as field errors with their paths.

    This is the hook :mod:`kubelearn.apply` calls for kubelearn's own kind.  Every field is
    typed and ranged (the bounds are the module's ``MAX_*`` constants); NaN and infinity are
    refused.  Whether the named pods, nodes and Services exist is checked when the workload
    runs (they may be created later in the same apply).
    """
    errs: list[FieldError] = []
    if not isinstance(obj, Mapping):
        return [_type_err("", obj, "object")]
    _unknown(errs, "", obj, ("apiVersion", "kind", "metadata", "spec"))
    if obj.get("apiVersion") != API_VERSION:
        errs.append(_err("apiVersion", UNSUPPORTED, obj.get("apiVersion"), f'supported values: "{API_VERSION}"'))
    if obj.get("kind", "Workload") != "Workload":
        errs.append(_err("kind", UNSUPPORTED, obj.get("kind"), 'supported values: "Workload"'))
    meta = obj.get("metadata")
    if meta is not None and not isinstance(meta, Mapping):
        errs.append(_type_err("metadata", meta, "object"))
    elif not isinstance(meta, Mapping) or meta.get("name") in (None, ""):
        errs.append(_err("metadata.name", REQUIRED, detail="name or generateName is required"))
    elif not isinstance(meta.get("name"), str):
        errs.append(_type_err("metadata.name", meta["name"], "string"))
    else:
        # The rest of ObjectMeta as for every kind: namespace, labels, annotations.
        errs += validate_object_meta(meta, is_dns1123_subdomain)
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        errs.append(_err("spec", REQUIRED) if spec is None else _type_err("spec", spec, "object"))
        return errs
    _unknown(errs, "spec", spec, ("clients", "target", "connections", "arrival", "connectionSeconds",
                                  "requestsPerConnection", "protocol", "dnsClient", "propagation", "events"))
    clients = spec.get("clients")
    if clients is None or clients == []:
        errs.append(_err("spec.clients", REQUIRED, detail="at least one client source"))
    elif _list(errs, "spec.clients", clients, MAX_CLIENT_SOURCES, "client sources") is not None:
        for i, c in enumerate(clients):
            _validate_client(errs, f"spec.clients[{i}]", c)
    _validate_target(errs, "spec.target", spec.get("target"))
    conns = spec.get("connections", 1000)
    conns_ok = _number(errs, "spec.connections", conns, minimum=0, exclusive_minimum=True,
                       maximum=MAX_CONNECTIONS, integer=True)
    arrival = _object(errs, "spec.arrival", spec.get("arrival"))
    if arrival is not None:
        _unknown(errs, "spec.arrival", arrival, ("type", "rate"))
        if arrival.get("type", "fixed") not in ARRIVALS:
            errs.append(_err("spec.arrival.type", UNSUPPORTED, arrival.get("type"),
                             'supported values: "fixed", "poisson"'))
        _number(errs, "spec.arrival.rate", arrival.get("rate", 100.0), minimum=0, exclusive_minimum=True,
                maximum=MAX_RATE)
    _number(errs, "spec.connectionSeconds", spec.get("connectionSeconds", 0.1), minimum=0, maximum=MAX_SECONDS)
    rpc = spec.get("requestsPerConnection", 1)
    if (_number(errs, "spec.requestsPerConnection", rpc, minimum=0, exclusive_minimum=True,
                maximum=MAX_REQUESTS_PER_CONNECTION, integer=True)
            and conns_ok and conns * rpc > MAX_REQUESTS):
        errs.append(_err("spec.requestsPerConnection", INVALID, rpc,
                         f"must be at most {MAX_REQUESTS // conns} with {conns} connections "
                         f"(at most {MAX_REQUESTS} requests in one run)"))
    proto = spec.get("protocol", "TCP")
    if proto not in PROTOCOLS:
        errs.append(_err("spec.protocol", UNSUPPORTED, proto, 'supported values: "SCTP", "TCP", "UDP"'))
    dc = _object(errs, "spec.dnsClient", spec.get("dnsClient"))
    if dc is not None:
        _unknown(errs, "spec.dnsClient", dc, ("strategy", "ttlSeconds"))
        if dc.get("strategy", "first") not in DNS_STRATEGIES:
            errs.append(_err("spec.dnsClient.strategy", UNSUPPORTED, dc.get("strategy"),
                             'supported values: "first", "random", "round-robin"'))
        if dc.get("ttlSeconds") is not None:
            _number(errs, "spec.dnsClient.ttlSeconds", dc["ttlSeconds"], minimum=0, maximum=MAX_SECONDS)
    prop = _object(errs, "spec.propagation", spec.get("propagation"))
    if prop is not None:
        _unknown(errs, "spec.propagation", prop, ("endpointSliceSeconds",))
        _number(errs, "spec.propagation.endpointSliceSeconds", prop.get("endpointSliceSeconds", 0.1),
                minimum=0, maximum=MAX_SECONDS)
    events = spec.get("events")
    if events is not None and _list(errs, "spec.events", events, MAX_EVENTS, "events") is not None:
        for i, e in enumerate(events):
            _validate_event(errs, f"spec.events[{i}]", e)
    return errs


def _validate_client(errs: list[FieldError], path: str, c: Any) -> None:
    if not isinstance(c, Mapping) or len(c) != 1 or next(iter(c)) not in ("pods", "nodes", "external"):
        errs.append(_err(path, INVALID, c if not isinstance(c, Mapping) else sorted(map(str, c)),
                         'must have exactly one of "pods", "nodes", "external"'))
        return
    kind, spec = next(iter(c.items()))
    p = f"{path}.{kind}"
    if kind == "nodes":
        names = _list(errs, p, spec, MAX_NAMES, "node names ([] for every node)")
        for i, n in enumerate(names or ()):
            _name(errs, f"{p}[{i}]", n)
    elif kind == "pods":
        spec = _object(errs, p, spec, required=True)
        if spec is None:
            return
        _unknown(errs, p, spec, ("selector", "names", "namespace"))
        if spec.get("selector") is None and spec.get("names") is None:
            errs.append(_err(p, REQUIRED, detail='"selector" or "names" is required'))
        sel = spec.get("selector")
        if sel is not None:
            if not isinstance(sel, Mapping):
                errs.append(_type_err(f"{p}.selector", sel, "object"))
            elif not all(isinstance(k, str) and isinstance(v, str) for k, v in sel.items()):
                bad = next(k for k, v in sel.items() if not (isinstance(k, str) and isinstance(v, str)))
                errs.append(_type_err(f"{p}.selector[{bad}]", sel[bad], "string"))
            else:
                errs.extend(validate_labels(sel, f"{p}.selector"))
        names = spec.get("names")
        if names is not None:
            for i, n in enumerate(_list(errs, f"{p}.names", names, MAX_NAMES, "pod names") or ()):
                _name(errs, f"{p}.names[{i}]", n)
        _name(errs, f"{p}.namespace", spec.get("namespace"), is_dns1123_label, required=False)
    else:
        spec = _object(errs, p, spec, required=True)
        if spec is None:
            return
        _unknown(errs, p, spec, ("cidr", "count", "node"))
        cidr = _string(errs, f"{p}.cidr", spec.get("cidr"), required=True)
        net = None
        if cidr is not None:
            try:
                net = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                errs.append(_err(f"{p}.cidr", INVALID, cidr, "must be a valid CIDR (e.g. 10.0.0.0/8)"))
        count = spec.get("count", 1)
        if _number(errs, f"{p}.count", count, minimum=0, exclusive_minimum=True, maximum=MAX_EXTERNAL_CLIENTS,
                   integer=True) and net is not None and count > max(net.num_addresses - 2, 1):
            errs.append(_err(f"{p}.count", INVALID, count,
                             f"must be at most {max(net.num_addresses - 2, 1)} (the hosts in {cidr})"))
        _name(errs, f"{p}.node", spec.get("node"), required=False)


def _validate_target(errs: list[FieldError], path: str, t: Any) -> None:
    t = _object(errs, path, t, required=True)
    if t is None:
        return
    kinds = [k for k in TARGET_KINDS if k in t]
    if len(kinds) != 1:
        errs.append(_err(path, INVALID, sorted(map(str, t)),
                         'must have exactly one of "dns", "clusterIP", "nodePort", "externalIP", "loadBalancer"'))
        return
    kind = kinds[0]
    if kind == "dns":
        _unknown(errs, path, t, ("dns", "port"))
        name = _string(errs, f"{path}.dns", t["dns"], required=True)
        if name is not None:
            # As a pod writes it: any case, an optional trailing dot for an absolute name.
            msgs = is_dns1123_subdomain(name[:-1].lower() if name.endswith(".") else name.lower())
            errs.extend(_err(f"{path}.dns", INVALID, name, m) for m in msgs)
        _port(errs, f"{path}.port", t.get("port"), required=True, names=False)
        return
    _unknown(errs, path, t, (kind,))
    spec = _object(errs, f"{path}.{kind}", t[kind], required=True)
    if spec is None:
        return
    p = f"{path}.{kind}"
    allowed = {"clusterIP": ("service", "namespace", "port"),
               "nodePort": ("service", "namespace", "port", "node"),
               "externalIP": ("service", "namespace", "port", "ip", "node"),
               "loadBalancer": ("service", "namespace", "port", "kind", "ip")}[kind]
    _unknown(errs, p, spec, allowed)
    _name(errs, f"{p}.service", spec.get("service"), is_dns1035_label)
    _name(errs, f"{p}.namespace", spec.get("namespace"), is_dns1123_label, required=False)
    _port(errs, f"{p}.port", spec.get("port"), required=False)
    if kind in ("nodePort", "externalIP"):
        _name(errs, f"{p}.node", spec.get("node"), required=kind == "nodePort")
    if kind == "loadBalancer" and spec.get("kind", "cloud") not in LB_KINDS:
        errs.append(_err(f"{p}.kind", UNSUPPORTED, spec.get("kind"), 'supported values: "cloud", "l2"'))
    if kind in ("externalIP", "loadBalancer") and spec.get("ip") is not None:
        ip = _string(errs, f"{p}.ip", spec["ip"])
        if ip is not None:
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                errs.append(_err(f"{p}.ip", INVALID, ip, "must be a valid IP address"))


_EVENT_FIELDS: Final = {
    "scale": (("deployment", "replicas"), ("namespace",)),
    "deletePod": (("name",), ("namespace", "grace")),
    "setReady": (("pod", "ready"), ("namespace",)),
    "crashPod": (("name",), ("namespace",)),
    "rollout": (("deployment", "template"), ("namespace", "stepSeconds")),
    "cordon": (("node",), ()),
    "failNode": (("node",), ()),
}


def _validate_event(errs: list[FieldError], path: str, e: Any) -> None:
    e = _object(errs, path, e, required=True)
    if e is None:
        return
    if "at" not in e or e["at"] is None:
        errs.append(_err(f"{path}.at", REQUIRED))
    else:
        _number(errs, f"{path}.at", e["at"], minimum=0, maximum=MAX_SECONDS)
    actions = [str(k) for k in e if k != "at"]
    if len(actions) != 1 or actions[0] not in EVENT_ACTIONS:
        errs.append(_err(path, INVALID, actions,
                         "must have exactly one of " + ", ".join(f'"{a}"' for a in EVENT_ACTIONS)))
        return
    action = actions[0]
    p = f"{path}.{action}"
    args = _object(errs, p, e[action], required=True)
    if args is None:
        return
    required, optional = _EVENT_FIELDS[action]
    _unknown(errs, p, args, required + optional)
    for r in required:
        if r not in args or args[r] is None:
            errs.append(_err(f"{p}.{r}", REQUIRED))
    for key, v in args.items():
        if v is None or key not in required + optional:
            continue
        fp = f"{p}.{key}"
        if key in ("deployment", "name", "pod", "node"):
            _name(errs, fp, v)
        elif key == "namespace":
            _name(errs, fp, v, is_dns1123_label)
        elif key == "replicas":
            _number(errs, fp, v, minimum=0, maximum=MAX_REPLICAS, integer=True)
        elif key in ("ready", "grace"):
            _bool(errs, fp, v)
        elif key == "stepSeconds":
            _number(errs, fp, v, minimum=0, maximum=MAX_SECONDS)
        elif key == "template":
            _validate_template(errs, fp, v)


def _validate_template(errs: list[FieldError], path: str, template: Any) -> None:
    """A rollout's change to the pod template: decoded as a Deployment's ``spec.template`` would be."""
    if _object(errs, path, template) is None:
        return
    wrapper = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "rollout"},
               "spec": {"selector": {}, "template": template}}
    for d in schema_check(wrapper, all_errors=True):
        # The decoder's own words, at this event's path rather than the Deployment's.
        sub = d.path[len("spec.template"):] if d.path.startswith("spec.template") else ""
        errs.append(_type_err(path + sub, _value_at(template, sub), _decode_type(d))
                    if d.type != UNKNOWN_FIELD else
                    DecodeError(path + sub, UNKNOWN_FIELD, message=f'unknown field "{path + sub}"'))
    spec = template.get("spec")
    containers = spec.get("containers") if isinstance(spec, Mapping) else None
    if isinstance(containers, list):
        if len(containers) > MAX_NAMES:
            errs.append(_err(f"{path}.spec.containers", TOO_MANY, len(containers),
                             f"must have at most {MAX_NAMES} containers"))
        for i, c in enumerate(containers):
            # Containers are merged by name (a strategic-merge patch): each one needs its name.
            if isinstance(c, Mapping) and not c.get("name"):
                errs.append(_err(f"{path}.spec.containers[{i}].name", REQUIRED))
            elif isinstance(c, Mapping) and isinstance(c["name"], str):
                errs.extend(_err(f"{path}.spec.containers[{i}].name", INVALID, c["name"], m)
                            for m in is_dns1123_label(c["name"]))


def _decode_type(d: FieldError) -> str:
    """The OpenAPI type a wrong-typed field wanted, from the decoder's Go type name."""
    go = str(getattr(d, "message", "")).rsplit(" of type ", 1)[-1]
    if go.startswith("[]"):
        return "array"
    if go.startswith("map["):
        return "object"
    if go.startswith(("int", "uint")):
        return "integer"
    if go.startswith("float"):
        return "number"
    if go == "bool":
        return "boolean"
    if go == "intstr.IntOrString":
        return "integer or string"
    if go == "string" or go == "resource.Quantity" or go in _GO_NAMED_TYPES.values():
        return "string"
    return "object"  # a Go struct: v1.Container, v1.PodSpec, ...


def _value_at(obj: Any, sub: str) -> Any:
    """The value at a relative field path such as ``.spec.containers[0].image`` (``None`` if absent)."""
    import re

    cur = obj
    for name, index in re.findall(r"\.([^.\[]+)|\[([^\]]*)\]", sub):
        if name:
            cur = cur.get(name) if isinstance(cur, Mapping) else None
        elif isinstance(cur, list) and index.isdigit() and int(index) < len(cur):
            cur = cur[int(index)]
        else:
            cur = cur.get(index) if isinstance(cur, Mapping) else None
    return cur
