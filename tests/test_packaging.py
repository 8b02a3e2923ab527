"""The three environment descriptions (pip, conda, Binder) ask for the same things."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _names(reqs: list[str]) -> set[str]:
    out = set()
    for r in reqs:
        if not isinstance(r, str) or r.startswith("-e") or r in ("pip",):
            continue
        name = r.split(">")[0].split("=")[0].split("<")[0].strip().lower()
        out.add({"matplotlib-base": "matplotlib"}.get(name, name))
    return out


def _conda(path: Path) -> set[str]:
    deps = yaml.safe_load(path.read_text())["dependencies"]
    flat: list[str] = []
    for d in deps:
        flat.extend(d["pip"] if isinstance(d, dict) else [d])
    return _names(flat) - {"python"}


def test_conda_and_binder_match_pyproject() -> None:
    """Core deps plus the notebooks extra appear in environment.yml and binder/environment.yml."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = _names(project["dependencies"]) | _names(project["optional-dependencies"]["notebooks"])
    assert wanted <= _conda(ROOT / "environment.yml")
    assert wanted <= _conda(ROOT / "binder" / "environment.yml")


def test_binder_has_no_local_references_and_installs_kubelearn() -> None:
    """Binder's env file stays cacheable; postBuild installs the package."""
    assert "-e" not in (ROOT / "binder" / "environment.yml").read_text()
    assert "pip install --no-deps -e ." in (ROOT / "binder" / "postBuild").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    """.ci/run calls the README's test command."""
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text()
