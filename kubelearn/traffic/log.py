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
"""

from __future__ import annotations

import json
from os import PathLike, fspath
from pathlib import Path
from typing import Any, Final, NamedTuple, cast

import pandas as pd

from ..errors import KubelearnError

__all__ = ["Column", "LOG_COLUMNS", "OUTCOMES", "VIAS", "CLIENT_KINDS", "empty_log", "read_log", "write_log",
           "conform", "memory_per_row", "LogFormatError"]


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
    "service": Column("category", "namespace/name of the Service"),
    "port_name": Column("category", "the Service port's name (empty for an unnamed port)"),
    "endpoint": Column("category", "the endpoint IP:port the connection was DNATed to (empty when none)"),
    "pod": Column("category", "the pod behind that endpoint (empty when none)"),
    "pod_node": Column("category", "the node that pod runs on (empty when none)"),
    "seen_src_ip": Column("category", "the source address the pod saw (when masqueraded: the entry node's "
                          "InternalIP, or its pod gateway .1 for a pod on that node)"),
    "outcome": Column("category", "ok, refused, dropped (client timeout), reset or nxdomain"),
    "latency_ms": Column("float32", "time until the response (or the error) in milliseconds"),
    "rules_walked": Column("int32", "rules the first packet of the connection was evaluated against"),
}

_FIXED_CATEGORIES: Final = {"client_kind": CLIENT_KINDS, "via": VIAS, "outcome": OUTCOMES}


def empty_log() -> pd.DataFrame:
    """A log with no rows and every column's dtype."""
    return conform(pd.DataFrame({name: pd.Series([], dtype=object) for name in LOG_COLUMNS}))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Give ``df`` exactly the log's columns, order and dtypes (a new frame; attrs kept).

    Raises:
        KubelearnError: when a column is missing.
    """
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


class LogFormatError(KubelearnError, ValueError):
    """A file or frame that is not a kubelearn request log."""


def _attrs_json(attrs: dict[str, Any]) -> str:
    return json.dumps(attrs, default=str, sort_keys=True)


def write_log(df: pd.DataFrame, path: str | PathLike[str]) -> Path:
    """Save a log as ``.csv`` or ``.parquet`` (chosen by the file name).

    CSV keeps the attrs in ``<path>.attrs.json`` beside it; Parquet keeps them in the file.

    Raises:
        KubelearnError: for another extension, or Parquet without pyarrow installed.
    """
    p = Path(fspath(path))
    suffix = p.suffix.lower()
    if suffix == ".csv":
        df.to_csv(p, index=False)
        Path(str(p) + ".attrs.json").write_text(_attrs_json(cast(dict[str, Any], df.attrs)) + "\n")
    elif suffix in (".parquet", ".pq"):
        pa, pq = _pyarrow()
        table = pa.Table.from_pandas(df, preserve_index=False)
        meta = dict(table.schema.metadata or {})
        meta[b"kubelearn.attrs"] = _attrs_json(cast(dict[str, Any], df.attrs)).encode()
        pq.write_table(table.replace_schema_metadata(meta), p)
    else:
        raise LogFormatError(f'error: unsupported log file "{p}": use a .csv or .parquet file name')
    return p


def read_log(path: str | PathLike[str]) -> pd.DataFrame:
    """Load a log saved by :func:`write_log` (or any CSV/Parquet with the log's columns).

    Raises:
        KubelearnError: for a missing file, another extension, or missing columns.
    """
    p = Path(fspath(path))
    if not p.exists():
        raise LogFormatError(f'error: the path "{p}" does not exist')
    suffix = p.suffix.lower()
    attrs: dict[str, Any] = {}
    if suffix == ".csv":
        dtypes = {n: ("string" if c.dtype == "category" else c.dtype) for n, c in LOG_COLUMNS.items()}
        df = pd.read_csv(p, dtype=dtypes, keep_default_na=False, na_values={"latency_ms": ["", "NaN", "nan"]})
        side = Path(str(p) + ".attrs.json")
        if side.exists():
            attrs = json.loads(side.read_text())
    elif suffix in (".parquet", ".pq"):
        _, pq = _pyarrow()
        table = pq.read_table(p)
        raw = (table.schema.metadata or {}).get(b"kubelearn.attrs")
        if raw:
            attrs = json.loads(raw.decode())
        df = table.to_pandas()
    else:
        raise LogFormatError(f'error: unsupported log file "{p}": use a .csv or .parquet file name')
    df.attrs = cast(Any, attrs)
    return conform(df)


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

