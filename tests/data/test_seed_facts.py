"""The facts of the two source documents, asked as SPARQL questions with exact answers.

The graph is loaded as the server will load it: every .ttl under ontology/ and data/ into its own
named graph of an in-memory pyoxigraph store, queried with the union of all graphs as default graph.
"""

from __future__ import annotations

import os
import re
from decimal import Decimal
from pathlib import Path

import pyoxigraph as ox
import pytest

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://w3id.org/iomkg/"
SHARED = Path(os.environ.get("IOMKG_SHARED", ROOT.parent / "shared"))
DOC_000 = "000_aa2112c34e1aacb8"
DOC_001 = "001_f2128d7fdb422215"

PREFIXES = """
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX frapo: <http://purl.org/cerif/frapo/>
PREFIX iomo: <https://w3id.org/iomkg/ontology#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX prov: <http://www.w3.org/ns/prov#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX schema: <https://schema.org/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>
"""


def graph_iri(path: Path) -> str:
    """graph/<path below data/ without .ttl> (a deeper folder is one graph), or graph/ontology."""
    rel = path.relative_to(ROOT)
    if rel.parts[0] == "ontology":
        return BASE + "graph/ontology"
    parts = rel.relative_to("data").with_suffix("").parts
    return BASE + "graph/" + "/".join(parts[:2])


@pytest.fixture(scope="module")
def seed_store() -> ox.Store:
    store = ox.Store()
    files = sorted((ROOT / "ontology").glob("*.ttl")) + sorted((ROOT / "data").rglob("*.ttl"))
    for path in files:
        store.load(
            path=str(path),
            format=ox.RdfFormat.TURTLE,
            base_iri=BASE,
            to_graph=ox.NamedNode(graph_iri(path)),
        )
    return store


def rows(store: ox.Store, query: str) -> list[dict[str, str]]:
    """Distinct SELECT rows as {variable: lexical value or IRI relative to the base}.

    Distinct because the default graph is the union of the named graphs, and a fact two source
    documents both state (IOM's founding year) is a triple in each of their graphs.
    """
    result = store.query(PREFIXES + query, base_iri=BASE, use_default_graph_as_union=True)
    variables = [v.value for v in result.variables]
    out = []
    for solution in result:
        row = {}
        for var in variables:
            term = solution[var]
            if term is None:
                continue
            value = term.value
            row[var] = (
                value[len(BASE) :]
                if isinstance(term, ox.NamedNode) and value.startswith(BASE)
                else value
            )
        if row not in out:
            out.append(row)
    return out


def column(store: ox.Store, query: str, var: str) -> list[str]:
    return sorted(r[var] for r in rows(store, query))


def ask(store: ox.Store, query: str) -> bool:
    return bool(store.query(PREFIXES + query, base_iri=BASE, use_default_graph_as_union=True))


# ----------------------------------------------------------------------------------------------
# 000: IOM Serbia page and the NTF project
# ----------------------------------------------------------------------------------------------

NTF_COUNTRIES = [
    "AT",
    "BG",
    "CH",
    "CZ",
    "DK",
    "ES",
    "FI",
    "GB",
    "HU",
    "IE",
    "IS",
    "IT",
    "LU",
    "NL",
    "NO",
    "PL",
    "SI",
    "SK",
]


def test_ntf_names_dates_status(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?label ?alt ?start ?end ?status ?statusLabel ?loc WHERE {
          <id/project/ntf> a iomo:Project ; skos:prefLabel ?label ; skos:altLabel ?alt ;
            schema:startDate ?start ; schema:endDate ?end ; iomo:status ?status ;
              schema:location ?loc .
          ?status skos:prefLabel ?statusLabel . FILTER(lang(?statusLabel) = "en")
          FILTER(datatype(?start) = xsd:date && datatype(?end) = xsd:date)
        }""",
    )
    assert r == [
        {
            "label": "NATO/PfP Trust Fund Project for Assistance to Discharged Defence Personnel"
            " within the Scope of Defence Sector Reforms in the Republic Of Serbia",
            "alt": "NTF Project",
            "start": "2006-07-01",
            "end": "2012-03-31",
            "status": "id/codelist/iati/ActivityStatus/4",
            "statusLabel": "Closed",
            "loc": "id/country/RS",
        }
    ]


def test_ntf_duration_as_stated(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?n ?unit WHERE { <id/project/ntf> time:hasDuration [ time:numericDuration ?n ;
          time:unitType ?unit ] }""",
    )
    assert r == [{"n": "5.5", "unit": "http://www.w3.org/2006/time#unitYear"}]


