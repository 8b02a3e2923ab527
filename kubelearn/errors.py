"""Errors, worded the way the Kubernetes API server and kubectl word them.

When ``kubectl apply`` is refused, the API server answers with a *Status* whose causes are
*field errors*: a field path such as ``spec.ports[0].nodePort``, an error type such as
``Invalid value``, the bad value, and a detail. kubectl then prints::

    The Service "my-service" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. The range of valid ports is 30000-32767

or, for several causes, one ``* <field>: <body>`` line each.  kubelearn raises the same shapes:

- :class:`FieldError` is one cause (``str()`` gives the apimachinery text);
- :class:`InvalidError` is one refused object (``str()`` gives kubectl's text);
- :class:`ApplyError` collects every refused object of one ``apply``: nothing is applied
  unless everything is valid, so a cluster is never half-built;
- :class:`ManifestError` is input that is not a Kubernetes object at all (YAML syntax,
  missing ``kind``), with file, document, line and column;
- :class:`NotFoundError` is kubectl's ``Error from server (NotFound): …``;
- :class:`UnsafeValueError` is a value that would reach a command line or a rules file
  (``ip -batch``, ``iptables-restore``, ``nft -f``) without being a well-formed token.

Every error kubelearn raises on purpose is a :class:`KubelearnError`, so the CLI can print
it without a traceback.  The more specific errors below (a kind kubectl does not know, a
resource mapping, a bad kind config, a selector operator, DNS and environment-variable
questions, the lab's host checks, a dump that cannot be read, a missing optional extra) live
here too, each with the words the component that raises it uses; the module that raises one
also exports it.  Two stay with the text they render: ``apiserver.schema.BadRequestError``
(strict decoding's message) and ``kubectl.UnsupportedOutputError`` (kubectl's ``-o`` list).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

__all__ = [
    "ApplyError",
    "ContainerNotFoundError",
    "DNSError",
    "DumpError",
    "EnvVarSourceError",
    "FieldError",
    "HostError",
    "InvalidError",
    "KubelearnError",
    "KubelearnKindError",
    "LogFormatError",
    "LogPathError",
    "ManifestError",
    "MissingDependencyError",
    "MissingExtraError",
    "NO_VALUE",
    "NotConvergingError",
    "NotFoundError",
    "NotFoundWithWarningError",
    "PlotDataError",
    "PreflightError",
    "ProxyConfigError",
    "ResourceMappingError",
    "SelectorError",
    "TopologyError",
    "TraceError",
    "UnknownKindError",
    "UnsafeValueError",
    "UnsupportedSchedulerError",
    "UnsupportedVersionError",
    "WorkloadError",
    "render_value",
]


class _NoValue:
    """Marker for field errors that carry no value (``Required value``, ``Forbidden``)."""

    def __repr__(self) -> str:
        return "NO_VALUE"


NO_VALUE: Final = _NoValue()

# apimachinery's ErrorType strings (staging/src/k8s.io/apimachinery/pkg/util/validation/field/errors.go)
REQUIRED: Final = "Required value"
INVALID: Final = "Invalid value"
UNSUPPORTED: Final = "Unsupported value"
DUPLICATE: Final = "Duplicate value"
FORBIDDEN: Final = "Forbidden"
NOT_FOUND: Final = "Not found"
TOO_LONG: Final = "Too long"
INTERNAL: Final = "Internal error"

# These types never print the bad value, whatever it is.
_TYPES_WITHOUT_VALUE: Final = frozenset({REQUIRED, FORBIDDEN, TOO_LONG, INTERNAL})


def render_value(value: Any) -> str:
    """Render a bad value as the API server does: strings quoted, numbers bare.

    Composite values (lists, maps) are printed as JSON, the form API servers use from
    v1.34 on; older servers printed Go syntax (see discovery-api-facts §C.2), so compare only
    the prefix of such messages.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class KubelearnError(Exception):
    """Base class of every error kubelearn raises on purpose."""


