"""Manifests: the YAML a learner writes, read in and written back out.

``kubectl apply -f`` reads *manifests*: YAML (or JSON) files holding one or more API objects,
separated by ``---``.  Each document must be a mapping that says what it is with ``apiVersion``
and ``kind``; kubectl refuses anything else before it ever talks to the API server
(``error validating data: [apiVersion not set, kind not set]``).  A document of
``kind: List`` is a wrapper whose ``items`` are applied one by one, and a directory given to
``-f`` is read file by file in name order (``.yaml``, ``.yml``, ``.json``; not recursive).
Empty documents (a stray ``---``) are skipped.

The API server's strict decoding refuses a mapping with the same key twice, because the second
value would silently win: kubelearn reports it the way sigs.k8s.io/yaml does
(``mapping key "port" already defined at line 7``).

:func:`dump` goes the other way: objects (or a whole cluster) back to YAML in the form
``kubectl get -o yaml`` prints, with keys in sorted order (which puts ``apiVersion``, ``kind``,
``metadata``, ``spec``, ``status`` first, as kubectl shows them) and block style.
"""

from __future__ import annotations

import copy
import json
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard, cast

import yaml

from .errors import ManifestError

if TYPE_CHECKING:  # pragma: no cover
    from .cluster import Cluster

__all__ = ["Document", "MAX_ALIAS_EXPANSION", "MAX_DEPTH", "MAX_FILE_BYTES", "MAX_TOTAL_BYTES", "SUFFIXES",
           "SYSTEM_OBJECTS", "Text", "check_value", "dump", "kind_config", "read_documents", "read_stdin", "strip_server_fields", "to_json"]

#: File suffixes ``kubectl apply -f DIR`` reads from a directory.
SUFFIXES = (".yaml", ".yml", ".json")

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml parses ~10x faster
_BaseDumper: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Document:
    """One API object as read from a manifest.

    Attributes:
        obj: the object as a plain dict (``apiVersion``, ``kind``, ``metadata``...).
        source: the file it came from, or ``<string>`` / ``<dict>``.
        index: the document's 0-based position in its file (``kind: List`` items share it).
        line: the 1-based line where the object starts (``None`` for dicts).
        field_lines: for topology documents (kind ``Cluster`` config,
            ``KubeProxyConfiguration``), the 1-based line of each field path
            (``nodes[1].role``), so their errors can point at the faulty line.
    """

    obj: dict[str, Any]
    source: str
    index: int
    line: int | None = None
    field_lines: Mapping[str, int] | None = field(default=None, compare=False, repr=False)

    def line_of(self, path: str) -> int | None:
        """The line of the field ``path`` (its nearest known parent's), else the document's."""
        lines = self.field_lines or {}
        while path:
            if path in lines:
                return lines[path]
            cut = max(path.rfind("."), path.rfind("["))
            path = path[:cut] if cut > 0 else ""
        return self.line

    @property
    def kind(self) -> str:
        """The object's ``kind``."""
        return str(self.obj.get("kind", ""))

    @property
    def name(self) -> str:
        """The object's ``metadata.name`` (empty when missing)."""
        meta = self.obj.get("metadata")
        return str(meta.get("name", "")) if isinstance(meta, Mapping) else ""

    def where(self) -> str:
        """``file.yaml, line 12`` for messages."""
        return f"{self.source}, line {self.line}" if self.line is not None else f"{self.source}, document {self.index}"


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe YAML loading with two Kubernetes-flavoured changes.

    Duplicate keys are an error (strict decoding), and timestamps stay strings: the API
    carries ``creationTimestamp`` as an RFC 3339 string, not a datetime.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                continue  # the base constructor reports unhashable keys
            if key in seen:
                raise _DuplicateKey(key, seen[key], key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _timestamp_as_string(loader: Any, node: yaml.ScalarNode) -> str:
    return str(loader.construct_scalar(node))


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_string)


class _DuplicateKey(Exception):
    def __init__(self, key: Any, first_line: int, mark: Any):
        super().__init__(key)
        self.key = key
        self.first_line = first_line
        self.mark = mark