def test_ntf_budget(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?value ?code ?currencyLabel WHERE {
          <id/project/ntf> iomo:budget ?m . ?m a schema:MonetaryAmount ; schema:value ?value ;
            schema:currency ?code ; iomo:currency/skos:prefLabel ?currencyLabel .
          FILTER(datatype(?value) = xsd:decimal && ?value = 9300000)
        }""",
    )
    assert len(r) == 1 and Decimal(r[0]["value"]) == Decimal("9300000.00")
    assert (r[0]["code"], r[0]["currencyLabel"]) == ("EUR", "Euro")


def test_ntf_supports_ministry_of_defence(seed_store: ox.Store) -> None:
    assert column(
        seed_store,
        """
        SELECT ?l WHERE { <id/project/ntf> iomo:beneficiary/skos:prefLabel ?l }""",
        "l",
    ) == ["Ministry of Defence of the Republic of Serbia"]
    assert column(
        seed_store, "SELECT ?o WHERE { <id/project/ntf> iomo:implementedBy ?o }", "o"
    ) == ["id/organisation/iom"]


def test_ntf_has_18_fundings_from_18_countries(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?f ?country ?role ?iati WHERE {
          ?f a iomo:Funding ; schema:fundedItem <id/project/ntf> ; schema:funder ?country ;
             iomo:donorRole ?role ; iomo:iatiOrganisationRole ?iati . ?country a schema:Country .
        }""",
    )
    assert len(r) == 18
    assert sorted(x["country"].rsplit("/", 1)[1] for x in r) == NTF_COUNTRIES
    assert all(x["f"] == "id/funding/ntf-" + x["country"].rsplit("/", 1)[1] for x in r)
    assert {x["iati"] for x in r} == {"id/codelist/iati/OrganisationRole/1"}
    roles = {x["country"].rsplit("/", 1)[1]: x["role"].rsplit("/", 1)[1] for x in r}
    assert [c for c, role in roles.items() if role == "lead-nation"] == ["NO"]
    assert [c for c, role in roles.items() if role == "external-donor"] == ["CH"]
    assert sorted(c for c, role in roles.items() if role == "contributor") == sorted(
        set(NTF_COUNTRIES) - {"NO", "CH"}
    )


def test_ntf_channel_is_the_nato_trust_fund_for_the_16_contributors(seed_store: ox.Store) -> None:
    funders = column(
        seed_store,
        """
        SELECT ?c WHERE { ?f schema:fundedItem <id/project/ntf> ; schema:funder ?c ;
                             iomo:channel <id/programme/nato-pfp-trust-fund> }""",
        "c",
    )
    assert [c.rsplit("/", 1)[1] for c in funders] == sorted(set(NTF_COUNTRIES) - {"NO", "CH"})
    assert column(
        seed_store,
        """
        SELECT ?l WHERE { <id/project/ntf> iomo:fundingFramework ?p . ?p a frapo:FundingProgramme ;
                          skos:prefLabel ?l }""",
        "l",
    ) == ["NATO/PfP Trust Fund"]


def test_ntf_stated_country_count_matches_named_funders(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?stated (COUNT(DISTINCT ?c) AS ?named) WHERE {
          <id/figure/ntf-funding-countries> schema:value ?stated ; iomo:figureOf <id/project/ntf> .
          ?f schema:fundedItem <id/project/ntf> ; schema:funder ?c . ?c a schema:Country .
        } GROUP BY ?stated""",
    )
    assert r == [{"stated": "18", "named": "18"}]


def test_ntf_figures(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?fig ?value ?precision WHERE {
          ?fig a iomo:Figure ; iomo:figureOf <id/project/ntf> ; schema:value ?value ;
            iomo:precision ?precision }""",
    )
    got = {
        x["fig"].rsplit("/", 1)[1]: (int(x["value"]), x["precision"].rsplit("/", 1)[1]) for x in r
    }
    assert got == {
        "ntf-counselled": (6025, "exact"),
        "ntf-financially-assisted": (4580, "exact"),
        "ntf-people-involved": (15000, "more-than"),
        "ntf-family-enterprises-registered": (3619, "exact"),
        "ntf-employed": (442, "exact"),
        "ntf-funding-countries": (18, "exact"),
    }


