"""Exercises that check themselves: kl.exercises, kl.check, kl.solution and the lessons that use them."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import kubelearn as kl
from kubelearn.exercise import lesson08, lesson09, lesson10, lesson11
from kubelearn.exercise._core import DATA

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ALL = kl.exercises()
IDS = [e.id for e in ALL]


class Hostile:
    """An answer whose every dunder raises: a check must still answer in words."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    def __hash__(self) -> int:
        raise RuntimeError("hash")

    def __str__(self) -> str:
        raise RuntimeError("str")

    def __repr__(self) -> str:
        raise RuntimeError("repr")

    def __len__(self) -> int:
        raise RuntimeError("len")

    def __iter__(self) -> Any:
        raise RuntimeError("iter")

    def __float__(self) -> float:
        raise RuntimeError("float")

    def __bool__(self) -> bool:
        raise RuntimeError("bool")


class HostileStr(str):
    def strip(self, *args: Any) -> str:  # type: ignore[override]
        raise RuntimeError("strip")

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("eq")

    __hash__ = str.__hash__


#: A plausible but wrong answer for each exercise: the check must say "wrong" with a computed hint.
WRONG: dict[str, tuple[Any, str]] = {
    "01-predict-endpoints": (3, "before scaling"),
    "01-fix-service": (lesson08.SETUPS and "apiVersion: v1\nkind: Service\nmetadata: {name: my-service-2}\n"
                       "spec: {selector: {app: myapp}, ports: [{port: 80, targetPort: 9376}]}", "selects 0 pod"),
    "01-status-code": (400, "decode"),
    "02-predict-queries": (1, "trailing dot"),
    "02-cross-namespace": ("default.my-service", "right to left"),
    "02-quiet-pod": ("apiVersion: v1\nkind: Pod\nmetadata: {name: quiet}\nspec:\n  containers: "
                     "[{name: c, image: busybox}]", "MY_SERVICE"),
    "03-predict-probabilities": ([0.25, 0.25, 0.25], "1/(n−i)"),
    "03-chain-name": ("KUBE-SVC-" + kl.proxy.svc_chain("kube-system/kube-dns:dns-tcp", "TCP")[9:], "dns-tcp"),
    "03-sticky-rules": ("apiVersion: v1\nkind: Service\nmetadata: {name: sticky}\nspec:\n  selector: {app: MyApp}\n"
                        "  sessionAffinity: ClientIP\n  ports: [{port: 80, targetPort: 9376}]", "10800"),
    "04-predict-share": (50, "with 5 ready pods each gets 20 %"),
    "04-sticky-limit": (100, "one list per endpoint"),
    "04-sticky-timeout": ("apiVersion: v1\nkind: Service\nmetadata: {name: web-sticky-slow}\nspec:\n"
                          "  selector: {app: web}\n  sessionAffinity: ClientIP\n"
                          "  sessionAffinityConfig: {clientIP: {timeoutSeconds: 20}}\n"
                          "  ports: [{name: http, port: 80, targetPort: http}]", "longer than your timeout"),
    "05-predict-local-share": (33, "Cluster"),
    "05-dropping-node": ("kind-worker", "runs 2"),
    "05-keep-client-address": ("apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec:\n  type: NodePort\n"
                               "  selector: {app: web}\n  ports: [{name: http, port: 80, targetPort: http, "
                               "nodePort: 30080}]", "masqueraded"),
    "06-predict-lowest-ready": (3, "maxUnavailable: 0"),
    "06-crash-outcome": ("reset", "already open"),
    "06-safe-strategy": (None, ""),  # filled below from the starter (maxSurge 0)
    "07-predict-count": (300, "each expects 200"),
    "07-seen-source": ("203.0.113.7", "only under `Local`"),
    "07-both-workers": (None, ""),  # filled below from the starter (nodeSelector kept)
    "08-fix-selector": ("apiVersion: v1\nkind: Service\nmetadata: {name: hostnames}\nspec:\n"
                        "  selector: {app: hostname}\n  ports: [{port: 80, targetPort: 9376}]", "REJECT"),
    "08-fix-nodeport": ("apiVersion: v1\nkind: Service\nmetadata: {name: hostnames}\nspec:\n  type: NodePort\n"
                        "  selector: {app: hostnames}\n  ports: [{port: 80, targetPort: 9376, nodePort: 80}]",
                        "valid range"),
    "09-predict-new-pods-share": (0.5, "six pods sharing the requests equally"),
    "09-choose-max-connection-age": (30, "stays open until 50 s"),
    "09-write-headless-service": ("apiVersion: v1\nkind: Service\nmetadata: {name: backend-rr}\nspec:\n"
                                  "  selector: {app: backend}\n  ports: [{port: 80, targetPort: grpc}]", "virtual IP"),
    "09-predict-dns-delay": (30, "cache the answer for 30 s"),
    "10-unreachable-endpoint": ("10.244.1.2:9376", "still reached"),
    "10-predict-last-share": (1 / 3, "before the rule was lost"),
    "10-node-hook": (("PREROUTING", True), "never passes PREROUTING"),
    "10-match-the-dump": (None, ""),  # filled below from the starter (targetPort 8080, ClientIP affinity)
    "11-predict-cross-share": (33, "stays in the client's zone"),
    "11-zone-without-endpoints": ("zone-a", "has an endpoint of its own"),
    "11-keep-it-in-the-zone": (None, ""),  # filled below from the starter (no trafficDistribution)
    "11-predict-auto-replicas": (6, "earlier already"),
}


