"""Killable query isolation: every query runs in an evaluator process that can be killed.

pyoxigraph has no time limit of its own and a Python thread cannot be stopped, so a query that
must be stoppable runs in a process of its own, and the time limit is a ``SIGKILL``.

Processes
---------
::

    caller (a gunicorn worker, a test)         zygote (a fresh interpreter, see ZYGOTE_COMMAND)
    IsolatedExecutor ────── control socket ──▶ holds the dataset in memory (the master copy);
      its pool of evaluators                   forks evaluators; the single writer
         │                                           │ fork (pages shared copy-on-write)
         └──────── one socket per evaluator ───▶ evaluator 1 … n, one query at a time

* The **zygote** is started once by the :class:`IsolatedExecutor` that owns it. It loads the
  dataset into an in-memory pyoxigraph store (queries there are 2.6 to 7 times faster than on
  the RocksDB store: ``server/bench/store_speed.py``) and counts its quads once, so that health
  checks and statistics never scan it. It never opens RocksDB itself, which would leave RocksDB's
  background threads in a process that forks: a loader child streams the on-disk store to it as
  N-Quads through a pipe. It is single-threaded, so forking from it is safe; on request it forks
  an **evaluator** and hands the caller one end of a socket pair and a pidfd of the new process
  (``SCM_RIGHTS``). The executor can be made before a server forks its workers: each process
  then asks for evaluators of its own (pool size ``workers``).
* An evaluator reads a request, evaluates it and writes frames back: an error, or a head (kind of
  result, whether rows were cut) then the body in chunks of 64 KiB and an end mark. It is
  long-lived: no process is started per request, and a query costs one pickled request, one
  ``send`` and one ``recv`` on each side. Evaluators share the dataset's pages with the zygote
  copy-on-write, but only in part: pyoxigraph's in-memory reads write to the pages they touch
  (reference counts), so an evaluator gradually gets private copies of what it reads, up to a
  whole copy of the store after a full scan. Peak memory is therefore up to (1 + evaluators)
  times the in-memory store (measured: 1M triples, about 350 MiB per copy).
* **Time limit.** The caller waits for the head until the deadline. Past it, the evaluator is
  killed through its pidfd (no pid can be reused under it), the caller waits until the pidfd says
  the process has exited (its CPU is free), asks the zygote for a replacement at once and raises
  :class:`~iomkg.service.QueryTimeout`. Other callers' evaluators are not involved. Each evaluator
  also arms ``ITIMER_REAL`` with the default ``SIGALRM`` action (terminate) at the limit plus
  :data:`BACKSTOP_SECONDS`, so it stops even if its caller died without killing it. Waiting for
  a free evaluator counts towards the limit.
* **Row cap.** The evaluator reads at most ``max_rows + 1`` solutions or triples and serialises
  the first ``max_rows`` into a spool (memory up to :data:`SPILL_BYTES`, then a temporary file)
  before it sends the head: ``truncated`` and ``row_limit`` are known before the first byte of
  the body, and evaluation stops at the cap. The body is then streamed from the spool, so neither
  process has to hold a large CONSTRUCT or SELECT in memory. SELECT results are written by
  :func:`write_solutions`, which gives pyoxigraph's own bytes (the tests compare them); graphs
  are written by pyoxigraph itself.
* **Updates.** The zygote is the single writer. For an on-disk store, it forks a writer child that
  opens the store read-write, applies the update in one pyoxigraph transaction and flushes; the
  zygote enforces the time limit on it (a killed writer has committed nothing). Only after a
  successful commit is the master copy brought up to date: an update made only of
  ``INSERT DATA`` / ``DELETE DATA`` without blank nodes is applied to it as well (deterministic,
  so both copies stay equal); any other update is re-read from the store, because ``NOW()``,
  ``RAND()``, ``UUID()``, ``SAMPLE`` or a ``LIMIT`` without ``ORDER BY`` could give the copy a
  different answer than the store. Then a shared generation counter is bumped: callers compare it
  when they take an evaluator from their pool and replace the ones forked from the old copy, so
  an update is visible to every query that starts after it returned. A refused or failed update
  changes neither the store nor the copy. (A writer killed at its deadline in the instant after
  its commit would leave the store changed while the caller hears "stopped": after any kill the
  master copy is re-read from the store, so the copy never differs from the store.) While the
  zygote applies an update it forks nothing: queries go on in the evaluators that exist, and a
  killed one is replaced once the update is done. An in-memory source (a store object or an RDF
  file) has no disk: updates change the master copy (a file source refuses them).

The zygote exits when its owner closes the executor or dies; an evaluator exits when its socket
is closed (its caller closed the executor or died).
"""

from __future__ import annotations

import contextlib
import copyreg
import functools
import importlib
import io
import json
import mmap
import os
import pickle
import re
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Any, Literal, NoReturn, cast

import pyoxigraph as ox

from iomkg import formats, service, sparqltext
from iomkg.config import Settings
from iomkg.formats import Format, Kind
from iomkg.service import QueryRequest, QueryResponse, QueryTimeout, UpdateRequest
from iomkg.store.base import QueryResult, StoreError, Term
from iomkg.store.oxigraph import OxigraphStore

