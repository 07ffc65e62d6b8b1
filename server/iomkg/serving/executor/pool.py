"""One process's connections to the evaluator, taken by threads (blocking) and by an event loop
(awaiting) alike.

A process that uses the executor (its owner, or each server worker forked from it) has one pool
of at most ``size`` connections; each is one query at a time, so ``size`` is how many queries
the process may have running at once. Idle, busy and opening ones all count. A caller gets an
idle connection, or a free place to open one in, or waits its turn. A connection given back, or
a place freed by one that was closed, goes to the longest-waiting caller first, be it a thread
(Flask's request threads) or a coroutine (the ASGI gateway), so neither kind can starve the
other.
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

from iomkg.serving.executor import wire
from iomkg.store.base import StoreError


@dataclass
class Connection:
    """A connection to an evaluator process: its socket, the process's pid (to kill it if it
    stops answering) and the dataset generation it serves."""

    pid: int
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


class PoolClosed(StoreError):
    """The executor was closed while a caller waited for a connection."""

    def __init__(self) -> None:
        super().__init__("the query executor was closed")


#: What a waiter is handed: a connection, ``None`` (a free place: open one), or a refusal.
Grant = Connection | None | PoolClosed


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
    """The connections of one process (see the module docstring)."""

    def __init__(self, size: int) -> None:
        self.pid = os.getpid()
        self.size = size
        self.lock = threading.Lock()
        self.idle: list[Connection] = []
        self.live = 0  # idle + busy + being opened
        self.all: dict[int, Connection] = {}  # by id()
        self.waiters: deque[_Waiter] = deque()
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

    def take(self, deadline: float) -> Connection | None:
        """An idle connection, or ``None``: open one (its place is counted). Blocks the thread
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

    async def take_async(self, deadline: float) -> Connection | None:
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
    def release(self, connection: Connection) -> None:
        """``connection`` finished cleanly: to the longest waiter, else idle."""
        with self.lock:
            if self.closed or id(connection) not in self.all:
                connection.close()
                return
            while self.waiters:
                if self.waiters.popleft().offer(connection):
                    return
            self.idle.append(connection)

    def free_place(self) -> None:
        """A connection is gone and none replaced it: its place goes to a waiter."""
        with self.lock:
            while self.waiters and not self.closed:
                if self.waiters.popleft().offer(None):  # ``live`` stays: the waiter opens one
                    return
            self.live -= 1

    def give_back(self, grant: Grant) -> None:
        """Return what a waiter was handed but cannot use."""
        if isinstance(grant, Connection):
            self.release(grant)
        elif grant is None:
            self.free_place()

    def add(self, connection: Connection) -> None:
        with self.lock:
            self.all[id(connection)] = connection

    def drop(self, connection: Connection) -> None:
        """Close a connection taken from the pool; its place stays taken (the caller opens
        another in it, or frees it)."""
        with self.lock:
            self.all.pop(id(connection), None)
        connection.close()

    def close(self) -> list[Connection]:
        """Refuse every waiter and return every connection (the caller closes them)."""
        with self.lock:
            if self.closed:
                return []
            self.closed = True
            connections = list(self.all.values())
            self.all.clear()
            self.idle.clear()
            while self.waiters:
                self.waiters.popleft().offer(PoolClosed())
        return connections


class _Waiting:
    """The pool is full: wait."""


_WAITING = _Waiting()


def _granted(grant: Grant) -> Connection | None:
    if isinstance(grant, PoolClosed):
        raise grant
    return grant
