"""The tracer for IPVS mode: iptables' nat hook, the IPVS virtual server, POSTROUTING.

In IPVS mode a new connection first meets the few iptables rules kube-proxy keeps in the nat
table (``KUBE-SERVICES`` matching ipsets: which packets to mark for masquerading), then the
kernel's IPVS load balancer: the *virtual server* for the destination address, port and
protocol picks one of its *real servers* (the endpoints) and rewrites the destination.
Finally ``nat POSTROUTING`` masquerades marked packets, as in iptables mode.

Every real server is reported with the same share, 1/n: that is the long-run share of ``rr``
and of every scheduler on equal weights; the schedulers that depend on live load or on the
client (``lc``, ``sh``…) are modelled per connection by the traffic simulator
(:mod:`kubelearn.traffic.ipvs_schedulers`).  A virtual server without real servers is
reported as DROP; the filter table of this mode is not walked (see :mod:`kubelearn.proxy.ipvs`).
"""

from __future__ import annotations

from fractions import Fraction

from .iptables_trace import IptablesWalker
from .ipvs import IpvsRuleset
from .walk import Hook, Packet, Trace, finish, node_locals, parse_dst, parse_ip

__all__ = ["trace_ipvs"]


def trace_ipvs(rs: IpvsRuleset, src: str, dst: str, protocol: str = "TCP", extra_local: tuple[str, ...] = (),
               walker: type[IptablesWalker] | None = None) -> Trace:
    """Trace a new connection: nat hook (masquerade marks) → IPVS → POSTROUTING.

    ``walker`` replaces :class:`~kubelearn.proxy.iptables_trace.IptablesWalker` for the
    iptables part (a real node's dump, see :mod:`kubelearn.proxy.read`).
    """
    src_ip = parse_ip(src, "source address")
    dst_ip, dport = parse_dst(dst)
    w = (walker or IptablesWalker)(rs, node_locals([*rs.node_addresses, *extra_local]))
    pk = Packet(src_ip, dst_ip, dport, protocol.lower())
    hook: Hook = "OUTPUT" if w.is_local(src_ip) else "PREROUTING"
    results: list[tuple[Packet, str]] = []
    for p, _verdict in w.hook("nat", hook, pk):
        vsv = rs.virtual_servers.get((str(p.dst), protocol, p.dport))
        if vsv is None:
            results.append((p, "ACCEPT"))
            continue
        server = f"{vsv.protocol} {vsv.address}:{vsv.port}"
        p = p.with_(owner=vsv.owner, affinity=vsv.persistent)
        w.record("ipvs", server, vsv.text().splitlines()[0], True, p)
        if not vsv.reals:
            results.append((p, "DROP"))
            continue
        share = Fraction(1, len(vsv.reals))
        for real in vsv.reals:
            q = p.with_(prob=p.prob * share).dnatted(real, server)
            results.extend(w.hook("nat", "POSTROUTING", q))
    scheduler = next(iter(rs.virtual_servers.values())).scheduler if rs.virtual_servers else None
    return finish(w, results, mode="ipvs", hook=hook, src=src, dst=dst, protocol=protocol,
                  scheduler=scheduler or None)
