"""Kubernetes versions: which release a cluster runs, and what changes with it.

A learner's kind cluster runs the Kubernetes release of its **node image**: ``kind create
cluster`` uses the default image of the kind release installed, and a kind ``Cluster``
config can name another one per node (``image: kindest/node:v1.36.1``).  kubelearn reads
the same field: the version is part of the cluster's :class:`~kubelearn.cluster.Topology`
(``kubernetes_version``), and everything a learner sees follows it:

- **feature gates** at their default for that release (a gate switches a behaviour on or
  off; alpha: off, beta: usually on, GA: on and locked), read from
  ``pkg/features/kube_features.go`` in kubernetes/kubernetes;
- what the **API server** accepts and warns about (``trafficDistribution: PreferSameZone`` is
  refused by v1.33, whose gate is off; ``PreferClose`` draws a deprecation warning from v1.35);
- the **rules kube-proxy writes** (nftables mode changed shape in v1.36: no endpoint chains,
  a ``numgen ... map`` DNAT, a ``hairpin-connections`` set) and what it logs (IPVS mode is
  deprecated from v1.35);
- the **versions kind bundles**: the kubelet version ``kubectl get nodes`` shows, CoreDNS's
  image.

Every fact below carries its upstream source in ``docs/versions.md`` (file, release branch or
PR, and how the stored copy read was dated).  A ``KubeProxyConfiguration``'s
``featureGates`` may override a gate for kube-proxy, as on a real node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import UnsupportedVersionError

__all__ = ["DEFAULT_MINOR", "DEFAULT_VERSION", "FEATURE_GATES", "NEWEST_MINOR", "RELEASES", "SUPPORTED_MINORS",
           "Release", "UnsupportedVersionError", "cluster_minor", "feature_gate", "gate_default", "image_version",
           "kube_proxy_warnings", "parse_version", "release"]


@dataclass(frozen=True)
class Release:
    """What kind and kubeadm bundle with one Kubernetes minor release."""

    minor: int
    #: kind's node image for it (the default image of the kind release named in ``kind``)
    kind_image: str
    #: the kind release whose default node image that is
    kind: str
    #: the CoreDNS image tag kubeadm deploys (``registry.k8s.io/coredns/coredns:<tag>``)
    coredns: str

    @property
    def version(self) -> str:
        """``v1.37.0``: the release of :attr:`kind_image`."""
        return self.kind_image.split(":", 1)[1].split("@", 1)[0]


#: Every minor kubelearn models, oldest first (sources: docs/versions.md, "kind and kubeadm").
RELEASES: Mapping[int, Release] = {
    33: Release(33, "kindest/node:v1.33.1", "v0.29.0", "v1.12.0"),
    34: Release(34, "kindest/node:v1.34.0@sha256:7416a61b42b1662ca6ca89f02028ac133a309a2a30ba309614e8ec94d976dc5a",
                "v0.30.0", "v1.12.1"),
    35: Release(35, "kindest/node:v1.35.0@sha256:452d707d4862f52530247495d180205e029056831160e22870e37e3f6c1ac31f",
                "v0.31.0", "v1.13.1"),
    36: Release(36, "kindest/node:v1.36.1@sha256:3489c7674813ba5d8b1a9977baea8a6e553784dab7b84759d1014dbd78f7ebd5",
                "v0.32.0", "v1.14.2"),
    37: Release(37, "kindest/node:v1.37.0@sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5",
                "v0.33.0", "v1.14.4"),
}

#: The newest published minor (CHANGELOG-1.38.md holds only alphas; see docs/versions.md).
NEWEST_MINOR = 37
#: The minors kubelearn renders, every one from v1.33 to the newest.
SUPPORTED_MINORS = tuple(sorted(RELEASES))
#: The release a cluster runs when nothing names one: the newest release modelled end to end
#: in every mode the lessons show.  v1.37 is modelled in iptables and IPVS mode, but its
#: nftables rules for one-endpoint Services (every cluster's ``kubernetes`` Service with one
#: control plane) and v1.36's for session affinity and Local policies are refused, not
#: guessed (docs/versions.md, "Default release"); v1.35 is what kind v0.31.0 creates.
DEFAULT_MINOR = 35
#: The Kubernetes version of the default cluster (``kindest/node:v1.35.0``).
DEFAULT_VERSION = RELEASES[DEFAULT_MINOR].version

_KIND_NODE = re.compile(r"(?:[\w.-]+(?::\d+)?/)*kindest/node:v(\d+)\.(\d+)\.(\d+)(?:@sha256:[0-9a-f]{64})?")
_VERSION = re.compile(r"v(\d+)\.(\d+)\.(\d+)")


def _check(major: int, minor: int, what: str) -> None:
    if major != 1 or minor > NEWEST_MINOR:
        raise UnsupportedVersionError(f"{what}: Kubernetes v{major}.{minor} is not a published release "
                                      f"(the newest is v1.{NEWEST_MINOR})")
    if minor not in RELEASES:
        raise UnsupportedVersionError(f"{what}: Kubernetes v1.{minor} is out of kubelearn's range "
                                      f"(v1.{min(RELEASES)} to v1.{NEWEST_MINOR})")


def image_version(image: Any) -> tuple[int, int, int] | None:
    """The Kubernetes version of a kind node image (``kindest/node:v1.36.1`` -> ``(1, 36, 1)``).

    Returns None for an image that is not ``kindest/node:vX.Y.Z`` (kind cannot tell either).

    Raises:
        UnsupportedVersionError: a kindest/node image of a release kubelearn does not model
            (not published yet, or older than v1.33), with the reason.
    """
    m = _KIND_NODE.fullmatch(image) if isinstance(image, str) else None
    if m is None:
        return None
    major, minor, patch = (int(g) for g in m.groups())
    _check(major, minor, image)
    return major, minor, patch


def parse_version(version: Any) -> tuple[int, int, int]:
    """``"v1.36.1"`` -> ``(1, 36, 1)``, checked against the releases kubelearn models.

    Raises:
        UnsupportedVersionError: not ``vX.Y.Z``, or a release kubelearn does not model.
    """
    m = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if m is None:
        raise UnsupportedVersionError(f"{version!r}: a Kubernetes version is written vMAJOR.MINOR.PATCH (v1.37.0)")
    major, minor, patch = (int(g) for g in m.groups())
    _check(major, minor, version)
    return major, minor, patch


def release(minor: int) -> Release:
    """The :class:`Release` facts of ``1.minor``.

    Raises:
        UnsupportedVersionError: a minor kubelearn does not model.
    """
    _check(1, minor, f"v1.{minor}")
    return RELEASES[minor]


def cluster_minor(cluster: Any) -> int:
    """The minor release a :class:`~kubelearn.cluster.Cluster` (or a Topology) runs."""
    topo = getattr(cluster, "topology", cluster)
    version = getattr(topo, "kubernetes_version", None) or DEFAULT_VERSION
    return parse_version(version)[1]


#: gate -> ((first minor, default from that minor on), ...), oldest first; before the first
#: entry the gate does not exist (off).  Source: pkg/features/kube_features.go (see docs).
FEATURE_GATES: Mapping[str, tuple[tuple[int, bool], ...]] = {
    # alpha 1.33 (off); beta 1.34 (on); GA 1.35 (on, locked)
    "PreferSameTrafficDistribution": ((33, False), (34, True), (35, True)),
    # alpha 1.33 (off); still alpha, off, in the newest copy read (a v1.35-or-later tree);
    # v1.36 and v1.37 keep that default here (not established: docs/versions.md)
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


#: What kube-proxy v1.35+ logs (klog warning) and records as a Warning event on its Node when it
#: starts in IPVS mode (cmd/kube-proxy/app/server_linux.go, PR #134539, v1.35).
IPVS_DEPRECATION = ("The ipvs proxier is now deprecated and may be removed in a future release. "
                    "Please use 'nftables' instead.")


def kube_proxy_warnings(mode: str, minor: int = DEFAULT_MINOR) -> list[str]:
    """The warnings kube-proxy of release 1.``minor`` logs when it starts in ``mode``.

    IPVS mode is deprecated from v1.35: kube-proxy logs :data:`IPVS_DEPRECATION` and records
    it as a Warning event (reason ``IPVSDeprecation``) on its Node; the rules it writes are
    unchanged.
    """
    if mode == "ipvs" and minor >= 35:
        return [IPVS_DEPRECATION]
    return []
