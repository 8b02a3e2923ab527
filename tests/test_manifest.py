"""Reading manifests (files, directories, text, dicts, Lists) and dumping YAML."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kubelearn.errors import ManifestError
from kubelearn.manifest import dump, read_documents, strip_server_fields

DATA = Path(__file__).parent / "data" / "manifests"


def test_multi_document_file_skips_empty_documents_and_records_lines():
    docs = read_documents(DATA / "multi.yaml")
    assert [d.name for d in docs] == ["first", "second"]
    assert [d.index for d in docs] == [0, 2]  # document 1 is the empty one between two ---
    assert docs[0].line == 2  # after the comment line
    assert docs[1].line == 13
    assert all(d.source.endswith("multi.yaml") for d in docs)


def test_string_path_is_read_like_a_pathlike():
    assert [d.name for d in read_documents(str(DATA / "multi.yaml"))] == ["first", "second"]


def test_list_kind_is_expanded_with_item_lines():
    docs = read_documents(DATA / "list.yaml")
    assert [(d.kind, d.name) for d in docs] == [("Namespace", "shop"), ("Service", "cart")]
    assert docs[0].line == 4 and docs[1].line == 8


def test_directory_reads_yaml_yml_json_in_name_order_not_txt():
    docs = read_documents(DATA / "dir")
    assert [d.name for d in docs] == ["a", "b", "c"]
    assert docs[2].source.endswith("c-service.json")


def test_text_and_dict_sources():
    text = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n"
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "y"}}
    docs = read_documents(text, obj)
    assert [d.name for d in docs] == ["x", "y"]
    assert docs[0].source == "<string>" and docs[1].source == "<dict>"
    docs[1].obj["metadata"]["name"] = "changed"
    assert obj["metadata"]["name"] == "y"  # the caller's dict is not shared


def test_yaml_syntax_error_has_file_line_and_column():
    with pytest.raises(ManifestError, match=r"yaml: did not find expected key \(while parsing a block mappi") as info:
        read_documents(DATA / "broken-syntax.yaml")
    err = info.value
    assert err.source.endswith("broken-syntax.yaml")
    assert (err.line, err.column) == (8, 4)
    assert "expected <block end>, but found '<block mapping start>'" in err.message or "while parsing" in err.message
    assert str(err).startswith(f"{err.source}, line 8, column 4: yaml: ")


def test_mapping_values_not_allowed_is_reported_in_plain_words():
    with pytest.raises(ManifestError, match=r"yaml: mapping values are not allowed in this context") as info:
        read_documents("apiVersion: v1\nkind: Service\nmetadata: name: x\n")
    # libyaml's wording, which go-yaml (and so kubectl) shares
    assert info.value.message == "yaml: mapping values are not allowed in this context"
    assert (info.value.line, info.value.column) == (3, 15)


def test_missing_apiversion_and_kind_uses_kubectls_words():
    with pytest.raises(ManifestError, match=r"error validating data: \[apiVersion not set, kind not set\]") as info:
        read_documents(DATA / "missing-kind.yaml")
    err = info.value
    assert err.message == "error validating data: [apiVersion not set, kind not set]"
    assert err.line == 6 and err.document == 1


def test_only_kind_missing():
    with pytest.raises(ManifestError, match=r"error validating data: kind not set$"):
        read_documents({"apiVersion": "v1", "metadata": {"name": "x"}})


def test_duplicate_key_is_refused_like_strict_decoding():
    with pytest.raises(ManifestError, match=r'mapping key "port" already defined at line 7') as info:
        read_documents(DATA / "duplicate-key.yaml")
    assert info.value.message == 'mapping key "port" already defined at line 7'
    assert info.value.line == 8


def test_the_seed_chapters_broken_service_is_diagnosed():
    with pytest.raises(ManifestError, match=r"yaml: did not find expected key \(while parsing a block mappi") as info:
        read_documents(DATA / "seed-broken-service.yaml")
    assert info.value.line == 7  # the "- protocol" line where a mapping cannot take a list item


def test_a_scalar_document_is_not_an_object():
    with pytest.raises(ManifestError, match="not an object"):
        read_documents("just a string\n")


def test_missing_file_uses_kubectls_words():
    with pytest.raises(ManifestError, match=r'error: the path "nope/x.yaml" does not exist'):
        read_documents("nope/x.yaml")


def test_timestamps_stay_strings():
    docs = read_documents('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: t\n  creationTimestamp: 2026-01-01T00:00:00Z\n')
    assert docs[0].obj["metadata"]["creationTimestamp"] == "2026-01-01T00:00:00Z"


def test_dump_uses_kubectl_key_order_and_block_style():
    obj = {"status": {}, "spec": {"type": "ClusterIP", "ports": [{"port": 80, "name": "http"}]},
           "metadata": {"name": "web", "labels": {"a": ""}}, "kind": "Service", "apiVersion": "v1"}
    text = dump(obj)
    lines = text.splitlines()
    assert lines[0] == "apiVersion: v1" and lines[1] == "kind: Service" and lines[2] == "metadata:"
    assert text.index("metadata:") < text.index("spec:") < text.index("status:")
    assert "  ports:\n  - name: http\n    port: 80\n" in text  # kubectl's list indentation
    assert '    a: ""' in text  # empty strings double-quoted as kubectl prints them
    assert "!!" not in text
    assert yaml.safe_load(text) == obj


def test_dump_several_objects_is_multi_document():
    a = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
    b = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "b"}}
    text = dump([a, b])
    assert text.count("---\n") == 1
    assert [d.obj for d in read_documents(text)] == [a, b]


def test_strip_server_fields_keeps_allocations_and_lb_ingress():
    svc = {"apiVersion": "v1", "kind": "Service",
           "metadata": {"name": "lb", "uid": "u", "resourceVersion": "7", "creationTimestamp": "t",
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
           "spec": {"clusterIP": "10.96.5.5", "ports": [{"port": 80, "nodePort": 30100}]},
           "status": {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}, "conditions": []}}
    out = strip_server_fields(svc)
    assert out["metadata"] == {"name": "lb"}
    assert out["spec"] == svc["spec"]
    assert out["status"] == {"loadBalancer": {"ingress": [{"ip": "172.18.255.200"}]}}
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "status": {"podIP": "10.244.1.2"}}
    assert "status" not in strip_server_fields(pod)
