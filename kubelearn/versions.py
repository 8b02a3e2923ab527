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

from collections.abc import Mapping
from typing import Any

__all__ = ["DEFAULT_MINOR", "FEATURE_GATES", "feature_gate", "gate_default"]

#: The minor release kubelearn models (kind's node image v1.33.1).
DEFAULT_MINOR = 33

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
