"""Lesson 08's exercises: diagnose a Service that does not work, the way the official flow does.

The Kubernetes task page "Debug Services" walks a fixed path: does the Service exist, does it
work by DNS name, by IP, is it defined correctly, does it have endpoints, are the pods working,
is kube-proxy working.  Each broken setup of the lesson fails at one step.  A learner names the
cause with a *diagnosis key* (:data:`DIAGNOSES`); the check does not compare the key with a
stored string but runs every key's test on the broken cluster (:func:`evidence`) and accepts the
key whose symptom is really there.  A wrong key gets the computed reason why its symptom is
absent ("the selector app=hostnames matches 3 pods").  A test asserts that each setup shows
exactly one symptom and the healthy setup none, so the set of keys stays unambiguous.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import ApplyError, KubelearnError
from ._core import DATA, Exercise, WrongType, each, register, text
from .lessons import applied, kinds_in

__all__ = ["DIAGNOSES", "SETUPS", "Setup", "evidence", "setup_cluster"]

#: The diagnosis keys a learner chooses from, with what each means.
DIAGNOSES: dict[str, str] = {
    "selector": "the Service's selector matches no pod (a typo in a label)",
    "target-port": "the targetPort is a number no container of the selected pods declares",
    "named-port": "the targetPort is a name that the selected pods do not declare",
    "not-ready": "the selected pods exist but none is Ready (a failing readiness probe)",
    "dns-namespace": "the client looks the name up in the wrong namespace",
    "env-order": "the client started before the Service, so it lacks the Service's variables",
    "no-local-endpoint": "externalTrafficPolicy: Local on a node without a local pod",
    "nodeport-range": "the API server refused the nodePort (outside 30000-32767)",
    "slice-label": "a hand-written EndpointSlice lacks the kubernetes.io/service-name label",
}


@dataclass(frozen=True)
class Setup:
    """One broken setup: its manifest, the Service, and how the client reaches it."""

    file: str
    service: str
    namespace: str = "default"
    how: str = "dns"  # "dns": the client pod asks for `name`; "env": it reads `variable`; "nodeport": outside client
    name: str = ""
    variable: str = ""
    node: str = ""
    unready: bool = False  # the readiness probe fails (kubelearn runs no probes: set_ready does it)


SETUPS: dict[str, Setup] = {
    "hostnames": Setup("08-hostnames.yaml", "hostnames", name="hostnames"),
    "selector-typo": Setup("08-selector-typo.yaml", "hostnames", name="hostnames"),
    "target-port": Setup("08-target-port.yaml", "hostnames", name="hostnames"),
    "named-port": Setup("08-named-port.yaml", "hostnames", name="hostnames"),
    "not-ready": Setup("08-not-ready.yaml", "hostnames", name="hostnames", unready=True),
    "dns-namespace": Setup("08-dns-namespace.yaml", "hostnames", namespace="backend", name="hostnames"),
    "env-order": Setup("08-env-order.yaml", "hostnames", how="env", variable="HOSTNAMES_SERVICE_HOST"),
    "local-no-pod": Setup("08-local-no-pod.yaml", "hostnames", how="nodeport", node="kind-worker2"),
    "nodeport-range": Setup("08-nodeport-range.yaml", "hostnames", how="nodeport", node="kind-worker"),
    "slice-label": Setup("08-slice-label.yaml", "database", name="database"),
}


def failing_probe_port(pod: dict[str, Any]) -> Any:
    """The port of a readiness probe aimed at a port no container declares, else None."""
    for c in pod["spec"].get("containers") or []:
        probe = c.get("readinessProbe") or {}
        action = probe.get("httpGet") or probe.get("tcpSocket") or {}
        port = action.get("port")
        declared = {p.get("containerPort") for p in c.get("ports") or []} | {p.get("name") for p in c.get("ports") or []}
        if port is not None and port not in declared:
            return port
    return None


@cache
def setup_cluster(key: str) -> Cluster:
    """The broken cluster of setup ``key``, as the lesson builds it.

    Raises:
        ApplyError: for the setup whose manifest the API server refuses (``nodeport-range``).
    """
    from ..kind import load

    s = SETUPS[key]
    cluster = load(DATA / s.file)
    if s.unready:
        # the kubelet's probe to a port nobody listens on fails; set_ready does what it would do
        for pod in cluster.pods(s.namespace):
            if failing_probe_port(pod) is not None:
                cluster = cluster.set_ready(objects.name(pod), False, namespace=s.namespace)
    return cluster


def _load_error(key: str) -> str:
    try:
        setup_cluster(key)
    except ApplyError as exc:
        return str(exc)
    return ""


def _selected(cluster: Cluster, svc: dict[str, Any]) -> list[dict[str, Any]]:
    from ..labels import selector_matches

    sel = svc["spec"].get("selector") or {}
    ns = svc["metadata"].get("namespace", "default")
    return [p for p in cluster.pods(ns) if sel and selector_matches(sel, p["metadata"].get("labels") or {})]


def _ports(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for pod in pods for c in pod["spec"].get("containers") or [] for p in c.get("ports") or []]


def evidence(key: str, diagnosis: str) -> tuple[bool, str]:
    """Is the symptom of ``diagnosis`` present in setup ``key``?  With the reason, computed from the model."""
    from ..discovery.dns import resolve
    from ..discovery.envvars import container_env
    from ..proxy import trace

    s = SETUPS[key]
    error = _load_error(key)
    if diagnosis == "nodeport-range":
        if "valid range" in error:
            return True, f"`kl.load` fails: `{error}`"
        return False, "`kl.load` accepts this manifest, so the API server refused nothing."
    if error:
        return False, f"The Service was never created: `kl.load` fails with `{error}`. Start with step 1: does it exist?"
    cluster = setup_cluster(key)
    svc = cluster.get("Service", s.service, s.namespace)
    spec = svc["spec"]
    selected = _selected(cluster, svc)
    port = (spec.get("ports") or [{}])[0]
    target = port.get("targetPort", port.get("port"))
    if diagnosis == "selector":
        if spec.get("selector") and not selected:
            return True, f"No pod in `{s.namespace}` carries the labels `{spec['selector']}`."
        if not spec.get("selector"):
            return False, "This Service has no selector at all: its endpoints come from EndpointSlices written by hand."
        return False, f"The selector `{spec['selector']}` matches {len(selected)} pod(s): `kl.get(broken, \"pods\")` shows them."
    if diagnosis == "not-ready":
        if not selected:
            return False, "No pod is selected, so there is no pod whose readiness could matter."
        ready = [p for p in selected if any(c.get("type") == "Ready" and c.get("status") == "True"
                                            for c in (p.get("status") or {}).get("conditions") or [])]
        if not ready:
            probe = failing_probe_port(selected[0])
            return True, (f"All {len(selected)} selected pods run, none is Ready (READY 0/1)"
                          + (f": the readiness probe asks port {probe}, which no container declares." if probe else "."))
        return False, f"{len(ready)} of the {len(selected)} selected pods are Ready."
    if diagnosis == "target-port":
        if isinstance(target, int) and selected and target not in {p.get("containerPort") for p in _ports(selected)}:
            declared = sorted({str(p.get("containerPort")) for p in _ports(selected)})
            return True, f"`targetPort: {target}`, but the pods declare {each(declared)}: the DNAT goes to a closed port."
        if not isinstance(target, int):
            return False, f"The targetPort is the name `{target}`, not a number."
        if not selected:
            return False, "No pod is selected, so no pod's port can be compared yet."
        return False, f"The pods declare port {target}, which is the Service's targetPort."
    if diagnosis == "named-port":
        if isinstance(target, str) and selected and target not in {p.get("name") for p in _ports(selected)}:
            return True, (f"`targetPort: {target}` is a name, and no selected pod has a port named `{target}`: the "
                          "EndpointSlice's PORTS is `<unset>` and kube-proxy writes no endpoint rules.")
        if isinstance(target, str):
            return False, f"The pods do declare a port named `{target}`."
        return False, f"The targetPort is the number {target}, not a name."
    if diagnosis == "slice-label":
        if spec.get("selector"):
            return False, "The Service has a selector, so the EndpointSlice controller writes its slices itself."
        unlabelled = [objects.name(sl) for sl in cluster.list("EndpointSlice", s.namespace)
                      if "kubernetes.io/service-name" not in (sl["metadata"].get("labels") or {})]
        if unlabelled:
            return True, (f"`{s.service}` has no selector, and the EndpointSlice `{unlabelled[0]}` lacks the label "
                          f"`kubernetes.io/service-name: {s.service}`: `kl.describe_service` says `Endpoints: <none>`.")
        return False, "Every EndpointSlice in the namespace carries its kubernetes.io/service-name label."
    if diagnosis == "dns-namespace":
        if s.how != "dns":
            return False, "The client does not look a name up here."
        r = resolve(cluster, s.name, from_pod="client")
        if not r.addresses and s.namespace != "default":
            return True, (f"From `default/client`, `{s.name}` gives {r.rcode}; the Service lives in `{s.namespace}`: "
                          f"`{s.name}.{s.namespace}` resolves.")
        return False, f"`kl.resolve(cluster, \"{s.name}\", from_pod=\"client\")` answers {each(r.addresses) or r.rcode}."
    if diagnosis == "env-order":
        if s.how != "env":
            return False, "The client finds the Service by DNS here, not by environment variables."
        env = container_env(cluster, "client")
        if s.variable not in env:
            return True, (f"`kl.container_env(cluster, \"client\")` has no `{s.variable}`: the pod started before "
                          f"the Service existed. Re-create the pod (or use DNS).")
        return False, f"The client has `{s.variable}={env[s.variable]}`."
    if diagnosis == "no-local-endpoint":
        if s.how != "nodeport":
            return False, "No client comes from outside the cluster here."
        t = trace(cluster, s.node, "203.0.113.7", f"{cluster.node_ip(s.node)}:{port.get('nodePort')}")
        if t.verdict == "DROP" and spec.get("externalTrafficPolicy") == "Local":
            return True, (f"`kl.trace` on `{s.node}` ends in DROP (`has no local endpoints`): under "
                          f"`externalTrafficPolicy: Local` only pods on `{s.node}` may answer, and it runs none.")
        return False, f"`kl.trace` from an outside client on `{s.node}` ends in {t.verdict}."
    raise WrongType(f"Expected one of the diagnosis keys: {', '.join(DIAGNOSES)}; {diagnosis!r} is not one.")


def expected_diagnosis(key: str) -> str:
    present = [d for d in DIAGNOSES if evidence(key, d)[0]]
    if len(present) != 1:
        raise KubelearnError(f"setup {key!r} shows {len(present)} symptoms: {present}")
    return present[0]


CASES: list[tuple[str, str, str]] = [
    ("selector-typo", "08-diagnose-selector", "Connection refused from hostnames"),
    ("target-port", "08-diagnose-target-port", "Endpoints, but nobody answers"),
    ("named-port", "08-diagnose-named-port", "Pods selected, still refused"),
    ("not-ready", "08-diagnose-not-ready", "Running pods, no traffic"),
    ("dns-namespace", "08-diagnose-dns", "\"bad address 'hostnames'\""),
    ("env-order", "08-diagnose-env", "The app cannot find HOSTNAMES_SERVICE_HOST"),
    ("local-no-pod", "08-diagnose-local", "Outside clients time out on one node"),
    ("nodeport-range", "08-diagnose-nodeport", "The Service is not there at all"),
    ("slice-label", "08-diagnose-slice", "A Service for an outside database refuses"),
]


def _constant(value: str) -> Callable[[], str]:
    return lambda: value


def _diagnosis_checker(key: str) -> Callable[[Any], tuple[bool, str]]:
    def check(answer: Any) -> tuple[bool, str]:
        given = text(answer, f"a diagnosis key in a string, one of: {', '.join(DIAGNOSES)}", limit=40).lower()
        if given not in DIAGNOSES:
            raise WrongType(f"{given!r} is not a diagnosis key. Choose one of: {', '.join(DIAGNOSES)}.")
        present, why = evidence(key, given)
        if present:
            return True, f"`{given}`: {why}"
        return False, f"Not `{given}`: {why} Follow the flow one step further."

    return check


for _key, _id, _title in CASES:
    _d = expected_diagnosis(_key)
    register(Exercise(
        id=_id, lesson=8, title=_title, kind="diagnose",
        expects="a diagnosis key in a string, such as \"selector\"",
        prompt=f"`manifests/{SETUPS[_key].file}`: {_title}. Follow the Debug Services flow and name the cause with "
               "one of the diagnosis keys.",
        checker=_diagnosis_checker(_key),
        solution_code=f"broken = kl.load(\"manifests/{SETUPS[_key].file}\")\n# ... the flow's views ...\n"
                      f"answer = \"{_d}\"",
        explanation=f"`{_d}`: {DIAGNOSES[_d]}. " + evidence(_key, _d)[1],
        solution_answer=_constant(_d)))


# ----------------------------------------------------------------------------- fix exercises
FIXED_SELECTOR = """\
apiVersion: v1
kind: Service
metadata:
  name: hostnames
