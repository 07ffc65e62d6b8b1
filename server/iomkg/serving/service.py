"""The query service: what the web app (and the saved-query API) call to run SPARQL.

A request carries the query, the dataset overrides of the SPARQL Protocol and the formats the
client accepts for each kind of answer; the service runs it, picks the format that fits the
kind of result, and streams the serialised bytes. Two implementations share this contract:

* ``iomkg.serving.executor.IsolatedExecutor`` runs each query in an evaluator process that is killed
  when the query outlives its time limit (``iomkg serve`` and the development server);
* ``iomkg.serving.executor.DirectExecutor`` evaluates in the calling process: over a remote engine
  (``--backend``), and over the embedded store where the caller owns the process (tests).

Both write answers through ``iomkg.serving.executor.writers.answer``: one row cap, one serialiser.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import pyoxigraph as ox

from iomkg import formats, sparqltext
from iomkg.config import Settings
from iomkg.formats import Format, Kind
from iomkg.store.base import GraphStore, QueryResult, Term


class QueryTimeout(Exception):
    """The query ran past its time limit and was stopped, or (``queued``) never ran: every
    evaluator stayed busy with others' queries until the limit, which counts from arrival."""

    def __init__(self, seconds: float, *, queued: bool = False) -> None:
        self.seconds = seconds
        self.queued = queued
        super().__init__(
            f"the query waited the whole {seconds:g} s limit for a free query evaluator and "
            "did not run: the server is busy"
            if queued
            else f"the query ran longer than the {seconds:g} s limit and was stopped"
        )


class NotAcceptable(Exception):
    """No offered format fits the client's Accept for this kind of result."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        self.offered = formats.offered_media_types(kind)
        super().__init__("none of the offered formats is acceptable: " + ", ".join(self.offered))


@dataclass(frozen=True)
class QueryRequest:
    """One query, as the protocol layer understood it."""

    sparql: str
    results_format: Format | None = None  # for SELECT/ASK; None = nothing acceptable
    graph_format: Format | None = None  # for CONSTRUCT/DESCRIBE; None = nothing acceptable
    default_graphs: tuple[str, ...] | None = None
    named_graphs: tuple[str, ...] | None = None
    substitutions: Mapping[str, Term] | None = None
    base_iri: str | None = None
    max_rows: int | None = None
    prefixes: Mapping[str, str] = field(default_factory=dict)
    allowed_services: tuple[str, ...] = ()  # SERVICE endpoints the query may call; none by default


@dataclass(frozen=True)
class UpdateRequest:
    sparql: str
    using_graphs: tuple[str, ...] = ()
    using_named_graphs: tuple[str, ...] = ()
    base_iri: str | None = None
    allowed_services: tuple[str, ...] = ()  # LOAD sources and SERVICE endpoints it may fetch


@dataclass
class QueryResponse:
    """Headers first (kind, format, whether rows were cut), then the body in chunks."""

    kind: Kind
    format: Format
    chunks: Iterator[bytes]
    truncated: bool = False
    row_limit: int | None = None


class AsyncChunks(Protocol):
    """The body of an :class:`AsyncQueryResponse`; ``aclose`` when it is not read to the end."""

    def __aiter__(self) -> AsyncChunks: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


@dataclass
class AsyncQueryResponse:
    """:class:`QueryResponse` for a coroutine. ``whole`` is the entire body when it was already
    at hand with the head (small answers: then ``chunks`` has nothing more to give)."""

    kind: Kind
    format: Format
    chunks: AsyncChunks
    truncated: bool = False
    row_limit: int | None = None
    whole: bytes | None = None


class QueryExecutor(Protocol):
    def run_query(self, request: QueryRequest, timeout: float | None = None) -> QueryResponse: ...

    def run_update(self, request: UpdateRequest, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...


class AsyncQueryExecutor(QueryExecutor, Protocol):
    """An executor an event loop can wait on (the ASGI gateway's)."""

    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse: ...


class ServingExecutor(AsyncQueryExecutor, Protocol):
    """What ``iomkg serve`` runs on: the embedded evaluator (``IsolatedExecutor``) or a remote
    engine (``DirectExecutor``)."""

    def call(self, name: str, *args: object, timeout: float | None = None) -> Any:
        """A small read method of the store (``named_graphs``, ``quad_count``)."""
        ...

    def revive_if_gone(self) -> bool:
        """Start again what died (the server's main loop calls this once a second)."""
        ...


def time_limit(settings: Settings, timeout: float | None) -> float:
    """A query's time limit: the caller's, else the server's (``--query-timeout``)."""
    return timeout if timeout is not None else settings.query_timeout


def row_cap(settings: Settings, request: QueryRequest) -> int:
    """The most rows an answer may hold: the server's cap, or the request's own if lower."""
    cap = settings.max_rows
    return min(cap, request.max_rows) if request.max_rows is not None else cap


def evaluate(store: GraphStore, request: QueryRequest) -> QueryResult:
    """Run a query; SERVICE to anything not allow-listed raises ``sparqltext.NetworkRefused``.

    pyoxigraph would call any SERVICE endpoint itself, so the text is checked here, where every
    executor passes, and not only in the web layer.
    """
    sparqltext.check_network_access(request.sparql, request.allowed_services, request.base_iri)
    return store.query(
        request.sparql,
        substitutions=request.substitutions,
        default_graphs=request.default_graphs,
        named_graphs=request.named_graphs,
        base_iri=request.base_iri,
        prefixes=request.prefixes,
    )


def apply_update(store: GraphStore, request: UpdateRequest) -> None:
    """Run an update; LOAD or SERVICE to anything not allow-listed raises ``NetworkRefused``."""
    sparqltext.check_network_access(request.sparql, request.allowed_services, request.base_iri)
    store.update(
        request.sparql,
        base_iri=request.base_iri,
        using_graphs=request.using_graphs,
        using_named_graphs=request.using_named_graphs,
    )


def choose_format(request: QueryRequest, kind: Kind) -> Format:
    chosen = request.graph_format if kind == "graph" else request.results_format
    if chosen is None:
        raise NotAcceptable(kind)
    return chosen


__all__ = [
    "AsyncChunks",
    "AsyncQueryExecutor",
    "AsyncQueryResponse",
    "NotAcceptable",
    "QueryExecutor",
    "QueryRequest",
    "QueryResponse",
    "QueryTimeout",
    "ServingExecutor",
    "UpdateRequest",
    "apply_update",
    "evaluate",
    "ox",
    "row_cap",
    "time_limit",
]
