"""The exercises of lessons 01 to 07, each checked by running the model on the learner's answer.

Every expected value is computed here with the library (the same functions the lessons call),
from copies of the lessons' manifests in ``kubelearn/data/exercises`` (a test keeps them equal to
``notebooks/manifests``), so a check and a lesson can never disagree.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from .. import objects
from ..cluster import Cluster
from ..errors import ApplyError, InvalidError, KubelearnError
from ._core import DATA, Exercise, WrongType, each, manifest, number, percent, register, text, whole

# ------------------------------------------------------------------------------------- helpers


@cache
def lesson_cluster(*files: str) -> Cluster:
    """The cluster a lesson starts from (its manifests, loaded as the lesson loads them)."""
    from ..kind import load

    return load(*(DATA / f for f in files))


def applied(base: Cluster, answer: Any) -> tuple[Cluster | None, str]:
    """``base`` with the learner's manifest applied, or ``None`` and the API server's words."""
    from ..manifest import _from_nodes

    objs = manifest(answer)
    try:
        docs = [d.obj for d in _from_nodes(objs, "your answer")] if isinstance(objs, str) else objs
        if not docs:
            return None, "Your YAML holds no object yet."
        return base.apply(*docs), ""
    except ApplyError as exc:
        return None, f"The API server refused it:\n`{exc}`"
    except KubelearnError as exc:
        return None, f"kubelearn could not read it as a manifest:\n`{exc}`"


def kinds_in(answer: Any, kind: str) -> list[dict[str, Any]]:
    from ..manifest import _from_nodes

    objs = manifest(answer)
    try:
        docs = [d.obj for d in _from_nodes(objs, "your answer")] if isinstance(objs, str) else objs
    except KubelearnError:
        return []
    return [d for d in docs if isinstance(d, dict) and d.get("kind") == kind]


def endpoints(cluster: Cluster, service: str, namespace: str = "default") -> list[tuple[str, Any, bool]]:
    """(address, port, ready) of every endpoint in the Service's slices."""
    out = []
    for sl in cluster.endpoint_slices(namespace, service):
        ports = [p.get("port") for p in sl.get("ports") or []] or [None]
        for ep in sl.get("endpoints") or []:
            for addr in ep.get("addresses") or []:
                out.append((addr, ports[0], bool((ep.get("conditions") or {}).get("ready", True))))
    return out


def pods_labelled(cluster: Cluster, app: str, namespace: str = "default") -> list[dict[str, Any]]:
    return [p for p in cluster.pods(namespace) if (p["metadata"].get("labels") or {}).get("app") == app]


def close(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def ex(id: str, title: str, kind: str, expects: str, prompt: str, code: str, explanation: str,
       answer: Any, starter: str = "") -> Any:
    """Decorator: register the checker below as exercise ``id``."""

    def wrap(checker: Any) -> Any:
        register(Exercise(id=id, lesson=int(id[:2]), title=title, kind=kind, prompt=prompt, expects=expects,
                          checker=checker, solution_code=code, explanation=explanation, solution_answer=answer,
                          starter=starter))
        return checker

    return wrap


# ============================================================================ lesson 01
L01 = ("01-my-service.yaml",)


def _endpoints_after_scaling(n: int = 5) -> int:
    return len(endpoints(lesson_cluster(*L01).scale("my-app", n), "my-service"))


@ex("01-predict-endpoints", "How many endpoints after scaling to 5?", "predict", "a whole number, such as 4",
    "Scale `my-app` to 5 replicas (`cluster.scale(\"my-app\", 5)`). Before you run it: how many endpoints will "
    "`my-service` have? Write the number.",
    'scaled = cluster.scale("my-app", 5)\nprint(kl.get(scaled, "endpointslices"))\nanswer = 5',
    "Every pod the Deployment adds carries `app: MyApp`, so the EndpointSlice controller adds it to "
    "`my-service`'s slice as soon as it has an IP and is Ready: 5 pods, 5 endpoints. The ClusterIP does not change.",
    _endpoints_after_scaling)
def _01_endpoints(answer: Any) -> tuple[bool, str]:
    n = whole(answer, "a whole number, such as 4")
    expected = _endpoints_after_scaling()
    if n == expected:
        return True, f"{expected} pods carry `app: MyApp`, so `my-service` has {expected} endpoints."
    if n == 3:
        return False, ("3 is the number before scaling. The selector matches every pod with `app: MyApp`, "
                       "including the ones the Deployment adds: count the pods after `scale`.")
    return False, (f"You predicted {n}. Each Ready pod with `app: MyApp` becomes one endpoint, and after "
                   f"scaling the Deployment runs {expected} such pods.")


BROKEN_01 = """\
apiVersion: v1
kind: Service
metadata:
  name: my-service-2
spec:
  selector:
    app: myapp
  ports:
    - port: 80
      targetport: 9376
"""
FIXED_01 = BROKEN_01.replace("app: myapp", "app: MyApp").replace("targetport", "targetPort")


@ex("01-fix-service", "Fix a Service with two mistakes", "manifest", "a manifest: YAML text in a string",
    "`my-service-2` below should send port 80 to port 9376 of the three `my-app` pods, but it has two mistakes. "
    "Fix the YAML in the string until the check accepts it.",
    "answer = '''\n" + FIXED_01 + "'''",
    "Field names are case-sensitive (`targetPort`, not `targetport`: strict decoding refuses the unknown field), "
    "and so are label values (`MyApp`, not `myapp`: a selector that matches no pod gives a Service without endpoints).",
    lambda: FIXED_01, starter=BROKEN_01)
def _01_fix(answer: Any) -> tuple[bool, str]:
    base = lesson_cluster(*L01)
    cluster, why = applied(base, answer)
    if cluster is None:
        return False, why
    services = kinds_in(answer, "Service")
    if len(services) != 1:
        return False, f"Write exactly one Service; your YAML has {len(services)}."
    name = (services[0].get("metadata") or {}).get("name", "")
    svc = cluster.get("Service", name)
    selector = svc["spec"].get("selector") or {}
    want = sorted(p["status"]["podIP"] for p in pods_labelled(base, "MyApp"))
    eps = endpoints(cluster, name)
    got = sorted(a for a, _p, _r in eps)
    if not selector:
        return False, "Your Service has no selector, so no controller gives it endpoints."
    if got != want:
        labels = base.pods()[0]["metadata"].get("labels") or {}
        return False, (f"Your selector `{selector}` selects {len(got)} pod(s); the `my-app` pods carry the labels "
                       f"`{labels}`. Label values are case-sensitive.")
    ports = {p for _a, p, _r in eps}
    if ports != {9376}:
        return False, (f"The endpoints use port {each(sorted(map(str, ports)))}, but the pods listen on 9376. "
                       "Without a `targetPort` the API server copies `port` into it.")
    return True, f"`{name}` now has the three `my-app` pods as endpoints, on port 9376."


def _status_code_for_lowercase_tcp() -> int:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "oops"},
           "spec": {"selector": {"app": "MyApp"}, "ports": [{"port": 80, "protocol": "tcp"}]}}
    try:
        lesson_cluster(*L01).apply(svc)
    except ApplyError as exc:
        return 422 if all(isinstance(e, InvalidError) for e in exc.errors) else 400
    return 201


