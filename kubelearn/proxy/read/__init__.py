"""A real node's rules, read back: ``iptables-save``, ``nft list ruleset``, ``ipvsadm -Ln``.

Everything else in :mod:`kubelearn.proxy` starts from manifests and *renders* the rules
kube-proxy would program.  This package goes the other way: it reads what a node actually
holds, as the node's own tools print it, into the same rule model
(:class:`~kubelearn.proxy.iptables.IptablesRuleset`,
:class:`~kubelearn.proxy.nftables.NftablesRuleset`, :class:`~kubelearn.proxy.ipvs.IpvsRuleset`),
so the same tracer can follow a packet through it.  On a kind cluster::

    docker exec kind-worker iptables-save > worker.rules      # iptables mode
    docker exec kind-worker nft list ruleset > worker.rules   # nftables mode
    docker exec kind-worker sh -c 'ipvsadm -Ln; ipset list; iptables-save' > worker.rules

then ``kl.read_rules_file("worker.rules")``, or ``kubelearn explain-rules worker.rules``.

The three questions an SRE asks of a dump have a function each:

* :func:`explain_rules`: which Services does this node know, at which addresses, with which
  endpoints and with what probability each (:mod:`.explain`);
* :func:`trace_rules`: where does a new connection from ``src`` to ``dst`` go, through *these*
  rules (the same :class:`~kubelearn.proxy.Trace` as :func:`kubelearn.trace`);
* :func:`diff_rules`: does the node hold what kube-proxy should program for this cluster
  state: missing, stale and unexpected rules, by Service (:mod:`.diff`).

A dump is untrusted input: files over :data:`MAX_DUMP_BYTES` are refused before they are read;
a line that is no dump at all is a :class:`DumpError` naming the line; constructs the reader
does not know are kept and listed in :attr:`NodeRules.warnings`.
"""

from __future__ import annotations

import ipaddress
import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..iptables import IptablesRuleset
from ..iptables_trace import trace_iptables
from ..ipvs import IpvsRuleset
from ..ipvs_trace import trace_ipvs
from ..nftables import NftablesRuleset
from ..nftables_trace import trace_nftables
from ..ruleset import gc_paused
from ..walk import Trace, TraceError
from .common import DumpError
from .walk import DumpIptablesWalker, DumpNftWalker

if TYPE_CHECKING:  # pragma: no cover
    from .. import Ruleset

__all__ = ["MAX_DUMP_BYTES", "DumpError", "NodeRules", "diff_rules", "explain_rules", "read_rules",
           "read_rules_file", "read_text", "trace_rules"]

#: The largest dump kubelearn reads (64 MiB): a 10,000-Service node's iptables-save is ~20 MiB.
MAX_DUMP_BYTES = 64 * 1024 * 1024


@dataclass
class NodeRules:
    """One node's rules as read from its dump.

    Attributes:
        mode: ``iptables``, ``nftables`` or ``ipvs`` (what kube-proxy's rules in the dump are).
        ruleset: the rule model the tracer walks (every table of the dump).
        local_ips: the node's own addresses (what ``--dst-type LOCAL`` / ``fib daddr type
            local`` match): given, or inferred from the dump where it names them.
        warnings: what the reader kept without understanding, and what looks odd.
        foreign: other software's chains or tables (Docker, a CNI…), by name.
        backend: ``nf_tables`` or ``legacy`` for iptables dumps that say so.
    """

    mode: str
    ruleset: Ruleset
    local_ips: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    backend: str | None = None
    version: str | None = None
    info: Any = None

    def trace(self, src: str, dst: str, protocol: str = "TCP", local_ips: tuple[str, ...] = ()) -> Trace:
        """:func:`trace_rules` on this dump."""
        return trace_rules(self, src, dst, protocol, local_ips=local_ips)

    def explain(self) -> list[Any]:
        """:func:`explain_rules` on this dump."""
        return explain_rules(self)

    def __repr__(self) -> str:
        return (f"<NodeRules {self.mode}: local IPs {', '.join(self.local_ips) or 'unknown'}; "
                f"{len(self.foreign)} foreign chains/tables; {len(self.warnings)} warnings>")


