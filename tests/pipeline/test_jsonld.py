"""The JSON-LD dumps, written one subject at a time, hold the same graphs as the store, compacted
with the project's context; the bulk-loaded release store holds exactly the built quads."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import pyoxigraph as ox
import pytest
import rdflib
from rdflib.compare import to_isomorphic

from iomkg import jsonld, pipeline
from iomkg.config import Settings
from iomkg.shacl import to_rdflib
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases


def rdflib_graph(triples: Iterable[tuple[Any, Any, Any]]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for triple in triples:
        graph.add(triple)
    return graph


def store_graphs(store: OxigraphStore) -> dict[str, rdflib.Graph]:
    """Each named graph of ``store`` as an rdflib graph."""
    return {
        iri: rdflib_graph(
            (to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object))
            for q in store.raw.quads_for_pattern(None, None, None, ox.NamedNode(iri))
        )
        for iri in store.named_graphs()
    }


def parsed_graphs(text: str) -> dict[str, rdflib.Graph]:
    """Each named graph of a JSON-LD document, as rdflib's JSON-LD parser reads it."""
    dataset = rdflib.Dataset()
    dataset.parse(data=text, format="json-ld")
    return {
        str(graph.identifier): rdflib_graph(graph)
        for graph in dataset.graphs()
        if len(graph) and graph.identifier != rdflib.graph.DATASET_DEFAULT_GRAPH_ID
    }


def assert_same_graphs(found: dict[str, rdflib.Graph], expected: dict[str, rdflib.Graph]) -> None:
    assert sorted(found) == sorted(expected)
    for iri, graph in expected.items():
        assert len(found[iri]) == len(graph), iri
        assert to_isomorphic(found[iri]) == to_isomorphic(graph), iri


@pytest.fixture(scope="module")
def release_store(seed_built_settings: Settings) -> OxigraphStore:
    release = Releases(seed_built_settings.store_root).current()
    assert release is not None
    return OxigraphStore.open(release.store_path, read_only=True)


@pytest.fixture(scope="module")
def dump_text(seed_built_settings: Settings) -> str:
    release = Releases(seed_built_settings.store_root).current()
    assert release is not None
    return (release.dumps_path / "iomkg.jsonld").read_text(encoding="utf-8")


def test_dump_holds_every_named_graph_of_the_store(
    release_store: OxigraphStore, dump_text: str
) -> None:
    expected = store_graphs(release_store)
    assert len(expected) > 3
    assert_same_graphs(parsed_graphs(dump_text), expected)


def test_dump_is_the_graph_rdflib_serialised_before(
    seed_built_settings: Settings, release_store: OxigraphStore, dump_text: str
) -> None:
    """The dataset through rdflib's JSON-LD serializer (what the dumps were written with before),
    read back, is the same graph per named graph as the streamed dump read back."""
    dataset = rdflib.Dataset()
    for iri, graph in store_graphs(release_store).items():
        target = dataset.graph(rdflib.URIRef(iri))
        for triple in graph:
            target.add(triple)
    context = pipeline.jsonld_context(seed_built_settings)["@context"]
    before = dataset.serialize(format="json-ld", context=context, auto_compact=True)
    assert_same_graphs(parsed_graphs(dump_text), parsed_graphs(before))


def test_dump_keeps_the_context_and_compacts_with_it(
    seed_built_settings: Settings, dump_text: str
) -> None:
    document = json.loads(dump_text)
    assert document["@context"] == pipeline.jsonld_context(seed_built_settings)["@context"]
    namespaces = [
        iri for name, iri in document["@context"].items() if not name.startswith("@") and name
    ]
    graphs = document["@graph"]
    assert all(graph["@id"].startswith("graph:") for graph in graphs)
    keys: set[str] = set()
    for graph in graphs:
        for node in graph["@graph"]:
            keys.update(node)
    assert {"@id", "@type", "skos:prefLabel", "rdfs:label", "prov:wasDerivedFrom"} <= keys
    # Every property of a namespace in the context is written as a prefixed name.
    assert not [key for key in keys if key.startswith(tuple(namespaces))]


def test_one_graph_is_exported_alone(
    seed_built_settings: Settings, release_store: OxigraphStore
) -> None:
    ontology = seed_built_settings.graph_iri("ontology")
    text = pipeline.jsonld_text(release_store, seed_built_settings, ontology)
    assert_same_graphs(parsed_graphs(text), {ontology: store_graphs(release_store)[ontology]})


def write(quads: list[ox.Quad], context: dict[str, str]) -> str:
    by_graph: dict[str, list[ox.Quad]] = {}
    for quad in quads:
        assert isinstance(quad.graph_name, ox.NamedNode)
        by_graph.setdefault(quad.graph_name.value, []).append(quad)
    sink = io.StringIO()
    jsonld.write_jsonld(by_graph.items(), context, sink)
    return sink.getvalue()


EX = "http://example.org/ns#"
G1 = ox.NamedNode("http://example.org/graph/one")
G2 = ox.NamedNode("http://example.org/graph/two")


