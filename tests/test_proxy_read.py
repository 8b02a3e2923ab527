"""Reading a node's own dumps: iptables-save, nft list ruleset, ipvsadm -Ln (no root needed).

The kernel round trips are in test_proxy_read_netns.py; here the readers meet the text views
kubelearn renders (which test_proxy_netns checks byte for byte against the real tools), kube-proxy's
own expected test output, hand-written real-node forms, and fuzzed garbage.
"""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import pytest
from _read_support import answer, expected_explain, explained, flows, node_names
from hypothesis import given
from hypothesis import strategies as st
from test_proxy_iptables import overall

import kubelearn as kl
from kubelearn.cli import main
from kubelearn.proxy import rules, trace
from kubelearn.proxy.read import MAX_DUMP_BYTES, DumpError, read_rules, read_rules_file
from kubelearn.proxy.read.iptables_save import exact_probability
from kubelearn.scenarios import SCENARIOS, scenario

DATA = Path(__file__).parent / "data" / "proxy"
SAVE = rules(overall(), "test-node", view="save").text("save")


def _suite(mode: str) -> list[tuple[str, object, str]]:
    out = []
    for name in SCENARIOS:
        c = scenario(name)
        for n in node_names(c):
            out.append((name, c, n))
    return out


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_trace_through_a_rendered_dump_equals_trace_on_manifests(mode: str) -> None:
    checked = 0
    for name, cluster, node in _suite(mode):
        rs = rules(cluster, node, mode=mode)
        text = rs.text("save") if mode == "iptables" else rs.text("list")
        nr = read_rules(text, local_ips=(cluster.node_ip(node),))
        assert nr.mode == mode and not nr.warnings, (name, node, nr.warnings)
        for src, dst, proto in flows(cluster, node):
            want, got = trace(cluster, node, src, dst, proto, mode=mode), nr.trace(src, dst, proto)
            assert answer(got) == answer(want), (name, node, src, dst)
            # The same rules in the same order: the dump's walk meets exactly as many rules (a kernel
            # dump with other software's chains legitimately walks more, so only here).
            assert got.rules_walked == want.rules_walked, (name, node, src, dst)
            checked += 1
    assert checked > 500


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_explain_lists_exactly_the_scenario_services(mode: str) -> None:
    for name, cluster, node in _suite(mode):
        rs = rules(cluster, node, mode=mode)
        nr = read_rules(rs.text("save") if mode == "iptables" else rs.text("list"))
        got = explained(nr.explain())
        want = expected_explain(cluster, node, mode)
        assert got.keys() == want.keys(), (name, node)
        for k in want:
            assert got[k] == pytest.approx(want[k]), (name, node, k)


def test_upstream_overall_restore_output_parses_and_explains() -> None:
    # TestOverallIPTablesRules' expected iptables-restore input (tests/data/proxy).
    nr = read_rules((DATA / "overall_restore.txt").read_text())
    rep = {(r.service, r.port): r for r in nr.explain()}
    assert set(rep) == {(f"ns{i}/svc{i}", "p80") for i in range(1, 7)}
    assert rep[("ns4/svc4", "p80")].endpoints == [{"endpoint": "10.180.0.4:80", "probability": 0.5},
                                                  {"endpoint": "10.180.0.5:80", "probability": 0.5}]
    assert rep[("ns5/svc5", "p80")].affinity_seconds == 10800
    assert {e["kind"] for e in rep[("ns2/svc2", "p80")].entries} == {"ClusterIP", "ExternalIP", "LoadBalancerIP",
                                                                     "NodePort"}
    assert rep[("ns6/svc6", "p80")].endpoints == []
    assert any("REJECT" in n for n in rep[("ns6/svc6", "p80")].notes)
    assert any("203.0.113.0/25" in n for n in rep[("ns5/svc5", "p80")].notes)
    assert not nr.warnings
    # Only the built-in jumps (inserted outside the restore input) are missing.
    d = kl.diff_rules(nr, overall(), "test-node")
    assert {x.chain for x in d.differences} == {"INPUT", "FORWARD", "OUTPUT", "PREROUTING", "POSTROUTING"}


