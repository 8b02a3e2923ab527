"""kubelearn's own kind, ``kubelearn.dev/v1alpha1 Workload``, as the API server validates it.

A Workload (who sends traffic to a Service: :mod:`kubelearn.traffic.workload` builds and runs
it) is served like a custom resource: its schema is checked by the API server at admission,
with the words the API server uses for a CRD's structural schema, so an invalid Workload in a
manifest is refused by ``kubectl apply`` like any other object.

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
from typing import Any, Final

from ..errors import INVALID, NO_VALUE, REQUIRED, UNSUPPORTED, FieldError
from ..labels import is_dns1035_label, is_dns1123_label, is_dns1123_subdomain, is_valid_port_name, validate_labels
from .schema import _GO_NAMED_TYPES, UNKNOWN_FIELD, DecodeError
from .schema import check as schema_check
from .validation import validate_object_meta

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
    "validate_workload",
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

    This is the hook :mod:`kubelearn.edits` calls for kubelearn's own kind.  Every field is
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
