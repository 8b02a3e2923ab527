"""Labels and selectors: matching semantics and the API server's exact validation messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubelearn.errors import KubelearnError
from kubelearn.labels import (
    DNS1035_LABEL_MESSAGE,
    LABEL_KEY_MESSAGE,
    LABEL_VALUE_MESSAGE,
    RFC1123_LABEL_MESSAGE,
    RFC1123_SUBDOMAIN_MESSAGE,
    SelectorError,
    is_dns1035_label,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
    is_valid_port_name,
    label_selector_matches,
    selector_matches,
    validate_label_selector,
    validate_labels,
)

# ----------------------------------------------------------------- C.4 building blocks, verbatim
C4_DNS1035 = ("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic "
              "character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for "
              "validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")
C4_RFC1123_LABEL = ("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                    "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
                    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")
C4_RFC1123_SUBDOMAIN = ("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
                        "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
                        "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")
C4_LABEL_KEY = ("must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
                "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')")
C4_LABEL_VALUE = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                  "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
                  "regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')")


def test_building_blocks_are_byte_for_byte() -> None:
    assert DNS1035_LABEL_MESSAGE == C4_DNS1035
    assert RFC1123_LABEL_MESSAGE == C4_RFC1123_LABEL
    assert RFC1123_SUBDOMAIN_MESSAGE == C4_RFC1123_SUBDOMAIN
    assert LABEL_KEY_MESSAGE == C4_LABEL_KEY
    assert LABEL_VALUE_MESSAGE == C4_LABEL_VALUE


@pytest.mark.parametrize("name", ["my-service", "a", "abc-123", "a" * 63])
def test_dns1035_accepts(name: str) -> None:
    assert is_dns1035_label(name) == []


@pytest.mark.parametrize("name", ["My-Service", "1web", "my_service", "my.service", "web-", "-web", ""])
def test_dns1035_rejects_with_the_regex_message(name: str) -> None:
    assert is_dns1035_label(name) == [C4_DNS1035]


def test_length_is_a_separate_error() -> None:
    assert is_dns1035_label("a" * 64) == ["must be no more than 63 characters"]
    assert is_dns1035_label("A" * 64) == ["must be no more than 63 characters", C4_DNS1035]
    assert is_dns1123_subdomain("a" * 254) == ["must be no more than 253 characters"]
    assert is_valid_label_value("v" * 64) == ["must be no more than 63 characters"]


def test_dns1123_label_dots_get_the_short_message() -> None:
    assert is_dns1123_label("8083") == []
    assert is_dns1123_label("my.port") == ["must not contain dots"]
    assert is_dns1123_label("My_Port") == [C4_RFC1123_LABEL]


def test_subdomain() -> None:
    assert is_dns1123_subdomain("db.example.com") == []
    assert is_dns1123_subdomain("DB.example.com") == [C4_RFC1123_SUBDOMAIN]


def test_qualified_name_prefix_and_name_parts() -> None:
    assert is_qualified_name("app.kubernetes.io/name") == []
    assert is_qualified_name("app name") == ["name part " + C4_LABEL_KEY]
    assert is_qualified_name("Example.COM/app") == ["prefix part " + C4_RFC1123_SUBDOMAIN]
    assert is_qualified_name("/app") == ["prefix part must be non-empty"]
    assert is_qualified_name("example.com/") == ["name part must be non-empty", "name part " + C4_LABEL_KEY]
    assert is_qualified_name("a" * 64) == ["name part must be no more than 63 characters"]
    three = is_qualified_name("a/b/c")
    assert len(three) == 1 and three[0].startswith("a qualified name must consist of")
    assert three[0].endswith("with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")


def test_port_name_rules_each_separate() -> None:
    assert is_valid_port_name("http") == []
    assert is_valid_port_name("8080") == ["must contain at least one letter (a-z)"]
    assert is_valid_port_name("-web--port-name-x") == [
        "must be no more than 15 characters",
        "must not contain consecutive hyphens",
        "must not begin or end with a hyphen",
    ]
    assert is_valid_port_name("Web") == ["must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"]


def test_validate_labels_reports_at_the_map_path_with_key_or_value() -> None:
    errs = validate_labels({"app name": "web", "tier": "front end"}, "spec.selector")
    assert [str(e) for e in errs] == [
        'spec.selector: Invalid value: "app name": name part ' + C4_LABEL_KEY,
        'spec.selector: Invalid value: "front end": ' + C4_LABEL_VALUE,
    ]


def test_validate_label_selector_expressions() -> None:
    sel = {"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "tier", "operator": "In"},
        {"key": "env", "operator": "Exists", "values": ["x"]},
        {"key": "zone", "operator": "Near", "values": ["a"]},
    ]}
    assert [str(e) for e in validate_label_selector(sel, "spec.selector")] == [
        "spec.selector.matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'",
        "spec.selector.matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or "
        "'DoesNotExist'",
        'spec.selector.matchExpressions[2].operator: Invalid value: "Near": not a valid selector operator',
    ]


# ----------------------------------------------------------------- matching
def test_service_selector_is_an_and_of_equalities() -> None:
    assert selector_matches({"app": "web"}, {"app": "web", "tier": "front"})
    assert selector_matches({"app": "web", "tier": "front"}, {"app": "web", "tier": "front"})
    assert not selector_matches({"app": "web", "tier": "back"}, {"app": "web", "tier": "front"})
    assert not selector_matches({"app": "web"}, {})
    assert not selector_matches({"app": "web"}, None)


def test_empty_or_missing_service_selector_selects_nothing() -> None:
    assert not selector_matches(None, {"app": "web"})
    assert not selector_matches({}, {"app": "web"})


def test_label_selector_operators() -> None:
    labels = {"app": "web", "tier": "front"}

    def m(op: str, key: str, values: list[str] | None = None) -> bool:
        expr: dict[str, object] = {"key": key, "operator": op}
        if values is not None:
            expr["values"] = values
        return label_selector_matches({"matchExpressions": [expr]}, labels)

    assert m("In", "tier", ["front", "back"]) and not m("In", "tier", ["back"]) and not m("In", "zone", ["a"])
    assert m("NotIn", "tier", ["back"]) and not m("NotIn", "tier", ["front"]) and m("NotIn", "zone", ["a"])
    assert m("Exists", "app") and not m("Exists", "zone")
    assert m("DoesNotExist", "zone") and not m("DoesNotExist", "app")


def test_label_selector_empty_selects_all_and_none_selects_nothing() -> None:
    assert label_selector_matches({}, {"app": "web"})
    assert not label_selector_matches(None, {"app": "web"})
    assert label_selector_matches({"matchLabels": {"app": "web"}}, {"app": "web", "x": "y"})
    assert not label_selector_matches({"matchLabels": {"app": "web"}, "matchExpressions": [
        {"key": "x", "operator": "DoesNotExist"}]}, {"app": "web", "x": "y"})


def test_bad_operator_raises_a_kubelearn_error() -> None:
    with pytest.raises(SelectorError, match=r'"Near" is not a valid label selector operator') as info:
        label_selector_matches({"matchExpressions": [{"key": "a", "operator": "Near"}]}, {})
    assert isinstance(info.value, KubelearnError)
    assert str(info.value) == '"Near" is not a valid label selector operator'


_keys = st.sampled_from(["app", "tier", "env", "zone"])
_vals = st.sampled_from(["a", "b", "c"])


@given(st.dictionaries(_keys, _vals, min_size=1), st.dictionaries(_keys, _vals))
def test_selector_matches_iff_subset(selector: dict[str, str], labels: dict[str, str]) -> None:
    expected = all(labels.get(k) == v for k, v in selector.items())
    assert selector_matches(selector, labels) is expected
    # matchLabels alone means the same as a Service selector.
    assert label_selector_matches({"matchLabels": selector}, labels) is expected