@ex("01-status-code", "400 or 422?", "predict", "the HTTP status code, 400 or 422",
    "A Service port says `protocol: tcp` (lower case). Which HTTP status does the API server answer: 400 "
    "(BadRequest: the request cannot be decoded, e.g. an unknown field) or 422 (Invalid: the fields are known, "
    "a value is not allowed)? Predict, then try it with `cluster.apply({...})`.",
    'svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "oops"},\n'
    '       "spec": {"selector": {"app": "MyApp"}, "ports": [{"port": 80, "protocol": "tcp"}]}}\n'
    "try:\n    cluster.apply(svc)\nexcept kl.ApplyError as error:\n    print(error)\nanswer = 422",
    "`protocol` is a known field, so decoding succeeds; validation then refuses the value: "
    "`Unsupported value: \"tcp\": supported values: \"SCTP\", \"TCP\", \"UDP\"`. That is a 422 (Invalid).",
    _status_code_for_lowercase_tcp)
def _01_status(answer: Any) -> tuple[bool, str]:
    code = whole(answer, "the HTTP status code, 400 or 422")
    expected = _status_code_for_lowercase_tcp()
    if code == expected:
        return True, "The field name is right, its value is not: a validation error, HTTP 422 (Invalid)."
    if code == 400:
        return False, ("400 is for requests the API server cannot decode, such as an unknown field name. "
                       "`protocol` is a known field; only its value is wrong.")
    return False, f"The API server answers either 400 or 422 here; {code} is neither."


# ============================================================================ lesson 02
L02 = ("02-app.yaml", "02-team-b.yaml")


def _queries_for(name: str) -> int:
    from ..discovery.dns import resolve

    return len(resolve(lesson_cluster(*L02), name, from_pod="client").queries)


@ex("02-predict-queries", "How many queries for www.example.com?", "predict", "a whole number of queries",
    "How many DNS queries does the pod `client` send for the name `www.example.com` (no trailing dot)? "
    "Count with the search list and `ndots:5` before you run `kl.resolve`.",
    'result = kl.resolve(cluster, "www.example.com", from_pod="client")\nprint(result)\nanswer = len(result.queries)',
    "`www.example.com` has 2 dots, fewer than `ndots:5`, so the resolver tries the three search suffixes first "
    "(all NXDOMAIN inside the cluster) and the name as written last: 4 queries. A trailing dot makes it 1.",
    lambda: _queries_for("www.example.com"))
def _02_queries(answer: Any) -> tuple[bool, str]:
    n = whole(answer, "a whole number of queries")
    expected = _queries_for("www.example.com")
    if n == expected:
        return True, f"{expected} queries: three search suffixes, then the name as written."
    if n == 1:
        return False, ("1 would be right with a trailing dot (`www.example.com.`). Without it, the name has 2 dots, "
                       "fewer than `ndots:5`, so the search suffixes come first.")
    return False, (f"You said {n}. The search list has 3 suffixes; a name with fewer than 5 dots is tried with "
                   f"each of them first, then as written: {expected} in all.")


@ex("02-cross-namespace", "A name that works from team-b", "name", "a DNS name in a string",
    "Write a name the pod `client` in namespace `team-b` can resolve to `my-service`'s ClusterIP "
    "(`my-service` lives in `default`).",
    'print(kl.resolve(cluster_with_team_b, "my-service.default", from_pod="client", namespace="team-b"))\n'
    'answer = "my-service.default"',
    "From another namespace, write `<service>.<namespace>`: the second search suffix, `svc.cluster.local`, "
    "completes it. The full name `my-service.default.svc.cluster.local.` works too; `default.my-service` "
    "(reversed) and plain `my-service` do not.",
    lambda: "my-service.default")
