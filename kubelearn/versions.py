"""Kubernetes versions and the feature gates whose defaults change what a learner sees.

A feature gate switches a behaviour on or off; each release sets a default for it (alpha:
off, beta: usually on, GA: on and locked).  kubelearn keeps, for the gates that change
Services, EndpointSlices or kube-proxy's rules, the default of every release it knows, read
from ``pkg/features/versioned_kube_features.go`` in kubernetes/kubernetes (see
``docs/versions.md`` for the sources).  A ``KubeProxyConfiguration``'s ``featureGates`` may
override a gate for kube-proxy, as on a real node.

kubelearn models **v1.33** (kind's ``kindest/node:v1.33.1``) today; the gates below are
recorded for the later releases too, so that code can ask "what does v1.35 do" once the rest
of the model follows the version.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_MINOR", "FEATURE_GATES", "NEWEST_MINOR", "SUPPORTED_MINORS", "UnsupportedVersionError",
           "feature_gate", "gate_default", "image_version"]

#: The minor release kubelearn models (kind's node image v1.33.1).
DEFAULT_MINOR = 33
#: The newest published minor (CHANGELOG-1.38.md holds only alphas; see docs/versions.md).
NEWEST_MINOR = 37
#: The minors kubelearn renders.  v1.34 to v1.37 are known but not modelled yet.
SUPPORTED_MINORS = (33,)

_KIND_NODE = re.compile(r"(?:[\w.-]+/)*kindest/node:v(\d+)\.(\d+)\.(\d+)(?:@sha256:[0-9a-f]{64})?")


class UnsupportedVersionError(ValueError):
    """A Kubernetes version kubelearn does not model (yet)."""


def image_version(image: Any) -> tuple[int, int, int] | None:
    """The Kubernetes version of a kind node image (``kindest/node:v1.36.1`` -> ``(1, 36, 1)``).

    Returns None for an image that is not ``kindest/node:vX.Y.Z`` (kind cannot tell either).

    Raises:
        UnsupportedVersionError: a kindest/node image of a release kubelearn does not model,
            with the reason (not published yet, older than v1.33, or not modelled yet).
    """
    m = _KIND_NODE.fullmatch(image) if isinstance(image, str) else None
    if m is None:
        return None
    major, minor, patch = (int(g) for g in m.groups())
    if major != 1 or minor > NEWEST_MINOR:
        raise UnsupportedVersionError(f"{image}: Kubernetes v{major}.{minor} is not a published release "
                                      f"(the newest is v1.{NEWEST_MINOR})")
    if minor < min(SUPPORTED_MINORS):
        raise UnsupportedVersionError(f"{image}: Kubernetes v1.{minor} is out of kubelearn's range "
                                      f"(v1.33 to v1.{NEWEST_MINOR})")
    if minor not in SUPPORTED_MINORS:
        raise UnsupportedVersionError(
            f"{image}: kubelearn models Kubernetes v1.33 only; v1.{minor} is known (see docs/versions.md) but "
            "its kube-proxy rules and API changes are not modelled yet: use kindest/node:v1.33.1")
    return major, minor, patch

#: gate -> ((first minor, default from that minor on), ...), oldest first; before the first
#: entry the gate does not exist (off).
FEATURE_GATES: Mapping[str, tuple[tuple[int, bool], ...]] = {
    # alpha 1.33 (off); beta 1.34 (on); GA 1.35 (on, locked)
    "PreferSameTrafficDistribution": ((33, False), (34, True), (35, True)),
    # alpha 1.33 (off); still alpha, off, in the newest copy read (a >= v1.35 tree)
    "StrictIPCIDRValidation": ((33, False),),
}


def gate_default(name: str, minor: int = DEFAULT_MINOR) -> bool:
    """The default of feature gate ``name`` in release 1.``minor``.

    Raises:
        KeyError: a gate kubelearn does not track.
    """
    value = False
    for since, default in FEATURE_GATES[name]:
        if minor >= since:
            value = default
    return value


def feature_gate(proxy_config: Mapping[str, Any] | None, name: str, minor: int = DEFAULT_MINOR) -> bool:
    """A gate as kube-proxy sees it: the configuration's ``featureGates`` entry, else the default."""
    gates = (proxy_config or {}).get("featureGates")
    if isinstance(gates, Mapping) and isinstance(gates.get(name), bool):
        return bool(gates[name])
    return gate_default(name, minor)
