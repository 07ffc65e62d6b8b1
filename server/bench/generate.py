"""A deterministic, realistic synthetic IOM graph for benchmarks (N-Quads, one graph per batch).

The same ``--triples`` and ``--seed`` always give the same bytes: every choice comes from one
seeded ``random.Random`` and the output order is fixed. The shape follows ontology/README.md:
countries and organisations (with sub-organisation chains), projects with budgets, activities
(some nested in other activities), donors' fundings with amounts, outcome figures, and the source
documents' excerpts every fact is derived from.

    python server/bench/generate.py --triples 100000 -o var/bench/kg-100k.nq
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyoxigraph as ox

BASE = "https://w3id.org/iomkg/"
IOMO = BASE + "ontology#"
ID = BASE + "id/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SCHEMA = "https://schema.org/"
ORG = "http://www.w3.org/ns/org#"
DCT = "http://purl.org/dc/terms/"
PROV = "http://www.w3.org/ns/prov#"

SHARED_FILE = f"{ID}file/synthetic-reference.csv"  # what the reference data is derived from
REFERENCE_SOURCE = f"{ID}source/synthetic-offices"  # the document the sites are taken from
# measured averages, used to size the graph for a target
TRIPLES_PER_PROJECT = 169  # with its activities, fundings, amounts, figures and excerpt
TRIPLES_PER_ORGANISATION = 14  # with its site
REFERENCE_TRIPLES = 529  # schemes, codelists, countries

COUNTRIES = [
    ("AF", "AFG", "Afghanistan"),
    ("AL", "ALB", "Albania"),
    ("AT", "AUT", "Austria"),
    ("BA", "BIH", "Bosnia and Herzegovina"),
    ("BD", "BGD", "Bangladesh"),
    ("BE", "BEL", "Belgium"),
    ("BF", "BFA", "Burkina Faso"),
    ("BR", "BRA", "Brazil"),
    ("CA", "CAN", "Canada"),
    ("CH", "CHE", "Switzerland"),
    ("CO", "COL", "Colombia"),
    ("CD", "COD", "Democratic Republic of the Congo"),
    ("DE", "DEU", "Germany"),
    ("DK", "DNK", "Denmark"),
    ("EG", "EGY", "Egypt"),
    ("ES", "ESP", "Spain"),
    ("ET", "ETH", "Ethiopia"),
    ("FI", "FIN", "Finland"),
    ("FR", "FRA", "France"),
    ("GB", "GBR", "United Kingdom"),
    ("GR", "GRC", "Greece"),
    ("GT", "GTM", "Guatemala"),
    ("HT", "HTI", "Haiti"),
    ("HU", "HUN", "Hungary"),
    ("IE", "IRL", "Ireland"),
    ("IQ", "IRQ", "Iraq"),
    ("IT", "ITA", "Italy"),
    ("JO", "JOR", "Jordan"),
    ("JP", "JPN", "Japan"),
    ("KE", "KEN", "Kenya"),
    ("LB", "LBN", "Lebanon"),
    ("LY", "LBY", "Libya"),
    ("MA", "MAR", "Morocco"),
    ("ME", "MNE", "Montenegro"),
    ("MK", "MKD", "North Macedonia"),
    ("ML", "MLI", "Mali"),
    ("MM", "MMR", "Myanmar"),
    ("MX", "MEX", "Mexico"),
    ("NE", "NER", "Niger"),
    ("NG", "NGA", "Nigeria"),
    ("NL", "NLD", "Netherlands"),
    ("NO", "NOR", "Norway"),
    ("NP", "NPL", "Nepal"),
    ("PH", "PHL", "Philippines"),
    ("PK", "PAK", "Pakistan"),
    ("PL", "POL", "Poland"),
    ("RO", "ROU", "Romania"),
    ("RS", "SRB", "Serbia"),
    ("SD", "SDN", "Sudan"),
    ("SE", "SWE", "Sweden"),
    ("SN", "SEN", "Senegal"),
    ("SO", "SOM", "Somalia"),
    ("SS", "SSD", "South Sudan"),
    ("SY", "SYR", "Syria"),
    ("TD", "TCD", "Chad"),
    ("TN", "TUN", "Tunisia"),
    ("TR", "TUR", "Türkiye"),
    ("UA", "UKR", "Ukraine"),
    ("UG", "UGA", "Uganda"),
    ("US", "USA", "United States of America"),
    ("VE", "VEN", "Venezuela"),
    ("XK", "XKX", "Kosovo"),
    ("YE", "YEM", "Yemen"),
    ("ZA", "ZAF", "South Africa"),
]
DONOR_COUNTRIES = [
    "AT",
    "BE",
    "CA",
    "CH",
    "DE",
    "DK",
    "FI",
    "FR",
    "GB",
    "IE",
    "IT",
    "JP",
    "NL",
    "NO",
    "SE",
    "US",
    "ES",
    "PL",
]
THEMES = [
    "migration-health",
    "assisted-voluntary-return",
    "labour-migration",
    "counter-trafficking",
    "border-management",
    "displacement-tracking",
    "emergency-shelter",
    "resettlement",
    "reintegration",
    "diaspora-engagement",
    "climate-mobility",
    "psychosocial-support",
]
DONOR_ROLES = ["lead-nation", "contributor", "external-donor", "self-payer", "donor"]
PRECISIONS = ["exact", "more-than", "about"]
INDICATORS = [
    "people-assisted",
    "people-counselled",
    "people-trained",
    "returns-assisted",
    "shelters-built",
    "victims-identified",
    "officials-trained",
    "grants-awarded",
]
CURRENCIES = ["EUR", "USD", "CHF", "NOK", "GBP", "SEK"]
ADJECTIVES = [
    "regional",
    "national",
    "integrated",
    "community",
    "sustainable",
    "emergency",
    "joint",
    "targeted",
    "inclusive",
    "cross-border",
    "rapid",
    "long-term",
]
NOUNS = [
    "support",
    "assistance",
    "capacity building",
    "reintegration",
    "protection",
    "response",
    "resilience",
    "dialogue",
    "recovery",
    "outreach",
    "health",
    "livelihoods",
    "training",
]
KINDS = ["programme", "project", "initiative", "facility", "partnership"]
COUNTED = [
    "returnees who received reintegration grants",
    "migrants screened for tuberculosis",
    "border officials trained in identity management",
    "victims of trafficking identified",
    "displaced households given emergency shelter",
    "discharged personnel who received counselling",
    "diaspora experts deployed",
    "community members reached by information sessions",
]


@dataclass(frozen=True)
class Scale:
    """How many of each thing; everything else follows from the seed."""

    projects: int
    organisations: int

    @classmethod
    def for_triples(cls, triples: int) -> Scale:
        def organisations(projects: int) -> int:
            return max(20, min(2000, projects // 4))

        per_project = TRIPLES_PER_PROJECT + TRIPLES_PER_ORGANISATION / 4
        projects = max(4, round((triples - REFERENCE_TRIPLES) / per_project))
        if organisations(projects) in (20, 2000):  # at a bound: the rest is projects
            spare = triples - REFERENCE_TRIPLES - TRIPLES_PER_ORGANISATION * organisations(projects)
            projects = max(4, round(spare / TRIPLES_PER_PROJECT))
        return cls(projects=projects, organisations=organisations(projects))


def project_iri(index: int) -> str:
    return f"{ID}project/synthetic-{index:06d}"


def organisation_iri(index: int) -> str:
    return f"{ID}organisation/synthetic-{index:05d}"


def country_iri(code: str) -> str:
    return f"{ID}country/{code}"


class _Writer:
    """Quads for one named graph, with small helpers for the literal types the model uses."""

    def __init__(self) -> None:
        self.graph = ox.NamedNode(BASE + "graph/synthetic/reference")
        self._nodes: dict[str, ox.NamedNode] = {}

    def node(self, iri: str) -> ox.NamedNode:
        found = self._nodes.get(iri)
        if found is None:
            found = self._nodes[iri] = ox.NamedNode(iri)
        return found

    def quad(self, s: str, p: str, o: ox.NamedNode | ox.Literal) -> ox.Quad:
        return ox.Quad(self.node(s), self.node(p), o, self.graph)

    def iri(self, s: str, p: str, o: str) -> ox.Quad:
        return self.quad(s, p, self.node(o))

    def text(self, s: str, p: str, value: str, language: str | None = "en") -> ox.Quad:
        return self.quad(
            s, p, ox.Literal(value, language=language) if language else ox.Literal(value)
        )

    def typed(self, s: str, p: str, value: str, datatype: str) -> ox.Quad:
        return self.quad(s, p, ox.Literal(value, datatype=self.node(datatype)))


def generate(triples: int, seed: int = 1951) -> Iterator[ox.Quad]:
    """The quads of a graph of about ``triples`` triples, always the same for the same arguments."""
    scale = Scale.for_triples(triples)
    rng = random.Random(seed)
    w = _Writer()
    yield from _reference(w, rng, scale)
    for first in range(0, scale.projects, 100):
        w.graph = ox.NamedNode(f"{BASE}graph/synthetic/batch-{first // 100:04d}")
        for index in range(first, min(first + 100, scale.projects)):
            yield from _project(w, rng, scale, index)


def _concept(w: _Writer, scheme: str, slug: str, label: str) -> Iterator[ox.Quad]:
    concept = f"{ID}concept/{scheme}/{slug}"
    yield w.iri(concept, RDF + "type", SKOS + "Concept")
    yield w.text(concept, SKOS + "prefLabel", label)
    yield w.iri(concept, SKOS + "inScheme", f"{ID}scheme/{scheme}")
    yield w.text(concept, SKOS + "notation", slug, language=None)
    yield w.text(concept, SKOS + "definition", f"The synthetic {scheme.replace('-', ' ')} {label}.")
    if scheme == "donor-role":
        yield w.iri(concept, SKOS + "broadMatch", f"{ID}codelist/iati/OrganisationRole/1")


def _codelist(w: _Writer, name: str, codes: list[tuple[str, str]]) -> Iterator[ox.Quad]:
    """An IATI codelist scheme and its concepts, derived from (a stand-in for) its shared/ file."""
    scheme = f"{ID}codelist/iati/{name}"
    yield w.iri(scheme, RDF + "type", SKOS + "ConceptScheme")
    yield w.text(scheme, SKOS + "prefLabel", f"IATI {name} codelist")
    yield w.iri(scheme, PROV + "wasDerivedFrom", SHARED_FILE)
    for code, label in codes:
        concept = f"{scheme}/{code}"
        yield w.iri(concept, RDF + "type", SKOS + "Concept")
        yield w.text(concept, SKOS + "prefLabel", label)
        yield w.iri(concept, SKOS + "inScheme", scheme)
        yield w.text(concept, SKOS + "notation", code, language=None)


def _reference(w: _Writer, rng: random.Random, scale: Scale) -> Iterator[ox.Quad]:
    for scheme, slugs in (
        ("thematic-area", THEMES),
        ("donor-role", DONOR_ROLES),
        ("precision", PRECISIONS),
        ("indicator", INDICATORS),
    ):
        yield w.iri(f"{ID}scheme/{scheme}", RDF + "type", SKOS + "ConceptScheme")
        yield w.text(f"{ID}scheme/{scheme}", SKOS + "prefLabel", scheme.replace("-", " "))
        for slug in slugs:
            yield from _concept(w, scheme, slug, slug.replace("-", " "))
    yield w.iri(SHARED_FILE, RDF + "type", PROV + "Entity")
    yield w.text(SHARED_FILE, SKOS + "prefLabel", "synthetic-reference.csv")
    yield w.iri(REFERENCE_SOURCE, RDF + "type", IOMO + "SourceDocument")
    yield w.text(REFERENCE_SOURCE, DCT + "title", "Synthetic directory of offices")
    yield w.text(REFERENCE_SOURCE, DCT + "identifier", "synthetic-offices.txt", language=None)
    yield from _codelist(w, "ActivityStatus", [(str(n), f"status {n}") for n in range(1, 7)])
    yield from _codelist(w, "Currency", [(code, f"currency {code}") for code in CURRENCIES])
    yield from _codelist(w, "OrganisationRole", [("1", "Funding")])
    for alpha2, alpha3, name in COUNTRIES:
        country = country_iri(alpha2)
        yield w.iri(country, RDF + "type", SCHEMA + "Country")
        yield w.text(country, SKOS + "prefLabel", name)
        yield w.typed(country, SKOS + "notation", alpha2, IOMO + "iso3166Alpha2")
        yield w.text(country, IOMO + "iso3166Alpha3", alpha3, language=None)
        yield w.iri(country, PROV + "wasDerivedFrom", SHARED_FILE)
    for index in range(scale.organisations):
        org = organisation_iri(index)
        country = rng.choice(COUNTRIES)
        name = (
            f"{rng.choice(ADJECTIVES).title()} {rng.choice(NOUNS)} agency of {country[2]} {index}"
        )
        yield w.iri(org, RDF + "type", ORG + "Organization")
        yield w.iri(org, RDF + "type", ORG + "FormalOrganization")
        yield w.text(org, SKOS + "prefLabel", name)
        yield w.text(org, SKOS + "altLabel", "".join(part[0] for part in name.split()[:4]).upper())
        yield w.typed(org, SCHEMA + "foundingDate", str(rng.randint(1945, 2015)), XSD + "gYear")
        yield w.text(org, IOMO + "iatiOrganisationId", f"XM-SYN-{index:05d}", language=None)
        yield w.iri(org, PROV + "wasDerivedFrom", SHARED_FILE)
        if index >= 10:  # chains of sub-organisations, up to a dozen levels deep
            yield w.iri(
                org, ORG + "subOrganizationOf", organisation_iri(rng.randrange(index // 2, index))
            )
        site = f"{ID}site/synthetic-{index:05d}-{country[0].lower()}"
        yield w.iri(org, ORG + "hasSite", site)
        yield w.iri(site, RDF + "type", ORG + "Site")
        yield w.text(site, SKOS + "prefLabel", f"Office {index} in {country[2]}")
        yield w.iri(site, PROV + "wasDerivedFrom", REFERENCE_SOURCE)
        yield w.iri(site, ORG + "siteOf", org)
        yield w.iri(site, SCHEMA + "location", country_iri(country[0]))


def _date(rng: random.Random, first_year: int, last_year: int) -> tuple[int, str]:
    year = rng.randint(first_year, last_year)
    return year, f"{year:04d}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"


def _amount(
    w: _Writer, rng: random.Random, amount: str, low: int, high: int, excerpt: str
) -> Iterator[ox.Quad]:
    currency = rng.choice(CURRENCIES)
    yield w.iri(amount, PROV + "wasDerivedFrom", excerpt)
    yield w.iri(amount, RDF + "type", SCHEMA + "MonetaryAmount")
    yield w.typed(
        amount,
        SCHEMA + "value",
        f"{rng.randint(low, high)}.{rng.randint(0, 99):02d}",
        XSD + "decimal",
    )
    yield w.text(amount, SCHEMA + "currency", currency, language=None)
    yield w.iri(amount, IOMO + "currency", f"{ID}codelist/iati/Currency/{currency}")


def _project(w: _Writer, rng: random.Random, scale: Scale, index: int) -> Iterator[ox.Quad]:
    project = project_iri(index)
    alpha2, _, country_name = rng.choice(COUNTRIES)
    theme = rng.choice(THEMES)
    start_year, start = _date(rng, 1995, 2024)
    end_year, end = _date(rng, start_year + 1, start_year + 6)
    label = (
        f"{rng.choice(ADJECTIVES).title()} {theme.replace('-', ' ')} {rng.choice(KINDS)} "
        f"in {country_name}"
    )
    source = f"{ID}source/synthetic-{index // 10:05d}"
    excerpt = f"{source}/line/{index % 10 + 1}"
    if index % 10 == 0:
        yield w.iri(source, RDF + "type", IOMO + "SourceDocument")
        yield w.text(source, DCT + "title", f"Synthetic programme sheet {index // 10}")
        yield w.text(source, DCT + "identifier", f"synthetic-{index // 10:05d}.txt", language=None)
    acronym = f"P{index:06d}"
    description = (
        f"The {label.lower()} helps {rng.choice(COUNTED)} with {rng.choice(NOUNS)} and "
        f"{rng.choice(NOUNS)} across {country_name}."
    )
    yield w.iri(excerpt, RDF + "type", IOMO + "Excerpt")
    yield w.iri(excerpt, DCT + "isPartOf", source)
    yield w.typed(excerpt, IOMO + "line", str(index % 10 + 1), XSD + "positiveInteger")
    yield w.text(
        excerpt,
        PROV + "value",
        f"{label} ({acronym}) ran from {start} to {end}. {description}",
        language=None,
    )

    yield w.iri(project, RDF + "type", IOMO + "Project")
    yield w.text(project, SKOS + "prefLabel", f"{label} {index}")
    yield w.text(project, SKOS + "altLabel", acronym)
    yield w.text(project, DCT + "description", description)
    yield w.typed(project, SCHEMA + "startDate", start, XSD + "date")
    yield w.typed(project, SCHEMA + "endDate", end, XSD + "date")
    status = 4 if end_year < 2024 else rng.randint(1, 3)
    yield w.iri(project, IOMO + "status", f"{ID}codelist/iati/ActivityStatus/{status}")
    yield w.iri(project, SCHEMA + "location", country_iri(alpha2))
    yield w.iri(
        project,
        IOMO + "implementedBy",
        organisation_iri(rng.randrange(min(10, scale.organisations))),
    )
    yield w.iri(project, IOMO + "beneficiary", organisation_iri(rng.randrange(scale.organisations)))
    yield w.iri(project, IOMO + "budget", project + "/budget")
    yield w.iri(project, PROV + "wasDerivedFrom", excerpt)
    yield from _amount(w, rng, project + "/budget", 100_000, 20_000_000, excerpt)

    items = [project]
    for number in range(rng.randint(2, 6)):
        activity = f"{ID}activity/{alpha2.lower()}-synthetic-{index:06d}-{number}"
        activity_theme = rng.choice(THEMES)
        yield w.iri(activity, RDF + "type", IOMO + "Activity")
        yield w.text(
            activity,
            SKOS + "prefLabel",
            f"{activity_theme.replace('-', ' ').capitalize()} {rng.choice(NOUNS)} "
            f"in {country_name}",
        )
        yield w.iri(activity, DCT + "subject", f"{ID}concept/thematic-area/{activity_theme}")
        yield w.iri(activity, DCT + "isPartOf", rng.choice(items) if number else project)
        yield w.iri(activity, SCHEMA + "location", country_iri(alpha2))
        yield w.typed(
            activity, SCHEMA + "startDate", _date(rng, start_year, end_year)[1], XSD + "date"
        )
        yield w.iri(
            activity,
            IOMO + "implementedBy",
            organisation_iri(rng.randrange(min(10, scale.organisations))),
        )
        yield w.iri(
            activity, IOMO + "partner", organisation_iri(rng.randrange(scale.organisations))
        )
        yield w.iri(activity, PROV + "wasDerivedFrom", excerpt)
        items.append(activity)

    for item in [project, *rng.sample(items[1:], k=min(2, len(items) - 1))]:
        start_of_item = _date(rng, start_year, end_year)[1]
        donors = rng.sample(range(len(DONOR_COUNTRIES) + 40), k=rng.randint(1, 3))
        funders: set[str] = set()
        for position, donor_index in enumerate(donors):
            if donor_index < len(DONOR_COUNTRIES):
                donor_slug, donor = (
                    DONOR_COUNTRIES[donor_index],
                    country_iri(DONOR_COUNTRIES[donor_index]),
                )
            else:
                org_index = (donor_index * 37) % scale.organisations
                donor_slug, donor = f"synthetic-{org_index:05d}", organisation_iri(org_index)
            if donor in funders:  # two draws of one organisation: one funding
                continue
            funders.add(donor)
            funding = f"{ID}funding/{item.rsplit('/', 1)[1]}-{donor_slug}"
            role = (
                "lead-nation"
                if position == 0 and donor_index < len(DONOR_COUNTRIES)
                else rng.choice(DONOR_ROLES)
            )
            yield w.iri(funding, RDF + "type", IOMO + "Funding")
            yield w.text(
                funding, SKOS + "prefLabel", f"{donor_slug} funding {item.rsplit('/', 1)[1]}"
            )
            yield w.iri(funding, SCHEMA + "funder", donor)
            yield w.iri(funding, SCHEMA + "fundedItem", item)
            yield w.iri(funding, IOMO + "donorRole", f"{ID}concept/donor-role/{role}")
            yield w.iri(
                funding, IOMO + "iatiOrganisationRole", f"{ID}codelist/iati/OrganisationRole/1"
            )
            yield w.iri(funding, SCHEMA + "amount", funding + "/amount")
            yield w.typed(funding, SCHEMA + "startDate", min(start_of_item, end), XSD + "date")
            yield w.typed(funding, SCHEMA + "endDate", end, XSD + "date")
            yield w.iri(funding, PROV + "wasDerivedFrom", excerpt)
            yield from _amount(w, rng, funding + "/amount", 10_000, 5_000_000, excerpt)

    for item in rng.sample(items, k=min(len(items), rng.randint(1, 4))):
        what = rng.choice(INDICATORS)
        figure = f"{ID}figure/{item.rsplit('/', 1)[1]}-{what}"
        yield w.iri(figure, RDF + "type", IOMO + "Figure")
        yield w.text(
            figure, SKOS + "prefLabel", f"{item.rsplit('/', 1)[1]}: {what.replace('-', ' ')}"
        )
        yield w.iri(figure, PROV + "wasDerivedFrom", excerpt)
        yield w.typed(
            figure, SCHEMA + "value", str(rng.randint(5, 250_000)), XSD + "nonNegativeInteger"
        )
        yield w.text(figure, IOMO + "counts", rng.choice(COUNTED))
        yield w.iri(figure, IOMO + "figureOf", item)
        yield w.iri(figure, IOMO + "precision", f"{ID}concept/precision/{rng.choice(PRECISIONS)}")
        yield w.iri(figure, IOMO + "indicator", f"{ID}concept/indicator/{what}")
        yield w.typed(figure, SCHEMA + "startDate", start, XSD + "date")


def write(path: Path, triples: int, seed: int = 1951) -> int:
    """Write the graph as N-Quads to ``path``; return the number of quads written."""
    count = 0

    def counted() -> Iterator[ox.Quad]:
        nonlocal count
        for quad in generate(triples, seed):
            count += 1
            yield quad

    path.parent.mkdir(parents=True, exist_ok=True)
    ox.serialize(counted(), str(path), ox.RdfFormat.N_QUADS)
    return count


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--triples", type=int, default=100_000, help="about how many triples [100000]"
    )
    parser.add_argument("--seed", type=int, default=1951, help="random seed [1951]")
    parser.add_argument("-o", "--output", type=Path, required=True, help="N-Quads file to write")
    args = parser.parse_args(argv)
    count = write(args.output, args.triples, args.seed)
    print(f"wrote {count} quads to {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