def _check_ip(ip: str) -> str:
    try:
        a = ipaddress.ip_address(ip)
    except ValueError:
        raise TraceError(f'invalid local IP "{ip}": must be an IPv4 address') from None
    if a.version != 4:
        raise TraceError(f'invalid local IP "{ip}": kubelearn models IPv4 only')
    return ip


def _sections(text: str) -> dict[str, list[tuple[int, str]]]:
    """Split a dump into its tools' outputs: iptables-save, nft, ipvsadm, ipset (numbered lines)."""
    from .ipvs import is_ipset_line, is_ipvs_line
    from .nft import _HANDLE, is_nft_input_line

    out: dict[str, list[tuple[int, str]]] = {"iptables": [], "nft": [], "nft_input": [], "ipvs": [], "ipset": []}
    in_table = False
    nft_depth = 0
    in_members = False
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if "\x00" in raw:
            raise DumpError(f"line {lineno}: binary data (NUL byte): not a text dump")
        if nft_depth > 0:
            out["nft"].append((lineno, raw))
            from .nft import _braces

            nft_depth += _braces(raw)
            continue
        if in_table:
            out["iptables"].append((lineno, raw))
            if line == "COMMIT":
                in_table = False
            continue
        if not line:
            in_members = False
            continue
        if line.startswith(("*", "# Generated by ip", "# Completed", "# Warning: iptables-legacy")):
            out["iptables"].append((lineno, raw))
            in_table = line.startswith("*")
            in_members = False
            continue
        if line.startswith(("-A ", ":", "[")) or line == "COMMIT":
            out["iptables"].append((lineno, raw))  # outside a table: the iptables reader says so
            continue
        if line.startswith("table ") and _HANDLE.sub("", line).endswith("{"):
            from .nft import _braces

            out["nft"].append((lineno, raw))
            nft_depth = _braces(raw)
            continue
        if is_nft_input_line(line):
            out["nft_input"].append((lineno, raw))
            continue
        if line.startswith("Members:"):
            out["ipset"].append((lineno, raw))
            in_members = True
            continue
        if in_members and not line.startswith("Name: "):
            out["ipset"].append((lineno, raw))
            continue
        if is_ipvs_line(line):
            out["ipvs"].append((lineno, raw))
            continue
        if is_ipset_line(line):
            out["ipset"].append((lineno, raw))
            continue
        if line.startswith("#"):
            continue
        raise DumpError(f"line {lineno}: not an iptables-save, nft list ruleset, ipvsadm -Ln or ipset list line: "
                        f"{line[:60]!r}")
    return out


def read_rules(text: str, local_ips: tuple[str, ...] | list[str] = ()) -> NodeRules:
    """Read a node's dump (``iptables-save``, ``nft list ruleset`` or ``ipvsadm -Ln`` + ``ipset list``
    + ``iptables-save``) into kubelearn's rule model.

    Args:
        text: the dump; several tools' outputs may be concatenated.
        local_ips: the node's own addresses (its InternalIP…); where the dump names them
            (nftables' ``nodeport-ips``, ``--nodeport-addresses`` rules, IPVS NodePort virtual
            servers) they are inferred too.

    Raises:
        DumpError: text that is not a dump, or a structurally broken one (the message names the line).
    """
    if len(text) > MAX_DUMP_BYTES:
        raise DumpError(f"dump is {len(text)} characters: larger than the {MAX_DUMP_BYTES // 2**20} MiB kubelearn reads")
    given = tuple(_check_ip(ip) for ip in local_ips)
    parts = _sections(text)
    warnings: list[str] = []
    if not any(parts.values()):
        raise DumpError("line 1: empty input: not an iptables-save, nft list ruleset or ipvsadm -Ln dump")
    placeholder = given[0] if given else "127.0.0.1"
    try:
        with gc_paused():  # millions of small tuples that never form cycles (see ruleset.gc_paused)
            return _read(parts, given, placeholder, warnings)
    except DumpError:
        raise
    except (ValueError, IndexError, KeyError, TypeError, ZeroDivisionError) as exc:  # pragma: no cover - defensive
        raise DumpError(f"line 1: cannot read the dump: {exc}") from None


