"""What the executor's processes say to each other: frames, pickled requests, exceptions, pidfds.

Every message is a frame: one type byte and a four-byte length, then the payload. Requests and
results cross as pickles written by these processes only (over socket pairs and a control socket
in a private folder); formats travel by their media types, because pyoxigraph's enums do not
pickle; exceptions travel by class and state, not by their constructor.
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import importlib
import io
import os
import pickle
import selectors
import signal
import socket
import struct
import time
from collections.abc import Callable
from typing import Any

import pyoxigraph as ox

from iomkg import formats, vocab
from iomkg.formats import Format, Kind
from iomkg.serving.service import QueryRequest
from iomkg.store.base import StoreError

CHUNK_BYTES = 64 * 1024
#: The most one ``recv`` asks for. Python allocates the whole size before each read: at 256 KiB
#: that allocation (above glibc's mmap threshold) cost 19 µs a call, six times the read of a
#: 600-byte request itself; 64 KiB costs nothing extra and still takes a chunk in one read.
RECEIVE_BYTES = 64 * 1024
KILL_WAIT_SECONDS = 1.0  # how long to wait for a killed process to be gone

FRAME = struct.Struct("!BI")
HEAD = struct.Struct("!B?q")  # kind (0 results, 1 graph), truncated, row limit
HELLO_BODY = struct.Struct("!qq")  # pid, generation
GENERATION = struct.Struct("<Q")

# Frame types. Caller to evaluator: REQUEST, CALL; evaluator to caller: HELLO (first), HEAD,
# CHUNK, END, ERROR, RESULT; caller to master: UPDATE, PING; master to caller: OK, ERROR, TIMEOUT.
REQUEST, HEAD_FRAME, CHUNK, END, ERROR, CALL, RESULT, HELLO = 1, 2, 3, 4, 5, 6, 7, 8
UPDATE, PING, OK, TIMEOUT = 11, 12, 13, 14

KINDS: tuple[Kind, Kind] = ("results", "graph")


def frame(frame_type: int, payload: bytes = b"") -> bytes:
    return FRAME.pack(frame_type, len(payload)) + payload


class Channel:
    """Frames over a stream socket, with a receive buffer (shared by blocking and async reads)."""

    __slots__ = ("buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def send(self, data: bytes | bytearray) -> None:
        self.sock.sendall(data)

    def complete_frame(self) -> tuple[int, bytes] | None:
        """The next frame if it is already in the buffer."""
        buffer = self.buffer
        if len(buffer) < FRAME.size:
            return None
        frame_type, length = FRAME.unpack_from(buffer)
        end = FRAME.size + length
        if len(buffer) < end:
            return None
        payload = bytes(buffer[FRAME.size : end])
        del buffer[:end]
        return frame_type, payload

    def read_frame(self, deadline: float | None = None) -> tuple[int, bytes]:
        """The next frame; ``TimeoutError`` past ``deadline`` (monotonic), ``EOFError`` at end."""
        found = self.complete_frame()
        while found is None:
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.sock.settimeout(remaining)
            found = self.receive()
        return found

    def receive(self) -> tuple[int, bytes] | None:
        """Read what has arrived (one ``recv``), then the next frame if it is now complete;
        ``EOFError`` at the end of the stream. A non-blocking socket with nothing to read raises
        ``BlockingIOError``."""
        data = self.sock.recv(RECEIVE_BYTES)
        if not data:
            raise EOFError
        self.buffer += data
        return self.complete_frame()

    def close(self) -> None:
        self.sock.close()


# Pickles -------------------------------------------------------------------------------------


def _reduce_format(fmt: Format) -> tuple[Callable[..., Format], tuple[Any, ...]]:
    return _rebuild_format, (
        fmt.name,
        fmt.media_type,
        fmt.extension,
        fmt.kind,
        fmt.results_format.media_type if fmt.results_format is not None else None,
        fmt.rdf_format.media_type if fmt.rdf_format is not None else None,
        fmt.aliases,
    )


@functools.lru_cache(maxsize=64)
def _rebuild_format(
    name: str,
    media_type: str,
    extension: str,
    kind: Kind,
    results_media_type: str | None,
    rdf_media_type: str | None,
    aliases: tuple[str, ...],
) -> Format:
    results = (
        ox.QueryResultsFormat.from_media_type(results_media_type) if results_media_type else None
    )
    rdf = ox.RdfFormat.from_media_type(rdf_media_type) if rdf_media_type else None
    return Format(name, media_type, extension, kind, results, rdf, aliases)


_DISPATCH: dict[type, Callable[..., Any]] = {**copyreg.dispatch_table, Format: _reduce_format}


def dumps(value: object) -> bytes:
    try:  # the common case, with nothing of pyoxigraph's inside: the C pickler as it comes
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)
    except (TypeError, pickle.PicklingError):
        pass
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    return buffer.getvalue()


def loads(data: bytes) -> Any:
    # Only ever data written by this package's own processes, over sockets in a private folder.
    return pickle.loads(data)  # noqa: S301


# Query requests ------------------------------------------------------------------------------

#: Every format of the tables, by position: a request names its formats by number.
_FORMATS: tuple[Format, ...] = tuple(fmt for table in formats.TABLES.values() for fmt in table)
_FORMAT_NUMBERS = {id(fmt): number for number, fmt in enumerate(_FORMATS)}
_usual_prefixes = functools.lru_cache(maxsize=8)(vocab.prefixes)


def encode_query(request: QueryRequest, limit: float, max_rows: int) -> bytes:
    """The REQUEST frame for ``request``: its fields pickled, except that its formats go by
    number and the graph's usual prefixes (most of a plain request's pickle) by a flag.

    Whatever fields :class:`~iomkg.serving.service.QueryRequest` has travel (its ``__dict__``);
    :func:`decode_query` gives back an equal request.
    """
    state = dict(vars(request))
    state["results_format"] = _format_ref(request.results_format)
    state["graph_format"] = _format_ref(request.graph_format)
    usual = request.base_iri is not None and request.prefixes == _usual_prefixes(request.base_iri)
    state["prefixes"] = None if usual else dict(request.prefixes)
    if request.substitutions is not None:
        state["substitutions"] = dict(request.substitutions)
    return frame(REQUEST, dumps((state, limit, max_rows)))


def decode_query(payload: bytes) -> tuple[QueryRequest, float, int]:
    """``(request, time limit, row cap)`` from a REQUEST frame's payload."""
    state, limit, max_rows = loads(payload)
    state["results_format"] = _format_of(state["results_format"])
    state["graph_format"] = _format_of(state["graph_format"])
    if state["prefixes"] is None:
        state["prefixes"] = dict(_usual_prefixes(state["base_iri"]))
    return QueryRequest(**state), limit, max_rows


