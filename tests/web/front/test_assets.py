"""The front-end packages: pinned with integrity hashes, git-ignored, served by the app itself
(listed files only); without them the pages are plain HTML forms that say what is missing."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.web import create_app
from iomkg.web.assets import ASSETS
from tests.conftest import PROJECT_DIR
from tests.servers import LiveServer

FRONTEND = PROJECT_DIR / "server" / "iomkg" / "web" / "frontend"
BROWSER = "text/html,application/xhtml+xml"
ALLOWED_LICENCES = {"MIT", "ISC", "BSD-3-Clause", "BSD-2-Clause", "Apache-2.0", "0BSD"}


def test_every_package_is_pinned_with_an_integrity_hash() -> None:
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    packages = {path: entry for path, entry in lock["packages"].items() if path}
    assert packages
    for path, entry in packages.items():
        assert entry["integrity"].startswith("sha512-"), path
    manifest = json.loads((FRONTEND / "package.json").read_text())
    for name, version in manifest["dependencies"].items():
        assert packages[f"node_modules/{name}"]["version"] == version  # exact pins


def test_served_packages_have_permissive_licences() -> None:
    lock = json.loads((FRONTEND / "package-lock.json").read_text())
    for path, entry in lock["packages"].items():
        if path and not entry.get("dev"):
            assert entry.get("license") in ALLOWED_LICENCES, (path, entry.get("license"))
    assert {asset.licence for asset in ASSETS.values()} <= ALLOWED_LICENCES


def test_the_installed_packages_are_git_ignored() -> None:
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", str(FRONTEND / "node_modules" / "echarts")],
        cwd=PROJECT_DIR,
        check=False,
    )
    assert ignored.returncode == 0


def test_listed_files_are_served_and_nothing_else(live_server: LiveServer) -> None:
    for name in ASSETS:
        answer = requests.get(f"{live_server.url}/assets/{name}", timeout=30)
        assert answer.status_code == 200, name
        assert answer.headers["Content-Type"].split(";")[0] in (
            "text/javascript",
            "application/javascript",
            "text/css",
            "application/json",
        ), name
    for name in ("package.json", "..%2Fpackage.json", "axe.min.js", "echarts.min.js"):
        assert requests.get(f"{live_server.url}/assets/{name}", timeout=30).status_code == 404


def test_pages_allow_scripts_from_this_server_only(live_server: LiveServer) -> None:
    page = requests.get(live_server.sparql, headers={"Accept": BROWSER}, timeout=30)
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "connect-src 'self';" in policy
    assert "unsafe" not in policy and "http" not in policy and "data:" not in policy
    assert '<script src="/assets/codemirror.js">' in page.text
    assert "missing-frontend" not in page.text


@pytest.fixture
def bare_client(seed_store: OxigraphStore, tmp_path: Path) -> FlaskClient:
    """An app whose front-end packages are not installed (no npm on the machine)."""
    settings = Settings(store_dir=tmp_path / "none", frontend_dir=tmp_path / "no-node-modules")
    app = create_app(settings, seed_store, dumps_dir=tmp_path / "no")
    app.testing = True
    return app.test_client()


def test_without_npm_the_query_page_is_a_plain_form_that_says_what_is_missing(
    bare_client: FlaskClient,
) -> None:
    page = bare_client.get("/sparql", headers={"Accept": BROWSER}).text
    assert '<form method="post" action="/sparql" class="query">' in page
    assert '<textarea id="query" name="query"' in page
    assert "need the front-end packages" in page and "codemirror, echarts" in page
    assert "npm ci" in page
    assert "/assets/" not in page  # no script that would not load
    assert bare_client.get("/assets/codemirror.js").status_code == 404


def test_without_npm_a_long_query_runs_from_the_plain_form(bare_client: FlaskClient) -> None:
    values = " ".join(f"<id/country/X{i:04d}>" for i in range(1200))
    query = (
        f"SELECT ?c ?name WHERE {{ VALUES ?c {{ {values} <id/country/NO> }} "
        "?c skos:prefLabel ?name }"
    )
    assert len(query) > 20_000
    page = bare_client.post("/sparql", data={"query": query}, headers={"Accept": BROWSER})
    assert page.status_code == 200 and "Norway" in page.text


def test_without_npm_home_and_resource_pages_work(bare_client: FlaskClient) -> None:
    for path in ("/", "/id/project/ntf", "/search?q=Norway", "/api/"):
        answer = bare_client.get(path, headers={"Accept": BROWSER})
        assert answer.status_code == 200, path
        assert "/assets/" not in answer.text, path
