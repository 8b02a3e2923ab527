"""Strict decoding: the API server reads your YAML against the official OpenAPI schema.

Before any defaulting or validation, the API server *decodes* the manifest into its Go types.
Every kind has a published schema (the OpenAPI document of Kubernetes v1.33; kubelearn ships the
part of it that its nine kinds reach, taken unchanged from the copy in the ``kubernetes-validate``
package, and reads it without any jsonschema machinery).  Since
v1.27 ``kubectl apply`` asks for **strict** field validation, so a misspelt or mis-indented key
is an error, not silently dropped::

    Error from server (BadRequest): error when creating "svc.yaml": Service in version "v1" cannot
    be handled as a Service: strict decoding error: unknown field "spec.ports[0].targetport"

Several unknown fields are listed together (``unknown field "a", unknown field "b"``).  A value of
the wrong type (``port: "80"``) stops the decoder at the first one, with Go's JSON wording::

    ... cannot be handled as a Service: json: cannot unmarshal string into Go struct field
    ServicePort.spec.ports.port of type int32

:func:`check` returns these as :class:`DecodeError` field errors (a :class:`~kubelearn.errors.FieldError`
whose ``path`` is the Kubernetes field path, ``spec.ports[0].targetport``; map keys as
``[key]``); :func:`decode_message` and :class:`BadRequestError` give the server's and kubectl's text.
Simplifications: Go's named string types are known only for the common fields (others print
``string``), and Go's message names no map key.
"""

from __future__ import annotations

import importlib.resources
import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ..api_resources import KINDS
from ..errors import FieldError, KubelearnError, UnknownKindError

__all__ = [
    "BadRequestError",
    "DecodeError",
    "KUBERNETES_VERSION",
    "SCHEMA_DEFINITIONS",
    "UNKNOWN_FIELD",
    "UnknownKindError",
    "WRONG_TYPE",
    "check",
    "decode_message",
    "hashable",
]

#: The schema version read (kubernetes-validate's ``v1.33.0-local-strict``, vendored in ``kubelearn/data/openapi``).
KUBERNETES_VERSION = "1.33.0"

#: The OpenAPI definition of each kind kubelearn checks, keyed by (apiVersion, kind): read from
#: the one registry of kinds, :data:`kubelearn.api_resources.KINDS`.
SCHEMA_DEFINITIONS: Mapping[tuple[str, str], str] = MappingProxyType(
    {(k.api_version, k.kind): k.openapi for k in KINDS.values() if k.openapi})

UNKNOWN_FIELD = "Unknown field"
WRONG_TYPE = "Invalid type"

# Go's named string types for the fields a learner types most; the schema only says "string".
_GO_NAMED_TYPES: Mapping[tuple[str, str], str] = {
    ("ServiceSpec", "type"): "v1.ServiceType",
    ("ServiceSpec", "sessionAffinity"): "v1.ServiceAffinity",
    ("ServiceSpec", "externalTrafficPolicy"): "v1.ServiceExternalTrafficPolicy",
    ("ServiceSpec", "internalTrafficPolicy"): "v1.ServiceInternalTrafficPolicy",
    ("ServiceSpec", "ipFamilyPolicy"): "v1.IPFamilyPolicy",
    ("ServiceSpec", "ipFamilies"): "[]v1.IPFamily",
    ("ServicePort", "protocol"): "v1.Protocol",
    ("ContainerPort", "protocol"): "v1.Protocol",
    ("EndpointPort", "protocol"): "v1.Protocol",
    ("PodSpec", "restartPolicy"): "v1.RestartPolicy",
    ("PodSpec", "dnsPolicy"): "v1.DNSPolicy",
    ("Container", "imagePullPolicy"): "v1.PullPolicy",
    ("EndpointSlice", "addressType"): "v1.AddressType",
    ("DeploymentStrategy", "type"): "v1.DeploymentStrategyType",
    ("StatefulSetSpec", "podManagementPolicy"): "v1.PodManagementPolicyType",
}


