"""The machinery behind :func:`kubelearn.check`: exercises, results, solutions, safe answer reading.

A check never raises.  Whatever a learner puts in ``answer`` (nothing yet, a number where
YAML was wanted, an object whose ``__eq__`` or ``__str__`` raises), :func:`run_check` returns
a :class:`Result`.  Answers are only ever inspected through ``isinstance`` and the helpers
below, which convert them to plain values first; an unexpected exception inside a checker is
turned into a plain sentence, never a traceback.
"""

from __future__ import annotations

import html
import math
import numbers
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..errors import KubelearnError

__all__ = ["Exercise", "ExerciseList", "Result", "Solution", "WrongType", "register", "registry"]

#: The largest manifest text a check reads (a manifest is untrusted input).
MAX_ANSWER_CHARS = 100_000
#: The most values a manifest may hold once YAML aliases are expanded ("billion laughs").
MAX_EXPANDED_NODES = 200_000

NOT_YET = "Write your answer in the cell above (in place of the `...`), run it, then run this cell again."

NOT_YET_STARTER = ("This is still the manifest as the lesson gives it. Edit the YAML in the cell above, run it, "
                   "then run this cell again.")

DATA = Path(__file__).resolve().parent.parent / "data" / "exercises"


class WrongType(Exception):
    """The answer has the wrong type; the message says what is expected."""


@dataclass(frozen=True)
class Result:
    """What :func:`kubelearn.check` says about one answer.

    Attributes:
        exercise: the exercise id.
        passed: True when the answer is right.
        message: one or two sentences for the learner (a computed hint when the answer is wrong).
        status: ``passed``, ``not-yet`` (the answer is still ``...``), ``wrong``, ``wrong-type``
            or ``unknown-exercise``.
    """

    exercise: str
    passed: bool
    message: str
    status: str

    @property
    def _title(self) -> str:
        return {"passed": "Correct", "not-yet": "Not yet", "wrong-type": "Not the expected kind of answer",
                "unknown-exercise": "Unknown exercise"}.get(self.status, "Not quite")

    def __repr__(self) -> str:
        mark = "✓" if self.passed else ("…" if self.status == "not-yet" else "✗")
        return f"{mark} {self.exercise}: {self._title}. {_plain(self.message)}"

    def _repr_markdown_(self) -> str:
        mark = "✅" if self.passed else ("✏️" if self.status == "not-yet" else "❌")
        return f"{mark} **{self._title}** ({self.exercise}). {self.message}"

    def _repr_html_(self) -> str:
        colour, background = {"passed": ("#1b5e20", "#e8f5e9"), "not-yet": ("#5d4037", "#fff8e1")}.get(
            self.status, ("#b71c1c", "#ffebee"))
        mark = "✓" if self.passed else ("✎" if self.status == "not-yet" else "✗")
        return (f'<div style="border-left:4px solid {colour};background:{background};padding:6px 10px;'
                f'color:#222;white-space:normal">'
                f'<b style="color:{colour}">{mark} {html.escape(self._title)}</b> '
                f'<span style="color:#555">({html.escape(self.exercise)})</span><br>{_html(self.message)}</div>')


