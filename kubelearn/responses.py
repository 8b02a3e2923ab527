"""What the API server answers besides errors: warnings, and kubectl's line per object.

An object the API server accepts can still come back with **warnings**: a value a future
release will refuse (``10.96.0.077``, an address with a leading zero), a field it ignores, a
deprecated annotation.  They travel in the response's ``Warning`` header; ``kubectl`` prints each
as ``Warning: <text>`` on stderr as the response arrives, then its usual line on stdout
(``service/web created``).  A warning never stops anything.

:func:`api_warnings` gives the warnings for some manifests; :func:`apply_output` gives
kubectl's whole output for ``kubectl apply -f`` onto a cluster, in order.  Both first apply the
manifests as :func:`kubelearn.load` / :meth:`Cluster.apply` would, so a refused object raises
the same :class:`~kubelearn.errors.ApplyError`, and nothing is warned about an object that was
not accepted.
"""

from __future__ import annotations

from typing import Any

from .api_resources import KINDS
from .apiserver.validation import object_warnings
from .cluster import Cluster
from .edits import apply
from .kind import load
from .manifest import Source, read_documents
from .versions import cluster_minor

__all__ = ["api_warnings", "apply_output"]

_TOPOLOGY_KINDS = {("kind.x-k8s.io/v1alpha4", "Cluster"), ("kubeproxy.config.k8s.io/v1alpha1", "KubeProxyConfiguration")}


def _objects(sources: tuple[Source, ...]) -> list[dict[str, Any]]:
    return [d.obj for d in read_documents(*sources)
            if (d.obj.get("apiVersion"), d.obj.get("kind")) not in _TOPOLOGY_KINDS]


def apply_output(cluster: Cluster | None, *sources: Source, seed: int = 0) -> tuple[Cluster, list[str]]:
    """``kubectl apply -f``: the new cluster and kubectl's lines, in order: each object's
    ``Warning: <text>`` lines (stderr), then ``<kind>[.<group>]/<name> created`` (or ``configured``
    for an object that already existed) on stdout.

    Args:
        cluster: the cluster to apply to; ``None`` builds one from the sources as :func:`kubelearn.load`.
        *sources: paths, YAML text or object dicts.
        seed: used when ``cluster`` is None.

    Raises:
        ManifestError, ApplyError: as :func:`kubelearn.load` / :meth:`Cluster.apply` (nothing applied).
    """
    applied = load(*sources, seed=seed) if cluster is None else apply(cluster, *sources)
    before = set(cluster.objects) if cluster is not None else set()
    lines: list[str] = []
    for obj in _objects(sources):
        kind = str(obj.get("kind"))
        info = KINDS[kind]
        meta = obj.get("metadata") or {}
        name = str(meta.get("name"))
        key = (kind, str(meta.get("namespace") or "default") if info.namespaced else "", name)
        lines += [f"Warning: {w}" for w in object_warnings(applied.get(kind, name, key[1] or "default"),
                                                                   cluster_minor(applied))]
        group = info.api_version.split("/")[0] if "/" in info.api_version else ""
        lines.append(f"{kind.lower()}{'.' + group if group else ''}/{name} {'configured' if key in before else 'created'}")
        before.add(key)
    return applied, lines


def api_warnings(cluster: Cluster | None, *sources: Source, seed: int = 0) -> list[str]:
    """The API server's warnings for these manifests (what ``kubectl apply`` prints as ``Warning: <text>``).

    >>> import kubelearn as kl
    >>> kl.api_warnings(None, "apiVersion: v1\\nkind: Service\\nmetadata: {name: web}\\n"
    ...                 "spec: {ports: [{port: 80}], clusterIP: 10.96.0.077}")  # doctest: +ELLIPSIS
    ['spec.clusterIPs[0]: non-standard IP address "10.96.0.077" will be considered invalid ...']

    Raises:
        ManifestError, ApplyError: as :func:`kubelearn.load` / :meth:`Cluster.apply`.
    """
    return [line.removeprefix("Warning: ") for line in apply_output(cluster, *sources, seed=seed)[1]
            if line.startswith("Warning: ")]
