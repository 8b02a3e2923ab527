"""The host side of the lab: preflight checks, the command runner, namespaces and cleanup.

A Linux *network namespace* is a private copy of the network stack: its own interfaces,
addresses, routes, sysctls, conntrack table and netfilter rules.  Each container of a
kind cluster (every "node") is one; every pod the kubelet starts gets another.  The lab
builds exactly that out of plain namespaces, so kube-proxy's rules can be judged by the
real kernel rather than by kubelearn's own model of it.

Because the machine is shared, everything here is deliberately narrow:

- every namespace a lab creates is named ``klnl-<6 hex>-<role>`` (one prefix per lab),
  and every command that changes state runs *inside* one of those namespaces, never in
  the machine's own (root) namespace;
- :func:`cleanup` deletes only namespaces of that family, and by default only those whose
  owning process has exited, so it never pulls the floor from under a running lab.  The
  owner (PID and process start time) is recorded in ``/run/kubelearn-netlab/<prefix>owner``
  *before* the lab's first namespace exists (:func:`record_owner`), so a lab still being
  built is as safe as a running one; the alias of the switch bridge repeats it inside the lab.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..errors import HostError, PreflightError

__all__ = [
    "FAMILY",
    "HostError",
    "add_namespaces",
    "check_batch_line",
    "PreflightError",
    "cleanup",
    "in_netns",
    "lab_namespaces",
    "new_prefix",
    "preflight",
    "run",
    "run_in",
]

#: Every lab's namespaces start with this, then 6 hex digits and a dash.
FAMILY = "klnl-"
_PREFIX_RE = re.compile(r"^klnl-[0-9a-f]{6}-\Z")  # \Z: $ would let a trailing newline through
_NS_RE = re.compile(r"^(klnl-[0-9a-f]{6}-)[A-Za-z0-9._-]+\Z")

#: Tools the lab cannot do without, and the Debian package that carries each.
REQUIRED_TOOLS = {"ip": "iproute2", "iptables-restore": "iptables", "iptables-save": "iptables"}
NFT_TOOLS = {"nft": "nftables"}

CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/run/netns"
# A bounded wait for any one command: nothing the lab runs should take more than seconds.
COMMAND_TIMEOUT = 30.0

T = TypeVar("T")


def new_prefix() -> str:
    """A fresh lab prefix such as ``klnl-3fa92c-`` (random: labs must never collide)."""
    return f"{FAMILY}{secrets.token_hex(3)}-"


def check_prefix(prefix: str) -> str:
    """Validate a lab prefix.

    Raises:
        PreflightError: when the prefix is not of the form ``klnl-<6 hex>-``.
    """
    if not _PREFIX_RE.match(prefix):
        raise PreflightError(f'invalid lab prefix "{prefix}": must match klnl-<6 lowercase hex digits>-')
    return prefix


def missing(mode: str = "iptables") -> list[str]:
    """What this machine lacks for a lab in ``mode`` (empty when it can run one)."""
    problems: list[str] = []
    if not sys.platform.startswith("linux"):
        problems.append(f"network namespaces need Linux (this is {sys.platform})")
        return problems
    if os.geteuid() != 0:
        problems.append("creating network namespaces needs root (run as root, e.g. with sudo)")
    tools = dict(REQUIRED_TOOLS)
    if mode == "nftables":
        tools.update(NFT_TOOLS)
    for tool, package in tools.items():
        if shutil.which(tool) is None:
            problems.append(f"`{tool}` not found (Debian package {package})")
    if not os.path.exists("/proc/self/ns/net"):
        problems.append("this kernel has no network namespaces (/proc/self/ns/net is missing)")
    return problems


def preflight(mode: str = "iptables") -> None:
    """Refuse, with one line saying what is missing, when the lab cannot run here.

    Raises:
        PreflightError: not Linux, not root, ``ip``/``iptables-restore``/``nft`` missing, or
            IPVS mode (the kernel lacks ``ip_vs``, or it has it and the lab does not drive it).
    """
    if mode not in ("iptables", "nftables", "ipvs"):
        raise PreflightError(f'unknown proxy mode "{mode}": the lab runs iptables, nftables or ipvs')
    problems = missing(mode)
    if problems:
        raise PreflightError("kubelearn netlab cannot run here: " + "; ".join(problems))
    if mode == "ipvs":
        raise PreflightError(ipvs_refusal())


#: Where the kernel shows IPVS once the ``ip_vs`` module is loaded (or built in).
PROC_IP_VS = "/proc/net/ip_vs"


def ipvs_refusal(kernel_has_ip_vs: bool | None = None) -> str:
    """The one-line reason the lab refuses IPVS mode on this machine.

    Two different facts, two different messages: a kernel without ``ip_vs`` cannot run IPVS
    at all (the lab never loads kernel modules); a kernel with it could, but kubelearn's lab
    does not program IPVS virtual servers yet.

    Args:
        kernel_has_ip_vs: override the check of ``/proc/net/ip_vs`` (for tests).
    """
    has = ipvs_available() if kernel_has_ip_vs is None else kernel_has_ip_vs
    if not has:
        return ("kubelearn netlab cannot run ipvs mode here: the kernel has no ip_vs "
                f"({PROC_IP_VS} is missing; the lab never loads kernel modules)")
    return ("kubelearn netlab does not drive IPVS yet (the kernel has ip_vs, but the lab only "
            "loads iptables or nftables rules); use --mode iptables or nftables")


def ipvs_available() -> bool:
    """Whether the running kernel offers IPVS (the lab only looks; it never loads modules)."""
    return os.path.exists(PROC_IP_VS)


#: Linux 5.3 made ``net.bridge.bridge-nf-call-*`` per network namespace; before, one global value.
BRIDGE_NF_PER_NETNS_SINCE = (5, 3)


def kernel_version(release: str | None = None) -> tuple[int, int] | None:
    """``(major, minor)`` of a kernel release string such as ``"6.8.0-45-generic"`` (``None`` if unreadable).

    Args:
        release: the string to read; default ``platform.release()`` (the running kernel).
    """
    m = re.match(r"(\d+)\.(\d+)", platform.release() if release is None else release)
    return (int(m.group(1)), int(m.group(2))) if m else None


def bridge_nf_sysctls_are_per_netns(release: str | None = None) -> bool:
    """Whether writing ``bridge-nf-call-*`` inside a lab namespace stays inside it.

    Before Linux 5.3 those switches are global: a write from the switch namespace would change
    the host's own bridges.  An unreadable release counts as old (never risk the host).

    Args:
        release: a kernel release string; default the running kernel's.
    """
    v = kernel_version(release)
    return v is not None and v >= BRIDGE_NF_PER_NETNS_SINCE


@dataclass(frozen=True)
class Result:
    """A finished command: its argv, exit code and output."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