def _02_cross(answer: Any) -> tuple[bool, str]:
    from ..discovery.dns import resolve

    name = text(answer, "a DNS name in a string, such as \"my-service.something\"", limit=253)
    cluster = lesson_cluster(*L02)
    vip = cluster.get("Service", "my-service")["spec"]["clusterIP"]
    try:
        r = resolve(cluster, name, from_pod="client", namespace="team-b")
    except KubelearnError as exc:
        return False, f"The resolver refuses this name: `{exc}`"
    if vip in r.addresses:
        return True, f"`{name}` resolves to {vip} from `team-b` after {len(r.queries)} quer{'y' if len(r.queries) == 1 else 'ies'}."
    tried = [q.name for q in r.queries]
    hint = f"From `team-b`, `{name}` gives {r.rcode} {r.addresses or ''} after trying {each(f'`{t}`' for t in tried)}."
    if name.split(".")[0] == "default":
        hint += " DNS reads names right to left: you asked for a Service `default` in a namespace `my-service`."
    else:
        hint += " The first search suffix is `team-b.svc.cluster.local`; name the namespace yourself."
    return False, hint


STARTER_02 = """\
apiVersion: v1
kind: Pod
metadata:
  name: quiet
spec:
  containers:
    - name: shell
      image: registry.k8s.io/e2e-test-images/agnhost:2.53
      args: ["pause"]
"""
FIXED_02 = STARTER_02.replace("spec:\n", "spec:\n  enableServiceLinks: false\n")


@ex("02-quiet-pod", "A pod without Service variables", "manifest", "a manifest: YAML text in a string",
    "Edit the Pod `quiet` so that it gets no `MY_SERVICE_*` variables (only `default/kubernetes`'s), yet can still "
    "resolve `my-service` by DNS.",
    "answer = '''\n" + FIXED_02 + "'''",
    "`enableServiceLinks: false` stops the kubelet from writing the variables of the namespace's Services; "
    "`KUBERNETES_*` is always written. DNS does not depend on it.",
    lambda: FIXED_02, starter=STARTER_02)
def _02_quiet(answer: Any) -> tuple[bool, str]:
    from ..discovery.dns import resolve
    from ..discovery.envvars import service_env

    base = lesson_cluster(*L02)
    cluster, why = applied(base, answer)
    if cluster is None:
        return False, why
    pods = [p for p in kinds_in(answer, "Pod") if (p.get("metadata") or {}).get("name") == "quiet"]
    if not pods:
        return False, "Keep the Pod's name `quiet` (in namespace `default`)."
    env = service_env(cluster, "quiet")
    extra = sorted(k for k in env if not k.startswith("KUBERNETES_"))
    if extra:
        return False, (f"`quiet` still gets {len(extra)} variables of other Services, e.g. `{extra[0]}`. "
                       "Which field of the pod's `spec` turns Service links off?")
    if not resolve(cluster, "my-service", from_pod="quiet").addresses:
        return False, "`quiet` can no longer resolve `my-service`: keep the default `dnsPolicy`."
    return True, "`quiet` sees only `KUBERNETES_*` and still resolves `my-service` by DNS."


# ============================================================================ lesson 03
L03 = ("03-my-service.yaml",)


def _probabilities(n: int = 4) -> list[float]:
    from ..proxy import rules, service_port_name, svc_chain

    chain = svc_chain(service_port_name("default", "my-service"), "TCP")
    out = []
    for line in str(rules(lesson_cluster(*L03).scale("my-app", n), "kind-worker")).splitlines():
        m = re.search(r"--probability (\S+)", line)
        if line.startswith(f"-A {chain} ") and m:
            out.append(float(m.group(1)))
    return out


@ex("03-predict-probabilities", "The probabilities with 4 endpoints", "predict", "a list of numbers, such as [0.5]",
    "Scale `my-app` to 4 replicas. Before you look: which `--probability` values appear in "
    "`KUBE-SVC-FXIYY6OHUSNBITIX`, in order? Write them as a list (the last endpoint's rule has none).",
    'four = cluster.scale("my-app", 4)\nfor line in str(kl.rules(four, "kind-worker")).splitlines():\n'
    '    if line.startswith("-A KUBE-SVC-FXIYY6OHUSNBITIX") and "probability" in line:\n        print(line)\n'
    "answer = [1/4, 1/3, 1/2]",
    "Endpoint i of n gets 1/(n−i): 1/4, then 1/3 of the remaining 3/4, then 1/2 of the remaining 1/2, "
    "and the last takes what is left. Each pod ends up with 1/4.",
    _probabilities)
def _03_probabilities(answer: Any) -> tuple[bool, str]:
    from ._core import sequence_of_numbers

    got = sequence_of_numbers(answer, "a list of numbers, such as [0.5]")
    want = _probabilities()
    if len(got) == len(want) + 1 and close(got[-1], 1.0, 1e-6):
        got = got[:-1]  # "1" for the last rule: it has no --probability, which means 1
    if len(got) == len(want) and all(close(g, w, 2e-3) for g, w in zip(got, want, strict=True)):
        return True, "Rule i of n has probability 1/(n−i): " + ", ".join(f"{w:.4f}" for w in want) + ", then the rest."
    if len(got) != len(want):
        return False, (f"You gave {len(got)} value(s). With {len(want) + 1} endpoints there are {len(want) + 1} rules, "
                       f"and all but the last carry a probability: {len(want)} values.")
    if all(close(g, got[0], 1e-6) for g in got):
        return False, ("Every pod should get the same share overall, but each rule only sees the connections the "
                       "rules above it let through: rule i of n needs probability 1/(n−i).")
    return False, "Not these values. Rule i of n (counting from 0) has probability 1/(n−i)."


def _kube_dns_chain() -> str:
    from ..proxy import svc_chain

    return svc_chain("kube-system/kube-dns:dns", "UDP")


@ex("03-chain-name", "The chain name of kube-dns", "name", "a chain name in a string, such as \"KUBE-SVC-…\"",
    "CoreDNS's Service is `kube-system/kube-dns`, its port is named `dns`, protocol UDP. Compute its `KUBE-SVC-…` "
    "chain name by hand (SHA-256 of the service port name plus the protocol, base32, 16 characters).",
    'import base64, hashlib\nh = base64.b32encode(hashlib.sha256(b"kube-system/kube-dns:dnsudp").digest()).decode()[:16]\n'
    'answer = "KUBE-SVC-" + h',
    "The input is `namespace/name:portName` followed by the protocol in lower case: `kube-system/kube-dns:dnsudp`. "
    "The result is the same on every cluster, because nothing cluster-specific goes in.",
    _kube_dns_chain)