def _yaml_error(exc: yaml.YAMLError, source: str) -> ManifestError:
    """Turn a pyyaml error into a ManifestError with a 1-based line and column."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem:
        message = str(problem)
        if context:
            message = f"{message} ({context})"
    else:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if mark is not None:
        return ManifestError(f"yaml: {message}", source=source, line=mark.line + 1, column=mark.column + 1)
    return ManifestError(f"yaml: {message}", source=source)


def _check_object(obj: Any, source: str, index: int, line: int | None, path: str = "") -> dict[str, Any]:
    """kubectl's client-side check: a mapping with ``apiVersion`` and ``kind`` strings."""
    if not isinstance(obj, dict):
        kind = type(obj).__name__ if not isinstance(obj, list) else "list"
        raise ManifestError(
            f"error validating data: the document is a {kind}, not an object (a mapping with apiVersion and kind)",
            source=source, document=index, line=line, path=path,
        )
    missing = [f"{k} not set" for k in ("apiVersion", "kind") if obj.get(k) in (None, "")]
    if missing:
        text = missing[0] if len(missing) == 1 else "[" + ", ".join(missing) + "]"
        raise ManifestError(f"error validating data: {text}", source=source, document=index, line=line, path=path)
    for k in ("apiVersion", "kind"):
        if not isinstance(obj[k], str):
            raise ManifestError(
                f"error validating data: {k} must be a string, not {type(obj[k]).__name__}",
                source=source, document=index, line=line, path=path,
            )
    return obj


#: How many nodes following aliases may add to one document.  YAML's anchors and aliases
#: let a few hundred bytes stand for billions of nodes ("billion laughs"); go-yaml, which
#: the API server decodes with, stops at about 400,000 alias-driven decodes with
#: ``yaml: document contains excessive aliasing``, and so does kubelearn.
MAX_ALIAS_EXPANSION = 400_000

#: How deeply mappings and lists may nest in one object.  The deepest field of a real
#: Kubernetes object is about 15 levels down (a pod template's node affinity); 100 leaves
#: room for anything a learner writes while keeping every recursive walk far from Python's
#: stack limit.
MAX_DEPTH = 100

_RECURSIVE = "yaml: anchor value contains itself (an alias inside the anchored value refers back to it)"


def _node_children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _value_children(value: Any) -> list[Any]:
    # Only containers: Python shares equal strings and small ints, which expand to nothing.
    if isinstance(value, Mapping):
        return [v for v in value.values() if isinstance(v, (Mapping, list, tuple))]
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, (Mapping, list, tuple))]
    return []


def _measure(root: Any, children: Any) -> tuple[int, int, int, Any]:
    """``(expanded size, distinct nodes, depth, the node that closes a cycle or None)`` of a graph.

    Shared nodes (YAML aliases, or one dict placed twice) are counted once per use in the
    expanded size, memoised so that the walk itself visits each distinct node once;
    iterative, so no input can exhaust the stack.
    """
    size: dict[int, tuple[int, int]] = {}  # id -> (expanded size, depth)
    active: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    unique = 0
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            active.discard(key)
            kids = [size[id(c)] for c in children(node)]
            size[key] = (1 + sum(k[0] for k in kids), 1 + max((k[1] for k in kids), default=0))
            continue
        if key in size:
            continue
        active.add(key)
        unique += 1
        stack.append((node, True))
        for child in children(node):
            if id(child) in active:
                return 0, unique, 0, child
            if id(child) not in size:
                stack.append((child, False))
    expanded, depth = size[id(root)]
    return expanded, unique, depth, None


def _small_tree(root: Any) -> bool:
    """The fast path: a walk level by level, following aliases, that ends within the bounds.

    It visits every node once per path to it, so it counts the *expanded* size; stopping
    beyond :data:`MAX_ALIAS_EXPANSION` nodes or :data:`MAX_DEPTH` levels (a cycle never ends)
    hands the document to the exact, memoised :func:`_measure`.
    """
    mapping, sequence = yaml.MappingNode, yaml.SequenceNode
    level = [root]
    depth = visited = 0
    while level:
        depth += 1
        visited += len(level)
        if depth > MAX_DEPTH or visited > MAX_ALIAS_EXPANSION:
            return False
        nxt: list[Any] = []
        for node in level:
            cls = type(node)
            if cls is mapping:
                for pair in node.value:
                    nxt.extend(pair)
            elif cls is sequence:
                nxt.extend(node.value)
        level = nxt
    return True


