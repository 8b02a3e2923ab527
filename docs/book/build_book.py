"""Build the rendered course: ``python docs/book/build_book.py`` (``make book``), then check the site.

1. Lay out the sources in ``docs/book/_build/src``: every lesson in ``notebooks/`` (whatever
   lessons it holds, new ones included), with exercise solutions collapsed (MyST-NB's
   ``hide-cell`` tag on cells that start with ``# Solution``, carry a ``solution`` tag or call
   ``kl.solution(``) and test-runner comments (``# NBVAL_…``) taken out of the shown code;
   and an index page listing the lessons with a Binder launch link each.
2. Run Sphinx with warnings as errors; no notebook is executed.
3. Check the HTML (``check_site.py``): every lesson page has all its figures, every local link and
   image resolves, every page has a Binder launch button for its lesson.

The result, ``docs/book/_build/html``, is plain static files (GitHub Pages or any web server).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUILD = HERE / "_build"
SRC = BUILD / "src"
HTML = BUILD / "html"

_NBVAL = re.compile(r"^\s*#\s*NBVAL_[A-Z_]+\s*$")


def lessons() -> list[Path]:
    """The lessons in course order: ``notebooks/NN-*.ipynb``."""
    return sorted(p for p in NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))


def title(nb: dict[str, Any], fallback: str) -> str:
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    return fallback


def is_solution(cell: dict[str, Any]) -> bool:
    if cell["cell_type"] != "code":
        return False
    tags = cell.get("metadata", {}).get("tags", [])
    shown = [ln for ln in "".join(cell["source"]).splitlines() if not _NBVAL.match(ln)]
    return ("solution" in tags or bool(shown and shown[0].strip().lower().startswith("# solution"))
            or "kl.solution(" in "".join(cell["source"]))


def prepare_notebook(nb: dict[str, Any]) -> dict[str, Any]:
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        lines = "".join(cell["source"]).splitlines(keepends=True)
        cell["source"] = "".join(ln for ln in lines if not _NBVAL.match(ln))
        if is_solution(cell):
            tags = cell.setdefault("metadata", {}).setdefault("tags", [])
            if "hide-cell" not in tags:
                tags.append("hide-cell")
    return nb


def binder_url(repository: str, branch: str, notebook: str) -> str:
    slug = repository.removeprefix("https://github.com/").strip("/")
    return f"https://mybinder.org/v2/gh/{slug}/{branch}?urlpath=lab/tree/notebooks/{notebook}"


def prepare() -> None:
    sys.path.insert(0, str(HERE))
    import conf  # the one place the repository address is configured

    if SRC.exists():
        shutil.rmtree(SRC)
    SRC.mkdir(parents=True)
    rows = []
    for path in lessons():
        nb = json.loads(path.read_text(encoding="utf-8"))
        (SRC / path.name).write_text(json.dumps(prepare_notebook(nb), ensure_ascii=False, indent=1), encoding="utf-8")
        rows.append((path.stem, title(nb, path.stem), binder_url(conf.REPOSITORY, conf.BRANCH, path.name)))
    index = [
        "# kubelearn: how Kubernetes Services really work",
        "",
        "A course in Jupyter notebooks on a faithful model of a Kubernetes cluster and kube-proxy: "
        "selectors and EndpointSlices, DNS, the iptables, nftables and IPVS rules, load balancing, "
        "traffic policies, rollouts, and the real kernel as a judge.",
        "",
        "These pages show each lesson as it was last run, with its stored outputs. The controls "
        "(sliders, drop-downs) need a running Python: open a lesson on Binder with the rocket button "
        "at the top of each lesson's page, or on your machine with `pip install \"kubelearn[notebooks]\"` and "
        "`kubelearn lab`. Where a lesson has a live control, this page shows a still picture of it.",
        "",
        "| lesson | run it |",
        "|---|---|",
        *[f"| [{t}]({stem}.ipynb) | [launch on Binder]({url}) |" for stem, t, url in rows],
        "",
        "```{toctree}",
        ":hidden:",
        ":maxdepth: 1",
        "",
        *[stem for stem, _, _ in rows],
        "```",
        "",
    ]
    (SRC / "index.md").write_text("\n".join(index), encoding="utf-8")


def build() -> int:
    prepare()
    if HTML.exists():
        shutil.rmtree(HTML)
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-c", str(HERE),
           "-d", str(BUILD / "doctrees"), str(SRC), str(HTML)]
    code = subprocess.call(cmd)
    if code != 0:
        print("error: the course site did not build cleanly (warnings are errors)", file=sys.stderr)
        return code
    sys.path.insert(0, str(HERE))
    import check_site

    problems = check_site.check(HTML, lessons())
    for p in problems:
        print(f"error: {p}", file=sys.stderr)
    if problems:
        return 1
    print(f"built the course site: {HTML} ({len(lessons())} lessons)")
    return 0


if __name__ == "__main__":
    sys.exit(build())
