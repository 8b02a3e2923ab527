"""The apply pipeline: order, create vs update, all-or-nothing, every error listed, delete."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelearn.apiserver.admission import ResourceMappingError
from kubelearn.edits import apply, delete
from kubelearn.errors import ApplyError, FieldError, InvalidError, KubelearnError, ManifestError, NotFoundError
from kubelearn.kind import default_cluster, dry_run, load
from kubelearn.manifest import dump

DATA = Path(__file__).parent / "data" / "manifests"

SVC = """
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {ns}
spec:
  type: {type}
  selector:
    app: {name}
  ports:
  - port: 80
    targetPort: 8080
{extra}
"""


def svc(name="web", ns="default", type="ClusterIP", extra=""):
    return SVC.format(name=name, ns=ns, type=type, extra=extra)


@pytest.fixture(scope="module")
def base():
    return default_cluster(seed=0)


def test_load_builds_default_cluster_and_applies(base):
    c = load(svc())
    s = c.get("Service", "web")
    assert s["spec"]["clusterIP"].startswith("10.96.") and s["spec"]["ipFamilies"] == ["IPv4"]
    assert s["spec"]["ports"][0]["protocol"] == "TCP"  # defaulted
    assert c.has("Service", "kube-dns", "kube-system") and len(c.nodes()) == 3


def test_load_takes_topology_documents_wherever_they_are():
    text = svc() + """---
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: ipvs
---
apiVersion: kind.x-k8s.io/v1alpha4
kind: Cluster
nodes: [{role: control-plane}, {role: worker}]
networking: {serviceSubnet: 10.100.0.0/16}
"""
    c = load(text)
    assert c.proxy_mode == "ipvs"
    assert [n["metadata"]["name"] for n in c.nodes()] == ["kind-control-plane", "kind-worker"]
    assert c.get("Service", "kubernetes")["spec"]["clusterIP"] == "10.100.0.1"
    assert c.get("Service", "web")["spec"]["clusterIP"].startswith("10.100.")


def test_topology_error_names_file_and_line(tmp_path):
    f = tmp_path / "kind.yaml"
    f.write_text(svc() + "---\napiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnodes: [{role: boss}]\n")
    with pytest.raises(ManifestError, match=r'nodes\[0\]\.role: Unsupported value: "boss": supported values: ') as info:
        load(f)
    # The line of the faulty field (the document starts on line 16, its role on line 18).
    assert info.value.source == str(f) and info.value.line == 18 and info.value.path == "nodes[0].role"


def test_apply_refuses_topology_documents(base):
    with pytest.raises(ManifestError, match="give it to load"):
        apply(base, "apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\n")


def test_later_documents_see_earlier_allocations(base):
    text = svc("a", type="NodePort", extra="    nodePort: 30080") + "---\n" + svc("b", type="NodePort",
                                                                               extra="    nodePort: 30080")
    with pytest.raises(ApplyError, match=r'The Service "b" is invalid: spec\.ports\[0\]\.nodePort: Invalid ') as info:
        apply(base, text)
    (err,) = info.value.errors
    assert str(err) == ('The Service "b" is invalid: spec.ports[0].nodePort: Invalid value: 30080: '
                        "provided port is already allocated")


def test_all_or_nothing_and_every_error_listed(base):
    text = "\n---\n".join([
        svc("good"),
        svc("lost", ns="nowhere"),
        "apiVersion: v1\nkind: Frobnicator\nmetadata: {name: f}\n",
        svc("far", type="NodePort", extra="    nodePort: 80"),
        svc("typo", extra="  sessionAfinity: ClientIP"),
    ])
    with pytest.raises(ApplyError, match=r'Error from server \(NotFound\): namespaces "nowhere" not found') as info:
        apply(base, text)
    errs = info.value.errors
    assert len(errs) == 4
    assert isinstance(errs[0], NotFoundError) and str(errs[0]) == 'Error from server (NotFound): namespaces "nowhere" not found'
    assert isinstance(errs[1], ResourceMappingError)
    assert str(errs[1]).startswith('error: resource mapping not found for name: "f" namespace: "" from "<string>": '
                                   'no matches for kind "Frobnicator" in version "v1"')
    assert isinstance(errs[2], InvalidError) and "provided port is not in the valid range" in str(errs[2])
    assert 'unknown field "spec.sessionAfinity"' in str(errs[3])
    assert all(isinstance(e, KubelearnError) for e in errs)
    assert not base.has("Service", "good")  # the original cluster is untouched


def test_empty_apply_uses_kubectls_words(base):
    with pytest.raises(ManifestError, match="^error: no objects passed to apply$"):
        apply(base, "---\n")


def test_namespace_created_earlier_in_the_same_apply(base):
    c = apply(base, DATA / "list.yaml")
    assert c.get("Service", "cart", "shop")["metadata"]["namespace"] == "shop"


def test_directory_apply(base):
    c = apply(base, DATA / "dir")
    assert c.has("Namespace", "a") and c.has("Service", "b") and c.has("Service", "c")


def test_update_replaces_spec_and_keeps_server_fields(base):
    c = apply(base, svc(type="NodePort"))
    before = c.get("Service", "web")
    text = svc(type="NodePort").replace("targetPort: 8080", "targetPort: 9090").replace(
        "  name: web\n", "  name: web\n  labels: {tier: front}\n", 1)
    c2 = apply(c, text)
    after = c2.get("Service", "web")
    assert after["spec"]["ports"][0]["targetPort"] == 9090
    assert after["metadata"]["labels"] == {"tier": "front"}
    assert after["metadata"]["uid"] == before["metadata"]["uid"]
    assert after["metadata"]["creationTimestamp"] == before["metadata"]["creationTimestamp"]
    assert int(after["metadata"]["resourceVersion"]) > int(before["metadata"]["resourceVersion"])
    assert after["spec"]["clusterIP"] == before["spec"]["clusterIP"]
    assert after["spec"]["ports"][0]["nodePort"] == before["spec"]["ports"][0]["nodePort"]


def test_changing_clusterip_on_update_is_refused(base):
    c = apply(base, svc())
    with pytest.raises(ApplyError, match=r"spec.clusterIPs\[0\]: Invalid value: \[\"10.96.0.77\"\]: may not change once set"):
        apply(c, svc(extra="  clusterIP: 10.96.0.77"))


def test_observed_state_is_honoured(base):
    text = svc("lb", type="LoadBalancer", extra="""    nodePort: 31000
  clusterIP: 10.96.7.7
