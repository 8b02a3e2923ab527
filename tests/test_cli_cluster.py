"""`kubelearn get|describe|validate|env|dns` through kubelearn.cli.main, on the default scenario."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("kubelearn.scenarios", reason="kubelearn.scenarios (default scenario) is not built yet")
pytest.importorskip("kubelearn.apply", reason="kubelearn.apply (load) is not built yet")

from kubelearn import scenarios  # noqa: E402
from kubelearn.cli import main  # noqa: E402
from kubelearn.kubectl import ENDPOINTS_WARNING  # noqa: E402

DATA = Path(__file__).parent / "data" / "discovery"


_BUILD = scenarios.default_scenario


@functools.lru_cache(maxsize=4)
def _scenario(seed: int = 0) -> Any:
    return _BUILD(seed=seed)


@pytest.fixture(autouse=True)
def _cached_scenario(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every CLI call would rebuild the same (deterministic) default scenario; build it once.
    monkeypatch.setattr(scenarios, "default_scenario", _scenario)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _columns(line: str, header: str) -> list[str]:
    """Split a table row at the header's column starts (tabwriter alignment)."""
    starts = [i for i, ch in enumerate(header) if ch != " " and (i == 0 or header[i - 1] == " " and header[i - 2] == " ")]
    return [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]


def test_get_svc_default_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """kubernetes and my-service, aligned under kubectl's headers, values from the cluster."""
    code, out, err = run(capsys, "get", "svc")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    ip = _scenario().get("Service", "my-service")["spec"]["clusterIP"]
    assert _columns(lines[1], lines[0]) == ["kubernetes", "ClusterIP", "10.96.0.1", "<none>", "443/TCP", "0s"]
    assert _columns(lines[2], lines[0]) == ["my-service", "ClusterIP", ip, "<none>", "80/TCP", "0s"]
    assert lines[0].startswith("NAME         TYPE        CLUSTER-IP")


def test_get_pods_default_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """Three Running, ready replicas of my-app, sorted by name; -o wide shows their IPs and nodes."""
    code, out, _ = run(capsys, "get", "pods", "-o", "wide")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:5] == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    pods = sorted(_scenario().list("Pod", "default"), key=lambda p: p["metadata"]["name"])
    assert len(lines) == 1 + len(pods) == 4
    for line, p in zip(lines[1:], pods, strict=True):
        assert _columns(line, lines[0]) == [p["metadata"]["name"], "1/1", "Running", "0", "0s", p["status"]["podIP"],
                                            p["spec"]["nodeName"], "<none>", "<none>"]


def test_get_endpoints_warning_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    """The v1.33 deprecation warning goes to stderr; ENDPOINTS lists ready ip:9376 pairs."""
    code, out, err = run(capsys, "get", "ep")
    assert code == 0 and err == ENDPOINTS_WARNING + "\n"
    row = next(line for line in out.splitlines() if line.startswith("my-service"))
    ips = sorted(p["status"]["podIP"] for p in _scenario().list("Pod", "default"))
    assert set(row.split()[1].split(",")) == {f"{ip}:9376" for ip in ips}


def test_get_endpointslices_and_nodes(capsys: pytest.CaptureFixture[str]) -> None:
    """EndpointSlice columns; three kind nodes with the control-plane role."""
    code, out, _ = run(capsys, "get", "endpointslices")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
    my = next(line for line in lines if line.startswith("my-service-"))
    assert my.split()[1:3] == ["IPv4", "9376"]
    code, out, _ = run(capsys, "get", "nodes")
    assert out.splitlines() == [
        "NAME                 STATUS   ROLES           AGE   VERSION",
        "kind-control-plane   Ready    control-plane   0s    v1.35.0",
        "kind-worker          Ready    <none>          0s    v1.35.0",
        "kind-worker2         Ready    <none>          0s    v1.35.0",
    ]


def test_get_json_and_name(capsys: pytest.CaptureFixture[str]) -> None:
    """-o json of one object; -o name for a list; KIND/NAME form."""
    code, out, _ = run(capsys, "get", "svc/my-service", "-o", "json")
    assert code == 0 and json.loads(out)["metadata"]["name"] == "my-service"
    code, out, _ = run(capsys, "get", "deploy", "-o", "name")
    assert out == "deployment.apps/my-app\n"


