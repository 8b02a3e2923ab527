"""Lesson 10's exercises: read a real node's rules and say what they do.

The lesson reads ``10-kind-worker-iptables-save.txt``, what ``iptables-save`` printed on
``kind-worker`` in the network-namespace lab (a copy lives in ``kubelearn/data/exercises``; a
test keeps it equal to ``notebooks/data``).  A colleague's node is the same dump with the last
``DNAT`` rule of ``default/my-service`` removed, as if one rule had been lost.  Every expected
answer is computed with the same readers the learner uses: :func:`kubelearn.diff_rules`,
:func:`kubelearn.trace_rules` and :func:`kubelearn.explain_rules` on the dump, against lesson 07's
cluster (``07-my-service.yaml``).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from ..proxy.read import NodeRules
from ._core import DATA, WrongType, each, percent, text, type_name
from .lessons import applied, ex, kinds_in, lesson_cluster

__all__ = ["DUMP", "NODE", "colleague_node", "lesson_node"]

L10 = ("07-my-service.yaml",)
DUMP = "10-kind-worker-iptables-save.txt"
NODE = "kind-worker"
SERVICE = "default/my-service"


@cache
def lesson_node() -> NodeRules:
    """The stored dump of ``kind-worker``, read as the lesson reads it."""
    from ..proxy.read import read_rules_file

    cluster = lesson_cluster(*L10)
    return read_rules_file(DATA / DUMP, local_ips=[cluster.node_ip(NODE)])


@cache
def colleague_node() -> NodeRules:
    """The colleague's node: the dump without the last DNAT rule of ``default/my-service``."""
    from ..proxy.read import read_rules

    lines = (DATA / DUMP).read_text().splitlines()
    victim = [i for i, line in enumerate(lines) if SERVICE in line and "-j DNAT" in line][-1]
    return read_rules("\n".join(lines[:victim] + lines[victim + 1:]),
                      local_ips=[lesson_cluster(*L10).node_ip(NODE)])


def _cluster_ip() -> str:
    svc = lesson_cluster(*L10).get("Service", "my-service")
    return f"{svc['spec']['clusterIP']}:{svc['spec']['ports'][0]['port']}"


def _client_on_node() -> str:
    return str(next(p["status"]["podIP"] for p in lesson_cluster(*L10).pods()
                    if p["spec"].get("nodeName") == NODE and p["metadata"]["labels"].get("app") == "client"))


def _unreachable() -> str:
    from ..proxy.read import diff_rules

    missing = [d.rule for d in diff_rules(colleague_node(), lesson_cluster(*L10), NODE).differences
               if d.kind == "missing" and "--to-destination" in d.rule]
    return missing[0].split("--to-destination ")[1].split()[0]


def _last_rule_share() -> float:
    """The share of new connections the endpoint of the last ``KUBE-SVC`` rule gets on the colleague's node."""
    from ..proxy.read import trace_rules

    t = trace_rules(colleague_node(), _client_on_node(), _cluster_ip())
    return round(max(d.probability for d in t.destinations) * 100, 1)


def _node_trace() -> tuple[str, bool]:
    from ..proxy.read import trace_rules

    t = trace_rules(lesson_node(), lesson_cluster(*L10).node_ip(NODE), _cluster_ip())
    return str(t.hook), bool(t.masquerade)


# -------------------------------------------------------------------- 1. the missing rule
@ex("10-unreachable-endpoint", "Which endpoint did the node lose?", "name",
    "an endpoint as \"IP:port\" in a string, such as \"10.244.9.9:9376\"",
    "On a colleague's cluster one `my-app` pod gets no traffic through `kind-worker` and another gets twice its "
    "share. Their node's dump (`colleague`) has lost one rule. Use `kl.diff_rules` to find which endpoint "
    "(`IP:port`) can no longer be reached through this node.",
    'diff = kl.diff_rules(colleague, cluster, "kind-worker")\nprint(diff)\n'
    "# the missing rule is a DNAT: -j DNAT --to-destination IP:port\n"
    'lost = next(d.rule for d in diff.differences if d.kind == "missing" and "--to-destination" in d.rule)\n'
    'answer = lost.split("--to-destination ")[1]',
    "The diff reports the DNAT rule of one `KUBE-SEP-…` chain as missing. Connections that pick that chain come "
    "back out of it unchanged and go on to the next rule of `KUBE-SVC-FXIYY6OHUSNBITIX`; `kl.explain_rules("
    "colleague)` says the chain \"has no DNAT rule\".",
    _unreachable)
