"""What a client is told of a failed query (one table for Flask and the gateway)."""

from __future__ import annotations

import pytest

from iomkg.service import QueryTimeout
from iomkg.store.base import StoreError, StoreUnavailable
from iomkg.web.outcomes import failure_headers, failure_status


def test_a_query_that_ran_too_long_is_told_to_be_more_selective() -> None:
    status, message = failure_status(QueryTimeout(2.0))
    assert status == 503
    assert "ran longer than the 2 s limit" in message and "add a LIMIT" in message


def test_a_query_that_never_got_an_evaluator_is_told_to_try_again() -> None:
    """Not "make it more selective": it never ran, the server was busy."""
    status, message = failure_status(QueryTimeout(2.0, queued=True))
    assert status == 503
    assert "free query evaluator" in message and "try again shortly" in message
    assert "LIMIT" not in message


def test_a_store_restarting_is_503_and_a_broken_one_500_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert failure_status(StoreUnavailable("restarting"))[0] == 503
    assert failure_headers(503, StoreUnavailable("restarting")) == {"Retry-After": "5"}
    assert failure_headers(503, QueryTimeout(2.0, queued=True)) == {"Retry-After": "5"}
    assert failure_headers(503, QueryTimeout(2.0)) == {"Retry-After": "60"}
    assert not caplog.records
    assert failure_status(StoreError("broken")) == (500, "the store failed: broken")
    assert [record.getMessage() for record in caplog.records] == [
        "the store failed on a request: broken"
    ]
