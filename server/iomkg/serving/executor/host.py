"""The processes that answer queries: the master, its evaluator (a host of threads), writers.

The **master** is a fresh interpreter (:data:`MASTER_COMMAND`) started by
:class:`~iomkg.serving.executor.client.IsolatedExecutor`. It owns the listening socket that callers
connect to, never opens the store itself (a process that forks must not hold RocksDB's
threads), and forks:

* the **evaluator**, which reads the current store version: a copy in memory that the master holds,
  when the version has at most ``--memory-quads`` quads (in-memory pyoxigraph is 5-8x faster than
  RocksDB on heavy queries, at about 350 bytes a quad), else the store on disk, opened read-only. A
  new version is served from disk at once while the master reads its copy in the background; once
  the copy is whole, an evaluator forked from it takes over (as after an update), so the server
  answers as soon as it starts, whatever the size. It answers each connection in a thread of its
  own: pyoxigraph releases the GIL while it evaluates, so queries run in parallel (on disk they
  share one RocksDB block cache, as in Oxigraph's own server). When it dies, the master forks the
  next at once; connections waiting to be accepted are accepted by it.
* a **writer** per update, which makes the store's next version (:mod:`iomkg.store.versions`)
  under the time limit; then a new evaluator on the new version takes over and the old one
  finishes what it is doing and exits.

A query that must stop, because it outlived its time limit or its caller left, cannot be
stopped inside pyoxigraph: the evaluator's watchdog thread kills the whole process (SIGKILL),
which frees the CPU at once. Callers whose queries shared it see their connection close before
their own deadline and send their query again to the next evaluator (the time they waited
still counts). ``iomkg.serving.executor`` (the package docstring) tells the whole story.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import mmap
import os
import select
import selectors
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pyoxigraph as ox

from iomkg.serving import service
from iomkg.serving.executor import wire, writers
from iomkg.serving.service import UpdateRequest
from iomkg.store.base import GraphStore, StoreError
from iomkg.store.oxigraph import OxigraphStore
from iomkg.store.versions import StoreVersions

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
MASTER_COMMAND = (
    "import sys; from iomkg.serving.executor.host import main; sys.exit(main(sys.argv[1:]))"
)
#: How often the watchdog looks at the running queries when none is near its deadline.
WATCH_SECONDS = 0.05
#: How long an old evaluator may take to finish its queries once a new version is served.
DRAIN_SECONDS = 60.0
#: An evaluator that dies younger than this is restarted after this pause, not at once.
RESTART_PAUSE_SECONDS = 1.0


@dataclass(frozen=True)
class MasterConfig:
    """What the master is told (as JSON on its command line)."""

    store: str  # the base folder of the on-disk store (its versions beside it)
    queries: str  # the listening socket's path
    control: str  # the control socket's path (updates, pings)
    generation: str  # the file holding the generation counter (mapped by every caller)
    updatable: bool
    memory_quads: int = 0  # serve a version of at most this many quads from memory

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> MasterConfig:
        return cls(**json.loads(text))


# The evaluator ----------------------------------------------------------------------------------


class Counts:
    """The dataset's figures for health checks and statistics, counted once per evaluator (it
    serves one version, which never changes): a full count is a scan."""

    def __init__(self, store: GraphStore, source: str) -> None:
        self.store = store
        self.source_kind = source
        self.lock = threading.Lock()
        self.counts: dict[str | None, int] | None = None

    def source(self) -> str:
        """Where this evaluator reads: ``memory`` (the master's copy) or ``disk``."""
        return self.source_kind

    def named_graphs(self) -> list[str]:
        return self.store.named_graphs()

    def pid(self) -> int:
        return os.getpid()

    def quad_count(self, graph: str | None = None) -> int:
        with self.lock:
            if self.counts is None:
                self.counts = {None: self.store.quad_count()}
            if graph not in self.counts:
                self.counts[graph] = self.store.quad_count(graph)
            return self.counts[graph]


class Watchdog:
    """Kills the evaluator when a running query passes its deadline, or when every running
    query has been abandoned by its caller (its connection closed: readable, as a caller sends
    nothing while it waits).

    Why not at the first caller that leaves: killing is the only way to stop pyoxigraph, and it
    stops every query of the evaluator. A client that goes away (a browser navigating on, a
    benchmark ending) would otherwise cost every other client its running query (sent again,
    three times at most, then refused). So an abandoned query beside others runs on until it
    ends or reaches its own deadline, and its CPU is freed at once only when that stops nobody
    else's query.
    """

    def __init__(self) -> None:
        self.condition = threading.Condition()
        self.running: dict[socket.socket, float] = {}  # connection -> deadline (monotonic)
        self.abandoned: set[socket.socket] = set()

    def start(self, connection: socket.socket, limit: float) -> None:
        with self.condition:
            self.running[connection] = time.monotonic() + limit
            self.condition.notify()

    def stop(self, connection: socket.socket) -> None:
        with self.condition:
            self.running.pop(connection, None)
            self.abandoned.discard(connection)

    def busy(self) -> int:
        with self.condition:
            return len(self.running)

    def run(self) -> NoReturn:
        while True:
            with self.condition:
                while not self.running:
                    self.condition.wait()
                now = time.monotonic()
                if min(self.running.values()) <= now or self.running.keys() <= self.abandoned:
                    _die()
                watched = [c for c in self.running if c not in self.abandoned]
                wait = min(min(self.running.values()) - now, WATCH_SECONDS)
            with contextlib.suppress(OSError, ValueError):  # a connection closed meanwhile
                left, _, _ = select.select(watched, [], [], 0)
                with self.condition:
                    self.abandoned.update(c for c in left if c in self.running)
                    if self.running and self.running.keys() <= self.abandoned:
                        _die()
            with self.condition:
                self.condition.wait(wait)


def _die() -> NoReturn:
    """Stop every query this process runs, now: the CPU is free when the callers hear of it."""
    os.kill(os.getpid(), signal.SIGKILL)
    raise SystemExit(1)  # not reached


class Evaluator:
    """One evaluator process's work: a thread per connection, one query at a time on each."""

    def __init__(self, store: GraphStore, generation: int, *, source: str = "disk") -> None:
        self.store = store
        self.counts = Counts(store, source)
        self.generation = generation
        self.watchdog = Watchdog()
        self.draining = threading.Event()
        self.lock = threading.Lock()
        self.idle: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()

    def serve(self, listener: socket.socket) -> None:
        """Accept connections until told to drain (SIGTERM), then let the busy ones finish."""
        threading.Thread(target=self.watchdog.run, name="iomkg-watchdog", daemon=True).start()
        listener.settimeout(0.2)
        while not self.draining.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            connection.settimeout(None)
            thread = threading.Thread(target=self._connection, args=(connection,), daemon=True)
            with self.lock:
                self.threads.add(thread)
            thread.start()
        listener.close()
        self._close_idle()
        deadline = time.monotonic() + DRAIN_SECONDS
        for thread in list(self.threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def drain(self) -> None:
        self.draining.set()

    def _close_idle(self) -> None:
        with self.lock:
            for connection in self.idle:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)

    def _connection(self, connection: socket.socket) -> None:
        channel = wire.Channel(connection)
        try:
            channel.send(wire.frame(wire.HELLO, wire.HELLO_BODY.pack(os.getpid(), self.generation)))
            while not self.draining.is_set():
                with self.lock:
                    self.idle.add(connection)
                try:
                    frame_type, payload = channel.read_frame()
                except EOFError:
                    break
                finally:
                    with self.lock:
                        self.idle.discard(connection)
                if frame_type == wire.REQUEST:
                    self._query(channel, payload)
                elif frame_type == wire.CALL:
                    self._call(channel, payload)
                else:
                    break
        except OSError:
            pass  # the caller left: nothing to tell anyone
        finally:
            connection.close()
            with self.lock:
                self.threads.discard(threading.current_thread())

    def _query(self, channel: wire.Channel, payload: bytes) -> None:
        request, limit, max_rows = wire.decode_query(payload)
        self.watchdog.start(channel.sock, limit)
        try:
            answer = writers.answer(self.store, request, max_rows)
        except Exception as error:
            channel.send(wire.frame(wire.ERROR, wire.exception_payload(error)))
            return
        finally:
            self.watchdog.stop(channel.sock)
        head = wire.HEAD.pack(wire.KINDS.index(answer.kind), answer.truncated, max_rows)
        out = bytearray(wire.frame(wire.HEAD_FRAME, head))
        for chunk in answer.body.chunks():
            out += wire.FRAME.pack(wire.CHUNK, len(chunk))
            out += chunk
            if len(out) >= wire.CHUNK_BYTES:
                channel.send(out)
                out = bytearray()
        out += wire.frame(wire.END)
        channel.send(out)

    def _call(self, channel: wire.Channel, payload: bytes) -> None:
        """One of the small read methods (graphs, counts) for ``ExecutorStore``."""
        name, args, limit = wire.loads(payload)
        self.watchdog.start(channel.sock, limit)
        try:
            if name not in ("named_graphs", "quad_count", "pid", "source"):
                raise ValueError(f"no such store method: {name}")
            method: Callable[..., object] = getattr(self.counts, name)
            frame = wire.frame(wire.RESULT, wire.dumps(method(*args)))
        except Exception as error:
            frame = wire.frame(wire.ERROR, wire.exception_payload(error))
        finally:
            self.watchdog.stop(channel.sock)
        channel.send(frame)


def run_evaluator(
    listener: socket.socket, config: MasterConfig, generation: int, memory: ox.Store | None
) -> NoReturn:
    """The evaluator process (forked by the master); never returns. It reads ``memory``, the
    master's copy of the current version, when there is one, else the version on disk."""
    code = 0
    try:
        _die_with_parent()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when to stop
        evaluator: Evaluator | None = None

        def drain(signum: int, frame: object) -> None:
            if evaluator is not None:
                evaluator.drain()

        signal.signal(signal.SIGTERM, drain)
        store = (
            OxigraphStore(memory, read_only=True)
            if memory is not None
            else OxigraphStore.open(StoreVersions(Path(config.store)).current(), read_only=True)
        )
        evaluator = Evaluator(store, generation, source="disk" if memory is None else "memory")
        evaluator.serve(listener)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


# Writers ------------------------------------------------------------------------------------------


def _die_with_parent() -> None:
    """Be killed when the master dies (Linux's ``PR_SET_PDEATHSIG``): an evaluator must not go on
    answering from a master that a new one replaced; a writer killed with its master commits
    nothing (the new version only counts once it is made current)."""
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getppid()
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _write(config: MasterConfig, request: UpdateRequest) -> None:
    versions = StoreVersions(Path(config.store))
    versions.change(lambda store: service.apply_update(store, request))


@dataclass
class Copy:
    """A version being read into memory by a child: the version, the child, its pipe."""

    path: Path
    pid: int
    pipe: int  # the read end, non-blocking
    chunks: list[bytes]


def _in_child(work: Callable[[], bytes]) -> tuple[int, int]:
    """Fork a child that writes ``work()`` (or ``E`` and the error) to a pipe and exits: the
    master must not hold RocksDB's threads, so the store is only opened in children. Returns
    the child's pid and the pipe's read end."""
    reading, writing = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(reading)
            with os.fdopen(writing, "wb") as pipe:
                try:
                    pipe.write(work())
                except BaseException as error:
                    pipe.write(b"E" + str(error).encode())
        finally:
            os._exit(0)
    os.close(writing)
    return pid, reading


def _check_opens(path: Path) -> None:
    """Raise :class:`StoreError` with the reason if version ``path`` does not open read-only."""

    def open_it() -> bytes:
        OxigraphStore.open(path, read_only=True)
        return b""

    pid, reading = _in_child(open_it)
    with os.fdopen(reading, "rb") as pipe:
        said = pipe.read()
    os.waitpid(pid, 0)
    if said:
        raise StoreError(said[1:].decode(errors="replace") or f"cannot open {path}")


@dataclass
class Writer:
    """An update being applied by a writer child: who asked, the child, its result pipe."""

    client: wire.Channel
    pid: int
    pidfd: int
    result: int  # the read end of the pipe the child writes its outcome to
    deadline: float
    chunks: list[bytes]


def start_writer(config: MasterConfig, request: UpdateRequest) -> tuple[int, int]:
    """Fork a writer that applies ``request`` (a new store version): ``(pid, result fd)``; it
    writes nothing to the pipe if it succeeded, else the exception."""
    result_read, result_write = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            _die_with_parent()
            os.close(result_read)
            try:
                _write(config, request)
                outcome = b""
            except Exception as error:
                outcome = wire.exception_payload(error)
            wire.write_all(result_write, outcome)
        finally:
            os._exit(0)
    os.close(result_write)
    return pid, result_read


# The master ---------------------------------------------------------------------------------------


class Master:
    """Owns the sockets, keeps an evaluator running, applies updates. Single-threaded."""

    def __init__(self, config: MasterConfig) -> None:
        self.config = config
        self.parent = os.getppid()
        fd = os.open(config.generation, os.O_RDWR)
        try:
            self.generation_map = mmap.mmap(fd, wire.GENERATION.size)
        finally:
            os.close(fd)
        # One past the last master's (if this one replaces a dead one): callers retire the
        # connections to its evaluators.
        self.generation = wire.GENERATION.unpack_from(self.generation_map)[0]
        self.selector = selectors.DefaultSelector()
        self.listener = _listen(config.queries)
        self.control = _listen(config.control)
        self.clients: dict[int, wire.Channel] = {}
        self.evaluator: tuple[int, int] | None = None  # (pid, pidfd) of the current one
        self.old: dict[int, int] = {}  # pidfd -> pid of evaluators still finishing
        self.started = 0.0  # when the current evaluator was forked
        self.writer: Writer | None = None  # the update being applied
        self.queued: deque[tuple[wire.Channel, UpdateRequest, float]] = deque()  # waiting ones
        self.memory: ox.Store | None = None  # a copy in memory of ``memory_version``
        self.memory_version: Path | None = None
        self.copy: Copy | None = None  # a copy being read, in a child
        self.copied: Path | None = None  # the last version a copy was begun for
        _check_opens(self._current_version())  # fail at start, with the reason, not in a loop
        self._start_evaluator()

    def _current_version(self) -> Path:
        return StoreVersions(Path(self.config.store)).current()

    def _begin_copy(self, path: Path) -> None:
        """Read version ``path`` into memory in the background, if it has at most
        ``memory_quads`` quads; the evaluator serves it from disk meanwhile.

        The store is opened in a child, which sends its quads as N-Quads: the master must not
        hold RocksDB's threads when it forks. The copy is made once per version and never
        written, so the evaluators forked from the master share its pages (copy-on-write), and
        one that its watchdog killed is replaced at once, without reading the store again.
        """
        self.copied = path
        if self.config.memory_quads == 0:
            return
        if self.copy is not None:  # of an older version: an update came first
            self._end_copy(kill=True)
        pid, reading = _in_child(lambda: _small_store_nquads(path, self.config.memory_quads))
        os.set_blocking(reading, False)
        self.copy = Copy(path, pid, reading, [])
        self.selector.register(reading, selectors.EVENT_READ, "copy")

    def _copy_said(self) -> None:
        """More of the copy: when it is whole, serve it (from a new evaluator) if it is still
        of the current version and small enough to be one."""
        copy = self.copy
        assert copy is not None
        try:
            data = os.read(copy.pipe, 1 << 20)
        except BlockingIOError:
            return
        if data:
            copy.chunks.append(data)
            return
        self._end_copy()
        answer = b"".join(copy.chunks)
        if answer[:1] != b"M" or copy.path != self._current_version():
            return  # too large (served from disk), unreadable (the evaluator says why), or old
        memory = ox.Store()
        memory.load(answer[1:], format=ox.RdfFormat.N_QUADS)
        self.memory, self.memory_version = memory, copy.path
        self._switch()

    def _end_copy(self, *, kill: bool = False) -> None:
        copy, self.copy = self.copy, None
        assert copy is not None
        self.selector.unregister(copy.pipe)
        os.close(copy.pipe)
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(copy.pid, signal.SIGKILL)
        os.waitpid(copy.pid, 0)

    def _start_evaluator(self) -> None:
        """Fork an evaluator for a new generation: callers leave their connections to the
        previous one (dead, or serving an older version) as they next take them. It serves the
        copy in memory if there is one of the current version, else the version on disk (and a
        copy of it is begun)."""
        try:
            current: Path | None = self._current_version()
        except StoreError:  # the evaluator dies saying why
            current = None
        if current is None or current != self.memory_version:
            self.memory, self.memory_version = None, None
        self.generation += 1
        pid = os.fork()
        if pid == 0:
            self.selector.close()
            self.control.close()
            for client in self.clients.values():
                client.close()
            for pidfd in self.old:
                os.close(pidfd)
            if self.evaluator is not None:
                os.close(self.evaluator[1])
            if self.copy is not None:
                os.close(self.copy.pipe)
            self.generation_map.close()
            run_evaluator(self.listener, self.config, self.generation, self.memory)
        pidfd = os.pidfd_open(pid)
        self.evaluator = (pid, pidfd)
        self.started = time.monotonic()
        self.selector.register(pidfd, selectors.EVENT_READ, "evaluator")
        wire.GENERATION.pack_into(self.generation_map, 0, self.generation)
        if current is not None and current != self.copied:
            self._begin_copy(current)

    # The loop -------------------------------------------------------------------------------------
    def run(self) -> None:
        self.selector.register(self.control, selectors.EVENT_READ, "control")
        while True:
            timeout = 1.0
            if self.writer is not None:
                timeout = max(0.0, min(timeout, self.writer.deadline - time.monotonic()))
            for key, _ in self.selector.select(timeout=timeout):
                if key.data == "control":
                    connection, _ = self.control.accept()
                    connection.setblocking(True)
                    self.clients[connection.fileno()] = wire.Channel(connection)
                    self.selector.register(connection, selectors.EVENT_READ, "client")
                elif key.data == "client":
                    client = self.clients.get(key.fd)
                    if client is not None:
                        self._serve_client(client)
                elif key.data == "writer":
                    self._writer_said()
                elif key.data == "copy":
                    self._copy_said()
                else:  # an evaluator's pidfd: it has exited
                    self._evaluator_exited(key.fd)
            if self.writer is not None and time.monotonic() >= self.writer.deadline:
                self._writer_done(wire.frame(wire.TIMEOUT), killed=True)
            if os.getppid() != self.parent:  # the owner died
                return

    def _evaluator_exited(self, pidfd: int) -> None:
        self.selector.unregister(pidfd)
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
        os.close(pidfd)
        if self.old.pop(pidfd, None) is not None:
            return
        # The current one died (killed by its watchdog, the OOM killer…): the next one, at
        # once (waiting connections are accepted by it), unless it died young: then in a
        # second, so that a store that cannot be opened does not make a busy loop.
        started = self.started
        self.evaluator = None
        if time.monotonic() - started < RESTART_PAUSE_SECONDS:
            time.sleep(RESTART_PAUSE_SECONDS)
        self._start_evaluator()

    def _serve_client(self, channel: wire.Channel) -> None:
        try:
            frame_type, payload = channel.read_frame()
        except (EOFError, OSError):
            self._drop_client(channel)
            return
        try:
            if frame_type == wire.UPDATE:
                request, limit = wire.loads(payload)
                with contextlib.suppress(KeyError, ValueError):
                    self.selector.unregister(channel.sock)  # nothing more from it until then
                self.queued.append((channel, request, time.monotonic() + limit))
                self._next_update()
            elif frame_type == wire.PING:
                channel.send(wire.frame(wire.OK, wire.GENERATION.pack(self.generation)))
            else:
                self._drop_client(channel)
        except OSError:
            self._drop_client(channel)

    def _drop_client(self, channel: wire.Channel) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(channel.sock)
        self.clients.pop(channel.sock.fileno(), None)
        channel.close()

    # Updates --------------------------------------------------------------------------------------
    def _next_update(self) -> None:
        """Start a writer for the next queued update, if none is at work (one at a time; the
        wait counts towards an update's limit). Its caller is answered when it is done."""
        while self.writer is None and self.queued:
            channel, request, deadline = self.queued.popleft()
            if not self.config.updatable:
                error = StoreError("this server's store is read-only: updates are not possible")
                self._answer(channel, wire.frame(wire.ERROR, wire.exception_payload(error)))
            elif time.monotonic() >= deadline:
                self._answer(channel, wire.frame(wire.TIMEOUT))
            else:
                pid, result = start_writer(self.config, request)
                self.writer = Writer(channel, pid, os.pidfd_open(pid), result, deadline, [])
                self.selector.register(result, selectors.EVENT_READ, "writer")

    def _answer(self, channel: wire.Channel, answer: bytes) -> None:
        """Answer a control connection and listen to it again."""
        try:
            channel.send(answer)
            self.selector.register(channel.sock, selectors.EVENT_READ, "client")
        except OSError:
            self._drop_client(channel)

    def _writer_said(self) -> None:
        assert self.writer is not None
        data = os.read(self.writer.result, 65536)
        if data:
            self.writer.chunks.append(data)
            return
        outcome = b"".join(self.writer.chunks)
        self._writer_done(wire.frame(wire.ERROR, outcome) if outcome else b"")

    def _writer_done(self, answer: bytes, *, killed: bool = False) -> None:
        """The writer finished (or was stopped at the deadline): answer its caller; on success,
        serve the new version first."""
        writer, self.writer = self.writer, None
        assert writer is not None
        if killed:
            wire.kill(writer.pidfd)
        else:
            wire.wait_readable(writer.pidfd, wire.KILL_WAIT_SECONDS)
        with contextlib.suppress(ChildProcessError):
            os.waitid(os.P_PIDFD, writer.pidfd, os.WEXITED | os.WNOHANG)
        self.selector.unregister(writer.result)
        os.close(writer.result)
        os.close(writer.pidfd)
        if not answer:
            self._switch()
            answer = wire.frame(wire.OK)
        self._answer(writer.client, answer)
        self._next_update()

    def _switch(self) -> None:
        """Serve the new version: a new evaluator, the old one finishing its queries; callers
        see the new generation and leave their connections to the old one."""
        if self.evaluator is not None:
            pid, pidfd = self.evaluator
            self.old[pidfd] = pid
            self.evaluator = None
            self._start_evaluator()
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        else:
            self._start_evaluator()

    def shutdown(self) -> None:
        pidfds = list(self.old) + ([self.evaluator[1]] if self.evaluator else [])
        if self.writer is not None:
            pidfds.append(self.writer.pidfd)
        for pidfd in pidfds:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)


