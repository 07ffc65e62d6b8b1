"""One process's evaluators, taken by threads (blocking) and by an event loop (awaiting) alike.

A process that uses the executor (its owner, or each server worker forked from it) has one pool
of at most ``size`` evaluators; idle, busy and starting ones all count. A caller gets an idle
evaluator, or a free place to start one in, or waits its turn. An evaluator given back, or a
place freed by one that was killed, goes to the longest-waiting caller first, be it a thread
(Flask's request threads) or a coroutine (the ASGI gateway), so neither kind can starve the
other and the pool never holds more processes than its size.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from iomkg.executor import wire
from iomkg.store.base import StoreError


@dataclass
class Evaluator:
    """A running evaluator: its socket, its pidfd (kill and wait without pid reuse races), and the
    dataset generation it was forked from."""

    pid: int
    pidfd: int
    channel: wire.Channel
    generation: int
    nonblocking: bool = False  # its socket is in the mode the event loop needs

    def use_from_loop(self) -> None:
        if not self.nonblocking:
            self.channel.sock.setblocking(False)
            self.nonblocking = True

    def use_from_thread(self) -> None:
        if self.nonblocking:
            self.channel.sock.setblocking(True)
            self.nonblocking = False

    def close(self) -> None:
        self.channel.close()
        with contextlib.suppress(OSError):
            os.close(self.pidfd)


class PoolClosed(StoreError):
    """The executor was closed while a caller waited for an evaluator."""

    def __init__(self) -> None:
        super().__init__("the query executor was closed")


#: What a waiter is handed: an evaluator, ``None`` (a free place: start one), or a refusal.
Grant = Evaluator | None | PoolClosed


class _Waiter(Protocol):
    def offer(self, grant: Grant) -> bool:
        """Hand ``grant`` over (False: this waiter can take nothing any more). Called with the
        pool's lock held: it must neither block nor call back into the pool."""


class _ThreadWaiter:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.grant: Grant = PoolClosed()
        self.granted = False

    def offer(self, grant: Grant) -> bool:
        self.grant, self.granted = grant, True
        self.event.set()
        return True


class _LoopWaiter:
    def __init__(self, pool: Pool, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.loop = loop
        self.future: asyncio.Future[Grant] = loop.create_future()

    def offer(self, grant: Grant) -> bool:
        try:
            self.loop.call_soon_threadsafe(self._deliver, grant)
        except RuntimeError:  # its loop is closed: nobody there will take it
            return False
        return True

    def _deliver(self, grant: Grant) -> None:
        if self.future.done():  # the waiter timed out meanwhile: the grant goes back
            self.pool.give_back(grant)
        else:
            self.future.set_result(grant)


class Pool:
    """The evaluators of one process (see the module docstring)."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.size = size
        self.lock = threading.Lock()
        self.idle: list[Evaluator] = []
        self.live = 0  # idle + busy + being started
        self.all: dict[int, Evaluator] = {}  # by pidfd
        self.waiters: deque[_Waiter] = deque()
        self.control: wire.Channel | None = None  # to the zygote, for spawns
        self.control_lock = threading.Lock()
        self.closed = False

    # Taking ---------------------------------------------------------------------------------------
    def _take_locked(self) -> Grant | _Waiting:
        if self.closed:
            return PoolClosed()
        if self.idle:
            return self.idle.pop()
        if self.live < self.size:
            self.live += 1
            return None
        return _WAITING

    def take(self, deadline: float) -> Evaluator | None:
        """An idle evaluator, or ``None``: start one (its place is counted). Blocks the thread
        until one is free; ``TimeoutError`` past ``deadline`` (monotonic)."""
        with self.lock:
            grant = self._take_locked()
            if isinstance(grant, _Waiting):
                waiter = _ThreadWaiter()
                self.waiters.append(waiter)
        if not isinstance(grant, _Waiting):
            return _granted(grant)
        if not waiter.event.wait(max(0.0, deadline - time.monotonic())):
            with self.lock:
                if not waiter.granted:
                    self.waiters.remove(waiter)
                    raise TimeoutError
            self.give_back(waiter.grant)  # handed over just as the wait ended: too late
            raise TimeoutError
        return _granted(waiter.grant)

    async def take_async(self, deadline: float) -> Evaluator | None:
        """:meth:`take` for a coroutine: waits without blocking the event loop."""
        with self.lock:
            taken = self._take_locked()
            if isinstance(taken, _Waiting):
                waiter = _LoopWaiter(self, asyncio.get_running_loop())
                self.waiters.append(waiter)
        if not isinstance(taken, _Waiting):
            return _granted(taken)
        try:
            async with asyncio.timeout_at(deadline):  # the loop's clock is time.monotonic()
                grant = await waiter.future
        except BaseException:  # the time limit, or the request was cancelled (client gone)
            with self.lock, contextlib.suppress(ValueError):
                self.waiters.remove(waiter)
            if waiter.future.done() and not waiter.future.cancelled():
                self.give_back(waiter.future.result())  # handed over just as the wait ended
            # else: the future was cancelled, and a grant still on its way is given back
            raise
        return _granted(grant)

    # Giving back ----------------------------------------------------------------------------------
    def release(self, evaluator: Evaluator) -> None:
        """``evaluator`` finished cleanly: to the longest waiter, else idle."""
        with self.lock:
            if self.closed or evaluator.pidfd not in self.all:
                evaluator.close()
                return
            while self.waiters:
                if self.waiters.popleft().offer(evaluator):
                    return
            self.idle.append(evaluator)

    def free_place(self) -> None:
        """An evaluator is gone and no successor was started: its place goes to a waiter."""
        with self.lock:
            while self.waiters and not self.closed:
                if self.waiters.popleft().offer(None):  # ``live`` stays: the waiter starts one
                    return
            self.live -= 1

    def give_back(self, grant: Grant) -> None:
        """Return what a waiter was handed but cannot use."""
        if isinstance(grant, Evaluator):
            self.release(grant)
        elif grant is None:
            self.free_place()

    def add(self, evaluator: Evaluator) -> None:
        with self.lock:
            self.all[evaluator.pidfd] = evaluator

    def forget(self, evaluator: Evaluator) -> None:
        with self.lock:
            self.all.pop(evaluator.pidfd, None)

    def close(self) -> list[Evaluator]:
        """Refuse every waiter and return every evaluator (the caller kills them)."""
        with self.lock:
            if self.closed:
                return []
            self.closed = True
            evaluators = list(self.all.values())
            self.all.clear()
            self.idle.clear()
            while self.waiters:
                self.waiters.popleft().offer(PoolClosed())
        return evaluators

    def pids(self) -> list[int]:
        with self.lock:
            return sorted(evaluator.pid for evaluator in self.all.values())


class _Waiting:
    """The pool is full: wait."""


_WAITING = _Waiting()


def _granted(grant: Grant) -> Evaluator | None:
    if isinstance(grant, PoolClosed):
        raise grant
    return grant
