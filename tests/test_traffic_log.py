"""The request log's files: CSV and Parquet keep every dtype and the run's attrs."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent / "data" / "traffic"))
import clusters as k  # noqa: E402

from kubelearn.errors import KubelearnError  # noqa: E402
from kubelearn.traffic import LOG_COLUMNS, cluster_ip, empty_log, pod_clients, read_log, simulate, workload, write_log  # noqa: E402
from kubelearn.traffic.log import memory_per_row  # noqa: E402


@pytest.fixture(scope="module")
def log():
    c = k.make_cluster(backends=[(1, 0), (2, 1)], service_obj=k.service(itp="Local"))
    wl = workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service"), connections=300,
                  requests_per_connection=2)
    return simulate(c, wl, seed=5)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_keeps_values_dtypes_attrs(tmp_path, log, suffix):
    path = write_log(log, tmp_path / f"run{suffix}")
    back = read_log(path)
    assert list(back.dtypes.astype(str)) == [c.dtype for c in LOG_COLUMNS.values()]
    pd.testing.assert_frame_equal(
        back.astype({c: str for c, col in LOG_COLUMNS.items() if col.dtype == "category"}),
        log.astype({c: str for c, col in LOG_COLUMNS.items() if col.dtype == "category"}))
    assert back.attrs["seed"] == 5 and back.attrs["workload"]["spec"]["connections"] == 300
    assert list(back["outcome"].cat.categories) == ["ok", "refused", "dropped", "reset", "nxdomain"]


def test_empty_log_and_memory():
    e = empty_log()
    assert list(e.columns) == list(LOG_COLUMNS) and len(e) == 0
    assert memory_per_row(e) == 0.0


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(KubelearnError, match="unsupported log file"):
        write_log(empty_log(), tmp_path / "x.xlsx")
    with pytest.raises(KubelearnError, match="does not exist"):
        read_log(tmp_path / "missing.csv")
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    with pytest.raises(KubelearnError, match="missing column"):
        read_log(tmp_path / "other.csv")


def test_every_column_is_documented():
    for name, col in LOG_COLUMNS.items():
        assert col.meaning and col.dtype in ("float64", "int64", "int32", "float32", "category"), name
