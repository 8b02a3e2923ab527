"""The client side: real TCP connections with short timeouts, recorded as they ended.

What a client sees of a Service is only how ``connect()`` ends.  An endpoint answers (the
three-way handshake completes and the pod speaks); the rules ``REJECT`` (kube-proxy does
this for a Service with no endpoints: an ICMP port-unreachable comes back and ``connect()``
fails with ``ECONNREFUSED``, "connection refused"); the rules ``DROP`` (a NodePort with
``externalTrafficPolicy: Local`` on a node without a local endpoint: nothing comes back and
the client gives up, "timed out"); or something resets the connection.

The driver opens each connection from a socket created inside the client's namespace and
bound to the client's source address (an external host may own hundreds), and keeps many
connections in flight.  Connections *start* in order: the next one starts only when the
previous one has been answered or a few milliseconds have passed, so per-client state in the
kernel (``recent`` lists for ClientIP affinity) sees connections in the same order as the
simulator does.
"""

from __future__ import annotations

import errno
import selectors
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from . import host
from .server import parse_answer

__all__ = ["Connection", "Outcome", "drive"]


@dataclass(frozen=True)
class Connection:
    """One connection to open: from whom (namespace, source address) to what (IP and port).

    ``info`` carries the request-log fields the lab fills in from the cluster (``client``,
    ``client_kind``, ``via``, ``entry_node``, ``service``, ``port_name``).
    """

    netns: str
    src_ip: str
    dst_ip: str
    dst_port: int
    info: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    mark: int = 0  # SO_MARK: the external host's policy routing picks the entry node by it


@dataclass
class Outcome:
    """How one connection ended."""

    connection: Connection
    start: float
    end: float = 0.0
    outcome: str = ""  # ok, refused, dropped, reset
    src_port: int | None = None
    pod: str = ""
    seen_src: str = ""
    endpoint: str = ""
    error: str = ""

    @property
    def latency_ms(self) -> float:
        """Time from the first SYN to the pod's answer (or to the failure)."""
        return (self.end - self.start) * 1000.0


_REFUSED = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH}


def _open_sockets(conns: Sequence[Connection]) -> list[socket.socket]:
    socks = []
    try:
        for c in conns:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            if c.mark:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, c.mark)
            s.bind((c.src_ip, 0))
    except BaseException:
        for s in socks:
            s.close()
        raise
    return socks


def _make_sockets(conns: Sequence[Connection]) -> list[socket.socket]:
    # One short-lived thread per namespace per batch enters it and creates the sockets.
    out: list[socket.socket | None] = [None] * len(conns)
    by_ns: dict[str, list[int]] = {}
    for i, c in enumerate(conns):
        by_ns.setdefault(c.netns, []).append(i)
    try:
        for ns, idx in by_ns.items():
            group = [conns[i] for i in idx]
            made = host.in_netns(ns, partial(_open_sockets, group))
            for i, sock in zip(idx, made, strict=True):
                out[i] = sock
    except BaseException:
        for maybe in out:
            if maybe is not None:
                maybe.close()
        raise
    return [sock for sock in out if sock is not None]


