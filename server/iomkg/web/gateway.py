"""The ASGI app ``iomkg serve`` runs: plain SPARQL queries answered on the event loop, the rest
by Flask.

Why: a query's CPU is spent in an evaluator process (``iomkg.executor``); what is left in the
web worker is HTTP. A thread per request (gunicorn's gthread worker) and Flask's request and
response machinery cost several times what Oxigraph spends on a cheap lookup. An event loop
costs a fraction of that and waits on any number of evaluators at once, so gunicorn runs an
ASGI worker (:mod:`iomkg.worker`) and this gateway answers the commonest request in full:

* ``GET /sparql?query=…`` and ``POST /sparql`` with a form or ``application/sparql-query``
  body (``Content-Length`` within the limit), from a client that does not prefer HTML, that
  parse to a query; cross-origin ones get the CORS headers of :mod:`iomkg.web.cors`.

It adds no protocol logic of its own: the request goes through
:func:`iomkg.protocol.parse_request` and the executor exactly as in ``/sparql``, failures are
told as :mod:`iomkg.web.outcomes` says, and the answer carries the headers and access-log line
of the Flask route (``tests/web/test_gateway.py`` compares them); small answers, which come
whole from the evaluator, go out with a ``Content-Length``. Everything else (pages, updates,
descriptions, the saved-query API, downloads, protocol errors) goes to the Flask app, run in a
thread pool by ``a2wsgi``; a POST body already read is handed on to it.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from a2wsgi import WSGIMiddleware
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from iomkg import formats, protocol
from iomkg.config import Settings
from iomkg.service import AsyncQueryExecutor, AsyncQueryResponse
from iomkg.store.base import StoreError
from iomkg.web.common import TEXT
from iomkg.web.cors import CorsPolicy
from iomkg.web.ops import (
    ACCESS_LOGGER,
    ANSWERED_BY_SERVER,
    CLIENT_GONE,
    CLIENT_LEFT,
    answered_by_server,
    client_left,
    log_access,
)
from iomkg.web.outcomes import failure_headers, failure_status, row_limit_headers

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

QUERY_BODY_TYPES = (protocol.FORM, protocol.SPARQL_QUERY)
WATCH_AFTER_SECONDS = 0.1  # a request watches for its client leaving once it has run this long
CHUNKED_READ_BYTES = 64 * 1024  # a chunked body is read for Flask in pieces of this size


@functools.lru_cache(maxsize=256)
def _accept(header: str | None) -> tuple[tuple[str, float], ...]:
    """``Accept`` parsed as the Flask route does (``request.accept_mimetypes``), cached."""
    return tuple((value, quality) for value, quality in parse_accept_header(header, MIMEAccept))


@functools.lru_cache(maxsize=256)
def _wants_html(accept: tuple[tuple[str, float], ...]) -> bool:
    """Would Flask answer this client's errors with a page? (Then Flask takes the request.)"""
    return formats.prefers_html(accept, formats.RESULT_FORMATS, formats.GRAPH_FORMATS)


def _plain_client(headers: dict[bytes, bytes]) -> tuple[tuple[str, float], ...] | None:
    """The client's ``Accept``, unless it is a browser's (pages and error pages are Flask's)."""
    accept = _accept(_text(headers.get(b"accept")))
    return None if _wants_html(accept) else accept