def test_terms_of_every_kind_round_trip() -> None:
    """Languages, datatypes, blank nodes (shared across graphs), IRIs no prefix fits, a local
    part starting with ``//``, a prefix without a gen-delim, a subject listed twice apart."""
    s = ox.NamedNode(EX + "s")
    p = ox.NamedNode(EX + "p")
    blank = ox.BlankNode("b1")
    rdf_type = ox.NamedNode(jsonld.RDF_TYPE)
    quads = [
        ox.Quad(s, rdf_type, ox.NamedNode(EX + "Thing"), G1),
        ox.Quad(s, rdf_type, ox.NamedNode("http://other.example/Class"), G1),
        ox.Quad(s, rdf_type, blank, G1),
        ox.Quad(s, p, ox.Literal("plain"), G1),
        ox.Quad(s, p, ox.Literal("Genève", language="fr"), G1),
        ox.Quad(s, p, ox.Literal("42", datatype=ox.NamedNode(EX + "int")), G1),
        ox.Quad(
            s, p, ox.Literal("1.5", datatype=ox.NamedNode(jsonld.XSD_STRING[:-6] + "decimal")), G1
        ),
        ox.Quad(s, p, ox.Literal('quote " and \\ and\nnewline'), G1),
        ox.Quad(s, ox.NamedNode(EX + "//odd"), ox.NamedNode("http://example.org/ns#//x"), G1),
        ox.Quad(s, ox.NamedNode("http://nodelim.example/x"), s, G1),
        ox.Quad(blank, p, ox.Literal("in a blank node"), G1),
        ox.Quad(s, p, ox.Literal("again, apart"), G1),  # the same subject after another
        ox.Quad(blank, p, s, G2),
        ox.Quad(ox.NamedNode("http://example.org/graph/one"), p, ox.Literal("a graph"), G2),
    ]
    context = {
        "ex": EX,
        "xsd": "http://www.w3.org/2001/XMLSchema#",
        "nodelim": "http://nodelim.example/x",
        "g": "http://example.org/graph/",
    }
    text = write(quads, context)
    document = json.loads(text)
    assert document["@context"] == context
    node = document["@graph"][0]["@graph"][0]
    assert node["@id"] == "ex:s"
    assert node["@type"] == ["ex:Thing", "http://other.example/Class"]
    assert "http://nodelim.example/x" in node  # not nodelim:, which would read as an IRI scheme
    assert "ex://odd" not in node
    expected = rdflib.Dataset()
    for quad in quads:
        expected.graph(rdflib.URIRef(quad.graph_name.value)).add(
            (to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object))
        )
    want = {
        str(g.identifier): rdflib_graph(g)
        for g in expected.graphs()
        if len(g) and g.identifier != rdflib.graph.DATASET_DEFAULT_GRAPH_ID
    }
    assert_same_graphs(parsed_graphs(text), want)
    # The blank node is one node across both graphs, as in the store.
    read = rdflib.Dataset()
    read.parse(data=text, format="json-ld")
    blanks = {
        term
        for s, _, o, _ in read.quads((None, None, None, None))
        for term in (s, o)
        if isinstance(term, rdflib.BNode)
    }
    assert len(blanks) == 1

    # pyoxigraph reads the same quads.
    def ground(found: Iterable[ox.Quad]) -> set[ox.Quad]:
        return {
            q
            for q in found
            if not isinstance(q.subject, ox.BlankNode | ox.Triple)
            and not isinstance(q.object, ox.BlankNode | ox.Triple)
        }

    read_by_oxigraph = list(ox.parse(text, format=ox.RdfFormat.JSON_LD))
    assert len(read_by_oxigraph) == len(quads)
    assert ground(read_by_oxigraph) == ground(quads)


def test_no_graphs_is_an_empty_document() -> None:
    document = json.loads(write([], {"ex": EX}))
    assert document == {"@context": {"ex": EX}, "@graph": []}


def test_release_store_holds_exactly_the_built_quads(
    seed_built_settings: Settings, release_store: OxigraphStore
) -> None:
    """Bulk-loaded (no write-ahead log), the release store holds the same quads as a transactional
    load of the parsed and derived sources, so it gives the same answers."""
    parsed = pipeline.parse_sources(
        pipeline.discover_sources(seed_built_settings), seed_built_settings.base_iri
    )
    (modified,) = release_store.raw.quads_for_pattern(
        ox.NamedNode(seed_built_settings.base_iri + "id/dataset/iomkg"),
        ox.NamedNode("http://purl.org/dc/terms/modified"),
        None,
    )  # the build's time, which graph/metadata states
    built = datetime.fromisoformat(modified.object.value)
    pipeline.add_derived(parsed, seed_built_settings, built)
    transactional = ox.Store()
    transactional.extend(quad for quads in parsed.quads.values() for quad in quads)
    stored = list(release_store.raw.quads_for_pattern(None, None, None, None))
    expected = list(transactional.quads_for_pattern(None, None, None, None))
    assert len(stored) == len(expected)
    # Blank node labels differ between two parses: the graphs are compared up to their renaming.
    assert_same_graphs(by_graph(stored), by_graph(expected))
    query = (
        "SELECT ?g ?t (COUNT(*) AS ?n) (COUNT(DISTINCT ?s) AS ?subjects) WHERE {"
        " GRAPH ?g { ?s ?p ?o BIND(IF(isLiteral(?o), DATATYPE(?o), 'node') AS ?t) } }"
        " GROUP BY ?g ?t ORDER BY ?g ?t"
    )
    rows = [tuple(row) for row in release_store.raw.query(query)]  # type: ignore[union-attr]
    assert rows == [tuple(row) for row in transactional.query(query)]  # type: ignore[union-attr]


def by_graph(quads: Iterable[ox.Quad]) -> dict[str, rdflib.Graph]:
    graphs: dict[str, rdflib.Graph] = {}
    for q in quads:
        graphs.setdefault(q.graph_name.value, rdflib.Graph()).add(
            (to_rdflib(q.subject), to_rdflib(q.predicate), to_rdflib(q.object))
        )
    return graphs