CHUNK_BYTES = 64 * 1024
SPILL_BYTES = 8 * 1024 * 1024  # a result larger than this waits for its head in a temporary file
BACKSTOP_SECONDS = 5.0  # an evaluator stops itself this long after its limit, if nobody killed it
KILL_WAIT_SECONDS = 1.0  # how long to wait for a killed process to be gone
STALL_SECONDS = 60.0  # longest wait for the next body chunk before the evaluator is deemed hung
START_TIMEOUT_SECONDS = 3600.0  # loading a very large dataset into memory

SPAWN_WAIT_SECONDS = 0.5  # longest wait for a replacement when the zygote is busy (an update)
ZYGOTE_COMMAND = "import sys; from iomkg.executor import main; sys.exit(main(sys.argv[1:]))"

SourceKind = Literal["store", "file", "memory"]

# Frames: one type byte and a length, then the payload ---------------------------------------

_FRAME = struct.Struct("!BI")
_HEAD = struct.Struct("!B?q")  # kind (0 results, 1 graph), truncated, row limit
_SPAWNED = struct.Struct("!qq")  # pid, generation
_GENERATION = struct.Struct("<Q")

_REQUEST, _HEAD_FRAME, _CHUNK, _END, _ERROR, _CALL, _RESULT = 1, 2, 3, 4, 5, 6, 7
_SPAWN, _UPDATE, _PING, _OK, _TIMEOUT = 10, 11, 12, 13, 14

_KINDS: tuple[Kind, Kind] = ("results", "graph")


def _frame(frame_type: int, payload: bytes = b"") -> bytes:
    return _FRAME.pack(frame_type, len(payload)) + payload


