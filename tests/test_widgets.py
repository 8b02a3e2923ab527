"""Tests for kubelearn.widgets: drive every control from code and check the model and the picture."""

from __future__ import annotations

import sys

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

pytest.importorskip("ipywidgets", reason="kubelearn.widgets needs ipywidgets (the notebooks extra)")

from kubelearn.errors import KubelearnError  # noqa: E402
from kubelearn.plots import KubelearnFigure  # noqa: E402
from kubelearn.scenarios import default_scenario  # noqa: E402
from kubelearn.widgets import (  # noqa: E402
    MISSING_IPYWIDGETS,
    DnsExplorer,
    MissingExtraError,
    PacketTracer,
    ServiceExplorer,
    ServiceSettings,
    TimelinePlayer,
    explain_change,
    service_manifest,
)


@pytest.fixture(scope="module")
def base():  # type: ignore[no-untyped-def]
    return default_scenario()


@pytest.fixture
def explorer(base):  # type: ignore[no-untyped-def]
    return ServiceExplorer(base, ServiceSettings(connections=600, clients=6))


def test_missing_ipywidgets_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # makes `import ipywidgets` fail
    with pytest.raises(MissingExtraError, match=r"kubelearn\.widgets needs ipywidgets: pip install kubelearn\[no") as info:
        ServiceExplorer()
    assert str(info.value) == MISSING_IPYWIDGETS == \
        "kubelearn.widgets needs ipywidgets: pip install kubelearn[notebooks]"
    assert isinstance(info.value, KubelearnError)


