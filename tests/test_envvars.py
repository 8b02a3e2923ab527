"""The kubelet's Service environment variables (discovery-api-facts §A)."""

from __future__ import annotations

import pytest
from discovery_builders import cluster, kube_dns_service, kubernetes_service, pod, service

from kubelearn.cluster import Cluster
from kubelearn.discovery.envvars import EnvVarSourceError, container_env, expand, service_env, service_variables
from kubelearn.errors import KubelearnError, NotFoundError


def test_one_unnamed_port_gives_seven_variables_in_emission_order() -> None:
    """foo-bar (1.2.3.4, 8080/TCP, unnamed): the upstream envvars_test family, in order."""
    got = service_variables(service("foo-bar", "1.2.3.4", [(8080, "TCP", "")]))
    assert list(got.items()) == [
        ("FOO_BAR_SERVICE_HOST", "1.2.3.4"),
        ("FOO_BAR_SERVICE_PORT", "8080"),
        ("FOO_BAR_PORT", "tcp://1.2.3.4:8080"),
        ("FOO_BAR_PORT_8080_TCP", "tcp://1.2.3.4:8080"),
        ("FOO_BAR_PORT_8080_TCP_PROTO", "tcp"),
        ("FOO_BAR_PORT_8080_TCP_PORT", "8080"),
        ("FOO_BAR_PORT_8080_TCP_ADDR", "1.2.3.4"),
    ]


def test_two_named_ports_same_number_first_port_rule() -> None:
    """abc-123 [u-d-p 8081/UDP, t-c-p 8081/TCP]: 13 variables; ABC_123_PORT uses the first (UDP) port."""
    got = service_variables(service("abc-123", "5.6.7.8", [(8081, "UDP", "u-d-p"), (8081, "TCP", "t-c-p")]))
    assert len(got) == 13
    assert list(got)[:4] == ["ABC_123_SERVICE_HOST", "ABC_123_SERVICE_PORT", "ABC_123_SERVICE_PORT_U_D_P",
                             "ABC_123_SERVICE_PORT_T_C_P"]
    assert got["ABC_123_PORT"] == "udp://5.6.7.8:8081"
    assert got["ABC_123_PORT_8081_UDP"] == "udp://5.6.7.8:8081"
    assert got["ABC_123_PORT_8081_UDP_PROTO"] == "udp"
    assert got["ABC_123_PORT_8081_TCP"] == "tcp://5.6.7.8:8081"
    assert got["ABC_123_PORT_8081_TCP_ADDR"] == "5.6.7.8"


def test_numeric_port_name_and_unnamed_first_port() -> None:
    """q-u-u-x [8082 unnamed, "8083" named]: only the named port gets SERVICE_PORT_<NAME>."""
    got = service_variables(service("q-u-u-x", "9.8.7.6", [(8082, "TCP", ""), (8083, "TCP", "8083")]))
    assert got["Q_U_U_X_SERVICE_PORT"] == "8082"
    assert got["Q_U_U_X_SERVICE_PORT_8083"] == "8083"
    assert [k for k in got if k.startswith("Q_U_U_X_SERVICE_PORT_")] == ["Q_U_U_X_SERVICE_PORT_8083"]
    assert got["Q_U_U_X_PORT"] == "tcp://9.8.7.6:8082"
    assert len(got) == 2 + 1 + 1 + 4 * 2


def test_ipv6_brackets_only_in_url_values() -> None:
    """super-ipv6 2001:DB8::: URLs bracketed, HOST and ADDR bare, case kept."""
    got = service_variables(service("super-ipv6", "2001:DB8::", [(8084, "UDP", "u-d-p"), (8084, "TCP", "t-c-p")]))
    assert got["SUPER_IPV6_SERVICE_HOST"] == "2001:DB8::"
    assert got["SUPER_IPV6_PORT"] == "udp://[2001:DB8::]:8084"
    assert got["SUPER_IPV6_PORT_8084_TCP"] == "tcp://[2001:DB8::]:8084"
    assert got["SUPER_IPV6_PORT_8084_TCP_ADDR"] == "2001:DB8::"


def test_sctp_port() -> None:
    """sctp-1: protocol lower-cased in values, upper-cased in names."""
    got = service_variables(service("sctp-1", "1.2.3.4", [(777, "SCTP", "s-c-t-p")]))
    assert got["SCTP_1_PORT"] == "sctp://1.2.3.4:777"
    assert got["SCTP_1_PORT_777_SCTP_PROTO"] == "sctp"
    assert got["SCTP_1_SERVICE_PORT_S_C_T_P"] == "777"


@pytest.mark.parametrize("svc", [
    service("headless", "None", [(80, "TCP", "")]),
    service("unallocated", "", [(80, "TCP", "")]),
    service("ext", type="ExternalName", external_name="db.example.com", ports=[]),
])
def test_services_without_cluster_ip_give_nothing(svc: dict) -> None:  # type: ignore[type-arg]
    """Headless, ExternalName and unallocated Services produce no variables."""
    assert service_variables(svc) == {}
    c = cluster(svc, pod("p"))
    assert service_env(c, "p") == {}


