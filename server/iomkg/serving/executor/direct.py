"""The executor that runs queries in the calling process: over a remote engine (``--backend``),
and over the embedded store for the CLI, the tests and any in-process use of the web app.

Nothing of iomkg's needs killing here: a remote engine evaluates in its own process, and the
embedded store is used this way only where the caller owns the process. Every answer goes
through the same capped writer as the embedded evaluator's
(:func:`iomkg.serving.executor.writers.answer`), so the row cap, the bytes and the headers are
those of
``iomkg serve`` by construction. The time limit is the same figure: a remote engine is sent the
time a query has left (its own limit where it takes one, the connection's read timeout in any
case); over the embedded store a query that ran past its limit is answered as timed out, as the
served one is, but its CPU is only freed when it ends: stopping pyoxigraph early takes a killable
process, which is what :class:`~iomkg.serving.executor.IsolatedExecutor` is for.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

from iomkg.config import Settings
from iomkg.serving import service
from iomkg.serving.executor import writers
from iomkg.serving.service import (
    AsyncQueryResponse,
    QueryRequest,
    QueryResponse,
    QueryTimeout,
    UpdateRequest,
)
from iomkg.store.base import GraphStore
from iomkg.store.remote import RemoteStore, RemoteTimeout


class DirectExecutor:
    """A :class:`~iomkg.serving.service.ServingExecutor` evaluating on ``store`` in this process.

    At most ``workers`` queries run at once from this process (more wait, and the wait counts
    towards their limit, as with the embedded evaluator).
    """

    def __init__(self, settings: Settings, store: GraphStore, *, workers: int = 4) -> None:
        self.settings = settings
        self.store = store
        self._slots = threading.BoundedSemaphore(workers)

    def _within(self, seconds: float) -> GraphStore:
        """The store, asked to give up after ``seconds`` where it can (a remote engine)."""
        if isinstance(self.store, RemoteStore):
            return self.store.limited(max(0.001, seconds))
        return self.store

    def run_query(self, request: QueryRequest, timeout: float | None = None) -> QueryResponse:
        limit = service.time_limit(self.settings, timeout)
        deadline = time.monotonic() + limit
        max_rows = service.row_cap(self.settings, request)
        if not self._slots.acquire(timeout=limit):
            raise QueryTimeout(limit, queued=True)
        try:
            store = self._within(deadline - time.monotonic())
            # A remote answer is read once; the embedded store evaluates again cheaply.
            remote = isinstance(store, RemoteStore)
            answer = writers.answer(store, request, max_rows, evaluate_twice=not remote)
        except RemoteTimeout as error:
            raise QueryTimeout(limit) from error
        finally:
            self._slots.release()
        if time.monotonic() > deadline:
            answer.body.close()
            raise QueryTimeout(limit)
        return QueryResponse(
            answer.kind,
            answer.format,
            answer.body.chunks(),
            truncated=answer.truncated,
            row_limit=max_rows,  # as the embedded evaluator's head says it
        )

    async def run_query_async(
        self, request: QueryRequest, timeout: float | None = None
    ) -> AsyncQueryResponse:
        """The same, in a thread: the event loop serves other clients meanwhile."""
        answer = await asyncio.to_thread(self.run_query, request, timeout)
        return AsyncQueryResponse(
            answer.kind,
            answer.format,
            _SpooledChunks(answer.chunks),
            truncated=answer.truncated,
            row_limit=answer.row_limit,
        )

    def run_update(self, request: UpdateRequest, timeout: float | None = None) -> None:
        limit = service.time_limit(self.settings, timeout)
        try:
            service.apply_update(self._within(limit), request)
        except RemoteTimeout as error:
            raise QueryTimeout(limit) from error

    def call(self, name: str, *args: object, timeout: float | None = None) -> Any:
        """The store's small read methods (``named_graphs``, ``quad_count``), as the embedded
        executor offers them to :class:`~iomkg.serving.executor.store.ExecutorStore`."""
        if name not in ("named_graphs", "quad_count"):
            raise ValueError(f"no such store method: {name}")
        store = self._within(service.time_limit(self.settings, timeout))
        return getattr(store, name)(*args)

    def revive_if_gone(self) -> bool:
        """Nothing of ours to revive: the engine is someone else's process, or this one."""
        return False

    def close(self) -> None:
        if isinstance(self.store, RemoteStore):
            self.store.http.clear()

    def __enter__(self) -> DirectExecutor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class _SpooledChunks:
    """An answer's spooled body for a coroutine (in memory, or a local file: quick to read)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks

    def __aiter__(self) -> _SpooledChunks:
        return self

    async def __anext__(self) -> bytes:
        try:
            return next(self._chunks)
        except StopIteration:
            raise StopAsyncIteration from None

    async def aclose(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