@dataclass(frozen=True)
class Solution:
    """A worked solution: the code a learner could run, why it works, and an accepted answer."""

    exercise: str
    code: str
    explanation: str
    make_answer: Callable[[], Any] = field(repr=False)

    @cached_property
    def answer(self) -> Any:
        """A value :func:`kubelearn.check` accepts for this exercise (computed with the model)."""
        return self.make_answer()

    def __repr__(self) -> str:
        return f"Solution of {self.exercise}:\n\n{self.code}\n\n{_plain(self.explanation)}"

    def _repr_markdown_(self) -> str:
        return f"**Solution of {self.exercise}**\n\n```python\n{self.code}\n```\n\n{self.explanation}"

    def _repr_html_(self) -> str:
        return (f'<div style="border-left:4px solid #1565c0;padding:6px 10px"><b>Solution of '
                f'{html.escape(self.exercise)}</b><pre style="white-space:pre-wrap">{html.escape(self.code)}</pre>'
                f'{_html(self.explanation)}</div>')


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``id`` (lesson number first), ``lesson``, ``title``, ``kind`` and ``prompt``.

    ``kind`` is ``predict`` (a number or a name, worked out before measuring it), ``manifest``
    (YAML to write or fix, checked by loading it), ``diagnose`` (a diagnosis key, lesson 08)
    or ``name`` (a name or address, checked against the model).  ``expects`` says what type of
    answer the check reads.
    """

    id: str
    lesson: int
    title: str
    kind: str
    prompt: str
    expects: str
    checker: Callable[[Any], tuple[bool, str]] = field(repr=False, compare=False)
    solution_code: str = field(repr=False, compare=False, default="")
    explanation: str = field(repr=False, compare=False, default="")
    solution_answer: Callable[[], Any] = field(repr=False, compare=False, default=lambda: None)
    #: The manifest as the lesson gives it, to be edited; handing it back unchanged is "not yet".
    starter: str = field(repr=False, compare=False, default="")


class ExerciseList(list[Exercise]):
    """The exercises (a plain list) that shows as a table in a notebook."""

    def __repr__(self) -> str:
        return "\n".join(f"{e.id:28} {e.kind:9} {e.title}" for e in self)

    def _repr_markdown_(self) -> str:
        rows = "\n".join(f"| `{e.id}` | {e.lesson:02d} | {e.kind} | {e.title} |" for e in self)
        return "| id | lesson | kind | title |\n|---|---|---|---|\n" + rows


_REGISTRY: dict[str, Exercise] = {}


def register(exercise: Exercise) -> Exercise:
    if exercise.id in _REGISTRY:
        raise KubelearnError(f"exercise id {exercise.id!r} registered twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def registry() -> dict[str, Exercise]:
    from . import lesson08, lesson09, lesson10, lesson11, lessons  # noqa: F401  (importing registers every exercise once)

    return _REGISTRY


def run_check(exercise_id: Any, answer: Any) -> Result:
    """The body of :func:`kubelearn.check`: never raises."""
    try:
        known = registry()
        if not isinstance(exercise_id, str) or exercise_id not in known:
            shown = exercise_id if isinstance(exercise_id, str) else f"a {type_name(exercise_id)}"
            return Result(str(shown)[:60], False, f"There is no exercise {str(shown)[:60]!r}. "
                          f"`kl.exercises()` lists them; ids look like {next(iter(known), '01-...')!r}.",
                          "unknown-exercise")
        ex = known[exercise_id]
    except Exception as exc:  # pragma: no cover - the registry is static
        return Result("?", False, f"kubelearn could not look the exercise up ({type(exc).__name__}).", "wrong")
    if answer is Ellipsis:
        return Result(ex.id, False, NOT_YET, "not-yet")
    if ex.starter and isinstance(answer, str) and str.strip(answer) == ex.starter.strip():
        return Result(ex.id, False, NOT_YET_STARTER, "not-yet")
    try:
        passed, message = ex.checker(answer)
        return Result(ex.id, bool(passed), message, "passed" if passed else "wrong")
    except WrongType as exc:
        return Result(ex.id, False, str(exc), "wrong-type")
    except RecursionError:
        return Result(ex.id, False, f"This answer is nested too deeply to read. Expected: {ex.expects}.",
                      "wrong-type")
    except Exception:
        return Result(ex.id, False, f"kubelearn could not read this answer. Expected: {ex.expects}.",
                      "wrong-type")


# ----------------------------------------------------------------------------- reading answers
def type_name(value: Any) -> str:
    """The answer's type in words, without calling anything the answer defines."""
    try:
        name = type(value).__name__
    except Exception:  # pragma: no cover - a type always has a name
        name = "object"
    return {"str": "string", "int": "whole number", "float": "number", "bool": "True/False value",
            "NoneType": "None", "dict": "dict", "list": "list", "tuple": "tuple"}.get(name, f"{name} object")


_NUMBER = re.compile(r"^\s*([-+]?\d+(?:[.,]\d+)?|[-+]?\.\d+)\s*(%?)\s*$")


def number(answer: Any, expects: str) -> float:
    """A real number from an int, a float, a numpy number or a string such as ``"25"`` or ``"25 %"``."""
    if isinstance(answer, bool) or answer is None:
        raise WrongType(f"Expected {expects}; got {type_name(answer)}.")
    if isinstance(answer, numbers.Real):
        try:
            value = float(answer)
        except Exception as exc:
            raise WrongType(f"Expected {expects}; this {type_name(answer)} is not a plain number.") from exc
    elif isinstance(answer, str):
        m = _NUMBER.match(answer[:40])
        if not m:
            raise WrongType(f"Expected {expects}; the text {answer[:40]!r} is not a number.")
        value = float(m.group(1).replace(",", "."))
    else:
        raise WrongType(f"Expected {expects}; got {type_name(answer)}.")
    if not math.isfinite(value):
        raise WrongType(f"Expected {expects}; got {value}.")
    return value


