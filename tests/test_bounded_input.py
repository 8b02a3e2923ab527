"""Memory and time stay bounded on any input, and ``-f`` follows kubectl's conventions.

Issue 14's reproducers, each refused with a clear message before it can cost gigabytes or
hang: recursive and exponential YAML aliases, ``/dev/zero``, a FIFO, a file over the API
server's 3 MiB request limit, 200,000 replicas, a scale to 10^9.  The Cluster's index is
checked against a plain scan so that "fast" never means "different".
"""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import kubelearn as kl
from kubelearn import manifest
from kubelearn.apiserver import schema
from kubelearn.apiserver.validation import MAX_REPLICAS
from kubelearn.cli import main
from kubelearn.cluster import MAX_OBJECTS, Cluster
from kubelearn.errors import ApplyError, InvalidError, KubelearnError, ManifestError

SERVICE = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"


def _laughs(levels: int = 9) -> str:
    lines = ["apiVersion: v1", "kind: Service", "metadata: {name: x}",
             'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------- YAML aliases
def test_issue14_recursive_alias_is_refused_with_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "rec.yaml"
    f.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: &a {x: *a}\n")
    for command in (["get", "svc"], ["validate"], ["rules", "--node", "kind-worker"], ["describe", "svc", "x"]):
        code, _, err = _run([*command, "-f", str(f)], capsys)
        assert code == 1
        assert err.strip() == (f"{f}, line 5, column 11: yaml: anchor value contains itself "
                               "(an alias inside the anchored value refers back to it)")


def test_issue14_billion_laughs_is_refused_before_it_expands() -> None:
    text = _laughs()
    assert len(text) < 600  # 592 bytes in the issue; ~4.4 billion nodes once expanded
    with pytest.raises(ManifestError, match=r"yaml: document contains excessive aliasing \(aliases would add "
                                            r"4,412,961,486 nodes; at most 400,000\)"):
        manifest.read_documents(text)


def test_moderate_aliases_are_fine() -> None:
    # Aliases are YAML; only excess is refused.  Three levels of 9 add well under the bound.
    docs = manifest.read_documents(_laughs(levels=3))
    assert len(docs[0].obj["a3"]) == 9


def test_merge_key_laughs_are_refused_too() -> None:
    lines = ["apiVersion: v1", "kind: Service", "metadata: {name: x}", "b0: &b0 {k0: v, k1: v, k2: v}"]
    lines += [f"b{i}: &b{i} {{<<: [" + ", ".join([f"*b{i - 1}"] * 9) + "]}" for i in range(1, 9)]
    with pytest.raises(ManifestError, match="excessive aliasing"):
        manifest.read_documents("\n".join(lines) + "\n")


def test_deep_nesting_is_refused_not_a_recursion_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    n = 990  # libyaml itself stops at 1000; Python's recursion limit is about as deep
    f = tmp_path / "deep.yaml"
    f.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n  labels: {a: " + "[" * n + "]" * n + "}\n")
    code, _, err = _run(["get", "svc", "-f", str(f)], capsys)
    assert code == 1
    assert f"the document nests {n + 3} levels deep; kubelearn reads at most {manifest.MAX_DEPTH}" in err


def test_a_python_object_that_contains_itself_is_refused() -> None:
    svc: dict[str, Any] = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "labels": {}},
                           "spec": {"ports": [{"port": 80}]}}
    svc["metadata"]["labels"]["x"] = svc
    with pytest.raises(ManifestError, match="the object contains itself"):
        kl.load(svc)
    # schema.check on its own (no manifest reader in front) stops too, without RecursionError.
    with pytest.raises(ManifestError, match="nests more than 100 levels deep"):
        schema.check(svc)


def test_a_python_object_with_exploding_shared_parts_is_refused() -> None:
    part: Any = ["lol"] * 9
    for _ in range(8):
        part = [part] * 9
    with pytest.raises(ManifestError, match="shared parts expand"):
        kl.load({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {"x": part}})


# ------------------------------------------------------------------------- files
def test_issue14_dev_zero_is_refused_before_reading(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["get", "svc", "-f", "/dev/zero"], capsys)
    assert code == 1
    assert err.startswith("/dev/zero: not a regular file (a device, FIFO or socket)")


