"""The three environment descriptions (pip, conda, Binder) ask for the same things."""

import os
import shutil
import subprocess
import sys
import time
import tomllib
import zipfile
from pathlib import Path

import pytest
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


# ------------------------------------------------------------------ pyproject: modern, honest metadata
def _pyproject() -> dict:  # type: ignore[type-arg]
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_license_is_a_pep639_expression_with_its_file() -> None:
    data = _pyproject()
    assert data["project"]["license"] == "Apache-2.0"
    assert data["project"]["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
    # setuptools reads PEP 639 from 77 on; an unbounded older floor would build with the deprecated table.
    (req,) = [r for r in data["build-system"]["requires"] if r.startswith("setuptools")]
    assert req == "setuptools>=77"


def test_classifiers_name_the_tested_pythons_and_the_audience() -> None:
    classifiers = set(_pyproject()["project"]["classifiers"])
    assert {"Programming Language :: Python :: 3.11", "Programming Language :: Python :: 3.12",
            "Intended Audience :: Education", "Typing :: Typed"} <= classifiers
    assert not any(c.startswith("License ::") for c in classifiers)  # PEP 639: the expression says it


def test_dev_tools_are_dependency_groups_not_extras() -> None:
    data = _pyproject()
    assert "test" not in data["project"]["optional-dependencies"]
    groups = data["dependency-groups"]
    assert {"test", "schema", "book"} <= set(groups)
    assert any(r.startswith("pytest") for r in groups["test"])
    runtime = " ".join(data["project"]["dependencies"])
    assert "kubernetes-validate" not in runtime
    assert any(r.startswith("kubernetes-validate") for r in groups["schema"])


def _floor(req: str) -> tuple[str, str]:
    name, _, version = req.split(";")[0].split(",")[0].partition(">=")
    return name.strip().lower(), version.strip()


def test_ci_floor_constraints_pin_exactly_the_declared_floors() -> None:
    """.ci/floors.txt (installed by .ci/run in a throwaway venv) is the floors of pyproject, nothing looser."""
    data = _pyproject()
    declared = dict(_floor(r) for r in [*data["project"]["dependencies"], *data["project"]["optional-dependencies"]["parquet"]])
    pinned = {}
    for line in (ROOT / ".ci" / "floors.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pinned[name.strip().lower()] = version.strip()
    for name, floor in declared.items():
        assert name in pinned, name
        # "2.0" is pinned as 2.0.0 and so on: the pin is the floor itself
        assert pinned[name].split(".")[: len(floor.split("."))] == floor.split(".") and \
            all(p == "0" for p in pinned[name].split(".")[len(floor.split(".")):]), (name, floor, pinned[name])


def test_lessons_and_data_are_package_data_not_data_files() -> None:
    text = (ROOT / "pyproject.toml").read_text()
    assert "data-files" not in text and "share/kubelearn" not in text
    assert '"kubelearn.lessons": "notebooks"' in (ROOT / "setup.py").read_text()


# ------------------------------------------------------------------ the built wheel, installed as a learner would
@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    src = tmp_path_factory.mktemp("src") / "kubelearn"
    # Build from a clean export of the tracked tree (what an sdist or a fresh clone holds), not the work tree.
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".venv", ".venv-*", ".git", "build", "*.egg-info", "lessons",
                                                             "kubelearn-lessons", "_build", "__pycache__", ".*cache",
                                                             ".ipynb_checkpoints", ".hypothesis"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "-w", str(out), str(src)], check=True, capture_output=True, text=True)
    (whl,) = out.glob("kubelearn-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_contains_lessons_manifests_data_and_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in (ROOT / "notebooks").rglob("*"):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts:
            assert "kubelearn/lessons/" + path.relative_to(ROOT / "notebooks").as_posix() in names, path
    assert "kubelearn/data/openapi/v1.33.0-definitions.json" in names
    assert {f"kubelearn/data/scenarios/{p.name}" for p in (ROOT / "kubelearn/data/scenarios").iterdir()} <= names
    assert "kubelearn/py.typed" in names
    assert not any(n.startswith(("tests/", "notebooks/", "scripts/")) or ".data/data/" in n for n in names)
    meta = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in meta
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    requires = [ln for ln in meta.splitlines() if ln.startswith("Requires-Dist:")]
    assert requires and not any("kubernetes-validate" in ln for ln in requires)


def _base_python() -> str:
    return getattr(sys, "_base_executable", sys.executable)


@pytest.mark.slow
def test_lab_works_from_a_user_install(wheel: Path, tmp_path: Path) -> None:
    """pip install --user into a throwaway HOME, then `kubelearn lab --dir TMP` copies the lessons and starts JupyterLab."""
    base = _base_python()
    probe = subprocess.run([base, "-c", "import site, sys; sys.exit(0 if site.ENABLE_USER_SITE else 3)"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"{base} has no user site (needed for a --user install)")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONUSERBASE", "VIRTUAL_ENV", "PYTHONHOME")}
    # The dependencies come from this venv (PYTHONPATH is not a site dir: its editable kubelearn is not active),
    # kubelearn itself only from the user site the wheel is installed into.
    site_packages = next(p for p in sys.path if p.endswith("site-packages") and p.startswith(sys.prefix))
    env.update(HOME=str(home), PYTHONNOUSERSITE="", PYTHONPATH=site_packages, PIP_BREAK_SYSTEM_PACKAGES="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}")
    env.pop("PYTHONNOUSERSITE")
    r = subprocess.run([base, "-m", "pip", "install", "--user", "--no-deps", "--quiet", str(wheel)],
                       env=env, capture_output=True, text=True, cwd=tmp_path)
    if r.returncode != 0 and "No module named pip" in r.stderr:
        pytest.skip(f"{base} has no pip")
    assert r.returncode == 0, r.stderr
    where = subprocess.run([base, "-c", "import kubelearn, sys; print(kubelearn.__file__)"], env=env,
                           capture_output=True, text=True, cwd=tmp_path, check=True).stdout
    assert where.startswith(str(home)), where  # the user install, not the checkout
    lessons = tmp_path / "my lessons"
    proc = subprocess.Popen([base, "-m", "kubelearn", "lab", "--dir", str(lessons), "--no-browser", "--port", "0"],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        seen = ""
        deadline = time.monotonic() + 90
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seen += line
            if "/lab?token=" in line or "is running at" in line:
                break
        assert "copied the lessons to" in seen, seen
        assert "/lab" in seen, seen
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert (lessons / "00-playground.ipynb").is_file() and (lessons / "manifests").is_dir()
    assert sorted(p.name for p in lessons.glob("*.ipynb")) == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))


# ------------------------------------------------------------------ one click to a lesson
def _repository() -> str:
    sys.path.insert(0, str(ROOT / "docs" / "book"))
    try:
        import conf

        return conf.REPOSITORY.removeprefix("https://github.com/")
    finally:
        sys.path.remove(str(ROOT / "docs" / "book"))


def test_readme_binder_badge_opens_lesson_00_in_jupyterlab() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    badge = re.search(r"\[!\[[^\]]*\]\(https://mybinder.org/badge_logo.svg\)\]\(([^)]+)\)", readme)
    assert badge is not None
    assert badge.group(1) == (f"https://mybinder.org/v2/gh/{_repository()}/main"
                              "?urlpath=lab/tree/notebooks/00-playground.ipynb")


def test_every_lesson_row_has_its_own_launch_link() -> None:
    import re

    readme = (ROOT / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\d\d-[a-z0-9-]+)` \|.*\[launch\]\(([^)]+)\) \|$", readme, re.M))
    lessons = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))
    assert sorted(rows) == lessons
    for stem, url in rows.items():
        assert url == f"https://mybinder.org/v2/gh/{_repository()}/main?urlpath=lab/tree/notebooks/{stem}.ipynb"


def test_binder_environment_solves_with_repo2dockers_base_and_offers_voila() -> None:
    """notebook 7.4 (repo2docker's base) needs jupyterlab<4.5: the Binder file moves notebook with jupyterlab."""
    deps = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())["dependencies"]
    specs = {d.split(">")[0].split("=")[0].split("<")[0]: d for d in deps if isinstance(d, str)}
    assert specs["jupyterlab"] == "jupyterlab>=4.5,<5"
    assert specs["notebook"] == "notebook>=7.5,<8"  # 7.5 needs jupyterlab 4.5.x, 7.6 needs 4.6.x
    assert specs["python"] == "python=3.12"
    if "voila" in (ROOT / "README.md").read_text().lower():
        assert "voila" in specs
    assert not any(isinstance(d, dict) for d in deps)  # no pip section: nothing outside conda-forge
    assert "kubernetes-validate" not in (ROOT / "binder" / "environment.yml").read_text()


def test_ci_runs_both_pythons_the_floors_binder_and_the_book() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "find-python 3.12" in ci and 'make test PYTHON="$py312"' in ci
    assert "floors-check" in ci and "binder-check" in ci and "make book" in ci
