"""Clients: the pods, nodes and outside hosts a workload names, and where each one sends from.

A connection's fate starts with its client: a pod's packets meet the rules of the node the pod
runs on, a node's own packets meet its ``nat OUTPUT`` hook, an outside host's packets arrive at
whichever node they are routed to.  :func:`resolve_clients` turns a workload's ``clients``
(selectors, names, CIDRs) into concrete :class:`Client` values, in order; connections are
spread over them in turn.
"""

from __future__ import annotations

import ipaddress
import json
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import objects
from ..cluster import Cluster
from .events import _stable
from .workload import Workload, WorkloadError

__all__ = ["Client", "labels_match", "pod_ready_ip", "resolve_clients", "stream"]


@dataclass(frozen=True)
class Client:
    """One traffic source: ``kind`` pod/node/external, its IP, its node (``""`` for external)."""

    name: str
    kind: str
    ip: str
    node: str
    namespace: str = "default"
    via_node: str = ""  # external clients: the node their ClusterIP/externalIP traffic is routed to


def labels_match(selector: dict[str, str], labels: dict[str, str]) -> bool:
    """Whether ``labels`` carry every ``key: value`` of an equality selector."""
    return all(labels.get(k) == v for k, v in selector.items())


def pod_ready_ip(pod: dict[str, Any]) -> str:
    """The pod's IP (``""`` before it has one)."""
    return str((pod.get("status") or {}).get("podIP") or "")


def stream(cluster: Cluster, seed: int, what: str) -> np.random.Generator:
    """The random numbers for one part of a run (``what``), from the cluster's seed and the run's.

    Separate streams keep the parts independent: a change to how DNS answers are drawn does not
    move where connections land.
    """
    return np.random.default_rng([cluster.seed & 0xFFFFFFFF, seed & 0xFFFFFFFF, _stable(what)])


#: resolved clients per cluster value (clusters are immutable and compared by identity, so a
#: weak-keyed cache is exact and goes away with the cluster): simulate and predicted_shares share it
_RESOLVED: weakref.WeakKeyDictionary[Cluster, dict[str, list[Client]]] = weakref.WeakKeyDictionary()


def resolve_clients(cluster: Cluster, wl: Workload) -> list[Client]:
    """The concrete clients a workload names, in order.

    Raises:
        WorkloadError: when a selector matches nothing or a named pod/node does not exist.
    """
    key = json.dumps(list(wl.clients), sort_keys=True, default=str)
    known = _RESOLVED.setdefault(cluster, {})
    if key not in known:
        known[key] = _resolve(cluster, wl)
    return list(known[key])


def _resolve(cluster: Cluster, wl: Workload) -> list[Client]:
    out: list[Client] = []
    node_names = [objects.name(n) for n in cluster.nodes()]
    workers = [objects.name(n) for n in cluster.nodes() if not objects.is_control_plane(n)]
    for i, src in enumerate(wl.clients):
        kind, spec = next(iter(src.items()))
        if kind == "pods":
            ns = spec.get("namespace", "default")
            if "names" in spec:
                chosen = [cluster.get("Pod", n, ns) for n in spec["names"]]
            else:
                chosen = [p for p in cluster.pods(ns)
                          if labels_match(spec.get("selector") or {}, p["metadata"].get("labels") or {})
                          and "deletionTimestamp" not in p["metadata"]]
            chosen = [p for p in chosen if pod_ready_ip(p) and (p.get("spec") or {}).get("nodeName")]
            if not chosen:
                raise WorkloadError(f"error: spec.clients[{i}].pods: no running pods match in namespace {ns}")
            for p in chosen:
                out.append(Client(objects.name(p), "pod", pod_ready_ip(p), p["spec"]["nodeName"], ns))
        elif kind == "nodes":
            names = list(spec) or node_names
            for n in names:
                out.append(Client(n, "node", cluster.node_ip(n), n))
        else:
            net = ipaddress.ip_network(str(spec["cidr"]), strict=False)
            via = spec.get("node") or (workers[0] if workers else (node_names[0] if node_names else ""))
            if spec.get("node"):
                cluster.get("Node", spec["node"])
            first = int(net.network_address) + (1 if net.num_addresses > 2 else 0)
            for j in range(int(spec.get("count", 1))):
                a = first + j
                ip = (f"{a >> 24 & 255}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}" if net.version == 4
                      else str(ipaddress.ip_address(a)))
                out.append(Client(ip, "external", ip, "", via_node=via))
    return out
