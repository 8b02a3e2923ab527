"""``kubelearn rules`` and ``kubelearn trace``: kube-proxy's rules on a node, and a packet's path.

``rules`` prints what kube-proxy programs on one node (iptables-restore input, iptables-save
output, the nftables table, or IPVS virtual servers); ``trace`` follows one new connection
through those rules and shows each rule it met, the endpoints it can reach with their
probabilities, and whether its source address is masqueraded.

Exit codes follow the CLI's rule: a malformed flag value (``--src x``, ``--dst nope``,
``--view bogus``, a view the chosen mode has no form for) is a usage error, exit 2 with
argparse's ``kubelearn trace: error: argument --src: …``; a question about the cluster it
cannot answer (an unknown node) exits 1 with kubectl's wording.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import KubelearnError


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``rules`` and ``trace`` subcommands."""
    p = subparsers.add_parser("rules", parents=parents, help="print the kube-proxy rules of one node")
    p.add_argument("--node", required=True, help="node name")
    p.add_argument("--mode", choices=("iptables", "nftables", "ipvs"),
                   help="proxy mode (default: the cluster's KubeProxyConfiguration)")
    p.add_argument("--view", default="restore", choices=ALL_VIEWS, metavar="VIEW",
                   help="iptables: restore|save; nftables: list|input; ipvs: ipvsadm (default: restore)")
    p.add_argument("--diff", metavar="FILE", help="compare a node's iptables-save/nft/ipvsadm dump with what "
                   "kube-proxy should program (exit 0 agree, 1 differ)")
    p.set_defaults(func=_rules, parser=p)

    t = subparsers.add_parser("trace", parents=parents, help="follow a new connection through kube-proxy's rules")
    t.add_argument("--node", help="node where the packet meets kube-proxy's rules (required without --rules-file)")
    t.add_argument("--src", required=True, type=_src, help="source IP (pod, node or external client)")
    t.add_argument("--dst", required=True, type=_dst, help="destination IP:PORT")
    t.add_argument("--protocol", default="TCP", type=str.upper, choices=("TCP", "UDP", "SCTP"))
    t.add_argument("--mode", choices=("iptables", "nftables", "ipvs"))
    t.add_argument("-o", "--output", default="text", choices=("text", "json"))
    t.add_argument("--rules-file", action="append", default=[], metavar="FILE",
                   help="trace through a node's own iptables-save/nft/ipvsadm dump instead of manifests (repeatable)")
    t.add_argument("--local-ip", dest="local_ips", action="append", default=[], metavar="IP", type=_local_ip,
                   help="with --rules-file: the node's own address (repeatable)")
    t.set_defaults(func=_trace, parser=t)


# Every view any mode has; which of them fits the mode is checked once the mode is known.
ALL_VIEWS = ("restore", "save", "list", "input", "ipvsadm")
# The views each mode accepts ("restore"/"save" stand for the one text view of nftables/IPVS).
_MODE_VIEWS = {"iptables": ("restore", "save"), "nftables": ("restore", "save", "list", "input"),
               "ipvs": ("restore", "save", "ipvsadm")}


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    # What parser.error() prints, returned as exit code 2 instead of raising SystemExit.
    parser.print_usage(sys.stderr)
    print(f"{parser.prog}: error: {message}", file=sys.stderr)
    return 2


def _src(value: str) -> str:
    from ..proxy.trace import parse_ip

    try:
        parse_ip(value, "source address")
    except KubelearnError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _local_ip(value: str) -> str:
    from .dumps import _local_ip as check

    return check(value)


def _dst(value: str) -> str:
    from ..proxy.trace import parse_dst

    try:
        parse_dst(value)
    except KubelearnError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return value


def _cluster(args: argparse.Namespace) -> Any:
    from ..cli import cluster_from_args

    return cluster_from_args(args)


def _rules(args: argparse.Namespace) -> int:
    from ..proxy import rules

    if args.diff:
        from .dumps import diff_command

        return diff_command(args)
    cluster = _cluster(args)
    mode = args.mode or cluster.proxy_mode
    if mode in _MODE_VIEWS and args.view not in _MODE_VIEWS[mode]:
        shown = " or ".join(v for v in _MODE_VIEWS[mode] if v not in ("restore", "save") or mode == "iptables")
        return _usage_error(args.parser, f'argument --view: view "{args.view}" does not exist in {mode} mode '
                                         f"(use {shown})")
    rs = rules(cluster, args.node, mode=args.mode, view=args.view)
    for warning in getattr(rs, "warnings", ()):  # kube-proxy's own start-up warnings (its log)
        print(f"kube-proxy warning: {warning}", file=sys.stderr)
    print(str(rs), end="")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from ..proxy import trace

    if args.rules_file:
        if args.filenames or args.node or args.mode:
            return _usage_error(args.parser, "argument --rules-file: not allowed with -f, --node or --mode "
                                             "(the dump is the node)")
        from .dumps import trace_command

        return trace_command(args)
    if args.local_ips:
        return _usage_error(args.parser, "argument --local-ip: only with --rules-file")
    if not args.node:
        return _usage_error(args.parser, "the following arguments are required: --node")
    tr = trace(_cluster(args), args.node, args.src, args.dst, args.protocol, mode=args.mode)
    if args.output == "json":
        print(json.dumps(tr.to_dict(), indent=2))
    else:
        print(tr)
    return 0
