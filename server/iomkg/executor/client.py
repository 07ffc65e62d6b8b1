"""The caller's side: :class:`IsolatedExecutor`, for threads (blocking) and event loops (async).

Both kinds of caller share one :class:`~iomkg.executor.pool.Pool` per process and the same
steps: take an evaluator, send the pickled request, wait for the head until the deadline (past
it: kill the evaluator through its pidfd, wait until it is gone, start its successor, raise
:class:`~iomkg.service.QueryTimeout`), then read the body as the caller consumes it. Threads
block on the evaluator's socket; a coroutine awaits it on the event loop, so one loop serves
any number of clients while their queries run in other processes.
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
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox

from iomkg import service
from iomkg.config import Settings
from iomkg.executor import wire
from iomkg.executor.pool import Evaluator, Pool
from iomkg.executor.zygote import ZYGOTE_COMMAND, SourceKind, ZygoteConfig
from iomkg.formats import Kind
from iomkg.service import (
    AsyncQueryResponse,
    QueryRequest,
    QueryResponse,
    QueryTimeout,
    UpdateRequest,
)
from iomkg.store.base import StoreError, StoreUnavailable
from iomkg.store.oxigraph import OxigraphStore

STALL_SECONDS = 60.0  # longest wait for the next body chunk before the evaluator is deemed hung
START_TIMEOUT_SECONDS = 3600.0  # loading a very large dataset into memory
SPAWN_WAIT_SECONDS = 0.5  # longest wait for a replacement when the zygote is busy (an update)
ZYGOTE_STOP_SECONDS = 10.0  # the zygote's time to stop on SIGTERM before it is killed
NOT_RUNNING = "the query evaluators are not running (being restarted?): try again in a few seconds"


class IsolatedExecutor:
    """A :class:`~iomkg.service.QueryExecutor` whose queries run in killable evaluator processes.

    ``source`` is an on-disk pyoxigraph store (a folder: updates are written there), an RDF file
    (read-only) or a store object (copied; updates change the server's copy only). ``workers``
    is the number of evaluators each process using the executor may run at once; a caller that
    finds them all busy waits, and the wait counts towards its time limit. The executor may be
    created before a server forks its workers: each process then gets its own evaluators.
    """

    def __init__(
        self,
        settings: Settings,
        source: Path | OxigraphStore | ox.Store,
        *,
        workers: int | None = None,
    ) -> None:
        self.settings = settings
        self.workers = workers if workers is not None else settings.workers
        if self.workers < 1:
            raise ValueError("an executor needs at least one evaluator")
        self._folder = Path(tempfile.mkdtemp(prefix="iomkg-executor-"))
        try:
            kind, path = self._prepare_source(source)
            generation_path = self._folder / "generation"
            generation_path.write_bytes(bytes(wire.GENERATION.size))
            with generation_path.open("r+b") as handle:
                self._generation_map = mmap.mmap(handle.fileno(), wire.GENERATION.size)
            config = ZygoteConfig(
                str(path),
                kind,
                settings.base_iri,
                str(self._folder / "control"),
                str(generation_path),
            )
            self._zygote = self._start_zygote(config)
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self._config = config
        self._owner = os.getpid()
        self._pool = Pool(self.workers)
        reference = weakref.ref(self)
        os.register_at_fork(after_in_child=lambda: _after_fork(reference))

    def _prepare_source(self, source: Path | OxigraphStore | ox.Store) -> tuple[SourceKind, Path]:
        if isinstance(source, OxigraphStore | ox.Store):
            raw = source.raw if isinstance(source, OxigraphStore) else source
            copy = self._folder / "dataset.nq"
            raw.dump(str(copy), format=ox.RdfFormat.N_QUADS)
            return "memory", copy
        if source.is_dir():
            return "store", source
        if source.is_file():
            return "file", source
        raise StoreError(f"no store or RDF file at {source}")

    def _start_zygote(self, config: ZygoteConfig) -> ZygoteProcess:
        process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE_COMMAND, config.to_json()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            env=zygote_environment(os.environ),
        )
        zygote = ZygoteProcess(process)
        assert process.stdout is not None
        if not wire.wait_readable(process.stdout.fileno(), START_TIMEOUT_SECONDS):
            zygote.stop()
            raise StoreError("the query evaluators did not start in time")
        line = process.stdout.readline().decode(errors="replace").strip()
        process.stdout.close()
        if not line.startswith("ready"):
            zygote.stop()
            raise StoreError(
                f"the query evaluators could not load the dataset: {line[6:] or 'crashed'}"
            )
        return zygote

    # Settings ----------------------------------------------------------------------------------
    def _limit(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self.settings.query_timeout

    def _row_cap(self, request: QueryRequest) -> int:
        cap = self.settings.max_rows
        return min(cap, request.max_rows) if request.max_rows is not None else cap

    def _current_generation(self) -> int:
        value: int = wire.GENERATION.unpack_from(self._generation_map)[0]
        return value

    # The contract, for threads -----------------------------------------------------------------
    def run_query(self, request: QueryRequest, timeout: float | None = None) -> QueryResponse:
        limit = self._limit(timeout)
        deadline = time.monotonic() + limit
        max_rows = self._row_cap(request)
        payload = wire.encode_query(request, limit, max_rows)
        evaluator, frame_type, data = self._run(payload, deadline, limit)
        kind, truncated, row_limit = self._head(evaluator, frame_type, data)
        return QueryResponse(
            kind,
            service.choose_format(request, kind),
            _Body(self, evaluator),
            truncated=truncated,
            row_limit=row_limit,
        )

    def run_update(self, request: UpdateRequest, timeout: float | None = None) -> None:
        limit = self._limit(timeout)
        # A connection of its own: an update can take long and must not hold up spawns.
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

    def call(self, name: str, *args: object, timeout: float | None = None) -> Any:
        """Run a small read method of the store (``named_graphs``, ``quad_count``) isolated."""
        limit = self._limit(timeout)
        deadline = time.monotonic() + limit
        payload = wire.frame(wire.CALL, wire.dumps((name, args, limit)))
        evaluator, frame_type, data = self._run(payload, deadline, limit)
        self._pool.release(evaluator)
        if frame_type == wire.ERROR:
            raise wire.rebuild_exception(data)
        return wire.loads(data)

    # The contract, for an event loop -----------------------------------------------------------
    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        """:meth:`run_query` without blocking the event loop: while the evaluator works, the loop
        serves other requests; past the limit the evaluator is killed as in :meth:`run_query`."""
        limit = self._limit(timeout)
        deadline = time.monotonic() + limit
        max_rows = self._row_cap(request)
        payload = wire.encode_query(request, limit, max_rows)
        evaluator = await self._checkout_async(deadline, limit)
        try:
            frame_type, data = await self._exchange_async(evaluator, payload, deadline, limit)
        except _DeadBeforeRequest:  # see _run
            evaluator = await self._checkout_async(deadline, limit)
            frame_type, data = await self._exchange_async(evaluator, payload, deadline, limit)
        kind, truncated, row_limit = self._head(evaluator, frame_type, data)
        body = _AsyncBody(self, evaluator)
        return AsyncQueryResponse(
            kind,
            service.choose_format(request, kind),
            body,
            truncated=truncated,
            row_limit=row_limit,
            whole=body.whole(),
        )

    def _head(self, evaluator: Evaluator, frame_type: int, data: bytes) -> tuple[Kind, bool, int]:
        """(kind, truncated, row limit) from the evaluator's first answer frame."""
        if frame_type == wire.ERROR:
            self._pool.release(evaluator)
            raise wire.rebuild_exception(data)
        if frame_type != wire.HEAD_FRAME:
            self._kill(evaluator, replace=True)
            raise StoreError("the query evaluator answered out of turn")
        kind_index, truncated, row_limit = wire.HEAD.unpack(data)
        return wire.KINDS[kind_index], truncated, row_limit

    def close(self) -> None:
        """Stop this process's evaluators; the owner also stops the zygote and all evaluators."""
        pool = self._pool
        for evaluator in pool.close():
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(evaluator.pidfd, signal.SIGKILL)
            evaluator.close()
        with pool.control_lock:
            if pool.control is not None:
                pool.control.close()
                pool.control = None
        if os.getpid() != self._owner:
            return
        self._zygote.stop()
        self._generation_map.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def revive_if_gone(self) -> bool:
        """Start the zygote again if it has died (SIGKILL, the OOM killer): whether it had
        (False too in a process that is not the owner: only the owner can).

        The new zygote loads the dataset from its source (an on-disk store has every update
        written) and marks a new generation, so that each process retires the dead zygote's
        evaluators as it next takes them; until it is ready they answer as before, and only
        new evaluators fail (:class:`StoreUnavailable`). Called by the server's main loop.
        A failed restart raises :class:`StoreError`.
        """
        if os.getpid() != self._owner or self._pool.closed or not self._zygote.exited():
            return False
        self._zygote.stop()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._config.control)  # the dead one's: the new one binds the same path
        self._zygote = self._start_zygote(self._config)
        return True

    def __enter__(self) -> IsolatedExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def evaluator_pids(self) -> list[int]:
        """The pids of this process's evaluators (for tests and diagnostics)."""
        return self._pool.pids()

    def zygote_pid(self) -> int:
        """The pid of the zygote (for tests and diagnostics)."""
        return self._zygote.process.pid

    # Blocking steps ---------------------------------------------------------------------------
    def _checkout(self, deadline: float, limit: float) -> Evaluator:
        try:
            evaluator = self._pool.take(deadline)
        except TimeoutError:
            raise QueryTimeout(limit, queued=True) from None
        if evaluator is not None:
            if evaluator.generation == self._current_generation():
                evaluator.use_from_thread()
                return evaluator
            self._retire(evaluator)  # forked before an update: replace it
        try:
            return self._spawn(wait=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            self._pool.free_place()
            raise QueryTimeout(limit, queued=True) from None
        except BaseException:
            self._pool.free_place()
            raise

    def _run(self, payload: bytes, deadline: float, limit: float) -> tuple[Evaluator, int, bytes]:
        """Take an evaluator, send it ``payload``, read the first answer frame.

        An idle evaluator may have died unseen (killed, the OOM killer): the request then
        cannot even be sent, so it never ran, and goes to another evaluator (once).
        """
        evaluator = self._checkout(deadline, limit)
        try:
            frame_type, data = self._exchange(evaluator, payload, deadline, limit)
        except _DeadBeforeRequest:
            evaluator = self._checkout(deadline, limit)
            frame_type, data = self._exchange(evaluator, payload, deadline, limit)
        return evaluator, frame_type, data

    def _exchange(
        self, evaluator: Evaluator, payload: bytes, deadline: float, limit: float
    ) -> tuple[int, bytes]:
        """Send one request and read the first answer frame; past ``deadline`` the evaluator is
        killed (and replaced) and the caller gets :class:`QueryTimeout`."""
        try:
            evaluator.channel.send(payload)
        except (BrokenPipeError, ConnectionResetError):
            self._kill(evaluator, replace=True)
            raise _DeadBeforeRequest from None
        try:
            return evaluator.channel.read_frame(deadline)
        except TimeoutError:
            self._kill(evaluator, replace=True)
            raise QueryTimeout(limit) from None
        except (EOFError, OSError) as error:
            self._kill(evaluator, replace=True)
            raise StoreError("the query evaluator stopped unexpectedly") from error

    def _spawn(self, wait: float | None = None) -> Evaluator:
        """A new evaluator from the zygote, in a place already counted by the caller.

        ``wait`` bounds the time the zygote may take (it answers nothing while it applies an
        update); past it, the control connection is dropped, so that the late answer goes
        nowhere (the evaluator forked for it sees its socket closed and exits), and
        ``TimeoutError`` is raised. A kept connection that fails is tried once more afresh:
        the zygote it led to may have been replaced (:meth:`revive_if_gone`).
        """
        pool = self._pool
        deadline = None if wait is None else time.monotonic() + wait
        if not pool.control_lock.acquire(timeout=-1 if wait is None else wait):
            raise TimeoutError
        try:
            if pool.closed:
                raise StoreError("the query executor was closed")
            kept = pool.control is not None
            try:
                data, fds = self._ask_for_evaluator(deadline)
            except StoreUnavailable:
                if not kept:
                    raise
                data, fds = self._ask_for_evaluator(deadline)
        finally:
            pool.control_lock.release()
        frame_type = data[0]
        if frame_type != wire.OK or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise StoreError("the query evaluators could not start a new evaluator")
        pid, generation = wire.SPAWNED.unpack_from(data, wire.FRAME.size)
        evaluator = Evaluator(pid, fds[1], wire.Channel(socket.socket(fileno=fds[0])), generation)
        pool.add(evaluator)
        return evaluator

    def _ask_for_evaluator(self, deadline: float | None) -> tuple[bytes, list[int]]:
        """Send SPAWN on the control connection (made if there is none) and read the answer:
        (frame, its descriptors). Holds ``pool.control_lock``."""
        pool = self._pool
        if pool.control is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self._config.control)
            except OSError as error:
                sock.close()
                raise StoreUnavailable(NOT_RUNNING) from error
            pool.control = wire.Channel(sock)
        sock = pool.control.sock
        data, fds = b"", []
        try:
            sock.settimeout(None)
            sock.sendall(wire.frame(wire.SPAWN))
            while len(data) < wire.FRAME.size + wire.SPAWNED.size:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise TimeoutError
                    sock.settimeout(remaining)
                more, more_fds, _flags, _address = socket.recv_fds(sock, 4096, 2)
                fds += more_fds
                if not more:
                    raise EOFError
                data += more
        except (OSError, EOFError) as error:  # TimeoutError included
            for fd in fds:
                os.close(fd)
            pool.control.close()
            pool.control = None
            if isinstance(error, TimeoutError):
                raise
            raise StoreUnavailable(NOT_RUNNING) from error
        return data, fds

    def _retire(self, evaluator: Evaluator) -> None:
        """Close an idle evaluator (it exits when its socket closes); its place stays taken."""
        self._pool.forget(evaluator)
        evaluator.close()

    def _kill(self, evaluator: Evaluator, *, replace: bool) -> None:
        """Kill a busy evaluator, wait until it is gone, and (``replace``) start its successor."""
        wire.kill(evaluator.pidfd)
        self._pool.forget(evaluator)
        evaluator.close()
        if replace:
            self._replace()
        else:
            self._pool.free_place()

    def _replace(self) -> None:
        """Start a successor in a freed place at once, unless the zygote is busy with an update:
        then the place is freed and the next caller starts one."""
        try:
            self._pool.release(self._spawn(wait=SPAWN_WAIT_SECONDS))
        except (StoreError, TimeoutError):
            self._pool.free_place()

    # Async steps ------------------------------------------------------------------------------
    async def _checkout_async(self, deadline: float, limit: float) -> Evaluator:
        try:
            evaluator = await self._pool.take_async(deadline)
        except TimeoutError:
            raise QueryTimeout(limit, queued=True) from None
        if evaluator is not None:
            if evaluator.generation == self._current_generation():
                evaluator.use_from_loop()
                return evaluator
            self._retire(evaluator)
        # Starting one blocks on the zygote (for long while it applies an update): in a thread.
        starting = asyncio.get_running_loop().run_in_executor(
            None, self._spawn, max(0.0, deadline - time.monotonic())
        )
        try:
            evaluator = await asyncio.shield(starting)
        except TimeoutError:
            self._pool.free_place()
            raise QueryTimeout(limit, queued=True) from None
        except asyncio.CancelledError:  # the caller is gone, the start goes on: hand it on
            starting.add_done_callback(self._adopt)
            raise
        except BaseException:
            self._pool.free_place()
            raise
        evaluator.use_from_loop()
        return evaluator

    def _adopt(self, started: asyncio.Future[Evaluator]) -> None:
        """An evaluator started for a caller who gave up goes to the pool (a failed start frees
        its place)."""
        if not started.cancelled() and started.exception() is None:
            self._pool.release(started.result())
        else:
            self._pool.free_place()

    async def _exchange_async(
        self, evaluator: Evaluator, payload: bytes, deadline: float, limit: float
    ) -> tuple[int, bytes]:
        loop = asyncio.get_running_loop()
        channel = evaluator.channel
        try:  # a request fits the socket's buffer at once, as a rule
            sent = channel.sock.send(payload)
        except BlockingIOError:
            sent = 0
        except (BrokenPipeError, ConnectionResetError):  # it died idle: see _run
            await self._kill_async(evaluator)
            raise _DeadBeforeRequest from None
        except OSError as error:
            await self._kill_async(evaluator)
            raise StoreError("the query evaluator stopped unexpectedly") from error
        try:
            if sent < len(payload):
                async with asyncio.timeout_at(deadline):
                    await loop.sock_sendall(channel.sock, payload[sent:])
            return await _read_frame_async(loop, channel, deadline)
        except TimeoutError:
            await self._kill_async(evaluator)
            raise QueryTimeout(limit) from None
        except (EOFError, OSError) as error:
            await self._kill_async(evaluator)
            raise StoreError("the query evaluator stopped unexpectedly") from error
        except asyncio.CancelledError:  # the client went away mid-query: stop the work too
            self._kill_soon(evaluator)
            raise

    async def _kill_async(self, evaluator: Evaluator) -> None:
        """Kill an evaluator and wait (without blocking the loop) until it is gone, so its CPU
        is free before the caller answers; its successor is started in the background."""
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(evaluator.pidfd, signal.SIGKILL)
        with contextlib.suppress(TimeoutError):
            await _readable(evaluator.pidfd, wire.KILL_WAIT_SECONDS)
        self._pool.forget(evaluator)
        evaluator.close()
        _in_background(self._replace)

    def _kill_soon(self, evaluator: Evaluator) -> None:
        """Kill an evaluator from a cancelled coroutine (nothing may be awaited there)."""
        with contextlib.suppress(ProcessLookupError, OSError):
            signal.pidfd_send_signal(evaluator.pidfd, signal.SIGKILL)
        self._pool.forget(evaluator)

        def finish() -> None:
            wire.wait_readable(evaluator.pidfd, wire.KILL_WAIT_SECONDS)
            evaluator.close()
            self._replace()

        _in_background(finish)

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's evaluators are not ours. Close our copies of them."""
        inherited = self._pool
        self._pool = Pool(self.workers)
        for evaluator in inherited.all.values():
            evaluator.close()  # only this process's descriptors; the parent's stay open
        if inherited.control is not None:
            inherited.control.close()


