"""The Flask app in-process (test client): headers, limits, CORS, escaping, downloads, logging.

These use the in-memory seed store or a tiny hand-made one through the in-process executor
(``DirectExecutor``: the served row cap and bytes), and the served executor's killable
evaluators (the ``evaluator`` fixture) where a query must be stopped at its time limit.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest
from flask import Flask
from flask.testing import FlaskClient

from iomkg.config import Settings
from iomkg.serving.executor import ExecutorStore, IsolatedExecutor
from iomkg.store import OxigraphStore
from iomkg.store.remote import remote_store
from iomkg.web import create_app

SELECT = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 1"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


#: A query that never ends on any real graph (a cubic cross join): for the time limit.
ENDLESS = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"


def client_for(app: Flask) -> FlaskClient:
    app.testing = True
    return app.test_client()


@pytest.fixture
def seed_app(seed_store: OxigraphStore, tmp_path: Path) -> Flask:
    return create_app(
        Settings(store_dir=tmp_path / "none"), seed_store, dumps_dir=tmp_path / "no-dumps"
    )


@pytest.fixture
def client(seed_app: Flask) -> FlaskClient:
    return client_for(seed_app)


# Headers and limits ----------------------------------------------------------------------------


def test_row_limit_is_signalled(seed_store: OxigraphStore, tmp_path: Path) -> None:
    client = client_for(create_app(Settings(store_dir=tmp_path, max_rows=1), seed_store))
    three = "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"
    response = client.get("/sparql", query_string={"query": three, "format": "csv"})
    assert response.status_code == 200
    assert response.headers["X-Row-Limit"] == "1"
    assert (
        response.headers["Warning"].startswith("199 iomkg ")
        and "row limit of 1" in response.headers["Warning"]
    )
    assert response.text.count("\r\n") == 2  # the header and the one row the cap lets through
    complete = client_for(create_app(Settings(store_dir=tmp_path), seed_store)).get(
        "/sparql", query_string={"query": SELECT}
    )
    assert "X-Row-Limit" not in complete.headers and "Warning" not in complete.headers


def test_timeout_is_503_naming_the_limit(evaluator: IsolatedExecutor, tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path, query_timeout=0.5)
    client = client_for(create_app(settings, ExecutorStore(evaluator), evaluator, tmp_path))
    started = time.monotonic()
    response = client.get("/sparql", query_string={"query": ENDLESS})
    assert time.monotonic() - started < 10  # stopped at the limit, not run to its end
    assert response.status_code == 503
    assert "0.5 s" in response.text and "IOMKG_QUERY_TIMEOUT" in response.text
    assert response.content_type.startswith("text/plain") and response.headers["Vary"] == "Accept"
    page = client.get("/sparql", query_string={"query": ENDLESS}, headers={"Accept": BROWSER})
    assert (
        page.status_code == 503
        and "0.5 s" in page.text
        and page.content_type.startswith("text/html")
    )


def test_store_failure_is_500_not_400(failing_engine: str, tmp_path: Path) -> None:
    """An engine that fails (a real HTTP server answering 500) is the server's fault."""
    settings = Settings(store_dir=tmp_path, backend=failing_engine)
    client = client_for(create_app(settings, remote_store(settings)))
    response = client.get("/sparql", query_string={"query": SELECT})
    assert response.status_code == 500 and "disk on fire" in response.text


def test_request_size_limit(seed_store: OxigraphStore, tmp_path: Path) -> None:
    client = client_for(
        create_app(Settings(store_dir=tmp_path, max_request_bytes=1000), seed_store)
    )
    big = "SELECT * WHERE { ?s ?p ?o } # " + "x" * 2000
    response = client.post("/sparql", data=big, content_type="application/sparql-query")
    assert response.status_code == 413 and "1000-byte limit" in response.text
    assert client.get("/sparql", query_string={"query": big}).status_code == 414


def test_vary_accept_everywhere(client: FlaskClient) -> None:
    for path in ("/", "/sparql", "/healthz", "/id/country/NO", "/nowhere", "/download/"):
        assert "Accept" in client.get(path).headers.get("Vary", ""), path


def test_syntax_error_carries_the_parser_message(client: FlaskClient) -> None:
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    assert response.text.startswith("the SPARQL does not parse: line 1, column ")


# CORS ------------------------------------------------------------------------------------------


