"""Shared helpers for the dump-reader tests: flow grids, expected explanations, foreign chains."""

from __future__ import annotations

from typing import Any

from kubelearn.proxy import categorize_endpoints, service_ports, trace
from kubelearn.proxy.config import proxy_settings

#: The parts of a trace that are its answer (steps and rule counts depend on other software's rules).
ANSWER = ("verdict", "destinations", "service", "portName", "hook", "masquerade", "affinityTimeoutSeconds",
          "src", "dst", "protocol")

# Other software's rules a real node holds next to kube-proxy's, as `iptables` commands (Docker's
# nat and filter chains, a Calico-like CNI in raw/mangle/filter, Flannel's masquerade chain, and a
# Cilium chain nothing jumps to).  None of them changes where a kube-proxy flow goes: they match
# docker0, Calico's own mark bits, or Flannel's pod range that the scenarios do not use.
FOREIGN_IPTABLES = [
    "iptables -t nat -N DOCKER",
    "iptables -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER",
    "iptables -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER",
    "iptables -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE",
    "iptables -t nat -A DOCKER -i docker0 -j RETURN",
    "iptables -t nat -A DOCKER ! -i docker0 -p tcp -m tcp --dport 18080 -j DNAT --to-destination 172.17.0.2:80",
    "iptables -N DOCKER",
    "iptables -N DOCKER-USER",
    "iptables -N DOCKER-ISOLATION-STAGE-1",
    "iptables -N DOCKER-ISOLATION-STAGE-2",
    "iptables -A DOCKER-USER -j RETURN",
    "iptables -A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2",
    "iptables -A DOCKER-ISOLATION-STAGE-1 -j RETURN",
    "iptables -A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP",
    "iptables -A DOCKER-ISOLATION-STAGE-2 -j RETURN",
    "iptables -I FORWARD 1 -j DOCKER-USER",
    "iptables -I FORWARD 2 -j DOCKER-ISOLATION-STAGE-1",
    "iptables -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "iptables -A FORWARD -o docker0 -j DOCKER",
    "iptables -t raw -N cali-PREROUTING",
    "iptables -t raw -A PREROUTING -m comment --comment cali:6gwbT8clXdHdC1b1 -j cali-PREROUTING",
    "iptables -t raw -A cali-PREROUTING -m comment --comment cali:XFX5xbM8B9qR10JG -j MARK --set-xmark 0x0/0xf0000",
    "iptables -t mangle -N cali-PREROUTING",
    "iptables -t mangle -A PREROUTING -m comment --comment cali:6gwbT8clXdHdC1b1 -j cali-PREROUTING",
    "iptables -t mangle -A cali-PREROUTING -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
    "iptables -N cali-FORWARD",
    "iptables -I FORWARD 1 -m comment --comment 'cali:wUHhoiAYhphO9Mso' -j cali-FORWARD",
    "iptables -A cali-FORWARD -m comment --comment 'cali:vjrMJCRpqwy5oRoX' -j MARK --set-xmark 0x0/0xe0000",
    "iptables -A cali-FORWARD -m comment --comment 'cali:A_sPAO0mcxbT9mOV' -m mark --mark 0x10000/0x10000 -j ACCEPT",
    "iptables -A cali-FORWARD -m comment --comment 'cali:l0' -m mark --mark 0x0/0x10000 -j LOG --log-prefix cali",
    "iptables -t nat -N FLANNEL-POSTRTG",
    "iptables -t nat -A POSTROUTING -m comment --comment 'flanneld masq' -j FLANNEL-POSTRTG",
    "iptables -t nat -A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment 'flanneld masq' -j RETURN",
    "iptables -t nat -A FLANNEL-POSTRTG -s 10.42.0.0/16 -d 10.42.0.0/16 -m comment --comment 'flanneld masq' -j RETURN",
    "iptables -t nat -N CILIUM_POST_nat",
    "iptables -t nat -A CILIUM_POST_nat -s 10.43.0.0/16 ! -d 10.43.0.0/16 -m comment --comment 'cilium masquerade non-cluster' -j MASQUERADE",
]

#: A CNI's own nftables table, next to kube-proxy's (nftables mode).
FOREIGN_NFT = """table inet cni-test {
    chain postrouting {
        type nat hook postrouting priority srcnat + 10; policy accept;
        ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 counter masquerade
    }
    chain forward {
        type filter hook forward priority filter - 5; policy accept;
        meta mark & 0x00010000 == 0x00010000 counter accept
    }
}
"""


def node_names(cluster: Any) -> list[str]:
    return [n["metadata"]["name"] for n in cluster.nodes()]


def flows(cluster: Any, node: str) -> list[tuple[str, str, str]]:
    """(src, dst, protocol) flows that reach every kind of entry point the cluster has."""
    st = proxy_settings(cluster, node)
    node_ips = [proxy_settings(cluster, n)["node_ip"] for n in node_names(cluster)]
    pod_ips = sorted({p.get("status", {}).get("podIP") for p in cluster.pods()} - {None, ""})[:3]
    sources = [st["node_ip"], *pod_ips, "198.51.100.7", "203.0.113.5", *node_ips[:2]]
    out: list[tuple[str, str, str]] = []
    for sp in service_ports(cluster):
        dsts = [f"{sp.cluster_ip}:{sp.port}"] if sp.cluster_ip and sp.cluster_ip != "None" else []
        dsts += [f"{ip}:{sp.port}" for ip in (*sp.external_ips, *sp.lb_ips)]
        if sp.node_port:
            dsts += [f"{st['node_ip']}:{sp.node_port}", f"127.0.0.1:{sp.node_port}"]
        for d in dsts:
            out.extend((s, d, sp.protocol) for s in dict.fromkeys(sources))
    out.append((sources[0], "10.96.254.254:80", "TCP"))
    return out


def answer(tr: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    d = tr.to_dict()
    return {k: d[k] for k in ANSWER if k not in drop}


def expected_explain(cluster: Any, node: str, mode: str) -> dict[tuple[str, Any, str], dict[str, float]]:
    """Per Service port: the endpoints and probabilities a ClusterIP connection gets on ``node``.

    Where the ClusterIP has no route (internalTrafficPolicy=Local without local endpoints) but
    external traffic does, the external policy's endpoints, as explain-rules reports them.
    """
    out: dict[tuple[str, Any, str], dict[str, float]] = {}
    for sp in service_ports(cluster):
        if not sp.cluster_ip or sp.cluster_ip == "None":
            continue
        key = (f"{sp.namespace}/{sp.name}", sp.port_name or sp.port, sp.protocol)
        tr = trace(cluster, node, "198.51.100.7", f"{sp.cluster_ip}:{sp.port}", sp.protocol, mode=mode)
        eps = {d.endpoint: d.probability for d in tr.destinations}
        cat = categorize_endpoints(sp, node)
        if not eps and cat.has_any_endpoints and sp.externally_accessible and sp.internal_local:
            pol = cat.local if sp.external_local else cat.cluster
            eps = {e.address: 1 / len(pol) for e in pol}
        out[key] = eps
    return out


def explained(reports: list[Any]) -> dict[tuple[str, Any, str], dict[str, float]]:
    return {(r.service, r.port, r.protocol): {e["endpoint"]: e["probability"] for e in r.endpoints} for r in reports}
