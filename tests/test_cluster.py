"""The cluster is a value: storing objects returns a new cluster and stamps metadata."""

import pytest

from kubelearn.cluster import Cluster, kind_info
from kubelearn.errors import NotFoundError


def _svc(name: str, ns: str = "default") -> dict:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns},
            "spec": {"ports": [{"port": 80}]}}


def test_with_object_returns_new_cluster_and_keeps_old() -> None:
    """The original cluster is unchanged after an edit."""
    empty = Cluster()
    one = empty.with_object(_svc("web"))
    assert empty.services() == []
    assert [s["metadata"]["name"] for s in one.services()] == ["web"]
    assert one.get("svc", "web")["metadata"]["resourceVersion"] == "1"


def test_replace_keeps_uid_and_creation_time() -> None:
    """Updating an object keeps its identity and bumps resourceVersion."""
    c1 = Cluster().with_object(_svc("web"))
    c2 = c1.at(60).with_object(_svc("web"))
    a, b = c1.get("Service", "web"), c2.get("Service", "web")
    assert a["metadata"]["uid"] == b["metadata"]["uid"]
    assert a["metadata"]["creationTimestamp"] == b["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"
    assert b["metadata"]["resourceVersion"] == "2"


def test_lookups_by_kind_names_and_namespaces() -> None:
    """Kinds resolve by name, plural and short name; namespaces filter lists."""
    c = Cluster().with_objects([_svc("a"), _svc("b", "prod")])
    assert kind_info("svc").kind == kind_info("services").kind == kind_info("Service").kind == "Service"
    assert [s["metadata"]["name"] for s in c.services("prod")] == ["b"]
    assert len(c.list("Service")) == 2
    with pytest.raises(NotFoundError, match=r'services "a" not found'):
        c.get("Service", "a", "prod")
    with pytest.raises(NotFoundError, match="doesn't have a resource type \"widgets\""):
        kind_info("widgets")


def test_uids_are_deterministic() -> None:
    """Same seed and history, same uid: nbval-friendly."""
    assert (Cluster(seed=3).with_object(_svc("a")).get("Service", "a")["metadata"]["uid"]
            == Cluster(seed=3).with_object(_svc("a")).get("Service", "a")["metadata"]["uid"])
    assert (Cluster(seed=3).with_object(_svc("a")).get("Service", "a")["metadata"]["uid"]
            != Cluster(seed=4).with_object(_svc("a")).get("Service", "a")["metadata"]["uid"])


def test_without_and_repr() -> None:
    """Removing an object and printing a cluster."""
    c = Cluster().with_objects([_svc("a"), _svc("b")]).without("Service", "a")
    assert [s["metadata"]["name"] for s in c.services()] == ["b"]
    assert "1 services" in repr(c) and "iptables" in repr(c)
    with pytest.raises(NotFoundError, match=r'Error from server \(NotFound\): services "a" not found'):
        c.without("Service", "a")


def test_uid_does_not_depend_on_unrelated_objects_but_changes_on_recreation() -> None:
    """A uid is a function of the seed, the object's key and how often that key was created."""
    alone = Cluster().with_object(_svc("web")).get("Service", "web")["metadata"]["uid"]
    after_others = Cluster().with_objects([_svc("a"), _svc("b"), _svc("web")]).get("Service", "web")["metadata"]["uid"]
    assert alone == after_others
    again = Cluster().with_object(_svc("web")).without("Service", "web").with_object(_svc("web"))
    assert again.get("Service", "web")["metadata"]["uid"] != alone
