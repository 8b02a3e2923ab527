"""Reading a request log: is the load really balanced, and what went wrong when?

"Round robin" is the most common wrong guess about Services.  kube-proxy picks endpoints
at random per *connection* (iptables, nftables) or per node (IPVS), so the honest questions
are statistical:

- **shares**: the fraction of connections each pod (or node) got, beside the share the
  rules predict (:func:`kubelearn.traffic.predicted_shares`);
- **chi-square goodness of fit**: is the difference from the prediction more than chance?
  A tiny p-value means the model and the log disagree (or the clients are not what you think);
- **Jain's fairness index** ``(Σx)² / (n·Σx²)``: 1 for a perfect spread, ``1/n`` when one pod
  gets everything; and the **max/mean** ratio, the hottest pod against the average;
- **stickiness**: per client, the share of its connections that reached its most used pod
  (1.0 with working session affinity, about ``1/n`` without);
- **errors over time**: refused, dropped and reset requests per time bin, which makes the
  propagation window after a change visible.

Counts are per connection unless said otherwise: a keep-alive connection is balanced once.
Statistics come from :mod:`scipy.stats`, imported only by the function that needs it
(:func:`chi_square`), so reading a log's shares never pays for loading scipy.  Counts are taken
from the categorical columns' integer codes: a million-row log is never converted to strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..errors import KubelearnError, require_scipy
from .log import OUTCOMES

__all__ = ["ChiSquare", "chi_square", "errors_over_time", "first_requests", "jain_index", "max_mean_ratio",
           "node_shares", "pod_shares", "stickiness", "summary"]


def first_requests(log: pd.DataFrame) -> pd.DataFrame:
    """One row per connection: its first request (the one the rules balanced)."""
    conn = log["connection"].to_numpy()
    if len(conn) == 0:
        return log
    first = np.ones(len(conn), dtype=bool)
    first[1:] = conn[1:] != conn[:-1]
    if not np.all(np.diff(conn) >= 0):  # not grouped by connection (e.g. re-sorted): fall back
        first = ~log["connection"].duplicated().to_numpy()
    if first.all():  # one request per connection: the log itself
        return log
    return log[first]


def value_counts(column: pd.Series) -> pd.Series:
    """How many rows hold each non-empty value of ``column`` (values never seen are left out).

    A categorical column is counted on its integer codes (``np.bincount``), so the rows are
    never turned into strings; any other column falls back to ``astype(str).value_counts()``.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        cats = column.cat.categories
        # (-1 is a missing value; a simulated log has none, so the usual case skips the filter)
        counts = np.bincount(codes if not len(codes) or codes.min() >= 0 else codes[codes >= 0],
                             minlength=len(cats))
        out = pd.Series(counts, index=pd.Index([str(c) for c in cats], dtype=object), dtype=np.int64)
    else:
        out = column.astype(str).value_counts()
        out.index = pd.Index([str(v) for v in out.index], dtype=object)
    out = out[(out > 0) & (out.index != "")]
    out.name = "count"
    out.index.name = column.name
    return out