def _check_node(root: Any, source: str) -> None:
    """Refuse a YAML document that recurses, nests too deeply or expands too far.

    Runs on the composed node graph, before any Python object is built: an alias is the
    same node object referenced again.
    """
    if _small_tree(root):
        return
    expanded, unique, depth, cycle = _measure(root, _node_children)
    if cycle is not None:
        mark = cycle.start_mark
        raise ManifestError(_RECURSIVE, source=source, line=mark.line + 1, column=mark.column + 1)
    line = root.start_mark.line + 1
    if expanded - unique > MAX_ALIAS_EXPANSION:
        raise ManifestError(f"yaml: document contains excessive aliasing (aliases would add {expanded - unique:,} "
                            f"nodes; at most {MAX_ALIAS_EXPANSION:,})", source=source, line=line)
    if depth > MAX_DEPTH:
        raise ManifestError(f"the document nests {depth} levels deep; kubelearn reads at most {MAX_DEPTH}",
                            source=source, line=line)


def check_value(obj: Any, source: str = "<dict>") -> None:
    """The same bounds for an object given as Python data (which may even contain itself).

    Raises:
        ManifestError: an object that contains itself, nests deeper than :data:`MAX_DEPTH`
            or whose shared parts expand beyond :data:`MAX_ALIAS_EXPANSION`.
    """
    expanded, unique, depth, cycle = _measure(obj, _value_children)
    if cycle is not None:
        raise ManifestError("the object contains itself (a mapping or list inside it refers back to it)",
                            source=source)
    if expanded - unique > MAX_ALIAS_EXPANSION:
        raise ManifestError(f"the object's shared parts expand to {expanded:,} values; at most "
                            f"{MAX_ALIAS_EXPANSION:,} more than it holds", source=source)
    if depth > MAX_DEPTH:
        raise ManifestError(f"the object nests {depth} levels deep; kubelearn reads at most {MAX_DEPTH}",
                            source=source)


def _from_nodes(text: str, source: str) -> list[Document]:
    """Parse every document of one YAML stream, remembering where each object starts."""
    docs: list[Document] = []
    loader = _Loader(text)
    index = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            _check_node(node, source)
            obj = loader.construct_document(node)
            if obj is not None:
                line = node.start_mark.line + 1
                docs.extend(_expand(obj, node, source, index, line))
            index += 1
    except _DuplicateKey as dup:
        raise ManifestError(
            f'mapping key "{dup.key}" already defined at line {dup.first_line}',
            source=source, line=dup.mark.line + 1, column=dup.mark.column + 1,
        ) from None
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, source) from None
    finally:
        loader.dispose()
    return docs


#: The apiVersions of the two documents that are not API objects but configure the cluster
#: itself: kind's cluster config and kube-proxy's configuration (see :mod:`kubelearn.kind`).
KIND_API_VERSION = "kind.x-k8s.io/v1alpha4"
PROXY_API_VERSION = "kubeproxy.config.k8s.io/v1alpha1"
_TOPOLOGY_DOCUMENTS = {(KIND_API_VERSION, "Cluster"), (PROXY_API_VERSION, "KubeProxyConfiguration")}


def is_cluster_config(doc: Document) -> bool:
    """Whether a document configures the cluster (kind's ``Cluster``, a ``KubeProxyConfiguration``)
    rather than being an API object: only :func:`kubelearn.load` accepts those."""
    return (doc.obj.get("apiVersion"), doc.obj.get("kind")) in _TOPOLOGY_DOCUMENTS


def _field_lines(node: Any, prefix: str = "") -> dict[str, int]:
    """Field path → 1-based line for every key and list item under a YAML node.

    Iterative (the node graph was checked for cycles and depth by :func:`_check_node`).
    """
    out: dict[str, int] = {}
    stack: list[tuple[Any, str]] = [(node, prefix)]
    while stack:
        current, base = stack.pop()
        items: list[tuple[str, Any, Any]] = []
        if isinstance(current, yaml.MappingNode):
            items = [(f"{base}.{k.value}" if base else str(k.value), k, v) for k, v in current.value]
        elif isinstance(current, yaml.SequenceNode):
            items = [(f"{base}[{i}]", item, item) for i, item in enumerate(current.value)]
        for path, at, _child in items:
            out.setdefault(path, at.start_mark.line + 1)
        stack.extend((child, path) for path, _, child in reversed(items))
    return out