def drive(
    conns: Sequence[Connection],
    *,
    timeout: float = 0.5,
    concurrency: int = 64,
    stagger: float = 0.002,
    batch: int = 128,
    deadline: float | None = None,
) -> list[Outcome]:
    """Open every connection and record how each ended.

    Args:
        conns: the connections, in the order they start.
        timeout: seconds without an answer after which a connection counts as dropped.
        concurrency: at most this many connections in flight.
        stagger: a connection starts once the previous one was answered or this many
            seconds have passed (so the kernel meets SYNs in order).
        batch: sockets created per trip into a namespace.
        deadline: overall wall-clock budget in seconds (default: generous, from the counts).

    Returns:
        One :class:`Outcome` per connection, in input order.

    Raises:
        HostError: when the overall deadline passes (a bound on every loop).
    """
    n = len(conns)
    results: list[Outcome | None] = [None] * n
    if deadline is None:
        deadline = 30.0 + n * (stagger + 0.001) + timeout * (1 + n / max(concurrency, 1))
    sel = selectors.DefaultSelector()
    pending: list[socket.socket] = []
    next_i = 0
    inflight: dict[int, tuple[socket.socket, Outcome, bool]] = {}  # fd -> (sock, outcome, connected)
    buffers: dict[int, bytearray] = {}
    last_start = 0.0
    prev_done = True
    t_end = time.monotonic() + deadline

    def finish(fd: int, outcome: str, error: str = "") -> None:
        sock, res, _ = inflight.pop(fd)
        res.end = time.monotonic()
        res.outcome = outcome
        res.error = error
        if outcome == "ok":
            ans = parse_answer(bytes(buffers.get(fd, b"")))
            if ans is None:
                res.outcome, res.error = "reset", "no answer from the pod"
            else:
                res.pod, res.seen_src, res.endpoint = ans["pod"], ans["src"], ans["dst"]
        buffers.pop(fd, None)
        sel.unregister(sock)
        sock.close()

    try:
        while next_i < n or inflight:
            now = time.monotonic()
            if now > t_end:
                raise host.HostError(f"connections did not finish within {deadline:.0f}s")
            # Start the next connection when allowed.
            while (next_i < n and len(inflight) < concurrency
                   and (prev_done or now - last_start >= stagger)):
                if not pending:
                    pending = _make_sockets(conns[next_i:next_i + batch])
                    pending.reverse()
                sock = pending.pop()
                c = conns[next_i]
                res = Outcome(connection=c, start=time.monotonic())
                results[next_i] = res
                err = sock.connect_ex((c.dst_ip, c.dst_port))
                fd = sock.fileno()
                inflight[fd] = (sock, res, False)
                buffers[fd] = bytearray()
                sel.register(sock, selectors.EVENT_WRITE, next_i)
                next_i += 1
                last_start = res.start
                prev_done = False
                if err not in (0, errno.EINPROGRESS):
                    finish(fd, "refused" if err in _REFUSED else "reset", errno.errorcode.get(err, str(err)))
                    prev_done = True
                now = time.monotonic()
            # Wait for events, no longer than needed for the next start or timeout.
            wait = min((r.start + timeout for _, r, _ in inflight.values()), default=now + stagger) - now
            if next_i < n:
                wait = min(wait, stagger)
            events = sel.select(timeout=max(wait, 0.0)) if inflight else []
            for key, _ in events:
                sock = key.fileobj  # type: ignore[assignment]
                fd = sock.fileno()
                if fd not in inflight:
                    continue
                _, res, connected = inflight[fd]
                if key.data == next_i - 1:
                    prev_done = True
                if not connected:
                    err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        finish(fd, "refused" if err in _REFUSED else
                               ("dropped" if err == errno.ETIMEDOUT else "reset"),
                               errno.errorcode.get(err, str(err)))
                        continue
                    res.src_port = sock.getsockname()[1]
                    inflight[fd] = (sock, res, True)
                    sel.modify(sock, selectors.EVENT_READ, key.data)
                    continue
                try:
                    data = sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError as exc:
                    finish(fd, "reset", errno.errorcode.get(exc.errno or 0, str(exc)))
                    continue
                if data:
                    buffers[fd] += data
                    if len(buffers[fd]) > 4096:
                        finish(fd, "ok")
                else:
                    finish(fd, "ok")
            now = time.monotonic()
            for fd, (_, res, connected) in list(inflight.items()):
                if now - res.start >= timeout:
                    # No SYN-ACK: the rules dropped it.  Connected but silent: the pod hung.
                    finish(fd, "reset" if connected else "dropped", "timed out")
                    if res is results[next_i - 1]:
                        prev_done = True
    finally:
        for sock, _, _ in inflight.values():
            sock.close()
        for sock in pending:
            sock.close()
        sel.close()
    return [r for r in results if r is not None]
