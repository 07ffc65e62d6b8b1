"""``/sparql`` in Flask: an adapter of the endpoint core (:mod:`iomkg.serving.endpoint`), and
the query page that browsers get.

Everything a program is answered comes from the core, as on ``iomkg serve``'s fast path
(:mod:`iomkg.web.gateway`); only the HTML page is made here.
"""

from __future__ import annotations

import time
from dataclasses import replace

from flask import Blueprint, Response, url_for

from iomkg import formats
from iomkg.serving import protocol
from iomkg.serving.endpoint import PageWanted, failure
from iomkg.views import ResultTable, result_table
from iomkg.web import pages
from iomkg.web.common import core_request, core_response, web
from iomkg.web.ops import timing

blueprint = Blueprint("sparql", __name__)

#: Rows shown on the HTML page; the download links give the whole answer.
HTML_ROWS = 1000


@blueprint.route("/sparql", methods=["GET", "POST"])
def endpoint() -> Response:
    outcome = web().endpoint.answer(core_request())
    if isinstance(outcome, PageWanted):
        return _page(outcome.call)
    return core_response(outcome)


# The HTML page ---------------------------------------------------------------------------------


def _page(call: protocol.QueryCall | None) -> Response:
    """The editor, and for a query its answer as a table with a download link per format."""
    if call is None:
        return pages.query_page(pages.DEFAULT_QUERY)
    context = web()
    html_request = replace(
        call.request,
        results_format=formats.by_name("json", "results"),
        graph_format=formats.by_name("nt", "graph"),
    )
    table: ResultTable | None = None
    truncated_at: int | None = None
    started = time.perf_counter()
    try:
        answer = context.executor.run_query(html_request, timeout=context.settings.query_timeout)
        body = b"".join(answer.chunks)
        table = result_table(answer.kind, answer.format, body, context.links, HTML_ROWS)
        truncated_at = (answer.row_limit or context.settings.max_rows) if answer.truncated else None
    except Exception as error:
        status, message, _headers = failure(error)
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
