"""Cluster DNS: CoreDNS's records and the pod resolver's search (discovery-api-facts §B)."""

from __future__ import annotations

import json

import pytest
from discovery_builders import cluster, endpoint_slice, kube_dns_service, kubernetes_service, pod, service

from kubelearn.cluster import Cluster
from kubelearn.discovery.dns import DNSError, lookup, resolv_conf, resolve
from kubelearn.errors import NotFoundError


def _redis() -> Cluster:
    """§B.8's worked example: redis-master in prod (10.96.100.5); client pods in prod and web."""
    return cluster(
        kubernetes_service(),
        kube_dns_service(),
        service("redis-master", "10.96.100.5", [(6379, "TCP", "")], namespace="prod", selector={"app": "redis"}),
        pod("client", ip="10.244.1.20", namespace="web"),
        pod("local", ip="10.244.1.21", namespace="prod"),
    )


def _names(res) -> list[str]:  # type: ignore[no-untyped-def]
    return [q.name for q in res.queries]


# ------------------------------------------------------------------ resolv.conf
def test_resolv_conf_cluster_first() -> None:
    """Search list: the pod's namespace first, then svc.<zone>, <zone>; ndots:5; kube-dns IP."""
    assert resolv_conf(_redis(), "client", "web") == (
        "search web.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.96.0.10\n"
        "options ndots:5\n"
    )


