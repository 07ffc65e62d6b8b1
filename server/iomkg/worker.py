"""The gunicorn worker ``iomkg serve`` runs: uvicorn's event loop and C HTTP parser, with limits.

Why uvicorn's worker and not gunicorn's own asyncio one: both run the same ASGI app
(:func:`iomkg.web.create_asgi_app`) under gunicorn's arbiter, but uvicorn parses HTTP with
``httptools`` (llhttp, in C) where gunicorn's asyncio worker parses in Python. Measured on the
benchmark's IRI lookup (``server/bench``): 0.57 → 0.49 ms of server CPU a request, 14 % more
requests a second.

What uvicorn lacks is gunicorn's request limits: with ``httptools`` it buffers a request head of
any size (a 20 MB header was read whole here). :class:`LimitedHttpProtocol` adds them back, and
refuses with a status and a message that say what to change:

* a request target longer than :data:`MAX_REQUEST_LINE` bytes: 414 (long queries go by POST);
* a request head (request line and headers) over :data:`MAX_HEAD_BYTES`: 431.

Each refusal, and uvicorn's 400 for a malformed request, gets its access-log line, as the
app's answers do. The request body is the app's business (its limit is
``--max-request-bytes``, answered 413).

uvicorn's worker also lacks gunicorn's check that the arbiter is still there: killed with SIGKILL
(or by the OOM killer), the arbiter cannot stop its workers, and they would keep the port (a new
``iomkg serve`` on it is refused) with no evaluators behind them.
:class:`IomkgWorker` checks once a second and stops as it would on the arbiter's SIGTERM.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from iomkg.web.ops import ACCESS_LOGGER, log_access

#: The longest request target (path and query string) accepted, as gunicorn's default.
MAX_REQUEST_LINE = 8190
#: The most bytes a request head may take before it is complete.
MAX_HEAD_BYTES = 64 * 1024
#: How long a refused connection stays half-open, so that the client reads the refusal.
LINGER_SECONDS = 2.0
#: How often a worker looks for the arbiter that started it (uvicorn's notify tick).
PARENT_CHECK_SECONDS = 1.0

_TOO_LONG_TARGET = (
    414,
    f"the request target is longer than {MAX_REQUEST_LINE} bytes: send a long query by POST, "
    "as application/sparql-query or as a form (application/x-www-form-urlencoded)",
)
_TOO_LARGE_HEAD = (
    431,
    f"the request line and headers take more than {MAX_HEAD_BYTES // 1024} KiB: "
    "send fewer or shorter headers",
)


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that breaks a limit."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol with :data:`MAX_REQUEST_LINE` and :data:`MAX_HEAD_BYTES`.

    The parsed target and headers are counted as the parser hands them over, and the bytes
    received while a head is incomplete as they arrive (``httptools`` keeps a header to itself
    until it ends), so a head that never ends is refused once it passes the limit, not buffered.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0  # received since the head began (for a head that never ends)
        self._head_size = 0
        self._refusal: tuple[int, str] | None = None
        self._refused = False  # the refusal has been sent
        self.url = b""  # uvicorn's, reset at each request's first byte (on_message_begin)
        self._head_began = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the answer is out; what the client still sends is dropped (see _send_refusal)
        if self._in_head:
            if self._head_bytes == 0:
                self._head_began = time.perf_counter()
            self._head_bytes += len(data)
        super().data_received(data)
        if self._in_head and self._head_bytes > MAX_HEAD_BYTES and not self._refused:
            self._refusal = _TOO_LARGE_HEAD
            self._send_refusal()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_size = 0  # the target and headers parsed so far

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        self._head_size += len(url)
        if len(self.url) > MAX_REQUEST_LINE:
            self._refuse(_TOO_LONG_TARGET)

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        self._head_size += len(name) + len(value) + 4  # ": " and CRLF
        if self._head_size > MAX_HEAD_BYTES:
            self._refuse(_TOO_LARGE_HEAD)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True

    def _refuse(self, refusal: tuple[int, str]) -> None:
        self._refusal = refusal
        raise _Refused  # httptools stops and raises a parser error: see send_400_response

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; ours when the error was a refused limit."""
        if self._refusal is None:
            super().send_400_response(msg)
            self._log_unseen(400, len(msg))
        else:
            self._send_refusal()

    def _send_refusal(self) -> None:
        """Answer the refusal, then close the connection without losing the answer.

        Closing a socket with unread data makes the kernel reset the connection, and a reset
        can destroy the answer before the client reads it. So the connection is half-closed
        (the client reads the answer, then the end), what the client still sends is dropped, and
        it is closed for good after :data:`LINGER_SECONDS` (as web servers' "lingering close").
        """
        assert self._refusal is not None
        if self._refused:
            return
        self._refused = True
        status, message = self._refusal
        body = (message + "\n").encode("utf-8")
        self.transport.write(
            b"".join(
                (
                    STATUS_LINE[status],
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: %d\r\n" % len(body),
                    b"connection: close\r\n\r\n",
                    body,
                )
            )
        )
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()
        self._log_unseen(status, len(body))

    def _log_unseen(self, status: int, size: int) -> None:
        """The access-log line every request gets, for one the app never saw (refused here, or
        malformed: uvicorn's 400)."""
        # The parser reaches the target only once the method is parsed.
        method = self.parser.get_method().decode("latin-1") if self.url else "-"
        log_access(
            logging.getLogger(ACCESS_LOGGER),
            self.client[0] if self.client else "-",
            method,
            self.url.decode("latin-1") or "-",
            status,
            str(size),
            time.perf_counter() - self._head_began,
            0.0,
        )


class IomkgWorker(UvicornWorker):  # type: ignore[misc]
    """gunicorn's worker class for ``iomkg serve`` (see the module docstring).

    uvloop when it is installed (not on Windows); no lifespan (nothing to set up per worker);
    no ``Server`` header and no access log of uvicorn's own (the app writes one line per
    request, with its query time); forwarded headers ignored, as the app logs the peer.
    """

    CONFIG_KWARGS: dict[str, Any] = {  # noqa: RUF012 (uvicorn_worker's own extension point)
        "loop": "auto",
        "http": LimitedHttpProtocol,
        "lifespan": "off",
        "server_header": False,
        "access_log": False,
        "proxy_headers": False,
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Let in-flight requests finish on a graceful stop, within gunicorn's own grace period.
        self.config.timeout_graceful_shutdown = max(1, int(self.cfg.graceful_timeout) - 1)
        # uvicorn's server calls callback_notify at most once a second, when this has passed.
        self.config.timeout_notify = min(self.timeout, PARENT_CHECK_SECONDS) / 2

    async def callback_notify(self) -> None:
        """Tell the arbiter this worker is alive, and stop if the arbiter is gone.

        gunicorn's own workers compare their parent with the arbiter's pid on every turn of
        their loop; uvicorn's never do. The stop is the graceful one the arbiter's SIGTERM starts.
        """
        self.notify()
        if os.getppid() != self.ppid:
            self.log.warning(
                "iomkg: the server's main process (pid %d) is gone: worker %d stops",
                self.ppid,
                os.getpid(),
            )
            os.kill(os.getpid(), signal.SIGTERM)


__all__ = [
    "MAX_HEAD_BYTES",
    "MAX_REQUEST_LINE",
    "PARENT_CHECK_SECONDS",
    "IomkgWorker",
    "LimitedHttpProtocol",
]
