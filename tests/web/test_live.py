"""The real server over HTTP: SPARQLWrapper in every format, raw protocol edge cases, linked data.

Every body is parsed (json, csv, xml.dom, rdflib) and checked against facts of the seed sources:
the NTF project <id/project/ntf> has 18 fundings, Norway <id/country/NO> is its lead nation.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import io
import json
import socket
import time
from pathlib import Path
from typing import Any
from xml.dom.minidom import Document, Text

import pytest
import rdflib
import requests
from rdflib.plugins.stores.sparqlstore import SPARQLStore
from SPARQLWrapper import (
    CSV,
    JSON,
    JSONLD,
    N3,
    POST,
    POSTDIRECTLY,
    RDFXML,
    TSV,
    TURTLE,
    URLENCODED,
    XML,
    SPARQLWrapper,
)

from tests.logs import logged_lines
from tests.servers import LiveServer, devserver_command, start_server, stop_server
from tests.web.conftest import UPDATE_TOKEN
from tests.web.listener import Listener

BASE = "https://w3id.org/iomkg/"
NTF = BASE + "id/project/ntf"
NORWAY = BASE + "id/country/NO"
LEAD_NATION = BASE + "id/concept/donor-role/lead-nation"
SCHEMA = "https://schema.org/"
SD = "http://www.w3.org/ns/sparql-service-description#"
VOID = "http://rdfs.org/ns/void#"

PREFIXES = "PREFIX schema: <https://schema.org/>\nPREFIX iomo: <https://w3id.org/iomkg/ontology#>\n"
FUNDINGS = (
    PREFIXES + f"SELECT ?funding WHERE {{ ?funding schema:fundedItem <{NTF}> }} ORDER BY ?funding"
)
LEAD = PREFIXES + (
    f"ASK {{ ?f schema:fundedItem <{NTF}> ; schema:funder <{NORWAY}> ; "
    f"iomo:donorRole <{LEAD_NATION}> }}"
)
FUNDING_GRAPH = PREFIXES + (
    f"CONSTRUCT {{ ?f schema:funder ?donor }} "
    f"WHERE {{ ?f schema:fundedItem <{NTF}> ; schema:funder ?donor }}"
)
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def wrapper(server: LiveServer, query: str, fmt: str) -> SPARQLWrapper:
    client = SPARQLWrapper(server.sparql)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    return client


def funders(graph: rdflib.Graph) -> set[str]:
    return {str(o) for o in graph.objects(None, rdflib.URIRef(SCHEMA + "funder"))}


def assert_funding_graph(graph: rdflib.Graph) -> None:
    assert len(graph) == 18
    assert NORWAY in funders(graph)


# SPARQLWrapper, every return format -----------------------------------------------------------


def test_sparqlwrapper_json(live_server: LiveServer) -> None:
    result: dict[str, Any] = wrapper(live_server, FUNDINGS, JSON).query().convert()  # type: ignore[assignment]
    assert result["head"]["vars"] == ["funding"]
    bindings = result["results"]["bindings"]
    assert len(bindings) == 18
    assert all(row["funding"]["type"] == "uri" for row in bindings)
    assert {"type": "uri", "value": BASE + "id/funding/ntf-NO"} in [
        row["funding"] for row in bindings
    ]
    ask = wrapper(live_server, LEAD, JSON).query().convert()
    assert ask == {"head": {}, "boolean": True}


def test_sparqlwrapper_xml(live_server: LiveServer) -> None:
    document = wrapper(live_server, FUNDINGS, XML).query().convert()
    assert isinstance(document, Document)
    assert len(document.getElementsByTagName("result")) == 18
    assert document.getElementsByTagName("variable")[0].getAttribute("name") == "funding"
    ask = wrapper(live_server, LEAD, XML).query().convert()
    assert isinstance(ask, Document)
    text = ask.getElementsByTagName("boolean")[0].firstChild
    assert isinstance(text, Text) and text.data == "true"


def test_sparqlwrapper_csv(live_server: LiveServer) -> None:
    body = wrapper(live_server, FUNDINGS, CSV).query().convert()
    assert isinstance(body, bytes)
    assert body.startswith(b"funding\r\n") and body.count(b"\r\n") == 19  # CRLF, header without ?
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
    assert rows[0] == ["funding"] and len(rows) == 19
    assert [BASE + "id/funding/ntf-NO"] in rows  # IRIs bare, no <>


def test_sparqlwrapper_tsv(live_server: LiveServer) -> None:
    body = wrapper(live_server, FUNDINGS, TSV).query().convert()
    assert isinstance(body, bytes)
    lines = body.decode("utf-8").split("\n")
    assert lines[0] == "?funding" and lines[-1] == "" and "\r" not in body.decode()
    assert f"<{BASE}id/funding/ntf-NO>" in lines and len(lines) == 20


@pytest.mark.parametrize("fmt", [TURTLE, N3])
def test_sparqlwrapper_turtle(live_server: LiveServer, fmt: str) -> None:
    body = wrapper(live_server, FUNDING_GRAPH, fmt).query().convert()
    assert isinstance(body, bytes)
    assert_funding_graph(rdflib.Graph().parse(data=body, format="turtle"))


def test_sparqlwrapper_jsonld(live_server: LiveServer) -> None:
    response = wrapper(live_server, FUNDING_GRAPH, JSONLD).query()
    assert response.response.headers["Content-Type"].startswith("application/ld+json")
    graph = response.convert()
    assert isinstance(graph, rdflib.Graph)
    assert_funding_graph(graph)


def test_sparqlwrapper_rdfxml(live_server: LiveServer) -> None:
    response = wrapper(live_server, FUNDING_GRAPH, RDFXML).query()
    assert response.response.headers["Content-Type"].startswith("application/rdf+xml")
    graph = response.convert()
    assert isinstance(graph, rdflib.Graph)
    assert_funding_graph(graph)


def test_sparqlwrapper_ntriples(live_server: LiveServer) -> None:
    client = wrapper(live_server, FUNDING_GRAPH, N3)
    client.setOnlyConneg(True)
    client.addCustomHttpHeader("Accept", "application/n-triples")
    response = client.query()
    assert response.response.headers["Content-Type"] == "application/n-triples"
    body = response.convert()
    assert isinstance(body, bytes)
    assert_funding_graph(rdflib.Graph().parse(data=body, format="nt"))


@pytest.mark.parametrize("method", [URLENCODED, POSTDIRECTLY])
def test_sparqlwrapper_post(live_server: LiveServer, method: str) -> None:
    client = wrapper(live_server, FUNDINGS, JSON)
    client.setMethod(POST)
    client.setRequestMethod(method)
    result: dict[str, Any] = client.query().convert()  # type: ignore[assignment]
    assert len(result["results"]["bindings"]) == 18


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/sparql-query", FUNDINGS.encode()),
        ("application/x-www-form-urlencoded", ("query=" + requests.utils.quote(FUNDINGS)).encode()),
    ],
)
def test_a_chunked_post_is_read_whole(
    live_server: LiveServer, content_type: str, body: bytes
) -> None:
    """No Content-Length, the body in pieces (``Transfer-Encoding: chunked``)."""

    def pieces() -> Any:
        for start in range(0, len(body), 40):
            yield body[start : start + 40]

    answer = requests.post(
        live_server.sparql,
        data=pieces(),
        headers={"Content-Type": content_type, "Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert len(answer.json()["results"]["bindings"]) == 18


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize(
    "content_type", ["application/sparql-query", "application/x-www-form-urlencoded"]
)
def test_a_body_over_the_limit_is_413_however_it_is_sent(
    live_server: LiveServer, content_type: str, chunked: bool
) -> None:
    """1 MB is the limit (``IOMKG_MAX_REQUEST_BYTES``). A chunked body announces no length: it
    is refused too, not cut at the limit and run (the query's end would be a syntax error)."""
    query = "ASK {} #" + "x" * 1_100_000 + "\nnot SPARQL"
    body = (query if content_type.endswith("sparql-query") else "query=" + query).encode()

    def pieces() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    answer = requests.post(
        live_server.sparql,
        data=pieces() if chunked else body,
        headers={"Content-Type": content_type, "Accept": "application/sparql-results+json"},
        timeout=30,
    )
    assert answer.status_code == 413, answer.text[:300]
    assert "larger than the 1000000-byte limit" in answer.text


def test_rdflib_sparqlstore(live_server: LiveServer) -> None:
    graph = rdflib.Graph(store=SPARQLStore(live_server.sparql, returnFormat="json"))
    rows = list(graph.query(FUNDINGS))
    assert len(rows) == 18
    assert graph.query(LEAD).askAnswer is True


# Raw HTTP: the protocol -----------------------------------------------------------------------


def sparql_get(
    server: LiveServer, query: str, accept: str | None = None, **params: Any
) -> requests.Response:
    headers = {"Accept": accept} if accept else {}
    return requests.get(
        server.sparql, params={"query": query, **params}, headers=headers, timeout=30
    )


def rows(response: requests.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "application/sparql-results+json; charset=utf-8"
    return list(response.json()["results"]["bindings"])


def count(response: requests.Response) -> int:
    return int(rows(response)[0]["n"]["value"])


def test_three_ways_to_send_a_query(live_server: LiveServer) -> None:
    by_get = sparql_get(live_server, FUNDINGS)
    by_form = requests.post(live_server.sparql, data={"query": FUNDINGS}, timeout=30)
    direct = requests.post(
        live_server.sparql,
        data=FUNDINGS.encode(),
        headers={"Content-Type": "application/sparql-query"},
        timeout=30,
    )
    assert rows(by_get) == rows(by_form) == rows(direct)
    assert len(rows(by_get)) == 18
    for response in (by_get, by_form, direct):
        assert response.headers["Vary"] == "Accept"


def test_relative_iris_resolve_against_the_base(live_server: LiveServer) -> None:
    relative = (
        "PREFIX schema: <https://schema.org/> PREFIX iomo: <ontology#> "
        "ASK { ?f schema:fundedItem <id/project/ntf> ; schema:funder <id/country/NO> ; "
        "iomo:donorRole <id/concept/donor-role/lead-nation> }"
    )
    assert sparql_get(live_server, relative).json()["boolean"] is True


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "application/sparql-results+json; charset=utf-8"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv", "text/csv; charset=utf-8"),
        ("text/tab-separated-values", "text/tab-separated-values; charset=utf-8"),
        ("application/sparql-results+json;q=0.5, text/csv;q=0.9", "text/csv; charset=utf-8"),
    ],
)
def test_select_content_type_matches(
    live_server: LiveServer, accept: str | None, content_type: str
) -> None:
    response = sparql_get(live_server, FUNDINGS, accept)
    assert response.status_code == 200 and response.headers["Content-Type"] == content_type


