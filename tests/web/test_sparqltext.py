"""The tokenizer that decides SERVICE/LOAD refusal, dataset clauses and using-graph-uri rewriting.

The SERVICE cases are checked against pyoxigraph itself: each query runs on an empty store with
its endpoint pointing at a local listener, and whenever pyoxigraph reaches the listener the
tokenizer must have found the SERVICE (it may find more, never less).
"""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from iomkg import sparqltext
from iomkg.sparqltext import DatasetError, NetworkRefused
from tests.web.listener import Listener

# Each {E} is an endpoint IRI of the listener. Some are valid SPARQL that calls out, some hide the
# word SERVICE where it is not a keyword (and must not be refused), some are tricky token borders.
CALLS_OUT = [
    "SELECT * WHERE { SERVICE <{E}> { ?s ?p ?o } }",
    "SELECT * WHERE { SERVICE SILENT <{E}> { ?s ?p ?o } }",
    "select * where { service<{E}>{?s ?p ?o} }",
    "SELECT * WHERE { BIND(1 AS ?x) .SERVICE <{E}> { ?s ?p ?o } }",
    "PREFIX e: <{E}> SELECT * WHERE { SERVICE e: { ?s ?p ?o } }",
    "PREFIX e: <http://127.0.0.1:{P}/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }",
    "BASE <http://127.0.0.1:{P}/> SELECT * WHERE { SERVICE <sparql> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND('x' AS ?x) # comment\n SERVICE <{E}> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND('''a ' '' SERVICE b''' AS ?x) SERVICE <{E}> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND(<http://x/#a> AS ?x) SERVICE <{E}> { ?s ?p ?o } }",
    "SELECT * WHERE { FILTER(?a<?b) SERVICE <{E}> { ?s ?p ?o } }",
    "SELECT * WHERE { BIND('a\\' SERVICE' AS ?x) SERVICE <{E}> { ?s ?p ?o } }",
    "PREFIX e: <http://x/> SELECT * WHERE { BIND(e:a\\'b AS ?x) SERVICE <{E}> { ?s ?p ?o } }",
    "SELECT * WHERE { VALUES ?x { 1 } { SELECT * WHERE { SERVICE <{E}> { ?s ?p ?o } } } }",
    "SELECT * WHERE { OPTIONAL { SERVICE <{E}> { ?s ?p ?o } } }",
    "SELECT * WHERE { BIND(1 AS ?a) BIND(2 AS ?b) FILTER(?a<?b&&?b>?a) SERVICE <{E}> {} }",
    "SELECT * WHERE { { BIND(1 AS ?x) } UNION { SeRvIcE <{E}> { ?s ?p ?o } } }",
    'SELECT * WHERE { BIND("a\\"b" AS ?x) SERVICE <{E}> { ?s ?p ?o } }',
    "SELECT * WHERE { BIND(1 AS ?x) FILTER EXISTS { SERVICE <{E}> { ?s ?p ?o } } }",
    "ASK { SERVICE <{E}> { ?s ?p ?o } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { SERVICE <{E}> { ?s ?p ?o } }",
    "DESCRIBE ?s WHERE { SERVICE <{E}> { ?s ?p ?o } }",
]
NO_SERVICE = ["SELECT * WHERE { ?s ?p ?o } VALUES ?e { <{E}> }"]
HIDES_THE_WORD = [
    "SELECT * WHERE { ?s ?p 'SERVICE <{E}> { }' }",
    'SELECT * WHERE { ?s ?p """SERVICE <{E}> {}""" }',
    "SELECT * WHERE { ?s ?p ?o } # SERVICE <{E}> { }",
    "PREFIX service: <http://x/> SELECT * WHERE { ?s service:p ?o }",
    "PREFIX e: <http://x/> SELECT * WHERE { ?s e:a.service ?o }",
    "SELECT ?service WHERE { ?service ?p ?o }",
    "SELECT * WHERE { _:service ?p 'x'@en-service }",
    "SELECT * WHERE { <http://x/SERVICE> ?p ?o }",
]


def _fill(template: str, port: int) -> str:
    return template.replace("{E}", f"http://127.0.0.1:{port}/sparql").replace("{P}", str(port))


def _reaches(query: str, listener: Listener) -> bool:
    before = listener.connections
    try:
        result = ox.Store().query(query, base_iri="http://base.example/")
        if isinstance(result, ox.QueryBoolean):
            bool(result)
        else:
            list(result)
    except (OSError, SyntaxError, RuntimeError):
        pass
    return listener.connections > before


@pytest.mark.parametrize("template", CALLS_OUT + HIDES_THE_WORD + NO_SERVICE)
def test_every_service_pyoxigraph_calls_is_found(template: str, listener: Listener) -> None:
    query = _fill(template, listener.port)
    found = sparqltext.network_targets(query, "http://base.example/")
    reached = _reaches(query, listener)
    assert reached == (template in CALLS_OUT), "the case does not test what it says"
    if reached:
        assert found, f"pyoxigraph called out but the tokenizer saw no SERVICE in: {query}"
        with pytest.raises(NetworkRefused):
            sparqltext.check_network_access(query, [], "http://base.example/")


@pytest.mark.parametrize("template", HIDES_THE_WORD)
def test_the_word_service_outside_code_is_not_refused(template: str) -> None:
    sparqltext.check_network_access(_fill(template, 1), [])


