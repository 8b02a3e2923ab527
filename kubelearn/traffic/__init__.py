"""Traffic: who talks to a Service, where each connection lands, and what the logs show.

A Service balances *connections*, and only on the node where each one enters.  This package
turns a :mod:`workload <kubelearn.traffic.workload>` (clients, a target, an arrival process,
events) into a pandas request log by routing every connection through kube-proxy's rules
(:func:`kubelearn.proxy.trace`), then helps read that log:

- :func:`simulate` — the fast, seeded simulator (one row per request, :data:`LOG_COLUMNS`);
- :func:`predicted_shares` — what the rules' probabilities predict per pod;
- :mod:`analysis <kubelearn.traffic.analysis>` — shares, chi-square, Jain's index,
  stickiness, errors over time;
- :mod:`zones <kubelearn.traffic.zones>` — :func:`zone_traffic` and :func:`cross_zone_share`:
  which zone each request came from and was answered in;
- :func:`read_log` / :func:`write_log` — CSV and Parquet with dtypes intact.

The workload builders (the clients: ``pod_clients``, ``node_clients``, ``external_clients``;
the targets: ``dns``, ``cluster_ip``, ``node_port``, ``external_ip``, ``load_balancer``; and
``workload``) and the ``Workload`` YAML kind are documented in :mod:`kubelearn.traffic.workload`.
"""

from ..apiserver.workload import validate_workload
from .analysis import (
    chi_square,
    errors_over_time,
    jain_index,
    max_mean_ratio,
    node_shares,
    pod_shares,
    stickiness,
    summary,
)
from .log import LOG_COLUMNS, empty_log, read_log, write_log
from .simulate import default_workload, predicted_shares, simulate
from .workload import (
    Event,
    Workload,
    cluster_ip,
    dns,
    external_clients,
    external_ip,
    from_object,
    load_balancer,
    node_clients,
    node_port,
    pod_clients,
    workload,
)
from .zones import cross_zone_share, zone_traffic

__all__ = [
    "LOG_COLUMNS",
    "Event",
    "Workload",
    "chi_square",
    "cluster_ip",
    "default_workload",
    "dns",
    "empty_log",
    "errors_over_time",
    "external_clients",
    "external_ip",
    "from_object",
    "jain_index",
    "load_balancer",
    "max_mean_ratio",
    "node_clients",
    "node_port",
    "node_shares",
    "pod_clients",
    "pod_shares",
    "predicted_shares",
    "read_log",
    "simulate",
    "stickiness",
    "summary",
    "validate_workload",
    "workload",
    "write_log",
    "zone_traffic",
    "cross_zone_share",
]
