"""The import graph: dependencies run one way, down the pipeline, and never in a circle.

kubelearn's packages follow the path a manifest takes: YAML is read (``manifest``), the API
server admits it (``apiserver``), the controllers react (``controllers``), the learner's edits
combine the two (``edits``), the result is a :class:`~kubelearn.cluster.Cluster` value, kind
builds the first one (``kind``: ``load``), pods discover Services (``discovery``), kube-proxy
writes its rules (``proxy``), traffic flows through them (``traffic``), and pictures, controls,
exercises and the real kernel sit on top.  This test reads every module's source (no module
is imported), collects every ``import`` (inside functions too; ``if TYPE_CHECKING:`` blocks,
which never run, excluded) and checks:

* no module imports a module of a *later* layer of :data:`LAYERS` (see ``docs/design.md``);
* the graph of modules has no cycle, counting the :class:`Cluster` methods' lazy imports of
  :mod:`kubelearn.edits`: whatever ``edits`` reaches imports ``Cluster`` only for type checking;
* the CLI lists its commands statically, and no command imports the CLI back;
* no module guards against one of kubelearn's own modules being absent (``except ImportError``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "kubelearn"

#: The layers, first to last.  A module may import from its own layer and earlier ones only.
#: A name is a module or package under kubelearn; a module takes the layer of the longest name
#: that is it or a package holding it (so a package's submodules share its layer).
LAYERS: tuple[tuple[str, ...], ...] = (
    ("__init__", "errors", "versions", "api_resources", "objects", "labels"),  # vocabulary every layer uses
    ("manifest",),  # YAML in and out
    ("apiserver",),  # decode, default, allocate, validate, admit
    ("controllers",),  # Deployment, ReplicaSet, StatefulSet, scheduler, EndpointSlice, GC, rollout
    ("edits",),  # what a learner does: apply, delete, scale, drain, fail_node ...
    ("cluster",),  # the value (its methods delegate to edits: see the cycle test)
    # kind create cluster, and load()/dry_run() on it; kube-proxy checks its own configuration
    # (proxy.config_validation) when the cluster is built, so that one module sits here.
    ("kind", "proxy.config_validation"),
    ("discovery", "kubectl", "responses"),  # environment variables, DNS; kubectl's tables; API warnings
    ("proxy",),  # kube-proxy's rules and their tracers
    ("traffic",),  # connections through those rules: the request log
    ("scenarios",),  # ready-made clusters and workloads
    ("plots", "widgets", "netlab", "exercise"),  # pictures, controls, the real kernel, exercises
    ("commands",),  # the kubelearn command's subcommands
    ("cli", "__main__"),  # the kubelearn command
)

#: Edges allowed to break the rules for now, each with who removes it.
KNOWN_EXCEPTIONS: frozenset[tuple[str, str]] = frozenset({
})


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES: dict[str, Path] = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement except those under ``if TYPE_CHECKING:`` (at any depth)."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def _targets(module: str, path: Path) -> set[str]:
    """The kubelearn modules ``module`` imports at run time (``from pkg import sub`` counts as sub)."""
    out: set[str] = set()
    for node in _runtime_imports(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            base = _resolve(module, path.name == "__init__.py", node)
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        for name in names:
            while name and name not in MODULES:  # kubelearn.proxy.read.X -> the module that holds it
                name = name.rpartition(".")[0]
            if name.startswith("kubelearn") and name != module:
                out.add(name)
    return out


GRAPH: dict[str, set[str]] = {m: _targets(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> int:
    name = module.partition(".")[2] or "__init__"
    best = max(((len(n), i) for i, names in enumerate(LAYERS) for n in names
                if name == n or name.startswith(n + ".")), default=None)
    if best is None:
        raise AssertionError(f"{module} is in no layer: add it to LAYERS (and to docs/design.md)")
    return best[1]


def test_every_module_has_a_layer() -> None:
    for module in MODULES:
        assert _layer(module) >= 0
    assert _layer("kubelearn.proxy.config_validation") < _layer("kubelearn.proxy.iptables") == _layer("kubelearn.proxy")


def test_imports_run_down_the_pipeline() -> None:
    upward = sorted(f"{a} (layer {_layer(a)}) imports {b} (layer {_layer(b)})"
                    for a, targets in GRAPH.items() for b in targets
                    if _layer(b) > _layer(a) and (a, b) not in KNOWN_EXCEPTIONS)
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_no_import_cycles() -> None:
    graph = {a: {b for b in targets if (a, b) not in KNOWN_EXCEPTIONS} for a, targets in GRAPH.items()}
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_type_checking_imports_are_not_counted() -> None:
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .cluster import Cluster\n"
                     "def f():\n    from .edits import apply\n")
    assert [getattr(n, "module", None) for n in _runtime_imports(tree)] == ["typing", "edits"]


def test_the_cluster_methods_delegate_to_edits_only() -> None:
    """The one documented exception: ``Cluster``'s convenience methods import the edits lazily.

    Besides the edits, the value needs only the kind registry, the errors and the release it models.
    """
    assert GRAPH["kubelearn.cluster"] == {"kubelearn.edits", "kubelearn.errors", "kubelearn.api_resources",
                                          "kubelearn.versions"}


def test_the_core_does_not_import_traffic() -> None:
    core = [m for m in MODULES if _layer(m) < _layer("kubelearn.traffic")]
    assert sorted(f"{m} -> {t}" for m in core for t in GRAPH[m] if t.startswith("kubelearn.traffic")) == []


def test_the_cli_lists_its_commands_statically() -> None:
    source = (PACKAGE / "cli.py").read_text(encoding="utf-8")
    assert "import_module" not in source and "ModuleNotFoundError" not in source
    commands = {m for m in MODULES if m.startswith("kubelearn.commands.") and not m.split(".")[-1].startswith("_")}
    assert commands <= GRAPH["kubelearn.cli"]


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("kubelearn.commands")))
def test_commands_do_not_import_the_cli(module: str) -> None:
    assert "kubelearn.cli" not in GRAPH[module]


def _guarded_own_imports(module: str, source: str) -> list[str]:
    """Imports of kubelearn's own modules inside ``try: ... except ImportError`` (as if they could be absent)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Try):
            continue
        caught = {getattr(h.type, "id", None) for h in node.handlers} | {
            getattr(e, "id", None) for h in node.handlers if isinstance(h.type, ast.Tuple) for e in h.type.elts}
        if not caught & {"ImportError", "ModuleNotFoundError"}:
            continue
        for stmt in node.body:
            for sub in ast.walk(stmt):
                if isinstance(sub, ast.ImportFrom) and (sub.level or (sub.module or "").startswith("kubelearn")):
                    found.append(f"{module}:{sub.lineno}")
    return found


def test_kubelearn_never_guards_against_its_own_modules_being_absent() -> None:
    assert [hit for m, p in MODULES.items() for hit in _guarded_own_imports(m, p.read_text(encoding="utf-8"))] == []


def test_the_guard_finder_finds_a_guard() -> None:
    source = "try:\n    from .proxy import rules\nexcept ImportError:\n    rules = None\n"
    assert _guarded_own_imports("probe", source) == ["probe:2"]
    assert _guarded_own_imports("probe", "try:\n    import scipy\nexcept ImportError:\n    pass\n") == []