def _fill_from_starters() -> None:
    from kubelearn.exercise import lessons

    WRONG["06-safe-strategy"] = (lessons.STARTER_06 + "# edited\n", "READY 2")
    WRONG["07-both-workers"] = (lessons.STARTER_07 + "# edited\n", "kind-worker2")
    WRONG["10-match-the-dump"] = (lesson10.STARTER_10 + "# edited\n", "--rcheck")
    WRONG["11-keep-it-in-the-zone"] = (lesson11.STARTER_11 + "# edited\n", "still crossed zones")
    for key, ex_id, _title in lesson08.CASES:
        right = lesson08.expected_diagnosis(key)
        wrong = "selector" if right != "selector" else "target-port"
        WRONG[ex_id] = (wrong, "Not `")


_fill_from_starters()


def test_every_exercise_has_an_entry_in_the_wrong_answer_table() -> None:
    assert sorted(WRONG) == sorted(IDS)


@pytest.mark.parametrize("ex_id", IDS)
def test_the_solution_passes(ex_id: str) -> None:
    sol = kl.solution(ex_id)
    assert sol.code and sol.explanation
    result = kl.check(ex_id, sol.answer)
    assert result.passed, result.message
    assert result.status == "passed"


@pytest.mark.parametrize("ex_id", IDS)
def test_a_plausible_wrong_answer_gets_a_computed_hint(ex_id: str) -> None:
    answer, fragment = WRONG[ex_id]
    result = kl.check(ex_id, answer)
    assert not result.passed
    assert result.status == "wrong", result.message
    assert fragment in result.message


@pytest.mark.parametrize("ex_id", IDS)
@pytest.mark.parametrize("answer", [None, 12.5, True, ["x"], {"a": 1}, object(), b"bytes", float("nan"), "",
                                    Hostile(), HostileStr("x")],
                         ids=["None", "float", "bool", "list", "dict", "object", "bytes", "nan", "empty", "hostile",
                              "hostile-str"])
def test_odd_answers_fail_in_words_and_never_raise(ex_id: str, answer: Any) -> None:
    result = kl.check(ex_id, answer)
    assert not result.passed
    assert result.message and result.status in ("wrong", "wrong-type")
    for text in (repr(result), result._repr_html_(), result._repr_markdown_()):
        assert ex_id in text and "Traceback" not in text


@pytest.mark.parametrize("ex_id", IDS)
def test_the_placeholder_means_not_yet(ex_id: str) -> None:
    result = kl.check(ex_id, ...)
    assert (result.passed, result.status) == (False, "not-yet")
    assert "Not yet" in result._repr_html_() and "cell above" in result.message
    assert "Not yet" not in result.message  # the title says it once


@pytest.mark.parametrize("ex_id", [e.id for e in ALL if e.starter])
def test_the_starter_manifest_handed_back_unchanged_is_not_yet(ex_id: str) -> None:
    starter = next(e.starter for e in ALL if e.id == ex_id)
    result = kl.check(ex_id, "\n" + starter + "\n")
    assert result.status == "not-yet" and "Edit the YAML" in result.message
    assert kl.check(ex_id, starter + "# changed nothing that matters\n").status == "wrong"


def test_unknown_exercise_ids_are_answered_not_raised() -> None:
    for bad in ("99-nothing", None, 4, Hostile()):
        result = kl.check(bad, 1)  # type: ignore[arg-type]
        assert result.status == "unknown-exercise" and "kl.exercises()" in result.message
    with pytest.raises(kl.KubelearnError, match="no exercise"):
        kl.solution("99-nothing")


