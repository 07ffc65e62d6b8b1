"""SHACL with pySHACL (the reference), and the result type both validators report in.

:class:`ShaclResult` is one validation result as pySHACL writes it in its report (focus node,
path, source shape, constraint component, severity, value, messages); pySHACL's report graph is
read into it by :func:`pyshacl_results`, and :mod:`iomkg.validator` (the build's default, SPARQL on
pyoxigraph) produces it directly, so the two are compared result for result.

pySHACL hands rdflib the text of each SPARQL-based constraint once per focus node, and rdflib
parses and translates it every time (tens of milliseconds each): on this graph that is ~90 % of
the validation time. :func:`cached_sparql_parsing` parses each distinct text once, with the
same results (the shape tests, which assert every expected result exactly, run with it).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
import rdflib
from pyshacl import validate as shacl_validate
from rdflib.namespace import RDF, SH
from rdflib.plugins.sparql import processor as sparql_processor
from rdflib.plugins.sparql.algebra import translateQuery
from rdflib.plugins.sparql.parser import parseQuery


@contextmanager
def cached_sparql_parsing() -> Iterator[None]:
    """While active, rdflib parses each SPARQL text once (keyed by text, base and namespaces)."""
    original = sparql_processor.SPARQLProcessor.query

    @functools.lru_cache(maxsize=512)
    def prepared(text: str, base: str | None, namespaces: tuple[tuple[str, Any], ...]) -> Any:
        return translateQuery(parseQuery(text), base, dict(namespaces))

    def query(
        self: Any,
        query_object: Any,
        initBindings: Mapping[str, Any] | None = None,
        initNs: Mapping[str, Any] | None = None,
        base: str | None = None,
        DEBUG: bool = False,
    ) -> Any:
        if isinstance(query_object, str):
            query_object = prepared(query_object, base, tuple(sorted((initNs or {}).items())))
        return original(self, query_object, initBindings, initNs, base, DEBUG)

    sparql_processor.SPARQLProcessor.query = query  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        sparql_processor.SPARQLProcessor.query = original  # type: ignore[method-assign]


def validate_graph(data: rdflib.Graph, shapes: rdflib.Graph) -> tuple[bool, rdflib.Graph]:
    """Validate as every part of iomkg does: no inference, SHACL-AF on, warnings do not fail.

    ``inplace`` spares a copy of ``data``: the shapes hold no SHACL rules, so nothing is written.
    """
    with cached_sparql_parsing():
        conforms, report, _text = shacl_validate(
            data,
            shacl_graph=shapes,
            inference="none",
            advanced=True,
            allow_warnings=True,
            inplace=True,
        )
    return bool(conforms), report


def top_level_results(report: rdflib.Graph) -> list[rdflib.term.Node]:
    """The report's own results; nested ``sh:detail`` results explain one, they are not one."""
    root = report.value(None, RDF.type, SH.ValidationReport, any=False)
    return list(report.objects(root, SH.result)) if root is not None else []


# The result both validators give -----------------------------------------------------------


@dataclass(frozen=True)
class ShaclResult:
    """One result of a validation report; terms are rdflib's (blank nodes keep their labels)."""

    focus: rdflib.term.Node
    path: rdflib.term.Node | None  # a node of the shapes graph (an IRI or a path expression)
    shape: rdflib.term.Node
    component: rdflib.term.Node
    severity: rdflib.term.Node
    value: rdflib.term.Node | None
    messages: tuple[str, ...]

    def key(self) -> tuple[str, ...]:
        """A total order (and identity) that does not depend on which validator made it."""
        return (
            self.focus.n3(),
            _node_text(self.path),
            self.shape.n3(),
            self.component.n3(),
            self.severity.n3(),
            _node_text(self.value),
            "\n".join(self.messages),
        )


def _node_text(node: rdflib.term.Node | None) -> str:
    return "" if node is None else node.n3()


def pyshacl_results(report: rdflib.Graph) -> list[ShaclResult]:
    """The top-level results of a pySHACL report graph, sorted."""
    found = []
    for result in top_level_results(report):
        focus = report.value(result, SH.focusNode)
        shape = report.value(result, SH.sourceShape)
        component = report.value(result, SH.sourceConstraintComponent)
        assert focus is not None and shape is not None and component is not None
        found.append(
            ShaclResult(
                focus=focus,
                path=report.value(result, SH.resultPath),
                shape=shape,
                component=component,
                severity=report.value(result, SH.resultSeverity) or SH.Violation,
                value=report.value(result, SH.value),
                messages=tuple(sorted(str(m) for m in report.objects(result, SH.resultMessage))),
            )
        )
    return sorted(found, key=ShaclResult.key)


def format_sparql_message(template: str, variables: Mapping[str, rdflib.term.Node]) -> str:
    """A SPARQL constraint's message with ``{?name}`` / ``{$name}`` filled in, as pySHACL does."""
    for name, value in variables.items():
        template = re.sub(f"{{[?$]{name}}}", str(value), template)
    return template


_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def to_rdflib(term: ox.NamedNode | ox.BlankNode | ox.Literal | ox.Triple) -> rdflib.term.Node:
    """The rdflib term for a pyoxigraph term (plain strings stay plain, as rdflib parses them)."""
    if isinstance(term, ox.NamedNode):
        return rdflib.URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return rdflib.BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return rdflib.Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return rdflib.Literal(term.value, datatype=None if datatype == _XSD_STRING else datatype)
    raise TypeError(f"RDF-star triples are not supported here: {term}")
