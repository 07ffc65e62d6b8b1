"""Linked data: what a page of one resource, of the ontology or of a named graph shows, and its RDF.

Every query here is a constant; the resource is bound with pyoxigraph *substitutions* (never
written into the text), and the project's own terms are written as relative IRIs
(``<ontology#line>``) resolved against the configured base, like the files in ``data/``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyoxigraph as ox

from iomkg.store.base import GraphStore, QueryResult
from iomkg.views import LinkMap, TermView, first_literal

#: At most this many incoming links are listed on a page (the RDF has them all).
INCOMING_LIMIT = 500

_PROLOGUE = """
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <https://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX iomo: <ontology#>
"""

# A label: a preferred label, rdfs:label, a title or a name, English or untagged first.
_LABEL = "skos:prefLabel|rdfs:label|dcterms:title|schema:name"

OUTGOING = (
    _PROLOGUE
    + f"""
SELECT ?s ?p ?o ?g (MIN(?pl) AS ?plabel) (MIN(?ol) AS ?olabel) WHERE {{
  GRAPH ?g {{ ?s ?p ?o }}
  OPTIONAL {{ ?p rdfs:label ?pl FILTER(lang(?pl) = "" || langMatches(lang(?pl), "en")) }}
  OPTIONAL {{ ?o {_LABEL} ?ol FILTER(lang(?ol) = "" || langMatches(lang(?ol), "en")) }}
}} GROUP BY ?s ?p ?o ?g ORDER BY ?p ?o ?g
"""
)

# Properties of blank-node values (a budget's amount and currency), one level deep.
NESTED = (
    _PROLOGUE
    + f"""
SELECT ?s ?o ?np ?no (MIN(?npl) AS ?nplabel) (MIN(?nol) AS ?nolabel) WHERE {{
  ?s ?p ?o FILTER(isBlank(?o))
  ?o ?np ?no
  OPTIONAL {{ ?np rdfs:label ?npl FILTER(lang(?npl) = "" || langMatches(lang(?npl), "en")) }}
  OPTIONAL {{ ?no {_LABEL} ?nol FILTER(lang(?nol) = "" || langMatches(lang(?nol), "en")) }}
}} GROUP BY ?s ?o ?np ?no ORDER BY ?o ?np ?no
"""
)

INCOMING = (
    _PROLOGUE
    + f"""
SELECT ?s ?x ?p ?g (MIN(?xl) AS ?xlabel) (MIN(?pl) AS ?plabel) WHERE {{
  GRAPH ?g {{ ?x ?p ?s }}
  OPTIONAL {{ ?x {_LABEL} ?xl FILTER(lang(?xl) = "" || langMatches(lang(?xl), "en")) }}
  OPTIONAL {{ ?p rdfs:label ?pl FILTER(lang(?pl) = "" || langMatches(lang(?pl), "en")) }}
}} GROUP BY ?s ?x ?p ?g ORDER BY ?p ?x LIMIT {INCOMING_LIMIT + 1}
"""
)

# The excerpts a resource is derived from, with the document each is part of.
EVIDENCE = (
    _PROLOGUE
    + """
SELECT DISTINCT ?s ?excerpt ?line ?text ?doc ?title WHERE {
  ?s prov:wasDerivedFrom ?excerpt .
  OPTIONAL { ?excerpt iomo:line ?line }
  OPTIONAL { ?excerpt prov:value ?text }
  OPTIONAL { ?excerpt dcterms:isPartOf ?doc OPTIONAL { ?doc dcterms:title ?title } }
} ORDER BY ?doc ?line ?excerpt
"""
)

# Which source document each named graph holds (data/sources/<stem>.ttl → id/source/<stem>).
GRAPH_SOURCES = (
    _PROLOGUE
    + """
SELECT ?g ?doc ?title WHERE {
  GRAPH ?g { ?doc a iomo:SourceDocument OPTIONAL { ?doc dcterms:title ?title } }
}
"""
)

EXISTS = "SELECT ?s WHERE { { ?s ?p ?o } UNION { ?x ?q ?s } } LIMIT 1"

# The RDF of a resource: what it says, what its blank-node values say, and what points at it.
DESCRIPTION = """
CONSTRUCT { ?s ?p ?o . ?o ?bp ?bo . ?x ?q ?s } WHERE {
  { ?s ?p ?o OPTIONAL { FILTER(isBlank(?o)) ?o ?bp ?bo } } UNION { ?x ?q ?s }
}
"""

GRAPH_CONTENT = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"

GRAPH_SUBJECTS = (
    _PROLOGUE
    + f"""
