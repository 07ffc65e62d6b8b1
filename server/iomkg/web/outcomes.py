"""What an HTTP client is told about a query's outcome: one table for every front end.

The Flask routes (``/sparql``, ``/api/queries/NAME``) and the ASGI gateway answer the same
executor errors with the same statuses and words, and a cut result with the same headers:

* ``X-Row-Limit: N`` and ``Warning: 199 iomkg "…"`` when the executor cut a result at the
  server's row limit (``IOMKG_MAX_ROWS``); absent when the result is complete.
* ``503`` with a message naming the time limit (and ``Retry-After``) when a query outlived
  ``IOMKG_QUERY_TIMEOUT``, and with one that says to try again when the store is unavailable
  for a moment (its query evaluators are being restarted).
"""

from __future__ import annotations

import logging

from iomkg import sparqltext
from iomkg.service import AsyncQueryResponse, NotAcceptable, QueryResponse, QueryTimeout
from iomkg.store.base import QuerySyntaxError, StoreError, StoreUnavailable, UpdateFailed

ROW_LIMIT_HEADER = "X-Row-Limit"
#: How long a client told 503 (time limit) should wait before trying again.
RETRY_AFTER_SECONDS = "60"
#: How long a client told 503 because the server was busy or restarting should wait.
RETRY_SOON_SECONDS = "5"


def row_limit_headers(
    answer: QueryResponse | AsyncQueryResponse, max_rows: int
) -> list[tuple[str, str]]:
    """``X-Row-Limit`` and ``Warning`` when ``answer`` was cut at the row limit, else none."""
    if not answer.truncated:
        return []
    limit = answer.row_limit if answer.row_limit is not None else max_rows
    return [
        (ROW_LIMIT_HEADER, str(limit)),
        ("Warning", f'199 iomkg "result truncated to the server\'s row limit of {limit} rows"'),
    ]


def failure_status(error: Exception) -> tuple[int, str]:
    """The status and message for what an executor raised; anything unexpected is re-raised
    (the caller answers 500 and logs it)."""
    if isinstance(error, QuerySyntaxError):
        return 400, f"the SPARQL does not parse: {error}"
    if isinstance(error, sparqltext.NetworkRefused):
        return 403, str(error)
    if isinstance(error, sparqltext.DatasetError):
        return 400, str(error)
    if isinstance(error, NotAcceptable):
        return 406, str(error)
    if isinstance(error, QueryTimeout) and error.queued:
        return 503, (
            f"{error}; try again shortly (the server's query time limit is {error.seconds:g} s, "
            "IOMKG_QUERY_TIMEOUT)"
        )
    if isinstance(error, QueryTimeout):
        return 503, (
            f"{error} (the server's query time limit is {error.seconds:g} s, IOMKG_QUERY_TIMEOUT); "
            "make the query more selective or add a LIMIT"
        )
    if isinstance(error, UpdateFailed):
        return 400, str(error)
    if isinstance(error, StoreUnavailable):
        return 503, str(error)
    if isinstance(error, StoreError):
        # The server's fault, not the client's: the log must say what it was (an evaluator
        # killed, a store that cannot be opened), not only the access line's 500.
        logging.getLogger(__name__).error("the store failed on a request: %s", error)
        return 500, f"the store failed: {error}"
    raise error


def failure_headers(status: int, error: Exception | None = None) -> dict[str, str]:
    """Extra headers of a failure answer: when to try again after a 503. Soon when the server
    was busy or restarting its evaluators; later when the query itself ran out of time."""
    if status != 503:
        return {}
    soon = isinstance(error, StoreUnavailable) or (isinstance(error, QueryTimeout) and error.queued)
    return {"Retry-After": RETRY_SOON_SECONDS if soon else RETRY_AFTER_SECONDS}