status:
  loadBalancer:
    ingress:
    - ip: 172.18.255.200""")
    s = apply(base, text).get("Service", "lb")
    assert s["spec"]["clusterIP"] == "10.96.7.7" and s["spec"]["ports"][0]["nodePort"] == 31000
    assert s["status"]["loadBalancer"]["ingress"][0]["ip"] == "172.18.255.200"


def test_missing_name(base):
    with pytest.raises(ApplyError, match=r'The Service "" is invalid: metadata\.name: Required value: na') as info:
        apply(base, {"apiVersion": "v1", "kind": "Service", "metadata": {}, "spec": {"ports": [{"port": 80}]}})
    assert str(info.value) == ('The Service "" is invalid: metadata.name: Required value: '
                               "name or generateName is required")


def test_dry_run_lists_errors_and_stores_nothing(base):
    assert dry_run(base, svc()) == []
    errs = dry_run(base, svc("x", ns="nowhere"), svc("y", ns="nowhere2"))
    assert [str(e) for e in errs] == ['Error from server (NotFound): namespaces "nowhere" not found',
                                      'Error from server (NotFound): namespaces "nowhere2" not found']
    assert [type(e) for e in dry_run(None, DATA / "broken-syntax.yaml")] == [ManifestError]


def test_delete_removes_dependents_and_namespace_contents(base):
    c = apply(base, DATA / "list.yaml")
    c2 = delete(c, "Namespace", "shop")
    assert not c2.has("Namespace", "shop") and not c2.has("Service", "cart", "shop")
    with pytest.raises(NotFoundError, match='services "nope" not found'):
        delete(c, "svc", "nope")


def test_delete_deployment_garbage_collects_its_pods():
    c = load(svc("web") + "---\n" + """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: agnhost, ports: [{containerPort: 8080}]}]
