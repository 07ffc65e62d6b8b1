"""The ASGI app ``iomkg serve`` runs: ``/sparql`` and ``/api/queries/NAME`` answered on the event
loop through the endpoint core (:mod:`iomkg.serving.endpoint`), everything else by Flask.

Why: a query's CPU is spent in an evaluator process (``iomkg.serving.executor``); what is left
in the web worker is HTTP. A thread per request and Flask's request and response machinery cost
several times what Oxigraph spends on a cheap lookup; an event loop costs a fraction of that
and waits on any number of evaluators at once. So this adapter turns the ASGI request into the
core's :class:`~iomkg.serving.endpoint.Request`, awaits the core, and sends its
:class:`~iomkg.serving.endpoint.Reply`: the answers are the Flask routes' by construction, as
both call the same core. It hands to Flask (run in a thread pool by ``a2wsgi``; a POST body
already read is handed on) what is not the core's: pages, browsers (a client that prefers HTML
gets pages and error pages), bodies without a length or over the limit (Flask refuses or reads
them), and every other path.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from a2wsgi import WSGIMiddleware

from iomkg.config import Settings
from iomkg.serving.endpoint import Endpoint, PageWanted, Reply, Request, Work, prefers_html
from iomkg.store.base import StoreError
from iomkg.web.common import TEXT
from iomkg.web.ops import (
    ACCESS_LOGGER,
    ANSWERED_BY_SERVER,
    CLIENT_GONE,
    CLIENT_LEFT,
    answered_by_server,
    client_left,
    log_access,
)

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

WATCH_AFTER_SECONDS = 0.1  # a request watches for its client leaving once it has run this long
CHUNKED_READ_BYTES = 64 * 1024  # a chunked body is read for Flask in pieces of this size
SAVED_QUERY_PATH = "/api/queries/"


class Gateway:
    """The ASGI app: see the module docstring. ``flask_app`` is the WSGI app of
    :func:`iomkg.web.create_app` (whose endpoint core this shares); ``flask_threads`` the
    requests Flask serves at once."""

    def __init__(
        self,
        flask_app: WSGIApp,
        settings: Settings,
        core: Endpoint,
        *,
        flask_threads: int,
    ) -> None:
        self.settings = settings
        self.core = core
        # a2wsgi types WSGI environs and ASGI messages as TypedDicts; here they are plain dicts.
        wsgi_app: Any = _sized_body(flask_app, settings.max_request_bytes)
        self.flask = _noting_departure(
            _without_date(cast(ASGIApp, WSGIMiddleware(wsgi_app, workers=flask_threads)))
        )
        self.logger = logging.getLogger(ACCESS_LOGGER)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        path = scope.get("path", "")
        if scope["type"] != "http" or (path != "/sparql" and not path.startswith(SAVED_QUERY_PATH)):
            await self.flask(scope, receive, send)
            return
        headers = _headers(scope)
        accept = _text(headers.get(b"accept"))
        method = scope.get("method", "GET")
        if prefers_html(accept) or method not in ("GET", "HEAD", "POST"):
            await self.flask(scope, receive, send)
            return
        body = b""
        started = time.perf_counter()
        if method == "POST":
            length = _length(headers.get(b"content-length"))
            if length is None or length > self.settings.max_request_bytes:
                await self.flask(scope, receive, send)  # chunked, or too large: Flask's to say
                return
            read = await _read_body(receive)
            if read is None:  # the client went away (its answer, if the server sent one, is logged)
                if not scope.get(ANSWERED_BY_SERVER):
                    self._log_gone(scope, time.perf_counter() - started)
                return
            body = read
        client = scope.get("client")
        server = scope.get("server")
        host = _text(headers.get(b"host")) or (f"{server[0]}:{server[1]}" if server else None)
        request = Request(
            method=method,
            path=path,
            query_string=scope.get("query_string", b""),
            content_type=_text(headers.get(b"content-type")),
            body=body,
            accept=accept,
            authorization=_text(headers.get(b"authorization")),
            origin=_text(headers.get(b"origin")),
            host=host,
            scheme=scope.get("scheme", "http"),
            client=client[0] if client else "-",
        )
        if path == "/sparql":
            step = self.core.sparql(request)
        else:
            step = self.core.saved_query(path[len(SAVED_QUERY_PATH) :], request)
        if isinstance(step, PageWanted) or (isinstance(step, Reply) and step.for_browser):
            await self.flask(scope, _replay(body, receive) if body else receive, send)
            return
        await self._answer(step, receive, send, method == "HEAD")

    async def _answer(self, step: Reply | Work, receive: Receive, send: Send, head: bool) -> None:
        """Run the work (if any) and send the reply. The access-log line is written whatever
        happens: a client that went away before the answer (its request is cancelled, see
        :class:`_ClientWatch`) is logged as nginx logs it, 499."""
        record = step.record
        status, size = CLIENT_GONE, "-"
        watch = _ClientWatch(receive)
        try:
            reply = step if isinstance(step, Reply) else await self.core.run_async(step)
            status = reply.status
            size = await self._send(reply, send, head)
        except asyncio.CancelledError:
            if not watch.left:
                raise  # the server is stopping: not ours to swallow
            watch.uncancel()
            status = CLIENT_GONE  # also when it left in the middle of the body
        finally:
            watch.stop()
            log_access(
                self.logger,
                record.client,
                record.method,
                record.target,
                status,
                size,
                time.perf_counter() - record.started,
                record.query_seconds,
            )

    async def _send(self, reply: Reply, send: Send, head: bool) -> str:
        """Send a reply; its Content-Length, or "-" for a streamed body."""
        headers = _encoded(reply.headers)
        body = reply.body
        if isinstance(body, bytes):
            length = str(len(body))
            if reply.status != 204:
                headers.append((b"content-length", length.encode("latin-1")))
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
            await send({"type": "http.response.body", "body": b"" if head else body})
            return length
        if not hasattr(body, "__anext__"):
            raise TypeError("the gateway sends an event loop's body")
        chunks = cast(Any, body)
        record = reply.record
        try:
            await send({"type": "http.response.start", "status": reply.status, "headers": headers})
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
                    return "-"
                finally:
                    record.query_seconds += time.perf_counter() - started
                if not head:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        finally:
            await chunks.aclose()  # nothing if it was read to the end
        return "-"

    def _log_gone(self, scope: Scope, seconds: float) -> None:
        """The line of a request whose client left before its body was in."""
        client = scope.get("client")
        query = scope.get("query_string", b"").decode("latin-1")
        log_access(
            self.logger,
            client[0] if client else "-",
            scope.get("method", "-"),
            scope.get("path", "") + ("?" + query if query else ""),
            CLIENT_GONE,
            "-",
            seconds,
            0.0,
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
