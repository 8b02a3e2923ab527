"""The stored kernel results lesson 07 falls back to still describe today's cluster.

Lesson 07 runs the network-namespace lab where it can and otherwise reads results recorded on a
real kernel.  If generated names change (a new seed rule), those files go stale and the lesson
would teach "kernel and simulator disagree"; this test catches that.
"""

from pathlib import Path

import kubelearn as kl

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def test_stored_kernel_run_matches_todays_simulation() -> None:
    """Same pods as the lesson's manifest produces, and the comparison agrees."""
    kernel = kl.read_log(NOTEBOOKS / "data" / "07-my-service-kernel.csv")
    cluster = kl.load(NOTEBOOKS / "manifests" / "07-my-service.yaml")
    wl = kl.workload(kl.pod_clients(selector={"app": "client"}), kl.cluster_ip("my-service", 80), connections=600)
    sim = kl.simulate(cluster, wl, seed=0)
    assert set(kernel["pod"].astype(str)) - {""} == set(sim["pod"].astype(str)) - {""}
    assert kl.compare(sim, kernel).consistent


def test_stored_local_policy_run_shows_the_drop() -> None:
    """The eTP=Local kernel run: answered through kind-worker, dropped through kind-worker2."""
    kernel = kl.read_log(NOTEBOOKS / "data" / "07-web-local-kernel.csv")
    by_node = kernel.groupby(kernel["entry_node"].astype(str))["outcome"].agg(lambda s: set(s.astype(str)))
    assert by_node["kind-worker"] == {"ok"} and by_node["kind-worker2"] == {"dropped"}
    answered = kernel[kernel["outcome"] == "ok"]
    assert (answered["seen_src_ip"].astype(str) == answered["src_ip"].astype(str)).all()
