"""The ASGI gateway answers plain query requests exactly as the Flask route does, and hands the
rest to Flask.

Each request goes to the gateway and, for comparison, straight to the Flask app behind it (the
same app, through the same ``a2wsgi`` bridge); status, headers, body and access-log line must be
the same. The gateway may add a ``Content-Length`` where Flask streams: when it does, it is the
body's length.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest

from iomkg import formats
from iomkg.config import Settings
from iomkg.service import (
    NO_CHUNKS,
    AsyncQueryResponse,
    InProcessExecutor,
    QueryRequest,
    QueryTimeout,
)
from iomkg.store import OxigraphStore
from iomkg.store.base import StoreError
from iomkg.web import create_asgi_app
from iomkg.web.gateway import WATCH_AFTER_SECONDS, Gateway
from tests.web.asgi import Answer, call, call_async
from tests.web.test_app import BROWSER, CuttingExecutor, SlowExecutor

SELECT = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"
ASK = "ASK { ?s ?p ?o }"
FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"

#: (query-string parameters, request headers): GET requests the gateway answers, or hands on.
GETS: list[tuple[dict[str, str], dict[str, str]]] = [
    ({"query": SELECT}, {}),
    ({"query": SELECT}, {"Accept": "application/sparql-results+json"}),
    ({"query": SELECT, "format": "csv"}, {}),
    ({"query": SELECT}, {"Accept": "text/tab-separated-values"}),
    ({"query": SELECT}, {"Accept": "application/sparql-results+xml"}),
    ({"query": CONSTRUCT}, {"Accept": "text/turtle"}),
    ({"query": CONSTRUCT, "format": "nt"}, {}),
    ({"query": ASK}, {}),
    ({"query": "SELECT WHERE {"}, {}),  # the executor refuses it: 400
    ({"query": "SELECT * WHERE { SERVICE <http://x.example/sparql> { ?s ?p ?o } }"}, {}),  # 403
    ({"query": SELECT, "format": "nonsense"}, {}),  # the protocol refuses it: 406 (Flask)
    ({"query": SELECT}, {"Accept": "image/png"}),
    ({"query": SELECT}, {"Accept": BROWSER}),  # the HTML page (Flask)
    ({"query": SELECT, "format": "csv"}, {"Accept": BROWSER}),  # a browser's download (Flask)
    ({"query": SELECT}, {"Origin": "https://elsewhere.example"}),  # CORS
    ({"query": SELECT, "default-graph-uri": "http://nowhere.example/g"}, {}),
    ({"update": "CLEAR ALL"}, {}),  # update by GET: 400 (Flask)
]

#: (content type, body, request headers): POST requests.
POSTS: list[tuple[str, bytes, dict[str, str]]] = [
    (FORM, urlencode({"query": SELECT}).encode(), {}),
    (FORM, urlencode({"query": SELECT, "format": "tsv"}).encode(), {}),
    (SPARQL_QUERY, ASK.encode(), {"Accept": "text/csv"}),
    (SPARQL_QUERY + "; charset=utf-8", CONSTRUCT.encode(), {"Accept": "application/n-triples"}),
    (FORM, urlencode({"query": SELECT, "format": "nonsense"}).encode(), {}),  # 406 (Flask)
    (FORM, urlencode({"update": "CLEAR ALL"}).encode(), {}),  # refused: 403 (Flask)
    (FORM, urlencode({"query": ASK, "update": "CLEAR ALL"}).encode(), {}),  # both: 400
    (SPARQL_QUERY, b"SELECT \xff", {}),  # not UTF-8: 400 (Flask)
    ("text/plain", ASK.encode(), {}),  # 415 (Flask)
    (FORM, urlencode({"query": SELECT}).encode(), {"Origin": "https://elsewhere.example"}),
]


class AsyncCuttingExecutor(CuttingExecutor):
    """``CuttingExecutor`` for the gateway too: one JSON row, cut at 1."""

    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        answer = self.run_query(request, timeout)
        return AsyncQueryResponse(
            answer.kind,
            answer.format,
            NO_CHUNKS,
            truncated=answer.truncated,
            row_limit=answer.row_limit,
            whole=b"".join(answer.chunks),
        )


class AsyncSlowExecutor(SlowExecutor):
    """Every query times out; counts the attempts."""

    calls = 0

    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        self.calls += 1
        raise QueryTimeout(timeout or 30.0)


class _Pieces:
    def __init__(self, body: bytes, size: int) -> None:
        self.pieces = [body[start : start + size] for start in range(0, len(body), size)]
        self.closed = False

    def __aiter__(self) -> _Pieces:
        return self

    async def __anext__(self) -> bytes:
        if not self.pieces:
            raise StopAsyncIteration
        return self.pieces.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class _DiesAfterFirstPiece(_Pieces):
    """An evaluator that dies after the first chunk (the OOM killer, say)."""

    def __init__(self, body: bytes, size: int) -> None:
        super().__init__(body, size)
        self.total = len(self.pieces)

    async def __anext__(self) -> bytes:
        if len(self.pieces) < self.total:
            raise StoreError("the query evaluator stopped sending its answer")
        return await super().__anext__()


class StreamingExecutor(InProcessExecutor):
    """The in-process executor, but giving every body in small chunks (as a big answer comes)."""

    pieces: type[_Pieces] = _Pieces

    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        answer = await super().run_query_async(request, timeout)
        assert answer.whole is not None
        return AsyncQueryResponse(
            answer.kind,
            answer.format,
            self.pieces(answer.whole, 7),
            answer.truncated,
            answer.row_limit,
        )


class DyingExecutor(StreamingExecutor):
    """A streaming executor whose evaluator dies after the first chunk."""

    pieces = _DiesAfterFirstPiece


def gateway_for(settings: Settings, store: OxigraphStore, executor: Any, tmp_path: Path) -> Gateway:
    return create_asgi_app(
        settings, store, executor or InProcessExecutor(store), tmp_path / "no-dumps"
    )


def ask(
    app: Any,
    method: str,
    query_string: bytes,
    headers: dict[str, str],
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> tuple[Answer, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        answer = call(app, method, "/sparql", query_string, list(headers.items()), body)
    lines = [record.getMessage() for record in caplog.records if record.name == "iomkg.access"]
    return answer, lines


def comparable(answer: Answer, lines: list[str]) -> tuple[Any, ...]:
    """Status, headers (but Content-Length), body, and the log line without bytes and times."""
    headers = sorted((name, value) for name, value in answer.headers if name != "content-length")
    logged = [line.split('" ', 1)[0] + " " + line.split('" ', 1)[1].split()[0] for line in lines]
    return answer.status, headers, answer.body, logged


def assert_same(
    gateway: Gateway,
    method: str,
    query_string: bytes,
    headers: dict[str, str],
    body: bytes,
    caplog: pytest.LogCaptureFixture,
) -> Answer:
    expected = comparable(*ask(gateway.flask, method, query_string, headers, body, caplog))
    got_answer, got_lines = ask(gateway, method, query_string, headers, body, caplog)
    assert comparable(got_answer, got_lines) == expected
    assert len(got_lines) == 1
    length = got_answer.header("content-length")
    assert length is None or int(length) == len(got_answer.body)
    return got_answer


@pytest.mark.parametrize(("params", "headers"), GETS)
def test_get_same_answer_as_flask(
    params: dict[str, str],
    headers: dict[str, str],
    seed_store: OxigraphStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    assert_same(gateway, "GET", urlencode(params).encode(), headers, b"", caplog)


@pytest.mark.parametrize(("content_type", "body", "headers"), POSTS)
def test_post_same_answer_as_flask(
    content_type: str,
    body: bytes,
    headers: dict[str, str],
    seed_store: OxigraphStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    sent = {"Content-Type": content_type, "Content-Length": str(len(body)), **headers}
    assert_same(gateway, "POST", b"", sent, body, caplog)


@pytest.mark.parametrize("cors", ["", "https://a.example https://b.example"])
def test_same_headers_whatever_the_cors_setting(
    cors: str, seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(store_dir=tmp_path / "none", cors_origins=cors)
    gateway = gateway_for(settings, seed_store, None, tmp_path)
    query = urlencode({"query": SELECT}).encode()
    answer = assert_same(gateway, "GET", query, {}, b"", caplog)
    assert answer.header("vary") == ("Accept, Origin" if cors else "Accept")
    assert_same(gateway, "GET", query, {"Origin": "https://a.example"}, b"", caplog)


def test_truncated_result(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(store_dir=tmp_path / "none")
    gateway = gateway_for(settings, seed_store, AsyncCuttingExecutor(), tmp_path)
    answer = assert_same(gateway, "GET", urlencode({"query": SELECT}).encode(), {}, b"", caplog)
    assert answer.status == 200 and answer.header("x-row-limit") == "1"
    assert "truncated" in (answer.header("warning") or "")


def test_timeout_runs_the_query_once(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    executor = AsyncSlowExecutor()
    settings = Settings(store_dir=tmp_path / "none", query_timeout=2)
    gateway = gateway_for(settings, seed_store, executor, tmp_path)
    answer = assert_same(gateway, "GET", urlencode({"query": SELECT}).encode(), {}, b"", caplog)
    assert answer.status == 503 and answer.header("retry-after") is None  # narrow it, not retry
    assert "narrow the query" in answer.body.decode()
    assert "2 s" in answer.body.decode()
    assert executor.calls == 1


def test_a_streamed_answer_is_the_same_body_without_a_length(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(store_dir=tmp_path / "none")
    gateway = gateway_for(settings, seed_store, StreamingExecutor(seed_store), tmp_path)
    answer = assert_same(gateway, "GET", urlencode({"query": SELECT}).encode(), {}, b"", caplog)
    assert answer.header("content-length") is None
    assert answer.parts > 3  # chunk by chunk, then the end
    assert b'"bindings"' in answer.body


class NoFlask:
    """Stands in for the Flask app where a request must not reach it."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError(f"went to Flask: {scope['method']} {scope['path']}")


