"""kubelearn: learn how Kubernetes Services really work.

A small, faithful model of a Kubernetes cluster (the API objects, the controllers, DNS and
environment-variable discovery), of kube-proxy (iptables, nftables and IPVS rules, and a tracer
that walks them), a traffic simulator producing pandas request logs, and plots and widgets for
notebooks.  The pipeline, one public function per arrow::

    manifests --load--> Cluster --rules/trace--> kube-proxy's view --simulate--> request log --plots--> pictures

The names below are the whole public API the lessons use; everything else is reachable through
its module (``kubelearn.discovery.dns``, ``kubelearn.proxy``, ...).  Heavy modules (pandas, matplotlib,
scipy) are imported only when first used, so ``import kubelearn`` stays quick.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # the cluster as a value, manifests in and out
    "Cluster": "kubelearn.cluster",
    "load": "kubelearn.kind",
    "dry_run": "kubelearn.kind",
    "api_warnings": "kubelearn.responses",
    "dump": "kubelearn.manifest",
    "default_cluster": "kubelearn.kind",
    "SCENARIOS": "kubelearn.scenarios",
    "scenario": "kubelearn.scenarios",
    "scenario_path": "kubelearn.scenarios",
    "default_scenario": "kubelearn.scenarios",
    "ServiceSettings": "kubelearn.scenarios",
    "explore_service": "kubelearn.scenarios",
    "rollout_steps": "kubelearn.controllers.rollout",
    # errors, in the API server's words
    "KubelearnError": "kubelearn.errors",
    "ApplyError": "kubelearn.errors",
    "InvalidError": "kubelearn.errors",
    "FieldError": "kubelearn.errors",
    "ManifestError": "kubelearn.errors",
    "NotFoundError": "kubelearn.errors",
    # discovery and kubectl
    "service_env": "kubelearn.discovery.envvars",
    "container_env": "kubelearn.discovery.envvars",
    "resolve": "kubelearn.discovery.dns",
    "resolv_conf": "kubelearn.discovery.dns",
    "get": "kubelearn.kubectl",
    "describe_service": "kubelearn.kubectl",
    # kube-proxy
    "rules": "kubelearn.proxy",
    "trace": "kubelearn.proxy",
    "categorize_endpoints": "kubelearn.proxy",
    "kept_endpoints": "kubelearn.proxy",
    # a real node's dump: iptables-save, nft list ruleset, ipvsadm -Ln
    "read_rules": "kubelearn.proxy.read",
    "read_rules_file": "kubelearn.proxy.read",
    "explain_rules": "kubelearn.proxy.read",
    "trace_rules": "kubelearn.proxy.read",
    "diff_rules": "kubelearn.proxy.read",
    # traffic
    "simulate": "kubelearn.traffic",
    "LOG_COLUMNS": "kubelearn.traffic",
    "Workload": "kubelearn.traffic",
    "workload": "kubelearn.traffic",
    "pod_clients": "kubelearn.traffic",
    "node_clients": "kubelearn.traffic",
    "external_clients": "kubelearn.traffic",
    "cluster_ip": "kubelearn.traffic",
    "node_port": "kubelearn.traffic",
    "load_balancer": "kubelearn.traffic",
    "external_ip": "kubelearn.traffic",
    "Event": "kubelearn.traffic",
    "predicted_shares": "kubelearn.traffic",
    "pod_shares": "kubelearn.traffic",
    "node_shares": "kubelearn.traffic",
    "chi_square": "kubelearn.traffic",
    "jain_index": "kubelearn.traffic",
    "stickiness": "kubelearn.traffic",
    "summary": "kubelearn.traffic",
    "errors_over_time": "kubelearn.traffic",
    "read_log": "kubelearn.traffic",
    "write_log": "kubelearn.traffic",
    "zone_traffic": "kubelearn.traffic",
    "cross_zone_share": "kubelearn.traffic",
    # exercises that check themselves
    "exercises": "kubelearn.exercise",
    "check": "kubelearn.exercise",
    "solution": "kubelearn.exercise",
    # the real kernel
    "NetLab": "kubelearn.netlab",
    "compare": "kubelearn.netlab",
}

# Not exported here, because a submodule of the same name would shadow them once imported:
# ``apply`` (use ``cluster.apply(...)``) and the traffic builder ``dns`` (use ``kl.traffic.dns``).

# Submodules a lesson uses as namespaces: kl.plots.plot_load(...), kl.widgets.service_explorer(...)
_SUBMODULES = ("plots", "widgets", "netlab", "proxy", "traffic")

__all__ = sorted([*_EXPORTS, *_SUBMODULES, "__version__"])


# Former names of the client builders (kl.pods beside Cluster.pods, a listing, was one name for
# two things).  They no longer resolve; asking for one says what it became.
_FORMER = {"pods": "pod_clients", "nodes": "node_clients", "external": "external_clients"}


def __getattr__(name: str) -> Any:
    if name in _FORMER:
        raise AttributeError(f"module 'kubelearn' has no attribute {name!r}: the client builder "
                             f"kl.{name}() is now kl.{_FORMER[name]}()")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value  # cache: the next access is a plain attribute
        return value
    if name in _SUBMODULES:
        module = importlib.import_module(f"kubelearn.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'kubelearn' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import netlab, plots, proxy, traffic, widgets
    from .cluster import Cluster
    from .controllers.rollout import rollout_steps
    from .discovery.dns import resolv_conf, resolve
    from .discovery.envvars import container_env, service_env
    from .errors import ApplyError, FieldError, InvalidError, KubelearnError, ManifestError, NotFoundError
    from .exercise import check, exercises, solution
    from .kind import default_cluster, dry_run, load
    from .kubectl import describe_service, get
    from .manifest import dump
    from .netlab import NetLab, compare  # type: ignore[no-redef]  # also a submodule name
    from .proxy import categorize_endpoints, kept_endpoints, rules, trace  # type: ignore[no-redef]
    from .proxy.read import diff_rules, explain_rules, read_rules, read_rules_file, trace_rules
    from .responses import api_warnings
    from .scenarios import SCENARIOS, ServiceSettings, default_scenario, explore_service, scenario, scenario_path
    from .traffic import (  # type: ignore[no-redef]  # simulate, workload: also submodule names
        LOG_COLUMNS,
        Event,
        Workload,
        chi_square,
        cluster_ip,
        errors_over_time,
        external_clients,
        external_ip,
        jain_index,
        load_balancer,
        node_clients,
        node_port,
        node_shares,
        pod_clients,
        pod_shares,
        predicted_shares,
        read_log,
        simulate,
        stickiness,
        summary,
        workload,
        write_log,
    )
    from .traffic.zones import cross_zone_share, zone_traffic
