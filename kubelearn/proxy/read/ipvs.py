"""Reading ``ipvsadm -Ln`` with ``ipset list`` and ``iptables-save`` of the same node.

A node in IPVS mode holds its Services in three places, and a useful dump has all three:

* ``ipvsadm -Ln``: one *virtual server* per service address and port, ``TCP
  10.96.0.10:53 rr`` (protocol, address, scheduler, ``persistent <seconds>`` for ClientIP
  affinity), with its *real servers* below it, ``-> 10.244.1.3:53 Masq 1 0 0`` (forwarding
  method, weight, active and inactive connections).  A weight of 0 is how kube-proxy drains
  a terminating endpoint: it gets no new connections.  ``ipvsadm -Ln --stats`` prints traffic
  counters instead of scheduler and weights; ``--persistent-conn`` adds a persistent
  connection count.  Neither form names the Service: IPVS knows addresses, not names.
* ``ipset list``: the sets kube-proxy's few iptables rules match (``KUBE-CLUSTER-IP``,
  ``KUBE-LOOP-BACK``, ``KUBE-NODE-PORT-TCP``…), ``Name:``/``Type:``/``Members:`` blocks;
  ``ipset save`` (``create``/``add`` lines) is read too;
* ``iptables-save``: the masquerade rules around IPVS (see
  :mod:`kubelearn.proxy.read.iptables_save`).

Put them in one file in any order (``{ ipvsadm -Ln; ipset list; iptables-save; } > node.txt``)
or pass several files.
"""

from __future__ import annotations

import re
from typing import Any

from ..ipvs import IpvsRuleset, VirtualServer
from .common import DumpError

__all__ = ["parse_ipvsadm", "parse_ipset", "is_ipvs_line", "is_ipset_line"]

_VS = re.compile(r"^(TCP|UDP|SCTP)\s+(\S+):(\d+)(?:\s+(.*))?$")
_REAL = re.compile(r"^->\s+(\S+):(\d+)(?:\s+(.*))?$")


def is_ipvs_line(line: str) -> bool:
    """A line of ``ipvsadm -Ln`` output."""
    s = line.strip()
    return bool(s.startswith(("IP Virtual Server version", "Prot LocalAddress:Port", "-> RemoteAddress:Port", "FWM "))
                or _VS.match(s) or _REAL.match(s))


def is_ipset_line(line: str) -> bool:
    """A line of ``ipset list`` or ``ipset save`` output."""
    s = line.strip()
    return s.startswith(("Name: ", "Type: ", "Revision: ", "Header: ", "Size in memory: ", "References: ",
                         "Number of entries: ", "Members:", "create ", "add "))


def parse_ipvsadm(lines: list[tuple[int, str]], rs: IpvsRuleset, warnings: list[str]) -> None:
    """Fill ``rs.virtual_servers`` from ``ipvsadm -Ln`` (any of its three forms)."""
    current: VirtualServer | None = None
    in_fwm = False
    weights: dict[tuple[str, str, int], list[int]] = {}
    for lineno, raw in lines:
        s = raw.strip()
        if not s or s.startswith(("IP Virtual Server version", "Prot LocalAddress:Port", "-> RemoteAddress:Port")):
            continue
        m = _VS.match(s)
        if m:
            proto, addr, port, rest = m[1], m[2], int(m[3]), (m[4] or "").split()
            sched = rest[0] if rest and not rest[0].isdigit() else None
            persistent = None
            if "persistent" in rest:
                k = rest.index("persistent")
                if k + 1 < len(rest) and rest[k + 1].isdigit():
                    persistent = int(rest[k + 1])
            in_fwm = False
            current = VirtualServer(proto, addr, port, sched or "", persistent, [], None)  # type: ignore[arg-type]
            rs.virtual_servers[(addr, proto, port)] = current
            weights[(addr, proto, port)] = []
            continue
        m = _REAL.match(s)
        if m:
            if current is None:
                if in_fwm:
                    continue
                raise DumpError(f"line {lineno}: real server {s!r} before any virtual server")
            fields = (m[3] or "").split()
            weight = 1
            # -Ln: "Masq 1 0 0"; --persistent-conn: "1 0 0 0" (weight first); --stats: counters only.
            if fields and fields[0] in ("Masq", "Route", "Tunnel", "Local", "FullNat") and len(fields) > 1:
                weight = int(fields[1]) if fields[1].isdigit() else 1
            current.reals.append(f"{m[1]}:{m[2]}")
            weights[(current.address, current.protocol, current.port)].append(weight)
            continue
        if s.startswith("FWM "):  # a firewall-mark virtual server: not kube-proxy's, kept out
            warnings.append(f"line {lineno}: skipped firewall-mark virtual server {s!r} (kube-proxy does not use FWM)")
            current, in_fwm = None, True
            continue
        raise DumpError(f"line {lineno}: not ipvsadm -Ln output: {s[:60]!r}")
    for key, ws in weights.items():
        vs = rs.virtual_servers[key]
        drained = [r for r, w in zip(vs.reals, ws, strict=True) if w == 0]
        if drained:
            warnings.append(f"{vs.protocol} {vs.address}:{vs.port}: real server(s) {', '.join(drained)} have weight 0 "
                            "(terminating: no new connections)")
            vs.reals[:] = [r for r, w in zip(vs.reals, ws, strict=True) if w != 0]
    rs.drained = {key: ws for key, ws in weights.items()}  # type: ignore[attr-defined]


def _member(settype: str, text: str) -> Any:
    # "10.96.0.1,tcp:443" (hash:ip,port), "10.244.1.3,tcp:80,10.244.1.3" (hash:ip,port,ip), "30080" (bitmap:port)
    parts = text.split()[0].split(",")
    if settype.startswith("bitmap:port"):
        return parts[0]
    return tuple(parts)


def parse_ipset(lines: list[tuple[int, str]], rs: IpvsRuleset, warnings: list[str]) -> None:
    """Fill ``rs.ipsets`` from ``ipset list`` or ``ipset save`` output."""
    name: str | None = None
    settype = ""
    members = False
    for lineno, raw in lines:
        s = raw.strip()
        if not s:
            continue
        if s.startswith("create "):
            parts = s.split()
            if len(parts) < 3:
                raise DumpError(f"line {lineno}: bad ipset line {s!r}")
            name, settype, members = parts[1], parts[2], False
            rs.ipsets.setdefault(name, set())
            rs.ipset_types[name] = settype  # type: ignore[attr-defined]
            continue
        if s.startswith("add "):
            parts = s.split()
            if len(parts) < 3:
                raise DumpError(f"line {lineno}: bad ipset line {s!r}")
            t = rs.ipset_types.get(parts[1], "")  # type: ignore[attr-defined]
            rs.ipsets.setdefault(parts[1], set()).add(_member(t, parts[2]))
            continue
        if s.startswith("Name: "):
            name, members = s[6:].strip(), False
            rs.ipsets.setdefault(name, set())
            continue
        if s.startswith("Type: "):
            settype = s[6:].strip()
            if name:
                rs.ipset_types[name] = settype  # type: ignore[attr-defined]
            continue
        if s.startswith("Members:"):
            members = True
            continue
        if members and name:
            rs.ipsets[name].add(_member(settype, s))
            continue
        if ":" in s and not members:
            continue  # Revision:, Header:, Size in memory:, References:, Number of entries:
        raise DumpError(f"line {lineno}: not ipset output: {s[:60]!r}")
    del warnings  # nothing to warn about yet; kept for the readers' common signature
