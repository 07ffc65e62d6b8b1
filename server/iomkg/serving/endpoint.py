"""The SPARQL endpoint's one core: an HTTP request's parts in, a :class:`Reply` out.

Every front answers ``/sparql`` and ``/api/queries/NAME`` through this module and nothing else:
the ASGI gateway of ``iomkg serve`` (:mod:`iomkg.web.gateway`) and the Flask routes (the
development server, Flask's test client). They only turn their framework's request into a
:class:`Request` and a :class:`Reply` back into their framework's response, so they answer
alike by construction. The core owns the rest:

* the SPARQL 1.1 Protocol (:mod:`iomkg.serving.protocol`: parameters, dataset, negotiation, update
  authorisation) and the saved-query API's parameters (:mod:`iomkg.catalog`);
* the executor call, with the server's time limit and row cap;
* what a client is told: statuses and messages for every failure, ``X-Row-Limit`` and
  ``Warning`` on a cut result, ``Retry-After`` when the server was busy, CORS for reads,
  ``Vary`` and ``nosniff`` on every answer;
* the access-log record of the request.

A request is handled in two steps so that the blocking and the event-loop fronts share all but
the wait: :meth:`Endpoint.sparql` / :meth:`Endpoint.saved_query` decide (a :class:`Reply` at
once, or a :class:`Work` to run), and :meth:`Endpoint.run` / :meth:`Endpoint.run_async` run the
work and make its reply. A browser (a client that prefers HTML) gets :class:`PageWanted`: the
pages are the web layer's, and so is an HTML error page (``Reply.for_browser``).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyoxigraph as ox
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

from iomkg import catalog, descriptions, formats, sparqltext
from iomkg.config import Settings
from iomkg.serving import protocol
from iomkg.serving.cors import CorsPolicy
from iomkg.serving.service import (
    AsyncChunks,
    AsyncQueryExecutor,
    AsyncQueryResponse,
    NotAcceptable,
    QueryResponse,
    QueryTimeout,
)
from iomkg.store.base import QuerySyntaxError, StoreError, StoreUnavailable, UpdateFailed
from iomkg.vocab import output_prefixes

TEXT = "text/plain; charset=utf-8"
JSON = "application/json"
ROW_LIMIT_HEADER = "X-Row-Limit"
#: How long a client told 503 because the server was busy or restarting should wait.
RETRY_SOON_SECONDS = "5"

Body = bytes | Iterator[bytes] | AsyncChunks
ErrorStyle = Literal["text", "json"]

log = logging.getLogger(__name__)


# Requests and replies ------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """The parts of an HTTP request the endpoint looks at: raw bytes, nothing decoded yet."""

    method: str
    path: str
    query_string: bytes = b""
    content_type: str | None = None
    body: bytes = b""
    accept: str | None = None  # the header as sent
    authorization: str | None = None
    origin: str | None = None
    host: str | None = None
    scheme: str = "http"
    client: str = "-"

    @property
    def target(self) -> str:
        """``path?query`` as the access log writes it (undecoded)."""
        query = self.query_string.decode("latin-1")
        return f"{self.path}?{query}" if query else self.path

    def url_for(self, path: str) -> str:
        """An absolute URL on this server (the Host the client used)."""
        return f"{self.scheme}://{self.host or 'localhost'}{path}"


@dataclass
class AccessRecord:
    """What the access log says of one request; ``query_seconds`` grows while the body streams."""

    client: str
    method: str
    target: str
    started: float = field(default_factory=time.perf_counter)
    query_seconds: float = 0.0


@dataclass
class Reply:
    """An answer: status, headers, body. ``for_browser`` marks an error for a client that
    prefers HTML (the web layer renders its page); ``record`` is the access-log record."""

    status: int
    headers: list[tuple[str, str]]
    body: Body
    record: AccessRecord
    for_browser: bool = False

    @property
    def message(self) -> str:
        """The text of a refusal (its body)."""
        return self.body.decode("utf-8") if isinstance(self.body, bytes) else ""

    def header(self, name: str) -> str | None:
        wanted = name.lower()
        return next((value for key, value in self.headers if key.lower() == wanted), None)


@dataclass(frozen=True)
class Work:
    """A query or update to run, with what its reply needs."""

    operation: protocol.QueryCall | protocol.UpdateCall | Description
    record: AccessRecord
    cors: tuple[tuple[str, str], ...]
    errors: ErrorStyle
    browser: bool


@dataclass(frozen=True)
class Description:
    """The service description, in ``format``; the URLs it names are those the client used."""

    format: formats.Format
    endpoint_url: str
    void_url: str


@dataclass(frozen=True)
class PageWanted:
    """A browser asked: the web layer answers with a page (the query editor, a saved query's
    form). ``call`` is the parsed query, when there was one; ``saved`` the saved query."""

    call: protocol.QueryCall | None = None
    saved: catalog.SavedQuery | None = None
    values: Mapping[str, str] = field(default_factory=dict)


Step = Reply | Work | PageWanted


# Accept -----------------------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def parse_accept(header: str | None) -> tuple[tuple[str, float], ...]:
    """``Accept`` as ``(media range, quality)`` pairs, by werkzeug's parser (cached: clients send
    the same few headers again and again)."""
    return tuple((value, quality) for value, quality in parse_accept_header(header, MIMEAccept))


@functools.lru_cache(maxsize=256)
def prefers_html(header: str | None) -> bool:
    """Whether this ``Accept`` is a browser's: it names HTML and likes it best."""
    return formats.prefers_html(parse_accept(header), formats.RESULT_FORMATS, formats.GRAPH_FORMATS)


