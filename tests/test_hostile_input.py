"""A manifest is untrusted input: nothing in it reaches ``iptables-restore``, ``nft -f`` or
``ip -batch`` unchecked.

Two gates are tested.  Validation refuses bad addresses with the API server's words when a
manifest is loaded; the rule writers (and the lab's planner) refuse any value that is not a
well-formed token even when validation was bypassed (a cluster built with
``Cluster.with_object``).  Every string field that reaches a writer is fed newlines, quotes,
option-like text and an nft ``include``.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import kubelearn as kl
from kubelearn.cli import main
from kubelearn.cluster import Cluster
from kubelearn.errors import ApplyError, KubelearnError, UnsafeValueError
from kubelearn.netlab import host, topo

MANIFEST = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: LoadBalancer
  selector: {app: web}
  externalIPs: [203.0.113.7]
  loadBalancerSourceRanges: [198.51.100.0/24]
  sessionAffinity: ClientIP
  ports: [{name: http, port: 80, targetPort: 8080}]
status:
  loadBalancer:
    ingress: [{ip: 192.0.2.10}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 8080}]}]}
"""

PAYLOADS = (
    "192.0.2.10\n-A KUBE-SERVICES -j ACCEPT",
    "192.0.2.10 -j ACCEPT",
    "-j ACCEPT",
    'include "/etc/passwd"',
    '192.0.2.10 ; include "/etc/passwd"',
    '192.0.2.10"',
    "192.0.2.10\n",
    "192.0.2.10 # comment",
    "172.18.0.9 dev eth0\nnetns add klnlpwn\n#",
)

MODES = ("iptables", "nftables", "ipvs")


@pytest.fixture(scope="module")
def base() -> Cluster:
    return kl.load(MANIFEST)


def _edit(cluster: Cluster, kind: str, name: str, fn: Callable[[dict[str, Any]], None],
          namespace: str = "default") -> Cluster:
    obj = copy.deepcopy(cluster.get(kind, name, namespace))
    fn(obj)
    return cluster.with_object(obj)  # storage only: no validation, as a Python caller could


def _slice_name(cluster: Cluster) -> str:
    return str(cluster.endpoint_slices(service="web")[0]["metadata"]["name"])


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def fn(obj: dict[str, Any]) -> None:
        target: Any = obj
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return fn


# Every manifest string that reaches a writer: (label, how to plant the payload).
def _fields() -> list[tuple[str, Callable[[Cluster, str], Cluster]]]:
    def svc(path: list[Any]) -> Callable[[Cluster, str], Cluster]:
        return lambda c, v: _edit(c, "Service", "web", _set(path, v))

    def node_ip(c: Cluster, v: str) -> Cluster:
        return _edit(c, "Node", "kind-worker", _set(["status", "addresses", 0, "address"], v))

    def slice_ip(c: Cluster, v: str) -> Cluster:
        return _edit(c, "EndpointSlice", _slice_name(c), _set(["endpoints", 0, "addresses", 0], v))

    def slice_port_name(c: Cluster, v: str) -> Cluster:
        c = _edit(c, "EndpointSlice", _slice_name(c), _set(["ports", 0, "name"], v))
        return _edit(c, "Service", "web", _set(["spec", "ports", 0, "name"], v))

    def node_cidr(c: Cluster, v: str) -> Cluster:
        c = _edit(c, "Node", "kind-worker", _set(["spec", "podCIDR"], v))
        return dataclasses.replace(c, proxy_config={**c.proxy_config, "detectLocalMode": "NodeCIDR"})

    def cluster_cidr(c: Cluster, v: str) -> Cluster:
        return dataclasses.replace(c, proxy_config={**c.proxy_config, "clusterCIDR": v})

    def nodeport_addresses(c: Cluster, v: str) -> Cluster:
        return dataclasses.replace(c, proxy_config={**c.proxy_config, "nodePortAddresses": [v]})

    def service_subnet(c: Cluster, v: str) -> Cluster:
        return dataclasses.replace(c, topology=dataclasses.replace(c.topology, service_subnet=v))

    def scheduler(c: Cluster, v: str) -> Cluster:
        return dataclasses.replace(c, proxy_config={**c.proxy_config, "ipvs": {"scheduler": v}})

    return [
        ("Service metadata.name", svc(["metadata", "name"])),
        ("Service metadata.namespace", svc(["metadata", "namespace"])),
        ("Service spec.ports[0].name", svc(["spec", "ports", 0, "name"])),
        ("Service spec.ports[0].protocol", svc(["spec", "ports", 0, "protocol"])),
        ("Service spec.clusterIP", svc(["spec", "clusterIP"])),
        ("Service spec.externalIPs[0]", svc(["spec", "externalIPs", 0])),
        ("Service spec.loadBalancerSourceRanges[0]", svc(["spec", "loadBalancerSourceRanges", 0])),
        ("Service status.loadBalancer.ingress[0].ip", svc(["status", "loadBalancer", "ingress", 0, "ip"])),
        ("Node status.addresses[0].address", node_ip),
        ("Node spec.podCIDR (detectLocalMode NodeCIDR)", node_cidr),
        ("EndpointSlice endpoints[0].addresses[0]", slice_ip),
        ("EndpointSlice ports[0].name", slice_port_name),
        ("KubeProxyConfiguration clusterCIDR", cluster_cidr),
        ("KubeProxyConfiguration nodePortAddresses[0]", nodeport_addresses),
        ("KubeProxyConfiguration ipvs.scheduler", scheduler),
        ("kind networking.serviceSubnet", service_subnet),
    ]