def test_upstream_overall_nft_transaction_parses_and_agrees() -> None:
    nr = read_rules((DATA / "overall_nft.txt").read_text(), local_ips=("192.168.0.2",))
    assert nr.mode == "nftables" and not nr.warnings
    assert kl.diff_rules(nr, overall("nftables"), "test-node").agree
    c = overall("nftables")
    for src, dst, proto in flows(c, "test-node"):
        assert answer(nr.trace(src, dst, proto)) == answer(trace(c, "test-node", src, dst, proto)), (src, dst)
    got = explained(nr.explain())
    assert got[("ns4/svc4", "p80", "TCP")] == {"10.180.0.4:80": 0.5, "10.180.0.5:80": 0.5}


def test_kernel_rounded_probabilities_map_back_to_one_over_n() -> None:
    assert exact_probability("0.33333333349") == Fraction(1, 3)
    assert exact_probability("0.3333333333") == Fraction(1, 3)
    assert exact_probability("0.25000000000") == Fraction(1, 4)
    assert exact_probability("0.30000000000") == Fraction(3, 10)  # not near any 1/n: as printed
    assert exact_probability("0.00010000000") == Fraction(1, 10000)


REAL_NODE = r"""# Generated by iptables-save v1.8.7 (legacy) on Tue Jun  3 10:00:00 2025
*mangle
:PREROUTING ACCEPT [123:4567]
:KUBE-IPTABLES-HINT - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
# Completed on Tue Jun  3 10:00:00 2025
# Generated by iptables-save v1.8.7 (legacy) on Tue Jun  3 10:00:00 2025
*filter
:INPUT ACCEPT [10:20]
:FORWARD DROP [0:0]
:OUTPUT ACCEPT [10:20]
:DOCKER-USER - [0:0]
:KUBE-FORWARD - [0:0]
[0:0] -A FORWARD -j DOCKER-USER
[5:300] -A FORWARD -m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD
[0:0] -A DOCKER-USER -j RETURN
[0:0] -A KUBE-FORWARD -m conntrack --ctstate INVALID -m nfacct --nfacct-name ct_state_invalid_dropped_pkts -j DROP
[5:300] -A KUBE-FORWARD -m comment --comment "kubernetes forwarding rules" -m mark --mark 0x4000/0x4000 -j ACCEPT
COMMIT
# Completed on Tue Jun  3 10:00:00 2025
# Generated by iptables-save v1.8.7 (legacy) on Tue Jun  3 10:00:00 2025
*nat
:PREROUTING ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KIND-MASQ-AGENT - [0:0]
:KUBE-MARK-MASQ - [0:0]
:KUBE-NODEPORTS - [0:0]
:KUBE-POSTROUTING - [0:0]
:KUBE-SEP-AAAAAAAAAAAAAAAA - [0:0]
:KUBE-SEP-BBBBBBBBBBBBBBBB - [0:0]
:KUBE-SEP-CCCCCCCCCCCCCCCC - [0:0]
:KUBE-SEP-STALESTALESTALE0 - [0:0]
:KUBE-SERVICES - [0:0]
:KUBE-SVC-WEBWEBWEBWEBWEBW - [0:0]
[7:420] -A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES
-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING
-A POSTROUTING -m addrtype ! --dst-type LOCAL -m comment --comment "kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom KIND-MASQ-AGENT chain" -j KIND-MASQ-AGENT
-A KIND-MASQ-AGENT -d 10.244.0.0/16 -m comment --comment "kind-masq-agent: local traffic is not subject to MASQUERADE" -j RETURN
-A KIND-MASQ-AGENT -m comment --comment "kind-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)" -j MASQUERADE
-A KUBE-MARK-MASQ -j MARK --set-xmark 0x4000/0x4000
-A KUBE-NODEPORTS -d 127.0.0.0/8 -p tcp -m comment --comment "default/web:http" -m tcp --dport 30080 -m nfacct --nfacct-name localhost_nps_accepted_pkts -j KUBE-SVC-WEBWEBWEBWEBWEBW
-A KUBE-NODEPORTS -p tcp -m comment --comment default/web:http -m tcp --dport 30080 -j KUBE-SVC-WEBWEBWEBWEBWEBW
-A KUBE-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN
-A KUBE-POSTROUTING -j MARK --set-xmark 0x4000/0x0
-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE --random-fully
-A KUBE-SEP-AAAAAAAAAAAAAAAA -s 10.244.1.2/32 -m comment --comment "default/web:http" -j KUBE-MARK-MASQ
-A KUBE-SEP-AAAAAAAAAAAAAAAA -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.1.2:8080
-A KUBE-SEP-BBBBBBBBBBBBBBBB -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.2.2:8080
-A KUBE-SEP-CCCCCCCCCCCCCCCC -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.2.3:8080
-A KUBE-SEP-STALESTALESTALE0 -p tcp -m comment --comment "default/web:http" -m tcp -j DNAT --to-destination 10.244.9.9:8080
-A KUBE-SERVICES -d 10.96.12.34/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-SVC-WEBWEBWEBWEBWEBW
-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS
-A KUBE-SVC-WEBWEBWEBWEBWEBW ! -s 10.244.0.0/16 -d 10.96.12.34/32 -p tcp -m comment --comment "default/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
-A KUBE-SVC-WEBWEBWEBWEBWEBW -m comment --comment "default/web:http -> 10.244.1.2:8080" -m statistic --mode random --probability 0.33333333349 -j KUBE-SEP-AAAAAAAAAAAAAAAA
-A KUBE-SVC-WEBWEBWEBWEBWEBW -m comment --comment "default/web:http -> 10.244.2.2:8080" -m statistic --mode random --probability 0.50000000000 -j KUBE-SEP-BBBBBBBBBBBBBBBB
-A KUBE-SVC-WEBWEBWEBWEBWEBW -m comment --comment "default/web:http -> 10.244.2.3:8080" -j KUBE-SEP-CCCCCCCCCCCCCCCC
-A KUBE-SVC-WEBWEBWEBWEBWEBW -m comment --comment "default/web:http -> 10.244.9.9:8080" -j KUBE-SEP-STALESTALESTALE0
COMMIT
# Completed on Tue Jun  3 10:00:00 2025
"""


