"""The endpoint core (:mod:`iomkg.serving.endpoint`), called directly: what ``/sparql`` answers.

The gateway and the Flask routes are thin adapters of this core (``test_gateway.py`` shows they
send its reply as it is), so each behaviour of ``/sparql`` is tested once, here: status,
content type, the common headers, CORS, refusals and the access-log record.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

import pytest

from iomkg import catalog, descriptions
from iomkg.config import Settings
from iomkg.serving import endpoint
from iomkg.serving.executor.direct import DirectExecutor
from iomkg.serving.service import QueryTimeout
from iomkg.store import OxigraphStore
from tests.conftest import PROJECT_DIR, SHARED_DIR
from tests.web.test_app import BROWSER

SELECT = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"
ASK = "ASK { ?s ?p ?o }"
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
JSON = "application/sparql-results+json; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
PAGE = "page"  # the core leaves the answer to the web layer's page

#: (query-string parameters, request headers, status, content type) of GET requests.
GETS: list[tuple[dict[str, str], dict[str, str], int | None, str]] = [
    ({"query": SELECT}, {}, 200, JSON),
    ({"query": SELECT}, {"Accept": "application/sparql-results+json"}, 200, JSON),
    ({"query": SELECT, "format": "csv"}, {}, 200, "text/csv; charset=utf-8"),
    (
        {"query": SELECT},
        {"Accept": "text/tab-separated-values"},
        200,
        "text/tab-separated-values; charset=utf-8",
    ),
    (
        {"query": SELECT},
        {"Accept": "application/sparql-results+xml"},
        200,
        "application/sparql-results+xml",
    ),
    ({"query": CONSTRUCT}, {"Accept": "text/turtle"}, 200, "text/turtle; charset=utf-8"),
    ({"query": CONSTRUCT, "format": "nt"}, {}, 200, "application/n-triples"),
    ({"query": ASK}, {}, 200, JSON),
    ({"query": "SELECT WHERE {"}, {}, 400, TEXT),  # the executor refuses it
    ({"query": "SELECT * WHERE { SERVICE <http://x.example/sparql> { ?s ?p ?o } }"}, {}, 403, TEXT),
    ({"query": SELECT, "format": "nonsense"}, {}, 406, TEXT),
    ({"query": SELECT}, {"Accept": "image/png"}, 406, TEXT),
    ({"query": SELECT}, {"Accept": BROWSER}, None, PAGE),
    ({"query": SELECT, "format": "csv"}, {"Accept": BROWSER}, 200, "text/csv; charset=utf-8"),
    ({"query": SELECT}, {"Origin": "https://elsewhere.example"}, 200, JSON),
    ({"query": SELECT, "default-graph-uri": "http://nowhere.example/g"}, {}, 200, JSON),
    ({"update": "CLEAR ALL"}, {}, 400, TEXT),  # an update by GET
]

#: (content type, body, request headers, status, content type of the answer) of POSTs.
POSTS: list[tuple[str, bytes, dict[str, str], int, str]] = [
    (FORM, urlencode({"query": SELECT}).encode(), {}, 200, JSON),
    (
        FORM,
        urlencode({"query": SELECT, "format": "tsv"}).encode(),
        {},
        200,
        "text/tab-separated-values; charset=utf-8",
    ),
    (SPARQL_QUERY, ASK.encode(), {"Accept": "text/csv"}, 200, "text/csv; charset=utf-8"),
    (
        SPARQL_QUERY + "; charset=utf-8",
        CONSTRUCT.encode(),
        {"Accept": "application/n-triples"},
        200,
        "application/n-triples",
    ),
    (FORM, urlencode({"query": SELECT, "format": "nonsense"}).encode(), {}, 406, TEXT),
    (FORM, urlencode({"update": "CLEAR ALL"}).encode(), {}, 403, TEXT),  # updates are off
    (FORM, urlencode({"query": ASK, "update": "CLEAR ALL"}).encode(), {}, 400, TEXT),
    (SPARQL_QUERY, b"SELECT \xff", {}, 400, TEXT),  # not UTF-8
    ("text/plain", ASK.encode(), {}, 415, TEXT),
    (
        FORM,
        urlencode({"query": SELECT}).encode(),
        {"Origin": "https://elsewhere.example"},
        200,
        JSON,
    ),
]


def make_core(store: OxigraphStore, tmp_path: Path, **overrides: object) -> endpoint.Endpoint:
    """The core as :func:`iomkg.web.create_app` makes it, over ``store`` in this process."""
    settings = Settings(
        project_dir=PROJECT_DIR,
        shared_dir=SHARED_DIR,
        store_dir=tmp_path / "none",
        **overrides,  # type: ignore[arg-type]
    )
    return endpoint.Endpoint(
        settings,
        DirectExecutor(settings, store),
        saved_queries=catalog.CatalogFiles(settings).current,
        describe=lambda endpoint_url, void_url: descriptions.service_description(
            store, settings, endpoint_url, void_url
        ),
    )


def http_request(
    method: str, query_string: bytes, headers: dict[str, str], body: bytes = b""
) -> endpoint.Request:
    named = {name.lower(): value for name, value in headers.items()}
    return endpoint.Request(
        method=method,
        path="/sparql",
        query_string=query_string,
        content_type=named.get("content-type"),
        body=body,
        accept=named.get("accept"),
        authorization=named.get("authorization"),
        origin=named.get("origin"),
        host="kg.example:8000",
        client="10.1.2.3",
    )


def body_of(reply: endpoint.Reply) -> bytes:
    return reply.body if isinstance(reply.body, bytes) else b"".join(reply.body)


@pytest.fixture
def core(seed_store: OxigraphStore, tmp_path: Path) -> endpoint.Endpoint:
    return make_core(seed_store, tmp_path)


def check_reply(
    step: endpoint.Reply | endpoint.PageWanted, status: int | None, content_type: str, rows: int = 5
) -> None:
    if content_type == PAGE:
        assert isinstance(step, endpoint.PageWanted) and step.call is not None
        return
    assert isinstance(step, endpoint.Reply)
    assert (step.status, step.header("Content-Type")) == (status, content_type)
    assert step.header("Vary") == "Accept" and step.header("X-Content-Type-Options") == "nosniff"
    assert step.record.client == "10.1.2.3" and step.record.method in ("GET", "POST")
    body = body_of(step)
    assert body  # an answer, or a refusal that says why
    if status == 200 and content_type == JSON and b"boolean" not in body:
        assert body.count(b'"s":') == rows  # the five rows asked for (none of a graph not held)


@pytest.mark.parametrize(("params", "headers", "status", "content_type"), GETS)
def test_get(
    params: dict[str, str],
    headers: dict[str, str],
    status: int | None,
    content_type: str,
    core: endpoint.Endpoint,
) -> None:
    step = core.answer(http_request("GET", urlencode(params).encode(), headers))
    check_reply(step, status, content_type, rows=0 if "default-graph-uri" in params else 5)


@pytest.mark.parametrize(("content_type", "body", "headers", "status", "answered_as"), POSTS)
def test_post(
    content_type: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    answered_as: str,
    core: endpoint.Endpoint,
) -> None:
    sent = {"Content-Type": content_type, **headers}
    check_reply(core.answer(http_request("POST", b"", sent, body)), status, answered_as)


def test_refusals_say_why(core: endpoint.Endpoint) -> None:
    def refusal(params: dict[str, str], headers: dict[str, str]) -> str:
        reply = core.answer(http_request("GET", urlencode(params).encode(), headers))
        assert isinstance(reply, endpoint.Reply)
        return reply.message

    assert "http://x.example/sparql" in refusal(
        {"query": "SELECT * WHERE { SERVICE <http://x.example/sparql> { ?s ?p ?o } }"}, {}
    )
    assert "application/sparql-results+json" in refusal({"query": SELECT}, {"Accept": "image/png"})
    assert refusal({"query": "SELECT WHERE {"}, {}).startswith("the SPARQL does not parse: ")


@pytest.mark.parametrize(
    ("cors", "vary", "allowed", "other"),
    [
        ("*", "Accept", "*", "*"),  # the default: any page may read
        ("https://a.example https://b.example", "Accept, Origin", "https://a.example", None),
        ("", "Accept", None, None),  # off
    ],
)
def test_cors_headers(
    cors: str,
    vary: str,
    allowed: str | None,
    other: str | None,
    seed_store: OxigraphStore,
    tmp_path: Path,
) -> None:
    core = make_core(seed_store, tmp_path, cors_origins=cors)
    query = urlencode({"query": SELECT}).encode()

    def allow_origin(headers: dict[str, str]) -> str | None:
        reply = core.answer(http_request("GET", query, headers))
        assert isinstance(reply, endpoint.Reply) and reply.header("Vary") == vary
        return reply.header("Access-Control-Allow-Origin")

    assert allow_origin({}) is None  # no Origin, no CORS headers
    assert allow_origin({"Origin": "https://a.example"}) == allowed
    assert allow_origin({"Origin": "https://c.example"}) == other


def test_a_long_url_is_414(seed_store: OxigraphStore, tmp_path: Path) -> None:
    core = make_core(seed_store, tmp_path, max_request_bytes=100)
    reply = core.answer(http_request("GET", urlencode({"query": SELECT * 5}).encode(), {}))
    assert isinstance(reply, endpoint.Reply) and reply.status == 414
    assert "send the query by POST" in reply.message


def test_a_cut_answer_says_so(seed_store: OxigraphStore, tmp_path: Path) -> None:
    core = make_core(seed_store, tmp_path, max_rows=2)
    reply = core.answer(http_request("GET", urlencode({"query": SELECT}).encode(), {}))
    assert isinstance(reply, endpoint.Reply) and reply.status == 200
    assert reply.header("X-Row-Limit") == "2"
    assert "truncated" in (reply.header("Warning") or "")
    assert body_of(reply).count(b'"s":') == 2


def test_a_timeout_says_narrow_the_query_and_a_busy_server_says_retry() -> None:
    status, message, headers = endpoint.failure(QueryTimeout(2.0))
    assert status == 503 and "narrow the query" in message and "2 s" in message
    assert "Retry-After" not in headers
    status, message, headers = endpoint.failure(QueryTimeout(2.0, queued=True))
    assert status == 503 and "Retry-After" in headers and "busy" in message


def test_the_access_record_names_the_request(core: endpoint.Endpoint) -> None:
    reply = core.answer(http_request("GET", b"query=ASK%7B%7D&x=?", {}))
    assert isinstance(reply, endpoint.Reply) and reply.status == 200
    assert reply.record.target == "/sparql?query=ASK%7B%7D&x=?"
