"""Admission: how the API server turns a manifest's documents into stored objects.

``kubectl apply -f`` sends the objects of a manifest to the API server one at a time, in
order.  For each, the server

1. *decodes* it strictly against the kind's schema (unknown fields, wrong types: HTTP 400,
   :mod:`~kubelearn.apiserver.schema`);
2. fills in *defaults* (``type: ClusterIP``, ``protocol: TCP``, ``targetPort`` = ``port``...,
   :mod:`~kubelearn.apiserver.defaults`);
3. runs the ``BeginCreate`` hook that *allocates* ClusterIPs and node ports (its first error
   stops the object, hiding any validation error; :mod:`~kubelearn.apiserver.allocation`);
4. *validates* the result and reports every field error at once (HTTP 422, ``Invalid``;
   :mod:`~kubelearn.apiserver.validation`);
5. stores it, so the next object in the file sees it (its ClusterIP and node ports are taken,
   a Namespace created above can hold the objects below).

An object whose ``(kind, namespace, name)`` already exists is *updated*: its labels,
annotations and spec are replaced, while what the server set (uid, creationTimestamp, status,
the allocated ClusterIP and node ports unless you give new ones) is kept.  The API server
stops there; the controllers react afterwards (:func:`kubelearn.edits.apply` runs them).

kubelearn differs in one deliberate way: a real ``kubectl apply`` keeps the objects that were
accepted before the first failure, leaving a half-applied cluster; kubelearn admits all or
nothing and lists every error, so a notebook cell is either fully done or explains why not.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..api_resources import KINDS
from ..errors import ApplyError, FieldError, InvalidError, KubelearnError, NotFoundError, ResourceMappingError
from ..manifest import Document
from . import defaults, schema, validation
from .allocation import AllocationIndex, allocate
from .workload import validate_workload

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = ["ResourceMappingError", "admit"]


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


def admit(cluster: Cluster, docs: list[Document]) -> Cluster:
    """Decode, default, allocate, validate and store ``docs`` in order: all of them or none.

    The controllers do not run (the caller decides when they react: :mod:`kubelearn.edits`).

    Raises:
        ApplyError: every refused document, each in the API server's words.
    """
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
            # kubelearn's own kind, served like a custom resource: its schema lives here too.
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
    return cluster.with_objects(accepted) if accepted else cluster


