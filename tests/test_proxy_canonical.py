"""Addresses typed with leading zeros reach the rules in canonical form, as kube-proxy writes them.

Upstream: ``data/proxy/upstream_canonical_addresses.txt`` (``endpointslicecache.go`` parses each
endpoint address with ``ParseIPSloppy(...).String()`` before it builds ``IP:port``, which the
chain-name hashes and the DNAT use; ``service.go`` keeps external IPs, LB IPs and source ranges
as parsed ``net.IP`` / ``*net.IPNet`` values).
"""

from __future__ import annotations

import pytest
from test_proxy_iptables import service, slice_, small

from kubelearn.proxy import nft_hashed_name, rules, sep_chain, trace
from kubelearn.proxy.endpoints import canonical_cidr, canonical_ip, service_ports


@pytest.mark.parametrize(("raw", "canon"), [
    ("1.2.3.004", "1.2.3.4"), ("10.180.00.001", "10.180.0.1"), ("010.0.0.1", "10.0.0.1"), ("10.0.0.1", "10.0.0.1"),
    ("::ffff:10.0.0.1", "10.0.0.1"), ("not-an-ip", "not-an-ip"), ("1.2.3.256", "1.2.3.256"),
])
def test_canonical_ip(raw: str, canon: str) -> None:
    assert canonical_ip(raw) == canon


@pytest.mark.parametrize(("raw", "canon"), [
    ("203.0.113.000/025", "203.0.113.0/25"), ("203.0.113.5/24", "203.0.113.0/24"), ("10.0.0.0/8", "10.0.0.0/8"),
    ("10.0.0.0/33", "10.0.0.0/33"), ("x/8", "x/8"),
])
def test_canonical_cidr(raw: str, canon: str) -> None:
    assert canonical_cidr(raw) == canon


def _zeros(mode: str):
    svc = service("web", "10.96.0.5", type="LoadBalancer", externalIPs=["1.2.3.004"],
                  loadBalancerSourceRanges=["203.0.113.000/025"], externalTrafficPolicy="Cluster")
    svc["spec"]["ports"][0]["nodePort"] = 30080
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "5.6.7.008"}]}}
    return small(svc, slice_("web", ["10.180.00.001"]), mode=mode)


def test_service_ports_hold_canonical_addresses() -> None:
    [sp] = service_ports(_zeros("iptables"))
    assert sp.external_ips == ("1.2.3.4",)
    assert sp.lb_ips == ("5.6.7.8",)
    assert sp.source_ranges == ("203.0.113.0/25",)
    assert [e.address for e in sp.endpoints] == ["10.180.0.1:80"]


def test_iptables_rules_use_canonical_addresses() -> None:
    text = str(rules(_zeros("iptables"), "n1"))
    for typed in ("1.2.3.004", "10.180.00.001", "5.6.7.008", "203.0.113.000/025"):
        assert typed not in text
    assert "-d 1.2.3.4 --dport 80" in text and "-d 5.6.7.8 --dport 80" in text
    assert "-s 203.0.113.0/25 -j KUBE-EXT-" in text
    assert "--to-destination 10.180.0.1:80" in text
    assert sep_chain("ns/web:p80", "TCP", "10.180.0.1:80") in text  # the hash of the canonical form
    assert sep_chain("ns/web:p80", "TCP", "10.180.00.001:80") not in text


def test_nftables_rules_use_canonical_addresses() -> None:
    text = rules(_zeros("nftables"), "n1", view="input").text()
    for typed in ("1.2.3.004", "10.180.00.001", "5.6.7.008", "203.0.113.000/025"):
        assert typed not in text
    assert "meta l4proto tcp dnat to 10.180.0.1:80" in text
    assert nft_hashed_name("endpoint", "ns/web/tcp/p80__10.180.0.1/80") in text
    assert "1.2.3.4 . tcp . 80 : goto external-" in text
    assert "ip saddr != { 203.0.113.0/25 } drop" in text


def test_trace_reaches_the_canonical_endpoint() -> None:
    t = trace(_zeros("nftables"), "n1", "10.0.9.9", "1.2.3.4:80")
    assert [d.endpoint for d in t.destinations] == ["10.180.0.1:80"]


def test_duplicate_spellings_are_one_endpoint() -> None:
    c = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1", "10.0.0.01"]))
    [sp] = service_ports(c)
    assert [e.address for e in sp.endpoints] == ["10.0.0.1:80"]
