"""The OpenAPI subset kubelearn ships equals a fresh generation from the official data, and decodes alike.

``kubernetes-validate`` is a development dependency (``--group schema``); without it the
generation tests are skipped with the reason, the shipped file's own checks still run.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubelearn.apiserver import schema

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import vendor_schema  # noqa: E402

HAVE_SOURCE = importlib.util.find_spec("kubernetes_validate") is not None
needs_source = pytest.mark.skipif(
    not HAVE_SOURCE, reason="kubernetes-validate (the official OpenAPI data) is not installed: pip install --group schema")


def _shipped() -> dict[str, Any]:
    return json.loads((ROOT / "kubelearn" / schema.SCHEMA_RESOURCE).read_text(encoding="utf-8"))


def test_shipped_subset_is_closed_under_ref() -> None:
    """Every $ref inside the shipped file resolves inside it, and every checked kind is there."""
    defs = _shipped()["$defs"]
    assert set(schema.SCHEMA_DEFINITIONS.values()) <= set(defs)
    missing = {ref for node in defs.values() for ref in vendor_schema._refs(node)} - set(defs)
    assert missing == set()


def test_runtime_reads_the_shipped_file_not_kubernetes_validate() -> None:
    schema._definitions.cache_clear()
    assert schema._definitions() == _shipped()["$defs"]


@needs_source
def test_shipped_subset_equals_a_fresh_generation() -> None:
    shipped = (ROOT / "kubelearn" / schema.SCHEMA_RESOURCE).read_text(encoding="utf-8")
    assert shipped == vendor_schema.generate(), "run: python scripts/vendor_schema.py"


@needs_source
def test_each_shipped_definition_is_the_official_one_unchanged() -> None:
    full = json.loads(vendor_schema.source_path().read_text(encoding="utf-8"))["$defs"]
    shipped = _shipped()["$defs"]
    for name, node in shipped.items():
        assert node == full[name], name


def _manifests() -> list[Any]:
    docs: list[Any] = []
    for folder in (ROOT / "notebooks" / "manifests", ROOT / "kubelearn" / "data" / "scenarios", ROOT / "tests" / "data"):
        for path in sorted(folder.rglob("*.y*ml")):
            try:
                docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict))
            except yaml.YAMLError:
                continue
    return docs


def _mutations(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The document, plus versions with an unknown field and a wrongly typed value at each top-level branch."""
    out = [doc]
    for key in ("spec", "metadata", "status"):
        if isinstance(doc.get(key), dict):
            out.append({**doc, key: {**doc[key], "bogusField": 1}})
            out.append({**doc, key: {**doc[key], **{k: "x" for k in list(doc[key])[:1]}}})
    return out


@needs_source
def test_decoding_with_the_subset_equals_decoding_with_the_full_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every manifest in the repository (and broken variants) decodes to the same errors either way."""
    full = json.loads(vendor_schema.source_path().read_text(encoding="utf-8"))["$defs"]
    docs = [m for d in _manifests() for m in _mutations(d)]
    assert len(docs) > 100
    schema._definitions.cache_clear()
    subset_results = [(str(schema.check(d, all_errors=True)) if schema.SCHEMA_DEFINITIONS.get(
        (str(d.get("apiVersion")), str(d.get("kind")))) else None) for d in docs]
    monkeypatch.setattr(schema, "_definitions", lambda: full)
    full_results = [(str(schema.check(d, all_errors=True)) if schema.SCHEMA_DEFINITIONS.get(
        (str(d.get("apiVersion")), str(d.get("kind")))) else None) for d in docs]
    assert subset_results == full_results
    assert any(r and "unknown field" in r for r in subset_results)
