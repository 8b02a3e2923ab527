"""scipy is an extra: the core install simulates, writes rules and plots without it.

Only the statistics need it (``chi_square``, ``plot_load``'s chance band, ``netlab.compare``);
without scipy they say how to install it instead of failing with an ImportError deep inside.
These run in a fresh interpreter where ``import scipy`` fails, as on a core-only install.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

NO_SCIPY = "import sys; sys.modules['scipy'] = None\n"


def _run(body: str) -> subprocess.CompletedProcess[str]:
    code = NO_SCIPY + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_simulate_rules_and_a_plot_without_a_band_work_without_scipy() -> None:
    done = _run("""
        import matplotlib; matplotlib.use("Agg")
        import kubelearn as kl
        cluster = kl.default_scenario()
        log = kl.simulate(cluster, seed=0)
        assert "KUBE-SERVICES" in str(kl.rules(cluster, "kind-worker"))
        kl.plots.plot_load(log, count="requests")
        print(len(log))
    """)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().isdigit()


def test_statistics_without_scipy_say_how_to_install_it() -> None:
    done = _run("""
        import kubelearn as kl
        from kubelearn.errors import MissingDependencyError
        cluster = kl.default_scenario()
        log = kl.simulate(cluster, seed=0)
        try:
            kl.chi_square(log, kl.predicted_shares(cluster))
        except MissingDependencyError as exc:
            print(exc)
        else:
            raise SystemExit("chi_square ran without scipy")
    """)
    assert done.returncode == 0, done.stderr
    assert "chi_square needs scipy" in done.stdout
    assert "pip install 'kubelearn[stats]'" in done.stdout
