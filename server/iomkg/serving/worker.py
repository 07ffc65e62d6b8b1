"""The gunicorn worker ``iomkg serve`` runs: uvicorn's event loop and C HTTP parser, with limits.

Why uvicorn's worker and not gunicorn's own asyncio one: both run the same ASGI app
(:func:`iomkg.web.create_asgi_app`) under gunicorn's arbiter, but uvicorn parses HTTP with
``httptools`` (llhttp, in C) where gunicorn's asyncio worker parses in Python. Measured on the
benchmark's IRI lookup (``server/bench``): 0.57 → 0.49 ms of server CPU a request, 14 % more
requests a second.

What uvicorn lacks is gunicorn's request limits: with ``httptools`` it buffers a request head of
any size (a 20 MB header was read whole here), and it has no public setting for them (its
``h11_max_incomplete_event_size`` is for the slower h11 parser only). gunicorn 27's own ASGI worker
enforces ``limit_request_line`` and ``limit_request_field_size``, but it is the Python parser
measured above. So this stays hand-written, through uvicorn's documented way in (``Config.http``
takes a protocol class) and on top of its httptools protocol class (uvicorn pinned below 1.0 in
``pyproject.toml``; the tests in ``tests/web/test_client_limits.py`` catch a change in it).
:class:`LimitedHttpProtocol` adds the limits back, and refuses with a status and a message
that say what to change:

* a request target longer than :data:`MAX_REQUEST_LINE` bytes: 414 (long queries go by POST);
* a request head (request line and headers) over :data:`MAX_HEAD_BYTES`: 431.

Each refusal, and uvicorn's 400 for a malformed request, gets its access-log line, as the
app's answers do. The request body's size is the app's business (its limit is
``--max-request-bytes``, answered 413).

uvicorn has no time limits on a client either, but its idle keep-alive one: a client that sends
a request head a byte at a time, or never reads its answer, holds a connection (and, for a
streamed answer, a query evaluator) for ever. :class:`LimitedHttpProtocol` gives each client
``--client-timeout`` seconds (:class:`ClientLimits`), as nginx's ``client_header_timeout``
and ``send_timeout`` and Apache's ``mod_reqtimeout`` do:

* to send a whole request head, from the moment the connection opens or the head's first byte
  arrives: past it, 408 (or, if not a byte came, the connection is closed without a word);
* to send the body once the head is in, plus a second for every :data:`MIN_BODY_RATE` bytes of
  it received (so that a steady upload is not cut), while the app waits for it: past it, 408
  (and a body the app answered without is not waited for past it either);
* to take the next part of an answer once the server has a full buffer for it: past it, the
  connection is dropped, the app sees its client gone (the gateway stops the query: 499).

Stopping: gunicorn's main process answers SIGTERM by sending its workers SIGTERM, and SIGINT
(``kill -INT``, not a Ctrl-C, which reaches every process) by sending them SIGQUIT, its "quick
shutdown". uvicorn's worker only notes a SIGQUIT (gunicorn's ``handle_exit``), its server runs on,
and the main process kills it after the whole grace period ("SIGKILL! Perhaps out of memory?").
:class:`IomkgWorker` stops on SIGQUIT as on SIGTERM, so ``kill -INT`` stops the server as fast.
It also gives uvicorn the listening sockets themselves rather than gunicorn's wrappers of them:
uvloop closes a socket's descriptor and then the object it was given, and closing the wrapper
again logged "Error while closing socket [Errno 9] Bad file descriptor" on every stop.

A stop can also come while the arbiter is still forking workers (a ``kill -INT`` just after the
first worker answers): between the fork and the worker's own signal handlers, the child runs
the arbiter's handler, which only queues the signal in the child's copy of the arbiter, and the
worker then served on until the main process killed it after the grace period (35 s, seen in CI).
So the arbiter forks with the stop signals (:data:`STOP_SIGNALS`) blocked, and
:meth:`IomkgWorker.init_signals` unblocks them once a stop makes the worker exit at once: a stop
that came during the fork is delivered then, not lost.

uvicorn's worker also lacks gunicorn's check that the arbiter is still there: killed with SIGKILL
(or by the OOM killer), the arbiter cannot stop its workers, and they would keep the port (a new
``iomkg serve`` on it is refused) with no evaluators behind them.
:class:`IomkgWorker` checks once a second and stops as it would on the arbiter's SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import os
import signal
import sys
import termios
import time
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn_worker import UvicornWorker

from iomkg.web.ops import ACCESS_LOGGER, ANSWERED_BY_SERVER, log_access

#: The longest request target (path and query string) accepted, as gunicorn's default.
MAX_REQUEST_LINE = 8190
#: The most bytes a request head may take before it is complete.
MAX_HEAD_BYTES = 64 * 1024
#: Bytes a second of request body that earn it a second more than the client timeout.
MIN_BODY_RATE = 500
#: How long a refused connection stays half-open, so that the client reads the refusal.
LINGER_SECONDS = 2.0
#: Linux's ``SIOCOUTQ`` (the same number as ``TIOCOUTQ``): bytes in a socket's send queue.
_OUTQ: int | None = getattr(termios, "TIOCOUTQ", None)
#: The signals by which the arbiter stops its workers (blocked while it forks one).
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGQUIT})
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


@dataclass(frozen=True)
class ClientLimits:
    """How long a client may take over each part of an exchange (see the module docstring)."""

    timeout: float = 30.0

    def head_refusal(self) -> tuple[int, str]:
        return (
            408,
            f"the request head did not arrive within {self.timeout:g} s: "
            "send the request line and headers at once",
        )

    def body_refusal(self) -> tuple[int, str]:
        return (
            408,
            f"the request body did not arrive in time ({self.timeout:g} s after the head, and "
            f"a second more for every {MIN_BODY_RATE} bytes of it): send it at once",
        )


class _Refused(Exception):
    """Raised in a parser callback to stop parsing a request that breaks a limit."""


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's ``httptools`` protocol with :data:`MAX_REQUEST_LINE` and :data:`MAX_HEAD_BYTES`.

    The parsed target and headers are counted as the parser hands them over, and the bytes
    received while a head is incomplete as they arrive (``httptools`` keeps a header to itself
    until it ends), so a head that never ends is refused once it passes the limit, not buffered.
    """

    def __init__(self, *args: Any, limits: ClientLimits | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits if limits is not None else ClientLimits()
        self._in_head = True  # the next bytes belong to a request head
        self._head_bytes = 0  # received since the head began (for a head that never ends)
        self._head_size = 0
        self._refusal: tuple[int, str] | None = None
        self._refused = False  # the refusal has been sent
        self.url = b""  # uvicorn's, reset at each request's first byte (on_message_begin)
        self._head_began = time.perf_counter()
        self._read_timer: asyncio.TimerHandle | None = None  # the head's or the body's limit
        self._body_began = 0.0  # when the current request's head was complete (loop time)
        self._body_bytes = 0  # of the current request's body, received so far
        self._send_timer: asyncio.TimerHandle | None = None  # the answer's, while writes wait
        self._undelivered_then = 0  # what the client had not taken when the timer was armed

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._read_timer = self.loop.call_later(self.limits.timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_read_timer()
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # the answer is out; what the client still sends is dropped (see _send_refusal)
        if self._in_head:
            if self._head_bytes == 0:
                self._head_began = time.perf_counter()
                if self._read_timer is None:  # a new connection's timer runs from its opening
                    self._read_timer = self.loop.call_later(
                        self.limits.timeout, self._head_timed_out
                    )
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
        self._stop_read_timer()
        self._body_began = self.loop.time()
        self._body_bytes = 0
        super().on_headers_complete()
        # Cancelled at once by on_message_complete when there is no body (a timer costs ~1 µs).
        self._read_timer = self.loop.call_later(self.limits.timeout, self._body_timed_out)

    def on_body(self, body: bytes) -> None:
        self._body_bytes += len(body)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._stop_read_timer()
        super().on_message_complete()
        self._in_head = True

    # Time limits ------------------------------------------------------------------------------
    def _stop_read_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _head_timed_out(self) -> None:
        self._read_timer = None
        if self._refused or self.transport.is_closing():
            return
        if self._head_bytes == 0:
            self.transport.close()  # opened and never used (a browser's spare connection)
            return
        self._refusal = self.limits.head_refusal()
        self._send_refusal()

    def _body_timed_out(self) -> None:
        """408 for a body that has not arrived in time while the app waits for it.

        In time means within the limit plus a second for every :data:`MIN_BODY_RATE` bytes
        received (as Apache's ``mod_reqtimeout``): a steady upload however slow is never cut, a
        trickle is. If the app answered without the body, the rest of it is still owed (the
        connection cannot serve another request before), so past the time the connection is
        closed; if the app is the slow one (the body it has not read fills the buffer, and
        reading is paused), or its answer is under way, the body may take its time.
        """
        self._read_timer = None
        cycle = self.cycle
        if self._refused or self.transport.is_closing() or cycle is None:
            return
        allowed = self.limits.timeout + self._body_bytes / MIN_BODY_RATE
        remaining = self._body_began + allowed - self.loop.time()
        if (cycle.response_started and not cycle.response_complete) or self.flow.read_paused:
            remaining = max(remaining, self.limits.timeout)
        if remaining > 0:
            self._read_timer = self.loop.call_later(remaining, self._body_timed_out)
            return
        if cycle.response_complete:
            self.transport.close()  # answered already: nothing to say, the rest is not wanted
            return
        cycle.disconnected = True  # the app's wait for the body ends, its answer goes nowhere
        cycle.scope[ANSWERED_BY_SERVER] = True  # type: ignore[literal-required]
        cycle.message_event.set()
        self._refusal = self.limits.body_refusal()
        self._send_refusal()

    def pause_writing(self) -> None:
        """The client takes the answer more slowly than it is made: from now on, it must take
        some of it within each period of the limit."""
        super().pause_writing()
        if self._send_timer is None:
            self._undelivered_then = self._undelivered()
            self._send_timer = self.loop.call_later(self.limits.timeout, self._send_timed_out)

    def _undelivered(self) -> int:
        """Bytes of answers the client has not taken yet: the transport's buffer, and the
        kernel's send queue (unsent or unacknowledged; where the kernel says: ``SIOCOUTQ``)."""
        size = self.transport.get_write_buffer_size()
        sock = self.transport.get_extra_info("socket")
        if sock is not None and _OUTQ is not None:
            with contextlib.suppress(OSError, ValueError):
                size += int.from_bytes(fcntl.ioctl(sock.fileno(), _OUTQ, bytes(4)), sys.byteorder)
        return size

    def resume_writing(self) -> None:
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        super().resume_writing()

    def _send_timed_out(self) -> None:
        """Drop a client that took nothing for the limit: the app sees it gone (uvicorn's
        ``connection_lost``), so a streamed answer's evaluator is stopped and freed. A client
        that took some, however little, has the limit again (as nginx's ``send_timeout``)."""
        self._send_timer = None
        if self.transport.is_closing():
            return
        undelivered = self._undelivered()
        if undelivered < self._undelivered_then:
            self._undelivered_then = undelivered
            self._send_timer = self.loop.call_later(self.limits.timeout, self._send_timed_out)
            return
        self.logger.warning(
            "iomkg: %s took none of its answer for %g s: connection closed",
            self.client[0] if self.client else "a client",
            self.limits.timeout,
        )
        self.transport.abort()

    def _refuse(self, refusal: tuple[int, str]) -> None:
        self._refusal = refusal
        raise _Refused  # httptools stops and raises a parser error: see send_400_response

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a parser error; ours when the error was a refused limit. An
        error in a body the app is reading (a malformed chunk) is answered and logged here: the
        app, which sees its client gone, must not log the request again."""
        if self.cycle is not None and not self.cycle.response_complete:
            self.cycle.scope[ANSWERED_BY_SERVER] = True  # type: ignore[literal-required]
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
        settings = getattr(self.app, "settings", None)  # iomkg.serving.GunicornServer's
        if settings is not None:
            self.config.http = functools.partial(
                LimitedHttpProtocol, limits=ClientLimits(settings.client_timeout)
            )
        # Let in-flight requests finish on a graceful stop, within gunicorn's own grace period.
        self.config.timeout_graceful_shutdown = max(1, int(self.cfg.graceful_timeout) - 1)
        # uvicorn's server calls callback_notify at most once a second, when this has passed.
        self.config.timeout_notify = min(self.timeout, PARENT_CHECK_SECONDS) / 2

    def init_process(self) -> None:
        """Before gunicorn's own set-up (its documented hook): the sockets, not its wrappers of
        them (``.sock``; set after ``__init__`` with ``reuse_port``), for uvloop to close once."""
        self.sockets: list[Any] = [getattr(sock, "sock", sock) for sock in self.sockets]
        super().init_process()

    def init_signals(self) -> None:
        """uvicorn's signal set-up, then the stop signals the arbiter blocked for the fork: one
        that came meanwhile stops this worker now (it has served nothing yet); uvicorn's server
        installs its own handlers for them when it starts."""
        super().init_signals()
        for sig in STOP_SIGNALS:
            signal.signal(sig, _exit_before_serving)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)

    def handle_exit(self, sig: int, frame: Any) -> None:
        """gunicorn's quick stop (SIGQUIT, what a SIGINT to the main process sends): uvicorn's
        server stops as on SIGTERM, rather than running on until the main process kills it."""
        super().handle_exit(sig, frame)
        if sig == signal.SIGQUIT:
            os.kill(os.getpid(), signal.SIGTERM)

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


def _exit_before_serving(sig: int, frame: Any) -> None:
    """A stop signal to a worker that is still starting: exit, as there is nothing to finish."""
    sys.exit(0)


__all__ = [
    "MAX_HEAD_BYTES",
    "MAX_REQUEST_LINE",
    "PARENT_CHECK_SECONDS",
    "STOP_SIGNALS",
    "ClientLimits",
    "IomkgWorker",
    "LimitedHttpProtocol",
]
