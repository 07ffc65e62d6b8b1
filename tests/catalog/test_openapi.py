"""The OpenAPI 3.1 document generated from the headers is valid and describes every saved query."""

from __future__ import annotations

from typing import Any

import pytest
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

from iomkg import catalog


@pytest.fixture(scope="module")
def document(saved: catalog.Catalog) -> dict[str, Any]:
    return catalog.openapi_document(saved, "0.1.0")


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on any error


def test_the_validator_does_catch_a_broken_document(document: dict[str, Any]) -> None:
    broken = {**document, "paths": {"/api/queries/x": {"get": {"responses": "none"}}}}
    with pytest.raises(OpenAPIValidationError):
        validate(broken)


def test_every_saved_query_has_an_operation_with_its_parameters(
    document: dict[str, Any], saved: catalog.Catalog
) -> None:
    operation_ids = set()
    for query in saved.values():
        operation = document["paths"][f"/api/queries/{query.name}"]["get"]
        operation_ids.add(operation["operationId"])
        assert operation["summary"] == query.title
        assert operation["description"] == query.description
        params = {p["name"]: p for p in operation["parameters"]}
        assert set(params) == {p.name for p in query.parameters} | {"format"}
        for declared in query.parameters:
            described = params[declared.name]
            assert described["in"] == "query"
            assert described["required"] is declared.required
            integer = declared.type == "integer"
            assert described["example"] == (int(declared.example) if integer else declared.example)
            if declared.default is not None:
                assert described["schema"]["default"] == declared.default
        assert params["format"]["schema"]["enum"] == query.to_json()["formats"]
        content = operation["responses"]["200"]["content"]
        if query.kind == "graph":
            assert "text/turtle" in content and "application/ld+json" in content
        else:
            assert "application/sparql-results+json" in content and "text/csv" in content
        assert "400" in operation["responses"] and "406" in operation["responses"]
        assert ("403" in operation["responses"]) is bool(query.services)
    assert len(operation_ids) == len(saved)  # unique, as OpenAPI requires


def test_parameter_schemas_follow_the_declared_types() -> None:
    def schema(type_: catalog.ParamType) -> dict[str, Any]:
        return catalog.parameter_schema(catalog.Parameter("p", type_, True, "x"))

    assert schema("integer") == {"type": "integer"}
    assert schema("date") == {"type": "string", "format": "date"}
    assert schema("year")["pattern"] == "^[0-9]{4}$"
    assert schema("iri")["type"] == "string"


def test_the_catalogue_and_schema_components_are_described(document: dict[str, Any]) -> None:
    assert "/api/queries" in document["paths"] and "/api/openapi.json" in document["paths"]
    assert {"SavedQuery", "Parameter", "SparqlResults", "Error"} <= set(
        document["components"]["schemas"]
    )
    assert {"name": "catalogue"} in document["tags"]


def test_parameter_descriptions_read_as_sentences(document: dict[str, Any]) -> None:
    """The header's description, then what to give: no "(…). (…)" or brackets in brackets."""
    described = [
        parameter["description"]
        for path in document["paths"].values()
        for parameter in path.get("get", {}).get("parameters", [])
        if parameter["name"] != "format"
    ]
    assert described
    for text in described:
        assert ". (" not in text and "((" not in text and "))" not in text, text
        depth = 0
        for char in text:
            depth += {"(": 1, ")": -1}.get(char, 0)
            assert 0 <= depth <= 1, f"nested brackets in {text!r}"
        assert text.endswith(".") and " Give " in text, text
    donors = document["paths"]["/api/queries/list-donors"]["get"]["parameters"][0]
    assert donors["description"] == (
        "The project or activity (id:project/… or id:activity/…). Give an absolute IRI such as "
        "https://… or a compact one such as id:country/MK."
    )