def test_ntf_evaluation_report(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?title ?date ?abstract WHERE {
          ?d a foaf:Document ; dcterms:subject <id/project/ntf> ; dcterms:title ?title ;
             dcterms:date ?date ; dcterms:abstract ?abstract .
               FILTER(datatype(?date) = xsd:gYearMonth) }""",
    )
    assert len(r) == 1
    assert r[0]["title"] == "External Independent End-of-project Summative Evaluation Report"
    assert r[0]["date"] == "2011-04"
    assert r[0]["abstract"].startswith(
        "Compared to other projects that support socio-economic reintegration"
    )


def test_luxemburg_spelling_kept(seed_store: ox.Store) -> None:
    assert "Luxemburg" in column(
        seed_store, "SELECT ?l WHERE { <id/country/LU> skos:altLabel ?l }", "l"
    )


# ----------------------------------------------------------------------------------------------
# IOM (both pages)
# ----------------------------------------------------------------------------------------------


def test_iom_founded_1951_with_175_member_states(seed_store: ox.Store) -> None:
    assert column(
        seed_store,
        """
        SELECT ?y WHERE { <id/organisation/iom> schema:foundingDate ?y
          FILTER(datatype(?y) = xsd:gYear) }""",
        "y",
    ) == ["1951"]
    r = rows(
        seed_store,
        """
        SELECT ?v ?p WHERE { <id/figure/iom-member-states> iomo:figureOf <id/organisation/iom> ;
                             schema:value ?v ; iomo:precision ?p }""",
    )
    assert r == [{"v": "175", "p": "id/concept/precision/exact"}]
    r = rows(
        seed_store,
        """
        SELECT ?v ?p WHERE { <id/figure/iom-countries-with-presence> schema:value ?v ;
          iomo:precision ?p }""",
    )
    assert r == [{"v": "100", "p": "id/concept/precision/more-than"}]


def test_iom_part_of_un_system_and_in_serbia_since_1992(seed_store: ox.Store) -> None:
    assert column(
        seed_store,
        """
        SELECT ?l WHERE { <id/organisation/iom> org:subOrganizationOf/skos:prefLabel ?l }""",
        "l",
    ) == ["United Nations System"]
    r = rows(
        seed_store,
        """
        SELECT ?site ?start WHERE { <id/organisation/iom> org:hasSite ?site .
          ?site org:siteOf <id/organisation/iom> ;
          schema:location <id/country/RS> ; schema:startDate ?start
            FILTER(datatype(?start) = xsd:gYear) }""",
    )
    assert r == [{"site": "id/site/iom-serbia", "start": "1992"}]


def test_iom_reference_identifiers(seed_store: ox.Store) -> None:
    assert column(
        seed_store, "SELECT ?i WHERE { <id/organisation/iom> iomo:iatiOrganisationId ?i }", "i"
    ) == ["XM-DAC-47066"]


# ----------------------------------------------------------------------------------------------
# 001: North Macedonia page
# ----------------------------------------------------------------------------------------------


def test_mk_former_name(seed_store: ox.Store) -> None:
    assert "The former Yugoslav Republic of Macedonia" in column(
        seed_store, "SELECT ?l WHERE { <id/country/MK> skos:altLabel ?l }", "l"
    )


def test_mk_document_dates(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        f"""
        SELECT ?m ?f WHERE {{ <id/source/{DOC_001}> dcterms:modified ?m ; iomo:factsUpdated ?f
          FILTER(datatype(?m) = xsd:gYearMonth && datatype(?f) = xsd:gYearMonth) }}""",
    )
    assert r == [{"m": "2012-09", "f": "2014-09"}]
    assert not ask(seed_store, f"ASK {{ <id/source/{DOC_000}> dcterms:modified ?m }}")


def test_mk_activities_and_their_thematic_areas(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?a ?area WHERE { ?a a iomo:Activity ; schema:location <id/country/MK> ;
          dcterms:subject ?area }""",
    )
    got = sorted((x["a"].rsplit("/", 1)[1], x["area"].rsplit("/", 1)[1]) for x in r)
    assert got == [
        ("mk-assisted-voluntary-return", "regulating-migration"),
        ("mk-labour-migration", "facilitating-migration"),
        ("mk-migration-health", "migration-health"),
        ("mk-roma-anti-trafficking", "counter-trafficking"),
        ("mk-roma-anti-trafficking", "facilitating-migration"),
    ]