class _HashableDict(dict):  # type: ignore[type-arg]
    """A dict that can sit in a frozen FieldError (InvalidError de-duplicates causes by hash)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(json.dumps(self, sort_keys=True, default=str))


def hashable(value: Any) -> Any:
    """``value`` with lists as tuples and dicts as hashable dicts, rendering unchanged.

    A :class:`~kubelearn.errors.FieldError` is hashed when :class:`~kubelearn.errors.InvalidError`
    removes duplicate causes, so composite bad values (a ``clusterIPs`` list, a label map) must
    be hashable; ``errors.render_value`` prints tuples and these dicts as the JSON it prints for
    lists and dicts.
    """
    if isinstance(value, Mapping):
        return _HashableDict({str(k): hashable(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(hashable(v) for v in value)
    return value


@dataclass(frozen=True)
class DecodeError(FieldError):
    """One decoding failure: an unknown field or a value of the wrong type.

    ``path`` is the Kubernetes field path; ``str()`` is the decoder's own text, e.g.
    ``unknown field "spec.ports[0].targetport"`` or
    ``json: cannot unmarshal string into Go struct field ServicePort.spec.ports.port of type int32``.
    """

    message: str = ""

    def body(self) -> str:
        """The decoder's message (it already names the field)."""
        return self.message

    def __str__(self) -> str:
        return self.message


def decode_message(obj: Mapping[str, Any], errors: list[FieldError] | tuple[FieldError, ...]) -> str:
    """The API server's BadRequest message for the errors :func:`check` returned.

    >>> err = DecodeError("spec.ports[0].targetport", UNKNOWN_FIELD,
    ...                   message='unknown field "spec.ports[0].targetport"')
    >>> decode_message({"apiVersion": "v1", "kind": "Service"}, [err])
    'Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.ports[0].targetport"'
    """
    kind = str(obj.get("kind", ""))
    version = str(obj.get("apiVersion", "")).split("/")[-1]
    head = f'{kind} in version "{version}" cannot be handled as a {kind}: '
    wrong = [e for e in errors if e.type == WRONG_TYPE]
    if wrong:
        return head + str(wrong[0])
    return head + "strict decoding error: " + ", ".join(str(e) for e in errors)


class BadRequestError(KubelearnError, ValueError):
    """A manifest the API server could not decode (HTTP 400), as ``kubectl apply`` prints it.

    >>> err = DecodeError("spec.selectors", UNKNOWN_FIELD, message='unknown field "spec.selectors"')
    >>> print(BadRequestError({"apiVersion": "v1", "kind": "Service"}, [err], "svc.yaml"))
    Error from server (BadRequest): error when creating "svc.yaml": Service in version "v1" cannot be handled as a Service: strict decoding error: unknown field "spec.selectors"
    """

    def __init__(self, obj: Mapping[str, Any], causes: list[FieldError] | tuple[FieldError, ...],
                 source: str = "STDIN", verb: str = "creating"):
        self.obj = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind")}
        self.causes = tuple(causes)
        self.source = source
        self.verb = verb
        super().__init__(str(self))

    def __str__(self) -> str:
        return (f'Error from server (BadRequest): error when {self.verb} "{self.source}": '
                + decode_message(self.obj, self.causes))

    def __reduce__(self) -> tuple[Any, ...]:
        return (BadRequestError, (self.obj, self.causes, self.source, self.verb))


# ------------------------------------------------------------------ schema loading
#: Where the definitions ship: a subset of the official OpenAPI schema (the definitions reachable
#: from :data:`SCHEMA_DEFINITIONS`), generated by ``scripts/vendor_schema.py`` from
#: kubernetes-validate's ``v1.33.0-local-strict`` data and read through :mod:`importlib.resources`.
SCHEMA_RESOURCE = f"data/openapi/v{KUBERNETES_VERSION}-definitions.json"


@lru_cache(maxsize=1)
def _definitions() -> dict[str, Any]:
    """The ``$defs`` of the strict v1.33 schema that kubelearn needs, read once per process (~0.3 MB)."""
    resource = importlib.resources.files("kubelearn").joinpath(SCHEMA_RESOURCE)
    try:
        text = resource.read_text(encoding="utf-8")
    except FileNotFoundError:  # pragma: no cover - a broken install
        raise KubelearnError(f"error: kubelearn's OpenAPI schema is missing ({SCHEMA_RESOURCE}): reinstall kubelearn") from None
    defs: dict[str, Any] = json.loads(text)["$defs"]
    return defs


