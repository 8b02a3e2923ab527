"""The cluster as a value: every API object, the topology and kube-proxy's configuration.

A real cluster keeps its state in the API server: Nodes, Pods, Services, EndpointSlices,
Deployments, each an *object* with ``apiVersion``, ``kind``, ``metadata``, ``spec`` and
``status``.  kubelearn keeps exactly those objects, as the same nested dicts that
``kubectl get -o yaml`` prints, inside one frozen :class:`Cluster`.

A :class:`Cluster` never changes.  Applying a manifest, scaling a Deployment or losing a node
returns a *new* cluster, so "what if" comparisons are two variables side by side::

    before = kl.load("web.yaml")
    after = before.scale("web", 5)

Objects are keyed by ``(kind, namespace, name)``; cluster-scoped kinds (Node, Namespace)
use the namespace ``""``.  Insertion order is creation order, which matters: a pod only sees
environment variables for Services that existed when it started.  Every stored object carries
``metadata.resourceVersion`` (a counter, as in etcd), ``metadata.uid`` and
``metadata.creationTimestamp`` (``kubelearn.cluster.EPOCH`` plus ``cluster.now`` seconds).

The dicts handed out by the accessors are shared with the cluster: treat them as read-only and
use the edit methods (or :meth:`Cluster.with_object`) to change anything.
"""

from __future__ import annotations

import builtins
import copy
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cached_property
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import InvalidError, KubelearnError, NotFoundError
from .versions import DEFAULT_VERSION

if TYPE_CHECKING:  # pragma: no cover
    from os import PathLike

__all__ = ["Cluster", "EPOCH", "KINDS", "Kind", "MAX_OBJECTS", "NodeSpec", "ObjectKey", "Topology", "kind_info"]

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