# --------------------------------------------------------------- the manifest model
def test_service_manifest_follows_the_controls() -> None:
    template = {"metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
                "spec": {"selector": {"app": "web"}, "clusterIP": "10.96.0.5", "type": "NodePort",
                         "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP",
                                    "nodePort": 30001}]}}
    m = service_manifest(ServiceSettings(), template)
    assert m["metadata"] == {"name": "web", "namespace": "shop", "labels": {"app": "web"}}
    assert m["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "protocol": "TCP", "name": "http"}]
    assert "clusterIP" not in m["spec"] and "externalTrafficPolicy" not in m["spec"]
    assert "sessionAffinityConfig" not in m["spec"]
    m = service_manifest(ServiceSettings(type="LoadBalancer", headless=True, session_affinity="ClientIP",
                                         affinity_timeout=60, external_traffic_policy="Local",
                                         internal_traffic_policy="Local"), template)
    assert m["spec"]["clusterIP"] == "None" and m["spec"]["type"] == "LoadBalancer"
    assert m["spec"]["sessionAffinityConfig"] == {"clientIP": {"timeoutSeconds": 60}}
    assert m["spec"]["externalTrafficPolicy"] == "Local" and m["spec"]["internalTrafficPolicy"] == "Local"


def test_explanations_say_what_changed() -> None:
    a = ServiceSettings()
    assert "each pod should get about 33%" in explain_change(None, a)
    assert explain_change(a, ServiceSettings(replicas=4)).startswith("replicas 3 → 4: each ready pod should now get "
                                                                      "about 25%")
    assert "no virtual IP" in explain_change(a, ServiceSettings(headless=True))
    assert "keeps the client's address" in explain_change(a, ServiceSettings(external_traffic_policy="Local"))
    assert "(and 1 more change)" in explain_change(a, ServiceSettings(replicas=2, seed=9))
    assert explain_change(a, a) == "Nothing changed."
    local = ServiceSettings(type="NodePort", external_traffic_policy="Local")
    assert "should get about" not in explain_change(None, local) and "follow the nodes" in explain_change(None, local)
    assert "its own ready pods" in explain_change(local, ServiceSettings(type="NodePort", external_traffic_policy="Local",
                                                                          replicas=4))


# ------------------------------------------------------------------ service explorer
def test_explorer_starts_with_a_picture_and_fixed_height(explorer: ServiceExplorer) -> None:
    svg = explorer.picture()
    assert svg is not None and b"<svg" in svg[:400] and b"Which pod answered" in svg
    # No fixed height: the picture area grows with the picture rather than scrolling.
    assert explorer.output.layout.height is None and explorer.output.layout.min_height == "720px"
    assert explorer.error is None and explorer.result.log is not None
    assert len(explorer.result.log) == 600
    for name in ("replicas", "clients", "connections", "affinity_timeout", "seed"):
        assert explorer.inputs[name].continuous_update is False
    assert explorer.inputs["affinity_timeout"].disabled and explorer.inputs["ipvs_scheduler"].disabled


def test_replicas_control_recomputes_and_redraws(explorer: ServiceExplorer) -> None:
    before = explorer.picture()
    renders = explorer.renders
    explorer.inputs["replicas"].value = 5
    assert explorer.settings.replicas == 5 and explorer.renders == renders + 1
    log = explorer.result.log
    assert log is not None
    assert log.loc[log["outcome"] == "ok", "pod"].nunique() == 5
    assert len(explorer.result.predicted) == 5
    assert explorer.picture() != before
    assert "replicas 3 → 5" in explorer.message.value
    assert "Observed: 600 of 600 connections answered" in explorer.message.value


@pytest.mark.parametrize("control, value, check", [
    ("type", "NodePort", lambda log: set(log["via"][log["outcome"] == "ok"]) == {"nodeport"}),
    ("headless", True, lambda log: set(log["via"]) == {"dns"}),
    ("proxy_mode", "nftables", lambda log: log.attrs["mode"] == "nftables"),
    ("seed", 7, lambda log: log.attrs["seed"] == 7),
    ("connections", 900, lambda log: len(log) == 900),
    ("internal_traffic_policy", "Local", lambda log: (log["pod_node"].astype(str)[log["outcome"] == "ok"]
                                                      == log["entry_node"].astype(str)[log["outcome"] == "ok"]).all()),
])
def test_each_control_changes_the_model(explorer: ServiceExplorer, control: str, value: object, check) -> None:  # type: ignore[no-untyped-def]
    before = explorer.picture()
    explorer.inputs[control].value = value
    assert getattr(explorer.settings, control) == value
    assert explorer.error is None, explorer.error
    assert check(explorer.result.log)
    assert explorer.picture() != before
    log = explorer.result.log
    bottom = explorer.figure().axes[1]  # the load plot counts every answered connection
    answered = sum(p.get_height() for p in bottom.patches if (p.get_gid() or "").startswith("pod:"))
    assert answered == int((log["outcome"] == "ok").sum()) > 0


def test_affinity_and_scheduler_controls_enable_their_details(explorer: ServiceExplorer) -> None:
    explorer.inputs["session_affinity"].value = "ClientIP"
    assert not explorer.inputs["affinity_timeout"].disabled
    cluster = explorer.result.cluster
    assert cluster is not None
    svc = cluster.get("Service", "my-service")
    assert svc["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] == 10800
    explorer.inputs["affinity_timeout"].value = 30
    assert explorer.result.cluster.get("Service", "my-service")["spec"]["sessionAffinityConfig"] == \
        {"clientIP": {"timeoutSeconds": 30}}
    explorer.inputs["proxy_mode"].value = "ipvs"
    assert not explorer.inputs["ipvs_scheduler"].disabled
    explorer.inputs["ipvs_scheduler"].value = "sh"
    assert explorer.result.cluster.proxy_config["ipvs"]["scheduler"] == "sh"
    assert explorer.error is None


REFUSED = [
    (dict(type="NodePort", headless=True),
     'The Service "my-service" is invalid: spec.clusterIPs[0]: Invalid value: "None": '
     "may not be set to 'None' for NodePort services"),
    (dict(type="LoadBalancer", headless=True),
     'The Service "my-service" is invalid: spec.clusterIPs[0]: Invalid value: "None": '
     "may not be set to 'None' for LoadBalancer services"),
    (dict(external_traffic_policy="Local"),
     'The Service "my-service" is invalid: spec.externalTrafficPolicy: Invalid value: "Local": '
     "may only be set for externally-accessible services"),
    (dict(external_traffic_policy="Cluster"),
     'The Service "my-service" is invalid: spec.externalTrafficPolicy: Invalid value: "Cluster": '
     "may only be set for externally-accessible services"),
    (dict(external_traffic_policy="Cluster", headless=True),
     'The Service "my-service" is invalid: spec.externalTrafficPolicy: Invalid value: "Cluster": '
     "may only be set for externally-accessible services"),
    (dict(session_affinity="ClientIP", affinity_timeout=0),
     'The Service "my-service" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: '
     "must be greater than 0 and less than 86400"),
    (dict(session_affinity="ClientIP", affinity_timeout=86401),
     'The Service "my-service" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: '
     "86401: must be greater than 0 and less than 86400"),
]


@pytest.mark.parametrize("values, message", REFUSED)
def test_refused_combinations_show_the_api_servers_message(explorer: ServiceExplorer, values: dict,
                                                           message: str) -> None:
    explorer.set(**values)
    assert explorer.error == message
    out = explorer.output.outputs[0]["data"]
    assert out["text/plain"] == message and "image/png" not in out
    assert "refuses this combination" in explorer.message.value
    assert explorer.picture() is None
    with pytest.raises(KubelearnError, match="is invalid"):
        explorer.figure()
    for key, value in values.items():  # the controls show the refused values
        assert explorer.inputs[key].value == value
    explorer.set(**{k: getattr(ServiceSettings(), k) for k in values})
    assert explorer.error is None and explorer.picture() is not None


def test_load_balancer_with_local_policy_splits_per_node(explorer: ServiceExplorer) -> None:
    explorer.set(type="LoadBalancer", external_traffic_policy="Local", replicas=3)
    assert explorer.error is None, explorer.error
    log = explorer.result.log
    assert log is not None and set(log["via"][log["outcome"] == "ok"]) == {"loadbalancer"}
    ok = log[log["outcome"] == "ok"]
    assert (ok["pod_node"].astype(str) == ok["entry_node"].astype(str)).all()  # Local: never forwarded
    assert (ok["seen_src_ip"].astype(str) == ok["src_ip"].astype(str)).all()  # so never masqueraded
    svc = explorer.result.cluster.get("Service", "my-service")  # type: ignore[union-attr]
    assert svc["status"]["loadBalancer"]["ingress"][0]["ip"] == "172.18.255.200"
    fig = explorer.figure()
    assert "loadbalancer" in {p.get_gid() for p in fig.axes[0].patches}


def test_unknown_setting_is_a_clear_error(explorer: ServiceExplorer) -> None:
    with pytest.raises(KubelearnError, match="unknown setting\\(s\\) replica; the explorer's settings are type, "):
        explorer.set(replica=5)
    assert explorer.settings.replicas == 3


def test_static_fallback_and_notebook_bundle(explorer: ServiceExplorer) -> None:
    fig = explorer.figure()
    assert isinstance(fig, KubelearnFigure) and len(fig.axes) == 2
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("Cluster topology: default/my-service") and titles[1].startswith("Which pod answered")
    bundle = explorer._repr_mimebundle_()
    # One output, two representations: JupyterLab renders the live view, readers without a
    # widget manager the still; the still is the current state, not the first one.
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["image/png"].startswith("iVBORw0KGgo")  # base64 of the PNG signature: the static fallback
    explorer.set(replicas=5)
    again = explorer._repr_mimebundle_()
    assert again["image/png"] != bundle["image/png"] and "replicas 3 → 5" in again["text/plain"]


def test_explorer_at_zero_replicas_says_who_answered(explorer: ServiceExplorer) -> None:
    """At replicas 0 the answers come from pods still terminating in their grace period: say so."""
    explorer.set(replicas=0)
    log = explorer.result.log
    ok = log[log["outcome"] == "ok"]
    text = explorer.message.value
    assert "no pod is ready" in text and "none" not in text
    if len(ok):  # kube-proxy falls back to serving-terminating endpoints
        terminating = {p["metadata"]["name"] for p in explorer.result.cluster.pods()
                       if "deletionTimestamp" in p["metadata"]}
        assert set(ok["pod"].astype(str)) <= terminating
        assert "terminating in" in text and "grace period" in text
        for pod in set(ok["pod"].astype(str)):
            assert pod in text


def test_explorer_hides_the_prediction_under_client_ip_affinity(explorer: ServiceExplorer) -> None:
    """A per-connection prediction and its binomial band do not apply when clients stick to pods."""
    def drawn(fig: KubelearnFigure) -> tuple[int, int, list[str]]:
        load = fig.axes[1]
        lines = [ln for ln in load.get_lines() if (ln.get_gid() or "").startswith("predicted:")]
        bands = [p for p in load.patches if (p.get_gid() or "").startswith("band:")]
        return len(lines), len(bands), [t.get_text() for t in load.get_legend().get_texts()]

    lines, bands, _ = drawn(explorer.figure())
    assert lines == bands == 3
    explorer.set(session_affinity="ClientIP")
    lines, bands, legend = drawn(explorer.figure())
    assert lines == bands == 0
    assert any(" ".join(t.split()).startswith("no prediction: ClientIP affinity") for t in legend)


def test_every_widget_picture_fits_the_notebook(explorer: ServiceExplorer, base) -> None:  # type: ignore[no-untyped-def]
    """At most 880 px wide (8.8 in at 100 dpi; 845 CSS px as SVG): JupyterLab's output area holds it unscaled."""
    for view in (explorer, PacketTracer(base), DnsExplorer(base)):
        fig = view.figure()
        assert fig.get_figwidth() <= 8.8 and fig.dpi == 100
        svg = view.picture()
        assert svg is not None
        width_pt = float(svg.split(b'width="', 1)[1].split(b"pt", 1)[0])
        assert width_pt * 4 / 3 <= 900  # CSS pixels


# --------------------------------------------------------------------- packet tracer
def test_packet_tracer_steps_through_the_rules(base) -> None:  # type: ignore[no-untyped-def]
    tracer = PacketTracer(base)
    assert tracer.trace is not None
    n = len(tracer.trace.steps)
    assert tracer.inputs["step"].max == n and tracer.inputs["step"].value == n
    full = tracer.picture()
    tracer.inputs["step"].value = 2
    assert "(step 2 of" in tracer.figure().axes[0].get_title(loc="left")
    assert tracer.picture() != full and "Step 2 of" in tracer.message.value
    tracer.inputs["step"].value = n
    tracer.next_button.click()  # past the last rule: back to the start
    assert tracer.inputs["step"].value == 0
    tracer.next_button.click()
    assert tracer.inputs["step"].value == 1


def test_packet_tracer_starts_from_a_client_pod(base) -> None:  # type: ignore[no-untyped-def]
    """Not from CoreDNS (a backend in kube-system) and not from a Service's own pod."""
    tracer = PacketTracer(base)
    label, (kind, _ip, _node) = tracer.inputs["source"].options[0]
    assert kind == "pod" and "kube-system" not in label and "coredns" not in label
    assert tracer.inputs["source"].value == tracer.inputs["source"].options[0][1]


def test_packet_tracer_routes_follow_the_source(base) -> None:  # type: ignore[no-untyped-def]
    tracer = PacketTracer(base)
    pod_choice = next(v for label, v in tracer.inputs["source"].options if v[0] == "pod" and "my-app" in label)
    tracer.inputs["source"].value = pod_choice
    assert tracer.inputs["node"].value == pod_choice[2] and tracer.inputs["node"].disabled
    vip = next(v for label, v in tracer.inputs["destination"].options if "my-service ClusterIP" in label)
    tracer.inputs["destination"].value = vip
    assert tracer.trace.dst == vip and tracer.trace.verdict == "DNAT"
    assert len(tracer.trace.destinations) == 3
    tracer.inputs["step"].value = 5
    tracer.inputs["mode"].value = "nftables"
    assert tracer.trace.mode == "nftables" and tracer.inputs["step"].max == len(tracer.trace.steps)
    assert tracer.inputs["step"].value == 5  # a new proxy mode keeps the learner's step
    external = next(v for _, v in tracer.inputs["source"].options if v[0] == "external")
    tracer.inputs["source"].value = external
    assert not tracer.inputs["node"].disabled  # a ClusterIP reached from outside: the learner picks the node


def test_packet_tracer_to_a_node_port_enters_that_node(base) -> None:  # type: ignore[no-untyped-def]
    cluster = base.apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "np"},
                          "spec": {"type": "NodePort", "selector": {"app": "MyApp"}, "ports": [{"port": 80, "targetPort": 9376}]}})
    tracer = PacketTracer(cluster)
    tracer.inputs["source"].value = next(v for _, v in tracer.inputs["source"].options if v[0] == "external")
    label, dst = next((lbl, v) for lbl, v in tracer.inputs["destination"].options if "NodePort on kind-worker2" in lbl)
    tracer.inputs["destination"].value = dst
    assert tracer.inputs["node"].value == "kind-worker2" and tracer.inputs["node"].disabled
    assert tracer.trace.verdict == "DNAT"


