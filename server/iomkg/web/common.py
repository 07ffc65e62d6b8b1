"""What every blueprint shares: the injected context, plain-text errors, RDF responses, negotiation.

The context (settings, store, executor, dumps folder) lives in ``app.extensions`` — set once by
:func:`iomkg.web.create_app` — never in a module global, so two apps with different settings can
live in one process (as the tests do).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import pyoxigraph as ox
from flask import Response, current_app, render_template, request

from iomkg import catalog, formats
from iomkg.config import Settings
from iomkg.formats import Format
from iomkg.serving import endpoint, protocol
from iomkg.serving.service import AsyncQueryExecutor
from iomkg.store.base import GraphStore, QueryResult
from iomkg.views import LinkMap
from iomkg.vocab import output_prefixes

EXTENSION = "iomkg"
TEXT = "text/plain; charset=utf-8"
HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class WebContext:
    """Everything a request handler may use, injected by the factory."""

    settings: Settings
    store: GraphStore
    executor: AsyncQueryExecutor
    dumps_dir: Path | None
    endpoint: endpoint.Endpoint
    catalog: catalog.CatalogFiles
    statistics: StatisticsCache
    links: LinkMap = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "links", LinkMap(self.settings.base_iri))


T = TypeVar("T")


class StatisticsCache:
    """Dataset statistics (sizes, coverage, VoID) are full scans of the store: a page should not
    redo them on every visit. Entries live ``ttl`` seconds and are dropped when this worker applies
    an update (another worker's update shows within ``ttl``).

    >>> cache, calls = StatisticsCache(ttl=60), []
    >>> cache.get("n", lambda: calls.append(1) or len(calls)), cache.get("n", lambda: 99)
    (1, 1)
    >>> cache.clear(); cache.get("n", lambda: 2)
    2
    """

    def __init__(self, ttl: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        now = self._clock()
        with self._lock:
            found = self._entries.get(key)
        if found is not None and now - found[0] < self.ttl:
            return cast(T, found[1])
        value = compute()
        with self._lock:
            self._entries[key] = (now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def web() -> WebContext:
    """The context of the app handling the current request."""
    return cast(WebContext, current_app.extensions[EXTENSION])


def accept() -> list[tuple[str, float]]:
    """The request's ``Accept`` as ``(media range, quality)`` pairs (werkzeug parses it)."""
    return [(value, quality) for value, quality in request.accept_mimetypes]


def format_params() -> list[tuple[str, str]]:
    """``format=`` / ``output=`` values of the URL (format names: werkzeug's decoding is fine)."""
    return [
        (key, value)
        for key, value in request.args.items(multi=True)
        if key in protocol.FORMAT_PARAMETERS
    ]


def text_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """An error or notice as plain text: every client can show it; the Content-Type is honest."""
    response = Response(message.rstrip("\n") + "\n", status=status, content_type=TEXT)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    """A refusal: an HTML page for a browser, plain text for everyone else."""
    if formats.prefers_html(accept(), formats.RESULT_FORMATS, formats.GRAPH_FORMATS):
        response = Response(
            render_template("error.html", status=status, message=message),
            status=status,
            content_type=HTML,
        )
        for name, value in (headers or {}).items():
            response.headers[name] = value
        return response
    return text_response(status, message, headers)


def negotiate_rdf(table: Sequence[Format] = formats.RESOURCE_FORMATS) -> tuple[Format | None, bool]:
    """The RDF format (``format=`` first, then ``Accept``) and whether the HTML page is wanted.

    Raises :class:`iomkg.serving.protocol.ProtocolError` (406) when ``format=`` names nothing
    offered.
    """
    choice = protocol.choose_formats(format_params(), accept(), {"graph": tuple(table)})
    return choice.graph, choice.html


def not_acceptable(table: Sequence[Format]) -> Response:
    error = protocol.not_acceptable(tuple(table))
    return text_response(error.status, error.message)


def rdf_response(
    data: QueryResult | Iterable[ox.Triple],
    fmt: Format,
    base_iri: str,
    extra_prefixes: Mapping[str, str] | None = None,
) -> Response:
    """Triples serialised in ``fmt`` (pages and descriptions are small: serialised in one go).

    Only the prefixes the triples use are declared, and never ``id:``/``graph:`` (their local
    names need escapes in Turtle); ``extra_prefixes`` adds a description's own (``sd:``…).
    """
    if isinstance(data, ox.QuerySolutions | ox.QueryBoolean):
        raise TypeError("rdf_response needs triples (a CONSTRUCT or DESCRIBE result)")
    names = {**output_prefixes(base_iri), **(extra_prefixes or {})}
    body = formats.graph_to_bytes(data, fmt, names)
    return Response(body, content_type=fmt.content_type)


def html_response(template: str, status: int = 200, **context: object) -> Response:
    return Response(render_template(template, **context), status=status, content_type=HTML)


# The endpoint core's requests and replies, from and to Flask ---------------------------------

#: Set in the WSGI environ when a response is the endpoint core's: it carries its own CORS and
#: access-log record, which the app-wide hooks then leave alone.
CORE_REPLY = "iomkg.core_reply"


def core_request() -> endpoint.Request:
    """The current Flask request as the endpoint core takes it (the body read once, raw)."""
    return endpoint.Request(
        method=request.method,
        path=request.path,
        query_string=request.query_string,
        content_type=request.headers.get("Content-Type"),
        body=request.get_data(cache=False) if request.method == "POST" else b"",  # 413 past it
        accept=request.headers.get("Accept"),
        authorization=request.headers.get("Authorization"),
        origin=request.headers.get("Origin"),
        host=request.host,
        scheme=request.scheme,
        client=request.remote_addr or "-",
    )


def core_response(reply: endpoint.Reply) -> Response:
    """A core :class:`~iomkg.serving.endpoint.Reply` as a Flask response (a refusal to a browser
    as the error page)."""
    request.environ[CORE_REPLY] = reply.record
    headers = [(name, value) for name, value in reply.headers if name.lower() != "content-type"]
    if reply.for_browser:
        response = Response(
            render_template("error.html", status=reply.status, message=reply.message),
            status=reply.status,
            content_type=HTML,
        )
    else:
        body = reply.body
        if not isinstance(body, bytes | Iterable):
            raise TypeError("an event loop's body cannot be sent by Flask")
        response = Response(body, status=reply.status, content_type=reply.header("Content-Type"))
    for name, value in headers:
        if name.lower() == "vary":
            response.vary.update(item.strip() for item in value.split(","))
        else:
            response.headers[name] = value
    return response
