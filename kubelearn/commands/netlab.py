"""``kubelearn netlab``: run the cluster's rules in the real kernel, with real connections.

``kubelearn netlab run [-f PATH…] [--mode iptables|nftables] [--connections N] [-o log.csv]``
builds the namespace lab (root, Linux, ``ip`` and ``iptables`` needed), sends the workload
found in the ``-f`` files (a ``kubelearn.dev/v1alpha1`` ``Workload``) or N connections from
every node to the first Service's ClusterIP, prints where they went beside the simulator's
prediction, and tears the lab down.  ``kubelearn netlab cleanup`` removes the namespaces a
killed lab left behind (only those named ``klnl-<6 hex>-…``, and never a lab whose process
still runs, even while it is being built, unless ``--force``).

Everything is checked before the lab is built: the ``-o`` path, ``--timeout`` (above 0, at
most 60 s), ``--connections`` (at most 100,000 real connections).  A Ctrl-C during teardown
does not cut it short; if a namespace cannot be removed, the command to run is printed.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import Any

from .. import objects
from ..errors import KubelearnError

__all__ = ["register"]


def _workload(cluster: Any, connections: int | None) -> Any:
    objs = cluster.list("Workload")
    if not objs:
        return None
    from ..traffic.workload import from_object

    wl = from_object(objs[0])
    return wl.with_(connections=connections) if connections else wl


def _run(args: argparse.Namespace) -> int:
    from ..netlab import NetLab, compare, preflight
    from ..traffic.log import check_log_path
    from ._common import cluster_from_args

    if args.output:
        check_log_path(args.output)  # before the lab is built: a bad path costs nothing
    mode = args.mode
    preflight(mode or "iptables")
    cluster = cluster_from_args(args)
    mode = mode or cluster.proxy_mode
    preflight(mode)
    workload = _workload(cluster, args.connections)
    if workload is not None and workload.connections > MAX_LAB_CONNECTIONS:
        raise KubelearnError(f"error: the lab opens at most {MAX_LAB_CONNECTIONS:,} real connections in one run, "
                             f"not {workload.connections:,} (the Workload's spec.connections): use --connections")
    with NetLab(cluster, mode=mode, timeout=args.timeout) as lab:
        print(f"lab {lab.prefix} up in {lab.build_seconds:.2f}s: {len(lab.plan.nodes) if lab.plan else 0} nodes, "
              f"{len(lab.plan.pods) if lab.plan else 0} pods, kube-proxy mode {mode}", file=sys.stderr)
        if args.show_rules:
            for node in cluster.nodes():
                name = objects.name(node)
                print(f"# ---- {name}: read back from the kernel")
                print(lab.kernel_rules(name))
        if workload is None:
            workload = lab.default_workload(args.connections or 100)
        log = lab.run(workload, seed=args.seed)
    from ..traffic import simulate

    # The same seed gives the same connections the lab just replayed, and the model's answer.
    sim = simulate(cluster, workload, seed=args.seed, mode=mode)
    if args.output:
        from ..traffic.log import write_log

        write_log(log, args.output)  # atomically: an existing file is replaced only by a complete log
        print(f"wrote {len(log)} rows to {args.output}", file=sys.stderr)
    print(compare(sim, log))
    return 0


def _cleanup(args: argparse.Namespace) -> int:
    from ..netlab import cleanup
    from ..netlab.host import PreflightError, missing

    problems = [p for p in missing("iptables") if "iptables" not in p]
    if problems:
        raise PreflightError("kubelearn netlab cannot clean up here: " + "; ".join(problems))
    deleted = cleanup(args.prefix, force=args.force)
    for ns in deleted:
        print(f"deleted network namespace {ns}")
    if not deleted:
        print("nothing to clean up", file=sys.stderr)
    return 0


#: Real connections one lab run may open (kubelearn.netlab.lab.MAX_LAB_CONNECTIONS).
MAX_LAB_CONNECTIONS = 100_000
#: The longest a connection may wait for an answer (kubelearn.netlab.lab.MAX_TIMEOUT_SECONDS).
MAX_TIMEOUT_SECONDS = 60.0


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a positive integer") from None
    if n <= 0:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: expected a positive integer")
    if n > MAX_LAB_CONNECTIONS:
        raise argparse.ArgumentTypeError(f"invalid count {text!r}: at most {MAX_LAB_CONNECTIONS:,} real connections "
                                         "in one lab run")
    return n


def _timeout(text: str) -> float:
    try:
        t = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid timeout {text!r}: expected seconds, e.g. 0.5") from None
    if not math.isfinite(t) or not 0 < t <= MAX_TIMEOUT_SECONDS:
        raise argparse.ArgumentTypeError(f"invalid timeout {text!r}: must be greater than 0 and at most "
                                         f"{MAX_TIMEOUT_SECONDS:g} seconds")
    return t


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``kubelearn netlab run`` and ``kubelearn netlab cleanup``."""
    p = subparsers.add_parser("netlab", help="run the rules in real network namespaces (root, Linux)",
                              description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="netlab_command", metavar="ACTION")
    sub.required = True
    run = sub.add_parser("run", parents=parents, help="build the lab, send real connections, compare")
    run.add_argument("--mode", choices=("iptables", "nftables"), default=None,
                     help="kube-proxy mode (default: the cluster's)")
    run.add_argument("--connections", type=_positive, default=None, metavar="N",
                     help="connections to open, 1 to 100,000 (default: the workload's, or 100)")
    run.add_argument("--timeout", type=_timeout, default=0.5, metavar="SECONDS",
                     help="seconds before an unanswered connection counts as dropped, above 0 and at most 60 "
                     "(default 0.5)")
    run.add_argument("--show-rules", action="store_true", help="print each node's rules as the kernel holds them")
    run.add_argument("-o", "--output", metavar="PATH",
                     help="write the kernel's request log (.csv or .parquet); the path is checked before the lab is "
                     "built, and an existing file is replaced atomically, only by a complete new log")
    run.set_defaults(func=_run)
    clean = sub.add_parser("cleanup", help="remove namespaces left behind by crashed labs")
    clean.add_argument("--prefix", default=None, help="only this lab (klnl-<6 hex>-)")
    clean.add_argument("--force", action="store_true", help="also remove labs whose process still runs")
    clean.set_defaults(func=_cleanup)