@pytest.mark.parametrize(
    ("method", "params", "headers", "body"),
    [
        ("GET", {"query": SELECT}, {}, b""),
        ("GET", {"query": SELECT, "format": "tsv"}, {}, b""),
        ("GET", {"query": CONSTRUCT}, {"Accept": "text/turtle"}, b""),
        ("GET", {"query": ASK}, {"Accept": "application/sparql-results+xml"}, b""),
        ("GET", {"query": "SELECT WHERE {"}, {}, b""),  # a syntax error is the executor's
        ("POST", {}, {"Content-Type": FORM}, urlencode({"query": SELECT}).encode()),
        ("POST", {}, {"Content-Type": SPARQL_QUERY}, ASK.encode()),
        ("POST", {"named-graph-uri": "graph/x"}, {"Content-Type": SPARQL_QUERY}, ASK.encode()),
        ("GET", {"query": ASK}, {"Origin": "https://o.example"}, b""),  # a page elsewhere (CORS)
        ("POST", {}, {"Content-Type": SPARQL_QUERY, "Origin": "https://o.example"}, ASK.encode()),
    ],
)
def test_plain_queries_skip_flask(
    method: str,
    params: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    seed_store: OxigraphStore,
    tmp_path: Path,
) -> None:
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    gateway.flask = NoFlask()
    if body:
        headers = {**headers, "Content-Length": str(len(body))}
    answer = call(
        gateway, method, "/sparql", urlencode(params).encode(), list(headers.items()), body
    )
    assert answer.status in (200, 400) and answer.body
    if "Origin" in headers:
        assert answer.header("access-control-allow-origin") == "*"


