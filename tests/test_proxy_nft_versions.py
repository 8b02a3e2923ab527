"""kube-proxy's nftables rules per release: the v1.36 layout and what kubelearn refuses.

Upstream evidence: ``data/proxy/upstream_nft_v136_dump.txt`` (``nft list`` of a v1.36.2 node),
PR #135800 (mark-for-masquerade inlined), #136499 (hairpin-connections set), PR #140362's
diff of TestOverallNFTablesRules (svc1's one rule: ``meta l4proto tcp dnat ip addr . port to
numgen random mod 1 map { 0 : 10.180.0.1 . 80 }``), #140723/#140960 (v1.37 single endpoint).
The kernel check (nft accepts the text and lists it exactly as the real node did) is in
``test_proxy_netns.py``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

import kubelearn as kl
from kubelearn.proxy import ProxyConfigError, rules, trace
from kubelearn.versions import RELEASES

DATA = Path(__file__).parent / "data" / "proxy"


def kind(minor: int, mode: str = "nftables", control_planes: int = 1, workers: int = 1) -> str:
    image = RELEASES[minor].kind_image
    nodes = "".join(f"- role: control-plane\n  image: {image}\n" for _ in range(control_planes))
    nodes += "".join(f"- role: worker\n  image: {image}\n" for _ in range(workers))
    return (f"kind: Cluster\napiVersion: kind.x-k8s.io/v1alpha4\nnetworking: {{kubeProxyMode: {mode}}}\n"
            f"nodes:\n{nodes}")


WEB = """---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {type: NodePort, selector: {app: web}, ports: [{port: 80, name: http}]%s}
"""

# The dump's Service, with its endpoints as the real node had them.
DUMP_SCENARIO = """---
apiVersion: v1
kind: Namespace
metadata: {name: kproxy-lab}
---
apiVersion: v1
kind: Service
metadata: {name: backend-api, namespace: kproxy-lab}
spec: {type: ClusterIP, ports: [{name: http, port: 80, targetPort: 9898}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: backend-api-k47lx, namespace: kproxy-lab, labels: {kubernetes.io/service-name: backend-api}}
addressType: IPv4
endpoints:
- addresses: [10.244.0.8]
  conditions: {ready: true}
- addresses: [10.244.0.10]
  conditions: {ready: true}
ports: [{name: http, port: 9898, protocol: TCP}]
"""


def dump_cluster() -> kl.Cluster:
    cluster = kl.load(kind(36, workers=0) + DUMP_SCENARIO)
    api = dict(cluster.get("EndpointSlice", "kubernetes"))
    api["endpoints"] = [{"addresses": ["192.168.0.231"], "conditions": {"ready": True}}]
    return cluster.with_object(api)


def test_v136_input_renders_the_dumped_rules() -> None:
    text = rules(dump_cluster(), "kind-control-plane", view="input").text()
    T = "ip kube-proxy"
    for line in (
        f'add set {T} hairpin-connections {{ type ipv4_addr . ipv4_addr . inet_proto . inet_service ; '
        'comment "service hairpin connections" ; }',
        f"add rule {T} services ip daddr @cluster-ips ip saddr != 10.244.0.0/16 mark set mark or 0x4000 "
        'comment "masquerade clusterIP traffic from outside cluster"',
        f"add rule {T} masquerading mark and 0x4000 != 0 mark set mark xor 0x4000 masquerade fully-random",
        f"add rule {T} masquerading ct status dnat ip saddr . ip daddr . meta l4proto . th dport "
        "@hairpin-connections masquerade fully-random",
        f"add rule {T} service-2QRHZV4L-default/kubernetes/tcp/https meta l4proto tcp dnat ip addr . port to "
        "numgen random mod 1 map { 0 : 192.168.0.231 . 6443 }",
        f"add rule {T} service-YVSKLJHA-kproxy-lab/backend-api/tcp/http meta l4proto tcp dnat ip addr . port to "
        "numgen random mod 2 map { 0 : 10.244.0.10 . 9898 , 1 : 10.244.0.8 . 9898 }",
        f"add element {T} hairpin-connections {{ 10.244.0.10 . 10.244.0.10 . tcp . 9898 }}",
        f"add element {T} hairpin-connections {{ 10.244.0.8 . 10.244.0.8 . tcp . 9898 }}",
    ):
        assert line in text.splitlines(), line
    assert "mark-for-masquerade" not in text and "add chain ip kube-proxy endpoint-" not in text
    # the old layout up to v1.35: per-endpoint chains, the mark-for-masquerade chain, no hairpin set
    old = rules(kl.load(kind(35, workers=0) + DUMP_SCENARIO), "kind-control-plane", view="input").text()
    assert "add chain ip kube-proxy mark-for-masquerade" in old and "hairpin-connections" not in old
    assert "numgen random mod 2 vmap { 0 : goto endpoint-" in old


def test_kernel_lists_the_v136_input_as_the_real_node_did() -> None:
    """nft reads kubelearn's transaction and prints the lines of the v1.36.2 node's listing."""
    import shutil

    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.skip("nft/unshare not installed")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("no permission to create a network namespace")
    text = rules(dump_cluster(), "kind-control-plane", view="input").text()
    r = subprocess.run(["unshare", "-n", "sh", "-c", "nft -f - && nft list table ip kube-proxy"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listed = {line.strip() for line in r.stdout.splitlines()}
    quoted = [line.strip() for line in (DATA / "upstream_nft_v136_dump.txt").read_text().splitlines()
              if line.strip() and not line.startswith("#") and not line.startswith(("set ", "chain ", "}"))
              and not line.strip().startswith(("elements", "10.244", "}"))]
    assert len(quoted) == 9
    for line in quoted:
        assert line in listed, line


def test_v136_trace_dnats_through_the_map_and_masquerades_hairpin() -> None:
    cluster = kl.load(kind(36) + WEB % "")
    ip = cluster.get("Service", "web")["spec"]["clusterIP"]
    pods = sorted(p["status"]["podIP"] for p in cluster.pods() if p["metadata"]["name"].startswith("web-"))
    t = trace(cluster, "kind-worker", pods[0], f"{ip}:80")
    assert sorted(d.endpoint.split(":")[0] for d in t.destinations) == pods
    assert all(abs(d.probability - 1 / 3) < 1e-9 for d in t.destinations)
    # only the connection that lands back on the client is masqueraded: the hairpin set
    assert [d.endpoint.split(":")[0] for d in t.destinations if d.masquerade] == [pods[0]]
    assert any("@hairpin-connections" in s.rule for s in t.steps if s.matched)
    # NodePort: the external chain marks inline, then every destination is masqueraded
    node_port = cluster.get("Service", "web")["spec"]["ports"][0]["nodePort"]
    t2 = trace(cluster, "kind-worker", "192.0.2.9", f"{cluster.node_ip('kind-worker')}:{node_port}")
    assert len(t2.destinations) == 3 and all(d.masquerade for d in t2.destinations)


@pytest.mark.parametrize(("extra", "words"), [
    (", sessionAffinity: ClientIP", "sessionAffinity: ClientIP"),
    (", externalTrafficPolicy: Local", "a Local traffic policy"),
    (", internalTrafficPolicy: Local", "a Local traffic policy"),
])
def test_v136_refuses_what_no_source_shows(extra: str, words: str) -> None:
    cluster = kl.load(kind(36) + WEB % extra)
    with pytest.raises(ProxyConfigError, match="kube-proxy v1.36's nftables rules") as info:
        rules(cluster, "kind-worker")
    msg = str(info.value)
    assert msg.startswith("kube-proxy v1.36's nftables rules for Service \"default/web\" port \"http\"")
    assert words in msg and "kindest/node:v1.35" in msg
    # the same Service is modelled in iptables mode of the same release, and by v1.35's nftables
    rules(cluster, "kind-worker", mode="iptables")
    rules(kl.load(kind(35) + WEB % extra), "kind-worker")


def test_v136_refuses_source_ranges_and_masquerade_all() -> None:
    lb = WEB.replace("type: NodePort", "type: LoadBalancer, loadBalancerSourceRanges: [203.0.113.0/25]")
    cluster = kl.load(kind(36) + lb % "")
    status = dict(cluster.get("Service", "web"))
    status["status"] = {"loadBalancer": {"ingress": [{"ip": "192.0.2.50"}]}}
    with pytest.raises(ProxyConfigError, match="loadBalancerSourceRanges"):
        rules(cluster.with_object(status), "kind-worker")
    masq = ("---\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nmode: nftables\n"
            "nftables: {masqueradeAll: true}\n")
    with pytest.raises(ProxyConfigError, match=r"nftables.masqueradeAll: true"):
        rules(kl.load(kind(36) + masq), "kind-worker")


def test_v137_single_endpoint_refused_several_endpoints_rendered() -> None:
    with pytest.raises(ProxyConfigError, match=r"a single endpoint.*#140723, reworked by #140960"):
        rules(kl.load(kind(37) + WEB % ""), "kind-worker")
    # two control planes: the kubernetes Service has two endpoints, CoreDNS two pods
    cluster = kl.load(kind(37, control_planes=2) + WEB % "")
    text = rules(cluster, "kind-worker", view="input").text()
    assert "numgen random mod 2 map { 0 : 172.18.0.2 . 6443 , 1 : 172.18.0.3 . 6443 }" in text


def test_iptables_and_ipvs_rules_are_the_same_in_every_release() -> None:
    """No change to kube-proxy's iptables or IPVS rule text between v1.33 and v1.37 was found
    (docs/versions.md); kubelearn renders them identically for every release."""
    for mode in ("iptables", "ipvs"):
        texts = {str(rules(kl.load(kind(m, mode) + WEB % ""), "kind-worker")) for m in (33, 35, 37)}
        assert len(texts) == 1


@pytest.mark.parametrize("minor", [36, 37])
@pytest.mark.parametrize("view", ["input", "list"])
def test_nft_accepts_both_views_of_the_new_layout(minor: int, view: str) -> None:
    import shutil

    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.skip("nft/unshare not installed")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("no permission to create a network namespace")
    cluster = kl.load(kind(minor, control_planes=2) + WEB % "")
    for node in ("kind-control-plane", "kind-worker"):
        r = subprocess.run(["unshare", "-n", "nft", "-c", "-f", "-"], input=rules(cluster, node, view=view).text(),
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr


def test_reader_understands_every_rule_of_the_v136_dump() -> None:
    """``kubelearn.proxy.read`` (reading a real node's ``nft list``) parses each quoted v1.36.2 rule."""
    from kubelearn.proxy.nftables import NftablesRuleset
    from kubelearn.proxy.read.nft import _rule

    rules_quoted = [line.strip() for line in (DATA / "upstream_nft_v136_dump.txt").read_text().splitlines()
                    if line.startswith("\t") and not line.strip().startswith(("type ", "comment ", "elements",
                                                                               "10.244"))]
    assert len(rules_quoted) == 7
    rs = NftablesRuleset("", "192.168.0.231", 36)
    kinds = [[e[0] for e in _rule(text, rs)] for text in rules_quoted]
    assert all("unknown" not in k for k in kinds), kinds
    assert kinds[3] == ["mark_set", "mark_xor", "masquerade"]
    assert kinds[4] == ["hairpin", "masquerade"]
    assert _rule(rules_quoted[6], rs)[-1] == ("dnat_numgen", ("10.244.0.10:9898", "10.244.0.8:9898"))


def test_reading_back_the_kernels_v136_listing_traces_like_kubelearn() -> None:
    import shutil

    from kubelearn.proxy.read import explain_rules, read_rules, trace_rules

    if shutil.which("nft") is None or shutil.which("unshare") is None:
        pytest.skip("nft/unshare not installed")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode:
        pytest.skip("no permission to create a network namespace")
    cluster = kl.load(kind(36) + WEB % "")
    text = rules(cluster, "kind-worker", view="input").text()
    r = subprocess.run(["unshare", "-n", "sh", "-c", "nft -f - && nft list ruleset"], input=text,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    node = read_rules(r.stdout)
    assert node.warnings == []
    ip = cluster.get("Service", "web")["spec"]["clusterIP"]
    pod = sorted(p["status"]["podIP"] for p in cluster.pods() if p["metadata"]["name"].startswith("web-"))[0]
    real = trace_rules(node, pod, f"{ip}:80")
    model = trace(cluster, "kind-worker", pod, f"{ip}:80")
    assert [(d.endpoint, d.masquerade) for d in real.destinations] == \
        [(d.endpoint, d.masquerade) for d in model.destinations]
    web = next(rep for rep in explain_rules(node) if rep.service == "default/web")
    assert len(web.endpoints) == 3