spec:
  selector:
    app: hostnames
  ports:
    - name: default
      protocol: TCP
      port: 80
      targetPort: 9376
"""


def _reaches_pods(cluster: Cluster, service: str, src_kind: str, node: str = "") -> tuple[bool, str]:
    """Trace a new connection to the Service: from the client pod, or from outside via a node port."""
    from ..proxy import trace

    svc = cluster.get("Service", service)
    port = svc["spec"]["ports"][0]
    pods = {p["status"]["podIP"]: p for p in cluster.pods() if (p["metadata"].get("labels") or {}).get("app") == "hostnames"}
    if src_kind == "pod":
        client = cluster.get("Pod", "client")
        t = trace(cluster, client["spec"]["nodeName"], client["status"]["podIP"],
                  f"{svc['spec']['clusterIP']}:{port['port']}")
    else:
        t = trace(cluster, node, "203.0.113.7", f"{cluster.node_ip(node)}:{port.get('nodePort')}")
    if t.verdict != "DNAT":
        return False, f"`kl.trace` ends in {t.verdict}: no pod is reached."
    wrong = [d.endpoint for d in t.destinations
             if d.endpoint.rsplit(":", 1)[0] not in pods or int(d.endpoint.rsplit(":", 1)[1]) != 9376]
    if wrong:
        return False, f"`kl.trace` DNATs to {each(wrong)}, but the `hostnames` pods listen on 9376."
    return True, f"`kl.trace` DNATs to {len(t.destinations)} `hostnames` pod(s) on port 9376."


@cache
def _without_service(key: str) -> Cluster:
    """The setup's other objects (the Deployment, the client), without the refused Service."""
    from ..kind import load
    from ..manifest import read_documents

    docs = [d.obj for d in read_documents(DATA / SETUPS[key].file) if d.kind != "Service"]
    return load(docs)