def test_a_real_nodes_legacy_dump_with_counters_nfacct_and_foreign_chains() -> None:
    nr = read_rules(REAL_NODE, local_ips=("172.18.0.3",))
    assert nr.mode == "iptables" and nr.backend == "legacy" and nr.version == "iptables-save v1.8.7 (legacy)"
    assert "nat KIND-MASQ-AGENT (kindnet)" in nr.foreign and "filter DOCKER-USER (Docker)" in nr.foreign
    (web,) = nr.explain()
    assert (web.service, web.port, web.protocol) == ("default/web", "http", "TCP")
    assert [e["probability"] for e in web.endpoints] == pytest.approx([1 / 3, 1 / 3, 1 / 3])
    assert {"kind": "ClusterIP", "ip": "10.96.12.34", "port": 80} in web.entries
    assert {"kind": "NodePort", "ip": None, "port": 30080} in web.entries
    assert any(n.startswith("unreachable rule in KUBE-SVC-WEBWEBWEBWEBWEBW") for n in web.notes)
    # The pod reaches all three; FORWARD's DROP policy stops forwarded traffic that is not marked.
    tr = nr.trace("10.244.1.7", "10.96.12.34:80")
    assert tr.verdict == "DROP" and tr.service == "default/web"
    tr = nr.trace("198.51.100.7", "10.96.12.34:80")  # outside the cluster CIDR: marked, so FORWARD accepts
    assert tr.verdict == "DNAT" and len(tr.destinations) == 3 and tr.masquerade
    # From the node itself (OUTPUT): outside the cluster CIDR, so kube-proxy marks it for masquerade.
    tr = nr.trace("172.18.0.3", "10.96.12.34:80")
    assert tr.hook == "OUTPUT" and {d.endpoint for d in tr.destinations} == {"10.244.1.2:8080", "10.244.2.2:8080",
                                                                             "10.244.2.3:8080"}
    assert tr.masquerade
    # The NodePort on localhost goes through the nfacct rule (a counter: it matches).
    tr = nr.trace("127.0.0.1", "127.0.0.1:30080")
    assert tr.hook == "OUTPUT" and tr.verdict == "DNAT" and len(tr.destinations) == 3
    assert any(s.matched and "localhost_nps_accepted_pkts" in s.rule for s in tr.steps)
    # kindnet's agent masquerades traffic that leaves for outside the pod range.
    assert nr.trace("10.244.1.7", "8.8.8.8:53").verdict == "DROP"  # FORWARD policy DROP, unmarked
    assert nr.trace("172.18.0.3", "8.8.8.8:53").masquerade