class Gateway:
    """The ASGI app: see the module docstring. ``flask_app`` is the WSGI app of
    :func:`iomkg.web.create_app`; ``flask_threads`` the requests Flask serves at once."""

    def __init__(
        self,
        flask_app: WSGIApp,
        settings: Settings,
        executor: AsyncQueryExecutor,
        *,
        flask_threads: int,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.cors = CorsPolicy.of(settings)
        # a2wsgi types WSGI environs and ASGI messages as TypedDicts; here they are plain dicts.
        wsgi_app: Any = _sized_body(flask_app, settings.max_request_bytes)
        self.flask = _noting_departure(
            _without_date(cast(ASGIApp, WSGIMiddleware(wsgi_app, workers=flask_threads)))
        )
        #: Headers Flask's after-request hooks add to every such answer (Vary, nosniff).
        self.common_headers = [
            (b"vary", self.cors.vary.encode("latin-1")),
            (b"x-content-type-options", b"nosniff"),
        ]
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self._made_headers: dict[str, tuple[tuple[bytes, bytes], ...]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http" or scope.get("path") != "/sparql":
            await self.flask(scope, receive, send)
            return
        method = scope.get("method")
        if method == "GET":
            await self._get(scope, receive, send)
        elif method == "POST":
            await self._post(scope, receive, send)
        else:
            await self.flask(scope, receive, send)

    # Requests ----------------------------------------------------------------------------------
    async def _get(self, scope: Scope, receive: Receive, send: Send) -> None:
        query_string: bytes = scope.get("query_string", b"")
        headers = _headers(scope)
        accept = _plain_client(headers)
        if (
            accept is None
            or not query_string
            or len(query_string) > self.settings.max_request_bytes
        ):
            await self.flask(scope, receive, send)
            return
        origin = _text(headers.get(b"origin"))
        http = protocol.HttpRequest("GET", query_string, accept=accept, origin=origin)
        if not await self._answer(scope, http, receive, send):
            await self.flask(scope, receive, send)

    async def _post(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = _headers(scope)
        accept = _plain_client(headers)
        content_type = _text(headers.get(b"content-type"))
        length = _length(headers.get(b"content-length"))
        if (
            accept is None
            or content_type is None
            or content_type.split(";", 1)[0].strip().lower() not in QUERY_BODY_TYPES
            or length is None
            or length > self.settings.max_request_bytes
            or len(scope.get("query_string", b"")) > self.settings.max_request_bytes
        ):
            await self.flask(scope, receive, send)
            return
        started = time.perf_counter()
        body = await _read_body(receive)
        if body is None:  # the client went away (its answer, if the server sent one, is logged)
            if not scope.get(ANSWERED_BY_SERVER):
                self._log(scope, CLIENT_GONE, "-", time.perf_counter() - started, 0.0)
            return
        http = protocol.HttpRequest(
            "POST",
            scope.get("query_string", b""),
            content_type,
            body,
            accept=accept,
            origin=_text(headers.get(b"origin")),
        )
        if not await self._answer(scope, http, receive, send):
            await self.flask(scope, _replay(body, receive), send)

    async def _answer(
        self, scope: Scope, http: protocol.HttpRequest, receive: Receive, send: Send
    ) -> bool:
        """Answer ``http`` if it is a plain query; False (nothing sent) hands it to Flask.

        The access-log line is written whatever happens: a client that went away before the
        answer (its request is cancelled, see :class:`_ClientWatch`, and the evaluator is
        killed) is logged as nginx logs it, 499.
        """
        started = time.perf_counter()
        try:
            call = protocol.parse_request(http, self.settings)
        except protocol.ProtocolError:
            return False
        if not isinstance(call, protocol.QueryCall) or call.html:
            return False
        cors = _encoded(self.cors.read_headers(http.origin)) if http.origin is not None else []
        status, size, query_seconds = CLIENT_GONE, "-", 0.0
        watch = _ClientWatch(receive)
        try:
            try:
                answer = await self.executor.run_query_async(
                    call.request, timeout=self.settings.query_timeout
                )
            except Exception as error:
                query_seconds = time.perf_counter() - started
                status, size = await self._failure(error, send, cors)
                return True
            query_seconds = time.perf_counter() - started
            status = 200
            size, waited = await self._send_answer(answer, send, cors)
            query_seconds += waited
            return True
        except asyncio.CancelledError:
            if not watch.left:
                raise  # the server is stopping: not ours to swallow
            watch.uncancel()
            status = CLIENT_GONE  # also when it left in the middle of the body
            return True
        finally:
            watch.stop()
            self._log(scope, status, size, time.perf_counter() - started, query_seconds)

    # Responses ---------------------------------------------------------------------------------
    async def _send_answer(
        self, answer: AsyncQueryResponse, send: Send, cors: list[tuple[bytes, bytes]]
    ) -> tuple[str, float]:
        """Send a query's answer; (Content-Length or "-", seconds spent waiting for chunks)."""
        headers = self._content_headers(answer.format.content_type)
        if answer.truncated:
            headers += _encoded(row_limit_headers(answer, self.settings.max_rows))
        headers += cors
        if answer.whole is not None:
            length = str(len(answer.whole))
            headers.append((b"content-length", length.encode("latin-1")))
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": answer.whole})
            return length, 0.0
        waited = 0.0
        chunks = answer.chunks
        try:
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            while True:
                started = time.perf_counter()
                try:
                    chunk = await chunks.__anext__()
                except StopAsyncIteration:
                    break
                except StoreError as error:
                    # The evaluator died mid-answer. The status is out: all that is left is not
                    # to end the answer properly, so that the client sees it cut (the server
                    # closes the connection).
                    logging.getLogger(__name__).warning("iomkg: an answer was cut short: %s", error)
                    return "-", waited
                finally:
                    waited += time.perf_counter() - started
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await chunks.aclose()  # nothing if it was read to the end
        return "-", waited

    async def _failure(
        self, error: Exception, send: Send, cors: list[tuple[bytes, bytes]]
    ) -> tuple[int, str]:
        try:
            status, message = failure_status(error)
        except Exception:
            logging.getLogger(__name__).exception("unhandled error on a query")
            status, message = 500, "internal server error: the server log has the details"
        body = (message.rstrip("\n") + "\n").encode("utf-8")
        headers = [
            (b"content-type", TEXT.encode("latin-1")),
            (b"content-length", str(len(body)).encode("latin-1")),
            *_encoded(failure_headers(status, error).items()),
            *self.common_headers,
            *cors,
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        return status, str(len(body))

    def _content_headers(self, content_type: str) -> list[tuple[bytes, bytes]]:
        """A fresh list of the headers every answer in ``content_type`` has (made once each)."""
        made = self._made_headers.get(content_type)
        if made is None:
            made = ((b"content-type", content_type.encode("latin-1")), *self.common_headers)
            self._made_headers[content_type] = made
        return list(made)

    def _log(self, scope: Scope, status: int, size: str, total: float, query: float) -> None:
        """The line Flask's access-log hook writes, for a request it never saw."""
        client = scope.get("client")
        full_path = f"{scope.get('path')}?" + scope.get("query_string", b"").decode(
            "utf-8", "replace"
        )
        log_access(
            self.logger,
            client[0] if client else "-",
            scope.get("method", "-"),
            full_path,
            status,
            size,
            total,
            query,
        )


# ASGI plumbing -----------------------------------------------------------------------------------


class _ClientWatch:
    """Cancels the current request when its client disconnects, so that the evaluator is killed
    and the line logged as 499 rather than the query run on for nobody.

    uvicorn does not cancel a request whose connection closed; it tells the app through
    ``receive()``, which then answers ``http.disconnect``. Waiting on it costs a task per
    request, so the watch starts only once the request has run :data:`WATCH_AFTER_SECONDS`:
    cheap queries never pay for it, and a long query or download is stopped at once when its
    client leaves.
    """

    __slots__ = ("_task", "_timer", "_watcher", "left")

    def __init__(self, receive: Receive) -> None:
        task = asyncio.current_task()
        assert task is not None, "a request runs in a task"
        self._task = task
        self._watcher: asyncio.Task[None] | None = None
        self.left = False
        self._timer: asyncio.TimerHandle | None = asyncio.get_running_loop().call_later(
            WATCH_AFTER_SECONDS, self._start, receive
        )

    def _start(self, receive: Receive) -> None:
        self._timer = None
        self._watcher = asyncio.get_running_loop().create_task(self._watch(receive))

    async def _watch(self, receive: Receive) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # the rest of a body nobody reads any more
        self.left = True
        self._task.cancel()

    def stop(self) -> None:
        """The request is done (answered or not): stop watching."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None

    def uncancel(self) -> None:
        """The cancellation was ours and has been handled."""
        self._task.uncancel()


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """Request headers by lower-case name (ASGI gives them lower-cased); repeats joined by ``,``."""
    found: dict[bytes, bytes] = {}
    for name, value in scope.get("headers", ()):
        found[name] = found[name] + b"," + value if name in found else value
    return found


def _encoded(headers: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """Headers as ASGI sends them: lower-case names, Latin-1 bytes."""
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _text(value: bytes | None) -> str | None:
    return value.decode("latin-1") if value is not None else None


def _length(value: bytes | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


async def _read_body(receive: Receive) -> bytes | None:
    """The whole request body; None if the client disconnected."""
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        parts.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(parts)


def _replay(body: bytes, receive: Receive) -> Receive:
    """``receive`` for an app that must read a body the gateway already read."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to set up or tear down per worker: say so when asked."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _without_date(app: ASGIApp) -> ASGIApp:
    """``app`` without the ``Date`` header Werkzeug sets on files and conditional answers: the
    HTTP server writes its own on every answer, and two ``Date`` headers (a second apart at
    times) are one too many."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def send_without_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                if any(name.lower() == b"date" for name, _ in headers):
                    message = {
                        **message,
                        "headers": [(n, v) for n, v in headers if n.lower() != b"date"],
                    }
            await send(message)

        await app(scope, receive, send_without_date)

    return wrapped


def _noting_departure(app: ASGIApp) -> ASGIApp:
    """``app``, with :data:`CLIENT_LEFT` set in the scope when ``receive`` says the client left.

    a2wsgi hands a WSGI app the end of the body in either case, a last piece or the client
    gone; a body without a length (chunked) would then look whole when it was cut short.
    """

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        async def noting() -> Message:
            message = await receive()
            if message["type"] == "http.disconnect":
                scope[CLIENT_LEFT] = True
            return message

        await app(scope, noting, send)

    return wrapped


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CUT_SHORT = b"the request body was cut short: the client left before sending all of it\n"


def _sized_body(app: WSGIApp, max_bytes: int) -> WSGIApp:
    """Hand Werkzeug every request body with its length, read here if the client sent none.

    A chunked request has no ``Content-Length`` (nor has every HTTP/2 one). Werkzeug reads such a
    body as empty unless the server flags the input as terminated, and with the flag and a
    ``MAX_CONTENT_LENGTH`` its ``get_data()`` stops at the limit without a word: a body over the
    limit would be cut and run. So the body is read here, at most ``max_bytes + 1`` bytes:
    within the limit it goes on with its length; past it, only a length past the limit goes
    on, and Werkzeug answers 413 before reading anything. A body cut short (the client left, or
    was dropped for its slowness: :data:`CLIENT_LEFT`) goes nowhere: an update must not run on
    what happens to have arrived. Its answer, 400, goes nowhere either; the log says 499 (or
    the HTTP server's 408, logged by it).
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("CONTENT_LENGTH") is None and (
            environ["REQUEST_METHOD"] in _BODY_METHODS or "HTTP_TRANSFER_ENCODING" in environ
        ):
            started = time.perf_counter()
            stream = environ["wsgi.input"]
            parts: list[bytes] = []
            size = 0
            while size <= max_bytes and (part := stream.read(CHUNKED_READ_BYTES)):
                parts.append(part)
                size += len(part)
            if client_left(environ):
                if not answered_by_server(environ):
                    _log_environ(environ, CLIENT_GONE, time.perf_counter() - started)
                start_response(
                    "400 Bad Request",
                    [("Content-Type", TEXT), ("Content-Length", str(len(_CUT_SHORT)))],
                )
                return [_CUT_SHORT]
            body = b"".join(parts) if size <= max_bytes else b""
            environ.pop("HTTP_TRANSFER_ENCODING", None)  # else Werkzeug ignores the length
            environ["CONTENT_LENGTH"] = str(size)
            environ["wsgi.input"] = io.BytesIO(body)
        return app(environ, start_response)

    return wrapped


def _log_environ(environ: dict[str, Any], status: int, seconds: float) -> None:
    """The access-log line of a request Flask never saw, from its WSGI environ."""
    query = environ.get("QUERY_STRING", "")
    log_access(
        logging.getLogger(ACCESS_LOGGER),
        environ.get("REMOTE_ADDR", "-"),
        environ.get("REQUEST_METHOD", "-"),
        environ.get("PATH_INFO", "") + ("?" + query if query else ""),
        status,
        "-",
        seconds,
        0.0,
    )


__all__ = ["Gateway"]