class _DeadBeforeRequest(Exception):
    """The evaluator taken had died while idle: the request was not sent (see ``_run``)."""


class ZygoteProcess:
    """The zygote's process, known by a pidfd: its pid alone could be reaped by someone else
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
                if not wire.wait_readable(pidfd, ZYGOTE_STOP_SECONDS):
                    wire.kill(pidfd)
            with contextlib.suppress(ChildProcessError):
                os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
            self.process.returncode = -1  # reaped here or by someone else: never by its pid
        finally:
            os.close(pidfd)


#: glibc's per-thread cache of freed blocks, per size (default 7), for the zygote and so for
#: every evaluator. pyoxigraph sets up each query with a few dozen small blocks of the same
#: sizes and frees them at the end; with room for only 7 of a size, the rest go back to the
#: shared heap and the next query takes the slow path for them, which in an evaluator woken with
#: cold caches was a fifth of its CPU. Measured: an evaluator's CPU for the benchmark's lookup
#: 207–220 µs with the default, 134–145 µs with this (``glibc.malloc.tcache_count``; glibc only,
#: other C libraries ignore it).
EVALUATOR_TCACHE_COUNT = 256


def zygote_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` with :data:`EVALUATOR_TCACHE_COUNT` added to ``GLIBC_TUNABLES`` (an
    operator's own tunables are kept, and win).

    >>> zygote_environment({})["GLIBC_TUNABLES"]
    'glibc.malloc.tcache_count=256'
    >>> zygote_environment({"GLIBC_TUNABLES": "glibc.malloc.tcache_count=7"})["GLIBC_TUNABLES"]
    'glibc.malloc.tcache_count=256:glibc.malloc.tcache_count=7'
    """
    ours = f"glibc.malloc.tcache_count={EVALUATOR_TCACHE_COUNT}"
    theirs = environ.get("GLIBC_TUNABLES")
    return {**environ, "GLIBC_TUNABLES": f"{ours}:{theirs}" if theirs else ours}


