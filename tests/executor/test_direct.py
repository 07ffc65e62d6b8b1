"""The in-process executor over the embedded store: the served executor's row cap, bytes, errors
and time limit, so an app made with ``create_app(settings, store)`` answers as ``iomkg serve``."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg import formats
from iomkg.serving.executor import IsolatedExecutor
from iomkg.serving.executor.direct import DirectExecutor
from iomkg.serving.service import NotAcceptable, QueryRequest, QueryTimeout, UpdateRequest
from iomkg.store import OxigraphStore
from iomkg.store.base import QuerySyntaxError

from .conftest import settings_for
from .test_isolation import SLOW, ask, body_of

#: Blank nodes left out: each evaluation names them afresh.
QUERIES = [
    "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER (!isBlank(?o)) } ORDER BY ?s ?p ?o",  # over the cap
    "SELECT ?s ?o WHERE { ?s <http://example.org/p0> ?o } ORDER BY ?s LIMIT 20",
    "ASK { ?s ?p ?o }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o FILTER (!isBlank(?o)) } ORDER BY ?s ?p ?o",
]


@pytest.fixture(scope="module")
def direct(store_path: Path, tmp_path_factory: pytest.TempPathFactory) -> DirectExecutor:
    """Over the same store as the module's ``executor``, with the same settings."""
    settings = settings_for(tmp_path_factory.mktemp("direct"), query_timeout=2.0, max_rows=1000)
    return DirectExecutor(settings, OxigraphStore.open(store_path, read_only=True))


@pytest.mark.parametrize("sparql", QUERIES)
@pytest.mark.parametrize("format_name", ["json", "xml", "csv", "tsv"])
def test_the_same_bytes_and_cap_as_the_served_executor(
    sparql: str, format_name: str, direct: DirectExecutor, executor: IsolatedExecutor
) -> None:
    fmt = formats.by_name(format_name, "results")
    request = QueryRequest(sparql, results_format=fmt, graph_format=formats.by_name("nt", "graph"))
    served = executor.run_query(request, timeout=60)  # the module's 2 s is for its runaways
    here = direct.run_query(request, timeout=60)
    assert (here.kind, here.truncated, here.row_limit) == (
        served.kind,
        served.truncated,
        served.row_limit,
    )
    assert b"".join(here.chunks) == b"".join(served.chunks)
    if sparql == QUERIES[0]:
        assert here.truncated and here.row_limit == 1000


def test_errors_are_the_served_ones(direct: DirectExecutor) -> None:
    with pytest.raises(QuerySyntaxError):
        direct.run_query(ask("SELECT WHERE {"))
    with pytest.raises(NotAcceptable):
        direct.run_query(QueryRequest("ASK {}", results_format=None))


def test_a_query_past_its_limit_is_answered_as_timed_out(direct: DirectExecutor) -> None:
    """Its CPU is only freed when it ends (that takes a killable evaluator), but the answer is
    the served one: a timeout, not a late 200."""
    with pytest.raises(QueryTimeout) as raised:
        body_of(direct, ask(SLOW), timeout=0.05)  # type: ignore[arg-type]
    assert raised.value.seconds == 0.05 and not raised.value.queued


def test_updates_apply_to_the_store(tmp_path: Path) -> None:
    store = OxigraphStore(ox.Store())
    direct = DirectExecutor(settings_for(tmp_path), store)
    direct.run_update(UpdateRequest("INSERT DATA { <http://a> <http://b> <http://c> }"))
    assert len(store.raw) == 1