# Failures ---------------------------------------------------------------------------------------


def failure(error: Exception) -> tuple[int, str, dict[str, str]]:
    """Status, message and extra headers for what an executor raised. Anything unexpected is
    re-raised: the front answers 500 and logs it."""
    if isinstance(error, QuerySyntaxError):
        return 400, f"the SPARQL does not parse: {error}", {}
    if isinstance(error, sparqltext.NetworkRefused):
        return 403, str(error), {}
    if isinstance(error, sparqltext.DatasetError | UpdateFailed):
        return 400, str(error), {}
    if isinstance(error, NotAcceptable):
        return 406, str(error), {}
    if isinstance(error, QueryTimeout) and error.queued:
        message = (
            f"{error}; try again shortly (the server's query time limit is {error.seconds:g} s, "
            "IOMKG_QUERY_TIMEOUT)"
        )
        return 503, message, {"Retry-After": RETRY_SOON_SECONDS}
    if isinstance(error, QueryTimeout):
        # Not worth trying again as it is: no Retry-After, and the words say what to change.
        return (
            503,
            (
                f"{error} (the server's query time limit is {error.seconds:g} s, "
                "IOMKG_QUERY_TIMEOUT): narrow the query (more selective patterns, a LIMIT) "
                "before sending it again"
            ),
            {},
        )
    if isinstance(error, StoreUnavailable):
        return 503, str(error), {"Retry-After": RETRY_SOON_SECONDS}
    if isinstance(error, StoreError):
        # The server's fault, not the client's: the log must say what it was.
        log.error("the store failed on a request: %s", error)
        return 500, f"the store failed: {error}", {}
    raise error


def row_limit_headers(
    truncated: bool, row_limit: int | None, max_rows: int
) -> list[tuple[str, str]]:
    """``X-Row-Limit`` and ``Warning`` when a result was cut at the row limit, else none."""
    if not truncated:
        return []
    limit = row_limit if row_limit is not None else max_rows
    return [
        (ROW_LIMIT_HEADER, str(limit)),
        ("Warning", f'199 iomkg "result truncated to the server\'s row limit of {limit} rows"'),
    ]


# The core ---------------------------------------------------------------------------------------

#: Builds the SPARQL Service Description: (endpoint URL, VoID URL) -> triples.
Describer = Callable[[str, str], Iterable[ox.Triple]]


