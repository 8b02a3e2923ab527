"""Labels and selectors: how a Service or a Deployment finds its pods.

Every object can carry *labels*, a flat map of ``key: value`` strings such as
``app: web``.  Nothing in Kubernetes links a Service to its pods by name: the Service's
``spec.selector`` is a set of labels, and every pod in the same namespace that carries **all**
of them (extra labels do not matter) is a backend.  That is a plain equality match, nothing
more: ``spec.selector`` on a Service is a ``map[string]string``.

Deployments, ReplicaSets and StatefulSets use the richer ``apps/v1`` *LabelSelector*:
``matchLabels`` (the same equalities) plus ``matchExpressions`` with the operators ``In``,
``NotIn``, ``Exists`` and ``DoesNotExist``; all requirements must hold.

Label keys are *qualified names* (an optional DNS-subdomain prefix and ``/``, then a name of
at most 63 characters), values are at most 63 characters; the API server refuses anything
else with the messages built here (apimachinery ``pkg/util/validation``), byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .errors import FORBIDDEN, INVALID, REQUIRED, FieldError, SelectorError

__all__ = [
    "DNS1035_LABEL_MESSAGE",
    "SelectorError",
    "LABEL_KEY_MESSAGE",
    "LABEL_VALUE_MESSAGE",
    "RFC1123_LABEL_MESSAGE",
    "RFC1123_SUBDOMAIN_MESSAGE",
    "is_dns1035_label",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_label_value",
    "is_valid_port_name",
    "label_selector_matches",
    "max_len_error",
    "selector_matches",
    "validate_label_selector",
    "validate_labels",
]

# ------------------------------------------------------------------ message building blocks
# apimachinery's RegexError puts two spaces before "or" between examples; kept on purpose.


def _regex_error(msg: str, fmt: str, *examples: str) -> str:
    text = msg + " (e.g. " + ",  or ".join(f"'{e}'" for e in examples)
    return text + f", regex used for validation is '{fmt}')"


def max_len_error(n: int) -> str:
    """apimachinery's ``MaxLenError`` wording as of v1.33 (``characters``; v1.35 says ``bytes``)."""
    return f"must be no more than {n} characters"


EMPTY_ERROR = "must be non-empty"

_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + "(\\." + _DNS1123_LABEL_FMT + ")*"
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QUALIFIED_NAME_FMT + ")?"

DNS1035_LABEL_MESSAGE = _regex_error(
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
    "character, and end with an alphanumeric character",
    _DNS1035_FMT, "my-name", "abc-123",
)
RFC1123_LABEL_MESSAGE = _regex_error(
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character",
    _DNS1123_LABEL_FMT, "my-name", "123-abc",
)
RFC1123_SUBDOMAIN_MESSAGE = _regex_error(
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character",
    _DNS1123_SUBDOMAIN_FMT, "example.com",
)
_QUALIFIED_NAME_ERR = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                       "alphanumeric character")
LABEL_KEY_MESSAGE = _regex_error(_QUALIFIED_NAME_ERR, _QUALIFIED_NAME_FMT, "MyName", "my.name", "123-abc")
LABEL_VALUE_MESSAGE = _regex_error(
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character",
    _LABEL_VALUE_FMT, "MyValue", "my_value", "12345",
)

# \Z, not $: Python's $ also matches before a trailing newline, and "web\n" is no name (Go's
# regexp has no such exception).
_DNS1035_RE = re.compile(f"^{_DNS1035_FMT}\\Z")
_DNS1123_LABEL_RE = re.compile(f"^{_DNS1123_LABEL_FMT}\\Z")
_DNS1123_SUBDOMAIN_RE = re.compile(f"^{_DNS1123_SUBDOMAIN_FMT}\\Z")
_QUALIFIED_NAME_RE = re.compile(f"^{_QUALIFIED_NAME_FMT}\\Z")
_LABEL_VALUE_RE = re.compile(f"^{_LABEL_VALUE_FMT}\\Z")
_PORT_NAME_CHARSET_RE = re.compile("^[-a-z0-9]+\\Z")
_ONE_LETTER_RE = re.compile("[a-z]")


