"""Check the built course site: figures present, links resolve, a Binder launch on every lesson page.

Offline by design: local links and images must exist in the output folder; external links are
only checked for form (the Binder launch links must name a lesson that exists in ``notebooks/``).
"""

from __future__ import annotations

import json
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.scripts: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        elif tag == "img" and a.get("src"):
            self.images.append(str(a["src"]))
        elif tag == "script" and a.get("src"):
            self.scripts.append(str(a["src"]))
        elif tag == "link" and a.get("href") and a.get("rel") in ("stylesheet", "icon", "preload"):
            self.links.append(str(a["href"]))


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _stored_figures(notebook: Path) -> int:
    """Figures a reader should see: image outputs (a widget's stored still included)."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    n = 0
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "image/png" in data or "image/svg+xml" in data or "image/jpeg" in data:
                n += 1
    return n


def check(html: Path, lessons: list[Path]) -> list[str]:
    problems: list[str] = []
    # _static/ holds the theme's template fragments, not pages
    pages = sorted(p for p in html.rglob("*.html") if p.relative_to(html).parts[0] != "_static")
    parsed = {p: _parse(p) for p in pages}
    lesson_names = {p.name for p in lessons}
    for page, doc in parsed.items():
        rel = page.relative_to(html)
        for ref in doc.links + doc.images + doc.scripts:
            url = urlparse(ref)
            if url.scheme in ("http", "https"):
                if url.netloc == "mybinder.org":
                    target = parse_qs(url.query).get("urlpath", [""])[0]
                    if not (target.startswith("lab/tree/notebooks/") and target.rsplit("/", 1)[-1] in lesson_names):
                        problems.append(f"{rel}: Binder link to a lesson that does not exist: {ref}")
                continue
            if url.scheme in ("mailto", "data", "javascript") or ref.startswith("#") and not ref[1:]:
                continue
            if url.scheme:
                problems.append(f"{rel}: unexpected link scheme: {ref}")
                continue
            target = (page.parent / unquote(url.path)).resolve() if url.path else page
            if url.path and not target.exists():
                problems.append(f"{rel}: broken link or image: {ref}")
            elif url.fragment and target.suffix == ".html" and target in parsed and url.fragment not in parsed[target].ids:
                problems.append(f"{rel}: link to a missing anchor: {ref}")
    for lesson in lessons:
        page = html / f"{lesson.stem}.html"
        if page not in parsed:
            problems.append(f"{lesson.name}: no page in the site")
            continue
        doc = parsed[page]
        shown = [s for s in doc.images if "_images/" in s]
        wanted = _stored_figures(lesson)
        if len(shown) < wanted:
            problems.append(f"{page.name}: shows {len(shown)} of the lesson's {wanted} stored figures")
        binder = [u for u in doc.links if u.startswith("https://mybinder.org/")
                  and parse_qs(urlparse(u).query).get("urlpath", [""])[0].endswith(f"/notebooks/{lesson.name}")]
        if not binder:
            problems.append(f"{page.name}: no Binder launch button for {lesson.name}")
    return problems


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    root = here.parents[1]
    found = check(here / "_build" / "html", sorted((root / "notebooks").glob("[0-9][0-9]-*.ipynb")))
    for p in found:
        print(f"error: {p}", file=sys.stderr)
    sys.exit(1 if found else 0)