def test_migration_health_concerns_au_ca_nz(seed_store: ox.Store) -> None:
    dest = column(
        seed_store,
        "SELECT ?c WHERE { <id/activity/mk-migration-health> iomo:destinationCountry ?c }",
        "c",
    )
    asked = column(
        seed_store, "SELECT ?c WHERE { <id/activity/mk-migration-health> iomo:requestedBy ?c }", "c"
    )
    assert dest == asked == ["id/country/AU", "id/country/CA", "id/country/NZ"]


def test_migration_health_self_payers(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?funder ?label ?role WHERE {
          ?f a iomo:Funding ; schema:fundedItem <id/activity/mk-migration-health> ;
            schema:funder ?funder ;
             iomo:donorRole ?role . ?funder a foaf:Group ; skos:prefLabel ?label }""",
    )
    assert r == [
        {
            "funder": "id/group/self-payers-au-ca-nz",
            "label": "Self-payers for Australia, Canada and New Zealand",
            "role": "id/concept/donor-role/self-payer",
        }
    ]


def test_migration_health_11000_since_2000(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?v ?p ?since WHERE { ?fig iomo:figureOf <id/activity/mk-migration-health> ;
          schema:value ?v ;
          iomo:precision ?p ; schema:startDate ?since FILTER(datatype(?since) = xsd:gYear) }""",
    )
    assert r == [{"v": "11000", "p": "id/concept/precision/about", "since": "2000"}]


def test_regulating_migration_has_7_government_donors(seed_store: ox.Store) -> None:
    funders = column(
        seed_store,
        """
        SELECT ?c WHERE { ?f a iomo:Funding ; schema:fundedItem ?a ; schema:funder ?c .
          ?a dcterms:subject <id/concept/thematic-area/regulating-migration> .
            ?c a schema:Country }""",
        "c",
    )
    assert [c.rsplit("/", 1)[1] for c in funders] == ["BE", "CH", "DE", "FI", "IT", "NL", "NO"]


def test_assisted_voluntary_return_services_and_caseload(seed_store: ox.Store) -> None:
    services = column(
        seed_store,
        """
        SELECT ?l WHERE {
          <id/activity/mk-assisted-voluntary-return> iomo:service/skos:prefLabel ?l }""",
        "l",
    )
    assert (
        len(services) == 9
        and "airport reception assistance" in services
        and "micro-business set up" in services
    )
    groups = column(
        seed_store,
        """
        SELECT ?l WHERE {
          <id/activity/mk-assisted-voluntary-return> iomo:targetGroup/skos:prefLabel ?l }""",
        "l",
    )
    assert groups == ["failed asylum seekers", "families", "individuals", "vulnerable returnees"]
    narrower = column(
        seed_store,
        """
        SELECT ?l WHERE { ?c skos:broader <id/concept/target-group/vulnerable-returnees> ;
          skos:prefLabel ?l }""",
        "l",
    )
    assert narrower == [
        "returnees with a medical condition",
        "unaccompanied minors",
        "victims of human trafficking",
    ]


