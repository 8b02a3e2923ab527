"""The API resources kubelearn serves, as ``kubectl api-resources`` lists them: one registry.

Every object names its ``apiVersion`` and ``kind``; the API server serves each kind at a REST
resource (``services``, ``deployments.apps``), namespaced or cluster-wide, and ``kubectl``
also accepts short names (``svc``, ``deploy``).  :data:`KINDS` is that table, the one place
that lists what kubelearn models; :func:`kind_info` is ``kubectl``'s lookup, with its message
for a resource type it does not know.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from .errors import KubelearnKindError

__all__ = ["EPOCH", "KINDS", "MAX_OBJECTS", "Kind", "KubelearnKindError", "ObjectKey", "kind_info"]

#: The most objects one cluster holds (every kind together).  A Deployment of 10,000 pods
#: loads in about 1.4 s of CPU with a 90 MB peak (``benchmarks/bench_load.py``), so this
#: keeps any cluster within a few hundred megabytes and its controllers within seconds;
#: 10,000 Services with their EndpointSlices fit with room to spare.  Storing more raises a
#: KubelearnError and leaves the cluster as it was.
MAX_OBJECTS = 50_000

#: Time zero of every kubelearn cluster; ``creationTimestamp`` = EPOCH + seconds.
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

ObjectKey = tuple[str, str, str]  # (kind, namespace, name)


@dataclass(frozen=True)
class Kind:
    """What kubelearn knows about one API kind: group/version, scope and REST resource name."""

    kind: str
    api_version: str
    namespaced: bool
    resource: str  # the plural kubectl uses in messages: services, pods, endpointslices.discovery.k8s.io
    short_names: tuple[str, ...] = ()
    #: The OpenAPI definition the API server decodes it against (kubelearn.apiserver.schema);
    #: empty for kubelearn's own kind, whose schema is kubelearn.apiserver.workload.
    openapi: str = ""


KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        k.kind: k
        for k in (
            Kind("Namespace", "v1", False, "namespaces", ("ns",), "io.k8s.api.core.v1.Namespace"),
            Kind("Node", "v1", False, "nodes", ("no",), "io.k8s.api.core.v1.Node"),
            Kind("Pod", "v1", True, "pods", ("po",), "io.k8s.api.core.v1.Pod"),
            Kind("Service", "v1", True, "services", ("svc",), "io.k8s.api.core.v1.Service"),
            Kind("Endpoints", "v1", True, "endpoints", ("ep",), "io.k8s.api.core.v1.Endpoints"),
            Kind("Deployment", "apps/v1", True, "deployments.apps", ("deploy",), "io.k8s.api.apps.v1.Deployment"),
            Kind("ReplicaSet", "apps/v1", True, "replicasets.apps", ("rs",), "io.k8s.api.apps.v1.ReplicaSet"),
            Kind("StatefulSet", "apps/v1", True, "statefulsets.apps", ("sts",), "io.k8s.api.apps.v1.StatefulSet"),
            Kind("EndpointSlice", "discovery.k8s.io/v1", True, "endpointslices.discovery.k8s.io", (), "io.k8s.api.discovery.v1.EndpointSlice"),
            # kubelearn's own kind: who sends traffic (kubelearn.traffic.workload; its schema is
            # kubelearn.apiserver.workload).
            Kind("Workload", "kubelearn.dev/v1alpha1", False, "workloads.kubelearn.dev", ()),
        )
    }
)


def kind_info(kind: str) -> Kind:
    """Look up a kind by its name (``Service``), plural (``services``) or short name (``svc``).

    Raises:
        NotFoundError: with kubectl's wording when nothing matches.
    """
    if kind in KINDS:
        return KINDS[kind]
    low = kind.lower()
    for k in KINDS.values():
        names = {k.kind.lower(), k.resource, k.resource.split(".")[0], k.resource.split(".")[0].rstrip("s"),
                 *k.short_names}
        if low in names:
            return k
    raise KubelearnKindError(kind)


