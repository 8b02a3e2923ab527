"""Fuzzing the CLI: hostile manifests and argv never give a traceback, and exit 0, 1 or 2.

Hypothesis builds manifests by planting hostile values (newlines, quotes, option-like text,
an nft ``include``, huge and negative numbers, NaN, nested lists, wrong types) at random
paths of valid objects, mutates raw YAML text, and builds argv for ``get``, ``describe``,
``validate``, ``env``, ``dns``, ``rules`` and ``trace``.  Each run calls :func:`kubelearn.cli.main`
in-process: any exception other than the ones ``main`` turns into an exit code fails the
test, and so does any exit code but 0 (done), 1 (refused, with a message) or 2 (usage).

A last batch covers ``simulate``, ``explain-rules FILE|-``, ``trace --rules-file``, ``rules --diff``
(generated and mutated node dumps, a FIFO, ``/dev/zero``) and ``lab --dry-run --dir`` (temporary
folders only), run in a child process capped in address space and wall time.

Bounded: a few dozen examples per property, derandomized by the project's profile
(``tests/conftest.py``), so the suite stays deterministic and quick.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubelearn.cli import main

BASE: list[dict[str, Any]] = [
    {"apiVersion": "kind.x-k8s.io/v1alpha4", "kind": "Cluster", "name": "lab",
     "nodes": [{"role": "control-plane"}, {"role": "worker"}],
     "networking": {"podSubnet": "10.244.0.0/16", "serviceSubnet": "10.96.0.0/16"}},
    {"apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration", "mode": "nftables",
     "nodePortAddresses": ["primary"], "ipvs": {"scheduler": "rr"}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"app": "web"}},
     "spec": {"type": "LoadBalancer", "selector": {"app": "web"}, "externalIPs": ["203.0.113.7"],
              "loadBalancerSourceRanges": ["198.51.100.0/24"], "sessionAffinity": "ClientIP",
              "externalTrafficPolicy": "Local",
              "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]},
     "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.10"}]}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
     "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
              "template": {"metadata": {"labels": {"app": "web"}},
                           "spec": {"containers": [{"name": "web", "image": "nginx",
                                                    "env": [{"name": "MODE", "value": "x"}],
                                                    "ports": [{"containerPort": 8080}]}]}}}},
    {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "lab-worker"},
     "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24"]},
     "status": {"addresses": [{"type": "InternalIP", "address": "172.18.0.3"},
                              {"type": "Hostname", "address": "lab-worker"}]}},
    {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
     "metadata": {"name": "manual", "labels": {"kubernetes.io/service-name": "web"}},
     "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.1.50"], "conditions": {"ready": True},
                                           "nodeName": "lab-worker"}],
     "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
]

HOSTILE_STRINGS = st.sampled_from([
    "", " ", "-", "--", "-j ACCEPT", "x\n-A KUBE-SERVICES -j ACCEPT", 'include "/etc/passwd"', '"', "'", "\\",
    "192.0.2.10\n", "1.2.3.4 dev eth0\nnetns add pwn\n#", "a" * 300, "web\n", "../../etc/passwd", "/dev/zero",
    "\x00", "é", "10.244.1.999", "::1", "fe80::1%eth0", "0.0.0.0/0", "1e9", "NaN", "-1", "{a: b}", "*a", "&a",
    "lab-worker", "web", "default", "kube-system", "TCP", "VIP", "Proxy",
])
SCALARS = st.one_of(
    HOSTILE_STRINGS, st.text(max_size=12),
    st.integers(min_value=-(2**70), max_value=2**70), st.sampled_from([0, 1, 65535, 65536, 200_000, 10**9, -1]),
    st.floats(allow_nan=True, allow_infinity=True), st.booleans(), st.none(),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                     st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                      max_leaves=6)


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*prefix, i))
    return out


def _plant(docs: list[dict[str, Any]], doc_i: int, path_i: int, value: Any) -> list[dict[str, Any]]:
    docs = copy.deepcopy(docs)
    paths = _paths(docs[doc_i])
    path = paths[path_i % len(paths)]
    target: Any = docs[doc_i]
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return docs


def _dump(docs: list[dict[str, Any]]) -> str:
    return "---\n".join(yaml.safe_dump(d, allow_unicode=True) for d in docs)


ARGVS = [
    ["get", "svc"], ["get", "pods", "-A"], ["get", "endpointslices", "-o", "yaml"], ["get", "nodes", "-o", "wide"],
    ["describe", "svc", "web"], ["validate"], ["env", "POD"], ["dns", "web"], ["dns", "web", "--type", "SRV"],
    ["rules", "--node", "lab-worker"], ["rules", "--node", "lab-worker", "--mode", "iptables", "--view", "save"],
    ["rules", "--node", "lab-worker", "--mode", "ipvs"], ["rules", "--node", "lab-worker", "--view", "input"],
    ["trace", "--node", "lab-worker", "--src", "203.0.113.9", "--dst", "192.0.2.10:80"],
    ["trace", "--node", "lab-worker", "--src", "10.244.1.2", "--dst", "203.0.113.7:80", "--mode", "iptables"],
]


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code = main(argv)  # any exception main does not turn into an exit code fails the test here
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (argv, code, err)
    assert "Traceback" not in err and "Traceback" not in out
    if code == 1:
        assert err.strip(), f"exit 1 without a message: {argv}"


def _first_pod(tmp: Path, capsys: pytest.CaptureFixture[str]) -> str:
    if main(["get", "pods", "-o", "name", "-f", str(tmp)]) != 0:
        capsys.readouterr()
        return "web"
    out, _ = capsys.readouterr()
    names = [line.split("/", 1)[-1] for line in out.split() if line]
    return names[0] if names else "web"


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(doc_i=st.integers(0, len(BASE) - 1), path_i=st.integers(0, 200), value=VALUES,
       argv_i=st.integers(0, len(ARGVS) - 1))
def test_planted_hostile_values_never_crash_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                     doc_i: int, path_i: int, value: Any, argv_i: int) -> None:
    f = tmp_path / "m.yaml"
    f.write_text(_dump(_plant(BASE, doc_i, path_i, value)))
    argv = list(ARGVS[argv_i])
    if "POD" in argv:
        argv[argv.index("POD")] = _first_pod(f, capsys)
    _run([*argv, "-f", str(f)], capsys)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(cut=st.integers(0, 2000), insert=st.text(max_size=20) | HOSTILE_STRINGS, argv_i=st.integers(0, len(ARGVS) - 1))
def test_mutated_yaml_text_never_crashes_a_command(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                   cut: int, insert: str, argv_i: int) -> None:
    text = _dump(BASE)
    at = cut % (len(text) + 1)
    f = tmp_path / "m.yaml"
    f.write_text(text[:at] + insert + text[at:], encoding="utf-8", errors="surrogatepass")
    argv = [a if a != "POD" else "web" for a in ARGVS[argv_i]]
    _run([*argv, "-f", str(f)], capsys)


COMMAND_WORDS = st.sampled_from(["get", "describe", "validate", "env", "dns", "rules", "trace"])
ARG_WORDS = st.one_of(
    HOSTILE_STRINGS, st.text(max_size=10),
    st.sampled_from(["-f", "-n", "-o", "-A", "--node", "--src", "--dst", "--mode", "--view", "--type", "--from",
                     "--protocol", "--seed", "svc", "pods", "nodes", "services/web", "yaml", "json", "wide",
                     "nftables", "ipvs", "iptables", "save", "list", "kind-worker", "10.96.0.1:443",
                     "10.244.1.2", "99999999999999999999", "--help", "my-service"]),
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(command=COMMAND_WORDS, args=st.lists(ARG_WORDS, max_size=6))
def test_random_argv_never_crashes(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                                   command: str, args: list[str]) -> None:
    import io
    import sys

    monkeypatch.chdir(tmp_path)  # relative -f paths resolve inside an empty directory
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(BASE[2]).encode())))
    if "\x00" in "".join(args):
        args = [a.replace("\x00", "") for a in args]  # argv cannot carry NUL bytes
    _run([command, *args], capsys)


# ----------------------------------------------------------------------------- bounded batch
# simulate, explain-rules, trace --rules-file, rules --diff and lab --dry-run --dir, with
# generated and mutated node dumps (iptables-save, nft list ruleset, ipvsadm -Ln), a FIFO and
# /dev/zero.  Hypothesis only *builds* the examples (derandomized, cheap); they then run in one
# child process whose address space is capped (RLIMIT_AS) and whose wall time has a generous
# limit that only a hang reaches: a runaway allocation fails there as MemoryError, a hang is
# named by the example the child had started last.  Not a speed assertion.

BATCH_MEMORY = 2 * 1024**3  # bytes of address space for the child (the machine has 24 GiB)
BATCH_WALL_SECONDS = 300.0  # a hang, not slowness: the batch takes seconds

_CHILD = r"""
import contextlib, io, json, resource, sys, traceback
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from kubelearn.cli import main
examples = json.loads(open(sys.argv[1], encoding="utf-8").read())
progress = open(sys.argv[2], "w", encoding="utf-8")
results = []
for i, ex in enumerate(examples):
    progress.write(f"{i}\n"); progress.flush()
    sys.stdin = io.TextIOWrapper(io.BytesIO(ex["stdin"].encode("utf-8", "surrogatepass")), encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(ex["argv"])
    except SystemExit as exc:  # argparse's own exit: a code, not a crash
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        code, err = "exception", io.StringIO(traceback.format_exc())
    results.append({"code": code, "out": out.getvalue()[-2000:], "err": err.getvalue()[-2000:]})
sys.stdout.write(json.dumps({"limit": resource.getrlimit(resource.RLIMIT_AS)[0], "results": results}))
"""


def _dumps() -> dict[str, str]:
    """The default cluster's node dumps, one per mode, as the CLI prints them."""
    import contextlib
    import io

    out: dict[str, str] = {}
    for mode, view in (("iptables", ["--view", "save"]), ("nftables", ["--view", "list"]), ("ipvs", [])):
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["rules", "--node", "kind-worker", "--mode", mode, *view]) == 0
        out[mode] = buf.getvalue()
    return out


