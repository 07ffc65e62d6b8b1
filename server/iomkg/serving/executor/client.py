"""The caller's side: :class:`IsolatedExecutor`, for threads (blocking) and event loops (async).

Both kinds of caller share one :class:`~iomkg.serving.executor.pool.Pool` of connections per process
and the same steps: take a connection to the evaluator, send the request with the time it has
left, and wait for the head. The evaluator stops itself at that deadline (it is killed, and its
CPU is free), so a connection that closes after the deadline means :class:`QueryTimeout`; one
that closes before it means the evaluator was stopped for another query (or died): the request
is sent again to the next one, a few times at most, within the same deadline. The body is then
read as the caller consumes it. Threads block on the socket; a coroutine awaits it on the event
loop, so one loop serves any number of clients while their queries run in the evaluator.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from iomkg.config import Settings
from iomkg.formats import Kind
from iomkg.serving import service
from iomkg.serving.executor import wire
from iomkg.serving.executor.host import MASTER_COMMAND, MasterConfig
from iomkg.serving.executor.pool import Connection, Pool
from iomkg.serving.service import (
    AsyncQueryResponse,
    QueryRequest,
    QueryResponse,
    QueryTimeout,
    UpdateRequest,
)
from iomkg.store.base import StoreError, StoreUnavailable
from iomkg.store.oxigraph import OxigraphStore

STALL_SECONDS = 60.0  # longest wait for the next body chunk before the evaluator is deemed hung
START_TIMEOUT_SECONDS = 60.0  # the master's start (it only opens the store to check it)
GRACE_SECONDS = 2.0  # past its deadline, how long a query waits for the evaluator to stop itself
ATTEMPTS = 3  # a query is sent at most this often when evaluators stop under it
MASTER_STOP_SECONDS = 10.0  # the master's time to stop on SIGTERM before it is killed
NOT_RUNNING = "the query evaluators are not running (being restarted?): try again in a few seconds"


class IsolatedExecutor:
    """A :class:`~iomkg.serving.service.QueryExecutor` whose queries run in a killable evaluator.

    ``source`` is an on-disk pyoxigraph store (a folder; updates make new versions of it beside
    it, see :mod:`iomkg.store.versions`) or a store object (copied into a temporary folder).
    ``workers`` is the number of queries each process using the executor may run at once; a
    caller that finds them all busy waits, and the wait counts towards its time limit. The
    executor may be created before a server forks its workers: each process then opens its own
    connections.
    """

    def __init__(
        self,
        settings: Settings,
        source: Path | OxigraphStore | ox.Store,
        *,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.workers = workers if workers is not None else 4
        if self.workers < 1:
            raise ValueError("an executor needs at least one connection")
        self._folder = Path(tempfile.mkdtemp(prefix="iomkg-executor-"))
        try:
            store = self._prepare_source(source)
            generation_path = self._folder / "generation"
            generation_path.write_bytes(bytes(wire.GENERATION.size))
            with generation_path.open("r+b") as handle:
                self._generation_map = mmap.mmap(handle.fileno(), wire.GENERATION.size)
            self._config = MasterConfig(
                store=str(store),
                queries=str(self._folder / "queries"),
                control=str(self._folder / "control"),
                generation=str(generation_path),
                updatable=True,
                memory_quads=settings.memory_quads,
            )
            self._master = self._start_master()
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self._owner = os.getpid()
        self._pool = Pool(self.workers)
        reference = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _after_fork(reference))

    def _prepare_source(self, source: Path | OxigraphStore | ox.Store) -> Path:
        if isinstance(source, OxigraphStore | ox.Store):
            raw = source.raw if isinstance(source, OxigraphStore) else source
            copy = self._folder / "dataset"
            disk = ox.Store(str(copy))
            disk.bulk_extend(raw.quads_for_pattern(None, None, None, None))
            disk.flush()
            del disk
            return copy
        if source.is_dir():
            return source
        raise StoreError(f"no store at {source}")

    def _start_master(self) -> MasterProcess:
        process = subprocess.Popen(
            [sys.executable, "-c", MASTER_COMMAND, self._config.to_json()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=master_environment(os.environ),
        )
        master = MasterProcess(process)
        assert process.stdout is not None
        if not wire.wait_readable(process.stdout.fileno(), START_TIMEOUT_SECONDS):
            master.stop()
            raise StoreError("the query evaluators did not start in time")
        line = process.stdout.readline().decode(errors="replace").strip()
        process.stdout.close()
        if not line.startswith("ready"):
            master.stop()
            raise StoreError(
                f"the query evaluators could not open the store: {line[6:] or 'crashed'}"
            )
        return master

    # The store's version -----------------------------------------------------------------------
    def _current_generation(self) -> int:
        value: int = wire.GENERATION.unpack_from(self._generation_map)[0]
        return value

    # The contract, for threads -----------------------------------------------------------------
    def run_query(self, request: QueryRequest, timeout: float | None = None) -> QueryResponse:
        limit = service.time_limit(self.settings, timeout)
        deadline = time.monotonic() + limit
        max_rows = service.row_cap(self.settings, request)
        connection, frame_type, data = self._run(
            lambda left: wire.encode_query(request, left, max_rows), deadline, limit
        )
        kind, truncated, row_limit = self._head(connection, frame_type, data)
        return QueryResponse(
            kind,
            service.choose_format(request, kind),
            _Body(self, connection),
            truncated=truncated,
            row_limit=row_limit,
        )

    def call(self, name: str, *args: object, timeout: float | None = None) -> Any:
        """Run a small read method of the store (``named_graphs``, ``quad_count``) isolated."""
        limit = service.time_limit(self.settings, timeout)
        deadline = time.monotonic() + limit
        connection, frame_type, data = self._run(
            lambda left: wire.frame(wire.CALL, wire.dumps((name, args, left))), deadline, limit
        )
        self._pool.release(connection)
        if frame_type == wire.ERROR:
            raise wire.rebuild_exception(data)
        return wire.loads(data)

    def run_update(self, request: UpdateRequest, timeout: float | None = None) -> None:
        limit = service.time_limit(self.settings, timeout)
        # A connection of its own to the master, which applies updates one at a time.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            try:
                sock.connect(self._config.control)
            except OSError as error:
                raise StoreUnavailable(NOT_RUNNING) from error
            channel = wire.Channel(sock)
            channel.send(wire.frame(wire.UPDATE, wire.dumps((request, limit))))
            try:
                frame_type, data = channel.read_frame()
            except EOFError:
                raise StoreError(
                    "the query evaluators stopped during the update, which was most likely not "
                    "applied: check before sending it again"
                ) from None
        if frame_type == wire.TIMEOUT:
            raise QueryTimeout(limit)
        if frame_type == wire.ERROR:
            raise wire.rebuild_exception(data)

    # The contract, for an event loop -----------------------------------------------------------
    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        """:meth:`run_query` without blocking the event loop: while the evaluator works, the loop
        serves other requests."""
        limit = service.time_limit(self.settings, timeout)
        deadline = time.monotonic() + limit
        max_rows = service.row_cap(self.settings, request)
        for attempt in range(ATTEMPTS):
            connection = await self._checkout_async(deadline, limit)
            payload = wire.encode_query(request, deadline - time.monotonic(), max_rows)
            try:
                frame_type, data = await self._exchange_async(connection, payload, deadline, limit)
            except _SendAgain:
                if attempt + 1 < ATTEMPTS:
                    continue
                raise _stopped() from None
            kind, truncated, row_limit = self._head(connection, frame_type, data)
            body = _AsyncBody(self, connection)
            return AsyncQueryResponse(
                kind,
                service.choose_format(request, kind),
                body,
                truncated=truncated,
                row_limit=row_limit,
                whole=body.whole(),
            )
        raise AssertionError("not reached")

    def _head(self, connection: Connection, frame_type: int, data: bytes) -> tuple[Kind, bool, int]:
        """(kind, truncated, row limit) from the evaluator's first answer frame."""
        if frame_type == wire.ERROR:
            self._pool.release(connection)
            raise wire.rebuild_exception(data)
        if frame_type != wire.HEAD_FRAME:
            self._drop(connection)
            raise StoreError("the query evaluator answered out of turn")
        kind_index, truncated, row_limit = wire.HEAD.unpack(data)
        return wire.KINDS[kind_index], truncated, row_limit

    def close(self) -> None:
        """Close this process's connections; the owner also stops the master (and so the
        evaluators)."""
        for connection in self._pool.close():
            connection.close()
        if os.getpid() != self._owner:
            return
        self._master.stop()
        self._generation_map.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def revive_if_gone(self) -> bool:
        """Start the master again if it has died (SIGKILL, the OOM killer): whether it had
        (False too in a process that is not the owner: only the owner can).

        Its evaluators died with it; the new master marks a new generation, so that each
        process leaves its connections to them. Until it is ready, queries that need a new
        connection fail (:class:`StoreUnavailable`). Called by the server's main loop. A
        failed restart raises :class:`StoreError`.
        """
        if os.getpid() != self._owner or self._pool.closed or not self._master.exited():
            return False
        self._master.stop()
        self._master = self._start_master()
        return True

    def __enter__(self) -> IsolatedExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def master_pid(self) -> int:
        """The pid of the master (for tests and diagnostics)."""
        return self._master.process.pid

    def evaluator_source(self) -> str:
        """Where the evaluator reads now: ``memory`` (the master's copy) or ``disk``."""
        source: str = self.call("source")
        return source

    def evaluator_pid(self) -> int:
        """The pid of the evaluator that answers queries now (for tests and diagnostics)."""
        pid: int = self.call("pid")
        return pid

    # Blocking steps ---------------------------------------------------------------------------
    def _checkout(self, deadline: float, limit: float) -> Connection:
        try:
            connection = self._pool.take(deadline)
        except TimeoutError:
            raise QueryTimeout(limit, queued=True) from None
        if connection is not None:
            if connection.generation == self._current_generation():
                connection.use_from_thread()
                return connection
            self._pool.drop(connection)  # to an evaluator of an older version: open another
        try:
            return self._connect(deadline)
        except TimeoutError:
            self._pool.free_place()
            raise QueryTimeout(limit, queued=True) from None
        except BaseException:
            self._pool.free_place()
            raise

    def _connect(self, deadline: float) -> Connection:
        """A new connection to the current evaluator, in a place already counted."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(self._config.queries)
        except OSError as error:
            sock.close()
            raise StoreUnavailable(NOT_RUNNING) from error
        channel = wire.Channel(sock)
        try:
            frame_type, data = channel.read_frame(deadline)
        except TimeoutError:
            sock.close()
            raise
        except (EOFError, OSError) as error:
            sock.close()
            raise StoreUnavailable(NOT_RUNNING) from error
        sock.settimeout(None)
        return self._welcome(channel, frame_type, data)

    def _welcome(self, channel: wire.Channel, frame_type: int, data: bytes) -> Connection:
        if frame_type != wire.HELLO:
            channel.close()
            raise StoreError("the query evaluator did not introduce itself")
        pid, generation = wire.HELLO_BODY.unpack(data)
        connection = Connection(pid, channel, generation)
        self._pool.add(connection)
        return connection

    def _run(
        self, make_payload: _Payload, deadline: float, limit: float
    ) -> tuple[Connection, int, bytes]:
        """Take a connection, send the request, read the first answer frame; send it again to
        the next evaluator if the one it went to was stopped for another query."""
        for attempt in range(ATTEMPTS):
            connection = self._checkout(deadline, limit)
            payload = make_payload(deadline - time.monotonic())
            try:
                frame_type, data = self._exchange(connection, payload, deadline, limit)
            except _SendAgain:
                if attempt + 1 < ATTEMPTS:
                    continue
                raise _stopped() from None
            return connection, frame_type, data
        raise AssertionError("not reached")

    def _exchange(
        self, connection: Connection, payload: bytes, deadline: float, limit: float
    ) -> tuple[int, bytes]:
        try:
            connection.channel.send(payload)
        except OSError:  # it died idle: the request never ran
            self._lost(connection)
            raise _SendAgain from None
        try:
            return connection.channel.read_frame(deadline + GRACE_SECONDS)
        except TimeoutError:
            self._kill(connection)  # it did not stop itself at the deadline
            raise QueryTimeout(limit) from None
        except (EOFError, OSError):
            self._lost(connection)
            if time.monotonic() >= deadline:
                _wait_gone(connection.pid)
                raise QueryTimeout(limit) from None  # stopped for this query: its CPU is free
            raise _SendAgain from None

    def _lost(self, connection: Connection) -> None:
        """A connection whose evaluator is gone: closed, its place freed."""
        self._pool.drop(connection)
        self._pool.free_place()

    def _kill(self, connection: Connection) -> None:
        """Stop an evaluator that does not answer, and wait (briefly) until it is gone."""
        with contextlib.suppress(OSError):
            pidfd = os.pidfd_open(connection.pid)
            try:
                wire.kill(pidfd)
            finally:
                os.close(pidfd)
        self._lost(connection)

    # Async steps ------------------------------------------------------------------------------
    async def _checkout_async(self, deadline: float, limit: float) -> Connection:
        try:
            connection = await self._pool.take_async(deadline)
        except TimeoutError:
            raise QueryTimeout(limit, queued=True) from None
        if connection is not None:
            if connection.generation == self._current_generation():
                connection.use_from_loop()
                return connection
            self._pool.drop(connection)
        try:
            connection = await self._connect_async(deadline)
        except TimeoutError:
            self._pool.free_place()
            raise QueryTimeout(limit, queued=True) from None
        except BaseException:
            self._pool.free_place()
            raise
        connection.nonblocking = True
        return connection

    async def _connect_async(self, deadline: float) -> Connection:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, self._config.queries)
        except OSError as error:
            sock.close()
            raise StoreUnavailable(NOT_RUNNING) from error
        channel = wire.Channel(sock)
        try:
            frame_type, data = await _read_frame_async(loop, channel, deadline)
        except TimeoutError:
            sock.close()
            raise
        except (EOFError, OSError) as error:
            sock.close()
            raise StoreUnavailable(NOT_RUNNING) from error
        except BaseException:
            sock.close()
            raise
        return self._welcome(channel, frame_type, data)

    async def _exchange_async(
        self, connection: Connection, payload: bytes, deadline: float, limit: float
    ) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        channel = connection.channel
        try:  # a request fits the socket's buffer at once, as a rule
            sent = channel.sock.send(payload)
        except BlockingIOError:
            sent = 0
        except OSError:  # it died idle: the request never ran
            self._lost(connection)
            raise _SendAgain from None
        try:
            if sent < len(payload):
                async with asyncio.timeout_at(deadline):
                    await loop.sock_sendall(channel.sock, payload[sent:])
            return await _read_frame_async(loop, channel, deadline + GRACE_SECONDS)
        except TimeoutError:
            self._kill(connection)
            raise QueryTimeout(limit) from None
        except (EOFError, OSError):
            self._lost(connection)
            if time.monotonic() >= deadline:
                _wait_gone(connection.pid)
                raise QueryTimeout(limit) from None
            raise _SendAgain from None
        except asyncio.CancelledError:
            # The client went away mid-query: closing the connection tells the evaluator, whose
            # watchdog stops the query.
            self._lost(connection)
            raise

    def _drop(self, connection: Connection) -> None:
        self._lost(connection)

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's connections are not ours. Close our copies."""
        inherited = self._pool
        self._pool = Pool(self.workers)
        for connection in inherited.all.values():
            connection.close()  # only this process's descriptors; the parent's stay open


