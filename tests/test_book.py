"""The course site's preparation and its checker (the full build runs in `make book` and CI)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs" / "book"))
import build_book as build  # noqa: E402
import check_site  # noqa: E402


def _code(source: str, tags: list[str] | None = None) -> dict:  # type: ignore[type-arg]
    return {"cell_type": "code", "source": source, "metadata": {"tags": tags} if tags else {}, "outputs": []}


def test_solutions_fold_and_test_markers_disappear() -> None:
    nb = {"cells": [
        _code("# NBVAL_CHECK_OUTPUT\nprint(1)"),
        _code("# Solution\n# NBVAL_CHECK_OUTPUT\nfour = 4"),
        _code("kl.solution('04-predict-share')"),
        _code("x = 1", tags=["solution"]),
        {"cell_type": "markdown", "source": "# Solution of nothing", "metadata": {}},
    ]}
    out = build.prepare_notebook(nb)
    assert out["cells"][0]["source"] == "print(1)" and "tags" not in out["cells"][0]["metadata"]
    assert out["cells"][1]["source"] == "# Solution\nfour = 4"
    assert [("hide-cell" in c["metadata"].get("tags", [])) for c in out["cells"]] == [False, True, True, True, False]


def test_every_lesson_is_in_the_book_in_order() -> None:
    names = [p.name for p in build.lessons()]
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")) and names


def _site(tmp_path: Path, page: str) -> tuple[Path, Path]:
    html = tmp_path / "html"
    (html / "_images").mkdir(parents=True)
    (html / "_images" / "a.png").write_bytes(b"png")
    (html / "00-x.html").write_text(page)
    nb = tmp_path / "00-x.ipynb"
    nb.write_text(json.dumps({"cells": [{"cell_type": "code", "source": "", "metadata": {}, "outputs": [
        {"output_type": "display_data", "data": {"image/png": "..", "text/plain": ".."}},
        {"output_type": "display_data", "data": {"image/png": "..", "text/plain": ".."}}]}]}))
    return html, nb


BINDER = "https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/00-x.ipynb"


def test_checker_passes_a_good_page(tmp_path: Path) -> None:
    html, nb = _site(tmp_path, f'<a href="{BINDER}">launch</a><a id="top" href="#top"></a>'
                               '<img src="_images/a.png"><img src="_images/a.png">')
    assert check_site.check(html, [nb]) == []


def test_checker_finds_missing_figures_broken_links_and_no_launch_button(tmp_path: Path) -> None:
    html, nb = _site(tmp_path, '<img src="_images/a.png"><a href="nope.html">x</a><a href="00-x.html#gone">y</a>'
                               '<a href="https://mybinder.org/v2/gh/o/r/main?urlpath=lab/tree/notebooks/99-none.ipynb">z</a>')
    problems = "\n".join(check_site.check(html, [nb]))
    assert "shows 1 of the lesson's 2 stored figures" in problems
    assert "broken link or image: nope.html" in problems
    assert "missing anchor: 00-x.html#gone" in problems
    assert "Binder link to a lesson that does not exist" in problems
    assert "no Binder launch button for 00-x.ipynb" in problems