def test_resolv_conf_policies_and_dns_config_merge() -> None:
    """dnsConfig appends nameservers/searches and replaces options by name; hostNetwork falls back."""
    c = cluster(
        pod("tuned", dnsConfig={"nameservers": ["1.1.1.1"], "searches": ["corp.example"],
                                "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}]}),
        pod("hostnet", hostNetwork=True),
        pod("hostnet2", hostNetwork=True, dnsPolicy="ClusterFirstWithHostNet"),
        pod("none", dnsPolicy="None", dnsConfig={"nameservers": ["8.8.8.8"], "searches": ["a.example"]}),
    )
    assert resolv_conf(c, "tuned") == (
        "search default.svc.cluster.local svc.cluster.local cluster.local corp.example\n"
        "nameserver 10.96.0.10\nnameserver 1.1.1.1\noptions ndots:2 edns0\n"
    )
    # ClusterFirst + hostNetwork = the node's resolv.conf (kind: the docker network gateway, ndots:0).
    assert resolv_conf(c, "hostnet") == "nameserver 172.18.0.1\noptions ndots:0\n"
    assert resolv_conf(c, "hostnet2").startswith("search default.svc.cluster.local ")
    assert resolv_conf(c, "none") == "search a.example\nnameserver 8.8.8.8\n"


def test_resolv_conf_bad_policies() -> None:
    """An unknown dnsPolicy and None without dnsConfig are refused in the API server's words."""
    c = cluster(pod("bad", dnsPolicy="Sometimes"), pod("empty", dnsPolicy="None"))
    with pytest.raises(DNSError, match='Unsupported value: "Sometimes"'):
        resolv_conf(c, "bad")
    with pytest.raises(DNSError, match="dnsConfig: Required value"):
        resolv_conf(c, "empty")
    with pytest.raises(NotFoundError, match=r'Error from server \(NotFound\): pods "ghost" not found'):
        resolv_conf(c, "ghost")


# ------------------------------------------------------------------ §B.8 worked example
def test_short_name_in_own_namespace_first_query() -> None:
    """prod pod, 'redis-master': answered by the first candidate."""
    res = resolve(_redis(), "redis-master", from_pod="local", namespace="prod")
    assert _names(res) == ["redis-master.prod.svc.cluster.local."]
    assert res.rcode == "NOERROR" and res.addresses == ["10.96.100.5"]


def test_short_name_from_other_namespace_fails() -> None:
    """web pod, 'redis-master': every search candidate and the bare name fail."""
    res = resolve(_redis(), "redis-master", from_pod="client", namespace="web")
    assert _names(res) == ["redis-master.web.svc.cluster.local.", "redis-master.svc.cluster.local.",
                           "redis-master.cluster.local.", "redis-master."]
    assert [q.rcode for q in res.queries] == ["NXDOMAIN"] * 4
    assert res.rcode == "NXDOMAIN" and res.answer == ()
    assert 'namespace "redis-master"' in res.queries[1].note


def test_service_dot_namespace_second_query() -> None:
    """'redis-master.prod' from web: the first candidate is read as an endpoint of Service prod."""
    res = resolve(_redis(), "redis-master.prod", from_pod="client", namespace="web")
    assert _names(res) == ["redis-master.prod.web.svc.cluster.local.", "redis-master.prod.svc.cluster.local."]
    assert 'endpoint "redis-master" of Service "prod" in namespace "web"' in res.queries[0].note
    assert res.addresses == ["10.96.100.5"]


def test_blog_reversed_order_fails_and_says_why() -> None:
    """The blog's '<namespace>.<service>' is read as Service 'prod' in namespace 'redis-master'."""
    res = resolve(_redis(), "prod.redis-master", from_pod="client", namespace="web")
    assert _names(res) == ["prod.redis-master.web.svc.cluster.local.", "prod.redis-master.svc.cluster.local.",
                           "prod.redis-master.cluster.local.", "prod.redis-master."]
    assert res.rcode == "NXDOMAIN"
    assert 'Service "prod" in namespace "redis-master"' in res.queries[1].note
    assert 'Service "prod" in namespace "redis-master"' in str(res)


def test_four_dot_name_needs_four_queries_and_trailing_dot_one() -> None:
    """4 dots < ndots 5: the search list first, the name as written 4th; a trailing dot: 1 query."""
    c = _redis()
    res = resolve(c, "redis-master.prod.svc.cluster.local", from_pod="client", namespace="web")
    assert len(res.queries) == 4 and res.queries[-1].name == "redis-master.prod.svc.cluster.local."
    assert [q.rcode for q in res.queries] == ["NXDOMAIN", "NXDOMAIN", "NXDOMAIN", "NOERROR"]
    res = resolve(c, "redis-master.prod.svc.cluster.local.", from_pod="client", namespace="web")
    assert _names(res) == ["redis-master.prod.svc.cluster.local."] and res.addresses == ["10.96.100.5"]


def test_external_name_tries_search_list_then_goes_upstream() -> None:
    """www.example.com: three cluster NXDOMAINs, then forwarded upstream (SERVFAIL offline)."""
    res = resolve(_redis(), "www.example.com", from_pod="client", namespace="web")
    assert _names(res)[-1] == "www.example.com."
    assert [q.rcode for q in res.queries] == ["NXDOMAIN", "NXDOMAIN", "NXDOMAIN", "SERVFAIL"]
    assert res.queries[-1].upstream and not res.queries[0].upstream
    assert res.rcode == "SERVFAIL"


def test_many_dots_tries_as_written_first() -> None:
    """A name with at least ndots dots is asked as written before the search list."""
    res = resolve(_redis(), "a.b.c.d.e.example", from_pod="client", namespace="web")
    assert _names(res)[0] == "a.b.c.d.e.example."
    assert _names(res)[1] == "a.b.c.d.e.example.web.svc.cluster.local."


def test_ndots_from_dns_config_changes_order() -> None:
    """With ndots:1, 'redis-master.prod' is asked as written first (and fails upstream)."""
    c = cluster(service("redis-master", "10.96.100.5", [(6379, "TCP", "")], namespace="prod"),
                pod("p", dnsConfig={"options": [{"name": "ndots", "value": "1"}]}))
    res = resolve(c, "redis-master.prod", from_pod="p")
    assert _names(res)[:2] == ["redis-master.prod.", "redis-master.prod.default.svc.cluster.local."]
    assert res.addresses == ["10.96.100.5"]


# ------------------------------------------------------------------ CoreDNS records
def _records_cluster() -> Cluster:
    return cluster(
        kubernetes_service(),
        kube_dns_service(),
        service("web", "10.96.7.7", [(80, "TCP", "http"), (443, "TCP", "https"), (8080, "TCP", "")]),
        service("empty", "10.96.8.8", [(80, "TCP", "")], selector={"app": "none"}),
        service("nginx", "None", [(80, "TCP", "web")], selector={"app": "nginx"}),
        endpoint_slice("nginx", [("10.244.1.7", True, "web-0"), ("10.244.2.8", True, "web-1"),
                                 ("10.244.2.9", False, "web-2")], [("web", 80, "TCP")]),
        service("dead", "None", [(80, "TCP", "")], selector={"app": "dead"}),
        endpoint_slice("dead", [("10.244.1.30", False, "")]),
        service("anon", "None", [(80, "TCP", "")], selector={"app": "anon"}),
        endpoint_slice("anon", [("10.244.1.40", True, "")]),
        service("ext", type="ExternalName", external_name="db.example.com", ports=[]),
        service("alias", type="ExternalName", external_name="web.default.svc.cluster.local", ports=[]),
        service("dual", "10.96.9.9", [(53, "UDP", "dns")]),
    )


def test_cluster_ip_a_record_even_without_endpoints() -> None:
    """A ClusterIP Service resolves to its VIP whether or not it has endpoints; TTL 30."""
    c = _records_cluster()
    rcode, recs = lookup(c, "empty.default.svc.cluster.local", "A")
    assert rcode == "NOERROR" and [(r.data, r.ttl) for r in recs] == [("10.96.8.8", 30)]
    assert str(recs[0]) == "empty.default.svc.cluster.local.\t30\tIN\tA\t10.96.8.8"


def test_nodata_cases() -> None:
    """AAAA on an IPv4 Service, svc.<zone>, pod.<zone>, an existing namespace: NOERROR, no answer."""
    c = _records_cluster()
    for name, qtype in [("web.default.svc.cluster.local", "AAAA"), ("svc.cluster.local", "A"),
                        ("pod.cluster.local", "A"), ("default.svc.cluster.local", "A"),
                        ("web.default.svc.cluster.local", "TXT")]:
        assert lookup(c, name, qtype) == ("NOERROR", []), name
    assert lookup(c, "nosuchns.svc.cluster.local", "A")[0] == "NXDOMAIN"
    assert lookup(c, "nosuch.default.svc.cluster.local", "A")[0] == "NXDOMAIN"


def test_headless_ready_endpoints_and_hostnames() -> None:
    """Headless: one A per ready endpoint; web-0.nginx names a StatefulSet pod; unready web-2 hidden."""
    c = _records_cluster()
    assert [r.data for r in lookup(c, "nginx.default.svc.cluster.local", "A")[1]] == [
        "10.244.1.7", "10.244.2.8"]
    assert [r.data for r in lookup(c, "web-0.nginx.default.svc.cluster.local", "A")[1]] == ["10.244.1.7"]
    assert lookup(c, "web-2.nginx.default.svc.cluster.local", "A")[0] == "NXDOMAIN"
    # No hostname: CoreDNS names the endpoint after its dashed IP.
    assert [r.data for r in lookup(c, "10-244-1-40.anon.default.svc.cluster.local", "A")[1]] == ["10.244.1.40"]


def test_headless_without_ready_endpoint_is_nxdomain() -> None:
    """A headless Service with no ready endpoint does not exist in DNS."""
    assert lookup(_records_cluster(), "dead.default.svc.cluster.local", "A") == ("NXDOMAIN", [])


def test_srv_named_ports_weight_and_unnamed() -> None:
    """SRV per named port (priority 0, weight 100/n); unnamed ports have no _name._proto record."""
    c = _records_cluster()
    rcode, recs = lookup(c, "_https._tcp.web.default.svc.cluster.local", "SRV")
    assert rcode == "NOERROR"
    assert [r.data for r in recs] == ["0 100 443 web.default.svc.cluster.local."]
    _, recs = lookup(c, "_web._tcp.nginx.default.svc.cluster.local", "SRV")
    assert [r.data for r in recs] == ["0 50 80 web-0.nginx.default.svc.cluster.local.",
                                      "0 50 80 web-1.nginx.default.svc.cluster.local."]
    assert lookup(c, "_http._udp.web.default.svc.cluster.local", "SRV")[0] == "NXDOMAIN"
    # The plain name answers SRV for every port: 3 records, weight 100 // 3.
    _, recs = lookup(c, "web.default.svc.cluster.local", "SRV")
    assert [r.data.split()[:3] for r in recs] == [["0", "33", "80"], ["0", "33", "443"], ["0", "33", "8080"]]


def test_external_name_cname() -> None:
    """ExternalName: a CNAME; an in-cluster target is followed, an outside one is marked unresolvable."""
    c = _records_cluster()
    assert lookup(c, "ext.default.svc.cluster.local", "CNAME") == (
        "NOERROR", [r for r in lookup(c, "ext.default.svc.cluster.local", "A")[1]])
    res = resolve(c, "ext")
    assert [(r.type, r.data) for r in res.answer] == [("CNAME", "db.example.com.")]
    assert "cannot be resolved offline" in res.queries[0].note
    res = resolve(c, "alias")
    assert [(r.type, r.data) for r in res.answer] == [("CNAME", "web.default.svc.cluster.local."),
                                                      ("A", "10.96.7.7")]
    assert lookup(c, "endpoint.ext.default.svc.cluster.local", "A")[0] == "NXDOMAIN"


def test_ptr_records() -> None:
    """PTR: a cluster IP names its Service, an endpoint IP its hostname; unknown IPs go upstream."""
    c = _records_cluster()
    assert [r.data for r in lookup(c, "7.7.96.10.in-addr.arpa", "PTR")[1]] == [
        "web.default.svc.cluster.local."]
    assert [r.data for r in lookup(c, "8.2.244.10.in-addr.arpa.", "PTR")[1]] == [
        "web-1.nginx.default.svc.cluster.local."]
    assert lookup(c, "99.99.99.10.in-addr.arpa", "PTR")[0] == "SERVFAIL"


def test_pod_records_insecure_and_dns_version() -> None:
    """pods insecure: a-b-c-d.<ns>.pod answers the IP in the name; dns-version TXT is 1.1.0."""
    c = _records_cluster()
    assert [r.data for r in lookup(c, "10-244-9-9.default.pod.cluster.local", "A")[1]] == ["10.244.9.9"]
    assert lookup(c, "10-244-9-9.nosuchns.pod.cluster.local", "A")[0] == "NXDOMAIN"
    assert lookup(c, "not-an-ip.default.pod.cluster.local", "A")[0] == "NXDOMAIN"
    assert [r.data for r in lookup(c, "dns-version.cluster.local", "TXT")[1]] == ['"1.1.0"']


def test_case_insensitive_and_upstream_rules() -> None:
    """Names are case-insensitive; impossible TLDs are NXDOMAIN, other outside names SERVFAIL."""
    c = _records_cluster()
    assert lookup(c, "WEB.Default.SVC.cluster.LOCAL.", "a")[1][0].data == "10.96.7.7"
    assert lookup(c, "prod.redis-master.", "A")[0] == "NXDOMAIN"
    assert lookup(c, "example.com", "A")[0] == "SERVFAIL"


def test_unsupported_type() -> None:
    """MX is not modelled: a clear error."""
    with pytest.raises(DNSError, match="unsupported record type 'MX'"):
        lookup(_records_cluster(), "web.default.svc.cluster.local", "MX")


def test_resolution_json_shape_and_display() -> None:
    """to_dict: queries [{name, rcode, note}], rcode, answer [{name, type, data, ttl}]; HTML table."""
    res = resolve(_redis(), "redis-master.prod", namespace="web")
    d = json.loads(json.dumps(res.to_dict()))
    assert [q["rcode"] for q in d["queries"]] == ["NXDOMAIN", "NOERROR"]
    assert d["rcode"] == "NOERROR"
    assert d["answer"] == [{"name": "redis-master.prod.svc.cluster.local.", "type": "A",
                            "data": "10.96.100.5", "ttl": 30}]
    assert res.client == "web/client"
    html = res._repr_html_()
    assert html.count("<tr>") == 3 and "NXDOMAIN" in html


def test_host_network_pod_does_not_ask_cluster_dns() -> None:
    """A hostNetwork pod with ClusterFirst uses the node's resolver: Service names are not found."""
    c = cluster(service("web", "10.96.7.7"), pod("h", hostNetwork=True))
    res = resolve(c, "web.default.svc.cluster.local", from_pod="h")
    assert res.rcode != "NOERROR" and res.answer == ()
    assert all(q.upstream for q in res.queries)
    assert "not the cluster DNS" in res.queries[0].note


def test_integration_default_scenario_kube_dns_and_ptr() -> None:
    """Through the default scenario: kube-dns answers at 10.96.0.10, PTR names it back."""
    from kubelearn import scenarios

    c = scenarios.default_scenario()
    res = resolve(c, "kube-dns.kube-system")
    assert res.addresses == [c.topology.dns_ip] and len(res.queries) == 2
    rev = ".".join(reversed(c.topology.dns_ip.split("."))) + ".in-addr.arpa"
    assert [r.data for r in lookup(c, rev, "PTR")[1]] == ["kube-dns.kube-system.svc.cluster.local."]
    svc_ip = c.get("Service", "my-service")["spec"]["clusterIP"]
    assert resolve(c, "my-service").addresses == [svc_ip]


def test_dual_stack_and_ipv6() -> None:
    """Dual-stack: A and AAAA at one name, SRV weight 50 (two records); IPv6 PTR in nibble form."""
    svc = service("dual", "10.96.9.9", [(53, "UDP", "dns")])
    svc["spec"]["clusterIPs"] = ["10.96.9.9", "fd00:10:96::9"]
    svc["spec"]["ipFamilies"] = ["IPv4", "IPv6"]
    c = cluster(svc)
    assert [r.data for r in lookup(c, "dual.default.svc.cluster.local", "AAAA")[1]] == ["fd00:10:96::9"]
    assert [r.data for r in lookup(c, "dual.default.svc.cluster.local", "A")[1]] == ["10.96.9.9"]
    _, srv = lookup(c, "_dns._udp.dual.default.svc.cluster.local", "SRV")
    assert [r.data for r in srv] == ["0 50 53 dual.default.svc.cluster.local."] * 2
    rev = "9.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa."
    assert [r.data for r in lookup(c, rev, "PTR")[1]] == ["dual.default.svc.cluster.local."]
