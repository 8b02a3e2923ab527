"""The core runs where there are no processes to start: JupyterLite (Pyodide) in a browser.

Pyodide provides numpy, pandas and matplotlib (and pyyaml, scipy), but a browser tab cannot
start processes, open raw sockets or call into the C library: ``subprocess``, ``ctypes``,
``fcntl``, ``socket`` and friends either do not exist there or fail when used.  Only the kernel lab
(``kubelearn.netlab``, which needs root and Linux network namespaces) may need them, so no other
module imports them at module level: ``import kubelearn`` and everything the lessons use load in
the browser, and the lab fails only when it is asked for.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kubelearn"
OS_ONLY = {"subprocess", "ctypes", "fcntl", "termios", "pty", "resource", "multiprocessing", "selectors",
           "socket", "grp", "pwd", "signal", "pexpect", "psutil"}
# The kernel lab and the command that starts it: the only places that may start processes at import.
ALLOWED = ("netlab/",)


def _module_level_imports(tree: ast.Module) -> set[str]:
    """Top-level names imported when the module loads (not inside functions; TYPE_CHECKING blocks excluded)."""
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import):
                found.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.If):
                test = ast.unparse(node.test)
                if "TYPE_CHECKING" not in test:
                    visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.Try, ast.With)):
                visit(node.body)
                for h in getattr(node, "handlers", []):
                    visit(h.body)
                visit(getattr(node, "orelse", []))
                visit(getattr(node, "finalbody", []))

    visit(tree.body)
    return found


def _core_modules() -> list[Path]:
    return sorted(p for p in PACKAGE.rglob("*.py") if not p.relative_to(PACKAGE).as_posix().startswith(ALLOWED))


@pytest.mark.parametrize("path", _core_modules(), ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_no_os_only_import_at_module_level(path: Path) -> None:
    imported = _module_level_imports(ast.parse(path.read_text(encoding="utf-8")))
    assert imported & OS_ONLY == set(), f"{path.relative_to(PACKAGE)} imports {sorted(imported & OS_ONLY)} when it loads"


def test_the_checker_sees_a_module_level_subprocess_import() -> None:
    tree = ast.parse("import os\ntry:\n    import subprocess\nexcept ImportError:\n    pass\n"
                     "def f():\n    import ctypes\nif TYPE_CHECKING:\n    import socket\n")
    assert _module_level_imports(tree) == {"os", "subprocess"}


def test_the_core_at_work_never_loads_the_kernel_lab() -> None:
    """Building a cluster, its rules, a simulation and a picture load nothing from kubelearn.netlab."""
    code = """
import sys
import kubelearn as kl
cluster = kl.default_scenario()
log = kl.simulate(cluster, seed=0)
rules = str(kl.rules(cluster, "kind-worker"))
import matplotlib
matplotlib.use("agg")
kl.plots.plot_load(log)
print(len(log), "KUBE-SVC-" in rules, sorted(m for m in sys.modules if m.startswith("kubelearn.netlab")))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1000", "True", "[]"]