def run(argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
    """Run a command that does not change the root namespace (``ip netns list``, ``ip -n X …``).

    Raises:
        HostError: on a non-zero exit (when ``check``) or a timeout.
    """
    try:
        proc = subprocess.run(
            list(argv), input=input, capture_output=True, text=True, timeout=COMMAND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise HostError(f"timed out after {COMMAND_TIMEOUT:.0f}s: {' '.join(argv)}") from None
    except FileNotFoundError:
        raise HostError(f"`{argv[0]}` not found") from None
    res = Result(tuple(argv), proc.returncode, proc.stdout, proc.stderr)
    if check and proc.returncode != 0:
        raise HostError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return res


def _check_ns(ns: str) -> str:
    # The single guard between a bug and the root namespace: only ever enter our own family.
    if not _NS_RE.match(ns):
        raise HostError(f'refusing to run in "{ns}": not a kubelearn netlab namespace')
    return ns


def run_in(ns: str, argv: Sequence[str], *, input: str | None = None, check: bool = True) -> Result:
    """Run ``argv`` inside the lab namespace ``ns`` (``ip netns exec``), never elsewhere.

    Raises:
        HostError: when ``ns`` is not a lab namespace, does not exist, or the command fails.
    """
    _check_ns(ns)
    if not os.path.exists(os.path.join(NETNS_RUN_DIR, ns)):
        raise HostError(f'network namespace "{ns}" does not exist')
    return run(["ip", "netns", "exec", ns, *argv], input=input, check=check)


def set_sysctls(ns: str, assignments: Sequence[str]) -> None:
    """Set ``net.*`` sysctls (``name=value``) inside the lab namespace ``ns`` only.

    ``/proc/sys/net`` shows the namespace of the process that opens it, so a shell started by
    ``ip netns exec`` writes that namespace's values (and needs no ``sysctl`` binary).

    Raises:
        HostError: for a name outside ``net.`` or a value that is not a plain token.
    """
    script = []
    for a in assignments:
        name, _, value = a.partition("=")
        if not re.fullmatch(r"net(\.[A-Za-z0-9_-]+)+", name) or not re.fullmatch(r"[0-9A-Za-z_-]+", value):
            raise HostError(f"refusing sysctl {a!r}: only net.* names with plain values")
        script.append(f"echo {value} > /proc/sys/{name.replace('.', '/')}")
    run_in(ns, ["sh", "-e", "-c", "; ".join(script)])


# One line of ``ip -batch`` input: words of address, name and number characters, or one
# double-quoted word of those plus spaces (the bridge's alias).  ``ip`` splits batch lines
# at newlines and reads ``#`` as a comment and quotes as grouping, so anything else (a newline
# inside an address from a manifest, say) could add commands that run as root.
_BATCH_WORD = r'(?:[A-Za-z0-9._:/=-]+|"[A-Za-z0-9 ._:/=-]*")'
_BATCH_LINE = re.compile(rf"{_BATCH_WORD}(?: {_BATCH_WORD})*")


def check_batch_line(line: str) -> str:
    """``line`` when it is a plain ``ip -batch`` command, else :class:`HostError`."""
    if not isinstance(line, str) or not _BATCH_LINE.fullmatch(line):
        raise HostError(f"refusing to pass {line!r} to ip -batch: not a plain command "
                        "(only address, name and number characters)")
    return line


def ip_batch(ns: str, commands: Sequence[str]) -> None:
    """Run many ``ip`` commands in one process inside ``ns`` (``ip -n NS -batch -``).

    Raises:
        HostError: when ``ns`` is not a lab namespace, a line is not a plain command
            (see :func:`check_batch_line`), or ``ip`` fails.
    """
    _check_ns(ns)
    for line in commands:
        check_batch_line(line)
    if commands:
        run(["ip", "-n", ns, "-batch", "-"], input="\n".join(commands) + "\n")


def add_namespaces(names: Sequence[str]) -> None:
    """``ip netns add`` for each lab namespace in ``names`` (each checked to be of the lab family)."""
    for ns in names:
        _check_ns(ns)
    if names:
        run(["ip", "-batch", "-"], input="".join(f"netns add {ns}\n" for ns in names))


_libc: ctypes.CDLL | None = None


def _setns(fd: int) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def in_netns(ns: str, fn: Callable[[], T]) -> T:
    """Call ``fn`` in a fresh thread that has entered the lab namespace ``ns``.

    Sockets created by ``fn`` stay in that namespace for their whole life, whatever thread
    uses them later; the calling thread (a notebook's kernel, say) never changes namespace,
    and the helper thread ends right after ``fn``.
    """
    _check_ns(ns)
    out: dict[str, object] = {}

    def body() -> None:
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, ns), os.O_RDONLY)
            try:
                _setns(fd)
            finally:
                os.close(fd)
            out["value"] = fn()
        except BaseException as exc:  # handed back to the caller below
            out["error"] = exc

    t = threading.Thread(target=body, name=f"netns-{ns}", daemon=True)
    t.start()
    t.join(COMMAND_TIMEOUT)
    if t.is_alive():
        raise HostError(f"timed out entering {ns}")
    if "error" in out:
        raise out["error"]  # type: ignore[misc]
    return out["value"]  # type: ignore[return-value]