def percent(answer: Any) -> float:
    """A share in per cent: ``25``, ``"25 %"`` and ``0.25`` all mean 25 %."""
    value = number(answer, "a share, such as 25 (per cent) or 0.25")
    if isinstance(answer, str) and "%" in answer:
        return value
    return value * 100 if 0 < value <= 1 else value


def whole(answer: Any, expects: str) -> int:
    value = number(answer, expects)
    if value != int(value):
        raise WrongType(f"Expected {expects}; {value:g} is not a whole number.")
    return int(value)


def text(answer: Any, expects: str, limit: int = 300) -> str:
    """A plain string (a name, a key), stripped; anything else is the wrong type."""
    if not isinstance(answer, str):
        raise WrongType(f"Expected {expects}; got {type_name(answer)}.")
    value = str.strip(answer)
    if not value:
        raise WrongType(f"Expected {expects}; the string is empty.")
    if len(value) > limit:
        raise WrongType(f"Expected {expects}; this string is {len(value):,} characters long.")
    return value


def manifest(answer: Any) -> str | list[dict[str, Any]]:
    """A manifest as YAML text, a dict or a list of dicts (what ``cluster.apply`` accepts)."""
    expects = "a manifest: YAML text in a string (or a dict, as cluster.apply accepts)"
    if isinstance(answer, str):
        if not str.strip(answer):
            raise WrongType(f"Expected {expects}; the string is empty.")
        if len(answer) > MAX_ANSWER_CHARS:
            raise WrongType(f"Expected {expects}; {len(answer):,} characters is more than a manifest needs.")
        text = str(answer)
        if "*" in text and expanded_size(text) > MAX_EXPANDED_NODES:
            raise WrongType(f"Expected {expects}; its YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values.")
        return text
    if isinstance(answer, Mapping):
        return [plain(answer)]
    if isinstance(answer, (list, tuple)) and answer and all(isinstance(a, Mapping) for a in answer):
        return [plain(a) for a in answer]
    raise WrongType(f"Expected {expects}; got {type_name(answer)}.")


def expanded_size(text: str) -> int:
    """How many YAML values ``text`` holds with every alias expanded, counted without expanding.

    A few lines of anchors and aliases can stand for billions of values; the composer keeps an
    alias as a reference to one node, so the size is a sum over the node graph, memoised per node.
    A node that contains itself counts as unbounded.  Unparseable YAML counts as 0 (the
    manifest reader reports it in its own words).
    """
    import yaml

    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Any) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            return MAX_EXPANDED_NODES + 1
        open_nodes.add(key)
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        open_nodes.discard(key)
        sizes[key] = total = min(total, MAX_EXPANDED_NODES + 1)
        return total

    try:
        return sum(size(doc) for doc in yaml.compose_all(text, Loader=yaml.SafeLoader) if doc is not None)
    except yaml.YAMLError:
        return 0


def plain(value: Any, depth: int = 0) -> Any:
    """A copy made only of dict, list, str, int, float, bool and None (what YAML can hold)."""
    if depth > 40:
        raise WrongType("Expected a manifest; this one is nested more than 40 levels deep.")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        out = {}
        for k in list(value.keys())[:10_000]:
            if not isinstance(k, str):
                raise WrongType(f"Expected a manifest; a key of type {type_name(k)} is not a field name.")
            out[str(k)] = plain(value[k], depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [plain(v, depth + 1) for v in list(value)[:10_000]]
    raise WrongType(f"Expected a manifest; a {type_name(value)} cannot appear in one.")


def sequence_of_numbers(answer: Any, expects: str) -> list[float]:
    if isinstance(answer, (str, bytes, Mapping)) or not isinstance(answer, Sequence):
        raise WrongType(f"Expected {expects}; got {type_name(answer)}.")
    if len(answer) > 1000:
        raise WrongType(f"Expected {expects}; this has {len(answer):,} items.")
    return [number(v, expects) for v in list(answer)]


def each(values: Iterator[Any] | Sequence[Any]) -> str:
    items = [str(v) for v in values]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _plain(message: str) -> str:
    return message.replace("`", "")


def _html(message: str) -> str:
    escaped = html.escape(message)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    return escaped.replace("\n", "<br>")
