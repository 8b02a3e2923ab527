"""Benchmark: the disk size of a core install, ``pip install kubelearn`` (no extras), in a fresh venv.

Target: at most 300 MB (``BUDGET_MB``).  What is measured is what a learner's disk gains: the
venv's ``site-packages`` after installing the wheel built from this checkout with its runtime
dependencies, less the installer itself (pip, and setuptools where ``venv`` adds it).  Sizes are
apparent file sizes, byte-compiled files included (pip writes them at install time).  It needs the
package index (PyPI); sizes depend on the platform's wheels (noted in the output).

scipy is not in the core: it is the ``stats`` extra (part of ``notebooks``), used only by the chance
band of ``plot_load`` and the statistics in ``traffic.analysis``/``netlab.compare``.

Run: ``.venv/bin/python benchmarks/bench_install_size.py [--enforce]`` (``--enforce``: exit 1 when
the core install is over budget).
"""

from __future__ import annotations

import argparse
import platform
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGET_MB = 300
INSTALLER = ("pip", "setuptools", "_distutils_hack", "distutils-precedence.pth", "pkg_resources")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def _site_packages(env: Path) -> Path:
    (sp,) = env.glob("lib/python3*/site-packages")
    return sp


def measure(wheel: Path, tmp: Path, without: tuple[str, ...] = ()) -> tuple[float, list[tuple[str, float]], int]:
    """(MB installed, the five largest top-level entries, number of distributions) for the wheel's core install."""
    env = tmp / ("venv-" + "-".join(without or ("all",)))
    venv.EnvBuilder(with_pip=True).create(env)
    py = env / "bin" / "python"
    quiet = ["--quiet", "--disable-pip-version-check"]
    if without:
        deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
        keep = [d for d in deps if not d.lower().startswith(without)]
        subprocess.run([py, "-m", "pip", "install", *quiet, "--no-deps", str(wheel)], check=True)
        subprocess.run([py, "-m", "pip", "install", *quiet, *keep], check=True)
    else:
        subprocess.run([py, "-m", "pip", "install", *quiet, str(wheel)], check=True)
    sp = _site_packages(env)
    entries = [(p.name, _size(p) if p.is_dir() else p.stat().st_size) for p in sp.iterdir()
               if not p.name.startswith(INSTALLER)]
    total = sum(s for _, s in entries)
    dists = sum(1 for n, _ in entries if n.endswith(".dist-info") and not n.startswith(INSTALLER))
    top = sorted(((n, s / 1e6) for n, s in entries), key=lambda x: -x[1])[:5]
    return total / 1e6, top, dists


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enforce", action="store_true", help="exit 1 when the core install is over budget")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "-w", str(tmp / "dist"), str(ROOT)], check=True)
        (wheel,) = (tmp / "dist").glob("kubelearn-*.whl")
        print(f"machine: {platform.machine()} {platform.system()} {platform.release()}, Python {platform.python_version()}")
        size, top, dists = measure(wheel, tmp)
        verdict = "within" if size <= BUDGET_MB else "OVER"
        print(f"core install (pip install kubelearn): {size:.0f} MB in {dists} distributions, "
              f"{verdict} the {BUDGET_MB} MB budget")
        print("  largest: " + ", ".join(f"{n} {s:.0f} MB" for n, s in top))
    return 1 if args.enforce and size > BUDGET_MB else 0


if __name__ == "__main__":
    sys.exit(main())