@pytest.mark.parametrize(
    ("method", "path", "query_string", "headers", "body_parts"),
    [
        ("GET", "/healthz", b"", {}, 1),
        ("GET", "/sparql", urlencode({"query": ASK}).encode(), {"Accept": BROWSER}, 1),
        ("POST", "/sparql", b"", {"Content-Type": FORM}, 3),  # no Content-Length: chunked
    ],
)
def test_other_requests_go_to_flask(
    method: str,
    path: str,
    query_string: bytes,
    headers: dict[str, str],
    body_parts: int,
    seed_store: OxigraphStore,
    tmp_path: Path,
) -> None:
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    body = urlencode({"query": ASK}).encode() if method == "POST" else b""
    through = call(
        gateway, method, path, query_string, list(headers.items()), body, body_parts=body_parts
    )
    assert through.status == 200
    gateway.flask = NoFlask()
    with pytest.raises(AssertionError, match="went to Flask"):
        call(gateway, method, path, query_string, list(headers.items()), body)


def test_a_chunked_query_body_reaches_flask_whole(
    seed_store: OxigraphStore, tmp_path: Path
) -> None:
    """With no Content-Length the gateway hands the POST on, and Flask reads every part."""
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    body = urlencode({"query": SELECT, "format": "csv"}).encode()
    answer = call(gateway, "POST", "/sparql", b"", [("Content-Type", FORM)], body, body_parts=5)
    assert answer.status == 200
    csv = formats.by_name("csv", "results")
    assert csv is not None and answer.header("content-type") == csv.content_type
    assert answer.body.count(b"\r\n") == 6  # the header and five rows


