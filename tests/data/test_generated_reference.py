"""The generated reference, link and codelist files: up to date, complete and correctly linked."""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, ORG, OWL, PROV, RDF, SKOS, TIME, VOID

from iomkg import reference
from tests.conftest import SHARED_DIR, requires_shared

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://w3id.org/iomkg/"

pytestmark = requires_shared


def parse(path: Path) -> Graph:
    return Graph().parse(path, format="turtle", publicID=BASE)


def csv_rows(name: str) -> list[dict[str, str]]:
    with (SHARED_DIR / "reference" / name).open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return reference.render_all(SHARED_DIR)


def test_committed_files_are_up_to_date(rendered: dict[str, str]) -> None:
    stale = [
        rel
        for rel, text in rendered.items()
        if not (ROOT / "data" / rel).exists()
        or (ROOT / "data" / rel).read_text(encoding="utf-8") != text
    ]
    assert stale == [], "run `iomkg generate` (iomkg.reference.generate_all) and commit the result"


def test_rendering_is_deterministic(rendered: dict[str, str]) -> None:
    assert reference.render_all(SHARED_DIR) == rendered


def test_expected_files(rendered: dict[str, str]) -> None:
    expected = {
        "reference/countries.ttl",
        "reference/organisations.ttl",
        "reference/membership.ttl",
        "links/wikidata/reference.ttl",
        "links/geonames/reference.ttl",
    }
    expected |= {f"codelists/iati-{name}.ttl" for name in reference.CODELISTS}
    assert set(rendered) == expected
    assert {
        "OrganisationRole",
        "ActivityStatus",
        "Sector",
        "Currency",
        "Country",
        "ActivityDateType",
        "OrganisationType",
    } <= set(reference.CODELISTS)


def test_generated_turtle_uses_relative_iris(rendered: dict[str, str]) -> None:
    for rel, text in rendered.items():
        assert BASE not in text, rel
        assert "<id/" in text, rel


def test_writer_round_trips() -> None:
    for build in (
        reference.countries_graph,
        reference.membership_graph,
        reference.wikidata_links_graph,
    ):
        graph = build(SHARED_DIR)
        again = Graph().parse(data=reference.to_turtle(graph), format="turtle", publicID=BASE)
        assert isomorphic(graph, again)


def test_base_is_configurable() -> None:
    other = "http://example.org/kg/"
    graph = reference.countries_graph(SHARED_DIR, base=other)
    subjects = {str(s) for s in graph.subjects(RDF.type, None)}
    assert f"{other}id/country/NO" in subjects
    assert not any(s.startswith(BASE) for s in subjects)
    text = reference.to_turtle(graph, base=other)
    assert other not in text
    assert isomorphic(graph, Graph().parse(data=text, format="turtle", publicID=other))


@pytest.mark.parametrize("name", reference.CODELISTS)
def test_codelist_counts_match_the_xml(name: str) -> None:
    root = ET.parse(SHARED_DIR / "iati" / "codelists" / f"{name}.xml").getroot()
    items = root.findall("./codelist-items/codelist-item")
    withdrawn = [i for i in items if i.get("status") == "withdrawn"]
    g = parse(ROOT / "data" / "codelists" / f"iati-{name}.ttl")
    scheme = URIRef(f"{BASE}id/codelist/iati/{name}")
    assert (scheme, RDF.type, SKOS.ConceptScheme) in g
    concepts = set(g.subjects(SKOS.inScheme, scheme))
    assert len(concepts) == len(items)
    assert set(g.subjects(RDF.type, SKOS.Concept)) == concepts
    assert {str(g.value(c, SKOS.notation)) for c in concepts} == {
        i.findtext("code").strip() for i in items
    }
    assert len(set(g.subjects(OWL.deprecated, Literal(True)))) == len(withdrawn)
    for c in concepts:
        assert str(c) == f"{BASE}id/codelist/iati/{name}/{g.value(c, SKOS.notation)}"
        assert any(label.language == "en" for label in g.objects(c, SKOS.prefLabel)), c


