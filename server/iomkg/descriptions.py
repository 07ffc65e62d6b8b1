"""Descriptions of the service and of the data: a SPARQL 1.1 Service Description and VoID.

Both are built as lists of triples from counts the store gives, so every RDF format of the
graph table can serialise them; the web layer only chooses the format and the endpoint's URL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pyoxigraph as ox

from iomkg.config import Settings
from iomkg.formats import GRAPH_FORMATS, RESULT_FORMATS
from iomkg.store.base import GraphStore

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"
DCTERMS = "http://purl.org/dc/terms/"
FORMATS = "http://www.w3.org/ns/formats/"
XSD = "http://www.w3.org/2001/XMLSchema#"

#: Prefixes the descriptions' RDF declares besides iomkg's own (``sd:`` above all).
PREFIXES = {"sd": SD, "void": VOID, "formats": FORMATS}

#: W3C's IRIs for the formats we answer in (https://www.w3.org/ns/formats/).
FORMAT_IRIS = {
    "application/sparql-results+json": FORMATS + "SPARQL_Results_JSON",
    "application/sparql-results+xml": FORMATS + "SPARQL_Results_XML",
    "text/csv": FORMATS + "SPARQL_Results_CSV",
    "text/tab-separated-values": FORMATS + "SPARQL_Results_TSV",
    "text/turtle": FORMATS + "Turtle",
    "application/ld+json": FORMATS + "JSON-LD",
    "application/n-triples": FORMATS + "N-Triples",
    "application/rdf+xml": FORMATS + "RDF_XML",
    "application/n-quads": FORMATS + "N-Quads",
    "application/trig": FORMATS + "TriG",
}

UNION_NOTE = (
    "The default graph is the union of all graphs; GRAPH ?g reaches each source document's "
    "graph (graph/sources/…), the ontology, reference data, codelists and link sets. Relative IRIs "
    "resolve against the graph's base namespace. default-graph-uri / named-graph-uri replace "
    "FROM / FROM NAMED; an unknown graph is empty. SERVICE and LOAD only reach allow-listed "
    "endpoints."
)


def _iri(value: str) -> ox.NamedNode:
    return ox.NamedNode(value)


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=_iri(XSD + "integer"))


class _Triples:
    """A small builder so descriptions read like Turtle."""

    def __init__(self) -> None:
        self.items: list[ox.Triple] = []

    def add(
        self,
        subject: ox.NamedNode | ox.BlankNode,
        predicate: str,
        *objects: ox.NamedNode | ox.BlankNode | ox.Literal,
    ) -> None:
        for obj in objects:
            self.items.append(ox.Triple(subject, _iri(predicate), obj))

    def grouped(self) -> list[ox.Triple]:
        """The triples grouped by subject in order of first use, so Turtle reads top-down."""
        by_subject: dict[str, list[ox.Triple]] = {}
        for triple in self.items:
            by_subject.setdefault(str(triple.subject), []).append(triple)
        return [triple for triples in by_subject.values() for triple in triples]


def _count(store: GraphStore, sparql: str) -> int:
    result = store.query(sparql)
    if not isinstance(result, ox.QuerySolutions):
        return 0
    for row in result:
        value = row["n"]
        return int(value.value) if isinstance(value, ox.Literal) else 0
    return 0


def _pairs(store: GraphStore, sparql: str) -> list[tuple[ox.NamedNode, int]]:
    result = store.query(sparql)
    if not isinstance(result, ox.QuerySolutions):
        return []
    found = []
    for row in result:
        term, value = row["x"], row["n"]
        if isinstance(term, ox.NamedNode) and isinstance(value, ox.Literal):
            found.append((term, int(value.value)))
    return found


# Service description ---------------------------------------------------------------------------


def service_description(
    store: GraphStore, settings: Settings, endpoint: str, void_url: str
) -> list[ox.Triple]:
    """The SPARQL 1.1 Service Description of the endpoint at ``endpoint`` (its absolute URL)."""
    out = _Triples()
    service = _iri(endpoint)
    out.add(service, RDF + "type", _iri(SD + "Service"))
    out.add(service, SD + "endpoint", service)
    out.add(service, SD + "supportedLanguage", _iri(SD + "SPARQL11Query"))
    if settings.update_token is not None or settings.allow_anonymous_updates:
        out.add(service, SD + "supportedLanguage", _iri(SD + "SPARQL11Update"))
    out.add(service, SD + "feature", _iri(SD + "UnionDefaultGraph"))
    if settings.service_allowlist:
        out.add(service, SD + "feature", _iri(SD + "BasicFederatedQuery"))
    out.add(service, SD + "defaultEntailmentRegime", _iri("http://www.w3.org/ns/entailment/Simple"))
    for fmt in (*RESULT_FORMATS, *GRAPH_FORMATS):
        out.add(service, SD + "resultFormat", _iri(FORMAT_IRIS[fmt.media_type]))
    out.add(service, RDFS + "comment", ox.Literal(UNION_NOTE, language="en"))
    out.add(service, RDFS + "seeAlso", _iri(void_url))

    dataset = ox.BlankNode()
    out.add(service, SD + "defaultDataset", dataset)
    out.add(dataset, RDF + "type", _iri(SD + "Dataset"))
    out.add(dataset, DCTERMS + "title", ox.Literal("iomkg: the IOM knowledge graph", language="en"))
    default_graph = ox.BlankNode()
    out.add(dataset, SD + "defaultGraph", default_graph)
    out.add(default_graph, RDF + "type", _iri(SD + "Graph"))
    out.add(default_graph, VOID + "triples", _integer(_distinct_triples(store)))
    for graph in store.named_graphs():
        named, described = ox.BlankNode(), ox.BlankNode()
        out.add(dataset, SD + "namedGraph", named)
        out.add(named, RDF + "type", _iri(SD + "NamedGraph"))
        out.add(named, SD + "name", _iri(graph))
        out.add(named, SD + "graph", described)
        out.add(described, RDF + "type", _iri(SD + "Graph"))
        out.add(described, VOID + "triples", _integer(store.quad_count(graph)))
    return out.grouped()


def _distinct_triples(store: GraphStore) -> int:
    return _count(
        store,
        "SELECT (COUNT(*) AS ?n) WHERE { SELECT DISTINCT ?s ?p ?o { ?s ?p ?o } }",
    )


@dataclass(frozen=True)
class DatasetSizes:
    """How big the dataset is, counted two ways (a triple stated in two graphs is one triple)."""

    statements: int  # quads: a triple counts once per named graph that states it
    graphs: int  # named graphs
    distinct_triples: int  # triples of the union default graph: VoID's void:triples


def dataset_sizes(store: GraphStore) -> DatasetSizes:
    """The sizes the home page states, counted as VoID counts them."""
    return DatasetSizes(store.quad_count(), len(store.named_graphs()), _distinct_triples(store))


# VoID --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Distribution:
    """A download of the dataset: its URL and media type (for void:dataDump / dcat)."""

    url: str
    media_type: str


LINKSETS = """
PREFIX void: <http://rdfs.org/ns/void#>
SELECT ?g ?ls ?p ?o WHERE { GRAPH ?g { ?ls a void:Linkset ; ?p ?o } } ORDER BY ?ls ?p ?o
"""
LINK_TARGETS = """
PREFIX void: <http://rdfs.org/ns/void#>
SELECT DISTINCT ?ds ?p ?o WHERE {
  ?ls a void:Linkset ; void:objectsTarget|void:subjectsTarget|void:target ?ds . ?ds ?p ?o
} ORDER BY ?ds ?p ?o
"""


def void_description(
    store: GraphStore,
    settings: Settings,
    endpoint: str,
    downloads: Sequence[Distribution] = (),
) -> list[ox.Triple]:
    """VoID of the whole dataset: sizes, classes, properties, each named graph and each link set."""
    out = _Triples()
    dataset = _iri(settings.base_iri + "id/dataset/iomkg")
    out.add(dataset, RDF + "type", _iri(VOID + "Dataset"))
    out.add(dataset, DCTERMS + "title", ox.Literal("iomkg: the IOM knowledge graph", language="en"))
    out.add(
        dataset,
        DCTERMS + "description",
        ox.Literal(
            "An open knowledge graph of IOM programmes, donors, member states and activities, "
            "every fact "
            "traced to a line of a source document.",
            language="en",
        ),
    )
    out.add(dataset, VOID + "sparqlEndpoint", _iri(endpoint))
    out.add(dataset, VOID + "uriSpace", ox.Literal(settings.base_iri + "id/"))
    out.add(dataset, VOID + "vocabulary", _iri(settings.ontology_iri))
    out.add(
        dataset, VOID + "feature", *(_iri(FORMAT_IRIS[fmt.media_type]) for fmt in GRAPH_FORMATS)
    )
    for download in downloads:
        out.add(dataset, VOID + "dataDump", _iri(download.url))
    out.add(dataset, VOID + "triples", _integer(_distinct_triples(store)))
    out.add(
        dataset,
        VOID + "distinctSubjects",
        _integer(_count(store, "SELECT (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s ?p ?o }")),
    )
    out.add(
        dataset,
        VOID + "distinctObjects",
        _integer(_count(store, "SELECT (COUNT(DISTINCT ?o) AS ?n) WHERE { ?s ?p ?o }")),
    )
    classes = _pairs(
        store,
        "SELECT ?x (COUNT(DISTINCT ?s) AS ?n) { ?s a ?x } GROUP BY ?x ORDER BY ?x",
    )
    properties = _pairs(
        store,
        """SELECT ?x (COUNT(*) AS ?n) WHERE {
        SELECT DISTINCT ?s ?x ?o WHERE { ?s ?x ?o } } GROUP BY ?x ORDER BY ?x""",
    )
    out.add(dataset, VOID + "classes", _integer(len(classes)))
    out.add(dataset, VOID + "properties", _integer(len(properties)))
    for cls, entities in classes:
        partition = ox.BlankNode()
        out.add(dataset, VOID + "classPartition", partition)
        out.add(partition, VOID + "class", cls)
        out.add(partition, VOID + "entities", _integer(entities))
    for prop, triples in properties:
        partition = ox.BlankNode()
        out.add(dataset, VOID + "propertyPartition", partition)
        out.add(partition, VOID + "property", prop)
        out.add(partition, VOID + "triples", _integer(triples))
    for graph in store.named_graphs():
        subset = _iri(graph)
        out.add(dataset, VOID + "subset", subset)
        out.add(subset, RDF + "type", _iri(VOID + "Dataset"))
        out.add(subset, SD + "name", subset)
        out.add(subset, VOID + "triples", _integer(store.quad_count(graph)))
    _linksets(store, out, dataset)
    return out.grouped()


def _linksets(store: GraphStore, out: _Triples, dataset: ox.NamedNode) -> None:
    """Each link set as the data describes it, with void:triples counted from its links."""
    linksets: dict[str, tuple[ox.NamedNode, list[tuple[ox.NamedNode, object]]]] = {}
    result = store.query(LINKSETS)
    if not isinstance(result, ox.QuerySolutions):
        return
    for row in result:
        graph, linkset, predicate, obj = row["g"], row["ls"], row["p"], row["o"]
        if (
            isinstance(graph, ox.NamedNode)
            and isinstance(linkset, ox.NamedNode)
            and isinstance(predicate, ox.NamedNode)
        ):
            entry = linksets.setdefault(linkset.value, (graph, []))
            entry[1].append((predicate, obj))
    for iri, (graph, statements) in linksets.items():
        linkset = _iri(iri)
        out.add(dataset, VOID + "subset", linkset)
        link_predicates = [
            o
            for p, o in statements
            if p.value == VOID + "linkPredicate" and isinstance(o, ox.NamedNode)
        ]
        for predicate, obj in statements:
            if predicate.value != VOID + "triples" and isinstance(
                obj, ox.NamedNode | ox.BlankNode | ox.Literal
            ):
                out.add(linkset, predicate.value, obj)
        out.add(
            linkset,
            VOID + "triples",
            _integer(
                sum(_links_in(store, graph, link_predicate) for link_predicate in link_predicates)
            ),
        )
    targets = store.query(LINK_TARGETS)
    if isinstance(targets, ox.QuerySolutions):
        for row in targets:
            subject, predicate, obj = row["ds"], row["p"], row["o"]
            if (
                isinstance(subject, ox.NamedNode)
                and isinstance(predicate, ox.NamedNode)
                and subject != dataset
                and isinstance(obj, ox.NamedNode | ox.BlankNode | ox.Literal)
            ):
                out.add(subject, predicate.value, obj)


def _links_in(store: GraphStore, graph: ox.NamedNode, predicate: ox.NamedNode) -> int:
    result = store.query(
        "SELECT ?g ?p (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ?p",
        substitutions={"g": graph, "p": predicate},
    )
    if isinstance(result, ox.QuerySolutions):
        for row in result:
            value = row["n"]
            return int(value.value) if isinstance(value, ox.Literal) else 0
    return 0
