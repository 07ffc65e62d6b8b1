"""A WSGI shortcut for the commonest request: a plain ``GET /sparql?query=…`` answered in full.

Flask's request/response machinery costs more CPU than Oxigraph spends on a cheap query, so
:class:`FastPath` answers that one case without it and hands everything else to Flask untouched.
It adds no protocol logic of its own: the request goes through :func:`iomkg.protocol.parse_request`
and the executor exactly as in ``/sparql`` (``iomkg.web.sparql``), and the response carries the
same headers and access-log line as the Flask route (``tests/web/test_fastpath.py`` compares them).

Handled here: ``GET /sparql`` without ``Origin`` (so no CORS headers), whose URL is within the size
limit and parses to a query that is not for a browser, and whose query the executor answers.
Everything else (POST, HEAD, descriptions, updates, HTML pages, protocol errors) goes to Flask;
when the executor raises, the error goes to Flask in the environ (:data:`FAILURE_KEY`) and the
route turns it into its usual error response without running the query again.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from iomkg import protocol
from iomkg.config import Settings
from iomkg.service import QueryExecutor, QueryResponse
from iomkg.web.ops import ACCESS_LOGGER, TIMING_KEY, RequestTiming
from iomkg.web.sparql import FAILURE_KEY, row_limit_headers

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


@functools.lru_cache(maxsize=256)
def _accept(header: str | None) -> tuple[tuple[str, float], ...]:
    """``Accept`` parsed as the Flask route does (``request.accept_mimetypes``), cached."""
    return tuple((value, quality) for value, quality in parse_accept_header(header, MIMEAccept))


class FastPath:
    """WSGI middleware in front of the Flask app (``wrapped``); see the module docstring."""

    def __init__(
        self,
        wrapped: WSGIApp,
        settings: Settings,
        executor: QueryExecutor,
        extra_headers: list[tuple[str, str]],
    ) -> None:
        self.wrapped = wrapped
        self.settings = settings
        self.executor = executor
        #: Headers the app's after-request hooks add to every such answer (Vary, nosniff).
        self.extra_headers = extra_headers
        self.logger = logging.getLogger(ACCESS_LOGGER)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("PATH_INFO") != "/sparql"
            or "HTTP_ORIGIN" in environ
        ):
            return self.wrapped(environ, start_response)
        record = RequestTiming()
        query_string = environ.get("QUERY_STRING", "").encode("latin-1")
        if not query_string or len(query_string) > self.settings.max_request_bytes:
            return self.wrapped(environ, start_response)
        try:
            log_line = f"GET /sparql?{query_string.decode()}".rstrip("?")  # as ops logs it
            call = protocol.parse_request(
                protocol.HttpRequest(
                    "GET", query_string, accept=_accept(environ.get("HTTP_ACCEPT"))
                ),
                self.settings,
            )
        except (UnicodeDecodeError, protocol.ProtocolError):
            return self.wrapped(environ, start_response)
        if not isinstance(call, protocol.QueryCall) or call.html:
            return self.wrapped(environ, start_response)
        environ[TIMING_KEY] = record
        started = time.perf_counter()
        try:
            answer = self.executor.run_query(call.request, timeout=self.settings.query_timeout)
        except Exception as error:
            environ[FAILURE_KEY] = error
            return self.wrapped(environ, start_response)
        finally:
            record.query += time.perf_counter() - started
        start_response("200 OK", self._headers(answer))
        if len(log_line) > 300:
            log_line = log_line[:300] + "…"
        return _Body(answer.chunks, record, self._log(environ, log_line, record))

    def _headers(self, answer: QueryResponse) -> list[tuple[str, str]]:
        return [
            ("Content-Type", answer.format.content_type),
            *row_limit_headers(answer, self.settings.max_rows),
            *self.extra_headers,
        ]

    def _log(self, environ: dict[str, Any], line: str, record: RequestTiming) -> Callable[[], None]:
        def write() -> None:
            total = (time.perf_counter() - record.started) * 1000
            self.logger.info(
                '%s "%s" %d %s %.1fms query=%.1fms',
                environ.get("REMOTE_ADDR") or "-",
                line,
                200,
                "-",
                total,
                record.query * 1000,
            )

        return write


class _Body:
    """The streamed answer; time spent producing it counts as query time; logs when closed."""

    def __init__(
        self, chunks: Iterator[bytes], record: RequestTiming, on_close: Callable[[], None]
    ) -> None:
        self.chunks, self.record, self.on_close = chunks, record, on_close

    def __iter__(self) -> Iterator[bytes]:
        record = self.record
        while True:
            started = time.perf_counter()
            try:
                chunk = next(self.chunks)
            except StopIteration:
                return
            finally:
                record.query += time.perf_counter() - started
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self.chunks, "close", None)
            if close is not None:
                close()
        finally:
            self.on_close()


__all__ = ["FAILURE_KEY", "FastPath"]
