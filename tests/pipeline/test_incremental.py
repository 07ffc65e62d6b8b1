"""Incremental validation: a build validates the graphs that changed since the current release
and what the shapes reach from them, and keeps the previous release's results for the rest;
a violation that a change in one graph causes in another is still caught."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg import incremental, pipeline
from iomkg.config import Settings
from iomkg.store.releases import Releases

WARNING_SHAPES = """\
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix ex: <urn:test:incremental#> .

ex:SchemeNote a sh:NodeShape ;
    sh:targetClass skos:ConceptScheme ;
    sh:property ex:SchemeNote-note .

ex:SchemeNote-note a sh:PropertyShape ;
    sh:path <urn:test:incremental#note> ;
    sh:minCount 1 ;
    sh:severity sh:Warning ;
    sh:message "test: a scheme without a note (a warning, so the build passes)"@en .
"""


def full_results(settings: Settings) -> list[incremental.ShaclResult]:
    """Every result of validating the current release's sources in full, with the figures it
    derived at its build time."""
    release = Releases(settings.store_root).current()
    assert release is not None
    built = ox.Store.read_only(str(release.path / "oxigraph"))
    (modified,) = built.quads_for_pattern(
        ox.NamedNode(settings.base_iri + "id/dataset/iomkg"),
        ox.NamedNode("http://purl.org/dc/terms/modified"),
        None,
    )
    parsed = pipeline.parse_sources(pipeline.discover_sources(settings), settings.base_iri)
    pipeline.add_derived(parsed, settings, datetime.fromisoformat(modified.object.value))
    store = pipeline.validation_store(q for quads in parsed.quads.values() for q in quads)
    return pipeline.shacl_results(store, pipeline.load_shapes(settings))


def touch(path: Path) -> None:
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")


def test_a_build_validates_what_changed_and_keeps_the_other_results(
    project_copy: Settings,
) -> None:
    (project_copy.shapes_dir / "zz-test-warning.ttl").write_text(WARNING_SHAPES, encoding="utf-8")
    first = pipeline.build(project_copy)
    assert first.validation is not None and not first.validation.incremental
    assert first.validation.reason == "no previous validation to compare with"
    release = Releases(project_copy.store_root).current()
    assert release is not None
    record = incremental.read_record(release.path)
    assert record is not None
    warnings = [r for r in record.results if str(r.shape) == "urn:test:incremental#SchemeNote-note"]
    assert warnings  # each concept scheme (graph vocabulary/concepts) lacks the note

    source = project_copy.data_dir / "sources" / "001_f2128d7fdb422215.ttl"
    touch(source)
    second = pipeline.build(project_copy)
    scope = second.validation
    assert scope is not None and scope.incremental and scope.focus is not None
    assert project_copy.graph_iri("sources/001_f2128d7fdb422215") in scope.changed
    assert project_copy.graph_iri("vocabulary/concepts") not in scope.changed
    assert 0 < len(scope.focus) < second.total_triples // 10
    # The schemes' warnings were not validated again but kept from the first release...
    assert {str(w.focus) for w in warnings} <= {str(r.focus) for r in scope.reused}
    assert not {str(w.focus) for w in warnings} & {str(n.value) for n in scope.focus}
    # ...and the release's results are those of a validation in full.
    release = Releases(project_copy.store_root).current()
    assert release is not None
    record = incremental.read_record(release.path)
    assert record is not None
    assert [r.key() for r in record.results] == [r.key() for r in full_results(project_copy)]


def test_a_change_in_one_graph_that_breaks_a_shape_in_another_is_caught(
    project_copy: Settings,
) -> None:
    pipeline.build(project_copy)
    concepts = project_copy.data_dir / "vocabulary" / "concepts.ttl"
    text = concepts.read_text(encoding="utf-8")
    block = text.index("<id/concept/donor-role/external-donor> a skos:Concept")
    end = text.index(" .\n", block)
    changed = text[block:end].replace(
        "skos:inScheme <id/scheme/donor-role>", "skos:inScheme <id/scheme/indicator>"
    )
    assert changed != text[block:end]
    concepts.write_text(text[:block] + changed + text[end:], encoding="utf-8")
    with pytest.raises(pipeline.ValidationFailed) as raised:
        pipeline.build(project_copy)
    scope = raised.value.scope
    assert scope is not None and scope.incremental
    assert project_copy.graph_iri("vocabulary/concepts") in scope.changed
    assert not any("/sources/" in graph for graph in scope.changed)
    # The fundings of the (unchanged) source pages whose donor role left its scheme:
    broken = [v for v in raised.value.violations if "/id/funding/" in v.focus_node]
    assert broken and all(
        "sources/000_" in f or "sources/001_" in f for v in broken for f in v.files
    )
    # The same violations as validating everything.
    _parsed, full = pipeline.validate(project_copy)
    assert [v.describe() for v in raised.value.violations] == [v.describe() for v in full]


def test_changed_shapes_validate_everything(project_copy: Settings) -> None:
    pipeline.build(project_copy)
    (project_copy.shapes_dir / "zz-test-warning.ttl").write_text(WARNING_SHAPES, encoding="utf-8")
    summary = pipeline.build(project_copy)
    assert summary.validation is not None and not summary.validation.incremental
    assert summary.validation.reason == "the shapes or the validator changed"
