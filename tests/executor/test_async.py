"""The executor awaited from an event loop (the gateway's way), with real evaluator processes.

The loop must stay free while evaluators work; past the limit the evaluator is killed and its
CPU freed before the caller hears 503; a caller that goes away (cancelled, or a body closed
early) takes its evaluator down with it; threads and coroutines share one pool fairly.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg.serving.executor import IsolatedExecutor
from iomkg.serving.service import AsyncQueryResponse, QueryRequest, QueryTimeout, UpdateRequest
from iomkg.store.base import QuerySyntaxError
from tests.processes import gone, gone_soon

from .conftest import EX, settings_for
from .test_isolation import EXPLOSIVE, SLOW, ask, body_of

CHEAP = f"SELECT ?o WHERE {{ <{EX}item/7> <{EX}label> ?o }}"


async def read(answer: AsyncQueryResponse) -> bytes:
    if answer.whole is not None:
        return answer.whole
    return b"".join([chunk async for chunk in answer.chunks])


async def body_async(executor: IsolatedExecutor, request: QueryRequest) -> bytes:
    return await read(await executor.run_query_async(request))


def test_answers_are_those_of_the_blocking_path(executor: IsolatedExecutor) -> None:
    requests = [
        ask(CHEAP),
        ask("ASK { ?s ?p ?o }"),
        ask(f"CONSTRUCT WHERE {{ <{EX}item/3> ?p ?o }}"),
        ask("SELECT * WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o", max_rows=50),
    ]

    async def all_of() -> list[bytes]:
        return [await body_async(executor, request) for request in requests]

    assert asyncio.run(all_of()) == [body_of(executor, request) for request in requests]


def test_small_answers_come_whole_and_large_ones_in_chunks(
    store_path: Path, tmp_path: Path
) -> None:
    async def both(executor: IsolatedExecutor) -> tuple[AsyncQueryResponse, list[int]]:
        small = await executor.run_query_async(ask(CHEAP))
        large = await executor.run_query_async(ask("CONSTRUCT WHERE { ?s ?p ?o }"))
        sizes = [len(chunk) async for chunk in large.chunks]
        return small, [len(large.whole or b""), *sizes]

    with IsolatedExecutor(settings_for(tmp_path, max_rows=100_000), store_path, workers=1) as ex:
        small, sizes = asyncio.run(both(ex))
        assert small.whole is not None and json.loads(small.whole)["results"]["bindings"]
        assert sizes[0] == 0 and len(sizes) > 4 and max(sizes) <= 64 * 1024
        assert len(ex._pool.idle) == 1  # read to the end: back in the pool, not closed


def test_a_request_larger_than_the_socket_buffer_is_sent_whole(
    executor: IsolatedExecutor,
) -> None:
    """A request is sent at once as a rule; one over the socket's buffer (here 900 kB of
    comment) is sent in parts, awaited, and answers the same."""
    padded = ask(CHEAP + "\n#" + "x" * 900_000)

    async def both() -> tuple[bytes, bytes]:
        return await body_async(executor, padded), await body_async(executor, ask(CHEAP))

    long_answer, short_answer = asyncio.run(both())
    assert long_answer == short_answer
    assert json.loads(long_answer)["results"]["bindings"]


def test_the_row_cap_is_signalled_before_the_body(executor: IsolatedExecutor) -> None:
    async def cut() -> tuple[bool, int | None, int]:
        answer = await executor.run_query_async(ask("SELECT * WHERE { ?s ?p ?o }", max_rows=4))
        rows = json.loads(await read(answer))["results"]["bindings"]
        return answer.truncated, answer.row_limit, len(rows)

    assert asyncio.run(cut()) == (True, 4, 4)


def test_errors_keep_their_type(executor: IsolatedExecutor) -> None:
    with pytest.raises(QuerySyntaxError, match="line 1, column 1: unexpected word"):
        asyncio.run(body_async(executor, ask("SELEC * WHERE { ?s ?p ?o }")))
    assert json.loads(asyncio.run(body_async(executor, ask("ASK { ?s ?p ?o }"))))["boolean"]


def test_a_runaway_query_is_stopped_while_the_loop_serves_others(
    store_path: Path, tmp_path: Path
) -> None:
    settings = settings_for(tmp_path, query_timeout=2.0)

    async def scenario(executor: IsolatedExecutor) -> tuple[float, list[float]]:
        cheap_seconds: list[float] = []

        async def meanwhile() -> None:
            await asyncio.sleep(0.5)
            for _ in range(5):
                started = time.monotonic()
                await body_async(executor, ask(CHEAP))
                cheap_seconds.append(time.monotonic() - started)

        started = time.monotonic()
        other = asyncio.ensure_future(meanwhile())
        with pytest.raises(QueryTimeout, match="2 s limit"):
            await executor.run_query_async(ask(EXPLOSIVE))
        elapsed = time.monotonic() - started
        await other
        return elapsed, cheap_seconds

    with IsolatedExecutor(settings, store_path, workers=2) as executor:
        before = executor.evaluator_pid()
        elapsed, cheap = asyncio.run(scenario(executor))
        assert 2.0 <= elapsed < 3.0, elapsed
        assert len(cheap) == 5 and max(cheap) < 0.5, cheap
        assert gone(before)
        assert executor.evaluator_pid() != before  # its successor, at once
        assert json.loads(body_of(executor, ask("ASK { ?s ?p ?o }")))["boolean"] is True


def test_a_cancelled_query_takes_its_evaluator_down(store_path: Path, tmp_path: Path) -> None:
    """A client that goes away mid-query (the gateway cancels its task) frees the CPU too."""

    async def cancel_midway(executor: IsolatedExecutor) -> None:
        task = asyncio.ensure_future(executor.run_query_async(ask(EXPLOSIVE)))
        await asyncio.sleep(0.5)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(0)

    with IsolatedExecutor(settings_for(tmp_path, query_timeout=30), store_path, workers=1) as ex:
        evaluator = ex.evaluator_pid()
        asyncio.run(cancel_midway(ex))
        assert gone_soon(evaluator)
        assert json.loads(body_of(ex, ask("ASK { ?s ?p ?o }")))["boolean"] is True


def test_a_caller_that_leaves_stops_no_one_elses_query(store_path: Path, tmp_path: Path) -> None:
    """Killing the evaluator would stop every query it runs: while another caller's query runs,
    the abandoned one is left to end (or to reach its deadline); once it is alone, its CPU is
    freed at once."""

    async def leave_beside_another(executor: IsolatedExecutor, evaluator: int) -> bytes:
        kept = asyncio.ensure_future(executor.run_query_async(ask(SLOW)))
        abandoned = asyncio.ensure_future(executor.run_query_async(ask(EXPLOSIVE)))
        await asyncio.sleep(0.3)
        abandoned.cancel()
        with pytest.raises(asyncio.CancelledError):
            await abandoned
        await asyncio.sleep(0.3)
        assert not kept.done() and not gone(evaluator)  # the kept query still runs in it
        return await read(await kept)

    with IsolatedExecutor(settings_for(tmp_path, query_timeout=30), store_path, workers=2) as ex:
        evaluator = ex.evaluator_pid()
        body = asyncio.run(leave_beside_another(ex, evaluator))
        assert json.loads(body)["results"]["bindings"][0]["n"]["value"] == "1760000"
        assert gone_soon(evaluator)  # the abandoned query alone: stopped
        assert json.loads(body_of(ex, ask("ASK { ?s ?p ?o }")))["boolean"] is True


def test_a_body_closed_early_costs_only_its_connection(store_path: Path, tmp_path: Path) -> None:
    """The query was answered: the evaluator has nothing to stop, and keeps serving."""

    async def first_chunk_only(executor: IsolatedExecutor) -> None:
        answer = await executor.run_query_async(ask("CONSTRUCT WHERE { ?s ?p ?o }"))
        await answer.chunks.__anext__()
        await answer.chunks.aclose()

    with IsolatedExecutor(settings_for(tmp_path, max_rows=100_000), store_path, workers=1) as ex:
        pid = ex.evaluator_pid()
        asyncio.run(first_chunk_only(ex))
        assert json.loads(body_of(ex, ask("ASK { ?s ?p ?o }")))["boolean"] is True
        assert ex.evaluator_pid() == pid


def test_waiting_for_an_evaluator_counts_towards_the_limit(
    store_path: Path, tmp_path: Path
) -> None:
    async def two(executor: IsolatedExecutor) -> float:
        runaway = asyncio.ensure_future(executor.run_query_async(ask(EXPLOSIVE)))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match=r"waited the whole 0\.5 s limit") as queued:
            await executor.run_query_async(ask(CHEAP), timeout=0.5)  # the only one is busy
        waited = time.monotonic() - started
        assert queued.value.queued  # told apart from a query that ran too long:
        with pytest.raises(QueryTimeout, match=r"ran longer than the 1\.5 s limit") as ran:
            await runaway
        assert not ran.value.queued
        return waited

    with IsolatedExecutor(settings_for(tmp_path, query_timeout=1.5), store_path, workers=1) as ex:
        waited = asyncio.run(two(ex))
        assert 0.5 <= waited < 1.0
        assert json.loads(body_of(ex, ask("ASK { ?s ?p ?o }")))["boolean"] is True


def test_threads_and_coroutines_share_one_pool(store_path: Path, tmp_path: Path) -> None:
    """One evaluator, four threads and four coroutines asking at once: all are answered, in
    turn, and the pool ends with its one evaluator (none lost, none extra)."""
    with IsolatedExecutor(settings_for(tmp_path, query_timeout=20), store_path, workers=1) as ex:
        from_threads: list[bytes] = []

        def in_thread() -> None:
            for _ in range(5):
                from_threads.append(body_of(ex, ask(CHEAP)))

        async def in_loop() -> list[bytes]:
            return list(await asyncio.gather(*(body_async(ex, ask(CHEAP)) for _ in range(20))))

        threads = [threading.Thread(target=in_thread) for _ in range(4)]
        for thread in threads:
            thread.start()
        from_loop = asyncio.run(in_loop())
        for thread in threads:
            thread.join()
        expected = body_of(ex, ask(CHEAP))
        assert from_threads == [expected] * 20 and from_loop == [expected] * 20
        assert ex._pool.live == 1 and len(ex._pool.idle) == 1


def test_an_update_is_seen_by_the_next_async_query(fresh_store: Path, tmp_path: Path) -> None:
    count = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}new> ?p ?o }}"

    def n(body: bytes) -> str:
        value: str = json.loads(body)["results"]["bindings"][0]["n"]["value"]
        return value

    with IsolatedExecutor(settings_for(tmp_path), fresh_store, workers=1) as ex:
        assert n(asyncio.run(body_async(ex, ask(count)))) == "0"
        before = ex.evaluator_pid()
        ex.run_update(UpdateRequest(f"INSERT DATA {{ GRAPH <{EX}g> {{ <{EX}new> <{EX}p> 1 }} }}"))
        assert n(asyncio.run(body_async(ex, ask(count)))) == "1"
        assert ex.evaluator_pid() != before and gone_soon(before)


def test_the_loop_is_not_blocked_while_an_evaluator_works(executor: IsolatedExecutor) -> None:
    """While a slow query runs elsewhere, the loop's other tasks keep their pace."""

    async def scenario() -> float:
        ticks = 0
        slow = asyncio.ensure_future(
            executor.run_query_async(
                ask("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f }"), timeout=1.0
            )
        )
        started = time.monotonic()
        while not slow.done():
            await asyncio.sleep(0.01)
            ticks += 1
        with pytest.raises(QueryTimeout):
            slow.result()
        return ticks / (time.monotonic() - started)

    assert asyncio.run(scenario()) > 40  # ~100 per second when nothing blocks the loop


def test_the_cpu_is_free_before_the_timeout_is_raised(store_path: Path, tmp_path: Path) -> None:
    async def runaway(executor: IsolatedExecutor) -> None:
        with pytest.raises(QueryTimeout):
            await executor.run_query_async(ask(EXPLOSIVE), timeout=1.0)

    with IsolatedExecutor(settings_for(tmp_path), store_path, workers=1) as ex:
        pid = ex.evaluator_pid()
        asyncio.run(runaway(ex))
        assert gone(pid)  # gone already when the caller hears of the time limit


def test_a_graph_answer_parses(executor: IsolatedExecutor) -> None:
    body = asyncio.run(body_async(executor, ask(f"CONSTRUCT WHERE {{ <{EX}item/5> ?p ?o }}")))
    assert len(list(ox.parse(body, format=ox.RdfFormat.N_TRIPLES))) == 11