def _03_chain(answer: Any) -> tuple[bool, str]:
    from ..proxy import svc_chain

    name = text(answer, "a chain name in a string, such as \"KUBE-SVC-ABC...\"", limit=64).upper()
    want = _kube_dns_chain()
    if not name.startswith("KUBE-SVC-"):
        name = "KUBE-SVC-" + name
    if name == want:
        return True, f"`{want}`: the chain `iptables-save | grep kube-dns` shows on any kind cluster."
    others = {svc_chain("kube-system/kube-dns:dns-tcp", "TCP"): "port `dns-tcp` (TCP)",
              svc_chain("kube-system/kube-dns:metrics", "TCP"): "port `metrics` (TCP)",
              svc_chain("kube-system/kube-dns:dns", "TCP"): "port `dns` with protocol `tcp`",
              svc_chain("kube-system/kube-dns", "UDP"): "the Service without the port name"}
    if name in others:
        return False, f"That is the chain for {others[name]}. Hash `kube-system/kube-dns:dnsudp`."
    return False, "No such chain in the rules. Hash the bytes `kube-system/kube-dns:dnsudp` (no separators, lower case udp)."


STARTER_03 = """\
apiVersion: v1
kind: Service
metadata:
  name: sticky
spec:
  selector:
    app: MyApp
  ports:
    - port: 80
      targetPort: 9376
"""
FIXED_03 = STARTER_03 + "  sessionAffinity: ClientIP\n  sessionAffinityConfig:\n    clientIP:\n      timeoutSeconds: 600\n"


@ex("03-sticky-rules", "A Service whose rules remember clients for 10 minutes", "manifest",
    "a manifest: YAML text in a string",
    "Complete the Service `sticky` so that kube-proxy sends each client back to the same pod for 10 minutes: "
    "its rules must show `--rcheck --seconds 600`.",
    "answer = '''\n" + FIXED_03 + "'''",
    "`sessionAffinity: ClientIP` adds one `-m recent --rcheck --seconds <timeout> --reap` rule per endpoint before "
    "the random rules; `sessionAffinityConfig.clientIP.timeoutSeconds: 600` sets the timeout (default 10800 s).",
    lambda: FIXED_03, starter=STARTER_03)
def _03_sticky(answer: Any) -> tuple[bool, str]:
    from ..proxy import rules

    cluster, why = applied(lesson_cluster(*L03), answer)
    if cluster is None:
        return False, why
    if not any((s.get("metadata") or {}).get("name") == "sticky" for s in kinds_in(answer, "Service")):
        return False, "Keep the Service's name `sticky`."
    lines = [ln for ln in str(rules(cluster, "kind-worker")).splitlines() if "default/sticky" in ln and "--rcheck" in ln]
    if not lines:
        return False, "The rules of `sticky` have no `--rcheck` line yet: the Service has no session affinity."
    seconds = sorted({m.group(1) for ln in lines if (m := re.search(r"--seconds (\d+)", ln))})
    if seconds != ["600"]:
        return False, (f"The rules remember clients for {each(seconds)} s. Ten minutes is 600 s; set "
                       "`sessionAffinityConfig.clientIP.timeoutSeconds`.")
    return True, f"{len(lines)} `--rcheck --seconds 600` rules, one per endpoint, before the random ones."


# ============================================================================ lesson 04
L04 = ("04-web.yaml", "04-sticky.yaml")


def _share_with(n: int = 5) -> float:
    from ..traffic import pod_clients, predicted_shares, workload
    from ..traffic.workload import dns

    scaled = lesson_cluster(*L04).scale("web", n)
    shares = predicted_shares(scaled, workload(pod_clients(selector={"app": "client"}), dns("web", 80), connections=1000))
    return round(float(shares["predicted"].drop("", errors="ignore").max()) * 100, 2)


@ex("04-predict-share", "Each pod's share with 5 replicas", "predict", "a share, such as 25 (per cent) or 0.25",
    "Scale `web` to 5 replicas. What share of the connections should each `web` pod get? Predict, then check "
    "with `kl.predicted_shares`.",
    'five = cluster.scale("web", 5)\nprint(kl.predicted_shares(five, thousand))\nanswer = 20',
    "Each of the 5 ready endpoints gets 1/5 of new connections: 20 %. How many connections a pod really gets "
    "varies around that, inside the chance band.",
    _share_with)
def _04_share(answer: Any) -> tuple[bool, str]:
    got = percent(answer)
    want = _share_with()
    ready = len([e for e in endpoints(lesson_cluster(*L04).scale("web", 5), "web") if e[2]])
    if close(got, want, 1.0):
        return True, f"With {ready} ready pods each gets {want:g} % of the connections."
    return False, f"You predicted {got:g} %; with {ready} ready pods each gets {want:g} %."


def _sticky_capacity(n: int = 6) -> int:
    from ..traffic.simulate import XT_RECENT_IP_LIST_TOT

    return XT_RECENT_IP_LIST_TOT * len([e for e in endpoints(lesson_cluster(*L04).scale("web", n), "web-sticky")
                                        if e[2]])


@ex("04-sticky-limit", "How many clients stay sticky?", "predict", "a whole number of clients",
    "With 6 replicas of `web`, about how many external clients (all entering at `kind-worker`) can `web-sticky` "
    "keep sticky in iptables mode before stickiness fades? Think about the `xt_recent` list size.",
    'six = cluster.scale("web", 6)\n# sweep 300, 600, 900 clients with kl.plots.return_rate, as in section 8\nanswer = 600',
    "Each endpoint has its own `recent` list of at most 100 addresses (`ip_list_tot`). With 6 endpoints the node "
    "remembers about 600 clients; beyond that, addresses are evicted and clients are balanced afresh.",
    _sticky_capacity)
