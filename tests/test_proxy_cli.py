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


def test_unknown_node_and_bad_view(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["rules", "--node", "nope"], capsys)
    assert code == 1 and err.strip() == 'Error from server (NotFound): nodes "nope" not found'
    code, _, err = run(["rules", "--node", node_name(), "--view", "weird"], capsys)
    assert code == 1 and 'unknown view "weird"' in err
    code, _, err = run(["trace", "--node", node_name(), "--src", "x", "--dst", "10.0.0.1:80"], capsys)
    assert code == 1 and 'invalid source address "x"' in err
