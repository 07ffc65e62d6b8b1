"""JSON-LD answers of CONSTRUCT and DESCRIBE are compacted with the project's prefixes, as the
pages and dumps are, from every front: ``/sparql``, the saved-query API and the CLI (all three
write through ``formats.write_graph``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rdflib
import requests
from rdflib.compare import isomorphic

from iomkg.config import Settings
from tests.catalog.conftest import run_cli
from tests.servers import LiveServer

NORWAY = "https://w3id.org/iomkg/id/country/NO"
DESCRIBE = f"DESCRIBE <{NORWAY}>"


def assert_compacted(document: Any) -> None:
    context = document["@context"]
    assert context["schema"] == "https://schema.org/"
    assert context["owl"] == "http://www.w3.org/2002/07/owl#"
    assert "id" not in context  # ids stay whole IRIs, as on the pages
    nodes = document.get("@graph", [document])
    (norway,) = [node for node in nodes if node["@id"] == NORWAY]
    assert norway["@type"] == "schema:Country"
    assert "owl:sameAs" in norway and "skos:prefLabel" in norway


def turtle_of(live_server: LiveServer) -> rdflib.Graph:
    response = requests.get(
        live_server.sparql, params={"query": DESCRIBE, "format": "ttl"}, timeout=30
    )
    return rdflib.Graph().parse(data=response.content, format="turtle")


@pytest.mark.parametrize("how", ["accept", "format"])
def test_sparql_jsonld_is_compacted(live_server: LiveServer, how: str) -> None:
    params, headers = {"query": DESCRIBE}, {"Accept": "application/ld+json"}
    if how == "format":
        params, headers = {**params, "format": "jsonld"}, {}
    response = requests.get(live_server.sparql, params=params, headers=headers, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/ld+json")
    assert_compacted(response.json())
    parsed = rdflib.Graph().parse(data=response.content, format="json-ld")
    assert isomorphic(parsed, turtle_of(live_server))


def test_construct_by_post_is_compacted(live_server: LiveServer) -> None:
    response = requests.post(
        live_server.sparql,
        data=f"CONSTRUCT {{ <{NORWAY}> ?p ?o }} WHERE {{ <{NORWAY}> ?p ?o }}",
        headers={"Content-Type": "application/sparql-query", "Accept": "application/ld+json"},
        timeout=30,
    )
    assert response.status_code == 200
    assert_compacted(response.json())


def test_the_api_jsonld_is_compacted(live_server: LiveServer) -> None:
    response = requests.get(
        live_server.url + "/api/queries/describe-resource",
        params={"resource": "id:country/NO"},
        headers={"Accept": "application/ld+json"},
        timeout=30,
    )
    assert response.status_code == 200
    assert_compacted(response.json())


def test_the_cli_jsonld_is_compacted(built_settings: Settings) -> None:
    saved = run_cli(
        built_settings,
        "query",
        "describe-resource",
        "--param",
        "resource=id:country/NO",
        "--format",
        "jsonld",
    )
    assert saved.exit_code == 0, saved.output
    assert_compacted(json.loads(saved.stdout))
    direct = run_cli(built_settings, "query", "-q", DESCRIBE, "--format", "jsonld")
    assert direct.exit_code == 0, direct.output
    assert_compacted(json.loads(direct.stdout))
    assert isomorphic(
        rdflib.Graph().parse(data=direct.stdout, format="json-ld"),
        rdflib.Graph().parse(data=saved.stdout, format="json-ld"),
    )
