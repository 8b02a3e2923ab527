"""IPVS mode: virtual servers, schedulers, persistence and the ipset side."""

from __future__ import annotations

import pytest
from test_proxy_iptables import overall

from kubelearn.proxy import ProxyConfigError, rules, trace


def test_ipvsadm_view() -> None:
    text = str(rules(overall("ipvs"), "test-node"))
    assert "TCP  172.30.0.44:80 rr\n  -> 10.180.0.4:80" in text
    assert "TCP  172.30.0.45:80 rr persistent 10800" in text
    assert "TCP  192.168.0.2:3003 rr" in text  # NodePort on the node IP
    assert "add KUBE-CLUSTER-IP 172.30.0.41,tcp:80" in text
    assert "-m set --match-set KUBE-CLUSTER-IP dst,dst ! -s 10.0.0.0/8 -j KUBE-MARK-MASQ" in text


@pytest.mark.parametrize("sched", ["wrr", "lc", "sh", "mh"])
def test_scheduler_from_config(sched: str) -> None:
    c = overall("ipvs", ipvs={"scheduler": sched})
    assert f"TCP  172.30.0.41:80 {sched}" in str(rules(c, "test-node"))
    assert trace(c, "test-node", "10.0.0.2", "172.30.0.41:80").scheduler == sched


def test_bad_scheduler() -> None:
    with pytest.raises(ProxyConfigError, match='invalid IPVS scheduler "fast"'):
        rules(overall("ipvs", ipvs={"scheduler": "fast"}), "test-node")


def test_ipvs_external_local_uses_local_real_servers() -> None:
    c = overall("ipvs")
    svc = dict(c.get("Service", "svc4", "ns4"))
    svc["spec"] = {**svc["spec"], "externalTrafficPolicy": "Local"}
    t = trace(c.with_objects([svc]), "test-node", "203.0.113.2", "192.168.99.33:80")
    assert {d.endpoint for d in t.destinations} == {"10.180.0.5:80"}


def test_ipvs_external_local_keeps_client_address() -> None:
    c = overall("ipvs")
    svc = dict(c.get("Service", "svc4", "ns4"))
    svc["spec"] = {**svc["spec"], "externalTrafficPolicy": "Local"}
    c = c.with_objects([svc])
    assert trace(c, "test-node", "203.0.113.2", "192.168.99.33:80").masquerade is False
    # svc3 (NodePort, eTP=Cluster) is masqueraded; svc2 (eTP=Local) has no local endpoint: DROP
    assert trace(c, "test-node", "203.0.113.2", "192.168.0.2:3003").masquerade is True
    assert trace(c, "test-node", "203.0.113.2", "192.168.0.2:3001").verdict == "DROP"
    assert "add KUBE-NODE-PORT-LOCAL-TCP 3001" in str(rules(c, "test-node"))