@pytest.mark.parametrize(
    ("accept", "content_type", "parser"),
    [
        (None, "text/turtle; charset=utf-8", "turtle"),
        ("application/ld+json", "application/ld+json; charset=utf-8", "json-ld"),
        ("application/n-triples", "application/n-triples", "nt"),
        ("application/rdf+xml", "application/rdf+xml", "xml"),
        ("application/n-quads", "application/n-quads", "nquads"),
        ("application/trig", "application/trig", "trig"),
    ],
)
def test_construct_every_format(
    live_server: LiveServer, accept: str | None, content_type: str, parser: str
) -> None:
    response = sparql_get(live_server, FUNDING_GRAPH, accept)
    assert response.status_code == 200 and response.headers["Content-Type"] == content_type
    if parser in ("nquads", "trig"):
        dataset = rdflib.Dataset()
        dataset.parse(data=response.content, format=parser)
        graph = rdflib.Graph()
        for s, p, o, _ in dataset.quads():
            graph.add((s, p, o))
    else:
        graph = rdflib.Graph().parse(data=response.content, format=parser)
    assert_funding_graph(graph)


def test_describe(live_server: LiveServer) -> None:
    response = sparql_get(live_server, f"DESCRIBE <{NORWAY}>", "text/turtle")
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    assert (rdflib.URIRef(NORWAY), None, None) in graph


