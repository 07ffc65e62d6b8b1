"""Result formats as values, and content negotiation as a table lookup.

Two tables, as the SPARQL 1.1 Protocol has two kinds of answer: tabular results
(SELECT, ASK) and graphs (CONSTRUCT, DESCRIBE). The CLI's ``--format`` names, the
``format=`` URL override and the ``Accept`` header all resolve through them.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, Literal

import pyoxigraph as ox

from iomkg.store.base import QueryResult
from iomkg.vocab import QUERY_ONLY_PREFIXES

Kind = Literal["results", "graph"]


@dataclass(frozen=True)
class Format:
    """One serialisation: its short name, media type and how pyoxigraph writes it."""

    name: str
    media_type: str
    extension: str
    kind: Kind
    results_format: ox.QueryResultsFormat | None = None
    rdf_format: ox.RdfFormat | None = None
    aliases: tuple[str, ...] = ()

    def download_name(self, stem: str = "result") -> str:
        """A file name for a download: tables by their short name (``result.json``, not ``.srj``).

        >>> by_name("json", "results").download_name(), by_name("xml", "graph").download_name()
        ('result.json', 'result.rdf')
        """
        return f"{stem}.{self.name if self.kind == 'results' else self.extension}"

    @property
    def content_type(self) -> str:
        """The Content-Type header value (text formats say their charset)."""
        if self.media_type.startswith("text/") or self.media_type.endswith(("+json", "/json")):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


RESULT_FORMATS: tuple[Format, ...] = (
    Format(
        "json",
        "application/sparql-results+json",
        "srj",
        "results",
        ox.QueryResultsFormat.JSON,
        aliases=("application/json", "srj"),
    ),
    Format(
        "xml",
        "application/sparql-results+xml",
        "srx",
        "results",
        ox.QueryResultsFormat.XML,
        aliases=("application/xml", "text/xml", "srx"),
    ),
    Format("csv", "text/csv", "csv", "results", ox.QueryResultsFormat.CSV),
    Format("tsv", "text/tab-separated-values", "tsv", "results", ox.QueryResultsFormat.TSV),
)

GRAPH_FORMATS: tuple[Format, ...] = (
    Format(
        "ttl",
        "text/turtle",
        "ttl",
        "graph",
        rdf_format=ox.RdfFormat.TURTLE,
        aliases=("turtle", "application/x-turtle", "application/turtle", "n3"),
    ),
    Format(
        "jsonld",
        "application/ld+json",
        "jsonld",
        "graph",
        rdf_format=ox.RdfFormat.JSON_LD,
        aliases=("json-ld", "json", "application/json"),
    ),
    Format(
        "nt",
        "application/n-triples",
        "nt",
        "graph",
        rdf_format=ox.RdfFormat.N_TRIPLES,
        aliases=("ntriples", "n-triples", "text/plain"),
    ),
    Format(
        "xml",
        "application/rdf+xml",
        "rdf",
        "graph",
        rdf_format=ox.RdfFormat.RDF_XML,
        # Not application/xml or text/xml: browsers accept those (q=0.9) for pages, and
        # would get RDF/XML instead of Turtle; an RDF/XML client asks for application/rdf+xml.
        aliases=("rdfxml", "rdf", "rdf+xml"),
    ),
    Format(
        "nq",
        "application/n-quads",
        "nq",
        "graph",
        rdf_format=ox.RdfFormat.N_QUADS,
        aliases=("nquads", "n-quads"),
    ),
    Format("trig", "application/trig", "trig", "graph", rdf_format=ox.RdfFormat.TRIG),
)

TABLES: dict[Kind, tuple[Format, ...]] = {"results": RESULT_FORMATS, "graph": GRAPH_FORMATS}

#: What a linked-data resource, the ontology or a description is offered in (one graph each).
RESOURCE_FORMATS: tuple[Format, ...] = tuple(
    fmt for fmt in GRAPH_FORMATS if fmt.name in ("ttl", "jsonld", "nt", "xml")
)

#: The formats that say which named graph each statement is in.
QUAD_FORMATS: tuple[Format, ...] = tuple(fmt for fmt in GRAPH_FORMATS if fmt.name in ("nq", "trig"))

#: What a resource or graph page is offered in: the graph formats and, so that the graph each
#: statement came from can be read, N-Quads and TriG.
PAGE_FORMATS: tuple[Format, ...] = RESOURCE_FORMATS + QUAD_FORMATS

#: Media types that mean "a person with a browser": an extra offer on pages, never a data format.
HTML_MEDIA_TYPES = ("text/html", "application/xhtml+xml")


def kind_of(result: QueryResult) -> Kind:
    return "graph" if isinstance(result, ox.QueryTriples) else "results"


def by_name(name: str, kind: Kind | tuple[Format, ...]) -> Format | None:
    """The format called ``name`` (short name, alias or media type) for this kind of result.

    >>> by_name("csv", "results").media_type
    'text/csv'
    >>> by_name("text/turtle", "graph").name
    'ttl'
    """
    wanted = name.strip().lower()
    for fmt in TABLES[kind] if isinstance(kind, str) else kind:
        if wanted in (fmt.name, fmt.media_type, fmt.extension, *fmt.aliases):
            return fmt
    return None


def offered_media_types(kind: Kind | tuple[Format, ...]) -> list[str]:
    return [fmt.media_type for fmt in (TABLES[kind] if isinstance(kind, str) else kind)]


def negotiate(
    accept: Sequence[tuple[str, float]], kind: Kind | tuple[Format, ...]
) -> Format | None:
    """Pick the best format for parsed ``Accept`` entries (``(media_range, quality)`` pairs).

    The first format of the table wins ties and ``*/*``; an empty Accept means ``*/*``.
    Returns ``None`` when nothing offered is acceptable (answer 406).

    >>> negotiate([("text/csv", 1.0)], "results").name
    'csv'
    >>> negotiate([("image/png", 1.0)], "results") is None
    True
    """
    table = TABLES[kind] if isinstance(kind, str) else kind
    if not accept:
        return table[0]
    best: tuple[float, int, Format] | None = None
    for position, fmt in enumerate(table):
        quality = _quality_for(fmt, accept)
        if quality <= 0:
            continue
        candidate = (quality, -position, fmt)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    return best[2] if best else None


def prefers_html(accept: Sequence[tuple[str, float]], *tables: tuple[Format, ...]) -> bool:
    """True when the client names HTML itself and likes it at least as much as any data format.

    Only an explicit ``text/html`` counts (``*/*`` means a program, such as curl), and a data
    format the client names with a higher quality wins: a browser's ``application/xml;q=0.9``
    does not, a SPARQL client's ``application/sparql-results+json`` does.

    >>> browser = [("text/html", 1.0), ("application/xml", 0.9), ("*/*", 0.8)]
    >>> prefers_html(browser, RESULT_FORMATS)
    True
    >>> prefers_html([("application/sparql-results+json", 1.0), ("*/*", 0.9)], RESULT_FORMATS)
    False
    """
    html = max(
        (q for media, q in accept if media.split(";", 1)[0].strip().lower() in HTML_MEDIA_TYPES),
        default=0.0,
    )
    if html <= 0:
        return False
    explicit = [
        _quality_for(fmt, [(m, q) for m, q in accept if not m.strip().endswith("*")])
        for table in tables
        for fmt in table
    ]
    return html >= max(explicit, default=0.0)


def _quality_for(fmt: Format, accept: Sequence[tuple[str, float]]) -> float:
    """Quality of the most specific matching range (RFC 9110 §12.5.1)."""
    names = (fmt.media_type, *[a for a in fmt.aliases if "/" in a])
    best_specificity, best_quality = -1, 0.0
    for media_range, quality in accept:
        media_range = media_range.split(";", 1)[0].strip().lower()
        if media_range in names:
            specificity = 2
        elif media_range.endswith("/*") and fmt.media_type.startswith(media_range[:-1]):
            specificity = 1
        elif media_range == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best_specificity:
            best_specificity, best_quality = specificity, quality
    return best_quality


# Serialisation -----------------------------------------------------------------------------


def serialize(
    result: QueryResult, fmt: Format, output: IO[bytes], prefixes: dict[str, str] | None = None
) -> None:
    """Write a query result in ``fmt`` to a binary stream."""
    if isinstance(result, ox.QueryTriples):
        write_graph(result, fmt, output, prefixes)
        return
    if fmt.results_format is None:
        raise ValueError(f"{fmt.name} is not a results format")
    result.serialize(output, fmt.results_format)


def write_graph(
    triples: Iterable[ox.Triple],
    fmt: Format,
    output: IO[bytes],
    prefixes: Mapping[str, str] | None = None,
    max_triples: int | None = None,
) -> bool:
    """Write a CONSTRUCT or DESCRIBE answer, at most ``max_triples`` of it; True when cut.

    The one writer of graph results, for the CLI, the saved-query API and ``/sparql`` alike.
    Each triple is written once: a graph is a set, and over the union default graph a DESCRIBE
    repeats a triple once per named graph that states it. JSON-LD is compacted with a
    ``@context`` of the ``prefixes`` the triples use, as the pages are (pyoxigraph writes it
    expanded, without a context): the answer is held in memory for that, at most the row cap.
    """
    if fmt.rdf_format is None:
        raise ValueError(f"{fmt.name} is not a graph format")
    cut = False

    def capped() -> Iterator[ox.Triple]:
        nonlocal cut
        for count, triple in enumerate(distinct(triples)):
            if max_triples is not None and count >= max_triples:
                cut = True
                return
            yield triple

    if fmt.rdf_format == ox.RdfFormat.JSON_LD:
        kept = list(capped())
        context = writer_prefixes(fmt, used_prefixes(kept, prefixes) if prefixes else None)
        output.write(_compact_jsonld(kept, context or {}))
        return cut
    ox.serialize(capped(), output, fmt.rdf_format, prefixes=writer_prefixes(fmt, prefixes))
    return cut


def distinct(triples: Iterable[ox.Triple]) -> Iterator[ox.Triple]:
    """The triples in their order, each once.

    >>> t = ox.Triple(ox.NamedNode("http://a/s"), ox.NamedNode("http://a/p"), ox.Literal("o"))
    >>> len(list(distinct([t, t])))
    1
    """
    seen: set[ox.Triple] = set()
    for triple in triples:
        if triple not in seen:
            seen.add(triple)
            yield triple


def writer_prefixes(fmt: Format, prefixes: Mapping[str, str] | None) -> dict[str, str] | None:
    """The prefixes a writer of ``fmt`` should declare: none for formats without prefixes, and
    never the query-only ones (``id:``, ``graph:``: Turtle would escape every ``/`` after them).

    >>> writer_prefixes(by_name("ttl", "graph"), {"id": "http://ex/id/", "skos": "http://s#"})
    {'skos': 'http://s#'}
    >>> writer_prefixes(by_name("nt", "graph"), {"skos": "http://s#"}) is None
    True
    """
    if not prefixes or fmt.rdf_format not in (
        ox.RdfFormat.TURTLE,
        ox.RdfFormat.TRIG,
        ox.RdfFormat.JSON_LD,
    ):
        return None
    kept = {name: iri for name, iri in prefixes.items() if name not in QUERY_ONLY_PREFIXES}
    return kept or None


def serialize_to_bytes(
    result: QueryResult, fmt: Format, prefixes: dict[str, str] | None = None
) -> bytes:
    buffer = io.BytesIO()
    serialize(result, fmt, buffer, prefixes)
    return buffer.getvalue()


_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_PLAIN_DATATYPES = (
    "http://www.w3.org/2001/XMLSchema#string",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString",
)


def used_prefixes(triples: Iterable[ox.Triple], prefixes: Mapping[str, str]) -> dict[str, str]:
    """The entries of ``prefixes`` that some IRI of ``triples`` (datatypes too) would use.

    ``rdf:type`` is left out: Turtle writes it ``a``.

    >>> x, p = ox.NamedNode("http://a.org/x"), ox.NamedNode("http://b.org/p")
    >>> t = ox.Triple(x, p, ox.Literal("1"))
    >>> used_prefixes([t], {"a": "http://a.org/", "c": "http://c.org/"})
    {'a': 'http://a.org/'}
    """
    iris: set[str] = set()
    for triple in triples:
        for term in (triple.subject, triple.object):
            if isinstance(term, ox.NamedNode):
                iris.add(term.value)
            elif isinstance(term, ox.Literal) and term.datatype.value not in _PLAIN_DATATYPES:
                iris.add(term.datatype.value)
        if triple.predicate.value != _RDF_TYPE:
            iris.add(triple.predicate.value)
    return {
        name: namespace
        for name, namespace in prefixes.items()
        if any(len(iri) > len(namespace) and iri.startswith(namespace) for iri in iris)
    }


def graph_to_bytes(
    triples: Iterable[ox.Triple], fmt: Format, prefixes: Mapping[str, str] | None = None
) -> bytes:
    """A small graph (a page's RDF, a description) serialised tidily, in one go.

    Triples are grouped by subject (in order of first appearance), so Turtle reads top-down;
    Turtle and TriG declare only the prefixes the triples use; JSON-LD is compacted with a
    ``@context`` of those prefixes (rdflib's serializer: pyoxigraph writes no context).
    """
    if fmt.rdf_format is None:
        raise ValueError(f"{fmt.name} is not a graph format")
    grouped = _grouped_by_subject(triples)
    names = writer_prefixes(fmt, used_prefixes(grouped, prefixes) if prefixes else None)
    if fmt.rdf_format == ox.RdfFormat.JSON_LD:
        return _compact_jsonld(grouped, names or {})
    buffer = io.BytesIO()
    ox.serialize(grouped, buffer, fmt.rdf_format, prefixes=names)
    return buffer.getvalue()


def dataset_to_bytes(
    quads: Iterable[ox.Quad], fmt: Format, prefixes: Mapping[str, str] | None = None
) -> bytes:
    """A small set of quads (a page's statements with their graphs) in N-Quads or TriG, graph by
    graph and within each grouped by subject; TriG declares only the prefixes used."""
    if fmt not in QUAD_FORMATS or fmt.rdf_format is None:
        raise ValueError(f"{fmt.name} does not say which graph a statement is in")
    by_graph: dict[str, list[ox.Triple]] = {}
    names: dict[str, ox.NamedNode | ox.BlankNode | ox.DefaultGraph] = {}
    for quad in quads:
        key = str(quad.graph_name)
        names.setdefault(key, quad.graph_name)
        by_graph.setdefault(key, []).append(quad.triple)
    ordered = [
        ox.Quad(t.subject, t.predicate, t.object, names[key])
        for key in sorted(by_graph)
        for t in _grouped_by_subject(by_graph[key])
    ]
    used = used_prefixes([q.triple for q in ordered], prefixes) if prefixes else None
    buffer = io.BytesIO()
    ox.serialize(ordered, buffer, fmt.rdf_format, prefixes=writer_prefixes(fmt, used))
    return buffer.getvalue()


def _grouped_by_subject(triples: Iterable[ox.Triple]) -> list[ox.Triple]:
    """Subjects in order of first appearance; in each, ``rdf:type`` first, then by predicate.

    Duplicates go (a CONSTRUCT repeats a triple once per solution that makes it)."""
    by_subject: dict[object, dict[str, list[ox.Triple]]] = {}
    for triple in dict.fromkeys(triples):
        group = by_subject.setdefault(triple.subject, {_RDF_TYPE: []})
        group.setdefault(triple.predicate.value, []).append(triple)
    return [
        triple
        for group in by_subject.values()
        for same_predicate in group.values()
        for triple in same_predicate
    ]


def _compact_jsonld(triples: Sequence[ox.Triple], context: Mapping[str, str]) -> bytes:
    import rdflib  # only for this: a JSON-LD writer that compacts with a context

    buffer = io.BytesIO()
    ox.serialize(triples, buffer, ox.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph()
    graph.parse(data=buffer.getvalue().decode("utf-8"), format="nt")
    if not context:
        return graph.serialize(format="json-ld", indent=2).encode("utf-8")
    return graph.serialize(
        format="json-ld", context=dict(context), auto_compact=True, indent=2
    ).encode("utf-8")


# Text table (CLI) --------------------------------------------------------------------------


def term_text(term: object) -> str:
    """A short, readable form of a term for tables: IRIs bare, literals by value."""
    if term is None:
        return ""
    if isinstance(term, ox.Literal):
        return term.value + (f"@{term.language}" if term.language else "")
    return str(getattr(term, "value", term))


def text_table(result: QueryResult, max_width: int = 60) -> Iterator[str]:
    """Lines of a plain-text table for SELECT, or ``true``/``false`` for ASK."""
    if isinstance(result, ox.QueryBoolean):
        yield "true" if bool(result) else "false"
        return
    if isinstance(result, ox.QueryTriples):
        raise ValueError(
            "a CONSTRUCT or DESCRIBE result is a graph: use --format ttl, jsonld or nt"
        )
    names = [variable.value for variable in result.variables]
    solutions = [[solution[name] for name in names] for solution in result]
    header = list(names)
    for column, name in enumerate(names):
        language = _common_language(row[column] for row in solutions)
        if language is not None:  # said once, in the header, rather than on every cell
            header[column] = f"{name}@{language}"
            for row in solutions:
                if row[column] is not None:
                    row[column] = ox.Literal(row[column].value)
    rows = [[_clip(term_text(term), max_width) for term in row] for row in solutions]
    yield from _render_table(header, rows)


def _common_language(terms: Iterable[object]) -> str | None:
    """The language tag every bound term of a column has, if they are all literals with the same
    one (``name@en`` in the header); else ``None``, and each cell keeps its own tag."""
    languages = {
        term.language if isinstance(term, ox.Literal) else None
        for term in terms
        if term is not None
    }
    if len(languages) == 1:
        (language,) = languages
        return language
    return None


def _clip(text: str, width: int) -> str:
    text = text.replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _render_table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> Iterator[str]:
    rows = list(rows)
    widths = [max([len(h), *(len(row[i]) for row in rows)]) for i, h in enumerate(header)]
    yield "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip()
    yield "  ".join("-" * w for w in widths)
    for row in rows:
        yield "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
    yield f"({len(rows)} row{'s' if len(rows) != 1 else ''})"