def test_sector_broader_points_to_existing_categories() -> None:
    sectors = parse(ROOT / "data" / "codelists" / "iati-Sector.ttl")
    categories = parse(ROOT / "data" / "codelists" / "iati-SectorCategory.ttl")
    broader = set(sectors.objects(None, SKOS.broader))
    assert broader
    assert broader <= set(categories.subjects(RDF.type, SKOS.Concept))


def test_key_codes_have_expected_labels() -> None:
    g = parse(ROOT / "data" / "codelists" / "iati-OrganisationRole.ttl")
    assert g.value(URIRef(f"{BASE}id/codelist/iati/OrganisationRole/1"), SKOS.prefLabel) in {
        Literal("Funding", lang="en"),
        Literal("Financement", lang="fr"),
    }
    assert Literal("Funding", lang="en") in set(
        g.objects(URIRef(f"{BASE}id/codelist/iati/OrganisationRole/1"), SKOS.prefLabel)
    )
    g = parse(ROOT / "data" / "codelists" / "iati-Currency.ttl")
    assert Literal("Euro", lang="en") in set(
        g.objects(URIRef(f"{BASE}id/codelist/iati/Currency/EUR"), SKOS.prefLabel)
    )


def test_every_country_row_is_a_country() -> None:
    g = parse(ROOT / "data" / "reference" / "countries.ttl")
    rows = csv_rows("countries.csv")
    countries = set(g.subjects(RDF.type, URIRef("https://schema.org/Country")))
    assert {str(c)[len(BASE) :] for c in countries} == {f"id/country/{r['iso2']}" for r in rows}
    alpha2 = URIRef(f"{BASE}ontology#iso3166Alpha2")
    for r in rows:
        c = URIRef(f"{BASE}id/country/{r['iso2']}")
        assert g.value(c, SKOS.notation) == Literal(r["iso2"], datatype=alpha2)
        assert g.value(c, SKOS.prefLabel) == Literal(r["name"], lang="en")


def test_organisations() -> None:
    g = parse(ROOT / "data" / "reference" / "organisations.ttl")
    iom = URIRef(f"{BASE}id/organisation/iom")
    assert g.value(iom, URIRef(f"{BASE}ontology#iatiOrganisationId")) == Literal("XM-DAC-47066")
    assert g.value(iom, SKOS.prefLabel) == Literal(
        "International Organization for Migration", lang="en"
    )
    slugs = {
        str(o)[len(BASE) + len("id/organisation/") :]
        for o in g.subjects(RDF.type, ORG.Organization)
    }
    assert {"iom", "nato", "pfp", "ec", "eu", "un", "bamf"} <= slugs
    assert "ntf" not in slugs  # the NTF row is the project, described in data/sources/


def test_membership_only_for_known_countries() -> None:
    g = parse(ROOT / "data" / "reference" / "membership.ttl")
    known = {r["iso2"] for r in csv_rows("countries.csv")}
    cow = {r["iso2"]: r for r in csv_rows("iom_membership_cow_igo_v3_1951-2014.csv")}
    memberships = set(g.subjects(RDF.type, ORG.Membership))
    members = {str(g.value(m, ORG.member)).rsplit("/", 1)[1] for m in memberships}
    assert members == known & set(cow)
    for m in memberships:
        iso2 = str(g.value(m, ORG.member)).rsplit("/", 1)[1]
        assert str(m) == f"{BASE}id/membership/iom-{iso2}"
        assert g.value(m, ORG.organization) == URIRef(f"{BASE}id/organisation/iom")
        begin = g.value(g.value(g.value(m, ORG.memberDuring), TIME.hasBeginning), TIME.inXSDgYear)
        assert str(begin) == cow[iso2]["first_year_full_member"]
        assert URIRef(f"{BASE}id/dataset/cow-igo-v3") in set(
            g.objects(m, URIRef("http://www.w3.org/ns/prov#wasDerivedFrom"))
        )


def _same_as(path: Path) -> tuple[Graph, list[tuple[str, str]]]:
    g = parse(path)
    return g, [(str(s), str(o)) for s, o in g.subject_objects(OWL.sameAs)]