def test_comments_quoted_or_bare_and_escaped() -> None:
    text = ('*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SVC-X - [0:0]\n'
            '-A KUBE-SERVICES -d 10.96.0.5/32 -p udp -m comment --comment "kube-system/kube-dns:dns cluster IP" '
            '-m udp --dport 53 -j KUBE-SVC-X\n'
            '-A KUBE-SVC-X -m comment --comment "say \\"hi\\"" -j RETURN\nCOMMIT\n')
    nr = read_rules(text)
    rule = nr.ruleset.tables["nat"]["KUBE-SVC-X"][0]
    assert ("comment", 'say "hi"') in rule.matches
    (dns,) = nr.explain()
    assert (dns.service, dns.port, dns.protocol) == ("kube-system/kube-dns", "dns", "UDP")


def test_unknown_constructs_are_kept_and_reported() -> None:
    text = ("*filter\n:INPUT ACCEPT [0:0]\n:KUBE-FIREWALL - [0:0]\n"
            "-A INPUT -m physdev --physdev-is-bridged -j KUBE-FIREWALL\n"
            "-A INPUT -j FOOBAR --foo 1\n-A INPUT -m u32 --u32 0>>22&0x3C@12>>26&0x3F=0x10 -j DROP\nCOMMIT\n")
    nr = read_rules(text)
    assert len(nr.warnings) == 3 and all(w.startswith("line ") for w in nr.warnings)
    assert nr.ruleset.tables["filter"]["INPUT"][0].matches[0][0] == "unknown"
    assert nr.trace("1.2.3.4", "5.6.7.8:80").verdict == "NONE"


@pytest.mark.parametrize(("text", "where"), [
    ("hello world\n", "line 1"),
    ("*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES -j DROP\n", "line 3"),
    ("*nat\n-A NOPE -j DROP\nCOMMIT\n", "line 2"),
    ("*nat\n:A - [0:0]\n-A A -m comment --comment \"open\nCOMMIT\n", "line 3"),
    ("table ip kube-proxy {\n\tchain services {\n", "line 2"),
    ("", "line 1"),
    ("-A KUBE-SERVICES -j ACCEPT\n", "line 1"),
])
def test_not_a_dump_is_one_line_naming_the_line(text: str, where: str) -> None:
    with pytest.raises(DumpError, match=r"line \d+: ") as err:
        read_rules(text)
    msg = str(err.value)
    assert where in msg and "\n" not in msg


_DUMPS = [SAVE, rules(overall("nftables"), "test-node").text("list"), (DATA / "overall_nft.txt").read_text(),
          REAL_NODE]


