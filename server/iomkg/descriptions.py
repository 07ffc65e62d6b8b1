"""Descriptions of the service and of the data: a SPARQL 1.1 Service Description and VoID.

Both are built as lists of triples from counts the store gives, so every RDF format of the
graph table can serialise them; the web layer only chooses the format and the endpoint's URL.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox

from iomkg import __version__
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
PREFIXES = {"sd": SD, "void": VOID, "formats": FORMATS, "dcat": "http://www.w3.org/ns/dcat#"}

#: IANA's IRIs of media types (DCAT's dcat:mediaType takes one).
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"

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
        for triple in dict.fromkeys(self.items):
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
    _metadata(store, settings, out, dataset)
    for download in downloads:
        out.add(dataset, VOID + "dataDump", _iri(download.url))
        distribution = ox.BlankNode()
        out.add(dataset, DCAT + "distribution", distribution)
        out.add(distribution, RDF + "type", _iri(DCAT + "Distribution"))
        out.add(distribution, DCAT + "downloadURL", _iri(download.url))
        out.add(distribution, DCAT + "mediaType", _iri(IANA_MEDIA_TYPES + download.media_type))
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


def _metadata(store: GraphStore, settings: Settings, out: _Triples, dataset: ox.NamedNode) -> None:
    """The metadata the build wrote (:func:`dataset_metadata`) and each source's name, licence
    and citation as the source's own graph states them."""
    written = store.query(
        "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }",
        substitutions={"g": _iri(settings.base_iri + METADATA_GRAPH)},
    )
    if isinstance(written, ox.QueryTriples):
        for triple in written:
            if isinstance(triple.subject, ox.NamedNode | ox.BlankNode) and isinstance(
                triple.object, ox.NamedNode | ox.BlankNode | ox.Literal
            ):
                out.add(triple.subject, triple.predicate.value, triple.object)
    for row in _solutions(store.query(SOURCE_DETAILS, base_iri=settings.base_iri)):
        source, predicate, obj = row["source"], row["p"], row["o"]
        if (
            isinstance(source, ox.NamedNode)
            and isinstance(predicate, ox.NamedNode)
            and isinstance(obj, ox.NamedNode | ox.Literal)
        ):
            out.add(source, predicate.value, obj)


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


# Dataset metadata: licence, publisher, creator, build time, version, citation, sources -------

DCAT = "http://www.w3.org/ns/dcat#"
FOAF = "http://xmlns.com/foaf/0.1/"
PROV = "http://www.w3.org/ns/prov#"
SKOS = "http://www.w3.org/2004/02/skos/core#"

#: The named graph the build writes the dataset's own metadata into (so the dumps carry it).
METADATA_GRAPH = "graph/metadata"
DATASET = "id/dataset/iomkg"
PROJECT_AGENT = "id/agent/iomkg-project"
TITLE = "iomkg: the IOM knowledge graph"

#: SPDX's page for a licence the repository names by its SPDX identifier (``Apache-2.0``).
SPDX_LICENCE = "https://spdx.org/licenses/{}.html"

#: Everything a fact of the graph is read from: the source documents, the shared/ files and the
#: datasets generated graphs derive from (``prov:Entity`` under id/file/ and id/dataset/).
SOURCES = """
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX iomo: <ontology#>
SELECT DISTINCT ?source WHERE {
  { ?source a iomo:SourceDocument }
  UNION { ?source a prov:Entity FILTER(STRSTARTS(STR(?source), STR(<id/file/>))) }
  UNION { ?source a prov:Entity FILTER(STRSTARTS(STR(?source), STR(<id/dataset/>))) }
} ORDER BY ?source
"""

SOURCE_DETAILS = """
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?source ?p ?o WHERE {
  <id/dataset/iomkg> dcterms:source ?source .
  ?source ?p ?o
  FILTER(?p IN (dcterms:license, dcterms:title, skos:prefLabel, dcterms:bibliographicCitation))
} ORDER BY ?source ?p ?o
"""


#: The dataset description of a build, whatever base namespace it was built with.
BUILT_DATASET = """
SELECT ?dataset WHERE {
  GRAPH ?graph { ?dataset a <http://rdfs.org/ns/void#Dataset> }
  FILTER(STRENDS(STR(?dataset), "/id/dataset/iomkg"))
} LIMIT 1
"""


