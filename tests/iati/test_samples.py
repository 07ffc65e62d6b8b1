"""The sample pages in data/iati: copies of shared/iati/samples that every build takes in, so the
graph of `make run` holds real activities, donors and countries, and their points as WKT.

The expected figures are counted here in the XML with lxml (tests/iati/conftest.py), not read
from the importer.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pyoxigraph as ox
import pytest
from lxml import etree

from iomkg import catalog
from iomkg.config import Settings
from iomkg.iati import samples
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import PROJECT_DIR, SHARED_DIR, requires_shared
from tests.iati.conftest import PAGE_109, PAGE_110, xml_counts

DATA_IATI = PROJECT_DIR / "data" / "iati"
#: The one activity of the samples the shapes leave out (a sector share of 500 %).
LEFT_OUT = frozenset({"XM-DAC-41304-269SEN1000"})
IOM = "XM-DAC-47066"


@requires_shared
def test_the_project_carries_the_sample_pages_byte_for_byte() -> None:
    copies = sorted(path.name for path in DATA_IATI.glob("*.xml"))
    assert copies == [PAGE_109.name, PAGE_110.name]
    for name in copies:
        assert (DATA_IATI / name).read_bytes() == (SHARED_DIR / "iati/samples" / name).read_bytes()


def test_copying_the_samples_leaves_equal_files_untouched(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    (shared / "iati/samples").mkdir(parents=True)
    (shared / "iati/samples/page.xml").write_bytes(b"<iati-activities/>")
    data = tmp_path / "data"
    [copy] = samples.copy_samples(shared, data)
    assert copy == data / "iati/page.xml" and copy.read_bytes() == b"<iati-activities/>"
    stamp = copy.stat().st_mtime_ns
    samples.copy_samples(shared, data)
    assert copy.stat().st_mtime_ns == stamp
    with pytest.raises(FileNotFoundError, match="no IATI sample page"):
        samples.copy_samples(tmp_path / "elsewhere", data)


def solutions(result: object) -> list[dict[str, str]]:
    """A SELECT's rows as plain values (unbound cells left out)."""
    assert isinstance(result, ox.QuerySolutions)
    names = [variable.value for variable in result.variables]
    return [{name: row[name].value for name in names if row[name] is not None} for row in result]


def rows(store: OxigraphStore, sparql: str) -> list[dict[str, str]]:
    return solutions(store.query(sparql))


def answer(store: OxigraphStore, settings: Settings, name: str) -> list[dict[str, str]]:
    """A saved query's answer, run as the API runs it."""
    return solutions(catalog.run_saved(store, settings, name, {}, catalog.load_catalog(settings)))


@pytest.fixture(scope="module")
def built(built_settings: Settings) -> OxigraphStore:
    release = Releases(built_settings.store_root).current()
    assert release is not None
    return OxigraphStore.open(release.store_path, read_only=True)


@pytest.mark.parametrize("page", [PAGE_109, PAGE_110], ids=lambda p: p.stem)
def test_the_build_holds_each_sample_activity(built: OxigraphStore, page: Path) -> None:
    counts = xml_counts(DATA_IATI / page.name)
    expected = set(counts.activities) - LEFT_OUT
    graph = f"https://w3id.org/iomkg/graph/iati/{page.stem}"
    found = rows(
        built,
        "PREFIX iomo: <https://w3id.org/iomkg/ontology#> SELECT ?id WHERE { GRAPH <"
        + graph
        + "> { ?a a iomo:IatiActivity ; <http://purl.org/dc/terms/identifier> ?id } }",
    )
    assert {row["id"] for row in found} == expected
    assert len(found) == len(expected)  # 99 of page 109's 100, all 100 of page 110


def test_the_home_page_queries_see_iom_activities_donors_and_countries(
    built: OxigraphStore, built_settings: Settings
) -> None:
    iom_in_xml = sum(
        1
        for page in (PAGE_109, PAGE_110)
        for identifier in xml_counts(page).activities
        if identifier.startswith(IOM) and identifier not in LEFT_OUT
    )
    assert iom_in_xml == 128  # 28 in page 109, 100 in page 110
    [iom] = rows(
        built,
        "PREFIX iomo: <https://w3id.org/iomkg/ontology#> SELECT (COUNT(?a) AS ?n) WHERE { "
        "?a a iomo:IatiActivity ; <http://purl.org/dc/terms/publisher> "
        "<https://w3id.org/iomkg/id/organisation/iom> }",
    )
    assert int(iom["n"]) == iom_in_xml

    per_country = answer(built, built_settings, "show-activities-per-country")
    assert sum(int(row["iatiActivities"]) for row in per_country) > 100
    per_year = answer(built, built_settings, "show-activities-per-year")
    assert sum(int(row["iatiActivities"]) for row in per_year) == 199
    donors = answer(built, built_settings, "sum-funding-per-donor")
    usaid = [row for row in donors if row["donor"].endswith("/id/organisation/iati/US-GOV-1")]
    assert [row["fundedItems"] for row in usaid] == [str(funded_by("US-GOV-1"))]


