"""The scheduler and the kubelet: where a pod runs and which IP it gets.

A new pod has no ``spec.nodeName``.  The **scheduler** drops the nodes it may not use: cordoned
(``spec.unschedulable``), tainted without a matching toleration (the control plane's
``node-role.kubernetes.io/control-plane:NoSchedule`` keeps ordinary pods on the workers;
CoreDNS tolerates it), not matching ``nodeSelector``/node affinity, or full (``maxPods``).
If none is left the pod stays ``Pending`` with ``PodScheduled: False``, reason
``Unschedulable`` and the scheduler's ``0/3 nodes are available: …`` message.  Otherwise the
node with the fewest pods wins, ties by name (a simplification of the default scorers, which
spread pods evenly on a small cluster too).

The node's **kubelet** then starts the pod with an IP from kindnet's ``host-local`` IPAM over
the node's ``spec.podCIDR``: it skips the network address and the gateway ``.1``, so on
``kind-worker`` (``10.244.1.0/24``) the first pod gets ``10.244.1.2``; it hands addresses out
round-robin after the last one reserved (kept in the node annotation
:data:`LAST_RESERVED_IP_ANNOTATION`, a kubelearn addition), so a freed IP comes back only
after the range wraps.
"""

from __future__ import annotations

import copy
import ipaddress
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .. import objects
from .pods import is_terminal, is_terminating, store

if TYPE_CHECKING:  # the value is passed in; importing it would close a cycle (see docs/design.md)
    from ..cluster import Cluster

__all__ = [
    "DEFAULT_MAX_PODS",
    "LAST_RESERVED_IP_ANNOTATION",
    "allocate_pod_ip",
    "feasible_nodes",
    "is_node_ready",
    "max_pods",
    "node_taints",
    "pod_tolerates",
    "running_status",
    "schedule",
    "unschedulable_message",
]

#: Where kubelearn keeps host-local's ``last_reserved_ip.0`` for each node.
LAST_RESERVED_IP_ANNOTATION = "kubelearn.dev/host-local-last-reserved-ip"

#: The kubelet's default ``maxPods`` (kind does not change it); a node's
#: ``status.allocatable.pods`` overrides it.
DEFAULT_MAX_PODS = 110

# Filter plugin messages (pkg/scheduler/framework/plugins/...).
_UNSCHEDULABLE = "node(s) were unschedulable"
_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
_TOO_MANY_PODS = "Too many pods"


def is_node_ready(node: Mapping[str, Any]) -> bool:
    """Whether the node's ``Ready`` condition is ``"True"``."""
    for cond in objects.status(node).get("conditions") or ():
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return True  # a hand-written node without conditions counts as healthy


