"""``/assets/…``: the front-end packages, served by this app from their npm install.

``npm ci`` in ``server/iomkg/web/frontend`` (the install step of ``make run`` and ``make test``)
fetches the packages pinned with integrity hashes in its ``package-lock.json`` into
``node_modules`` (git-ignored). Only the files listed in :data:`ASSETS` are served, never the
folder as a whole. Without them the pages are plain HTML forms that say what is missing: the
templates ask :func:`frontend` which scripts are there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, send_file

from iomkg.web.common import web

blueprint = Blueprint("assets", __name__)


@dataclass(frozen=True)
class Asset:
    """One file of an npm package, what it is for and its licence."""

    package: str
    path: str  # inside node_modules/<package>/
    purpose: str
    licence: str


#: ``{name under /assets/: the file}``. Prebuilt dist files only: no bundler.
ASSETS: dict[str, Asset] = {
    "codemirror.js": Asset("codemirror", "lib/codemirror.js", "the query editor", "MIT"),
    "codemirror.css": Asset("codemirror", "lib/codemirror.css", "the query editor", "MIT"),
    "sparql.js": Asset("codemirror", "mode/sparql/sparql.js", "SPARQL highlighting", "MIT"),
    "turtle.js": Asset("codemirror", "mode/turtle/turtle.js", "Turtle highlighting", "MIT"),
    "show-hint.js": Asset("codemirror", "addon/hint/show-hint.js", "completion", "MIT"),
    "show-hint.css": Asset("codemirror", "addon/hint/show-hint.css", "completion", "MIT"),
    "lint.js": Asset("codemirror", "addon/lint/lint.js", "error markers", "MIT"),
    "matchbrackets.js": Asset("codemirror", "addon/edit/matchbrackets.js", "brackets", "MIT"),
    "runmode.js": Asset("codemirror", "addon/runmode/runmode.js", "Turtle answers", "MIT"),
    "echarts.js": Asset(
        "echarts", "dist/echarts.min.js", "charts, maps, graph views", "Apache-2.0"
    ),
    "topojson-client.js": Asset(
        "topojson-client", "dist/topojson-client.min.js", "the world outline", "ISC"
    ),
    "countries-110m.json": Asset(
        "world-atlas", "countries-110m.json", "the world outline (Natural Earth)", "ISC"
    ),
    "country-codes.json": Asset(
        "i18n-iso-countries", "codes.json", "ISO 3166 alpha-2/alpha-3/numeric codes", "MIT"
    ),
}

#: What each page needs, in load order.
EDITOR = (
    "codemirror.js",
    "sparql.js",
    "turtle.js",
    "show-hint.js",
    "lint.js",
    "matchbrackets.js",
    "runmode.js",
)
CHARTS = ("echarts.js", "topojson-client.js")
#: lint.css is not served: its icons are data: images, which the pages' policy refuses;
#: style.css draws the markers instead.
STYLES = ("codemirror.css", "show-hint.css")


def asset_path(modules: Path, name: str) -> Path | None:
    """Where asset ``name`` is on disk, or ``None`` when it is not listed or not installed."""
    asset = ASSETS.get(name)
    if asset is None:
        return None
    path = modules / asset.package / asset.path
    return path if path.is_file() else None


@dataclass(frozen=True)
class Frontend:
    """Which front-end files are installed (what the templates include)."""

    installed: frozenset[str]
    modules: Path

    def has(self, *names: str) -> bool:
        return all(name in self.installed for name in names)

    @property
    def complete(self) -> bool:
        return self.has(*ASSETS)

    @property
    def missing_packages(self) -> list[str]:
        return sorted({ASSETS[name].package for name in ASSETS if name not in self.installed})


def frontend_of(modules: Path) -> Frontend:
    return Frontend(
        frozenset(name for name in ASSETS if asset_path(modules, name) is not None), modules
    )


@blueprint.app_template_global("frontend")
def frontend() -> Frontend:
    """The installed front end, looked up once per app (``npm ci`` needs a restart to show)."""
    context = web()
    return context.statistics.get(
        "frontend", lambda: frontend_of(context.settings.frontend_modules)
    )


@blueprint.route("/assets/<name>")
def asset(name: str) -> Response:
    path = asset_path(web().settings.frontend_modules, name)
    if path is None:
        abort(404)
    response = send_file(path, max_age=3600, conditional=True)
    return response