def _fix_selector(answer: Any) -> tuple[bool, str]:
    cluster, why = applied(setup_cluster("selector-typo"), answer)
    if cluster is None:
        return False, why
    if not any((s.get("metadata") or {}).get("name") == "hostnames" for s in kinds_in(answer, "Service")):
        return False, "Fix the Service `hostnames` itself (keep its name)."
    return _reaches_pods(cluster, "hostnames", "pod")


FIXED_NODEPORT = """\
apiVersion: v1
kind: Service
metadata:
  name: hostnames
spec:
  type: NodePort
  selector:
    app: hostnames
  ports:
    - name: default
      protocol: TCP
      port: 80
      targetPort: 9376
      nodePort: 30080
"""


def _fix_nodeport(answer: Any) -> tuple[bool, str]:
    cluster, why = applied(_without_service("nodeport-range"), answer)
    if cluster is None:
        return False, why
    if not any((s.get("metadata") or {}).get("name") == "hostnames" for s in kinds_in(answer, "Service")):
        return False, "Write the Service `hostnames` (keep its name)."
    svc = cluster.get("Service", "hostnames")
    if svc["spec"].get("type") not in ("NodePort", "LoadBalancer"):
        return False, "Outside clients need a node port: keep `type: NodePort`."
    ok, why = _reaches_pods(cluster, "hostnames", "outside", "kind-worker")
    node_port = svc["spec"]["ports"][0].get("nodePort")
    return ok, why + (f" The Service got node port {node_port}." if ok else "")