def test_issue14_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    # In a child process with a timeout: a regression would block forever waiting for a writer.
    res = subprocess.run([sys.executable, "-m", "kubelearn", "validate", "-f", str(fifo)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 1
    assert res.stderr.startswith(f"{fifo}: not a regular file")


def test_a_file_over_the_request_size_limit_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "big.yaml"
    f.write_text(SERVICE + "#" * manifest.MAX_FILE_BYTES + "\n")
    code, _, err = _run(["validate", "-f", str(f)], capsys)
    assert code == 1
    assert err.startswith(f"{f}: Request entity too large: limit is 3145728")
    # At the limit exactly is fine.
    f.write_text(SERVICE + "#" * (manifest.MAX_FILE_BYTES - len(SERVICE) - 1) + "\n")
    assert f.stat().st_size == manifest.MAX_FILE_BYTES
    assert _run(["validate", "-f", str(f)], capsys)[0] == 0


def test_a_directory_is_read_as_today(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "a.yaml").write_text(SERVICE)
    os.mkfifo(tmp_path / "b.yaml")  # not a regular file: skipped, as kubectl's visitor skips it
    code, out, _ = _run(["get", "svc", "-f", str(tmp_path)], capsys)
    assert code == 0 and "\nweb " in out


def test_many_files_together_are_bounded(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["validate"]
    for i in range(11):  # 11 x 3 MiB > 32 MiB
        f = tmp_path / f"f{i}.yaml"
        f.write_text(SERVICE.replace("web", f"web{i}") + "#" * (manifest.MAX_FILE_BYTES - 200) + "\n")
        argv += ["-f", str(f)]
    code, _, err = _run(argv, capsys)
    assert code == 1 and "the inputs hold more than 33,554,432 bytes together (32 MiB)" in err
    code, _, err = _run(["validate", "-f", str(tmp_path)], capsys)  # a directory of them too
    assert code == 1 and "bytes together" in err


def test_too_many_documents_are_refused_while_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    import kubelearn.api_resources as api_resources_mod

    monkeypatch.setattr(api_resources_mod, "MAX_OBJECTS", 5)
    text = "---\n".join(SERVICE.replace("web", f"web{i}") for i in range(6))
    with pytest.raises(ManifestError, match="more than 5 objects; a kubelearn cluster holds at most 5"):
        manifest.read_documents(text)
    assert len(manifest.read_documents("---\n".join(SERVICE.replace("web", f"w{i}") for i in range(5)))) == 5


# ------------------------------------------------------------------------- -f conventions
def test_f_dash_reads_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(SERVICE.encode())))
    code, out, _ = _run(["get", "svc", "-f", "-"], capsys)
    assert code == 0 and "\nweb " in out


def test_f_dash_names_stdin_in_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"kind: Service\n")))
    code, _, err = _run(["validate", "-f", "-"], capsys)
    assert code == 1 and err.startswith("STDIN") and "apiVersion not set" in err


def test_f_dash_bounded(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"#" * (manifest.MAX_FILE_BYTES + 10))))
    code, _, err = _run(["get", "svc", "-f", "-"], capsys)
    assert code == 1 and err.startswith("STDIN: Request entity too large: limit is 3145728")