def _04_limit(answer: Any) -> tuple[bool, str]:
    from ..traffic.simulate import XT_RECENT_IP_LIST_TOT

    got = whole(answer, "a whole number of clients")
    want = _sticky_capacity()
    if abs(got - want) <= 0.15 * want:
        return True, f"About {want}: {XT_RECENT_IP_LIST_TOT} addresses per endpoint list, {want // XT_RECENT_IP_LIST_TOT} lists."
    if got == XT_RECENT_IP_LIST_TOT:
        return False, f"{XT_RECENT_IP_LIST_TOT} is the size of *one* list; kube-proxy keeps one list per endpoint."
    return False, (f"You said {got}. The limit is {XT_RECENT_IP_LIST_TOT} addresses per endpoint's `recent` list, "
                   f"and `web-sticky` has {want // XT_RECENT_IP_LIST_TOT} ready endpoints.")


STARTER_04 = """\
apiVersion: v1
kind: Service
metadata:
  name: web-sticky-slow
spec:
  selector:
    app: web
  sessionAffinity: ClientIP
  sessionAffinityConfig:
    clientIP:
      timeoutSeconds: 20
  ports:
    - name: http
      port: 80
      targetPort: http
"""
FIXED_04 = STARTER_04.replace("timeoutSeconds: 20", "timeoutSeconds: 120")


def _stickiness(cluster: Cluster, service: str) -> float:
    from ..traffic import pod_clients, simulate, stickiness, workload
    from ..traffic.workload import dns

    client = sorted(objects.name(p) for p in pods_labelled(cluster, "client"))[0]
    log = simulate(cluster, workload(pod_clients(names=[client]), dns(service, 80), connections=20, rate=1 / 30),
                   seed=0, progress=False)
    return float(stickiness(log)["stickiness"].min())


@ex("04-sticky-timeout", "Affinity for a client that calls every 30 s", "manifest", "a manifest: YAML text in a string",
    "One client opens a connection every 30 s. Fix `web-sticky-slow` so that this client always lands on the same "
    "pod, with a timeout of at most 5 minutes (300 s).",
    "answer = '''\n" + FIXED_04 + "'''",
    "The affinity entry expires when a client is silent for longer than `timeoutSeconds`. With 20 s, every 30 s "
    "gap expires it; any timeout above 30 s (and at most 300 s) keeps the client on its pod.",
    lambda: FIXED_04, starter=STARTER_04)
def _04_timeout(answer: Any) -> tuple[bool, str]:
    cluster, why = applied(lesson_cluster(*L04), answer)
    if cluster is None:
        return False, why
    names = [(s.get("metadata") or {}).get("name") for s in kinds_in(answer, "Service")]
    if "web-sticky-slow" not in names:
        return False, "Keep the Service's name `web-sticky-slow`."
    spec = cluster.get("Service", "web-sticky-slow")["spec"]
    if spec.get("sessionAffinity") != "ClientIP":
        return False, "Without `sessionAffinity: ClientIP` every connection is balanced afresh."
    timeout = int(((spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}).get("timeoutSeconds", 10800))
    if timeout > 300:
        return False, f"{timeout} s works, but the task asks for at most 300 s (5 minutes)."
    sticky = _stickiness(cluster, "web-sticky-slow")
    if sticky < 1.0:
        return False, (f"Simulated: the client stayed on its most frequent pod for only {sticky:.0%} of its "
                       f"connections. Its 30 s gaps are longer than your timeout of {timeout} s, so the entry expires.")
    return True, f"Simulated: all 20 connections of the client went to one pod with a timeout of {timeout} s."


# ============================================================================ lesson 05
L05 = ("05-web.yaml",)
L05_LB = ("05-web.yaml", "05-web-lb.yaml", "05-web-lb-status.yaml")


def _lone_pod_share() -> tuple[str, float]:
    from ..traffic import external_clients, load_balancer, predicted_shares, workload

    cluster = lesson_cluster(*L05_LB)
    shares = predicted_shares(cluster, workload(external_clients("203.0.113.0/24", count=50), load_balancer("web-lb"),
                                                connections=1000))["predicted"]
    lone = [objects.name(p) for p in pods_labelled(cluster, "web") if p["spec"]["nodeName"] == "kind-worker2"]
    return lone[0], round(float(shares[lone[0]]) * 100, 2)


@ex("05-predict-local-share", "The lone pod's share under Local", "predict", "a share, such as 25 (per cent) or 0.25",
    "`web-lb` has `externalTrafficPolicy: Local` and a cloud balancer that spreads connections evenly over the "
    "nodes that pass its health check. Two `web` pods run on `kind-worker`, one on `kind-worker2`. What share of "
    "the connections does the pod on `kind-worker2` get?",
    "lb_local = pending.apply(\"manifests/05-web-lb-status.yaml\")\n"
    "wl = kl.workload(kl.external_clients(\"203.0.113.0/24\", count=50), kl.load_balancer(\"web-lb\"), connections=1_000)\n"
    "print(kl.predicted_shares(lb_local, wl))\nanswer = 50",
    "The balancer gives each healthy node half of the connections, and under `Local` a node only uses its own pods: "
    "the lone pod gets all of `kind-worker2`'s half (50 %), the two on `kind-worker` a quarter each.",
    lambda: _lone_pod_share()[1])
