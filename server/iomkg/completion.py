"""What the query editor completes: the predeclared prefixes, the graph's classes and properties.

One pass over the store per cache period (the web layer caches it like the other statistics).
Names are written as SPARQL accepts them: ``iomo:Funding`` where a prefix fits and the local
name needs no escape, the full ``<IRI>`` otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyoxigraph as ox

from iomkg.store.base import GraphStore
from iomkg.vocab import prefixes

CLASSES = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?term (SAMPLE(?l) AS ?label) (COUNT(?s) AS ?uses) WHERE {
  { ?s a ?term } UNION { ?term a owl:Class } UNION { ?term a rdfs:Class }
  FILTER(isIRI(?term))
  OPTIONAL { ?term rdfs:label ?l FILTER(lang(?l) = "en" || lang(?l) = "") }
}
GROUP BY ?term
ORDER BY DESC(?uses) ?term
"""

PROPERTIES = """
PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?term (SAMPLE(?l) AS ?label) (COUNT(?s) AS ?uses) WHERE {
  { ?s ?term [] }
  UNION { ?term a owl:ObjectProperty } UNION { ?term a owl:DatatypeProperty }
  UNION { ?term a rdf:Property }
  OPTIONAL { ?term rdfs:label ?l FILTER(lang(?l) = "en" || lang(?l) = "") }
}
GROUP BY ?term
ORDER BY DESC(?uses) ?term
"""

#: A prefixed name's local part that needs no escape (a subset of SPARQL's PN_LOCAL).
_PLAIN_LOCAL = re.compile(r"^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]*[A-Za-z0-9_\-])?$")


@dataclass(frozen=True)
class Term:
    text: str  # as written in a query
    iri: str
    label: str | None
    uses: int

    def to_json(self) -> dict[str, object]:
        return {"text": self.text, "iri": self.iri, "label": self.label, "uses": self.uses}


def sparql_name(iri: str, names: dict[str, str]) -> str:
    """``prefix:local`` when a predeclared prefix fits without escapes, else ``<iri>``.

    >>> names = {"schema": "https://schema.org/", "id": "http://x/id/"}
    >>> sparql_name("https://schema.org/funder", names), sparql_name("http://x/id/a/b", names)
    ('schema:funder', '<http://x/id/a/b>')
    """
    best: tuple[str, str] | None = None
    for name, namespace in names.items():
        fits = iri.startswith(namespace) and _PLAIN_LOCAL.match(iri[len(namespace) :])
        if fits and (best is None or len(namespace) > len(names[best[0]])):
            best = (name, iri[len(namespace) :])
    return f"{best[0]}:{best[1]}" if best else f"<{iri}>"


def completion_terms(store: GraphStore, base_iri: str) -> dict[str, list[dict[str, object]]]:
    """``{"prefixes": […], "classes": […], "properties": […]}`` for the editor's completion."""
    names = prefixes(base_iri)
    found: dict[str, list[dict[str, object]]] = {
        "prefixes": [{"text": f"{name}:", "iri": iri} for name, iri in sorted(names.items())]
    }
    for key, query in (("classes", CLASSES), ("properties", PROPERTIES)):
        result = store.query(query, base_iri=base_iri)
        if not isinstance(result, ox.QuerySolutions):
            raise TypeError("expected SELECT results")
        terms = []
        for row in result:
            term, label, uses = row["term"], row["label"], row["uses"]
            if not isinstance(term, ox.NamedNode):
                continue
            terms.append(
                Term(
                    sparql_name(term.value, names),
                    term.value,
                    label.value if isinstance(label, ox.Literal) else None,
                    int(uses.value) if isinstance(uses, ox.Literal) else 0,
                ).to_json()
            )
        found[key] = terms
    return found