def _in_background(work: Callable[[], None]) -> None:
    """Pool upkeep after a kill (wait for the exit, start a successor) in a thread of its own:
    it blocks on the zygote, and must finish even if the caller's event loop stops first."""
    threading.Thread(target=work, name="iomkg-evaluator-upkeep", daemon=True).start()


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


async def _readable(fd: int, timeout: float) -> None:
    """Wait until ``fd`` is readable (a pidfd: the process has exited); ``TimeoutError`` after
    ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[None] = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_reader(fd, wake)
    try:
        async with asyncio.timeout(timeout):
            await ready
    finally:
        loop.remove_reader(fd)


class _BodyBase:
    """The chunks of one answer, read from the evaluator as the caller asks for them.

    Chunks already received with the head are kept at once; when the end mark came too (small
    answers arrive in one read) the evaluator goes back to the pool at once. An answer left
    before its end costs its evaluator its life: it cannot resync.
    """

    def __init__(self, executor: IsolatedExecutor, evaluator: Evaluator) -> None:
        self._executor: IsolatedExecutor | None = executor
        self._evaluator = evaluator
        self._ready: deque[bytes] = deque()
        while (found := evaluator.channel.complete_frame()) is not None and self._take(*found):
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
            executor._pool.release(self._evaluator)
        else:
            self._abandon(executor, self._evaluator)

    def _abandon(self, executor: IsolatedExecutor, evaluator: Evaluator) -> None:
        raise NotImplementedError


class _Body(_BodyBase):
    """For a thread: reads block (at most :data:`STALL_SECONDS` per chunk)."""

    def __iter__(self) -> _Body:
        return self

    def __next__(self) -> bytes:
        if not self._ready and self._executor is not None:
            try:
                found = self._evaluator.channel.read_frame(time.monotonic() + STALL_SECONDS)
            except (TimeoutError, EOFError, OSError) as error:
                self._finish(False)
                raise StoreError("the query evaluator stopped sending its answer") from error
            self._take(*found)
        if self._ready:
            return self._ready.popleft()
        raise StopIteration

    def _abandon(self, executor: IsolatedExecutor, evaluator: Evaluator) -> None:
        executor._kill(evaluator, replace=False)

    def close(self) -> None:
        """Stop reading: the evaluator of an unfinished answer is killed."""
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
                    loop, self._evaluator.channel, time.monotonic() + STALL_SECONDS
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

    def _abandon(self, executor: IsolatedExecutor, evaluator: Evaluator) -> None:
        executor._kill_soon(evaluator)

    async def aclose(self) -> None:
        """Stop reading: the evaluator of an unfinished answer is killed."""
        self._ready.clear()
        self._finish(False)

    def __del__(self) -> None:
        # Dropped unfinished without aclose(): no loop to wait on here, so kill and let go.
        executor, self._executor = self._executor, None
        if executor is not None:
            with contextlib.suppress(Exception):
                signal.pidfd_send_signal(self._evaluator.pidfd, signal.SIGKILL)
                executor._pool.forget(self._evaluator)
                self._evaluator.close()
                executor._pool.free_place()