def test_a_wrong_type_says_what_is_expected() -> None:
    result = kl.check("04-predict-share", "fifty")
    assert result.status == "wrong-type" and "such as 25" in result.message
    assert kl.check("04-predict-share", "20 %").passed and kl.check("04-predict-share", 0.2).passed


def test_a_manifest_answer_is_never_read_as_a_path(tmp_path: Path) -> None:
    target = tmp_path / "svc.yaml"
    target.write_text(kl.solution("01-fix-service").answer)
    result = kl.check("01-fix-service", str(target))
    assert not result.passed


def test_a_manifest_answer_is_refused_in_the_api_servers_words() -> None:
    bad = kl.solution("01-fix-service").answer.replace("targetPort", "targetport")
    result = kl.check("01-fix-service", bad)
    assert not result.passed and 'unknown field "spec.ports[0].targetport"' in result.message


def test_a_very_long_answer_is_refused_quickly() -> None:
    result = kl.check("01-fix-service", "a: b\n" * 50_000)
    assert result.status == "wrong-type" and "characters" in result.message


def test_a_yaml_alias_bomb_is_refused_without_expanding_it() -> None:
    lines = ['x0: &x0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"x{i}: &x{i} [" + ",".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 9)]
    bomb = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: my-service-2\n  labels:\n"
            + "\n".join("    " + line for line in lines)
            + "\nspec: {selector: {app: MyApp}, ports: [{port: 80, targetPort: 9376}]}\n")
    result = kl.check("01-fix-service", bomb)
    assert result.status == "wrong-type" and "aliases expand" in result.message
    assert kl.check("01-fix-service", "a: &a [*a]\n").status == "wrong-type"  # contains itself
    few = kl.solution("01-fix-service").answer.replace("app: MyApp", "app: &app MyApp") + "  x: *app\n"
    assert "aliases expand" not in kl.check("01-fix-service", few).message


def test_lesson08_names_every_diagnosis_key() -> None:
    text = (NOTEBOOKS / "08-when-a-service-does-not-work.ipynb").read_text()
    for key in lesson08.DIAGNOSES:
        assert f"| `{key}` |" in text, key


def test_exercise_fields_and_lessons() -> None:
    assert len(set(IDS)) == len(IDS)
    for e in ALL:
        assert re.fullmatch(r"(0[1-9]|1[01])-[a-z0-9-]+", e.id) and e.lesson == int(e.id[:2])
        assert e.prompt and e.title and e.kind in ("predict", "manifest", "name", "diagnose")
    for lesson in range(1, 12):
        mine = kl.exercises(lesson)
        assert len(mine) >= 3, lesson
        if lesson != 8:
            kinds = {e.kind for e in mine}
            assert {"predict", "manifest"} <= kinds, (lesson, kinds)
    assert "| `04-predict-share` |" in ALL._repr_markdown_()


def test_lesson09_long_lived_connections_give_the_new_pods_nothing() -> None:
    """Four connections opened before the scale-up: the new pods answer none of the later requests."""
    assert lesson09.new_pod_share(lesson09.pinned_run(), 30.0) == 0.0
    assert kl.check("09-predict-new-pods-share", "0 %").passed


def test_lesson09_the_longest_age_follows_the_scale_up() -> None:
    assert kl.check("09-choose-max-connection-age", 20).passed
    shorter = kl.check("09-choose-max-connection-age", 5)
    assert shorter.status == "wrong" and "not the longest" in shorter.message
    assert "handshake" in kl.check("09-choose-max-connection-age", 0.2).message


def test_lesson09_headless_service_is_checked_against_dns() -> None:
    good = lesson09.HEADLESS
    assert kl.check("09-write-headless-service", good).passed
    assert "selector" in kl.check("09-write-headless-service", good.replace("app: backend", "app: backnd")).message
    assert "port 80" in kl.check("09-write-headless-service", good.replace("port: 80", "port: 8080")).message
    assert "already has" in kl.check("09-write-headless-service", good.replace("backend-rr", "backend")).message


def test_lesson09_dns_delay_is_the_models() -> None:
    delay = lesson09.first_new_pod_request(30.0)
    assert 5 < delay < 15  # the clients re-resolve 30 s after their first lookup, near 0 s
    assert kl.check("09-predict-dns-delay", round(delay)).passed