def test_format_parameter_overrides_accept(live_server: LiveServer) -> None:
    response = sparql_get(live_server, FUNDINGS, "application/sparql-results+json", format="csv")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    response = sparql_get(live_server, FUNDING_GRAPH, "text/turtle", format="jsonld")
    assert response.headers["Content-Type"].startswith("application/ld+json")
    json.loads(response.text)


def test_not_acceptable_lists_offers(live_server: LiveServer) -> None:
    response = sparql_get(live_server, FUNDINGS, "image/png")
    assert response.status_code == 406 and response.headers["Vary"] == "Accept"
    for offered in ("application/sparql-results+json", "text/csv", "text/tab-separated-values"):
        assert offered in response.text
    response = sparql_get(live_server, FUNDING_GRAPH, "text/csv")
    assert response.status_code == 406 and "text/turtle" in response.text


def test_default_graph_is_the_union_and_graph_reaches_sources(live_server: LiveServer) -> None:
    in_sources = sparql_get(
        live_server, f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ <{NTF}> ?p ?o }} }}"
    )
    graphs = {row["g"]["value"] for row in rows(in_sources)}
    assert BASE + "graph/sources/000_aa2112c34e1aacb8" in graphs
    # Norway's label comes from reference data, its funding from a source: both are in the default.
    both = sparql_get(
        live_server,
        PREFIXES
        + (
            f"SELECT ?label WHERE {{ ?f schema:funder <{NORWAY}> . <{NORWAY}> "
            "<http://www.w3.org/2004/02/skos/core#prefLabel> ?label }"
        ),
    )
    assert rows(both)[0]["label"]["value"] == "Norway"


