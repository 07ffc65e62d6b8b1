"""Fixtures for the saved-query tests: the catalogue, and a way to ask a query per transport."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping

import pytest
import requests
from click.testing import CliRunner, Result

from iomkg import catalog, formats
from iomkg.cli import cli
from iomkg.config import Settings
from iomkg.store import GraphStore
from tests.conftest import PROJECT_DIR, SHARED_DIR
from tests.servers import LiveServer, start_server, stop_server

Rows = list[dict[str, str]]
Ask = Callable[..., Rows]


@pytest.fixture(scope="session")
def settings() -> Settings:
    """The real project's settings (no store needed: for parsing and in-memory runs)."""
    return Settings(project_dir=PROJECT_DIR, shared_dir=SHARED_DIR)


@pytest.fixture(scope="session")
def saved(settings: Settings) -> catalog.Catalog:
    return catalog.load_catalog(settings)


def clean_env(**extra: str) -> dict[str, str | None]:
    """No IOMKG_* variable of the developer's shell leaks into a test (an allow-list, say)."""
    env: dict[str, str | None] = {key: None for key in os.environ if key.startswith("IOMKG_")}
    env.update(extra)
    return env


def run_cli(settings: Settings, *args: str, env: Mapping[str, str] | None = None) -> Result:
    """``iomkg --store … ARGS`` in-process, as a user would type it."""
    return CliRunner().invoke(
        cli,
        ["--store", str(settings.store_root), *args],
        env={**clean_env(IOMKG_PROJECT_DIR=str(settings.project_dir)), **(env or {})},
        catch_exceptions=False,
    )


def rows_of(body: bytes) -> Rows:
    """SPARQL JSON results as rows of plain values (unbound variables left out)."""
    document = json.loads(body)
    return [
        {name: term["value"] for name, term in binding.items()}
        for binding in document["results"]["bindings"]
    ]


def asking(store: GraphStore, settings: Settings, saved: catalog.Catalog) -> Ask:
    """Run a saved query in process on ``store`` (the catalogue's own call), rows as JSON gives."""

    def ask(name: str, **params: str) -> Rows:
        result = catalog.run_saved(store, settings, name, params, saved)
        fmt = formats.by_name("json", "results")
        assert fmt is not None
        return rows_of(formats.serialize_to_bytes(result, fmt))

    return ask


def params_args(params: Mapping[str, str]) -> list[str]:
    return [arg for key, value in params.items() for arg in ("--param", f"{key}={value}")]


@pytest.fixture(scope="session")
def ask_cli(seed_built_settings: Settings) -> Ask:
    """Run a saved query through ``iomkg query NAME --param … --format json`` on the build of the
    seed sources (the IATI samples' answers are tested in tests/iati)."""

    def ask(name: str, **params: str) -> Rows:
        result = run_cli(
            seed_built_settings, "query", name, *params_args(params), "--format", "json"
        )
        assert result.exit_code == 0, result.output
        return rows_of(result.stdout_bytes)

    return ask


@pytest.fixture(scope="session")
def live_server(
    seed_built_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The real server (started as the web tests start it) on the build of the seed sources."""
    running = start_server(
        seed_built_settings.store_root, tmp_path_factory.mktemp("api") / "server.log"
    )
    yield running.server
    stop_server(running)


@pytest.fixture(scope="session")
def ask_http(live_server: LiveServer) -> Ask:
    """Run a saved query through ``GET /api/queries/NAME?key=value`` on the real server."""

    def ask(name: str, **params: str) -> Rows:
        response = requests.get(
            f"{live_server.url}/api/queries/{name}",
            params=params,
            headers={"Accept": "application/sparql-results+json"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"].startswith("application/sparql-results+json")
        return rows_of(response.content)

    return ask
