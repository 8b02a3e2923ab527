"""Analysis helpers on hand-built logs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kubelearn.errors import KubelearnError
from kubelearn.traffic import (
    chi_square,
    errors_over_time,
    jain_index,
    max_mean_ratio,
    node_shares,
    pod_shares,
    stickiness,
)
from kubelearn.traffic.analysis import summary
from kubelearn.traffic.log import LOG_COLUMNS, conform


def make_log(pods, clients=None, outcomes=None, times=None, per_conn=1):
    n = len(pods)
    clients = clients or ["c"] * n
    outcomes = outcomes or ["ok"] * n
    times = times if times is not None else list(np.arange(n, dtype=float))
    rows = {k: [""] * (n * per_conn) for k in LOG_COLUMNS}
    rep = lambda xs: [x for x in xs for _ in range(per_conn)]  # noqa: E731
    rows.update({"time": rep(times), "connection": rep(range(n)), "client": rep(clients), "client_kind": ["pod"] * n * per_conn,
                 "via": ["clusterip"] * n * per_conn, "pod": rep(pods),
                 "pod_node": rep(["n1" if p in ("a", "b") else "n2" if p else "" for p in pods]),
                 "outcome": rep(outcomes), "latency_ms": [1.0] * n * per_conn, "rules_walked": [1] * n * per_conn})
    return conform(pd.DataFrame(rows))


def test_jain_and_max_mean():
    assert jain_index(np.array([5, 5, 5, 5])) == pytest.approx(1.0)
    assert jain_index(np.array([20, 0, 0, 0])) == pytest.approx(0.25)
    assert jain_index(np.array([3, 1])) == pytest.approx(16 / 20)
    assert max_mean_ratio(np.array([3, 1])) == pytest.approx(1.5)
    assert np.isnan(jain_index(np.array([0, 0])))


def test_pod_and_node_shares_count_connections_not_requests():
    log = make_log(["a", "a", "b", "c"], per_conn=3)
    sh = pod_shares(log, pd.Series({"a": 0.25, "b": 0.25, "c": 0.25, "d": 0.25}))
    assert sh.loc["a", "connections"] == 2 and sh.loc["a", "requests"] == 6
    assert sh.loc["a", "share"] == pytest.approx(0.5)
    assert sh.loc["d", "connections"] == 0 and sh.loc["d", "predicted"] == 0.25
    assert sh.loc["a", "node"] == "n1"
    ns = node_shares(log)
    assert ns.loc["n1", "connections"] == 3 and ns.loc["n2", "connections"] == 1
    with pytest.raises(KubelearnError, match="pod_node"):
        node_shares(log, "pod")


def test_chi_square_detects_skew_and_accepts_fair():
    fair = make_log(["a", "b"] * 500)
    skew = make_log(["a"] * 700 + ["b"] * 300)
    pred = pd.Series({"a": 0.5, "b": 0.5})
    assert chi_square(fair, pred).pvalue == pytest.approx(1.0)
    res = chi_square(skew, pred)
    assert res.pvalue < 1e-6 and res.dof == 1 and res.n == 1000
    assert "1000 connections" in str(res)
    with pytest.raises(KubelearnError, match="prediction gives no traffic: c"):
        chi_square(make_log(["a", "c"]), pred)


def test_stickiness_per_client():
    log = make_log(["a", "a", "a", "b", "b", "c"], clients=["x", "x", "x", "x", "y", "y"])
    st = stickiness(log)
    assert st.loc["x", "stickiness"] == pytest.approx(0.75) and st.loc["x", "top_pod"] == "a"
    assert st.loc["y", "stickiness"] == pytest.approx(0.5)


def test_errors_over_time_and_summary():
    log = make_log(["a", "", "b", ""], outcomes=["ok", "refused", "ok", "dropped"], times=[0.1, 0.5, 1.2, 1.9])
    e = errors_over_time(log, 1.0)
    assert e.loc[0.0, "refused"] == 1 and e.loc[1.0, "dropped"] == 1 and e.loc[1.0, "ok"] == 1
    assert e.to_numpy().sum() == 4
    table = summary(log)
    assert table.loc["(refused)", "connections"] == 1 and table.loc["(dropped)", "connections"] == 1
    with pytest.raises(KubelearnError, match="bin_seconds must be greater than 0"):
        errors_over_time(log, 0)
