"""kubectl's views of the cluster: ``kubectl get`` tables and ``kubectl describe service``.

``kubectl get`` asks the API server for a *Table*: the server chooses the columns (NAME,
TYPE, CLUSTER-IP, ...), kubectl pads them with a tabwriter (each column as wide as its widest
cell plus three spaces) and prints the AGE of each object as a short human duration.  The
same objects print as YAML or JSON with ``-o yaml|json`` (keys sorted, as kubectl prints
unstructured objects) or as ``kind.group/name`` with ``-o name``.  Lists come back sorted by
namespace and name, the order the API server keeps them in.

``kubectl describe service`` joins the Service with its EndpointSlices: the ``Endpoints:``
line per port lists at most three ready ``ip:port`` pairs.  Learners read these outputs
constantly, so kubelearn reproduces them byte for byte from the cluster's objects.

Messages kubectl writes to stderr (``No resources found in default namespace.``, the
v1.33 Endpoints deprecation warning) are kept apart in :attr:`KubectlOutput.stderr`.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import yaml

from .cluster import EPOCH, Cluster, kind_info
from .errors import KubelearnError, NotFoundError
from .versions import DEFAULT_VERSION

__all__ = [
    "KubectlOutput",
    "UnsupportedOutputError",
    "describe_pod",
    "describe_service",
    "get",
    "human_duration",
    "tabwrite",
]

#: The kubelet version of the default release (a Node without status.nodeInfo shows its
#: cluster's release, ``cluster.topology.kubernetes_version``).
KUBELET_VERSION = DEFAULT_VERSION
OS_IMAGE = "Debian GNU/Linux 12 (bookworm)"
CONTAINER_RUNTIME = "containerd://2.1.1"

ENDPOINTS_WARNING = "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"
OUTPUTS = ("", "wide", "yaml", "json", "name")


class UnsupportedOutputError(KubelearnError, ValueError):
    """An ``-o`` format kubelearn does not print."""

    def __init__(self, output: str):
        self.output = output
        super().__init__(str(self))

    def __str__(self) -> str:
        # kubectl's wording for an unknown -o value.
        return (f'error: unable to match a printer suitable for the output format "{self.output}", '
                f"allowed formats are: {','.join(o for o in OUTPUTS if o)}")


class KubectlOutput(str):
    """What kubectl shows: the string is the terminal view (stderr lines, then stdout).

    Attributes:
        stdout: what kubectl writes to standard output.
        stderr: warnings and "No resources found" messages (standard error).
    """

    stdout: str
    stderr: str

    def __new__(cls, stdout: str, stderr: str = "") -> KubectlOutput:
        obj = super().__new__(cls, stderr + stdout)
        obj.stdout = stdout
        obj.stderr = stderr
        return obj

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"


# --------------------------------------------------------------------------- formatting
def tabwrite(rows: Sequence[Sequence[str]], padding: int = 3, minwidth: int = 6) -> str:
    """Align cells as Go's text/tabwriter does for kubectl (``-o`` table output).

    Every cell but the last of a row is padded to its column's width: the widest cell plus
    ``padding``, at least ``minwidth``.  Each row ends with a newline.
    """
    widths: dict[int, int] = {}
    for row in rows:
        for i, cell in enumerate(row[:-1]):
            widths[i] = max(widths.get(i, 0), len(cell) + padding, minwidth)
    out = []
    for row in rows:
        parts = [cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])]
        parts.append(row[-1] if row else "")
        out.append("".join(parts))
    return "".join(line + "\n" for line in out)


def _describe_write(lines: Sequence[Sequence[str]]) -> str:
    """kubectl describe's tabwriter (minwidth 0, padding 2): column blocks of consecutive lines.

    Go's tabwriter aligns a column only over consecutive lines that have a cell in it, so the
    second column of ``Port:\\t<unset>\\t80/TCP`` is aligned on its own.
    """
    out: list[str] = ["" for _ in lines]
    ncols = max((len(row) for row in lines), default=0)
    cells = [list(row) for row in lines]
    for col in range(ncols - 1):
        i = 0
        while i < len(cells):
            if len(cells[i]) - 1 > col:
                j = i
                while j < len(cells) and len(cells[j]) - 1 > col:
                    j += 1
                width = max(len(cells[k][col]) for k in range(i, j)) + 2
                for k in range(i, j):
                    cells[k][col] = cells[k][col].ljust(width)
                i = j
            else:
                i += 1
    for n, row in enumerate(cells):
        out[n] = "".join(row)
    return "".join(line + "\n" for line in out)


def human_duration(seconds: float) -> str:
    """apimachinery's ``duration.HumanDuration``, as in kubectl's AGE column.

    >>> [human_duration(s) for s in (5, 119, 120, 150, 600, 3 * 3600 + 60, 9 * 3600, 50 * 3600)]
    ['5s', '119s', '2m', '2m30s', '10m', '3h1m', '9h', '2d2h']
    """
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        rem = s % 60
        return f"{minutes}m" if rem == 0 else f"{minutes}m{rem}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        rem = minutes % 60
        return f"{hours}h" if rem == 0 else f"{hours}h{rem}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rem = hours % 24
        return f"{hours // 24}d" if rem == 0 else f"{hours // 24}d{rem}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _age(cluster: Cluster, obj: Mapping[str, Any]) -> str:
    ts = obj.get("metadata", {}).get("creationTimestamp")
    if not ts:
        return "<unknown>"
    created = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    now = EPOCH.timestamp() + cluster.now
    return human_duration(now - created.timestamp())


def _host_port(ip: str, port: Any) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


def _format_labels(selector: Mapping[str, str] | None) -> str:
    if not selector:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items()))


def _label_selector(selector: Mapping[str, Any] | None) -> str:
    # metav1.FormatLabelSelector for Deployments/ReplicaSets.
    if not selector:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((selector.get("matchLabels") or {}).items())]
    for expr in selector.get("matchExpressions") or []:
        op = expr["operator"]
        values = ",".join(expr.get("values") or [])
        if op == "In":
            parts.append(f"{expr['key']} in ({values})")
        elif op == "NotIn":
            parts.append(f"{expr['key']} notin ({values})")
        elif op == "Exists":
            parts.append(expr["key"])
        else:
            parts.append(f"!{expr['key']}")
    return ",".join(parts) if parts else "<none>"


# --------------------------------------------------------------------------- row printers
def _svc_external_ip(svc: Mapping[str, Any], wide: bool) -> str:
    spec = svc.get("spec", {})
    kind = spec.get("type", "ClusterIP")
    ext = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(ext) if ext else "<none>"
    if kind == "LoadBalancer":
        ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
        names = sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})
        result = ",".join([*names, *ext])
        if not result:
            return "<pending>"
        if not wide and len(result) > 16:
            return result[:13] + "..."
        return result
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _svc_ports(svc: Mapping[str, Any]) -> str:
    ports = svc.get("spec", {}).get("ports") or []
    if not ports:
        return "<none>"
    out = []
    for p in ports:
        proto = p.get("protocol", "TCP")
        if p.get("nodePort"):
            out.append(f"{p['port']}:{p['nodePort']}/{proto}")
        else:
            out.append(f"{p['port']}/{proto}")
    return ",".join(out)


def _service_row(cluster: Cluster, svc: Mapping[str, Any], wide: bool) -> list[str]:
    spec = svc.get("spec", {})
    ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    row = [svc["metadata"]["name"], spec.get("type", "ClusterIP"), ips[0] if ips else "<none>",
           _svc_external_ip(svc, wide), _svc_ports(svc), _age(cluster, svc)]
    if wide:
        row.append(_format_labels(spec.get("selector")))
    return row


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    for cond in pod.get("status", {}).get("conditions") or []:
        if cond.get("type") == "Ready":
            return cond.get("status") == "True"
    return False


def _pod_row(cluster: Cluster, pod: Mapping[str, Any], wide: bool) -> list[str]:
    meta = pod["metadata"]
    spec = pod.get("spec", {})
    status = pod.get("status", {})
    containers = spec.get("containers") or []
    statuses = status.get("containerStatuses")
    if statuses:
        ready = sum(1 for c in statuses if c.get("ready"))
        restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    else:
        # Without containerStatuses, the Ready condition says whether every container is ready.
        ready = len(containers) if _pod_ready(pod) else 0
        restarts = 0
    reason = status.get("reason") or status.get("phase") or "Pending"
    if meta.get("deletionTimestamp"):
        reason = "Terminating" if status.get("reason") != "NodeLost" else "Unknown"
    row = [meta["name"], f"{ready}/{len(containers)}", reason, str(restarts), _age(cluster, pod)]
    if wide:
        gates = spec.get("readinessGates") or []
        if gates:
            conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
            gates_txt = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
        else:
            gates_txt = "<none>"
        row += [status.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
                status.get("nominatedNodeName") or "<none>", gates_txt]
    return row


def _node_row(cluster: Cluster, node: Mapping[str, Any], wide: bool) -> list[str]:
    meta = node["metadata"]
    status = node.get("status", {})
    state = "Unknown"
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Ready":
            state = "Ready" if cond.get("status") == "True" else "NotReady" if cond.get("status") == "False" else "Unknown"
    if node.get("spec", {}).get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = set()
    for key, value in (meta.get("labels") or {}).items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key.split("/", 1)[1]
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(value)
    info = status.get("nodeInfo") or {}
    row = [meta["name"], state, ",".join(sorted(roles)) or "<none>", _age(cluster, node),
           info.get("kubeletVersion") or cluster.topology.kubernetes_version]
    if wide:
        addrs = status.get("addresses") or []
        internal = next((a["address"] for a in addrs if a["type"] == "InternalIP"), "<none>")
        external = next((a["address"] for a in addrs if a["type"] == "ExternalIP"), "<none>")
        # Simplification: the kernel is the host's (kind nodes are containers) - unknown here.
        row += [internal, external, info.get("osImage") or OS_IMAGE, info.get("kernelVersion") or "<unknown>",
                info.get("containerRuntimeVersion") or CONTAINER_RUNTIME]
    return row


def _limited(items: Sequence[str], total: int, empty: str) -> str:
    if total == 0:
        return empty
    text = ",".join(items[:3])
    return text + (f" + {total - 3} more..." if total > 3 else "")


def _endpoints_row(cluster: Cluster, ep: Mapping[str, Any], wide: bool) -> list[str]:
    subsets = ep.get("subsets") or []
    if not subsets:
        text = "<none>"
    else:
        listed: list[str] = []
        count = 0
        for ss in subsets:
            addrs = [a["ip"] for a in ss.get("addresses") or []]
            ports = ss.get("ports") or []
            if not ports:
                count += len(addrs)
                listed.extend(addrs)
                continue
            for p in ports:
                count += len(addrs)
                listed.extend(_host_port(a, p["port"]) for a in addrs)
        text = ",".join(listed[:3]) + (f" + {count - 3} more..." if count > 3 else "")
    return [ep["metadata"]["name"], text, _age(cluster, ep)]


def _slice_row(cluster: Cluster, sl: Mapping[str, Any], wide: bool) -> list[str]:
    ports = [str(p["port"]) if p.get("port") is not None else "<unset>" for p in sl.get("ports") or []]
    addrs = [a for ep in sl.get("endpoints") or [] for a in ep.get("addresses") or []]
    return [sl["metadata"]["name"], sl.get("addressType", ""), _limited(ports, len(ports), "<unset>"),
            _limited(addrs, len(addrs), "<unset>"), _age(cluster, sl)]


def _containers(obj: Mapping[str, Any]) -> tuple[str, str]:
    cs = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _deployment_row(cluster: Cluster, d: Mapping[str, Any], wide: bool) -> list[str]:
    spec, status = d.get("spec", {}), d.get("status", {})
    row = [d["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
           str(status.get("updatedReplicas", 0)), str(status.get("availableReplicas", 0)), _age(cluster, d)]
    if wide:
        row += [*_containers(d), _label_selector(spec.get("selector"))]
    return row


def _replicaset_row(cluster: Cluster, rs: Mapping[str, Any], wide: bool) -> list[str]:
    spec, status = rs.get("spec", {}), rs.get("status", {})
    row = [rs["metadata"]["name"], str(spec.get("replicas", 1)), str(status.get("replicas", 0)),
           str(status.get("readyReplicas", 0)), _age(cluster, rs)]
    if wide:
        row += [*_containers(rs), _label_selector(spec.get("selector"))]
    return row


def _statefulset_row(cluster: Cluster, ss: Mapping[str, Any], wide: bool) -> list[str]:
    spec, status = ss.get("spec", {}), ss.get("status", {})
    row = [ss["metadata"]["name"], f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}", _age(cluster, ss)]
    if wide:
        row += list(_containers(ss))
    return row


def _namespace_row(cluster: Cluster, ns: Mapping[str, Any], wide: bool) -> list[str]:
    return [ns["metadata"]["name"], ns.get("status", {}).get("phase", "Active"), _age(cluster, ns)]


def _generic_row(cluster: Cluster, obj: Mapping[str, Any], wide: bool) -> list[str]:
    return [obj["metadata"]["name"], _age(cluster, obj)]


Row = Callable[[Cluster, Mapping[str, Any], bool], list[str]]
_TABLES: dict[str, tuple[list[str], list[str], Row]] = {
    "Service": (["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"], ["SELECTOR"], _service_row),
    "Pod": (["NAME", "READY", "STATUS", "RESTARTS", "AGE"], ["IP", "NODE", "NOMINATED NODE", "READINESS GATES"],
            _pod_row),
    "Node": (["NAME", "STATUS", "ROLES", "AGE", "VERSION"],
             ["INTERNAL-IP", "EXTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME"], _node_row),
    "Endpoints": (["NAME", "ENDPOINTS", "AGE"], [], _endpoints_row),
    "EndpointSlice": (["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"], [], _slice_row),
    "Deployment": (["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                   _deployment_row),
    "ReplicaSet": (["NAME", "DESIRED", "CURRENT", "READY", "AGE"], ["CONTAINERS", "IMAGES", "SELECTOR"],
                   _replicaset_row),
    "StatefulSet": (["NAME", "READY", "AGE"], ["CONTAINERS", "IMAGES"], _statefulset_row),
    "Namespace": (["NAME", "STATUS", "AGE"], [], _namespace_row),
}


# --------------------------------------------------------------------------- objects
def _derived_endpoints(cluster: Cluster, namespace: str | None) -> list[dict[str, Any]]:
    """v1 Endpoints as the endpoints controller keeps them, derived from the EndpointSlices.

    Stored Endpoints objects are used as they are; for every other Service with a selector
    (or with slices) one is built: ready addresses in ``addresses``, the rest in
    ``notReadyAddresses``, grouped by port set.  Simplification: the controller orders
    ports by a hash; kubelearn keeps the slices' port order.
    """
    stored = {(e["metadata"].get("namespace", "default"), e["metadata"]["name"]): e
              for e in cluster.list("Endpoints", namespace)}
    out = dict(stored)
    for svc in cluster.list("Service", namespace):
        meta, spec = svc["metadata"], svc.get("spec", {})
        key = (meta.get("namespace", "default"), meta["name"])
        if key in out or spec.get("type") == "ExternalName":
            continue
        slices = [s for s in cluster.list("EndpointSlice", key[0])
                  if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == key[1]]
        if not spec.get("selector") and not slices:
            continue
        groups: dict[str, dict[str, Any]] = {}
        for sl in sorted(slices, key=lambda s: s["metadata"]["name"]):
            ports = [{k: p[k] for k in ("name", "port", "protocol") if k in p and p[k] != ""}
                     for p in sl.get("ports") or []]
            group = groups.setdefault(json.dumps(ports, sort_keys=True), {"ports": ports, "ready": [], "not": []})
            for ep in sl.get("endpoints") or []:
                cond = ep.get("conditions") or {}
                if cond.get("terminating") and not spec.get("publishNotReadyAddresses"):
                    continue
                for addr in ep.get("addresses") or []:
                    entry: dict[str, Any] = {"ip": addr}
                    if ep.get("hostname"):
                        entry["hostname"] = ep["hostname"]
                    if ep.get("nodeName"):
                        entry["nodeName"] = ep["nodeName"]
                    if ep.get("targetRef"):
                        entry["targetRef"] = ep["targetRef"]
                    (group["ready"] if cond.get("ready", True) is not False else group["not"]).append(entry)
        subsets = []
        for group in groups.values():
            if not group["ready"] and not group["not"]:
                continue
            subset: dict[str, Any] = {}
            if group["ready"]:
                subset["addresses"] = sorted(group["ready"], key=lambda a: a["ip"])
            if group["not"]:
                subset["notReadyAddresses"] = sorted(group["not"], key=lambda a: a["ip"])
            if group["ports"]:
                subset["ports"] = group["ports"]
            subsets.append(subset)
        ep_obj: dict[str, Any] = {
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": meta["name"], "namespace": key[0],
                         "creationTimestamp": meta.get("creationTimestamp"),
                         "labels": dict(meta.get("labels") or {})},
        }
        if not ep_obj["metadata"]["labels"]:
            del ep_obj["metadata"]["labels"]
        if subsets:
            ep_obj["subsets"] = subsets
        out[key] = ep_obj
    return list(out.values())


def _namespaces(cluster: Cluster) -> list[dict[str, Any]]:
    """Namespace objects; when the cluster stores none, the ones kubeadm creates plus those in use."""
    stored = cluster.list("Namespace")
    if stored:
        return stored
    names = {"default", "kube-system", "kube-public", "kube-node-lease"}
    names |= {ns for _, ns, _ in cluster.objects if ns}
    created = cluster.timestamp(0)
    return [{"apiVersion": "v1", "kind": "Namespace",
             "metadata": {"name": n, "creationTimestamp": created,
                          "labels": {"kubernetes.io/metadata.name": n}},
             "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}} for n in sorted(names)]


def _objects(cluster: Cluster, kind: str, namespace: str | None) -> list[dict[str, Any]]:
    if kind == "Endpoints":
        objs = _derived_endpoints(cluster, namespace)
    elif kind == "Namespace":
        objs = _namespaces(cluster)
    else:
        objs = cluster.list(kind, namespace)
    # The API server lists in key order: namespace, then name.
    return sorted(objs, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))


# --------------------------------------------------------------------------- printers
class _KubectlDumper(yaml.SafeDumper):
    """YAML as sigs.k8s.io/yaml writes it: sorted keys, indentless lists, double quotes."""

    def choose_scalar_style(self) -> Any:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_KubectlDumper, sort_keys=True, default_flow_style=False,
                     allow_unicode=True, width=1 << 30)


def _list_wrapper(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def _name_of(kind: str, obj: Mapping[str, Any]) -> str:
    info = kind_info(kind)
    group = info.api_version.split("/")[0] if "/" in info.api_version else ""
    return f"{info.kind.lower()}{'.' + group if group else ''}/{obj['metadata']['name']}"


def get(
    cluster: Cluster,
    resource: str,
    name: str | None = None,
    namespace: str = "default",
    all_namespaces: bool = False,
    output: str = "",
) -> KubectlOutput:
    """``kubectl get RESOURCE [NAME] [-n NS] [-A] [-o wide|yaml|json|name]``.

    Args:
        cluster: the cluster.
        resource: ``services``/``svc``, ``pods``/``po``, ``endpoints``/``ep``,
            ``endpointslices``, ``nodes``/``no``, ``deployments``, ``replicasets``,
            ``statefulsets``, ``namespaces`` (any name, plural or short name kubectl accepts);
            ``KIND/NAME`` is accepted too.
        name: one object's name (NotFound if missing).
        namespace: ``-n``.
        all_namespaces: ``-A``: every namespace, with a NAMESPACE column.
        output: ``""`` (table), ``wide``, ``yaml``, ``json`` or ``name``.

    Returns:
        A :class:`KubectlOutput`: a ``str`` as a terminal shows it, with ``.stdout`` and
        ``.stderr`` apart.

    Raises:
        NotFoundError: unknown resource type or object, in kubectl's words.
        UnsupportedOutputError: an unknown ``-o`` format.
    """
    if "/" in resource and name is None:
        resource, name = resource.split("/", 1)
    if output not in OUTPUTS:
        raise UnsupportedOutputError(output)
    if "," in resource:
        return _get_many(cluster, resource.split(","), name, namespace, all_namespaces, output)
    info = kind_info(resource)
    kind = info.kind
    ns_filter = None if (all_namespaces or not info.namespaced) else namespace
    stderr = ENDPOINTS_WARNING + "\n" if kind == "Endpoints" else ""
    objs = _objects(cluster, kind, ns_filter)
    if name is not None:
        objs = [o for o in objs if o["metadata"]["name"] == name]
        if not objs:
            raise _NotFoundWithWarning(info.resource, name, stderr)
    if output in ("json", "yaml"):
        objs = [_as_served(o) for o in objs]
        doc: Any = objs[0] if name is not None else _list_wrapper(objs)
        text = json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False) + "\n" if output == "json" else _yaml(doc)
        return KubectlOutput(text, stderr)
    if not objs:
        if all_namespaces or not info.namespaced:
            return KubectlOutput("", stderr + "No resources found\n")
        return KubectlOutput("", stderr + f"No resources found in {namespace} namespace.\n")
    if output == "name":
        return KubectlOutput("".join(_name_of(kind, o) + "\n" for o in objs), stderr)
    wide = output == "wide"
    if kind in _TABLES:
        head, wide_head, row = _TABLES[kind]
    else:
        head, wide_head, row = ["NAME", "AGE"], [], _generic_row
    header = head + (wide_head if wide else [])
    rows = [row(cluster, o, wide) for o in objs]
    show_ns = all_namespaces and info.namespaced
    if show_ns:
        header = ["NAMESPACE", *header]
        rows = [[o["metadata"].get("namespace", "default"), *r] for o, r in zip(objs, rows, strict=True)]
    return KubectlOutput(tabwrite([header, *rows]), stderr)


def _as_served(obj: dict[str, Any]) -> dict[str, Any]:
    """The object as the API server returns it: every Service carries
    ``status: {loadBalancer: {}}`` (an empty status struct is still serialised).  Added here,
    not stored, so a re-applied manifest never replaces a status the cluster holds (see
    ``kubelearn.defaults``)."""
    if obj.get("kind") == "Service" and not isinstance((obj.get("status") or {}).get("loadBalancer"), dict):
        obj = {**obj, "status": {**(obj.get("status") or {}), "loadBalancer": {}}}
    return obj


def _get_many(cluster: Cluster, resources: list[str], name: str | None, namespace: str,
              all_namespaces: bool, output: str) -> KubectlOutput:
    """``kubectl get svc,endpointslices``: every kind in turn.

    Tables come one per kind, separated by a blank line, with names written ``KIND/NAME``
    (``service/web``, ``endpointslice.discovery.k8s.io/web-abcde``) as soon as more than one
    kind is asked for; ``-o yaml|json`` gives one ``kind: List`` holding every item.
    """
    kinds: list[str] = []
    for resource in resources:
        kind = kind_info(resource).kind
        if kind not in kinds:  # `get svc,services` lists Services once, as kubectl does
            kinds.append(kind)
    stderr = ENDPOINTS_WARNING + "\n" if "Endpoints" in kinds else ""
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for kind in kinds:
        info = kind_info(kind)
        objs = _objects(cluster, kind, None if (all_namespaces or not info.namespaced) else namespace)
        if name is not None:
            objs = [o for o in objs if o["metadata"]["name"] == name]
            if not objs:
                raise _NotFoundWithWarning(info.resource, name, stderr)
        groups.append((kind, objs))
    if output in ("json", "yaml"):
        items = [_as_served(o) for _, objs in groups for o in objs]
        doc: Any = items[0] if name is not None and len(items) == 1 else _list_wrapper(items)
        text = json.dumps(doc, indent=4, sort_keys=True, ensure_ascii=False) + "\n" if output == "json" else _yaml(doc)
        return KubectlOutput(text, stderr)
    if not any(objs for _, objs in groups):
        if all_namespaces or not any(kind_info(k).namespaced for k in kinds):
            return KubectlOutput("", stderr + "No resources found\n")
        return KubectlOutput("", stderr + f"No resources found in {namespace} namespace.\n")
    if output == "name":
        return KubectlOutput("".join(_name_of(kind, o) + "\n" for kind, objs in groups for o in objs), stderr)
    prefix = len(kinds) > 1
    tables = []
    for kind, objs in groups:
        if not objs:
            continue  # kubectl prints nothing for an empty kind when another has objects
        info = kind_info(kind)
        head, wide_head, row = _TABLES.get(kind, (["NAME", "AGE"], [], _generic_row))
        header = head + (wide_head if output == "wide" else [])
        rows = [row(cluster, o, output == "wide") for o in objs]
        if prefix:
            rows = [[_name_of(kind, o), *r[1:]] for o, r in zip(objs, rows, strict=True)]
        if all_namespaces and info.namespaced:
            header = ["NAMESPACE", *header]
            rows = [[o["metadata"].get("namespace", "default"), *r] for o, r in zip(objs, rows, strict=True)]
        tables.append(tabwrite([header, *rows]))
    return KubectlOutput("\n".join(tables), stderr)


class _NotFoundWithWarning(NotFoundError):
    """NotFound, preceded by the warning kubectl printed before asking (Endpoints)."""

    def __init__(self, resource: str, name: str, warning: str = ""):
        self.warning = warning
        super().__init__(resource, name)

    def __str__(self) -> str:
        return f'{self.warning}Error from server (NotFound): {self.resource} "{self.name}" not found'

    def __reduce__(self) -> tuple[Any, ...]:
        return (_NotFoundWithWarning, (self.resource, self.name, self.warning))


# --------------------------------------------------------------------------- describe
def _labels_lines(title: str, labels: Mapping[str, str] | None, skip: Sequence[str] = ()) -> list[list[str]]:
    items = sorted((k, v) for k, v in (labels or {}).items() if k not in skip)
    if not items:
        return [[f"{title}:", "<none>"]]
    lines = [[f"{title}:", f"{items[0][0]}={items[0][1]}"]]
    lines += [["", f"{k}={v}"] for k, v in items[1:]]
    return lines


def _format_endpoint_slices(slices: Sequence[Mapping[str, Any]], port_name: str | None) -> str:
    """kubectl describe's formatEndpointSlices: ready ``ip:port`` pairs, at most 3 shown."""
    if not slices:
        return "<none>"
    listed: list[str] = []
    more = False
    count = 0

    def ready(ep: Mapping[str, Any]) -> bool:
        return (ep.get("conditions") or {}).get("ready", True) is not False

    for sl in slices:
        ports = sl.get("ports") or []
        if not ports:
            for ep in sl.get("endpoints") or []:
                if len(listed) == 3:
                    more = True
                if not ready(ep):
                    continue
                if not more:
                    listed.append(ep["addresses"][0])
                count += 1
            continue
        for p in ports:
            if port_name is not None and (p.get("name") or "") != port_name:
                continue
            for ep in sl.get("endpoints") or []:
                if len(listed) == 3:
                    more = True
                if not ready(ep):
                    continue
                if not more:
                    listed.append(_host_port(ep["addresses"][0], p.get("port")))
                count += 1
    text = ",".join(listed)
    return f"{text} + {count - 3} more..." if more else text


