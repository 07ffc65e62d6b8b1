"""The SPARQL 1.1 Protocol parsing, as pure functions (no server, no Flask)."""

from __future__ import annotations

import random
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlencode

import pytest

from iomkg.config import Settings
from iomkg.serving import protocol
from iomkg.serving.protocol import (
    DescriptionCall,
    HttpRequest,
    ProtocolError,
    QueryCall,
    UpdateCall,
    parse_params,
    parse_request,
    percent_decode,
)

BASE = "https://w3id.org/iomkg/"
SELECT = "SELECT * WHERE { ?s ?p ?o }"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
UPDATE = "INSERT DATA { <id/x> <id/y> 1 }"
FORM = "application/x-www-form-urlencoded"
BROWSER = [
    ("text/html", 1.0),
    ("application/xhtml+xml", 1.0),
    ("application/xml", 0.9),
    ("*/*", 0.8),
]


def get(
    params: list[tuple[str, str]], accept: list[tuple[str, float]] | None = None, **kwargs: object
) -> HttpRequest:
    return HttpRequest("GET", urlencode(params).encode(), accept=accept or [], **kwargs)  # type: ignore[arg-type]


def post(
    content_type: str | None, body: bytes, query_string: bytes = b"", **kwargs: object
) -> HttpRequest:
    return HttpRequest("POST", query_string, content_type, body, **kwargs)  # type: ignore[arg-type]


def form(params: list[tuple[str, str]]) -> bytes:
    return urlencode(params).encode()


def refused(http: HttpRequest, settings: Settings | None = None) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_request(http, settings or Settings())
    return caught.value


def query_call(http: HttpRequest, settings: Settings | None = None) -> QueryCall:
    call = parse_request(http, settings or Settings())
    assert isinstance(call, QueryCall)
    return call


# Queries ---------------------------------------------------------------------------------------


def test_get_query_defaults() -> None:
    call = query_call(get([("query", SELECT)]))
    request = call.request
    assert request.sparql == SELECT and call.form == "SELECT" and not call.html
    assert request.base_iri == BASE  # relative IRIs resolve against the graph's base
    assert request.default_graphs is None and request.named_graphs is None  # union default graph
    assert request.results_format is not None and request.results_format.name == "json"
    assert request.graph_format is not None and request.graph_format.name == "ttl"
    assert request.allowed_services == ()


def test_post_form_and_direct_post_are_the_same_query() -> None:
    by_form = query_call(post(FORM, form([("query", SELECT)])))
    direct = query_call(post("application/sparql-query; charset=UTF-8", SELECT.encode()))
    assert by_form.request == direct.request


def test_form_body_is_decoded_once() -> None:
    # "%2525" is a literal "%25" once decoded; decoding twice would give "%".
    call = query_call(post(FORM, b"query=SELECT+*+WHERE+%7B+%3Fs+%3Fp+%2225%2525%22+%7D"))
    assert call.request.sparql == 'SELECT * WHERE { ?s ?p "25%25" }'


def test_dataset_parameters_are_repeatable_and_resolved() -> None:
    call = query_call(
        get(
            [
                ("query", SELECT),
                ("default-graph-uri", "graph/ontology"),
                ("default-graph-uri", "http://example.org/g"),
                ("named-graph-uri", "http://example.org/n"),
            ]
        )
    )
    assert call.request.default_graphs == (BASE + "graph/ontology", "http://example.org/g")
    assert call.request.named_graphs == ("http://example.org/n",)
    only_named = query_call(get([("query", SELECT), ("named-graph-uri", "http://example.org/n")]))
    assert only_named.request.default_graphs == ()  # the protocol's dataset replaces the query's


def test_bad_dataset_iri() -> None:
    error = refused(get([("query", SELECT), ("default-graph-uri", "http://a b")]))
    assert error.status == 400 and "default-graph-uri" in error.message


