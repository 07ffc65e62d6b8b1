"""Serialising capped results: at most ``max_rows`` rows or triples, spooled before the head.

The evaluator reads at most ``max_rows + 1`` solutions or triples and serialises the first
``max_rows`` into a :class:`Spool` (memory up to :data:`SPILL_BYTES`, then a temporary file)
before it sends the head, so that ``truncated`` is known before the first byte of the body and
evaluation stops at the cap. SELECT results are written by :func:`write_solutions`, which gives
pyoxigraph's own bytes (the tests compare them); graphs are written by pyoxigraph itself.

Why by hand: pyoxigraph's result serialiser writes every solution it is given and cannot stop at
a row count or tell whether more followed (and rdflib's would need every solution turned into
rdflib terms first); small answers, the common case, still go through pyoxigraph's
(:func:`write_small_solutions`).
Every front (the evaluators, :mod:`iomkg.serving.executor.direct`) writes through :func:`answer`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import IO, cast

import pyoxigraph as ox

from iomkg import formats
from iomkg.formats import Format
from iomkg.serving import service
from iomkg.serving.executor import wire
from iomkg.serving.service import QueryRequest
from iomkg.store.base import GraphStore, QueryResult, Term

SPILL_BYTES = 8 * 1024 * 1024  # a result larger than this waits for its head in a temporary file


class OverBudget(Exception):
    """A :class:`Spool` was given more bytes than its budget."""


class Spool:
    """What is written before the head is sent: in memory up to SPILL_BYTES, then in a file.

    With a ``budget``, a write past that many bytes raises :class:`OverBudget` (and sets
    ``over_budget``): the writer stops there.
    """

    def __init__(self, budget: int | None = None) -> None:
        self._parts: list[bytes] = []
        self._file: IO[bytes] | None = None
        self.size = 0
        self.budget = budget
        self.over_budget = False

    def write(self, data: bytes) -> int:
        if not data:
            return 0
        self.size += len(data)
        if self.budget is not None and self.size > self.budget:
            self.over_budget = True
            raise OverBudget
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

    def close(self) -> None:
        """Drop what was written (an answer that will not be sent)."""
        self._parts = []
        if self._file is not None:
            self._file.close()

    def chunks(self) -> Iterator[bytes]:
        if self._file is None:
            data = b"".join(self._parts)
            self._parts = []
            view = memoryview(data)
            for start in range(0, len(data), wire.CHUNK_BYTES):
                yield bytes(view[start : start + wire.CHUNK_BYTES])
            return
        with self._file:
            self._file.seek(0)
            while block := self._file.read(wire.CHUNK_BYTES):
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
    solutions: ox.QuerySolutions, fmt: Format, output: IO[bytes] | Spool, max_rows: int
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

    def cached(value: Term | ox.Triple) -> str:
        text = cache.get(value)
        if text is None:
            text = encode(value)
            if len(cache) < _TERM_CACHE_SIZE:
                cache[value] = text
        return text

    names = [variable.value for variable in solutions.variables]
    openings = [layout.opening(name) for name in names]
    closing, positional = layout.closing, layout.positional
    cell_separator, row_open, row_close = layout.cell_separator, layout.row_open, layout.row_close
    row_separator = layout.row_separator
    pending = [layout.head(names)]
    truncated = False
    for count, solution in enumerate(solutions):
        if count >= max_rows:
            truncated = True
            break
        if positional:  # a cell per variable, empty when unbound
            cells = ["" if value is None else cached(value) for value in solution]
        else:  # only the bound ones, each with its name
            cells = [
                opening + cached(value) + closing
                for opening, value in zip(openings, solution, strict=True)
                if value is not None
            ]
        row = row_open + cell_separator.join(cells) + row_close
        pending.append(row_separator + row if count else row)
        if len(pending) >= _ROWS_PER_WRITE:
            output.write("".join(pending).encode())
            pending = []
    pending.append(layout.tail)
    output.write("".join(pending).encode())
    return truncated


def write_triples(
    triples: Iterable[ox.Triple],
    fmt: Format,
    output: IO[bytes] | Spool,
    max_rows: int,
    prefixes: Mapping[str, str] | None = None,
) -> bool:
    """At most ``max_rows`` triples in ``fmt`` (formats.write_graph); True when cut."""
    return formats.write_graph(triples, fmt, cast(IO[bytes], output), prefixes, max_rows)


#: The fewest bytes a solution takes in each format pyoxigraph writes as this module does:
#: ``{}`` and a comma in JSON, a line end in CSV and TSV. (XML is ours: it escapes more.)
_MIN_ROW_BYTES = {
    ox.QueryResultsFormat.JSON: 3,
    ox.QueryResultsFormat.CSV: 2,
    ox.QueryResultsFormat.TSV: 1,
}


def write_small_solutions(solutions: ox.QuerySolutions, fmt: Format, max_rows: int) -> Spool | None:
    """The solutions written by pyoxigraph itself, if they provably fit under the row cap.

    pyoxigraph's writer is much faster than :func:`write_solutions` but cannot stop at a row
    count. It can stop at a byte count: a body of at most ``max_rows`` times the fewest bytes
    a row takes holds at most ``max_rows`` rows. So it writes into a spool with that budget;
    when the budget runs out, the answer is ``None`` (the solutions are spent: evaluate again
    and use :func:`write_solutions`). Small answers, the common case, are written once.
    """
    least = _MIN_ROW_BYTES.get(fmt.results_format) if fmt.results_format is not None else None
    if least is None:
        return None
    spool = Spool(budget=least * max_rows)
    try:
        solutions.serialize(cast(IO[bytes], spool), format=fmt.results_format)
    except Exception:
        if spool.over_budget:
            return None
        raise
    return spool


@dataclass(frozen=True)
class Answer:
    """One evaluated query: the kind of result, its format, whether rows were cut, the body."""

    kind: formats.Kind
    format: Format
    truncated: bool
    body: Spool


def answer(
    store: GraphStore, request: QueryRequest, max_rows: int, *, evaluate_twice: bool = True
) -> Answer:
    """Evaluate a request into a capped, spooled answer: an evaluator's work for one query.

    ``evaluate_twice`` lets a SELECT answer too large for pyoxigraph's fast writer be evaluated
    again for the capped one (cheap on the embedded store); a remote engine's answer is read
    once, so it goes to the capped writer directly.
    """
    result: QueryResult = service.evaluate(store, request)
    kind = formats.kind_of(result)
    fmt = service.choose_format(request, kind)
    spool = Spool()
    truncated = False
    if isinstance(result, ox.QuerySolutions):
        small = write_small_solutions(result, fmt, max_rows) if evaluate_twice else None
        if small is not None:
            spool = small
        else:
            if evaluate_twice:
                result = service.evaluate(store, request)
                assert isinstance(result, ox.QuerySolutions)
            truncated = write_solutions(result, fmt, spool, max_rows)
    elif isinstance(result, ox.QueryTriples):
        truncated = write_triples(result, fmt, spool, max_rows, request.prefixes)
    else:
        spool.write(formats.serialize_to_bytes(result, fmt))
    return Answer(kind, fmt, truncated, spool)