class _Channel:
    """Frames over a stream socket, with a receive buffer."""

    __slots__ = ("_buffer", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = bytearray()

    def send(self, data: bytes | bytearray) -> None:
        self.sock.sendall(data)

    def complete_frame(self) -> tuple[int, bytes] | None:
        """The next frame if it is already in the buffer."""
        buffer = self._buffer
        if len(buffer) < _FRAME.size:
            return None
        frame_type, length = _FRAME.unpack_from(buffer)
        end = _FRAME.size + length
        if len(buffer) < end:
            return None
        payload = bytes(buffer[_FRAME.size : end])
        del buffer[:end]
        return frame_type, payload

    def read_frame(self, deadline: float | None = None) -> tuple[int, bytes]:
        """The next frame; ``TimeoutError`` past ``deadline`` (monotonic), ``EOFError`` at end."""
        while True:
            frame = self.complete_frame()
            if frame is not None:
                return frame
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self.sock.settimeout(remaining)
            data = self.sock.recv(256 * 1024)
            if not data:
                raise EOFError
            self._buffer += data

    def close(self) -> None:
        self.sock.close()


# Pickling requests: formats travel by their media types (pyoxigraph's enums do not pickle) ---


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


def _dumps(value: object) -> bytes:
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = _DISPATCH
    pickler.dump(value)
    return buffer.getvalue()


def _loads(data: bytes) -> Any:
    # Only ever data written by this module's own processes, over sockets in a private folder.
    return pickle.loads(data)  # noqa: S301


# Exceptions cross the process boundary by class and state, not by their constructor --------


def _exception_payload(error: BaseException) -> bytes:
    cls = type(error)
    try:
        return _dumps((cls.__module__, cls.__qualname__, error.args, dict(vars(error))))
    except Exception:  # an attribute that does not pickle: keep the words
        return _dumps(("iomkg.store.base", "StoreError", (f"{cls.__name__}: {error}",), {}))


def _rebuild_exception(payload: bytes) -> Exception:
    module_name, qualname, args, state = _loads(payload)
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


# Serialising capped results ------------------------------------------------------------------


class _Spool:
    """What is written before the head is sent: in memory up to SPILL_BYTES, then in a file."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._file: IO[bytes] | None = None
        self.size = 0

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        self.size += len(data)
        if self._file is not None:
            self._file.write(data)
        else:
            self._parts.append(bytes(data))
            if self.size > SPILL_BYTES:
                self._file = tempfile.TemporaryFile()  # noqa: SIM115 (closed in chunks())
                for part in self._parts:
                    self._file.write(part)
                self._parts = []
        return len(data)

    def flush(self) -> None:
        return None

    def chunks(self) -> Iterator[bytes]:
        if self._file is None:
            data = b"".join(self._parts)
            self._parts = []
            view = memoryview(data)
            for start in range(0, len(data), CHUNK_BYTES):
                yield bytes(view[start : start + CHUNK_BYTES])
            return
        with self._file:
            self._file.seek(0)
            while block := self._file.read(CHUNK_BYTES):
                yield block


XSD = "http://www.w3.org/2001/XMLSchema#"
_XSD_STRING = XSD + "string"
_TURTLE_SHORT = {
    XSD + "boolean": re.compile(r"true|false"),
    XSD + "integer": re.compile(r"[+-]?[0-9]+"),
    XSD + "decimal": re.compile(r"[+-]?[0-9]*\.[0-9]+"),
    XSD + "double": re.compile(r"[+-]?(?:[0-9]+\.[0-9]*|\.?[0-9]+)[eE][+-]?[0-9]+"),
}
_NT_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"})
_XML_ESCAPES = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;", "\r": "&#13;"}
)
_ROWS_PER_WRITE = 512


def _json_term(term: Term | ox.Triple) -> str:
    if isinstance(term, ox.NamedNode):
        return '{"type":"uri","value":' + encode_basestring(term.value) + "}"
    if isinstance(term, ox.Literal):
        text = '{"type":"literal","value":' + encode_basestring(term.value)
        if term.language:
            text += ',"xml:lang":' + encode_basestring(term.language)
            if term.direction is not None:
                text += ',"its:dir":' + encode_basestring(str(term.direction))
            return text + "}"
        datatype = term.datatype.value
        if datatype != _XSD_STRING:
            text += ',"datatype":' + encode_basestring(datatype)
        return text + "}"
    if isinstance(term, ox.BlankNode):
        return '{"type":"bnode","value":' + encode_basestring(term.value) + "}"
    return (
        '{"type":"triple","value":{"subject":'
        + _json_term(term.subject)
        + ',"predicate":'
        + _json_term(term.predicate)
        + ',"object":'
        + _json_term(term.object)
        + "}}"
    )


def _xml_term(term: Term | ox.Triple) -> str:
    if isinstance(term, ox.NamedNode):
        return "<uri>" + term.value.translate(_XML_ESCAPES) + "</uri>"
    if isinstance(term, ox.Literal):
        value = term.value.translate(_XML_ESCAPES)
        if term.language:
            attributes = f' xml:lang="{term.language}"'
            if term.direction is not None:
                attributes += (
                    f' its:dir="{term.direction}" xmlns:its="http://www.w3.org/2005/11/its"'
                    ' its:version="2.0"'
                )
            return f"<literal{attributes}>{value}</literal>"
        datatype = term.datatype.value
        if datatype != _XSD_STRING:
            return f'<literal datatype="{datatype.translate(_XML_ESCAPES)}">{value}</literal>'
        return f"<literal>{value}</literal>"
    if isinstance(term, ox.BlankNode):
        return "<bnode>" + term.value.translate(_XML_ESCAPES) + "</bnode>"
    return (
        "<triple><subject>"
        + _xml_term(term.subject)
        + "</subject><predicate>"
        + _xml_term(term.predicate)
        + "</predicate><object>"
        + _xml_term(term.object)
        + "</object></triple>"
    )


def _csv_term(term: Term | ox.Triple) -> str:
    if isinstance(term, ox.Triple):  # pyoxigraph writes each part as a field of its own
        return " ".join(_csv_term(part) for part in (term.subject, term.predicate, term.object))
    text = "_:" + term.value if isinstance(term, ox.BlankNode) else term.value
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _tsv_term(term: Term | ox.Triple) -> str:
    if isinstance(term, ox.NamedNode):
        return "<" + term.value + ">"
    if isinstance(term, ox.Literal):
        value = term.value
        if term.language:
            suffix = f"--{term.direction}" if term.direction is not None else ""
            return '"' + value.translate(_NT_ESCAPES) + '"@' + term.language + suffix
        datatype = term.datatype.value
        if datatype == _XSD_STRING:
            return '"' + value.translate(_NT_ESCAPES) + '"'
        short = _TURTLE_SHORT.get(datatype)
        if short is not None and short.fullmatch(value):
            return value
        return '"' + value.translate(_NT_ESCAPES) + '"^^<' + datatype + ">"
    if isinstance(term, ox.BlankNode):
        return "_:" + term.value
    return (
        "<<( "
        + _tsv_term(term.subject)
        + " "
        + _tsv_term(term.predicate)
        + " "
        + _tsv_term(term.object)
        + " )>>"
    )


@dataclass(frozen=True)
class _Layout:
    """How one SELECT results format lays out its document, rows and cells."""

    encode: Callable[[Term | ox.Triple], str]
    head: Callable[[list[str]], str]
    tail: str
    positional: bool  # CSV/TSV: a cell per variable, empty when unbound; else only bound ones
    opening: Callable[[str], str]  # text before a bound value, per variable name
    closing: str  # text after a bound value
    cell_separator: str
    row_open: str
    row_close: str
    row_separator: str


def _json_head(names: list[str]) -> str:
    variables = ",".join(encode_basestring(name) for name in names)
    return '{"head":{"vars":[' + variables + ']},"results":{"bindings":['


def _xml_head(names: list[str]) -> str:
    variables = "".join(f'<variable name="{name}"/>' for name in names)
    return (
        '<?xml version="1.0"?><sparql xmlns="http://www.w3.org/2005/sparql-results#">'
        f"<head>{variables}</head><results>"
    )


_LAYOUTS: dict[ox.QueryResultsFormat, _Layout] = {
    ox.QueryResultsFormat.JSON: _Layout(
        _json_term,
        _json_head,
        "]}}",
        False,
        lambda name: encode_basestring(name) + ":",
        "",
        ",",
        "{",
        "}",
        ",",
    ),
    ox.QueryResultsFormat.XML: _Layout(
        _xml_term,
        _xml_head,
        "</results></sparql>",
        False,
        lambda name: f'<binding name="{name}">',
        "</binding>",
        "",
        "<result>",
        "</result>",
        "",
    ),
    ox.QueryResultsFormat.CSV: _Layout(
        _csv_term,
        lambda names: ",".join(names) + "\r\n",
        "",
        True,
        lambda name: "",
        "",
        ",",
        "",
        "\r\n",
        "",
    ),
    ox.QueryResultsFormat.TSV: _Layout(
        _tsv_term,
        lambda names: "\t".join("?" + name for name in names) + "\n",
        "",
        True,
        lambda name: "",
        "",
        "\t",
        "",
        "\n",
        "",
    ),
}
#: Encoded terms, per format, kept across requests (predicates, classes, codes repeat a lot).
_TERM_CACHES: dict[ox.QueryResultsFormat, dict[object, str]] = {key: {} for key in _LAYOUTS}
_TERM_CACHE_SIZE = 20_000


def write_solutions(
    solutions: ox.QuerySolutions, fmt: Format, output: IO[bytes] | _Spool, max_rows: int
) -> bool:
    """Write at most ``max_rows`` solutions in ``fmt``; True when there were more (cut).

    The output is what pyoxigraph's own serialiser writes for the same solutions (the tests
    compare them byte for byte; XML escapes a few more characters).
    """
    if fmt.results_format is None:
        raise ValueError(f"{fmt.name} is not a results format")
    layout = _LAYOUTS[fmt.results_format]
    cache = _TERM_CACHES[fmt.results_format]
    encode = layout.encode
    names = [variable.value for variable in solutions.variables]
    openings = [layout.opening(name) for name in names]
    closing, positional = layout.closing, layout.positional
    cell_separator, row_open, row_close = layout.cell_separator, layout.row_open, layout.row_close
    pending = [layout.head(names)]
    truncated = False
    for count, solution in enumerate(solutions):
        if count >= max_rows:
            truncated = True
            break
        cells = []
        for opening, value in zip(openings, solution, strict=True):
            if value is None:
                if positional:
                    cells.append("")
                continue
            text = cache.get(value)
            if text is None:
                text = encode(value)
                if len(cache) < _TERM_CACHE_SIZE:
                    cache[value] = text
            cells.append(opening + text + closing)
        row = row_open + cell_separator.join(cells) + row_close
        pending.append(layout.row_separator + row if count else row)
        if len(pending) >= _ROWS_PER_WRITE:
            output.write("".join(pending).encode())
            pending = []
    pending.append(layout.tail)
    output.write("".join(pending).encode())
    return truncated


def write_triples(
    triples: Iterable[ox.Triple],
    fmt: Format,
    output: IO[bytes] | _Spool,
    max_rows: int,
    prefixes: Mapping[str, str] | None = None,
) -> bool:
    """Write at most ``max_rows`` triples in ``fmt`` (pyoxigraph's writer); True when cut."""
    if fmt.rdf_format is None:
        raise ValueError(f"{fmt.name} is not a graph format")
    cut = False

    def capped() -> Iterator[ox.Triple]:
        nonlocal cut
        for count, triple in enumerate(triples):
            if count >= max_rows:
                cut = True
                return
            yield triple

    wants_prefixes = fmt.rdf_format in (
        ox.RdfFormat.TURTLE,
        ox.RdfFormat.TRIG,
        ox.RdfFormat.JSON_LD,
    )
    ox.serialize(
        capped(),
        cast(IO[bytes], output),
        fmt.rdf_format,
        prefixes=dict(prefixes) if prefixes and wants_prefixes else None,
    )
    return cut


def _answer(store: OxigraphStore, request: QueryRequest, max_rows: int) -> tuple[bytes, _Spool]:
    """Evaluate a request into (head frame, spooled body)."""
    result: QueryResult = service.evaluate(store, request)
    kind = formats.kind_of(result)
    fmt = service.choose_format(request, kind)
    spool = _Spool()
    truncated = False
    if isinstance(result, ox.QuerySolutions):
        truncated = write_solutions(result, fmt, spool, max_rows)
    elif isinstance(result, ox.QueryTriples):
        truncated = write_triples(result, fmt, spool, max_rows, request.prefixes)
    else:
        spool.write(formats.serialize_to_bytes(result, fmt))
    head = _frame(_HEAD_FRAME, _HEAD.pack(_KINDS.index(kind), truncated, max_rows))
    return head, spool


# The evaluator process ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Dataset:
    """The master copy and its quad counts (counted once per change, not per health check)."""

    store: OxigraphStore
    counts: dict[str | None, int]  # None: every quad; an IRI: the triples of that graph

    @classmethod
    def of(cls, store: OxigraphStore) -> _Dataset:
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
    "named_graphs": _Dataset.named_graphs,
    "quad_count": _Dataset.quad_count,
}


