"""Linked data: what a page of one resource, of the ontology or of a named graph shows, and its RDF.

Every query here is a constant; the resource is bound with pyoxigraph *substitutions* (never
written into the text), and the project's own terms are written as relative IRIs
(``<ontology#line>``, ``<graph/ontology>``) resolved against the configured base, like the files
in ``data/``.

Provenance is recorded per resource (``prov:wasDerivedFrom`` the lines of a source document), so
a page finds the line of each *statement* itself: a blank-node value's own
``prov:wasDerivedFrom``, else the one line of the resource whose text contains the value (a
literal, or an IRI's label), else every line of the resource in that document.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox

from iomkg.store.base import GraphStore, QueryResult
from iomkg.views import LinkMap, TermView, first_literal
from iomkg.vocab import OWL_SAME_AS, RDF_TYPE, STANDARD_PREFIXES

#: At most this many incoming links are listed on a page (the RDF has them all).
INCOMING_LIMIT = 500
#: Blank nodes are shown inside their owner down to this depth (a membership's interval's start).
BLANK_DEPTH = 3
#: A value shorter than this is not searched for in the text of a line (too many false hits).
MIN_MATCH = 3

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
_EN = 'FILTER(lang({0}) = "" || langMatches(lang({0}), "en"))'
# A property's name: its rdfs:label in the ontology graph (not a label any other graph gives it).
_PROPERTY_LABEL = "GRAPH <graph/ontology> {{ {0} rdfs:label {1} " + _EN.format("{1}") + " }}"

OUTGOING = (
    _PROLOGUE
    + f"""
SELECT ?s ?p ?o ?g (MIN(?pl) AS ?plabel) (MIN(?ol) AS ?olabel) WHERE {{
  GRAPH ?g {{ ?s ?p ?o }}
  OPTIONAL {{ {_PROPERTY_LABEL.format("?p", "?pl")} }}
  OPTIONAL {{ ?o {_LABEL} ?ol {_EN.format("?ol")} }}
}} GROUP BY ?s ?p ?o ?g ORDER BY ?p ?o ?g
"""
)

# Properties of blank-node values (a budget's amount, a membership's interval and its instants),
# down to BLANK_DEPTH levels.
NESTED = (
    _PROLOGUE
    + f"""
SELECT ?s ?node ?np ?no (MIN(?npl) AS ?nplabel) (MIN(?nol) AS ?nolabel) WHERE {{
  {{ ?s ?p0 ?node FILTER(isBlank(?node)) }}
  UNION {{ ?s ?p0 ?b1 FILTER(isBlank(?b1)) ?b1 ?p1 ?node FILTER(isBlank(?node)) }}
  UNION {{
    ?s ?p0 ?b1 FILTER(isBlank(?b1)) ?b1 ?p1 ?b2 FILTER(isBlank(?b2))
    ?b2 ?p2 ?node FILTER(isBlank(?node))
  }}
  ?node ?np ?no
  OPTIONAL {{ {_PROPERTY_LABEL.format("?np", "?npl")} }}
  OPTIONAL {{ ?no {_LABEL} ?nol {_EN.format("?nol")} }}
}} GROUP BY ?s ?node ?np ?no ORDER BY ?node ?np ?no
"""
)

# What points at the resource; a blank node that does is shown through its owner (?owner ?via).
INCOMING = (
    _PROLOGUE
    + f"""
SELECT ?s ?x ?p ?g ?owner ?via
       (MIN(?xl) AS ?xlabel) (MIN(?pl) AS ?plabel) (MIN(?wl) AS ?ownerlabel) (MIN(?vl) AS ?vialabel)
