"""Parse errors as a person would write them: one core function (iomkg.syntaxhelp), applied
where the store raises QuerySyntaxError, so the page, the API and the CLI say the same."""

from __future__ import annotations

import markupsafe
import pytest
import requests
from click.testing import CliRunner

from iomkg import syntaxhelp
from iomkg.cli import cli
from iomkg.config import DEFAULT_BASE_IRI, Settings
from iomkg.sparqltext import code_tokens
from iomkg.syntaxhelp import check_syntax, explain
from iomkg.vocab import prefixes
from tests.conftest import PROJECT_DIR
from tests.servers import LiveServer

PREFIXES = prefixes(DEFAULT_BASE_IRI)
PREDECLARED = ", ".join(sorted(PREFIXES))


def problem(sparql: str) -> str:
    found = check_syntax(sparql, PREFIXES, DEFAULT_BASE_IRI)
    assert found is not None, sparql
    return found.text()


def test_a_slash_in_a_prefixed_name_says_to_write_the_relative_iri() -> None:
    text = problem("SELECT * WHERE {\n  ?s schema:location id:country/NO\n}")
    assert text.splitlines() == [
        "line 2, column 22: id:country/NO is not a prefixed name SPARQL allows: its local part "
        "has a '/'",
        "    ?s schema:location id:country/NO",
        "                       ^^^^^^^^^^^^^",
        "Write <id/country/NO> (or id:country\\/NO).",
    ]


def test_an_unknown_prefix_is_named_with_the_predeclared_ones() -> None:
    text = problem("SELECT * WHERE { ?s a foo:Bar }")
    assert text.startswith('line 1, column 23: unknown prefix "foo:" in foo:Bar')
    assert f"use one of the predeclared prefixes: {PREDECLARED}." in text
    assert "Did you mean schema:" in problem("SELECT * WHERE { ?s schem:name ?o }")


def test_a_prefix_the_query_declares_is_known() -> None:
    assert check_syntax("PREFIX foo: <http://f/>\nSELECT * { ?s a foo:Bar }", PREFIXES) is None
    assert check_syntax("SELECT * { ?s a schema:Country }", PREFIXES) is None  # predeclared


