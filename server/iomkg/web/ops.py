"""Operations: ``/healthz``, the VoID description, and one access-log line per request.

The access log goes to the ``iomkg.access`` logger (Python logging: the operator chooses the
handler); each line has the client, method, path, status, bytes sent, total time and the time
spent in the query executor, written when the last byte of a streamed body has gone out.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Flask, Response, jsonify, request, url_for

from iomkg import descriptions, dumps, formats, resources
from iomkg.serving.endpoint import AccessRecord
from iomkg.web.common import (
    CORE_REPLY,
    html_response,
    negotiate_rdf,
    not_acceptable,
    rdf_response,
    web,
)

ACCESS_LOGGER = "iomkg.access"
#: client, "method path?query", status, bytes (or -), total and query milliseconds
ACCESS_FORMAT = '%s "%s" %d %s %.1fms query=%.1fms'
LOG_LINE_CHARACTERS = 300  # a longer "method path?query" is cut
TIMING_KEY = "iomkg.timing"

blueprint = Blueprint("ops", __name__)


@dataclass
class RequestTiming:
    """Per-request figures for the access log; kept in the WSGI environ, not in a global."""

    started: float = field(default_factory=time.perf_counter)
    query: float = 0.0


def timing() -> RequestTiming:
    """The current request's timing record (made on first use)."""
    record = request.environ.get(TIMING_KEY)
    if not isinstance(record, RequestTiming):
        record = RequestTiming()
        request.environ[TIMING_KEY] = record
    return record


#: Set in a request's ASGI scope by the HTTP server (:mod:`iomkg.serving.worker`) when it
#: answered the request itself (408: the client was too slow with the body) and logged it;
#: whatever the app answers then goes nowhere, and is not logged a second time.
ANSWERED_BY_SERVER = "iomkg.answered_by_server"


#: Set in a request's ASGI scope when its client left (or was dropped) before the request ended.
CLIENT_LEFT = "iomkg.client_left"
#: The status nginx logs for a request whose client left before the answer.
CLIENT_GONE = 499


def answered_by_server(environ: dict[str, Any]) -> bool:
    """Whether the HTTP server answered this request itself (see :data:`ANSWERED_BY_SERVER`)."""
    scope = environ.get("asgi.scope")
    return isinstance(scope, dict) and bool(scope.get(ANSWERED_BY_SERVER))


def client_left(environ: dict[str, Any]) -> bool:
    """Whether the client left before its request ended (see :data:`CLIENT_LEFT`)."""
    scope = environ.get("asgi.scope")
    return isinstance(scope, dict) and bool(scope.get(CLIENT_LEFT))


def install_access_log(app: Flask) -> None:
    """Log one line per request once its body is fully sent (streamed answers included)."""
    logger = logging.getLogger(ACCESS_LOGGER)

    @app.before_request
    def _start() -> None:
        timing()

    @app.after_request
    def _log_when_done(response: Response) -> Response:
        record = timing()
        client = request.remote_addr or "-"
        method, full_path = request.method, request.full_path
        status = response.status_code
        no_body = request.method == "HEAD"  # the headers say a length, but no body is sent
        environ = request.environ
        core: AccessRecord | None = environ.get(CORE_REPLY)  # its time grows as the body streams

        def _write() -> None:
            if answered_by_server(environ):
                return
            gone = client_left(environ)  # Werkzeug answered a cut body 400, to nobody
            log_access(
                logger,
                client,
                method,
                full_path,
                CLIENT_GONE if gone else status,
                "-" if no_body or gone else response.headers.get("Content-Length", "-"),
                time.perf_counter() - record.started,
                record.query + (core.query_seconds if core is not None else 0.0),
            )

        response.call_on_close(_write)
        return response


def log_access(
    logger: logging.Logger,
    client: str,
    method: str,
    full_path: str,
    status: int,
    size: str,
    seconds: float,
    query_seconds: float,
) -> None:
    """One access-log line (``ACCESS_FORMAT``), for Flask's hook and the gateway alike.

    The URL is cut at :data:`LOG_LINE_CHARACTERS`. The record is made directly: ``Logger.info``
    searches the stack for the caller's line on every record, a third of the logging cost of a
    cheap query.
    """
    if not logger.isEnabledFor(logging.INFO):
        return
    line = f"{method} {full_path.rstrip('?')}"
    if len(line) > LOG_LINE_CHARACTERS:
        line = line[:LOG_LINE_CHARACTERS] + "…"
    arguments = (client, line, status, size, seconds * 1000, query_seconds * 1000)
    logger.handle(
        logger.makeRecord(logger.name, logging.INFO, __file__, 0, ACCESS_FORMAT, arguments, None)
    )


@blueprint.route("/healthz")
def healthz() -> Response:
    """Is the store reachable, and how many named graphs does it hold (JSON, 503 when not).

    No triple count: at 10M triples counting them took the first probe 12 s (orchestrators'
    probes give up after a second or so); the sizes are in the VoID description."""
    context = web()
    try:
        graphs = len(context.store.named_graphs())
    except Exception as error:
        response = jsonify(status="unavailable", error=str(error))
        response.status_code = 503
        return response
    return jsonify(status="ok", graphs=graphs)


@blueprint.route("/.well-known/void")
def void() -> Response:
    """The VoID description of the dataset: a page for browsers, else the RDF format asked for
    (Turtle by default)."""
    context = web()
    fmt, html = negotiate_rdf(formats.GRAPH_FORMATS)
    if fmt is None and not html:
        return not_acceptable(formats.GRAPH_FORMATS)
    downloads = [
        descriptions.Distribution(
            url_for("downloads.download", name=dump.name, _external=True), dump.media_type
        )
        for dump in dumps.list_dumps(context.dumps_dir)
        if dump.name != "context.jsonld"
    ]
    endpoint = url_for("sparql.endpoint", _external=True)
    triples = context.statistics.get(
        ("void", endpoint, tuple(downloads)),
        lambda: descriptions.void_description(context.store, context.settings, endpoint, downloads),
    )
    if html or fmt is None:
        return html_response(
            "void.html",
            subjects=resources.describe_triples(triples, context.links),
            alternates=[
                (f.name, f.media_type, url_for("ops.void", format=f.name))
                for f in formats.GRAPH_FORMATS
            ],
        )
    return rdf_response(triples, fmt, context.settings.base_iri, descriptions.PREFIXES)
