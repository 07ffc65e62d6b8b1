"""The zygote killed outright (SIGKILL, the OOM killer) is started again by its owner, and the
callers' evaluators, control connections and updates carry on with the new one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg.executor import IsolatedExecutor
from iomkg.service import UpdateRequest
from iomkg.store.base import StoreError, StoreUnavailable
from tests.processes import descendants, gone_soon

from .conftest import EX, settings_for
from .test_async import body_async
from .test_isolation import ask, bindings

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
INSERT = UpdateRequest(f"INSERT DATA {{ GRAPH <{EX}graph/0> {{ <{EX}new> <{EX}p> 'after' }} }}")


def test_a_killed_zygote_is_started_again_and_everything_carries_on(
    fresh_store: Path, tmp_path: Path
) -> None:
    with IsolatedExecutor(settings_for(tmp_path), fresh_store, workers=2) as executor:
        before = int(bindings(executor, COUNT)[0]["n"]["value"])
        old_evaluators = set(executor.evaluator_pids())
        dead = executor.zygote_pid()
        assert not executor.revive_if_gone()  # it runs: nothing to do

        os.kill(dead, signal.SIGKILL)
        assert gone_soon(dead)
        with pytest.raises(StoreUnavailable, match="try again in a few seconds"):
            executor.run_update(INSERT)  # nothing to apply it: refused, not half done
        assert int(bindings(executor, COUNT)[0]["n"]["value"]) == before  # old evaluators serve

        assert executor.revive_if_gone()
        assert executor.zygote_pid() != dead
        assert not executor.revive_if_gone()
        executor.run_update(INSERT)  # a new control connection to the new zygote
        assert int(bindings(executor, COUNT)[0]["n"]["value"]) == before + 1
        assert not old_evaluators & set(executor.evaluator_pids())  # retired, replaced
        assert all(gone_soon(pid) for pid in old_evaluators)


def test_a_kept_control_connection_to_a_dead_zygote_is_made_again(
    store_path: Path, tmp_path: Path
) -> None:
    """A caller whose connection led to the dead zygote gets its next evaluator from the new one
    at the first try, not a failure first."""
    with IsolatedExecutor(settings_for(tmp_path), store_path, workers=1) as executor:
        bindings(executor, COUNT)  # the control connection is made and kept
        os.kill(executor.zygote_pid(), signal.SIGKILL)
        assert gone_soon(executor.zygote_pid())
        assert executor.revive_if_gone()
        assert int(bindings(executor, COUNT)[0]["n"]["value"]) > 0  # from a fresh evaluator
        assert len(executor.evaluator_pids()) == 1


def test_a_query_given_an_evaluator_that_died_idle_runs_on_another(
    store_path: Path, tmp_path: Path
) -> None:
    """An idle evaluator killed unseen (the OOM killer picks the largest process) cannot take
    the next request: that request never ran, so it goes to a new evaluator, not to a 500."""

    with IsolatedExecutor(settings_for(tmp_path), store_path, workers=1) as executor:
        for run in ("thread", "event loop"):
            bindings(executor, COUNT)
            [idle] = executor.evaluator_pids()
            os.kill(idle, signal.SIGKILL)
            assert gone_soon(idle)
            if run == "thread":
                assert int(bindings(executor, COUNT)[0]["n"]["value"]) > 0
            else:
                assert (
                    json.loads(asyncio.run(body_async(executor, ask("ASK { ?s ?p ?o }"))))[
                        "boolean"
                    ]
                    is True
                )
            assert executor.evaluator_pids() != [idle]


def test_a_zygote_killed_mid_update_takes_its_writer_with_it(
    fresh_store: Path, tmp_path: Path
) -> None:
    """The writer child must not commit on its own after its zygote died (past the limit, while
    the new zygote serves the store as it was): it is killed with it, nothing is applied, and
    what is served is what is on disk."""
    slow = UpdateRequest(
        f"INSERT {{ GRAPH <{EX}graph/0> {{ <{EX}x> <{EX}n> ?a }} }} "
        "WHERE { GRAPH ?g { ?a ?b ?c . ?d ?e ?f . ?h ?i ?j } }"
    )
    with IsolatedExecutor(settings_for(tmp_path), fresh_store, workers=1) as executor:
        bindings(executor, COUNT)
        evaluators = set(executor.evaluator_pids())
        zygote = executor.zygote_pid()
        outcome: list[BaseException] = []

        def update() -> None:
            try:
                executor.run_update(slow, timeout=30)
            except BaseException as error:
                outcome.append(error)

        updating = threading.Thread(target=update)
        updating.start()
        deadline = time.monotonic() + 5
        while not (writers := descendants(zygote) - evaluators):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # the writer is at work
        os.kill(zygote, signal.SIGKILL)
        updating.join(timeout=5)
        assert not updating.is_alive()
        [error] = outcome
        assert isinstance(error, StoreError) and "check before sending it again" in str(error)
        assert all(gone_soon(pid) for pid in writers)
        assert executor.revive_if_gone()
        written = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}x> ?p ?o }}"
        assert bindings(executor, written)[0]["n"]["value"] == "0"
    disk = ox.Store.read_only(str(fresh_store))
    assert not list(disk.quads_for_pattern(ox.NamedNode(EX + "x"), None, None, None))