WHERE {{
  GRAPH ?g {{ ?x ?p ?s }}
  OPTIONAL {{ ?x {_LABEL} ?xl {_EN.format("?xl")} }}
  OPTIONAL {{ {_PROPERTY_LABEL.format("?p", "?pl")} }}
  OPTIONAL {{
    ?owner ?via ?x FILTER(isBlank(?x) && !isBlank(?owner))
    OPTIONAL {{ ?owner {_LABEL} ?wl {_EN.format("?wl")} }}
    OPTIONAL {{ {_PROPERTY_LABEL.format("?via", "?vl")} }}
  }}
}} GROUP BY ?s ?x ?p ?g ?owner ?via ORDER BY ?p ?x LIMIT {INCOMING_LIMIT + 1}
"""
)

# The excerpts a resource (?own) or one of its blank-node values is derived from, with the
# document each is part of.
EVIDENCE = (
    _PROLOGUE
    + """
SELECT DISTINCT ?s ?excerpt ?own ?line ?text ?doc ?title WHERE {
  { ?s prov:wasDerivedFrom ?excerpt BIND(true AS ?own) }
  UNION { ?s ?p ?b FILTER(isBlank(?b)) ?b prov:wasDerivedFrom ?excerpt }
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

# The RDF of a resource: what it says, what its blank-node values say (three levels down, as the
# page shows them), and what points at it.
DESCRIPTION = """
CONSTRUCT { ?s ?p ?o . ?o ?bp ?bo . ?bo ?cp ?co . ?co ?dp ?do . ?x ?q ?s } WHERE {
  {
    ?s ?p ?o
    OPTIONAL {
      ?o ?bp ?bo FILTER(isBlank(?o))
      OPTIONAL {
        ?bo ?cp ?co FILTER(isBlank(?bo))
        OPTIONAL { ?co ?dp ?do FILTER(isBlank(?co)) }
      }
    }
  } UNION { ?x ?q ?s }
}
"""

GRAPH_CONTENT = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"

# The same statements as DESCRIPTION, each with the graph that states it (blank nodes belong to
# one graph: their values are followed inside it).
DESCRIPTION_QUADS = """
SELECT ?s ?g ?a ?b ?c WHERE {
  GRAPH ?g {
    { ?s ?b ?c BIND(?s AS ?a) }
    UNION { ?s ?p ?a FILTER(isBlank(?a)) ?a ?b ?c }
    UNION { ?s ?p ?x FILTER(isBlank(?x)) ?x ?q ?a FILTER(isBlank(?a)) ?a ?b ?c }
    UNION {
      ?s ?p ?x FILTER(isBlank(?x)) ?x ?q ?y FILTER(isBlank(?y)) ?y ?r ?a FILTER(isBlank(?a))
      ?a ?b ?c
    }
    UNION { ?a ?b ?s BIND(?s AS ?c) }
  }
}
"""

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

PROV_DERIVED = STANDARD_PREFIXES["prov"] + "wasDerivedFrom"
SCHEMA = STANDARD_PREFIXES["schema"]
DCTERMS = STANDARD_PREFIXES["dcterms"]
TIME = STANDARD_PREFIXES["time"]
VOID = STANDARD_PREFIXES["void"]
LABEL_PREDICATES = (
    STANDARD_PREFIXES["skos"] + "prefLabel",
    STANDARD_PREFIXES["rdfs"] + "label",
    DCTERMS + "title",
    SCHEMA + "name",
)


# Views -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EvidenceView:
    """A line of a source document that a fact about the resource is derived from."""

    excerpt: TermView  # labelled "IOM Serbia page, line 15"
    document: TermView | None  # labelled with the document's title
    line: int | None
    text: str | None
    own: bool = True  # the resource cites it (else only one of its blank-node values does)

    @property
    def document_name(self) -> str | None:
        return document_name(self.document) if self.document is not None else None


@dataclass(frozen=True)
class StatedIn:
    """Where one statement comes from: lines of a source document, or a named graph as a whole.

    ``lines`` holds one line when the statement was traced to it, the resource's every line in
    that document when not (``exact`` false), and nothing for graphs that are not documents.
    """

    graph: TermView
    document: TermView | None = None
    lines: tuple[EvidenceView, ...] = ()
    exact: bool = False

    @property
    def document_name(self) -> str | None:
        """The document by its short title ("IOM Serbia page"); its full title is in
        ``document.label``."""
        return document_name(self.document) if self.document is not None else None


@dataclass(frozen=True)
class ValueView:
    """One value of a property, where it is stated, and (for a blank node) its own properties."""

    term: TermView
    stated_in: tuple[StatedIn, ...] = ()
    nested: tuple[PropertyView, ...] = ()
    summary: str | None = None  # a blank node in a few words: "EUR 9,300,000", "5.5 years"

    @property
    def graphs(self) -> tuple[TermView, ...]:
        return tuple(source.graph for source in self.stated_in)


@dataclass(frozen=True)
class PropertyView:
    predicate: TermView  # labelled with the ontology's rdfs:label, else a readable name
    values: tuple[ValueView, ...]


@dataclass(frozen=True)
class IncomingView:
    """A statement pointing at the resource; from a blank node, shown through its owner."""

    subject: TermView
    predicate: TermView
    graph: StatedIn
    via: TermView | None = None  # the owner's property holding the blank node (its budget…)


@dataclass(frozen=True)
class SourceGroup:
    """The lines of one source document a page cites, under the document's title (once)."""

    document: TermView | None  # None: evidence that is not part of a document (a file, a dataset)
    graph: TermView | None
    lines: tuple[EvidenceView, ...]

    @property
    def document_name(self) -> str | None:
        return document_name(self.document) if self.document is not None else None


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
    sources: tuple[SourceGroup, ...] = field(default_factory=tuple)

    @property
    def source_documents(self) -> tuple[TermView, ...]:
        docs = {e.document.value: e.document for e in self.evidence if e.document is not None}
        return tuple(docs.values())


@dataclass(frozen=True)
class SubjectView:
    """One named subject of a description (VoID) with its properties, blank nodes nested."""

    subject: TermView
    properties: tuple[PropertyView, ...]


def document_name(document: TermView) -> str:
    """How a page names a source document: its title up to the first colon ("IOM Serbia page"),
    else its file stem's number; the full title goes in a tooltip.

    >>> document_name(TermView("iri", "https://w3id.org/iomkg/id/source/000_aa21",
    ...     label="IOM Serbia page: IOM at a glance and the NATO/PfP Trust Fund (NTF) Project"))
    'IOM Serbia page'
    >>> document_name(TermView("iri", "https://w3id.org/iomkg/id/source/000_aa2112c34e1aacb8"))
    '000…'
    """
    title = (document.label or "").strip()
    if title:
        return title.split(": ", 1)[0].strip() or title
    return short_document_name(document.value)


def short_document_name(iri: str) -> str:
    """A source document's short name: its file stem's number (``…/source/000_aa21…`` → ``000…``).

    >>> short_document_name("https://w3id.org/iomkg/id/source/000_aa2112c34e1aacb8")
    '000…'
    >>> short_document_name("https://example.org/doc/report")
    'report'
    """
    stem = iri.rstrip("/").rsplit("/", 1)[-1] or iri
    head, sep, _ = stem.partition("_")
    return head + "…" if sep and head else stem


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


NAMES_LIMIT = 500

# The names of some resources (bound by VALUES): their labels, or for a line of a source
# document, the line and its document's title.
NAMES = (
    _PROLOGUE
    + f"""
SELECT ?s ?label ?line ?title WHERE {{
  VALUES ?s {{ {{values}} }}
  {{ ?s {_LABEL} ?label }}
  UNION {{ ?s iomo:line ?line ; dcterms:isPartOf ?doc . OPTIONAL {{ ?doc dcterms:title ?title }} }}
}}
"""
)


def resource_names(store: GraphStore, iris: Iterable[str], links: LinkMap) -> dict[str, str]:
    """How pages name each of ``iris`` (at most :data:`NAMES_LIMIT`): its label (English or
    untagged first), "IOM Serbia page, line 15" for a line of a source document, the document's
    short title for a named graph of ``data/sources``; an IRI with none of these is left out.
    The IRIs travel as terms in a VALUES block (pyoxigraph writes them; one that is not an IRI
    is skipped), never as text of the caller's."""
    wanted: list[ox.NamedNode] = []
    for iri in iris:
        try:
            wanted.append(ox.NamedNode(iri))
        except ValueError:
            continue
        if len(wanted) >= NAMES_LIMIT:
            break
    if not wanted:
        return {}
    names: dict[str, str] = {}
    sources = graph_sources(store, links)
    for node in wanted:
        if node.value in sources:
            names[node.value] = document_name(sources[node.value])
    labels: dict[str, list[object]] = defaultdict(list)
    lines: dict[str, str] = {}
    values = " ".join(str(node) for node in wanted)
    for row in _rows(store.query(NAMES.replace("{values}", values), base_iri=links.base_iri)):
        subject = row["s"]
        if not isinstance(subject, ox.NamedNode):
            continue
        if row["label"] is not None:
            labels[subject.value].append(row["label"])
        elif isinstance(row["line"], ox.Literal):
            title = _literal_text(row["title"])
            document = (
                document_name(TermView("iri", "", label=title))
                if title
                else short_document_name(subject.value.rsplit("/line/", 1)[0])
            )
            lines[subject.value] = f"{document}, line {row['line'].value}"
    for iri, found in labels.items():
        label = first_literal(found)
        if label:
            names.setdefault(iri, label)
    for iri, name in lines.items():
        names.setdefault(iri, name)
    return names


def graph_term(iri: str, links: LinkMap, sources: dict[str, TermView]) -> TermView:
    """A named graph as a page shows it: labelled with its source document's title, if any."""
    source = sources.get(iri)
    label = source.label if source is not None else None
    return TermView(
        "iri", iri, label=label, compact=links.compact(iri), local_path=links.local_path(iri)
    )


# Blank nodes: shown inside their owner, never as a hash ------------------------------------------

#: ``{blank node id: [(property, value)]}``: the statements of the blank nodes a page shows.
BlankTree = Mapping[str, Sequence[tuple[TermView, TermView]]]


def _blank_value(
    term: TermView, tree: BlankTree, seen: frozenset[str] = frozenset()
) -> tuple[ValueView, tuple[str, ...]]:
    """The view of a blank-node value, and the excerpts it cites itself (``prov:wasDerivedFrom``,
    which the page shows as the statement's line rather than as a property)."""
    statements = [] if term.value in seen else list(tree.get(term.value, ()))
    cited = tuple(o.value for p, o in statements if p.value == PROV_DERIVED)
    shown = [(p, o) for p, o in statements if p.value != PROV_DERIVED]
    nested = _properties(shown, tree, seen | {term.value})
    return ValueView(term, nested=nested, summary=summarize(shown, tree)), cited


def _properties(
    statements: Iterable[tuple[TermView, TermView]], tree: BlankTree, seen: frozenset[str]
) -> tuple[PropertyView, ...]:
    """Statements grouped by property (in order of first appearance), blank nodes nested."""
    grouped: dict[str, tuple[TermView, list[ValueView]]] = {}
    for predicate, obj in statements:
        entry = grouped.setdefault(predicate.value, (predicate, []))
        if obj.kind == "bnode":
            entry[1].append(_blank_value(obj, tree, seen)[0])
        else:
            entry[1].append(ValueView(obj))
    properties = [PropertyView(p, tuple(values)) for p, values in grouped.values()]
    return tuple(sorted(properties, key=_property_order))


def summarize(statements: Sequence[tuple[TermView, TermView]], tree: BlankTree) -> str | None:
    """A blank node in a few words, when it is a money amount, a duration or an interval.

    >>> from iomkg.views import LinkMap
    >>> links = LinkMap("http://example.org/kg/")
    >>> def st(p, o): return (links.term(ox.NamedNode(p)), links.term(o))
    >>> summarize([st(RDF_TYPE, ox.NamedNode(SCHEMA + "MonetaryAmount")),
    ...            st(SCHEMA + "currency", ox.Literal("EUR")),
    ...            st(SCHEMA + "value", ox.Literal("9300000", datatype=ox.NamedNode(XSD_DECIMAL)))],
    ...           {})
    'EUR 9,300,000'
    >>> years = ox.Literal("5.5", datatype=ox.NamedNode(XSD_DECIMAL))
    >>> summarize([st(TIME + "numericDuration", years),
    ...            st(TIME + "unitType", ox.NamedNode(TIME + "unitYear"))], {})
    '5.5 years'
    """
    values: dict[str, list[TermView]] = defaultdict(list)
    for predicate, obj in statements:
        values[predicate.value].append(obj)

    def literal(predicate: str) -> str | None:
        return next((o.value for o in values.get(predicate, ()) if o.kind == "literal"), None)

    amount = literal(SCHEMA + "value")
    if amount is not None and any(
        o.value == SCHEMA + "MonetaryAmount" for o in values.get(RDF_TYPE, ())
    ):
        currency = literal(SCHEMA + "currency") or ""
        return f"{currency} {format_number(amount)}".strip()
    number, units = literal(TIME + "numericDuration"), values.get(TIME + "unitType", [])
    if number is not None and units:
        unit = units[0].value.rsplit("#unit", 1)[-1].lower() or "unit"
        return f"{format_number(number)} {unit}{'' if _is_one(number) else 's'}"
    for what, unit in (("class", "entities"), ("property", "triples")):
        named, count = values.get(VOID + what, []), literal(VOID + unit)
        if named and count is not None:  # a VoID class or property partition
            return f"{named[0].text}: {format_number(count)} {unit}"
    begins, ends = values.get(TIME + "hasBeginning", []), values.get(TIME + "hasEnd", [])
    if begins or ends:
        start = _instant(begins[0], tree) if begins else None
        end = _instant(ends[0], tree) if ends else None
        if start and end:
            return f"{start} – {end}"
        return f"from {start}" if start else f"until {end}" if end else None
    return None


XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"
_INSTANT_VALUES = tuple(
    TIME + name
    for name in (
        "inXSDDate",
        "inXSDDateTimeStamp",
        "inXSDDateTime",
        "inXSDgYearMonth",
        "inXSDgYear",
    )
)


def _instant(term: TermView, tree: BlankTree) -> str | None:
    if term.kind == "literal":
        return term.value
    for predicate in _INSTANT_VALUES:
        for p, o in tree.get(term.value, ()):
            if p.value == predicate and o.kind == "literal":
                return o.value
    return None


def _is_one(number: str) -> bool:
    try:
        return Decimal(number) == 1
    except InvalidOperation:
        return False


def format_number(lexical: str) -> str:
    """A number with thousands separators; anything else unchanged.

    >>> [format_number(n) for n in ("9300000", "9300000.50", "5.5", "x")]
    ['9,300,000', '9,300,000.50', '5.5', 'x']
    """
    try:
        number = Decimal(lexical)
    except InvalidOperation:
        return lexical
    return f"{number:,}" if number.is_finite() else lexical


# The page of a resource ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Origins:
    """Finds the line each statement of a resource comes from (see the module docstring)."""

    sources: dict[str, TermView]  # graph IRI → its source document
    evidence: tuple[EvidenceView, ...]
    links: LinkMap

    def by_excerpt(self) -> dict[str, EvidenceView]:
        return {e.excerpt.value: e for e in self.evidence}

    def stated_in(
        self, graph_iri: str, term: TermView, cited: Sequence[str], search: bool = True
    ) -> tuple[StatedIn, tuple[float, int]]:
        """Where the statement (subject, property, ``term``) in ``graph_iri`` comes from, and its
        position in the document (line, offset in the line) for ordering values.

        ``search``: look for the value in the lines' text (not for a type: a class is not stated
        in so many words)."""
        graph = graph_term(graph_iri, self.links, self.sources)
        document = self.sources.get(graph_iri)
        unknown = (math.inf, 0)
        if document is None:
            return StatedIn(graph), unknown
        lines = [e for e in self.evidence if e.document and e.document.value == document.value]
        chosen = [e for e in lines if e.excerpt.value in cited]
        if chosen:
            return StatedIn(graph, document, tuple(chosen), exact=True), _position(chosen[0], 0)
        needle = (term.value if term.kind == "literal" else term.label or "").casefold()
        if search and len(needle) >= MIN_MATCH:
            for line in lines:
                offset = (line.text or "").casefold().find(needle)
                if offset >= 0:
                    return StatedIn(graph, document, (line,), exact=True), _position(line, offset)
        own = tuple(e for e in lines if e.own)
        return StatedIn(graph, document, own), unknown


def _position(line: EvidenceView, offset: int) -> tuple[float, int]:
    return (line.line if line.line is not None else math.inf, offset)


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
    tree = _blank_tree(_rows(store.query(NESTED, substitutions=bound, base_iri=base)), links)
    evidence = _evidence(_rows(store.query(EVIDENCE, substitutions=bound, base_iri=base)), links)
    origins = _Origins(sources, evidence, links)
    excerpts = origins.by_excerpt()

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
        values: dict[tuple[str, str], tuple[TermView, list[str]]] = {}
        for row, graph in rows:
            term = links.term(row["o"], _literal_text(row["olabel"]))
            if predicate_iri == PROV_DERIVED and term.value in excerpts:
                continue  # the Sources section shows them, under their document
            key = (term.kind, term.value + "\x00" + (term.language or "") + (term.datatype or ""))
            values.setdefault(key, (term, []))[1].append(graph)
            if predicate_iri == RDF_TYPE and term.kind == "iri":
                types[term.value] = term
            if predicate_iri == OWL_SAME_AS and term.is_external:
                same_as[term.value] = term
        placed: list[tuple[tuple[float, int], int, ValueView]] = []
        for index, (term, graphs) in enumerate(values.values()):
            value, cited = (
                _blank_value(term, tree) if term.kind == "bnode" else (ValueView(term), ())
            )
            traced = [
                origins.stated_in(graph, term, cited, search=predicate_iri != RDF_TYPE)
                for graph in graphs
            ]
            position = min((where for _, where in traced), default=(math.inf, 0))
            value = ValueView(term, tuple(s for s, _ in traced), value.nested, value.summary)
            placed.append((position, index, value))
        if not placed:
            continue
        first = rows[0][0]
        properties.append(
            PropertyView(
                links.property_term(first["p"], _literal_text(first["plabel"])),
                tuple(value for _, _, value in sorted(placed, key=lambda item: item[:2])),
            )
        )
    properties.sort(key=_property_order)

    incoming_views = [_incoming(row, links, sources) for row in incoming[:INCOMING_LIMIT]]
    stating = {
        source.graph.value: source.graph
        for prop in properties
        for value in prop.values
        for source in value.stated_in
    }
    return ResourceView(
        iri=iri,
        label=first_literal(labels)
        or _excerpt_label(by_predicate, sources, links)
        or links.compact(iri),
        types=tuple(types.values()),
        properties=tuple(properties),
        incoming=tuple(incoming_views),
        incoming_truncated=len(incoming) > INCOMING_LIMIT,
        same_as=tuple(same_as.values()),
        evidence=evidence,
        graphs=tuple(sorted(stating.values(), key=lambda g: g.value)),
        sources=_source_groups(evidence, sources, links),
    )


#: At most this many neighbours in a resource page's graph view (the tables list them all).
NEIGHBOUR_LIMIT = 40


def neighbour_graph(view: ResourceView, limit: int = NEIGHBOUR_LIMIT) -> dict[str, object]:
    """The resource and the resources it links to or is linked from, as the page's graph view
    draws them: one node per IRI (labelled, linked to its page when it has one), one edge per
    statement. Types, literals and blank nodes are left out: the tables above show them.
    """
    nodes: dict[str, dict[str, object]] = {
        view.iri: {"id": view.iri, "label": view.label, "href": None, "center": True}
    }
    edges: dict[tuple[str, str, str], dict[str, str]] = {}
    dropped = 0

    def link(source: str, target: str, label: str) -> None:
        edges.setdefault(
            (source, target, label), {"source": source, "target": target, "label": label}
        )

    def add(term: TermView) -> bool:
        nonlocal dropped
        if term.value in nodes:
            return True
        if len(nodes) > limit:
            dropped += 1
            return False
        href = term.local_path or term.external_href
        nodes[term.value] = {"id": term.value, "label": term.text, "href": href, "center": False}
        return True

    for prop in view.properties:
        if prop.predicate.value in (RDF_TYPE, PROV_DERIVED):
            continue
        for value in prop.values:
            if value.term.kind == "iri" and value.term.value != view.iri and add(value.term):
                link(view.iri, value.term.value, prop.predicate.text)
    for incoming in view.incoming:
        subject = incoming.subject
        if subject.kind == "iri" and subject.value != view.iri and add(subject):
            link(incoming.subject.value, view.iri, incoming.predicate.text)
    return {"nodes": list(nodes.values()), "edges": list(edges.values()), "left_out": dropped}


def _excerpt_label(
    by_predicate: Mapping[str, list[tuple[ox.QuerySolution, str]]],
    sources: Mapping[str, TermView],
    links: LinkMap,
) -> str | None:
    """An excerpt (a line of a document) has no label of its own: "IOM Serbia page, line 15"."""
    lines = by_predicate.get(links.base_iri + "ontology#line", [])
    documents = by_predicate.get(DCTERMS + "isPartOf", [])
    if not lines or not documents:
        return None
    line, document = lines[0][0]["o"], documents[0][0]["o"]
    if not isinstance(line, ox.Literal) or not isinstance(document, ox.NamedNode):
        return None
    titled = next((doc for doc in sources.values() if doc.value == document.value), None)
    name = document_name(titled) if titled is not None else short_document_name(document.value)
    return f"{name}, line {line.value}"


def _incoming(row: ox.QuerySolution, links: LinkMap, sources: dict[str, TermView]) -> IncomingView:
    graph = row["g"]
    stated = (
        StatedIn(graph_term(graph.value, links, sources), sources.get(graph.value))
        if isinstance(graph, ox.NamedNode)
        else StatedIn(links.term(None))
    )
    predicate = links.property_term(row["p"], _literal_text(row["plabel"]))
    if isinstance(row["x"], ox.BlankNode) and row["owner"] is not None:
        return IncomingView(
            links.term(row["owner"], _literal_text(row["ownerlabel"])),
            predicate,
            stated,
            via=links.property_term(row["via"], _literal_text(row["vialabel"])),
        )
    return IncomingView(links.term(row["x"], _literal_text(row["xlabel"])), predicate, stated)


def _source_groups(
    evidence: Iterable[EvidenceView], sources: dict[str, TermView], links: LinkMap
) -> tuple[SourceGroup, ...]:
    """The evidence by document (documents in order of first citation, lines in line order)."""
    graph_of = {document.value: graph for graph, document in sources.items()}
    grouped: dict[str | None, list[EvidenceView]] = defaultdict(list)
    for item in evidence:
        grouped[item.document.value if item.document is not None else None].append(item)
    groups = []
    for key, lines in grouped.items():
        graph = graph_of.get(key) if key is not None else None
        groups.append(
            SourceGroup(
                lines[0].document,
                links.term(ox.NamedNode(graph)) if graph is not None else None,
                tuple(sorted(lines, key=lambda e: _position(e, 0))),
            )
        )
    return tuple(sorted(groups, key=lambda g: g.document is None))


def _property_order(prop: PropertyView) -> tuple[int, str]:
    """Type first, then labels, then everything else by the name shown."""
    iri = prop.predicate.value
    rank = (
        0 if iri == RDF_TYPE else 1 if iri in LABEL_PREDICATES else 3 if iri == PROV_DERIVED else 2
    )
    return rank, prop.predicate.text.lower()


def _blank_tree(rows: Iterable[ox.QuerySolution], links: LinkMap) -> BlankTree:
    tree: dict[str, list[tuple[TermView, TermView]]] = defaultdict(list)
    for row in rows:
        node = row["node"]
        if isinstance(node, ox.BlankNode):
            tree[node.value].append(
                (
                    links.property_term(row["np"], _literal_text(row["nplabel"])),
                    links.term(row["no"], _literal_text(row["nolabel"])),
                )
            )
    return tree


def _evidence(rows: Iterable[ox.QuerySolution], links: LinkMap) -> tuple[EvidenceView, ...]:
    found: dict[str, EvidenceView] = {}
    for row in rows:
        excerpt = row["excerpt"]
        if not isinstance(excerpt, ox.NamedNode):
            continue
        own = row["own"] is not None
        if excerpt.value in found:
            if own:
                found[excerpt.value] = replace(found[excerpt.value], own=True)
            continue
        line_term, document = row["line"], row["doc"]
        line = (
            int(line_term.value)
            if isinstance(line_term, ox.Literal) and line_term.value.isdigit()
            else None
        )
        document_view = (
            links.term(document, _literal_text(row["title"])) if document is not None else None
        )
        label = (
            f"{document_name(document_view)}, line {line}"
            if document_view is not None and line is not None
            else None
        )
        found[excerpt.value] = EvidenceView(
            excerpt=links.term(excerpt, label),
            document=document_view,
            line=line,
            text=_literal_text(row["text"]),
            own=own,
        )
    return tuple(found.values())


def describe_triples(triples: Iterable[ox.Triple], links: LinkMap) -> tuple[SubjectView, ...]:
    """A description built in memory (VoID) as a page shows it: each named subject in order of
    first appearance with its properties; blank nodes nested in the statements that use them."""
    tree: dict[str, list[tuple[TermView, TermView]]] = defaultdict(list)
    named: dict[str, list[tuple[TermView, TermView]]] = {}
    for triple in triples:
        statement = (links.property_term(triple.predicate), links.term(triple.object))
        if isinstance(triple.subject, ox.BlankNode):
            tree[triple.subject.value].append(statement)
        elif isinstance(triple.subject, ox.NamedNode):
            named.setdefault(triple.subject.value, []).append(statement)
    return tuple(
        SubjectView(links.term(ox.NamedNode(subject)), _properties(statements, tree, frozenset()))
        for subject, statements in named.items()
    )


def resource_rdf(store: GraphStore, iri: str) -> QueryResult:
    """The triples of a resource (outgoing, its blank-node values', incoming) for RDF clients."""
    return store.query(DESCRIPTION, substitutions=_bound("s", iri))


def graph_rdf(store: GraphStore, graph_iri: str) -> QueryResult:
    """The triples of one named graph (the ontology, a source document's facts, a link set)."""
    return store.query(GRAPH_CONTENT, substitutions=_bound("g", graph_iri))


def resource_quads(store: GraphStore, iri: str) -> list[ox.Quad]:
    """The statements of :func:`resource_rdf`, each with the named graph that states it (a
    triple two graphs state is two quads: N-Quads and TriG say where each came from)."""
    quads = []
    for row in _rows(store.query(DESCRIPTION_QUADS, substitutions=_bound("s", iri))):
        subject, predicate, obj, graph = row["a"], row["b"], row["c"], row["g"]
        if (
            isinstance(subject, ox.NamedNode | ox.BlankNode)
            and isinstance(predicate, ox.NamedNode)
            and isinstance(obj, ox.NamedNode | ox.BlankNode | ox.Literal)
            and isinstance(graph, ox.NamedNode)
        ):
            quads.append(ox.Quad(subject, predicate, obj, graph))
    return quads


def graph_quads(store: GraphStore, graph_iri: str) -> list[ox.Quad]:
    """The statements of one named graph as quads of that graph."""
    graph = ox.NamedNode(graph_iri)
    result = graph_rdf(store, graph_iri)
    if not isinstance(result, ox.QueryTriples):
        return []
    return [ox.Quad(t.subject, t.predicate, t.object, graph) for t in result]


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
