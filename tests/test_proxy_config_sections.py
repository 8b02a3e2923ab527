"""masqueradeAll and masqueradeBit come from the section of the mode kube-proxy runs in.

Upstream evidence is quoted in ``data/proxy/upstream_masquerade_sections.txt``: the v1alpha1
conversion copies ``nftables.masqueradeAll`` only in nftables mode, and ``server_linux.go``
gives the nftables proxier ``NFTables.MasqueradeBit`` and the iptables and IPVS proxiers
``IPTables.MasqueradeBit``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from test_proxy_iptables import overall, service, slice_, small

from kubelearn.proxy import proxy_settings, rules, trace

DATA = Path(__file__).parent / "data" / "proxy"


def _expected(key: str) -> str:
    for line in (DATA / "upstream_masquerade_sections.txt").read_text().splitlines():
        if line.startswith(key + ": "):
            return line[len(key) + 2:]
    raise AssertionError(key)


def test_nftables_masquerade_all_is_read_from_the_nftables_section() -> None:
    lines = rules(overall("nftables", nftables={"masqueradeAll": True}), "test-node", view="input").text().splitlines()
    assert _expected("masquerade-all") in lines
    assert _expected("detector") not in lines


def test_nftables_mode_ignores_iptables_masquerade_all() -> None:
    lines = rules(overall("nftables", iptables={"masqueradeAll": True}), "test-node", view="input").text().splitlines()
    assert _expected("detector") in lines
    assert _expected("masquerade-all") not in lines


def test_iptables_and_ipvs_ignore_nftables_masquerade_all() -> None:
    c = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"]), nftables={"masqueradeAll": True})
    assert "-j KUBE-MARK-MASQ" in str(rules(c, "n1"))  # the detector rule only
    assert "--dport 80 -j KUBE-MARK-MASQ" not in str(rules(c, "n1"))
    assert proxy_settings(c, "n1", "ipvs")["masquerade_all"] is False
    assert proxy_settings(c, "n1", "nftables")["masquerade_all"] is True


@pytest.mark.parametrize(("mode", "section", "mark"), [
    ("nftables", "nftables", "0x8000"), ("nftables", "iptables", "0x4000"),
    ("iptables", "iptables", "0x8000"), ("iptables", "nftables", "0x4000"),
    ("ipvs", "iptables", "0x8000"), ("ipvs", "nftables", "0x4000"),
])
def test_masquerade_bit_section_per_mode(mode: str, section: str, mark: str) -> None:
    c = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"]), mode=mode, **{section: {"masqueradeBit": 15}})
    assert proxy_settings(c, "n1")["mark"] == mark
    text = str(rules(c, "n1"))
    if mode == "nftables":
        assert f"mark set mark or {mark}" in text
    else:
        assert f"--or-mark {mark}" in text


def test_masquerade_all_traces_as_masqueraded_in_nftables() -> None:
    c = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"]), mode="nftables", nftables={"masqueradeAll": True})
    assert trace(c, "n1", "10.0.5.5", "10.96.0.5:80").masquerade is True  # from a pod: only masqueradeAll does it
    c2 = small(service("web", "10.96.0.5"), slice_("web", ["10.0.0.1"]), mode="nftables", iptables={"masqueradeAll": True})
    assert trace(c2, "n1", "10.0.5.5", "10.96.0.5:80").masquerade is False