@pytest.mark.parametrize("name", ["nope", "", "a: b", "kind: Service"])
def test_issue14_a_missing_f_path_is_an_error_naming_it(name: str, capsys: pytest.CaptureFixture[str],
                                                         tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for command in (["get", "svc"], ["validate"], ["rules", "--node", "kind-worker"], ["env", "x"]):
        code, out, err = _run([*command, "-f", name], capsys)
        assert (code, out) == (1, "")
        assert err == f'error: the path "{name}" does not exist\n'


# ------------------------------------------------------------------------- counts
def test_issue14_200000_replicas_are_refused_at_once() -> None:
    dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
           "spec": {"replicas": 200_000, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                                 "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}}
    with pytest.raises(ApplyError, match=r'The Deployment "web" is invalid: spec\.replicas: Invalid valu') as info:
        kl.load(dep)
    assert str(info.value) == ('The Deployment "web" is invalid: spec.replicas: Invalid value: 200000: must be less '
                               f"than or equal to {MAX_REPLICAS} (kubelearn's limit; the API server allows more)")
    dep["spec"]["replicas"] = 3
    assert len(kl.load(dep).pods("default")) == 3


def test_issue14_scale_to_a_billion_is_refused() -> None:
    c = kl.default_scenario()
    name = c.list("Deployment", "default")[0]["metadata"]["name"]
    with pytest.raises(InvalidError, match=r"spec.replicas: Invalid value: 1000000000: must be less than or equal"):
        c.scale(name, 10**9)


def test_the_object_count_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import kubelearn.api_resources as api_resources_mod

    c = kl.default_scenario()
    monkeypatch.setattr(api_resources_mod, "MAX_OBJECTS", len(c.objects) + 1)
    c.with_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "one"}})
    with pytest.raises(KubelearnError, match=r"the cluster would hold .* objects; kubelearn keeps at most"):
        c.with_objects([{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}} for n in ("a", "b")])
    assert MAX_OBJECTS >= 20_000 + len(c.objects)  # room for 10,000 Services and their slices


# ------------------------------------------------------------------------- the index
def _scan(c: Cluster, kind: str, ns: str | None) -> list[dict[str, Any]]:
    info = kl.cluster.kind_info(kind)
    return [o for (k, n, _), o in c.objects.items() if k == info.kind and (ns is None or not info.namespaced or n == ns)]


def test_the_index_gives_what_a_scan_gives_in_creation_order() -> None:
    text = "---\n".join(
        f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: ns{i}}}\n" for i in range(3)) + "---\n" + "---\n".join(
        f"apiVersion: v1\nkind: Service\nmetadata: {{name: s{i}, namespace: ns{i % 3}}}\n"
        f"spec: {{selector: {{app: s{i}}}, ports: [{{port: 80}}]}}\n" for i in range(30))
    c = kl.load(text)
    for kind in ("Service", "EndpointSlice", "Namespace", "Node", "Pod"):
        for ns in (None, "ns0", "ns1", "default", "kube-system", "nowhere"):
            assert c.list(kind, ns) == _scan(c, kind, ns), (kind, ns)
    for ns in (None, "ns1", "ns2"):
        for svc in ("s1", "s4", "missing"):
            expected = [s for s in _scan(c, "EndpointSlice", ns)
                        if s["metadata"].get("labels", {}).get("kubernetes.io/service-name") == svc]
            assert c.endpoint_slices(ns, svc) == expected
    # A new value has its own index: nothing stale from the old one.
    d = c.delete("Service", "s1", "ns1")
    assert [s["metadata"]["name"] for s in d.services("ns1")] == [
        s["metadata"]["name"] for s in _scan(d, "Service", "ns1")]
    assert "s1" not in [s["metadata"]["name"] for s in d.services("ns1")]
    assert "s1" in [s["metadata"]["name"] for s in c.services("ns1")]
    assert dataclasses.replace(c, now=5.0).list("Service") == c.list("Service")


def test_a_list_result_is_the_caller_s_own() -> None:
    c = kl.default_scenario()
    got = c.list("Service")
    got.clear()
    assert c.list("Service")


# ------------------------------------------------------------------------- kind names
@pytest.mark.parametrize("name", ["My_Cluster", "dev lab", "x\ny", "UPPER", "a" * 51])
def test_a_kind_cluster_name_obeys_kind_s_rule(name: str) -> None:
    import json

    with pytest.raises(ManifestError, match=r"is not a valid cluster name|is too long") as info:
        kl.load(f"apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nname: {json.dumps(name)}\n")
    if len(name) > 50:
        assert "is too long" in str(info.value)
    else:
        assert f"'{name}' is not a valid cluster name, cluster names must match `^[a-z0-9.-]+$`" in str(info.value)


def test_a_good_kind_cluster_name_names_its_nodes() -> None:
    c = kl.load("apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nname: dev.lab-1\n")
    assert [n["metadata"]["name"] for n in c.nodes()] == ["dev.lab-1-control-plane"]
