"""Killable query isolation: every query runs in an evaluator process that can be killed.

pyoxigraph has no time limit of its own and a Python thread cannot be stopped, so a query that
must be stoppable runs in another process, and the time limit is a ``SIGKILL``. No library does
this for pyoxigraph: this package is the part of the server that stays hand-written.

Processes
---------
::

    caller (a gunicorn worker, a test)          master (a fresh interpreter, MASTER_COMMAND)
    IsolatedExecutor ── control socket ───────▶ owns the sockets; applies updates in writers;
      its pool of connections                   never opens the store itself
         │                                            │ fork
         └──── connections (queries socket) ────▶ evaluator: the store's current version opened
                                                  read-only, a thread per connection

* The **master** is started once by the :class:`IsolatedExecutor` that owns it. It forks the
  **evaluator** and forks it again at once whenever it dies. Being single-threaded and never
  having opened RocksDB, it can fork safely. The executor can be made before a server forks its
  workers: each process then opens connections of its own (at most ``workers`` at once).
* The **evaluator** opens the store read-only (``pyoxigraph.Store.read_only``: pages shared with
  every other reader through the operating system's page cache, one RocksDB block cache for all
  queries) and answers each connection in a thread: pyoxigraph releases the GIL while it
  evaluates, so queries run in parallel. Its memory is that of one reader of the store, whatever
  the number of queries, and it starts in milliseconds: nothing is loaded.
* **A connection** carries one query at a time: a pickled request (with the seconds it has
  left), then frames back: an error, or a head (kind of result, whether rows were cut), the body
  in chunks of 64 KiB and an end mark. No process is started per request.
* **Time limit.** The evaluator's watchdog kills the evaluator when a query passes its deadline:
  that is the only way to stop pyoxigraph, and it frees the CPU at once. A query whose caller
  closed the connection (left) is stopped so too when it is the only one running; beside other
  callers' queries it runs on to its end or its deadline, as killing would stop theirs too. A
  caller whose connection closes after its deadline raises
  :class:`~iomkg.serving.service.QueryTimeout` (the CPU is already free); one whose connection
  closes before its deadline was stopped for another query, and sends its query again to the
  next evaluator (at most :data:`~iomkg.serving.executor.client.ATTEMPTS` times, within its own
  deadline). Waiting for a free connection counts towards the limit (a caller that never got
  one hears so: ``QueryTimeout.queued``). A caller whose evaluator does not stop at the
  deadline kills it.
* **Row cap.** The evaluator reads at most ``max_rows + 1`` solutions or triples and serialises
  the first ``max_rows`` into a spool (memory up to a size, then a temporary file) before it
  sends the head: ``truncated`` and ``row_limit`` are known before the first byte of the body,
  and evaluation stops at the cap (``writers``: one serialiser for every SELECT answer).
* **Updates.** The master is the single writer: it forks a writer per update, which makes the
  store's next version (:mod:`iomkg.store.versions`: a hard-link copy of the current one,
  written, then made current in one atomic step) under the time limit (a killed writer has
  changed nothing). Then it forks an evaluator on the new version, tells the old one to finish
  its queries and exit, and bumps a shared generation counter: callers compare it when they take
  a connection and leave the old evaluator's, so an update is visible to every query that
  starts after it returned. A refused or failed update changes nothing.

The master exits when its owner closes the executor or dies; evaluators and writers die with it
(``PR_SET_PDEATHSIG``). If the master itself dies (``SIGKILL``, the OOM killer), the owner starts
a new one (:meth:`IsolatedExecutor.revive_if_gone`, called by the server's main loop once a
second): it bumps the generation, so callers reconnect; meanwhile a query that needs a new
connection raises :class:`~iomkg.store.base.StoreUnavailable` (503, "try again").

Modules: ``wire`` (frames, pickles), ``writers`` (capped serialisation), ``host`` (the master,
evaluator and writer processes), ``pool`` (one process's connections), ``client``
(:class:`IsolatedExecutor`), ``store`` (:class:`ExecutorStore`), ``direct``
(:class:`DirectExecutor`: the same contract and the same writer with no process of its own,
over a remote engine or, where the caller owns the process, the embedded store).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from iomkg.serving.executor.client import IsolatedExecutor
    from iomkg.serving.executor.direct import DirectExecutor
    from iomkg.serving.executor.store import ExecutorStore
    from iomkg.serving.executor.writers import write_solutions, write_triples

#: Where each name of this package lives. Imported on first use (PEP 562), so that the master,
#: a fresh interpreter that needs only ``host``, does not import the client, the remote store and
#: asyncio: that halved its start (0.47 s to 0.2 s here), which a server waits for.
_EXPORTS = {
    "DirectExecutor": "iomkg.serving.executor.direct",
    "ExecutorStore": "iomkg.serving.executor.store",
    "IsolatedExecutor": "iomkg.serving.executor.client",
    "write_solutions": "iomkg.serving.executor.writers",
    "write_triples": "iomkg.serving.executor.writers",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)


__all__ = [
    "DirectExecutor",
    "ExecutorStore",
    "IsolatedExecutor",
    "write_solutions",
    "write_triples",
]
