"""Resource and graph pages also in N-Quads and TriG (the graph each statement came from can be
read), and every download offered as an attachment with a file name: on the real server."""

from __future__ import annotations

import re

import pytest
import rdflib
import requests

from iomkg.store import OxigraphStore
from tests.conftest import BASE
from tests.servers import LiveServer

IOM = BASE + "id/organisation/iom"
SOURCE_GRAPHS = {
    BASE + "graph/sources/000_aa2112c34e1aacb8",
    BASE + "graph/sources/001_f2128d7fdb422215",
}
ORG_TYPE = (
    rdflib.URIRef(IOM),
    rdflib.RDF.type,
    rdflib.URIRef("http://www.w3.org/ns/org#Organization"),
)


def get(server: LiveServer, path: str, **params: str) -> requests.Response:
    return requests.get(server.url + path, params=params, timeout=30)


def dataset_of(response: requests.Response, parser: str) -> rdflib.Dataset:
    dataset = rdflib.Dataset()
    dataset.parse(data=response.content, format=parser)
    return dataset


@pytest.mark.parametrize(("name", "media_type", "parser"), [
    ("nq", "application/n-quads", "nquads"),
    ("trig", "application/trig", "trig"),
])  # fmt: skip
def test_a_resource_in_quads_says_which_graph_states_each_statement(
    live_server: LiveServer, name: str, media_type: str, parser: str
) -> None:
    response = get(live_server, "/id/organisation/iom", format=name)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith(media_type)
    assert (
        response.headers["Content-Disposition"] == f"attachment; filename=organisation-iom.{name}"
    )
    dataset = dataset_of(response, parser)
    # Both source pages and the reference data say IOM is an organisation: a quad per graph.
    graphs = {str(g) for s, p, o, g in dataset.quads(ORG_TYPE) if g is not None}
    assert graphs == {*SOURCE_GRAPHS, BASE + "graph/reference/organisations"}
    # The same statements as the Turtle of the page, now with their graphs.
    turtle = get(live_server, "/id/organisation/iom", format="ttl")
    triples = {(s, p, o) for s, p, o, _ in dataset.quads((None, None, None, None))}
    assert len(triples) == len(rdflib.Graph().parse(data=turtle.content, format="turtle"))
    assert len(list(dataset.quads((None, None, None, None)))) > len(triples)


def test_a_resource_in_quads_by_accept(live_server: LiveServer) -> None:
    response = requests.get(
        live_server.url + "/id/country/NO", headers={"Accept": "application/n-quads"}, timeout=30
    )
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/n-quads"
    assert response.headers["Content-Disposition"] == "attachment; filename=country-NO.nq"
    graphs = {str(g) for _, _, _, g in dataset_of(response, "nquads").quads((None,) * 4)}
    assert BASE + "graph/reference/countries" in graphs and BASE + "graph/links/wikidata" in graphs


@pytest.mark.parametrize(("name", "parser"), [("nq", "nquads"), ("trig", "trig")])
def test_a_graph_in_quads_is_every_statement_of_that_graph(
    live_server: LiveServer, seed_store: OxigraphStore, name: str, parser: str
) -> None:
    graph = BASE + "graph/sources/000_aa2112c34e1aacb8"
    response = get(live_server, "/graph/sources/000_aa2112c34e1aacb8", format=name)
    assert response.status_code == 200, response.text
    expected = f"attachment; filename=graph-sources-000_aa2112c34e1aacb8.{name}"
    assert response.headers["Content-Disposition"] == expected
    quads = list(dataset_of(response, parser).quads((None,) * 4))
    assert {str(g) for *_, g in quads} == {graph}
    assert len(quads) == seed_store.quad_count(graph)


@pytest.mark.parametrize(
    ("path", "filename"),
    [
        ("/id/country/NO", "country-NO.ttl"),
        ("/graph/reference/membership", "graph-reference-membership.ttl"),
        ("/ontology", "ontology.ttl"),
    ],
)
def test_every_rdf_answer_of_a_page_is_an_attachment(
    live_server: LiveServer, path: str, filename: str
) -> None:
    response = requests.get(live_server.url + path, headers={"Accept": "text/turtle"}, timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f"attachment; filename={filename}"


@pytest.mark.parametrize("path", ["/id/organisation/iom", "/graph/reference/membership"])
def test_the_pages_offer_n_quads_and_trig(live_server: LiveServer, path: str) -> None:
    page = requests.get(live_server.url + path, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200
    offered = set(re.findall(r'<a href="[^"]*format=(\w+)" type="([^"]+)"', page.text))
    assert {("nq", "application/n-quads"), ("trig", "application/trig")} <= offered
    assert {"ttl", "jsonld", "nt", "xml"} <= {name for name, _ in offered}