DUMP_LINES = st.sampled_from([
    "-A KUBE-SERVICES -j ACCEPT", "*nat", "COMMIT", ":KUBE-SVC-X - [0:0]", "-A KUBE-SVC-X -j KUBE-SVC-X",
    'include "/etc/passwd"', "table ip kube-proxy {", "}", "chain x { jump x }", "TCP  10.96.0.1:443 rr",
    "  -> 10.244.1.2:8080           Masq    1      0          0", "-A KUBE-SERVICES -m comment --comment \"\n",
    "x" * 5000, "\x00", "-j KUBE-MARK-MASQ " * 50, "-A KUBE-SEP-A -m statistic --mode random --probability nan",
])
FILE_KINDS = st.sampled_from(["mutated", "fifo", "/dev/zero", "missing", "directory", "empty"])
BATCH_COMMANDS = st.sampled_from(["simulate", "explain-rules", "explain-rules-stdin", "trace-rules-file",
                                  "rules-diff", "lab"])


def _dump_file(tmp: Path, i: int, kind: str, text: str) -> str:
    import os

    p = tmp / f"dump{i}"
    if kind == "mutated":
        p.write_text(text, encoding="utf-8", errors="surrogatepass")
    elif kind == "fifo":
        os.mkfifo(p)
    elif kind == "/dev/zero":
        return "/dev/zero"
    elif kind == "directory":
        p.mkdir()
    elif kind == "empty":
        p.write_text("")
    return str(p)