@pytest.mark.parametrize(
    ("params", "results", "graph"),
    [
        ([("format", "csv")], "csv", None),
        (
            [("format", "tsv"), ("format", "text/tab-separated-values")],
            "tsv",
            None,
        ),  # SPARQLWrapper
        ([("format", "json"), ("output", "json")], "json", "jsonld"),
        ([("format", "rdf+xml"), ("format", "application/rdf+xml")], None, "xml"),
        ([("format", "text/turtle")], None, "ttl"),
        ([("output", "xml")], "xml", "xml"),
    ],
)
def test_format_parameter_overrides_accept(
    params: list[tuple[str, str]], results: str | None, graph: str | None
) -> None:
    """format= wins over Accept; a kind it names no format for has none (406 for that kind)."""
    accept = [("application/sparql-results+json", 1.0), ("*/*", 0.1)]
    choice = protocol.choose_formats(params, accept)
    chosen = choice.results, choice.graph
    assert tuple(fmt.name if fmt else None for fmt in chosen) == (results, graph)


def test_format_parameter_of_the_other_kind_is_406() -> None:
    error = refused(get([("query", SELECT), ("format", "ttl")]))
    assert error.status == 406
    assert error.message == (
        "format=ttl does not fit a SELECT query; use one of: json, xml, csv, tsv"
    )


def test_unknown_format_parameter_lists_the_offers() -> None:
    error = refused(get([("query", SELECT), ("format", "yaml")]))
    assert error.status == 406 and "csv" in error.message and "ttl" in error.message


def test_nothing_acceptable_is_406_before_running() -> None:
    error = refused(get([("query", CONSTRUCT)], accept=[("text/csv", 1.0)]))
    assert error.status == 406 and "text/turtle" in error.message
    error = refused(get([("query", SELECT)], accept=[("image/png", 1.0)]))
    assert error.status == 406 and "application/sparql-results+json" in error.message


def test_browsers_get_html_and_clients_do_not() -> None:
    assert query_call(get([("query", SELECT)], accept=BROWSER)).html
    assert query_call(get([("query", SELECT), ("format", "html")])).html
    assert not query_call(get([("query", SELECT)], accept=[("*/*", 1.0)])).html
    assert not query_call(get([("query", SELECT), ("format", "json")], accept=BROWSER)).html


def test_service_is_refused_unless_allow_listed() -> None:
    federated = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    error = refused(get([("query", federated)]))
    assert error.status == 403 and "SERVICE" in error.message and "allow-list" in error.message
    allowed = Settings(service_allowlist=("http://127.0.0.1:9/sparql",))
    assert (
        query_call(get([("query", federated)]), allowed).request.allowed_services
        == allowed.service_allowlist
    )


# Refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http", "status", "words"),
    [
        (get([("query", SELECT), ("query", SELECT)]), 400, "2 'query' parameters"),
        (get([("update", UPDATE)]), 400, "not allowed by GET"),
        (get([("default-graph-uri", "http://g")]), 400, "no query="),
        (get([("query", "  ")]), 400, "empty"),
        (get([("query", UPDATE)]), 400, "SPARQL Update, not a query"),
        (post(FORM, form([("query", SELECT), ("update", UPDATE)])), 400, "both query= and update="),
        (post(FORM, form([("format", "json")])), 400, "neither query= nor update="),
        (post(None, SELECT.encode()), 415, "needs a Content-Type"),
        (post("text/plain", SELECT.encode()), 415, "text/plain is not supported"),
        (post("multipart/form-data; boundary=x", b"--x--"), 415, "not supported"),
        (
            post("application/sparql-query; charset=latin-1", SELECT.encode()),
            415,
            "charset=latin-1",
        ),
        (
            post("application/sparql-query", b"SELECT * WHERE { ?s ?p '\xff' }"),
            400,
            "not valid UTF-8",
        ),
        (post(FORM, b"query=%FF"), 400, "not valid UTF-8"),
        (HttpRequest("GET", b"query=%C3%28"), 400, "not valid UTF-8"),
        (
            post("application/sparql-query", SELECT.encode(), b"query=ASK%7B%7D"),
            400,
            "do not also give query=",
        ),
        (HttpRequest("PUT", b""), 405, "use GET or POST"),
    ],
)
def test_refusals(http: HttpRequest, status: int, words: str) -> None:
    error = refused(http)
    assert error.status == status
    assert words in error.message


