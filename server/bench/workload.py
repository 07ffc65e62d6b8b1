"""The benchmark's queries: seven representative shapes, each with values that vary per request.

Every query is a template; :func:`requests_for` fills it with IRIs, dates, years, words drawn
from a seeded generator, so a run is repeatable while no two consecutive requests are alike and
no result cache can answer them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from generate import (
    ADJECTIVES,
    COUNTRIES,
    CURRENCIES,
    THEMES,
    Scale,
    country_iri,
    organisation_iri,
    project_iri,
)

PROLOGUE = (
    "PREFIX iomo: <https://w3id.org/iomkg/ontology#> "
    "PREFIX schema: <https://schema.org/> "
    "PREFIX skos: <http://www.w3.org/2004/02/skos/core#> "
    "PREFIX dcterms: <http://purl.org/dc/terms/> "
    "PREFIX org: <http://www.w3.org/ns/org#> "
    "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> "
)
JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"


@dataclass(frozen=True)
class Query:
    name: str
    title: str
    accept: str
    make: Callable[[random.Random, Scale], str]


def _lookup(rng: random.Random, scale: Scale) -> str:
    return f"SELECT ?p ?o WHERE {{ <{project_iri(rng.randrange(scale.projects))}> ?p ?o }}"


def _date_range(rng: random.Random, scale: Scale) -> str:
    year, month = rng.randint(1995, 2023), rng.randint(1, 12)
    end_year, end_month = (year + 1, month - 6) if month > 6 else (year, month + 6)
    return (
        "SELECT ?project ?label ?start WHERE { ?project a iomo:Project ; skos:prefLabel ?label ; "
        "schema:startDate ?start . "
        f'FILTER(?start >= "{year:04d}-{month:02d}-01"^^xsd:date && '
        f'?start < "{end_year:04d}-{end_month:02d}-01"^^xsd:date) }} ORDER BY ?start LIMIT 100'
    )


def _group_sum(rng: random.Random, scale: Scale) -> str:
    year = rng.randint(1995, 2020)
    return (
        "SELECT ?donor (SUM(?value) AS ?total) (COUNT(?funding) AS ?fundings) WHERE { "
        "?funding a iomo:Funding ; schema:funder ?donor ; schema:amount ?amount ; "
        "schema:startDate ?start . "
        f'?amount schema:value ?value ; schema:currency "{rng.choice(CURRENCIES)}" . '
        f"FILTER(YEAR(?start) >= {year} && YEAR(?start) < {year + 5}) }} "
        "GROUP BY ?donor ORDER BY DESC(?total) LIMIT 20"
    )


def _text_search(rng: random.Random, scale: Scale) -> str:
    words = f"{rng.choice(ADJECTIVES)} {rng.choice(THEMES).replace('-', ' ')}"
    return (
        "SELECT ?project ?label WHERE { ?project a iomo:Project ; skos:prefLabel ?label . "
        f'FILTER(CONTAINS(LCASE(?label), "{words}")) }} LIMIT 100'
    )


def _property_path(rng: random.Random, scale: Scale) -> str:
    if rng.random() < 0.5:
        return (
            "SELECT DISTINCT ?donor ?label WHERE { "
            f"?item dcterms:isPartOf* <{project_iri(rng.randrange(scale.projects))}> . "
            "?funding schema:fundedItem ?item ; schema:funder ?donor . "
            "OPTIONAL { ?donor skos:prefLabel ?label } }"
        )
    return (
        "SELECT ?organisation ?label WHERE { "
        "?organisation org:subOrganizationOf+ "
        f"<{organisation_iri(rng.randrange(scale.organisations))}> ; "
        "skos:prefLabel ?label } LIMIT 100"
    )


def _construct(rng: random.Random, scale: Scale) -> str:
    project = project_iri(rng.randrange(scale.projects))
    return (
        f"CONSTRUCT {{ <{project}> ?p ?o . ?part ?pp ?po }} WHERE {{ "
        f"{{ <{project}> ?p ?o }} UNION {{ ?part dcterms:isPartOf <{project}> ; ?pp ?po }} }}"
    )


def _country_themes(rng: random.Random, scale: Scale) -> str:
    return (
        "SELECT ?theme (COUNT(?activity) AS ?activities) WHERE { ?activity a iomo:Activity ; "
        f"schema:location <{country_iri(rng.choice(COUNTRIES)[0])}> ; dcterms:subject ?theme }} "
        "GROUP BY ?theme ORDER BY DESC(?activities)"
    )


QUERIES: tuple[Query, ...] = (
    Query("lookup", "IRI lookup (one project's triples)", JSON, _lookup),
    Query("date-range", "date-range filter on projects, ORDER BY, LIMIT 100", JSON, _date_range),
    Query(
        "group-sum",
        "GROUP BY donor with SUM of amounts (one currency, five years)",
        JSON,
        _group_sum,
    ),
    Query("text-search", "text search: CONTAINS(LCASE(label))", JSON, _text_search),
    Query(
        "property-path",
        "property paths: isPartOf* funders / subOrganizationOf+",
        JSON,
        _property_path,
    ),
    Query("construct", "CONSTRUCT a project with its parts (N-Triples)", NTRIPLES, _construct),
    Query(
        "country-themes",
        "activities of a country per theme (join + GROUP BY)",
        JSON,
        _country_themes,
    ),
)


def requests_for(query: Query, scale: Scale, count: int, seed: int) -> list[str]:
    """``count`` SPARQL texts for ``query``, with their values drawn from ``seed``."""
    rng = random.Random(f"{seed}:{query.name}")
    return [PROLOGUE + query.make(rng, scale) for _ in range(count)]


def request_path(endpoint_path: str, sparql: str) -> str:
    """A GET path for the SPARQL Protocol (``query=`` percent-encoded)."""
    return f"{endpoint_path}?query={quote(sparql, safe='')}"
