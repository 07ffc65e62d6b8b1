"""Federated queries through this project's /sparql: SERVICE joins our graph with another
SPARQL server (an Oxigraph holding the Wikidata-shaped fixture), only when it is allow-listed.

Two real servers on 127.0.0.1: ``python -m iomkg.web.devserver`` on the test project's build
with ``IOMKG_SERVICE_ALLOWLIST`` set, and ``oxigraph serve``. pyoxigraph evaluates SERVICE
itself, over HTTP; the web layer lets a query through only when every SERVICE is allow-listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, VOID

from iomkg.config import DEFAULT_BASE_IRI as BASE
from iomkg.store.releases import Releases
from tests.servers import devserver_command, free_port, start_server, stop_server

from .conftest import Endpoint, LinkedProject

JOIN = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX wdt: <http://www.wikidata.org/prop/direct/>
SELECT ?country ?code ?name WHERE {
  ?country skos:notation ?notation ; owl:sameAs ?item .
  SERVICE <%s> { ?item wdt:P297 ?code ; rdfs:label ?name FILTER(LANGMATCHES(LANG(?name), "en")) }
  FILTER(STR(?notation) = ?code)
}
ORDER BY ?code
"""


@pytest.fixture(scope="module")
def server(
    linked_project: LinkedProject, wikidata: Endpoint, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """This project's server on the linked test project, allowed to call the fixture endpoint."""
    release = Releases(linked_project.settings.store_root).current()
    assert release is not None
    log = tmp_path_factory.mktemp("federation") / "server.log"
    running = start_server(
        linked_project.settings.store_root,
        log,
        command=devserver_command,
        env={"IOMKG_SERVICE_ALLOWLIST": wikidata.url},
    )
    yield running.url
    stop_server(running)


def ask(server: str, query: str) -> requests.Response:
    return requests.post(
        server + "/sparql",
        data={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )


def test_a_federated_query_joins_across_both_servers(server: str, wikidata: Endpoint) -> None:
    response = ask(server, JOIN % wikidata.url)
    assert response.status_code == 200, response.text
    rows = [
        (b["country"]["value"].rsplit("/", 1)[1], b["code"]["value"], b["name"]["value"])
        for b in response.json()["results"]["bindings"]
    ]
    # Our countries and links (Singapore's and China's accepted after review) joined with the
    # other server's codes and labels: neither server alone holds these rows.
    assert rows == [
        ("CN", "CN", "People's Republic of China"),
        ("MK", "MK", "North Macedonia"),
        ("NO", "NO", "Norway"),
        ("RS", "RS", "Serbia"),
        ("SG", "SG", "Singapore"),
    ]


def test_service_to_an_endpoint_not_allow_listed_is_refused(server: str, tmp_path: Path) -> None:
    elsewhere = f"http://127.0.0.1:{free_port()}/query"
    response = ask(server, JOIN % elsewhere)
    assert response.status_code == 403
    assert f"federated query (SERVICE) to <{elsewhere}> is refused" in response.text
    assert "this server only calls out to" in response.text


def test_the_service_description_announces_federation(server: str) -> None:
    description = requests.get(server + "/sparql", headers={"Accept": "text/turtle"}, timeout=10)
    assert description.status_code == 200
    assert "BasicFederatedQuery" in description.text


def test_the_void_shows_the_link_sets_and_their_coverage(server: str) -> None:
    answer = requests.get(
        server + "/.well-known/void", headers={"Accept": "text/turtle"}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    void = Graph().parse(data=answer.text, format="turtle")
    linkset = URIRef(BASE + "id/linkset/wikidata")
    assert void.value(linkset, VOID.triples) == Literal(166)
    assert set(void.objects(linkset, VOID.classPartition)) == {
        URIRef(BASE + "id/linkset/wikidata/countries"),
        URIRef(BASE + "id/linkset/wikidata/organisations"),
    }
    assert str(void.value(linkset, DCTERMS.description)) == (
        "158 of 158 countries (100%) and 8 of 18 organisations (44%) link to Wikidata."
    )


def test_the_home_page_shows_the_coverage(server: str) -> None:
    page = requests.get(server + "/", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert "Links to other open data" in page.text
    assert "<td>countries</td><td>158/158 (100%)</td>" in page.text
    assert "<td>organisations</td><td>8/18 (44%)</td>" in page.text


def test_a_resource_page_links_out(server: str) -> None:
    page = requests.get(server + "/id/country/SG", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert 'href="http://www.wikidata.org/entity/Q990001"' in page.text
    assert 'rel="external noopener"' in page.text