def node_taints(node: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The node's taints, plus the ones the node lifecycle controller would add right away
    (``node.kubernetes.io/not-ready`` for a node that is not Ready, ``…/unschedulable`` for a
    cordoned one) when they are missing from a hand-written node."""
    taints = [dict(t) for t in objects.spec(node).get("taints") or ()]
    keys = {t.get("key") for t in taints}
    if not is_node_ready(node) and not keys & {"node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"}:
        taints.append({"key": "node.kubernetes.io/not-ready", "effect": "NoSchedule"})
    if objects.spec(node).get("unschedulable") and "node.kubernetes.io/unschedulable" not in keys:
        taints.append({"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"})
    return taints


def _tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key")
    op = toleration.get("operator", "Equal")
    if not key:
        return op == "Exists"  # an empty key with Exists tolerates everything
    if key != taint.get("key"):
        return False
    if op == "Exists":
        return True
    return str(toleration.get("value", "")) == str(taint.get("value", ""))


def pod_tolerates(pod: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether one of the pod's tolerations matches the taint."""
    return any(_tolerates(t, taint) for t in objects.spec(pod).get("tolerations") or ())


def _expr_matches(expr: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    key, op, values = expr["key"], expr["operator"], [str(v) for v in expr.get("values") or ()]
    if op == "In":
        return key in labels and labels[key] in values
    if op == "NotIn":
        return key not in labels or labels[key] not in values
    if op == "Exists":
        return key in labels
    if op == "DoesNotExist":
        return key not in labels
    if op in ("Gt", "Lt"):
        try:
            have, want = int(labels[key]), int(values[0])
        except (KeyError, ValueError, IndexError):
            return False
        return have > want if op == "Gt" else have < want
    return False


def _matches_node_selection(pod: Mapping[str, Any], node: Mapping[str, Any]) -> bool:
    labels = node.get("metadata", {}).get("labels") or {}
    spec = objects.spec(pod)
    for k, v in (spec.get("nodeSelector") or {}).items():
        if labels.get(k) != v:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    terms = required.get("nodeSelectorTerms")
    if terms:
        # Terms are ORed; expressions inside one term are ANDed.  matchFields supports metadata.name.
        def term_ok(term: Mapping[str, Any]) -> bool:
            if not all(_expr_matches(e, labels) for e in term.get("matchExpressions") or ()):
                return False
            fields = {"metadata.name": objects.name(node)}
            return all(_expr_matches(e, fields) for e in term.get("matchFields") or ())

        if not any(term_ok(t) for t in terms):
            return False
    return True


def max_pods(node: Mapping[str, Any]) -> int:
    """How many pods the node's kubelet accepts (``status.allocatable.pods``, default 110)."""
    try:
        return int(objects.status(node).get("allocatable", {}).get("pods", DEFAULT_MAX_PODS))
    except (TypeError, ValueError):
        return DEFAULT_MAX_PODS


def _filter(pod: Mapping[str, Any], node: Mapping[str, Any], pods_on_node: int = 0) -> str | None:
    """The first failing filter plugin's reason for one node, or ``None`` if the pod fits.

    The plugins run in the default profile's order: NodeUnschedulable, NodeName,
    TaintToleration, NodeAffinity, NodeResourcesFit (only its pod count is modelled: pods
    declare no resource requests here).
    """
    spec = objects.spec(node)
    if spec.get("unschedulable") and not pod_tolerates(pod, {"key": "node.kubernetes.io/unschedulable",
                                                             "effect": "NoSchedule"}):
        return _UNSCHEDULABLE
    for taint in node_taints(node):
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if taint.get("key") == "node.kubernetes.io/unschedulable":
            continue  # NodeUnschedulable already judged it
        if not pod_tolerates(pod, taint):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    if not _matches_node_selection(pod, node):
        return _AFFINITY
    if pods_on_node >= max_pods(node):
        return _TOO_MANY_PODS
    return None


def feasible_nodes(cluster: Cluster, pod: Mapping[str, Any],
                   load: Mapping[str, int] | None = None,
                   nodes: Iterable[dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The nodes the pod may run on, and for the others why not (node name → reason).

    Args:
        cluster: the cluster.
        pod: the pod to place.
        load: pods already bound to each node (counted from the cluster when omitted).
        nodes: the cluster's nodes, when the caller already has them (listing them again for
            every pod would make scheduling *n* pods cost *n* × the size of the cluster).
    """
    if load is None:
        counts: dict[str, int] = {}
        for p in cluster.pods():
            bound = objects.node_name(p)
            if bound and not is_terminal(p):
                counts[bound] = counts.get(bound, 0) + 1
        load = counts
    ok, why = [], {}
    for node in (cluster.nodes() if nodes is None else nodes):
        reason = _filter(pod, node, load.get(objects.name(node), 0))
        if reason is None:
            ok.append(node)
        else:
            why[objects.name(node)] = reason
    return ok, why


def _histogram(reasons: list[str]) -> str:
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    return ", ".join(sorted(f"{n} {reason}" for reason, n in counts.items()))


def unschedulable_message(total: int, reasons: Mapping[str, str]) -> str:
    """The scheduler's FitError text: ``0/N nodes are available: <count> <reason>, ….``
    (reasons sorted as strings) plus the preemption summary.

    Taints, cordons and selectors are "unresolvable" (``Preemption is not helpful for
    scheduling``); a full node could be freed by preempting lower-priority pods, but all
    pods here have the same priority (``No preemption victims found for incoming pod``).
    """
    head = f"0/{total} nodes are available"
    hist = _histogram(list(reasons.values()))
    text = head + (": " + hist if hist else "") + "."
    preemption = _histogram(["No preemption victims found for incoming pod" if r == _TOO_MANY_PODS
                             else "Preemption is not helpful for scheduling" for r in reasons.values()])
    return text + f" preemption: {head}" + (": " + preemption if preemption else "") + "."


def _node_pod_cidr(cluster: Cluster, node: Mapping[str, Any]) -> str | None:
    cidr = objects.spec(node).get("podCIDR")
    if cidr:
        return str(cidr)
    for spec in cluster.topology.nodes:
        if spec.name == objects.name(node):
            return spec.pod_cidr
    return None


def allocate_pod_ip(cluster: Cluster, node: Mapping[str, Any], in_use: set[str]) -> str | None:
    """host-local's next free address in the node's podCIDR, or ``None`` when it is full.

    The usable range is ``.2`` (after the network address and the gateway ``.1``) up to the
    address before broadcast; the search starts after the node's last reserved IP and wraps.
    """
    cidr = _node_pod_cidr(cluster, node)
    if cidr is None:
        return None
    net = ipaddress.ip_network(cidr, strict=False)
    first = int(net.network_address) + 2
    last = int(net.broadcast_address) - 1
    if last < first:
        return None
    size = last - first + 1
    previous = node.get("metadata", {}).get("annotations", {}).get(LAST_RESERVED_IP_ANNOTATION)
    start = first
    if previous:
        prev = int(ipaddress.ip_address(previous))
        if first <= prev <= last:
            start = prev + 1 if prev < last else first
    for i in range(size):
        candidate = str(ipaddress.ip_address(first + (start - first + i) % size))
        if candidate not in in_use:
            return candidate
    return None


def _node_ip(node: Mapping[str, Any]) -> str:
    for addr in objects.status(node).get("addresses") or ():
        if addr.get("type") == "InternalIP":
            return str(addr["address"])
    return ""


def running_status(pod: Mapping[str, Any], pod_ip: str, host_ip: str, now: str, ready: bool = True) -> dict[str, Any]:
    """The status the kubelet reports for a started pod.

    Conditions are in the kubelet's order (PodReadyToStartContainers, Initialized, Ready,
    ContainersReady, PodScheduled); ``ready=False`` gives the ``ContainersNotReady`` reason a
    failing readiness probe produces.
    """
    spec = objects.spec(pod)
    names = [c["name"] for c in spec.get("containers") or ()]
    status = dict(pod.get("status") or {})
    status["conditions"] = pod_conditions(names, now, ready)
    status["containerStatuses"] = [
        {
            "image": c.get("image", ""),
            "lastState": {},
            "name": c["name"],
            "ready": ready,
            "restartCount": 0,
            "started": True,
            "state": {"running": {"startedAt": now}},
        }
        for c in sorted(spec.get("containers") or (), key=lambda c: c["name"])
    ]
    status["hostIP"] = host_ip
    status["hostIPs"] = [{"ip": host_ip}]
    status["phase"] = "Running"
    status["podIP"] = pod_ip
    status["podIPs"] = [{"ip": pod_ip}]
    status.setdefault("qosClass", "BestEffort")
    status["startTime"] = now
    return status


def pod_conditions(container_names: list[str], now: str, ready: bool) -> list[dict[str, Any]]:
    """The five pod conditions of a running pod, Ready or not."""

    def cond(ctype: str, ok: bool = True) -> dict[str, Any]:
        c: dict[str, Any] = {"lastProbeTime": None, "lastTransitionTime": now, "status": "True" if ok else "False",
                             "type": ctype}
        if not ok:
            c["message"] = f"containers with unready status: [{' '.join(container_names)}]"
            c["reason"] = "ContainersNotReady"
        return c

    return [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready", ready),
            cond("ContainersReady", ready), cond("PodScheduled")]


def _constraints_key(pod: Mapping[str, Any]) -> str:
    """What the filter plugins read from a pod (selector, affinity, tolerations), as a key."""
    spec = objects.spec(pod)
    return json.dumps([spec.get("nodeSelector"), spec.get("affinity"), spec.get("tolerations")],
                      sort_keys=True, default=str)


def schedule(cluster: Cluster) -> Cluster:
    """Bind every unscheduled pod to a node and start every bound pod that has no IP yet.

    Pods are taken in creation order.  A pod that fits nowhere keeps ``phase: Pending`` and
    gets the ``PodScheduled`` ``False``/``Unschedulable`` condition; it is retried on every
    reconcile (after an uncordon, say).
    """
    nodes = {objects.name(n): n for n in cluster.nodes()}
    load: dict[str, int] = dict.fromkeys(nodes, 0)
    used_ips: dict[str, set[str]] = {name: set() for name in nodes}
    pending: list[dict[str, Any]] = []
    for pod in cluster.pods():
        node_name = objects.node_name(pod)
        if node_name in load and not is_terminal(pod):
            load[node_name] += 1
            if objects.pod_ip(pod) and not objects.spec(pod).get("hostNetwork"):
                used_ips[node_name].add(pod["status"]["podIP"])
        if not objects.pod_ip(pod) and not is_terminating(pod) and not is_terminal(pod):
            pending.append(pod)
    if not pending:
        return cluster
    now = cluster.timestamp()
    node_list = list(nodes.values())
    node_updates: dict[str, dict[str, Any]] = {}
    pod_updates = []
    # Binding a pod only ever adds load, so once a pod with given scheduling constraints fits
    # nowhere, every later pod with the same constraints fits nowhere either, for the same
    # reasons: remember the verdict instead of filtering every node again.  With 10 000
    # replicas on two workers (110 pods each) this keeps the ~9 780 Pending pods cheap.
    unschedulable: dict[str, str] = {}
    for pod in pending:
        spec = objects.spec(pod)
        if not spec.get("nodeName"):
            if spec.get("schedulerName", "default-scheduler") != "default-scheduler":
                continue  # another scheduler's pod: the default scheduler leaves it alone
            constraints = _constraints_key(pod)
            message = unschedulable.get(constraints)
            ok: list[dict[str, Any]] = []
            if message is None:
                ok, why = feasible_nodes(cluster, pod, load, node_list)
                if not ok:
                    message = unschedulable[constraints] = unschedulable_message(len(nodes), why)
            if message is not None:
                old = [c for c in objects.status(pod).get("conditions") or () if c.get("type") == "PodScheduled"]
                if old and old[0].get("message") == message and old[0].get("reason") == "Unschedulable" \
                        and len(pod["status"]["conditions"]) == 1 and pod["status"].get("phase") == "Pending":
                    continue  # already says so: nothing to store
                cond = {"lastProbeTime": None, "lastTransitionTime": now,
                        "message": message, "reason": "Unschedulable",
                        "status": "False", "type": "PodScheduled"}
                if old and old[0].get("message") == cond["message"]:
                    cond["lastTransitionTime"] = old[0].get("lastTransitionTime", now)
                # A shallow copy is enough: only status is replaced, and storing copies anyway.
                new = dict(pod)
                new["status"] = {**(pod.get("status") or {}), "phase": "Pending", "conditions": [cond]}
                pod_updates.append(new)
                continue
        new = copy.deepcopy(pod)
        node_name = new["spec"].get("nodeName")
        if not node_name:
            best = min(ok, key=lambda n: (load[objects.name(n)], objects.name(n)))
            node_name = objects.name(best)
            new["spec"]["nodeName"] = node_name
            load[node_name] += 1
        node = node_updates.get(node_name) or nodes.get(node_name)
        if node is None or not is_node_ready(node):
            pod_updates.append(new)  # bound, but no kubelet to start it: stays Pending
            continue
        host_ip = _node_ip(node)
        if new["spec"].get("hostNetwork"):
            ip = host_ip
        else:
            allocated = allocate_pod_ip(cluster, node, used_ips[node_name])
            if allocated is None:
                new.setdefault("status", {})["phase"] = "Pending"  # ContainerCreating: IPAM exhausted
                pod_updates.append(new)
                continue
            ip = allocated
            used_ips[node_name].add(ip)
            node = copy.deepcopy(node)
            node["metadata"].setdefault("annotations", {})[LAST_RESERVED_IP_ANNOTATION] = ip
            node_updates[node_name] = node
        new["status"] = running_status(new, ip, host_ip, now)
        pod_updates.append(new)
    return store(cluster, [*node_updates.values(), *pod_updates])
