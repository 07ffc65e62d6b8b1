"""SHACL validation with pySHACL, made fast enough to run on every build.

pySHACL hands rdflib the text of each SPARQL-based constraint once per focus node, and rdflib
parses and translates it every time (tens of milliseconds each): on this graph that is ~90 % of
the validation time. :func:`cached_sparql_parsing` parses each distinct text once, with the
same results (the shape tests, which assert every expected result exactly, run with it).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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
