"""Namespaces and prefixes used across iomkg (dumps, pages, saved queries)."""

from __future__ import annotations

STANDARD_PREFIXES: dict[str, str] = {
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcterms": "http://purl.org/dc/terms/",
    "prov": "http://www.w3.org/ns/prov#",
    "org": "http://www.w3.org/ns/org#",
    "schema": "https://schema.org/",
    "frapo": "http://purl.org/cerif/frapo/",
    "time": "http://www.w3.org/2006/time#",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "void": "http://rdfs.org/ns/void#",
    "sh": "http://www.w3.org/ns/shacl#",
    "wd": "http://www.wikidata.org/entity/",
    "gn": "https://sws.geonames.org/",
}


OWL_SAME_AS = STANDARD_PREFIXES["owl"] + "sameAs"
RDF_TYPE = STANDARD_PREFIXES["rdf"] + "type"


def prefixes(base_iri: str) -> dict[str, str]:
    """All prefixes for a graph whose base namespace is ``base_iri``.

    >>> prefixes("http://example.org/kg/")["iomo"]
    'http://example.org/kg/ontology#'
    """
    local = {
        "iomo": base_iri + "ontology#",
        "id": base_iri + "id/",
        "graph": base_iri + "graph/",
    }
    return {**local, **STANDARD_PREFIXES}


#: Prefixes for writing queries only: local names under ``id:`` and ``graph:`` hold ``/``, which
#: Turtle must escape (``id:funding\/ntf-CZ``), as GeoNames ids end in one, so RDF output writes
#: those IRIs in full.
QUERY_ONLY_PREFIXES = frozenset({"id", "graph", "gn"})


def output_prefixes(base_iri: str) -> dict[str, str]:
    """The prefixes RDF output declares: :func:`prefixes` without :data:`QUERY_ONLY_PREFIXES`.

    >>> sorted(set(prefixes("http://ex.org/")) - set(output_prefixes("http://ex.org/")))
    ['gn', 'graph', 'id']
    """
    return {
        name: iri for name, iri in prefixes(base_iri).items() if name not in QUERY_ONLY_PREFIXES
    }