def _records_match_links(g: Graph, target: str, links: list[tuple[str, str]]) -> None:
    """Every link has its record (rdf:Statement): the same triple, its method and source file."""
    records = set(g.subjects(RDF.type, RDF.Statement))
    assert len(records) == len(links)
    method = URIRef(BASE + "ontology#linkMethod")
    for record in records:
        triple = (str(g.value(record, RDF.subject)), str(g.value(record, RDF.object)))
        assert triple in links, record
        assert g.value(record, RDF.predicate) == OWL.sameAs
        assert str(record) == triple[0].replace(BASE + "id/", f"{BASE}id/linkset/{target}/link/")
        assert g.value(record, DCTERMS.isPartOf) == URIRef(f"{BASE}id/linkset/{target}")
        assert str(g.value(record, method)) == reference.METHOD_REFERENCE
        assert str(g.value(record, DCTERMS.source)).startswith(BASE + "id/file/reference/")
        assert g.value(record, SKOS.prefLabel).language == "en"


def _linkset_is_described(g: Graph, target: str) -> None:
    """The static VoID; void:triples and coverage are computed at build time (iomkg.linking)."""
    linkset = URIRef(f"{BASE}id/linkset/{target}")
    assert (linkset, RDF.type, VOID.Linkset) in g
    assert g.value(linkset, VOID.linkPredicate) == OWL.sameAs
    assert g.value(linkset, VOID.subjectsTarget) == URIRef(BASE + "id/dataset/iomkg")
    assert g.value(linkset, VOID.objectsTarget) == URIRef(f"{BASE}id/dataset/{target}")
    assert g.value(linkset, VOID.triples) is None
    assert set(g.objects(linkset, PROV.wasDerivedFrom)) >= {
        URIRef(BASE + "id/file/reference/countries.csv")
    }


def test_wikidata_links() -> None:
    g, links = _same_as(ROOT / "data" / "links" / "wikidata" / "reference.ttl")
    assert links
    assert all(re.fullmatch(r"http://www\.wikidata\.org/entity/Q\d+", o) for _, o in links)
    subjects = {s[len(BASE) :] for s, _ in links}
    assert "id/organisation/pfp" not in subjects and "id/organisation/bamf" not in subjects
    expected = {
        f"id/country/{r['iso2']}": r["wikidata"]
        for r in csv_rows("countries.csv")
        if r["wikidata_verified"] == "yes"
    }
    expected |= {
        f"id/organisation/{r['key'].lower()}": r["wikidata"]
        for r in csv_rows("organisations.csv")
        if r["wikidata_verified"] == "yes"
    }
    assert {s[len(BASE) :]: o.rsplit("/", 1)[1] for s, o in links} == expected
    assert (
        dict(links)[f"{BASE}id/country/DK"] == "http://www.wikidata.org/entity/Q35"
    )  # the country, not the kingdom
    _linkset_is_described(g, "wikidata")
    _records_match_links(g, "wikidata", links)


def test_geonames_links() -> None:
    g, links = _same_as(ROOT / "data" / "links" / "geonames" / "reference.ttl")
    assert all(re.fullmatch(r"https://sws\.geonames\.org/\d+/", o) for _, o in links)
    assert all(s.startswith(f"{BASE}id/country/") for s, _ in links)
    expected = {
        f"{BASE}id/country/{r['iso2']}": f"https://sws.geonames.org/{r['geonames_id']}/"
        for r in csv_rows("countries.csv")
        if r["geonames_id"]
    }
    assert dict(links) == expected
    _linkset_is_described(g, "geonames")
    _records_match_links(g, "geonames", links)


def test_generate_all_writes_what_render_all_returns(
    tmp_path: Path, rendered: dict[str, str]
) -> None:
    written = reference.generate_all(SHARED_DIR, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(rendered)
    for path in written:
        assert path.read_text(encoding="utf-8") == rendered[path.relative_to(tmp_path).as_posix()]
