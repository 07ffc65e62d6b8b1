"""Terms and result tables as plain values for the HTML pages: labels, compact names, local links.

The templates never see a pyoxigraph object: they get :class:`TermView` values that already know
whether they link to a page of this server (an IRI under the base namespace), to the outside
world, or nowhere (literals, blank nodes).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import cached_property
from typing import Literal

import pyoxigraph as ox

from iomkg.formats import Format, Kind
from iomkg.vocab import prefixes

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
#: Path prefixes (relative to the base) that this server dereferences.
LOCAL_ROOTS = ("id/", "ontology", "graph/")


@dataclass(frozen=True)
class LinkMap:
    """Maps IRIs under the base namespace to paths of this server, and IRIs to compact names.

    >>> links = LinkMap("http://example.org/kg/")
    >>> links.local_path("http://example.org/kg/id/country/NO")
    '/id/country/NO'
    >>> links.local_path("http://www.wikidata.org/entity/Q20") is None
    True
    >>> links.compact("http://www.w3.org/2004/02/skos/core#prefLabel")
    'skos:prefLabel'
    """

    base_iri: str

    def local_path(self, iri: str) -> str | None:
        if not iri.startswith(self.base_iri):
            return None
        rest = iri[len(self.base_iri) :]
        return "/" + rest if rest.startswith(LOCAL_ROOTS) else None

    @cached_property
    def _prefixes(self) -> dict[str, str]:
        return prefixes(self.base_iri)

    def compact(self, iri: str) -> str:
        """``prefix:local`` for a known namespace (the longest that fits), else the IRI itself."""
        best: tuple[str, str] | None = None
        for name, namespace in self._prefixes.items():
            local = iri[len(namespace) :]
            if (
                iri.startswith(namespace)
                and local
                and all(ch.isalnum() or ch in "-_./" for ch in local)
                and (best is None or len(namespace) > len(self._prefixes[best[0]]))
            ):
                best = (name, local)
        return f"{best[0]}:{best[1]}" if best else iri

    def term(self, term: object, label: str | None = None) -> TermView:
        """The view of a pyoxigraph term (``None`` gives an empty cell)."""
        if isinstance(term, ox.NamedNode):
            return TermView(
                "iri",
                term.value,
                label=label,
                compact=self.compact(term.value),
                local_path=self.local_path(term.value),
            )
        if isinstance(term, ox.BlankNode):
            return TermView("bnode", term.value, label=label)
        if isinstance(term, ox.Literal):
            datatype = term.datatype.value
            return TermView(
                "literal",
                term.value,
                language=term.language,
                datatype=None if datatype in (XSD_STRING, RDF_LANG_STRING) else datatype,
                datatype_compact=None
                if datatype in (XSD_STRING, RDF_LANG_STRING)
                else self.compact(datatype),
            )
        if term is None:
            return TermView("none", "")
        return TermView("literal", str(term))

    def property_term(self, term: object, label: str | None = None) -> TermView:
        """A property as pages name it: ``label`` (the ontology's) or a readable name.

        >>> LinkMap("http://example.org/kg/").property_term(
        ...     ox.NamedNode("https://schema.org/endDate")).text
        'end date'
        """
        view = self.term(term)
        if view.kind != "iri":
            return view
        return replace(view, label=label or readable_name(view.compact or view.value))


@dataclass(frozen=True)
class TermView:
    """One RDF term as a page shows it."""

    kind: Literal["iri", "bnode", "literal", "none"]
    value: str
    label: str | None = None
    compact: str | None = None
    local_path: str | None = None
    language: str | None = None
    datatype: str | None = None
    datatype_compact: str | None = None

    @property
    def text(self) -> str:
        """What to print: the label, else the compact name, else the value."""
        if self.kind == "bnode":
            return self.label or "_:" + self.value
        return self.label or self.compact or self.value

    @property
    def is_external(self) -> bool:
        return self.kind == "iri" and self.local_path is None

    @property
    def external_href(self) -> str | None:
        """The IRI as a link out, only for http(s): a ``javascript:`` IRI must not become a link."""
        if self.is_external and self.value.lower().startswith(("http://", "https://")):
            return self.value
        return None


@dataclass(frozen=True)
class ResultTable:
    """A query's answer for the HTML page: a table of rows, a boolean, or triples as rows."""

    kind: Kind
    columns: tuple[str, ...]
    rows: tuple[tuple[TermView, ...], ...]
    boolean: bool | None = None
    more: bool = False  # rows beyond the display limit exist (download for all of them)


def result_table(kind: Kind, fmt: Format, body: bytes, links: LinkMap, limit: int) -> ResultTable:
    """Parse a serialised answer (any SPARQL results or RDF format) into at most ``limit`` rows."""
    if kind == "results":
        if fmt.results_format is None:
            raise ValueError(f"{fmt.name} is not a results format")
        parsed = ox.parse_query_results(body, fmt.results_format)
        if isinstance(parsed, ox.QueryBoolean):
            return ResultTable(kind, (), (), boolean=bool(parsed))
        columns = tuple(variable.value for variable in parsed.variables)
        solutions = list(itertools.islice(parsed, limit + 1))
        rows = tuple(
            tuple(links.term(solution[name]) for name in columns) for solution in solutions[:limit]
        )
        return ResultTable(kind, columns, rows, more=len(solutions) > limit)
    if fmt.rdf_format is None:
        raise ValueError(f"{fmt.name} is not an RDF format")
    triples = list(itertools.islice(ox.parse(body, fmt.rdf_format), limit + 1))
    rows = tuple(
        (links.term(t.subject), links.term(t.predicate), links.term(t.object))
        for t in triples[:limit]
    )
    return ResultTable(kind, ("subject", "predicate", "object"), rows, more=len(triples) > limit)


# Breaks between words of a camelCase name: "endDate", "ISOCode", "inXSDgYear".
_WORD_BREAK = re.compile(
    r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})|(?<=[A-Z]{2})(?=[a-z][A-Z])|[_-]+"
)


def readable_name(name: str) -> str:
    """Words of a term's local name, for a property the ontology gives no label.

    >>> readable_name("schema:endDate"), readable_name("prov:wasDerivedFrom")
    ('end date', 'was derived from')
    >>> readable_name("http://example.org/terms#ISOCode"), readable_name("time:inXSDgYear")
    ('ISO code', 'in XSD g year')
    """
    local = re.split(r"[#/:]", name.rstrip("/#"))[-1] or name
    words = [word for word in _WORD_BREAK.split(local) if word]
    return " ".join(word if word.isupper() else word.lower() for word in words) or local


def first_literal(values: Iterable[object], language: str = "en") -> str | None:
    """The best label among literals: the wanted language first, then no language, then any."""
    literals = [value for value in values if isinstance(value, ox.Literal)]
    for wanted in (language, None):
        for literal in literals:
            if literal.language == wanted:
                return literal.value
    return literals[0].value if literals else None
