"""The processes that hold the dataset: the zygote (master copy, forks, updates) and evaluators.

The zygote is a fresh interpreter (:data:`ZYGOTE_COMMAND`) started by the executor. It loads the
dataset into an in-memory pyoxigraph store, counts its quads once, and then serves its control
socket: it forks evaluators on request (handing the caller a socket and a pidfd), applies
updates as the single writer, and answers pings. An evaluator answers requests on its socket one
at a time, until the socket closes. ``iomkg.executor`` (the package docstring) tells the whole
story: time limits, row caps, copy-on-write memory, updates.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import mmap
import os
import selectors
import shutil
import signal
import socket
import struct
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NoReturn

import pyoxigraph as ox

from iomkg import service, sparqltext
from iomkg.executor import wire, writers
from iomkg.service import UpdateRequest
from iomkg.store.base import StoreError
from iomkg.store.oxigraph import OxigraphStore

PEER_CREDENTIALS = struct.Struct("3i")  # struct ucred: pid, uid, gid
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
BACKSTOP_SECONDS = 5.0  # an evaluator stops itself this long after its limit, if nobody killed it
ZYGOTE_COMMAND = "import sys; from iomkg.executor.zygote import main; sys.exit(main(sys.argv[1:]))"

SourceKind = Literal["store", "file", "memory"]


# The evaluator process ---------------------------------------------------------------------


@dataclass(frozen=True)
class Dataset:
    """The master copy and its quad counts (counted once per change, not per health check)."""

    store: OxigraphStore
    counts: dict[str | None, int]  # None: every quad; an IRI: the triples of that graph

    @classmethod
    def of(cls, store: OxigraphStore) -> Dataset:
        raw = store.raw
        counts: dict[str | None, int] = {None: len(raw)}
        solutions = raw.query(_COUNT_PER_GRAPH)
        assert isinstance(solutions, ox.QuerySolutions)
        for solution in solutions:
            graph, count = solution["g"], solution["n"]
            if isinstance(graph, ox.NamedNode) and isinstance(count, ox.Literal):
                counts[graph.value] = int(count.value)
        return cls(store, counts)

    def named_graphs(self) -> list[str]:
        return self.store.named_graphs()

    def quad_count(self, graph: str | None = None) -> int:
        return self.counts.get(graph, 0)


_COUNT_PER_GRAPH = "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"
_CALLS: dict[str, Callable[..., object]] = {
    "named_graphs": Dataset.named_graphs,
    "quad_count": Dataset.quad_count,
}


def _call(dataset: Dataset, payload: bytes) -> bytes:
    """Run one of the small read methods (graphs, counts) for :class:`ExecutorStore`."""
    name, args, limit = wire.loads(payload)
    signal.setitimer(signal.ITIMER_REAL, limit + BACKSTOP_SECONDS)
    try:
        return wire.frame(wire.RESULT, wire.dumps(_CALLS[name](dataset, *args)))
    except Exception as error:
        return wire.frame(wire.ERROR, wire.exception_payload(error))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def serve_evaluator(sock: socket.socket, dataset: Dataset) -> NoReturn:
    """Answer requests on ``sock`` until it is closed; never returns (``os._exit``)."""
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the backstop terminates the process
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the owner decides when to stop
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        channel = wire.Channel(sock)
        while True:
            try:
                frame_type, payload = channel.read_frame()
            except EOFError:
                break
            if frame_type == wire.CALL:
                channel.send(_call(dataset, payload))
                continue
            if frame_type != wire.REQUEST:
                break
            request, limit, max_rows = wire.decode_query(payload)
            signal.setitimer(signal.ITIMER_REAL, limit + BACKSTOP_SECONDS)
            try:
                head, spool = writers.answer(dataset.store, request, max_rows)
            except Exception as error:
                channel.send(wire.frame(wire.ERROR, wire.exception_payload(error)))
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            out = bytearray(head)
            for chunk in spool.chunks():
                out += wire.FRAME.pack(wire.CHUNK, len(chunk))
                out += chunk
                if len(out) >= wire.CHUNK_BYTES:
                    channel.send(out)
                    out = bytearray()
            out += wire.frame(wire.END)
            channel.send(out)
    except BaseException:  # noqa: S110 (a broken pipe or a signal: the caller sees the socket close)
        pass
    finally:
        os._exit(0)


# The zygote process ------------------------------------------------------------------------


@dataclass(frozen=True)
class ZygoteConfig:
    source: str
    kind: SourceKind
    base_iri: str
    control: str
    generation: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> ZygoteConfig:
        return cls(**json.loads(text))


_DATA_ONLY_WORDS = frozenset(
    {"PREFIX", "BASE", "INSERT", "DELETE", "DATA", "GRAPH", "A", "TRUE", "FALSE"}
)


def is_data_only(update: UpdateRequest) -> bool:
    """True for an update made only of ``INSERT DATA`` / ``DELETE DATA`` with no blank node.

    Such an update gives the same result on two equal datasets, so it can be applied to the
    master copy too; anything else is re-read from the store.

    >>> is_data_only(UpdateRequest("PREFIX ex: <http://ex/> INSERT DATA { ex:a ex:b 'WHERE' }"))
    True
    >>> is_data_only(UpdateRequest("INSERT { <a> <b> ?n } WHERE { BIND(NOW() AS ?n) }"))
    False
    >>> is_data_only(UpdateRequest("INSERT DATA { <http://a> <http://b> [] }"))
    False
    """
    if update.using_graphs or update.using_named_graphs:
        return False
    tokens = sparqltext.code_tokens(update.sparql)
    for index, token in enumerate(tokens):
        if token.kind in ("var", "bnode") or (token.kind == "punct" and token.text in "[("):
            return False
        if token.kind == "word":
            word = token.text.upper()
            if word not in _DATA_ONLY_WORDS:
                return False
            if word in ("INSERT", "DELETE") and not (
                index + 1 < len(tokens) and tokens[index + 1].is_word("DATA")
            ):
                return False
    return True


@dataclass(frozen=True)
class _Caller:
    """A process the zygote started evaluators for: its pidfd, and theirs."""

    pidfd: int
    evaluators: set[int]


def _die_with_parent(parent: int) -> None:
    """Be killed when ``parent`` dies (Linux's ``PR_SET_PDEATHSIG``).

    For the writer child: a zygote killed mid-update must not leave its writer to commit on its
    own, past the time limit and unseen, while the zygote that replaces it serves the store as
    it was; killed with its parent, it commits nothing (RocksDB transactions are atomic).
    """
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
    if os.getppid() != parent:  # it died before the line above
        os._exit(1)


def _peer_pid(connection: socket.socket) -> int:
    """The pid of the process at the other end of a Unix socket (0 if the kernel won't say)."""
    credentials = connection.getsockopt(
        socket.SOL_SOCKET, socket.SO_PEERCRED, PEER_CREDENTIALS.size
    )
    pid: int = PEER_CREDENTIALS.unpack(credentials)[0]
    return pid


class Zygote:
    """Holds the master copy, forks evaluators, applies updates. Single-threaded."""

    def __init__(self, config: ZygoteConfig) -> None:
        self.config = config
        self.parent = os.getppid()
        self.own_pid = os.getpid()
        self.generation = 0
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.clients: dict[int, wire.Channel] = {}
        self.client_pids: dict[int, int] = {}  # a client connection's fd -> its process's pid
        self.evaluators: dict[int, int] = {}  # pidfd -> pid
        self.callers: dict[int, _Caller] = {}  # a process that asked for evaluators, by pid
        self.caller_of: dict[int, int] = {}  # an evaluator's pidfd -> the pid it works for
        fd = os.open(config.generation, os.O_RDWR)
        try:
            self.generation_map = mmap.mmap(fd, wire.GENERATION.size)
        finally:
            os.close(fd)
        self.store = OxigraphStore(self._load())
        self.dataset = Dataset.of(self.store)
        self.listener.bind(config.control)
        self.listener.listen(128)
        # One past the last zygote's (if this one replaces a dead one): callers retire its
        # evaluators.
        self.generation = wire.GENERATION.unpack_from(self.generation_map)[0] + 1
        wire.GENERATION.pack_into(self.generation_map, 0, self.generation)

    # Loading ---------------------------------------------------------------------------------
    def _load(self) -> ox.Store:
        path = Path(self.config.source)
        store = ox.Store()
        if self.config.kind == "store":
            self._load_from_disk(store, path)
        else:
            store.bulk_load(path=str(path), format=rdf_format(path), base_iri=self.config.base_iri)
        return store

    def _load_from_disk(self, store: ox.Store, path: Path) -> None:
        """Stream the on-disk store into ``store`` through a loader child (no RocksDB in here)."""
        data_read, data_write = os.pipe()
        status_read, status_write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the loader
            status = b"failed"
            try:
                os.close(data_read)
                os.close(status_read)
                disk = ox.Store.read_only(str(path))
                with os.fdopen(data_write, "wb", buffering=1 << 20) as out:
                    disk.dump(out, format=ox.RdfFormat.N_QUADS)
                status = b"ok"
            except BaseException as error:
                status = f"{type(error).__name__}: {error}".encode()
            finally:
                with contextlib.suppress(OSError):
                    wire.write_all(status_write, status)
                os._exit(0)
        os.close(data_write)
        os.close(status_write)
        try:
            with os.fdopen(data_read, "rb", buffering=1 << 20) as data:
                store.bulk_load(data, format=ox.RdfFormat.N_QUADS)
        finally:
            with os.fdopen(status_read, "rb") as status_file:
                status = status_file.read()
        if status != b"ok":
            raise StoreError(f"cannot read the store at {path}: {status.decode(errors='replace')}")

    # The loop --------------------------------------------------------------------------------
    def run(self) -> None:
        self.selector.register(self.listener, selectors.EVENT_READ, "listener")
        while True:
            for key, _ in self.selector.select(timeout=1.0):
                if key.data == "listener":
                    connection, _ = self.listener.accept()
                    connection.setblocking(True)
                    self.clients[connection.fileno()] = wire.Channel(connection)
                    self.client_pids[connection.fileno()] = _peer_pid(connection)
                    self.selector.register(connection, selectors.EVENT_READ, "client")
                elif key.data == "client":
                    client = self.clients.get(key.fd)
                    if client is not None:
                        self._serve_client(client)
                elif key.data == "caller":  # a caller's pidfd: it has exited
                    self._caller_gone(key.fd)
                else:  # an evaluator's pidfd: it has exited
                    self.selector.unregister(key.fd)
                    self.evaluators.pop(key.fd, None)
                    caller = self.callers.get(self.caller_of.pop(key.fd, 0))
                    if caller is not None:
                        caller.evaluators.discard(key.fd)
                    os.close(key.fd)
            if os.getppid() != self.parent:  # the owner died
                return

    def _serve_client(self, channel: wire.Channel) -> None:
        try:
            frame_type, payload = channel.read_frame()
        except (EOFError, OSError):
            self._drop_client(channel)
            return
        try:
            if frame_type == wire.SPAWN:
                self._spawn(channel)
            elif frame_type == wire.UPDATE:
                request, limit = wire.loads(payload)
                channel.send(self._update(request, limit))
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
        self.client_pids.pop(channel.sock.fileno(), None)
        channel.close()

    def _track(self, evaluator: int, caller_pid: int) -> None:
        """Note which process an evaluator works for, watching that process (once)."""
        caller = self.callers.get(caller_pid)
        if caller is None:
            try:
                pidfd = os.pidfd_open(caller_pid)
            except OSError:  # gone already: the evaluator's socket closes, and it exits
                return
            caller = self.callers[caller_pid] = _Caller(pidfd, set())
            self.selector.register(pidfd, selectors.EVENT_READ, "caller")
        caller.evaluators.add(evaluator)
        self.caller_of[evaluator] = caller_pid

    def _caller_gone(self, pidfd: int) -> None:
        """A process that had evaluators has exited (a web worker killed, or restarted by
        gunicorn): kill them. An idle one would exit by itself, its socket closed; a busy one
        would not notice until its query is evaluated, and burn a core until the backstop."""
        self.selector.unregister(pidfd)
        os.close(pidfd)
        for pid, caller in list(self.callers.items()):
            if caller.pidfd == pidfd:
                del self.callers[pid]
                for evaluator in caller.evaluators:
                    with contextlib.suppress(OSError):
                        signal.pidfd_send_signal(evaluator, signal.SIGKILL)

    def _spawn(self, channel: wire.Channel) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = os.fork()
        if pid == 0:  # the evaluator: keep only its own socket
            try:
                self.selector.close()
                self.listener.close()
                for client in self.clients.values():
                    client.close()
                for pidfd in self.evaluators:
                    os.close(pidfd)
                for caller in self.callers.values():
                    os.close(caller.pidfd)
                self.generation_map.close()
                ours.close()
            finally:
                serve_evaluator(theirs, self.dataset)
        theirs.close()
        pidfd = os.pidfd_open(pid)
        self.evaluators[pidfd] = pid
        self.selector.register(pidfd, selectors.EVENT_READ, "evaluator")
        self._track(pidfd, self.client_pids.get(channel.sock.fileno(), 0))
        try:
            socket.send_fds(
                channel.sock,
                [wire.frame(wire.OK, wire.SPAWNED.pack(pid, self.generation))],
                [ours.fileno(), pidfd],
            )
        finally:
            ours.close()

    # Updates ---------------------------------------------------------------------------------
    def _update(self, request: UpdateRequest, limit: float) -> bytes:
        if self.config.kind == "file":
            error = StoreError(
                "this server's dataset was loaded from a file, not a store: "
                "updates are not possible"
            )
            return wire.frame(wire.ERROR, wire.exception_payload(error))
        if self.config.kind == "memory":
            return self._update_memory(request, limit)
        outcome = self._run_writer(request, limit)
        if outcome is None:  # stopped at the deadline: make sure the copy equals the store
            self._reload()
            self._bump()
            return wire.frame(wire.TIMEOUT)
        if outcome:
            return wire.frame(wire.ERROR, outcome)
        if is_data_only(request):
            try:
                service.apply_update(self.store, request)
            except Exception:
                self._reload()
        else:
            self._reload()
        self._bump()
        return wire.frame(wire.OK)

    def _update_memory(self, request: UpdateRequest, limit: float) -> bytes:
        # No disk: the master copy is the dataset. The update runs first in a child, on the
        # child's copy-on-write pages, under the time limit; only if it succeeds there is it
        # applied to the copy, so a runaway or failing update never touches it.
        outcome = self._run_in_child(lambda: service.apply_update(self.store, request), limit)
        if outcome is None:
            return wire.frame(wire.TIMEOUT)
        if outcome:
            return wire.frame(wire.ERROR, outcome)
        service.apply_update(self.store, request)
        self._bump()
        return wire.frame(wire.OK)

    def _run_writer(self, request: UpdateRequest, limit: float) -> bytes | None:
        """Update the on-disk store in a child: b"" done, None stopped, else an error's payload."""

        def write() -> None:
            disk = OxigraphStore.open(Path(self.config.source))
            service.apply_update(disk, request)
            disk.flush()

        return self._run_in_child(write, limit)

    def _run_in_child(self, work: Callable[[], None], limit: float) -> bytes | None:
        result_read, result_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                _die_with_parent(self.own_pid)
                os.close(result_read)
                self.selector.close()
                self.listener.close()
                try:
                    work()
                    outcome = b""
                except Exception as error:
                    outcome = wire.exception_payload(error)
                wire.write_all(result_write, outcome)
            finally:
                os._exit(0)
        os.close(result_write)
        pidfd = os.pidfd_open(pid)
        try:
            chunks: list[bytes] = []
            deadline = time.monotonic() + limit
            while True:
                if not wire.wait_readable(result_read, deadline - time.monotonic()):
                    wire.kill(pidfd)
                    return None
                data = os.read(result_read, 65536)
                if not data:
                    break
                chunks.append(data)
            outcome = b"".join(chunks)
            wire.wait_readable(pidfd, wire.KILL_WAIT_SECONDS)
            return outcome
        finally:
            os.close(result_read)
            os.close(pidfd)

    def _reload(self) -> None:
        self.store = OxigraphStore(self._load())

    def _bump(self) -> None:
        """The copy changed: count again, and tell callers to replace their evaluators."""
        self.dataset = Dataset.of(self.store)
        self.generation += 1
        wire.GENERATION.pack_into(self.generation_map, 0, self.generation)

    def shutdown(self) -> None:
        for pidfd in list(self.evaluators):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        # The owner removes the folder on close(); if it died without closing, the zygote does.
        shutil.rmtree(Path(self.config.control).parent, ignore_errors=True)


def rdf_format(path: Path) -> ox.RdfFormat:
    found = ox.RdfFormat.from_extension(path.suffix.lstrip(".").lower())
    if found is None:
        raise StoreError(f"{path}: unknown RDF file extension {path.suffix!r}")
    return found


def zygote_main(config_json: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when to stop
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ready = os.fdopen(1, "wb", buffering=0, closefd=False)
    try:
        zygote = Zygote(ZygoteConfig.from_json(config_json))
    except Exception as error:
        ready.write(f"error {type(error).__name__}: {error}\n".encode())
        return 1
    try:
        ready.write(f"ready {zygote.dataset.quad_count()}\n".encode())
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)  # the owner stopped reading: nothing may write to the pipe again
        os.close(devnull)
        zygote.run()
    finally:
        zygote.shutdown()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -c ZYGOTE_COMMAND CONFIG``: the zygote (started by :class:`IsolatedExecutor`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print(
            "usage: iomkg.executor.zygote CONFIG-JSON (started by IsolatedExecutor)",
            file=sys.stderr,
        )
        return 2
    return zygote_main(arguments[0])