@given(which=st.integers(0, len(_DUMPS) - 1), cut=st.integers(0, 10_000),
       junk=st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40),
       at=st.integers(0, 400))
def test_fuzzed_and_truncated_dumps_never_raise_anything_but_a_one_line_dump_error(which: int, cut: int, junk: str,
                                                                                   at: int) -> None:
    text = _DUMPS[which]
    lines = text.splitlines()
    for variant in (text[:cut], "\n".join(lines[:at % (len(lines) + 1)] + [junk] + lines[at % (len(lines) + 1):])):
        try:
            nr = read_rules(variant, local_ips=("192.168.0.2",))
        except DumpError as exc:
            msg = str(exc)
            assert "\n" not in msg and "line " in msg
            continue
        nr.explain()
        nr.trace("10.0.0.5", "172.30.0.41:80")


def test_files_over_the_limit_are_refused_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import kubelearn.proxy.read as read

    big = tmp_path / "big.rules"
    big.write_text(SAVE)
    monkeypatch.setattr(read, "MAX_DUMP_BYTES", 100)
    with pytest.raises(DumpError, match="larger than"):
        read_rules_file(big)
    with pytest.raises(DumpError, match="larger than"):
        read_rules("x" * 101)
    assert MAX_DUMP_BYTES == 64 * 2**20
    (tmp_path / "bin").write_bytes(b"*nat\n\xff\xfe\n")
    monkeypatch.setattr(read, "MAX_DUMP_BYTES", 2**20)
    with pytest.raises(DumpError, match="line 2: not UTF-8"):
        read_rules_file(tmp_path / "bin")


def _ipset_list(rs: object) -> str:
    from kubelearn.proxy.ipvs import _SET_TYPES, _entry

    out = []
    for name in sorted(rs.ipsets):  # type: ignore[attr-defined]
        members = sorted(_entry(name, e) for e in rs.ipsets[name])  # type: ignore[attr-defined]
        out += [f"Name: {name}", f"Type: {_SET_TYPES[name].split()[0]}", "Revision: 6",
                "Header: family inet hashsize 1024 maxelem 65536 bucketsize 12 initval 0x4b1f2a3c",
                "Size in memory: 440", "References: 2", f"Number of entries: {len(members)}", "Members:", *members, ""]
    return "\n".join(out)


@pytest.mark.parametrize("form", ["-Ln", "--stats", "--persistent-conn"])
def test_ipvs_dumps_trace_like_the_model(form: str) -> None:
    for name in ("ipvs", "my-service", "session-affinity", "nodeport"):
        cluster = scenario(name)
        for node in node_names(cluster):
            rs = rules(cluster, node, mode="ipvs")
            ipvsadm = rs.ipvsadm_text()
            if form == "--stats":
                ipvsadm = _stats_form(rs)
            elif form == "--persistent-conn":
                ipvsadm = ipvsadm.replace("Forward Weight ActiveConn InActConn",
                                          "Weight    PersistConn ActiveConn InActConn").replace("Masq    1", "1")
            text = ipvsadm + "\n" + _ipset_list(rs) + "\n" + rs.save_text()
            nr = read_rules(text, local_ips=(cluster.node_ip(node),))
            assert nr.mode == "ipvs"
            drop = ("service", "portName") + (("affinityTimeoutSeconds",) if form == "--stats" else ())
            for src, dst, proto in flows(cluster, node):
                a = answer(trace(cluster, node, src, dst, proto, mode="ipvs"), drop)
                b = answer(nr.trace(src, dst, proto), drop)
                assert a == b, (name, node, src, dst)
            if form == "-Ln":
                assert kl.diff_rules(nr, cluster, node).agree
            reps = nr.explain()
            assert len(reps) == len(rs.virtual_servers)


