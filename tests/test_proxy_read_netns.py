"""Round trips through the real kernel: kubelearn's rules in, the node's own tools' output back.

For every scenario, node and proxy mode the lab supports (iptables, nftables), the rendered rules
are loaded into a private network namespace (``unshare -n``: the host's rules are never read or
touched), other software's chains are added next to them (Docker's, a CNI's), and the kernel's
``iptables-save`` / ``nft list ruleset`` is read back with :func:`kubelearn.read_rules`.  Then:
``trace --rules-file`` answers like ``trace -f`` on a grid of flows, ``explain-rules`` lists exactly
the scenario's Services with their endpoint probabilities, and ``rules --diff`` finds nothing; a
rule deleted or added in the kernel is named by the diff.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from _read_support import FOREIGN_IPTABLES, FOREIGN_NFT, answer, expected_explain, explained, flows, node_names

import kubelearn as kl
from kubelearn.proxy import rules, trace
from kubelearn.scenarios import SCENARIOS, scenario

pytestmark = pytest.mark.netlab


def _need(*tools: str) -> None:
    for t in tools:
        if shutil.which(t) is None:
            pytest.skip(f"{t} is not installed (apt-get install iptables nftables)")
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        pytest.skip("cannot create a private network namespace (needs root)")


def _netns(script: str, stdin: str) -> str:
    r = subprocess.run(["unshare", "-n", "sh", "-ec", script], input=stdin, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def _iptables_dump(cluster: object, node: str, extra: list[str] = (), legacy: bool = False) -> str:  # type: ignore[assignment]
    rs = rules(cluster, node, mode="iptables")  # type: ignore[arg-type]
    script = "\n".join(["iptables-restore --noflush", *FOREIGN_IPTABLES, *extra, "iptables-save -c"])
    if legacy:  # the same, through the old x_tables back end
        script = re.sub(r"^iptables(-restore|-save)? ", r"iptables-legacy\1 ", script, flags=re.M)
    return _netns(script, rs.iptables_restore_input())


def _nft_dump(cluster: object, node: str, extra: list[str] = ()) -> str:  # type: ignore[assignment]
    rs = rules(cluster, node, mode="nftables")  # type: ignore[arg-type]
    # kube-proxy's table, a CNI's own table, and Docker's iptables-nft chains (tables ip nat/filter).
    script = "\n".join(["nft -f -", "cat > /dev/null", *[c for c in FOREIGN_IPTABLES[:19]],
                        f"printf '%s' '{FOREIGN_NFT}' | nft -f -", *extra, "nft list ruleset"])
    return _netns(script, rs.text("input"))


def _dump(mode: str, cluster: object, node: str, extra: list[str] = ()) -> str:  # type: ignore[assignment]
    if mode.startswith("iptables"):
        return _iptables_dump(cluster, node, extra, legacy=mode == "iptables-legacy")
    return _nft_dump(cluster, node, extra)


def _tools(mode: str) -> tuple[str, ...]:
    if mode == "iptables-legacy":
        return ("unshare", "iptables-legacy", "iptables-legacy-save", "iptables-legacy-restore")
    return ("unshare", "iptables", "iptables-save", "iptables-restore", *(["nft"] if mode == "nftables" else []))


@pytest.mark.parametrize("mode", ["iptables", "iptables-legacy", "nftables"])
def test_every_scenario_round_trips_through_the_kernel(mode: str) -> None:
    _need(*_tools(mode))
    checked = 0
    for name in SCENARIOS:
        cluster = scenario(name)
        for node in node_names(cluster):
            text = _dump(mode, cluster, node)
            nr = kl.read_rules(text, local_ips=(cluster.node_ip(node),))
            assert nr.mode == mode.split("-")[0], (name, node)
            if mode.startswith("iptables"):
                assert nr.backend == ("legacy" if mode == "iptables-legacy" else "nf_tables")
                assert "nat DOCKER (Docker)" in nr.foreign and "filter cali-FORWARD (Calico)" in nr.foreign
                assert "[0:0] -A" in text  # counters were on
            else:
                assert "table inet cni-test" in nr.foreign and "table ip nat" in nr.foreign
            for src, dst, proto in flows(cluster, node):
                want = answer(trace(cluster, node, src, dst, proto, mode=nr.mode))
                assert answer(nr.trace(src, dst, proto)) == want, (name, node, src, dst)
                checked += 1
            got = explained(nr.explain())
            want_ex = expected_explain(cluster, node, nr.mode)
            assert got.keys() == want_ex.keys(), (name, node)
            for k, eps in want_ex.items():
                assert got[k] == pytest.approx(eps), (name, node, k)
            d = kl.diff_rules(nr, cluster, node)
            assert d.agree, f"{name} {node}:\n{d}"
    assert checked > 500


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_a_rule_deleted_or_added_in_the_kernel_is_named_by_the_diff(mode: str) -> None:
    _need(*_tools(mode))
    cluster = scenario("my-service")
    node = node_names(cluster)[1]
    rs = rules(cluster, node, mode=mode)
    if mode == "iptables":
        sep = next(c for c, rr in rs.tables["nat"].items()
                   if c.startswith("KUBE-SEP-") and rr[0].owner[0] == "default/my-service")
        extra = [f"iptables -t nat -D {sep} 2",  # the DNAT rule
                 "iptables -t nat -A KUBE-SERVICES -d 10.96.99.99/32 -p tcp -m tcp --dport 80 -j KUBE-MARK-MASQ"]
        chain = sep
    else:
        ep = next(c for c in rs.chains if c.startswith("endpoint-") and "/my-service/" in c)
        extra = [f"nft flush chain ip kube-proxy '{ep}'",
                 "nft add rule ip kube-proxy services ip daddr 10.96.99.99 drop"]
        chain = ep
    nr = kl.read_rules(_dump(mode, cluster, node, extra), local_ips=(cluster.node_ip(node),))
    d = kl.diff_rules(nr, cluster, node)
    assert not d.agree
    missing = [x for x in d.differences if x.kind == "missing"]
    unexpected = [x for x in d.differences if x.kind == "unexpected"]
    assert any(x.chain == chain and x.service.startswith("default/my-service") for x in missing), str(d)
    assert any("10.96.99.99" in x.rule for x in unexpected), str(d)
    assert "default/my-service" in str(d)


@pytest.mark.parametrize("mode", ["iptables", "nftables"])
def test_cli_trace_rules_file_equals_trace_f_and_explain_and_diff_agree(
        mode: str, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    import json
    from pathlib import Path

    from _read_support import ANSWER

    from kubelearn.cli import main

    _need(*_tools(mode))
    name = "loadbalancer"
    cluster = scenario(name)
    manifest = str(kl.scenario_path(name))
    for node in node_names(cluster):
        dump = Path(str(tmp_path)) / f"{node}.rules"
        dump.write_text(_dump(mode, cluster, node))
        for src, dst, proto in flows(cluster, node)[::7]:
            common = ["--src", src, "--dst", dst, "--protocol", proto.lower(), "-o", "json"]
            assert main(["trace", "-f", manifest, "--node", node, "--mode", mode, *common]) == 0
            want = json.loads(capsys.readouterr().out)
            assert main(["trace", "--rules-file", str(dump), "--local-ip", cluster.node_ip(node), *common]) == 0
            got = json.loads(capsys.readouterr().out)
            assert {k: got[k] for k in ANSWER} == {k: want[k] for k in ANSWER}, (node, src, dst)
        assert main(["explain-rules", str(dump), "-o", "json"]) == 0
        services = {(x["service"], x["port"]) for x in json.loads(capsys.readouterr().out)}
        assert ("default/web-lb", "http") in services
        assert main(["rules", "--diff", str(dump), "-f", manifest, "--node", node]) == 0
        assert "agrees" in capsys.readouterr().out
