"""Sphinx configuration of the rendered course (``make book``; sources prepared by ``build_book.py``).

Sphinx + MyST-NB + the Sphinx Book Theme: everything installs from PyPI (``--group book``) and
builds offline.  Notebooks are rendered from their stored outputs, never executed.  Live widgets
cannot run on a static page, so each widget output shows the still picture stored beside it.
"""

from __future__ import annotations

import os

#: Where the course's repository is published; launch buttons and the README's Binder links point there.
#: (The project has no public address yet: this is the address it is meant to have. Override with
#: KUBELEARN_REPOSITORY=https://github.com/OWNER/REPO when building a fork's site.)
REPOSITORY = os.environ.get("KUBELEARN_REPOSITORY", "https://github.com/kubelearn/kubelearn")
BRANCH = os.environ.get("KUBELEARN_BRANCH", "main")

project = "kubelearn"
author = "the kubelearn team"
copyright = "the kubelearn team, Apache-2.0"  # noqa: A001 - Sphinx's name

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints"]
master_doc = "index"

# Stored outputs only: the site shows what the lessons printed and drew when they were last run.
nb_execution_mode = "off"
# A widget needs a live kernel; its output also holds a PNG still, which is what a page can show.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js: dict[str, dict[str, str]] = {}  # no widget manager scripts from a CDN
nb_merge_streams = True
# Only exercise solutions are collapsed (build_book.py tags them hide-cell), so the toggle says so.
nb_code_prompt_show = "Show the solution"
nb_code_prompt_hide = "Hide the solution"
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["mystnb.unknown_mime_type"]

html_theme = "sphinx_book_theme"
html_title = "kubelearn: how Kubernetes Services really work"
html_static_path: list[str] = []
html_theme_options = {
    "repository_url": REPOSITORY,
    "repository_branch": BRANCH,
    "path_to_docs": "notebooks",  # build_book.py lays the lessons out flat, as in the repository's notebooks/
    "use_repository_button": True,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "notebook_interface": "jupyterlab",
    },
    "show_toc_level": 2,
}
html_last_updated_fmt = ""