SELECT ?g ?s (COUNT(*) AS ?n) (MIN(?sl) AS ?label) WHERE {{
  GRAPH ?g {{ ?s ?p ?o }}
  OPTIONAL {{ ?s {_LABEL} ?sl FILTER(lang(?sl) = "" || langMatches(lang(?sl), "en")) }}
}} GROUP BY ?g ?s ORDER BY ?s
"""
)

ONTOLOGY_TERMS = (
    _PROLOGUE
    + """
SELECT ?g ?term ?type ?label ?comment ?super ?domain ?range WHERE {
  GRAPH ?g {
    ?term a ?type
    FILTER(?type IN (owl:Class, owl:ObjectProperty, owl:DatatypeProperty,
                     owl:AnnotationProperty, rdfs:Datatype))
    OPTIONAL { ?term rdfs:label ?label }
    OPTIONAL { ?term rdfs:comment ?comment }
    OPTIONAL { ?term rdfs:subClassOf|rdfs:subPropertyOf ?super }
    OPTIONAL { ?term rdfs:domain ?domain }
    OPTIONAL { ?term rdfs:range ?range }
  }
} ORDER BY ?type ?term
"""
)

ONTOLOGY_HEADER = (
    _PROLOGUE
    + """
SELECT ?g ?ontology ?p ?v WHERE { GRAPH ?g { ?ontology a owl:Ontology ; ?p ?v } }
"""
)

OWL_SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
PROV_DERIVED = "http://www.w3.org/ns/prov#wasDerivedFrom"
LABEL_PREDICATES = (
    "http://www.w3.org/2004/02/skos/core#prefLabel",
    "http://www.w3.org/2000/01/rdf-schema#label",
    "http://purl.org/dc/terms/title",
    "https://schema.org/name",
)


# Views -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueView:
    """One value of a property, the graphs stating it, and (for a blank node) its own properties."""

    term: TermView
    graphs: tuple[TermView, ...]
    nested: tuple[tuple[TermView, TermView], ...] = ()


@dataclass(frozen=True)
class PropertyView:
    predicate: TermView
    values: tuple[ValueView, ...]


@dataclass(frozen=True)
class IncomingView:
    subject: TermView
    predicate: TermView
    graph: TermView


@dataclass(frozen=True)
class EvidenceView:
    """A line of a source document that a fact about the resource is derived from."""

    excerpt: TermView
    document: TermView | None
    line: int | None
    text: str | None


@dataclass(frozen=True)
class ResourceView:
    """Everything the HTML page of a resource shows."""

    iri: str
    label: str
    types: tuple[TermView, ...]
    properties: tuple[PropertyView, ...]
    incoming: tuple[IncomingView, ...]
    incoming_truncated: bool
    same_as: tuple[TermView, ...]
    evidence: tuple[EvidenceView, ...]
    graphs: tuple[TermView, ...] = field(default_factory=tuple)

    @property
    def source_documents(self) -> tuple[TermView, ...]:
        docs = {e.document.value: e.document for e in self.evidence if e.document is not None}
        return tuple(docs.values())


def _rows(result: QueryResult) -> list[ox.QuerySolution]:
    if not isinstance(result, ox.QuerySolutions):
        raise TypeError("expected SELECT results")
    return list(result)


def _bound(name: str, iri: str) -> dict[str, ox.NamedNode | ox.BlankNode | ox.Literal]:
    return {name: ox.NamedNode(iri)}


def _literal_text(term: object) -> str | None:
    return term.value if isinstance(term, ox.Literal) else None


def resource_exists(store: GraphStore, iri: str) -> bool:
    return bool(_rows(store.query(EXISTS, substitutions=_bound("s", iri))))


def graph_sources(store: GraphStore, links: LinkMap) -> dict[str, TermView]:
    """``{graph IRI: the source document it holds}`` for the graphs of ``data/sources``."""
    found: dict[str, TermView] = {}
    for row in _rows(store.query(GRAPH_SOURCES, base_iri=links.base_iri)):
        graph = row["g"]
        if isinstance(graph, ox.NamedNode):
            found[graph.value] = links.term(row["doc"], _literal_text(row["title"]))
    return found


def graph_term(iri: str, links: LinkMap, sources: dict[str, TermView]) -> TermView:
    """A named graph as a page shows it: labelled with its source document's title, if any."""
    source = sources.get(iri)
    label = source.label if source is not None else None
    return TermView(
        "iri", iri, label=label, compact=links.compact(iri), local_path=links.local_path(iri)
    )


