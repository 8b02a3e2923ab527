"""The kernel as the judge for a zoned Service: each node's kube-proxy keeps its zone's endpoints.

The three-zones scenario (trafficDistribution: PreferClose) in a real lab, iptables and nftables
mode: connections from a node reach only the pods of that node's zone, and the kernel's spread
agrees with the simulator's.
"""

from __future__ import annotations

import pytest
from test_netlab_support import lab_skip_reason, requires_lab

from kubelearn.netlab import NetLab, compare
from kubelearn.scenarios import scenario
from kubelearn.traffic import cluster_ip, node_clients, simulate, workload

pytestmark = [pytest.mark.netlab, requires_lab()]

ALPHA = 1e-4
ZONES = {"kind-worker": "zone-a", "kind-worker2": "zone-b", "kind-worker3": "zone-c"}


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_zoned_service_stays_in_the_zone(mode: str) -> None:
    reason = lab_skip_reason(mode)
    if reason:
        pytest.skip(reason)
    cluster = scenario("three-zones")
    by_pod = {p["metadata"]["name"]: p["spec"]["nodeName"] for p in cluster.pods()}
    wl = workload(node_clients("kind-worker2"), cluster_ip("web"), connections=200)
    with NetLab(cluster, mode=mode) as lab:
        kernel = lab.run(wl)
    assert (kernel["outcome"] == "ok").all()
    reached = set(kernel["pod"].astype(str))
    assert len(reached) == 2 and {ZONES[by_pod[p]] for p in reached} == {"zone-b"}
    # the kernel lab's log says so too: both zones from the node label, nothing crossed
    assert set(kernel["client_zone"].astype(str)) == set(kernel["endpoint_zone"].astype(str)) == {"zone-b"}
    sim = simulate(cluster, wl, seed=1, mode=mode)
    assert set(sim["pod"].astype(str)) == reached
    assert compare(sim, kernel, alpha=ALPHA).consistent