class Endpoint:
    """``/sparql`` and ``/api/queries/NAME`` (see the module docstring).

    ``saved_queries`` gives the current catalogue (re-read when its files change);
    ``describe`` builds the service description (it reads the store: a blocking call);
    ``on_update`` is called after each update this endpoint applied (to drop cached figures).
    """

    def __init__(
        self,
        settings: Settings,
        executor: AsyncQueryExecutor,
        *,
        saved_queries: Callable[[], catalog.Catalog],
        describe: Describer,
        on_update: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.executor = executor
        self.saved_queries = saved_queries
        self.describe = describe
        self.on_update = on_update
        self.cors = CorsPolicy.of(settings)
        self.common_headers: tuple[tuple[str, str], ...] = (
            ("Vary", self.cors.vary),
            ("X-Content-Type-Options", "nosniff"),
        )

    # Step one: decide ---------------------------------------------------------------------------
    def sparql(self, request: Request) -> Step:
        """A request to ``/sparql``: a query, an update or a service description."""
        record = AccessRecord(request.client, request.method, request.target)
        browser = prefers_html(request.accept)
        cors = self._cors(request)
        if len(request.query_string) > self.settings.max_request_bytes:
            return self._refusal(
                414,
                f"the URL is longer than the {self.settings.max_request_bytes}-byte limit: "
                "send the query by POST",
                record,
                cors,
                browser=browser,
            )
        http = protocol.HttpRequest(
            method=request.method,
            query_string=request.query_string,
            content_type=request.content_type,
            body=request.body,
            accept=parse_accept(request.accept),
            authorization=request.authorization,
            origin=request.origin,
            host=request.host,
        )
        try:
            call = protocol.parse_request(http, self.settings)
        except protocol.ProtocolError as error:
            return self._refusal(
                error.status, error.message, record, cors, error.headers, browser=browser
            )
        if isinstance(call, protocol.DescriptionCall):
            if call.html:
                return PageWanted()
            if call.format is None:
                refusal = protocol.not_acceptable(formats.GRAPH_FORMATS)
                return self._refusal(refusal.status, refusal.message, record, cors, browser=False)
            description = Description(
                call.format, request.url_for("/sparql"), request.url_for("/.well-known/void")
            )
            return Work(description, record, cors, "text", browser)
        if isinstance(call, protocol.UpdateCall):
            return Work(call, record, (), "text", browser)  # updates never get CORS headers
        if call.html:
            return PageWanted(call=call)
        return Work(call, record, cors, "text", browser)

    def saved_query(self, name: str, request: Request) -> Step:
        """A request to ``/api/queries/NAME``: run the saved query with the URL's parameters.

        Errors are JSON (``{"error": …, "parameter": …}``, the OpenAPI ``Error`` schema) for
        programs; a browser gets the query's page.
        """
        record = AccessRecord(request.client, request.method, request.target)
        browser = prefers_html(request.accept)
        cors = self._cors(request)
        settings = self.settings

        def refuse(status: int, message: str, parameter: str | None = None) -> Reply:
            return self._json_refusal(status, message, record, cors, parameter, browser=browser)

        if len(request.query_string) > settings.max_request_bytes:
            return refuse(
                414, f"the URL is longer than the {settings.max_request_bytes}-byte limit"
            )
        try:
            pairs = protocol.parse_params(request.query_string)
            values = _single_values(pairs)
        except protocol.ProtocolError as error:
            return refuse(error.status, error.message)
        except catalog.ParameterError as error:
            return refuse(400, str(error), error.parameter)
        queries = self.saved_queries()
        try:
            saved = queries.get_query(name)
        except catalog.UnknownQuery as error:
            return refuse(404, str(error))
        try:  # only the formats of the query's kind: format=ttl on a SELECT is a 406
            choice = protocol.choose_formats(
                pairs, parse_accept(request.accept), {saved.kind: formats.TABLES[saved.kind]}
            )
        except protocol.ProtocolError as error:
            return refuse(error.status, error.message)
        if choice.html:
            return PageWanted(saved=saved, values=values)
        chosen = choice.graph if saved.kind == "graph" else choice.results
        if chosen is None:
            refusal = protocol.not_acceptable(saved.kind)
            return refuse(refusal.status, refusal.message)
        try:
            bound = catalog.prepare(settings, name, values, queries)
        except catalog.ParameterError as error:
            return refuse(400, str(error), error.parameter)
        except catalog.ServiceNotAllowed as error:
            return refuse(403, str(error))
        query = catalog.query_request(
            bound,
            settings,
            results_format=choice.results,
            graph_format=choice.graph,
            max_rows=settings.max_rows,
        )
        return Work(protocol.QueryCall(query, saved.kind), record, cors, "json", browser)

    # Step two: run --------------------------------------------------------------------------------
    def run(self, work: Work) -> Reply:
        """Run ``work`` in this thread (blocking until the executor answers)."""
        started = time.perf_counter()
        try:
            if isinstance(work.operation, Description):
                return self._described(work, work.operation)
            if isinstance(work.operation, protocol.UpdateCall):
                self.executor.run_update(
                    work.operation.request, timeout=self.settings.query_timeout
                )
                return self._updated(work)
            answer = self.executor.run_query(
                work.operation.request, timeout=self.settings.query_timeout
            )
        except Exception as error:
            return self._failed(error, work.record, work.cors, work.errors, work.browser)
        finally:
            work.record.query_seconds += time.perf_counter() - started
        return self._answered(work, answer, _timed(answer.chunks, work.record))

    async def run_async(self, work: Work) -> Reply:
        """Run ``work`` without blocking the event loop (an update or a description, which
        block on the store, wait in a thread)."""
        started = time.perf_counter()
        try:
            if isinstance(work.operation, Description):
                return await asyncio.to_thread(self._described, work, work.operation)
            if isinstance(work.operation, protocol.UpdateCall):
                await asyncio.to_thread(
                    self.executor.run_update,
                    work.operation.request,
                    timeout=self.settings.query_timeout,
                )
                return self._updated(work)
            answer = await self.executor.run_query_async(
                work.operation.request, timeout=self.settings.query_timeout
            )
        except Exception as error:
            return self._failed(error, work.record, work.cors, work.errors, work.browser)
        finally:
            work.record.query_seconds += time.perf_counter() - started
        body: Body = answer.whole if answer.whole is not None else answer.chunks
        return self._answered(work, answer, body)

    def answer(self, request: Request) -> Reply | PageWanted:
        """Both steps for ``/sparql``, blocking (the Flask route)."""
        step = self.sparql(request)
        return self.run(step) if isinstance(step, Work) else step

    def answer_saved(self, name: str, request: Request) -> Reply | PageWanted:
        """Both steps for ``/api/queries/NAME``, blocking (the Flask route)."""
        step = self.saved_query(name, request)
        return self.run(step) if isinstance(step, Work) else step

    # Replies ------------------------------------------------------------------------------------
    def _answered(
        self, work: Work, answer: QueryResponse | AsyncQueryResponse, body: Body
    ) -> Reply:
        headers = [("Content-Type", answer.format.content_type), *self.common_headers]
        headers += row_limit_headers(answer.truncated, answer.row_limit, self.settings.max_rows)
        headers += work.cors
        return Reply(200, headers, body, work.record)

    def _updated(self, work: Work) -> Reply:
        if self.on_update is not None:
            self.on_update()
        return Reply(204, list(self.common_headers), b"", work.record)

    def _failed(
        self,
        error: Exception,
        record: AccessRecord,
        cors: Sequence[tuple[str, str]],
        errors: ErrorStyle,
        browser: bool,
    ) -> Reply:
        try:
            status, message, extra = failure(error)
        except Exception:
            log.exception("unhandled error on %s %s", record.method, record.target)
            status, message, extra = (
                500,
                "internal server error: the server log has the details",
                {},
            )
        if errors == "json":
            return self._json_refusal(status, message, record, cors, None, extra, browser=browser)
        return self._refusal(status, message, record, cors, extra, browser=browser)

    def _refusal(
        self,
        status: int,
        message: str,
        record: AccessRecord,
        cors: Sequence[tuple[str, str]],
        extra: Mapping[str, str] | None = None,
        *,
        browser: bool,
    ) -> Reply:
        body = (message.rstrip("\n") + "\n").encode("utf-8")
        headers = [("Content-Type", TEXT), *(extra or {}).items(), *self.common_headers, *cors]
        return Reply(status, headers, body, record, for_browser=browser)

    def _json_refusal(
        self,
        status: int,
        message: str,
        record: AccessRecord,
        cors: Sequence[tuple[str, str]],
        parameter: str | None,
        extra: Mapping[str, str] | None = None,
        *,
        browser: bool,
    ) -> Reply:
        document: dict[str, str] = {"error": message}
        if parameter is not None:
            document["parameter"] = parameter
        body = (json.dumps(document) + "\n").encode("utf-8")
        headers = [("Content-Type", JSON), *(extra or {}).items(), *self.common_headers, *cors]
        return Reply(status, headers, body, record, for_browser=browser)

    def _described(self, work: Work, description: Description) -> Reply:
        triples = self.describe(description.endpoint_url, description.void_url)
        names = {**output_prefixes(self.settings.base_iri), **descriptions.PREFIXES}
        body = formats.graph_to_bytes(triples, description.format, names)
        headers = [("Content-Type", description.format.content_type), *self.common_headers]
        return Reply(200, [*headers, *work.cors], body, work.record)

    def _cors(self, request: Request) -> tuple[tuple[str, str], ...]:
        return tuple(self.cors.read_headers(request.origin))


def _single_values(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Saved-query parameters (not the format override); a repeated one is a 400 naming it."""
    values: dict[str, str] = {}
    for key, value in pairs:
        if key in protocol.FORMAT_PARAMETERS:
            continue
        if key in values:
            raise catalog.ParameterError(key, "give it once, not several times")
        values[key] = value
    return values


def _timed(chunks: Iterator[bytes], record: AccessRecord) -> Iterator[bytes]:
    """The body, with the time spent producing it added to the request's query time."""
    while True:
        started = time.perf_counter()
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            record.query_seconds += time.perf_counter() - started
        yield chunk


async def timed_async(chunks: AsyncChunks, record: AccessRecord) -> AsyncIterator[bytes]:
    """:func:`_timed` for an event loop's body."""
    while True:
        started = time.perf_counter()
        try:
            chunk = await chunks.__anext__()
        except StopAsyncIteration:
            return
        finally:
            record.query_seconds += time.perf_counter() - started
        yield chunk


__all__ = [
    "AccessRecord",
    "Description",
    "Endpoint",
    "PageWanted",
    "Reply",
    "Request",
    "Work",
    "failure",
    "parse_accept",
    "prefers_html",
    "row_limit_headers",
]