_Payload = Any  # Callable[[float], bytes]: the request, made with the seconds it has left


def _wait_gone(pid: int) -> None:
    """Wait (briefly) until the evaluator that closed our connection has exited: its sockets
    close a moment before it does, and "stopped" must mean its CPU is already free."""
    with contextlib.suppress(OSError):
        pidfd = os.pidfd_open(pid)
        try:
            wire.wait_readable(pidfd, wire.KILL_WAIT_SECONDS)
        finally:
            os.close(pidfd)


class _SendAgain(Exception):
    """The evaluator stopped before answering, for another query (or died): send again."""


def _stopped() -> StoreError:
    return StoreError(
        f"the query evaluator stopped {ATTEMPTS} times while this query was running; "
        "it may be too costly for this server"
    )


class MasterProcess:
    """The master's process, known by a pidfd: its pid alone could be reaped by someone else
    (gunicorn's arbiter reaps every child it has) and then reused by another process."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.pidfd: int | None = os.pidfd_open(process.pid)

    def exited(self) -> bool:
        return self.pidfd is None or wire.wait_readable(self.pidfd, 0)

    def stop(self) -> None:
        """SIGTERM (its evaluators are killed with it), SIGKILL if it lingers; reap it if
        nobody has; close the pidfd. Nothing the second time."""
        pidfd, self.pidfd = self.pidfd, None
        if pidfd is None:
            return
        try:
            if not wire.wait_readable(pidfd, 0):
                with contextlib.suppress(ProcessLookupError):
                    signal.pidfd_send_signal(pidfd, signal.SIGTERM)
                if not wire.wait_readable(pidfd, MASTER_STOP_SECONDS):
                    wire.kill(pidfd)
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
            self.process.returncode = -1  # reaped here or by someone else: never by its pid
        finally:
            os.close(pidfd)


#: glibc's per-thread cache of freed blocks, per size (default 7), for the master and so for the
#: evaluators. pyoxigraph sets up each query with a few dozen small blocks of the same sizes and
#: frees them at the end; with room for only 7 of a size, the rest go back to the shared heap and
#: the next query takes the slow path for them. Measured (2026-12-03, in-memory evaluators): an
#: evaluator's CPU for the benchmark's lookup 207–220 µs with the default, 134–145 µs with this
#: (``glibc.malloc.tcache_count``; glibc only, other C libraries ignore it).
EVALUATOR_TCACHE_COUNT = 256


def master_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with :data:`EVALUATOR_TCACHE_COUNT` added to ``GLIBC_TUNABLES`` (an
    operator's own tunables are kept, and win).

    >>> master_environment({})["GLIBC_TUNABLES"]
    'glibc.malloc.tcache_count=256'
    >>> master_environment({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"})["GLIBC_TUNABLES"]
    'glibc.malloc.tcache_count=256:glibc.malloc.tcache_count=7'
    """
    ours = f"glibc.malloc.tcache_count={EVALUATOR_TCACHE_COUNT}"
    theirs = environ.get("GLIBC_TUNABLES")
    return {**environ, "GLIBC_TUNABLES": f"{ours}:{theirs}" if theirs else ours}


