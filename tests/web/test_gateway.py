"""The ASGI gateway: a thin adapter of the endpoint core. Plain query requests are answered by
the core (``test_endpoint.py`` tests what it answers) and sent as the core's reply; pages,
browsers and bodies the gateway does not read go to the Flask app behind it.

The queries run on real executors: in this process over the seed store, or on the served
executor's killable evaluators over the session's build (``evaluator``) where a query must run
long, be stopped, stream a large answer or lose its evaluator.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pyoxigraph as ox
import pytest

from iomkg import formats
from iomkg.config import Settings
from iomkg.serving.endpoint import Reply
from iomkg.serving.executor import ExecutorStore, IsolatedExecutor
from iomkg.serving.service import AsyncQueryExecutor
from iomkg.store import OxigraphStore
from iomkg.store.base import StoreUnavailable
from iomkg.web import create_app, create_asgi_app
from iomkg.web.common import EXTENSION
from iomkg.web.gateway import WATCH_AFTER_SECONDS, Gateway
from tests.web.asgi import call, call_async
from tests.web.test_app import BROWSER, ENDLESS, client_for
from tests.web.test_endpoint import ASK, CONSTRUCT, FORM, SELECT, SPARQL_QUERY, http_request

#: Some 20,000 rows of JSON (several MB): streamed in many chunks, longer than a socket's buffer.
LARGE = "SELECT * WHERE { ?s ?p ?o . ?a ?b ?c } LIMIT 20000"


def gateway_for(
    settings: Settings, store: OxigraphStore, executor: AsyncQueryExecutor | None, tmp_path: Path
) -> Gateway:
    return create_asgi_app(settings, store, executor, tmp_path / "no-dumps")


def served_gateway(settings: Settings, evaluator: IsolatedExecutor, tmp_path: Path) -> Gateway:
    """The gateway as ``iomkg serve`` builds it: over the evaluators, pages through them."""
    return create_asgi_app(settings, ExecutorStore(evaluator), evaluator, tmp_path / "no-dumps")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "iomkg.access"]


def core_reply(
    gateway: Gateway, method: str, query_string: bytes, headers: dict[str, str], body: bytes
) -> tuple[int, list[tuple[str, str]], bytes]:
    """What the core answers to the same request (the adapters must send exactly this)."""
    reply = gateway.core.answer(http_request(method, query_string, headers, body))
    assert isinstance(reply, Reply)
    content = reply.body if isinstance(reply.body, bytes) else b"".join(reply.body)
    return reply.status, [(name.lower(), value) for name, value in reply.headers], content


@pytest.mark.parametrize(
    ("method", "params", "headers", "body"),
    [
        ("GET", {"query": SELECT}, {}, b""),
        ("GET", {"query": CONSTRUCT}, {"Accept": "text/turtle"}, b""),
        ("GET", {"query": "SELECT WHERE {"}, {}, b""),
        ("GET", {"query": SELECT}, {"Origin": "https://elsewhere.example"}, b""),
        ("POST", {}, {"Content-Type": SPARQL_QUERY, "Accept": "text/csv"}, ASK.encode()),
        (
            "POST",
            {},
            {"Content-Type": FORM},
            urlencode({"query": SELECT, "format": "nonsense"}).encode(),
        ),
    ],
)
def test_both_adapters_send_the_core_reply(
    method: str,
    params: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    seed_store: OxigraphStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The gateway (the Flask route too) adds nothing and drops nothing of the core's reply but
    a ``Content-Length`` where the body is whole; each writes one access-log line."""
    settings = Settings(store_dir=tmp_path / "none")
    app = create_app(settings, seed_store, None, tmp_path / "no-dumps")
    gateway = Gateway(app, settings, app.extensions[EXTENSION].endpoint, flask_threads=2)
    query_string = urlencode(params).encode()
    status, expected_headers, content = core_reply(gateway, method, query_string, headers, body)
    sent = {**headers, "Content-Length": str(len(body))} if body else headers
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        answer = call(gateway, method, "/sparql", query_string, list(sent.items()), body)
        flask = client_for(app).open(
            "/sparql", method=method, query_string=query_string.decode(), headers=sent, data=body
        )
        flask.close()  # the access line is written when the body is done
    assert (answer.status, answer.body) == (status, content)
    assert [h for h in answer.headers if h[0] != "content-length"] == expected_headers
    assert answer.header("content-length") in (None, str(len(content)))
    assert (flask.status_code, flask.data) == (status, content)
    assert sorted((k.lower(), v) for k, v in flask.headers if k.lower() != "content-length") == (
        sorted(expected_headers)
    )
    assert len(access_lines(caplog)) == 2  # one for each request


def test_a_truncated_answer_says_so(seed_store: OxigraphStore, tmp_path: Path) -> None:
    gateway = gateway_for(
        Settings(store_dir=tmp_path / "none", max_rows=1), seed_store, None, tmp_path
    )
    answer = call(gateway, "GET", "/sparql", urlencode({"query": SELECT}).encode())
    assert answer.status == 200 and answer.header("x-row-limit") == "1"
    assert "truncated" in (answer.header("warning") or "")