def built_base_iri(store: GraphStore) -> str | None:
    """The base namespace the store was built with (read off its dataset description), or
    ``None`` when it has none: a query with another ``--base`` finds no minted IRI in it."""
    result = store.query(BUILT_DATASET)
    for solution in result:  # type: ignore[union-attr]
        dataset = solution["dataset"]
        if isinstance(dataset, ox.NamedNode):
            return dataset.value[: -len(DATASET)]
    return None


@dataclass(frozen=True)
class ProjectDeclaration:
    """What the repository declares about itself (pyproject.toml's [project] table)."""

    version: str
    licence: str | None  # an SPDX expression, e.g. "Apache-2.0"; None when none is declared
    declared_in: str  # where it was read, for the reader of the metadata


def project_declaration(project_dir: Path) -> ProjectDeclaration:
    """The version and licence pyproject.toml declares (the installed package's when the project
    folder has no pyproject.toml)."""
    path = project_dir / "pyproject.toml"
    if path.is_file():
        with path.open("rb") as handle:
            project = tomllib.load(handle).get("project", {})
        licence = project.get("license")
        if isinstance(licence, dict):  # the older table form: {text = "…"} or {file = "…"}
            licence = licence.get("text")
        return ProjectDeclaration(
            str(project.get("version", __version__)),
            licence if isinstance(licence, str) and licence.strip() else None,
            "pyproject.toml",
        )
    return ProjectDeclaration(__version__, None, "the installed iomkg package")


def dataset_metadata(
    store: GraphStore, settings: Settings, built: datetime
) -> dict[str, list[ox.Quad]]:
    """The dataset's metadata for ``graph/metadata``: VoID and DCAT, licence, publisher, creator,
    ``dcterms:modified`` (``built``, the build time), version, citation and every source (each
    says its own licence where it states one, in its own graph).

    The dataset's own licence is the project's decision, not a fact of any source: it is the one
    the repository declares (pyproject.toml), and left out when it declares none.
    """
    base = settings.base_iri
    graph = ox.NamedNode(base + METADATA_GRAPH)
    dataset = ox.NamedNode(base + DATASET)
    agent = ox.NamedNode(base + PROJECT_AGENT)
    out: list[ox.Quad] = []

    def add(subject: ox.NamedNode, predicate: str, obj: ox.NamedNode | ox.Literal) -> None:
        out.append(ox.Quad(subject, ox.NamedNode(predicate), obj, graph))

    declared = project_declaration(settings.project_dir)
    modified = built.astimezone(UTC).replace(microsecond=0)
    add(dataset, RDF + "type", _iri(VOID + "Dataset"))
    add(dataset, RDF + "type", _iri(DCAT + "Dataset"))
    add(dataset, SKOS + "prefLabel", ox.Literal(TITLE, language="en"))
    add(dataset, DCTERMS + "title", ox.Literal(TITLE, language="en"))
    add(dataset, DCTERMS + "description", ox.Literal(DESCRIPTION, language="en"))
    add(
        dataset,
        DCTERMS + "modified",
        ox.Literal(modified.strftime("%Y-%m-%dT%H:%M:%SZ"), datatype=_iri(XSD + "dateTime")),
    )
    add(dataset, DCAT + "version", ox.Literal(declared.version))
    add(dataset, DCTERMS + "publisher", agent)
    add(dataset, DCTERMS + "creator", agent)
    if declared.licence is not None:
        licence = SPDX_LICENCE.format(declared.licence)
        add(dataset, DCTERMS + "license", _iri(licence))
        rights = (
            f"Licence {declared.licence}, as the repository declares it ({declared.declared_in}, "
            "project.license): a decision of the project, not a fact of any source."
        )
    else:
        rights = (
            f"No licence: the repository declares none ({declared.declared_in}) and no source "
            "states one for this dataset."
        )
    sources = [
        row["source"]
        for row in _solutions(store.query(SOURCES, base_iri=base))
        if isinstance(row["source"], ox.NamedNode)
    ]
    for source in sources:
        add(dataset, DCTERMS + "source", source)
    unlicensed = [s.value.removeprefix(base) for s in sources if not _has_licence(store, s)]
    if unlicensed:
        rights += " Sources that state no licence: " + ", ".join(unlicensed) + "."
    add(dataset, DCTERMS + "rights", ox.Literal(rights, language="en"))
    add(
        dataset,
        DCTERMS + "bibliographicCitation",
        ox.Literal(
            f"{TITLE}, version {declared.version}, built {modified.date().isoformat()}. "
            f"{dataset.value}",
            language="en",
        ),
    )
    add(agent, RDF + "type", _iri(FOAF + "Organization"))
    add(agent, RDF + "type", _iri(PROV + "Agent"))
    add(agent, SKOS + "prefLabel", ox.Literal("The iomkg project", language="en"))
    add(agent, FOAF + "name", ox.Literal("iomkg"))
    add(
        agent,
        DCTERMS + "description",
        ox.Literal(
            "The team that builds and publishes iomkg from its repository (the repository names "
            "no other author or publisher).",
            language="en",
        ),
    )
    return {graph.value: out}