def test_lesson10_answers_come_from_the_dump() -> None:
    """The colleague's node lost one DNAT rule: its endpoint is unreachable, the last one gets two thirds."""
    missing = [d for d in kl.diff_rules(lesson10.colleague_node(), lesson10.lesson_cluster(*lesson10.L10),
                                        "kind-worker").differences if d.kind == "missing"]
    assert len(missing) == 1 and kl.solution("10-unreachable-endpoint").answer in missing[0].rule
    assert kl.solution("10-predict-last-share").answer == pytest.approx(200 / 3, abs=0.1)
    assert kl.check("10-predict-last-share", "2/3").status == "wrong-type"
    assert kl.check("10-predict-last-share", 2 / 3).passed
    assert kl.solution("10-node-hook").answer == ("OUTPUT", True)
    assert kl.check("10-node-hook", ["output", True]).passed
    assert "hook is right" in kl.check("10-node-hook", ("OUTPUT", False)).message
    only_port = lesson10.FIXED_10.replace("9376", "8080")
    result = kl.check("10-match-the-dump", only_port)
    assert "port 8080" in result.message and "--rcheck" not in result.message


@pytest.mark.parametrize("ex_id", [e.id for e in kl.exercises(9)])
def test_lesson09_solution_code_runs_in_the_lessons_namespace(ex_id: str) -> None:
    """The code kl.solution shows for lesson 09 runs with the lesson's variables and gives an accepted answer."""
    cluster = lesson09.lesson_cluster(*lesson09.L09)
    namespace = {"kl": kl, "cluster": cluster, "CLIENTS": kl.pod_clients(selector={"app": "client"}),
                 "SCALE": [kl.Event(20, "scale", {"deployment": "backend", "replicas": 6})],
                 "OLD_PODS": lesson09._original_pods(), "new_pods_share": lesson09.new_pod_share}
    exec(kl.solution(ex_id).code, namespace)
    assert kl.check(ex_id, namespace["answer"]).passed


@pytest.mark.parametrize("ex_id", [e.id for e in kl.exercises(10)])
def test_lesson10_solution_code_runs_in_the_lessons_namespace(ex_id: str) -> None:
    """The code kl.solution shows for lesson 10 runs with the lesson's variables and gives an accepted answer."""
    cluster = lesson10.lesson_cluster(*lesson10.L10)
    client_ip = next(p["status"]["podIP"] for p in cluster.pods()
                     if p["spec"].get("nodeName") == "kind-worker" and p["metadata"]["labels"]["app"] == "client")
    namespace = {"kl": kl, "cluster": cluster, "node": lesson10.lesson_node(), "colleague": lesson10.colleague_node(),
                 "client_ip": client_ip, "print": lambda *a, **k: None}
    exec(kl.solution(ex_id).code, namespace)
    assert kl.check(ex_id, namespace["answer"]).passed


@pytest.mark.parametrize("ex_id", [e.id for e in kl.exercises(11)])
def test_lesson11_solution_code_runs_in_the_lessons_namespace(ex_id: str) -> None:
    """The code kl.solution shows for lesson 11 runs with the lesson's helper and gives an accepted answer."""
    base = kl.scenario("three-zones")

    def zoned(**settings: Any) -> Any:
        return kl.explore_service(kl.ServiceSettings(clients=9, connections=3000, **settings), base)

    namespace = {"kl": kl, "zoned": zoned, "print": lambda *a, **k: None}
    exec(kl.solution(ex_id).code, namespace)
    assert kl.check(ex_id, namespace["answer"]).passed


def test_lesson11_answers_come_from_the_model() -> None:
    """Without hints four endpoints of six are elsewhere; a zone without endpoints falls back; Auto needs 3."""
    assert kl.solution("11-predict-cross-share").answer == pytest.approx(200 / 3, abs=0.1)
    assert kl.check("11-predict-cross-share", "0 %").status == "wrong" and "PreferClose" in kl.check(
        "11-predict-cross-share", 0).message
    fallback = kl.solution("11-zone-without-endpoints").answer
    kept = kl.kept_endpoints(lesson11.zoned(2, "PreferClose"), "web")
    assert fallback in set(kept.node_zone) - set(kept[kept.kept].endpoint_zone)
    assert kl.solution("11-predict-auto-replicas").answer == 3
    assert "Insufficient number of endpoints" in kl.check("11-predict-auto-replicas", 2).message
    # PreferSameNode keeps traffic on the node, so in the zone, where the release accepts it (v1.34 on)
    from kubelearn.versions import cluster_minor, gate_default

    accepted = gate_default("PreferSameTrafficDistribution", cluster_minor(lesson11.lesson_cluster()))
    same_node = kl.check("11-keep-it-in-the-zone", lesson11.STARTER_11.replace(
        "spec:\n", "spec:\n  trafficDistribution: PreferSameNode\n"))
    assert same_node.passed == accepted and (accepted or "Unsupported value" in same_node.message)