def test_a_query_past_its_limit_is_stopped_once_with_503(
    evaluator: IsolatedExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(store_dir=tmp_path / "none", query_timeout=0.5)
    gateway = served_gateway(settings, evaluator, tmp_path)
    before = evaluator.evaluator_pid()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        answer = call(gateway, "GET", "/sparql", urlencode({"query": ENDLESS}).encode())
    assert answer.status == 503 and answer.header("retry-after") is None  # narrow it, not retry
    assert "narrow the query" in answer.body.decode() and "0.5 s" in answer.body.decode()
    [line] = access_lines(caplog)  # answered once, not again by Flask
    assert '" 503 ' in line
    assert wait_for_new_evaluator(evaluator, before)  # the CPU was freed: it was killed


def test_a_streamed_answer_has_no_length(evaluator: IsolatedExecutor, tmp_path: Path) -> None:
    gateway = served_gateway(Settings(store_dir=tmp_path / "none"), evaluator, tmp_path)
    answer = call(gateway, "GET", "/sparql", urlencode({"query": LARGE, "format": "csv"}).encode())
    assert answer.status == 200 and answer.complete
    assert answer.header("content-length") is None
    assert answer.parts > 3  # chunk by chunk, then the end
    assert answer.body.count(b"\r\n") == 20001


def wait_for_new_evaluator(evaluator: IsolatedExecutor, old_pid: int, seconds: float = 10) -> bool:
    """Whether the evaluator ``old_pid`` was replaced (killed, and forked again) in time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(StoreUnavailable):  # asked while the old one was dying
            if evaluator.evaluator_pid() != old_pid:
                return True
        time.sleep(0.1)
    return False


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
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="iomkg.access"):
            answer = call(app, "GET", "/sparql", b"query=ASK%7B%7D&x=?")
        assert answer.status == 200
        lines.append([line.rsplit(" ", 4)[0] for line in access_lines(caplog)])
    assert lines[0] == lines[1] == ['10.1.2.3 "GET /sparql?query=ASK%7B%7D&x="']


def test_a_client_that_leaves_stops_its_query_and_is_logged_as_499(
    evaluator: IsolatedExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """uvicorn only tells the app (``receive()``): the gateway's watch cancels the request, and
    the evaluator running the query is killed."""
    gateway = served_gateway(Settings(store_dir=tmp_path / "none"), evaluator, tmp_path)
    query = urlencode({"query": ENDLESS}).encode()
    before = evaluator.evaluator_pid()
    caplog.clear()
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        answer = asyncio.run(
            call_async(gateway, "GET", "/sparql", query, [], b"", 1, leave_after=0.3)
        )
    assert time.monotonic() - started < 2.0  # not the hour the query would hang
    assert answer.status == 0 and answer.body == b""  # nothing was sent to nobody
    assert wait_for_new_evaluator(evaluator, before)  # not left running for nobody
    [line] = access_lines(caplog)
    assert '"GET /sparql?query=SELECT' in line and '" 499 - ' in line


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
    evaluator: IsolatedExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that cancels the request itself (stopping): the line is still written."""
    gateway = served_gateway(Settings(store_dir=tmp_path / "none"), evaluator, tmp_path)
    query = urlencode({"query": ENDLESS}).encode()

    async def leave_midway() -> None:
        request = asyncio.ensure_future(call_async(gateway, "GET", "/sparql", query, [], b"", 1))
        await asyncio.sleep(0.3)
        request.cancel()
        with pytest.raises(asyncio.CancelledError):
            await request

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        asyncio.run(leave_midway())
    [line] = access_lines(caplog)
    assert '"GET /sparql?query=SELECT' in line and '" 499 - ' in line


def test_an_answer_cut_by_a_dying_evaluator_is_left_unfinished(
    evaluator: IsolatedExecutor, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The 200 is out when the evaluator dies (killed here as the OOM killer would, after the
    first part of the body): the answer is not ended (the client sees it cut, not a short but
    well-formed body), a warning says why, and nothing is raised to uvicorn (which would log a
    traceback)."""
    gateway = served_gateway(Settings(store_dir=tmp_path / "none"), evaluator, tmp_path)
    victim = evaluator.evaluator_pid()

    def kill_after_the_first_part(parts: int) -> None:
        if parts == 1:
            os.kill(victim, signal.SIGKILL)

    query = urlencode({"query": LARGE, "format": "csv"}).encode()
    with caplog.at_level(logging.INFO):
        answer = asyncio.run(
            call_async(
                gateway, "GET", "/sparql", query, [], b"", 1, on_body_part=kill_after_the_first_part
            )
        )
    assert answer.status == 200 and not answer.complete
    assert 0 < answer.body.count(b"\r\n") < 20001
    assert any("an answer was cut short" in record.getMessage() for record in caplog.records)
    assert wait_for_new_evaluator(evaluator, victim)


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