def test_facilitating_migration_has_3_donors(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?funder ?channel WHERE { ?f a iomo:Funding ; schema:fundedItem ?a ;
          schema:funder ?funder .
          ?a dcterms:subject <id/concept/thematic-area/facilitating-migration> .
          OPTIONAL { ?f iomo:channel ?channel } }""",
    )
    assert sorted((x["funder"], x.get("channel", "")) for x in r) == [
        ("id/organisation/bamf", ""),
        ("id/organisation/ec", "id/programme/ipa-2009-multi-beneficiary-programme-2"),
        ("id/organisation/iom-development-fund", ""),
    ]
    assert column(
        seed_store,
        """
        SELECT ?l WHERE {
          <id/programme/ipa-2009-multi-beneficiary-programme-2> a frapo:FundingProgramme ;
          skos:prefLabel ?l ; frapo:isFundedBy <id/organisation/ec> }""",
        "l",
    ) == ["IPA 2009 Multi-beneficiary Programme 2"]
    assert column(
        seed_store,
        """
        SELECT ?l WHERE { <id/activity/mk-labour-migration> iomo:partner/skos:prefLabel ?l }""",
        "l",
    ) == ["Ministry of Labor and Social Policy"]


def test_roma_initiatives_since_2006(seed_store: ox.Store) -> None:
    assert column(
        seed_store,
        """
        SELECT ?y WHERE { <id/activity/mk-roma-anti-trafficking> schema:startDate ?y
          FILTER(datatype(?y) = xsd:gYear) }""",
        "y",
    ) == ["2006"]
    assert not ask(
        seed_store, "ASK { ?f schema:fundedItem <id/activity/mk-roma-anti-trafficking> }"
    )


def test_western_balkans_project(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?l ?s ?e WHERE { <id/project/western-balkans-migration-development> a iomo:Project ;
          skos:prefLabel ?l ; schema:startDate ?s ; schema:endDate ?e
          FILTER(datatype(?s) = xsd:gYearMonth && datatype(?e) = xsd:gYearMonth) }""",
    )
    assert r == [
        {
            "l": "Migration and Socio-Economic Development in the Western Balkans",
            "s": "2011-02",
            "e": "2012-11",
        }
    ]


