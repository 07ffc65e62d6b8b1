"""The saved-query API on the real server: the catalogue, negotiation like /sparql, errors as
JSON naming the parameter, the OpenAPI document and the documentation page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pyoxigraph as ox
import pytest
import requests
from openapi_spec_validator import validate

from iomkg import catalog
from tests.catalog.conftest import rows_of
from tests.catalog.test_injection import BREAKOUTS, IRI_BREAKOUTS
from tests.servers import LiveServer

NTF = {"programme": "id:project/ntf"}


def get(
    server: LiveServer, path: str, accept: str | None = None, **params: str
) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.get(server.url + path, params=params, headers=headers, timeout=30)


def test_the_catalogue_as_json(live_server: LiveServer, saved: catalog.Catalog) -> None:
    response = get(live_server, "/api/queries")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    listed: list[dict[str, Any]] = response.json()
    assert [entry["name"] for entry in listed] == list(saved)
    for entry, query in zip(listed, saved.values(), strict=True):
        assert {k: v for k, v in entry.items() if not k.endswith("url")} == query.to_json()
        assert entry["url"] == f"/api/queries/{query.name}"
        assert get(live_server, entry["example_url"]).status_code == (
            403 if query.services else 200
        )


@pytest.mark.parametrize(
    ("accept", "format_", "content_type"),
    [
        (None, None, "application/sparql-results+json"),
        ("text/csv", None, "text/csv"),
        ("text/tab-separated-values", None, "text/tab-separated-values"),
        ("application/sparql-results+xml", None, "application/sparql-results+xml"),
        ("text/csv", "tsv", "text/tab-separated-values"),  # format= overrides Accept
        ("application/json", "text/csv", "text/csv"),
    ],
)
def test_results_are_negotiated_like_sparql(
    live_server: LiveServer, accept: str | None, format_: str | None, content_type: str
) -> None:
    params = dict(NTF, **({"format": format_} if format_ else {}))
    response = get(live_server, "/api/queries/list-donors", accept, **params)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == content_type
    assert "Accept" in response.headers["Vary"]
    if content_type == "text/csv":
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 18 and rows[0]["roleLabel"] == "lead nation"


@pytest.mark.parametrize(
    ("accept", "format_", "rdf_format"),
    [
        (None, None, ox.RdfFormat.TURTLE),
        ("application/ld+json", None, ox.RdfFormat.JSON_LD),
        ("application/n-triples", None, ox.RdfFormat.N_TRIPLES),
        (None, "xml", ox.RdfFormat.RDF_XML),
    ],
)
def test_a_describe_is_a_graph_in_the_negotiated_format(
    live_server: LiveServer, accept: str | None, format_: str | None, rdf_format: ox.RdfFormat
) -> None:
    params = {"resource": "id:country/NO", **({"format": format_} if format_ else {})}
    response = get(live_server, "/api/queries/describe-resource", accept, **params)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == rdf_format.media_type
    triples = {(q.subject, q.predicate, q.object) for q in ox.parse(response.content, rdf_format)}
    assert (
        ox.NamedNode("https://w3id.org/iomkg/id/country/NO"),
        ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs"),
        ox.NamedNode("http://www.wikidata.org/entity/Q20"),
    ) in triples


def test_nothing_acceptable_is_a_406_listing_the_offer(live_server: LiveServer) -> None:
    response = get(live_server, "/api/queries/list-donors", "image/png", **NTF)
    assert response.status_code == 406
    assert "text/csv" in response.json()["error"]
    response = get(live_server, "/api/queries/list-donors", None, format="pdf", **NTF)
    assert response.status_code == 406
    graph = get(live_server, "/api/queries/describe-resource", "text/csv", resource="id:country/NO")
    assert graph.status_code == 406 and "text/turtle" in graph.json()["error"]


@pytest.mark.parametrize(
    ("name", "params", "offered", "refused"),
    [
        ("list-donors", {**NTF, "format": "ttl"}, "csv", "ttl"),
        ("list-donors", {**NTF, "format": "application/ld+json"}, "json", "jsonld"),
        ("describe-resource", {"resource": "id:country/NO", "format": "csv"}, "ttl", "csv"),
        ("describe-resource", {"resource": "id:country/NO", "format": "srj"}, "jsonld", "json"),
    ],
)
def test_a_format_of_the_other_kind_is_a_406_listing_the_offer(
    live_server: LiveServer, name: str, params: dict[str, str], offered: str, refused: str
) -> None:
    """format= that does not fit the query's kind is refused, as /sparql refuses an Accept that
    does not fit (it used to be ignored: 200 in the default format)."""
    response = get(live_server, f"/api/queries/{name}", None, **params)
    assert response.status_code == 406, response.text
    offer = response.json()["error"].rsplit(":", 1)[-1]
    names = {item.strip() for item in offer.split(",")}
    assert offered in names and refused not in names
    # with a format of the right kind next to it, that one is used (the first that fits)
    both = requests.get(
        f"{live_server.url}/api/queries/{name}",
        params={**params, "format": [params["format"], offered]},
        timeout=30,
    )
    assert both.status_code == 200, both.text


@pytest.mark.parametrize(
    ("name", "params", "parameter", "message"),
    [
        ("list-donors", {}, "programme", "required"),
        ("list-donors", {"programme": "Norway"}, "programme", "'Norway' is not an absolute IRI"),
        ("list-donors", {**NTF, "colour": "red"}, "colour", "list-donors does not take it"),
        ("list-programmes-in-year", {"year": "2011.5"}, "year", "four-digit year"),
        ("list-programmes-between-dates", {"from": "2011-02-30", "to": "2011-12-31"}, "from",
         "a date YYYY-MM-DD"),
    ],
)  # fmt: skip
def test_a_value_that_does_not_fit_is_a_400_naming_the_parameter(
    live_server: LiveServer, name: str, params: dict[str, str], parameter: str, message: str
) -> None:
    response = get(live_server, f"/api/queries/{name}", **params)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["parameter"] == parameter
    assert message in body["error"] and f"parameter '{parameter}'" in body["error"]


def test_a_repeated_parameter_is_a_400(live_server: LiveServer) -> None:
    response = requests.get(
        live_server.url + "/api/queries/list-donors?programme=id:project/ntf&programme=id:x",
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["parameter"] == "programme"


def test_an_unknown_query_is_a_404(live_server: LiveServer) -> None:
    response = get(live_server, "/api/queries/drop-everything")
    assert response.status_code == 404
    assert "list-donors" in response.json()["error"]


def test_the_federated_query_is_refused_with_a_clear_message(live_server: LiveServer) -> None:
    response = get(live_server, "/api/queries/enrich-donor-countries")
    assert response.status_code == 403
    message = response.json()["error"]
    assert "https://query.wikidata.org/sparql" in message
    assert "IOMKG_SERVICE_ALLOWLIST=https://query.wikidata.org/sparql" in message


def count_quads(server: LiveServer) -> int:
    response = requests.get(
        server.sparql,
        params={"query": "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    return int(rows_of(response.content)[0]["n"])


def test_breakouts_over_http_are_refused_or_matched_literally(live_server: LiveServer) -> None:
    before = count_quads(live_server)
    for value in IRI_BREAKOUTS:
        response = get(live_server, "/api/queries/list-donors", programme=value)
        assert response.status_code == 400, value
        assert response.json()["parameter"] == "programme"
    for value in BREAKOUTS:
        response = get(live_server, "/api/queries/search-labels", text=value)
        assert response.status_code == 200, value
        assert rows_of(response.content) == []
    # Raw, percent-encoded by hand: a quote, a brace and a newline in the query string.
    raw = requests.get(
        live_server.url + "/api/queries/search-labels?text=%22%7D%0ADROP%20ALL%20%23", timeout=30
    )
    assert raw.status_code == 200 and rows_of(raw.content) == []
    assert count_quads(live_server) == before


def test_invalid_utf8_in_the_query_string_is_a_400(live_server: LiveServer) -> None:
    response = requests.get(live_server.url + "/api/queries/search-labels?text=%FF", timeout=30)
    assert response.status_code == 400


def test_the_openapi_document_is_served_and_valid(
    live_server: LiveServer, saved: catalog.Catalog
) -> None:
    response = get(live_server, "/api/openapi.json")
    assert response.status_code == 200
    document = response.json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]) == {"/api/queries", "/api/openapi.json"} | {
        f"/api/queries/{name}" for name in saved
    }


def test_the_documentation_page_lists_every_query(
    live_server: LiveServer, saved: catalog.Catalog
) -> None:
    response = get(live_server, "/api/", "text/html")
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/html")
    for query in saved.values():
        assert query.title in response.text and f'id="{query.name}"' in response.text
    assert "/api/openapi.json" in response.text


def test_a_browser_gets_a_form_and_a_table(live_server: LiveServer) -> None:
    page = get(live_server, "/api/queries/list-donors", "text/html,application/xhtml+xml", **NTF)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "18 rows" in page.text and 'name="programme"' in page.text
    assert "lead nation" in page.text
    example = get(live_server, "/api/queries/list-area-donors", None, format="html")
    assert example.status_code == 200 and "Regulating Migration" in example.text
    wrong = get(live_server, "/api/queries/list-donors", None, format="html", programme="Norway")
    assert wrong.status_code == 400 and "is not an absolute IRI" in wrong.text