def test_a_post_body_over_the_limit_is_refused_by_flask(
    seed_store: OxigraphStore, tmp_path: Path
) -> None:
    settings = Settings(store_dir=tmp_path / "none", max_request_bytes=100)
    gateway = gateway_for(settings, seed_store, None, tmp_path)
    body = urlencode({"query": SELECT + " " * 200}).encode()
    answer = call(
        gateway,
        "POST",
        "/sparql",
        b"",
        [("Content-Type", FORM), ("Content-Length", str(len(body)))],
        body,
    )
    assert answer.status == 413
    assert "100-byte limit" in answer.body.decode()


def test_a_body_with_no_length_over_the_limit_is_refused_not_cut(
    seed_store: OxigraphStore, tmp_path: Path
) -> None:
    """Werkzeug alone would read such a body up to the limit and run what it got."""
    settings = Settings(store_dir=tmp_path / "none", max_request_bytes=100)
    gateway = gateway_for(settings, seed_store, None, tmp_path)
    body = urlencode({"query": ASK + " #" + "x" * 200}).encode()
    answer = call(gateway, "POST", "/sparql", b"", [("Content-Type", FORM)], body, body_parts=4)
    assert answer.status == 413
    assert "100-byte limit" in answer.body.decode()


def test_access_log_line_for_a_raw_query_string(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The URL is logged as Flask logs it (trailing ``?`` stripped), not re-encoded."""
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    lines = []
    for app in (gateway, gateway.flask):
        answer, logged = ask(app, "GET", b"query=ASK%7B%7D&x=?", {}, b"", caplog)
        assert answer.status == 200
        lines.append([line.rsplit(" ", 4)[0] for line in logged])
    assert lines[0] == lines[1] == ['10.1.2.3 "GET /sparql?query=ASK%7B%7D&x="']


class HangingExecutor(InProcessExecutor):
    """A query that never ends: the client leaves first."""

    cancelled = False

    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


def test_a_client_that_leaves_stops_its_query_and_is_logged_as_499(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn only tells the app (``receive()``): the gateway's watch cancels the request."""
    executor = HangingExecutor(seed_store)
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, executor, tmp_path)
    query = urlencode({"query": ASK}).encode()
    caplog.clear()
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        answer = asyncio.run(
            call_async(gateway, "GET", "/sparql", query, [], b"", 1, leave_after=0.3)
        )
    assert time.monotonic() - started < 2.0  # not the hour the query would hang
    assert answer.status == 0 and answer.body == b""  # nothing was sent to nobody
    assert executor.cancelled  # the query's coroutine was stopped (the evaluator is killed)
    [line] = [r.getMessage() for r in caplog.records if r.name == "iomkg.access"]
    assert '"GET /sparql?query=ASK' in line and '" 499 - ' in line


