"""``kubelearn rules`` / ``kubelearn trace`` over a manifest (through the real loader)."""

from __future__ import annotations

import json

import pytest

from kubelearn.cli import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def node_name() -> str:
    from kubelearn.scenarios import default_scenario

    return str(default_scenario().nodes()[-1]["metadata"]["name"])


def test_rules_restore_and_save(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rules", "--node", node_name()], capsys)
    assert code == 0 and out.startswith("*filter\n") and "\n*nat\n" in out and out.endswith("COMMIT\n")
    code, out, _ = run(["rules", "--node", node_name(), "--view", "save"], capsys)
    assert code == 0 and ":PREROUTING ACCEPT [0:0]" in out


def test_rules_nftables_and_ipvs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["rules", "--node", node_name(), "--mode", "nftables"], capsys)
    assert code == 0 and out.startswith("table ip kube-proxy {")
    code, out, _ = run(["rules", "--node", node_name(), "--mode", "ipvs"], capsys)
    assert code == 0 and "IP Virtual Server" in out


def test_trace_json(capsys: pytest.CaptureFixture[str]) -> None:
    from kubelearn.scenarios import default_scenario

    svc = default_scenario().get("Service", "kube-dns", "kube-system")
    dst = f"{svc['spec']['clusterIP']}:53"
    code, out, _ = run(["trace", "--node", node_name(), "--src", "10.244.1.5", "--dst", dst,
                        "--protocol", "UDP", "-o", "json"], capsys)
    d = json.loads(out)
    assert code == 0 and d["verdict"] == "DNAT" and d["masquerade"] is False
    assert abs(sum(x["probability"] for x in d["destinations"]) - 1) < 1e-12


def test_unknown_node_is_a_cluster_error_in_kubectl_wording(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["rules", "--node", "nope"], capsys)
    assert code == 1 and err.strip() == 'Error from server (NotFound): nodes "nope" not found'
    code, _, err = run(["trace", "--node", "nope", "--src", "10.244.1.5", "--dst", "10.96.0.10:53"], capsys)
    assert code == 1 and err.strip() == 'Error from server (NotFound): nodes "nope" not found'


def test_malformed_flag_values_are_usage_errors(capsys: pytest.CaptureFixture[str]) -> None:
    """Every malformed flag value exits 2 with argparse's "<prog>: error: argument --flag: ..." line."""
    code, _, err = run(["rules", "--node", node_name(), "--view", "weird"], capsys)
    assert code == 2 and err.startswith("usage: kubelearn rules")
    assert "kubelearn rules: error: argument --view: invalid choice: 'weird'" in err
    code, _, err = run(["trace", "--node", node_name(), "--src", "x", "--dst", "10.0.0.1:80"], capsys)
    assert code == 2 and err.startswith("usage: kubelearn trace")
    assert 'kubelearn trace: error: argument --src: invalid source address "x": must be an IPv4 address' in err
    code, _, err = run(["trace", "--node", node_name(), "--src", "10.0.0.1", "--dst", "x"], capsys)
    assert code == 2 and "kubelearn trace: error: argument --dst: invalid destination" in err


def test_view_of_another_mode_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["rules", "--node", node_name(), "--mode", "iptables", "--view", "list"], capsys)
    assert code == 2 and err.startswith("usage: kubelearn rules")
    assert 'kubelearn rules: error: argument --view: view "list" does not exist in iptables mode ' \
           "(use restore or save)" in err
    code, _, err = run(["rules", "--node", node_name(), "--mode", "nftables", "--view", "ipvsadm"], capsys)
    assert code == 2 and '"ipvsadm" does not exist in nftables mode (use list or input)' in err
    code, out, _ = run(["rules", "--node", node_name(), "--mode", "nftables", "--view", "input"], capsys)
    assert code == 0 and out.strip() != ""


def test_pod_to_its_own_clusterip_is_not_masqueraded_except_hairpin(capsys: pytest.CaptureFixture[str]) -> None:
    """The facts' flow table: pod -> ClusterIP is not masqueraded; only the hairpin branch is."""
    from kubelearn.scenarios import default_scenario

    cluster = default_scenario()
    svc = cluster.get("Service", "my-service", "default")
    pod = next(p for p in cluster.pods() if p["metadata"]["name"].startswith("my-")
               and p["spec"].get("nodeName") == "kind-worker")
    src = pod["status"]["podIP"]
    dst = f"{svc['spec']['clusterIP']}:80"
    code, out, _ = run(["trace", "--node", "kind-worker", "--src", src, "--dst", dst, "-o", "json"], capsys)
    d = json.loads(out)
    assert code == 0 and d["verdict"] == "DNAT" and len(d["destinations"]) == 3
    assert d["masquerade"] is False
    per = {x["endpoint"].rsplit(":", 1)[0]: x["masquerade"] for x in d["destinations"]}
    assert per.pop(src) is True and not any(per.values())
    code, out, _ = run(["trace", "--node", "kind-worker", "--src", src, "--dst", dst], capsys)
    assert code == 0 and "source: masqueraded only if it lands on itself (hairpin)" in out
