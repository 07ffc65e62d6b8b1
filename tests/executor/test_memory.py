"""A small release is served from the master's copy in memory, a larger one from disk: the
answers are the same either way, and the setting reads from its variable like the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iomkg import formats
from iomkg.config import Settings, SettingsError
from iomkg.executor import IsolatedExecutor
from iomkg.service import QueryRequest

from .conftest import settings_for

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
