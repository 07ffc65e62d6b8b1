"""The real server as a subprocess on a free loopback port, serving the real project's build.

``live_server`` (one per session, read-only) answers most tests; ``update_server`` (one per test
that needs it) serves a private copy of the store with updates enabled, so writes never leak.
``evaluator`` is the served executor over the same build, for in-process apps whose queries
must be stopped at their time limit; ``failing_engine`` a real HTTP server that fails.
"""

from __future__ import annotations

import dataclasses
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from iomkg.config import Settings
from iomkg.serving.executor import IsolatedExecutor
from iomkg.store.releases import Releases
from tests.executor.conftest import wait_for_source
from tests.servers import LiveServer, start_server, stop_server
from tests.web.listener import Listener

UPDATE_TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def web_store_root(seed_built_settings: Settings) -> Path:
    """The store folder the servers serve: the session's build of the seed sources (SHACL and
    checks passed; without the IATI samples, whose answers tests/iati checks, so that the pages'
    figures and the 1-2 s limits of these tests stay the seed's)."""
    return seed_built_settings.store_root


@pytest.fixture(scope="session")
def live_server(
    web_store_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The server on the session's build: read-only, updates refused."""
    running = start_server(web_store_root, tmp_path_factory.mktemp("live") / "server.log")
    yield running.server
    stop_server(running)


@pytest.fixture
def update_server(web_store_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A server on a private copy of the build, accepting updates with ``UPDATE_TOKEN``."""
    copy = tmp_path / "store"
    shutil.copytree(web_store_root, copy, symlinks=True)
    running = start_server(copy, tmp_path / "server.log", "--update-token", UPDATE_TOKEN)
    yield running.server
    stop_server(running)


@pytest.fixture
def limited_server(web_store_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A server with tiny limits (5 rows, 1 s per query), to see how it says it cut or stopped."""
    running = start_server(
        web_store_root, tmp_path / "server.log", "--max-rows", "5", "--query-timeout", "1"
    )
    yield dataclasses.replace(running.server, query_timeout=1.0)
    stop_server(running)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback listener that counts connections: nothing may reach it."""
    running = Listener()
    yield running
    running.close()


@pytest.fixture(scope="session")
def evaluator(seed_built_settings: Settings) -> Iterator[IsolatedExecutor]:
    """Killable evaluators over the session's seed build, as ``iomkg serve`` runs them."""
    release = Releases(seed_built_settings.store_root).require_current()
    with IsolatedExecutor(seed_built_settings, release.versions.base, workers=2) as isolated:
        isolated.call("pid", timeout=60)  # started (slow on a busy machine)
        wait_for_source(isolated, "memory")  # the copy in memory replaced the disk evaluator
        yield isolated


class _FailingEngine(BaseHTTPRequestHandler):
    """Answers every request 500, as an engine whose disk failed would."""

    def _fail(self) -> None:
        body = b"disk on fire"
        self.send_response(500)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _fail

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="session")
def failing_engine() -> Iterator[str]:
    """The URL of a SPARQL endpoint on 127.0.0.1 that answers every request with a 500."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FailingEngine)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()
    server.server_close()