# ---------------------------------------------------------------------- dns explorer
def test_dns_explorer_shows_each_query_of_the_search_list(base) -> None:  # type: ignore[no-untyped-def]
    dns = DnsExplorer(base)
    assert dns.inputs["name"].value == "my-service" and dns.inputs["name"].continuous_update is False
    assert [q.rcode for q in dns.resolution.queries] == ["NOERROR"]
    first = dns.picture()
    dns.inputs["name"].value = "my-service.default"
    names = [q.name for q in dns.resolution.queries]
    assert names[0] == "my-service.default.default.svc.cluster.local." and dns.resolution.queries[0].rcode == "NXDOMAIN"
    assert names[-1] == "my-service.default.svc.cluster.local." and dns.resolution.rcode == "NOERROR"
    fig = dns.figure()
    gids = [t.get_gid() for t in fig.axes[0].texts if (t.get_gid() or "").startswith("query:")]
    assert gids == [f"query:{i}:{q.rcode}" for i, q in enumerate(dns.resolution.queries, 1)]
    assert any("search default.svc.cluster.local" in t.get_text() for t in fig.axes[0].texts)
    assert dns.picture() != first and f"{len(names)} queries sent" in dns.message.value


def test_dns_explorer_shows_errors_without_a_traceback(base) -> None:  # type: ignore[no-untyped-def]
    dns = DnsExplorer(base)
    dns.inputs["name"].value = "bad_name.."
    assert dns.error and dns.output.outputs[0]["data"]["text/plain"] == dns.error
    dns.inputs["type"].value = "SRV"
    dns.inputs["name"].value = "_http._tcp.my-service"
    assert dns.error is None and dns.resolution.type == "SRV"