def _stats_form(rs: object) -> str:
    lines = ["IP Virtual Server version 1.2.1 (size=4096)",
             "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes",
             "  -> RemoteAddress:Port"]
    for key in sorted(rs.virtual_servers):  # type: ignore[attr-defined]
        vs = rs.virtual_servers[key]  # type: ignore[attr-defined]
        lines.append(f"{vs.protocol}  {vs.address}:{vs.port}{'':>20}0        0        0        0        0")
        lines += [f"  -> {r:<28}0        0        0        0        0" for r in vs.reals]
    return "\n".join(lines) + "\n"


def test_ipvs_weight_zero_real_servers_get_no_new_connections() -> None:
    text = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "TCP  10.96.0.10:53 rr\n  -> 10.244.0.2:53                Masq    1      0          0\n"
            "  -> 10.244.0.3:53                Masq    0      3          0\n")
    nr = read_rules(text)
    tr = nr.trace("10.244.0.9", "10.96.0.10:53")
    assert [d.endpoint for d in tr.destinations] == ["10.244.0.2:53"]
    assert any("weight 0" in w for w in nr.warnings)


def test_diff_names_a_deleted_and_an_added_rule() -> None:
    c = overall()
    lines = [ln for ln in SAVE.splitlines() if "--to-destination 10.180.0.4:80" not in ln]
    i = lines.index(":KUBE-SERVICES - [0:0]", lines.index("*nat"))
    lines.insert(lines.index("COMMIT", i), "-A KUBE-SERVICES -d 10.9.9.9/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ")
    d = kl.diff_rules(read_rules("\n".join(lines) + "\n"), c, "test-node")
    kinds = {(x.kind, x.service, x.chain) for x in d.differences}
    assert ("missing", "ns4/svc4:p80", "KUBE-SEP-UKSFD7AGPMPPLUHC") in kinds
    assert ("unexpected", "(kube-proxy, not one Service's)", "KUBE-SERVICES") in kinds
    assert ("order", "(kube-proxy, not one Service's)", "KUBE-SERVICES") in kinds
    assert "ns4/svc4:p80" in str(d)


def test_diff_ignores_order_in_kube_services_and_counters() -> None:
    lines = SAVE.splitlines()
    nat = lines.index("*nat")
    ks = [i for i, ln in enumerate(lines) if ln.startswith("-A KUBE-SERVICES ") and i > nat]
    body = [lines[i] for i in ks]
    body = body[:-1][::-1] + body[-1:]
    for i, ln in zip(ks, body, strict=True):
        lines[i] = "[3:180] " + ln
    d = kl.diff_rules(read_rules("\n".join(lines) + "\n"), overall(), "test-node")
    assert d.agree, str(d)