def test_describe_service_default_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    """describe svc my-service, field for field (§G.3)."""
    svc = _scenario().get("Service", "my-service")
    ip = svc["spec"]["clusterIP"]
    eps = sorted(p["status"]["podIP"] for p in _scenario().list("Pod", "default"))
    for argv in (["describe", "service", "my-service"], ["describe", "svc/my-service"]):
        code, out, err = run(capsys, *argv)
        assert code == 0 and err == ""
        lines = out.splitlines()
        assert lines[:12] == [
            "Name:                     my-service",
            "Namespace:                default",
            "Labels:                   <none>",
            "Annotations:              <none>",
            f"Selector:                 {','.join(f'{k}={v}' for k, v in sorted(svc['spec']['selector'].items()))}",
            "Type:                     ClusterIP",
            "IP Family Policy:         SingleStack",
            "IP Families:              IPv4",
            f"IP:                       {ip}",
            f"IPs:                      {ip}",
            "Port:                     <unset>  80/TCP",
            "TargetPort:               9376/TCP",
        ]
        assert lines[12].startswith("Endpoints:                ")
        assert sorted(lines[12].split()[1].split(",")) == sorted(f"{e}:9376" for e in eps)
        assert lines[13:] == ["Session Affinity:         None", "Internal Traffic Policy:  Cluster",
                              "Events:                   <none>"]


def test_env_sorted_key_value(capsys: pytest.CaptureFixture[str]) -> None:
    """env POD: KEY=VALUE lines, sorted, with MY_SERVICE_* and KUBERNETES_*."""
    name = _scenario().list("Pod", "default")[0]["metadata"]["name"]
    code, out, _ = run(capsys, "env", name)
    assert code == 0
    lines = out.splitlines()
    assert lines == sorted(lines)
    ip = _scenario().get("Service", "my-service")["spec"]["clusterIP"]
    assert f"MY_SERVICE_SERVICE_HOST={ip}" in lines and f"MY_SERVICE_PORT=tcp://{ip}:80" in lines
    assert "KUBERNETES_SERVICE_HOST=10.96.0.1" in lines and f"HOSTNAME={name}" in lines


def test_dns_text_and_json(capsys: pytest.CaptureFixture[str]) -> None:
    """dns NAME: a dig-like session; -o json with queries, rcode, answer."""
    ip = _scenario().get("Service", "my-service")["spec"]["clusterIP"]
    code, out, _ = run(capsys, "dns", "my-service")
    assert code == 0 and f"my-service.default.svc.cluster.local.\t30\tIN\tA\t{ip}" in out
    code, out, _ = run(capsys, "dns", "default.my-service", "-o", "json")
    data = json.loads(out)
    assert code == 0 and data["rcode"] == "NXDOMAIN" and data["answer"] == []
    assert [q["name"] for q in data["queries"]][1] == "default.my-service.svc.cluster.local."
    code, out, _ = run(capsys, "dns", "kube-dns.kube-system", "--type", "srv", "-o", "json")
    assert json.loads(out)["answer"][0]["type"] == "SRV"


def test_validate(capsys: pytest.CaptureFixture[str]) -> None:
    """validate: 'valid' and exit 0, or the API server's message on stderr and exit 1."""
    code, out, _ = run(capsys, "validate", "-f", str(DATA / "good-service.yaml"))
    assert (code, out) == (0, "valid\n")
    code, out, err = run(capsys, "validate", "-f", str(DATA / "bad-service.yaml"))
    assert code == 1 and out == ""
    assert err.startswith('The Service "my-service" is invalid: spec.ports[0].nodePort: Invalid value: 80')
    code, _, err = run(capsys, "validate")
    assert code == 1 and err == "error: must specify one of -f and -k\n"


def test_headless_statefulset_via_files(capsys: pytest.CaptureFixture[str]) -> None:
    """-f a headless Service + StatefulSet: web-0.nginx resolves to web-0's pod IP."""
    code, out, _ = run(capsys, "dns", "web-0.nginx", "-o", "json", "-f", str(DATA / "headless.yaml"))
    from kubelearn.apply import load

    ip = load(str(DATA / "headless.yaml")).get("Pod", "web-0")["status"]["podIP"]
    assert code == 0 and json.loads(out)["answer"][0]["data"] == ip


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["get", "widgets"], 1, 'error: the server doesn\'t have a resource type "widgets"'),
    (["get", "svc", "nope"], 1, 'Error from server (NotFound): services "nope" not found'),
    (["describe", "svc", "nope"], 1, 'Error from server (NotFound): services "nope" not found'),
    (["describe", "deployment", "my-app"], 1, "describes services and pods only"),
    (["env", "nope"], 1, 'Error from server (NotFound): pods "nope" not found'),
    (["get", "svc", "-o", "xml"], 2, "invalid choice: 'xml'"),
    (["dns", "x", "--type", "MX"], 2, "invalid choice: 'MX'"),
    (["get"], 2, "the following arguments are required: KIND"),
])
def test_errors_exit_codes_no_traceback(capsys: pytest.CaptureFixture[str], argv: list[str], code: int,
                                        message: str) -> None:
    """User errors exit 1 with kubectl's words, usage errors 2; never a traceback."""
    got, out, err = run(capsys, *argv)
    assert got == code
    assert message in err and "Traceback" not in err and out == ""