def _small_store_nquads(path: Path, limit: int) -> bytes:
    """``M`` and the store's quads as N-Quads if it has at most ``limit`` of them, else ``D``
    (serve it from disk); raises if the store cannot be opened."""
    if limit == 0:
        return b"D"
    store = OxigraphStore.open(path, read_only=True).raw
    # Counted one quad at a time: a list would hold a Python object per quad at the peak.
    counted = sum(
        1 for _ in itertools.islice(store.quads_for_pattern(None, None, None, None), limit + 1)
    )
    if counted > limit:
        return b"D"
    return b"M" + (store.dump(format=ox.RdfFormat.N_QUADS) or b"")


def _listen(path: str) -> socket.socket:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)  # a dead master's
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(256)
    return sock


def master_main(config_json: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when to stop
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ready = os.fdopen(1, "wb", buffering=0, closefd=False)
    try:
        master = Master(MasterConfig.from_json(config_json))
    except Exception as error:
        ready.write(f"error {type(error).__name__}: {error}\n".encode())
        return 1
    try:
        ready.write(b"ready\n")
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the owner stopped reading: nothing may write to the pipe again
        os.close(devnull)
        master.run()
    finally:
        master.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -c MASTER_COMMAND CONFIG``: the master (started by ``IsolatedExecutor``)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print(
            "usage: iomkg.serving.executor.host CONFIG-JSON (started by IsolatedExecutor)",
            file=sys.stderr,
        )
        return 2
    return master_main(arguments[0])