def _05_share(answer: Any) -> tuple[bool, str]:
    got = percent(answer)
    pod, want = _lone_pod_share()
    if close(got, want, 1.0):
        return True, f"`{pod}` gets {want:g} %: half the nodes' traffic, and no other pod on its node to share it with."
    if close(got, 100 / 3, 1.5):
        return False, ("A third would be right under `Cluster`. Under `Local` the balancer splits by *node* first: "
                       f"each of the 2 healthy nodes gets 50 %, and `kind-worker2` has only this pod, so {want:g} %.")
    return False, f"You predicted {got:g} %; the balancer gives each of the 2 healthy nodes half, so the lone pod gets {want:g} %."


def _dropping_nodes() -> list[str]:
    from ..proxy import trace

    local = lesson_cluster(*L05).apply(lesson_cluster_text("05-web-local.yaml"))
    out = []
    for node in local.nodes():
        name = objects.name(node)
        if trace(local, name, "203.0.113.7", f"{local.node_ip(name)}:30080").verdict == "DROP":
            out.append(name)
    return out


def lesson_cluster_text(file: str) -> str:
    return (DATA / file).read_text()


@ex("05-dropping-node", "Which node drops outside clients?", "name", "a node name in a string",
    "Under `externalTrafficPolicy: Local` (`manifests/05-web-local.yaml`), an external client dials port 30080 of "
    "each node. Which node drops the connection? Predict from `kl.get(cluster, \"pods\", output=\"wide\")`, then "
    "check with `kl.trace`.",
    "local = cluster.apply(\"manifests/05-web-local.yaml\")\n"
    "for node in [\"kind-control-plane\", \"kind-worker\", \"kind-worker2\"]:\n"
    "    print(node, kl.trace(local, node, \"203.0.113.7\", f\"{local.node_ip(node)}:30080\").verdict)\n"
    "answer = \"kind-control-plane\"",
    "Under `Local`, external traffic only goes to pods on the node it arrived at. `kind-control-plane` runs no "
    "`web` pod, so its filter rule `has no local endpoints` drops the packet.",
    lambda: _dropping_nodes()[0])
def _05_node(answer: Any) -> tuple[bool, str]:
    name = text(answer, "a node name in a string, such as \"kind-worker\"", limit=100)
    dropping = _dropping_nodes()
    if name in dropping:
        return True, f"`{name}` has no local `web` pod: the trace ends in DROP (`has no local endpoints`)."
    local_pods = [objects.name(p) for p in pods_labelled(lesson_cluster(*L05), "web")
                  if p["spec"]["nodeName"] == name]
    if local_pods:
        return False, (f"`{name}` runs {len(local_pods)} `web` pod(s), so its trace DNATs to them. Which node "
                       "has none?")
    return False, f"There is no node `{name}`. The nodes are kind-control-plane, kind-worker and kind-worker2."


STARTER_05 = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  type: NodePort
  selector:
    app: web
  ports:
    - name: http
      protocol: TCP
      port: 80
      targetPort: http
      nodePort: 30080