FIELDS = _fields()


def _texts(cluster: Cluster, mode: str) -> list[str]:
    """Every text view of the writers for ``mode`` on every node (what the kernel tools read)."""
    out = []
    for node in ("kind-control-plane", "kind-worker", "kind-worker2"):
        rs = kl.rules(cluster, node, mode=mode)
        if mode == "iptables":
            out += [rs.restore_text(), rs.save_text(), rs.iptables_restore_input()]
        elif mode == "nftables":
            out += [rs.nft_input(), rs.list_text()]
        else:
            out.append(rs.text())
    return out


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(("label", "plant"), FIELDS, ids=[f[0] for f in FIELDS])
def test_every_writer_refuses_or_never_writes_a_hostile_value(base: Cluster, label: str,
                                                              plant: Callable[[Cluster, str], Cluster],
                                                              payload: str, mode: str) -> None:
    hostile = plant(base, payload)
    try:
        texts = _texts(hostile, mode)
    except KubelearnError as exc:
        assert "\n" not in str(exc).split(": ", 1)[-1] or isinstance(exc, UnsafeValueError)
        return
    # Not refused: then the value was not used at all (a field this mode ignores), so the
    # text is byte for byte the untouched cluster's.
    assert texts == _texts(base, mode)


@pytest.fixture(scope="module")
def base_v136(base: Cluster) -> Cluster:
    """The same cluster on kube-proxy v1.36, whose nftables layout (numgen maps, the hairpin set) is
    written by other code; without the settings v1.36 refuses (affinity, source ranges)."""
    svc = copy.deepcopy(base.get("Service", "web"))
    svc["spec"].pop("loadBalancerSourceRanges")
    svc["spec"]["sessionAffinity"] = "None"
    svc["spec"].pop("sessionAffinityConfig", None)
    topology = dataclasses.replace(base.topology, kubernetes_version="v1.36.1")
    return dataclasses.replace(base, topology=topology).with_object(svc)


V136_FIELDS = [f for f in FIELDS if "loadBalancerSourceRanges" not in f[0] and "ipvs" not in f[0]]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(("label", "plant"), V136_FIELDS, ids=[f[0] for f in V136_FIELDS])
def test_the_v136_nftables_writer_refuses_or_never_writes_a_hostile_value(
        base_v136: Cluster, label: str, plant: Callable[[Cluster, str], Cluster], payload: str) -> None:
    assert "numgen random mod" in _texts(base_v136, "nftables")[0]  # the v1.36 layout, not a refusal
    try:
        texts = _texts(plant(base_v136, payload), "nftables")
    except KubelearnError as exc:
        assert "\n" not in str(exc).split(": ", 1)[-1] or isinstance(exc, UnsafeValueError)
        return
    assert texts == _texts(base_v136, "nftables")