def test_service_endpoints_are_resolved_for_the_allow_list() -> None:
    endpoint = "http://127.0.0.1:9/sparql"
    prefixed = "PREFIX e: <http://127.0.0.1:9/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }"
    based = "BASE <http://127.0.0.1:9/x/> SELECT * WHERE { SERVICE <../sparql> { ?s ?p ?o } }"
    for query in (prefixed, based):
        assert [t.iri for t in sparqltext.network_targets(query)] == [endpoint]
        sparqltext.check_network_access(query, [endpoint])
        with pytest.raises(NetworkRefused, match="allow-list is empty"):
            sparqltext.check_network_access(query, [])
    with pytest.raises(NetworkRefused, match="not a fixed IRI"):
        sparqltext.check_network_access("SELECT * WHERE { SERVICE ?x { } }", [endpoint])
    escaped = "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparq\\u006C> { } }"
    with pytest.raises(NetworkRefused):
        sparqltext.check_network_access(escaped, [endpoint])  # escapes are never guessed at


def test_load_is_found_in_updates() -> None:
    update = (
        "INSERT DATA { <http://a> <http://b> 'LOAD <http://c>' } ; LOAD SILENT <http://x/d.ttl>"
    )
    assert [(t.keyword, t.iri) for t in sparqltext.network_targets(update)] == [
        ("LOAD", "http://x/d.ttl")
    ]
    with pytest.raises(NetworkRefused, match="LOAD"):
        sparqltext.check_network_access(update, [])


def test_query_form_and_dataset_clause() -> None:
    assert (
        sparqltext.operation_keyword("# SELECT\nPREFIX a: <http://a/> CONSTRUCT WHERE { ?s ?p ?o }")
        == "CONSTRUCT"
    )
    assert sparqltext.is_update("PREFIX a: <http://a/> INSERT DATA { a:x a:y a:z }")
    assert not sparqltext.is_update("ASK { ?s <http://x/insert> 'DELETE' }")
    assert sparqltext.has_dataset_clause("SELECT * FROM NAMED <http://g> { GRAPH ?g { ?s ?p ?o } }")
    assert not sparqltext.has_dataset_clause("SELECT * { ?s ?p 'FROM <http://g>' }")


# using-graph-uri / using-named-graph-uri ------------------------------------------------------


def _graph_store() -> ox.Store:
    store = ox.Store()
    for graph, subject in (("http://g/1", "http://s/1"), ("http://g/2", "http://s/2")):
        store.add(
            ox.Quad(
                ox.NamedNode(subject),
                ox.NamedNode("http://p"),
                ox.Literal("v"),
                ox.NamedNode(graph),
            )
        )
    return store


def _copied(store: ox.Store) -> set[str]:
    return {
        str(quad.subject)
        for quad in store.quads_for_pattern(None, ox.NamedNode("http://copied"), None, None)
    }


def test_using_clauses_go_before_the_real_where_only() -> None:
    update = (
        "PREFIX e: <http://e/> INSERT { ?s <http://copied> 'WHERE { }' } "
        "WHERE { ?s <http://p> ?o FILTER(?o != 'WHERE {') }"
    )
    rewritten = sparqltext.add_using_clauses(update, ["http://g/1"], [])
    assert rewritten.count("USING <http://g/1>") == 1
    assert "'WHERE { }'" in rewritten and "'WHERE {'" in rewritten
    store = _graph_store()
    store.update(rewritten)
    assert _copied(store) == {"<http://s/1>"}


def test_using_clauses_in_every_operation_and_delete_where() -> None:
    update = (
        "INSERT { ?s <http://copied> 1 } WHERE { ?s <http://p> ?o } ;\n"
        "DELETE WHERE { ?s <http://copied> ?o }"
    )
    rewritten = sparqltext.add_using_clauses(update, ["http://g/2"], [])
    assert rewritten.count("USING <http://g/2>") == 2
    store = _graph_store()
    store.update(rewritten)
    # The insert read g/2 only; the DELETE WHERE read g/2 too, where nothing was copied to.
    assert _copied(store) == {"<http://s/2>"}
    store.update("DELETE WHERE { ?s <http://copied> ?o }")  # reading the default graph: gone
    assert _copied(store) == set()


def test_using_named_only_gives_an_empty_default_graph() -> None:
    update = "INSERT { ?s <http://copied> 1 } WHERE { GRAPH ?g { ?s <http://p> ?o } }"
    store = _graph_store()
    store.update(sparqltext.add_using_clauses(update, [], ["http://g/1"]))
    assert _copied(store) == {"<http://s/1>"}


@pytest.mark.parametrize(
    "update",
    [
        "WITH <http://g/1> INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
        "INSERT { ?s ?p 1 } USING <http://g/1> WHERE { ?s ?p ?o }",
    ],
)
def test_using_parameters_and_text_dataset_conflict(update: str) -> None:
    with pytest.raises(DatasetError, match="one or the other"):
        sparqltext.add_using_clauses(update, ["http://g/2"], [])
    assert sparqltext.add_using_clauses(update, [], []) == update


def test_using_iris_cannot_break_out() -> None:
    with pytest.raises(DatasetError, match="not an absolute IRI"):
        sparqltext.add_using_clauses(
            "INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }", ["http://g> } ; DROP ALL ; #"], []
        )