def _expand(obj: Any, node: Any, source: str, index: int, line: int | None) -> list[Document]:
    """One parsed document: an object, or a ``kind: List`` expanded into its items."""
    obj = _check_object(obj, source, index, line)
    if obj["kind"] != "List" or obj["apiVersion"] != "v1":
        lines = _field_lines(node) if (obj["apiVersion"], obj["kind"]) in _TOPOLOGY_DOCUMENTS and node is not None else None
        return [Document(obj, source, index, line, lines)]
    items = obj.get("items") or []
    if not isinstance(items, list):
        raise ManifestError("error validating data: items must be a list", source=source, document=index,
                            line=line, path="items")
    item_nodes: list[Any] = []
    if node is not None:
        for key_node, value_node in node.value:
            if getattr(key_node, "value", None) == "items" and isinstance(value_node, yaml.SequenceNode):
                item_nodes = list(value_node.value)
    out = []
    for i, item in enumerate(items):
        item_line = item_nodes[i].start_mark.line + 1 if i < len(item_nodes) else line
        # A List inside a List is expanded too, as kubectl's visitor does.
        out.extend(_expand_item(item, item_nodes[i] if i < len(item_nodes) else None, source, index, item_line, i))
    return out


def _expand_item(item: Any, node: Any, source: str, index: int, line: int | None, i: int) -> list[Document]:
    try:
        return _expand(item, node, source, index, line)
    except ManifestError as exc:
        if exc.path:
            raise
        raise ManifestError(exc.message, source=source, document=index, line=line, path=f"items[{i}]") from None


#: The largest manifest file (or text) kubelearn reads: the API server's own limit on a
#: request body (``MaxRequestBodyBytes``, 3 MiB), so nothing kubelearn accepts would be
#: refused as too large by a real cluster for its size alone.
MAX_FILE_BYTES = 3 * 1024 * 1024


def _too_large(size: int, source: str) -> ManifestError:
    return ManifestError(f"Request entity too large: limit is {MAX_FILE_BYTES} (the API server's request size limit; "
                         f"this input holds {size:,} bytes or more)", source=source)


#: All the inputs of one read together (many files, a directory): about ten files at the
#: per-file limit.  Parsed YAML takes several times its text in memory; this keeps one load
#: within a few hundred megabytes however many ``-f`` a command line holds.
MAX_TOTAL_BYTES = 32 * 1024 * 1024


class _Budget:
    """Bytes and documents read so far by one :func:`read_documents` call."""

    def __init__(self) -> None:
        self.bytes = 0

    def charge(self, size: int, source: str) -> None:
        self.bytes += size
        if self.bytes > MAX_TOTAL_BYTES:
            raise ManifestError(f"the inputs hold more than {MAX_TOTAL_BYTES:,} bytes together (32 MiB); kubelearn "
                                "reads at most that in one load", source=source)

    @staticmethod
    def count(docs: list[Document]) -> None:
        from .api_resources import MAX_OBJECTS

        if len(docs) > MAX_OBJECTS:
            last = docs[-1]
            raise ManifestError(f"more than {MAX_OBJECTS:,} objects; a kubelearn cluster holds at most "
                                f"{MAX_OBJECTS:,} (kubelearn.api_resources.MAX_OBJECTS)", source=last.source)


def _read_path(path: Path, budget: _Budget | None = None) -> list[Document]:
    budget = budget or _Budget()
    if path.is_dir():
        docs: list[Document] = []
        for child in sorted(path.iterdir(), key=lambda p: p.name):
            if child.is_file() and child.name.endswith(SUFFIXES):
                docs.extend(_read_file(child, budget))
                budget.count(docs)
        return docs
    return _read_file(path, budget)


