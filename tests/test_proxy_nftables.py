"""nftables mode: the upstream overall transaction, names, numgen, and the list view."""

from __future__ import annotations

from pathlib import Path

from test_proxy_iptables import overall, service, slice_, small

from kubelearn.proxy import nft_hashed_name, rules, trace

DATA = Path(__file__).parent / "data" / "proxy"


def test_overall_transaction_matches_upstream_lines() -> None:
    # TestOverallNFTablesRules' expected transaction (knftables prints it in another order).
    ours = rules(overall("nftables"), "test-node", view="input").text().splitlines()
    expected = (DATA / "overall_nft.txt").read_text().splitlines()
    assert sorted(ours) == sorted(expected)


def test_hashed_names() -> None:
    assert nft_hashed_name("service", "ns1/svc1/tcp/p80") == "service-ULMVA6XW-ns1/svc1/tcp/p80"
    assert nft_hashed_name("endpoint", "ns1/svc1/tcp/p80__10.180.0.1/80") == \
        "endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80"


def test_numgen_gives_each_endpoint_one_nth() -> None:
    ips = [f"10.0.0.{i}" for i in range(1, 4)]
    c = small(service("web", "10.96.0.5"), slice_("web", ips), mode="nftables")
    text = str(rules(c, "n1"))
    assert "numgen random mod 3 vmap { 0 : goto endpoint-" in text
    t = trace(c, "n1", "10.0.9.9", "10.96.0.5:80")
    assert [d.probability for d in t.destinations] == [1 / 3] * 3
    assert [d.endpoint for d in t.destinations] == ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]


def test_list_view_shape() -> None:
    text = rules(overall("nftables"), "test-node").text()
    assert text.startswith("table ip kube-proxy {\n")
    assert "\tchain nat-prerouting {\n\t\ttype nat hook prerouting priority dstnat; policy accept;" in text
    assert "\t\ttimeout 3h\n" in text  # affinity set for ns5/svc5 (10800 s)
    assert text.rstrip().endswith("}")


def test_lookup_cost_does_not_depend_on_service_position() -> None:
    objs = []
    for i in range(30):
        objs += [service(f"s{i:02d}", f"10.96.0.{i + 10}"), slice_(f"s{i:02d}", [f"10.0.1.{i + 1}"])]
    c = small(*objs, mode="nftables")
    first = trace(c, "n1", "10.0.9.9", "10.96.0.10:80").rules_walked
    last = trace(c, "n1", "10.0.9.9", "10.96.0.39:80").rules_walked
    assert first == last
    ipt_first = trace(c, "n1", "10.0.9.9", "10.96.0.10:80", mode="iptables").rules_walked
    ipt_last = trace(c, "n1", "10.0.9.9", "10.96.0.39:80", mode="iptables").rules_walked
    assert ipt_last - ipt_first == 29  # one KUBE-SERVICES rule per service before it


def test_localhost_nodeport_not_served() -> None:
    c = overall("nftables")
    t = trace(c, "test-node", "127.0.0.1", "127.0.0.1:3003", mode="nftables")
    assert t.verdict == "NONE"
    assert trace(c, "test-node", "127.0.0.1", "127.0.0.1:3003", mode="iptables").verdict == "DNAT"


def test_cluster_ips_set_lists_each_address_once() -> None:
    """kube-dns has three ports but one ClusterIP: `nft list` shows the element once."""
    from kubelearn.scenarios import scenario

    text = str(rules(scenario("my-service"), "kind-worker", mode="nftables"))
    block = text[text.index("set cluster-ips"):]
    block = block[: block.index("}\n") + 2]
    assert block.count("10.96.0.10") == 1
