"""End to end: the lessons in a real JupyterLab, in headless Chromium (Debian's).

JupyterLab runs on a throwaway port bound to 127.0.0.1 over a copy of ``notebooks/``;
Playwright drives the system Chromium (never a downloaded browser) at 1400 x 1000 with the
file browser open, as a learner sees the course.  It opens lesson 00 and every lesson that
shows a Service explorer, runs all cells, moves the explorer's replicas slider with the
keyboard as a learner would, and checks that the picture changed, that no output is an
error, and that every widget's picture fits its box: no scroll bar (its scroll width equals
its client width) and no image scaled down.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)
REPO = Path(__file__).resolve().parents[1]
#: Lesson 00, and every lesson that shows the Service explorer.
LESSONS = sorted({"00-playground.ipynb"} | {p.name for p in (REPO / "notebooks").glob("[0-9][0-9]-*.ipynb")
                                            if "ServiceExplorer(" in p.read_text()})

NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["%matplotlib inline\n",
                    "from kubelearn.widgets import ServiceExplorer, ServiceSettings\n",
                    "explorer = ServiceExplorer(settings=ServiceSettings(connections=1000))\n",
                    "explorer"]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["print('replicas', explorer.settings.replicas)"]},
    ],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    pytest.importorskip("playwright.sync_api", reason="the e2e test needs playwright (pip install playwright)")
    pytest.importorskip("jupyterlab", reason="the e2e test needs jupyterlab")
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed (apt-get install -y chromium); this test never downloads a browser")
    root = tmp_path / "notebooks"
    shutil.copytree(REPO / "notebooks", root)  # a copy: running the lessons never changes tracked files
    (root / "explorer.ipynb").write_text(json.dumps(NOTEBOOK))
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
         f"--ServerApp.root_dir={root}", "--IdentityProvider.token=", "--ServerApp.password=",
         "--ServerApp.disable_check_xsrf=True", "--LabApp.expose_app_in_browser=True", "--allow-root",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}", f"--LabApp.workspaces_dir={tmp_path / 'ws'}"],
        env=env, stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"))  # noqa: SIM115
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/status", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("JupyterLab did not start:\n" + (tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()


def test_service_explorer_redraws_in_a_real_browser(lab: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(90_000)
            page.goto(f"{lab}/lab/tree/explorer.ipynb?reset")
            page.wait_for_function("window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
                                   "?.status === 'idle'")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_function("""() => { const p = window.jupyterapp.shell.currentWidget;
                return p.content.widgets.filter(c => c.model.type === 'code')
                         .every(c => c.model.executionCount !== null)
                       && p.sessionContext.session.kernel.status === 'idle'; }""")
            picture = page.locator(".jp-Notebook .widget-output .jp-RenderedSVG, "
                                   ".jp-Notebook .widget-output .jp-RenderedImage").first
            picture.wait_for(state="visible")
            before_html = picture.inner_html()
            before_png = picture.screenshot()
            assert "svg" in before_html
            assert "replicas 3" in page.locator(".jp-OutputArea-output pre").last.inner_text()

            handle = page.locator(".jp-Notebook .widget-slider .noUi-handle").first  # the replicas slider
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("""(before) => { const el = document.querySelector(
                '.jp-Notebook .widget-output .jp-RenderedSVG, .jp-Notebook .widget-output .jp-RenderedImage');
                return el && el.innerHTML !== before; }""", arg=before_html)
            after = page.locator(".jp-Notebook .widget-output .jp-RenderedSVG, "
                                 ".jp-Notebook .widget-output .jp-RenderedImage").first
            after.wait_for(state="visible")
            assert after.screenshot() != before_png  # the rendered image itself changed
            assert "replicas 3 → 4" in page.locator(".jp-Notebook .widget-html").first.inner_text()
            # No traceback anywhere on the page.
            assert page.locator('[data-mime-type="application/vnd.jupyter.stderr"]').count() == 0
        finally:
            browser.close()


def _run_all(page: Any, lab: str, notebook: str) -> None:
    page.goto(f"{lab}/lab/tree/{notebook}?reset")
    page.wait_for_function("window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel"
                           "?.status === 'idle'")
    page.evaluate("window.jupyterapp.shell.activateById('filebrowser')")  # as a learner has it: file browser open
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    # Done when every cell ran (cells tagged nbval-skip may be left), or at the first error
    # (Run All stops there): the caller then finds the error output and fails with it.
    page.wait_for_function("""() => { const p = window.jupyterapp.shell.currentWidget;
        const idle = p.sessionContext.session.kernel.status === 'idle';
        const failed = document.querySelector('.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]');
        return idle && (failed || p.content.widgets.filter(c => c.model.type === 'code')
                 .every(c => c.model.executionCount !== null
                             || (c.model.getMetadata('tags') || []).includes('nbval-skip'))); }""")


FITS = """() => Array.from(document.querySelectorAll('.jp-Notebook .widget-output')).map(el => {
    const img = el.querySelector('img');
    return {scroll: el.scrollWidth, client: el.clientWidth, scrollH: el.scrollHeight, clientH: el.clientHeight,
            natural: img ? img.naturalWidth : 0, shown: img ? img.clientWidth : 0}; })"""


@pytest.mark.parametrize("notebook", LESSONS)
def test_lesson_runs_and_its_widgets_fit_and_redraw(lab: str, notebook: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                                          "--disable-component-update", "--no-first-run"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(240_000)
            _run_all(page, lab, notebook)
            # No traceback, no warning anywhere.
            errors = page.locator('.jp-Notebook [data-mime-type="application/vnd.jupyter.stderr"]')
            assert errors.count() == 0, errors.first.inner_text()[:2000]
            boxes = page.evaluate(FITS)
            assert boxes, f"{notebook} shows no widget"
            for box in boxes:
                assert box["scroll"] == box["client"] and box["scrollH"] == box["clientH"], box  # no scroll bar
                assert box["natural"] == box["shown"], box  # the picture is not scaled down
            if "ServiceExplorer(" not in (REPO / "notebooks" / notebook).read_text():
                return
            explorer = page.locator(".jp-Notebook .widget-vbox:has(.widget-slider)").first
            picture = explorer.locator(".widget-output img, .widget-output svg").first
            picture.wait_for(state="visible")
            before = picture.evaluate("el => el.outerHTML")
            handle = explorer.locator(".widget-slider .noUi-handle").first  # the replicas slider
            handle.focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("""([before]) => { const el = document.querySelector(
                '.jp-Notebook .widget-vbox .widget-output img, .jp-Notebook .widget-vbox .widget-output svg');
                return el && el.outerHTML !== before; }""", arg=[before])
            # the message under the controls says what changed; under load it may arrive after the picture
            message = explorer.locator(".widget-html").first
            page.wait_for_function("el => el.innerText.includes('replicas')", arg=message.element_handle())
            assert "replicas" in message.inner_text()
            for box in page.evaluate(FITS):  # the new picture fits too
                assert box["scroll"] == box["client"] and box["natural"] == box["shown"], box
        finally:
            browser.close()
