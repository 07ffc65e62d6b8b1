"""``iomkg links`` and the link sets' VoID: coverage per target and class, duplicates, malformed
and retired links, unlinked entities, and the same figures in the store."""

from __future__ import annotations

import pyoxigraph as ox

from iomkg import linking
from iomkg.config import DEFAULT_BASE_IRI as BASE
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases

from .conftest import Endpoint, LinkedProject, run

SAME_AS = ox.NamedNode("http://www.w3.org/2002/07/owl#sameAs")
TYPE = ox.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
COUNTRY = ox.NamedNode("https://schema.org/Country")
ORGANISATION = ox.NamedNode("http://www.w3.org/ns/org#Organization")
WD = "http://www.wikidata.org/entity/"


def store_with(*triples: tuple[str, ox.NamedNode, ox.NamedNode | ox.Literal]) -> OxigraphStore:
    store = OxigraphStore.in_memory()
    for subject, predicate, obj in triples:
        store.raw.add(ox.Quad(ox.NamedNode(BASE + subject), predicate, obj))
    return store


def test_the_report_after_the_review_cycle(linked_project: LinkedProject) -> None:
    result = run(linked_project.settings, "links")
    assert result.exit_code == 0, result.stderr
    lines = result.output.splitlines()
    assert lines[:4] == [
        "coverage (linked/total):",
        "  wikidata  countries       158/158  100%",
        "  wikidata  organisations     8/18    44%",
        "  geonames  countries       156/158   99%",
    ]
    assert "duplicates (one external id, several resources): none" in lines
    assert "malformed links: none" in lines
    assert "retired identifiers: not checked (give --endpoint to ask Wikidata)" in lines
    assert f"  geonames  country       <{BASE}id/country/SG>  Singapore" in lines
    un_system = f"<{BASE}id/organisation/un-system>  United Nations System"
    assert f"  wikidata  organisation  {un_system}" in lines


def test_duplicates_and_malformed_links_are_listed() -> None:
    store = store_with(
        ("id/country/AA", TYPE, COUNTRY),
        ("id/country/BB", TYPE, COUNTRY),
        ("id/organisation/x", TYPE, ORGANISATION),
        ("id/country/AA", SAME_AS, ox.NamedNode(WD + "Q1")),
        ("id/country/BB", SAME_AS, ox.NamedNode(WD + "Q1")),
        ("id/organisation/x", SAME_AS, ox.NamedNode("https://www.wikidata.org/wiki/Q7")),
        ("id/organisation/x", SAME_AS, ox.NamedNode("http://sws.geonames.org/123")),
    )
    report = linking.link_report(store, BASE)
    [duplicate] = report.of("duplicate")
    assert duplicate.external == WD + "Q1"
    assert duplicate.resources == (BASE + "id/country/AA", BASE + "id/country/BB")
    assert {(p.target, p.external) for p in report.of("malformed")} == {
        ("wikidata", "https://www.wikidata.org/wiki/Q7"),
        ("geonames", "http://sws.geonames.org/123"),
    }
    [countries, organisations, _] = report.coverage
    assert (countries.linked, countries.total) == (2, 2)
    assert (organisations.linked, organisations.total) == (0, 1)


def test_retired_identifiers_are_found_by_asking_the_endpoint(wikidata: Endpoint) -> None:
    store = store_with(
        ("id/country/AA", SAME_AS, ox.NamedNode(WD + "Q20")),  # alive
        ("id/country/BB", SAME_AS, ox.NamedNode(WD + "Q990010")),  # merged: a redirect
        ("id/country/CC", SAME_AS, ox.NamedNode(WD + "Q990099")),  # unknown to the endpoint
    )
    client = linking.SparqlClient(wikidata.url, pacing=linking.Pacing(interval=0))
    retired = linking.find_retired(store, client, linking.TARGETS["wikidata"], BASE)
    assert [(p.external.removeprefix(WD), p.detail) for p in retired] == [
        ("Q990010", "merged into Q990001 (a redirect)"),
        ("Q990099", "unknown to the endpoint (deleted?)"),
    ]
    report = linking.link_report(store, BASE, retired={"wikidata": retired})
    assert report.retired_checked == ("wikidata",) and len(report.of("retired")) == 2


def test_the_cli_exits_1_when_retired_links_are_found(
    linked_project: LinkedProject, wikidata: Endpoint
) -> None:
    result = run(linked_project.settings, "links", "--endpoint", wikidata.url, "--pause", "0")
    assert result.exit_code == 1
    assert "retired identifiers: " in result.output
    assert "Q990001" not in result.output.split("retired identifiers:")[1]  # Singapore's item lives


def current_store(linked_project: LinkedProject) -> OxigraphStore:
    release = Releases(linked_project.settings.store_root).current()
    assert release is not None
    return OxigraphStore.open(release.store_path, read_only=True)


def _void(store: OxigraphStore, subject: str, predicate: str) -> list[str]:
    return sorted(
        quad.object.value
        for quad in store.raw.quads_for_pattern(
            ox.NamedNode(BASE + subject), ox.NamedNode(predicate), None, None
        )
    )


def test_the_figures_are_in_each_link_sets_void(linked_project: LinkedProject) -> None:
    store = current_store(linked_project)
    void = "http://rdfs.org/ns/void#"
    assert _void(store, "id/linkset/wikidata", void + "triples") == ["166"]
    assert _void(store, "id/linkset/geonames", void + "triples") == ["156"]
    assert _void(store, "id/linkset/wikidata", void + "classPartition") == [
        BASE + "id/linkset/wikidata/countries",
        BASE + "id/linkset/wikidata/organisations",
    ]
    assert _void(store, "id/linkset/wikidata/organisations", void + "entities") == ["8"]
    assert _void(store, "id/linkset/wikidata/organisations", void + "class") == [ORGANISATION.value]
    [words] = _void(store, "id/linkset/geonames/countries", "http://purl.org/dc/terms/description")
    assert words == (
        "156 of 158 countries (99%) link to GeoNames; "
        "not linked: People's Republic of China, Singapore."
    )
    linkset = ox.NamedNode(BASE + "id/linkset/wikidata")
    quads = store.raw.quads_for_pattern(linkset, None, None, None)
    graphs = {quad.graph_name.value for quad in quads}
    assert graphs == {BASE + "graph/links/wikidata"}  # its own graph: /.well-known/void reads it


def test_the_report_on_the_build_matches_the_data_files(linked_project: LinkedProject) -> None:
    on_files = run(linked_project.settings, "links")
    on_build = run(linked_project.settings, "links", "--built")
    assert on_build.exit_code == 0, on_build.stderr
    assert on_build.output == on_files.output


def test_geonames_has_no_endpoint_to_search(project: Settings) -> None:
    result = run(project, "link", "--target", "geonames")
    assert result.exit_code == 2
    assert result.stderr.startswith("iomkg: GeoNames has no SPARQL endpoint to search")