def _after_fork(reference: weakref.ref[IsolatedExecutor]) -> None:
    executor = reference()
    if executor is not None:
        executor._reset_after_fork()


async def _read_frame_async(
    loop: asyncio.AbstractEventLoop, channel: wire.Channel, deadline: float
) -> tuple[int, bytes]:
    """The next frame, read without blocking the loop: ``EOFError`` at the end of the stream,
    ``TimeoutError`` past ``deadline`` (``time.monotonic()``, which is the loop's clock).

    One reader callback and one timer for the whole frame, rather than ``sock_recv`` under
    ``asyncio.timeout``: this is the wait of every query, and costs a third less so.
    """
    found = channel.complete_frame()
    if found is not None:
        return found
    fd = channel.sock.fileno()
    waiter: asyncio.Future[tuple[int, bytes]] = loop.create_future()

    def readable() -> None:
        if waiter.done():
            return
        try:
            frame = channel.receive()
        except (BlockingIOError, InterruptedError):
            return
        except (EOFError, OSError) as error:
            waiter.set_exception(error)
            return
        if frame is not None:
            waiter.set_result(frame)

    def expired() -> None:
        if not waiter.done():
            waiter.set_exception(TimeoutError())

    loop.add_reader(fd, readable)
    timer = loop.call_at(deadline, expired)
    try:
        return await waiter
    finally:
        timer.cancel()
        loop.remove_reader(fd)


