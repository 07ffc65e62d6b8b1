"""A real browser on the real server: Debian's Chromium driven headless by Playwright.

One browser and the session's ``live_server`` serve every test here. Each page fails its test
on any console error, uncaught exception or request to a host other than the server; axe-core
(from the npm packages) is injected by the tests, not served to visitors. Screenshots go to
``var/screenshots/`` (git-ignored), for a person to look at.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from iomkg.config import Settings
from tests.conftest import PROJECT_DIR
from tests.servers import LiveServer, start_server, stop_server

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path(os.environ.get("IOMKG_TEST_CHROMIUM", "/usr/bin/chromium"))
MODULES = PROJECT_DIR / "server" / "iomkg" / "web" / "frontend" / "node_modules"
AXE = MODULES / "axe-core" / "axe.min.js"
SCREENSHOTS = PROJECT_DIR / "var" / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
]


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One Chromium for the tests of this package, closed after them: Playwright's sync API keeps
    an asyncio loop running in this thread while it is open, and later tests call asyncio.run()."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (.ci/run does)")
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: npm ci in server/iomkg/web/frontend (make test does)")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@dataclass
class Watched:
    """A page and what went wrong on it: console errors, page errors, foreign requests."""

    page: Any
    server: LiveServer
    problems: list[str] = field(default_factory=list)

    def open(self, path: str) -> Any:
        response = self.page.goto(self.server.url + path)
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        self.page.wait_for_load_state("networkidle")
        return response

    def shoot(self, name: str, selector: str | None = None) -> Path:
        """The whole page, or only the element ``selector`` (a part to look at closely)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        if selector is None:
            self.page.screenshot(path=str(path), full_page=True)
        else:
            self.page.locator(selector).screenshot(path=str(path))
        return path

    def axe(self, name: str, every: bool = False) -> list[dict[str, Any]]:
        """Serious and critical axe-core violations on the page as it is, or with ``every`` all
        of them, minor and moderate too (all are written to ``var/screenshots/NAME.axe.json``)."""
        if not self.page.evaluate("typeof window.axe !== 'undefined'"):
            self.page.evaluate(AXE.read_text(encoding="utf-8"))
        results = self.page.evaluate(
            "async () => await axe.run(document, {resultTypes: ['violations']})"
        )
        violations: list[dict[str, Any]] = results["violations"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        summary = [
            {
                "id": v["id"],
                "impact": v["impact"],
                "help": v["help"],
                "nodes": [n["target"] for n in v["nodes"]][:10],
            }
            for v in violations
        ]
        (SCREENSHOTS / f"{name}.axe.json").write_text(json.dumps(summary, indent=2) + "\n")
        return [v for v in summary if every or v["impact"] in ("serious", "critical")]


@contextmanager
def watching(browser: Any, server: LiveServer) -> Iterator[Watched]:
    """A fresh page (its own storage) on ``server`` that records every problem; fails on any."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    server_host = urlsplit(server.url).netloc
    watched = Watched(page, server)

    def on_console(message: Any) -> None:
        if message.type == "error":
            watched.problems.append(f"console error: {message.text}")

    def on_request(request: Any) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("blob", "data"):
            return
        if parts.netloc != server_host:
            watched.problems.append(f"request to another host: {request.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: watched.problems.append(f"page error: {error}"))
    page.on("request", on_request)
    try:
        yield watched
    finally:
        context.close()
    assert not watched.problems, "\n".join(watched.problems)


@pytest.fixture
def watched(browser: Any, live_server: LiveServer) -> Iterator[Watched]:
    """A watched page on the session's live server."""
    with watching(browser, live_server) as page:
        yield page


@pytest.fixture(scope="session")
def project_server(
    built_settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The server on the build ``make run`` serves: the seed sources and the IATI samples of
    data/iati (real commitments, years and locations for the home page's dashboards)."""
    running = start_server(
        built_settings.store_root, tmp_path_factory.mktemp("project") / "server.log"
    )
    yield running.server
    stop_server(running)