def test_a_quick_answer_starts_no_watch(seed_store: OxigraphStore, tmp_path: Path) -> None:
    """A request answered before WATCH_AFTER_SECONDS leaves no watcher task behind."""
    gateway = gateway_for(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)

    async def ask_and_count() -> tuple[int, int]:
        before = len(asyncio.all_tasks())
        answer = await call_async(
            gateway, "GET", "/sparql", urlencode({"query": ASK}).encode(), [], b"", 1
        )
        await asyncio.sleep(WATCH_AFTER_SECONDS * 2)
        return answer.status, len(asyncio.all_tasks()) - before

    assert asyncio.run(ask_and_count()) == (200, 0)


def test_a_cancelled_request_is_logged_as_499(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that cancels the request itself (stopping): the line is still written."""
    gateway = gateway_for(
        Settings(store_dir=tmp_path / "none"), seed_store, HangingExecutor(seed_store), tmp_path
    )

    async def leave_midway() -> None:
        request = asyncio.ensure_future(
            call_async(gateway, "GET", "/sparql", urlencode({"query": ASK}).encode(), [], b"", 1)
        )
        await asyncio.sleep(0.05)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        asyncio.run(leave_midway())
    [line] = [r.getMessage() for r in caplog.records if r.name == "iomkg.access"]
    assert '"GET /sparql?query=ASK' in line and '" 499 - ' in line


def test_an_answer_cut_by_a_dying_evaluator_is_left_unfinished(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The 200 is out when the evaluator dies: the answer is not ended (the client sees it cut,
    not a short but well-formed body), a warning says why, and nothing is raised to uvicorn
    (which would log a traceback)."""
    gateway = gateway_for(
        Settings(store_dir=tmp_path / "none"), seed_store, DyingExecutor(seed_store), tmp_path
    )
    with caplog.at_level(logging.INFO):
        answer = call(gateway, "GET", "/sparql", urlencode({"query": SELECT}).encode())
    assert answer.status == 200 and len(answer.body) == 7
    assert not answer.complete
    assert any("an answer was cut short" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("framing", ["chunked", "length"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [(SPARQL_QUERY, ASK.encode()), ("application/sparql-update", b"INSERT DATA { <a> <b> <c> }")],
    ids=["query", "update"],
)
def test_a_client_that_leaves_during_its_body_is_logged_as_499(
    content_type: str, body: bytes, framing: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """What arrived is not run (a complete update, here: a chunked body says nothing of its
    length), and the one line says 499 (the gateway answers a query with a length)."""
    settings = Settings(store_dir=tmp_path / "none", allow_anonymous_updates=True)
    store = OxigraphStore(ox.Store())  # of its own: the update must not run, but if it did
    gateway = gateway_for(settings, store, None, tmp_path)
    framed = (
        ("Transfer-Encoding", "chunked")
        if framing == "chunked"
        else ("Content-Length", str(len(body) + 1))
    )
    headers = [("Content-Type", content_type), framed]
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        asyncio.run(
            call_async(
                gateway,
                "POST",
                "/sparql",
                b"",
                headers,
                body + b" ",
                2,
                leave_before_last_part=True,
            )
        )
    assert len(store.raw) == 0
    [line] = [r.getMessage() for r in caplog.records if r.name == "iomkg.access"]
    assert '"POST /sparql" 499 - ' in line