class _BodyBase:
    """The chunks of one answer, read from the evaluator as the caller asks for them.

    Chunks already received with the head are kept at once; when the end mark came too (small
    answers arrive in one read) the connection goes back to the pool at once. An answer left
    before its end costs its connection: it cannot resync (the evaluator just stops sending).
    """

    def __init__(self, executor: IsolatedExecutor, connection: Connection) -> None:
        self._executor: IsolatedExecutor | None = executor
        self._connection = connection
        self._ready: deque[bytes] = deque()
        while (found := connection.channel.complete_frame()) is not None and self._take(*found):
            pass

    def _take(self, frame_type: int, data: bytes) -> bool:
        """Keep a chunk (True), or finish at the end mark or anything else (False)."""
        if frame_type == wire.CHUNK:
            self._ready.append(data)
            return True
        self._finish(frame_type == wire.END)
        return False

    def _finish(self, complete: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if complete:
            executor._pool.release(self._connection)
        else:
            executor._lost(self._connection)


class _Body(_BodyBase):
    """For a thread: reads block (at most :data:`STALL_SECONDS` per chunk)."""

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        if not self._ready and self._executor is not None:
            try:
                found = self._connection.channel.read_frame(time.monotonic() + STALL_SECONDS)
            except (TimeoutError, EOFError, OSError) as error:
                self._finish(False)
                raise StoreError("the query evaluator stopped sending its answer") from error
            self._take(*found)
        if self._ready:
            return self._ready.popleft()
        raise StopIteration

    def close(self) -> None:
        """Stop reading: the connection of an unfinished answer is closed."""
        self._ready.clear()
        self._finish(False)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class _AsyncBody(_BodyBase):
    """For a coroutine: reads are awaited on the event loop."""

    def whole(self) -> bytes | None:
        """The entire body if it is all here already (then nothing is left to iterate)."""
        if self._executor is not None:
            return None
        body = b"".join(self._ready)
        self._ready.clear()
        return body

    def __aiter__(self) -> _AsyncBody:
        return self

    async def __anext__(self) -> bytes:
        if not self._ready and self._executor is not None:
            loop = asyncio.get_running_loop()
            try:
                found = await _read_frame_async(
                    loop, self._connection.channel, time.monotonic() + STALL_SECONDS
                )
            except (TimeoutError, EOFError, OSError) as error:
                self._finish(False)
                raise StoreError("the query evaluator stopped sending its answer") from error
            except asyncio.CancelledError:
                self._finish(False)
                raise
            self._take(*found)
        if self._ready:
            return self._ready.popleft()
        raise StopAsyncIteration

    async def aclose(self) -> None:
        """Stop reading: the connection of an unfinished answer is closed."""
        self._ready.clear()
        self._finish(False)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self._ready.clear()
            self._finish(False)
