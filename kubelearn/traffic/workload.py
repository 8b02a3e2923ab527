"""Workloads: who sends traffic to a Service, from where, to what, and how.

A Service is only ever seen through its clients.  A pod dialling ``my-service`` goes through
DNS and its own node's kube-proxy rules; a node dialling the ClusterIP is masqueraded; an
external host reaches a NodePort on one node, or a cloud load balancer that picks a node for
it.  What a learner observes depends on all of that, so a workload spells it out.

A workload is plain Python (the builders below) or a YAML document of kubelearn's own kind,
loaded by the same ``-f`` as the manifests::

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
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from ..errors import NO_VALUE, FieldError, InvalidError, KubelearnError
from ..schema import UNKNOWN_FIELD, BadRequestError, DecodeError

__all__ = [
    "API_VERSION",
    "Event",
    "Workload",
    "WorkloadError",
    "cluster_ip",
    "dns",
    "external",
    "external_ip",
    "from_object",
    "load_balancer",
    "node_port",
    "nodes",
    "pods",
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
        return {"at": self.at, self.action: dict(self.args)}


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
                "clients": [dict(c) for c in self.clients],
                "target": dict(self.target),
                "connections": self.connections,
                "arrival": {"type": self.arrival, "rate": self.rate},
                "connectionSeconds": self.connection_seconds,
                "requestsPerConnection": self.requests_per_connection,
                "protocol": self.protocol,
                "dnsClient": dns_client,
                "propagation": {"endpointSliceSeconds": self.endpoint_slice_seconds},
                "events": [e.to_object() for e in self.events],
            },
        }

    def with_(self, **changes: Any) -> Workload:
        """A copy with some fields changed, e.g. ``w.with_(connections=10_000)``."""
        from dataclasses import replace

        return replace(self, **changes)


# --------------------------------------------------------------------------- builders
def pods(selector: Mapping[str, str] | None = None, names: Sequence[str] | None = None,
         namespace: str = "default") -> dict[str, Any]:
    """Client pods chosen by label selector (``{"app": "client"}``) or by name."""
    spec: dict[str, Any] = {"namespace": namespace}
    if selector is not None:
        spec["selector"] = dict(selector)
    if names is not None:
        spec["names"] = list(names)
    return {"pods": spec}


def nodes(*names: str) -> dict[str, Any]:
    """Client nodes (the node itself dials, e.g. a hostNetwork process); none given: every node."""
    return {"nodes": list(names)}


def external(cidr: str, count: int, node: str | None = None) -> dict[str, Any]:
    """``count`` external hosts with addresses taken in order from ``cidr`` (first host first).

    ``node`` is the node their packets arrive at when they dial a ClusterIP or an external IP
    (the network routes it there); NodePort and load-balancer targets choose the node themselves.
    """
    spec: dict[str, Any] = {"cidr": cidr, "count": count}
    if node is not None:
        spec["node"] = node
    return {"external": spec}


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
        clients: one client source (``pods(...)``, ``nodes(...)``, ``external(...)``) or a list.
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
    evs = [e.to_object() if isinstance(e, Event) else dict(e) for e in events]
    obj = Workload(tuple(clients), target, connections, arrival, rate, connection_seconds,
                   requests_per_connection, protocol, dns_strategy, dns_ttl, (), endpoint_slice_seconds,
                   name).to_object()
    obj["spec"]["events"] = evs
    return from_object(obj)


# --------------------------------------------------------------------------- YAML kind
def from_object(obj: Mapping[str, Any]) -> Workload:
    """The :class:`Workload` a ``kubelearn.dev/v1alpha1`` ``Workload`` document describes.

    Raises:
        BadRequestError: unknown fields, in the API server's strict-decoding words.
        InvalidError: listing every invalid field, with its path.
    """
    errors = validate_workload(obj)
    name = str((obj.get("metadata") or {}).get("name", "")) if isinstance(obj, Mapping) else ""
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
        events.append(Event(float(e["at"]), action, dict(e[action] or {})))
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


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict usable as a FieldError value (InvalidError de-duplicates causes by hashing them)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


def _h(v: Any) -> Any:
    """Make a bad value hashable for FieldError, keeping how render_value prints it."""
    if isinstance(v, (list, tuple)):
        return tuple(_h(x) for x in v)
    if isinstance(v, Mapping):
        return _FrozenDict({k: _h(x) for k, x in v.items()})
    return v


def _err(path: str, type_: str, value: Any = NO_VALUE, detail: str = "") -> FieldError:
    return FieldError(path, type_, _h(value), detail)


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


def _port(errs: list[FieldError], path: str, v: Any, required: bool) -> None:
    if v is None:
        if required:
            errs.append(_err(path, "Required value"))
        return
    if _is_int(v):
        if not 1 <= v <= 65535:
            errs.append(_err(path, "Invalid value", v, "must be between 1 and 65535, inclusive"))
    elif not isinstance(v, str) or not v:
        errs.append(_err(path, "Invalid value", v, "must be a port number or a port name"))


def validate_workload(obj: Mapping[str, Any]) -> list[FieldError]:
    """Every problem with a ``Workload`` document, as field errors with their paths.

    This is the hook :mod:`kubelearn.apply` calls for kubelearn's own kind.  Only the shape is
    checked here; whether the named pods, nodes and Services exist is checked when the
    workload runs (they may be created later in the same apply).
    """
    errs: list[FieldError] = []
    if not isinstance(obj, Mapping):
        return [_err("", "Invalid value", str(type(obj).__name__), "a Workload must be an object")]
    if obj.get("apiVersion") != API_VERSION:
        errs.append(_err("apiVersion", "Unsupported value", obj.get("apiVersion"),
                               f'supported values: "{API_VERSION}"'))
    meta = obj.get("metadata")
    if not isinstance(meta, Mapping) or not meta.get("name"):
        errs.append(_err("metadata.name", "Required value", detail="name or generateName is required"))
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        errs.append(_err("spec", "Required value"))
        return errs
    _unknown(errs, "spec", spec, ("clients", "target", "connections", "arrival", "connectionSeconds",
                                  "requestsPerConnection", "protocol", "dnsClient", "propagation", "events"))
    clients = spec.get("clients")
    if not isinstance(clients, list) or not clients:
        errs.append(_err("spec.clients", "Required value", detail="at least one client source"))
    else:
        for i, c in enumerate(clients):
            _validate_client(errs, f"spec.clients[{i}]", c)
    _validate_target(errs, "spec.target", spec.get("target"))
    conns = spec.get("connections", 1000)
    if not _is_int(conns) or conns < 1:
        errs.append(_err("spec.connections", "Invalid value", conns, "must be greater than 0"))
    arrival = spec.get("arrival", {})
    if not isinstance(arrival, Mapping):
        errs.append(_err("spec.arrival", "Invalid value", arrival, "must be an object"))
    else:
        _unknown(errs, "spec.arrival", arrival, ("type", "rate"))
        if arrival.get("type", "fixed") not in ARRIVALS:
            errs.append(_err("spec.arrival.type", "Unsupported value", arrival.get("type"),
                                   'supported values: "fixed", "poisson"'))
        rate = arrival.get("rate", 100.0)
        if not _is_num(rate) or rate <= 0:
            errs.append(_err("spec.arrival.rate", "Invalid value", rate, "must be greater than 0"))
    cs = spec.get("connectionSeconds", 0.1)
    if not _is_num(cs) or cs < 0:
        errs.append(_err("spec.connectionSeconds", "Invalid value", cs, "must be greater than or equal to 0"))
    rpc = spec.get("requestsPerConnection", 1)
    if not _is_int(rpc) or rpc < 1:
        errs.append(_err("spec.requestsPerConnection", "Invalid value", rpc, "must be greater than 0"))
    proto = spec.get("protocol", "TCP")
    if proto not in PROTOCOLS:
        errs.append(_err("spec.protocol", "Unsupported value", proto, 'supported values: "SCTP", "TCP", "UDP"'))
    dc = spec.get("dnsClient", {})
    if not isinstance(dc, Mapping):
        errs.append(_err("spec.dnsClient", "Invalid value", dc, "must be an object"))
    else:
        _unknown(errs, "spec.dnsClient", dc, ("strategy", "ttlSeconds"))
        if dc.get("strategy", "first") not in DNS_STRATEGIES:
            errs.append(_err("spec.dnsClient.strategy", "Unsupported value", dc.get("strategy"),
                                   'supported values: "first", "random", "round-robin"'))
        ttl = dc.get("ttlSeconds")
        if ttl is not None and (not _is_num(ttl) or ttl < 0):
            errs.append(_err("spec.dnsClient.ttlSeconds", "Invalid value", ttl,
                                   "must be greater than or equal to 0"))
    prop = spec.get("propagation", {})
    if not isinstance(prop, Mapping):
        errs.append(_err("spec.propagation", "Invalid value", prop, "must be an object"))
    else:
        _unknown(errs, "spec.propagation", prop, ("endpointSliceSeconds",))
        es = prop.get("endpointSliceSeconds", 0.1)
        if not _is_num(es) or es < 0:
            errs.append(_err("spec.propagation.endpointSliceSeconds", "Invalid value", es,
                                   "must be greater than or equal to 0"))
    events = spec.get("events", [])
    if not isinstance(events, list):
        errs.append(_err("spec.events", "Invalid value", events, "must be a list"))
    else:
        for i, e in enumerate(events):
            _validate_event(errs, f"spec.events[{i}]", e)
    return errs


def _validate_client(errs: list[FieldError], path: str, c: Any) -> None:
    if not isinstance(c, Mapping) or len(c) != 1 or next(iter(c)) not in ("pods", "nodes", "external"):
        errs.append(_err(path, "Invalid value", c if not isinstance(c, Mapping) else sorted(c),
                               'must have exactly one of "pods", "nodes", "external"'))
        return
    kind, spec = next(iter(c.items()))
    p = f"{path}.{kind}"
    if kind == "nodes":
        if not isinstance(spec, list) or not all(isinstance(n, str) for n in spec):
            errs.append(_err(p, "Invalid value", spec, "must be a list of node names ([] for every node)"))
    elif kind == "pods":
        if not isinstance(spec, Mapping):
            errs.append(_err(p, "Invalid value", spec, "must be an object"))
            return
        _unknown(errs, p, spec, ("selector", "names", "namespace"))
        if "selector" not in spec and "names" not in spec:
            errs.append(_err(p, "Required value", detail='"selector" or "names" is required'))
        sel = spec.get("selector")
        if sel is not None and (not isinstance(sel, Mapping) or not all(isinstance(v, str) for v in sel.values())):
            errs.append(_err(f"{p}.selector", "Invalid value", sel, "must be a map of label keys to values"))
        names = spec.get("names")
        if names is not None and (not isinstance(names, list) or not all(isinstance(n, str) for n in names)):
            errs.append(_err(f"{p}.names", "Invalid value", names, "must be a list of pod names"))
    else:
        if not isinstance(spec, Mapping):
            errs.append(_err(p, "Invalid value", spec, "must be an object"))
            return
        _unknown(errs, p, spec, ("cidr", "count", "node"))
        cidr = spec.get("cidr")
        if cidr is None:
            errs.append(_err(f"{p}.cidr", "Required value"))
        else:
            try:
                net = ipaddress.ip_network(str(cidr), strict=False)
            except ValueError:
                errs.append(_err(f"{p}.cidr", "Invalid value", cidr, "must be a valid CIDR (e.g. 10.0.0.0/8)"))
                net = None
        count = spec.get("count", 1)
        if not _is_int(count) or count < 1:
            errs.append(_err(f"{p}.count", "Invalid value", count, "must be greater than 0"))
        elif cidr is not None and net is not None and count > max(net.num_addresses - 2, 1):
            errs.append(_err(f"{p}.count", "Invalid value", count,
                                   f"must be at most {max(net.num_addresses - 2, 1)} (the hosts in {cidr})"))


def _validate_target(errs: list[FieldError], path: str, t: Any) -> None:
    if not isinstance(t, Mapping):
        errs.append(_err(path, "Required value"))
        return
    kinds = [k for k in TARGET_KINDS if k in t]
    if len(kinds) != 1:
        errs.append(_err(path, "Invalid value", sorted(t),
                               'must have exactly one of "dns", "clusterIP", "nodePort", "externalIP", "loadBalancer"'))
        return
    kind = kinds[0]
    if kind == "dns":
        _unknown(errs, path, t, ("dns", "port"))
        if not isinstance(t["dns"], str) or not t["dns"]:
            errs.append(_err(f"{path}.dns", "Invalid value", t["dns"], "must be a DNS name"))
        _port(errs, f"{path}.port", t.get("port"), required=True)
        if isinstance(t.get("port"), str):
            errs.append(_err(f"{path}.port", "Invalid value", t["port"], "must be a port number"))
        return
    _unknown(errs, path, t, (kind,))
    spec = t[kind]
    p = f"{path}.{kind}"
    if not isinstance(spec, Mapping):
        errs.append(_err(p, "Invalid value", spec, "must be an object"))
        return
    allowed = {"clusterIP": ("service", "namespace", "port"),
               "nodePort": ("service", "namespace", "port", "node"),
               "externalIP": ("service", "namespace", "port", "ip", "node"),
               "loadBalancer": ("service", "namespace", "port", "kind", "ip")}[kind]
    _unknown(errs, p, spec, allowed)
    if not isinstance(spec.get("service"), str) or not spec.get("service"):
        errs.append(_err(f"{p}.service", "Required value"))
    _port(errs, f"{p}.port", spec.get("port"), required=False)
    if kind == "nodePort" and not spec.get("node"):
        errs.append(_err(f"{p}.node", "Required value"))
    if kind == "loadBalancer" and spec.get("kind", "cloud") not in LB_KINDS:
        errs.append(_err(f"{p}.kind", "Unsupported value", spec.get("kind"), 'supported values: "cloud", "l2"'))
    if kind in ("externalIP", "loadBalancer") and spec.get("ip") is not None:
        try:
            ipaddress.ip_address(str(spec["ip"]))
        except ValueError:
            errs.append(_err(f"{p}.ip", "Invalid value", spec["ip"], "must be a valid IP address"))


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
    if not isinstance(e, Mapping):
        errs.append(_err(path, "Invalid value", e, "must be an object"))
        return
    at = e.get("at")
    if at is None:
        errs.append(_err(f"{path}.at", "Required value"))
    elif not _is_num(at) or at < 0:
        errs.append(_err(f"{path}.at", "Invalid value", at, "must be greater than or equal to 0"))
    actions = [k for k in e if k != "at"]
    if len(actions) != 1 or actions[0] not in EVENT_ACTIONS:
        errs.append(_err(path, "Invalid value", actions,
                               "must have exactly one of " + ", ".join(f'"{a}"' for a in EVENT_ACTIONS)))
        return
    action = actions[0]
    args = e[action]
    p = f"{path}.{action}"
    if not isinstance(args, Mapping):
        errs.append(_err(p, "Invalid value", args, "must be an object"))
        return
    required, optional = _EVENT_FIELDS[action]
    _unknown(errs, p, args, required + optional)
    for r in required:
        if r not in args:
            errs.append(_err(f"{p}.{r}", "Required value"))
    if action == "scale" and "replicas" in args and (not _is_int(args["replicas"]) or args["replicas"] < 0):
        errs.append(_err(f"{p}.replicas", "Invalid value", args["replicas"],
                               "must be greater than or equal to 0"))
    if action == "setReady" and "ready" in args and not isinstance(args["ready"], bool):
        errs.append(_err(f"{p}.ready", "Invalid value", args["ready"], "must be true or false"))
