"""``kubelearn rules`` and ``kubelearn trace``: kube-proxy's rules on a node, and a packet's path.

``rules`` prints what kube-proxy programs on one node (iptables-restore input, iptables-save
output, the nftables table, or IPVS virtual servers); ``trace`` follows one new connection
through those rules and shows each rule it met, the endpoints it can reach with their
probabilities, and whether its source address is masqueraded.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..errors import KubelearnError


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add the ``rules`` and ``trace`` subcommands."""
    p = subparsers.add_parser("rules", parents=parents, help="print the kube-proxy rules of one node")
    p.add_argument("--node", required=True, help="node name")
    p.add_argument("--mode", choices=("iptables", "nftables", "ipvs"),
                   help="proxy mode (default: the cluster's KubeProxyConfiguration)")
    p.add_argument("--view", default="restore",
                   help="iptables: restore|save; nftables: list|input; ipvs: ipvsadm (default: restore)")
    p.set_defaults(func=_rules)

    t = subparsers.add_parser("trace", parents=parents, help="follow a new connection through kube-proxy's rules")
    t.add_argument("--node", required=True, help="node where the packet meets kube-proxy's rules")
    t.add_argument("--src", required=True, help="source IP (pod, node or external client)")
    t.add_argument("--dst", required=True, type=_dst, help="destination IP:PORT")
    t.add_argument("--protocol", default="TCP", choices=("TCP", "UDP", "SCTP"))
    t.add_argument("--mode", choices=("iptables", "nftables", "ipvs"))
    t.add_argument("-o", "--output", default="text", choices=("text", "json"))
    t.set_defaults(func=_trace)


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

    rs = rules(_cluster(args), args.node, mode=args.mode, view=args.view)
    print(str(rs), end="")
    return 0


def _trace(args: argparse.Namespace) -> int:
    from ..proxy import trace

    tr = trace(_cluster(args), args.node, args.src, args.dst, args.protocol, mode=args.mode)
    if args.output == "json":
        print(json.dumps(tr.to_dict(), indent=2))
    else:
        print(tr)
    return 0