def _10_unreachable(answer: Any) -> tuple[bool, str]:
    got = text(answer, "an endpoint as \"IP:port\" in a string, such as \"10.244.9.9:9376\"", limit=60)
    want = _unreachable()
    if got == want:
        return True, (f"`kl.diff_rules` lists the DNAT rule to {want} as missing: its `KUBE-SEP-…` chain is still "
                      "chosen, but rewrites nothing, so those connections fall through to the next endpoint.")
    if ":" not in got:
        return False, f"Give the endpoint with its port, as the DNAT rule writes it (`IP:port`); `{got}` has no port."
    if got.split(":")[0] == want.split(":")[0]:
        return False, "The right pod, but the port is the one in `--to-destination`: look at the missing rule again."
    return False, (f"`{got}` is still reached through this node. Print `kl.diff_rules(colleague, cluster, "
                   "\"kind-worker\")` and read the rule marked `missing` that ends in `-j DNAT --to-destination …`.")


# ------------------------------------------------------------- 2. predict the share left over
@ex("10-predict-last-share", "The share of the last endpoint on the broken node", "predict",
    "a share, such as 25 (per cent) or 0.25",
    "On the colleague's node, what share of the new connections from a client pod on `kind-worker` does the "
    "endpoint of the **last** rule of `KUBE-SVC-FXIYY6OHUSNBITIX` (the one without `--probability`) get now? "
    "Predict from the probabilities, then trace it with `kl.trace_rules`.",
    't = kl.trace_rules(colleague, client_ip, "10.96.125.37:80")\nprint(t)\nanswer = 2 / 3',
    "The first rule still takes 1/3. Of the remaining 2/3, the second rule picks half (1/3 of all), but its chain "
    "has no DNAT rule any more: the packet returns to `KUBE-SVC-…` and meets the last rule, which takes everything. "
    "So the last endpoint gets 1/3 + 1/3 = 2/3, twice its share, and the lost endpoint none.",
    _last_rule_share)
def _10_share(answer: Any) -> tuple[bool, str]:
    got = percent(answer)
    want = _last_rule_share()
    if abs(got - want) <= 1.5:
        return True, (f"`kl.trace_rules` gives the last endpoint {want:g} %: its own third plus the third whose chain "
                      "lost its DNAT rule.")
    if abs(got - 100 / 3) <= 2:
        return False, ("33 % is what it had before the rule was lost. A `KUBE-SEP-…` chain without DNAT does not "
                       "stop the packet: it returns to `KUBE-SVC-…` and meets the next rule. Which one?")
    if abs(got - 50) <= 2:
        return False, ("50 % would be right if the lost endpoint's rule were gone from `KUBE-SVC-…` too. It is not: "
                       "a third of the connections still pick the broken chain and fall through.")
    return False, (f"You predicted {got:g} %. Follow a connection: the first rule takes 1/3; of the rest, the second "
                   "picks half but its chain has no DNAT any more. Where does such a packet go next?")


# ------------------------------------------------------------- 3. a connection from the node
HOOKS = ("PREROUTING", "OUTPUT")


def _pair(answer: Any) -> tuple[str, bool]:
    expects = "a pair such as (\"PREROUTING\", False): the hook, then whether the source is masqueraded"
    if not isinstance(answer, (tuple, list)) or len(answer) != 2:
        raise WrongType(f"Expected {expects}; got {type_name(answer)}.")
    hook, masq = list(answer)
    if not isinstance(masq, bool):
        raise WrongType(f"Expected {expects}; the second item is a {type_name(masq)}, not True or False.")
    name = text(hook, expects, limit=20).upper()
    if name not in HOOKS:
        raise WrongType(f"Expected {expects}; {name!r} is not one of {each(HOOKS)}.")
    return name, bool(masq)


