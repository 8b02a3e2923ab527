"""kube-proxy's topology filtering, against its own TestCategorizeEndpoints cases
(``data/proxy/upstream_topology.yaml``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelearn.proxy.endpoints import Endpoint, ServicePort, categorize_endpoints

CASES = yaml.safe_load((Path(__file__).parent / "data" / "proxy" / "upstream_topology.yaml").read_text())["cases"]
NODE = "test-node"


def _sp(case: dict[str, Any]) -> ServicePort:
    svc = case.get("svc") or {}
    eps = []
    for e in case["eps"]:
        ip, port = e["ep"].rsplit(":", 1)
        eps.append(Endpoint(ip, int(port), (case.get("node") or NODE) if e.get("local") else "elsewhere",
                            bool(e.get("ready")), bool(e.get("serving")), bool(e.get("terminating")), "",
                            frozenset(e.get("zones") or ()), frozenset(e.get("nodes") or ())))
    eps.sort(key=lambda e: e.address)
    return ServicePort("ns", "svc", "", "TCP", 80, "10.96.0.1", node_port=svc.get("node_port", 0),
                       external_local=bool(svc.get("etp_local")), internal_local=bool(svc.get("itp_local")),
                       endpoints=tuple(eps))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["name"])
def test_categorize_endpoints(case: dict[str, Any]) -> None:
    sp = _sp(case)
    cat = categorize_endpoints(sp, case.get("node") or NODE, case.get("zone") or "", bool(case.get("prefer_same_node")))
    if case["cluster"] is None:
        assert not sp.uses_cluster_endpoints and cat.cluster == ()
    else:
        assert sorted(e.address for e in cat.cluster) == sorted(case["cluster"])
    if case["local"] is None:
        assert not sp.uses_local_endpoints and cat.local == ()
    else:
        assert sorted(e.address for e in cat.local) == sorted(case["local"])
    if case["cluster"] is not None and case["local"] is None:
        want_all = case["cluster"]
    elif case["local"] is not None and case["cluster"] is None:
        want_all = case["local"]
    else:
        want_all = case["all"]
    assert sorted(e.address for e in cat.all_reachable) == sorted(want_all)
    assert cat.has_any_endpoints == (len(want_all) > 0 or bool(case.get("only_remote")))