KINDS: Mapping[str, Kind] = MappingProxyType(
    {
        k.kind: k
        for k in (
            Kind("Namespace", "v1", False, "namespaces", ("ns",)),
            Kind("Node", "v1", False, "nodes", ("no",)),
            Kind("Pod", "v1", True, "pods", ("po",)),
            Kind("Service", "v1", True, "services", ("svc",)),
            Kind("Endpoints", "v1", True, "endpoints", ("ep",)),
            Kind("Deployment", "apps/v1", True, "deployments.apps", ("deploy",)),
            Kind("ReplicaSet", "apps/v1", True, "replicasets.apps", ("rs",)),
            Kind("StatefulSet", "apps/v1", True, "statefulsets.apps", ("sts",)),
            Kind("EndpointSlice", "discovery.k8s.io/v1", True, "endpointslices.discovery.k8s.io", ()),
            # kubelearn's own kind: who sends traffic (see kubelearn.workload).
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


class KubelearnKindError(NotFoundError):
    """kubectl's message for a resource type it does not know."""

    def __str__(self) -> str:
        return f'error: the server doesn\'t have a resource type "{self.resource}"'

    def __init__(self, resource: str):
        super().__init__(resource, resource)

    def __reduce__(self) -> tuple[Any, ...]:
        return (KubelearnKindError, (self.resource,))


@dataclass(frozen=True)
class NodeSpec:
    """One node as a kind cluster config describes it, with the addresses it was given."""

    name: str
    role: str  # "control-plane" or "worker"
    ip: str  # InternalIP on the node network (kind's docker network)
    pod_cidr: str  # spec.podCIDR, one /24 of the pod subnet
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Topology:
    """The shape of the cluster, as ``kind create cluster`` would build it.

    The defaults are those of a learner's kind cluster with one control-plane node and two
    workers: nodes on 172.18.0.0/16, pods on 10.244.0.0/16 (one /24 per node), Services on
    10.96.0.0/16 (kind's default; kubeadm alone would use 10.96.0.0/12), cluster domain
    ``cluster.local``.
    """

    name: str = "kind"
    nodes: tuple[NodeSpec, ...] = ()
    pod_subnet: str = "10.244.0.0/16"
    service_subnet: str = "10.96.0.0/16"
    node_subnet: str = "172.18.0.0/16"
    domain: str = "cluster.local"
    node_port_range: tuple[int, int] = (30000, 32767)
    dns_ip: str = "10.96.0.10"
    kube_proxy_mode: str = "iptables"
    #: the Kubernetes release every node runs (kind's node image tag, see kubelearn.versions)
    kubernetes_version: str = DEFAULT_VERSION


def _storable(obj: Any) -> dict[str, Any]:
    """A private copy of ``obj`` with what storage itself needs: ``kind``, ``metadata.name``.

    Storage does no validation (the controllers write through it), but a Python caller can
    hand it anything; these are refused with a clear message instead of a KeyError.
    """
    if not isinstance(obj, Mapping):
        raise KubelearnError(f"cannot store a {type(obj).__name__}: an object is a mapping with kind and metadata")
    new = copy.deepcopy(dict(obj))
    meta = new.setdefault("metadata", {})
    if not isinstance(new.get("kind"), str):
        raise KubelearnError("cannot store an object without a kind (a string)")
    if not isinstance(meta, dict) or not isinstance(meta.get("name"), str) or not meta["name"]:
        raise KubelearnError(f"cannot store a {new['kind']} without metadata.name (a non-empty string)")
    if "namespace" in meta and not isinstance(meta["namespace"], str):
        raise KubelearnError(f"cannot store a {new['kind']} whose metadata.namespace is not a string")
    return new


@dataclass(frozen=True, eq=False)
class Cluster:
    """An immutable snapshot of a cluster's API objects.

    Build one with :func:`kubelearn.load` (manifests) or :func:`kubelearn.default_cluster`;
    edit it with the methods below, each returning a new :class:`Cluster`.

    Attributes:
        topology: nodes and address ranges (from a kind ``Cluster`` config or the defaults).
        proxy_config: the ``KubeProxyConfiguration`` every node's kube-proxy runs with,
            with kube-proxy's defaults filled in (``mode`` is never empty).
        objects: every API object, keyed by ``(kind, namespace, name)``, in creation order.
        seed: the seed behind every random choice (ClusterIPs, pod names), so the same
            manifests and seed always give the same cluster.
        clock: the last ``resourceVersion`` handed out.
        now: seconds since the cluster was created (moved on by the traffic simulator).
    """

    topology: Topology = field(default_factory=Topology)
    proxy_config: Mapping[str, Any] = field(default_factory=dict)
    objects: Mapping[ObjectKey, dict[str, Any]] = field(default_factory=dict)
    seed: int = 0
    clock: int = 0
    now: float = 0.0
    # How many times each key has been created: a re-created object gets a new uid, and an
    # object's uid never depends on unrelated objects stored before it.
    creations: Mapping[ObjectKey, int] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------- lookups
    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        """One object, e.g. ``cluster.get("Service", "my-service")``.

        Raises:
            NotFoundError: ``Error from server (NotFound): services "x" not found``.
        """
        info = kind_info(kind)
        key = (info.kind, namespace if info.namespaced else "", name)
        try:
            return self.objects[key]
        except KeyError:
            raise NotFoundError(info.resource, name, namespace if info.namespaced else None) from None

    def has(self, kind: str, name: str, namespace: str = "default") -> bool:
        """Whether an object exists."""
        info = kind_info(kind)
        return (info.kind, namespace if info.namespaced else "", name) in self.objects

    # An index by kind and namespace, built on first use in one pass over ``objects``.  It is
    # derived from the frozen value, never edited, and not copied by ``replace`` (a new
    # cluster builds its own), so the cluster stays a value; without it every lookup scanned
    # every object, and 10,000 Services took minutes to load and list.
    @cached_property
    def _index(self) -> tuple[dict[str, builtins.list[dict[str, Any]]],
                              dict[tuple[str, str], builtins.list[dict[str, Any]]]]:
        by_kind: dict[str, builtins.list[dict[str, Any]]] = {}
        by_namespace: dict[tuple[str, str], builtins.list[dict[str, Any]]] = {}
        for (kind, ns, _), obj in self.objects.items():
            by_kind.setdefault(kind, []).append(obj)
            by_namespace.setdefault((kind, ns), []).append(obj)
        return by_kind, by_namespace

    @cached_property
    def _slices_by_service(self) -> dict[str, builtins.list[dict[str, Any]]]:
        out: dict[str, builtins.list[dict[str, Any]]] = {}
        for s in self._index[0].get("EndpointSlice", []):
            name = ((s.get("metadata") or {}).get("labels") or {}).get("kubernetes.io/service-name")
            if isinstance(name, str):
                out.setdefault(name, []).append(s)
        return out

    def list(self, kind: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """All objects of a kind, in creation order; ``namespace=None`` means all namespaces."""
        info = kind_info(kind)
        by_kind, by_namespace = self._index
        if namespace is None or not info.namespaced:
            return builtins.list(by_kind.get(info.kind, ()))
        return builtins.list(by_namespace.get((info.kind, namespace), ()))

    def services(self, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """All Services (with defaults and allocated IPs filled in)."""
        return self.list("Service", namespace)

    def pods(self, namespace: str | None = None) -> builtins.list[dict[str, Any]]:
        """All Pods, scheduled (``spec.nodeName``) and addressed (``status.podIP``)."""
        return self.list("Pod", namespace)

    def nodes(self) -> builtins.list[dict[str, Any]]:
        """All Nodes."""
        return self.list("Node")

    def endpoint_slices(self, namespace: str | None = None, service: str | None = None) -> builtins.list[dict[str, Any]]:
        """EndpointSlices, optionally only those labelled ``kubernetes.io/service-name: <service>``."""
        if service is None:
            return self.list("EndpointSlice", namespace)
        return [s for s in self._slices_by_service.get(service, ())
                if namespace is None or s["metadata"].get("namespace") == namespace]

    def node_ip(self, node: str) -> str:
        """A node's InternalIP."""
        status = self.get("Node", node).get("status")
        addresses = status.get("addresses") if isinstance(status, Mapping) else None
        for addr in addresses if isinstance(addresses, builtins.list) else ():
            if isinstance(addr, Mapping) and addr.get("type") == "InternalIP":
                return str(addr.get("address"))
        # A Node applied from a manifest may lack one; kube-proxy would not know its own IP.
        raise KubelearnError(f'node "{node}" has no InternalIP in status.addresses: kube-proxy and the lab need one')

    @property
    def proxy_mode(self) -> str:
        """kube-proxy's mode on every node: ``iptables`` (the default), ``nftables`` or ``ipvs``."""
        return str(self.proxy_config.get("mode") or "iptables")

    # ------------------------------------------------------------ low-level edits
    def with_object(self, obj: Mapping[str, Any]) -> Cluster:
        """Store (create or replace) one object as is, without validation or controllers.

        This is the storage layer the controllers use; learners use :meth:`apply`.
        New objects get ``uid``, ``creationTimestamp`` and a ``resourceVersion``; replaced
        objects keep their ``uid`` and ``creationTimestamp`` and get a new ``resourceVersion``.
        """
        return self.with_objects([obj])

    def with_objects(self, objs: Iterable[Mapping[str, Any]]) -> Cluster:
        """Store several objects at once (see :meth:`with_object`)."""
        objects = dict(self.objects)
        creations = dict(self.creations)
        clock = self.clock
        for obj in objs:
            new = _storable(obj)
            info = kind_info(new["kind"])
            meta = new["metadata"]
            ns = meta.get("namespace", "default") if info.namespaced else ""
            if info.namespaced:
                meta["namespace"] = ns
            key = (info.kind, ns, meta["name"])
            old = objects.get(key)
            clock += 1
            if old is not None:
                meta["uid"] = old["metadata"]["uid"]
                meta["creationTimestamp"] = old["metadata"]["creationTimestamp"]
            else:
                creations[key] = creations.get(key, 0) + 1
                meta.setdefault("uid", str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                      f"kubelearn:{self.seed}:{key}:{creations[key]}")))
                meta.setdefault("creationTimestamp", self.timestamp())
            meta["resourceVersion"] = str(clock)
            objects[key] = new
        if len(objects) > MAX_OBJECTS and len(objects) > len(self.objects):
            raise KubelearnError(f"error: the cluster would hold {len(objects):,} objects; kubelearn keeps at most "
                                 f"{MAX_OBJECTS:,} (a bound on memory and time, see kubelearn.cluster.MAX_OBJECTS)")
        return replace(self, objects=MappingProxyType(objects), clock=clock, creations=MappingProxyType(creations))

    def without(self, kind: str, name: str, namespace: str = "default") -> Cluster:
        """Remove one object as is (no controllers run).

        Raises:
            NotFoundError: when it does not exist.
        """
        info = kind_info(kind)
        key = (info.kind, namespace if info.namespaced else "", name)
        if key not in self.objects:
            raise NotFoundError(info.resource, name, namespace)
        objects = {k: v for k, v in self.objects.items() if k != key}
        return replace(self, objects=MappingProxyType(objects), clock=self.clock + 1)

    def at(self, now: float) -> Cluster:
        """The same cluster with its clock moved to ``now`` seconds."""
        return replace(self, now=now)

    def timestamp(self, seconds: float | None = None) -> str:
        """``creationTimestamp``-style RFC 3339 time for ``seconds`` (default: ``now``)."""
        t = EPOCH + timedelta(seconds=self.now if seconds is None else seconds)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")

    # ----------------------------------------------------------- learner edits
    # Implemented in kubelearn.apply and kubelearn.controllers; imported lazily because those
    # modules build on this one.
    def apply(self, *sources: str | PathLike[str] | Mapping[str, Any]) -> Cluster:
        """``kubectl apply -f``: validate, default, allocate and store, then run the controllers.

        Each source is a path (file or directory), YAML text, or an object dict.  Either every
        object is applied or none is.

        Raises:
            ApplyError: listing every invalid object, in kubectl's words.
            ManifestError: for YAML that is not a Kubernetes object.
        """
        from .apply import apply

        return apply(self, *sources)

    def delete(self, kind: str, name: str, namespace: str = "default") -> Cluster:
        """``kubectl delete KIND NAME``; controllers then react (a deleted pod is replaced)."""
        from .apply import delete

        return delete(self, kind, name, namespace)

    def scale(self, name: str, replicas: int, namespace: str = "default", kind: str = "Deployment") -> Cluster:
        """``kubectl scale deployment NAME --replicas=N`` (or a StatefulSet with ``kind=``).

        Raises:
            InvalidError: more than :data:`kubelearn.validation.MAX_REPLICAS` replicas.
        """
        from .controllers import scale
        from .validation import replicas_limit_error

        too_many = replicas_limit_error("spec.replicas", replicas)
        if too_many is not None:
            raise InvalidError(kind_info(kind).kind, name, [too_many])

        return scale(self, name, replicas, namespace=namespace, kind=kind)

    def delete_pod(self, name: str, namespace: str = "default", grace: bool = False) -> Cluster:
        """Delete a pod; with ``grace=True`` it stays Terminating (serving) until removed."""
        from .controllers import delete_pod

        return delete_pod(self, name, namespace=namespace, grace=grace)

    def set_ready(self, pod: str, ready: bool, namespace: str = "default") -> Cluster:
        """Flip a pod's Ready condition, as a failing or recovering readiness probe would."""
        from .controllers import set_ready

        return set_ready(self, pod, ready, namespace=namespace)

    def cordon(self, node: str) -> Cluster:
        """``kubectl cordon``: no new pods on the node; running pods stay."""
        from .controllers import cordon

        return cordon(self, node)

    def drain(self, node: str) -> Cluster:
        """``kubectl drain``: cordon, then evict the node's pods (controllers recreate them elsewhere)."""
        from .controllers import drain

        return drain(self, node)

    def fail_node(self, node: str) -> Cluster:
        """The node stops answering: NotReady, its pods become unready and are replaced elsewhere."""
        from .controllers import fail_node

        return fail_node(self, node)

    def uncordon(self, node: str) -> Cluster:
        """``kubectl uncordon``: the node takes new pods again."""
        from .controllers import uncordon

        return uncordon(self, node)

    def recover_node(self, node: str) -> Cluster:
        """A failed node answers again: Ready, schedulable, its kubelet confirms deletions."""
        from .controllers import recover_node

        return recover_node(self, node)

    def set_image(self, name: str, image: str, container: str | None = None, namespace: str = "default") -> Cluster:
        """``kubectl set image deployment/NAME CONTAINER=IMAGE``: a new rollout, finished at once."""
        from .controllers import set_image

        return set_image(self, name, image, container=container, namespace=namespace)

    def rollout(self, name: str, template_change: Any, namespace: str = "default") -> Cluster:
        """Change a Deployment's pod template (a mapping merged in, or a function); finished at once.

        Use :func:`kubelearn.controllers.rollout_steps` to see the intermediate states.
        """
        from .controllers import rollout

        return rollout(self, name, template_change, namespace=namespace)

    def advance(self, now: float) -> Cluster:
        """Move the clock to ``now`` seconds; pods whose grace period ended are gone."""
        from .controllers import advance

        return advance(self, now)

    # ------------------------------------------------------------------ display
    def summary(self) -> dict[str, int]:
        """How many objects of each kind."""
        counts: dict[str, int] = {}
        for kind, _, _ in self.objects:
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def __repr__(self) -> str:
        c = self.summary()
        return (
            f"<Cluster {self.topology.name!r}: {c.get('Node', 0)} nodes, {c.get('Pod', 0)} pods, "
            f"{c.get('Service', 0)} services, {c.get('EndpointSlice', 0)} endpointslices; "
            f"kube-proxy mode {self.proxy_mode}>"
        )