# ------------------------------------------------------------------- timeline player
def test_timeline_player_moves_through_time(base) -> None:  # type: ignore[no-untyped-def]
    player = TimelinePlayer.from_scenario(cluster=base, connections=1500)
    slider = player.inputs["time"]
    assert slider.value == slider.max and player.inputs["play"].max == slider.max
    assert slider.continuous_update is False
    end = player.picture()
    slider.value = slider.max // 2
    assert player.now == pytest.approx(slider.value * player.step_seconds)
    fig = player.figure()
    top, bottom = fig.axes
    assert any(line.get_gid() == "now" for line in top.lines)
    captions = " ".join(next(t.get_text() for t in top.texts if t.get_gid() == "eventcaptions").split())
    assert "scale my-app to 5" in captions and "scale my-app to 2" in captions
    # the crash, then a second later the kubelet's verdict on the exited container
    assert " crashes" in captions and " not ready (its container exited)" in captions
    counted = sum(p.get_height() for p in bottom.patches if (p.get_gid() or "").startswith(("pod:", "outcome:")))
    so_far = player.log[player.log["time"] <= player.now]
    # Connections, in the bars, the title and the message alike (a connection carries several requests).
    assert counted == so_far["connection"].nunique()
    assert f"({counted:,} connections)" in bottom.get_title()
    assert f"{counted:,} connections so far" in player.message.value
    assert player.picture() != end
    failed = int((player.log["outcome"] != "ok").sum())
    assert failed > 0  # the crash at 30 s costs some connections before every node has caught up


def test_timeline_player_rejects_an_empty_log(base) -> None:  # type: ignore[no-untyped-def]
    from kubelearn.traffic import empty_log

    with pytest.raises(KubelearnError, match="at least one request"):
        TimelinePlayer(empty_log())


def test_service_explorer_labels_are_never_cut(base) -> None:  # type: ignore[no-untyped-def]
    """Every control shows its full Kubernetes field name (no 'sessionA...' truncation)."""
    explorer = ServiceExplorer(base=base)
    for name, control in explorer.inputs.items():
        if getattr(control, "description", "") and not isinstance(control, __import__("ipywidgets").Checkbox):
            assert control.style.description_width == "initial", name
