"""The kernel judges kube-proxy's v1.36+ nftables layout: numgen map DNAT, the hairpin set.

Real namespaces, real TCP connections (root, Linux, nft; CI has them): the balancing the
simulator predicts for the ``numgen random mod N map`` rule, and a pod reaching itself through
its Service masqueraded by the ``hairpin-connections`` set, as on a v1.36 node.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from test_netlab_support import lab_skip_reason, make_cluster, requires_lab

from kubelearn.netlab import NetLab, compare
from kubelearn.proxy import rules
from kubelearn.traffic import cluster_ip, pod_clients, simulate, workload

pytestmark = [pytest.mark.netlab, requires_lab()]

ALPHA = 1e-4


def at(cluster, version: str):  # type: ignore[no-untyped-def]
    return replace(cluster, topology=replace(cluster.topology, kubernetes_version=version))


@pytest.fixture(autouse=True)
def _nft() -> None:
    reason = lab_skip_reason("nftables")
    if reason:
        pytest.skip(reason)


@pytest.mark.parametrize("version", ["v1.36.1", "v1.37.0"])
def test_numgen_map_balancing_matches_the_simulator(version: str) -> None:
    cluster = at(make_cluster(3, mode="nftables"), version)
    assert "dnat ip addr . port to numgen random mod 3 map" in rules(cluster, "kind-worker").nft_input()
    wl = workload(pod_clients(names=["client"]), cluster_ip("web"), connections=450)
    with NetLab(cluster, mode="nftables") as lab:
        kernel = lab.run(wl)
    assert (kernel["outcome"] == "ok").all()
    cmp = compare(simulate(cluster, wl, seed=1, mode="nftables"), kernel, alpha=ALPHA)
    assert cmp.consistent, str(cmp)
    assert set(kernel["seen_src_ip"].astype(str)) == {"10.244.0.5"}  # pod to pod: not masqueraded


def test_hairpin_set_masquerades_a_pod_reaching_itself() -> None:
    cluster = at(make_cluster(1, mode="nftables", with_client=False), "v1.36.1")
    assert "@hairpin-connections masquerade fully-random" in rules(cluster, "kind-worker").nft_input()
    with NetLab(cluster, mode="nftables") as lab:
        conns = [lab.connection("web-0", "10.96.0.100:80", service="default/web") for _ in range(5)]
        kernel = lab.run(connections=conns)
    assert (kernel["outcome"] == "ok").all()
    assert set(kernel["seen_src_ip"].astype(str)) == {"10.244.1.1"}  # the pod sees its node, not itself