"""
FIXED_05 = STARTER_05.replace("  type: NodePort\n", "  type: NodePort\n  externalTrafficPolicy: Local\n")


@ex("05-keep-client-address", "Let the pods see the client", "manifest", "a manifest: YAML text in a string",
    "The `web` pods log the source address of each request, and today they only see node addresses. Change the "
    "Service so that a client dialling `kind-worker:30080` reaches a pod that sees the client's own address.",
    "answer = '''\n" + FIXED_05 + "'''",
    "With `externalTrafficPolicy: Local` kube-proxy does not masquerade external traffic (it only sends it to pods "
    "on the node it arrived at), so the pod sees the client's address. The price: nodes without a pod drop it.",
    lambda: FIXED_05, starter=STARTER_05)
def _05_keep(answer: Any) -> tuple[bool, str]:
    from ..proxy import trace

    cluster, why = applied(lesson_cluster(*L05), answer)
    if cluster is None:
        return False, why
    if not any((s.get("metadata") or {}).get("name") == "web" for s in kinds_in(answer, "Service")):
        return False, "Change the Service `web` itself (keep its name)."
    t = trace(cluster, "kind-worker", "203.0.113.7", f"{cluster.node_ip('kind-worker')}:30080")
    if t.verdict != "DNAT":
        return False, f"The trace from an outside client to `kind-worker:30080` ends in {t.verdict}, not at a pod."
    if t.masquerade:
        return False, ("Traced: the connection reaches a pod but is masqueraded, so the pod sees the node's address. "
                       "Which traffic policy keeps external traffic on the node, without SNAT?")
    return True, f"Traced: DNAT to {len(t.destinations)} local pod(s), not masqueraded; the pod sees 203.0.113.7."


# ============================================================================ lesson 06
L06 = ("06-web.yaml",)
V2 = {"metadata": {"labels": {"version": "v2"}}}


def _loose_lowest_ready() -> int:
    from ..controllers.rollout import rollout_steps

    cluster = lesson_cluster(*L06)
    dep = cluster.get("Deployment", "web")
    loose = {**dep, "spec": {**dep["spec"], "strategy": {"type": "RollingUpdate",
                                                         "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}}}
    return min(r["ready"] for r in rollout_steps(cluster.apply(loose), "web", V2).rows())


@ex("06-predict-lowest-ready", "The lowest READY count of a loose rollout", "predict", "a whole number of pods",
    "Change `web`'s strategy to `maxSurge: 0`, `maxUnavailable: 1` (3 replicas). During a rollout, what is the "
    "lowest number of READY pods? Predict, then check with `kl.rollout_steps`.",
    "strict = cluster.get(\"Deployment\", \"web\")\nloose = {**strict, \"spec\": {**strict[\"spec\"], \"strategy\": "
    "{\"type\": \"RollingUpdate\",\n         \"rollingUpdate\": {\"maxSurge\": 0, \"maxUnavailable\": 1}}}}\n"
    "print(kl.rollout_steps(cluster.apply(loose), \"web\", v2))\nanswer = 2",
    "Without a surge, the controller must first retire an old pod before it may create a new one: READY drops to "
    "replicas − maxUnavailable = 2 at each step.",
    _loose_lowest_ready)
def _06_lowest(answer: Any) -> tuple[bool, str]:
    got = whole(answer, "a whole number of pods")
    want = _loose_lowest_ready()
    if got == want:
        return True, f"READY dips to {want}: 3 replicas minus maxUnavailable 1."
    if got == 3:
        return False, "3 would need `maxUnavailable: 0`. With `maxSurge: 0` there is no room for a new pod until an old one goes."
    return False, f"You predicted {got}. The floor is replicas − maxUnavailable = 3 − 1 = {want}."


def _crash_outcome() -> str:
    from ..traffic import Event, pod_clients, simulate, workload
    from ..traffic.workload import dns

    cluster = lesson_cluster(*L06)
    victim = sorted(objects.name(p) for p in pods_labelled(cluster, "web"))[0]
    wl = workload(pod_clients(selector={"app": "client"}), dns("web", 80), connections=1500, rate=100,
                  connection_seconds=2.0, requests_per_connection=4, events=[Event(10, "crashPod", {"name": victim})])
    log = simulate(cluster, wl, seed=0, progress=False)
    start = log.groupby("connection")["time"].transform("min")
    new = log[(start >= 10) & (log["outcome"] != "ok")]
    return str(new["outcome"].astype(str).value_counts().idxmax())


@ex("06-crash-outcome", "What do new connections to a crashed pod get?", "predict",
    "one of the outcome names in a string: \"refused\", \"dropped\" or \"reset\"",
    "A `web` pod's process crashes at 10 s; its IP stays and it is still listed as ready for a moment. What "
    "outcome do *new* connections sent to it in that window get: `refused`, `dropped` or `reset`?",
    "crash = run([kl.Event(10, \"crashPod\", {\"name\": web[0]})])\nprint(failures(crash))\nanswer = \"refused\"",
    "The pod's IP still exists and its node answers a SYN to a port nobody listens on with a RST: `refused`. "
    "`reset` is for connections that were already open; `dropped` for an address nobody answers.",
    _crash_outcome)
def _06_crash(answer: Any) -> tuple[bool, str]:
    got = text(answer, "one of \"refused\", \"dropped\" or \"reset\"", limit=20).lower()
    if got not in ("refused", "dropped", "reset", "ok"):
        raise WrongType(f"Expected one of \"refused\", \"dropped\" or \"reset\"; {got[:20]!r} is not an outcome.")
    want = _crash_outcome()
    if got == want:
        return True, f"Simulated: new connections to the crashed pod are `{want}`: the IP is there, the port is closed."
    why = {"reset": "`reset` is what connections that were *already open* get; new ones never got that far.",
           "dropped": "`dropped` means nobody answers the address; here the pod's IP still exists and answers.",
           "ok": "The process is gone, so nobody accepts the connection."}
    return False, why.get(got, "") + f" The simulation says `{want}` for new connections."


STARTER_06 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 3
  selector:
    matchLabels:
      app: web
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 0
      maxUnavailable: 1
  template:
    metadata:
      labels:
        app: web
        version: v1
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: web
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: ["serve-hostname", "--port=9376"]
          ports:
            - containerPort: 9376
"""
FIXED_06 = STARTER_06.replace("maxSurge: 0\n      maxUnavailable: 1", "maxSurge: 1\n      maxUnavailable: 0")


def _rollout_rows(cluster: Cluster) -> list[dict[str, Any]]:
    from ..controllers.rollout import rollout_steps

    return rollout_steps(cluster, "web", V2).rows()


@ex("06-safe-strategy", "A rollout that never loses capacity", "manifest", "a manifest: YAML text in a string",
    "Fix `web`'s strategy so that during a rollout there are never fewer than 3 READY pods and never more than "
    "4 pods that are not terminating.",
    "answer = '''\n" + FIXED_06 + "'''",
    "`maxUnavailable: 0` keeps READY at 3 or more; `maxSurge: 1` allows one extra pod at a time, so the "
    "controller adds a new pod, then retires an old one.",
    lambda: FIXED_06, starter=STARTER_06)
def _06_safe(answer: Any) -> tuple[bool, str]:
    cluster, why = applied(lesson_cluster(*L06), answer)
    if cluster is None:
        return False, why
    if not any((d.get("metadata") or {}).get("name") == "web" for d in kinds_in(answer, "Deployment")):
        return False, "Change the Deployment `web` itself (keep its name)."
    if cluster.get("Deployment", "web")["spec"].get("replicas") != 3:
        return False, "Keep `replicas: 3`."
    rows = _rollout_rows(cluster)
    if not rows:
        return False, "kubelearn could not roll this Deployment out."
    low = min(rows, key=lambda r: r["ready"])
    if low["ready"] < 3:
        return False, f"`kl.rollout_steps` shows READY {low['ready']} at step {low['step']}: some old pod went before its replacement was ready."
    high = max(rows, key=lambda r: r["ready"])
    if high["ready"] > 4:
        return False, f"`kl.rollout_steps` shows {high['ready']} ready pods at step {high['step']}: the surge is too large."
    return True, f"The rollout takes {len(rows)} steps and READY stays between 3 and 4."


# ============================================================================ lesson 07
L07 = ("07-my-service.yaml",)
L07_WEB = ("07-web-local.yaml",)


def _per_pod_expected() -> float:
    from ..traffic import cluster_ip, pod_clients, predicted_shares, workload

    cluster = lesson_cluster(*L07)
    shares = predicted_shares(cluster, workload(pod_clients(selector={"app": "client"}), cluster_ip("my-service", 80),
                                                connections=600))["predicted"]
    return round(float(shares.drop("", errors="ignore").max()) * 600, 1)


