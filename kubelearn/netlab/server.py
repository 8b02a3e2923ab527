"""The pod's server: a tiny TCP service that says who answered and whom it saw.

A Service's endpoints are pods listening on the ``targetPort``.  What the lab needs to know
about every connection is exactly what an ``echoserver`` pod prints: *which pod* answered
(so the balancing can be counted) and *which source address and port it saw* (so
masquerading is visible: a NodePort with ``externalTrafficPolicy: Cluster`` shows the node's
address, ``Local`` shows the client's own).  Each answer is one line::

    kubelearn-netlab pod=default/web-7d4b9-abcde src=10.244.1.1:40312 dst=10.244.2.5:8080

The listening sockets are created inside each pod's network namespace (a helper thread
enters it, opens them and leaves), and one selector thread serves them all: no process
per pod, nothing to reap, and nothing left listening once the lab closes.
"""

from __future__ import annotations

import selectors
import socket
import threading
from dataclasses import dataclass

from . import host

__all__ = ["PodServers", "Listener", "parse_answer"]

BANNER = "kubelearn-netlab"


@dataclass(frozen=True)
class Listener:
    """One listening socket: the pod (``namespace/name``), its IP and port."""

    pod: str
    ip: str
    port: int


def parse_answer(data: bytes) -> dict[str, str] | None:
    """The fields of one server answer (``pod``, ``src``, ``dst``), or ``None`` if it is not one."""
    text = data.decode("ascii", "replace").strip()
    parts = text.split()
    if not parts or parts[0] != BANNER:
        return None
    out = {}
    for part in parts[1:]:
        k, _, v = part.partition("=")
        out[k] = v
    return out if {"pod", "src", "dst"} <= out.keys() else None


class PodServers:
    """Every pod's listeners, served by one background thread.

    Use :meth:`listen` to open a pod's ports (inside its namespace), :meth:`close_pod` when a
    pod goes away, :meth:`close` at the end.
    """

    def __init__(self) -> None:
        self._sel = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._by_pod: dict[str, list[socket.socket]] = {}
        self.listeners: list[Listener] = []
        self.accepted = 0
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, None)
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="netlab-pod-servers", daemon=True)
        self._thread.start()

    def listen(self, netns: str, pod: str, ip: str, ports: list[int]) -> None:
        """Open TCP listeners for ``pod`` on ``ip:port`` for each port, inside ``netns``."""

        def open_all() -> list[socket.socket]:
            socks = []
            try:
                for port in ports:
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    socks.append(s)
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    # Listen on every address, as a container's server does (0.0.0.0):
                    # hairpin and node-local traffic must reach it too.
                    s.bind(("0.0.0.0", port))
                    s.listen(1024)
                    s.setblocking(False)
            except BaseException:
                for s in socks:
                    s.close()
                raise
            return socks

        socks = host.in_netns(netns, open_all)
        with self._lock:
            self._by_pod.setdefault(pod, []).extend(socks)
            for s, port in zip(socks, ports, strict=True):
                self._sel.register(s, selectors.EVENT_READ, pod)
                self.listeners.append(Listener(pod, ip, port))
        self._wake_w.send(b"x")

    def close_pod(self, pod: str) -> None:
        """Stop a pod's listeners (its connections are then refused by the pod's kernel)."""
        with self._lock:
            for s in self._by_pod.pop(pod, []):
                self._sel.unregister(s)
                s.close()
            self.listeners = [x for x in self.listeners if x.pod != pod]

    def _loop(self) -> None:
        while not self._stop:
            events = self._sel.select(timeout=0.5)
            with self._lock:  # close_pod() must not close a socket while it is being served
                self._serve(events)

    def _serve(self, events: list[tuple[selectors.SelectorKey, int]]) -> None:
        for key, _ in events:
            if key.data is None:
                try:
                    self._wake_r.recv(4096)
                except BlockingIOError:
                    pass
                continue
            sock: socket.socket = key.fileobj  # type: ignore[assignment]
            if sock.fileno() < 0:
                continue
            for _ in range(256):  # bounded: drain the accept queue, then look again
                try:
                    conn, (peer_ip, peer_port) = sock.accept()
                except (BlockingIOError, OSError):
                    break
                try:
                    local_ip, local_port = conn.getsockname()
                    line = f"{BANNER} pod={key.data} src={peer_ip}:{peer_port} dst={local_ip}:{local_port}\n"
                    conn.setblocking(True)
                    conn.settimeout(1.0)
                    conn.sendall(line.encode())
                    self.accepted += 1
                except OSError:
                    pass
                finally:
                    conn.close()

    def close(self) -> None:
        """Stop serving and close every socket."""
        self._stop = True
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass
        self._thread.join(5.0)
        with self._lock:
            for socks in self._by_pod.values():
                for s in socks:
                    s.close()
            self._by_pod.clear()
            self.listeners = []
        self._sel.close()
        self._wake_r.close()
        self._wake_w.close()
