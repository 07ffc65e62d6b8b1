"""The row-capped SELECT writers give what pyoxigraph's own serialisers give."""

from __future__ import annotations

import csv
import io

import pyoxigraph as ox
import pytest

from iomkg import formats
from iomkg.serving.executor import write_solutions, write_triples
from iomkg.serving.executor.writers import answer, write_small_solutions
from iomkg.serving.service import QueryRequest
from iomkg.store.oxigraph import OxigraphStore

from .conftest import EX, sample_quads

QUERIES = [
    "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o",
    "SELECT ?s ?missing ?o WHERE { ?s ?p ?o OPTIONAL { ?s <http://none> ?missing } } "
    "ORDER BY ?o LIMIT 300",
    "SELECT (COUNT(*) AS ?n) (SUM(?v) AS ?total) (AVG(?v) AS ?mean) "
    "WHERE { ?s ?p ?v FILTER(isNumeric(?v)) }",
    "SELECT * WHERE { } ",
    "SELECT ?x WHERE { } LIMIT 0",
    "SELECT ?o (STRLEN(?o) AS ?n) (LANG(?o) AS ?lang) "
    "WHERE { ?s ?p ?o FILTER(isLiteral(?o)) } ORDER BY ?o LIMIT 200",
]


@pytest.fixture(scope="module")
def store() -> ox.Store:
    store = ox.Store()
    store.bulk_extend(sample_quads(60))
    odd = ox.NamedNode(EX + "odd")
    for value in (
        ox.Literal("control \u0001 and \u007f"),
        ox.Literal("it's <b>&amp;</b>", language="ar", direction=ox.BaseDirection.RTL),
        ox.Literal(""),
        ox.Literal("-7", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        ox.Literal("x", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        ox.Triple(odd, ox.NamedNode(EX + "says"), ox.Literal('quoted, "inner"')),
        ox.NamedNode("http://example.org/a?b=1&c='q'"),
    ):
        store.add(ox.Quad(odd, ox.NamedNode(EX + "v"), value, ox.NamedNode(EX + "odd")))
    return store


def ours(store: ox.Store, query: str, name: str, max_rows: int = 10**9) -> tuple[bytes, bool]:
    result = store.query(query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    out = io.BytesIO()
    fmt = formats.by_name(name, "results")
    assert fmt is not None
    cut = write_solutions(result, fmt, out, max_rows)
    return out.getvalue(), cut


def native(store: ox.Store, query: str, name: str) -> bytes:
    result = store.query(query, use_default_graph_as_union=True)
    assert isinstance(result, ox.QuerySolutions)
    fmt = formats.by_name(name, "results")
    assert fmt is not None and fmt.results_format is not None
    data = result.serialize(format=fmt.results_format)
    assert data is not None
    return data


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("name", ["json", "csv", "tsv"])
def test_text_formats_are_byte_for_byte_pyoxigraphs(store: ox.Store, query: str, name: str) -> None:
    data, cut = ours(store, query, name)
    assert not cut
    assert data == native(store, query, name)


@pytest.mark.parametrize("query", QUERIES)
def test_xml_parses_to_the_same_solutions(store: ox.Store, query: str) -> None:
    data, _ = ours(store, query, "xml")
    mine = ox.parse_query_results(data, format=ox.QueryResultsFormat.XML)
    theirs = ox.parse_query_results(native(store, query, "xml"), format=ox.QueryResultsFormat.XML)
    assert isinstance(mine, ox.QuerySolutions) and isinstance(theirs, ox.QuerySolutions)
    assert [v.value for v in mine.variables] == [v.value for v in theirs.variables]
    assert [tuple(row) for row in mine] == [tuple(row) for row in theirs]


@pytest.mark.parametrize("name", ["json", "xml", "csv", "tsv"])
def test_a_cut_result_is_still_a_valid_document(store: ox.Store, name: str) -> None:
    data, cut = ours(store, QUERIES[0], name, max_rows=3)
    assert cut
    if name == "csv":  # pyoxigraph does not read CSV results (lossy): the csv module does
        assert len(list(csv.reader(io.StringIO(data.decode(), newline="")))) == 1 + 3
        return
    fmt = formats.by_name(name, "results")
    assert fmt is not None and fmt.results_format is not None
    parsed = ox.parse_query_results(data, format=fmt.results_format)
    assert isinstance(parsed, ox.QuerySolutions) and len(list(parsed)) == 3


def test_graphs_are_cut_at_the_cap(store: ox.Store) -> None:
    result = store.query("CONSTRUCT WHERE { ?s ?p ?o }", use_default_graph_as_union=True)
    assert isinstance(result, ox.QueryTriples)
    out = io.BytesIO()
    fmt = formats.by_name("ttl", "graph")
    assert fmt is not None
    assert write_triples(result, fmt, out, 10, {"ex": EX}) is True
    assert out.getvalue().startswith(b"@prefix ex:")
    assert len(list(ox.parse(out.getvalue(), format=ox.RdfFormat.TURTLE))) == 10


# Small answers are written by pyoxigraph itself when their size proves they fit the cap -------


def cap_test_store(rows: int) -> OxigraphStore:
    store = OxigraphStore(ox.Store())
    store.raw.bulk_extend(
        [
            ox.Quad(ox.NamedNode(f"{EX}r/{n}"), ox.NamedNode(EX + "v"), ox.Literal(str(n)))
            for n in range(rows)
        ]
    )
    return store


@pytest.mark.parametrize("name", ["json", "csv", "tsv"])
@pytest.mark.parametrize("rows", [0, 1, 9, 10, 11, 30])
@pytest.mark.parametrize("twice", [True, False], ids=["embedded", "read-once"])
def test_the_row_cap_holds_on_both_paths(name: str, rows: int, twice: bool) -> None:
    """Whichever writer answers, a result of more than ``max_rows`` rows is cut and flagged,
    and one of at most ``max_rows`` is whole; the bytes are pyoxigraph's either way."""
    store = cap_test_store(rows)
    fmt = formats.by_name(name, "results")
    assert fmt is not None
    sparql = "SELECT ?s ?v WHERE { ?s ?p ?v } ORDER BY ?s"
    result_of = answer(
        store, QueryRequest(sparql, results_format=fmt), max_rows=10, evaluate_twice=twice
    )
    body = b"".join(result_of.body.chunks())
    assert result_of.truncated is (rows > 10) and result_of.kind == "results"
    limited = f"{sparql} LIMIT 10"
    result = store.raw.query(limited)
    assert isinstance(result, ox.QuerySolutions)
    assert body == result.serialize(format=fmt.results_format)


def test_a_few_rows_over_the_byte_budget_are_written_by_the_row_writer() -> None:
    """Two rows of long literals take more bytes than the budget for three rows of the
    shortest kind: pyoxigraph's writer stops, and the capped writer gives the whole answer."""
    store = OxigraphStore(ox.Store())
    for n in range(2):
        store.raw.add(
            ox.Quad(ox.NamedNode(f"{EX}{n}"), ox.NamedNode(EX + "p"), ox.Literal("x" * 50))
        )
    fmt = formats.by_name("tsv", "results")
    assert fmt is not None
    result = store.raw.query("SELECT ?o WHERE { ?s ?p ?o }")
    assert isinstance(result, ox.QuerySolutions)
    assert write_small_solutions(result, fmt, max_rows=3) is None
    whole = answer(store, QueryRequest("SELECT ?o WHERE { ?s ?p ?o }", results_format=fmt), 3)
    assert whole.truncated is False
    assert b"".join(whole.body.chunks()).count(b"\n") == 3


def test_xml_is_always_ours() -> None:
    """pyoxigraph's XML escapes less than ours (a carriage return would not survive a parser)."""
    fmt = formats.by_name("xml", "results")
    assert fmt is not None
    result = cap_test_store(3).raw.query("SELECT * WHERE { ?s ?p ?o }")
    assert isinstance(result, ox.QuerySolutions)
    assert write_small_solutions(result, fmt, max_rows=100) is None
