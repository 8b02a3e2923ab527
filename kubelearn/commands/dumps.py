"""``kubelearn explain-rules``, ``trace --rules-file`` and ``rules --diff``: a real node's dump.

``explain-rules FILE`` reads a node's ``iptables-save``, ``nft list ruleset`` or ``ipvsadm -Ln``
(+ ``ipset list`` + ``iptables-save``) output and lists the Services in it; ``trace
--rules-file FILE`` follows a new connection through that dump; ``rules --diff FILE -f
MANIFESTS --node NODE`` compares it with what kube-proxy should program for the cluster state
(exit 0 when they agree, 1 when they differ).  See :mod:`kubelearn.proxy.read`.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import KubelearnError


def _local_ip(value: str) -> str:
    from ..proxy.read import _check_ip

    try:
        return _check_ip(value)
    except KubelearnError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``explain-rules`` subcommand."""
    del parents  # explain-rules reads a dump, not manifests
    p = subparsers.add_parser("explain-rules", help="list the Services in a node's iptables-save/nft/ipvsadm dump")
    p.add_argument("file", metavar="FILE", help="a node's iptables-save, nft list ruleset or ipvsadm -Ln output")
    p.add_argument("--local-ip", dest="local_ips", action="append", default=[], type=_local_ip, metavar="IP",
                   help="the node's own address (repeatable)")
    p.add_argument("-o", "--output", default="text", choices=("text", "json"))
    p.set_defaults(func=explain_command)


def explain_command(args: argparse.Namespace) -> int:
    """``kubelearn explain-rules FILE [-o json]``."""
    from ..proxy.read import read_rules_file

    nr = read_rules_file(args.file, args.local_ips)
    reports = nr.explain()
    if args.output == "json":
        print(json.dumps([r.to_dict() for r in reports], indent=2))
        return 0
    head = f"{args.file}: kube-proxy in {nr.mode} mode"
    if nr.backend:
        head += f" (iptables {nr.backend} back end)"
    print(head + f"; {len(reports)} Service port(s)")
    for r in reports:
        print()
        print(r)
    if nr.foreign:
        print()
        print(f"other software's chains/tables ({len(nr.foreign)}): " + ", ".join(nr.foreign[:12])
              + (" …" if len(nr.foreign) > 12 else ""))
    for w in nr.warnings:
        print(f"warning: {w}")
    return 0


def trace_command(args: argparse.Namespace) -> int:
    """``kubelearn trace --rules-file FILE --src IP --dst IP:PORT``."""
    from ..proxy.read import read_rules_file

    nr = read_rules_file(args.rules_file, args.local_ips)
    tr = nr.trace(args.src, args.dst, args.protocol)
    if args.output == "json":
        print(json.dumps(tr.to_dict(), indent=2))
    else:
        print(tr)
    return 0


def diff_command(args: argparse.Namespace) -> int:
    """``kubelearn rules --diff FILE -f MANIFESTS --node NODE``: exit 0 agree, 1 differ, 2 trouble.

    As ``kubectl diff`` and ``diff(1)`` do, an error (a file that is not a dump, an unknown node, a
    manifest the API server refuses) exits above 1, so a script can tell "differs" from "failed".
    """
    import sys

    from ..errors import KubelearnError
    from ..proxy.read import diff_rules, read_rules_file
    from ..proxy.read.diff import snapshot_cluster
    from ._common import cluster_from_args

    try:
        nr = read_rules_file(args.diff, getattr(args, "local_ips", []) or [])
        # A kubectl export's EndpointSlices are the state kube-proxy synced from: taken as they are.
        cluster = snapshot_cluster(*args.filenames, seed=args.seed) if args.filenames else cluster_from_args(args)
        d = diff_rules(nr, cluster, args.node)
    except KubelearnError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    print(d)
    return 0 if d.agree else 1
