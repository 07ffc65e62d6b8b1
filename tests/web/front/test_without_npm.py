"""Without the npm packages (no npm on the machine) the pages, in a real browser, are plain HTML
forms that work and say what is missing: no script that fails to load, no console error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import LiveServer, start_server, stop_server
from tests.web.front.conftest import watching

pytestmark = pytest.mark.slow

MISSING = "need the front-end packages"


@pytest.fixture(scope="module")
def bare_server(web_store_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The server on the session's build, its front-end packages folder empty."""
    folder = tmp_path_factory.mktemp("no-npm")
    running = start_server(
        web_store_root,
        folder / "server.log",
        env={"IOMKG_FRONTEND_DIR": str(folder / "node_modules")},
    )
    yield running.server
    stop_server(running)


def test_without_npm_the_pages_are_forms_that_work_and_say_what_is_missing(
    browser: Any, bare_server: LiveServer
) -> None:
    with watching(browser, bare_server) as watched:
        page = watched.page
        watched.open("/sparql")
        notice = page.inner_text("p.missing-frontend")
        assert MISSING in notice and "codemirror" in notice and "npm ci" in notice
        assert page.locator("script[src^='/assets/']").count() == 0
        assert page.locator("details.history").count() == 0  # it needs the scripts
        page.fill("textarea#query", "SELECT ?name WHERE { <id/country/NO> skos:prefLabel ?name }")
        page.click("form.query button[type=submit]")  # a plain form: POST, answered as HTML
        page.wait_for_load_state("networkidle")
        assert "Norway" in page.inner_text("table")
        watched.shoot("no-npm-query")
        watched.open("/")
        assert "The dashboards' charts and map " + MISSING in page.inner_text("main")
        assert "Not drawn: the front-end packages are missing." in page.inner_text("main")
        page.fill("#site-search", "norway")
        page.keyboard.press("Enter")
        page.wait_for_url("**/search?q=norway")
        page.click("ol.hits li a >> nth=0")
        page.wait_for_url("**/id/country/NO")
        assert page.inner_text("h1") == "Norway"
        watched.open("/id/project/ntf")
        assert "The graph of the neighbours " + MISSING in page.inner_text("main")
        assert "IOM Serbia page, line " in page.inner_text("table.properties")
        watched.shoot("no-npm-resource")
