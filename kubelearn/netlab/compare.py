"""Kernel versus simulator: the same question asked twice, the answers side by side.

The simulator and the lab both return the request log, so they can be compared column by
column.  Where each connection *ended up* is the heart of it: which pod answered, or how it
failed (refused, dropped, reset).  Random balancing means the two runs never match count
for count, so the comparison is statistical: a chi-square test of homogeneity on the
contingency table (simulator row, kernel row; one column per pod or failure) asks whether
both samples could come from the same distribution.  A small p-value (below ``alpha``) says
they differ more than chance explains: the model and the kernel disagree.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Comparison", "compare", "conform", "outcome_key"]


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """The request log's exact columns and dtypes (``kubelearn.traffic``'s schema)."""
    from ..traffic.log import conform as traffic_conform

    return traffic_conform(df)


def outcome_key(log: pd.DataFrame, by: str = "pod") -> pd.Series:
    """Where each row ended: the ``by`` column (a pod) for ``ok`` rows, ``(refused)`` etc. otherwise."""
    outcome = log["outcome"].astype(str)
    value = log[by].astype(str)
    return value.where(outcome == "ok", "(" + outcome + ")").rename(by)


@dataclass
class Comparison:
    """Simulated and kernel results side by side, with a chi-square verdict.

    Attributes:
        table: one row per pod (or failure): counts and shares for both.
        statistic: the chi-square statistic (0 when both put everything in one place).
        pvalue: its p-value; ``nan`` when either log is empty.
        dof: degrees of freedom.
        alpha: the significance level of :attr:`verdict`.
    """

    table: pd.DataFrame
    statistic: float
    pvalue: float
    dof: int
    alpha: float
    by: str = "pod"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def consistent(self) -> bool:
        """Whether the kernel agrees with the simulator at level ``alpha``."""
        return bool(self.pvalue >= self.alpha)

    @property
    def verdict(self) -> str:
        """One line saying whether kernel and simulator agree."""
        if np.isnan(self.pvalue):
            return "no verdict: one of the logs is empty"
        word = "agree" if self.consistent else "DISAGREE"
        unit = "counting clients (with affinity only a client's first connection is a free choice)" \
            if self.extra.get("unit") == "client" else "counting connections"
        return (f"kernel and simulator {word}, {unit}: chi-square {self.statistic:.2f} with {self.dof} degrees of freedom, "
                f"p = {self.pvalue:.3g} (alpha {self.alpha})")

    def __str__(self) -> str:
        return self.table.to_string() + "\n" + self.verdict

    def __repr__(self) -> str:
        return f"<Comparison by {self.by}: {len(self.table)} rows; {self.verdict}>"

    def _repr_html_(self) -> str:
        return self.table.to_html() + f"<p>{html.escape(self.verdict)}</p>"


def _sticky(first: pd.DataFrame) -> bool:
    # Every client that made several successful connections kept one pod: affinity.
    ok = first[first["outcome"].astype(str) == "ok"]
    if ok.empty:
        return False
    clients = ok["client"].astype(str)
    grouped = ok["pod"].astype(str).groupby(clients)
    n_conns, n_pods = grouped.size(), grouped.nunique()
    repeated = n_pods[n_conns > 1]
    return bool(len(repeated)) and bool((repeated == 1).all())


def compare(sim_log: pd.DataFrame, kernel_log: pd.DataFrame, *, by: str = "pod", alpha: float = 0.01,
            unit: str = "auto") -> Comparison:
    """Put a simulated and a kernel request log side by side, per pod (or failure), with a verdict.

    A chi-square test needs independent samples.  Connections are independent under random
    balancing, but with ``ClientIP`` affinity only each client's *first* connection is a
    free choice (the rest follow it), so ``unit="auto"`` counts clients when both logs show
    every client sticking to one pod, and connections otherwise.

    Args:
        sim_log: the simulator's log (:func:`kubelearn.traffic.simulate`).
        kernel_log: the lab's log (:meth:`kubelearn.netlab.NetLab.run`).
        by: the column that names where a connection went (``pod``, ``pod_node``, ``seen_src_ip``…).
        alpha: significance level for the verdict.
        unit: ``connection``, ``client`` or ``auto``.

    Returns:
        A :class:`Comparison`; ``print()`` it, or show it in a notebook.

    Raises:
        KubelearnError: for an unknown ``unit``.
    """
    from ..errors import KubelearnError, require_scipy

    require_scipy("comparing the kernel with the simulator")
    from scipy.stats import chi2_contingency

    if unit not in ("auto", "connection", "client"):
        raise KubelearnError(f'unknown unit "{unit}": expected connection, client or auto')

    # One row per connection: keep-alive requests repeat the connection's choice.
    def first_rows(log: pd.DataFrame) -> pd.DataFrame:
        return log.drop_duplicates("connection") if "connection" in log.columns else log

    sim_first, ker_first = first_rows(sim_log), first_rows(kernel_log)
    if unit == "auto":
        unit = "client" if _sticky(sim_first) and _sticky(ker_first) else "connection"
    if unit == "client":
        sim_first = sim_first.drop_duplicates("client")
        ker_first = ker_first.drop_duplicates("client")
    sim = outcome_key(sim_first, by).value_counts()
    ker = outcome_key(ker_first, by).value_counts()
    keys = sorted(set(sim.index) | set(ker.index))
    table = pd.DataFrame({
        "simulated": [int(sim.get(k, 0)) for k in keys],
        "kernel": [int(ker.get(k, 0)) for k in keys],
    }, index=pd.Index(keys, name=by))
    for col in ("simulated", "kernel"):
        total = table[col].sum()
        table[col + "_share"] = table[col] / total if total else np.nan
    extra = {"unit": unit}
    if table["simulated"].sum() == 0 or table["kernel"].sum() == 0:
        return Comparison(table, float("nan"), float("nan"), 0, alpha, by, extra)
    if len(keys) == 1:
        # Everything in one place on both sides: identical, nothing for chance to explain.
        return Comparison(table, 0.0, 1.0, 0, alpha, by, extra)
    res = chi2_contingency(table[["simulated", "kernel"]].to_numpy().T)
    return Comparison(table, float(res.statistic), float(res.pvalue), int(res.dof), alpha, by, extra)
