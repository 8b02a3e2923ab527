"""kube-proxy iptables rules: chain names, probabilities, rule counts, the upstream overall test."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubelearn.cluster import Cluster, Topology
from kubelearn.errors import NotFoundError
from kubelearn.proxy import rules, sep_chain, svc_chain
from kubelearn.proxy.ruleset import save_probability, save_string

DATA = Path(__file__).parent / "data" / "proxy"


def overall(mode: str = "iptables", **cfg: object) -> Cluster:
    pc = {"mode": mode, "clusterCIDR": "10.0.0.0/8", **cfg}
    objs = list(yaml.safe_load_all((DATA / "overall.yaml").read_text()))
    return Cluster(topology=Topology(service_subnet="172.30.0.0/16"), proxy_config=pc).with_objects(objs)


def node(name: str, ip: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "spec": {"podCIDR": "10.0.1.0/24"},
            "status": {"addresses": [{"type": "InternalIP", "address": ip}]}}


def service(name: str, ip: str | None, n_ports: int = 1, **spec: object) -> dict:
    s: dict[str, object] = {"type": "ClusterIP", "clusterIP": ip, "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
         "ports": [{"name": f"p{80 + i}", "port": 80 + i, "protocol": "TCP", "targetPort": 80 + i}
                   for i in range(n_ports)]}
    s.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": "ns"}, "spec": s}


def slice_(svc: str, ips: list[str], port: int = 80, name: str = "p80", **cond: bool) -> dict:
    return {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
            "metadata": {"name": f"{svc}-x", "namespace": "ns", "labels": {"kubernetes.io/service-name": svc}},
            "endpoints": [{"addresses": [ip], "conditions": dict(cond), "nodeName": "other"} for ip in ips],
            "ports": [{"name": name, "port": port, "protocol": "TCP"}]}


def small(*objs: dict, **cfg: object) -> Cluster:
    pc = {"mode": "iptables", "clusterCIDR": "10.0.0.0/8", **cfg}
    return Cluster(proxy_config=pc).with_objects([node("n1", "192.168.0.2"), *objs])


@pytest.mark.parametrize(("spn", "chain"), [
    ("ns1/svc1:p80", "KUBE-SVC-XPGD46QRK7WJZT7O"), ("ns2/svc2:p80", "KUBE-SVC-GNZBNJ2PO5MGZ6GT"),
    ("ns3/svc3:p80", "KUBE-SVC-X27LE4BHSL4DOUIK"), ("ns4/svc4:p80", "KUBE-SVC-4SW47YFZTEDKD3PK"),
    ("ns5/svc5:p80", "KUBE-SVC-NUKIZ6OKUXPJNT4C"), ("ns2/svc2:p8080", "KUBE-SVC-2VJB64SDSIJUP5T6"),
    ("default/kubernetes:https", "KUBE-SVC-NPX46M4PTMTKRN6Y"), ("default/nginx", "KUBE-SVC-2CMXP7HKUVJN7L6M"),
])
def test_service_chain_names(spn: str, chain: str) -> None:
    assert svc_chain(spn, "TCP") == chain


def test_dns_udp_chain_name() -> None:
    assert svc_chain("kube-system/kube-dns:dns", "UDP") == "KUBE-SVC-TCOU7JCQXEZGVUNU"


@pytest.mark.parametrize(("spn", "ep", "chain"), [
    ("ns1/svc1:p80", "10.180.0.1:80", "KUBE-SEP-SXIVWICOYRO3J4NJ"),
    ("ns4/svc4:p80", "10.180.0.4:80", "KUBE-SEP-UKSFD7AGPMPPLUHC"),
    ("ns4/svc4:p80", "10.180.0.5:80", "KUBE-SEP-C6EBXVWJJZMIWKLZ"),
    ("ns3/svc3:p80", "10.180.0.3:80", "KUBE-SEP-OYPFS5VJICHGATKP"),
    ("ns5/svc5:p80", "10.180.0.3:80", "KUBE-SEP-I77PXRDZVX7PMWMN"),
    ("ns3/svc3:p8081", "203.0.113.4:8081", "KUBE-SEP-RUVVH7YV3PHQBDOS"),
])
def test_endpoint_chain_names(spn: str, ep: str, chain: str) -> None:
    assert sep_chain(spn, "tcp", ep) == chain


def test_overall_rules_match_upstream_expected_text() -> None:
    # TestOverallIPTablesRules' expected output, without nfacct, with --random-fully.
    assert str(rules(overall(), "test-node")) == (DATA / "overall_restore.txt").read_text()


@pytest.mark.parametrize(("p", "shown"), [("0.3333333333", "0.33333333349"), ("0.2000000000", "0.20000000019"),
                                          ("0.1666666667", "0.16666666651"), ("0.5000000000", "0.50000000000")])
def test_save_probability_quantised(p: str, shown: str) -> None:
    assert save_probability(p) == shown


def test_probability_table_and_string_sort() -> None:
    ips = ["10.1.1.1", "10.1.1.11", "10.1.1.2"]
    c = small(service("web", "10.96.0.5"), slice_("web", ips))
    chain = svc_chain("ns/web:p80", "tcp")
    lb = [r.text for r in rules(c, "n1").tables["nat"][chain] if "->" in r.text]
    # string order: "10.1.1.11:80" < "10.1.1.1:80"? no: '1' (0x31) > ':' is false -> ':' (0x3a) sorts after '1'
    assert [t.split("-> ")[1].split('"')[0] for t in lb] == ["10.1.1.11:80", "10.1.1.1:80", "10.1.1.2:80"]
    assert "--probability 0.3333333333" in lb[0]
    assert "--probability 0.5000000000" in lb[1]
    assert "statistic" not in lb[2]


def test_rule_count_formula() -> None:
    for n in (1, 2, 5):
        c = small(service("web", "10.96.0.5"), slice_("web", [f"10.0.0.{i}" for i in range(1, n + 1)]))
        assert rules(c, "n1").rule_count("nat") == 5 + 2 + 3 * n
        c2 = small(service("web", "10.96.0.5", sessionAffinity="ClientIP",
                           sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
                   slice_("web", [f"10.0.0.{i}" for i in range(1, n + 1)]))
        assert rules(c2, "n1").rule_count("nat") == 5 + 2 + 4 * n


def test_no_detector_drops_masquerade_rule() -> None:
    c = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"]), clusterCIDR="")
    assert rules(c, "n1").rule_count("nat") == 5 + 1 + 3


def test_affinity_layout_three_endpoints() -> None:
    c = small(service("web", "10.96.0.5", sessionAffinity="ClientIP",
                      sessionAffinityConfig={"clientIP": {"timeoutSeconds": 10800}}),
              slice_("web", ["10.0.0.1", "10.0.0.2", "10.0.0.3"]))
    chain = svc_chain("ns/web:p80", "tcp")
    texts = [r.text for r in rules(c, "n1").tables["nat"][chain]][1:]
    assert all("--rcheck --seconds 10800 --reap" in t for t in texts[:3])
    assert "0.3333333333" in texts[3] and "0.5000000000" in texts[4] and "statistic" not in texts[5]
    sep = sep_chain("ns/web:p80", "tcp", "10.0.0.1:80")
    dnat = rules(c, "n1").tables["nat"][sep][1].text
    assert f"-m recent --name {sep} --set" in dnat
    save = rules(c, "n1", view="save").text()
    assert f"--rcheck --seconds 10800 --reap --name {sep} --mask 255.255.255.255 --rsource" in save


def test_large_cluster_mode_drops_endpoint_comments() -> None:
    ips = [f"10.1.{i // 250}.{i % 250 + 1}" for i in range(1001)]
    text = str(rules(small(service("web", "10.96.0.5"), slice_("web", ips)), "n1"))
    assert "-> 10.1." not in text and "-m comment --comment ns/web:p80 -s" not in text
    text_small = str(rules(small(service("web", "10.96.0.5"), slice_("web", ips[:1000])), "n1"))
    assert "-> 10.1.0.1:80" in text_small


def test_headless_and_external_name_produce_nothing() -> None:
    base = str(rules(small(), "n1"))
    c = small(service("h", "None"), slice_("h", ["10.0.0.1"]),
              {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": "ns"},
               "spec": {"type": "ExternalName", "externalName": "example.com"}})
    assert str(rules(c, "n1")) == base


def test_terminating_fallback() -> None:
    c = small(service("web", "10.96.0.5"),
              slice_("web", ["10.0.0.1", "10.0.0.2"], ready=False, serving=True, terminating=True))
    assert "DNAT --to-destination 10.0.0.2:80" in str(rules(c, "n1"))
    c2 = small(service("web", "10.96.0.5"),
               slice_("web", ["10.0.0.1"], ready=False, serving=False, terminating=True))
    assert '"ns/web:p80 has no endpoints"' in str(rules(c2, "n1"))


def test_localhost_nodeports_off_and_unknown_node() -> None:
    c = small(iptables={"localhostNodePorts": False})
    assert "--dst-type LOCAL ! -d 127.0.0.0/8 -j KUBE-NODEPORTS" in str(rules(c, "n1"))
    with pytest.raises(NotFoundError, match='nodes "nope" not found'):
        rules(c, "nope")


def test_fast_hash_equals_base64() -> None:
    import base64
    import hashlib

    from kubelearn.proxy.names import _b32_16

    for text in ("ns1/svc1:p80tcp", "a", "kube-system/kube-dns:dns-tcptcp10.244.0.3:53", "x" * 300):
        assert _b32_16(text) == base64.b32encode(hashlib.sha256(text.encode()).digest())[:16].decode()


def test_prebuilt_text_equals_rendered_rule() -> None:
    from kubelearn.proxy.ruleset import render_restore

    c = overall()
    aff = small(service("web", "10.96.0.5", sessionAffinity="ClientIP",
                        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 60}}),
                slice_("web", ["10.0.0.1", "10.0.0.2"]))
    for cl, n in ((c, "test-node"), (aff, "n1")):
        for table in rules(cl, n).tables.values():
            for chain_rules in table.values():
                for r in chain_rules:
                    assert r.text == render_restore(r)


def test_masquerade_all() -> None:
    c = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"]), iptables={"masqueradeAll": True})
    text = str(rules(c, "n1"))
    assert '"ns/web:p80 cluster IP" -m tcp -p tcp -d 10.96.0.5 --dport 80 -j KUBE-MARK-MASQ' in text
    from kubelearn.proxy import trace

    assert trace(c, "n1", "10.0.5.5", "10.96.0.5:80").masquerade is True


def test_nodeport_addresses_and_masquerade_bit() -> None:
    c = small(nodePortAddresses=["192.168.0.0/24"], iptables={"masqueradeBit": 15})
    text = str(rules(c, "n1"))
    assert "-d 192.168.0.2 -j KUBE-NODEPORTS" in text and "--dst-type LOCAL -j KUBE-NODEPORTS" not in text
    assert "-j MARK --or-mark 0x8000" in text


def test_save_view_statistic_and_marks() -> None:
    ips = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    save = rules(small(service("web", "10.96.0.5"), slice_("web", ips)), "n1", view="save").text()
    assert "-m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-" in save
    assert "-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000" in save
    assert "-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0" in save
    assert "-A KUBE-SERVICES -d 10.96.0.5/32 -p tcp -m comment" in save


def test_source_ranges_containing_the_node_allow_the_lb_ip() -> None:
    svc = service("lb", "10.96.0.9", type="LoadBalancer", externalTrafficPolicy="Cluster",
                  loadBalancerSourceRanges=["192.168.0.0/16"])
    svc["spec"]["ports"][0]["nodePort"] = 30080
    svc["status"] = {"loadBalancer": {"ingress": [{"ip": "5.6.7.8", "ipMode": "VIP"}]}}
    rs = rules(small(svc, slice_("lb", ["10.0.0.1"])), "n1")
    fw = [r.text for r in rs.tables["nat"]["KUBE-FW-" + svc_chain("ns/lb:p80", "tcp")[9:]]]
    assert fw[0].endswith("-s 192.168.0.0/16 -j KUBE-EXT-" + svc_chain("ns/lb:p80", "tcp")[9:])
    assert "-s 5.6.7.8 -j KUBE-EXT-" in fw[1]
    assert fw[2].endswith('"other traffic to ns/lb:p80 will be dropped by KUBE-PROXY-FIREWALL"')
    from kubelearn.proxy import trace

    assert trace(small(svc, slice_("lb", ["10.0.0.1"])), "n1", "192.168.0.2", "192.168.0.2:30080").verdict == "DNAT"


# Observed with iptables-restore + iptables-save v1.8.9, nft and legacy back ends alike.
@pytest.mark.parametrize(("comment", "shown"), [
    ("plain", "plain"), ("under_score-dash09", "under_score-dash09"), ("", '""'),
    ("default/my-service", '"default/my-service"'), ("has space", '"has space"'), ("a:b.c", '"a:b.c"'),
    ("a->b;c", '"a->b;c"'), ('dq"x', '"dq\\"x"'), ("sq'x", "\"sq\\'x\""), ("bs\\x", '"bs\\\\x"'),
])
def test_save_view_quotes_strings_like_iptables_save(comment: str, shown: str) -> None:
    from kubelearn.proxy.ruleset import Rule, render_save

    assert save_string(comment) == shown
    rule = Rule("KL-TEST", (("comment", comment),), ("ACCEPT",))
    assert render_save(rule) == f"-A KL-TEST -m comment --comment {shown} -j ACCEPT"


def test_save_view_has_canary_chains_and_a_header_per_table() -> None:
    rs = rules(small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"])), "n1")
    save = rs.text("save")
    tables = [ln for ln in save.splitlines() if ln.startswith("*")]
    assert tables == ["*mangle", "*filter", "*nat"]
    assert save.count("# Generated by iptables-save v1.8.9 (nf_tables)\n*") == 3
    assert save.count("COMMIT\n# Completed\n") == 3
    assert save.startswith("# Generated by iptables-save v1.8.9 (nf_tables)\n*mangle\n:PREROUTING ACCEPT [0:0]\n"
                           ":INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n"
                           ":POSTROUTING ACCEPT [0:0]\n:KUBE-PROXY-CANARY - [0:0]\nCOMMIT\n")
    assert save.count(":KUBE-PROXY-CANARY - [0:0]") == 3
    assert rs.iptables_restore_input().count(":KUBE-PROXY-CANARY - [0:0]") == 3
    assert "KUBE-PROXY-CANARY" not in rs.text("restore")  # kube-proxy's own restore never has it


def test_gc_paused_leaves_the_collector_as_it_found_it() -> None:
    """The big-build gc trick must neither leave gc off nor thaw objects someone else froze."""
    import gc

    from kubelearn.proxy.ruleset import gc_paused

    # Some interpreters start with objects already frozen (CPython 3.12.1: gc.get_freeze_count()
    # is in the hundreds before any gc.freeze()); those are "someone else's" and must stay frozen.
    before = gc.get_freeze_count()
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        junk = [[i] for i in range(1000)]
    assert gc.isenabled() and gc.get_freeze_count() == before and len(junk) == 1000
    if before:
        return  # the frozen-by-someone-else case was the one above
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with gc_paused():
            pass
        assert gc.get_freeze_count() == frozen and gc.isenabled()
    finally:
        gc.unfreeze()
