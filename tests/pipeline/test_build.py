"""The build: validated, atomic, summarised; a broken input leaves the previous build untouched."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg import pipeline
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import PROJECT_DIR


def tree_digest(root: Path) -> dict[str, str]:
    """Every file (and symlink target) under ``root`` with a hash of its bytes."""
    digest = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            digest[key] = "-> " + str(path.readlink())
        elif path.is_file():
            digest[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digest


def test_build_loads_every_graph_and_writes_dumps(project_copy: Settings) -> None:
    summary = pipeline.build(project_copy)
    release = Releases(project_copy.store_root).current()
    assert release is not None and release.name == summary.release
    graphs = summary.triples_per_graph
    assert project_copy.graph_iri("ontology") in graphs
    assert project_copy.graph_iri("sources/000_aa2112c34e1aacb8") in graphs
    assert project_copy.graph_iri("sources/001_f2128d7fdb422215") in graphs
    assert all(count > 0 for count in graphs.values())
    for name in ("iomkg.ttl", "iomkg.trig", "iomkg.nq", "iomkg.jsonld", "context.jsonld"):
        assert (release.dumps_path / name).stat().st_size > 0
    store = OxigraphStore.open(release.store_path, read_only=True)
    assert store.quad_count() == summary.total_triples
    # The N-Quads dump holds exactly the store's quads, graph names included.
    dumped = list(ox.parse(path=str(release.dumps_path / "iomkg.nq"), format=ox.RdfFormat.N_QUADS))
    assert len(dumped) == summary.total_triples
    assert {q.graph_name.value for q in dumped} == set(graphs)
    assert {"parse", "validate", "load", "dumps", "total"} <= set(summary.timings)


def test_dumps_parse_back_with_named_graphs(project_copy: Settings) -> None:
    summary = pipeline.build(project_copy)
    release = Releases(project_copy.store_root).current()
    assert release is not None
    trig = list(ox.parse(path=str(release.dumps_path / "iomkg.trig"), format=ox.RdfFormat.TRIG))
    assert len(trig) == summary.total_triples
    jsonld = list(
        ox.parse(path=str(release.dumps_path / "iomkg.jsonld"), format=ox.RdfFormat.JSON_LD)
    )
    assert len(jsonld) == summary.total_triples
    turtle = list(ox.parse(path=str(release.dumps_path / "iomkg.ttl"), format=ox.RdfFormat.TURTLE))
    assert (
        0 < len(turtle) <= summary.total_triples
    )  # the union: a triple stated in two graphs counts once
    text = (release.dumps_path / "iomkg.jsonld").read_text(encoding="utf-8")
    assert '"@context"' in text and '"skos:prefLabel"' in text  # readable: compacted with prefixes


def test_base_iri_is_configurable(project_copy: Settings) -> None:
    shutil.copytree(PROJECT_DIR / "data" / "iati", project_copy.data_dir / "iati")  # IATI too
    settings = project_copy.with_overrides(base_iri="http://example.org/kg/")
    summary = pipeline.build(settings)
    assert all(
        graph.startswith("http://example.org/kg/graph/") for graph in summary.triples_per_graph
    )
    assert "http://example.org/kg/graph/iati/dportal-covid19-page-110" in summary.triples_per_graph
    release = Releases(settings.store_root).current()
    assert release is not None
    store = OxigraphStore.open(release.store_path, read_only=True)
    assert bool(store.query("ASK { <http://example.org/kg/id/project/ntf> ?p ?o }"))
    assert not bool(
        store.query("ASK { ?s ?p ?o FILTER(STRSTARTS(STR(?s), 'https://w3id.org/iomkg/')) }")
    )


def test_build_is_stable_across_runs(project_copy: Settings) -> None:
    first = pipeline.build(project_copy)
    second = pipeline.build(project_copy)
    assert first.triples_per_graph == second.triples_per_graph
    assert first.release != second.release  # a new folder each time...
    assert (
        first.release.split("-")[1] == second.release.split("-")[1]
    )  # ...labelled by the same input digest


@pytest.mark.parametrize(
    ("breakage", "error", "exit_code"),
    [
        ("corrupt", pipeline.SourceParseError, 2),
        ("violate", pipeline.ValidationFailed, 1),
    ],
)
def test_failed_build_leaves_previous_build_byte_for_byte(
    project_copy: Settings, breakage: str, error: type[pipeline.BuildError], exit_code: int
) -> None:
    pipeline.build(project_copy)
    before = tree_digest(project_copy.store_root)
    source = project_copy.data_dir / "sources" / "000_aa2112c34e1aacb8.ttl"
    if breakage == "corrupt":
        source.write_text(
            source.read_text(encoding="utf-8") + "\n<id/broken> <ontology#x> .\n", encoding="utf-8"
        )
    else:
        # A funding with neither funder nor funded item breaks the funding shape.
        source.write_text(
            source.read_text(encoding="utf-8") + "\n<id/funding/broken> a <ontology#Funding> .\n",
            encoding="utf-8",
        )
    with pytest.raises(error) as raised:
        pipeline.build(project_copy)
    assert raised.value.exit_code == exit_code
    assert tree_digest(project_copy.store_root) == before
    if breakage == "corrupt":
        assert isinstance(raised.value, pipeline.SourceParseError)
        assert raised.value.path == source and raised.value.line is not None
    else:
        assert isinstance(raised.value, pipeline.ValidationFailed)
        focus = {v.focus_node for v in raised.value.violations}
        assert project_copy.base_iri + "id/funding/broken" in focus
        assert all(v.message for v in raised.value.violations)
        assert any(str(source) in v.files for v in raised.value.violations)


def test_parse_error_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text("@prefix x: <http://x/> .\nx:a x:b .\n", encoding="utf-8")
    with pytest.raises(pipeline.SourceParseError) as raised:
        pipeline.parse_sources([pipeline.SourceFile(bad, "http://g/")], "http://example.org/")
    assert raised.value.line == 2
    assert str(bad) in str(raised.value)


def test_sources_map_to_named_graphs(tmp_settings: Settings) -> None:
    sources = pipeline.discover_sources(tmp_settings)
    by_name = {
        source.path.relative_to(tmp_settings.project_dir).as_posix(): source.graph
        for source in sources
    }
    assert (
        by_name["data/sources/000_aa2112c34e1aacb8.ttl"]
        == tmp_settings.base_iri + "graph/sources/000_aa2112c34e1aacb8"
    )
    assert by_name["ontology/iomkg.ttl"] == tmp_settings.base_iri + "graph/ontology"
