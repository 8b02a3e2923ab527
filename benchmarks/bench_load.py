"""Benchmark: loading and listing big manifests, and the bounds kubelearn documents.

1. ``kubelearn get svc -f <10,000 Services>`` as a user runs it (whole process, median of 3).
   Target: seconds (it took 91 s before the Cluster index, issue 14).
2. ``load`` of a Deployment at ``MAX_REPLICAS`` (10,000) replicas: time and peak memory,
   the numbers behind that limit (in a child process, so its peak is its own).
3. The hostile inputs refused up front (billion laughs, recursive alias, /dev/zero, 200,000
   replicas): each must answer in well under a second with exit 1.

Run: ``.venv/bin/python benchmarks/bench_load.py [n_services]``.  Prints wall and CPU time
(on a shared, loaded machine the CPU time is the steadier number).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KUBELEARN = [sys.executable, "-m", "kubelearn"]


def services_manifest(n: int) -> str:
    return "---\n".join(
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: svc-{i}}}\n"
        f"spec: {{selector: {{app: a{i}}}, ports: [{{port: 80, targetPort: 8080}}]}}\n" for i in range(n))


def timed(argv: list[str]) -> tuple[float, float, int, int]:
    """(wall s, CPU s of the child, exit code, peak RSS of the child in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode, after.ru_maxrss // 1024


REPLICAS = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {n}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec: {{containers: [{{name: web, image: nginx}}]}}
"""


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        svc = d / "services.yaml"
        svc.write_text(services_manifest(n))
        runs = [timed([*KUBELEARN, "get", "svc", "-f", str(svc)]) for _ in range(3)]
        assert all(r[2] == 0 for r in runs), runs
        print(f"kubelearn get svc, {n} Services: median {statistics.median(r[0] for r in runs):.2f} s wall, "
              f"{statistics.median(r[1] for r in runs):.2f} s CPU")

        rep = d / "replicas.yaml"
        rep.write_text(REPLICAS.format(n=10_000))
        wall, cpu, code, _ = timed([*KUBELEARN, "get", "deploy", "-f", str(rep)])
        # Peak memory of one child: RUSAGE_CHILDREN keeps the largest child's peak, so measure in a fresh one.
        probe = subprocess.run([sys.executable, "-c", (
            "import resource, kubelearn as kl, sys;"
            f"kl.load(open({str(rep)!r}).read());"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)")],
            capture_output=True, text=True, check=True)
        print(f"Deployment with 10,000 replicas: {wall:.2f} s wall, {cpu:.2f} s CPU, exit {code}, "
              f"peak {probe.stdout.strip()} MB")

        laughs = ["apiVersion: v1", "kind: Service", "metadata: {name: x}",
                  'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
        laughs += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
        (d / "laughs.yaml").write_text("\n".join(laughs) + "\n")
        (d / "rec.yaml").write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: &a {x: *a}\n")
        (d / "huge.yaml").write_text(REPLICAS.format(n=200_000))
        for label, path in (("billion laughs", d / "laughs.yaml"), ("recursive alias", d / "rec.yaml"),
                            ("/dev/zero", Path("/dev/zero")), ("200,000 replicas", d / "huge.yaml")):
            wall, cpu, code, _ = timed([*KUBELEARN, "validate", "-f", str(path)])
            print(f"refused {label}: exit {code}, {wall:.2f} s wall, {cpu:.2f} s CPU (whole process)")


if __name__ == "__main__":
    main()
