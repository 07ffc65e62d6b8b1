"""The zygote killed outright (SIGKILL, the OOM killer) is started again by its owner, and the
callers' evaluators, control connections and updates carry on with the new one."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from pathlib import Path

import pytest

from iomkg.executor import IsolatedExecutor
from iomkg.service import UpdateRequest
from iomkg.store.base import StoreUnavailable
from tests.processes import gone_soon

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
