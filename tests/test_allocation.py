"""ClusterIP and node-port allocation: bands, exact messages, sharing, updates."""

from __future__ import annotations

import ipaddress

import pytest

from kubelearn.apiserver.allocation import allocate, clusterip_band, nodeport_band
from kubelearn.cluster import Cluster
from kubelearn.errors import InvalidError
from kubelearn.kind import default_cluster


@pytest.fixture(scope="module")
def base() -> Cluster:
    return default_cluster(seed=0)


def svc(name="web", namespace="default", **spec):
    spec.setdefault("selector", {"app": name})
    spec.setdefault("ports", [{"port": 80, "protocol": "TCP", "targetPort": 80}])
    spec.setdefault("type", "ClusterIP")
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": namespace}, "spec": spec}


def msg(obj, errors):
    return str(InvalidError(obj["kind"], obj["metadata"]["name"], errors))


def test_bands_from_the_docs():
    assert [str(a) for a in clusterip_band("10.96.0.0/12")[:2]] == ["10.96.0.1", "10.96.1.1"]  # 256 static
    assert [str(a) for a in clusterip_band("10.0.0.0/24")[:2]] == ["10.0.0.1", "10.0.0.17"]  # 16 static
    assert str(clusterip_band("10.0.0.0/20")[1]) == "10.0.1.1"  # 256 static
    assert nodeport_band(30000, 32767) == 30086
    assert nodeport_band(30000, 30010) == 30000  # a tiny range has no static band


def test_dynamic_clusterip_is_random_from_the_upper_band_and_seeded(base):
    ips = []
    for i in range(20):
        obj, errs = allocate(svc(f"s{i}"), base)
        assert errs == []
        ip = ipaddress.ip_address(obj["spec"]["clusterIP"])
        assert ip in ipaddress.ip_network("10.96.0.0/16")
        assert ip >= ipaddress.ip_address("10.96.1.1")  # never the static band while the upper one has room
        assert obj["spec"]["clusterIPs"] == [str(ip)]
        ips.append(int(ip))
    assert sorted(ips) != list(range(ips[0], ips[0] + 20))  # not sequential
    again = [int(ipaddress.ip_address(allocate(svc(f"s{i}"), base)[0]["spec"]["clusterIP"])) for i in range(20)]
    assert again == ips  # same seed, same choices
    other = default_cluster(seed=1)
    assert allocate(svc("s0"), other)[0]["spec"]["clusterIP"] != str(ipaddress.ip_address(ips[0]))


def test_families_default_to_ipv4_single_stack(base):
    obj, _ = allocate(svc(), base)
    assert obj["spec"]["ipFamilyPolicy"] == "SingleStack" and obj["spec"]["ipFamilies"] == ["IPv4"]


def test_headless_keeps_none_and_selectorless_headless_requires_dual_stack(base):
    obj, errs = allocate(svc(clusterIP="None"), base)
    assert errs == [] and obj["spec"]["clusterIPs"] == ["None"] and obj["spec"]["ipFamilyPolicy"] == "SingleStack"
    bare = svc(clusterIP="None")
    del bare["spec"]["selector"]
    obj, errs = allocate(bare, base)
    assert errs == [] and obj["spec"]["ipFamilyPolicy"] == "RequireDualStack" and obj["spec"]["ipFamilies"] == ["IPv4"]


def test_require_dual_stack_on_single_stack_cluster(base):
    obj = svc(ipFamilyPolicy="RequireDualStack")
    _, errs = allocate(obj, base)
    assert msg(obj, errs) == ('The Service "web" is invalid: spec.ipFamilyPolicy: Invalid value: "RequireDualStack": '
                              "this cluster is not configured for dual-stack services")


def test_given_clusterip_is_kept_and_clusterips_synced(base):
    obj, errs = allocate(svc(clusterIP="10.96.0.50"), base)
    assert errs == [] and obj["spec"]["clusterIPs"] == ["10.96.0.50"]
    obj, errs = allocate(svc(clusterIPs=["10.96.0.51"]), base)
    assert errs == [] and obj["spec"]["clusterIP"] == "10.96.0.51"


def test_clusterip_out_of_range_message_20(base):
    obj = svc(clusterIP="10.0.0.5")
    _, errs = allocate(obj, base)
    assert msg(obj, errs) == (
        'The Service "web" is invalid: spec.clusterIPs: Invalid value: ["10.0.0.5"]: failed to allocate IP 10.0.0.5: '
        "the provided IP (10.0.0.5) is not in the valid range. The range of valid IPs is 10.96.0.0/16")


def test_clusterip_taken_message_21(base):
    obj = svc(clusterIP="10.96.0.10")  # kube-dns has it
    _, errs = allocate(obj, base)
    assert str(errs[0]) == ('spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: '
                            "provided IP is already allocated")


def test_clusterip_not_an_ip_message_19(base):
    obj = svc(clusterIP="10.96.0.300")
    _, errs = allocate(obj, base)
    assert str(errs[0]) == ('spec.clusterIPs[0]: Invalid value: "10.96.0.300": must be a valid IP address, '
                            "(e.g. 10.9.8.7 or 2001:db8::ffff)")


@pytest.mark.parametrize("svc_type", ["NodePort", "LoadBalancer"])
def test_none_with_nodeport_or_lb_17_18(base, svc_type):
    _, errs = allocate(svc(clusterIP="None", type=svc_type), base)
    assert str(errs[0]) == f"spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for {svc_type} services"


