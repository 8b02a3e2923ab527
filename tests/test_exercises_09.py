"""Lesson 09's exercises check themselves from the model: solutions pass, wrong answers get a hint, nothing raises."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kubelearn import exercises_09
from kubelearn.exercises_09 import EXERCISES, MANIFEST

REPO = Path(__file__).resolve().parents[1]
LESSON = REPO / "notebooks" / "09-connections-not-requests.ipynb"
BY_ID = {e["id"]: e for e in EXERCISES}

WRONG: list[Any] = [..., None, "", "forty", 0.5, 3, -1, 1e9, float("nan"), [1], {"kind": "Pod"}, True, object()]


def test_every_exercise_has_the_fields_the_exercises_api_reads() -> None:
    assert len(EXERCISES) >= 3
    for e in EXERCISES:
        assert e["id"].startswith("09-") and e["lesson"] == "09" and e["prompt"]
        assert callable(e["check"])
        assert e["solution"]["code"] and e["solution"]["explanation"]


@pytest.mark.parametrize("exercise_id", sorted(BY_ID))
def test_the_solution_passes(exercise_id: str) -> None:
    exercise = BY_ID[exercise_id]
    passed, message = exercise["check"](exercise["solution"]["answer"])
    assert passed, message
    assert message.startswith("Right")


@pytest.mark.parametrize("exercise_id", sorted(BY_ID))
def test_wrong_empty_and_mistyped_answers_fail_with_a_message(exercise_id: str) -> None:
    check = BY_ID[exercise_id]["check"]
    for answer in WRONG:
        if exercise_id == "09-choose-max-connection-age" and answer == 3:
            continue  # 3 s is a right answer there
        passed, message = check(answer)
        assert passed is False, (answer, message)
        assert isinstance(message, str) and message
    assert check(...)[1].startswith("Not yet")


def test_the_predicted_share_is_the_models() -> None:
    """Four connections opened before the scale-up: the new pods get none of the later requests."""
    assert exercises_09.new_pod_share(exercises_09._pinned(), 30.0) == 0.0
    passed, message = BY_ID["09-predict-new-pods-share"]["check"](0.5)
    assert not passed and "six pods sharing the requests equally" in message


def test_max_connection_age_rule_follows_the_scale_up() -> None:
    check = BY_ID["09-choose-max-connection-age"]["check"]
    assert check(20)[0] and check(5)[0]
    passed, message = check(30)
    assert not passed and "stays open until 50 s" in message
    assert not check(0.2)[0]  # a handshake per request is not an answer


def test_headless_service_is_checked_against_dns() -> None:
    check = BY_ID["09-write-headless-service"]["check"]
    good = ("apiVersion: v1\nkind: Service\nmetadata:\n  name: backend-rr\nspec:\n  clusterIP: None\n"
            "  selector:\n    app: backend\n  ports:\n  - port: 80\n    targetPort: grpc\n")
    assert check(good)[0]
    passed, message = check(good.replace("  clusterIP: None\n", ""))
    assert not passed and "virtual IP" in message
    passed, message = check(good.replace("app: backend", "app: backnd"))
    assert not passed and "selector" in message
    passed, message = check(good.replace("port: 80", "port: 8080"))
    assert not passed and "port 80" in message
    assert not check("kind: [")[0]


def test_dns_delay_is_the_models() -> None:
    delay = exercises_09.first_new_pod_request(30.0)
    assert 5 < delay < 15  # the clients re-resolve 30 s after their first lookup, near 0 s
    assert BY_ID["09-predict-dns-delay"]["check"](round(delay))[0]


def test_the_lessons_manifest_is_the_one_the_checks_use() -> None:
    assert (REPO / "notebooks" / "manifests" / "09-grpc.yaml").read_text() == MANIFEST


def test_the_lesson_has_a_your_turn_and_a_check_cell_per_exercise() -> None:
    nb = json.loads(LESSON.read_text())
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    sources = ["".join(c["source"]) for c in code]
    for exercise_id in BY_ID:
        i = next(k for k, s in enumerate(sources) if f'kl.check("{exercise_id}", answer)' in s)
        assert sources[i - 1].strip() == "answer = ..." or any(
            s.strip() == "answer = ..." for s in sources[max(0, i - 2):i])
    for cell in code:
        text = "".join(cell["source"])
        assert "NBVAL" not in text and "# Solution" not in text  # markers are tags, solutions only on request
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error"
            assert out.get("name") != "stderr"
            assert "/work/" not in json.dumps(out) and "/root/" not in json.dumps(out)