def test_kubernetes_service_variables_of_every_pod() -> None:
    """§A.7: the eight KUBERNETES_* variables on a kubeadm cluster, even in another namespace."""
    c = cluster(kubernetes_service(), pod("p", namespace="team-a"))
    assert service_env(c, "p", "team-a") == {
        "KUBERNETES_SERVICE_HOST": "10.96.0.1",
        "KUBERNETES_SERVICE_PORT": "443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "443",
        "KUBERNETES_PORT": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP": "tcp://10.96.0.1:443",
        "KUBERNETES_PORT_443_TCP_PROTO": "tcp",
        "KUBERNETES_PORT_443_TCP_PORT": "443",
        "KUBERNETES_PORT_443_TCP_ADDR": "10.96.0.1",
    }


def test_kube_dns_variables_only_in_kube_system() -> None:
    """kube-dns lives in kube-system: its pods see KUBE_DNS_*, pods in default do not."""
    c = cluster(kubernetes_service(), kube_dns_service(), pod("dns-client", namespace="kube-system"), pod("p"))
    sys_env = service_env(c, "dns-client", "kube-system")
    assert sys_env["KUBE_DNS_SERVICE_HOST"] == "10.96.0.10"
    assert sys_env["KUBE_DNS_PORT"] == "udp://10.96.0.10:53"
    assert sys_env["KUBE_DNS_SERVICE_PORT_DNS_TCP"] == "53"
    assert sys_env["KUBE_DNS_PORT_53_TCP"] == "tcp://10.96.0.10:53"
    assert sys_env["KUBE_DNS_PORT_9153_TCP_PORT"] == "9153"
    assert not any(k.startswith("KUBE_DNS") for k in service_env(c, "p"))


def test_redis_master_example() -> None:
    """The docs' example (10.0.0.11, 6379/TCP, unnamed): rows 1, 2, 4 and 5 of §A.2."""
    c = cluster(service("redis-master", "10.0.0.11", [(6379, "TCP", "")]), pod("frontend"))
    assert service_env(c, "frontend") == {
        "REDIS_MASTER_SERVICE_HOST": "10.0.0.11",
        "REDIS_MASTER_SERVICE_PORT": "6379",
        "REDIS_MASTER_PORT": "tcp://10.0.0.11:6379",
        "REDIS_MASTER_PORT_6379_TCP": "tcp://10.0.0.11:6379",
        "REDIS_MASTER_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_MASTER_PORT_6379_TCP_PORT": "6379",
        "REDIS_MASTER_PORT_6379_TCP_ADDR": "10.0.0.11",
    }


def _kubelet_test_cluster(links: bool = True) -> Cluster:
    # The services of the kubelet's TestMakeEnvironmentVariables.
    return cluster(
        service("kubernetes", "1.2.3.1", [(8081, "TCP", "")]),
        service("test", "1.2.3.3", [(8083, "TCP", "")], namespace="test1"),
        service("kubernetes", "1.2.3.4", [(8084, "TCP", "")], namespace="test2"),
        service("test", "1.2.3.5", [(8085, "TCP", "")], namespace="test2"),
        service("test", "None", [(8086, "TCP", "")], namespace="test3"),
        pod("p1", namespace="test1", enableServiceLinks=links,
            env=[{"name": "FOO", "value": "BAR"},
                 {"name": "TEST_SERVICE_HOST", "value": "1.2.3.3"},
                 {"name": "COMPOSITE", "value": "$(TEST_SERVICE_HOST):$(TEST_SERVICE_PORT)"},
                 {"name": "LATER", "value": "$(OUT_OF_ORDER)"},
                 {"name": "OUT_OF_ORDER", "value": "x"},
                 {"name": "MISSING", "value": "$(UNDEFINED_VAR)"}]),
        pod("p2", namespace="test2", enableServiceLinks=links),
    )


def test_other_namespaces_services_are_not_injected() -> None:
    """A pod in test1 sees test1's Services and default/kubernetes, nothing from test2."""
    env = service_env(_kubelet_test_cluster(), "p1", "test1")
    assert env["TEST_SERVICE_HOST"] == "1.2.3.3"
    assert env["KUBERNETES_SERVICE_HOST"] == "1.2.3.1"
    assert "1.2.3.5" not in env.values() and "1.2.3.4" not in env.values()


def test_master_service_in_pod_namespace_wins() -> None:
    """Upstream 'master service in pod ns': test2/kubernetes beats default/kubernetes."""
    env = service_env(_kubelet_test_cluster(), "p2", "test2")
    assert env["KUBERNETES_SERVICE_HOST"] == "1.2.3.4"
    assert env["KUBERNETES_PORT"] == "tcp://1.2.3.4:8084"
    assert env["TEST_SERVICE_HOST"] == "1.2.3.5"


def test_links_disabled_keeps_only_default_kubernetes() -> None:
    """enableServiceLinks: false: only default/kubernetes, whatever the pod's namespace holds."""
    env = service_env(_kubelet_test_cluster(links=False), "p2", "test2")
    assert env["KUBERNETES_SERVICE_HOST"] == "1.2.3.1"
    assert not any(k.startswith("TEST_") for k in env)
    assert len(env) == 7