@st.composite
def _batch_example(draw: st.DrawFn, dumps: dict[str, str]) -> dict[str, Any]:
    command = draw(BATCH_COMMANDS)
    mode = draw(st.sampled_from(sorted(dumps)))
    lines = dumps[mode].splitlines()
    at = draw(st.integers(0, len(lines)))
    cut = draw(st.integers(0, 3))
    text = "\n".join([*lines[:at], *draw(st.lists(DUMP_LINES, max_size=3)), *lines[at + cut:]]) + "\n"
    kind = draw(FILE_KINDS)
    # mostly well-formed options (so the dump gets read), sometimes a hostile word
    extra = draw(st.one_of(st.sampled_from([[], ["-o", "json"], ["--local-ip", "172.18.0.3"],
                                            ["--local-ip", "172.18.0.3", "-o", "json"], ["--local-ip", "x\ny"]]),
                           st.lists(HOSTILE_STRINGS, max_size=2)))
    return {"command": command, "mode": mode, "text": text, "kind": kind, "extra": extra,
            "connections": draw(st.sampled_from(["1", "3", "20", "0", "-1", "nan", "2000000000", "x"])),
            "dst": draw(st.sampled_from(["10.96.0.1:443", "10.96.0.10:53", "192.0.2.1:80", "nonsense"]))}