def test_lesson08_every_broken_setup_shows_exactly_one_symptom_and_the_healthy_one_none() -> None:
    seen = set()
    for key in lesson08.SETUPS:
        present = [d for d in lesson08.DIAGNOSES if lesson08.evidence(key, d)[0]]
        if key == "hostnames":
            assert present == []
        else:
            assert len(present) == 1, (key, present)
            seen.add(present[0])
    assert seen == set(lesson08.DIAGNOSES)  # every key is the answer to one setup
    assert len(lesson08.CASES) >= 8


def test_the_checks_manifests_are_the_lessons_manifests() -> None:
    for copy in sorted(DATA.glob("*.yaml")):
        assert copy.read_text() == (NOTEBOOKS / "manifests" / copy.name).read_text(), copy.name
    for copy in sorted(DATA.glob("*.txt")):  # node dumps (lesson 10)
        assert copy.read_text() == (NOTEBOOKS / "data" / copy.name).read_text(), copy.name
    assert (DATA / lesson10.DUMP).exists() and (DATA / "09-grpc.yaml").exists()
    assert {p.name for p in (NOTEBOOKS / "manifests").glob("08-*.yaml")} <= {p.name for p in DATA.glob("08-*.yaml")}


# ------------------------------------------------------------------------------ the notebooks
def _cells(path: Path) -> list[dict[str, Any]]:
    return json.loads(path.read_text())["cells"]


def _src(cell: dict[str, Any]) -> str:
    return "".join(cell["source"])


LESSONS = sorted(NOTEBOOKS.glob("[01][0-9]-*.ipynb"))


def test_there_are_lessons_00_to_11() -> None:
    assert [p.name[:2] for p in LESSONS] == [f"{i:02d}" for i in range(12)]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_each_exercise_has_a_your_turn_cell_and_a_check_cell(path: Path) -> None:
    lesson = int(path.name[:2])
    cells = _cells(path)
    code = [_src(c) for c in cells if c["cell_type"] == "code"]
    for e in kl.exercises(lesson):
        checks = [i for i, s in enumerate(code) if f'kl.check("{e.id}", answer)' in s]
        assert len(checks) == 1, (e.id, checks)
        before = code[checks[0] - 1]
        assert re.search(r"^answer = \.\.\.", before, re.M) or re.search(r"^answer = '''", before, re.M), e.id
    assert "nbval-skip" not in str([c.get("metadata", {}).get("tags", []) for c in cells
                                    if c["cell_type"] == "code" and "kl.check(" in _src(c)]), "a check cell is skipped"
    mentioned = set(re.findall(r'kl\.check\("([^"]+)"', "\n".join(code)))
    assert mentioned <= set(IDS), mentioned - set(IDS)


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_no_test_markers_and_no_executed_solutions_in_learner_code(path: Path) -> None:
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        source = _src(cell)
        assert "NBVAL" not in source, source[:80]
        assert not source.lstrip().startswith("# Solution"), source[:80]
        assert "kl.solution(" not in source, source[:80]
        for tag in cell.get("metadata", {}).get("tags", []):
            assert tag in ("nbval-check-output", "nbval-ignore-output", "nbval-skip", "raises-exception"), tag


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.name[:2])
def test_stored_outputs_hold_no_warnings_tracebacks_or_machine_paths(path: Path) -> None:
    for cell in _cells(path):
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", path.name
            if out["output_type"] == "stream":
                texts = ["".join(out["text"])]
                assert out.get("name") != "stderr", (path.name, texts[0][:200])
            else:
                data = out.get("data", {})
                texts = ["".join(v) if isinstance(v, list) else str(v)
                         for k, v in data.items() if k.startswith("text/")]
            for text in texts:
                assert "Traceback" not in text and "Warning:" not in text, (path.name, text[:200])
                assert not text.startswith("<Axes"), (path.name, "a plot call's Axes is printed: end it with ;")
                assert not re.search(r"(/work/|/home/|/root/|/tmp/|site-packages)", text), (path.name, text[:200])


@pytest.mark.parametrize("path", [p for p in LESSONS if p.name >= "01"], ids=lambda p: p.name[:2])
def test_run_all_without_answers_shows_friendly_not_yet_messages(path: Path) -> None:
    checked = 0
    for cell in _cells(path):
        if cell["cell_type"] == "code" and "kl.check(" in _src(cell):
            outputs = cell.get("outputs", [])
            assert outputs, "the check cell was not executed"
            html = "".join("".join(o.get("data", {}).get("text/html", "")) for o in outputs)
            assert "Not yet" in html, html[:200]
            checked += 1
    assert checked >= 3