def describe_resource(store: GraphStore, iri: str, links: LinkMap) -> ResourceView | None:
    """The page of ``iri``: its label, types, properties, incoming links, sameAs links and evidence.

    ``None`` when the store says nothing about ``iri`` (neither as subject nor as object).
    """
    base = links.base_iri
    bound = _bound("s", iri)
    outgoing = _rows(store.query(OUTGOING, substitutions=bound, base_iri=base))
    incoming = _rows(store.query(INCOMING, substitutions=bound, base_iri=base))
    if not outgoing and not incoming:
        return None
    sources = graph_sources(store, links)
    nested = _nested_values(_rows(store.query(NESTED, substitutions=bound, base_iri=base)), links)

    by_predicate: dict[str, list[tuple[ox.QuerySolution, str]]] = defaultdict(list)
    labels: list[object] = []
    for row in outgoing:
        predicate, graph = row["p"], row["g"]
        if isinstance(predicate, ox.NamedNode) and isinstance(graph, ox.NamedNode):
            by_predicate[predicate.value].append((row, graph.value))
            if predicate.value in LABEL_PREDICATES:
                labels.append(row["o"])

    types: dict[str, TermView] = {}
    same_as: dict[str, TermView] = {}
    properties: list[PropertyView] = []
    for predicate_iri, rows in by_predicate.items():
        values: dict[tuple[str, str], tuple[TermView, list[TermView]]] = {}
        for row, graph in rows:
            term = links.term(row["o"], _literal_text(row["olabel"]))
            key = (term.kind, term.value + "\x00" + (term.language or "") + (term.datatype or ""))
            entry = values.setdefault(key, (term, []))
            entry[1].append(graph_term(graph, links, sources))
            if predicate_iri == RDF_TYPE and term.kind == "iri":
                types[term.value] = term
            if predicate_iri == OWL_SAME_AS and term.is_external:
                same_as[term.value] = term
        first = rows[0][0]
        properties.append(
            PropertyView(
                links.term(first["p"], _literal_text(first["plabel"])),
                tuple(
                    ValueView(
                        term,
                        tuple(graphs),
                        nested.get(term.value, ()) if term.kind == "bnode" else (),
                    )
                    for term, graphs in values.values()
                ),
            )
        )

    incoming_views = [
        IncomingView(
            links.term(row["x"], _literal_text(row["xlabel"])),
            links.term(row["p"], _literal_text(row["plabel"])),
            graph_term(row["g"].value, links, sources)
            if isinstance(row["g"], ox.NamedNode)
            else links.term(None),
        )
        for row in incoming[:INCOMING_LIMIT]
    ]
    properties.sort(key=_property_order)
    evidence = _evidence(_rows(store.query(EVIDENCE, substitutions=bound, base_iri=base)), links)
    graphs = {value.value: value for prop in properties for v in prop.values for value in v.graphs}
    return ResourceView(
        iri=iri,
        label=first_literal(labels) or links.compact(iri),
        types=tuple(types.values()),
        properties=tuple(properties),
        incoming=tuple(incoming_views),
        incoming_truncated=len(incoming) > INCOMING_LIMIT,
        same_as=tuple(same_as.values()),
        evidence=evidence,
        graphs=tuple(sorted(graphs.values(), key=lambda g: g.value)),
    )


def _property_order(prop: PropertyView) -> tuple[int, str]:
    """Type first, then labels, then everything else by the name shown."""
    iri = prop.predicate.value
    rank = (
        0 if iri == RDF_TYPE else 1 if iri in LABEL_PREDICATES else 3 if iri == PROV_DERIVED else 2
    )
    return rank, prop.predicate.text.lower()


def _nested_values(
    rows: Iterable[ox.QuerySolution], links: LinkMap
) -> dict[str, tuple[tuple[TermView, TermView], ...]]:
    nested: dict[str, list[tuple[TermView, TermView]]] = defaultdict(list)
    for row in rows:
        node = row["o"]
        if isinstance(node, ox.BlankNode):
            nested[node.value].append(
                (
                    links.term(row["np"], _literal_text(row["nplabel"])),
                    links.term(row["no"], _literal_text(row["nolabel"])),
                )
            )
    return {key: tuple(value) for key, value in nested.items()}


def _evidence(rows: Iterable[ox.QuerySolution], links: LinkMap) -> tuple[EvidenceView, ...]:
    found: dict[str, EvidenceView] = {}
    for row in rows:
        excerpt = row["excerpt"]
        if not isinstance(excerpt, ox.NamedNode) or excerpt.value in found:
            continue
        line = row["line"]
        document = row["doc"]
        found[excerpt.value] = EvidenceView(
            excerpt=links.term(excerpt),
            document=links.term(document, _literal_text(row["title"]))
            if document is not None
            else None,
            line=int(line.value) if isinstance(line, ox.Literal) and line.value.isdigit() else None,
            text=_literal_text(row["text"]),
        )
    return tuple(found.values())


def resource_rdf(store: GraphStore, iri: str) -> QueryResult:
    """The triples of a resource (outgoing, its blank-node values', incoming) for RDF clients."""
    return store.query(DESCRIPTION, substitutions=_bound("s", iri))


