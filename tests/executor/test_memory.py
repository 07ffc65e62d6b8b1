"""A small release is served from the master's copy in memory, a larger one from disk: the
answers are the same either way, and the setting reads from its variable like the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iomkg import formats
from iomkg.config import Settings, SettingsError
from iomkg.serving.executor import IsolatedExecutor
from iomkg.serving.service import QueryRequest, UpdateRequest

from .conftest import settings_for, wait_for_source

JSON = formats.by_name("json", "results")
NT = formats.by_name("nt", "graph")
#: Every quad, blank nodes by kind only (their labels are the store's own business).
EVERYTHING = (
    "SELECT ?g ?s ?p ?o WHERE { GRAPH ?g { ?s ?p ?object } "
    'BIND(IF(isBlank(?object), "blank node", ?object) AS ?o) } ORDER BY ?g ?s ?p ?o'
)


def everything(store_path: Path, tmp: Path, memory_quads: int) -> tuple[int, list[object]]:
    settings = settings_for(tmp, memory_quads=memory_quads)
    with IsolatedExecutor(settings, store_path, workers=1) as executor:
        wanted = "memory" if memory_quads >= 4400 else "disk"
        assert wait_for_source(executor, wanted) == wanted
        count = executor.call("quad_count", timeout=30)
        answer = executor.run_query(
            QueryRequest(EVERYTHING, results_format=JSON, graph_format=NT), timeout=30
        )
        rows = json.loads(b"".join(answer.chunks))["results"]["bindings"]
    return count, rows


def test_the_copy_in_memory_answers_as_the_store_on_disk(store_path: Path, tmp_path: Path) -> None:
    on_disk = everything(store_path, tmp_path / "disk", memory_quads=0)
    in_memory = everything(store_path, tmp_path / "memory", memory_quads=4400)
    just_over = everything(store_path, tmp_path / "over", memory_quads=4399)  # from disk
    assert on_disk[0] == in_memory[0] == just_over[0] == 4400
    assert on_disk[1] == in_memory[1] == just_over[1]
    assert len(on_disk[1]) == 4400


def test_memory_quads_reads_from_its_variable() -> None:
    assert Settings.from_env({"IOMKG_MEMORY_QUADS": "0"}).memory_quads == 0
    assert Settings.from_env({}).memory_quads == 500_000
    with pytest.raises(SettingsError, match="IOMKG_MEMORY_QUADS"):
        Settings.from_env({"IOMKG_MEMORY_QUADS": "many"})
    with pytest.raises(SettingsError, match="memory quads"):
        Settings(memory_quads=-1)


def test_a_new_version_is_served_from_disk_until_its_copy_is_whole(
    fresh_store: Path, tmp_path: Path
) -> None:
    """The first answer does not wait for the copy; an update's new version is copied too."""
    settings = settings_for(tmp_path, memory_quads=100_000, allow_anonymous_updates=True)
    with IsolatedExecutor(settings, fresh_store, workers=1) as executor:
        assert executor.call("quad_count", timeout=30) == 4400  # from whichever is ready
        assert wait_for_source(executor, "memory") == "memory"
        executor.run_update(
            UpdateRequest("INSERT DATA { <http://example.org/new> <http://example.org/p> 1 }"),
            timeout=30,
        )
        assert executor.call("quad_count", timeout=30) == 4401  # the update is seen at once
        assert wait_for_source(executor, "memory") == "memory"
        assert executor.call("quad_count", timeout=30) == 4401