def _read_file(path: Path, budget: _Budget | None = None) -> list[Document]:
    """Read one manifest file, refusing what is not a regular file or too large *before* reading.

    The file is opened without blocking (a FIFO would otherwise wait for a writer forever),
    checked with ``fstat`` on the open descriptor (no window between check and read), and
    read up to one byte past the limit (a file that grows meanwhile is still caught).
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    except OSError as exc:
        raise ManifestError(f"cannot read the file: {exc.strerror}", source=source) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ManifestError("not a regular file (a device, FIFO or socket); kubelearn reads manifests only from "
                                "files, directories and standard input (-f -)", source=source)
        if st.st_size > MAX_FILE_BYTES:
            raise _too_large(st.st_size, source)
        (budget or _Budget()).charge(st.st_size, source)
        with os.fdopen(fd, "rb", closefd=False) as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ManifestError(f"cannot read the file: {exc.strerror}", source=source) from None
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data), source)
    return _from_bytes(data, source)


def _from_bytes(data: bytes, source: str) -> list[Document]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ManifestError("the file is not UTF-8 text", source=source) from None
    return _from_nodes(text, source)


@dataclass(frozen=True)
class Text:
    """Manifest text with a name for messages, never mistaken for a path (``-f -`` is ``STDIN``)."""

    text: str
    source: str = "<string>"


#: Whatever `load`, `apply` and `dry_run` accept: a path, a YAML string, a Text, one object or several.
Source = str | os.PathLike[str] | Text | Mapping[str, Any] | Iterable[Mapping[str, Any]]

def read_stdin(stream: Any = None) -> Text:
    """Standard input as manifest text (kubectl's ``-f -``), at most :data:`MAX_FILE_BYTES`.

    Raises:
        ManifestError: input larger than the limit, or not UTF-8.
    """
    import sys

    stream = stream if stream is not None else sys.stdin
    if stream is None:
        raise ManifestError("standard input is not available (-f -)", source="STDIN")
    raw = getattr(stream, "buffer", stream)
    try:
        data = raw.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as exc:  # closed, or not readable
        raise ManifestError(f"cannot read standard input: {exc}", source="STDIN") from None
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise _too_large(len(data), "STDIN")
    try:
        return Text(data.decode("utf-8"), "STDIN")
    except UnicodeDecodeError:
        raise ManifestError("standard input is not UTF-8 text", source="STDIN") from None


def _looks_like_text(s: str) -> bool:
    return "\n" in s or ":" in s.split("/")[-1] or s.lstrip().startswith(("{", "["))


def read_documents(*sources: str | os.PathLike[str] | Text | Mapping[str, Any] | Iterable[Mapping[str, Any]]
                   ) -> list[Document]:
    """Read every API object from the given sources, in order.

    Args:
        *sources: each one a path to a file or directory (``kubectl apply -f`` semantics:
            a directory's ``.yaml``/``.yml``/``.json`` files in name order, not recursive),
            YAML or JSON text (a ``str``, or a :class:`Text` that is never taken for a path),
            an object dict, or a list of object dicts.

    Bounds (each refused with a :class:`ManifestError` before the work it would cost): a
    file or text over :data:`MAX_FILE_BYTES` (3 MiB, the API server's request limit), a path
    that is not a regular file or directory (checked before opening it for reading: a FIFO
    or ``/dev/zero`` is never read), YAML aliases that recurse or add more than
    :data:`MAX_ALIAS_EXPANSION` nodes, nesting deeper than :data:`MAX_DEPTH`, more than
    :data:`MAX_TOTAL_BYTES` (32 MiB) in all or more objects than a cluster holds
    (:data:`kubelearn.api_resources.MAX_OBJECTS`).

    Returns:
        One :class:`Document` per object; ``kind: List`` is expanded, empty documents skipped.

    Raises:
        ManifestError: YAML syntax errors (with 1-based line and column), duplicate keys,
            documents that are not mappings or lack ``apiVersion``/``kind``, missing files,
            and the bounds above.
    """
    docs: list[Document] = []
    budget = _Budget()
    for source in sources:
        if isinstance(source, Text):
            if len(source.text) > MAX_FILE_BYTES and len(source.text.encode("utf-8")) > MAX_FILE_BYTES:
                raise _too_large(len(source.text.encode("utf-8")), source.source)
            budget.charge(len(source.text), source.source)
            docs.extend(_from_nodes(source.text, source.source))
        elif isinstance(source, os.PathLike):
            path = Path(source)
            if not path.exists():
                raise ManifestError(f'error: the path "{path}" does not exist')
            docs.extend(_read_path(path, budget))
        elif isinstance(source, str):
            if not _looks_like_text(source) and source.strip():
                path = Path(source)
                if path.exists():
                    docs.extend(_read_path(path, budget))
                    budget.count(docs)
                    continue
                if source.endswith(SUFFIXES) or os.sep in source:
                    raise ManifestError(f'error: the path "{source}" does not exist')
            if len(source) > MAX_FILE_BYTES // 4 and len(source.encode("utf-8")) > MAX_FILE_BYTES:
                raise _too_large(len(source.encode("utf-8")), "<string>")
            budget.charge(len(source), "<string>")
            docs.extend(_from_nodes(source, "<string>"))
        elif isinstance(source, Mapping):
            check_value(source, "<dict>")
            obj = copy.deepcopy(dict(source))
            docs.extend(_expand(obj, None, "<dict>", len(docs), None))
        elif isinstance(source, Iterable):
            for i, item in enumerate(source):
                check_value(item, "<list>")
                obj = copy.deepcopy(dict(item)) if isinstance(item, Mapping) else item
                docs.extend(_expand(obj, None, "<list>", i, None))
                budget.count(docs)
        else:
            raise ManifestError(f"cannot read a manifest from a {type(source).__name__}")
        budget.count(docs)
    return docs


# ------------------------------------------------------------------------------------ output
#: Fields the API server sets; a manifest meant for ``kubectl apply`` leaves them out.
_SERVER_METADATA = ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink")

#: Order in which ``dump(cluster)`` writes kinds, so that ``kubectl apply -f`` of the result
#: never refers to something not yet created (namespaces first, Services before the pods that
#: read their environment variables).
_KIND_ORDER = ("Namespace", "Service", "Endpoints", "EndpointSlice", "Deployment", "StatefulSet", "ReplicaSet",
               "Pod", "Workload")


def strip_server_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` without what the server set (status, uid, resourceVersion...).

    Allocated ``clusterIP``/``clusterIPs`` and ``nodePort`` values are kept: ``kubectl apply``
    accepts them and they pin the allocation.  ``status.loadBalancer`` is kept for Services
    because kubelearn treats it as observed state given in the manifest (no cloud controller).
    """
    out = copy.deepcopy(dict(obj))
    meta = out.get("metadata")
    if isinstance(meta, dict):
        for key in _SERVER_METADATA:
            meta.pop(key, None)
        ann = meta.get("annotations")
        if isinstance(ann, dict):
            ann.pop("kubectl.kubernetes.io/last-applied-configuration", None)
            if not ann:
                meta.pop("annotations")
    status = out.pop("status", None)
    if out.get("kind") == "Service" and isinstance(status, dict):
        ingress = (status.get("loadBalancer") or {}).get("ingress")
        if ingress:
            out["status"] = {"loadBalancer": {"ingress": ingress}}
    return out


class _Dumper(_BaseDumper):  # type: ignore[misc]
    """Block-style YAML with kubectl's list indentation (``- `` at the parent's column)."""


_NEEDS_QUOTES = tuple("!&*[]{},#|>@`\"'% ")


def _str_representer(dumper: Any, data: str) -> Any:
    """Strings as kubectl prints them: plain when possible, otherwise in double quotes."""
    style: str | None = None
    if "\n" in data:
        style = "|"
    elif (data == "" or data[0] in _NEEDS_QUOTES or ": " in data or " #" in data or data != data.strip()
          or dumper.resolve(yaml.ScalarNode, data, (True, False)) != "tag:yaml.org,2002:str"):
        style = '"'
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def _plain(x: Any) -> Any:
    """Plain dicts/lists (MappingProxyType, tuples) so the safe dumper accepts them."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


def _dump_one(obj: Mapping[str, Any]) -> str:
    return str(yaml.dump(_plain(obj), Dumper=_Dumper, default_flow_style=False, sort_keys=True,
                         allow_unicode=True, width=1 << 16))


def dump(x: Cluster | Mapping[str, Any] | Iterable[Mapping[str, Any]], *, for_apply: bool = False,
         include_system: bool = False) -> str:
    """YAML for one object, several objects (``---`` separated) or a whole cluster.

    Args:
        x: an object dict, a list of them, or a :class:`~kubelearn.cluster.Cluster`.
        for_apply: leave out what the server set (``status``, ``uid``, ``resourceVersion``,
            ``creationTimestamp``), giving a manifest ``kubectl apply`` accepts.
        include_system: for a cluster, also write the objects every cluster starts with
            (the four namespaces, ``default/kubernetes``, ``kube-dns``, ``coredns``).

    A cluster is written as the manifests that rebuild it: a kind ``Cluster`` config and a
    ``KubeProxyConfiguration`` when they differ from the defaults, then every object a user
    created (not Nodes, not objects owned by a controller, not controller-made
    EndpointSlices), Namespaces first, then Services, then workloads.
    """
    if isinstance(x, Mapping):
        objs = [x]
    elif _is_cluster(x):
        objs = _cluster_documents(x, include_system=include_system)
    else:
        objs = list(cast("Iterable[Mapping[str, Any]]", x))
    if for_apply:
        objs = [strip_server_fields(o) if o.get("kind") not in _TOPOLOGY_KINDS else o for o in objs]
    return "---\n".join(_dump_one(o) for o in objs)


_TOPOLOGY_KINDS = ("Cluster", "KubeProxyConfiguration")


def _is_cluster(x: object) -> TypeGuard[Cluster]:
    """A :class:`~kubelearn.cluster.Cluster`, recognised by what it holds: this module sits below
    the cluster in the pipeline and does not import it (see ``tests/test_architecture.py``)."""
    return hasattr(x, "objects") and hasattr(x, "topology") and hasattr(x, "proxy_config")

#: Objects that ``kubelearn.kind.default_cluster`` creates in every cluster.
SYSTEM_OBJECTS = frozenset({
    ("Namespace", "", "default"), ("Namespace", "", "kube-system"), ("Namespace", "", "kube-public"),
    ("Namespace", "", "kube-node-lease"), ("Service", "default", "kubernetes"),
    ("EndpointSlice", "default", "kubernetes"), ("Service", "kube-system", "kube-dns"),
    ("Deployment", "kube-system", "coredns"),
})


def _cluster_documents(cluster: Cluster, *, include_system: bool) -> list[Mapping[str, Any]]:
    out: list[Mapping[str, Any]] = []
    topo = cluster.topology
    config = kind_config(cluster)
    if config is not None:
        out.append(config)
    mode = cluster.proxy_mode
    pc = cluster.proxy_config
    scheduler = (pc.get("ipvs") or {}).get("scheduler", "") if isinstance(pc.get("ipvs"), Mapping) else ""
    if mode != topo.kube_proxy_mode or scheduler:
        proxy: dict[str, Any] = {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
                                 "mode": mode}
        if scheduler:
            proxy["ipvs"] = {"scheduler": scheduler}
        out.append(proxy)
    chosen = []
    for key, obj in cluster.objects.items():
        kind = key[0]
        if kind == "Node" or obj.get("metadata", {}).get("ownerReferences"):
            continue
        if not include_system and key in SYSTEM_OBJECTS:
            continue
        labels = obj.get("metadata", {}).get("labels") or {}
        if kind == "EndpointSlice" and labels.get("endpointslice.kubernetes.io/managed-by") in (
                "endpointslice-controller.k8s.io", "endpointslicemirroring-controller.k8s.io"):
            continue
        chosen.append(obj)
    rank = {k: i for i, k in enumerate(_KIND_ORDER)}
    chosen.sort(key=lambda o: rank.get(str(o.get("kind")), len(rank)))  # stable: creation order within a kind
    return out + chosen


def kind_config(cluster: Cluster) -> dict[str, Any] | None:
    """The kind ``Cluster`` config that rebuilds ``cluster``'s topology (None for the default one)."""
    topo = cluster.topology
    roles = [n.role for n in topo.nodes]
    default_roles = ["control-plane", "worker", "worker"]
    networking: dict[str, Any] = {}
    if topo.pod_subnet != "10.244.0.0/16":
        networking["podSubnet"] = topo.pod_subnet
    if topo.service_subnet != "10.96.0.0/16":
        networking["serviceSubnet"] = topo.service_subnet
    if topo.kube_proxy_mode != "iptables":
        networking["kubeProxyMode"] = topo.kube_proxy_mode
    if roles == default_roles and not networking and topo.name == "kind":
        return None
    doc: dict[str, Any] = {"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster"}
    if topo.name != "kind":
        doc["name"] = topo.name
    doc["nodes"] = [{"role": r} for r in roles]
    if networking:
        doc["networking"] = networking
    return doc


def to_json(obj: Mapping[str, Any]) -> str:
    """The object as indented JSON (``kubectl get -o json`` style)."""
    return json.dumps(_plain(obj), indent=4, sort_keys=True)
