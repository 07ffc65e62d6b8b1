"""The web front end: :func:`create_app` wires settings, store and executor into Flask blueprints.

Blueprints only parse HTTP and render; the work is done by the core (``endpoint`` for
``/sparql`` and the saved-query API, ``resources``, ``descriptions``, ``dumps``). Cross-cutting
rules live here, for the pages (the endpoint core sets its own answers' headers alike):

* ``Vary: Accept`` on every response (most URLs negotiate; caches must never mix formats),
  ``X-Content-Type-Options: nosniff``, and a Content-Security-Policy on pages that allows
  scripts, styles and requests from this server only, and nothing inline (defence in depth
  behind Jinja's escaping).
* CORS for reads, by the rules of :mod:`iomkg.serving.cors`: ``Access-Control-Allow-Origin`` on
  answers to GET/HEAD/POST reads and a preflight answer for ``OPTIONS``; never on updates.
* A request body past ``settings.max_request_bytes`` is refused with 413.

:func:`create_asgi_app` puts :class:`~iomkg.web.gateway.Gateway` in front of the Flask app for
``iomkg serve``: it answers ``/sparql`` and the saved-query API through the same endpoint core
on the event loop, and hands the rest to Flask.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from iomkg import catalog, descriptions
from iomkg.config import Settings
from iomkg.serving import endpoint
from iomkg.serving.cors import CorsPolicy
from iomkg.serving.executor.direct import DirectExecutor
from iomkg.serving.protocol import ProtocolError
from iomkg.serving.service import AsyncQueryExecutor, QueryTimeout
from iomkg.store.base import GraphStore, StoreUnavailable
from iomkg.store.releases import Releases
from iomkg.web import api, assets, downloads, editor, ops, pages, resources, sparql
from iomkg.web.common import CORE_REPLY, EXTENSION, StatisticsCache, WebContext, error_response
from iomkg.web.gateway import Gateway

#: Pages load scripts, styles and data from this server only (the front end of ``assets``),
#: run no inline script or style and cannot be framed.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings,
    store: GraphStore,
    executor: AsyncQueryExecutor | None = None,
    dumps_dir: Path | None = None,
) -> Flask:
    """A Flask app serving ``store``; queries go through ``executor``
    (by default a :class:`~iomkg.serving.executor.direct.DirectExecutor`: in this process, with the
    served row cap and time limit).

    ``dumps_dir`` is the folder of downloadable dumps; by default the current release's.
    """
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if dumps_dir is None:
        release = Releases(settings.store_root).current()
        dumps_dir = release.dumps_path if release is not None else None
    executor = executor or DirectExecutor(settings, store)
    saved_queries = catalog.CatalogFiles(settings)
    statistics = StatisticsCache()
    core = endpoint.Endpoint(
        settings,
        executor,
        saved_queries=saved_queries.current,
        describe=lambda endpoint_url, void_url: descriptions.service_description(
            store, settings, endpoint_url, void_url
        ),
        on_update=statistics.clear,  # another worker's update shows within the cache's life
    )
    app.extensions[EXTENSION] = WebContext(
        settings, store, executor, dumps_dir, core, saved_queries, statistics
    )
    for blueprint in (
        pages.blueprint,
        sparql.blueprint,
        resources.blueprint,
        downloads.blueprint,
        ops.blueprint,
        api.blueprint,
        assets.blueprint,
        editor.blueprint,
    ):
        app.register_blueprint(blueprint)
    ops.install_access_log(app)
    _install_cors(app, settings)
    _install_errors(app, settings)

    @app.after_request
    def _common_headers(response: Response) -> Response:
        response.vary.add("Accept")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        if response.mimetype == "text/html":
            response.headers.setdefault("Content-Security-Policy", PAGE_POLICY)
        return response

    return app


def create_asgi_app(
    settings: Settings,
    store: GraphStore,
    executor: AsyncQueryExecutor,
    dumps_dir: Path | None = None,
    *,
    flask_threads: int = 4,
) -> Gateway:
    """What ``iomkg serve`` runs: the gateway, with :func:`create_app`'s Flask app behind it.

    ``flask_threads`` is how many requests Flask serves at once (pages, API, updates); the
    gateway's own queries are not counted there.
    """
    app = create_app(settings, store, executor, dumps_dir)
    core = app.extensions[EXTENSION].endpoint
    return Gateway(app, settings, core, flask_threads=flask_threads)


def _install_cors(app: Flask, settings: Settings) -> None:
    policy = CorsPolicy.of(settings)
    if not policy.enabled:
        return

    def is_preflight() -> bool:
        return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers

    @app.before_request
    def _preflight() -> Response | None:
        if not is_preflight():
            return None
        response = Response(status=204)
        del response.headers["Content-Type"]  # no body
        for name, value in policy.preflight_headers(
            request.headers.get("Origin"),
            request.headers["Access-Control-Request-Method"],
            request.headers.get("Access-Control-Request-Headers", ""),
        ):
            response.headers[name] = value
        if not policy.any_origin:
            response.vary.add("Origin")
        return response

    @app.after_request
    def _allow_reads(response: Response) -> Response:
        if not is_preflight() and CORE_REPLY not in request.environ:  # the core's own say
            for name, value in policy.read_headers(request.headers.get("Origin")):
                response.headers[name] = value
        if not policy.any_origin:
            response.vary.add("Origin")
        return response


def _install_errors(app: Flask, settings: Settings) -> None:
    """Every refusal is a short message (HTML for browsers, text otherwise), never a stack trace."""

    @app.errorhandler(ProtocolError)
    def _protocol(error: ProtocolError) -> Response:
        return error_response(error.status, error.message, error.headers)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(error: RequestEntityTooLarge) -> Response:
        return error_response(
            413, f"the request body is larger than the {settings.max_request_bytes}-byte limit"
        )

    @app.errorhandler(MethodNotAllowed)
    def _method(error: MethodNotAllowed) -> Response:
        allowed = ", ".join(sorted(error.valid_methods or ()))
        return error_response(
            405, f"{request.method} is not allowed here; use {allowed}", {"Allow": allowed}
        )

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        if status == 404:
            return error_response(404, f"nothing here: {request.path}")
        return error_response(status, error.description or error.name)

    @app.errorhandler(QueryTimeout)
    def _timeout(error: QueryTimeout) -> Response:
        # A page (resource, VoID, home) whose own queries ran past the limit.
        return error_response(503, str(error), {"Retry-After": "5"})

    @app.errorhandler(StoreUnavailable)
    def _unavailable(error: StoreUnavailable) -> Response:
        # Its query evaluators are being restarted (iomkg.serving.server): a moment's matter.
        return error_response(503, str(error), {"Retry-After": "5"})

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error: the server log has the details")


__all__ = ["create_app", "create_asgi_app"]