def graph_rdf(store: GraphStore, graph_iri: str) -> QueryResult:
    """The triples of one named graph (the ontology, a source document's facts, a link set)."""
    return store.query(GRAPH_CONTENT, substitutions=_bound("g", graph_iri))


# Named graphs ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class GraphView:
    """The page of a named graph: its source document (if any) and the resources it describes."""

    iri: str
    source: TermView | None
    subjects: tuple[tuple[TermView, int], ...]
    triples: int


def describe_graph(store: GraphStore, graph_iri: str, links: LinkMap) -> GraphView | None:
    if graph_iri not in store.named_graphs():
        return None
    rows = _rows(
        store.query(GRAPH_SUBJECTS, substitutions=_bound("g", graph_iri), base_iri=links.base_iri)
    )
    subjects = tuple(
        (links.term(row["s"], _literal_text(row["label"])), int(row["n"].value) if row["n"] else 0)
        for row in rows
        if not isinstance(row["s"], ox.BlankNode)
    )
    return GraphView(
        iri=graph_iri,
        source=graph_sources(store, links).get(graph_iri),
        subjects=subjects,
        triples=store.quad_count(graph_iri),
    )


# The ontology ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class OntologyTerm:
    term: TermView
    kind: str  # Class, ObjectProperty, DatatypeProperty, AnnotationProperty, Datatype
    label: str | None
    comment: str | None
    parents: tuple[TermView, ...]
    domains: tuple[TermView, ...]
    ranges: tuple[TermView, ...]

    @property
    def anchor(self) -> str:
        return self.term.value.rsplit("#", 1)[-1] if "#" in self.term.value else self.term.value


@dataclass(frozen=True)
class OntologyView:
    iri: str
    title: str | None
    description: str | None
    version: str | None
    classes: tuple[OntologyTerm, ...]
    properties: tuple[OntologyTerm, ...]
    local_only: bool = True


@dataclass
class _TermRows:
    """The rows of one ontology term gathered (a term has one row per parent, domain, range…)."""

    term: ox.NamedNode
    labels: list[object] = field(default_factory=list)
    comments: list[object] = field(default_factory=list)
    parents: dict[str, TermView] = field(default_factory=dict)
    domains: dict[str, TermView] = field(default_factory=dict)
    ranges: dict[str, TermView] = field(default_factory=dict)

    def add(self, row: ox.QuerySolution, links: LinkMap) -> None:
        self.labels.append(row["label"])
        self.comments.append(row["comment"])
        for target, name in (
            (self.parents, "super"),
            (self.domains, "domain"),
            (self.ranges, "range"),
        ):
            value = row[name]
            if isinstance(value, ox.NamedNode):
                target[value.value] = links.term(value)

    def view(self, kind: str, links: LinkMap) -> OntologyTerm:
        return OntologyTerm(
            term=links.term(self.term),
            kind=kind,
            label=first_literal(self.labels),
            comment=first_literal(self.comments),
            parents=tuple(self.parents.values()),
            domains=tuple(self.domains.values()),
            ranges=tuple(self.ranges.values()),
        )


def describe_ontology(
    store: GraphStore, graph_iri: str, ontology_iri: str, links: LinkMap
) -> OntologyView | None:
    """Classes and properties defined in the ontology graph: labels, comments, domains, ranges."""
    bound = _bound("g", graph_iri)
    header = _rows(store.query(ONTOLOGY_HEADER, substitutions=bound, base_iri=links.base_iri))
    rows = _rows(store.query(ONTOLOGY_TERMS, substitutions=bound, base_iri=links.base_iri))
    if not header and not rows:
        return None
    about: dict[str, list[object]] = defaultdict(list)
    for row in header:
        predicate = row["p"]
        if isinstance(predicate, ox.NamedNode):
            about[predicate.value].append(row["v"])
    grouped: dict[tuple[str, str], _TermRows] = {}
    for row in rows:
        term, kind = row["term"], row["type"]
        if not isinstance(term, ox.NamedNode) or not isinstance(kind, ox.NamedNode):
            continue
        if not term.value.startswith(ontology_iri + "#"):
            continue  # reused external classes are declared, not defined, here
        entry = grouped.setdefault((kind.value, term.value), _TermRows(term))
        entry.add(row, links)
    terms = [
        entry.view(kind.rsplit("#", 1)[-1], links)
        for (kind, _), entry in sorted(grouped.items(), key=lambda item: item[0][1])
    ]
    return OntologyView(
        iri=ontology_iri,
        title=first_literal(about.get("http://purl.org/dc/terms/title", [])),
        description=first_literal(about.get("http://purl.org/dc/terms/description", [])),
        version=first_literal(about.get("http://www.w3.org/2002/07/owl#versionInfo", [])),
        classes=tuple(t for t in terms if t.kind == "Class"),
        properties=tuple(t for t in terms if t.kind != "Class"),
    )