def _call(dataset: _Dataset, payload: bytes) -> bytes:
    """Run one of the small read methods (graphs, counts) for :class:`ExecutorStore`."""
    name, args, limit = _loads(payload)
    signal.setitimer(signal.ITIMER_REAL, limit + BACKSTOP_SECONDS)
    try:
        return _frame(_RESULT, _dumps(_CALLS[name](dataset, *args)))
    except Exception as error:
        return _frame(_ERROR, _exception_payload(error))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _serve_evaluator(sock: socket.socket, dataset: _Dataset) -> NoReturn:
    """Answer requests on ``sock`` until it is closed; never returns (``os._exit``)."""
    try:
        signal.signal(signal.SIGALRM, signal.SIG_DFL)  # the backstop terminates the process
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C: the owner decides when to stop
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        channel = _Channel(sock)
        while True:
            try:
                frame_type, payload = channel.read_frame()
            except EOFError:
                break
            if frame_type == _CALL:
                channel.send(_call(dataset, payload))
                continue
            if frame_type != _REQUEST:
                break
            request, limit, max_rows = _loads(payload)
            signal.setitimer(signal.ITIMER_REAL, limit + BACKSTOP_SECONDS)
            try:
                head, spool = _answer(dataset.store, request, max_rows)
            except Exception as error:
                channel.send(_frame(_ERROR, _exception_payload(error)))
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            out = bytearray(head)
            for chunk in spool.chunks():
                out += _FRAME.pack(_CHUNK, len(chunk))
                out += chunk
                if len(out) >= CHUNK_BYTES:
                    channel.send(out)
                    out = bytearray()
            out += _frame(_END)
            channel.send(out)
    except BaseException:  # noqa: S110 (a broken pipe or a signal: the caller sees the socket close)
        pass
    finally:
        os._exit(0)


