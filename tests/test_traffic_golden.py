"""The same seed gives the same request log as before the engine was made faster.

The digests below were computed with the engine of commit 4b00cee (before the speed-ups of
issue 11's follow-up) for the six paths of ``benchmarks/bench_simulate.py``; every later
optimisation must leave them unchanged.  A digest covers every column: names, dtypes,
categories and codes, and the bytes of the numeric columns, of the schema-1 columns the
digests were made with (the zone columns of schema 2, empty on these zoneless clusters, are
tested in ``test_traffic_zones.py``).  (A change that is *meant* to
change results updates them, and says why in its commit.)
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from kubelearn.kind import load
from kubelearn.scenarios import default_scenario, scenario_path
from kubelearn.traffic import simulate
from kubelearn.traffic.log import ADDED_IN
from kubelearn.traffic.simulate import default_workload

ROOT = Path(__file__).resolve().parents[1]

#: path → (connections, digest of the log with seed 0); the rollout's events start at 100 s (1,000 connections a second)
GOLDEN: dict[str, tuple[int, str]] = {
    "clusterip": (20_000, "c12c575a947dbba1503e6646dd23f6c2ddce4ed9832073e1d6aaac72a63dccab"),
    "dns": (20_000, "7ec7c8cc2b589fbbd0701f625d2130c8c23ce50c9b0fd79bdb3573746e5d6101"),
    "nodeport-local": (20_000, "13a8006c48c67dff89521e4a7b4b9b0d1a9e3b4bcb448e34261726639370001d"),
    "affinity": (30_000, "a015d10fc46ff931c8f087adfea535ed02b4225e80a348e1d709868ff01988f2"),
    "headless-random": (20_000, "098352895b7ded6dae8d8a9630cc6eeace4b3933cf10a8f55df145638c28db71"),
    "rollout": (600_000, "12210daf523554505c46f76077a3be5711841753c50105dcd2d086d0a4f1e464"),
}


def bench_paths() -> dict[str, tuple[list[str], list[str]]]:
    spec = importlib.util.spec_from_file_location("bench_simulate", ROOT / "benchmarks" / "bench_simulate.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.PATHS  # type: ignore[no-any-return]


def log_digest(log: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for name in log.columns:
        if name in ADDED_IN:
            continue
        col = log[name]
        h.update(f"{name}:{col.dtype}\0".encode())
        if isinstance(col.dtype, pd.CategoricalDtype):
            h.update("\0".join(map(str, col.cat.categories)).encode())
            h.update(col.cat.codes.to_numpy().astype(np.int64).tobytes())
        else:
            h.update(np.ascontiguousarray(col.to_numpy()).tobytes())
    return h.hexdigest()


def run(name: str, connections: int, tmp: Path) -> pd.DataFrame:
    scenarios, docs = bench_paths()[name]
    files = [str(scenario_path(s)) for s in scenarios]
    for j, doc in enumerate(docs):
        f = tmp / f"{name}-{j}.yaml"
        f.write_text(doc)
        files.append(str(f))
    c = load(*files) if files else default_scenario()
    return simulate(c, default_workload(c, connections=connections), seed=0, progress=False)


@pytest.mark.parametrize("name", list(GOLDEN))
def test_same_seed_same_log(name: str, tmp_path: Path) -> None:
    connections, digest = GOLDEN[name]
    assert log_digest(run(name, connections, tmp_path)) == digest


if __name__ == "__main__":  # print the digests of the engine on the path (to fill GOLDEN)
    import tempfile

    sizes = {"clusterip": 20_000, "dns": 20_000, "nodeport-local": 20_000, "affinity": 30_000,
             "headless-random": 20_000, "rollout": 600_000}
    with tempfile.TemporaryDirectory() as d:
        for key, n in sizes.items():
            print(f'    "{key}": ({n:_}, "{log_digest(run(key, n, Path(d)))}"),')
    sys.exit(0)
