"""The lab: a kind-like cluster made of network namespaces, running kubelearn's own rules.

kubelearn's simulator *predicts* where each connection lands by reading the rules it
renders.  The lab asks the real Linux kernel instead: it builds one network namespace per
node, per pod and for an external host (see :mod:`kubelearn.netlab.topo`), loads every
node's rendered kube-proxy rules with ``iptables-restore`` (or ``nft -f`` in nftables mode),
starts a tiny server in every pod and opens real TCP connections.  conntrack, DNAT,
``-m statistic``, ``-m recent`` and MASQUERADE are then the kernel's, not kubelearn's.

::

    with NetLab(cluster) as lab:
        print(lab.kernel_rules("kind-worker"))   # iptables-save, read back from the node
        log = lab.run(workload)                  # the simulator's request-log schema

The lab always tears itself down: on leaving the ``with`` block, on an exception, on
Ctrl-C (SIGINT) or SIGTERM, and at interpreter exit.  Teardown itself cannot be cut short: a
second Ctrl-C is held until every namespace is gone (and if one cannot be removed, the
command to run is printed).  The lab records its owner before its first namespace exists,
so ``kubelearn netlab cleanup`` in another process spares a lab that is still being built
and removes only what a killed process left behind.  Nothing outside the lab's namespaces is
touched.

Simplifications, said out loud: IPv4 only; TCP only; connections start as fast as the
kernel answers them rather than at the workload's arrival times (so affinity timeouts and
time-based events are compressed); events are applied at once (no EndpointSlice or
kube-proxy propagation delay); ``rules_walked`` is unknown to the kernel and logged as -1;
ICMP error rate limits are lifted inside node namespaces so every REJECT is seen.
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from types import FrameType
from typing import Any

import pandas as pd

from .. import objects
from ..cluster import Cluster
from ..errors import KubelearnError
from ..proxy import rules
from ..proxy.nftables import NftablesRuleset
from . import host, topo
from .client import Connection, Outcome, drive
from .server import PodServers

__all__ = ["NetLab", "RulesRenderer"]

#: ``(cluster, node, mode) -> text`` for ``iptables-restore`` (iptables) or ``nft -f`` (nftables).
RulesRenderer = Callable[[Cluster, str, str], str]

# kube-proxy's sync rewrites ICMP error limits nowhere; the lab lifts them (see module doc).
_ICMP_SYSCTLS = ("net.ipv4.icmp_ratemask=0", "net.ipv4.icmp_ratelimit=0")


#: The longest a connection may wait for an answer (``timeout``), in seconds.
MAX_TIMEOUT_SECONDS = 60.0
#: Real connections one run may open (about 20 s at the lab's few thousand connections per second).
MAX_LAB_CONNECTIONS = 100_000

_CANARY = "".join(f"*{t}\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n" for t in ("mangle", "nat", "filter"))


def default_renderer(cluster: Cluster, node: str, mode: str) -> str:
    """The node's rules from :mod:`kubelearn.proxy`, in the form the kernel tools read.

    Raises:
        KubelearnError: for a mode the lab does not run (IPVS).
    """
    if mode == "ipvs":
        raise KubelearnError(f'the lab does not run kube-proxy mode "{mode}"')
    ruleset = rules(cluster, node, mode=mode)
    if isinstance(ruleset, NftablesRuleset):
        return ruleset.nft_input()
    return ruleset.iptables_restore_input()


class NetLab:
    """A context-managed lab: build on enter, tear down on exit (always).

    Args:
        cluster: the cluster to mirror (nodes, pods, Services, EndpointSlices).
        mode: ``iptables`` or ``nftables`` (default: the cluster's kube-proxy mode).  IPVS
            is refused: where the kernel lacks ``ip_vs`` the message says so; where it has
            it, the message says the lab does not drive IPVS yet.
        prefix: the lab's namespace prefix (default: a fresh ``klnl-<6 hex>-``).
        renderer: where the rules come from (default: :mod:`kubelearn.proxy`).
        timeout: seconds a connection may wait for an answer before it counts as dropped.
        external_cidr: where external clients take their addresses from when none are given.
    """

    def __init__(self, cluster: Cluster, mode: str | None = None, prefix: str | None = None, *,
                 renderer: RulesRenderer | None = None, timeout: float = 0.5,
                 external_cidr: str = "203.0.113.0/24") -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not (
                0 < timeout <= MAX_TIMEOUT_SECONDS):
            # NaN fails every comparison, so it lands here too; so do 0 and infinity.
            raise KubelearnError(f"invalid timeout {timeout!r}: must be a number of seconds greater than 0 "
                                 f"and at most {MAX_TIMEOUT_SECONDS:g}")
        self.cluster = cluster
        self.mode = mode or cluster.proxy_mode
        self.prefix = host.check_prefix(prefix) if prefix else host.new_prefix()
        self.renderer = renderer or default_renderer
        self.timeout = timeout
        self.external_cidr = external_cidr
        self.plan: topo.Plan | None = None
        self.servers: PodServers | None = None
        self.applied: dict[str, str] = {}
        self.build_seconds: float | None = None
        self._external: set[str] = set()
        self._marks: dict[str, int] = {}
        self._old_handlers: dict[int, Any] = {}
        self._open = False
        self._in_handler = False

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> NetLab:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> NetLab:
        """Build the lab (prefer ``with NetLab(...) as lab``).

        Raises:
            PreflightError: not root, not Linux, tools missing, or an unsupported mode.
            HostError: a command failed (the partial lab is torn down first).
        """
        if self._open:
            return self
        # Refuses IPVS with the honest reason: no ip_vs in this kernel, or the lab not driving it.
        host.preflight(self.mode)
        t0 = time.perf_counter()
        self.plan = topo.plan(self.cluster, self.prefix)  # pure: nothing exists yet
        self._open = True
        self._install_handlers()
        atexit.register(self.close)
        try:
            # Owner first, namespaces second: `netlab cleanup` in another process then sees a
            # lab being built as the live lab it is, never as a leftover.
            host.record_owner(self.prefix)
            topo.build(self.plan)
            for n in self.plan.nodes:
                host.set_sysctls(n.ns, _ICMP_SYSCTLS)
            self._setup_marks()
            self.servers = PodServers()
            self._start_servers(self.plan.pods)
            self.apply_rules()
        except BaseException:
            self.close()
            raise
        self.build_seconds = time.perf_counter() - t0
        return self

    def close(self) -> None:
        """Tear everything down: servers, then every namespace with this lab's prefix.

        Teardown is not interruptible: a Ctrl-C (or SIGTERM) that arrives meanwhile is held
        until it is done (the tools it runs are shielded too), and is then honoured.  If a
        namespace still cannot be removed, stderr says exactly what to run.
        """
        if not self._open:
            return
        self._open = False
        held: list[int] = []
        left: list[str] = []
        with _teardown_shield(self.prefix, held):
            try:
                if self.servers is not None:
                    self.servers.close()
                    self.servers = None
            finally:
                # Only this lab's own namespaces, whatever state the build reached.
                left = self._remove_namespaces()
        self._restore_handlers()
        atexit.unregister(self.close)
        if left:
            print(f"kubelearn netlab: {len(left)} namespace(s) of lab {self.prefix} could not be removed "
                  f"({', '.join(left)}); remove them with: sudo kubelearn netlab cleanup --prefix {self.prefix} "
                  "--force", file=sys.stderr)
        if held and not self._in_handler:
            # The interrupt the user gave during teardown: honoured now that the lab is gone.
            raise KeyboardInterrupt if held[0] == signal.SIGINT else SystemExit(128 + held[0])

    def _remove_namespaces(self) -> list[str]:
        for _ in range(3):
            try:
                host.cleanup(self.prefix, force=True)
            except KubelearnError:
                pass
            left = host.lab_namespaces(self.prefix)
            if not left:
                host.forget_owner(self.prefix)
                return []
        return left

    def _install_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return

        def on_signal(signum: int, frame: FrameType | None) -> None:
            # Unwind through the with-block (which tears down), then behave as before.
            self._in_handler = True
            try:
                self.close()
            finally:
                self._in_handler = False
            raise KeyboardInterrupt if signum == signal.SIGINT else SystemExit(128 + signum)

        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old_handlers[sig] = signal.signal(sig, on_signal)
            except (ValueError, OSError):  # pragma: no cover - not the main interpreter
                pass

    def _restore_handlers(self) -> None:
        for sig, old in self._old_handlers.items():
            try:
                signal.signal(sig, old)
            except (ValueError, OSError, TypeError):  # pragma: no cover
                pass
        self._old_handlers.clear()

    def _require(self) -> topo.Plan:
        if not self._open or self.plan is None:
            raise KubelearnError("the lab is not running: use `with NetLab(cluster) as lab:`")
        return self.plan

    # ------------------------------------------------------------------ pods
    def _pod_ports(self, cluster: Cluster) -> dict[str, set[int]]:
        # Every port an EndpointSlice sends to a pod, plus its declared TCP containerPorts.
        ports: dict[str, set[int]] = {}
        for pod in list(cluster.pods()):
            key = f"{pod['metadata'].get('namespace', 'default')}/{pod['metadata']['name']}"
            for c in pod.get("spec", {}).get("containers", []) or []:
                for cp in c.get("ports", []) or []:
                    if cp.get("protocol", "TCP") == "TCP" and "containerPort" in cp:
                        ports.setdefault(key, set()).add(int(cp["containerPort"]))
        for sl in list(cluster.endpoint_slices()):
            tcp = [int(p["port"]) for p in sl.get("ports") or [] if p.get("port") and p.get("protocol", "TCP") == "TCP"]
            for ep in sl.get("endpoints") or []:
                ref = ep.get("targetRef") or {}
                if ref.get("kind") == "Pod":
                    key = f"{ref.get('namespace', sl['metadata'].get('namespace', 'default'))}/{ref['name']}"
                    ports.setdefault(key, set()).update(tcp)
        return ports

    def _start_servers(self, pods: Iterable[topo.PodNS]) -> None:
        assert self.servers is not None
        ports = self._pod_ports(self.cluster)
        for pod in pods:
            want = sorted(ports.get(pod.key, set()))
            if want:
                self.servers.listen(pod.ns, pod.name, pod.ip, want)

    # ------------------------------------------------------------------ rules
    def render(self, node: str) -> str:
        """The text the lab feeds the kernel for ``node`` (restore input or nft script)."""
        return self.renderer(self.cluster, node, self.mode)

    def apply_rules(self, nodes: Sequence[str] | None = None) -> None:
        """Load each node's rendered rules into its namespace, replacing what was there.

        iptables: ``iptables-restore`` (the whole filter and nat tables, atomically, with the
        built-in chain jumps kube-proxy inserts); nftables: ``nft -f`` after deleting the
        previous ``ip kube-proxy`` table.
        """
        p = self._require()
        for node in p.nodes:
            if nodes is not None and node.name not in nodes:
                continue
            text = self.render(node.name)
            if self.mode == "iptables":
                host.run_in(node.ns, ["iptables-restore", "-w", "5"], input=text)
                # kube-proxy's canary chains (created with `iptables -N`, outside its restore):
                # they vanish when something else flushes a table, which triggers a full resync.
                host.run_in(node.ns, ["iptables-restore", "-w", "5", "--noflush"], input=_CANARY)
            else:
                host.run_in(node.ns, ["nft", "delete", "table", "ip", "kube-proxy"], check=False)
                host.run_in(node.ns, ["nft", "-f", "-"], input=text)
            self.applied[node.name] = text

    def kernel_rules(self, node: str) -> KernelRules:
        """What the kernel holds on ``node``: ``iptables-save`` or ``nft list ruleset``."""
        p = self._require()
        ns = p.node(node).ns
        argv = ["iptables-save"] if self.mode == "iptables" else ["nft", "list", "ruleset"]
        return KernelRules(node, self.mode, host.run_in(ns, argv).stdout)

    # ------------------------------------------------------------------ changes
    def update(self, cluster: Cluster) -> None:
        """Move the lab to a changed cluster (scaled, pods deleted), as kubelet and kube-proxy would.

        Pods that are gone lose their namespace; new pods get one and a server; every node's
        rules are re-rendered and re-applied.

        Raises:
            KubelearnError: when the set of nodes changed (the lab cannot add nodes).
        """
        p = self._require()
        new_plan = topo.plan(cluster, self.prefix, p.external.extra)
        if [n.name for n in new_plan.nodes] != [n.name for n in p.nodes]:
            raise KubelearnError("the lab cannot add or remove nodes while running; start a new lab")
        assert self.servers is not None
        old = {x.ns: x for x in p.pods}
        new = {x.ns: x for x in new_plan.pods}
        gone = [x for ns, x in old.items() if ns not in new or new[ns].ip != x.ip]
        added = [x for ns, x in new.items() if ns not in old or old[ns].ip != x.ip]
        for pod in gone:
            self.servers.close_pod(pod.name)
        host.delete_namespaces([x.ns for x in gone])
        self.cluster = cluster
        self.plan = new_plan
        if added:
            topo.add_pods(new_plan, added)
            self._start_servers(added)
        self.apply_rules()

    # ------------------------------------------------------------------ clients
    def _setup_marks(self) -> None:
        # The external host reaches any node with a per-socket mark: policy routing sends
        # marked packets to that node (as a load balancer or a router would); the mark is
        # cleared when the packet leaves the namespace, so kube-proxy's 0x4000 is untouched.
        p = self._require()
        cmds = []
        for i, n in enumerate(p.nodes):
            mark = 0x100 + i
            self._marks[n.name] = mark
            cmds += [f"route add default via {n.ip} dev eth0 table {mark}",
                     f"rule add fwmark {mark} lookup {mark} pref {1000 + i}"]
        host.ip_batch(p.external.ns, cmds)

    def _ensure_external(self, addresses: Iterable[str]) -> None:
        p = self._require()
        new = [a for a in dict.fromkeys(addresses) if a not in self._external and a != p.external.ip]
        for a in new:
            ip = ipaddress.ip_address(a)
            if ip.version != 4 or any(ip in ipaddress.ip_network(x) for x in
                                      (self.cluster.topology.node_subnet, self.cluster.topology.pod_subnet)):
                raise KubelearnError(f"external client address {a} must be IPv4 outside the node and pod networks")
        host.ip_batch(p.external.ns, [f"addr add {a}/32 dev eth0" for a in new])
        self._external.update(new)

    def connection(self, client: str, dst: str, *, client_kind: str | None = None, src_ip: str | None = None,
                   entry_node: str = "", **info: Any) -> Connection:
        """One connection spec: ``client`` (a pod or node name, or an external IP) dials ``dst`` (``IP:port``).

        Raises:
            KubelearnError: for an unknown client or a malformed ``dst``.
        """
        p = self._require()
        ip, _, port = dst.rpartition(":")
        if not ip or not port.isdigit():
            raise KubelearnError(f'invalid destination "{dst}": expected IP:port')
        pods = {x.name: x for x in p.pods}
        nodes = {x.name: x for x in p.nodes}
        kind = client_kind or ("pod" if client in pods else "node" if client in nodes else "external")
        mark = 0
        if kind == "pod":
            if client not in pods:
                raise KubelearnError(f'Error from server (NotFound): pods "{client}" not found')
            ns, src = pods[client].ns, pods[client].ip
            entry_node = entry_node or pods[client].node
        elif kind == "node":
            if client not in nodes:
                raise KubelearnError(f'Error from server (NotFound): nodes "{client}" not found')
            ns, src = nodes[client].ns, nodes[client].ip
            entry_node = entry_node or client
        elif kind == "external":
            src = src_ip or client
            self._ensure_external([src])
            ns = p.external.ns
            if entry_node:
                if entry_node not in self._marks:
                    raise KubelearnError(f'Error from server (NotFound): nodes "{entry_node}" not found')
                mark = self._marks[entry_node]
        else:
            raise KubelearnError(f'unknown client kind "{kind}": expected pod, node or external')
        fields = {"client": client, "client_kind": kind, "entry_node": entry_node, **info}
        return Connection(ns, src_ip or src, ip, int(port), fields, mark=mark)

    def run(self, workload: Any = None, *, connections: int | Sequence[Connection] | None = None,
            seed: int = 0, concurrency: int = 64) -> pd.DataFrame:
        """Run traffic through the kernel and return the request log (simulator schema).

        Args:
            workload: a :class:`kubelearn.traffic.workload.Workload`; its connections are those
                the simulator generates (same clients, same destinations), replayed for real.
            connections: instead of a workload, explicit :class:`Connection` values, or a number
                of connections for the workload (or, without one, from the first pod to the first
                Service's ClusterIP).
            seed: the simulator's seed (as :func:`kubelearn.traffic.simulate` takes it).
            concurrency: connections in flight at once.
        """
        self._require()
        if isinstance(connections, (list, tuple)):
            if len(connections) > MAX_LAB_CONNECTIONS:
                raise KubelearnError(f"the lab opens at most {MAX_LAB_CONNECTIONS:,} real connections in one run, "
                                     f"not {len(connections):,}")
            return self._log(drive(list(connections), timeout=self.timeout, concurrency=concurrency))
        count = connections if isinstance(connections, int) else None
        if workload is None:
            workload = self.default_workload(count or 100)
        elif count:
            workload = workload.with_(connections=count)
        n = int(getattr(workload, "connections", 0))
        if n > MAX_LAB_CONNECTIONS:
            raise KubelearnError(f"the lab opens at most {MAX_LAB_CONNECTIONS:,} real connections in one run, "
                                 f"not {n:,}: run fewer (the simulator takes up to 10,000,000)")
        from ..traffic import simulate

        events = tuple(getattr(workload, "events", ()) or ())
        sim = simulate(self.cluster, workload.with_(events=()) if events else workload, seed=seed, mode=self.mode)
        if events:
            return self._run_with_events(workload, sim, events, concurrency)
        return self.replay(sim, concurrency=concurrency)

    def default_workload(self, n: int) -> Any:
        """The CLI's workload (:func:`kubelearn.traffic.default_workload`) with ``n`` connections."""
        from ..traffic import default_workload

        return default_workload(self.cluster, connections=n)

    def _run_with_events(self, workload: Any, sim: pd.DataFrame, events: Sequence[Any],
                         concurrency: int) -> pd.DataFrame:
        # Replay the connections between events, apply each event at its time, re-render, go on.
        # As in the simulator, a client pod that an event deletes (at once, or when its grace
        # period ends) or replaces stops sending: its later connections are not made and the rest
        # of the requests on its open connections are never sent.
        parts = []
        bounds = [float(e.at) for e in events] + [float("inf")]
        lo = float("-inf")
        death: dict[str, float] = {}
        for i, hi in enumerate(bounds):
            chunk = sim[(sim["time"] >= lo) & (sim["time"] < hi)]
            if death and len(chunk):
                stop = chunk["client"].astype(str).map(death).astype("float64").fillna(float("inf"))
                chunk = chunk[chunk["time"].to_numpy() < stop.to_numpy()]
            if len(chunk):
                parts.append(self.replay(chunk, concurrency=concurrency))
            if i < len(events):
                self.update(apply_event(self.cluster.at(hi), events[i]))
                death = _client_deaths(self.cluster, sim, death, hi)
            lo = hi
        out = pd.concat(parts, ignore_index=True) if parts else self.replay(sim.iloc[:0])
        out.attrs = dict(parts[0].attrs) if parts else {}
        return out

    def replay(self, sim_log: pd.DataFrame, *, concurrency: int = 64) -> pd.DataFrame:
        """Open, for real, the connections a simulator log describes; return the kernel's log.

        Each simulated connection (same client, source address, dialled ``IP:port`` and entry
        node) becomes one real connection; every request row of it gets the kernel's answer.
        """
        self._require()
        first = sim_log.drop_duplicates("connection", keep="first")
        conns = []
        unresolved = []
        for row in first.astype({"connection": "int64", "time": "float64"}).to_dict("records"):
            kind = str(row["client_kind"])
            if not str(row["dst"]):
                # Nothing was dialled (the name did not resolve): the kernel never sees it.
                unresolved.append({**row, "endpoint": "", "pod": "", "pod_node": "", "seen_src_ip": "",
                                   "latency_ms": 0.0, "rules_walked": -1})
                continue
            conns.append(self.connection(
                str(row["client"]), str(row["dst"]), client_kind=kind, src_ip=str(row["src_ip"]),
                entry_node=str(row["entry_node"]) if kind == "external" else "",
                via=str(row["via"]), service=str(row["service"]), port_name=str(row["port_name"]),
                connection_id=row["connection"], time=row["time"]))
        log = self._log(drive(conns, timeout=self.timeout, concurrency=concurrency), keep_time=True)
        if unresolved:
            both = pd.concat([log.astype(object), pd.DataFrame(unresolved)], ignore_index=True)
            log = self._conform(both.sort_values("connection", kind="stable").reset_index(drop=True), log.attrs)
        if len(first) != len(sim_log):
            # Keep-alive requests ride the connection: every request row gets its connection's pod.
            per_conn = log.set_index("connection")
            rows = per_conn.loc[sim_log["connection"].to_numpy()].reset_index()
            rows["time"] = sim_log["time"].to_numpy()
            log = self._conform(rows, log.attrs)
        return log

    # ------------------------------------------------------------------ the log
    def _log(self, outcomes: Sequence[Outcome], keep_time: bool = False) -> pd.DataFrame:
        p = self._require()
        pod_node = {x.name: x.node for x in p.pods}
        from ..proxy.config import node_zones

        zones = node_zones(self.cluster)
        t0 = min((o.start for o in outcomes), default=0.0)
        rows = []
        for i, o in enumerate(outcomes):
            info = o.connection.info
            seen = o.seen_src.rpartition(":")[0] if o.seen_src else ""
            rows.append({
                "time": float(info["time"]) if keep_time and "time" in info else o.start - t0,
                "connection": int(info.get("connection_id", i)),
                "client": info.get("client", o.connection.src_ip),
                "client_kind": info.get("client_kind", ""),
                "src_ip": o.connection.src_ip,
                "dst": f"{o.connection.dst_ip}:{o.connection.dst_port}",
                "via": info.get("via", "clusterip"),
                "entry_node": info.get("entry_node", ""),
                # the connection started on entry_node (a pod's or node's own node; an external client's entry)
                "client_zone": zones.get(info.get("entry_node", ""), ""),
                "service": info.get("service", ""),
                "port_name": info.get("port_name", ""),
                "endpoint": o.endpoint,
                "pod": o.pod,
                "pod_node": pod_node.get(o.pod, ""),
                "endpoint_zone": zones.get(pod_node.get(o.pod, ""), ""),
                "seen_src_ip": seen,
                "outcome": o.outcome,
                "latency_ms": o.latency_ms,
                "rules_walked": -1,
            })
        attrs = {"source": "kernel", "netlab_prefix": self.prefix, "mode": self.mode,
                 "kernel": os.uname().release, "timeout_s": self.timeout}
        from ..traffic.log import LOG_COLUMNS

        return self._conform(pd.DataFrame(rows, columns=list(LOG_COLUMNS)), attrs)

    @staticmethod
    def _conform(df: pd.DataFrame, attrs: Mapping[Any, Any]) -> pd.DataFrame:
        from .compare import conform

        out = conform(df)
        out.attrs = dict(attrs)
        return out

    def __repr__(self) -> str:
        state = "running" if self._open else "closed"
        n = len(self.plan.nodes) if self.plan else 0
        pods = len(self.plan.pods) if self.plan else 0
        return f"<NetLab {self.prefix!r} {state}: {n} nodes, {pods} pods, mode {self.mode}>"


@contextlib.contextmanager
def _teardown_shield(prefix: str, held: list[int]) -> Iterator[None]:
    """Hold SIGINT and SIGTERM while a lab is torn down; record them in ``held``.

    In the main thread the Python handlers are replaced by one that notes the signal and says
    the lab is being removed, and the signals are blocked, so the ``ip`` processes started
    meanwhile (which inherit the mask) are not killed by the terminal's Ctrl-C either.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = (signal.SIGINT, signal.SIGTERM)

    def hold(signum: int, frame: FrameType | None) -> None:
        if not held:
            print(f"\nkubelearn netlab: removing lab {prefix}, please wait (if this process is killed, run: "
                  f"sudo kubelearn netlab cleanup --prefix {prefix})", file=sys.stderr, flush=True)
        held.append(signum)

    old: dict[int, Any] = {}
    for sig in sigs:
        try:
            old[sig] = signal.signal(sig, hold)
        except (ValueError, OSError):  # pragma: no cover - not the main interpreter
            pass
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # pending signals run `hold` here
        for signum, handler in old.items():
            try:
                signal.signal(signum, handler)
            except (ValueError, OSError, TypeError):  # pragma: no cover
                pass


class KernelRules:
    """Rules read back from a node's namespace; prints as the tool printed them."""

    def __init__(self, node: str, mode: str, text: str) -> None:
        self.node = node
        self.mode = mode
        self.text = text

    def lines(self, chain_prefix: str = "") -> list[str]:
        """Rule lines (``-A …``), optionally only those of chains starting with ``chain_prefix``."""
        return [ln for ln in self.text.splitlines() if ln.startswith("-A " + chain_prefix)]

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"<KernelRules node {self.node!r} ({self.mode}): {len(self.text.splitlines())} lines>"

    def _repr_html_(self) -> str:
        import html

        return f"<pre>{html.escape(self.text)}</pre>"


def _client_deaths(cluster: Cluster, sim: pd.DataFrame, known: Mapping[str, float], now: float) -> dict[str, float]:
    """When each client pod of ``sim`` stops sending, given the cluster after the event at ``now``.

    A pod that is gone, or whose name now belongs to a pod with another address, stops at
    ``now``; a Terminating pod stops when its grace period ends (its ``deletionTimestamp``).
    Deaths already known stand.
    """
    from ..controllers.pods import parse_time

    out = dict(known)
    pods = sim[sim["client_kind"].astype(str) == "pod"].drop_duplicates("client")
    for name, ip in zip(pods["client"].astype(str), pods["src_ip"].astype(str), strict=True):
        if name in out:
            continue
        ns = next((p["metadata"].get("namespace", "default") for p in cluster.pods(None)
                   if objects.name(p) == name), None)
        pod = cluster.get("Pod", name, ns) if ns is not None else None
        if pod is None or (pod.get("status") or {}).get("podIP") != ip:
            out[name] = now
        elif pod["metadata"].get("deletionTimestamp"):
            out[name] = max(now, parse_time(pod["metadata"]["deletionTimestamp"]))
    return out


def apply_event(cluster: Cluster, event: Any) -> Cluster:
    """The cluster after one workload event (applied at once, as if propagation were instant).

    Raises:
        KubelearnError: for event kinds the lab cannot replay.
    """
    a = dict(event.args)
    action = event.action
    if action == "scale":
        kind = "StatefulSet" if "statefulSet" in a else "Deployment"
        return cluster.scale(a.get("deployment") or a["statefulSet"], int(a["replicas"]),
                             namespace=a.get("namespace", "default"), kind=kind)
    if action == "deletePod":
        return cluster.delete_pod(a["name"], namespace=a.get("namespace", "default"), grace=bool(a.get("grace")))
    if action == "setReady":
        return cluster.set_ready(a["pod"], bool(a["ready"]), namespace=a.get("namespace", "default"))
    if action == "cordon":
        return cluster.cordon(a["node"])
    raise KubelearnError(f'the lab cannot replay the "{action}" event yet (supported: scale, deletePod, '
                         f'setReady, cordon)')