def test_dynamic_node_ports_from_upper_band_shared_by_port_number(base):
    obj, errs = allocate(svc("dns", type="NodePort", ports=[
        {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
        {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
        {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}]), base)
    assert errs == []
    nps = [p["nodePort"] for p in obj["spec"]["ports"]]
    assert nps[0] == nps[1] != nps[2]
    assert all(30086 <= p <= 32767 for p in nps)


def test_given_node_port_out_of_range_15_and_taken_16(base):
    obj = svc(type="NodePort", ports=[{"port": 80, "protocol": "TCP", "targetPort": 80, "nodePort": 80}])
    _, errs = allocate(obj, base)
    assert msg(obj, errs) == ('The Service "web" is invalid: spec.ports[0].nodePort: Invalid value: 80: provided port '
                              "is not in the valid range. The range of valid ports is 30000-32767")
    first, _ = allocate(svc("a", type="NodePort", ports=[{"port": 80, "protocol": "TCP", "targetPort": 80,
                                                          "nodePort": 30080}]), base)
    c = base.with_object(first)
    obj = svc("b", namespace="kube-system", type="NodePort",
              ports=[{"port": 81, "protocol": "TCP", "targetPort": 81, "nodePort": 30080}])
    _, errs = allocate(obj, c)  # one pool across namespaces
    assert str(errs[0]) == "spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated"


def test_lb_without_node_ports_and_health_check_port(base):
    obj, _ = allocate(svc(type="LoadBalancer", allocateLoadBalancerNodePorts=False), base)
    assert "nodePort" not in obj["spec"]["ports"][0]
    obj, _ = allocate(svc(type="LoadBalancer", externalTrafficPolicy="Local"), base)
    assert 30086 <= obj["spec"]["healthCheckNodePort"] <= 32767
    assert obj["spec"]["healthCheckNodePort"] != obj["spec"]["ports"][0]["nodePort"]
    obj, _ = allocate(svc(type="LoadBalancer", externalTrafficPolicy="Cluster"), base)
    assert "healthCheckNodePort" not in obj["spec"]


def test_update_keeps_clusterip_and_node_ports_and_refuses_change(base):
    created, _ = allocate(svc(type="NodePort"), base)
    c = base.with_object(created)
    old = c.get("Service", "web")
    updated, errs = allocate(svc(type="NodePort"), c, old)
    assert errs == []
    assert updated["spec"]["clusterIP"] == old["spec"]["clusterIP"]
    assert updated["spec"]["ports"][0]["nodePort"] == old["spec"]["ports"][0]["nodePort"]
    obj = svc(type="NodePort", clusterIP="10.96.0.77")
    _, errs = allocate(obj, c, old)
    assert str(errs[0]) == 'spec.clusterIPs[0]: Invalid value: ["10.96.0.77"]: may not change once set'


def test_externalname_gets_no_allocation(base):
    obj, errs = allocate({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
                          "spec": {"type": "ExternalName", "externalName": "db.example.com"}}, base)
    assert errs == [] and "clusterIP" not in obj["spec"] and "ipFamilies" not in obj["spec"]


def test_other_kinds_pass_through(base):
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    assert allocate(ns, base) == (ns, [])


def test_static_band_is_used_when_the_upper_band_is_full():
    from kubelearn.cluster import NodeSpec, Topology
    from kubelearn.kind import system_objects

    topo = Topology(nodes=(NodeSpec("kind-control-plane", "control-plane", "172.18.0.2", "10.244.0.0/24"),),
                    service_subnet="10.96.0.0/27", dns_ip="10.96.0.10")  # 30 usable, static band 16
    c = Cluster(topology=topo).with_objects(system_objects(topo))
    for i in range(14):  # .17 .. .30
        obj, errs = allocate(svc(f"s{i}"), c)
        assert errs == [] and int(ipaddress.ip_address(obj["spec"]["clusterIP"]).packed[-1]) >= 17
        c = c.with_object(obj)
    obj, errs = allocate(svc("spill"), c)
    assert errs == [] and int(ipaddress.ip_address(obj["spec"]["clusterIP"]).packed[-1]) < 17


def test_two_clusterips_on_a_single_stack_cluster(base):
    _, errs = allocate(svc(clusterIPs=["10.96.0.50", "10.96.0.51"]), base)
    assert str(errs[0]) == ('spec.clusterIPs: Invalid value: ["10.96.0.50","10.96.0.51"]: '
                            "may specify no more than one IP for each IP family")
    _, errs = allocate(svc(clusterIP="10.96.0.50", clusterIPs=["10.96.0.51"]), base)
    assert str(errs[0]) == 'spec.clusterIPs: Invalid value: ["10.96.0.51"]: first value must match `clusterIP`'
    _, errs = allocate(svc(clusterIPs=["None", "10.96.0.51"]), base)
    assert str(errs[0]).endswith("'None' must be the first and only value")
    _, errs = allocate(svc(clusterIPs=["10.96.0.50", "fd00::5"]), base)
    assert str(errs[0]) == 'spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster'
    _, errs = allocate(svc(clusterIPs=["10.96.0.50", "fd00::5", "10.96.0.52"]), base)
    assert str(errs[0]).endswith("may only hold up to 2 values")