@dataclass(frozen=True)
class FieldError:
    """One validation cause: ``<path>: <type>[: <value>][: <detail>]``.

    >>> str(FieldError("spec.ports[0].port", "Invalid value", 0, "must be between 1 and 65535, inclusive"))
    'spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive'
    >>> str(FieldError("spec.ports", "Required value"))
    'spec.ports: Required value'
    """

    path: str
    type: str
    value: Any = NO_VALUE
    detail: str = ""

    def body(self) -> str:
        """The message without the field path (kubectl's ``details.causes[].message``)."""
        text = self.type
        if self.type not in _TYPES_WITHOUT_VALUE and self.value is not NO_VALUE:
            text += ": " + render_value(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.path}: {self.body()}" if self.path else self.body()


class InvalidError(KubelearnError, ValueError):
    """An object the API server refuses (HTTP 422, reason ``Invalid``), as kubectl prints it."""

    def __init__(self, kind: str, name: str, causes: list[FieldError] | tuple[FieldError, ...]):
        self.kind = kind
        # A name that is not a string never decodes into ObjectMeta: the API server has no name to
        # print and says so in the cause; the head shows "" as it does for a nameless object.
        self.name = name if isinstance(name, str) else ""
        # The API server removes exact duplicates but keeps the order.  Compare by text, so a
        # cause whose value is a list or dict (unhashable) is fine too.
        seen: set[str] = set()
        unique = []
        for cause in causes:
            if str(cause) not in seen:
                seen.add(str(cause))
                unique.append(cause)
        self.causes: tuple[FieldError, ...] = tuple(unique)
        super().__init__(str(self))

    def __str__(self) -> str:
        head = f'The {self.kind} "{self.name}" is invalid: '
        if len(self.causes) == 1:
            return head + str(self.causes[0])
        return head + "\n" + "\n".join(f"* {c}" for c in self.causes)

    def __reduce__(self) -> tuple[Any, ...]:
        return (InvalidError, (self.kind, self.name, self.causes))