def test_dataset_parameters_override_from(live_server: LiveServer) -> None:
    ontology = BASE + "graph/ontology"
    count_all = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    in_ontology = count(sparql_get(live_server, count_all, **{"default-graph-uri": ontology}))
    union = count(sparql_get(live_server, count_all))
    assert 0 < in_ontology < union
    from_clause = f"SELECT (COUNT(*) AS ?n) FROM <{ontology}> WHERE {{ ?s ?p ?o }}"
    assert count(sparql_get(live_server, from_clause)) == in_ontology  # FROM is honoured
    overridden = sparql_get(
        live_server, from_clause, **{"default-graph-uri": BASE + "graph/links/wikidata"}
    )
    assert 0 < count(overridden) != in_ontology  # default-graph-uri replaces FROM
    unknown = sparql_get(
        live_server, count_all, **{"default-graph-uri": "http://example.org/no-such-graph"}
    )
    assert count(unknown) == 0  # an unknown graph is simply empty
    named = sparql_get(
        live_server,
        "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }",
        None,
        **{"named-graph-uri": [ontology, BASE + "graph/links/wikidata"]},
    )
    assert {row["g"]["value"] for row in rows(named)} == {ontology, BASE + "graph/links/wikidata"}


@pytest.mark.parametrize(
    ("method", "kwargs", "status", "words"),
    [
        ("GET", {"params": {"update": "CLEAR ALL"}}, 400, "not allowed by GET"),
        (
            "POST",
            {"data": {"query": "ASK {}", "update": "CLEAR ALL"}},
            400,
            "both query= and update=",
        ),
        (
            "GET",
            {"params": [("query", "ASK {}"), ("query", "ASK {}")]},
            400,
            "2 'query' parameters",
        ),
        ("POST", {"data": b"ASK {}"}, 415, "needs a Content-Type"),
        (
            "POST",
            {"data": b"ASK {}", "headers": {"Content-Type": "text/plain"}},
            415,
            "text/plain is not supported",
        ),
        (
            "POST",
            {
                "data": b"ASK { ?s ?p '\xff' }",
                "headers": {"Content-Type": "application/sparql-query"},
            },
            400,
            "not valid UTF-8",
        ),
        (
            "POST",
            {
                "data": b"query=ASK%7B%FF%7D",
                "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            },
            400,
            "not valid UTF-8",
        ),
        (
            "GET",
            {"params": {"query": "SELECT * WHERE { ?s ?p }"}},
            400,
            "does not parse: line 1, column",
        ),
        ("GET", {"params": {"query": "CLEAR ALL"}}, 400, "SPARQL Update, not a query"),
        ("PUT", {"data": b"ASK {}"}, 405, "not allowed"),
    ],
)
def test_protocol_refusals(
    live_server: LiveServer, method: str, kwargs: dict[str, Any], status: int, words: str
) -> None:
    response = requests.request(method, live_server.sparql, timeout=30, **kwargs)
    assert response.status_code == status, response.text
    assert words in response.text
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Vary"] == "Accept"


def raw_exchange(server: LiveServer, request: bytes) -> bytes:
    """Send ``request`` as bytes (no client library would send these) and read to the close."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as connection:
        # Refused before the client was done: the answer is already there.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.sendall(request)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


@pytest.mark.parametrize(
    ("request_bytes", "status", "words"),
    [
        (
            b"GET /sparql?query=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            b"414",
            b"send a long query by POST",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n",
            b"431",
            b"send fewer or shorter headers",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: x\r\n" + (b"X-Many: " + b"b" * 60 + b"\r\n") * 2000 + b"\r\n",
            b"431",
            b"more than 64 KiB",
        ),
        (  # a head that never ends is refused, not buffered
            b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: " + b"a" * 4_000_000,
            b"431",
            b"more than 64 KiB",
        ),
    ],
    ids=["long-target", "large-header", "many-headers", "endless-header"],
)
def test_request_head_limits(
    live_server: LiveServer, request_bytes: bytes, status: bytes, words: bytes
) -> None:
    """The limits gunicorn's own workers have, kept with uvicorn's parser (iomkg.serving.worker),
    each refusal with its access-log line."""
    marker = f"/refused-{status.decode()}-{len(request_bytes)}"
    request_bytes = request_bytes.replace(b"GET / ", b"GET " + marker.encode() + b" ", 1)
    answer = raw_exchange(live_server, request_bytes)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 " + status), answer[:300]
    assert b"content-type: text/plain; charset=utf-8" in head.lower()
    assert words in body
    logged = logged_lines(
        live_server.log,
        lambda line: (
            ('"GET /sparql?query=aaaa' in line or marker in line) and f" {status.decode()} " in line
        ),
    )
    assert logged, live_server.log_text()[-2000:]
    healthy = requests.get(live_server.url + "/healthz", timeout=30)
    assert healthy.status_code == 200  # the worker serves on


@pytest.mark.parametrize("content_type", ["application/sparql-query", "application/sparql-update"])
def test_a_malformed_chunk_is_400_and_logged_once(
    live_server: LiveServer, content_type: str
) -> None:
    marker = f"/sparql?bad-chunk-{content_type.rsplit('-', 1)[1]}"
    answer = raw_exchange(
        live_server,
        (
            f"POST {marker} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n5\r\nASK {\r\nZZZ\r\n"
        ).encode(),
    )
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert logged_lines(live_server.log, lambda line: f'"POST {marker}" 400 ' in line)
    time.sleep(0.5)  # the app, which sees its client gone, must not log a line of its own
    assert len(logged_lines(live_server.log, lambda line: marker in line, seconds=0)) == 1


def test_a_malformed_request_is_400_and_logged(live_server: LiveServer) -> None:
    answer = raw_exchange(live_server, b"NOT HTTP AT ALL\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:300]
    assert logged_lines(live_server.log, lambda line: ' "- -" 400 ' in line)


def test_a_long_query_fits_by_post(live_server: LiveServer) -> None:
    padded = FUNDINGS + "\n#" + "x" * 20_000  # a comment: over the GET limit, same query
    response = requests.post(
        live_server.sparql,
        data=padded.encode(),
        headers={"Content-Type": "application/sparql-query", "Accept": "text/csv"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert len(response.text.splitlines()) == 1 + 18


def test_updates_refused_without_a_token(live_server: LiveServer) -> None:
    response = requests.post(live_server.sparql, data={"update": "CLEAR ALL"}, timeout=30)
    assert response.status_code == 403 and "--update-token" in response.text
    assert count(sparql_get(live_server, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")) > 0


def test_updates_with_the_token(update_server: LiveServer) -> None:
    label = "<http://www.w3.org/2000/01/rdf-schema#label>"
    insert = f"INSERT DATA {{ GRAPH <graph/test> {{ <id/test/x> {label} 'x' }} }}"
    headers = {"Content-Type": "application/sparql-update"}
    assert (
        requests.post(update_server.sparql, data=insert, headers=headers, timeout=30).status_code
        == 401
    )
    wrong = requests.post(
        update_server.sparql,
        data=insert,
        headers={**headers, "Authorization": "Bearer no"},
        timeout=30,
    )
    assert wrong.status_code == 401 and "invalid_token" in wrong.headers["WWW-Authenticate"]
    auth = {"Authorization": f"Bearer {UPDATE_TOKEN}"}
    done = requests.post(update_server.sparql, data=insert, headers={**headers, **auth}, timeout=30)
    assert done.status_code == 204, done.text
    # A well-formed update that cannot be applied is the client's error, and changes nothing.
    exists = requests.post(
        update_server.sparql,
        data="CREATE GRAPH <graph/test>",
        headers={**headers, **auth},
        timeout=30,
    )
    assert exists.status_code == 400 and "nothing changed" in exists.text, exists.text
    # Relative IRIs resolved against the base, in the update as in queries.
    found = sparql_get(
        update_server,
        f"SELECT ?l WHERE {{ GRAPH <{BASE}graph/test> {{ <{BASE}id/test/x> ?p ?l }} }}",
    )
    assert rows(found)[0]["l"]["value"] == "x"
    # using-graph-uri: the WHERE reads only the ontology graph.
    copy = "INSERT { GRAPH <graph/copied> { ?s a <id/test/Thing> } } WHERE { ?s a ?c }"
    form = {"update": copy, "using-graph-uri": BASE + "graph/links/wikidata"}
    assert (
        requests.post(update_server.sparql, data=form, headers=auth, timeout=30).status_code == 204
    )
    copied = sparql_get(
        update_server,
        f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{BASE}graph/copied> {{ ?s ?p ?o }} }}",
    )
    in_wikidata = sparql_get(
        update_server,
        f"SELECT (COUNT(DISTINCT ?s) AS ?n) "
        f"WHERE {{ GRAPH <{BASE}graph/links/wikidata> {{ ?s a ?c }} }}",
    )
    assert count(copied) == count(in_wikidata)
    clash = {
        "update": "WITH <graph/x> INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
        "using-graph-uri": BASE + "graph/y",
    }
    refused = requests.post(update_server.sparql, data=clash, headers=auth, timeout=30)
    assert refused.status_code == 400 and "WITH" in refused.text
    syntax = requests.post(
        update_server.sparql, data={"update": "INSERT DATA {"}, headers=auth, timeout=30
    )
    assert syntax.status_code == 400 and "does not parse" in syntax.text


def test_row_limit_and_timeout(limited_server: LiveServer) -> None:
    cut = sparql_get(limited_server, FUNDINGS)
    assert len(rows(cut)) == 5
    assert cut.headers["X-Row-Limit"] == "5" and "row limit of 5" in cut.headers["Warning"]
    whole = sparql_get(limited_server, FUNDINGS + " LIMIT 3")
    assert len(rows(whole)) == 3 and "X-Row-Limit" not in whole.headers
    started = time.monotonic()
    slow = sparql_get(
        limited_server, "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
    )
    limit = limited_server.query_timeout
    assert slow.status_code == 503 and f"{limit:g} s limit" in slow.text
    assert "IOMKG_QUERY_TIMEOUT" in slow.text and time.monotonic() - started < limit + 10
    assert requests.get(limited_server.url + "/healthz", timeout=10).status_code == 200  # still up


# No outbound network --------------------------------------------------------------------------


def test_from_and_service_never_reach_out(
    live_server: LiveServer, update_server: LiveServer, listener: Listener
) -> None:
    here = f"http://127.0.0.1:{listener.port}"
    harmless = [
        f"SELECT * FROM <{here}/data.ttl> WHERE {{ ?s ?p ?o }}",
        f"SELECT * FROM NAMED <{here}/data.ttl> WHERE {{ GRAPH ?g {{ ?s ?p ?o }} }}",
    ]
    for query in harmless:
        response = sparql_get(live_server, query)
        assert response.status_code == 200 and rows(response) == []
    by_parameter = sparql_get(
        live_server, "SELECT * WHERE { ?s ?p ?o }", **{"default-graph-uri": here + "/g"}
    )
    assert rows(by_parameter) == []
    refused = [
        f"SELECT * WHERE {{ SERVICE <{here}/sparql> {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ SERVICE SILENT <{here}/sparql> {{ ?s ?p ?o }} }}",
        f"PREFIX e: <{here}/> SELECT * WHERE {{ BIND(1 AS ?x) SERVICE e:sparql {{ ?s ?p ?o }} }}",
        "SELECT * WHERE { VALUES ?e { <" + here + "/sparql> } SERVICE ?e { ?s ?p ?o } }",
    ]
    for query in refused:
        response = sparql_get(live_server, query)
        assert (
            response.status_code == 403
            and "SERVICE" in response.text
            and "allow-list" in response.text
        )
    auth = {"Authorization": f"Bearer {UPDATE_TOKEN}"}
    for update in (
        f"LOAD <{here}/data.ttl>",
        f"LOAD SILENT <{here}/data.ttl> INTO GRAPH <graph/x>",
        f"INSERT {{ ?s ?p ?o }} WHERE {{ SERVICE <{here}/sparql> {{ ?s ?p ?o }} }}",
    ):
        response = requests.post(
            update_server.sparql, data={"update": update}, headers=auth, timeout=30
        )
        assert response.status_code == 403, response.text
    time.sleep(0.3)  # anything in flight would have connected by now
    assert listener.connections == 0


# Descriptions ----------------------------------------------------------------------------------


def test_service_description(live_server: LiveServer) -> None:
    response = requests.get(live_server.sparql, headers={"Accept": "text/turtle"}, timeout=30)
    assert response.headers["Content-Type"] == "text/turtle; charset=utf-8"
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    service = rdflib.URIRef(live_server.sparql)
    assert (service, rdflib.RDF.type, rdflib.URIRef(SD + "Service")) in graph
    assert (
        service,
        rdflib.URIRef(SD + "feature"),
        rdflib.URIRef(SD + "UnionDefaultGraph"),
    ) in graph
    assert (
        service,
        rdflib.URIRef(SD + "supportedLanguage"),
        rdflib.URIRef(SD + "SPARQL11Update"),
    ) not in graph
    names = set(graph.objects(None, rdflib.URIRef(SD + "name")))
    assert rdflib.URIRef(BASE + "graph/sources/000_aa2112c34e1aacb8") in names
    jsonld = requests.get(live_server.sparql, headers={"Accept": "application/ld+json"}, timeout=30)
    assert len(rdflib.Graph().parse(data=jsonld.content, format="json-ld")) == len(graph)
    page = requests.get(live_server.sparql, headers={"Accept": BROWSER}, timeout=30)
    assert page.headers["Content-Type"] == "text/html; charset=utf-8" and "<textarea" in page.text


def test_void(live_server: LiveServer) -> None:
    response = requests.get(live_server.url + "/.well-known/void", timeout=30)
    graph = rdflib.Graph().parse(data=response.content, format="turtle")
    dataset = rdflib.URIRef(BASE + "id/dataset/iomkg")
    triples = graph.value(dataset, rdflib.URIRef(VOID + "triples"))
    assert isinstance(triples, rdflib.Literal) and int(triples) > 1000
    assert graph.value(dataset, rdflib.URIRef(VOID + "sparqlEndpoint")) == rdflib.URIRef(
        live_server.sparql
    )
    assert len(list(graph.objects(dataset, rdflib.URIRef(VOID + "classPartition")))) > 5
    subsets = set(graph.objects(dataset, rdflib.URIRef(VOID + "subset")))
    assert rdflib.URIRef(BASE + "graph/ontology") in subsets
    linksets = set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(VOID + "Linkset")))
    assert rdflib.URIRef(BASE + "id/linkset/wikidata") in linksets
    assert all(graph.value(ls, rdflib.URIRef(VOID + "triples")) is not None for ls in linksets)
    dumps = {str(o) for o in graph.objects(dataset, rdflib.URIRef(VOID + "dataDump"))}
    assert live_server.url + "/download/iomkg.nq" in dumps
    for accept in (BROWSER, "text/html"):  # the header's VoID link: a page, never RDF/XML or 406
        page = requests.get(live_server.url + "/.well-known/void", headers={"Accept": accept})
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")


# Linked data --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "fmt", "parser"),
    [
        (None, None, "turtle"),
        ("text/turtle", None, "turtle"),
        ("application/ld+json", None, "json-ld"),
        ("application/n-triples", None, "nt"),
        ("application/rdf+xml", None, "xml"),
        (BROWSER, "nt", "nt"),
    ],
)
def test_resources_dereference_as_rdf(
    live_server: LiveServer, accept: str | None, fmt: str | None, parser: str
) -> None:
    headers = {"Accept": accept} if accept else {}
    response = requests.get(
        live_server.url + "/id/country/NO",
        headers=headers,
        params={"format": fmt} if fmt else {},
        timeout=30,
    )
    assert response.status_code == 200 and response.headers["Vary"] == "Accept"
    graph = rdflib.Graph().parse(data=response.content, format=parser)
    norway = rdflib.URIRef(NORWAY)
    assert graph.value(
        norway, rdflib.URIRef("http://www.w3.org/2004/02/skos/core#prefLabel")
    ) == rdflib.Literal("Norway", lang="en")
    assert (None, rdflib.URIRef(SCHEMA + "funder"), norway) in graph  # incoming links too


def test_resource_page(live_server: LiveServer) -> None:
    page = requests.get(
        live_server.url + "/id/project/ntf", headers={"Accept": BROWSER}, timeout=30
    )
    assert page.status_code == 200 and page.headers["Content-Type"] == "text/html; charset=utf-8"
    text = page.text
    assert "NATO/PfP Trust Fund" in text
    assert 'href="/id/country/RS"' in text  # local IRIs link to local paths
    assert 'href="/graph/sources/000_aa2112c34e1aacb8"' in text  # the graph a statement came from
    assert (
        "The project was financed by 18 European countries" in text
    )  # the excerpt it derives from
    assert 'href="/id/funding/ntf-NO"' in text  # incoming links
    norway = requests.get(
        live_server.url + "/id/country/NO", headers={"Accept": BROWSER}, timeout=30
    ).text
    assert 'href="http://www.wikidata.org/entity/Q20"' in norway  # owl:sameAs as a link out
    missing = requests.get(
        live_server.url + "/id/country/ZZ", headers={"Accept": BROWSER}, timeout=30
    )
    assert missing.status_code == 404
    assert requests.get(live_server.url + "/id/country/ZZ", timeout=30).status_code == 404


def test_ontology(live_server: LiveServer) -> None:
    page = requests.get(live_server.url + "/ontology", headers={"Accept": BROWSER}, timeout=30)
    assert page.status_code == 200 and 'id="Funding"' in page.text and "Classes" in page.text
    turtle = requests.get(live_server.url + "/ontology", timeout=30)
    graph = rdflib.Graph().parse(data=turtle.content, format="turtle")
    assert (rdflib.URIRef(BASE + "ontology"), rdflib.RDF.type, rdflib.OWL.Ontology) in graph
    jsonld = requests.get(
        live_server.url + "/ontology", headers={"Accept": "application/ld+json"}, timeout=30
    )
    assert len(rdflib.Graph().parse(data=jsonld.content, format="json-ld")) == len(graph)


def test_home_page_and_downloads(live_server: LiveServer) -> None:
    home = requests.get(live_server.url + "/", timeout=30)
    assert home.status_code == 200 and "/download/iomkg.ttl" in home.text and "/sparql" in home.text
    listing = requests.get(
        live_server.url + "/download/", headers={"Accept": "application/json"}, timeout=30
    ).json()
    media = {item["name"]: item["mediaType"] for item in listing}
    assert media["iomkg.ttl"] == "text/turtle" and media["iomkg.trig"] == "application/trig"
    assert (
        media["iomkg.nq"] == "application/n-quads"
        and media["iomkg.jsonld"] == "application/ld+json"
    )
    raw = requests.get(
        live_server.url + "/download/iomkg.nq",
        headers={"Accept-Encoding": "gzip"},
        stream=True,
        timeout=30,
    )
    assert raw.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in raw.headers["Vary"]
    body = gzip.decompress(raw.raw.read())
    assert b"<https://w3id.org/iomkg/id/project/ntf>" in body
    again = requests.get(
        live_server.url + "/download/iomkg.nq",
        headers={"Accept-Encoding": "gzip", "If-None-Match": raw.headers["ETag"]},
        timeout=30,
    )
    assert again.status_code == 304


def test_one_date_header_on_every_answer(live_server: LiveServer) -> None:
    """The server writes Date; Werkzeug's own (on files and conditional answers) is dropped."""
    for path in ("/download/iomkg.ttl", "/", "/sparql?query=ASK%7B%7D"):
        answer = raw_exchange(
            live_server, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
        )
        head = answer.partition(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 200"), (path, head)
        assert head.count(b"\r\ndate: ") == 1, (path, head)


def test_healthz_and_access_log(live_server: LiveServer) -> None:
    health = requests.get(live_server.url + "/healthz", timeout=30)
    assert health.headers["Content-Type"] == "application/json"
    body = health.json()
    assert body["status"] == "ok" and body["graphs"] >= 5 and "triples" not in body
    sparql_get(live_server, FUNDINGS)
    lines = logged_lines(
        live_server.log,
        lambda line: (
            '"GET /sparql?query=' in line
            and " 200 " in line
            and "query=" in line.rsplit('"', 1)[-1]
        ),
    )
    assert lines, live_server.log_text()[-2000:]


def test_devserver_serves_the_same_app(web_store_root: Path, tmp_path: Path) -> None:
    running = start_server(web_store_root, tmp_path / "dev.log", command=devserver_command)
    try:
        assert len(rows(sparql_get(running.server, FUNDINGS))) == 18
        assert logged_lines(running.server.log, lambda line: "iomkg.access" in line)
    finally:
        stop_server(running)
