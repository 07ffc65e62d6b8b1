"""The real server as a subprocess on a free loopback port, serving the real project's build.

``live_server`` (one per session, read-only) answers most tests; ``update_server`` (one per test
that needs it) serves a private copy of the store with updates enabled, so writes never leak.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from iomkg.config import Settings
from tests.servers import LiveServer, start_server, stop_server
from tests.web.listener import Listener

UPDATE_TOKEN = "test-token-0123456789"


@pytest.fixture(scope="session")
def web_store_root(built_settings: Settings) -> Path:
    """The store folder the servers serve: the session's real build (SHACL and checks passed)."""
    return built_settings.store_root


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
    yield running.server
    stop_server(running)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback listener that counts connections: nothing may reach it."""
    running = Listener()
    yield running
    running.close()
