"""Killable query isolation: every query runs in an evaluator process that can be killed.

pyoxigraph has no time limit of its own and a Python thread cannot be stopped, so a query that
must be stoppable runs in a process of its own, and the time limit is a ``SIGKILL``.

Processes
---------
::

    caller (a gunicorn worker, a test)         zygote (a fresh interpreter, see ZYGOTE_COMMAND)
    IsolatedExecutor ────── control socket ──▶ holds the dataset in memory (the master copy);
      its pool of evaluators                   forks evaluators; the single writer
         │                                           │ fork (pages shared copy-on-write)
         └──────── one socket per evaluator ───▶ evaluator 1 … n, one query at a time

* The **zygote** is started once by the :class:`IsolatedExecutor` that owns it. It loads the
  dataset into an in-memory pyoxigraph store (queries there are 2.6 to 7 times faster than on
  the RocksDB store: ``server/bench/store_speed.py``) and counts its quads once, so that health
  checks and statistics never scan it. It never opens RocksDB itself, which would leave RocksDB's
  background threads in a process that forks: a loader child streams the on-disk store to it as
  N-Quads through a pipe. It is single-threaded, so forking from it is safe; on request it forks
  an **evaluator** and hands the caller one end of a socket pair and a pidfd of the new process
  (``SCM_RIGHTS``). The executor can be made before a server forks its workers: each process
  then asks for evaluators of its own (pool size ``workers``).
* An evaluator reads a request, evaluates it and writes frames back: an error, or a head (kind of
  result, whether rows were cut) then the body in chunks of 64 KiB and an end mark. It is
  long-lived: no process is started per request, and a query costs one pickled request, one
  ``send`` and one ``recv`` on each side. Evaluators share the dataset's pages with the zygote
  copy-on-write, but only in part: pyoxigraph's in-memory reads write to the pages they touch
  (reference counts), so an evaluator gradually gets private copies of what it reads, up to a
  whole copy of the store after a full scan. Peak memory is therefore up to (1 + evaluators)
  times the in-memory store (measured: 1M triples, about 350 MiB per copy).
* **Callers** are threads (Flask's request threads, the CLI, tests: ``run_query`` blocks)
  or coroutines on an event loop (the ASGI gateway: ``run_query_async`` awaits the
  evaluator's socket, so one loop serves many clients while their queries run elsewhere). Both
  take evaluators from the same pool of the process (``pool``), which hands a freed evaluator
  to the longest waiter of either kind.
* **Time limit.** The caller waits for the head until the deadline. Past it, the evaluator is
  killed through its pidfd (no pid can be reused under it), the caller waits until the pidfd says
  the process has exited (its CPU is free), asks the zygote for a replacement at once and raises
  :class:`~iomkg.service.QueryTimeout`. Other callers' evaluators are not involved. Each evaluator
  also arms ``ITIMER_REAL`` with the default ``SIGALRM`` action (terminate) at the limit plus
  :data:`BACKSTOP_SECONDS`, so it stops even if its caller died without killing it. Waiting for
  a free evaluator counts towards the limit (a caller that never got one hears so:
  ``QueryTimeout.queued``).
* **Row cap.** The evaluator reads at most ``max_rows + 1`` solutions or triples and serialises
  the first ``max_rows`` into a spool (memory up to :data:`SPILL_BYTES`, then a temporary file)
  before it sends the head: ``truncated`` and ``row_limit`` are known before the first byte of
  the body, and evaluation stops at the cap. The body is then streamed from the spool, so neither
  process has to hold a large CONSTRUCT or SELECT in memory. SELECT results are written by
  :func:`write_solutions`, which gives pyoxigraph's own bytes (the tests compare them); graphs
  are written by pyoxigraph itself.
* **Updates.** The zygote is the single writer. For an on-disk store, it forks a writer child that
  opens the store read-write, applies the update in one pyoxigraph transaction and flushes; the
  zygote enforces the time limit on it (a killed writer has committed nothing). Only after a
  successful commit is the master copy brought up to date: an update made only of
  ``INSERT DATA`` / ``DELETE DATA`` without blank nodes is applied to it as well (deterministic,
  so both copies stay equal); any other update is re-read from the store, because ``NOW()``,
  ``RAND()``, ``UUID()``, ``SAMPLE`` or a ``LIMIT`` without ``ORDER BY`` could give the copy a
  different answer than the store. Then a shared generation counter is bumped: callers compare it
  when they take an evaluator from their pool and replace the ones forked from the old copy, so
  an update is visible to every query that starts after it returned. A refused or failed update
  changes neither the store nor the copy. (A writer killed at its deadline in the instant after
  its commit would leave the store changed while the caller hears "stopped": after any kill the
  master copy is re-read from the store, so the copy never differs from the store.) While the
  zygote applies an update it forks nothing: queries go on in the evaluators that exist, and a
  killed one is replaced once the update is done. An in-memory source (a store object or an RDF
  file) has no disk: updates change the master copy (a file source refuses them).

The zygote exits when its owner closes the executor or dies; an evaluator exits when its socket
is closed (its caller closed the executor or died). A busy evaluator would not see its socket
closed until its query is evaluated, so the zygote also watches each caller process (a pidfd,
from the control connection's ``SO_PEERCRED``) and kills its evaluators when it exits.

If the zygote itself dies (``SIGKILL``, the OOM killer), the owner starts a new one
(:meth:`IsolatedExecutor.revive_if_gone`, called by the server's main loop once a second): it
loads the dataset again and bumps the generation, so callers retire the dead zygote's evaluators,
and their control connections are made again at the first failure. Meanwhile the evaluators
that exist answer as before; asking for a new one raises
:class:`~iomkg.store.base.StoreUnavailable` (503, "try again"). An idle evaluator that died
unseen is found when a request cannot be sent to it: the request goes to another.

Modules: ``wire`` (frames, pickles, pidfds), ``writers`` (capped serialisation), ``zygote`` (the
zygote and evaluator processes), ``pool`` (one process's evaluators), ``client``
(:class:`IsolatedExecutor`), ``store`` (:class:`ExecutorStore`).
"""

from iomkg.executor.client import IsolatedExecutor
from iomkg.executor.store import ExecutorStore
from iomkg.executor.writers import write_solutions, write_triples
from iomkg.executor.zygote import is_data_only

__all__ = ["ExecutorStore", "IsolatedExecutor", "is_data_only", "write_solutions", "write_triples"]
