"""The request log: one row per request, one schema for the simulator, the kernel lab and a real cluster.

A Service balances *connections*, not requests: kube-proxy's rules only see the first packet
of a connection (conntrack remembers the NAT for the rest), so every request sent over one
keep-alive connection reaches the same pod.  The log therefore records both: the
``connection`` number and one row per request on it.

The columns are listed once, in :data:`LOG_COLUMNS` (name → dtype, meaning).  Repeated
strings (pod names, IPs, outcomes) are pandas ``category`` columns, which keeps a row near
40 bytes.  A log's ``DataFrame.attrs`` carry the run's parameters (cluster, workload, proxy
mode, seed, kubelearn version) so a saved log explains itself.

Logs round-trip through CSV (dtypes restored from :data:`LOG_COLUMNS`, attrs in a JSON
side-car ``<file>.attrs.json``) and through Parquet (pyarrow, the optional ``parquet``
extra; attrs travel inside the file's metadata).

Zones: ``client_zone`` and ``endpoint_zone`` say, per request, which zone the connection
started in and which zone the pod that answered runs in.  Both come from a node label, the
one kube-proxy and the EndpointSlice controller read: ``topology.kubernetes.io/zone`` (empty
when the node has none, as on a plain kind cluster).  A request with both zones known and
different crossed zones: in a cloud, that is the traffic billed as inter-zone data transfer
(:func:`kubelearn.traffic.zone_traffic` counts it).  These two columns came with schema
version 2 (:data:`LOG_SCHEMA`); a log saved before has none, and reads with them empty
(unknown), never guessed.

Saving never loses what was there: an existing log is replaced only by a complete new one
(temporary files in the same directory, renamed into place), and the side-car records the
CSV's row count, size and SHA-256 so that :func:`read_log` refuses a file that was cut short.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from os import PathLike, fspath
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

import pandas as pd

from ..errors import LogFormatError, LogPathError

__all__ = ["Column", "LOG_COLUMNS", "LOG_SCHEMA", "ZONE_LABEL", "OUTCOMES", "VIAS", "CLIENT_KINDS", "empty_log", "read_log", "write_log",
           "conform", "memory_per_row", "LogFormatError", "LogPathError", "check_log_path", "sidecar_path"]


class Column(NamedTuple):
    """One log column: its pandas dtype and what it means."""

    dtype: str
    meaning: str


#: Outcomes of a request, as a client would observe them.
OUTCOMES: Final = ("ok", "refused", "dropped", "reset", "nxdomain")
#: How the client reached the Service.
VIAS: Final = ("clusterip", "nodeport", "loadbalancer", "externalip", "dns")
#: Who the client is.
CLIENT_KINDS: Final = ("pod", "node", "external")

#: The node label both zone columns come from (the label kube-proxy reads for topology hints).
ZONE_LABEL: Final = "topology.kubernetes.io/zone"
#: Version of the columns below, recorded in every saved log (sidecar or Parquet metadata).
#: 1: the first 17 columns; 2: ``client_zone`` and ``endpoint_zone`` added.
LOG_SCHEMA: Final = 2

#: The request-log schema: column → (dtype, meaning).  The single source of truth.
LOG_COLUMNS: Final[dict[str, Column]] = {
    "time": Column("float64", "seconds from the start of the run when the request was sent"),
    "connection": Column("int64", "connection number (0-based); every request of a connection shares it"),
    "client": Column("category", "the client: pod name, node name or external IP"),
    "client_kind": Column("category", "pod, node or external"),
    "src_ip": Column("category", "the client's own source IP"),
    "dst": Column("category", "the IP:port the client dialled (after DNS)"),
    "via": Column("category", "how the client addressed it: clusterip, nodeport, loadbalancer, externalip, or dns "
                  "(by name; the answer was a ClusterIP, or pod IPs for a headless Service)"),
    "entry_node": Column("category", "the node whose kube-proxy rules handled the first packet (empty: none)"),
    "client_zone": Column("category", "the zone the connection started in: the topology.kubernetes.io/zone label "
                          "of the client's node (a pod's or a node's own node; for an external client, the "
                          "entry_node it came in through); empty when that node has no zone label"),
    "service": Column("category", "namespace/name of the Service"),
    "port_name": Column("category", "the Service port's name (empty for an unnamed port)"),
    "endpoint": Column("category", "the endpoint IP:port the connection was DNATed to (empty when none)"),
    "pod": Column("category", "the pod behind that endpoint (empty when none)"),
    "pod_node": Column("category", "the node that pod runs on (empty when none)"),
    "endpoint_zone": Column("category", "the topology.kubernetes.io/zone label of pod_node: the zone of the pod "
                            "that answered (empty when none, or the node has no zone label)"),
    "seen_src_ip": Column("category", "the source address the pod saw (when masqueraded: the entry node's "
                          "InternalIP, or its pod gateway .1 for a pod on that node)"),
    "outcome": Column("category", "ok, refused, dropped (client timeout), reset or nxdomain"),
    "latency_ms": Column("float32", "time until the response (or the error) in milliseconds"),
    "rules_walked": Column("int32", "rules the first packet of the connection was evaluated against"),
}

_FIXED_CATEGORIES: Final = {"client_kind": CLIENT_KINDS, "via": VIAS, "outcome": OUTCOMES}
#: Columns a log saved with an older schema lacks (column -> the schema version that added it);
#: :func:`conform` gives such a log these columns, empty.
ADDED_IN: Final = {"client_zone": 2, "endpoint_zone": 2}


def empty_log() -> pd.DataFrame:
    """A log with no rows and every column's dtype."""
    return conform(pd.DataFrame({name: pd.Series([], dtype=object) for name in LOG_COLUMNS}))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Give ``df`` exactly the log's columns, order and dtypes (a new frame; attrs kept).

    A log from before schema 2 (no zone columns) gets them, empty: the zones are not known.

    Raises:
        KubelearnError: when a column is missing.
    """
    added = [c for c in ADDED_IN if c not in df.columns]
    if added:
        df = df.assign(**{c: "" for c in added})
    missing = [c for c in LOG_COLUMNS if c not in df.columns]
    if missing:
        raise LogFormatError(f"not a kubelearn request log: missing column(s) {', '.join(missing)}")
    out: dict[str, Any] = {}
    for name, col in LOG_COLUMNS.items():
        s = df[name]
        if col.dtype == "category":
            values = s.astype(object).where(s.notna(), "").astype(str)
            if name in _FIXED_CATEGORIES:
                out[name] = pd.Categorical(values, categories=list(_FIXED_CATEGORIES[name]))
            else:
                out[name] = pd.Categorical(values)
        else:
            out[name] = s.astype(cast(Any, col.dtype))
    result = pd.DataFrame(out, index=pd.RangeIndex(len(df)))
    result.attrs = dict(df.attrs)
    return result


#: The sidecar key that records what was written, so a cut or swapped file is noticed.
INTEGRITY_KEY: Final = "kubelearn.file"
_SUFFIXES: Final = (".csv", ".parquet", ".pq")
_SIDECAR: Final = ".attrs.json"
_NAME_MAX: Final = 255  # bytes in one file name on Linux filesystems (NAME_MAX)


def _attrs_json(attrs: dict[str, Any]) -> str:
    return json.dumps(attrs, default=str, sort_keys=True)


def sidecar_path(path: str | PathLike[str]) -> Path:
    """Where a CSV log keeps its attrs: ``<path>.attrs.json``."""
    return Path(fspath(path) + _SIDECAR)


def _open_error(path: Path | str, err: int) -> LogPathError:
    # Go's os.OpenFile words a failure "open <path>: <strerror in lower case>", as kubectl prints it.
    return LogPathError(err, f"error: open {path}: {os.strerror(err)[:1].lower()}{os.strerror(err)[1:]}")


def check_log_path(path: str | PathLike[str]) -> Path:
    """Check, before any work, that a log can be written at ``path`` (and its sidecar beside it).

    The rule for an existing file: it is replaced, atomically (see :func:`write_log`).  The
    checks: a ``.csv``/``.parquet`` name; names of at most 255 bytes (the sidecar's too); an
    existing directory that really takes new files (a probe file is created and removed, which
    is the only honest test on ``/proc`` or a read-only mount); the log and sidecar, if they
    exist, regular files.

    Raises:
        LogFormatError: for another extension.
        LogPathError: for a path that cannot be written, in ``open <path>: <reason>`` words.
    """
    p = Path(fspath(path))
    if p.suffix.lower() not in _SUFFIXES:
        raise LogFormatError(f'error: unsupported log file "{p}": use a .csv or .parquet file name')
    side = sidecar_path(p) if p.suffix.lower() == ".csv" else None
    for q in (p, side):
        if q is not None and len(os.fsencode(q.name)) > _NAME_MAX:
            raise _open_error(q, errno.ENAMETOOLONG)
    parent = p.parent
    if not parent.exists():
        raise _open_error(p, errno.ENOENT)
    if not parent.is_dir():
        raise _open_error(p, errno.ENOTDIR)
    for q in (p, side):
        if q is None or not (q.exists() or q.is_symlink()):
            continue
        if q.is_dir():
            raise _open_error(q, errno.EISDIR)
        if not q.is_file():
            raise LogPathError(errno.EINVAL, f"error: open {q}: not a regular file (a log replaces only files)")
    try:
        fd, probe = tempfile.mkstemp(dir=parent, prefix=".kl-", suffix=".tmp")
    except OSError as exc:
        raise _open_error(p, exc.errno or errno.EIO) from None
    os.close(fd)
    os.unlink(probe)
    return p


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for a moment (the main thread only), so that two renames are not split.

    Python runs a signal's handler at its next bytecode, even for a signal the kernel delivered
    earlier; so the handlers themselves are swapped for one that only notes the signal, and the
    signal is raised again, with the old handler back, once both renames are done.
    """
    import signal  # here, not at import: the core stays importable where there are no signals (Pyodide)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []

    def note(signum: int, frame: Any) -> None:
        caught.append(signum)

    old = {}
    for s in (signal.SIGINT, signal.SIGTERM):
        if signal.getsignal(s) is not None:  # None: a handler set outside Python, left alone
            old[s] = signal.signal(s, note)
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        if caught:
            signal.raise_signal(caught[0])


def _new_file_mode(target: Path) -> int:
    if target.is_file():
        return stat.S_IMODE(target.stat().st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _temp_beside(target: Path) -> tuple[int, Path]:
    # A short name: the target's own name may already be near the 255-byte limit.
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=".kl-", suffix=".tmp")
    os.fchmod(fd, _new_file_mode(target))
    return fd, Path(name)


def write_log(df: pd.DataFrame, path: str | PathLike[str]) -> Path:
    """Save a log as ``.csv`` or ``.parquet`` (chosen by the file name).

    CSV keeps the attrs in ``<path>.attrs.json`` beside it, with the file's row count, size and
    SHA-256 (so :func:`read_log` notices a cut or mismatched file); Parquet keeps them in the file.

    Nothing is lost: the path is checked first (:func:`check_log_path`); the log (and sidecar)
    are written to temporary files in the same directory, flushed to disk, then renamed over
    the old ones, log and sidecar one right after the other with Ctrl-C held off in between.
    An existing log is replaced only by a complete new one; an interrupted write leaves it as
    it was.

    Raises:
        KubelearnError: for another extension, a path that cannot be written, or Parquet
            without pyarrow installed.
    """
    p = check_log_path(path)
    suffix = p.suffix.lower()
    if suffix != ".csv":
        pa, pq = _pyarrow()
    temps: list[Path] = []
    try:
        fd, tmp = _temp_beside(p)
        temps.append(tmp)
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as fh:
            if suffix == ".csv":
                out = _HashingWriter(fh, digest)
                df.to_csv(out, index=False)  # type: ignore[call-overload]
            else:
                table = pa.Table.from_pandas(df, preserve_index=False)
                meta = dict(table.schema.metadata or {})
                meta[b"kubelearn.attrs"] = _attrs_json(cast(dict[str, Any], df.attrs)).encode()
                meta[b"kubelearn.log_schema"] = str(LOG_SCHEMA).encode()
                pq.write_table(table.replace_schema_metadata(meta), fh)
            fh.flush()
            os.fsync(fh.fileno())
        renames = [(tmp, p)]
        if suffix == ".csv":
            side = sidecar_path(p)
            attrs = dict(cast(dict[str, Any], df.attrs))
            attrs[INTEGRITY_KEY] = {"rows": len(df), "bytes": tmp.stat().st_size, "sha256": digest.hexdigest(),
                                    "log_schema": LOG_SCHEMA}
            sfd, stmp = _temp_beside(side)
            temps.append(stmp)
            with os.fdopen(sfd, "w", encoding="utf-8") as sh:
                sh.write(_attrs_json(attrs) + "\n")
                sh.flush()
                os.fsync(sh.fileno())
            renames.append((stmp, side))
        with _signals_deferred():
            for src, dst in renames:
                os.replace(src, dst)
        temps.clear()
        _fsync_dir(p.parent)
    except OSError as exc:
        raise _open_error(p, exc.errno or errno.EIO) from None
    finally:
        for t in temps:
            with contextlib.suppress(OSError):
                t.unlink()
    return p


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


class _HashingWriter:
    """A text file-like object for ``to_csv`` that writes UTF-8 bytes and hashes them on the way."""

    def __init__(self, fh: Any, digest: Any) -> None:
        self.fh = fh
        self.digest = digest

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self.digest.update(data)
        self.fh.write(data)
        return len(text)

    def flush(self) -> None:
        self.fh.flush()


def read_log(path: str | PathLike[str]) -> pd.DataFrame:
    """Load a log saved by :func:`write_log` (or any CSV/Parquet with the log's columns).

    A CSV whose sidecar records what was written (row count, size, SHA-256) is checked
    against it, so a file cut short (even at a line boundary) or one that does not belong
    to its sidecar is reported rather than loaded.

    Raises:
        KubelearnError: for a missing file, another extension, missing columns, or a
            truncated or damaged file.
    """
    p = Path(fspath(path))
    if not p.exists():
        raise LogFormatError(f'error: the path "{p}" does not exist')
    if not p.is_file():
        raise LogFormatError(f'error: the path "{p}" is not a regular file')
    suffix = p.suffix.lower()
    attrs: dict[str, Any] = {}
    if suffix == ".csv":
        side = sidecar_path(p)
        if side.is_file():
            try:
                attrs = json.loads(side.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise LogFormatError(f'error: the attrs file "{side}" is damaged: {exc}') from None
            if not isinstance(attrs, dict):
                raise LogFormatError(f'error: the attrs file "{side}" is damaged: not a JSON object')
        integrity = attrs.pop(INTEGRITY_KEY, None)
        if isinstance(integrity, dict):
            _check_schema(p, integrity.get("log_schema", 1))
            _check_integrity(p, integrity)
        dtypes = {n: ("string" if c.dtype == "category" else c.dtype) for n, c in LOG_COLUMNS.items()}
        try:
            df = pd.read_csv(p, dtype=dtypes, keep_default_na=False, na_values={"latency_ms": ["", "NaN", "nan"]})
        except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise LogFormatError(f'error: "{p}" is not a readable kubelearn request log: {exc}') from None
        if isinstance(integrity, dict) and integrity.get("rows") != len(df):
            raise LogFormatError(f'error: "{p}" has {len(df)} rows, its attrs file says {integrity.get("rows")}: '
                                 "the file was cut short or changed")
    elif suffix in (".parquet", ".pq"):
        _, pq = _pyarrow()
        try:
            table = pq.read_table(p)
        except Exception as exc:  # pyarrow raises ArrowInvalid (and OSError) for a cut file
            raise LogFormatError(f'error: "{p}" is not a readable Parquet log (truncated or damaged?): {exc}') \
                from None
        _check_schema(p, (table.schema.metadata or {}).get(b"kubelearn.log_schema", b"1").decode(errors="replace"))
        raw = (table.schema.metadata or {}).get(b"kubelearn.attrs")
        if raw:
            attrs = json.loads(raw.decode())
        df = table.to_pandas()
    else:
        raise LogFormatError(f'error: unsupported log file "{p}": use a .csv or .parquet file name')
    df.attrs = cast(Any, attrs)
    return conform(df)


def _check_schema(p: Path, version: Any) -> None:
    """Refuse a log written by a newer kubelearn (its columns may mean something this one does not know)."""
    try:
        v = int(version)
    except (TypeError, ValueError):
        raise LogFormatError(f'error: "{p}" records log schema {version!r}, not a version number') from None
    if v > LOG_SCHEMA:
        raise LogFormatError(f'error: "{p}" was written with log schema {v}; this kubelearn reads schema '
                             f"{LOG_SCHEMA} and older: upgrade kubelearn to read it")


def _check_integrity(p: Path, integrity: dict[str, Any]) -> None:
    size = p.stat().st_size
    if integrity.get("bytes") != size:
        raise LogFormatError(f'error: "{p}" is {size} bytes, its attrs file says {integrity.get("bytes")}: '
                             "the file was cut short or changed (or the attrs file belongs to another log)")
    digest = hashlib.sha256()
    with p.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    if integrity.get("sha256") != digest.hexdigest():
        raise LogFormatError(f'error: "{p}" does not match the SHA-256 in its attrs file: '
                             "the file was changed (or the attrs file belongs to another log)")


def _pyarrow() -> tuple[Any, Any]:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover - pyarrow is installed in development
        raise LogFormatError(
            "error: Parquet needs pyarrow: pip install 'kubelearn[parquet]' (or save as .csv)"
        ) from None
    return pa, pq


def memory_per_row(df: pd.DataFrame) -> float:
    """Bytes of memory per row (deep), the figure the benchmark checks against 150."""
    if len(df) == 0:
        return 0.0
    return float(df.memory_usage(deep=True, index=False).sum()) / len(df)

