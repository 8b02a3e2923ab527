"""``kubelearn simulate``: send connections through the model and print where they landed.

Without ``-f`` the embedded default scenario is used (the tutorial's ``my-service`` with three
replicas) and 1,000 connections come from pods spread over the nodes, dialling the Service by
name.  A ``Workload`` document among the ``-f`` files (kind ``Workload``, apiVersion
``kubelearn.dev/v1alpha1``) says who sends what instead; ``--connections`` and
``--requests-per-connection`` override its counts (bounded: at most 10,000,000 connections,
10,000 requests per connection and 10,000,000 requests in all, as for a Workload document).
``-o FILE.csv`` or ``-o FILE.parquet`` saves the full request log; the path is checked before
the run and an existing file is replaced atomically (:func:`kubelearn.traffic.log.write_log`).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ..errors import KubelearnError

__all__ = ["register"]


# The bounds of kubelearn.traffic.workload (MAX_CONNECTIONS, MAX_REQUESTS_PER_CONNECTION), written
# out here so that building the parser does not import pandas; a test keeps them in step.
MAX_CONNECTIONS = 10_000_000
MAX_REQUESTS_PER_CONNECTION = 10_000
MAX_REQUESTS = 10_000_000


def _bounded(limit: int) -> Any:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: '{text}'") from None
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be greater than 0, not {value}")
        if value > limit:
            raise argparse.ArgumentTypeError(f"must be at most {limit:,}, not {value:,} "
                                             "(a bound that keeps one run's memory and time in check)")
        return value

    return parse



def _log_file(text: str) -> str:
    """``-o``: the suffix says the format; anything else is a usage error (exit 2)."""
    if Path(text).suffix.lower() not in (".csv", ".parquet", ".pq"):
        raise argparse.ArgumentTypeError(f'unsupported log file "{text}": use a .csv or .parquet file name')
    return text


def _simulate(args: argparse.Namespace) -> int:
    from ..traffic.analysis import summary
    from ..traffic.log import check_log_path, write_log
    from ..traffic.simulate import default_workload, predicted_shares, simulate
    from ._common import cluster_from_args

    if args.output:
        check_log_path(args.output)  # before any work: a bad path costs nothing
    if (args.connections or 0) * (args.requests_per_connection or 1) > MAX_REQUESTS:
        raise KubelearnError(f"error: --connections x --requests-per-connection must be at most {MAX_REQUESTS:,} "
                             f"requests, not {args.connections * (args.requests_per_connection or 1):,}")
    cluster = cluster_from_args(args)
    wl = default_workload(cluster)
    changes: dict[str, Any] = {}
    if args.connections is not None:
        changes["connections"] = args.connections
    if args.requests_per_connection is not None:
        changes["requests_per_connection"] = args.requests_per_connection
    if changes:
        wl = wl.with_(**changes)
    log = simulate(cluster, wl, seed=args.seed)
    try:
        predicted = predicted_shares(cluster, wl)
    except KubelearnError:
        predicted = None
    why = predicted.attrs.get("unpredictable", "") if predicted is not None else ""
    table = summary(log, predicted)
    shown = table.copy()
    shown["share"] = [f"{v:.1%}" if isinstance(v, float) else v for v in shown["share"]]
    if "predicted" in shown:
        # NaN: the model makes no prediction for this workload (said below the table)
        shown["predicted"] = [("n/a" if math.isnan(v) else f"{v:.1%}") if isinstance(v, float) else v
                              for v in shown["predicted"]]
    target = next(iter(wl.target.items()))
    print(f"{wl.connections} connections x {wl.requests_per_connection} requests, "
          f"mode {log.attrs.get('mode')}, target {target[0]} {target[1]}, seed {args.seed}")
    print(shown.to_string())
    if why:
        print(f"predicted: n/a, {why}")
    if args.output:
        path = write_log(log, args.output)
        print(f"request log written to {path}")
    return 0


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``kubelearn simulate``."""
    p = subparsers.add_parser("simulate", parents=parents, help="simulate traffic and summarise it per pod",
                              description="Send connections through the cluster's kube-proxy rules and print where they landed, per pod. "
                              "Without -f: the embedded my-service scenario, 1,000 connections from pods "
                              "spread over the nodes; a Workload document among the -f files says who sends "
                              "what instead.")
    p.add_argument("--connections", type=_bounded(MAX_CONNECTIONS), default=None, metavar="N",
                   help="number of connections, 1 to 10,000,000 (default: the workload's, else 1000)")
    p.add_argument("--requests-per-connection", type=_bounded(MAX_REQUESTS_PER_CONNECTION), default=None,
                   metavar="K", help="keep-alive requests per connection, 1 to 10,000 (default 1); "
                   "N x K at most 10,000,000 requests")
    p.add_argument("-o", "--output", type=_log_file, default=None, metavar="FILE",
                   help="save the request log as FILE.csv (attrs in FILE.csv.attrs.json) or FILE.parquet; "
                   "the path is checked before the run, and an existing file is replaced atomically, "
                   "only by a complete new log (an interrupted write leaves it as it was)")
    p.set_defaults(func=_simulate)
