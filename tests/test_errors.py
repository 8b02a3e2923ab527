"""The error wording matches the API server's and kubectl's."""

import pickle

import pytest

from kubelearn.errors import (
    NO_VALUE,
    ApplyError,
    FieldError,
    InvalidError,
    KubelearnError,
    ManifestError,
    NotFoundError,
    render_value,
)


def test_field_error_formats_like_apimachinery() -> None:
    """Invalid value prints the value; Required and Forbidden never do."""
    assert str(FieldError("spec.ports[0].nodePort", "Invalid value", 80,
                          "provided port is not in the valid range. The range of valid ports is 30000-32767")) == (
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    )
    assert str(FieldError("spec.type", "Unsupported value", "Nodeport",
                          'supported values: "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"')) == (
        'spec.type: Unsupported value: "Nodeport": supported values: "ClusterIP", "ExternalName", '
        '"LoadBalancer", "NodePort"'
    )
    assert str(FieldError("spec.ports[1].name", "Required value")) == "spec.ports[1].name: Required value"
    assert str(FieldError("spec.externalName", "Forbidden", "x", "may not be set")) == (
        "spec.externalName: Forbidden: may not be set"
    )


def test_render_value() -> None:
    """Strings are quoted, numbers bare, composites as JSON."""
    assert render_value("None") == '"None"'
    assert render_value(86401) == "86401"
    assert render_value(["10.0.0.5"]) == '["10.0.0.5"]'
    assert render_value(True) == "true"


def test_invalid_error_one_and_many_causes() -> None:
    """kubectl prints one cause inline and several as bullets."""
    one = InvalidError("Service", "my-service", [FieldError("spec.ports", "Required value")])
    assert str(one) == 'The Service "my-service" is invalid: spec.ports: Required value'
    many = InvalidError(
        "Service",
        "web",
        [FieldError("spec.ports[0].name", "Required value"), FieldError("spec.ports[1].name", "Required value"),
         FieldError("spec.ports[0].name", "Required value")],
    )
    assert str(many) == (
        'The Service "web" is invalid: \n* spec.ports[0].name: Required value\n* spec.ports[1].name: Required value'
    )
    assert len(many.causes) == 2  # exact duplicates removed, as the API server does
    assert isinstance(many, KubelearnError) and isinstance(many, ValueError)


def test_not_found_and_manifest_errors() -> None:
    """Lookups and YAML problems name what and where."""
    assert str(NotFoundError("services", "web")) == 'Error from server (NotFound): services "web" not found'
    err = ManifestError("mapping values are not allowed here", source="svc.yaml", line=7, column=3)
    assert str(err) == "svc.yaml, line 7, column 3: mapping values are not allowed here"
    assert str(ManifestError("kind not set", source="a.yaml", document=2)) == "a.yaml, document 2: kind not set"
    assert NO_VALUE is not None


def test_apply_error_lists_everything_and_pickles() -> None:
    """An ApplyError keeps every error; errors survive pickling (multiprocessing, nbclient)."""
    errs: list[KubelearnError] = [NotFoundError("namespaces", "prod"),
                                  InvalidError("Service", "a", [FieldError("spec.ports", "Required value")])]
    agg = ApplyError(errs)
    assert str(agg).splitlines() == [
        'Error from server (NotFound): namespaces "prod" not found',
        'The Service "a" is invalid: spec.ports: Required value',
    ]
    for e in [*errs, ManifestError("bad", source="x.yaml", line=1, column=2)]:
        again = pickle.loads(pickle.dumps(e))
        assert str(again) == str(e)
    with pytest.raises(ValueError, match=r'Error from server \(NotFound\): namespaces "prod" not found'):
        raise agg


def test_invalid_error_accepts_unhashable_values() -> None:
    """A cause whose bad value is a list still de-duplicates by its text."""
    c = FieldError("spec.clusterIPs", "Invalid value", ["10.0.0.5"], "failed to allocate IP 10.0.0.5")
    err = InvalidError("Service", "x", [c, c])
    assert len(err.causes) == 1
    assert 'spec.clusterIPs: Invalid value: ["10.0.0.5"]' in str(err)