def test_cli_explain_trace_and_diff(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    dump = tmp_path / "node.rules"
    dump.write_text(SAVE)
    assert main(["explain-rules", str(dump), "-o", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [set(x) for x in data] == [{"service", "port", "protocol", "entries", "endpoints", "affinity_seconds",
                                       "notes"}] * 6
    assert all(set(e) == {"kind", "ip", "port"} for x in data for e in x["entries"])
    assert all(set(e) == {"endpoint", "probability"} for x in data for e in x["endpoints"])
    assert main(["explain-rules", str(dump)]) == 0
    assert "ns4/svc4 port p80" in capsys.readouterr().out
    manifests = tmp_path / "m.yaml"
    manifests.write_text((DATA / "overall.yaml").read_text())
    args = ["--src", "10.0.0.5", "--dst", "172.30.0.44:80", "--protocol", "tcp", "-o", "json"]
    assert main(["trace", "--rules-file", str(dump), "--local-ip", "192.168.0.2", *args]) == 0
    got = json.loads(capsys.readouterr().out)
    want = answer(trace(overall(), "test-node", "10.0.0.5", "172.30.0.44:80"))
    assert {k: got[k] for k in want} == want
    bad = tmp_path / "bad.rules"
    bad.write_text("*nat\n:X - [0:0]\n-A X -m comment --comment \"oops\n")
    assert main(["trace", "--rules-file", str(bad), *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "line 3" in err and "Traceback" not in err
    assert main(["trace", "--rules-file", str(dump), "--node", "x", *args]) == 2
    capsys.readouterr()


def test_cli_rules_diff_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # overall.yaml needs the topology the test fixture gives it; a scenario's manifest works as is.
    path = kl.scenario_path("my-service")
    cluster = kl.load(path)
    node = node_names(cluster)[1]
    dump = tmp_path / "n.rules"
    dump.write_text(rules(cluster, node, view="save").text("save"))
    assert main(["rules", "--diff", str(dump), "-f", str(path), "--node", node]) == 0
    assert "agrees" in capsys.readouterr().out
    text = dump.read_text().splitlines()
    victim = next(ln for ln in text if "-j DNAT" in ln)
    dump.write_text("\n".join(ln for ln in text if ln != victim) + "\n")
    assert main(["rules", "--diff", str(dump), "-f", str(path), "--node", node]) == 1
    out = capsys.readouterr().out
    assert "missing" in out and "default/my-service" in out
    # Trouble is not a difference: like kubectl diff, an error exits above 1.
    not_a_dump = tmp_path / "passwd"
    not_a_dump.write_text("root:x:0:0:root:/root:/bin/bash\n")
    assert main(["rules", "--diff", str(not_a_dump), "-f", str(path), "--node", node]) == 2
    assert "line 1" in capsys.readouterr().err
    assert main(["rules", "--diff", str(dump), "-f", str(path), "--node", "nope"]) == 2
    assert 'nodes "nope" not found' in capsys.readouterr().err


def test_dump_commands_refuse_a_fifo_without_blocking_and_read_stdin(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    import io
    import os

    fifo = tmp_path / "dump.fifo"
    os.mkfifo(fifo)  # nobody writes: a blocking open would wait forever
    assert main(["explain-rules", str(fifo)]) == 1
    assert "not a regular file" in capsys.readouterr().err
    assert main(["explain-rules", "/dev/zero"]) == 1
    assert "not a regular file" in capsys.readouterr().err
    text = rules(kl.default_scenario(), "kind-worker", view="save").text("save")
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    assert main(["explain-rules", "-", "-o", "json"]) == 0
    assert "default/my-service" in capsys.readouterr().out


_SVC_LINES = [i for i, ln in enumerate(SAVE.splitlines()) if ln.startswith(("-A KUBE-SEP-", "-A KUBE-SVC-"))]


@given(drop=st.sets(st.sampled_from(_SVC_LINES), max_size=6))
def test_explained_probabilities_are_the_tracers_on_damaged_dumps(drop: set[int]) -> None:
    # Whatever rules a broken node lost, explain-rules' shares are where the tracer sends a pod's connections.
    lines = [ln for i, ln in enumerate(SAVE.splitlines()) if i not in drop]
    nr = read_rules("\n".join(lines) + "\n", local_ips=("192.168.0.2",))
    for rep in nr.explain():
        cip = next((e for e in rep.entries if e["kind"] == "ClusterIP"), None)
        if cip is None or rep.endpoints == [] or any("internalTrafficPolicy=Local" in n for n in rep.notes):
            continue
        tr = nr.trace("10.0.0.5", f"{cip['ip']}:{cip['port']}")
        got = {d.endpoint: d.probability for d in tr.destinations}
        assert {e["endpoint"]: e["probability"] for e in rep.endpoints} == pytest.approx(got), (rep.service, drop)


def test_a_kubectl_export_of_nodes_services_and_endpointslices_is_valid_diff_input(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    for name in ("my-service", "nodeport-local", "session-affinity", "multi-port"):
        cluster = scenario(name)
        node = node_names(cluster)[-1]
        # What `kubectl get nodes,services,endpointslices -A -o yaml` prints: a List, no Pods.
        items = [*cluster.nodes(), *cluster.services(), *cluster.endpoint_slices()]
        export = tmp_path / f"{name}.yaml"
        export.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""},
                                          "items": items}))
        dump = tmp_path / f"{name}.rules"
        dump.write_text(rules(cluster, node, view="save").text("save"))
        code = main(["rules", "--diff", str(dump), "-f", str(export), "--node", node])
        assert code == 0, (name, capsys.readouterr().out)
        capsys.readouterr()
        assert kl.diff_rules(read_rules_file(dump), str(export), node).agree  # the Python API takes the path too


def test_nft_handles_and_ipvs_firewall_marks_are_tolerated() -> None:
    listing = rules(overall("nftables"), "test-node").text("list")
    numbered = "\n".join(ln + f" # handle {i}" if ln.strip() and not ln.strip().startswith(("}", "type ", "elements",
                                                                                              "comment", "size", "flags",
                                                                                              "timeout"))
                         and not ln.startswith("\t\t\t") else ln for i, ln in enumerate(listing.splitlines()))
    nr = read_rules(numbered, local_ips=("192.168.0.2",))
    assert not nr.warnings, nr.warnings[:3]
    assert kl.diff_rules(nr, overall("nftables"), "test-node").agree
    text = ("IP Virtual Server version 1.2.1 (size=4096)\nProt LocalAddress:Port Scheduler Flags\n"
            "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
            "FWM  7 rr\n  -> 10.0.0.9:0                   Masq    1      0          0\n"
            "TCP  10.96.0.10:53 rr\n  -> 10.244.0.2:53                Masq    1      0          0\n")
    nr = read_rules(text)
    assert list(nr.ruleset.virtual_servers) == [("10.96.0.10", "TCP", 53)]
    assert any("firewall-mark" in w for w in nr.warnings)


def test_jump_loops_are_refused_with_the_line_that_closes_them() -> None:
    with pytest.raises(DumpError, match=r"^line 7: the jump from B to A in table nat closes a loop"):
        read_rules("*nat\n:PREROUTING ACCEPT [0:0]\n:A - [0:0]\n:B - [0:0]\n-A PREROUTING -j A\n-A A -j B\n"
                   "-A B -j A\nCOMMIT\n")
    with pytest.raises(DumpError, match=r"^line 6: the jump from b to a closes a loop"):
        read_rules("table ip kube-proxy {\n\tchain a {\n\t\tjump b\n\t}\n\tchain b {\n\t\tgoto a\n\t}\n}\n")
    deep = "".join(f":C{i} - [0:0]\n" for i in range(300)) + "".join(f"-A C{i} -j C{i + 1}\n" for i in range(299))
    with pytest.raises(DumpError, match="nests too deep"):
        read_rules("*filter\n" + deep + "COMMIT\n")


def test_nft_fib_local_and_negated_daddr_are_traced() -> None:
    # The NodePort rule in the form that serves every local address but localhost (fib + "not localhost"),
    # as a hand-edited or differently configured node may hold it: the reader and tracer follow it.
    listing = rules(overall("nftables"), "test-node").text("list").replace(
        "ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports",
        "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports")
    nr = read_rules(listing, local_ips=("192.168.0.2", "10.1.2.3"))
    assert not nr.warnings
    assert nr.trace("203.0.113.9", "10.1.2.3:3002").verdict == "DNAT"  # any local address serves NodePorts
    assert nr.trace("203.0.113.9", "10.9.9.9:3002").verdict == "NONE"  # not the node's
    assert nr.trace("127.0.0.1", "127.0.0.1:3002").verdict == "NONE"  # never on localhost


def test_the_two_back_ends_warning_is_reported() -> None:
    text = "# Warning: iptables-legacy tables present, use iptables-legacy-save to see them\n" + SAVE
    nr = read_rules(text)
    assert nr.warnings == ["line 1: iptables-save says: Warning: iptables-legacy tables present, "
                           "use iptables-legacy-save to see them"]