# ------------------------------------------------------------------ string checks (messages)
def is_dns1035_label(value: str) -> list[str]:
    """``IsDNS1035Label``: the rule for Service names. Returns the failure messages (empty if valid)."""
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1035_RE.match(value):
        errs.append(DNS1035_LABEL_MESSAGE)
    return errs


def is_dns1123_label(value: str) -> list[str]:
    """``IsDNS1123Label``: Service port names, Namespace and container names.

    A name that would be a valid subdomain gets the shorter ``must not contain dots``.
    """
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _DNS1123_LABEL_RE.match(value):
        errs.append("must not contain dots" if _DNS1123_SUBDOMAIN_RE.match(value) else RFC1123_LABEL_MESSAGE)
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """``IsDNS1123Subdomain``: Pod, Deployment and Node names, ``externalName``."""
    errs = []
    if len(value) > 253:
        errs.append(max_len_error(253))
    if not _DNS1123_SUBDOMAIN_RE.match(value):
        errs.append(RFC1123_SUBDOMAIN_MESSAGE)
    return errs


def is_qualified_name(value: str) -> list[str]:
    """``IsQualifiedName``: label keys, annotation keys, ``appProtocol``, ``loadBalancerClass``."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + EMPTY_ERROR)
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a qualified name " + LABEL_KEY_MESSAGE
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + EMPTY_ERROR)
    elif len(name) > 63:
        errs.append("name part " + max_len_error(63))
    if not _QUALIFIED_NAME_RE.match(name):
        errs.append("name part " + LABEL_KEY_MESSAGE)
    return errs


def is_valid_label_value(value: str) -> list[str]:
    """``IsValidLabelValue``: empty, or at most 63 characters of ``[A-Za-z0-9-_.]`` starting and ending alphanumeric."""
    errs = []
    if len(value) > 63:
        errs.append(max_len_error(63))
    if not _LABEL_VALUE_RE.match(value):
        errs.append(LABEL_VALUE_MESSAGE)
    return errs


def is_valid_port_name(value: str) -> list[str]:
    """``IsValidPortName`` (IANA_SVC_NAME): a string ``targetPort`` and container port names.

    Each failed rule is its own message, so ``--Web_Port-Name-Too-Long`` collects several.
    """
    errs = []
    if len(value) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_CHARSET_RE.match(value):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _ONE_LETTER_RE.search(value):
        errs.append("must contain at least one letter (a-z)")
    if "--" in value:
        errs.append("must not contain consecutive hyphens")
    if value and (value[0] == "-" or value[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


# ------------------------------------------------------------------ FieldError helpers
def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """``ValidateLabels``: every key and value of a label map, reported at ``path`` itself.

    The API server reports the bad key or value as the *value* of the error and does not add
    the key to the path (``spec.selector: Invalid value: "app name": name part must …``).

    Args:
        labels: the map (``metadata.labels``, a Service's ``spec.selector``, ``matchLabels``);
            anything that is not a map is left to schema checking.
        path: the field path to report, e.g. ``"spec.selector"``.
    """
    errs: list[FieldError] = []
    if not isinstance(labels, Mapping):
        return errs
    for key, value in labels.items():
        key_s = key if isinstance(key, str) else str(key)
        errs.extend(FieldError(path, INVALID, key_s, m) for m in is_qualified_name(key_s))
        if isinstance(value, str):
            errs.extend(FieldError(path, INVALID, value, m) for m in is_valid_label_value(value))
    return errs


_SET_OPERATORS = ("In", "NotIn")
_EXISTS_OPERATORS = ("Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """``ValidateLabelSelector`` for an ``apps/v1`` selector (``matchLabels`` and ``matchExpressions``).

    Args:
        selector: the ``spec.selector`` dict of a Deployment, ReplicaSet or StatefulSet.
        path: where it lives, e.g. ``"spec.selector"``.
    """
    errs: list[FieldError] = []
    if not isinstance(selector, Mapping):
        return errs
    errs.extend(validate_labels(selector.get("matchLabels"), f"{path}.matchLabels"))
    exprs = selector.get("matchExpressions")
    if isinstance(exprs, list):
        for i, expr in enumerate(exprs):
            if not isinstance(expr, Mapping):
                continue
            p = f"{path}.matchExpressions[{i}]"
            op = expr.get("operator")
            values = expr.get("values") or []
            if op in _SET_OPERATORS:
                if not values:
                    errs.append(FieldError(f"{p}.values", REQUIRED, detail="must be specified when `operator` is 'In' or 'NotIn'"))
            elif op in _EXISTS_OPERATORS:
                if values:
                    errs.append(FieldError(f"{p}.values", FORBIDDEN,
                                           detail="may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
            else:
                shown = op if isinstance(op, (str, int, float, bool)) or op is None else str(op)
                errs.append(FieldError(f"{p}.operator", INVALID, shown, "not a valid selector operator"))
            key = expr.get("key")
            key_s = key if isinstance(key, str) else ""
            errs.extend(FieldError(f"{p}.key", INVALID, key_s, m) for m in is_qualified_name(key_s))
            if isinstance(values, list):
                for j, v in enumerate(values):
                    if isinstance(v, str):
                        errs.extend(FieldError(f"{p}.values[{j}]", INVALID, v, m) for m in is_valid_label_value(v))
    return errs


# ------------------------------------------------------------------ matching


def selector_matches(selector: Mapping[str, str] | None, labels: Mapping[str, str] | None) -> bool:
    """Does a Service's ``spec.selector`` pick a pod with these ``labels``?

    Every key must be present with exactly that value (AND of equalities); extra labels on the
    pod do not matter.  A missing **or empty** selector means "no selector": the Service gets
    no endpoints from the EndpointSlice controller, so this returns ``False`` rather than
    "everything" (the API server stores an empty map as nil; discovery-api-facts §F, §H.5).

    >>> selector_matches({"app": "web"}, {"app": "web", "tier": "front"})
    True
    >>> selector_matches({}, {"app": "web"})
    False
    """
    if not selector:
        return False
    labels = labels or {}
    return all(k in labels and labels[k] == v for k, v in selector.items())


def label_selector_matches(label_selector: Mapping[str, Any] | None, labels: Mapping[str, str] | None) -> bool:
    """Does an ``apps/v1`` LabelSelector (``matchLabels`` + ``matchExpressions``) match ``labels``?

    As ``metav1.LabelSelectorAsSelector`` reads it: ``None`` selects nothing, an empty
    selector ``{}`` selects everything, otherwise every requirement must hold.  ``NotIn`` and
    ``DoesNotExist`` hold for a pod that lacks the key.

    Raises:
        SelectorError: for an operator other than In, NotIn, Exists, DoesNotExist (validation
            refuses such selectors before anything is matched).

    >>> label_selector_matches({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
    ...                        {"app": "web"})
    True
    """
    if label_selector is None:
        return False
    labels = labels or {}
    for k, v in (label_selector.get("matchLabels") or {}).items():
        if labels.get(k) != v or k not in labels:
            return False
    for expr in label_selector.get("matchExpressions") or []:
        key = expr.get("key")
        op = expr.get("operator")
        values = expr.get("values") or []
        if op == "In":
            ok = key in labels and labels[key] in values
        elif op == "NotIn":
            ok = key not in labels or labels[key] not in values
        elif op == "Exists":
            ok = key in labels
        elif op == "DoesNotExist":
            ok = key not in labels
        else:
            raise SelectorError(f'"{op}" is not a valid label selector operator')
        if not ok:
            return False
    return True