def _nonempty(column: pd.Series) -> np.ndarray:
    """A mask of the rows whose value is not ``""`` (on the codes for a categorical column)."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        empty = column.cat.categories.get_indexer([""])[0]
        return (codes >= 0) & (codes != empty)
    return (column.astype(str) != "").to_numpy()


def _shares(log: pd.DataFrame, column: str, predicted: pd.Series | None) -> pd.DataFrame:
    conns = first_requests(log)
    total = len(conns)
    counts = value_counts(conns[column])
    reqs = value_counts(log[column])
    out = pd.DataFrame({"connections": counts, "requests": reqs.reindex(counts.index).fillna(0).astype(int)})
    if predicted is not None:
        pred = predicted[predicted.index != ""]
        out = out.reindex(out.index.union(pred.index)).fillna(0)
        out["connections"] = out["connections"].astype(int)
        out["requests"] = out["requests"].astype(int)
    out["share"] = out["connections"] / total if total else 0.0
    if predicted is not None:
        # no prediction at all (predicted_shares' NaN) stays NaN; a pod it does not name gets 0
        out["predicted"] = predicted.reindex(out.index) if predicted.isna().all() else \
            predicted.reindex(out.index).fillna(0.0)
    out.index.name = column
    return out.sort_index()


def pod_shares(log: pd.DataFrame, predicted: pd.DataFrame | pd.Series | None = None) -> pd.DataFrame:
    """Connections, requests and share per pod (with the node it runs on and the predicted share).

    Every endpoint pod of the Services in the log is listed, those that got no connection with
    zero counts, when the log records them (``attrs["endpoints"]``, as :func:`simulate` does);
    otherwise only the pods the log names (and those ``predicted`` names).

    Args:
        log: a request log.
        predicted: :func:`~kubelearn.traffic.predicted_shares` output (or a pod → share Series).
    """
    pred = predicted["predicted"] if isinstance(predicted, pd.DataFrame) else predicted
    # The Service's endpoint pods that got nothing are fair-share losers too: list them with 0
    # (the simulator records them in attrs["endpoints"]; a log from elsewhere may not have it).
    known = _endpoint_pods(log)
    if known:
        zero = pd.Series(0.0, index=pd.Index(sorted(known), name="pod"))
        pred = zero if pred is None else pd.concat([pred, zero[~zero.index.isin(pred.index)]])
    out = _shares(log, "pod", pred)
    if known and predicted is None:
        out = out.drop(columns="predicted")
    conns = first_requests(log)
    node_of = _node_of(conns)
    if known:
        node_of = pd.concat([pd.Series(known, dtype=str), node_of])
        node_of = node_of[~node_of.index.duplicated(keep="last")]
    if isinstance(predicted, pd.DataFrame) and "node" in predicted:
        node_of = pd.concat([predicted["node"].astype(str), node_of])
        node_of = node_of[~node_of.index.duplicated(keep="last")]
    out.insert(0, "node", node_of.reindex(out.index).fillna(""))
    return out


def _node_of(conns: pd.DataFrame) -> pd.Series:
    """Pod → the node it ran on, from the connections that reached a pod."""
    pod, node = conns["pod"], conns["pod_node"]
    if isinstance(pod.dtype, pd.CategoricalDtype) and isinstance(node.dtype, pd.CategoricalDtype):
        pc, nc = pod.cat.codes.to_numpy(), node.cat.codes.to_numpy()
        keep = _nonempty(pod)
        pc, nc = pc[keep], nc[keep]
        first = np.full(len(pod.cat.categories), len(pc), dtype=np.int64)  # each pod's first connection
        np.minimum.at(first, pc, np.arange(len(pc)))
        codes = np.flatnonzero(first < len(pc))
        first = first[codes]
        pods = [str(v) for v in pod.cat.categories[codes]]
        nodes = [str(v) for v in node.cat.categories[nc[first]]] if len(first) else []
        return pd.Series(nodes, index=pd.Index(pods, name="pod", dtype=object), dtype=object)
    reached = conns[_nonempty(pod)]
    return reached.groupby(reached["pod"].astype(str))["pod_node"].first().astype(str)


def _endpoint_pods(log: pd.DataFrame) -> dict[str, str]:
    """Pod → node for the endpoints ``attrs["endpoints"]`` lists for the Services in the log."""
    recorded = log.attrs.get("endpoints")
    if not isinstance(recorded, dict) or not recorded:
        return {}
    in_log = set(value_counts(log["service"]).index) if "service" in log else set()
    out: dict[str, str] = {}
    for svc, pods in recorded.items():
        if svc in in_log and isinstance(pods, dict):
            out.update({str(p): str(n) for p, n in pods.items()})
    return out


def node_shares(log: pd.DataFrame, column: str = "pod_node") -> pd.DataFrame:
    """Connections and share per node: where the pods ran (``pod_node``) or where traffic entered (``entry_node``)."""
    if column not in ("pod_node", "entry_node"):
        raise KubelearnError(f'error: node_shares needs column "pod_node" or "entry_node", not "{column}"')
    return _shares(log, column, None)


@dataclass(frozen=True)
class ChiSquare:
    """A chi-square goodness-of-fit result: ``statistic``, ``pvalue``, degrees of freedom, sample size."""

    statistic: float
    pvalue: float
    dof: int
    n: int

    def __str__(self) -> str:
        return f"chi-square {self.statistic:.2f} with {self.dof} degrees of freedom over {self.n} connections: p = {self.pvalue:.3g}"


def chi_square(log: pd.DataFrame, predicted: pd.DataFrame | pd.Series) -> ChiSquare:
    """Does the log's spread over pods match the predicted shares?  (``scipy.stats.chisquare``)

    Only connections that reached a pod are counted; the expected counts are the predicted
    shares renormalised over the pods predicted to get traffic.

    Raises:
        KubelearnError: when the log reaches a pod the prediction gives no traffic at all,
            nothing is predicted, or the prediction is NaN (see :func:`predicted_shares`).
    """
    pred = predicted["predicted"] if isinstance(predicted, pd.DataFrame) else predicted
    if pred.isna().any():
        why = predicted.attrs.get("unpredictable", "some shares are NaN")
        raise KubelearnError(f"error: there is no prediction to test against: {why}")
    pred = pred[(pred.index != "") & (pred > 0)]
    if pred.empty:
        raise KubelearnError("error: the prediction sends no traffic to any pod")
    require_scipy("chi_square")
    from scipy import stats  # here, not at import: only the test needs scipy

    conns = first_requests(log)
    counts = value_counts(conns["pod"])
    extra = sorted(set(counts.index) - set(pred.index))
    if extra:
        raise KubelearnError(f"error: the log reaches pods the prediction gives no traffic: {', '.join(extra)}")
    obs = counts.reindex(pred.index).fillna(0).to_numpy(dtype=float)
    n = int(obs.sum())
    exp = pred.to_numpy(dtype=float) / float(pred.sum()) * n
    if len(obs) < 2:
        return ChiSquare(0.0, 1.0, 0, n)
    res = stats.chisquare(obs, exp)
    return ChiSquare(float(res.statistic), float(res.pvalue), len(obs) - 1, n)


def jain_index(counts: pd.Series | np.ndarray | pd.DataFrame) -> float:
    """Jain's fairness index ``(Σx)² / (n·Σx²)`` of counts (a shares frame uses its ``connections``)."""
    x = _counts(counts)
    if len(x) == 0 or not x.any():
        return float("nan")
    return float(x.sum() ** 2 / (len(x) * (x**2).sum()))