def test_the_untouched_cluster_renders_in_every_mode(base: Cluster) -> None:
    # The hostile test above would pass vacuously if the base cluster itself could not render.
    for mode in MODES:
        assert all(t for t in _texts(base, mode))


# ------------------------------------------------------------ the two reproducers of issue 14
LB_INJECTION = 'ip: "192.0.2.10\\n-A KUBE-SERVICES -j ACCEPT"'
NFT_INCLUDE = 'ip: "192.0.2.10 . tcp . 80 }\\ninclude \\"/etc/passwd\\"\\nadd element ip kube-proxy x { 1"'


@pytest.mark.parametrize("ingress", [LB_INJECTION, NFT_INCLUDE], ids=["iptables-rule", "nft-include"])
def test_issue14_lb_ingress_ip_injection_is_refused_by_validation(ingress: str) -> None:
    manifest = MANIFEST.replace("ingress: [{ip: 192.0.2.10}]", "ingress:\n    - {" + ingress + "}")
    with pytest.raises(ApplyError, match=r'The Service "web" is invalid: status\.loadBalancer\.ingress\[0\]') as info:
        kl.load(manifest)
    text = str(info.value)
    assert text.startswith('The Service "web" is invalid: status.loadBalancer.ingress[0].ip: Invalid value: ')
    assert text.endswith("must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("ip", ["192.0.2.10\n-A KUBE-SERVICES -j ACCEPT",
                                '192.0.2.10 . tcp . 80 }\ninclude "/etc/passwd"\n'])
def test_issue14_lb_ingress_ip_injection_is_refused_by_the_writers(base: Cluster, ip: str, mode: str) -> None:
    hostile = _edit(base, "Service", "web", _set(["status", "loadBalancer", "ingress", 0, "ip"], ip))
    with pytest.raises(UnsafeValueError, match=r"^refusing to write rules for Service default/web: ") as info:
        kl.rules(hostile, "kind-worker", mode=mode)
    assert str(info.value).startswith("refusing to write rules for Service default/web: "
                                      "status.loadBalancer.ingress[].ip ")
    assert str(info.value).endswith(" is not an IP address")
    assert "\n" not in str(info.value)  # the value is shown escaped, on one line


