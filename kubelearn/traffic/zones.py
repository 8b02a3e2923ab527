"""Cross-zone traffic: from which zone each request came, and in which zone it was answered.

A cloud region is split into zones (separate buildings, power and network).  Traffic between
two zones is slower than inside one, and clouds bill it: inter-zone data transfer is charged
per gigabyte, in each direction, while traffic inside a zone is usually free.  A Service that
picks any endpoint sends most requests to another zone: with endpoints spread evenly over
three zones, two thirds of them.  ``spec.trafficDistribution: PreferClose`` (and topology-aware
routing, ``service.kubernetes.io/topology-mode: Auto``) make each node's kube-proxy keep the
endpoints of its own zone, when the EndpointSlice controller has hinted them so.

The request log says, for every request, ``client_zone`` and ``endpoint_zone`` (both read from
the node label ``topology.kubernetes.io/zone``; see :mod:`kubelearn.traffic.log`).  The
functions here count them.  What kubelearn counts is requests (or connections) that cross
zones, never money: a price is the reader's assumption about a cloud, not something the model
knows.  Only answered requests count (a refused or dropped request carried no response).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import KubelearnError
from .analysis import first_requests

__all__ = ["NO_ZONE", "cross_zone_share", "zone_traffic"]

#: How a request whose node has no ``topology.kubernetes.io/zone`` label is shown in the tables.
NO_ZONE = "(no zone)"


def _check(log: pd.DataFrame, count: str) -> None:
    if count not in ("requests", "connections"):
        raise KubelearnError(f'count must be "requests" or "connections", not {count!r}')
    if not isinstance(log, pd.DataFrame):
        raise KubelearnError(f"zone_traffic needs a request log (a pandas DataFrame), not {type(log).__name__}")
    missing = [c for c in ("connection", "client_zone", "endpoint_zone", "outcome") if c not in log.columns]
    if missing:
        raise KubelearnError(f"zone_traffic needs the request-log column(s) {', '.join(missing)} "
                             "(logs saved before schema 2 have no zone columns)")


def zone_traffic(log: pd.DataFrame, count: str = "requests") -> pd.DataFrame:
    """Answered traffic per pair of zones: from ``client_zone`` to ``endpoint_zone``.

    Args:
        log: a request log (:func:`kubelearn.traffic.simulate`, the kernel lab, :func:`read_log`).
        count: ``"requests"`` (every request and its response crosses, or not: what a data
            transfer bill follows) or ``"connections"`` (what kube-proxy balanced).

    Returns:
        One row per pair of zones with traffic, sorted by zone: ``client_zone``,
        ``endpoint_zone`` (:data:`NO_ZONE` for a node without the label), the count (a
        column named after ``count``), ``share`` (of all answered traffic) and ``cross_zone``
        (True when both zones are known and differ).

    Raises:
        KubelearnError: for another ``count`` or a log without the zone columns.
    """
    _check(log, count)
    rows = log[["connection", "client_zone", "endpoint_zone", "outcome"]]
    rows.attrs = {}  # pandas deep-copies attrs (the run's parameters) on every step: not needed here
    rows = rows if count == "requests" else first_requests(rows)
    ok = rows.loc[(rows["outcome"] == "ok").to_numpy(), ["client_zone", "endpoint_zone"]]
    # counted on the categories (a few zones), not on the rows' strings: a widget redraws with this
    for name in ("client_zone", "endpoint_zone"):
        if not isinstance(ok[name].dtype, pd.CategoricalDtype):
            ok = ok.assign(**{name: ok[name].astype(str).astype("category")})
    counts = ok.groupby(["client_zone", "endpoint_zone"], observed=True, sort=False).size()
    table = pd.DataFrame({"client_zone": [str(a) or NO_ZONE for a, _ in counts.index],
                          "endpoint_zone": [str(b) or NO_ZONE for _, b in counts.index],
                          count: counts.to_numpy()})
    table = table.sort_values(["client_zone", "endpoint_zone"], kind="stable").reset_index(drop=True)
    total = int(table[count].sum())
    table[count] = table[count].astype(np.int64)
    table["share"] = table[count] / total if total else 0.0
    table["cross_zone"] = ((table["client_zone"] != table["endpoint_zone"]) & (table["client_zone"] != NO_ZONE)
                           & (table["endpoint_zone"] != NO_ZONE))
    return table


def cross_zone_share(log: pd.DataFrame, count: str = "requests") -> float:
    """The share of answered traffic, among that whose two zones are known, that crossed zones.

    ``nan`` when no answered request has both zones (a cluster without zone labels).

    >>> import kubelearn as kl                                    # doctest: +SKIP
    >>> kl.cross_zone_share(kl.simulate(kl.scenario("three-zones")))
    0.0
    """
    table = zone_traffic(log, count)
    known = table[(table["client_zone"] != NO_ZONE) & (table["endpoint_zone"] != NO_ZONE)]
    n = int(known[count].sum())
    return float(known.loc[known["cross_zone"], count].sum() / n) if n else float("nan")