def _resolve(node: Mapping[str, Any]) -> tuple[str | None, Mapping[str, Any]]:
    """Follow a ``$ref``; return (definition name or None, schema node)."""
    ref = node.get("$ref")
    if ref is None:
        return None, node
    name = ref.rsplit("/", 1)[-1]
    return name, _definitions()[name]


def _short(def_name: str) -> str:
    return def_name.rsplit(".", 1)[-1]


def _go_package(def_name: str) -> str:
    # io.k8s.api.core.v1.ServicePort -> v1; io.k8s.apimachinery.pkg.util.intstr.IntOrString -> intstr
    return def_name.rsplit(".", 2)[-2]


def _go_type(node: Mapping[str, Any]) -> str:
    """Go's spelling of a field's type, for ``of type …`` in decode errors."""
    name, target = _resolve(node)
    if name is not None:
        return f"{_go_package(name)}.{_short(name)}"
    t = _types(target)
    if "array" in t:
        return "[]" + _go_type(target.get("items", {}))
    if "object" in t:
        add = target.get("additionalProperties")
        return "map[string]" + (_go_type(add) if isinstance(add, Mapping) else "interface {}")
    if "integer" in t:
        return str(target.get("format", "int"))
    if "number" in t:
        return "float64"
    if "boolean" in t:
        return "bool"
    return "string"


def _types(node: Mapping[str, Any]) -> set[str]:
    t = node.get("type")
    if t is None:
        return set()
    return {t} if isinstance(t, str) else set(t)


