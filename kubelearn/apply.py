"""``kubectl apply`` and ``kubectl delete``: how manifests become objects in the cluster.

``kubectl apply -f`` sends the objects of a manifest to the API server one at a time, in
order.  For each, the server

1. *decodes* it strictly against the kind's schema (unknown fields, wrong types: HTTP 400);
2. fills in *defaults* (``type: ClusterIP``, ``protocol: TCP``, ``targetPort`` = ``port``...);
3. runs the ``BeginCreate`` hook that *allocates* ClusterIPs and node ports (its first error
   stops the object, hiding any validation error);
4. *validates* the result and reports every field error at once (HTTP 422, ``Invalid``);
5. stores it, so the next object in the file sees it (its ClusterIP and node ports are taken,
   a Namespace created above can hold the objects below).

An object whose ``(kind, namespace, name)`` already exists is *updated*: its labels,
annotations and spec are replaced, while what the server set (uid, creationTimestamp, status,
the allocated ClusterIP and node ports unless you give new ones) is kept.  The controllers
(ReplicaSets, Pods, the scheduler, EndpointSlices) then react.

kubelearn differs in one deliberate way: a real ``kubectl apply`` keeps the objects that were
accepted before the first failure, leaving a half-applied cluster; kubelearn applies all or
nothing and lists every error, so a notebook cell is either fully done or explains why not.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import controllers, defaults, schema, validation
from .allocation import AllocationIndex, allocate
from .cluster import KINDS, Cluster
from .errors import ApplyError, FieldError, InvalidError, KubelearnError, ManifestError, NotFoundError
from .manifest import Document, Text, read_documents
from .topology import (
    KIND_API_VERSION,
    PROXY_API_VERSION,
    TopologyError,
    default_cluster,
    default_proxy_config,
    default_topology,
    topology_from_kind_config,
)
from .workloads import remove

__all__ = ["ResourceMappingError", "apply", "delete", "dry_run", "load"]

Source = str | os.PathLike[str] | Text | Mapping[str, Any] | Iterable[Mapping[str, Any]]

_TOPOLOGY = {(KIND_API_VERSION, "Cluster"), (PROXY_API_VERSION, "KubeProxyConfiguration")}


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


def _is_topology(doc: Document) -> bool:
    return (doc.obj.get("apiVersion"), doc.obj.get("kind")) in _TOPOLOGY


def load(*sources: Source, seed: int = 0) -> Cluster:
    """Build a cluster from manifests, as ``kind create cluster`` + ``kubectl apply -f`` would.

    A kind ``Cluster`` config and a ``KubeProxyConfiguration`` (wherever they appear) shape the
    cluster first; everything else is then applied in order onto
    :func:`~kubelearn.topology.default_cluster`.

    Args:
        *sources: paths (files or directories), YAML text, or object dicts.
        seed: seed for every random choice (ClusterIPs, node ports, pod names).

    Raises:
        ManifestError: YAML that is not Kubernetes objects, or a bad topology document.
        ApplyError: every object the API server would refuse; nothing is applied.

    >>> c = load('''
    ... apiVersion: v1
    ... kind: Service
    ... metadata: {name: web}
    ... spec: {selector: {app: web}, ports: [{port: 80}]}
    ... ''')
    >>> c.get("Service", "web")["spec"]["clusterIP"].startswith("10.96.")
    True
    """
    docs = read_documents(*sources)
    kind_docs = [d for d in docs if (d.obj.get("apiVersion"), d.kind) == (KIND_API_VERSION, "Cluster")]
    proxy_docs = [d for d in docs if (d.obj.get("apiVersion"), d.kind) == (PROXY_API_VERSION, "KubeProxyConfiguration")]
    for found in (kind_docs, proxy_docs):
        if len(found) > 1:
            second = found[1]
            raise ManifestError(f"a second {second.kind} document; a cluster has only one", source=second.source,
                                document=second.index, line=second.line)
    topo = None
    if kind_docs:
        d = kind_docs[0]
        topo = _located(lambda: topology_from_kind_config(d.obj), d)
    topo = topo or default_topology()
    proxy = _located(lambda: default_proxy_config(topo, proxy_docs[0].obj), proxy_docs[0]) if proxy_docs else None
    cluster = default_cluster(seed=seed, topology=topo, proxy_config=proxy)
    return _apply_documents(cluster, [d for d in docs if not _is_topology(d)])


def _located(fn: Callable[[], Any], doc: Document) -> Any:
    """Run fn, adding the document's file and each faulty field's line to the ManifestError
    (or every error of a :class:`~kubelearn.topology.TopologyError`) it raises."""
    try:
        return fn()
    except ManifestError as exc:
        errors = exc.errors if isinstance(exc, TopologyError) else [exc]
        located = [ManifestError(e.message, source=doc.source, document=doc.index, line=doc.line_of(e.path),
                                 path=e.path) for e in errors]
        raise (located[0] if len(located) == 1 else TopologyError(located)) from None


def apply(cluster: Cluster, *sources: Source) -> Cluster:
    """``kubectl apply -f``: create or update every object, then let the controllers react.

    Args:
        cluster: the cluster to apply to (unchanged; a new one is returned).
        *sources: paths (files or directories), YAML text, or object dicts.

    Returns:
        The new cluster.

    Raises:
        ManifestError: input that is not Kubernetes objects, or a topology document (those
            describe a cluster to build: use :func:`load`).
        ApplyError: every refused object, each in kubectl's words; nothing is applied.
    """
    docs = read_documents(*sources)
    if not docs:
        raise ManifestError("error: no objects passed to apply")
    for d in docs:
        if _is_topology(d):
            raise ManifestError(f"a {d.kind} document describes a cluster to build; give it to load(), not apply()",
                                source=d.source, document=d.index, line=d.line)
    return _apply_documents(cluster, docs)


def dry_run(cluster: Cluster | None, *sources: Source, seed: int = 0) -> list[KubelearnError]:
    """Server-side dry run (``kubectl apply --dry-run=server``): every error, nothing stored.

    Args:
        cluster: the cluster to check against; ``None`` checks the sources as :func:`load`
            would (topology documents allowed).
        *sources: paths, YAML text or object dicts.
        seed: used when ``cluster`` is None.

    Returns:
        The errors (ManifestError, InvalidError, NotFoundError, ...); empty when all is valid.
    """
    try:
        if cluster is None:
            load(*sources, seed=seed)
        else:
            docs = read_documents(*sources)
            _apply_documents(cluster, [d for d in docs if not _is_topology(d)], reconcile=False)
    except ApplyError as exc:
        return list(exc.errors)
    except KubelearnError as exc:
        return [exc]
    return []


def _merge_update(new: dict[str, Any], old: Mapping[str, Any]) -> dict[str, Any]:
    """An update keeps what the server set and the manifest does not mention."""
    meta = new.setdefault("metadata", {})
    old_meta = old.get("metadata") or {}
    for key in ("uid", "creationTimestamp", "generation", "ownerReferences", "deletionTimestamp",
                "deletionGracePeriodSeconds"):
        if key not in meta and key in old_meta:
            meta[key] = copy.deepcopy(old_meta[key])
    if "status" not in new and "status" in old:
        new["status"] = copy.deepcopy(old["status"])
    return new


def _without_nulls(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server stores it after decoding: a JSON ``null`` field is Go's zero
    value, which is written back as an absent field (``spec``, ``status`` and ``metadata``,
    plain structs, come back as ``{}``).  Iterative: the reader bounded the depth already.
    """
    structs = [key for key in ("metadata", "spec", "status") if key in obj and obj[key] is None]
    stack: list[Any] = [obj]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key in [k for k, v in value.items() if v is None]:
                del value[key]
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    for key in structs:
        obj[key] = {}
    return obj