def describe_service(cluster: Cluster, name: str, namespace: str = "default") -> KubectlOutput:
    """``kubectl describe service NAME -n NAMESPACE``, field for field.

    Raises:
        NotFoundError: ``Error from server (NotFound): services "x" not found``.
    """
    svc = cluster.get("Service", name, namespace)
    meta, spec = svc["metadata"], svc.get("spec", {})
    lines: list[list[str]] = [["Name:", meta["name"]], ["Namespace:", meta.get("namespace", namespace)]]
    lines += _labels_lines("Labels", meta.get("labels"))
    lines += _labels_lines("Annotations", meta.get("annotations"),
                           skip=("kubectl.kubernetes.io/last-applied-configuration",))
    lines.append(["Selector:", ",".join(f"{k}={v}" for k, v in sorted((spec.get("selector") or {}).items()))
                  or "<none>"])
    lines.append(["Type:", spec.get("type", "ClusterIP")])
    if spec.get("ipFamilyPolicy"):
        lines.append(["IP Family Policy:", spec["ipFamilyPolicy"]])
    lines.append(["IP Families:", ",".join(spec.get("ipFamilies") or []) or "<none>"])
    lines.append(["IP:", spec.get("clusterIP") or ""])
    lines.append(["IPs:", ",".join(spec.get("clusterIPs") or []) or "<none>"])
    if spec.get("externalIPs"):
        lines.append(["External IPs:", ",".join(spec["externalIPs"])])
    if spec.get("loadBalancerIP"):
        lines.append(["Desired LoadBalancer IP:", spec["loadBalancerIP"]])
    if spec.get("externalName"):
        lines.append(["External Name:", spec["externalName"]])
    ingress = (svc.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress:
        lines.append(["LoadBalancer Ingress:", ", ".join(
            (i.get("ip") or i.get("hostname", "")) + (f" ({i['ipMode']})" if i.get("ipMode") else "")
            for i in ingress)])
    slices = sorted((s for s in cluster.list("EndpointSlice", meta.get("namespace", namespace))
                     if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == name),
                    key=lambda s: s["metadata"]["name"])
    for p in spec.get("ports") or []:
        pname = p.get("name") or "<unset>"
        proto = p.get("protocol", "TCP")
        lines.append(["Port:", pname, f"{p['port']}/{proto}"])
        lines.append(["TargetPort:", f"{p.get('targetPort', p['port'])}/{proto}"])
        if p.get("appProtocol"):
            lines.append(["AppProtocol:", p["appProtocol"]])
        if p.get("nodePort"):
            lines.append(["NodePort:", pname, f"{p['nodePort']}/{proto}"])
        lines.append(["Endpoints:", _format_endpoint_slices(slices, p.get("name") or "")])
    lines.append(["Session Affinity:", spec.get("sessionAffinity") or ""])
    if spec.get("externalTrafficPolicy"):
        lines.append(["External Traffic Policy:", spec["externalTrafficPolicy"]])
    if spec.get("internalTrafficPolicy"):
        lines.append(["Internal Traffic Policy:", spec["internalTrafficPolicy"]])
    if spec.get("healthCheckNodePort"):
        lines.append(["HealthCheck NodePort:", str(spec["healthCheckNodePort"])])
    if spec.get("loadBalancerSourceRanges"):
        lines.append(["LoadBalancer Source Ranges:", ",".join(spec["loadBalancerSourceRanges"])])
    if spec.get("trafficDistribution"):
        lines.append(["Traffic Distribution:", spec["trafficDistribution"]])
    lines.append(["Events:", "<none>"])  # kubelearn records no events
    return KubectlOutput(_describe_write(lines))


def describe_pod(cluster: Cluster, name: str, namespace: str = "default") -> KubectlOutput:
    """A short ``kubectl describe pod``: identity, placement, IPs, readiness, containers.

    Simplification: the container state, probes, volumes, QoS, tolerations and events that
    the real command prints are not modelled.

    Raises:
        NotFoundError: ``Error from server (NotFound): pods "x" not found``.
    """
    pod = cluster.get("Pod", name, namespace)
    meta, spec, status = pod["metadata"], pod.get("spec", {}), pod.get("status", {})
    node = spec.get("nodeName")
    lines: list[list[str]] = [["Name:", meta["name"]], ["Namespace:", meta.get("namespace", namespace)]]
    lines.append(["Node:", f"{node}/{status.get('hostIP', '')}" if node else "<none>"])
    lines += _labels_lines("Labels", meta.get("labels"))
    lines.append(["Status:", "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "Pending")])
    lines.append(["IP:", status.get("podIP", "")])
    ips = status.get("podIPs") or []
    if ips:
        lines.append(["IPs:"])
        lines += [["  IP:", p["ip"]] for p in ips]
    else:
        lines.append(["IPs:", "<none>"])
    owners = meta.get("ownerReferences") or []
    if owners:
        lines.append(["Controlled By:", f"{owners[0]['kind']}/{owners[0]['name']}"])
    # Lines without a tab (section headers) end a tabwriter block, as in kubectl.
    lines.append(["Containers:"])
    for c in spec.get("containers") or []:
        lines.append([f"  {c['name']}:"])
        lines.append(["    Image:", c.get("image", "")])
        ports = c.get("ports") or []
        lines.append(["    Port:", ", ".join(f"{p['containerPort']}/{p.get('protocol', 'TCP')}" for p in ports)
                      or "<none>"])
    lines.append(["Conditions:"])
    lines.append(["  Type", "Status"])
    for cond in status.get("conditions") or []:
        lines.append([f"  {cond['type']}", str(cond.get("status"))])
    lines.append(["Events:", "<none>"])
    return KubectlOutput(_describe_write(lines))