def list_namespaces() -> list[str]:
    """Every named network namespace on the machine (``ip netns list``)."""
    if not os.path.isdir(NETNS_RUN_DIR):
        return []
    return sorted(os.listdir(NETNS_RUN_DIR))


def lab_namespaces(prefix: str | None = None) -> list[str]:
    """Namespaces of one lab (``prefix``) or of every kubelearn lab (``None``)."""
    names = [n for n in list_namespaces() if _NS_RE.match(n)]
    if prefix is not None:
        names = [n for n in names if n.startswith(prefix)]
    return names


#: Where labs record their owner before creating anything (tmpfs: gone at reboot, as the namespaces are).
OWNER_DIR = "/run/kubelearn-netlab"


def _start_time(pid: int) -> int | None:
    """A process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22): with the PID, an identity."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return int(fh.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


def _owner_file(prefix: str) -> str:
    return os.path.join(OWNER_DIR, check_prefix(prefix) + "owner")


def record_owner(prefix: str, pid: int | None = None) -> None:
    """Record this process (or ``pid``) as the owner of lab ``prefix``; call before creating anything.

    Raises:
        HostError: when the record cannot be written (the lab must not start without one).
    """
    pid = os.getpid() if pid is None else pid
    path = _owner_file(prefix)
    try:
        os.makedirs(OWNER_DIR, mode=0o755, exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(f"{pid} {_start_time(pid) or 0}\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise HostError(f"cannot record the lab's owner in {path}: {exc.strerror}") from None


def forget_owner(prefix: str) -> None:
    """Remove the owner record of a lab that no longer exists."""
    try:
        os.unlink(_owner_file(prefix))
    except OSError:
        pass


def _recorded_owner(prefix: str) -> tuple[int, int] | None:
    try:
        with open(_owner_file(prefix), encoding="ascii") as fh:
            pid, start = (int(x) for x in fh.read().split()[:2])
    except (OSError, ValueError):
        return None
    return pid, start


def owner_alive(prefix: str) -> bool:
    """Whether the process that owns lab ``prefix`` still runs (the same process, not a reused PID)."""
    rec = _recorded_owner(prefix)
    if rec is not None:
        pid, start = rec
        return _alive(pid) and (start == 0 or _start_time(pid) in (None, start))
    pid_or_none = owner_pid(prefix)
    return pid_or_none is not None and _alive(pid_or_none)


def owner_pid(prefix: str) -> int | None:
    """The PID that owns a lab: its owner record, else the alias of its switch bridge (``None`` if unknown)."""
    rec = _recorded_owner(prefix)
    if rec is not None:
        return rec[0]
    ns = prefix + "sw"
    if not os.path.exists(os.path.join(NETNS_RUN_DIR, ns)):
        return None
    res = run(["ip", "-n", ns, "-o", "link", "show", "dev", "br0"], check=False)
    m = re.search(r"alias kubelearn-netlab pid=(\d+)", res.stdout)
    return int(m.group(1)) if m else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


def delete_namespaces(names: Sequence[str]) -> list[str]:
    """Delete the given lab namespaces (each checked to be of the lab family); returns those deleted."""
    deleted = []
    for ns in names:
        _check_ns(ns)
        # Deleting a namespace destroys its interfaces (veth peers go with them), routes,
        # rules and conntrack entries; nothing of it exists outside the namespace.
        if run(["ip", "netns", "delete", ns], check=False).returncode == 0:
            deleted.append(ns)
    return deleted


def cleanup(prefix: str | None = None, *, force: bool = False) -> list[str]:
    """Remove what crashed labs left behind: only namespaces named ``klnl-<6 hex>-…``.

    Args:
        prefix: only this lab's namespaces; default every kubelearn lab.
        force: also remove labs whose owning process is still running.

    Returns:
        The namespaces deleted.
    """
    if prefix is not None:
        check_prefix(prefix)
    by_lab: dict[str, list[str]] = {}
    for ns in lab_namespaces(prefix):
        m = _NS_RE.match(ns)
        assert m is not None
        by_lab.setdefault(m.group(1), []).append(ns)
    deleted: list[str] = []
    for lab_prefix, names in sorted(by_lab.items()):
        pid = owner_pid(lab_prefix)
        if not force and pid is not None and pid != os.getpid() and owner_alive(lab_prefix):
            continue  # a live lab of another process (built or being built): not ours to break
        # The switch last, so the owner record survives until everything else is gone.
        names.sort(key=lambda n: n == lab_prefix + "sw")
        deleted += delete_namespaces(names)
        if not lab_namespaces(lab_prefix):
            forget_owner(lab_prefix)
    # Owner records of labs that died before their first namespace: nothing else to remove.
    records = sorted(os.listdir(OWNER_DIR)) if os.path.isdir(OWNER_DIR) else []
    for entry in records:
        lab_prefix = entry[:-len("owner")]
        if (entry.endswith("owner") and _PREFIX_RE.match(lab_prefix) and prefix in (None, lab_prefix)
                and not lab_namespaces(lab_prefix) and not owner_alive(lab_prefix)):
            forget_owner(lab_prefix)
    return deleted
