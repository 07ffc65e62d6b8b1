"""``/sparql``: the SPARQL 1.1 Protocol endpoint, a thin layer over ``protocol`` and the executor.

``Vary: Accept`` always; the Content-Type is the negotiated format's, errors are text/plain (an
HTML page for browsers). Cut results and time limits are told as ``outcomes`` says. Under
``iomkg serve`` the plainest query requests never reach this route: ``gateway`` answers them on
the event loop with the same status, headers and body.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace

from flask import Blueprint, Response, request, url_for

from iomkg import descriptions, formats, protocol
from iomkg.service import QueryResponse
from iomkg.views import ResultTable, result_table
from iomkg.web import pages
from iomkg.web.common import (
    accept,
    error_response,
    not_acceptable,
    rdf_response,
    text_response,
    web,
)
from iomkg.web.ops import RequestTiming, timing
from iomkg.web.outcomes import failure_headers, failure_status, row_limit_headers

blueprint = Blueprint("sparql", __name__)

#: Rows shown on the HTML page; the download links give the whole answer.
HTML_ROWS = 1000


@blueprint.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    context = web()
    settings = context.settings
    if len(request.query_string) > settings.max_request_bytes:
        return text_response(
            414,
            f"the URL is longer than the {settings.max_request_bytes}-byte limit: "
            "send the query by POST",
        )
    body = request.get_data(cache=False) if request.method == "POST" else b""  # 413 past the limit
    http = protocol.HttpRequest(
        method=request.method,
        query_string=request.query_string,
        content_type=request.headers.get("Content-Type"),
        body=body,
        accept=accept(),
        authorization=request.headers.get("Authorization"),
        origin=request.headers.get("Origin"),
        host=request.host,
    )
    try:
        call = protocol.parse_request(http, settings)
    except protocol.ProtocolError as error:
        return error_response(error.status, error.message, error.headers)
    if isinstance(call, protocol.DescriptionCall):
        return _description(call)
    if isinstance(call, protocol.UpdateCall):
        timing().update = True
        return _update(call)
    if call.html:
        return _page(call)
    return _query(call)


def _description(call: protocol.DescriptionCall) -> Response:
    context = web()
    if call.html:
        return pages.query_page(pages.DEFAULT_QUERY)
    if call.format is None:
        return not_acceptable(formats.GRAPH_FORMATS)
    endpoint_url = url_for("sparql.endpoint", _external=True)
    void_url = url_for("ops.void", _external=True)
    triples = descriptions.service_description(
        context.store, context.settings, endpoint_url, void_url
    )
    return rdf_response(triples, call.format, context.settings.base_iri, descriptions.PREFIXES)


def _query(call: protocol.QueryCall) -> Response:
    context = web()
    started = time.perf_counter()
    try:
        answer = context.executor.run_query(call.request, timeout=context.settings.query_timeout)
    except Exception as error:
        return failure_response(error)
    finally:
        timing().query += time.perf_counter() - started
    response = Response(_timed(answer.chunks, timing()), content_type=answer.format.content_type)
    add_row_limit_headers(response, answer)
    return response


def add_row_limit_headers(response: Response, answer: QueryResponse) -> None:
    """Tell the client a result was cut at the row limit (documented in the module docstring)."""
    for name, value in row_limit_headers(answer, web().settings.max_rows):
        response.headers[name] = value


def _timed(chunks: Iterator[bytes], record: RequestTiming) -> Iterator[bytes]:
    """The body, with the time spent producing it added to the request's query time.

    ``record`` is taken before streaming starts: the request context is gone by then.
    """
    while True:
        started = time.perf_counter()
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        finally:
            record.query += time.perf_counter() - started
        yield chunk


def _update(call: protocol.UpdateCall) -> Response:
    context = web()
    started = time.perf_counter()
    try:
        context.executor.run_update(call.request, timeout=context.settings.query_timeout)
    except Exception as error:
        return failure_response(error)
    finally:
        timing().query += time.perf_counter() - started
    context.statistics.clear()
    return Response(status=204)


def failure_response(error: Exception) -> Response:
    """The HTTP answer for what the executor raised; anything unexpected stays a 500 (re-raised)."""
    status, message = failure_status(error)
    return error_response(status, message, failure_headers(status, error))


# The HTML page ---------------------------------------------------------------------------------


def _page(call: protocol.QueryCall) -> Response:
    """Run the query for a browser: results as a table, with a download link per format."""
    context = web()
    html_request = replace(
        call.request,
        results_format=formats.by_name("json", "results"),
        graph_format=formats.by_name("nt", "graph"),
    )
    started = time.perf_counter()
    table: ResultTable | None = None
    truncated_at: int | None = None
    try:
        answer = context.executor.run_query(html_request, timeout=context.settings.query_timeout)
        body = b"".join(answer.chunks)
        table = result_table(answer.kind, answer.format, body, context.links, HTML_ROWS)
        truncated_at = (answer.row_limit or context.settings.max_rows) if answer.truncated else None
    except Exception as error:
        status, message = failure_status(error)
        return pages.query_page(call.request.sparql, error=message, status=status)
    finally:
        timing().query += time.perf_counter() - started
    return pages.query_page(
        call.request.sparql,
        table=table,
        downloads=_download_links(call, table.kind),
        truncated_at=truncated_at,
        html_rows=HTML_ROWS,
    )


def _download_links(call: protocol.QueryCall, kind: formats.Kind) -> list[tuple[str, str, str]]:
    """``(format name, URL, file name)`` of the same query and dataset in each format of its kind
    (the page's links carry the file name as their ``download`` attribute)."""
    query_args: dict[str, str | list[str]] = {"query": call.request.sparql}
    if call.request.default_graphs:
        query_args["default-graph-uri"] = list(call.request.default_graphs)
    if call.request.named_graphs:
        query_args["named-graph-uri"] = list(call.request.named_graphs)
    return [
        (
            fmt.name,
            url_for("sparql.endpoint", **query_args, format=fmt.name),  # type: ignore[arg-type]
            fmt.download_name(),
        )
        for fmt in formats.TABLES[kind]
    ]
