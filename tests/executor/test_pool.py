"""One process's pool of connections, taken by threads and coroutines: order, time limits, no
connection or free place ever lost. (No processes here: the pool only keeps sockets.)"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from iomkg.serving.executor import wire
from iomkg.serving.executor.pool import Connection as Evaluator
from iomkg.serving.executor.pool import Pool, PoolClosed, _LoopWaiter


@pytest.fixture
def evaluators() -> Iterator[list[Evaluator]]:
    made: list[Evaluator] = []
    ends: list[socket.socket] = []

    def make(number: int) -> Evaluator:
        ours, theirs = socket.socketpair()
        ends.append(theirs)
        evaluator = Evaluator(10_000 + number, wire.Channel(ours), 0)
        made.append(evaluator)
        return evaluator

    yield [make(number) for number in range(3)]
    for evaluator in made:
        evaluator.close()
    for end in ends:
        end.close()


def filled(size: int, evaluators: list[Evaluator], idle: int) -> Pool:
    """A pool of ``size`` places whose first ``idle`` evaluators are idle, the rest busy."""
    pool = Pool(size)
    for evaluator in evaluators[:size]:
        assert pool.take(time.monotonic() + 1) is None  # a place: "start one"
        pool.add(evaluator)
    for evaluator in evaluators[:idle]:
        pool.release(evaluator)
    return pool


def test_a_place_then_the_idle_evaluator_then_a_wait(evaluators: list[Evaluator]) -> None:
    pool = Pool(1)
    assert pool.take(time.monotonic() + 1) is None
    pool.add(evaluators[0])
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        pool.take(time.monotonic() + 0.2)  # full and busy
    assert 0.2 <= time.monotonic() - started < 1.0
    pool.release(evaluators[0])
    assert pool.take(time.monotonic() + 1) is evaluators[0]
    assert not pool.waiters


def test_threads_and_coroutines_are_served_in_the_order_they_asked(
    evaluators: list[Evaluator],
) -> None:
    pool = filled(1, evaluators, idle=0)
    order: list[str] = []

    def thread_waiter(name: str) -> None:
        evaluator = pool.take(time.monotonic() + 5)
        assert evaluator is evaluators[0]
        order.append(name)
        pool.release(evaluator)

    async def scenario() -> None:
        first = threading.Thread(target=thread_waiter, args=("thread 1",))
        first.start()
        while len(pool.waiters) < 1:
            await asyncio.sleep(0.001)
        loop_waiter = asyncio.ensure_future(pool.take_async(time.monotonic() + 5))
        while len(pool.waiters) < 2:
            await asyncio.sleep(0.001)
        second = threading.Thread(target=thread_waiter, args=("thread 2",))
        second.start()
        while len(pool.waiters) < 3:
            await asyncio.sleep(0.001)
        pool.release(evaluators[0])  # to thread 1, which gives it back: to the coroutine
        evaluator = await loop_waiter
        order.append("coroutine")
        pool.release(evaluator)  # to thread 2
        await asyncio.to_thread(first.join)
        await asyncio.to_thread(second.join)

    asyncio.run(scenario())
    assert order == ["thread 1", "coroutine", "thread 2"]
    assert pool.idle == [evaluators[0]] and not pool.waiters


def test_a_coroutine_that_gives_up_leaves_nothing_behind(evaluators: list[Evaluator]) -> None:
    pool = filled(1, evaluators, idle=0)

    async def scenario() -> None:
        with pytest.raises(TimeoutError):
            await pool.take_async(time.monotonic() + 0.1)
        assert not pool.waiters
        cancelled = asyncio.ensure_future(pool.take_async(time.monotonic() + 5))
        await asyncio.sleep(0.01)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert not pool.waiters

    asyncio.run(scenario())
    pool.release(evaluators[0])
    assert pool.idle == [evaluators[0]]


def test_a_grant_that_arrives_too_late_goes_back(evaluators: list[Evaluator]) -> None:
    """Handed over in the instant the coroutine's wait ended: the evaluator is not lost."""
    pool = filled(1, evaluators, idle=0)

    async def scenario() -> None:
        waiting = asyncio.ensure_future(pool.take_async(time.monotonic() + 5))
        while not pool.waiters:
            await asyncio.sleep(0.001)
        pool.release(evaluators[0])  # delivery is scheduled on the loop...
        waiting.cancel()  # ...and the waiter is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await waiting
        await asyncio.sleep(0.01)

    asyncio.run(scenario())
    assert pool.idle == [evaluators[0]] and not pool.waiters


def test_a_freed_place_goes_to_a_waiter(evaluators: list[Evaluator]) -> None:
    pool = filled(1, evaluators, idle=0)
    got: list[Evaluator | str | None] = []

    def waiter() -> None:
        got.append(pool.take(time.monotonic() + 5))

    thread = threading.Thread(target=waiter)
    thread.start()
    while not pool.waiters:
        time.sleep(0.001)
    pool.drop(evaluators[0])  # its evaluator died...
    pool.free_place()  # ...and not replaced: its place is handed on
    thread.join()
    assert got == [None] and pool.live == 1  # the waiter now starts one in that place
    pool.free_place()
    assert pool.live == 0


def test_closing_refuses_every_waiter(evaluators: list[Evaluator]) -> None:
    pool = filled(2, evaluators, idle=1)
    assert pool.take(time.monotonic() + 1) is evaluators[0]
    refused: list[BaseException] = []

    def waiter() -> None:
        try:
            pool.take(time.monotonic() + 5)
        except BaseException as error:
            refused.append(error)

    async def scenario() -> None:
        thread = threading.Thread(target=waiter)
        thread.start()
        coroutine = asyncio.ensure_future(pool.take_async(time.monotonic() + 5))
        while len(pool.waiters) < 2:
            await asyncio.sleep(0.001)
        assert sorted(e.pid for e in pool.close()) == [10_000, 10_001]
        with pytest.raises(PoolClosed):
            await coroutine
        await asyncio.to_thread(thread.join)

    asyncio.run(scenario())
    assert len(refused) == 1 and isinstance(refused[0], PoolClosed)
    with pytest.raises(PoolClosed):
        pool.take(time.monotonic() + 1)


def test_a_waiter_whose_loop_has_closed_is_passed_over(evaluators: list[Evaluator]) -> None:
    """Its loop gone (a worker shutting down), a coroutine's turn goes to the next in line,
    without the pool ever calling back into itself."""
    pool = filled(1, evaluators, idle=0)
    loop = asyncio.new_event_loop()
    pool.waiters.append(_LoopWaiter(pool, loop))  # as take_async() leaves it while it waits
    loop.close()
    released = threading.Thread(target=pool.release, args=(evaluators[0],))
    released.start()
    released.join(timeout=5)
    assert not released.is_alive(), "release() hung"
    assert pool.idle == [evaluators[0]] and not pool.waiters