class ManifestError(KubelearnError, ValueError):
    """Input that cannot become an API object: bad YAML, missing ``kind``, wrong type.

    ``source`` names the file (or ``<string>``), ``line``/``column`` are 1-based when known,
    ``path`` is the field path inside the object when known.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str = "",
        document: int | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str = "",
    ):
        self.message = message
        self.source = source
        self.document = document
        self.line = line
        self.column = column
        self.path = path
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.source:
            where.append(self.source)
        if self.line is not None:
            where.append(f"line {self.line}" + (f", column {self.column}" if self.column is not None else ""))
        elif self.document is not None:
            where.append(f"document {self.document}")
        prefix = ": ".join([", ".join(where)]) + ": " if where else ""
        field_part = f"{self.path}: " if self.path else ""
        return f"{prefix}{field_part}{self.message}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_manifest_error, (self.message, self.source, self.document, self.line, self.column, self.path))


def _rebuild_manifest_error(message: str, source: str, document: int | None, line: int | None,
                            column: int | None, path: str) -> ManifestError:
    return ManifestError(message, source=source, document=document, line=line, column=column, path=path)


@dataclass
class ApplyError(KubelearnError, ValueError):
    """Every error of one ``apply`` call; nothing of that call was applied."""

    errors: list[KubelearnError] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


class NotFoundError(KubelearnError, KeyError):
    """A lookup that failed, worded as kubectl words it.

    >>> str(NotFoundError("services", "web"))
    'Error from server (NotFound): services "web" not found'
    """

    def __init__(self, resource: str, name: str, namespace: str | None = None):
        self.resource = resource
        self.name = name
        self.namespace = namespace
        super().__init__(str(self))

    def __str__(self) -> str:
        return f'Error from server (NotFound): {self.resource} "{self.name}" not found'

    def __reduce__(self) -> tuple[Any, ...]:
        return (NotFoundError, (self.resource, self.name, self.namespace))


class MissingDependencyError(KubelearnError, ImportError):
    """A feature needs an optional dependency that is not installed; the message says how to get it."""


def require_scipy(feature: str) -> None:
    """Raise :class:`MissingDependencyError` naming ``feature`` when scipy is not installed.

    scipy is an extra (``kubelearn[stats]``, also part of ``kubelearn[notebooks]``): the core
    install (rules, traces, simulation) does not need it, only the statistics do.
    """
    try:
        import scipy  # noqa: F401
    except ImportError:
        raise MissingDependencyError(
            f"error: {feature} needs scipy, which is not installed: pip install 'kubelearn[stats]' "
            "(the notebooks extra includes it)") from None


class UnsafeValueError(KubelearnError, ValueError):
    """A value refused at the last gate before a command line or a rules file.

    Validation normally refuses such values with the API server's words; this error is the
    defence behind it (a cluster built through the Python API skips validation): a writer of
    ``ip -batch``, ``iptables-restore`` or ``nft -f`` input checks every token it writes.

    >>> str(UnsafeValueError("Service default/web", "status.loadBalancer.ingress ip", "1.2.3.4\\n-A X", "an IP address"))
    'refusing to write rules for Service default/web: status.loadBalancer.ingress ip "1.2.3.4\\\\n-A X" is not an IP address'
    """

    def __init__(self, owner: str, what: str, value: Any, expected: str, *, action: str = "write rules"):
        self.owner, self.what, self.value, self.expected, self.action = owner, what, value, expected, action
        super().__init__(str(self))

    def __str__(self) -> str:
        shown = json.dumps(self.value, ensure_ascii=False, default=repr)
        return f"refusing to {self.action} for {self.owner}: {self.what} {shown} is not {self.expected}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_unsafe, (self.owner, self.what, self.value, self.expected, self.action))


def _rebuild_unsafe(owner: str, what: str, value: Any, expected: str, action: str) -> UnsafeValueError:
    return UnsafeValueError(owner, what, value, expected, action=action)


class NotConvergingError(KubelearnError, RuntimeError):
    """Controllers that keep rewriting each other's objects (a kubelearn bug, not yours)."""

    def __init__(self, rounds: int) -> None:
        super().__init__(f"kubelearn: the controllers did not settle after {rounds} rounds "
                         "(a bug in kubelearn; please report it with the manifests)")


class EnvVarSourceError(KubelearnError, ValueError):
    """An ``env``/``envFrom`` source kubelearn does not model (ConfigMaps, Secrets, resources)."""


class ContainerNotFoundError(KubelearnError, KeyError):
    def __init__(self, container: str, pod: str):
        self.container = container
        self.pod = pod
        super().__init__(str(self))

    def __str__(self) -> str:
        # kubectl exec's wording (podcmd.FindOrDefaultContainerByName).
        return f"error: container {self.container} not found"


class DNSError(KubelearnError, ValueError):
    """A question kubelearn cannot ask (unknown record type, malformed name or pod DNS config)."""


class KubelearnKindError(NotFoundError):
    """kubectl's message for a resource type it does not know."""

    def __str__(self) -> str:
        return f'error: the server doesn\'t have a resource type "{self.resource}"'

    def __init__(self, resource: str):
        super().__init__(resource, resource)

    def __reduce__(self) -> tuple[Any, ...]:
        return (KubelearnKindError, (self.resource,))


class TopologyError(ManifestError):
    """Every error found in one topology document (kind ``Cluster`` config or
    ``KubeProxyConfiguration``), one per line, like ``kubectl``'s list of causes.

    It is a :class:`~kubelearn.errors.ManifestError` whose ``message``/``path``/``line`` are
    the first error's; ``errors`` holds them all.
    """

    def __init__(self, errors: list[ManifestError]):
        self.errors = list(errors)
        first = self.errors[0]
        super().__init__(first.message, source=first.source, document=first.document, line=first.line,
                         column=first.column, path=first.path)

    def __str__(self) -> str:
        return "\n".join(ManifestError.__str__(e) for e in self.errors)

    def __reduce__(self) -> tuple[Any, ...]:
        return (TopologyError, (self.errors,))


