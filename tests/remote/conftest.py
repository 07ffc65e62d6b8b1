"""The remote backend's fixtures: each engine (Oxigraph's server, Virtuoso 7) once per session,
holding a build of the seed sources (``seed_built_settings``: the protocol needs no IATI samples,
and publishing their 53,000 more triples took one MOVE past the 30 s answer time on a busy
machine) as ``iomkg build --backend`` publishes it, and ``iomkg serve
--backend`` over it under the names the web tests use (``live_server``, ``update_server``,
``limited_server``), so those tests run here unchanged, once per engine."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest

from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from iomkg.store.remote import Published, RemoteStore, publish
from tests.engines import RunningEngine, oxigraph_engine, virtuoso_engine
from tests.servers import LiveServer, start_server, stop_server
from tests.web.conftest import UPDATE_TOKEN, listener

__all__ = ["listener"]  # the web tests' fixture, for their tests run here

ENGINES = {"oxigraph": oxigraph_engine, "virtuoso": virtuoso_engine}


def publish_release(settings: Settings, engine: RunningEngine) -> Published:
    """Make the engine hold the session's build, as ``iomkg build --backend`` does."""
    release = Releases(settings.store_root).require_current()
    store = OxigraphStore.open(release.store_path, read_only=True)
    return publish(store, RemoteStore.connect(engine.url, settings.base_iri))


@pytest.fixture(scope="session", params=sorted(ENGINES))
def engine(
    request: pytest.FixtureRequest,
    seed_built_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningEngine]:
    folder = tmp_path_factory.mktemp(request.param)
    with ENGINES[request.param](folder) as running:
        publish_release(seed_built_settings, running)
        yield running


@pytest.fixture(scope="session")
def remote(engine: RunningEngine, seed_built_settings: Settings) -> RemoteStore:
    """The store interface over the engine."""
    return RemoteStore.connect(engine.url, seed_built_settings.base_iri)


def serve_over(
    engine: RunningEngine, settings: Settings, log: Path, *extra: str
) -> Iterator[LiveServer]:
    running = start_server(settings.store_root, log, *extra, env={"IOMKG_BACKEND": engine.url})
    yield running.server
    stop_server(running)


@pytest.fixture(scope="session")
def live_server(
    engine: RunningEngine, seed_built_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """``iomkg serve --backend`` over the engine: read-only, updates refused."""
    yield from serve_over(
        engine, seed_built_settings, tmp_path_factory.mktemp("serve") / "server.log"
    )


@pytest.fixture
def update_server(
    engine: RunningEngine, seed_built_settings: Settings, tmp_path: Path
) -> Iterator[LiveServer]:
    """The same, taking updates with ``UPDATE_TOKEN``; the engine holds the build again after
    the test (publishing it replaces whatever the updates made)."""
    try:
        yield from serve_over(
            engine, seed_built_settings, tmp_path / "server.log", "--update-token", UPDATE_TOKEN
        )
    finally:
        publish_release(seed_built_settings, engine)


#: The limited server's time limit over an engine: a quick query answers in a few milliseconds,
#: but within 1 s only on a quiet machine (another process and the engine share its cores).
ENGINE_LIMIT = 5.0


@pytest.fixture
def limited_server(
    engine: RunningEngine, seed_built_settings: Settings, tmp_path: Path
) -> Iterator[LiveServer]:
    """Tiny limits (5 rows, a few seconds a query), to see the engine's answers cut and
    stopped."""
    limits = ("--max-rows", "5", "--query-timeout", f"{ENGINE_LIMIT:g}")
    for server in serve_over(engine, seed_built_settings, tmp_path / "server.log", *limits):
        yield dataclasses.replace(server, query_timeout=ENGINE_LIMIT)
