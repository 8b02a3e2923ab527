"""The namespace cluster: how nodes, pods and external hosts are wired, the way kind wires them.

In a kind cluster every node is a container on one Docker bridge (the *node network*,
172.18.0.0/16 by default, the host itself being the gateway 172.18.0.1).  Each node owns a
slice of the pod network (``spec.podCIDR``, a /24 of 10.244.0.0/16) and kindnet adds a route
per other node: ``10.244.1.0/24 via 172.18.0.3``.  Pods are attached the kindnet/"ptp" way:
a veth pair per pod, the pod's end holding the pod IP as a /32, the node's end holding the
gateway address (the CIDR's ``.1``) and a host route ``<podIP>/32 dev veth…``.  Because pod
traffic is *routed* through the node, and never bridged, every packet of a connection
crosses the node's netfilter hooks, so conntrack sees replies and un-DNATs them; a bridge
would need ``br_netfilter`` with ``bridge-nf-call-iptables`` for that (the classic trap).
The lab's one bridge sits in its own "switch" namespace and only joins node eth0s and the
external hosts, as Docker's bridge does; netfilter is switched off on it where the kernel
allows that per namespace (Linux 5.3+).  On an older kernel the ``bridge-nf-call-*`` switches
are global, so the lab leaves them as the host has them, and nothing breaks: the switch
namespace has no rules (every hook's policy is ACCEPT, it does no NAT), and its conntrack
table is its own and sees both directions of every frame it switches, so a netfiltered switch
only costs a little time; kube-proxy's rules, DNAT and conntrack live in the node namespaces,
which routed veths reach without any bridge.

:func:`plan` is a pure function from a :class:`~kubelearn.cluster.Cluster` to the wiring;
:func:`build` turns a plan into namespaces, veths, addresses, routes and sysctls, running
every command inside the lab's own namespaces.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import KubelearnError
from . import host

__all__ = ["ExternalHost", "NodeNS", "Plan", "PodNS", "add_pods", "build", "lab_pods", "plan", "pod_commands",
           "pod_plan"]


@dataclass(frozen=True)
class NodeNS:
    """One node: its namespace, InternalIP and pod CIDR (and the CIDR's gateway address)."""

    name: str
    ns: str
    ip: str
    pod_cidr: str
    gateway: str
    switch_port: str  # the bridge port in the switch namespace


@dataclass(frozen=True)
class PodNS:
    """One pod: its namespace, IP and node, and the node-side veth name."""

    namespace: str
    name: str
    ns: str
    ip: str
    node: str
    host_veth: str

    @property
    def key(self) -> str:
        """``namespace/name``, as the request log names pods."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ExternalHost:
    """The external client: the node network's gateway address plus extra source addresses."""

    ns: str
    ip: str
    prefixlen: int
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class Plan:
    """The whole wiring of one lab (no side effects until :func:`build`)."""

    prefix: str
    switch: str
    nodes: tuple[NodeNS, ...]
    pods: tuple[PodNS, ...]
    external: ExternalHost
    node_prefixlen: int
    extra: dict[str, Any] = field(default_factory=dict)

    def namespaces(self) -> list[str]:
        """Every namespace of the lab, switch first."""
        return [self.switch, *(n.ns for n in self.nodes), *(p.ns for p in self.pods), self.external.ns]

    def node(self, name: str) -> NodeNS:
        """The node called ``name``."""
        for n in self.nodes:
            if n.name == name:
                return n
        raise KubelearnError(f'node "{name}" is not part of this lab')


def _short(text: str, n: int = 8) -> str:
    # Stable (unsalted) digest for interface and namespace names; Linux caps
    # interface names at 15 characters, so names can't carry the pod's own name.
    return hashlib.sha256(text.encode()).hexdigest()[:n]


def _ipv4(value: Any, what: str) -> str:
    """A checked IPv4 address in its canonical text: nothing else reaches an ``ip`` command."""
    try:
        ip = ipaddress.ip_address(value) if isinstance(value, str) and "%" not in value else None
    except ValueError:
        ip = None
    if ip is None:
        raise KubelearnError(f"{what} {json.dumps(value, default=repr)} is not an IP address: the lab uses only checked addresses")
    if ip.version != 4:
        raise KubelearnError(f"{what} {value} is IPv6: the lab is IPv4 only")
    return str(ip)


def _ipv4_net(value: Any, what: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(value, strict=False) if isinstance(value, str) else None
    except ValueError:
        net = None
    if net is None:
        raise KubelearnError(f"{what} {json.dumps(value, default=repr)} is not a CIDR: the lab uses only checked addresses")
    if not isinstance(net, ipaddress.IPv4Network):
        raise KubelearnError(f"{what} {value} is IPv6: the lab is IPv4 only")
    return net


def _pod_ip(pod: dict[str, Any]) -> str | None:
    ip = (pod.get("status") or {}).get("podIP")
    return str(ip) if ip else None



def lab_pods(cluster: Cluster) -> list[dict[str, Any]]:
    """The pods the lab runs: scheduled, addressed, not host-network, IPv4."""
    out = []
    for pod in list(cluster.pods()):
        ip = _pod_ip(pod)
        if not ip or not pod.get("spec", {}).get("nodeName") or pod["spec"].get("hostNetwork"):
            continue
        _ipv4(ip, f'pod "{objects.name(pod)}" status.podIP')
        out.append(pod)
    return out


def pod_plan(prefix: str, pod: dict[str, Any]) -> PodNS:
    """The namespace and veth of one pod."""
    meta = pod["metadata"]
    key = f"{meta.get('namespace', 'default')}/{meta['name']}"
    digest = _short(key)
    return PodNS(
        namespace=meta.get("namespace", "default"),
        name=meta["name"],
        ns=f"{prefix}p{digest}",
        ip=_ipv4(pod["status"]["podIP"], f'pod "{meta["name"]}" status.podIP'),
        node=str(pod["spec"]["nodeName"]),
        host_veth=f"veth{digest}",
    )


def plan(cluster: Cluster, prefix: str, external_addresses: Iterable[str] = ()) -> Plan:
    """Lay out the lab for ``cluster``: one namespace per node, per pod, plus switch and external host.

    Args:
        cluster: the cluster to mirror.
        prefix: the lab prefix (``klnl-<6 hex>-``).
        external_addresses: extra source addresses for the external host (e.g. 203.0.113.0/24).

    Raises:
        KubelearnError: for IPv6-only clusters or nodes without a pod CIDR.
    """
    host.check_prefix(prefix)
    net = _ipv4_net(cluster.topology.node_subnet, "the node network")
    _ipv4_net(cluster.topology.pod_subnet, "the pod network")
    nodes: list[NodeNS] = []
    for i, node in enumerate(list(cluster.nodes())):
        name = objects.name(node)
        cidr = node.get("spec", {}).get("podCIDR")
        if not cidr:
            raise KubelearnError(f'node "{name}" has no spec.podCIDR: the lab needs one to route pods')
        pod_net = _ipv4_net(cidr, f'node "{name}" spec.podCIDR')
        nodes.append(
            NodeNS(
                name=name,
                ns=f"{prefix}n{_short(name, 6)}",
                ip=_ipv4(cluster.node_ip(name), f'node "{name}" InternalIP'),
                pod_cidr=str(pod_net),
                gateway=str(pod_net.network_address + 1),
                switch_port=f"n{i}",
            )
        )
    node_names = {n.name for n in nodes}
    pods = tuple(pod_plan(prefix, p) for p in lab_pods(cluster) if p["spec"]["nodeName"] in node_names)
    # kind's host is the node network's gateway; the lab's external host takes its place.
    gw = str(net.network_address + 1)
    extra = tuple(a for a in dict.fromkeys(_ipv4(x, "external client address") for x in external_addresses) if a != gw)
    inside = [net, ipaddress.ip_network(cluster.topology.pod_subnet, strict=False),
              *(ipaddress.ip_network(n.pod_cidr) for n in nodes)]
    for a in extra:
        if any(ipaddress.ip_address(a) in x for x in inside):
            raise KubelearnError(f"external client address {a} lies inside the node or pod network")
    return Plan(
        prefix=prefix,
        switch=f"{prefix}sw",
        nodes=tuple(nodes),
        pods=pods,
        external=ExternalHost(ns=f"{prefix}ext", ip=gw, prefixlen=net.prefixlen, extra=extra),
        node_prefixlen=net.prefixlen,
    )


def pod_commands(p: Plan, pod: PodNS) -> tuple[list[str], list[str]]:
    """``ip`` batch lines for one pod: (inside the pod namespace, inside its node's namespace)."""
    node = p.node(pod.node)
    in_pod = [
        "link set lo up",
        f"link add eth0 type veth peer name {pod.host_veth} netns {node.ns}",
        f"addr add {pod.ip}/32 dev eth0",
        "link set eth0 up",
        f"route add {node.gateway} dev eth0 scope link",
        f"route add default via {node.gateway} dev eth0",
    ]
    in_node = [
        # The ptp way: the gateway address on every pod veth, a /32 route per pod.
        f"addr add {node.gateway}/32 dev {pod.host_veth}",
        f"link set {pod.host_veth} up",
        f"route replace {pod.ip}/32 dev {pod.host_veth} scope link",
    ]
    return in_pod, in_node


NODE_SYSCTLS = (
    # kube-proxy needs a routing node, and localhost NodePorts need route_localnet.
    "net.ipv4.ip_forward=1",
    "net.ipv4.conf.all.route_localnet=1",
    # Strict reverse-path filtering is a host choice, not Kubernetes'; the lab pins it off
    # so results don't depend on what the machine's defaults leak into new namespaces.
    "net.ipv4.conf.all.rp_filter=0",
    "net.ipv4.conf.default.rp_filter=0",
)


def build(p: Plan, owner_pid: int | None = None, *, bridge_nf_off: bool | None = None) -> None:
    """Create the lab's namespaces and wiring.  Partial builds are left for the caller to tear down.

    Args:
        p: the plan.
        owner_pid: the PID recorded as the lab's owner (default: this process).
        bridge_nf_off: switch ``bridge-nf-call-*`` off in the switch namespace.  Default: only
            where the kernel keeps those sysctls per namespace (Linux 5.3+, see
            :func:`~kubelearn.netlab.host.bridge_nf_sysctls_are_per_netns`); before 5.3 they
            are global and writing them would change the host's bridges, so the lab leaves
            them alone.  The lab is correct either way (see the module docstring).

    Raises:
        HostError: when a namespace already exists or a command fails.
    """
    for ns in p.namespaces():
        if os.path.exists(os.path.join(host.NETNS_RUN_DIR, ns)):
            raise host.HostError(f'network namespace "{ns}" already exists')
    host.add_namespaces(p.namespaces())

    pid = os.getpid() if owner_pid is None else owner_pid
    if bridge_nf_off is None:
        bridge_nf_off = host.bridge_nf_sysctls_are_per_netns()
    sw = ["link set lo up", "link add br0 type bridge", f'link set br0 alias "kubelearn-netlab pid={pid}"',
          "link set br0 up"]
    host.ip_batch(p.switch, sw)
    if bridge_nf_off:
        # Frames crossing the lab's bridge are switched, not filtered (Docker's bridge is not
        # where kube-proxy's rules live).  Absent without br_netfilter.
        host.run_in(p.switch, ["sh", "-c", "for f in /proc/sys/net/bridge/bridge-nf-call-*; do "
                               "[ -e \"$f\" ] && echo 0 > \"$f\"; done; true"])

    sw_ports: list[str] = []
    for node in p.nodes:
        cmds = [
            "link set lo up",
            f"link add eth0 type veth peer name {node.switch_port} netns {p.switch}",
            f"addr add {node.ip}/{p.node_prefixlen} dev eth0",
            "link set eth0 up",
            f"route add default via {p.external.ip} dev eth0",
        ]
        # kindnet's routes: every other node's pod CIDR via that node.
        cmds += [f"route add {o.pod_cidr} via {o.ip} dev eth0" for o in p.nodes if o.name != node.name]
        host.ip_batch(node.ns, cmds)
        host.set_sysctls(node.ns, NODE_SYSCTLS)
        sw_ports.append(node.switch_port)

    ext = p.external
    ext_cmds = [
        "link set lo up",
        f"link add eth0 type veth peer name ext0 netns {p.switch}",
        f"addr add {ext.ip}/{ext.prefixlen} dev eth0",
        "link set eth0 up",
    ]
    ext_cmds += [f"addr add {a}/32 dev eth0" for a in ext.extra]
    host.ip_batch(ext.ns, ext_cmds)
    sw_ports.append("ext0")
    host.ip_batch(p.switch, [f"link set {port} master br0 up" for port in sw_ports])

    add_pods(p, p.pods)


def add_pods(p: Plan, pods: Sequence[PodNS]) -> None:
    """Wire pods whose namespaces already exist (``build``) or create them (scale-up)."""
    new = [pod.ns for pod in pods if not os.path.exists(os.path.join(host.NETNS_RUN_DIR, pod.ns))]
    host.add_namespaces(new)
    by_node: dict[str, list[str]] = {}
    for pod in pods:
        in_pod, in_node = pod_commands(p, pod)
        host.ip_batch(pod.ns, in_pod)
        by_node.setdefault(p.node(pod.node).ns, []).extend(in_node)
    for ns, cmds in by_node.items():
        host.ip_batch(ns, cmds)
