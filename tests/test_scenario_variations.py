"""Variations on a scenario, built as a learner would change a cluster: what the widgets draw, with no widget."""

from __future__ import annotations

from kubelearn.scenarios import (
    CLIENT_APP,
    ServiceSettings,
    client_deployment,
    default_scenario,
    explore_service,
    service_manifest,
    teaching_events,
    with_proxy_mode,
)


def test_explore_service_applies_the_settings_and_simulates() -> None:
    result = explore_service(ServiceSettings(replicas=5, connections=500, clients=4))
    assert result.error is None and result.cluster is not None and result.log is not None
    assert result.service == "default/my-service"
    pods = {p["metadata"]["name"] for p in result.cluster.pods() if p["metadata"]["name"].startswith("my-app-")}
    assert len(pods) == 5 and len(result.log) == 500
    assert set(result.log["pod"].astype(str)) <= pods
    assert abs(sum(result.predicted.values()) - 1) < 1e-9 and len(result.predicted) == 5
    clients = [p for p in result.cluster.pods() if (p["metadata"].get("labels") or {}).get("app") == CLIENT_APP]
    assert len(clients) == 4


def test_explore_service_returns_the_api_servers_refusal() -> None:
    result = explore_service(ServiceSettings(type="NodePort", headless=True, connections=100))
    assert result.log is None and result.error and "clusterIP" in result.error


def test_service_manifest_and_proxy_mode() -> None:
    base = default_scenario()
    svc = base.get("Service", "my-service")
    m = service_manifest(ServiceSettings(session_affinity="ClientIP", affinity_timeout=60), svc)
    assert m["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 60}}
    assert "clusterIP" not in m["spec"]  # allocated again by the API server
    assert with_proxy_mode(base, "ipvs", "lc").proxy_config["ipvs"]["scheduler"] == "lc"
    assert client_deployment(2)["spec"]["replicas"] == 2


def test_teaching_events_scale_crash_and_scale_down() -> None:
    from kubelearn.traffic import default_workload

    base = default_scenario()
    events = teaching_events(base, default_workload(base))
    assert [next(k for k in e if k != "at") for e in events] == ["scale", "crashPod", "scale"]
    assert events[0]["scale"] == {"deployment": "my-app", "replicas": 5}