def test_visa_free_regime_and_neighbours(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?s WHERE { ?e a schema:Event ;
          schema:about <id/country/MK>, <id/place/schengen-area> ;
          schema:startDate ?s FILTER(datatype(?s) = xsd:gYearMonth) }""",
    )
    assert r == [{"s": "2009-12"}]
    assert column(seed_store, "SELECT ?c WHERE { <id/country/MK> schema:geoTouches ?c }", "c") == [
        "id/country/BG",
        "id/country/GR",
    ]
    assert column(seed_store, "SELECT ?c WHERE { ?c org:memberOf <id/organisation/eu> }", "c") == [
        "id/country/BG",
        "id/country/GR",
    ]
    # The page names Greece; its links come from the reference data, not from the page's graph.
    assert not ask(
        seed_store,
        "ASK { GRAPH <graph/sources/001_f2128d7fdb422215> { <id/country/GR> owl:sameAs ?x } }",
    )


# ----------------------------------------------------------------------------------------------
# Provenance: every fact traceable to a verbatim line
# ----------------------------------------------------------------------------------------------


def _seed_lines(stem: str) -> list[str]:
    path = SHARED / "seeds" / f"{stem}.txt"
    if not path.exists():
        pytest.skip(f"{path} not available")
    return path.read_text(encoding="utf-8").split("\n")


@pytest.mark.parametrize("stem", [DOC_000, DOC_001])
def test_excerpts_are_verbatim_lines(seed_store: ox.Store, stem: str) -> None:
    lines = _seed_lines(stem)
    r = rows(
        seed_store,
        f"""
        SELECT ?e ?n ?text WHERE {{ GRAPH <graph/sources/{stem}> {{
          ?e a iomo:Excerpt ; dcterms:isPartOf <id/source/{stem}> ; iomo:line ?n ;
            prov:value ?text }} }}""",
    )
    assert r
    for x in r:
        assert x["e"] == f"id/source/{stem}/line/{x['n']}"
        assert x["text"] == lines[int(x["n"]) - 1]


@pytest.mark.parametrize("stem", [DOC_000, DOC_001])
def test_every_described_resource_cites_an_excerpt_of_its_document(
    seed_store: ox.Store, stem: str
) -> None:
    uncited = column(
        seed_store,
        f"""
        SELECT DISTINCT ?s WHERE {{ GRAPH <graph/sources/{stem}> {{
          ?s ?p ?o . FILTER(isIRI(?s) && ?s != <id/source/{stem}>)
          FILTER NOT EXISTS {{ ?s a iomo:Excerpt }}
          FILTER NOT EXISTS {{ ?s prov:wasDerivedFrom ?e . ?e a iomo:Excerpt ;
            dcterms:isPartOf <id/source/{stem}> }}
        }} }}""",
        "s",
    )
    assert uncited == []


def test_every_figure_is_in_the_text_it_cites(seed_store: ox.Store) -> None:
    r = rows(
        seed_store,
        """
        SELECT ?fig ?v (GROUP_CONCAT(?text; separator=" | ") AS ?texts) WHERE {
          ?fig a iomo:Figure ; schema:value ?v ; prov:wasDerivedFrom ?e . ?e prov:value ?text }
        GROUP BY ?fig ?v""",
    )
    assert len(r) >= 9
    for x in r:
        value = int(x["v"])
        assert f"{value:,}" in x["texts"] or str(value) in x["texts"], x["fig"]


def test_budget_is_in_the_text_it_cites(seed_store: ox.Store) -> None:
    texts = column(
        seed_store,
        """
        SELECT ?t WHERE { <id/project/ntf> iomo:budget/prov:wasDerivedFrom/prov:value ?t }""",
        "t",
    )
    assert len(texts) == 1 and "9.3 million euro" in texts[0]


@pytest.mark.parametrize("stem", [DOC_000, DOC_001])
def test_quoted_text_is_verbatim(seed_store: ox.Store, stem: str) -> None:
    r = rows(
        seed_store,
        f"""
        SELECT ?s ?text (GROUP_CONCAT(?line; separator=" ") AS ?lines) WHERE {{
          GRAPH <graph/sources/{stem}> {{
          ?s dcterms:description|dcterms:abstract|skos:altLabel ?text ; prov:wasDerivedFrom ?e .
          ?e prov:value ?line }} }} GROUP BY ?s ?text""",
    )
    assert r
    for x in r:
        assert x["text"] in x["lines"], (x["s"], x["text"])


def test_fundings_are_complete(seed_store: ox.Store) -> None:
    bad = column(
        seed_store,
        """
        SELECT ?f WHERE { ?f a iomo:Funding .
          FILTER NOT EXISTS { ?f schema:funder ?x ; schema:fundedItem ?y ;
            iomo:donorRole/skos:inScheme <id/scheme/donor-role> ;
            iomo:iatiOrganisationRole <id/codelist/iati/OrganisationRole/1> } }""",
        "f",
    )
    assert bad == []
    assert column(seed_store, "SELECT (COUNT(?f) AS ?n) WHERE { ?f a iomo:Funding }", "n") == ["29"]


def test_no_dangling_local_iris(seed_store: ox.Store) -> None:
    """Every project IRI used as an object is described somewhere in the graph."""
    dangling = column(
        seed_store,
        f"""
        SELECT DISTINCT ?o WHERE {{ ?s ?p ?o . FILTER(isIRI(?o) && STRSTARTS(STR(?o), "{BASE}"))
          FILTER(?p != owl:versionIRI)
          FILTER NOT EXISTS {{ ?o ?p2 ?o2 }} }}""",
        "o",
    )
    assert dangling == []


def test_every_local_term_is_declared(seed_store: ox.Store) -> None:
    undeclared = column(
        seed_store,
        f"""
        SELECT DISTINCT ?t WHERE {{ {{ ?s ?t ?o }} UNION {{ ?s a ?t }} UNION {{ ?s ?p ?o .
          BIND(datatype(?o) AS ?t) }}
          FILTER(STRSTARTS(STR(?t), "{BASE}ontology#"))
          FILTER NOT EXISTS {{ GRAPH <graph/ontology> {{ ?t rdfs:isDefinedBy <ontology> }} }} }}""",
        "t",
    )
    assert undeclared == []


def test_relative_iris_only() -> None:
    """Hand-written and generated Turtle never writes the base out."""
    for path in sorted((ROOT / "data").rglob("*.ttl")) + sorted((ROOT / "ontology").glob("*.ttl")):
        assert BASE not in path.read_text(encoding="utf-8"), path
        assert not re.search(r"@base", path.read_text(encoding="utf-8")), path
