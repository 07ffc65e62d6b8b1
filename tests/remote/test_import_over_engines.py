"""``iomkg --backend URL import iati`` publishes the new validated release to the engine as
``build`` does (the same call, :func:`iomkg.pipeline.publish_to_backend`, inside the build that
an import runs): a second import of the same name replaces its graph, ``--remove`` takes it off
the engine too, and an engine that refuses the release leaves both sides as they were."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from iomkg.config import Settings
from iomkg.store import GraphStore, OxigraphStore
from iomkg.store.releases import Releases
from iomkg.store.remote import RemoteStore
from tests.conftest import requires_shared, run
from tests.engines import RunningEngine, read_only_oxigraph
from tests.iati.conftest import EXAMPLE, IOM_ACTIVITY
from tests.pipeline.test_build import tree_digest
from tests.remote.conftest import publish_release

pytestmark = [pytest.mark.slow, requires_shared]

NAME = "iom_activity_XM-DAC-47066-DP.2154"  # the import's name: its file's


def holdings(store: GraphStore) -> dict[str, int]:
    """Each named graph the store holds, with its number of triples."""
    return {graph: store.quad_count(graph) for graph in store.named_graphs()}


def release_holdings(settings: Settings) -> dict[str, int]:
    release = Releases(settings.store_root).require_current()
    return holdings(OxigraphStore.open(release.store_path, read_only=True))


@pytest.fixture
def private(
    engine: RunningEngine, seed_built_settings: Settings, tmp_path: Path
) -> Iterator[Settings]:
    """A copy of the session's store to import into; the engine holds the build again after."""
    store = tmp_path / "store"
    shutil.copytree(seed_built_settings.store_root, store, symlinks=True)
    try:
        yield seed_built_settings.with_overrides(store_dir=store)
    finally:
        publish_release(seed_built_settings, engine)


def test_import_publishes_replaces_and_removes_on_the_engine(
    engine: RunningEngine, remote: RemoteStore, private: Settings, tmp_path: Path
) -> None:
    backend = ("--backend", engine.url)
    imported = run(private, *backend, "import", "iati", str(IOM_ACTIVITY))
    assert imported.exit_code == 0, imported.output
    first = release_holdings(private)
    graph = private.base_iri + f"graph/iati/{NAME}"
    assert first[graph] > 0
    assert holdings(remote) == first  # the engine holds the new release, graph for graph

    other = tmp_path / "other" / IOM_ACTIVITY.name  # other bytes under the same name
    other.parent.mkdir()
    shutil.copy(EXAMPLE, other)
    replaced = run(private, *backend, "import", "iati", str(other))
    assert replaced.exit_code == 0, replaced.output
    second = release_holdings(private)
    assert second[graph] != first[graph]
    assert holdings(remote) == second  # replaced, not added to

    removed = run(private, *backend, "import", "iati", "--remove", NAME)
    assert removed.exit_code == 0, removed.output
    third = release_holdings(private)
    assert graph not in third
    assert holdings(remote) == third


def test_a_refused_publish_leaves_the_store_and_the_engine_as_they_were(
    engine: RunningEngine, remote: RemoteStore, private: Settings, tmp_path: Path
) -> None:
    before_store = tree_digest(private.store_root)
    if engine.kind == "virtuoso":  # the engine's endpoint loses its right to write
        engine.isql('REVOKE SPARQL_UPDATE FROM "SPARQL";')
        try:
            before = holdings(remote)
            refused = run(private, "--backend", engine.url, "import", "iati", str(IOM_ACTIVITY))
            after = holdings(remote)
        finally:
            engine.isql('GRANT SPARQL_UPDATE TO "SPARQL";')
    else:  # the same release on an Oxigraph that takes no write
        current = Releases(private.store_root).require_current()
        with read_only_oxigraph(tmp_path, current.dumps_path / "iomkg.nq") as read_only:
            readable = RemoteStore.connect(read_only.url, private.base_iri)
            before = holdings(readable)
            refused = run(private, "--backend", read_only.url, "import", "iati", str(IOM_ACTIVITY))
            after = holdings(readable)
    assert refused.exit_code != 0, refused.output
    assert "engine" in refused.output, refused.output
    assert after == before and before == release_holdings(private)
    assert tree_digest(private.store_root) == before_store