class UnknownKindError(KubelearnError, ValueError):
    """A kind or apiVersion kubelearn has no schema for, in kubectl's words."""

    def __init__(self, api_version: str, kind: str):
        self.api_version = api_version
        self.kind = kind
        super().__init__(str(self))

    def __str__(self) -> str:
        return (f'resource mapping not found for name: "" namespace: "" from "": no matches for kind '
                f'"{self.kind}" in version "{self.api_version}"')

    def __reduce__(self) -> tuple[Any, ...]:
        return (UnknownKindError, (self.api_version, self.kind))


class ResourceMappingError(KubelearnError, ValueError):
    """kubectl's message for a kind the cluster does not serve (no such API, or a missing CRD)."""

    def __init__(self, api_version: str, kind: str, name: str, namespace: str, source: str):
        self.api_version, self.kind, self.name, self.namespace, self.source = api_version, kind, name, namespace, source
        super().__init__(str(self))

    def __str__(self) -> str:
        return (f'error: resource mapping not found for name: "{self.name}" namespace: "{self.namespace}" from '
                f'"{self.source}": no matches for kind "{self.kind}" in version "{self.api_version}"\n'
                "ensure CRDs are installed first")

    def __reduce__(self) -> tuple[Any, ...]:
        return (ResourceMappingError, (self.api_version, self.kind, self.name, self.namespace, self.source))


class NotFoundWithWarningError(NotFoundError):
    """NotFound, preceded by the warning kubectl printed before asking (Endpoints)."""

    def __init__(self, resource: str, name: str, warning: str = ""):
        self.warning = warning
        super().__init__(resource, name)

    def __str__(self) -> str:
        return f'{self.warning}Error from server (NotFound): {self.resource} "{self.name}" not found'

    def __reduce__(self) -> tuple[Any, ...]:
        return (NotFoundWithWarningError, (self.resource, self.name, self.warning))


class SelectorError(KubelearnError, ValueError):
    """A label selector that cannot be evaluated (apimachinery's ``LabelSelectorAsSelector`` error)."""


class MissingExtraError(KubelearnError, ImportError):
    """An optional dependency (an *extra*) is not installed."""


class HostError(KubelearnError, RuntimeError):
    """A command inside a lab namespace failed; the message names the command and its stderr."""


class PreflightError(KubelearnError, RuntimeError):
    """This machine cannot run the lab; ``str()`` is a one-line explanation of what is missing."""


class DumpError(KubelearnError, ValueError):
    """Input that is not a dump kubelearn can read, with the line that shows it (one line)."""


class PlotDataError(KubelearnError, ValueError):
    """Data a plot cannot draw: a request log without the columns it needs, an empty log."""


class UnsupportedVersionError(KubelearnError, ValueError):
    """A Kubernetes version kubelearn does not model."""


class LogFormatError(KubelearnError, ValueError):
    """A file or frame that is not a kubelearn request log."""


class LogPathError(KubelearnError, OSError):
    """A log path that cannot be written: said before any work starts, in Go's ``open`` words."""

    def __str__(self) -> str:
        return str(self.strerror)


class UnsupportedSchedulerError(KubelearnError, ValueError):
    """An IPVS scheduler kubelearn does not model."""


class WorkloadError(KubelearnError, ValueError):
    """A workload that cannot run on this cluster (a client or target that does not exist)."""


class ProxyConfigError(KubelearnError, ValueError):
    """A KubeProxyConfiguration setting kubelearn cannot model (or kube-proxy would refuse)."""


class TraceError(KubelearnError, ValueError):
    """A trace request kubelearn cannot answer (bad address, unknown protocol, a runaway walk)."""
