"""``import kubelearn`` stays light: scipy is loaded only by the functions that need it.

Each check runs in a fresh interpreter, since this test process has long imported scipy.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import json, sys
import kubelearn as kl
import kubelearn.traffic
after_import = "scipy" in sys.modules
log = kl.simulate(kl.default_scenario(), seed=0)
table = kl.summary(log, kl.predicted_shares(kl.default_scenario()))
after_simulate = "scipy" in sys.modules
kl.chi_square(log, kl.predicted_shares(kl.default_scenario()))
print(json.dumps({"import": after_import, "simulate": after_simulate, "chi_square": "scipy" in sys.modules,
                  "rows": len(log), "pods": len(table)}))
"""


def test_import_simulate_and_summary_do_not_load_scipy():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    assert seen["rows"] == 1000 and seen["pods"] == 3
    assert seen["import"] is False
    assert seen["simulate"] is False
    assert seen["chi_square"] is True  # the probe does see scipy once a function needs it