@ex("10-node-hook", "A connection from the node itself", "name",
    "a pair such as (\"PREROUTING\", False): the hook, then whether the source is masqueraded",
    "Trace a connection **from the node itself** (its address, as `curl` in `docker exec kind-worker` would) to "
    "`my-service` through the dump. Through which hook does it enter (`\"PREROUTING\"` or `\"OUTPUT\"`), and is "
    "its source masqueraded? Answer with a pair.",
    't = kl.trace_rules(node, cluster.node_ip("kind-worker"), "10.96.125.37:80")\nprint(t)\n'
    "answer = (t.hook, t.masquerade)     # (\"OUTPUT\", True)",
    "The node's own packets enter through `OUTPUT` (`-A OUTPUT … -j KUBE-SERVICES`); only packets arriving from "
    "outside pass `PREROUTING`. Their source, the node's address, is outside the cluster CIDR 10.244.0.0/16, so "
    "`! -s 10.244.0.0/16 … -j KUBE-MARK-MASQ` marks them and `KUBE-POSTROUTING` masquerades them.",
    _node_trace)
def _10_hook(answer: Any) -> tuple[bool, str]:
    hook, masq = _pair(answer)
    want_hook, want_masq = _node_trace()
    if (hook, masq) == (want_hook, want_masq):
        return True, (f"Traced: enters at {want_hook}, source {'masqueraded' if want_masq else 'kept'}: the node's own "
                      "address is outside the cluster CIDR, so the `KUBE-MARK-MASQ` rule before the DNAT marks it.")
    if hook != want_hook:
        return False, (f"Not {hook}: a packet the node itself sends never passes PREROUTING, which is for packets "
                       "arriving on an interface. Look at the first line of the trace.")
    return False, ("The hook is right. For the masquerade, look at the trace's `source:` line, or ask: is the node's "
                   "address inside the cluster CIDR 10.244.0.0/16?")


# ------------------------------------------------------------- 4. the manifest behind the dump
STARTER_10 = """\
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  selector:
    app: MyApp
  sessionAffinity: ClientIP
  ports:
    - protocol: TCP
      port: 80
      targetPort: 8080
"""
FIXED_10 = STARTER_10.replace("  sessionAffinity: ClientIP\n", "").replace("targetPort: 8080", "targetPort: 9376")


@ex("10-match-the-dump", "The Service behind the node's rules", "manifest", "a manifest: YAML text in a string",
    "A colleague says the Service below is what runs on the cluster the dump came from, but `kl.diff_rules` "
    "disagrees. Read the dump (`grep my-service`) and fix the Service so that the dump agrees with what "
    "kube-proxy should program for it.",
    "answer = '''\n" + FIXED_10 + "'''",
    "The dump's rules DNAT to port 9376 (`--to-destination …:9376`), so the Service's `targetPort` is 9376; and "
    "they hold no `-m recent … --rcheck` rules, so the Service has no session affinity (`sessionAffinity: None`, "
    "the default). With both fixed, kubelearn renders the same 63 rules the node holds.",
    lambda: FIXED_10, starter=STARTER_10)
def _10_match(answer: Any) -> tuple[bool, str]:
    from ..proxy.read import diff_rules

    cluster, why = applied(lesson_cluster(*L10), answer)
    if cluster is None:
        return False, why
    if not any((s.get("metadata") or {}).get("name") == "my-service" for s in kinds_in(answer, "Service")):
        return False, "Fix the Service `my-service` itself (keep its name)."
    diff = diff_rules(lesson_node(), cluster, NODE)
    if diff.agree:
        return True, f"`kl.diff_rules`: the dump agrees ({diff.compared} rules compared)."
    rules = [d.rule for d in diff.differences if d.kind == "missing"]
    hints = []
    if any("--rcheck" in r for r in rules):
        hints.append("your Service would add `-m recent … --rcheck` rules the dump does not have")
    if any("--to-destination" in r and not r.rstrip().endswith(":9376") for r in rules):
        port = next(r.rsplit(":", 1)[1] for r in rules if "--to-destination" in r)
        hints.append(f"your Service would DNAT to port {port}; the dump's DNAT rules say otherwise")
    detail = ("; ".join(hints) + ".") if hints else f"first: `{diff.differences[0].rule[:160]}`"
    return False, f"`kl.diff_rules` still finds {len(diff.differences)} difference(s): {detail}"