def funded_by(ref: str) -> int:
    """Activities the organisation funds in the XML: participating-org role 1, or the provider of
    incoming funds, a commitment or a pledge (transaction types 1, 11, 12, 13)."""
    found = set()
    for page in (PAGE_109, PAGE_110):
        for activity in etree.parse(str(page)).getroot():
            identifier = (activity.findtext("iati-identifier") or "").strip()
            funders = {org.get("ref") for org in activity.findall("participating-org[@role='1']")}
            for transaction in activity.findall("transaction"):
                kind = transaction.find("transaction-type")
                provider = transaction.find("provider-org")
                if kind is not None and kind.get("code") in ("1", "11", "12", "13"):
                    funders.add(provider.get("ref") if provider is not None else None)
            if ref in funders and identifier not in LEFT_OUT:
                found.add(identifier)
    return len(found)


def points_in_xml() -> int:
    total = 0
    for page in (PAGE_109, PAGE_110):
        for activity in etree.parse(str(page)).getroot():
            identifier = (activity.findtext("iati-identifier") or "").strip()
            if identifier not in LEFT_OUT:
                total += len(activity.findall("location/point/pos"))
    return total


def test_every_point_is_wkt_reachable_by_the_saved_query(
    built: OxigraphStore, built_settings: Settings
) -> None:
    found = answer(built, built_settings, "list-iati-locations")
    assert len(found) == points_in_xml() == 222  # 55 in page 109, 167 in page 110
    beijing = next(row for row in found if row["activity"].endswith("51033-001-LN4023"))
    assert beijing["wkt"] == "POINT(116.39723 39.9075)"  # <pos>39.9075 116.39723</pos>
    assert beijing["locationName"] == "Beijing" and beijing["countryCodes"] == "CN"


def test_void_lists_each_iati_graph_with_its_source_and_triples(built: OxigraphStore) -> None:
    iati = "https://w3id.org/iomkg/graph/iati/"
    graphs = {graph for graph in built.named_graphs() if graph.startswith(iati)}
    assert graphs == {iati + page.stem for page in (PAGE_109, PAGE_110)}
    described = {
        row["g"]: row
        for row in rows(
            built,
            "PREFIX void: <http://rdfs.org/ns/void#> PREFIX iomo: <https://w3id.org/iomkg/ontology#>"
            " SELECT ?g ?triples ?sha ?identifier WHERE { GRAPH ?meta { "
            "<https://w3id.org/iomkg/id/dataset/iomkg> void:subset ?g . ?g a void:Dataset ; "
            "void:triples ?triples ; <http://purl.org/dc/terms/source> ?file } "
            "?file a iomo:IatiFile ; iomo:sha256 ?sha ; <http://purl.org/dc/terms/identifier> "
            "?identifier }",
        )
    }
    assert set(described) == graphs
    for graph, row in described.items():
        assert int(row["triples"]) == built.quad_count(graph)
        copy = DATA_IATI / row["identifier"]
        assert row["sha"] == hashlib.sha256(copy.read_bytes()).hexdigest()


def test_every_activity_cites_the_line_it_starts_on(built: OxigraphStore) -> None:
    found = rows(
        built,
        "PREFIX iomo: <https://w3id.org/iomkg/ontology#> SELECT ?id ?line ?name WHERE { "
        "?a a iomo:IatiActivity ; <http://purl.org/dc/terms/identifier> ?id ; "
        "<http://www.w3.org/ns/prov#wasDerivedFrom> ?excerpt . ?excerpt iomo:line ?line ; "
        "<http://purl.org/dc/terms/isPartOf> ?file . ?file <http://purl.org/dc/terms/identifier> "
        "?name . FILTER(STRSTARTS(STR(?excerpt), CONCAT(STR(?file), '/line/'))) }",
    )
    starts: dict[str, tuple[str, int]] = {}
    for page in (PAGE_109, PAGE_110):
        for activity in etree.parse(str(page)).getroot():
            identifier = (activity.findtext("iati-identifier") or "").strip()
            if identifier not in LEFT_OUT:
                starts[identifier] = (page.name, activity.sourceline or 0)
    cited = {(row["id"], row["name"], int(row["line"])) for row in found}
    assert {(identifier, *start) for identifier, start in starts.items()} <= cited
    assert len(starts) == 199