def test_container_env_user_values_win_and_expand() -> None:
    """env entries beat Service variables; $(VAR) expands, undefined/out-of-order refs stay literal."""
    env = container_env(_kubelet_test_cluster(), "p1", "test1")
    assert env["FOO"] == "BAR"
    assert env["COMPOSITE"] == "1.2.3.3:8083"
    assert env["LATER"] == "$(OUT_OF_ORDER)"
    assert env["MISSING"] == "$(UNDEFINED_VAR)"
    assert env["TEST_SERVICE_PORT"] == "8083"
    assert env["HOSTNAME"] == "p1"
    assert list(env) == sorted(env)


def test_user_env_overrides_generated_variable() -> None:
    """A container env KUBERNETES_SERVICE_HOST beats the kubelet's value."""
    c = cluster(kubernetes_service(), pod("p", env=[{"name": "KUBERNETES_SERVICE_HOST", "value": "override"}]))
    env = container_env(c, "p")
    assert env["KUBERNETES_SERVICE_HOST"] == "override"
    assert env["KUBERNETES_SERVICE_PORT"] == "443"


def test_late_service_is_not_visible() -> None:
    """A Service created after the pod started is absent; a pod created later sees it."""
    c = cluster(kubernetes_service(), pod("early"))
    c = c.at(60).with_objects([service("late", "10.96.200.1", [(80, "TCP", "")]), pod("later", ip="10.244.1.9")])
    assert not any(k.startswith("LATE_") for k in service_env(c, "early"))
    assert service_env(c, "later")["LATE_SERVICE_HOST"] == "10.96.200.1"
    # Same second: creation order decides.
    same = cluster(pod("first"), service("svc", "10.96.3.3"), pod("second", ip="10.244.1.8"))
    assert "SVC_SERVICE_HOST" not in service_env(same, "first")
    assert "SVC_SERVICE_HOST" in service_env(same, "second")


def test_unstored_pod_sees_every_service() -> None:
    """A Pod object not yet in the cluster starts after every stored Service."""
    c = cluster(kubernetes_service(), service("web", "10.96.5.5"))
    env = service_env(c, pod("new"))
    assert env["WEB_SERVICE_HOST"] == "10.96.5.5"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"


def test_field_ref_and_unsupported_sources() -> None:
    """fieldRef to the pod's own fields works; ConfigMaps and Secrets raise a clear error."""
    p = pod("p", env=[{"name": "MY_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                      {"name": "MY_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}])
    env = container_env(cluster(p), "p")
    assert env["MY_IP"] == "10.244.1.5" and env["MY_NS"] == "default"
    bad = pod("q", env=[{"name": "X", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}])
    with pytest.raises(EnvVarSourceError, match="secretKeyRef"):
        container_env(cluster(bad), "q")
    assert issubclass(EnvVarSourceError, KubelearnError)


def test_unknown_pod_and_container() -> None:
    """NotFound in kubectl's words; unknown container named."""
    c = cluster(pod("p"))
    with pytest.raises(NotFoundError, match='pods "nope" not found'):
        service_env(c, "nope")
    with pytest.raises(KubelearnError, match="container sidecar not found"):
        container_env(c, "p", container="sidecar")


def test_expand_escapes() -> None:
    """$$ escapes; a lone $ and an unterminated $( stay."""
    assert expand("$$(A) $(A) $A $(A", {"A": "1"}) == "$(A) 1 $A $(A"


def test_integration_late_service_through_apply_and_replacement_pod() -> None:
    """Through load/apply/controllers: running pods miss a new Service; their replacement sees it."""
    from pathlib import Path

    from kubelearn import scenarios

    c = scenarios.default_scenario().at(60).apply(str(Path(__file__).parent / "data/discovery/good-service.yaml"))
    old = [p["metadata"]["name"] for p in c.list("Pod", "default")]
    assert old and all(not any(k.startswith("REDIS_MASTER_") for k in service_env(c, n)) for n in old)
    assert service_env(c, old[0])["MY_SERVICE_SERVICE_PORT"] == "80"
    c = c.at(120).delete_pod(old[0])
    new = [p["metadata"]["name"] for p in c.list("Pod", "default") if p["metadata"]["name"] not in old]
    assert len(new) == 1
    env = service_env(c, new[0])
    assert env["REDIS_MASTER_SERVICE_HOST"] == c.get("Service", "redis-master")["spec"]["clusterIP"]
    assert env["REDIS_MASTER_PORT_6379_TCP_PORT"] == "6379"


def test_dual_stack_uses_primary_ip_only() -> None:
    """Only spec.clusterIP appears; the secondary clusterIPs entry never does."""
    svc = service("dual", "10.96.9.9", [(80, "TCP", "")])
    svc["spec"]["clusterIPs"] = ["10.96.9.9", "fd00::9"]
    got = service_variables(svc)
    assert got["DUAL_SERVICE_HOST"] == "10.96.9.9"
    assert not any("fd00" in v for v in got.values())