register(Exercise(
    id="08-fix-selector", lesson=8, title="Repair the selector", kind="manifest",
    expects="a manifest: YAML text in a string",
    prompt="Write the repaired Service `hostnames` of `manifests/08-selector-typo.yaml`. The check applies it to "
           "the broken cluster and traces a connection from `client`: it must reach the three pods on port 9376.",
    checker=_fix_selector,
    solution_code="answer = '''\n" + FIXED_SELECTOR + "'''",
    explanation="The pods carry `app: hostnames`; the selector said `app: hostname`. With the label right, the "
                "EndpointSlice controller lists the three pods and kube-proxy writes their rules.",
    solution_answer=lambda: FIXED_SELECTOR,
    starter=FIXED_SELECTOR.replace("app: hostnames", "app: hostname")))

register(Exercise(
    id="08-fix-nodeport", lesson=8, title="A node port the API server accepts", kind="manifest",
    expects="a manifest: YAML text in a string",
    prompt="Write the Service `hostnames` of `manifests/08-nodeport-range.yaml` again, so that the API server accepts "
           "it and an outside client dialling `kind-worker`'s node port reaches a pod.",
    checker=_fix_nodeport,
    solution_code="answer = '''\n" + FIXED_NODEPORT + "'''",
    explanation="Node ports come from `--service-node-port-range`, 30000-32767 by default. Pick one in the range "
                "(or leave `nodePort` out and let the API server choose).",
    solution_answer=lambda: FIXED_NODEPORT,
    starter=FIXED_NODEPORT.replace("nodePort: 30080", "nodePort: 8080")))
