"""The node dump lesson 10 reads was printed by the real kernel, and still fits today's cluster.

``notebooks/data/10-kind-worker-iptables-save.txt`` is what ``iptables-save`` printed inside the
network-namespace lab's ``kind-worker`` after the lab loaded kubelearn's rules for lesson 07's
manifest, with kindnet's masquerade-agent chain added as a kind node has it.  Re-record it as root:

    KUBELEARN_RECORD_LESSON_DATA=1 .venv/bin/python -m pytest tests/test_recorded_node_dump.py -m netlab

The first test fails when a change to the rules (names, order, probabilities) makes the stored dump
stale; the netlab test checks that the kernel still prints it (up to its date stamps).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from test_netlab_support import requires_lab

import kubelearn as kl

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
DUMP = NOTEBOOKS / "data" / "10-kind-worker-iptables-save.txt"
MANIFEST = NOTEBOOKS / "manifests" / "07-my-service.yaml"
NODE = "kind-worker"
# kindnet's masquerade agent (chain KIND-MASQ-AGENT), with the comments a kind node shows.
KINDNET = [
    ["iptables", "-t", "nat", "-N", "KIND-MASQ-AGENT"],
    ["iptables", "-t", "nat", "-A", "POSTROUTING", "-m", "addrtype", "!", "--dst-type", "LOCAL", "-m", "comment",
     "--comment", "kind-masq-agent: ensure nat POSTROUTING directs all non-LOCAL destination traffic to our custom "
     "KIND-MASQ-AGENT chain", "-j", "KIND-MASQ-AGENT"],
    ["iptables", "-t", "nat", "-A", "KIND-MASQ-AGENT", "-d", "10.244.0.0/16", "-m", "comment", "--comment",
     "kind-masq-agent: local traffic is not subject to MASQUERADE", "-j", "RETURN"],
    ["iptables", "-t", "nat", "-A", "KIND-MASQ-AGENT", "-m", "comment", "--comment",
     "kind-masq-agent: outbound traffic is subject to MASQUERADE (must be last in chain)", "-j", "MASQUERADE"],
]
_STAMP = re.compile(r" on \w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}$", re.M)


def test_stored_dump_agrees_with_todays_cluster() -> None:
    cluster = kl.load(MANIFEST)
    nr = kl.read_rules_file(DUMP, local_ips=[cluster.node_ip(NODE)])
    assert nr.mode == "iptables" and "nat KIND-MASQ-AGENT (kindnet)" in nr.foreign
    assert kl.diff_rules(nr, cluster, NODE).agree
    (svc,) = [r for r in kl.explain_rules(nr) if r.service == "default/my-service"]
    assert [e["probability"] for e in svc.endpoints] == pytest.approx([1 / 3] * 3)
    client = next(p["status"]["podIP"] for p in cluster.pods() if p["metadata"]["labels"].get("app") == "client")
    assert kl.trace_rules(nr, client, "10.96.125.37:80").to_dict()["destinations"] == \
        kl.trace(cluster, NODE, client, "10.96.125.37:80").to_dict()["destinations"]


@pytest.mark.netlab
@requires_lab()
def test_the_kernel_still_prints_the_stored_dump() -> None:
    from kubelearn.netlab import host

    cluster = kl.load(MANIFEST)
    with kl.NetLab(cluster, mode="iptables") as lab:
        ns = lab.plan.node(NODE).ns  # type: ignore[union-attr]
        for argv in KINDNET:
            host.run_in(ns, argv)
        text = lab.kernel_rules(NODE).text
    if os.environ.get("KUBELEARN_RECORD_LESSON_DATA"):
        DUMP.write_text(text)
    assert _STAMP.sub("", text) == _STAMP.sub("", DUMP.read_text())
