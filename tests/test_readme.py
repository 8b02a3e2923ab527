"""The README stays true: its example runs and its tables name what the code has."""

import re
from pathlib import Path

import matplotlib

import kubelearn as kl

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_five_line_example_runs() -> None:
    """The README's first Python block runs and gives what its comments promise."""
    matplotlib.use("Agg")
    block = re.search(r"```python\n(.*?)```", README, re.S)
    assert block is not None
    scope: dict[str, object] = {}
    exec(compile(block.group(1), "README.md", "exec"), scope)  # noqa: S102 - our own README
    log = scope["log"]
    assert log["connection"].nunique() == 1000  # type: ignore[index]
    assert "KUBE-SVC-" in str(kl.rules(scope["cluster"], "kind-worker"))  # type: ignore[arg-type]


def test_log_columns_are_documented() -> None:
    """Every request-log column is in the README's schema table."""
    for name in kl.LOG_COLUMNS:
        assert f"| `{name}` |" in README, name


def test_lessons_table_matches_the_notebooks() -> None:
    """The README lists exactly the lessons that ship."""
    shipped = {p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")}
    listed = set(re.findall(r"^\| `(\d\d-[a-z0-9-]+)` \|", README, re.M))
    assert shipped <= listed, shipped - listed


def test_workload_yaml_example_loads_and_runs(tmp_path: Path) -> None:
    """The README's Workload document is valid, applies with the my-service scenario, and runs."""
    from kubelearn import scenarios
    from kubelearn.kind import load
    from kubelearn.traffic import simulate

    block = re.search(r"```yaml\n(.*?)```", README, re.S)
    assert block is not None and "kind: Workload" in block.group(1)
    manifests = tmp_path / "my-service-with-workload.yaml"
    manifests.write_text(scenarios.scenario_text("my-service") + "\n---\n" + block.group(1))
    cluster = load(manifests)
    log = simulate(cluster, seed=0)
    assert log.attrs["workload"]["metadata"]["name"] == "web-clients"  # the document, not the default
    # the example deletes and crashes client pods: a dead client stops sending, so fewer than 1000
    assert 500 < log["connection"].nunique() < 1000
    assert log["via"].astype(str).eq("dns").all() and (log["outcome"] == "ok").any()
    actions = {e["action"] for e in log.attrs["events"]}
    assert {"scale", "deletePod", "setReady", "crashPod", "rollout", "cordon", "failNode"} <= actions