def test_issue14_lb_ingress_ip_injection_via_the_cli(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "lb.yaml"
    f.write_text(MANIFEST.replace("ingress: [{ip: 192.0.2.10}]", "ingress:\n    - {" + LB_INJECTION + "}"))
    for mode in MODES:
        assert main(["rules", "-f", str(f), "--node", "kind-worker", "--mode", mode]) == 1
        out, err = capsys.readouterr()
        assert out == ""
        assert "status.loadBalancer.ingress[0].ip: Invalid value" in err and "Traceback" not in err


NODE_PAYLOAD = "172.18.0.9 dev eth0\nnetns add klnlpwn\nnetns exec klnlpwn touch /tmp/klnl-marker\n#"


def test_issue14_node_address_injection_is_refused_by_the_lab_planner(base: Cluster) -> None:
    hostile = _edit(base, "Node", "kind-worker", _set(["status", "addresses", 0, "address"], NODE_PAYLOAD))
    with pytest.raises(KubelearnError, match='node "kind-worker" InternalIP .* is not an IP address'):
        topo.plan(hostile, "klnl-abcdef-")


@pytest.mark.parametrize("line", [
    "addr add 172.18.0.9 dev eth0\nnetns add klnlpwn",
    "addr add 172.18.0.9/16 dev eth0 # x",
    'link set br0 alias "x"\nnetns add y',
    "route add default via 172.18.0.1; reboot",
    "addr add 172.18.0.9/16 dev eth0\r",
    'link set br0 alias "a\\"b"',
])
def test_ip_batch_refuses_any_line_that_is_not_a_plain_command(line: str) -> None:
    with pytest.raises(host.HostError, match="refusing to pass"):
        host.ip_batch("klnl-abcdef-sw", [line])


def test_ip_batch_accepts_the_lab_s_own_commands() -> None:
    for line in ("link set lo up", 'link set br0 alias "kubelearn-netlab pid=4242"',
                 "link add eth0 type veth peer name n0 netns klnl-abcdef-sw", "addr add 172.18.0.2/16 dev eth0",
                 "route add 10.244.1.0/24 via 172.18.0.3 dev eth0", "rule add fwmark 256 lookup 256 pref 1000"):
        assert host.check_batch_line(line) == line


@pytest.mark.parametrize("address", ["not-an-ip", "172.18.0.9 dev eth0", "172.18.0.9\n"])
def test_node_address_not_an_ip_is_a_clear_error_in_validate_and_rules(tmp_path: Any, address: str,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    import json

    f = tmp_path / "node.yaml"
    f.write_text("apiVersion: v1\nkind: Node\nmetadata: {name: kind-worker}\n"
                 "spec: {podCIDR: 10.244.1.0/24, podCIDRs: [10.244.1.0/24]}\n"
                 f"status:\n  addresses:\n  - {{type: InternalIP, address: {json.dumps(address)}}}\n"
                 "  - {type: Hostname, address: kind-worker}\n")
    for argv in (["validate", "-f", str(f)], ["rules", "-f", str(f), "--node", "kind-worker"]):
        assert main(argv) == 1
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        assert err.startswith('The Node "kind-worker" is invalid: status.addresses[0].address: Invalid value: ')
        assert "must be a valid IP address" in err


def test_node_address_not_an_ip_via_the_python_api_is_refused_by_rules(base: Cluster) -> None:
    hostile = _edit(base, "Node", "kind-worker", _set(["status", "addresses", 0, "address"], "not-an-ip"))
    for mode in MODES:
        with pytest.raises(UnsafeValueError, match='node "kind-worker": status.addresses InternalIP "not-an-ip"'):
            kl.rules(hostile, "kind-worker", mode=mode)


@pytest.mark.parametrize(("field", "yaml_value", "path"), [
    ("externalIPs", '["203.0.113.7\\n-j ACCEPT"]', "spec.externalIPs[0]"),
    ("loadBalancerSourceRanges", '["198.51.100.0/24 -j ACCEPT"]', "spec.LoadBalancerSourceRanges[0]"),
])
def test_other_service_addresses_are_validated_strictly(field: str, yaml_value: str, path: str) -> None:
    manifest = MANIFEST.replace(f"  {field}: ", f"  {field}: {yaml_value}\n  x-old: ", 1)
    manifest = "\n".join(line for line in manifest.splitlines() if "x-old" not in line)
    with pytest.raises(ApplyError, match=r'^The Service "web" is invalid: .*: Invalid value') as info:
        kl.load(manifest)
    assert f"{path}: Invalid value" in str(info.value)


@pytest.mark.parametrize("name", ["web\n", "web\n-j ACCEPT"])
def test_a_name_with_a_trailing_newline_is_not_a_dns_label(name: str) -> None:
    import json

    manifest = MANIFEST.replace("metadata: {name: web}\nspec:\n  type", f"metadata: {{name: {json.dumps(name)}}}\nspec:\n  type", 1)
    with pytest.raises(ApplyError, match="metadata.name: Invalid value"):
        kl.load(manifest)


def test_endpoint_slice_and_pod_addresses_are_validated() -> None:
    bad_slice = """
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: s, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
endpoints: [{addresses: ["10.244.1.5\\n-A X"]}]
ports: [{name: http, port: 80, protocol: TCP}]
"""
    with pytest.raises(ApplyError, match=r"endpoints\[0\]\.addresses\[0\]: Invalid value.*must be a valid IPv4 address"):
        kl.load(bad_slice)
    bad_pod = """
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {nodeName: kind-worker, containers: [{name: a, image: nginx}]}
status: {podIP: "10.244.1.9 dev eth0"}
"""
    with pytest.raises(ApplyError, match=r"status.podIPs\[0\]: Invalid value: \"10.244.1.9 dev eth0\""):
        kl.load(bad_pod)


def test_load_balancer_status_is_validated_as_the_api_server_does() -> None:
    from kubelearn.apiserver.validation import validate_load_balancer_status

    errs = [str(e) for e in validate_load_balancer_status({"ingress": [
        {"ip": "192.0.2.1", "ipMode": "VIP"}, {"ip": "nope", "ipMode": "VIP"}, {"hostname": "lb.example.com", "ipMode": "VIP"},
        {"ip": "192.0.2.2", "ipMode": "Magic"}, {"hostname": "192.0.2.3"}]})]
    assert errs == [
        'status.loadBalancer.ingress[1].ip: Invalid value: "nope": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)',
        "status.loadBalancer.ingress[2].ipMode: Forbidden: may not be specified when `ip` is not set",
        'status.loadBalancer.ingress[3].ipMode: Unsupported value: "Magic": supported values: "Proxy", "VIP"',
        'status.loadBalancer.ingress[4].hostname: Invalid value: "192.0.2.3": must be a DNS name, not an IP address',
    ]


# ------------------------------------------------------------ the same, with any text at all


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field_i=st.integers(0, len(FIELDS) - 1), text=st.text(max_size=24), mode=st.sampled_from(MODES))
def test_any_text_in_any_writer_field_is_refused_or_unused(base: Cluster, field_i: int, text: str, mode: str) -> None:
    _label, plant = FIELDS[field_i]
    try:
        hostile = plant(base, text)
        texts = _texts(hostile, mode)
    except KubelearnError:
        return
    # Accepted: then the text was a well-formed token (or unused), never a line break or quote.
    for out in texts:
        for line in out.splitlines():
            assert "\r" not in line and "\x00" not in line
    if any(c in text for c in '\n\r"\'#;{}\\ ') and text.strip():
        assert texts == _texts(base, mode), f"{_label}: {text!r} reached the rules"


SHAPES = [("Service", ["spec", "ports", 0, "port"]), ("Service", ["spec", "ports", 0, "nodePort"]),
          ("Service", ["spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds"]),
          ("Service", ["spec", "healthCheckNodePort"]), ("Service", ["spec", "ports", 0]), ("Service", ["spec", "ports"]),
          ("Service", ["spec", "externalIPs"]), ("Service", ["status", "loadBalancer", "ingress", 0]),
          ("EndpointSlice", ["ports", 0, "port"]), ("EndpointSlice", ["endpoints", 0]),
          ("EndpointSlice", ["endpoints", 0, "addresses"])]


@pytest.mark.parametrize(("kind", "path"), SHAPES, ids=[".".join(map(str, p)) for _, p in SHAPES])
@pytest.mark.parametrize("value", ["80\n-j ACCEPT", None, [1], 1.5, 10**30, {}, "x"], ids=repr)
def test_wrong_shapes_built_without_validation_are_refused_not_crashes(base: Cluster, kind: str, path: list[Any],
                                                                       value: Any) -> None:
    name = "web" if kind == "Service" else _slice_name(base)
    hostile = _edit(base, kind, name, _set(path, value))
    for mode in MODES:
        try:
            texts = _texts(hostile, mode)  # anything but a KubelearnError fails the test
        except KubelearnError:
            continue
        # Accepted: a harmless shape (an empty or null value reads as absent), never the payload.
        assert value != "80\n-j ACCEPT" or all("80\n-j ACCEPT" not in t for t in texts)


@pytest.mark.parametrize("obj", [{"kind": "Service"}, {"metadata": {"name": "x"}}, {"kind": "Service", "metadata": None},
                                 {"kind": "Service", "metadata": {"name": ["x"]}}, "Service",
                                 {"kind": "Service", "metadata": {"name": "x", "namespace": 3}}], ids=repr)
def test_storage_refuses_what_it_cannot_key_with_a_clear_error(base: Cluster, obj: Any) -> None:
    with pytest.raises(KubelearnError, match="cannot store"):
        base.with_object(obj)
