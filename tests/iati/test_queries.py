"""The IATI saved queries on the project's build (the two sample pages of data/iati), each answer
asserted exactly against what the XML says, counted here with lxml: funders by committed amount,
activities by recipient country, spending by sector, activities active in a year, the funding
chain and the results of one activity, and what a seed donor funds through IOM.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest
from lxml import etree

from iomkg import catalog
from iomkg.config import Settings
from iomkg.iati.mapper import activity_iri
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import BASE, PROJECT_DIR, SHARED_DIR, requires_shared

PAGES = sorted((PROJECT_DIR / "data" / "iati").glob("*.xml"))
#: The one sample activity the shapes leave out (a sector share of 500 %).
LEFT_OUT = frozenset({"XM-DAC-41304-269SEN1000"})
IOM = "XM-DAC-47066"
TRANSACTION_TYPE = BASE + "id/codelist/iati/TransactionType/"

Rows = list[dict[str, str]]


def activities() -> Iterator[etree._Element]:
    """Every activity of the sample pages the graph holds."""
    for page in PAGES:
        for activity in etree.parse(str(page)).getroot():
            if identifier(activity) not in LEFT_OUT:
                yield activity


def identifier(activity: etree._Element) -> str:
    return (activity.findtext("iati-identifier") or "").strip()


def reported_by_iom(activity: etree._Element) -> bool:
    reporting = activity.find("reporting-org")
    return reporting is not None and reporting.get("ref") == IOM


def transactions(activity: etree._Element, *types: str) -> Iterator[etree._Element]:
    for transaction in activity.findall("transaction"):
        kind = transaction.find("transaction-type")
        if kind is not None and kind.get("code") in types:
            yield transaction


def money(activity: etree._Element, transaction: etree._Element) -> tuple[Decimal, str]:
    value = transaction.find("value")
    assert value is not None
    currency = value.get("currency") or activity.get("default-currency") or ""
    return Decimal((value.text or "").strip()), currency


@pytest.fixture(scope="module")
def built(built_settings: Settings) -> OxigraphStore:
    release = Releases(built_settings.store_root).current()
    assert release is not None
    return OxigraphStore.open(release.store_path, read_only=True)


@pytest.fixture(scope="module")
def ask(built: OxigraphStore, built_settings: Settings):  # type: ignore[no-untyped-def]
    saved = catalog.load_catalog(built_settings)

    def run(name: str, **params: str) -> Rows:
        result = catalog.run_saved(built, built_settings, name, params, saved)
        assert isinstance(result, ox.QuerySolutions)
        names = [variable.value for variable in result.variables]
        return [{n: row[n].value for n in names if row[n] is not None} for row in result]

    return run


def short(iri: str) -> str:
    return iri[len(BASE) :] if iri.startswith(BASE) else iri


def organisation_ids(store: OxigraphStore) -> dict[str, str]:
    """Organisation IRI -> the @ref the files name it by (an IATI identifier, or for a local
    organisation whatever its one reference says)."""
    found: dict[str, set[str]] = defaultdict(set)
    for row in store.query(  # type: ignore[union-attr]
        f"SELECT ?o ?ref WHERE {{ ?r <{BASE}ontology#organisation> ?o ; "
        f"<{BASE}ontology/iati#ref> ?ref }}"
    ):
        found[row["o"].value].add(row["ref"].value)
    assert all(len(refs) == 1 for refs in found.values())  # one node per identifier
    return {organisation: refs.pop() for organisation, refs in found.items()}


# IOM's funders by committed amount --------------------------------------------------------------


def test_iom_funders_by_committed_amount_and_currency(ask, built: OxigraphStore) -> None:  # type: ignore[no-untyped-def]
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    funded: dict[tuple[str, str], set[str]] = defaultdict(set)
    for activity in activities():
        if not reported_by_iom(activity):
            continue
        for transaction in transactions(activity, "11"):
            provider = transaction.find("provider-org")
            assert provider is not None and provider.get("ref")  # every one names its funder
            value, currency = money(activity, transaction)
            expected[(provider.get("ref") or "", currency)] += value
            funded[(provider.get("ref") or "", currency)].add(identifier(activity))
    rows = ask("sum-iati-funder-commitments")
    ids = organisation_ids(built)
    found = {(ids[row["funder"]], row["currency"]): Decimal(row["committed"]) for row in rows}
    assert found == dict(expected)
    assert {(ids[r["funder"]], r["currency"]): int(r["activities"]) for r in rows} == {
        key: len(names) for key, names in funded.items()
    }
    assert len(rows) == 37
    assert rows[0]["funder"] == BASE + "id/organisation/iati/US-GOV-1"  # largest first
    assert [Decimal(r["committed"]) for r in rows] == sorted(found.values(), reverse=True)
    # A funder the reference data knows is the reference's node, not a copy.
    fcdo = next(r for r in rows if r["funder"] == BASE + "id/organisation/gb-fcdo")
    assert fcdo["funderLabel"] == "UK - Foreign, Commonwealth and Development Office"


# Activities by recipient country -----------------------------------------------------------------


def test_activities_by_recipient_country(ask) -> None:  # type: ignore[no-untyped-def]
    expected: Counter[str] = Counter()
    iom: Counter[str] = Counter()
    for activity in activities():
        codes = {country.get("code") or "" for country in activity.findall("recipient-country")}
        expected.update(codes)
        if reported_by_iom(activity):
            iom.update(codes)
    rows = ask("list-iati-activities-by-country")
    assert {row["code"]: int(row["activities"]) for row in rows} == dict(expected)
    assert {row["code"]: int(row["iomActivities"]) for row in rows} == {
        code: iom[code] for code in expected
    }
    assert len(rows) == len(expected) == 83
    ethiopia = rows[0]  # most first
    assert (ethiopia["code"], short(ethiopia["country"]), ethiopia["countryLabel"]) == (
        "ET",
        "id/country/ET",
        "Ethiopia",
    )
    assert (int(ethiopia["activities"]), int(ethiopia["iomActivities"])) == (14, 10)


# Spending by sector ----------------------------------------------------------------------------


def dac_categories() -> dict[str, str]:
    """DAC 5-digit sector -> its 3-digit category, from the IATI Sector codelist."""
    codelist = etree.parse(str(SHARED_DIR / "iati/codelists/Sector.xml"))
    return {
        item.findtext("code") or "": item.findtext("category") or ""
        for item in codelist.iter("codelist-item")
    }


@requires_shared
def test_spending_by_sector_category_and_currency(ask) -> None:  # type: ignore[no-untyped-def]
    categories = dac_categories()
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    spenders: dict[tuple[str, str], set[str]] = defaultdict(set)
    for activity in activities():
        sectors = [
            (s.get("vocabulary") or "1", s.get("code") or "", s.get("percentage"))
            for s in activity.findall("sector")
        ]
        five = [s for s in sectors if s[0] == "1" and s[1] in categories]
        shares = [(categories[c], p) for _v, c, p in five] or [
            (c, p) for v, c, p in sectors if v == "2"
        ]
        for transaction in transactions(activity, "3", "4"):
            assert transaction.find("sector") is None  # the samples split by activity sectors
            value, currency = money(activity, transaction)
            for category, percentage in shares:
                expected[(category, currency)] += value * Decimal(percentage or "100") / 100
                spenders[(category, currency)].add(identifier(activity))
    rows = ask("sum-iati-spending-by-sector")
    found = {
        (row["category"].rsplit("/", 1)[-1], row["currency"]): Decimal(row["spent"]) for row in rows
    }
    assert found == dict(expected)
    assert {
        (r["category"].rsplit("/", 1)[-1], r["currency"]): int(r["activities"]) for r in rows
    } == {key: len(names) for key, names in spenders.items()}
    assert (rows[0]["categoryLabel"], rows[0]["currency"]) == (
        "Education, Level Unspecified",
        "USD",
    )
    assert Decimal(rows[0]["spent"]) == Decimal("9819491")


# Activities active in a year -------------------------------------------------------------------


def stated_dates(activity: etree._Element) -> tuple[str | None, str | None]:
    """(start, end): the actual date where reported, else the planned one."""
    dates = {d.get("type"): d.get("iso-date") for d in activity.findall("activity-date")}
    return dates.get("2") or dates.get("1"), dates.get("4") or dates.get("3")


@pytest.mark.parametrize(("year", "count"), [("2019", 14), ("2020", 174), ("2023", 8)])
def test_activities_active_in_a_year(ask, year: str, count: int) -> None:  # type: ignore[no-untyped-def]
    expected = {}
    for activity in activities():
        start, end = stated_dates(activity)
        if start and start[:4] <= year and (end is None or end[:4] >= year):
            expected[activity_iri(BASE, identifier(activity))] = (start, end or "")
    rows = ask("list-iati-activities-in-year", year=year)
    assert {row["activity"]: (row["start"], row.get("end", "")) for row in rows} == expected
    assert len(rows) == len(expected) == count
    assert [row["start"] for row in rows] == sorted(row["start"] for row in rows)


# The funding chain of one activity -------------------------------------------------------------


def test_the_funding_chain_of_an_iom_activity(ask) -> None:  # type: ignore[no-untyped-def]
    rows = ask("show-iati-funding-chain", activity="id:activity/XM-DAC-47066-DP.2161")
    US = "id/organisation/iati/US-USAGOV"
    assert [
        (r["step"], short(r["organisation"]), r.get("otherActivity", ""), r["statedIn"])
        for r in rows
    ] == [
        # page 110, lines 104-106 and the incoming commitment's provider-org
        ("funder", US, "US-USAGOV-SPRMCO20VC0024", "participating-org"),
        ("funder", US, "US-USAGOV-SPRMCO20VC0024", "transaction type 11, provider-org"),
        ("accountable", "id/organisation/iom", "", "participating-org"),  # lines 101-103
    ]  # fmt: skip


def test_the_funding_chain_with_an_implementing_partner(ask) -> None:  # type: ignore[no-untyped-def]
    rows = ask("show-iati-funding-chain", activity="id:activity/XM-DAC-47059-P20-0035")
    ec, idlo = "id/organisation/iati/XI-IATI-EC_INTPA", "id/organisation/iati/XM-DAC-47059"
    assert [
        (r["step"], short(r["organisation"]), r.get("otherActivity", ""), r["statedIn"])
        for r in rows
    ] == [
        ("funder", ec, "", "participating-org"),  # page 109, line 6380: no activity-id
        ("funder", ec, "XI-IATI-EC_INTPA-2020/419-552", "transaction type 1, provider-org"),
        ("funder", ec, "XI-IATI-EC_INTPA-2020/419-552", "transaction type 11, provider-org"),
        ("accountable", idlo, "P20-0035", "participating-org"),
        ("implementing", idlo, "P20-0035", "participating-org"),
    ]
    assert {r["organisationLabel"] for r in rows} == {
        "European Commission - International Partnerships",
        "International Development Law Organization (IDLO)",
    }


# Results and indicators ------------------------------------------------------------------------


def test_the_results_and_indicators_of_an_activity(ask) -> None:  # type: ignore[no-untyped-def]
    rows = ask("list-iati-results", activity="id:activity/XM-DAC-46004-51033-001-LN4023")
    result = "id/activity/XM-DAC-46004-51033-001-LN4023/result/1"
    # page 109, lines 3941-3974: one result (type 1, output), two indicators with a baseline each
    assert [
        (short(r["result"]), r["resultType"], r["resultTitle"], short(r["indicator"]),
         r["indicatorTitle"], r["measure"], r["baselineYear"], r["baselineValue"])
        for r in rows
    ] == [
        (result, "1", "Design and Monitoring Framework", f"{result}/indicator/1",
         "At least 0.8 million tons of CO2 equivalent, including HFCs, reduced annually",
         "1", "2019", "0"),
        (result, "1", "Design and Monitoring Framework", f"{result}/indicator/2",
         "At least 449 tons of NOx, 67 tons of SO2, and 44 tons of PM emissions avoided annually",
         "1", "2019", "0"),
    ]  # fmt: skip
    assert not any("target" in r or "actual" in r or "periodStart" in r for r in rows)


def result_figure_rows(activity: etree._Element) -> list[tuple[str, ...]]:
    """What list-iati-result-figures answers for one activity, worked out from its XML: one row
    per numeric baseline, target or actual of an indicator with a title."""
    iri = f"id/activity/{identifier(activity)}"
    found = []
    for r, result in enumerate(activity.findall("result"), start=1):
        for i, indicator in enumerate(result.findall("indicator"), start=1):
            title = indicator.findtext("title/narrative") or ""
            ascending = {"1": "true", "0": "false", "true": "true", "false": "false"}
            references = " ".join(
                sorted(
                    f"{ref.get('vocabulary')}:{ref.get('code')}"
                    for ref in indicator.findall("reference")
                )
            )
            head = (f"{iri}/result/{r}/indicator/{i}", title, indicator.get("measure") or "",
                    ascending.get(indicator.get("ascending") or "", ""), references)  # fmt: skip
            for baseline in indicator.findall("baseline"):
                date = baseline.get("iso-date") or baseline.get("year") or ""
                found.append((*head, "baseline", baseline.get("value") or "", date, "", ""))
            for period in indicator.findall("period"):
                start = period.find("period-start").get("iso-date") or ""  # type: ignore[union-attr]
                end = period.find("period-end").get("iso-date") or ""  # type: ignore[union-attr]
                for kind in ("target", "actual"):
                    for element in period.findall(kind):
                        found.append((*head, kind, element.get("value") or "", "", start, end))
    return found


def test_the_outcome_figures_of_each_activity(ask) -> None:  # type: ignore[no-untyped-def]
    """Every sample activity with results (three of ADB's on page 109: baselines only) answers
    exactly its XML's figures, by indicator."""
    with_results = [a for a in activities() if a.find("result") is not None]
    assert len(with_results) == 3
    for activity in with_results:
        rows = ask(
            "list-iati-result-figures",
            activity="id:" + activity_iri("", identifier(activity)).removeprefix("id/"),
        )
        assert [
            (short(r["indicator"]), r["indicatorTitle"], r.get("measure", ""),
             r.get("ascending", ""), " ".join(sorted(r.get("references", "").split())),
             r["kind"], r["value"],
             r.get("date", ""), r.get("start", ""), r.get("end", ""))
            for r in rows
        ] == result_figure_rows(activity)  # fmt: skip
    rows = ask("list-iati-result-figures", activity="id:activity/XM-DAC-46004-51033-001-LN4023")
    assert [(r["kind"], r["value"], r["date"]) for r in rows] == [("baseline", "0", "2019")] * 2


# What a seed donor funds through IOM ------------------------------------------------------------


def test_what_norway_funds_through_iom(ask, built: OxigraphStore) -> None:  # type: ignore[no-untyped-def]
    """Norway of the seed (lead nation of the NTF project) is the node IATI's Norwegian ministry
    is an agency of, by its OECD DAC donor code 8 (shared/reference/countries.csv): XM-DAC-8-4."""
    expected: dict[str, Decimal] = defaultdict(Decimal)
    for activity in activities():
        funders = {o.get("ref") for o in activity.findall("participating-org[@role='1']")}
        if reported_by_iom(activity) and "XM-DAC-8-4" in funders:
            for transaction in transactions(activity, "11"):
                provider = transaction.find("provider-org")
                if provider is not None and provider.get("ref") == "XM-DAC-8-4":
                    expected[identifier(activity)] += money(activity, transaction)[0]
    rows = ask("list-iati-donor-funding", donor="id:country/NO")
    assert {
        short(r["activity"]).removeprefix("id/activity/"): Decimal(r["committed"]) for r in rows
    } == dict(expected)
    assert sorted(expected) == ["XM-DAC-47066-DP.2183", "XM-DAC-47066-FC.0184"]
    assert {(short(r["funder"]), r["funderLabel"], r["currency"]) for r in rows} == {
        ("id/organisation/iati/XM-DAC-8-4", "Norway - Ministry of Foreign Affairs", "USD")
    }
    norway = f"<{BASE}id/country/NO>"
    assert bool(
        built.query(
            f"ASK {{ <{BASE}id/organisation/iati/XM-DAC-8-4> <{BASE}ontology#agencyOf> {norway} . "
            f"?seed <https://schema.org/funder> {norway} ; "
            f"<https://schema.org/fundedItem> <{BASE}id/project/ntf> }}"
        )
    )


def test_the_default_donor_is_norway(ask) -> None:  # type: ignore[no-untyped-def]
    assert ask("list-iati-donor-funding") == ask("list-iati-donor-funding", donor="id:country/NO")


def test_every_iati_query_is_tested_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    names = [path.stem for path in (PROJECT_DIR / "queries").glob("*iati*.rq")]
    assert len(names) >= 8
    tested_elsewhere = {"list-iati-locations"}  # tests/iati/test_samples.py
    for name in set(names) - tested_elsewhere:
        assert f'"{name}"' in source, f"no test asks {name}"


@pytest.mark.parametrize(
    ("donor", "refs"),
    [
        ("NL", {"XM-DAC-7", "XM-DAC-7-6"}),  # the ministry of the reference data, DAC 7
        ("CH", {"CH-4", "XM-DAC-11-8"}),  # CH-4: the Organisation Identifier list's body of CH
        ("GB", {"GB-GOV-1", "GB-GOV-3"}),  # GB-GOV: the register of UK government departments
    ],
)
def test_a_donor_funds_through_its_bodies_resolved_by_identifier(
    ask,  # type: ignore[no-untyped-def]
    built: OxigraphStore,
    donor: str,
    refs: set[str],
) -> None:
    """A reference organisation (nl-mfa, ch-sdc, gb-fcdo) and a minted one alike are the state's
    by their identifiers, never by their names."""
    expected = set()
    for activity in activities():
        funders = {o.get("ref") for o in activity.findall("participating-org[@role='1']")}
        for transaction in transactions(activity, "1", "11", "12", "13"):
            provider = transaction.find("provider-org")
            funders.add(provider.get("ref") if provider is not None else None)
        for ref in funders & refs:
            if reported_by_iom(activity):
                expected.add((ref, identifier(activity)))
    ids = organisation_ids(built)
    rows = ask("list-iati-donor-funding", donor=f"id:country/{donor}")
    assert {
        (ids[r["funder"]], short(r["activity"]).removeprefix("id/activity/")) for r in rows
    } == expected