def _apply_documents(cluster: Cluster, docs: list[Document], reconcile: bool = True) -> Cluster:
    errors: list[KubelearnError] = []
    index = AllocationIndex(cluster)
    # Objects accepted so far, stored together at the end: one copy of the object table
    # instead of one per document (which made loading N objects cost N^2).  Each document
    # still sees the ones before it: through `accepted` for lookups, `index` for addresses.
    accepted: list[dict[str, Any]] = []
    latest: dict[tuple[str, str, str], dict[str, Any]] = {}
    for doc in docs:
        obj = copy.deepcopy(doc.obj)
        api_version, kind = str(obj["apiVersion"]), str(obj["kind"])
        meta = obj.get("metadata")
        raw_name = meta.get("name", "") if isinstance(meta, Mapping) else ""
        raw_ns = meta.get("namespace", "") if isinstance(meta, Mapping) else ""
        info = KINDS.get(kind)
        if info is None or info.api_version != api_version:
            errors.append(ResourceMappingError(api_version, kind, str(raw_name or ""), str(raw_ns or ""), doc.source))
            continue
        decode_errors = schema.check(obj)
        if decode_errors:
            errors.append(schema.BadRequestError(obj, decode_errors, doc.source))
            continue
        obj = _without_nulls(obj)
        meta = obj.get("metadata")
        if not isinstance(meta, dict) or not meta.get("name"):
            errors.append(InvalidError(kind, "", [FieldError("metadata.name", "Required value",
                                                              detail="name or generateName is required")]))
            continue
        # Only a Workload gets here with a name that is not a string (the core kinds' schema
        # refuses it); its validation reports the type, and the message's head shows "".
        name = meta["name"] if isinstance(meta["name"], str) else ""
        if info.namespaced:
            ns = str(meta.get("namespace") or "default")
            meta["namespace"] = ns
            if ("Namespace", "", ns) not in cluster.objects and ("Namespace", "", ns) not in latest:
                errors.append(NotFoundError("namespaces", ns))
                continue
        else:
            ns = ""
            meta.pop("namespace", None)  # the API server ignores a namespace on cluster-scoped objects
        key = (kind, ns, name)
        old = latest.get(key) or cluster.objects.get(key)
        obj = defaults.apply_defaults(obj)
        if old is not None:
            obj = _merge_update(obj, old)
        obj, alloc_errors = allocate(obj, cluster, old, index=index)
        if alloc_errors:
            errors.append(InvalidError(kind, name, alloc_errors[:1]))
            continue
        field_errors: list[FieldError] = []
        if kind == "Workload":
            # kubelearn's own kind belongs to the traffic package, imported only when needed
            # (it pulls in pandas).
            from .traffic.workload import validate_workload

            field_errors = list(validate_workload(obj))
        else:
            field_errors = list(validation.validate(obj, cluster, old))
        if field_errors:
            errors.append(InvalidError(kind, name, field_errors))
            continue
        accepted.append(obj)
        latest[key] = obj
        if kind == "Service":
            index.record(obj)
    if errors:
        raise ApplyError(errors)
    work = cluster.with_objects(accepted) if accepted else cluster
    if not reconcile:
        return work
    return _reconcile(work)


