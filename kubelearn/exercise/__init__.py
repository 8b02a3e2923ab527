"""Exercises that check themselves: ``kl.exercises()``, ``kl.check(id, answer)``, ``kl.solution(id)``.

Every lesson from 01 on ends its sections with small tasks.  A learner writes an answer in an
"answer = ..." cell and runs ``kl.check("04-predict-share", answer)``.  The check does not compare
strings: it runs the model.  A prediction is compared with what :func:`kubelearn.predicted_shares`,
the rules or the tracer compute; a manifest is applied to the lesson's cluster (the API server's
checks, then the controllers) and the result is inspected (does the Service have endpoints? do its
rules say ``--seconds 600``? does the simulated client stay on one pod?).  A wrong answer gets a hint
computed from the same model, an answer of the wrong type a sentence saying what is expected, and
``...`` (the placeholder) a friendly "not yet".  ``kl.check`` never raises.

The package is called ``exercise`` (singular) so that no submodule shadows the public function
``kl.exercises`` (``tests/test_public_api.py`` keeps it that way).

Solutions are shown only when asked: ``kl.solution(id)`` gives the code, the explanation and an
``answer`` that the check accepts.

>>> import kubelearn as kl
>>> kl.check("01-predict-endpoints", ...).status
'not-yet'
>>> kl.check("01-predict-endpoints", kl.solution("01-predict-endpoints").answer).passed
True
"""

from __future__ import annotations

from typing import Any

from ._core import Exercise, ExerciseList, Result, Solution, run_check
from ._core import registry as _registered

__all__ = ["Exercise", "ExerciseList", "Result", "Solution", "check", "exercises", "solution"]


def registry() -> dict[str, Exercise]:
    """Every exercise, by id: importing the lesson modules registers theirs (once)."""
    from . import lesson08, lesson09, lesson10, lesson11, lessons  # noqa: F401

    return _registered()


def exercises(lesson: int | None = None) -> ExerciseList:
    """Every exercise (or one lesson's), in lesson order, each with ``id``, ``lesson``, ``title`` and ``prompt``."""
    found = sorted(registry().values(), key=lambda e: (e.lesson, _order(e.id)))
    return ExerciseList(e for e in found if lesson is None or e.lesson == lesson)


def check(id: str, answer: Any) -> Result:
    """Check ``answer`` for exercise ``id``; never raises.

    Returns:
        a :class:`Result` with ``passed``, ``message`` and ``status`` that shows as a coloured box in a
        notebook.
    """
    return run_check(id, answer, registry())


def solution(id: str) -> Solution:
    """The worked solution of exercise ``id``: ``code``, ``explanation`` and an accepted ``answer``.

    Raises:
        KubelearnError: for an id that is not an exercise (listing where to find the ids).
    """
    from ..errors import KubelearnError

    known = registry()
    if not isinstance(id, str) or id not in known:
        raise KubelearnError(f"there is no exercise {id!r}; kl.exercises() lists them")
    e = known[id]
    return Solution(e.id, e.solution_code, e.explanation, e.solution_answer)


def _order(exercise_id: str) -> int:
    return list(registry()).index(exercise_id)

