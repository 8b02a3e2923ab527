"""Parts of the lab that need neither root nor a kernel: the plan, the guards, the comparison, the CLI."""

from __future__ import annotations

import pandas as pd
import pytest
from test_netlab_support import make_cluster

from kubelearn.cli import main
from kubelearn.errors import KubelearnError
from kubelearn.netlab import Comparison, compare, host, topo
from kubelearn.netlab.server import parse_answer
from kubelearn.traffic.log import conform

PREFIX = "klnl-0a1b2c-"


def test_plan_one_namespace_per_node_pod_switch_and_external() -> None:
    p = topo.plan(make_cluster(3), PREFIX)
    names = p.namespaces()
    assert len(names) == 1 + 3 + 4 + 1 and len(set(names)) == len(names)
    assert all(n.startswith(PREFIX) for n in names)
    assert p.switch == PREFIX + "sw" and p.external.ns == PREFIX + "ext"
    # kind's host is the node network's gateway.
    assert p.external.ip == "172.18.0.1" and p.external.prefixlen == 16
    worker = p.node("kind-worker")
    assert (worker.ip, worker.pod_cidr, worker.gateway) == ("172.18.0.3", "10.244.1.0/24", "10.244.1.1")
    # Linux caps interface names at 15 characters.
    assert all(len(x.host_veth) <= 15 for x in p.pods)
    assert {x.name: x.node for x in p.pods}["client"] == "kind-control-plane"


def test_pod_commands_are_routed_point_to_point() -> None:
    p = topo.plan(make_cluster(1), PREFIX)
    web = next(x for x in p.pods if x.name == "web-0")
    in_pod, in_node = topo.pod_commands(p, web)
    assert f"addr add {web.ip}/32 dev eth0" in in_pod
    assert "route add default via 10.244.1.1 dev eth0" in in_pod
    assert f"route replace {web.ip}/32 dev {web.host_veth} scope link" in in_node
    assert f"addr add 10.244.1.1/32 dev {web.host_veth}" in in_node


def test_plan_refuses_external_addresses_inside_the_cluster() -> None:
    with pytest.raises(KubelearnError, match="inside the node or pod network"):
        topo.plan(make_cluster(1), PREFIX, external_addresses=["10.244.3.9"])


@pytest.mark.parametrize("bad", ["kl-abcdef-", "klnl-ABCDEF-", "klnl-abc-", "klnl-abcdefg-", "", "klnl-abcdef"])
def test_prefixes_are_checked(bad: str) -> None:
    with pytest.raises(host.PreflightError, match="invalid lab prefix"):
        host.check_prefix(bad)


def test_new_prefixes_are_valid_and_distinct() -> None:
    prefixes = {host.new_prefix() for _ in range(20)}
    assert len(prefixes) > 1
    for p in prefixes:
        assert host.check_prefix(p) == p


@pytest.mark.parametrize("ns", ["", "default", "cni-1234", "klnl-0a1b2c", "klnl-zzzzzz-node", "../klnl-0a1b2c-sw"])
def test_commands_never_run_outside_lab_namespaces(ns: str) -> None:
    with pytest.raises(host.HostError, match="not a kubelearn netlab namespace"):
        host.run_in(ns, ["true"])
    with pytest.raises(host.HostError, match="not a kubelearn netlab namespace"):
        host.ip_batch(ns, ["link show"])


def test_preflight_explains_missing_root_and_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host.sys, "platform", "linux")
    monkeypatch.setattr(host.os, "geteuid", lambda: 1000)
    monkeypatch.setattr(host.shutil, "which", lambda tool: None if tool == "nft" else "/usr/sbin/" + tool)
    with pytest.raises(host.PreflightError, match=r"kubelearn netlab cannot run here: creating network namespace") as exc:
        host.preflight("nftables")
    text = str(exc.value)
    assert "\n" not in text
    assert text.startswith("kubelearn netlab cannot run here: ")
    assert "needs root" in text and "`nft` not found (Debian package nftables)" in text


def test_preflight_refuses_other_systems(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host.sys, "platform", "darwin")
    with pytest.raises(host.PreflightError, match="network namespaces need Linux"):
        host.preflight()


def test_preflight_refuses_unknown_modes() -> None:
    with pytest.raises(host.PreflightError, match='unknown proxy mode "userspace"'):
        host.preflight("userspace")