def _format_ref(fmt: Format | None) -> int | Format | None:
    if fmt is None:
        return None
    number = _FORMAT_NUMBERS.get(id(fmt))
    return number if number is not None and _FORMATS[number] is fmt else fmt


def _format_of(ref: int | Format | None) -> Format | None:
    return _FORMATS[ref] if isinstance(ref, int) else ref


# Exceptions ----------------------------------------------------------------------------------


def exception_payload(error: BaseException) -> bytes:
    cls = type(error)
    try:
        return dumps((cls.__module__, cls.__qualname__, error.args, dict(vars(error))))
    except Exception:  # an attribute that does not pickle: keep the words
        return dumps(("iomkg.store.base", "StoreError", (f"{cls.__name__}: {error}",), {}))


def rebuild_exception(payload: bytes) -> Exception:
    module_name, qualname, args, state = loads(payload)
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError):
        found = None
    if not (isinstance(found, type) and issubclass(found, Exception)):
        return StoreError(f"{qualname}: {args[0] if args else ''}")
    if module_name == "builtins":
        built: Exception = found(*args)
        return built
    error: Exception = found.__new__(found)
    error.args = args
    error.__dict__.update(state)
    return error


# Processes -----------------------------------------------------------------------------------


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def wait_readable(fd: int, timeout: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(timeout=max(0.0, timeout)))


def kill(pidfd: int) -> None:
    """SIGKILL the process behind ``pidfd`` and wait (briefly) until it is gone."""
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    wait_readable(pidfd, KILL_WAIT_SECONDS)
