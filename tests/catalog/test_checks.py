"""Quality checks as queries: each passes on the seed graph, catches what it is about, and any row
it returns stops ``iomkg build`` with the check's title and the offending resources."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from iomkg import pipeline
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.catalog.conftest import run_cli

BASE = "https://w3id.org/iomkg/"


def store_with(seed_store: OxigraphStore, turtle: str = "") -> OxigraphStore:
    """A copy of the seed graph with extra Turtle (relative IRIs) in a test graph."""
    copy = OxigraphStore.in_memory()
    copy.raw.extend(seed_store.raw)
    if turtle:
        copy.load(
            turtle.encode(), format=ox.RdfFormat.TURTLE, graph=BASE + "graph/test", base_iri=BASE
        )
    return copy


def test_every_check_passes_on_the_seed_graph(
    seed_store: OxigraphStore, settings: Settings
) -> None:
    assert pipeline.run_checks(seed_store, settings) == []


SAME_AS = "http://www.w3.org/2002/07/owl#sameAs"
XSD = "http://www.w3.org/2001/XMLSchema#"


@pytest.mark.parametrize(
    ("check", "turtle", "remove", "expected"),
    [
        (
            "funding-count-violation.rq",
            "",
            ox.Quad(
                ox.NamedNode(BASE + "id/funding/ntf-AT"),
                ox.NamedNode("https://schema.org/funder"),
                ox.NamedNode(BASE + "id/country/AT"),
                ox.NamedNode(BASE + "graph/sources/000_aa2112c34e1aacb8"),
            ),
            {
                "programme": BASE + "id/project/ntf",
                "figure": BASE + "id/figure/ntf-funding-countries",
                "stated": "18",
                "linked": "17",
            },
        ),
        (
            "wikidata-link-violation.rq",
            "",
            ox.Quad(
                ox.NamedNode(BASE + "id/country/NO"),
                ox.NamedNode(SAME_AS),
                ox.NamedNode("http://www.wikidata.org/entity/Q20"),
                ox.NamedNode(BASE + "graph/links/wikidata"),
            ),
            {"country": BASE + "id/country/NO", "iso": "NO"},
        ),
        (
            "shared-link-violation.rq",
            f"<id/country/GR> <{SAME_AS}> <http://www.wikidata.org/entity/Q20> .",
            None,
            {
                "external": "http://www.wikidata.org/entity/Q20",
                "resource": BASE + "id/country/GR",
                "otherResource": BASE + "id/country/NO",
            },
        ),
        (
            "date-order-violation.rq",
            f'<id/project/x> <https://schema.org/startDate> "2012-11"^^<{XSD}gYearMonth> ;'
            f' <https://schema.org/endDate> "2012-10-31"^^<{XSD}date> .',
            None,
            {"resource": BASE + "id/project/x", "start": "2012-11", "end": "2012-10-31"},
        ),
    ],
)
def test_each_check_catches_its_violation(
    check: str,
    turtle: str,
    remove: ox.Quad | None,
    expected: dict[str, str],
    seed_store: OxigraphStore,
    settings: Settings,
) -> None:
    store = store_with(seed_store, turtle)
    if remove is not None:
        assert remove in store.raw
        store.raw.remove(remove)
    failures = pipeline.run_checks(store, settings)
    assert [failure.check for failure in failures] == [check]
    assert failures[0].rows == (expected,)
    assert failures[0].title  # the header's title, not the file name
    assert failures[0].title != check


def test_greece_named_by_a_source_is_linked_from_the_reference_data(
    seed_store: OxigraphStore, settings: Settings
) -> None:
    """Greece is a COW member state: its link comes from country-coder, in the link set's graph."""
    ask = (
        "ASK { GRAPH <graph/links/wikidata> { <id/country/GR>"
        " <http://www.w3.org/2002/07/owl#sameAs> <http://www.wikidata.org/entity/Q41> } }"
    )
    assert bool(seed_store.query(ask, base_iri=BASE))
    assert pipeline.run_checks(seed_store, settings) == []


def test_a_failing_check_stops_the_build_with_its_title_and_resources(
    project_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SHACL is not what this test is about (and is slow): let every graph conform.
    monkeypatch.setattr(pipeline, "shacl_results", lambda *args: [])
    extra = project_copy.data_dir / "links" / "wrong.ttl"
    extra.write_text(
        f"<id/country/GR> <{SAME_AS}> <http://www.wikidata.org/entity/Q20> .\n",
        encoding="utf-8",
    )
    result = run_cli(project_copy, "build")
    assert result.exit_code == 1
    assert (
        "shared-link-violation.rq: No two resources are linked to the same Wikidata"
        in result.stderr
    )
    assert f"resource={BASE}id/country/GR" in result.stderr
    assert "1 quality check(s) failed" in result.stderr
    assert Releases(project_copy.store_root).current() is None  # nothing was published


def test_a_check_whose_header_does_not_parse_stops_the_build_as_unreadable(
    project_copy: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pipeline, "shacl_results", lambda *args: [])
    broken = project_copy.queries_dir / "checks" / "broken-violation.rq"
    broken.write_text("#+ title: t\nSELECT * WHERE { ?s ?p ?o }\n", encoding="utf-8")
    result = run_cli(project_copy, "build")
    assert result.exit_code == 2
    assert "broken-violation.rq" in result.stderr and "description" in result.stderr