""")
    pods = [p for p in c.pods("default") if p["metadata"]["labels"].get("app") == "web"]
    assert len(pods) == 2
    c2 = delete(c, "deployment", "web")
    assert not [p for p in c2.pods("default") if p["metadata"]["labels"].get("app") == "web"]
    assert c2.has("Service", "web")


def _comparable(cluster):
    out = {}
    for key, obj in cluster.objects.items():
        o = {k: v for k, v in obj.items() if k != "status" or key[0] == "Service"}
        meta = {k: v for k, v in o.get("metadata", {}).items()
                if k not in ("uid", "resourceVersion", "creationTimestamp", "ownerReferences", "name", "generateName")}
        if not meta.get("ownerReferences") and not obj["metadata"].get("ownerReferences"):
            meta["name"] = obj["metadata"]["name"]  # generated names (pod suffixes) depend on creation order
        out[key if not obj["metadata"].get("ownerReferences") else (key[0], key[1], "owned")] = {**o, "metadata": meta}
    return out


@pytest.mark.parametrize("name", ["nodeport", "loadbalancer", "headless-statefulset", "selectorless", "ipvs"])
def test_round_trip_load_dump_load(name):
    from kubelearn.scenarios import scenario

    c = scenario(name, seed=5)
    text = dump(c, for_apply=True)
    c2 = load(text, seed=5)
    user = [k for k in c.objects if k[0] in ("Service", "Deployment", "StatefulSet", "EndpointSlice")
            and not c.objects[k]["metadata"].get("ownerReferences")]
    for key in user:
        a, b = c.objects[key], c2.objects[key]
        assert a.get("spec") == b.get("spec") and a.get("endpoints") == b.get("endpoints"), key
        assert a["metadata"].get("labels") == b["metadata"].get("labels")
    assert c2.proxy_mode == c.proxy_mode and c2.topology == c.topology


# ---------------------------------------------------------------- property: only our errors
_scalars = st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=8),
                     st.sampled_from(["None", "ClusterIP", "NodePort", "10.96.0.5", "TCP", "http"]))
_values = st.recursive(_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.sampled_from(
                                                              ["port", "ports", "nodePort", "name", "type", "selector",
                                                               "clusterIP", "protocol", "targetPort", "x"]), inner,
                                                              max_size=4)), max_leaves=10)
_objects = st.fixed_dictionaries(
    {"apiVersion": st.sampled_from(["v1", "apps/v1", "v2", 5]),
     "kind": st.sampled_from(["Service", "Deployment", "Pod", "Namespace", "Foo", ""])},
    optional={"metadata": st.one_of(_values, st.fixed_dictionaries({"name": st.sampled_from(["web", "", "Web_1"])},
                                                                      optional={"namespace": _scalars})),
              "spec": _values})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(_objects, _values, st.text(max_size=60)))
def test_malformed_manifests_only_raise_kubelearn_errors(thing):
    source = thing if isinstance(thing, str) else yaml.safe_dump(thing)
    try:
        load(source)
    except ApplyError as exc:
        for e in exc.errors:
            assert isinstance(e, KubelearnError)
            for cause in getattr(e, "causes", ()):
                assert isinstance(cause, FieldError) and cause.path  # every field error names its field
    except KubelearnError:
        pass


# ------------------------------------------------------ integration with the other modules
def test_validation_errors_come_all_at_once_through_the_real_validator(base):
    text = """apiVersion: v1
kind: Service
metadata: {name: Bad_Name}
spec:
  type: Nodeport
  selector: {app: x}
  ports: [{port: 0}, {port: 80, name: b}]
"""
    with pytest.raises(ApplyError, match=r'The Service "Bad_Name" is invalid:') as info:
        apply(base, text, svc("fine"))
    (err,) = info.value.errors
    assert isinstance(err, InvalidError) and err.name == "Bad_Name"
    paths = [c.path for c in err.causes]
    assert {"metadata.name", "spec.ports[0].port", "spec.type"} <= set(paths)
    assert str(err).startswith('The Service "Bad_Name" is invalid: \n* ')


def test_allocation_error_hides_validation_errors(base):
    obj = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"type": "NodePort", "sessionAffinity": "ClientIp",
                    "ports": [{"port": 80, "nodePort": 80}]}}
    (err,) = dry_run(base, obj)
    assert isinstance(err, InvalidError) and [c.path for c in err.causes] == ["spec.ports[0].nodePort"]


def test_workload_kind_is_validated_by_the_traffic_module(base):
    (err,) = dry_run(base, "apiVersion: kubelearn.dev/v1alpha1\nkind: Workload\nmetadata: {name: w}\nspec: {bogus: 1}\n")
    assert isinstance(err, InvalidError) and err.kind == "Workload"
    assert all(c.path.startswith("spec.") for c in err.causes)
