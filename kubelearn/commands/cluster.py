"""``kubelearn get|describe|validate|env|dns``: look at the cluster the way kubectl shows it.

These commands answer "what does the cluster hold, and how does a pod find a Service?":

- ``get KIND [NAME]`` prints kubectl's tables (``-o wide|yaml|json|name`` too);
- ``describe service NAME`` joins a Service with its endpoints;
- ``apply`` applies the ``-f`` files to a new cluster as ``kubectl apply`` does: the API server's
  warnings (``Warning: ...`` on stderr), then ``service/web created`` per object;
- ``validate`` asks the API server (a server-side dry run) whether the ``-f`` files would apply
  (its warnings too, on stderr);
- ``env POD`` prints the environment the kubelet gives the pod's container;
- ``dns NAME`` shows every DNS query a pod's resolver sends for a name, and the answer.

Without ``-f`` they look at the embedded default scenario.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ..errors import KubelearnError

__all__ = ["register"]


def _cluster(args: argparse.Namespace) -> Any:
    from ._common import cluster_from_args

    return cluster_from_args(args)


def _get(args: argparse.Namespace) -> int:
    from ..kubectl import get

    out = get(_cluster(args), args.kind, args.name, namespace=args.namespace,
              all_namespaces=args.all_namespaces, output=args.output)
    if out.stderr:
        sys.stderr.write(out.stderr)
    sys.stdout.write(out.stdout)
    return 0


_DESCRIBABLE = {"service": "service", "services": "service", "svc": "service",
                "pod": "pod", "pods": "pod", "po": "pod"}


def _describe(args: argparse.Namespace) -> int:
    from ..kubectl import describe_pod, describe_service

    kind, name = args.kind, args.name
    if "/" in kind and name is None:
        kind, name = kind.split("/", 1)
    what = _DESCRIBABLE.get(kind.lower())
    if what is None:
        from ..cluster import kind_info

        kind_info(kind)  # unknown types get kubectl's "doesn't have a resource type" error
        raise KubelearnError(f"error: kubelearn describes services and pods only, not {kind!r}")
    if not name:
        raise KubelearnError("error: kubelearn describe needs a NAME (e.g. describe svc my-service)")
    cluster = _cluster(args)
    text = describe_service(cluster, name, args.namespace) if what == "service" else describe_pod(
        cluster, name, args.namespace)
    sys.stdout.write(text)
    return 0


def _validate(args: argparse.Namespace) -> int:
    from ..kind import dry_run

    if not args.filenames:
        # kubectl's wording when apply gets no files.
        raise KubelearnError("error: must specify one of -f and -k")
    from ._common import sources_from_args

    sources = sources_from_args(args)
    errors = dry_run(None, *sources, seed=args.seed)
    if errors:
        for err in errors:
            print(str(err), file=sys.stderr)
        return 1
    from ..responses import api_warnings

    for warning in api_warnings(None, *sources, seed=args.seed):
        print(f"Warning: {warning}", file=sys.stderr)
    print("valid")
    return 0


def _apply(args: argparse.Namespace) -> int:
    from ..responses import apply_output
    from ._common import sources_from_args

    if not args.filenames:
        raise KubelearnError("error: must specify one of -f and -k")
    _, lines = apply_output(None, *sources_from_args(args), seed=args.seed)
    for line in lines:  # as kubectl: an object's warnings on stderr, then its line on stdout
        if line.startswith("Warning: "):
            sys.stdout.flush()
            print(line, file=sys.stderr, flush=True)
        else:
            print(line)
    return 0


def _env(args: argparse.Namespace) -> int:
    from ..discovery.envvars import container_env

    env = container_env(_cluster(args), args.pod, namespace=args.namespace, container=args.container)
    for key in sorted(env):
        print(f"{key}={env[key]}")
    return 0


def _dns(args: argparse.Namespace) -> int:
    from ..discovery.dns import resolve

    result = resolve(_cluster(args), args.name, type=args.type, from_pod=args.from_pod, namespace=args.namespace)
    if args.output == "json":
        print(json.dumps(result.to_dict(), indent=2))
    else:
        print(str(result))
    return 0  # like dig: a negative answer is still an answer


def register(subparsers: Any, parents: list[argparse.ArgumentParser]) -> None:
    """Add ``get``, ``describe``, ``validate``, ``env`` and ``dns`` to the ``kubelearn`` command."""
    p = subparsers.add_parser("get", parents=parents, help="kubectl get: list objects as kubectl prints them",
                              description="Print objects as `kubectl get` does (tables, -o wide|yaml|json|name).")
    p.add_argument("kind", metavar="KIND", help="services|svc, pods|po, endpoints|ep, endpointslices, nodes|no, "
                   "deployments, replicasets, statefulsets, namespaces (or KIND/NAME)")
    p.add_argument("name", metavar="NAME", nargs="?", default=None)
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument("-A", "--all-namespaces", action="store_true")
    p.add_argument("-o", "--output", default="", choices=["", "wide", "yaml", "json", "name"])
    p.set_defaults(func=_get)

    p = subparsers.add_parser("describe", parents=parents, help="kubectl describe service|pod NAME",
                              description="Describe a Service (as `kubectl describe svc`) or, briefly, a Pod.")
    p.add_argument("kind", metavar="KIND", help="service|svc|pod, or KIND/NAME")
    p.add_argument("name", metavar="NAME", nargs="?", default=None)
    p.add_argument("-n", "--namespace", default="default")
    p.set_defaults(func=_describe)

    p = subparsers.add_parser("apply", parents=parents,
                              help="kubectl apply -f: the API server's warnings, then one line per object",
                              description="Apply the -f manifests to a new cluster as `kubectl apply` would: each "
                              "object's warnings (`Warning: ...`, stderr), then `KIND/NAME created` (stdout).")
    p.set_defaults(func=_apply)

    p = subparsers.add_parser("validate", parents=parents,
                              help="server-side dry run of the -f files: print 'valid' or every error",
                              description="Check the -f manifests as `kubectl apply --dry-run=server` would.")
    p.set_defaults(func=_validate)

    p = subparsers.add_parser("env", parents=parents, help="the environment variables a pod's container sees",
                              description="Print KEY=VALUE for the container's environment "
                              "(its env entries plus the kubelet's Service variables), sorted.")
    p.add_argument("pod", metavar="POD")
    p.add_argument("-n", "--namespace", default="default")
    p.add_argument("-c", "--container", default=None, help="container name (default: the first)")
    p.set_defaults(func=_env)

    p = subparsers.add_parser("dns", parents=parents, help="resolve a name as a pod would, query by query",
                              description="Resolve NAME with a pod's resolv.conf (search list, ndots:5) "
                              "against the cluster's CoreDNS. Without --from, a plain pod in -n NAMESPACE "
                              "(default: default) asks.")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--type", default="A", type=str.upper, choices=["A", "AAAA", "SRV", "PTR", "CNAME", "TXT"])
    p.add_argument("--from", dest="from_pod", metavar="POD", default=None,
                   help="the pod that asks (its dnsPolicy and dnsConfig apply)")
    p.add_argument("-n", "--namespace", default="default", help="the asking pod's namespace")
    p.add_argument("-o", "--output", default="text", choices=["text", "json"])
    p.set_defaults(func=_dns)
