"""The real kernel as the judge: kubelearn's kube-proxy rules, loaded into Linux, with real TCP.

Everything kubelearn shows about Services comes from rules it renders the way kube-proxy
does.  This package checks those rules against the only authority that matters: the Linux
kernel's netfilter.  It builds a small kind-like cluster out of *network namespaces* (one
per node, one per pod, one for an external host; see :mod:`~kubelearn.netlab.topo`), loads
each node's rendered rules with ``iptables-restore`` / ``nft -f``, starts a tiny server in
every pod and opens real connections.  The result is a request log with the simulator's
schema, and :func:`compare` says whether kernel and simulator agree::

    from kubelearn.netlab import NetLab, compare
    with NetLab(cluster) as lab:
        kernel = lab.run(workload)
    print(compare(simulate(cluster, workload), kernel))

It needs root on Linux with ``ip`` and ``iptables`` (``nft`` for nftables mode) and refuses
with a one-line reason otherwise (:func:`preflight`).  It never touches the machine's own
network namespace, and :func:`cleanup` removes only what a lab created.
"""

from __future__ import annotations

from .client import Connection
from .compare import Comparison, compare
from .host import HostError, PreflightError, cleanup, ipvs_available, lab_namespaces, missing, preflight
from .lab import KernelRules, NetLab, apply_event

__all__ = [
    "Comparison",
    "Connection",
    "HostError",
    "KernelRules",
    "NetLab",
    "PreflightError",
    "apply_event",
    "cleanup",
    "compare",
    "ipvs_available",
    "lab_namespaces",
    "missing",
    "preflight",
]
