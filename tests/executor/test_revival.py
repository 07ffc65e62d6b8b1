"""Processes killed outright (SIGKILL, the OOM killer): the evaluator is replaced by the master at
once, the master by its owner, and callers, updates and queries carry on with the new ones."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from iomkg.serving.executor import IsolatedExecutor
from iomkg.serving.service import UpdateRequest
from iomkg.store.base import StoreError, StoreUnavailable
from iomkg.store.versions import StoreVersions
from tests.processes import descendants, gone_soon

from .conftest import EX, settings_for
from .test_async import body_async
from .test_isolation import ask, bindings

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
INSERT = UpdateRequest(f"INSERT DATA {{ GRAPH <{EX}graph/0> {{ <{EX}new> <{EX}p> 'after' }} }}")


def test_a_killed_master_is_started_again_and_everything_carries_on(
    fresh_store: Path, tmp_path: Path
) -> None:
    with IsolatedExecutor(settings_for(tmp_path), fresh_store, workers=2) as executor:
        before = int(bindings(executor, COUNT)[0]["n"]["value"])
        old_evaluator = executor.evaluator_pid()
        dead = executor.master_pid()
        assert not executor.revive_if_gone()  # it runs: nothing to do

        os.kill(dead, signal.SIGKILL)
        assert gone_soon(dead)
        assert gone_soon(old_evaluator)  # its evaluator dies with it
        with pytest.raises(StoreUnavailable, match="try again in a few seconds"):
            executor.run_update(INSERT)  # nothing to apply it: refused, not half done
        with pytest.raises(StoreUnavailable):
            bindings(executor, COUNT)

        assert executor.revive_if_gone()
        assert executor.master_pid() != dead
        assert not executor.revive_if_gone()
        executor.run_update(INSERT)  # a new control connection to the new master
        assert int(bindings(executor, COUNT)[0]["n"]["value"]) == before + 1
        assert executor.evaluator_pid() != old_evaluator


def test_a_killed_evaluator_is_replaced_and_the_next_query_runs(
    store_path: Path, tmp_path: Path
) -> None:
    """An idle evaluator killed unseen (the OOM killer picks the largest process) cannot take
    the next request: that request never ran, so it goes to the next evaluator, not to a 500."""
    with IsolatedExecutor(settings_for(tmp_path), store_path, workers=1) as executor:
        for run in ("thread", "event loop"):
            bindings(executor, COUNT)
            idle = executor.evaluator_pid()
            os.kill(idle, signal.SIGKILL)
            assert gone_soon(idle)
            if run == "thread":
                assert int(bindings(executor, COUNT)[0]["n"]["value"]) > 0
            else:
                answer = asyncio.run(body_async(executor, ask("ASK { ?s ?p ?o }")))
                assert json.loads(answer)["boolean"] is True
            assert executor.evaluator_pid() != idle


def test_a_master_killed_mid_update_takes_its_writer_with_it(
    fresh_store: Path, tmp_path: Path
) -> None:
    """The writer must not make its version current on its own after its master died (past
    the limit, while the new master serves the store as it was): it is killed with it,
    nothing is applied, and what is served is what is on disk."""
    slow = UpdateRequest(
        f"INSERT {{ GRAPH <{EX}graph/0> {{ <{EX}x> <{EX}n> ?a }} }} "
        "WHERE { GRAPH ?g { ?a ?b ?c . ?d ?e ?f . ?h ?i ?j } }"
    )
    with IsolatedExecutor(settings_for(tmp_path), fresh_store, workers=1) as executor:
        evaluator = executor.evaluator_pid()
        master = executor.master_pid()
        outcome: list[BaseException] = []

        def update() -> None:
            try:
                executor.run_update(slow, timeout=30)
            except BaseException as error:
                outcome.append(error)

        updating = threading.Thread(target=update)
        updating.start()
        deadline = time.monotonic() + 5
        while not (writers := descendants(master) - {master, evaluator}):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        time.sleep(0.3)  # the writer is at work
        os.kill(master, signal.SIGKILL)
        updating.join(timeout=5)
        assert not updating.is_alive()
        [error] = outcome
        assert isinstance(error, StoreError) and "check before sending it again" in str(error)
        assert all(gone_soon(pid) for pid in writers)
        assert executor.revive_if_gone()
        written = f"SELECT (COUNT(*) AS ?n) WHERE {{ <{EX}x> ?p ?o }}"
        assert bindings(executor, written)[0]["n"]["value"] == "0"
    assert StoreVersions(fresh_store).current() == fresh_store  # no version was made current