#: The mistakes people make, each with the message's first line and its hint, as every front
#: says them (the core, /sparql's 400 as text and as a page, /sparql/check, the CLI).
MISTAKES = {
    "missing-brace-at-end": (
        "SELECT * WHERE {\n  ?s ?p ?o .\n",
        'line 2, column 13: missing "}" at the end: the "{" at line 1, column 16 is never closed',
        'Close it with "}".',
    ),
    "missing-brace-before-limit": (
        "SELECT * WHERE { ?s ?p ?o\nLIMIT 5",
        'line 2, column 1: missing "}" before LIMIT: the "{" at line 1, column 16 is still open',
        'Close the WHERE block with "}" before LIMIT',
    ),
    "missing-brace-before-order-by": (
        "SELECT * WHERE { ?s skos:prefLabel ?l ORDER BY ?l",
        'line 1, column 39: missing "}" before ORDER BY: the "{" at line 1, column 16 is still '
        "open",
        'with "}" before ORDER BY',
    ),
    "missing-brace-before-group-by": (
        "SELECT ?s (COUNT(?o) AS ?n) WHERE { ?s ?p ?o GROUP BY ?s",
        'line 1, column 46: missing "}" before GROUP BY: the "{" at line 1, column 35 is still '
        "open",
        'with "}" before GROUP BY',
    ),
    "missing-dot-between-triples": (
        "SELECT * WHERE {\n  ?s a schema:Country\n  ?s skos:prefLabel ?name\n}",
        'line 3, column 3: missing "." before ?s: the triple before it ends at schema:Country',
        'Put "." after schema:Country to end that triple (or ";" to go on with the same subject).',
    ),
    "misspelt-filter": (
        'SELECT * WHERE { ?s skos:prefLabel ?l FILTR(lang(?l) = "en") }',
        'line 1, column 39: unexpected word "FILTR"',
        "Did you mean FILTER?",
    ),
    "unknown-prefix": (
        "SELECT * WHERE { ?s a foo:Bar }",
        'line 1, column 23: unknown prefix "foo:" in foo:Bar',
        f"Declare it (PREFIX foo: <http://…>) or use one of the predeclared prefixes: "
        f"{PREDECLARED}.",
    ),
    "slash-in-prefixed-name": (
        "SELECT * WHERE { ?s ?p id:country/NO }",
        "line 1, column 24: id:country/NO is not a prefixed name SPARQL allows: its local part "
        "has a '/'",
        "Write <id/country/NO> (or id:country\\/NO).",
    ),
    "bracket-closing-the-wrong-one": (
        "SELECT * WHERE { ?s ?p ?o . FILTER(?o > 1 }",
        'line 1, column 43: unexpected "}": the "(" at line 1, column 35 is still open',
        'Close it with ")" before this "}".',
    ),
    "brace-closing-nothing": (
        "SELECT * WHERE { ?s ?p ?o } }",
        'line 1, column 29: unexpected "}": nothing is open here for it to close',
        'Remove it, or add the "{" it was meant to close.',
    ),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_each_mistake_is_said_with_line_column_token_and_hint(name: str) -> None:
    sparql, first, hint = MISTAKES[name]
    text = problem(sparql)
    assert text.splitlines()[0] == first
    assert hint in text.splitlines()[-1]
    assert "u{" not in text and "[_]" not in text  # never the parser's Unicode ranges
    assert "OPTIONAL" not in text  # nor the parser's guess of what might come next


@pytest.mark.parametrize(
    ("sparql", "start", "hint"),
    [
        ("SELEC * WHERE { ?s ?p ?o }", 'line 1, column 1: unexpected word "SELEC"', "SELECT?"),
        ("SELECT * WHERE { ?s ?p ?o } LIMT 5", "line 1, column 29:", "Did you mean LIMIT?"),
        ("SELECT * { ?s ?p 'abc }", "line 1, column 18: a string is opened", "Close it with '"),
        ("SELECT ?x WHERE { ?x a <bad iri> }", "line 1, column 24: <bad iri> is not", "no spaces"),
        ("SELECT * WHERE { OPTINAL { ?s ?p ?o } }", "column 18:", "Did you mean OPTIONAL?"),
        ("SELECT * WHERE { ?s a <x> ?s <y> ?n }", 'column 27: missing "."', "after <x>"),
        (
            "SELECT * WHERE { ?s ?p '1'^^xsd:integer ?s ?q 1 }",
            'column 41: missing "." before ?s',
            "after '1'^^xsd:integer",
        ),
        (
            "SELECT * WHERE { ?s ?p 'a'@en ?s ?q 1 }",
            'column 31: missing "." before ?s',
            "after 'a'@en",
        ),
        (
            "SELECT * WHERE { { SELECT ?s WHERE { ?s ?p ?o } LIMIT 1 } ?s ?q ?r ?s ?t ?u }",
            'column 68: missing "." before ?s',
            "after ?r",
        ),
        (
            "SELECT (COUNT(?s) AS ?n WHERE { ?s ?p ?o }",
            'column 25: missing ")" before WHERE: the "(" at line 1, column 8 is still open',
            'Close it with ")" before WHERE.',
        ),
    ],
)
def test_common_mistakes(sparql: str, start: str, hint: str) -> None:
    text = problem(sparql)
    assert start in text.splitlines()[0] and hint in text
    assert "u{" not in text and "[_]" not in text  # never the parser's Unicode ranges


#: Queries that parse, written the ways that could fool a reader of brackets and triples.
PARSES = [
    "SELECT * WHERE { ?s ?p ?o FILTER(?o > 1) ?s ?q ?r }",
    "SELECT * WHERE { ?s ?p ?o , ?o2 ; ?q ?r ; . [] a ?x . [ schema:name 'x' ] ?p ?o }",
    "SELECT * WHERE { ?s schema:a/schema:b* ?o . ?s ^schema:c ?o . ?s (schema:a|schema:b)+ ?o }",
    "SELECT * WHERE { ?x !(rdf:type|^rdf:type) ?y . ?s ?p ( 1 2 ?z ) }",
    "SELECT * WHERE { ?s ?p '1'^^xsd:integer . ?s2 ?p2 ?o2 }",
    "SELECT * WHERE { ?s ?p 'x'@en . ?s ?q -5 . ?s ?r true }",
    "SELECT * WHERE { VALUES (?a ?b) { (1 2) (UNDEF 3) } VALUES ?c { 1 2 3 } ?a ?b ?c }",
    "SELECT * WHERE { { SELECT ?x (COUNT(*) AS ?n) WHERE { ?x ?p ?o } GROUP BY ?x "
    "ORDER BY DESC(?n) LIMIT 1 } ?x ?q ?r }",
    "SELECT * WHERE { BIND(1 AS ?x) ?s ?p ?x OPTIONAL { ?s ?q ?y } ?s ?r ?z }",
    "SELECT * WHERE { { ?s ?p ?o } UNION { ?o ?p ?s } MINUS { ?s a ?t } GRAPH ?g { ?s ?p ?o } }",
    "SELECT * WHERE { ?s ?p ?o FILTER NOT EXISTS { ?s a ?t } ?s ?q ?r }",
    "SELECT * WHERE { ?s ?p ?o FILTER regex(?o, 'a') ?s ?q ?r }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o } LIMIT 5",
    "ASK { ?s ?p ?o }",
    "DESCRIBE <id/project/ntf>",
]


@pytest.mark.parametrize("sparql", PARSES)
def test_what_parses_is_no_mistake(sparql: str) -> None:
    """The reader of brackets and triples finds nothing wrong in what parses (no false alarm)."""
    assert check_syntax(sparql, PREFIXES, DEFAULT_BASE_IRI) is None
    assert syntaxhelp._structure(sparql, code_tokens(sparql), len(sparql)) is None


def test_no_saved_query_looks_like_a_mistake() -> None:
    for path in sorted((PROJECT_DIR / "queries").rglob("*.rq")):
        text = path.read_text(encoding="utf-8")
        assert syntaxhelp._structure(text, code_tokens(text), len(text)) is None, path


def test_an_update_is_explained_too() -> None:
    assert "Write <id/x/y>" in problem("INSERT DATA { <a> <b> id:x/y }")
    assert check_syntax("INSERT DATA { <a> schema:name 'x' }", PREFIXES, DEFAULT_BASE_IRI) is None


def test_a_message_without_a_position_is_kept() -> None:
    found = explain("something else went wrong", "ASK {}", PREFIXES)
    assert found.line == 1 and found.column == 1


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_the_endpoint_the_page_and_the_check_say_the_same(
    live_server: LiveServer, name: str
) -> None:
    sparql = MISTAKES[name][0]
    said = problem(sparql)
    answer = requests.get(live_server.sparql, params={"query": sparql}, timeout=30)
    assert answer.status_code == 400
    assert answer.text == f"the SPARQL does not parse: {said}\n"
    posted = requests.post(live_server.sparql, data={"query": sparql}, timeout=30)
    assert posted.status_code == 400 and posted.text == answer.text
    page = requests.get(
        live_server.sparql, params={"query": sparql}, headers={"Accept": "text/html"}, timeout=30
    )
    assert page.status_code == 400 and str(markupsafe.escape(said)) in page.text
    check = requests.post(live_server.url + "/sparql/check", data={"query": sparql}, timeout=30)
    found = check.json()["problem"]
    assert found["message"] == said
    first = said.splitlines()[0]
    assert first.startswith(f"line {found['line']}, column {found['column']}: ")
    assert found["hint"] == said.splitlines()[-1]


def test_the_check_says_nothing_of_a_query_that_parses(live_server: LiveServer) -> None:
    fine = requests.post(live_server.url + "/sparql/check", data={"query": "ASK {}"}, timeout=30)
    assert fine.json() == {"ok": True}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_the_cli_says_the_same(built_settings: Settings, name: str) -> None:
    sparql = MISTAKES[name][0]
    result = CliRunner().invoke(
        cli, ["--store", str(built_settings.store_root), "query", "-q", sparql]
    )
    assert result.exit_code == 2
    found = check_syntax(sparql, PREFIXES, DEFAULT_BASE_IRI)
    assert found is not None
    # One line (what and the hint, as the CLI writes every error), then the line and its carets.
    head, excerpt, carets = problem(sparql).splitlines()[:3]
    assert result.stderr.splitlines() == [
        f"iomkg: the SPARQL does not parse: {head} {found.hint}",
        "    " + excerpt,
        "    " + carets,
    ]
