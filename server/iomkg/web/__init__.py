"""The web front end: :func:`create_app` wires settings, store and executor into Flask blueprints.

Blueprints only parse HTTP and render; the work is done by the core (``protocol``, ``service``,
``resources``, ``descriptions``, ``dumps``). Cross-cutting rules live here:

* ``Vary: Accept`` on every response (most URLs negotiate; caches must never mix formats),
  ``X-Content-Type-Options: nosniff``, and a Content-Security-Policy on pages that allows
  nothing but this server's stylesheet (defence in depth behind Jinja's escaping).
* CORS for reads, from ``settings.cors_origins`` (``*`` by default, empty to switch it off):
  ``Access-Control-Allow-Origin`` on answers to GET/HEAD/POST queries and a preflight answer
  for ``OPTIONS``. Update responses get none, and ``Authorization`` is never an allowed
  cross-origin header, so a web page elsewhere cannot drive updates.
* A request body past ``settings.max_request_bytes`` is refused with 413.

:func:`create_asgi_app` puts :class:`~iomkg.web.gateway.Gateway` in front of the Flask app for
``iomkg serve``: it answers plain query requests itself, with the same headers as the hooks here
(keep :func:`vary_header` and its header list in step with them), and hands the rest to Flask.
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, RequestEntityTooLarge

from iomkg.config import Settings
from iomkg.protocol import ProtocolError
from iomkg.service import AsyncQueryExecutor, InProcessExecutor, QueryExecutor, QueryTimeout
from iomkg.store.base import GraphStore
from iomkg.store.releases import Releases
from iomkg.web import api, downloads, ops, pages, resources, sparql
from iomkg.web.common import EXTENSION, WebContext, error_response
from iomkg.web.gateway import Gateway

#: Request headers a cross-origin read may carry (never Authorization).
CORS_ALLOWED_HEADERS = frozenset(
    {"accept", "accept-language", "content-language", "content-type", "cache-control"}
)
CORS_EXPOSED_HEADERS = "X-Row-Limit, Warning, ETag, Last-Modified, Content-Length"
CORS_METHODS = "GET, HEAD, POST"
#: Pages load nothing but this server's stylesheet, run no script and cannot be framed.
PAGE_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)


def create_app(
    settings: Settings,
    store: GraphStore,
    executor: QueryExecutor | None = None,
    dumps_dir: Path | None = None,
) -> Flask:
    """A Flask app serving ``store``; queries go through ``executor`` (in-process by default).

    ``dumps_dir`` is the folder of downloadable dumps; by default the current release's.
    """
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings.max_request_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    if dumps_dir is None:
        release = Releases(settings.store_root).current()
        dumps_dir = release.dumps_path if release is not None else None
    app.extensions[EXTENSION] = WebContext(
        settings, store, executor or InProcessExecutor(store), dumps_dir
    )
    for blueprint in (
        pages.blueprint,
        sparql.blueprint,
        resources.blueprint,
        downloads.blueprint,
        ops.blueprint,
        api.blueprint,
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
    return Gateway(app, settings, executor, vary=vary_header(settings), flask_threads=flask_threads)


def vary_header(settings: Settings) -> str:
    """The ``Vary`` of answers to queries: ``Origin`` too when CORS answers depend on it."""
    origins = cors_origins(settings)
    return "Accept" if not origins or "*" in origins else "Accept, Origin"


def cors_origins(settings: Settings) -> tuple[str, ...]:
    """The configured origins (comma or space separated); ``("*",)`` for any, ``()`` for none."""
    return tuple(item for item in settings.cors_origins.replace(",", " ").split() if item)


def _install_cors(app: Flask, settings: Settings) -> None:
    origins = cors_origins(settings)
    if not origins:
        return
    any_origin = "*" in origins

    def allowed(origin: str | None) -> bool:
        return origin is not None and (any_origin or origin in origins)

    def is_preflight() -> bool:
        return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers

    @app.before_request
    def _preflight() -> Response | None:
        if not is_preflight():
            return None
        response = Response(status=204)
        del response.headers["Content-Type"]  # no body
        origin = request.headers.get("Origin")
        wanted = [
            h.strip().lower()
            for h in request.headers.get("Access-Control-Request-Headers", "").split(",")
            if h.strip()
        ]
        method_ok = request.headers["Access-Control-Request-Method"].upper() in CORS_METHODS.split(
            ", "
        )
        if (
            allowed(origin)
            and method_ok
            and all(header in CORS_ALLOWED_HEADERS for header in wanted)
        ):
            response.headers["Access-Control-Allow-Origin"] = "*" if any_origin else str(origin)
            response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
            response.headers["Access-Control-Allow-Headers"] = ", ".join(
                sorted(CORS_ALLOWED_HEADERS)
            )
            response.headers["Access-Control-Max-Age"] = "600"
        if not any_origin:
            response.vary.add("Origin")
        return response

    @app.after_request
    def _allow_reads(response: Response) -> Response:
        origin = request.headers.get("Origin")
        if allowed(origin) and not is_preflight() and not ops.timing().update:
            response.headers["Access-Control-Allow-Origin"] = "*" if any_origin else str(origin)
            response.headers["Access-Control-Expose-Headers"] = CORS_EXPOSED_HEADERS
        if not any_origin:
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

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal server error: the server log has the details")


__all__ = ["cors_origins", "create_app", "create_asgi_app", "vary_header"]
