"""The public API is one flat namespace, and the lessons use nothing else."""

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import kubelearn as kl

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_every_public_name_resolves() -> None:
    """Each name in __all__ is importable from the package."""
    for name in kl.__all__:
        assert getattr(kl, name) is not None, name


def test_import_is_light() -> None:
    """`import kubelearn` does not pull in pandas, matplotlib or scipy (they load on first use)."""
    code = "import sys, kubelearn; print(sorted(m for m in ('pandas', 'matplotlib', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_unknown_attribute_is_an_attribute_error() -> None:
    """A typo fails the usual way."""
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        kl.simulat  # noqa: B018


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_lessons_use_only_the_public_api(path: Path) -> None:
    """Lessons import kubelearn as kl and use only kl.<public name>."""
    for source in _code_cells(path):
        # IPython magics are not Python; drop them before parsing.
        python = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
        tree = ast.parse(python)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("kubelearn"):
                pytest.fail(f"{path.name}: 'from {node.module} import ...' — lessons use `import kubelearn as kl`")
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("kubelearn."):
                        pytest.fail(f"{path.name}: 'import {alias.name}' — lessons use `import kubelearn as kl`")
        for name in re.findall(r"\bkl\.([A-Za-z_]\w*)", python):
            assert name in kl.__all__, f"{path.name} uses kl.{name}, which is not public"
        for sub, name in re.findall(r"\bkl\.(plots|widgets|proxy|traffic|netlab)\.([A-Za-z_]\w*)", python):
            assert not name.startswith("_"), f"{path.name} uses private kl.{sub}.{name}"


def test_no_public_name_is_shadowed_by_a_submodule() -> None:
    """Importing every module must not turn a public function into a module (kl.apply, kl.dns)."""
    import importlib
    import pkgutil
    from types import ModuleType

    for info in pkgutil.walk_packages(kl.__path__, "kubelearn."):
        if info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    submodules = {"plots", "widgets", "netlab", "proxy", "traffic"}
    for name in kl.__all__:
        value = getattr(kl, name)
        assert isinstance(value, ModuleType) == (name in submodules), name