def _argv(ex: dict[str, Any], i: int, tmp: Path) -> tuple[list[str], str]:
    """The argv and standard input of one example (files created under ``tmp``)."""
    c = ex["command"]
    if c == "simulate":
        return ["simulate", "--connections", ex["connections"], "--requests-per-connection", "2", *ex["extra"]], ""
    if c == "lab":
        d = tmp / f"lab{i}"
        if ex["kind"] == "directory":
            d.mkdir()
            (d / "notes.txt").write_text("not lessons")  # a folder that is not a lessons copy
        elif ex["kind"] == "mutated":
            d.write_text("a file, not a folder")
        return ["lab", "--dry-run", "--no-browser", "--dir", str(d)], ""
    if c == "explain-rules-stdin":
        return ["explain-rules", "-", *[a for a in ex["extra"] if a != "-"]], ex["text"]
    path = _dump_file(tmp, i, ex["kind"], ex["text"])
    if c == "explain-rules":
        return ["explain-rules", path, *ex["extra"]], ""
    if c == "trace-rules-file":
        return ["trace", "--src", "10.244.1.2", "--dst", ex["dst"], "--rules-file", path, *ex["extra"]], ""
    return ["rules", "--node", "kind-worker", "--mode", ex["mode"], "--diff", path], ""


def test_more_commands_bounded_in_time_and_memory(tmp_path: Path) -> None:
    """simulate, explain-rules (file and stdin), trace --rules-file, rules --diff and lab
    --dry-run --dir: no traceback, exit 0/1/2, in a child process capped at 2 GiB of address
    space and a wall limit only a hang would reach."""
    import os
    import subprocess
    import sys

    from hypothesis import Phase

    dumps = _dumps()
    examples: list[dict[str, Any]] = []

    @settings(max_examples=70, phases=[Phase.explicit, Phase.generate], database=None,
              suppress_health_check=list(HealthCheck))
    @given(ex=_batch_example(dumps))
    def collect(ex: dict[str, Any]) -> None:
        examples.append(ex)

    collect()
    batch = []
    for i, ex in enumerate(examples):
        argv, stdin = _argv(ex, i, tmp_path)
        batch.append({"argv": [a.replace("\x00", "") for a in argv], "stdin": stdin})
    explicit = len(batch)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    for path in (str(fifo), "/dev/zero"):  # never read, whatever the draw: each reader refuses them
        batch += [{"argv": ["explain-rules", path], "stdin": ""},
                  {"argv": ["trace", "--src", "10.244.1.2", "--dst", "10.96.0.1:443", "--rules-file", path], "stdin": ""},
                  {"argv": ["rules", "--node", "kind-worker", "--diff", path], "stdin": ""}]
    batch += [{"argv": ["explain-rules", "-"], "stdin": dumps[m]} for m in sorted(dumps)]
    commands = {b["argv"][0] for b in batch}
    assert commands == {"simulate", "explain-rules", "trace", "rules", "lab"}, commands
    spec = tmp_path / "batch.json"
    spec.write_text(json.dumps(batch), encoding="utf-8")
    progress = tmp_path / "progress"
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    try:
        r = subprocess.run([sys.executable, "-c", _CHILD, str(spec), str(progress), str(BATCH_MEMORY)],
                           capture_output=True, text=True, timeout=BATCH_WALL_SECONDS, cwd=tmp_path, env=env,
                           stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        started = progress.read_text().split() if progress.exists() else []
        hung = batch[int(started[-1])]["argv"] if started else None
        pytest.fail(f"no answer within {BATCH_WALL_SECONDS:.0f} s; the example that hung: {hung}")
    assert r.returncode == 0, f"child failed ({r.returncode}): {r.stderr[-3000:]}"
    answer = json.loads(r.stdout)
    assert answer["limit"] == BATCH_MEMORY  # the cap was in force while the examples ran
    results = answer["results"]
    assert len(results) == len(batch)
    for b, res in zip(batch, results, strict=True):
        assert res["code"] in (0, 1, 2), (b["argv"], res)
        assert "Traceback" not in res["err"] and "Traceback" not in res["out"], (b["argv"], res["err"])
        if res["code"] == 1:  # refused with a message; rules --diff: differences, printed like diff(1)
            assert res["err"].strip() or (b["argv"][0] == "rules" and res["out"].strip()), b["argv"]
    # the batch met each kind of trouble it was built to meet
    assert any(r_["code"] == 0 for r_ in results) and any(r_["code"] == 1 for r_ in results)
    for b, res in zip(batch[explicit:-3], results[explicit:-3], strict=True):  # the FIFO and /dev/zero
        assert res["code"] in (1, 2) and "not a regular file" in res["err"], (b["argv"], res)
    assert all(r_["code"] == 0 and r_["out"] for r_ in results[-3:]), results[-3:]  # stdin dumps explained
    assert not any(tmp_path.glob("lab*/*.ipynb")), "lab --dry-run wrote lessons"