DESCRIPTION = (
    "An open knowledge graph of IOM programmes, donors, member states and activities, every fact "
    "traced to a line of a source document."
)


def build_time() -> datetime:
    """Now, or the time ``SOURCE_DATE_EPOCH`` gives (the reproducible-builds convention: two
    builds of the same sources with it set write the same dumps)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC)


def _solutions(result: object) -> list[ox.QuerySolution]:
    return list(result) if isinstance(result, ox.QuerySolutions) else []


def _has_licence(store: GraphStore, source: ox.NamedNode) -> bool:
    result = store.query(
        "ASK { ?s <http://purl.org/dc/terms/license> ?l }", substitutions={"s": source}
    )
    return bool(result) if isinstance(result, ox.QueryBoolean) else False


@dataclass(frozen=True)
class SourceLicence:
    """A source of the dataset and the licence it states (``None``: it states none)."""

    iri: str
    label: str
    licence: str | None


@dataclass(frozen=True)
class DatasetMetadata:
    """The metadata block the home page shows, read from ``graph/metadata`` and the sources."""

    licence: str | None
    rights: str
    publisher: str
    creator: str
    modified: str
    version: str
    citation: str
    sources: tuple[SourceLicence, ...]


METADATA_VIEW = """
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX dcat: <http://www.w3.org/ns/dcat#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?g ?licence ?rights ?publisher ?creator ?modified ?version ?citation WHERE {
  GRAPH ?g {
    <id/dataset/iomkg> dcterms:modified ?modified ; dcat:version ?version ;
        dcterms:rights ?rights ; dcterms:bibliographicCitation ?citation ;
        dcterms:publisher/skos:prefLabel ?publisher ; dcterms:creator/skos:prefLabel ?creator .
    OPTIONAL { <id/dataset/iomkg> dcterms:license ?licence }
  }
}
"""

SOURCE_LICENCES = """
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?source (SAMPLE(?name) AS ?label) (SAMPLE(?stated) AS ?licence) WHERE {
  GRAPH ?g { <id/dataset/iomkg> dcterms:source ?source }
  OPTIONAL { ?source skos:prefLabel|dcterms:title ?name }
  OPTIONAL { ?source dcterms:license ?stated }
} GROUP BY ?source ORDER BY ?source
"""


def dataset_metadata_view(store: GraphStore, base_iri: str) -> DatasetMetadata | None:
    """The dataset's licence, publisher, build time, version, citation and sources' licences, as
    the build wrote them; ``None`` for a store built without them."""
    graph = _iri(base_iri + METADATA_GRAPH)
    rows = _solutions(store.query(METADATA_VIEW, base_iri=base_iri, substitutions={"g": graph}))
    if not rows:
        return None
    row = rows[0]

    def text(term: object) -> str:
        return str(getattr(term, "value", "")) if term is not None else ""

    sources = tuple(
        SourceLicence(
            text(source["source"]),
            text(source["label"]) or text(source["source"]),
            text(source["licence"]) or None,
        )
        for source in _solutions(store.query(SOURCE_LICENCES, base_iri=base_iri))
    )
    return DatasetMetadata(
        licence=text(row["licence"]) or None,
        rights=text(row["rights"]),
        publisher=text(row["publisher"]),
        creator=text(row["creator"]),
        modified=text(row["modified"]),
        version=text(row["version"]),
        citation=text(row["citation"]),
        sources=sources,
    )