def test_cors_for_reads(client: FlaskClient) -> None:
    response = client.get(
        "/sparql", query_string={"query": SELECT}, headers={"Origin": "https://yasgui.example"}
    )
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "X-Row-Limit" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        "/sparql",
        headers={
            "Origin": "https://yasgui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type, accept",
        },
    )
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    with_token = client.options(
        "/sparql",
        headers={
            "Origin": "https://yasgui.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, content-type",
        },
    )
    assert "Access-Control-Allow-Origin" not in with_token.headers  # no cross-origin updates


def test_cors_configurable(seed_store: OxigraphStore, tmp_path: Path) -> None:
    listed = client_for(
        create_app(Settings(store_dir=tmp_path, cors_origins="https://a.example"), seed_store)
    )
    allowed = listed.get("/healthz", headers={"Origin": "https://a.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://a.example"
    assert "Origin" in allowed.headers["Vary"]
    assert (
        "Access-Control-Allow-Origin"
        not in listed.get("/healthz", headers={"Origin": "https://b.example"}).headers
    )
    off = client_for(create_app(Settings(store_dir=tmp_path, cors_origins=""), seed_store))
    assert (
        "Access-Control-Allow-Origin"
        not in off.get("/healthz", headers={"Origin": "https://a.example"}).headers
    )


def test_update_responses_carry_no_cors(tmp_path: Path) -> None:
    store = OxigraphStore(ox.Store())  # of its own: the update is applied
    client = client_for(create_app(Settings(store_dir=tmp_path, update_token="t"), store))
    response = client.post(
        "/sparql",
        data="INSERT DATA { <id/a> <id/b> 1 }",
        content_type="application/sparql-update",
        headers={"Authorization": "Bearer t", "Origin": "http://localhost"},
    )
    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers
    assert len(store.raw) == 1


# Pages: escaping and links ---------------------------------------------------------------------


def test_pages_escape_and_never_link_javascript(tmp_path: Path) -> None:
    base = "http://example.org/kg/"
    store = OxigraphStore.in_memory()
    thing, graph = ox.NamedNode(base + "id/thing/x"), ox.NamedNode(base + "graph/sources/x")
    store.raw.extend(
        [
            ox.Quad(
                thing,
                ox.NamedNode("http://www.w3.org/2004/02/skos/core#prefLabel"),
                ox.Literal("<script>alert(1)</script>", language="en"),
                graph,
            ),
            ox.Quad(
                thing,
                ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#seeAlso"),
                ox.NamedNode("javascript:alert(2)"),
                graph,
            ),
        ]
    )
    client = client_for(create_app(Settings(base_iri=base, store_dir=tmp_path), store))
    page = client.get("/id/thing/x", headers={"Accept": BROWSER})
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert (
        "<script>alert(1)" not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    )
    assert 'href="javascript:' not in page.text
    assert (
        'href="/graph/sources/x"' in page.text
    )  # local IRIs link to local paths, whatever the base
    turtle = client.get("/id/thing/x")
    assert turtle.content_type.startswith("text/turtle")
    subjects = {t.subject for t in ox.parse(turtle.data, ox.RdfFormat.TURTLE)}
    assert subjects == {thing}
    query = client.get(
        "/sparql",
        query_string={"query": "SELECT * WHERE { ?s ?p ?o }"},
        headers={"Accept": BROWSER},
    )
    assert "<script>alert(1)" not in query.text and 'href="javascript:' not in query.text


def test_query_page_offers_downloads(client: FlaskClient) -> None:
    page = client.get("/sparql", headers={"Accept": BROWSER})
    assert page.status_code == 200 and "<textarea" in page.text and "id/project/ntf" in page.text
    assert (
        "cdn" not in page.text.lower()
        and "https://" not in page.text.split("<textarea")[0].split("</nav>")[0]
    )
    ran = client.get("/sparql", query_string={"query": SELECT}, headers={"Accept": BROWSER})
    for name in ("json", "xml", "csv", "tsv"):
        assert f"format={name}" in ran.text


def test_home_and_query_page_offer_the_saved_queries(client: FlaskClient) -> None:
    home = client.get("/", headers={"Accept": BROWSER})
    assert home.status_code == 200 and "Example queries" in home.text
    assert "union of all named graphs" in home.text
    assert "Donors of a programme or activity" in home.text  # a saved query's title
    assert "/api/queries/list-donors" in home.text
    editor = client.get("/sparql", headers={"Accept": BROWSER})
    assert "Saved queries to start from" in editor.text and "Timeline of programmes" in editor.text


# Downloads -------------------------------------------------------------------------------------


@pytest.fixture
def dumps_client(seed_store: OxigraphStore, tmp_path: Path) -> Iterator[tuple[FlaskClient, Path]]:
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "iomkg.ttl").write_bytes(b"<http://a> <http://b> <http://c> .\n" * 200)
    (folder / "iomkg.nq").write_bytes(b"<http://a> <http://b> <http://c> <http://g> .\n" * 200)
    (folder / "iomkg.nq.gz").write_bytes(gzip.compress(b"precompressed\n"))
    yield client_for(create_app(Settings(store_dir=tmp_path), seed_store, dumps_dir=folder)), folder


def fetch(client: FlaskClient, path: str, **headers: str) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers of a GET, the response closed (send_file holds the file open)."""
    response = client.get(
        path, headers={key.replace("_", "-"): value for key, value in headers.items()}
    )
    try:
        return response.status_code, response.get_data(), dict(response.headers)
    finally:
        response.close()


def test_download_conditional_and_gzip(dumps_client: tuple[FlaskClient, Path]) -> None:
    client, folder = dumps_client
    listing = client.get("/download/", headers={"Accept": "application/json"}).get_json()
    assert {item["name"]: item["mediaType"] for item in listing} == {
        "iomkg.nq": "application/n-quads",
        "iomkg.ttl": "text/turtle",
    }
    original = (folder / "iomkg.ttl").read_bytes()
    status, body, headers = fetch(client, "/download/iomkg.ttl", Accept_Encoding="identity")
    assert status == 200 and body == original
    assert headers["Content-Type"].startswith("text/turtle") and "Content-Encoding" not in headers
    assert "Accept-Encoding" in headers["Vary"] and headers["Last-Modified"]
    assert headers["Content-Disposition"] == "attachment; filename=iomkg.ttl"
    etag, modified = headers["ETag"], headers["Last-Modified"]
    status, body, _ = fetch(
        client, "/download/iomkg.ttl", If_None_Match=etag, Accept_Encoding="identity"
    )
    assert status == 304 and body == b""
    assert (
        fetch(
            client, "/download/iomkg.ttl", If_Modified_Since=modified, Accept_Encoding="identity"
        )[0]
        == 304
    )
    status, body, zipped = fetch(client, "/download/iomkg.ttl", Accept_Encoding="gzip")
    assert zipped["Content-Encoding"] == "gzip" and zipped["ETag"] != etag
    assert gzip.decompress(body) == original
    assert zipped["Content-Disposition"] == "attachment; filename=iomkg.ttl"  # not .gz
    assert (
        fetch(client, "/download/iomkg.ttl", Accept_Encoding="gzip", If_None_Match=zipped["ETag"])[
            0
        ]
        == 304
    )
    status, body, headers = fetch(client, "/download/iomkg.nq", Accept_Encoding="gzip, deflate")
    assert (
        gzip.decompress(body) == b"precompressed\n"
        and headers["Content-Type"] == "application/n-quads"
        and headers["Content-Disposition"] == "attachment; filename=iomkg.nq"
    )
    assert fetch(client, "/download/iomkg.nq.gz")[0] == 404
    assert fetch(client, "/download/..%2Fstore")[0] == 404


# Operations ------------------------------------------------------------------------------------


def test_healthz(client: FlaskClient, seed_store: OxigraphStore) -> None:
    body = client.get("/healthz").get_json()
    assert body == {"status": "ok", "graphs": len(seed_store.named_graphs())}


def test_healthz_reports_a_failing_store(failing_engine: str, tmp_path: Path) -> None:
    settings = Settings(store_dir=tmp_path, backend=failing_engine)
    response = client_for(create_app(settings, remote_store(settings))).get("/healthz")
    assert response.status_code == 503 and json.loads(response.text)["status"] == "unavailable"


def test_one_access_log_line_per_request(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        client.get("/sparql", query_string={"query": SELECT}).close()
        client.get("/nowhere").close()
    lines = [record.getMessage() for record in caplog.records if record.name == "iomkg.access"]
    assert len(lines) == 2
    assert (
        '"GET /sparql?query=' in lines[0]
        and " 200 " in lines[0]
        and "query=" in lines[0].split('"')[-1]
    )
    assert " 404 " in lines[1]


def test_a_head_request_is_logged_without_a_size(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Its headers give the length of the body a GET would get, but no body goes out."""
    with caplog.at_level(logging.INFO, logger="iomkg.access"):
        answer = client.head("/healthz")
        assert answer.headers.get("Content-Length") not in (None, "0")
        answer.close()
    [line] = [record.getMessage() for record in caplog.records if record.name == "iomkg.access"]
    assert '"HEAD /healthz" 200 - ' in line