def test_parse_params_keeps_blank_values_and_plus() -> None:
    assert parse_params(b"a=&b=1+2&c=%2B") == [("a", ""), ("b", "1 2"), ("c", "+")]


PIECES = [b"%", b"%2", b"%41", b"%zz", b"%4g", b"%%", b"\\", b"\\x41", b"\\n", b"a", b"+", b" "]


def test_percent_decoding_is_urllibs() -> None:
    """The C shortcut gives urllib's bytes for any input: escapes, stray ``%``, backslashes."""
    chance = random.Random(1951)
    samples = [
        bytes(chance.randrange(256) for _ in range(chance.randrange(40))) for _ in range(500)
    ]
    samples += [b"".join(chance.choices(PIECES, k=chance.randrange(12))) for _ in range(2000)]
    samples += [quote_from_bytes(sample).encode() for sample in samples[:500]]
    for sample in samples:
        assert percent_decode(sample) == unquote_to_bytes(sample), sample


def test_service_description_request() -> None:
    call = parse_request(get([]), Settings())
    assert (
        isinstance(call, DescriptionCall) and call.format is not None and call.format.name == "ttl"
    )
    assert isinstance(parse_request(get([], accept=BROWSER), Settings()), DescriptionCall)
    assert parse_request(get([], accept=BROWSER), Settings()).html  # type: ignore[union-attr]
    assert refused(get([], accept=[("application/sparql-results+json", 1.0)])).status == 406


# Updates ---------------------------------------------------------------------------------------

TOKEN = Settings(update_token="s3cret")


def test_updates_are_disabled_by_default() -> None:
    error = refused(post(FORM, form([("update", UPDATE)])))
    assert error.status == 403 and "--update-token" in error.message


def test_update_token() -> None:
    missing = refused(post("application/sparql-update", UPDATE.encode()), TOKEN)
    assert missing.status == 401 and missing.headers["WWW-Authenticate"].startswith("Bearer")
    wrong = refused(
        post("application/sparql-update", UPDATE.encode(), authorization="Bearer nope"), TOKEN
    )
    assert wrong.status == 401 and "invalid_token" in wrong.headers["WWW-Authenticate"]
    call = parse_request(
        post("application/sparql-update", UPDATE.encode(), authorization="Bearer s3cret"), TOKEN
    )
    assert (
        isinstance(call, UpdateCall)
        and call.request.sparql == UPDATE
        and call.request.base_iri == BASE
    )


def test_anonymous_updates_and_cross_origin() -> None:
    anonymous = Settings(allow_anonymous_updates=True)
    assert isinstance(parse_request(post(FORM, form([("update", UPDATE)])), anonymous), UpdateCall)
    same = post(
        FORM, form([("update", UPDATE)]), origin="http://127.0.0.1:8000", host="127.0.0.1:8000"
    )
    assert isinstance(parse_request(same, anonymous), UpdateCall)
    other = post(
        FORM, form([("update", UPDATE)]), origin="https://evil.example", host="127.0.0.1:8000"
    )
    assert refused(other, anonymous).status == 403


def test_using_graph_parameters() -> None:
    params = [
        ("update", "INSERT { ?s <id/c> 1 } WHERE { ?s ?p ?o }"),
        ("using-graph-uri", "graph/ontology"),
        ("using-named-graph-uri", "http://example.org/n"),
    ]
    call = parse_request(post(FORM, form(params), authorization="Bearer s3cret"), TOKEN)
    assert isinstance(call, UpdateCall)
    assert call.request.using_graphs == (BASE + "graph/ontology",)
    assert call.request.using_named_graphs == ("http://example.org/n",)
    clash = [
        ("update", "WITH <http://g> INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }"),
        ("using-graph-uri", "http://h"),
    ]
    error = refused(post(FORM, form(clash), authorization="Bearer s3cret"), TOKEN)
    assert error.status == 400 and "WITH" in error.message


def test_load_is_refused() -> None:
    load = "LOAD <http://127.0.0.1:9/data.ttl>"
    error = refused(
        post("application/sparql-update", load.encode(), authorization="Bearer s3cret"), TOKEN
    )
    assert error.status == 403 and "LOAD" in error.message
