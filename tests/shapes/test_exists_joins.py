"""SPARQL constraints' ``FILTER [NOT] EXISTS`` written as joins give the rows the original gives
(multiplicities included), and a query outside the rewrite's reach is left as it is."""

from __future__ import annotations

from collections import Counter

import pyoxigraph as ox
import pytest

from iomkg.sparqljoins import rewrite_exists

EX = "http://example.org/"
TURTLE = """
@prefix ex: <http://example.org/> .
ex:a ex:label "north" , "south" , "east" ; ex:from ex:l1 , ex:l2 , ex:l3 .
ex:l1 ex:value "the north and the east" .
ex:l2 ex:value "nothing here" .
ex:l3 ex:note "no value" .
ex:b ex:label "west" ; ex:from ex:l4 .
ex:l4 ex:value "west and more" .
ex:c ex:label "alone" .
ex:d ex:label "quoted" , "other" ; ex:from ex:l5 .
ex:l5 ex:value "quoted" .
ex:e ex:label "x"@en ; ex:from ex:l1 , ex:l4 .
"""

QUERIES = {
    "the quoting shape": """SELECT ?this ?value WHERE {
        ?this ex:label ?value .
        FILTER EXISTS { ?this ex:from/ex:value ?any }
        FILTER NOT EXISTS {
            ?this ex:from/ex:value ?line . FILTER(CONTAINS(STR(?line), STR(?value)))
        }
    }""",
    "nested NOT EXISTS": """SELECT ?this ?value WHERE {
        ?this ex:label ?value .
        FILTER NOT EXISTS { ?this ex:from ?source . FILTER NOT EXISTS { ?source ex:value ?t } }
    }""",
    "EXISTS keeps multiplicity": """SELECT ?this WHERE {
        ?this ex:label ?value ; ex:from ?line . FILTER EXISTS { ?line ex:value ?v }
    }""",
    "filters before and after": """SELECT * WHERE {
        FILTER(isIRI(?this)) ?this ex:label ?value . FILTER regex(STR(?value), "^[a-z]")
        FILTER NOT EXISTS { ?this ex:from [ ex:value ?v ] . FILTER(STRSTARTS(?v, ?value)) } .
        ?this ex:from ?any .
    }""",
    "EXISTS over a term of the outer group only": """SELECT ?this ?value WHERE {
        ?this ex:label ?value . FILTER EXISTS { ?other ex:value ?value }
    }""",
    "a comment and $this": """SELECT $this WHERE { $this ex:label ?value . # a comment
        FILTER NOT EXISTS { $this ex:from ?x } }""",
}


@pytest.fixture(scope="module")
def store() -> ox.Store:
    store = ox.Store()
    store.load(TURTLE.encode(), format=ox.RdfFormat.TURTLE)
    return store


def rows(store: ox.Store, query: str) -> Counter[tuple[str, ...]]:
    solutions = store.query(f"PREFIX ex: <{EX}>\n" + query)
    assert isinstance(solutions, ox.QuerySolutions)
    names = [v.value for v in solutions.variables]
    return Counter(tuple(str(row[name]) for name in names) for row in solutions)


@pytest.mark.parametrize("name", QUERIES)
def test_joins_give_the_rows_of_exists(store: ox.Store, name: str) -> None:
    query = QUERIES[name]
    rewritten = rewrite_exists(query)
    assert rewritten is not None and "EXISTS" not in rewritten
    assert rows(store, rewritten) == rows(store, query)


@pytest.mark.parametrize(
    "query",
    [
        "SELECT ?s WHERE { ?s ex:label ?v }",  # nothing to rewrite
        "SELECT ?s WHERE { ?s ex:p ?v OPTIONAL { ?s ex:from ?f } FILTER NOT EXISTS { ?f ?p 1 } }",
        "SELECT ?s WHERE { ?s ex:label ?v { ?s ex:from ?f } FILTER EXISTS { ?f ?p ?o } }",
        "SELECT ?s WHERE { ?s ex:label ?v BIND(1 AS ?n) FILTER EXISTS { ?s ex:from ?f } }",
        "SELECT ?s WHERE { ?s ex:label ?v FILTER(!EXISTS { ?s ex:from ?f }) }",
        "SELECT ?s WHERE { ?s ex:label ?v FILTER NOT EXISTS { ?s ex:from ?f UNION {} } }",
        "SELECT ?s WHERE { ?s ex:label _:b FILTER NOT EXISTS { ?s ex:from ?f } }",
        "SELECT ?s WHERE { ex:a ex:label 'x' FILTER NOT EXISTS { ?s ex:from ?f } }",  # no variable
        "SELECT ?s (EXISTS { ?s ?p ?o } AS ?e) WHERE { ?s ex:label ?v }",
    ],
)
def test_what_the_rewrite_does_not_cover_is_left_as_it_is(query: str) -> None:
    assert rewrite_exists(query) is None
