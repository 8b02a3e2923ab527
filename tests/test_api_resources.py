"""One registry of kinds: kubectl's lookup by name, plural or short name, and every API server stage
knowing exactly the kinds the registry lists (no stage with a kind list of its own)."""

from __future__ import annotations

import pytest

from kubelearn.api_resources import KINDS, kind_info
from kubelearn.apiserver import defaults, schema, validation
from kubelearn.errors import KubelearnKindError

CORE = {k.kind for k in KINDS.values() if k.openapi}


@pytest.mark.parametrize("name", ["Service", "services", "service", "svc"])
def test_a_kind_by_any_of_its_names(name: str) -> None:
    assert kind_info(name).kind == "Service"


def test_an_unknown_resource_type_in_kubectl_s_words() -> None:
    with pytest.raises(KubelearnKindError, match=r'^error: the server doesn\'t have a resource type "bogus"$'):
        kind_info("bogus")


def test_every_stage_serves_exactly_the_registered_kinds() -> None:
    assert CORE == set(KINDS) - {"Workload"}
    assert {kind for _, kind in schema.SCHEMA_DEFINITIONS} == CORE
    assert set(defaults._DEFAULTERS) == CORE
    assert set(validation._VALIDATORS) == CORE