@ex("07-predict-count", "How many connections per pod?", "predict", "a number of connections",
    "Before the kernel runs: of the 600 connections from the two client pods to `my-service`, how many does the "
    "model expect each `my-app` pod to get?",
    "print(kl.predicted_shares(cluster, clients))\nanswer = 600 / 3",
    "Three ready endpoints, 1/3 each: 200 connections per pod expected. Real runs land near 200, not on it; the "
    "chi-square test asks whether the difference is more than chance.",
    _per_pod_expected)
def _07_count(answer: Any) -> tuple[bool, str]:
    got = number(answer, "a number of connections, such as 150")
    want = _per_pod_expected()
    if close(got, want, 1.0):
        return True, f"{want:g} per pod expected; each run scatters around it."
    return False, f"You predicted {got:g}; with 3 ready pods sharing 600 connections each expects {want:g}."


def _cluster_policy_source() -> str:
    from ..traffic import external_clients, node_port, simulate, workload

    web = lesson_cluster(*L07_WEB)
    svc = web.get("Service", "web")
    edited = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
              "spec": {**{k: v for k, v in svc["spec"].items() if k not in ("clusterIP", "clusterIPs")},
                       "externalTrafficPolicy": "Cluster"}}
    log = simulate(web.apply(edited), workload(external_clients("203.0.113.0/24", 20), node_port("web", "kind-worker2"),
                                              connections=100), seed=0, progress=False)
    return str(log["seen_src_ip"].astype(str).mode()[0])


@ex("07-seen-source", "What the pod sees under Cluster", "name", "an IPv4 address in a string",
    "If `web` used `externalTrafficPolicy: Cluster`, which source address would the pods see when an outside "
    "client dials `kind-worker2:30080`? Write the address.",
    "svc = copy.deepcopy(web.get(\"Service\", \"web\"))\nsvc[\"spec\"][\"externalTrafficPolicy\"] = \"Cluster\"\n"
    "# (drop resourceVersion, uid, creationTimestamp, as in the lesson)\n"
    "s = kl.simulate(web.apply(svc), to_node[\"kind-worker2\"], seed=0)\nanswer = sorted(set(s[\"seen_src_ip\"].astype(str)))[0]",
    "`kind-worker2` has no `web` pod, so under `Cluster` it forwards to a pod on `kind-worker` and masquerades the "
    "source with its own address, 172.18.0.4, so that the reply comes back through it.",
    _cluster_policy_source)
def _07_source(answer: Any) -> tuple[bool, str]:
    got = text(answer, "an IPv4 address in a string, such as \"10.0.0.1\"", limit=40)
    want = _cluster_policy_source()
    if got == want:
        return True, f"{want} is `kind-worker2`'s address: the node that did the DNAT also did the SNAT."
    web = lesson_cluster(*L07_WEB)
    nodes = {web.node_ip(objects.name(n)): objects.name(n) for n in web.nodes()}
    if got in nodes:
        return False, (f"{got} is `{nodes[got]}`. The masquerade rewrites the source to the address of the node "
                       "the client dialled, so that replies return through it.")
    if got.startswith("203.0.113."):
        return False, "The client's own address survives only under `Local`. Under `Cluster` the source is masqueraded."
    return False, "Not that address. Under `Cluster`, the node the client dialled masquerades the source with its own address."


STARTER_07 = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels:
    app: web
spec:
  replicas: 2
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      nodeSelector:
        kubernetes.io/hostname: kind-worker
      containers:
        - name: web
          image: registry.k8s.io/e2e-test-images/agnhost:2.53
          args: ["netexec", "--http-port=8080"]
          ports:
            - name: http
              containerPort: 8080
"""
FIXED_07 = STARTER_07.replace("      nodeSelector:\n        kubernetes.io/hostname: kind-worker\n", "")


@ex("07-both-workers", "Local, and every worker answers", "manifest", "a manifest: YAML text in a string",
    "Keep `externalTrafficPolicy: Local` (the pods must see the clients' addresses), but make `kind-worker2` "
    "answer outside clients too. Edit the Deployment below.",
    "answer = '''\n" + FIXED_07 + "'''",
    "Under `Local`, a node answers only if it runs a ready pod. Without the `nodeSelector` the scheduler spreads "
    "the two replicas over both workers, and each node serves its own clients without SNAT.",
    lambda: FIXED_07, starter=STARTER_07)
def _07_both(answer: Any) -> tuple[bool, str]:
    from ..traffic import external_clients, node_port, simulate, workload

    cluster, why = applied(lesson_cluster(*L07_WEB), answer)
    if cluster is None:
        return False, why
    if cluster.get("Service", "web")["spec"].get("externalTrafficPolicy") != "Local":
        return False, "Keep `externalTrafficPolicy: Local` on the Service."
    for node in ("kind-worker", "kind-worker2"):
        log = simulate(cluster, workload(external_clients("203.0.113.0/24", 20), node_port("web", node), connections=60),
                       seed=0, progress=False)
        failed = int((log["outcome"] != "ok").sum())
        if failed:
            running = [objects.name(p) for p in pods_labelled(cluster, "web")
                       if p["spec"].get("nodeName") == node and not p["metadata"].get("deletionTimestamp")]
            return False, (f"Simulated: {failed} of {len(log)} connections to `{node}:30080` failed; `{node}` runs "
                           f"{len(running)} `web` pod(s) that are not terminating.")
        if (log["seen_src_ip"].astype(str) != log["src_ip"].astype(str)).any():
            return False, f"Simulated: pods behind `{node}` saw a rewritten source address."
    return True, "Simulated: both workers answer, and every pod saw the client's own address."