def _read(parts: dict[str, list[tuple[int, str]]], given: tuple[str, ...], placeholder: str,
          warnings: list[str]) -> NodeRules:
    from .iptables_save import parse_iptables_save

    foreign: list[str] = []
    if parts["nft"] or parts["nft_input"]:
        from .nft import parse_nft, parse_nft_input

        if parts["nft"] and parts["nft_input"]:
            raise DumpError(f"line {parts['nft_input'][0][0]}: nft commands mixed with nft list output: "
                            "give one or the other")
        if parts["nft"]:
            nrs, ninfo = parse_nft(parts["nft"], placeholder, warnings)
        else:
            nrs, ninfo = parse_nft_input(parts["nft_input"], placeholder, warnings)
        if ninfo.has_kube_table or not (parts["iptables"] or parts["ipvs"]):
            if not ninfo.has_kube_table:
                warnings.append("no table ip kube-proxy in this ruleset: kube-proxy is not in nftables mode here")
            inferred = tuple(str(k) for _, k, _ in nrs.elements.get("nodeport-ips", []) if isinstance(k, str))
            foreign = [f"table {t}" for t in ninfo.foreign_tables]
            if parts["iptables"]:
                foreign.append("iptables-save output (not traced in nftables mode)")
            locals_ = _merge(given, inferred)
            nrs.node_ip = locals_[0] if locals_ else placeholder
            nrs.node = ""
            _ensure_sets(nrs)
            return NodeRules("nftables", nrs, locals_, warnings, foreign, info=ninfo)
        foreign = [f"table {t}" for t in ninfo.foreign_tables]
    if parts["ipvs"] or (parts["ipset"] and not parts["iptables"]):
        from .ipvs import parse_ipset, parse_ipvsadm

        irs = IpvsRuleset("", placeholder, {})
        irs.ipset_types = {}  # type: ignore[attr-defined]
        info = None
        if parts["iptables"]:
            base, info = parse_iptables_save(parts["iptables"], placeholder, warnings)
            irs.tables, irs.kube_chains = base.tables, base.kube_chains
            irs.policies = info.policies  # type: ignore[attr-defined]
        else:
            warnings.append("no iptables-save output: the masquerade rules around IPVS are unknown")
        parse_ipvsadm(parts["ipvs"], irs, warnings)
        parse_ipset(parts["ipset"], irs, warnings)
        if not parts["ipset"]:
            warnings.append("no ipset list output: kube-proxy's iptables rules match ipsets, taken as empty")
        nodeports = {p for name, s in irs.ipsets.items() if name.startswith("KUBE-NODE-PORT-") for p in s}
        inferred = tuple(sorted({vs.address for vs in irs.virtual_servers.values() if str(vs.port) in nodeports}))
        locals_ = _merge(given, inferred)
        irs.node_ip = locals_[0] if locals_ else placeholder
        irs.masq_mark = _masq_mark(irs)  # type: ignore[attr-defined]
        foreign += _foreign_chains(irs)
        return NodeRules("ipvs", irs, locals_, warnings, foreign, info.backend if info else None,
                         info.version if info else None, info)
    if not parts["iptables"]:
        raise DumpError(f"line {parts['ipset'][0][0] if parts['ipset'] else 1}: no iptables-save, nft or ipvsadm "
                        "output found")
    rs, info = parse_iptables_save(parts["iptables"], placeholder, warnings)
    rs.policies = info.policies  # type: ignore[attr-defined]
    rs.masq_mark = _masq_mark(rs)  # type: ignore[attr-defined]
    inferred = tuple(r.matches[[m[0] for m in r.matches].index("d")][1]
                     for r in rs.tables.get("nat", {}).get("KUBE-SERVICES", [])
                     if r.target == ("jump", "KUBE-NODEPORTS") and any(m[0] == "d" and not m[2] for m in r.matches))
    locals_ = _merge(given, tuple(a for a in inferred if "/" not in a))
    rs.node_ip = locals_[0] if locals_ else placeholder
    if not any(c.startswith("KUBE-") for t in rs.tables.values() for c in t):
        warnings.append("no KUBE- chains: kube-proxy has not programmed iptables on this node (another mode?)")
    return NodeRules("iptables", rs, locals_, warnings, [*foreign, *_foreign_chains(rs)], info.backend,
                     info.version, info)


