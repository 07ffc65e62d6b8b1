"""What crosses between the executor's processes comes back as it went."""

from __future__ import annotations

import dataclasses

import pyoxigraph as ox
import pytest

from iomkg import formats
from iomkg.formats import Format
from iomkg.serving.executor import wire
from iomkg.serving.service import QueryRequest
from iomkg.vocab import prefixes

BASE = "https://example.org/kg/"
JSON = formats.by_name("json", "results")
TURTLE = formats.by_name("ttl", "graph")


def round_trip(request: QueryRequest) -> tuple[QueryRequest, float, int]:
    frame = wire.encode_query(request, 12.5, 77)
    frame_type, length = wire.FRAME.unpack_from(frame)
    assert frame_type == wire.REQUEST and length == len(frame) - wire.FRAME.size
    return wire.decode_query(frame[wire.FRAME.size :])


def every_field_set() -> QueryRequest:
    """A request with no field left at its default (the test below checks that)."""
    return QueryRequest(
        sparql="SELECT * WHERE { ?s ?p ?o }",
        results_format=JSON,
        graph_format=TURTLE,
        default_graphs=(BASE + "graph/a",),
        named_graphs=(BASE + "graph/b", BASE + "graph/c"),
        substitutions={
            "s": ox.NamedNode(BASE + "id/x"),
            "o": ox.Literal("é", language="fr"),
            "n": ox.Literal("3", datatype=ox.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        },
        base_iri=BASE,
        max_rows=5,
        prefixes={"ex": "http://example.org/"},
        allowed_services=("https://query.example.org/sparql",),
    )


def test_every_field_crosses() -> None:
    request = every_field_set()
    defaults = QueryRequest("")
    for field in dataclasses.fields(QueryRequest):
        assert getattr(request, field.name) != getattr(defaults, field.name), field.name
    assert round_trip(request) == (request, 12.5, 77)


def test_the_usual_prefixes_and_known_formats_go_by_reference() -> None:
    usual = QueryRequest("ASK {}", JSON, TURTLE, base_iri=BASE, prefixes=prefixes(BASE))
    unusual = dataclasses.replace(usual, prefixes={**prefixes(BASE), "extra": "http://x/"})
    assert round_trip(usual)[0] == usual and round_trip(unusual)[0] == unusual
    assert len(wire.encode_query(usual, 1, 1)) < len(wire.encode_query(unusual, 1, 1)) - 500


def test_a_format_of_its_own_still_crosses() -> None:
    assert JSON is not None and JSON.results_format is not None
    own = Format("mine", "application/x-mine", "mine", "results", JSON.results_format, None, ())
    request = QueryRequest("ASK {}", results_format=own)
    crossed = round_trip(request)[0]
    assert crossed == request and crossed.results_format is not own


@pytest.mark.parametrize(
    "error",
    [ValueError("plain"), KeyError("key"), RuntimeError("runtime")],
)
def test_exceptions_keep_their_class_and_words(error: Exception) -> None:
    rebuilt = wire.rebuild_exception(wire.exception_payload(error))
    assert type(rebuilt) is type(error) and str(rebuilt) == str(error)
