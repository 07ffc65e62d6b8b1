"""The WSGI fast path answers plain ``GET /sparql`` queries exactly as the Flask route does.

Each request goes to the app as built (fast path in front) and to the same app with the fast path
taken off; status, headers (all but Date) and body must be the same, and so must the access log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlencode

import pytest
from flask import Flask
from werkzeug.test import Client

from iomkg.config import Settings
from iomkg.service import QueryExecutor, QueryRequest, QueryResponse
from iomkg.store import OxigraphStore
from iomkg.web import create_app
from iomkg.web.fastpath import FastPath
from tests.web.test_app import BROWSER, CuttingExecutor, SlowExecutor

SELECT = "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"
CONSTRUCT = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o LIMIT 5"
ASK = "ASK { ?s ?p ?o }"

#: (query-string parameters, request headers)
REQUESTS: list[tuple[dict[str, str], dict[str, str]]] = [
    ({"query": SELECT}, {}),
    ({"query": SELECT}, {"Accept": "application/sparql-results+json"}),
    ({"query": SELECT, "format": "csv"}, {}),
    ({"query": SELECT}, {"Accept": "text/tab-separated-values"}),
    ({"query": SELECT}, {"Accept": "application/sparql-results+xml"}),
    ({"query": CONSTRUCT}, {"Accept": "text/turtle"}),
    ({"query": CONSTRUCT, "format": "nt"}, {}),
    ({"query": ASK}, {}),
    ({"query": "SELECT WHERE {"}, {}),  # the executor refuses it: 400
    ({"query": SELECT, "format": "nonsense"}, {}),  # the protocol refuses it: 406
    ({"query": SELECT}, {"Accept": "image/png"}),
    ({"query": SELECT}, {"Accept": BROWSER}),  # the HTML page
    ({"query": SELECT}, {"Origin": "https://elsewhere.example"}),  # CORS
    ({"query": SELECT, "default-graph-uri": "http://nowhere.example/g"}, {}),
]


def without_fast_path(app: Flask) -> Flask:
    assert isinstance(app.wsgi_app, FastPath)
    app.wsgi_app = app.wsgi_app.wrapped  # type: ignore[method-assign]
    return app


def make_apps(
    settings: Settings, store: OxigraphStore, executor: QueryExecutor | None, tmp_path: Path
) -> tuple[Flask, Flask]:
    fast = create_app(settings, store, executor, dumps_dir=tmp_path / "no-dumps")
    plain = without_fast_path(
        create_app(settings, store, executor, dumps_dir=tmp_path / "no-dumps")
    )
    return fast, plain


def answer(
    app: Flask, params: dict[str, str], headers: dict[str, str], caplog: pytest.LogCaptureFixture
) -> tuple[int, list[tuple[str, str]], bytes, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        response = Client(app).get(
            "/sparql?" + urlencode(params),
            headers=headers,
            environ_base={"REMOTE_ADDR": "10.1.2.3"},
        )
        body = response.get_data()
        response.close()
    lines = [
        # The same line but for the times.
        record.getMessage().rsplit(" ", 2)[0]
        for record in caplog.records
        if record.name == "iomkg.access"
    ]
    kept = [(name, value) for name, value in response.headers.items() if name != "Date"]
    return response.status_code, kept, body, lines


def assert_same(
    fast: Flask,
    plain: Flask,
    params: dict[str, str],
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    expected = answer(plain, params, headers, caplog)
    got = answer(fast, params, headers, caplog)
    assert got == expected
    assert len(got[3]) == 1


@pytest.mark.parametrize(("params", "headers"), REQUESTS)
def test_same_answer_as_flask(
    params: dict[str, str],
    headers: dict[str, str],
    seed_store: OxigraphStore,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fast, plain = make_apps(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    assert_same(fast, plain, params, headers, caplog)


@pytest.mark.parametrize("cors", ["", "https://a.example https://b.example"])
def test_same_headers_whatever_the_cors_setting(
    cors: str, seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(store_dir=tmp_path / "none", cors_origins=cors)
    fast, plain = make_apps(settings, seed_store, None, tmp_path)
    assert_same(fast, plain, {"query": SELECT}, {}, caplog)
    assert_same(fast, plain, {"query": SELECT}, {"Origin": "https://a.example"}, caplog)


def test_truncated_result(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fast, plain = make_apps(
        Settings(store_dir=tmp_path / "none"), seed_store, CuttingExecutor(), tmp_path
    )
    assert_same(fast, plain, {"query": SELECT}, {}, caplog)
    status, headers, _, _ = answer(fast, {"query": SELECT}, {}, caplog)
    assert status == 200 and ("X-Row-Limit", "1") in headers


class CountingSlowExecutor(SlowExecutor):
    def __init__(self) -> None:
        self.calls = 0

    def run_query(self, request: QueryRequest, timeout: float | None = None) -> QueryResponse:
        self.calls += 1
        return super().run_query(request, timeout)


def test_timeout_runs_the_query_once(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    executor = CountingSlowExecutor()
    settings = Settings(store_dir=tmp_path / "none", query_timeout=2)
    fast, plain = make_apps(settings, seed_store, executor, tmp_path)
    assert_same(fast, plain, {"query": SELECT}, {}, caplog)
    executor.calls = 0
    assert answer(fast, {"query": SELECT}, {}, caplog)[0] == 503
    assert executor.calls == 1


def test_other_requests_go_to_flask(seed_store: OxigraphStore, tmp_path: Path) -> None:
    fast, _ = make_apps(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    client = Client(fast)
    assert client.post("/sparql", data={"query": ASK}).status_code == 200
    assert client.head("/sparql?" + urlencode({"query": ASK})).status_code == 200
    assert client.get("/healthz").status_code == 200
    description = client.get("/sparql", headers={"Accept": "text/turtle"})
    assert description.status_code == 200 and b"sparql-service-description" in description.data


@pytest.mark.parametrize(
    ("params", "headers"),
    [
        ({"query": SELECT}, {}),
        ({"query": SELECT, "format": "tsv"}, {}),
        ({"query": CONSTRUCT}, {"Accept": "text/turtle"}),
        ({"query": ASK}, {"Accept": "application/sparql-results+xml"}),
    ],
)
def test_plain_queries_skip_flask(
    params: dict[str, str], headers: dict[str, str], seed_store: OxigraphStore, tmp_path: Path
) -> None:
    fast, _ = make_apps(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    assert isinstance(fast.wsgi_app, FastPath)

    def no_flask(environ: object, start_response: object) -> list[bytes]:
        raise AssertionError("went to Flask")

    fast.wsgi_app.wrapped = no_flask
    response = Client(fast).get("/sparql?" + urlencode(params), headers=headers)
    assert response.status_code == 200 and response.get_data()


def test_access_log_line_for_a_raw_query_string(
    seed_store: OxigraphStore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The URL is logged as Flask logs it (trailing ``?`` stripped), not re-encoded."""
    fast, plain = make_apps(Settings(store_dir=tmp_path / "none"), seed_store, None, tmp_path)
    lines = []
    for app in (fast, plain):
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="iomkg.access"):
            response = Client(app).get("/sparql?query=ASK%7B%7D&x=?")
            assert response.status_code == 200
            response.close()
        lines.append([record.getMessage().rsplit(" ", 2)[0] for record in caplog.records])
    assert lines[0] == lines[1] == ['- "GET /sparql?query=ASK%7B%7D&x=" 200 -']