def max_mean_ratio(counts: pd.Series | np.ndarray | pd.DataFrame) -> float:
    """The largest count over the mean count (1.0 for a perfect spread)."""
    x = _counts(counts)
    if len(x) == 0 or not x.any():
        return float("nan")
    return float(x.max() / x.mean())


def _counts(counts: pd.Series | np.ndarray | pd.DataFrame) -> np.ndarray:
    if isinstance(counts, pd.DataFrame):
        counts = counts["connections"]
    return np.asarray(counts, dtype=float)


def stickiness(log: pd.DataFrame) -> pd.DataFrame:
    """Per client: connections, its most used pod, and the share of its connections that reached it."""
    conns = first_requests(log)
    conns = conns[conns["pod"].astype(str) != ""]
    if conns.empty:
        return pd.DataFrame(columns=["connections", "top_pod", "stickiness"])
    tab = pd.crosstab(conns["client"].astype(str), conns["pod"].astype(str))
    total = tab.sum(axis=1)
    out = pd.DataFrame({"connections": total, "top_pod": tab.idxmax(axis=1), "stickiness": tab.max(axis=1) / total})
    out.index.name = "client"
    return out


def errors_over_time(log: pd.DataFrame, bin_seconds: float = 1.0) -> pd.DataFrame:
    """Requests per outcome in each time bin (index: the bin's start in seconds)."""
    if bin_seconds <= 0:
        raise KubelearnError("error: bin_seconds must be greater than 0")
    bins = (np.floor(log["time"].to_numpy() / bin_seconds) * bin_seconds)
    # pd.crosstab drops an Index's name under pandas 3 (the rows come out as "row_0"): name them here
    tab = pd.crosstab(pd.Series(bins, index=log.index, name="time"), log["outcome"], dropna=False)
    tab = tab.reindex(columns=list(OUTCOMES), fill_value=0)
    tab.index.name = "time"
    tab.columns.name = "outcome"
    return tab


def summary(log: pd.DataFrame, predicted: pd.DataFrame | pd.Series | None = None) -> pd.DataFrame:
    """The CLI's per-pod table: node, connections, requests, share, predicted (if given), errors last."""
    out = pod_shares(log, predicted)
    conns = first_requests(log)
    failed = value_counts(conns["outcome"])
    requests = value_counts(log["outcome"])
    for outcome, count in failed.sort_values(ascending=False, kind="stable").items():
        if outcome == "ok":
            continue
        row: dict[str, Any] = {str(c): "" for c in out.columns}
        row.update({"connections": int(count), "requests": int(requests.get(outcome, 0)),
                    "share": count / len(conns)})
        out.loc[f"({outcome})"] = row
    return out