def test_cleanup_touches_only_the_lab_family_and_spares_live_owners(monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["cni-1", "klnl-aaaaaa-sw", "klnl-aaaaaa-n1", "klnl-bbbbbb-sw", "klnl-bbbbbb-p1", "klnl-x-sw", "other"]
    monkeypatch.setattr(host, "list_namespaces", lambda: names)
    owners = {"klnl-aaaaaa-": 999_999_999, "klnl-bbbbbb-": 4242}
    monkeypatch.setattr(host, "owner_pid", lambda prefix: owners.get(prefix))
    monkeypatch.setattr(host, "_alive", lambda pid: pid == 4242)
    calls: list[list[str]] = []

    def delete(ns: list[str]) -> list[str]:
        calls.append(list(ns))
        return list(ns)

    monkeypatch.setattr(host, "delete_namespaces", delete)
    deleted = host.cleanup()
    # The dead lab goes, switch last; the live lab of process 4242 stays; foreign names never.
    assert calls == [["klnl-aaaaaa-n1", "klnl-aaaaaa-sw"]]
    assert deleted == ["klnl-aaaaaa-n1", "klnl-aaaaaa-sw"]
    assert host.cleanup(force=True) == ["klnl-aaaaaa-n1", "klnl-aaaaaa-sw", "klnl-bbbbbb-p1", "klnl-bbbbbb-sw"]


def test_parse_answer() -> None:
    ans = parse_answer(b"kubelearn-netlab pod=web-0 src=10.244.0.5:40312 dst=10.244.1.2:8080\n")
    assert ans == {"pod": "web-0", "src": "10.244.0.5:40312", "dst": "10.244.1.2:8080"}
    assert parse_answer(b"HTTP/1.1 200 OK\r\n") is None
    assert parse_answer(b"kubelearn-netlab pod=web-0\n") is None


def _log(pods: list[str], outcome: str = "ok") -> pd.DataFrame:
    n = len(pods)
    return conform(pd.DataFrame({
        "time": [i * 0.01 for i in range(n)], "connection": list(range(n)), "client": ["c"] * n,
        "client_kind": ["pod"] * n, "src_ip": ["10.244.0.5"] * n, "dst": ["10.96.0.100:80"] * n,
        "via": ["clusterip"] * n, "entry_node": ["n"] * n, "service": ["default/web"] * n,
        "port_name": ["http"] * n, "endpoint": ["" if outcome != "ok" else "x:1"] * n,
        "pod": pods if outcome == "ok" else [""] * n, "pod_node": [""] * n, "seen_src_ip": [""] * n,
        "outcome": [outcome] * n, "latency_ms": [1.0] * n, "rules_walked": [1] * n,
    }))


def test_compare_agrees_on_the_same_distribution_and_not_on_another() -> None:
    even = _log(["a", "b", "c"] * 100)
    same = _log(["a"] * 98 + ["b"] * 103 + ["c"] * 99)
    skewed = _log(["a"] * 200 + ["b"] * 50 + ["c"] * 50)
    ok = compare(even, same)
    bad = compare(even, skewed)
    assert isinstance(ok, Comparison) and ok.consistent and "agree" in ok.verdict
    assert not bad.consistent and "DISAGREE" in bad.verdict
    assert list(ok.table["kernel"]) == [98, 103, 99]
    assert ok.table["simulated_share"].sum() == pytest.approx(1.0)
    assert "p = " in str(bad) and "<p>" in bad._repr_html_()


def test_compare_counts_failures_as_their_own_categories() -> None:
    cmp = compare(_log([""] * 10, "refused"), _log([""] * 10, "dropped"))
    assert list(cmp.table.index) == ["(dropped)", "(refused)"]
    assert not cmp.consistent


def test_compare_counts_connections_not_requests() -> None:
    sim = _log(["a", "a", "b", "b"])
    sim["connection"] = [0, 0, 1, 1]  # two requests per connection
    cmp = compare(sim, _log(["a", "b"]))
    assert list(cmp.table["simulated"]) == [1, 1]


def test_cli_refuses_in_one_line_without_root(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(host, "missing", lambda mode="iptables": ["creating network namespaces needs root"])
    assert main(["netlab", "run", "--connections", "5"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "needs root" in err and "Traceback" not in err
    assert main(["netlab", "cleanup"]) == 1
    assert "needs root" in capsys.readouterr().err


def test_cli_rejects_bad_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["netlab", "run", "--connections", "0"]) == 2
    assert "expected a positive integer" in capsys.readouterr().err


def test_compare_counts_clients_when_every_client_sticks() -> None:
    # Three sticky clients, 50 connections each: 150 connections but only 3 free choices.
    sim = _log(["a"] * 50 + ["b"] * 50 + ["c"] * 50)
    ker = _log(["a"] * 100 + ["b"] * 50)
    for log in (sim, ker):
        log["client"] = pd.Categorical([f"c{i // 50}" for i in range(150)])
    auto = compare(sim, ker)
    assert auto.extra["unit"] == "client" and auto.table["kernel"].sum() == 3
    assert auto.consistent and "counting clients" in auto.verdict
    assert not compare(sim, ker, unit="connection").consistent
    with pytest.raises(KubelearnError, match='unknown unit "request"'):
        compare(sim, ker, unit="request")


def test_ipvs_is_refused_when_the_kernel_lacks_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "missing", lambda mode="iptables": [])
    monkeypatch.setattr(host, "ipvs_available", lambda: False)
    from kubelearn.netlab import NetLab

    lab = NetLab(make_cluster(1), mode="ipvs")
    with pytest.raises(host.PreflightError, match=r"kubelearn netlab cannot run ipvs mode here: the kernel has n") as info:
        lab.open()
    assert str(info.value) == ("kubelearn netlab cannot run ipvs mode here: the kernel has no ip_vs "
                               "(/proc/net/ip_vs is missing; the lab never loads kernel modules)")
    assert "\n" not in str(info.value)
    assert repr(lab).endswith("closed: 0 nodes, 0 pods, mode ipvs>")


def test_ipvs_with_ip_vs_in_the_kernel_says_the_lab_does_not_drive_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(host, "missing", lambda mode="iptables": [])
    monkeypatch.setattr(host, "ipvs_available", lambda: True)
    from kubelearn.netlab import NetLab

    with pytest.raises(host.PreflightError, match=r"kubelearn netlab does not drive IPVS yet \(the kernel has ip_") as info:
        NetLab(make_cluster(1), mode="ipvs").open()
    msg = str(info.value)
    assert msg.startswith("kubelearn netlab does not drive IPVS yet (the kernel has ip_vs")
    assert "no ip_vs" not in msg and "\n" not in msg
    # The two facts give two different messages, whatever the machine.
    assert host.ipvs_refusal(kernel_has_ip_vs=True) != host.ipvs_refusal(kernel_has_ip_vs=False)


@pytest.mark.parametrize(("release", "per_netns"), [
    ("5.3.0", True), ("5.10.0-28-amd64", True), ("6.18.44-fc-v669", True), ("10.0", True),
    ("5.2.21", False), ("4.19.0-26-amd64", False), ("3.10.0-1160.el7.x86_64", False),
    ("", False), ("weird", False),
])
def test_bridge_nf_sysctls_are_per_netns_from_5_3(release: str, per_netns: bool) -> None:
    assert host.bridge_nf_sysctls_are_per_netns(release) is per_netns


def test_build_leaves_bridge_nf_alone_on_old_kernels(monkeypatch: pytest.MonkeyPatch) -> None:
    """Before 5.3 the switch's bridge-nf-call-* write would change the host: build must not make it."""
    calls: list[tuple[str, list[str]]] = []
    monkeypatch.setattr(host, "run", lambda argv, **kw: calls.append(("run", list(argv))))
    monkeypatch.setattr(host, "ip_batch", lambda ns, cmds: None)
    monkeypatch.setattr(host, "set_sysctls", lambda ns, a: None)
    monkeypatch.setattr(host, "run_in", lambda ns, argv, **kw: calls.append((ns, list(argv))))
    monkeypatch.setattr(topo, "add_pods", lambda p, pods: None)
    p = topo.plan(make_cluster(1), PREFIX)
    for release, expect in (("4.19.0-26-amd64", False), ("5.4.0-150-generic", True)):
        calls.clear()
        monkeypatch.setattr(host.platform, "release", lambda r=release: r)
        topo.build(p)
        wrote = [argv for ns, argv in calls if ns == p.switch and "bridge-nf-call" in " ".join(argv)]
        assert bool(wrote) is expect, release


def test_a_closed_lab_says_how_to_open_it() -> None:
    from kubelearn.netlab import NetLab

    lab = NetLab(make_cluster(1))
    with pytest.raises(KubelearnError, match="use `with NetLab"):
        lab.run(connections=1)


def test_the_stored_kernel_result_for_the_lesson_is_a_valid_log() -> None:
    # Recorded with: NetLab(scenario("my-service")).run(default_workload(c, 600)) as root;
    # the lesson shows it where the lab cannot run.
    from pathlib import Path

    from scipy.stats import chisquare

    from kubelearn.traffic import LOG_COLUMNS, read_log

    log = read_log(Path(__file__).parent / "data" / "netlab" / "my-service-kernel.csv")
    assert list(log.columns) == list(LOG_COLUMNS) and len(log) == 600
    assert log.attrs["source"] == "kernel" and log.attrs["mode"] == "iptables"
    assert (log["outcome"] == "ok").all()
    counts = log["pod"].astype(str).value_counts()
    assert len(counts) == 3
    assert chisquare(counts.to_numpy()).pvalue > 1e-4  # random balancing, as the kernel did it


@pytest.mark.parametrize("bad", ["kernel.panic=1", "net.ipv4.ip_forward=1; reboot", "net/../x=1", "net.ipv4.x=$(id)"])
def test_sysctls_are_limited_to_plain_net_settings(bad: str) -> None:
    with pytest.raises(host.HostError, match="refusing sysctl"):
        host.set_sysctls(PREFIX + "n1", [bad])
