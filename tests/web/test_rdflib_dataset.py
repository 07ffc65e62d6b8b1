"""rdflib's Dataset over SPARQLStore reaches the named graphs with the README's recipe.

rdflib sends ``default-graph-uri=urn:x-rdflib:default`` (its own default graph's name) with every
query of a Dataset unless ``default_union=True``; by the SPARQL 1.1 Protocol that names the whole
dataset (one default graph, no named graphs), so ``GRAPH ?g`` finds nothing. With
``default_union=True`` rdflib sends no dataset and the endpoint's union default graph and named
graphs answer. One graph is read with ``Dataset.get_context(iri)``.
"""

from __future__ import annotations

import rdflib
import requests
from rdflib.plugins.stores.sparqlstore import SPARQLStore

from tests.servers import LiveServer

BASE = "https://w3id.org/iomkg/"
MEMBERSHIP_GRAPH = BASE + "graph/reference/membership"
GRAPHS = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
IN_GRAPH = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH <" + MEMBERSHIP_GRAPH + "> { ?s ?p ?o } }"
TRIPLES = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"


def plain(server: LiveServer, query: str) -> list[dict[str, dict[str, str]]]:
    """The endpoint's own answer, with no dataset parameters."""
    answer = requests.get(
        server.sparql,
        params={"query": query},
        headers={"Accept": "application/sparql-results+json"},
        timeout=30,
    )
    answer.raise_for_status()
    bindings: list[dict[str, dict[str, str]]] = answer.json()["results"]["bindings"]
    return bindings


def test_dataset_with_default_union_lists_the_named_graphs(live_server: LiveServer) -> None:
    dataset = rdflib.Dataset(
        store=SPARQLStore(live_server.sparql, returnFormat="json"), default_union=True
    )
    graphs = {str(row[0]) for row in dataset.query(GRAPHS)}  # type: ignore[index]
    assert MEMBERSHIP_GRAPH in graphs
    assert graphs == {row["g"]["value"] for row in plain(live_server, GRAPHS)}


def test_one_graph_of_the_dataset_is_read_through_get_context(live_server: LiveServer) -> None:
    dataset = rdflib.Dataset(
        store=SPARQLStore(live_server.sparql, returnFormat="json"), default_union=True
    )
    membership = dataset.get_context(rdflib.URIRef(MEMBERSHIP_GRAPH))
    (count,) = next(iter(membership.query(TRIPLES)))  # type: ignore[misc]
    assert int(count) == int(plain(live_server, IN_GRAPH)[0]["n"]["value"]) > 0


def test_rdflibs_default_graph_name_is_a_dataset_of_its_own(live_server: LiveServer) -> None:
    """Without default_union, rdflib asks for the graph urn:x-rdflib:default, which is empty:
    the trap the README warns about (by the protocol, that dataset has no named graphs)."""
    dataset = rdflib.Dataset(store=SPARQLStore(live_server.sparql, returnFormat="json"))
    assert list(dataset.query(GRAPHS)) == []