def _merge(given: tuple[str, ...], inferred: tuple[str, ...]) -> tuple[str, ...]:
    out = list(given)
    for ip in inferred:
        try:
            if ipaddress.ip_address(ip).version == 4 and ip not in out:
                out.append(ip)
        except ValueError:
            continue
    return tuple(out)


def _masq_mark(rs: IptablesRuleset) -> int:
    for r in rs.tables.get("nat", {}).get("KUBE-MARK-MASQ", []):
        if r.target and r.target[0] == "MARK-OR":
            try:
                return int(r.target[1], 0)
            except ValueError:
                break
    return 0x4000


def _ensure_sets(rs: NftablesRuleset) -> None:
    # A rule may name a set the listing left out (nft list table vs ruleset): look it up as empty.
    for rules in rs.chains.values():
        for r in rules:
            for e in r.exprs:
                if e[0] in ("vmap3", "vmap2", "daddr_in_set"):
                    rs.elements.setdefault(e[1], [])


_FOREIGN_PREFIXES = (("DOCKER", "Docker"), ("KIND-", "kindnet"), ("cali-", "Calico"), ("CILIUM", "Cilium"),
                     ("FLANNEL", "Flannel"), ("KUBE-", ""), ("WEAVE", "Weave"), ("ANTREA", "Antrea"))


def _foreign_chains(rs: IptablesRuleset) -> list[str]:
    builtins = {"PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"}
    out = []
    for table, chains in rs.tables.items():
        for c in chains:
            if c in builtins or c.startswith("KUBE-"):
                continue
            who = next((w for p, w in _FOREIGN_PREFIXES if c.startswith(p)), "")
            out.append(f"{table} {c}" + (f" ({who})" if who else ""))
    return out


def read_rules_file(path: str | os.PathLike[str] | list[str | os.PathLike[str]],
                    local_ips: tuple[str, ...] | list[str] = ()) -> NodeRules:
    """:func:`read_rules` on a file (or several, read as one: ``ipvsadm -Ln``, ``ipset list`` and
    ``iptables-save`` saved apart), refusing files over :data:`MAX_DUMP_BYTES` before reading them."""
    paths = path if isinstance(path, list) else [path]
    if len(paths) != 1:
        text = "\n".join(read_text(p) for p in paths)
        return read_rules(text, local_ips)
    p = Path(paths[0])
    text = read_text(p)
    try:
        return read_rules(text, local_ips)
    except DumpError as exc:
        raise DumpError(f"{p}: {exc}") from None