def _json_kind(value: Any) -> str:
    """How Go's decoder names a JSON value in ``cannot unmarshal <kind> into``."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {json.dumps(value)}"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_INT_RANGES = {"int32": (-(2**31), 2**31 - 1), "int64": (-(2**63), 2**63 - 1)}


class _Walk:
    """One pass over an object; collects unknown fields and type errors in document order."""

    def __init__(self) -> None:
        self.errors: list[DecodeError] = []

    def wrong(self, path: str, go_path: str, struct: str, value: Any, node: Mapping[str, Any]) -> None:
        kind = _json_kind(value)
        # Go quotes the literal only when a number does not fit an integer field ("number 80.5").
        if kind.startswith("number") and "integer" not in _types(_resolve(node)[1]):
            kind = "number"
        go_type = _GO_NAMED_TYPES.get((struct, go_path.rsplit(".", 1)[-1])) or _go_type(node)
        where = f"Go struct field {struct}.{go_path}" if struct else "Go value"
        msg = f"json: cannot unmarshal {kind} into {where} of type {go_type}"
        self.errors.append(DecodeError(path, WRONG_TYPE, hashable(value), "", msg))

    def walk(self, value: Any, node: Mapping[str, Any], path: str, go_path: str, struct: str) -> None:
        if value is None:  # JSON null decodes to the zero value for every Go type.
            return
        name, target = _resolve(node)
        if "oneOf" in target:  # IntOrString, Quantity
            alts = set().union(*(_types(a) for a in target["oneOf"]))
            ok = (isinstance(value, str) and "string" in alts) or (
                isinstance(value, int) and not isinstance(value, bool) and "integer" in alts) or (
                isinstance(value, (int, float)) and not isinstance(value, bool) and "number" in alts)
            if not ok:
                # IntOrString's own UnmarshalJSON decodes a non-string as int32.
                kind = _json_kind(value).split(" ")[0]
                go_type = "int32" if "integer" in alts else "float64"
                self.errors.append(DecodeError(path, WRONG_TYPE, hashable(value), "",
                                               f"json: cannot unmarshal {kind} into Go value of type {go_type}"))
            return
        types = _types(target)
        if "object" in types or "properties" in target:
            if not isinstance(value, Mapping):
                self.wrong(path, go_path, struct, value, node)
                return
            props = target.get("properties")
            add = target.get("additionalProperties")
            inner_struct = _short(name) if name else struct
            for key, sub in value.items():
                key_s = str(key)
                if props is not None and key_s in props:
                    sub_path = f"{path}.{key_s}" if path else key_s
                    sub_go = f"{go_path}.{key_s}" if go_path else key_s
                    self.walk(sub, props[key_s], sub_path, sub_go, inner_struct)
                elif isinstance(add, Mapping):
                    # A map: Go's message has no key; the Kubernetes path shows it as [key].
                    self.walk(sub, add, f"{path}[{key_s}]", go_path, struct)
                elif add is False or props is not None:
                    full = f"{path}.{key_s}" if path else key_s
                    self.errors.append(DecodeError(full, UNKNOWN_FIELD, key_s, "", f'unknown field "{full}"'))
            return
        if "array" in types:
            if not isinstance(value, list):
                self.wrong(path, go_path, struct, value, node)
                return
            for i, item in enumerate(value):
                self.walk(item, target.get("items", {}), f"{path}[{i}]", go_path, struct)
            return
        if "integer" in types:
            fmt = str(target.get("format", "int64"))
            lo, hi = _INT_RANGES.get(fmt, _INT_RANGES["int64"])
            if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
                self.wrong(path, go_path, struct, value, node)
        elif "number" in types:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                self.wrong(path, go_path, struct, value, node)
        elif "boolean" in types:
            if not isinstance(value, bool):
                self.wrong(path, go_path, struct, value, node)
        elif "string" in types:
            if not isinstance(value, str):
                self.wrong(path, go_path, struct, value, node)


def check(obj: Mapping[str, Any], all_errors: bool = False) -> list[FieldError]:
    """Strictly decode ``obj`` against the v1.33 OpenAPI schema of its kind.

    Args:
        obj: a manifest dict with ``apiVersion`` and ``kind`` (one of ``cluster.KINDS``;
            kubelearn's own ``Workload`` kind is not checked and gives ``[]``).
        all_errors: a real server stops at the first wrong type and then reports nothing
            else; ``True`` also lists the other wrong types and the unknown fields.

    Returns:
        :class:`DecodeError` s (``FieldError`` subclass): either the first wrong type alone,
        or every unknown field; ``[]`` when the object decodes cleanly.  The order is the
        order the API server meets the fields in: kubectl converts YAML to JSON through a Go
        map, which writes every object's keys sorted, so fields come in sorted key order at
        each level, not in the order the YAML file lists them.

    Raises:
        UnknownKindError: for an apiVersion/kind pair the schema does not describe.

    >>> [str(e) for e in check({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    ...                         "spec": {"ports": [{"port": 80, "targetport": 8080}]}})]
    ['unknown field "spec.ports[0].targetport"']
    """
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if api_version == "kubelearn.dev/v1alpha1" and kind == "Workload":
        return []
    def_name = SCHEMA_DEFINITIONS.get((str(api_version), str(kind)))
    if def_name is None:
        raise UnknownKindError(str(api_version), str(kind))
    w = _Walk()
    w.walk(_sorted_keys(obj), {"$ref": f"#/$defs/{def_name}"}, "", "", "")
    errs: list[FieldError] = list(w.errors)
    wrong = [e for e in errs if e.type == WRONG_TYPE]
    if wrong and not all_errors:
        return [wrong[0]]
    return errs


def _sorted_keys(value: Any, depth: int = 0) -> Any:
    """The value as kubectl sends it: every mapping's keys in sorted order (Go's encoding/json).

    Raises:
        ManifestError: beyond ``kubelearn.manifest.MAX_DEPTH`` levels, which also stops an
            object that contains itself (a recursive value is infinitely deep).
    """
    from ..errors import ManifestError
    from ..manifest import MAX_DEPTH

    if depth > MAX_DEPTH:
        raise ManifestError(f"the object nests more than {MAX_DEPTH} levels deep (or contains itself); "
                            f"kubelearn reads at most {MAX_DEPTH}")
    if isinstance(value, Mapping):
        return {k: _sorted_keys(value[k], depth + 1) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [_sorted_keys(v, depth + 1) for v in value]
    return value