def _reconcile(cluster: Cluster) -> Cluster:
    return controllers.reconcile(cluster)


def delete(cluster: Cluster, kind: str, name: str, namespace: str = "default") -> Cluster:
    """``kubectl delete KIND NAME``: remove an object, then its dependents, then reconcile.

    Deleting a Namespace removes everything in it; deleting an owner (Deployment, ReplicaSet,
    StatefulSet, Service) removes the objects whose ``ownerReferences`` point at it, as the
    garbage collector does.  Controllers then react (a Pod deleted from a ReplicaSet is
    replaced).

    Raises:
        NotFoundError: ``Error from server (NotFound): services "x" not found``.
    """
    from .cluster import kind_info

    info = kind_info(kind)
    ns = namespace if info.namespaced else ""
    key = (info.kind, ns, name)
    if key not in cluster.objects:
        raise NotFoundError(info.resource, name, namespace if info.namespaced else None)
    gone = {key}
    if info.kind == "Namespace":
        gone |= {k for k in cluster.objects if k[1] == name}
    # Garbage collection: follow ownerReferences (by uid) until nothing new is found.
    uids = {cluster.objects[k]["metadata"].get("uid") for k in gone}
    changed = True
    while changed:
        changed = False
        for k, obj in cluster.objects.items():
            if k in gone:
                continue
            owners = {o.get("uid") for o in obj.get("metadata", {}).get("ownerReferences") or []}
            if owners & uids:
                gone.add(k)
                uids.add(obj["metadata"].get("uid"))
                changed = True
    # One batch removal: deleting a Deployment with 10 000 pods one object at a time would
    # copy the object table 10 000 times.
    result = remove(cluster, [obj for k, obj in cluster.objects.items() if k in gone])
    return _reconcile(result)
