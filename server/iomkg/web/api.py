"""``/api``: the saved-query catalogue over HTTP, a thin layer over :mod:`iomkg.catalog`.

* ``GET /api/queries``: the catalogue as JSON (the same objects as ``iomkg queries --json``).
* ``GET /api/queries/NAME?key=value``: runs one saved query, negotiated exactly like ``/sparql``
  (``format=``/``output=`` first, then ``Accept``; a browser gets an HTML page with a form).
* ``GET /api/openapi.json``: the OpenAPI 3.1 description generated from the headers.
* ``GET /api/``: the same, as a page for people.

Parameter values are bound as RDF terms by the catalogue, never spliced into the query. Errors
are JSON ``{"error": …, "parameter": …}`` for programs (the OpenAPI ``Error`` schema): 400 for a
value that does not fit its type, 403 for a SERVICE that is not allow-listed, 404 for an unknown
query, 406 when no format fits, 503 past the time limit.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pyoxigraph as ox
from flask import Blueprint, Response, current_app, jsonify, request, url_for

from iomkg import __version__, catalog, formats, sparqltext
from iomkg.serving.endpoint import PageWanted, failure
from iomkg.views import ResultTable, result_table
from iomkg.web.common import core_request, core_response, html_response, web
from iomkg.web.ops import timing
from iomkg.web.sparql import HTML_ROWS

blueprint = Blueprint("api", __name__)

JSON = "application/json"


def saved_queries() -> catalog.Catalog:
    """This app's catalogue (re-read when a ``queries/*.rq`` file is added, changed or gone)."""
    return web().catalog.current()


@blueprint.app_template_global("api_saved_queries")
def saved_query_entries() -> list[dict[str, Any]]:
    """The catalogue for other pages' templates (``api_examples.html``); empty if it is broken."""
    try:
        return [_entry(query) for query in saved_queries().values()]
    except catalog.CatalogError:
        current_app.logger.exception("the saved-query catalogue does not load")
        return []


# Routes -------------------------------------------------------------------------------------


@blueprint.route("/api/")
@blueprint.route("/api")
def docs() -> Response:
    """The catalogue as a page: each query, its parameters, example links and curl commands."""
    queries = saved_queries()
    return html_response(
        "api.html",
        queries=[_entry(query) for query in queries.values()],
        settings=web().settings,
        openapi_url=url_for("api.openapi"),
        catalogue_url=url_for("api.list_queries"),
    )


@blueprint.route("/api/queries")
def list_queries() -> Response:
    return _json([_entry(query)["json"] for query in saved_queries().values()])


@blueprint.route("/api/openapi.json")
def openapi() -> Response:
    server = request.script_root or "/"
    return _json(catalog.openapi_document(saved_queries(), __version__, server))


@blueprint.route("/api/queries/<name>")
def run(name: str) -> Response:
    """Run one saved query with the query string's parameters, in the negotiated format."""
    outcome = web().endpoint.answer_saved(name, core_request())
    if isinstance(outcome, PageWanted):
        assert outcome.saved is not None
        return _page(outcome.saved, outcome.values)
    return core_response(outcome)


# The HTML page of one query -----------------------------------------------------------------


def _page(saved: catalog.SavedQuery, raw: Mapping[str, str]) -> Response:
    """The query's form (prefilled with the given values, or the examples), and its answer."""
    context = web()
    settings = context.settings
    given = bool(raw) or not saved.examples()
    values = dict(raw) if given else saved.examples()
    table: ResultTable | None = None
    error: str | None = None
    status = 200
    try:
        bound = catalog.prepare(settings, saved.name, values, saved_queries())
        query_request = catalog.query_request(
            bound,
            settings,
            results_format=formats.by_name("json", "results"),
            graph_format=formats.by_name("nt", "graph"),
            max_rows=settings.max_rows,
        )
        started = time.perf_counter()
        try:
            answer = context.executor.run_query(query_request, timeout=settings.query_timeout)
            body = b"".join(answer.chunks)
        finally:
            timing().query += time.perf_counter() - started
        table = result_table(answer.kind, answer.format, body, context.links, HTML_ROWS)
    except catalog.ParameterError as problem:
        error, status = str(problem), 400
    except catalog.ServiceNotAllowed as problem:
        error, status = str(problem), 403
    except Exception as problem:
        status, error, _headers = failure(problem)
    entry = _entry(saved)
    return html_response(
        "api_query.html",
        status=status,
        query=entry,
        values=values,
        given=given,
        table=table,
        error=error,
        downloads=[
            (
                fmt.name,
                run_url(saved.name, {**values, "format": fmt.name}),
                fmt.download_name(saved.name),
            )
            for fmt in formats.TABLES[saved.kind]
        ],
        editor_url=editor_url(saved),
        settings=settings,
    )


# Helpers ------------------------------------------------------------------------------------


def _entry(saved: catalog.SavedQuery) -> dict[str, Any]:
    """What the page and the JSON catalogue say about one query, with its URLs.

    ``editor_url`` (the query as plain SPARQL in the editor) only for a query that answers there:
    one with no required parameter and no SERVICE this server refuses; ``refused_services``
    names the endpoints an operator would have to allow-list.
    """
    example = saved.examples()
    document = saved.to_json()
    document["url"] = run_url(saved.name, {})
    document["example_url"] = run_url(saved.name, example)
    refused = catalog.refused_services(saved, web().settings)
    runs_in_editor = not saved.needs_values and not refused
    return {
        "query": saved,
        "json": document,
        "example": example,
        "url": document["url"],
        "example_url": document["example_url"],
        "docs_url": url_for("api.docs") + "#" + saved.name,
        "editor_url": editor_url(saved) if runs_in_editor else None,
        "refused_services": refused,
    }


def editor_url(saved: catalog.SavedQuery, *, defaults: bool = False) -> str:
    """The query editor prefilled with the saved query's text; with ``defaults``, its optional
    parameters' defaults bound in it (a VALUES block), so that it answers as the API does."""
    sparql = saved.sparql
    if defaults:
        bound = catalog.bind(saved, {}, web().settings.base_iri).substitutions
        terms = {
            name: term
            for name, term in bound.items()
            if isinstance(term, ox.NamedNode | ox.Literal)
        }
        sparql = sparqltext.with_values(sparql, terms)
    return url_for("sparql.endpoint", query=sparql, format="html")


def run_url(name: str, params: Mapping[str, str]) -> str:
    """The URL that runs saved query ``name`` with ``params`` (werkzeug percent-encodes them)."""
    arguments: dict[str, Any] = {"name": name, **params}
    return url_for("api.run", **arguments)


def _json(document: Any, status: int = 200) -> Response:
    response = jsonify(document)
    response.status_code = status
    return response


__all__ = ["blueprint", "saved_queries"]
