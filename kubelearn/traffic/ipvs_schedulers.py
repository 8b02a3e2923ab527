"""IPVS schedulers: how kube-proxy's IPVS mode chooses a real server, node by node.

In IPVS mode each Service port is a *virtual server* in the kernel of every node, with the
endpoints as its *real servers*.  The scheduler (``ipvs.scheduler`` in the
KubeProxyConfiguration, empty meaning ``rr``) is a small state machine per node and per
virtual server, so two nodes never coordinate: "least connections" is least on *this* node.

- ``rr`` / ``wrr`` (kube-proxy gives every real server weight 1, so they are the same):
  strict rotation in the order the servers were added, starting with the first.
- ``lc``, ``wlc``, ``sed``, ``nq``: the server with the fewest active connections on this
  node (first in list order on a tie; with equal weights the four agree, except that ``nq``
  takes any idle server first, which is the same choice here).
- ``sh``: source hashing, a 256-bucket table filled with the servers in rotation, indexed by
  a multiplicative hash of the source address, ``(source IP × 2654435761) mod 256`` (the
  formula of ``ip_vs_sh.c``; kubelearn has not checked that every kernel version uses exactly
  this bucket function, so the *which* server is illustrative, the *always the same one* is not):
  one client always lands on the same server.
- ``dh``: destination hashing on the virtual address: every client lands on one server.

Session affinity (``ClientIP``) becomes IPVS *persistence*: a per-node template maps the
client address to its server until ``timeoutSeconds`` after its last connection.

Simplifications (said here, as promised): inactive (TIME_WAIT) connections are not counted by
``lc``/``wlc``; ``lblc``, ``lblcr`` and ``mh`` are not modelled and raise
:class:`UnsupportedSchedulerError`.
"""

from __future__ import annotations

import heapq
import ipaddress
from collections.abc import Sequence
from typing import Final

import numpy as np

from ..errors import UnsupportedSchedulerError

__all__ = ["SCHEDULERS", "UnsupportedSchedulerError", "Persistence", "Scheduler", "make_scheduler", "ip_to_int",
           "hash_bucket"]

SCHEDULERS: Final = ("rr", "wrr", "lc", "wlc", "sed", "nq", "sh", "dh")
_UNSUPPORTED: Final = ("lblc", "lblcr", "mh", "fo", "ovf", "twos")
_TAB_SIZE: Final = 256  # IP_VS_SH_TAB_SIZE / IP_VS_DH_TAB_SIZE (1 << 8)
_MULT: Final = 2654435761


def ip_to_int(ip: str) -> int:
    """An IPv4 address as the host-order integer the kernel hashes (``ntohl``)."""
    parts = ip.split(".")
    if len(parts) == 4 and "".join(parts).isdigit():  # the usual dotted quad, without ipaddress's overhead
        a, b, c, d = map(int, parts)
        if max(a, b, c, d) <= 255 and max(map(len, parts)) <= 3:
            return (a << 24) | (b << 16) | (c << 8) | d
    return int(ipaddress.IPv4Address(ip))  # anything else: its parser, and its error


def hash_bucket(addr: np.ndarray | int) -> np.ndarray:
    """The 256-entry table slot of ``ip_vs_sh``/``ip_vs_dh`` for host-order addresses."""
    a = np.asarray(addr, dtype=np.uint64)
    return ((a * np.uint64(_MULT)) & np.uint64(_TAB_SIZE - 1)).astype(np.int64)


class Scheduler:
    """One virtual server's scheduler state on one node.

    Args:
        name: the IPVS scheduler name (``rr`` when empty).
        vip: the virtual address (used by ``dh``).
    """

    def __init__(self, name: str, vip: str = "0.0.0.0"):
        name = name or "rr"
        if name in _UNSUPPORTED or name not in SCHEDULERS:
            raise UnsupportedSchedulerError(
                f'error: IPVS scheduler "{name}" is not modelled by kubelearn '
                f"(supported: {', '.join(SCHEDULERS)})")
        self.name = name
        self.vip = vip
        self._next = 0  # rr: position after the last chosen server
        self._last: str | None = None
        self._active: dict[str, int] = {}
        self._ends: list[tuple[float, str]] = []

    # -- rotation: keep the *server* last chosen, so a changed list continues after it
    def _rr(self, dests: Sequence[str]) -> int:
        if self._last is not None and self._last in dests:
            i = (list(dests).index(self._last) + 1) % len(dests)
        else:
            i = self._next % len(dests)
        self._last = dests[i]
        self._next = i + 1
        return i

    def rotation(self, dests: Sequence[str], n: int) -> np.ndarray:
        """``n`` consecutive ``rr`` choices over an unchanged list (vectorised)."""
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        start = self._rr(dests)
        idx = (start + np.arange(n, dtype=np.int64)) % len(dests)
        self._last = dests[int(idx[-1])]
        self._next = int(idx[-1]) + 1
        return idx

    def _expire(self, t: float) -> None:
        while self._ends and self._ends[0][0] <= t:
            _, d = heapq.heappop(self._ends)
            self._active[d] -= 1

    def pick(self, t: float, src: int, dests: Sequence[str], end: float) -> int:
        """Choose a server for a new connection at ``t`` from ``src`` lasting until ``end``.

        Returns:
            the index into ``dests``.
        """
        if self.name in ("rr", "wrr"):
            i = self._rr(dests)
        elif self.name == "sh":
            i = int(hash_bucket(src)) % len(dests)
        elif self.name == "dh":
            i = int(hash_bucket(ip_to_int(self.vip))) % len(dests)
        else:
            self._expire(t)
            counts = [self._active.get(d, 0) for d in dests]
            if self.name == "nq" and 0 in counts:
                i = counts.index(0)
            else:
                i = int(np.argmin(counts))  # first minimum, as the kernel's loop keeps the first
        if self.name in ("lc", "wlc", "sed", "nq"):
            d = dests[i]
            self._active[d] = self._active.get(d, 0) + 1
            heapq.heappush(self._ends, (end, d))
        return i


def make_scheduler(name: str | None, vip: str) -> Scheduler:
    """A fresh :class:`Scheduler` (``rr`` for ``None``/empty, kube-proxy's default)."""
    return Scheduler(name or "rr", vip)


class Persistence:
    """IPVS persistence (``ipvsadm … persistent <timeout>``): per-client templates in front of a scheduler.

    The first connection of a client is scheduled; IPVS then keeps a *template* (``ipvsadm
    -Lnc`` shows it) mapping the client's address to that server until ``timeout`` seconds
    after the client's last connection closed.  A connection while the template lives goes to
    the same server, if it is still a real server of the virtual service.
    """

    def __init__(self, timeout: float, scheduler: Scheduler):
        self.timeout = timeout
        self.scheduler = scheduler
        self.templates: dict[int, tuple[str, float]] = {}  # client → (server, template expiry)

    def pick(self, t: float, src: int, dests: Sequence[str], end: float) -> int:
        """Choose a server for a new connection at ``t`` from ``src`` lasting until ``end``."""
        tpl = self.templates.get(src)
        if tpl is not None and tpl[1] >= t and tpl[0] in dests:
            i = list(dests).index(tpl[0])
        else:
            i = self.scheduler.pick(t, src, dests, end)
        self.templates[src] = (dests[i], max(end, t) + self.timeout)
        return i
