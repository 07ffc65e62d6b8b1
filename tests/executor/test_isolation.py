"""The isolated executor with real processes: time limit, freed CPU, queries sent again, row cap,
errors, updates as new versions."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg import formats
from iomkg.serving.executor import ExecutorStore, IsolatedExecutor
from iomkg.serving.service import NotAcceptable, QueryRequest, QueryTimeout, UpdateRequest
from iomkg.sparqltext import NetworkRefused
from iomkg.store.base import QuerySyntaxError, StoreError
from iomkg.store.versions import StoreVersions
from tests.processes import cpu_ticks, gone, gone_soon

from .conftest import EX, settings_for

JSON = formats.by_name("json", "results")
TURTLE = formats.by_name("ttl", "graph")
NT = formats.by_name("nt", "graph")
EXPLOSIVE = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
#: A query that runs for a while (a few seconds here) and then answers.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?b ?f }"


def ask(sparql: str, **options: object) -> QueryRequest:
    return QueryRequest(sparql, results_format=JSON, graph_format=NT, **options)  # type: ignore[arg-type]


def body_of(
    executor: IsolatedExecutor, request: QueryRequest, timeout: float | None = None
) -> bytes:
    return b"".join(executor.run_query(request, timeout=timeout).chunks)


def bindings(executor: IsolatedExecutor, sparql: str) -> list[dict[str, dict[str, str]]]:
    rows: list[dict[str, dict[str, str]]] = json.loads(body_of(executor, ask(sparql)))["results"][
        "bindings"
    ]
    return rows


def test_a_runaway_query_is_stopped_in_time_and_its_cpu_freed(
    store_path: Path, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, query_timeout=2.0)
    with IsolatedExecutor(settings, store_path, workers=2) as executor:
        assert (
            bindings(executor, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]["value"]
            == "4400"
        )
        evaluator = executor.evaluator_pid()
        cheap: dict[str, float] = {}
        burning: list[int] = []

        def meanwhile() -> None:
            time.sleep(0.5)
            first = cpu_ticks(evaluator)
            started = time.monotonic()
            rows = bindings(executor, f"SELECT ?o WHERE {{ <{EX}item/7> <{EX}label> ?o }}")
            cheap["seconds"] = time.monotonic() - started
            cheap["rows"] = len(rows)
            time.sleep(0.5)
            burning.append(cpu_ticks(evaluator) - first)

        other = threading.Thread(target=meanwhile)
        started = time.monotonic()
        other.start()
        with pytest.raises(QueryTimeout, match="2 s limit") as stopped:
            body_of(executor, ask(EXPLOSIVE))
        elapsed = time.monotonic() - started
        other.join()

        assert stopped.value.seconds == 2.0
        assert 2.0 <= elapsed < 3.0, elapsed
        assert burning and burning[0] > 0, "the runaway query was not using the CPU"
        assert gone(evaluator), "the evaluator of the runaway query is still running"
        assert cheap == {"seconds": pytest.approx(0.0, abs=1.0), "rows": 1}
        assert executor.evaluator_pid() != evaluator  # the next one, at once
        assert json.loads(body_of(executor, ask("ASK { ?s ?p ?o }")))["boolean"] is True


def test_a_query_that_shared_the_stopped_evaluator_is_sent_again(
    store_path: Path, tmp_path: Path
) -> None:
    """The runaway query's evaluator is killed under the slow one too: the slow one is sent
    again to the next evaluator and answers, within its own (longer) limit."""
    settings = settings_for(tmp_path, query_timeout=30.0)
    with IsolatedExecutor(settings, store_path, workers=2) as executor:
        first = executor.evaluator_pid()
        answers: list[bytes] = []
        slow = threading.Thread(target=lambda: answers.append(body_of(executor, ask(SLOW))))
        slow.start()
        time.sleep(0.2)
        with pytest.raises(QueryTimeout):
            body_of(executor, ask(EXPLOSIVE), timeout=0.5)
        slow.join()
        assert gone(first)
        assert len(answers) == 1
        assert json.loads(answers[0])["results"]["bindings"][0]["n"]["value"] == "1760000"


def test_the_timeout_argument_overrides_the_setting(executor: IsolatedExecutor) -> None:
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match=r"0\.5 s limit"):
        executor.run_query(ask(EXPLOSIVE), timeout=0.5)
    assert time.monotonic() - started < 1.5


def test_rows_past_the_cap_are_cut_and_the_cut_is_signalled(executor: IsolatedExecutor) -> None:
    answer = executor.run_query(ask("SELECT * WHERE { ?s ?p ?o }"))
    assert (answer.truncated, answer.row_limit) == (True, 1000)  # known before the body
    assert len(json.loads(b"".join(answer.chunks))["results"]["bindings"]) == 1000

    answer = executor.run_query(ask("SELECT * WHERE { ?s ?p ?o }", max_rows=5))
    assert (answer.truncated, answer.row_limit) == (True, 5)
    assert len(json.loads(b"".join(answer.chunks))["results"]["bindings"]) == 5

    graph = executor.run_query(ask("CONSTRUCT WHERE { ?s ?p ?o }", max_rows=7))
    assert (graph.kind, graph.truncated, graph.row_limit) == ("graph", True, 7)
    assert len(list(ox.parse(b"".join(graph.chunks), format=ox.RdfFormat.N_TRIPLES))) == 7

    whole = executor.run_query(ask(f"SELECT * WHERE {{ <{EX}item/3> ?p ?o }}"))
    assert (whole.truncated, whole.row_limit) == (False, 1000)
    assert len(json.loads(b"".join(whole.chunks))["results"]["bindings"]) == 11


def test_a_request_cannot_raise_the_server_cap(executor: IsolatedExecutor) -> None:
    answer = executor.run_query(ask("SELECT * WHERE { ?s ?p ?o }", max_rows=10**9))
    assert (answer.truncated, answer.row_limit) == (True, 1000)
    answer.chunks.close()  # type: ignore[attr-defined]


def test_large_answers_stream_in_chunks(store_path: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, max_rows=100_000)
    with IsolatedExecutor(settings, store_path, workers=1) as executor:
        answer = executor.run_query(ask("CONSTRUCT WHERE { ?s ?p ?o }"))
        chunks = list(answer.chunks)
        assert answer.truncated is False
        assert len(chunks) > 3 and max(len(chunk) for chunk in chunks) <= 64 * 1024
        assert len(list(ox.parse(b"".join(chunks), format=ox.RdfFormat.N_TRIPLES))) == 4400


def test_errors_keep_their_type_and_message(executor: IsolatedExecutor) -> None:
    with pytest.raises(QuerySyntaxError, match="line 1, column 1: unexpected word"):
        executor.run_query(ask("SELEC * WHERE { ?s ?p ?o }"))
    with pytest.raises(NotAcceptable) as refused:
        executor.run_query(QueryRequest("CONSTRUCT WHERE { ?s ?p ?o }", results_format=JSON))
    assert refused.value.kind == "graph" and "text/turtle" in refused.value.offered
    with pytest.raises(NetworkRefused, match="SERVICE"):
        executor.run_query(
            ask("SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }")
        )
    # the evaluator survives errors
    assert json.loads(body_of(executor, ask("ASK { ?s ?p ?o }")))["boolean"] is True


def test_an_abandoned_answer_costs_only_its_connection(store_path: Path, tmp_path: Path) -> None:
    with IsolatedExecutor(
        settings_for(tmp_path, max_rows=100_000), store_path, workers=1
    ) as executor:
        evaluator = executor.evaluator_pid()
        answer = executor.run_query(ask("CONSTRUCT WHERE { ?s ?p ?o }"))
        next(answer.chunks)
        answer.chunks.close()  # type: ignore[attr-defined]
        assert json.loads(body_of(executor, ask("ASK { ?s ?p ?o }")))["boolean"] is True
        unread = executor.run_query(ask("CONSTRUCT WHERE { ?s ?p ?o }"))
        del unread  # never iterated: the connection must not stay checked out
        assert json.loads(body_of(executor, ask("ASK { ?s ?p ?o }")))["boolean"] is True
        # the query was answered before it was abandoned: nothing needed stopping
        assert executor.evaluator_pid() == evaluator and not gone(evaluator)


@pytest.mark.parametrize("memory_quads", [0, 500_000], ids=["on-disk", "in-memory"])
def test_updates_make_new_versions_seen_by_the_next_query(
    fresh_store: Path, tmp_path: Path, memory_quads: int
) -> None:
    settings = settings_for(tmp_path, memory_quads=memory_quads)
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}new> ?p ?o }}"
    with IsolatedExecutor(settings, fresh_store, workers=2) as executor:
        assert bindings(executor, count)[0]["n"]["value"] == "0"
        before = executor.evaluator_pid()  # serves the version as it was before the update

        executor.run_update(
            UpdateRequest(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}new> <{EX}p> 1 }} }}")
        )
        assert bindings(executor, count)[0]["n"]["value"] == "1"
        assert executor.evaluator_pid() != before and gone_soon(before)
        executor.run_update(
            UpdateRequest(
                f"INSERT {{ GRAPH <{EX}g> {{ <{EX}new> <{EX}at> ?now }} }} "
                "WHERE { BIND(NOW() AS ?now) }"
            )
        )
        [row] = bindings(executor, f"SELECT ?at WHERE {{ <{EX}new> <{EX}at> ?at }}")
    versions = StoreVersions(fresh_store)
    assert versions.current() != fresh_store  # the store as built is never written
    assert len(ox.Store.read_only(str(fresh_store))) == 4400
    disk = ox.Store.read_only(str(versions.current()))
    [stored] = disk.quads_for_pattern(ox.NamedNode(EX + "new"), ox.NamedNode(EX + "at"), None, None)
    assert stored.object.value == row["at"]["value"]  # what is served is what the store holds
    assert len(list(disk.quads_for_pattern(ox.NamedNode(EX + "new"), None, None, None))) == 2


def test_a_failed_update_changes_nothing(fresh_store: Path, tmp_path: Path) -> None:
    settings = settings_for(tmp_path, query_timeout=1.0)
    before = len(ox.Store.read_only(str(fresh_store)))
    total = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"
    with IsolatedExecutor(settings, fresh_store, workers=1) as executor:
        with pytest.raises(QuerySyntaxError):
            executor.run_update(UpdateRequest("INSERT DATA { <http://a> <http://b> "))
        # the second operation fails, so the first one must not stay
        with pytest.raises(StoreError, match="already exists"):
            executor.run_update(
                UpdateRequest(
                    f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}x> <{EX}p> 1 }} }} ; "
                    f"CREATE GRAPH <{EX}graph/0>"
                )
            )
        with pytest.raises(NetworkRefused):
            executor.run_update(UpdateRequest("LOAD <http://example.org/data.ttl>"))
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="1 s limit"):
            executor.run_update(
                UpdateRequest(
                    f"INSERT {{ <{EX}x> <{EX}n> ?a }} "
                    "WHERE { GRAPH ?graph { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }"
                )
            )
        assert time.monotonic() - started < 3.0
        assert bindings(executor, total)[0]["n"]["value"] == str(before)
    assert StoreVersions(fresh_store).current() == fresh_store  # no version was made
    assert len(ox.Store.read_only(str(fresh_store))) == before


def test_an_in_memory_source_is_copied(tmp_path: Path) -> None:
    store = ox.Store()
    store.add(
        ox.Quad(
            ox.NamedNode(EX + "a"), ox.NamedNode(EX + "b"), ox.Literal("1"), ox.NamedNode(EX + "g")
        )
    )
    with IsolatedExecutor(settings_for(tmp_path), store, workers=1) as executor:
        executor.run_update(
            UpdateRequest(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}a> <{EX}b> 2 }} }}")
        )
        assert len(bindings(executor, "SELECT * WHERE { GRAPH ?g { ?s ?p ?o } }")) == 2
    assert len(store) == 1  # the caller's object is not the server's copy


def test_a_missing_source_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no store at"):
        IsolatedExecutor(settings_for(tmp_path), tmp_path / "nothing", workers=1)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "CURRENT").write_text("nonsense\n")
    with pytest.raises(StoreError, match="could not open the store"):
        IsolatedExecutor(settings_for(tmp_path), tmp_path / "broken", workers=1)


def test_executor_store_reads_through_the_evaluator(executor: IsolatedExecutor) -> None:
    store = ExecutorStore(executor)
    assert store.named_graphs() == [f"{EX}graph/0", f"{EX}graph/1", f"{EX}graph/2"]
    assert store.quad_count() == 4400
    assert store.quad_count(f"{EX}graph/1") == 1463
    solutions = store.query(
        "SELECT ?s ?o WHERE { GRAPH ?g { ?s ?p ?o } }",
        substitutions={"s": ox.NamedNode(f"{EX}item/1")},
    )
    assert isinstance(solutions, ox.QuerySolutions) and len(list(solutions)) == 11
    triples = store.query(f"CONSTRUCT WHERE {{ <{EX}item/1> ?p ?o }}")
    assert isinstance(triples, ox.QueryTriples) and len(list(triples)) == 11
    assert bool(store.query("ASK { GRAPH ?g { ?s ?p ?o } }"))


def test_an_update_in_progress_delays_neither_timeouts_nor_queries(
    fresh_store: Path, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, query_timeout=1.0, max_rows=100_000)
    with IsolatedExecutor(settings, fresh_store, workers=2) as executor:
        outcome: list[BaseException] = []

        def slow_update() -> None:
            try:
                executor.run_update(
                    UpdateRequest(
                        f"INSERT {{ <{EX}x> <{EX}n> ?a }} "
                        "WHERE { GRAPH ?graph { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } }"
                    ),
                    timeout=3.0,
                )
            except BaseException as error:
                outcome.append(error)

        updating = threading.Thread(target=slow_update)
        updating.start()
        time.sleep(0.3)  # the master is now waiting on the update's writer
        started = time.monotonic()
        with pytest.raises(QueryTimeout):
            executor.run_query(ask(EXPLOSIVE))
        assert time.monotonic() - started < 2.0
        assert json.loads(body_of(executor, ask("ASK { GRAPH ?g { ?s ?p ?o } }")))["boolean"]
        updating.join()
        assert len(outcome) == 1 and isinstance(outcome[0], QueryTimeout)
        assert json.loads(body_of(executor, ask("ASK { GRAPH ?g { ?s ?p ?o } }")))["boolean"]