def read_text(path: str | os.PathLike[str]) -> str:
    """A dump file's text: refused over :data:`MAX_DUMP_BYTES` (before reading) or when not UTF-8.

    ``-`` reads standard input (``docker exec kind-worker iptables-save | kubelearn explain-rules -``).
    Anything else must be a regular file: it is opened without blocking (a FIFO would otherwise
    wait for a writer forever) and checked with ``fstat`` on the open descriptor before any read.
    """
    if str(path) == "-":
        p = Path("STDIN")
        data = sys.stdin.buffer.read(MAX_DUMP_BYTES + 1)
    else:
        p = Path(path)
        try:
            fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        except OSError as exc:
            raise DumpError(f"{p}: {exc.strerror or exc}") from None
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise DumpError(f"{p}: not a regular file (a device, FIFO or socket); save the dump to a file "
                                "or pipe it to standard input (-)")
            if st.st_size > MAX_DUMP_BYTES:
                raise DumpError(f"{p}: {st.st_size} bytes, larger than the {MAX_DUMP_BYTES // 2**20} MiB kubelearn reads")
            with os.fdopen(fd, "rb", closefd=False) as fh:
                data = fh.read(MAX_DUMP_BYTES + 1)  # a growing file cannot get past the limit
        except OSError as exc:
            raise DumpError(f"{p}: {exc.strerror or exc}") from None
        finally:
            os.close(fd)
    if len(data) > MAX_DUMP_BYTES:
        raise DumpError(f"{p}: larger than the {MAX_DUMP_BYTES // 2**20} MiB kubelearn reads")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise DumpError(f"{p}: line {line}: not UTF-8 text: not a rules dump") from None
    return text


def trace_rules(rules: NodeRules, src: str, dst: str, protocol: str = "TCP",
                local_ips: tuple[str, ...] | list[str] = ()) -> Trace:
    """Follow a new connection from ``src`` to ``dst`` (``"IP:PORT"``) through a node's dump.

    The same :class:`~kubelearn.proxy.Trace` as :func:`kubelearn.trace` on manifests: a source
    that is one of the node's own addresses (``local_ips``, plus those of the dump) enters
    through OUTPUT, as on the node, any other through PREROUTING.  ``service``/``portName`` come
    from kube-proxy's comments (iptables) or chain names (nftables); ipvsadm names no Service.
    """
    protocol = protocol.upper()
    if protocol not in ("TCP", "UDP", "SCTP"):
        raise TraceError(f'unsupported protocol "{protocol}": must be TCP, UDP or SCTP')
    extra = tuple(_check_ip(ip) for ip in (*rules.local_ips, *local_ips))
    return _trace(rules, src, dst, protocol, extra)


def _trace(rules: NodeRules, src: str, dst: str, protocol: str, extra: tuple[str, ...]) -> Trace:
    rs = rules.ruleset
    if isinstance(rs, NftablesRuleset):
        return trace_nftables(rs, src, dst, protocol, extra_local=extra, walker=DumpNftWalker)
    if isinstance(rs, IpvsRuleset):
        return trace_ipvs(rs, src, dst, protocol, extra_local=extra, walker=DumpIptablesWalker)
    return trace_iptables(rs, src, dst, protocol, extra_local=extra, walker=DumpIptablesWalker)


def explain_rules(rules: NodeRules) -> list[Any]:
    """Per Service port in the dump: entries, endpoints with probabilities, affinity, notes (:mod:`.explain`)."""
    from .explain import explain

    return explain(rules)


def diff_rules(rules: NodeRules, cluster: Any, node: str) -> Any:
    """What differs between a node's dump and what kube-proxy should program there (:mod:`.diff`).

    Args:
        rules: the node's dump, read.
        cluster: a :class:`~kubelearn.Cluster`, or the path(s) of a cluster-state export
            (``kubectl get nodes,services,endpointslices -A -o yaml > state.yaml``), whose
            EndpointSlices are then taken as they are (see :func:`.diff.snapshot_cluster`).
        node: the node's name.

    Returns:
        A :class:`~.diff.RulesDiff`: ``agree``, ``differences`` (missing, unexpected, stale)
        grouped by Service with ``by_service()``, printable.
    """
    from .diff import diff, snapshot_cluster

    if isinstance(cluster, (str, os.PathLike)):
        cluster = snapshot_cluster(cluster)
    elif isinstance(cluster, list):
        cluster = snapshot_cluster(*cluster)
    return diff(rules, cluster, node)