# The zygote process ------------------------------------------------------------------------


@dataclass(frozen=True)
class _ZygoteConfig:
    source: str
    kind: SourceKind
    base_iri: str
    control: str
    generation: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> _ZygoteConfig:
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


class _Zygote:
    """Holds the master copy, forks evaluators, applies updates. Single-threaded."""

    def __init__(self, config: _ZygoteConfig) -> None:
        self.config = config
        self.parent = os.getppid()
        self.generation = 0
        self.selector = selectors.DefaultSelector()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.clients: dict[int, _Channel] = {}
        self.evaluators: dict[int, int] = {}  # pidfd -> pid
        fd = os.open(config.generation, os.O_RDWR)
        try:
            self.generation_map = mmap.mmap(fd, _GENERATION.size)
        finally:
            os.close(fd)
        self.store = OxigraphStore(self._load())
        self.dataset = _Dataset.of(self.store)
        self.listener.bind(config.control)
        self.listener.listen(128)

    # Loading ---------------------------------------------------------------------------------
    def _load(self) -> ox.Store:
        path = Path(self.config.source)
        store = ox.Store()
        if self.config.kind == "store":
            self._load_from_disk(store, path)
        else:
            store.bulk_load(path=str(path), format=_rdf_format(path), base_iri=self.config.base_iri)
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
                    _write_all(status_write, status)
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
                    self.clients[connection.fileno()] = _Channel(connection)
                    self.selector.register(connection, selectors.EVENT_READ, "client")
                elif key.data == "client":
                    client = self.clients.get(key.fd)
                    if client is not None:
                        self._serve_client(client)
                else:  # an evaluator's pidfd: it has exited
                    self.selector.unregister(key.fd)
                    self.evaluators.pop(key.fd, None)
                    os.close(key.fd)
            if os.getppid() != self.parent:  # the owner died
                return

    def _serve_client(self, channel: _Channel) -> None:
        try:
            frame_type, payload = channel.read_frame()
        except (EOFError, OSError):
            self._drop_client(channel)
            return
        try:
            if frame_type == _SPAWN:
                self._spawn(channel)
            elif frame_type == _UPDATE:
                request, limit = _loads(payload)
                channel.send(self._update(request, limit))
            elif frame_type == _PING:
                channel.send(_frame(_OK, _GENERATION.pack(self.generation)))
            else:
                self._drop_client(channel)
        except OSError:
            self._drop_client(channel)

    def _drop_client(self, channel: _Channel) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self.selector.unregister(channel.sock)
        self.clients.pop(channel.sock.fileno(), None)
        channel.close()

    def _spawn(self, channel: _Channel) -> None:
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
                self.generation_map.close()
                ours.close()
            finally:
                _serve_evaluator(theirs, self.dataset)
        theirs.close()
        pidfd = os.pidfd_open(pid)
        self.evaluators[pidfd] = pid
        self.selector.register(pidfd, selectors.EVENT_READ, "evaluator")
        try:
            socket.send_fds(
                channel.sock,
                [_frame(_OK, _SPAWNED.pack(pid, self.generation))],
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
            return _frame(_ERROR, _exception_payload(error))
        if self.config.kind == "memory":
            return self._update_memory(request, limit)
        outcome = self._run_writer(request, limit)
        if outcome is None:  # stopped at the deadline: make sure the copy equals the store
            self._reload()
            self._bump()
            return _frame(_TIMEOUT)
        if outcome:
            return _frame(_ERROR, outcome)
        if is_data_only(request):
            try:
                service.apply_update(self.store, request)
            except Exception:
                self._reload()
        else:
            self._reload()
        self._bump()
        return _frame(_OK)

    def _update_memory(self, request: UpdateRequest, limit: float) -> bytes:
        # No disk: the master copy is the dataset. The update runs first in a child, on the
        # child's copy-on-write pages, under the time limit; only if it succeeds there is it
        # applied to the copy, so a runaway or failing update never touches it.
        outcome = self._run_in_child(lambda: service.apply_update(self.store, request), limit)
        if outcome is None:
            return _frame(_TIMEOUT)
        if outcome:
            return _frame(_ERROR, outcome)
        service.apply_update(self.store, request)
        self._bump()
        return _frame(_OK)

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
                os.close(result_read)
                self.selector.close()
                self.listener.close()
                try:
                    work()
                    outcome = b""
                except Exception as error:
                    outcome = _exception_payload(error)
                _write_all(result_write, outcome)
            finally:
                os._exit(0)
        os.close(result_write)
        pidfd = os.pidfd_open(pid)
        try:
            chunks: list[bytes] = []
            deadline = time.monotonic() + limit
            while True:
                if not _wait_readable(result_read, deadline - time.monotonic()):
                    _kill(pidfd)
                    return None
                data = os.read(result_read, 65536)
                if not data:
                    break
                chunks.append(data)
            outcome = b"".join(chunks)
            _wait_readable(pidfd, KILL_WAIT_SECONDS)
            return outcome
        finally:
            os.close(result_read)
            os.close(pidfd)

    def _reload(self) -> None:
        self.store = OxigraphStore(self._load())

    def _bump(self) -> None:
        """The copy changed: count again, and tell callers to replace their evaluators."""
        self.dataset = _Dataset.of(self.store)
        self.generation += 1
        _GENERATION.pack_into(self.generation_map, 0, self.generation)

    def shutdown(self) -> None:
        for pidfd in list(self.evaluators):
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        # The owner removes the folder on close(); if it died without closing, the zygote does.
        shutil.rmtree(Path(self.config.control).parent, ignore_errors=True)


def _rdf_format(path: Path) -> ox.RdfFormat:
    found = ox.RdfFormat.from_extension(path.suffix.lstrip(".").lower())
    if found is None:
        raise StoreError(f"{path}: unknown RDF file extension {path.suffix!r}")
    return found


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _wait_readable(fd: int, timeout: float) -> bool:
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        return bool(selector.select(timeout=max(0.0, timeout)))


def _kill(pidfd: int) -> None:
    """SIGKILL the process behind ``pidfd`` and wait (briefly) until it is gone."""
    with contextlib.suppress(ProcessLookupError, OSError):
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    _wait_readable(pidfd, KILL_WAIT_SECONDS)


def _zygote_main(config_json: str) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner decides when to stop
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    ready = os.fdopen(1, "wb", buffering=0, closefd=False)
    try:
        zygote = _Zygote(_ZygoteConfig.from_json(config_json))
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


# The caller's side -------------------------------------------------------------------------


@dataclass
class _Evaluator:
    pid: int
    pidfd: int
    channel: _Channel
    generation: int

    def close(self) -> None:
        self.channel.close()
        with contextlib.suppress(OSError):
            os.close(self.pidfd)


class _ProcessState:
    """What one process (the owner, or a worker forked from it) holds: its own pool and control."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.size = size
        self.lock = threading.Lock()
        self.available = threading.Condition(self.lock)
        self.idle: list[_Evaluator] = []
        self.live = 0  # idle + busy + being spawned
        self.all: dict[int, _Evaluator] = {}
        self.control: _Channel | None = None
        self.control_lock = threading.Lock()
        self.closed = False


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
            generation_path.write_bytes(bytes(_GENERATION.size))
            with generation_path.open("r+b") as handle:
                self._generation_map = mmap.mmap(handle.fileno(), _GENERATION.size)
            config = _ZygoteConfig(
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
        self._control_path = config.control
        self._owner = os.getpid()
        self._state = _ProcessState(self.workers)
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

    def _start_zygote(self, config: _ZygoteConfig) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE_COMMAND, config.to_json()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
        )
        assert process.stdout is not None
        if not _wait_readable(process.stdout.fileno(), START_TIMEOUT_SECONDS):
            process.kill()
            process.wait()
            raise StoreError("the query evaluators did not start in time")
        line = process.stdout.readline().decode(errors="replace").strip()
        process.stdout.close()
        if not line.startswith("ready"):
            process.wait()
            raise StoreError(
                f"the query evaluators could not load the dataset: {line[6:] or 'crashed'}"
            )
        return process

    # Settings ----------------------------------------------------------------------------------
    def _limit(self, timeout: float | None) -> float:
        return timeout if timeout is not None else self.settings.query_timeout

    def _row_cap(self, request: QueryRequest) -> int:
        cap = self.settings.max_rows
        return min(cap, request.max_rows) if request.max_rows is not None else cap

    def _current_generation(self) -> int:
        value: int = _GENERATION.unpack_from(self._generation_map)[0]
        return value

    # The contract ------------------------------------------------------------------------------
    def run_query(self, request: QueryRequest, timeout: float | None = None) -> QueryResponse:
        limit = self._limit(timeout)
        deadline = time.monotonic() + limit
        max_rows = self._row_cap(request)
        payload = _frame(_REQUEST, _dumps((request, limit, max_rows)))
        evaluator = self._checkout(deadline, limit)
        frame_type, data = self._exchange(evaluator, payload, deadline, limit)
        if frame_type == _ERROR:
            self._release(evaluator)
            raise _rebuild_exception(data)
        if frame_type != _HEAD_FRAME:
            self._kill(evaluator, replace=True)
            raise StoreError("the query evaluator answered out of turn")
        kind_index, truncated, row_limit = _HEAD.unpack(data)
        kind = _KINDS[kind_index]
        body = _Body(self, evaluator)
        return QueryResponse(
            kind,
            service.choose_format(request, kind),
            body,
            truncated=truncated,
            row_limit=row_limit,
        )

    def run_update(self, request: UpdateRequest, timeout: float | None = None) -> None:
        limit = self._limit(timeout)
        # A connection of its own: an update can take long and must not hold up spawns.
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(self._control_path)
            channel = _Channel(sock)
            channel.send(_frame(_UPDATE, _dumps((request, limit))))
            try:
                frame_type, data = channel.read_frame()
            except EOFError:
                raise StoreError("the query evaluators stopped during the update") from None
        if frame_type == _TIMEOUT:
            raise QueryTimeout(limit)
        if frame_type == _ERROR:
            raise _rebuild_exception(data)

    def call(self, name: str, *args: object, timeout: float | None = None) -> Any:
        """Run a small read method of the store (``named_graphs``, ``quad_count``) isolated."""
        limit = self._limit(timeout)
        deadline = time.monotonic() + limit
        evaluator = self._checkout(deadline, limit)
        frame_type, data = self._exchange(
            evaluator, _frame(_CALL, _dumps((name, args, limit))), deadline, limit
        )
        self._release(evaluator)
        if frame_type == _ERROR:
            raise _rebuild_exception(data)
        return _loads(data)

    def close(self) -> None:
        """Stop this process's evaluators; the owner also stops the zygote and all evaluators."""
        state = self._state
        with state.lock:
            if state.closed:
                return
            state.closed = True
            evaluators = list(state.all.values())
            state.all.clear()
            state.idle.clear()
            state.available.notify_all()
        for evaluator in evaluators:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(evaluator.pidfd, signal.SIGKILL)
            evaluator.close()
        if state.control is not None:
            state.control.close()
        if os.getpid() != self._owner:
            return
        self._zygote.terminate()
        try:
            self._zygote.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._zygote.kill()
            self._zygote.wait()
        self._generation_map.close()
        shutil.rmtree(self._folder, ignore_errors=True)

    def __enter__(self) -> IsolatedExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # The pool ------------------------------------------------------------------------------------
    def _exchange(
        self, evaluator: _Evaluator, payload: bytes, deadline: float, limit: float
    ) -> tuple[int, bytes]:
        """Send one request and read the first answer frame; past ``deadline`` the evaluator is
        killed (and replaced) and the caller gets :class:`QueryTimeout`."""
        try:
            evaluator.channel.send(payload)
            return evaluator.channel.read_frame(deadline)
        except TimeoutError:
            self._kill(evaluator, replace=True)
            raise QueryTimeout(limit) from None
        except (EOFError, OSError) as error:
            self._kill(evaluator, replace=True)
            raise StoreError("the query evaluator stopped unexpectedly") from error

    def _checkout(self, deadline: float, limit: float) -> _Evaluator:
        state = self._state
        with state.lock:
            while True:
                if state.closed:
                    raise StoreError("the query executor was closed")
                if state.idle:
                    evaluator: _Evaluator | None = state.idle.pop()
                    break
                if state.live < state.size:
                    state.live += 1
                    evaluator = None
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise QueryTimeout(limit)
                state.available.wait(remaining)
        if evaluator is not None:
            if evaluator.generation == self._current_generation():
                return evaluator
            self._retire(evaluator, count=False)  # forked before an update: replace it
        try:
            return self._spawn(wait=max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            with state.lock:
                state.live -= 1
                state.available.notify()
            raise QueryTimeout(limit) from None
        except BaseException:
            with state.lock:
                state.live -= 1
                state.available.notify()
            raise

    def _spawn(self, wait: float | None = None) -> _Evaluator:
        """A new evaluator from the zygote (counted in ``live`` by the caller).

        ``wait`` bounds the time the zygote may take (it answers nothing while it applies an
        update); past it, the control connection is dropped, so that the late answer goes
        nowhere (the evaluator forked for it sees its socket closed and exits), and
        ``TimeoutError`` is raised.
        """
        state = self._state
        deadline = None if wait is None else time.monotonic() + wait
        if not state.control_lock.acquire(timeout=-1 if wait is None else wait):
            raise TimeoutError
        try:
            if state.control is None:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    sock.connect(self._control_path)
                except OSError as error:
                    sock.close()
                    raise StoreError("the query evaluators are not running") from error
                state.control = _Channel(sock)
            sock = state.control.sock
            data, fds = b"", []
            try:
                sock.settimeout(None)
                sock.sendall(_frame(_SPAWN))
                while len(data) < _FRAME.size + _SPAWNED.size:
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
                state.control.close()
                state.control = None
                if isinstance(error, TimeoutError):
                    raise
                raise StoreError("the query evaluators are not running") from error
        finally:
            state.control_lock.release()
        frame_type = data[0]
        if frame_type != _OK or len(fds) != 2:
            for fd in fds:
                os.close(fd)
            raise StoreError("the query evaluators could not start a new evaluator")
        pid, generation = _SPAWNED.unpack_from(data, _FRAME.size)
        evaluator = _Evaluator(pid, fds[1], _Channel(socket.socket(fileno=fds[0])), generation)
        with state.lock:
            state.all[evaluator.pidfd] = evaluator
        return evaluator

    def _release(self, evaluator: _Evaluator) -> None:
        state = self._state
        with state.lock:
            if state.closed or evaluator.pidfd not in state.all:
                evaluator.close()
                return
            state.idle.append(evaluator)
            state.available.notify()

    def _retire(self, evaluator: _Evaluator, *, count: bool = True) -> None:
        """Close an idle evaluator (it exits when its socket closes)."""
        state = self._state
        with state.lock:
            state.all.pop(evaluator.pidfd, None)
            if count:
                state.live -= 1
                state.available.notify()
        evaluator.close()

    def _kill(self, evaluator: _Evaluator, *, replace: bool) -> None:
        """Kill a busy evaluator, wait until it is gone, and (``replace``) start its successor."""
        _kill(evaluator.pidfd)
        state = self._state
        with state.lock:
            state.all.pop(evaluator.pidfd, None)
        evaluator.close()
        if replace:  # at once, unless the zygote is busy with an update: then on next use
            try:
                self._release(self._spawn(wait=SPAWN_WAIT_SECONDS))
                return
            except (StoreError, TimeoutError):
                pass
        with state.lock:
            state.live -= 1
            state.available.notify()

    def evaluator_pids(self) -> list[int]:
        """The pids of this process's evaluators (for tests and diagnostics)."""
        with self._state.lock:
            return sorted(evaluator.pid for evaluator in self._state.all.values())

    def _reset_after_fork(self) -> None:
        """In a forked child: the parent's evaluators are not ours. Close our copies of them."""
        inherited = self._state
        self._state = _ProcessState(self.workers)
        for evaluator in inherited.all.values():
            evaluator.close()  # only this process's descriptors; the parent's stay open
        if inherited.control is not None:
            inherited.control.close()


def _after_fork(reference: weakref.ref[IsolatedExecutor]) -> None:
    executor = reference()
    if executor is not None:
        executor._reset_after_fork()


class _Body:
    """The chunks of one answer, read from the evaluator as the caller iterates.

    When the whole answer is already buffered (small answers arrive in one read) the evaluator
    goes back to the pool at once. An answer closed before its end kills the evaluator.
    """

    def __init__(self, executor: IsolatedExecutor, evaluator: _Evaluator) -> None:
        self._executor: IsolatedExecutor | None = executor
        self._evaluator = evaluator
        self._ready: deque[bytes] = deque()
        while (frame := evaluator.channel.complete_frame()) is not None:
            frame_type, data = frame
            if frame_type == _CHUNK:
                self._ready.append(data)
            else:
                self._finish(frame_type == _END)
                break

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self._ready:
            return self._ready.popleft()
        if self._executor is None:
            raise StopIteration
        try:
            frame_type, data = self._evaluator.channel.read_frame(time.monotonic() + STALL_SECONDS)
        except (TimeoutError, EOFError, OSError) as error:
            self._finish(False)
            raise StoreError("the query evaluator stopped sending its answer") from error
        if frame_type == _CHUNK:
            return data
        self._finish(frame_type == _END)
        raise StopIteration

    def _finish(self, complete: bool) -> None:
        executor, self._executor = self._executor, None
        if executor is None:
            return
        if complete:
            executor._release(self._evaluator)
        else:
            executor._kill(self._evaluator, replace=False)

    def close(self) -> None:
        """Stop reading: the evaluator of an unfinished answer is killed (it cannot resync)."""
        self._ready.clear()
        self._finish(False)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()


class ExecutorStore:
    """A :class:`~iomkg.store.base.GraphStore` whose reads go through an :class:`IsolatedExecutor`.

    What the web app's pages, health check and descriptions read then has the same time limit
    as the endpoint, and sees updates as soon as they are made. Results come back as the
    pyoxigraph objects a store returns (parsed from SPARQL JSON, or N-Triples for graphs), cut at
    the server's row limit. Loading and dumping are not possible through it.
    """

    _JSON = formats.by_name("json", "results")
    _NT = formats.by_name("nt", "graph")

    def __init__(self, executor: IsolatedExecutor) -> None:
        self.executor = executor

    def query(
        self,
        sparql: str,
        *,
        substitutions: Mapping[str, Term] | None = None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        base_iri: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> QueryResult:
        request = QueryRequest(
            sparql,
            results_format=self._JSON,
            graph_format=self._NT,
            default_graphs=tuple(default_graphs) if default_graphs is not None else None,
            named_graphs=tuple(named_graphs) if named_graphs is not None else None,
            substitutions=substitutions,
            base_iri=base_iri,
            prefixes=dict(prefixes or {}),
        )
        answer = self.executor.run_query(request)
        body = b"".join(answer.chunks)
        if answer.kind == "results":
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        graph = ox.Store()
        graph.load(body, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph())
        triples = graph.query("CONSTRUCT WHERE { ?s ?p ?o }")
        assert isinstance(triples, ox.QueryTriples)
        return triples

    def update(
        self,
        sparql: str,
        *,
        base_iri: str | None = None,
        using_graphs: Sequence[str] | None = None,
        using_named_graphs: Sequence[str] | None = None,
    ) -> None:
        self.executor.run_update(
            UpdateRequest(
                sparql,
                using_graphs=tuple(using_graphs or ()),
                using_named_graphs=tuple(using_named_graphs or ()),
                base_iri=base_iri,
            )
        )

    def load(
        self,
        source: Path | bytes | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        base_iri: str | None = None,
    ) -> None:
        raise StoreError(
            "a served store cannot be bulk-loaded: stop the server and use `iomkg load`"
        )

    def dump(
        self,
        output: Path | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> None:
        raise StoreError("a served store is not dumped through the server: use `iomkg export`")

    def named_graphs(self) -> list[str]:
        graphs: list[str] = self.executor.call("named_graphs")
        return graphs

    def quad_count(self, graph: str | None = None) -> int:
        count: int = self.executor.call("quad_count", graph)
        return count


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m iomkg.executor CONFIG``: the zygote (started by :class:`IsolatedExecutor`)."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if len(arguments) != 1:
        print(
            "usage: python -m iomkg.executor CONFIG-JSON (started by IsolatedExecutor)",
            file=sys.stderr,
        )
        return 2
    return _zygote_main(arguments[0])


if __name__ == "__main__":
    sys.exit(main())
