"""Parse errors as a person would write them: one core function (iomkg.syntaxhelp), applied
where the store raises QuerySyntaxError, so the page, the API and the CLI say the same."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from iomkg.cli import cli
from iomkg.config import DEFAULT_BASE_IRI, Settings
from iomkg.syntaxhelp import check_syntax, explain
from iomkg.vocab import prefixes
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


@pytest.mark.parametrize(
    ("sparql", "start", "hint"),
    [
        ("SELEC * WHERE { ?s ?p ?o }", 'line 1, column 1: unexpected word "SELEC"', "SELECT?"),
        ("SELECT * WHERE { ?s ?p ?o } LIMT 5", "line 1, column 29:", "Did you mean LIMIT?"),
        ("SELECT * { ?s ?p 'abc }", "line 1, column 18: a string is opened", "Close it with '"),
        ("SELECT ?x WHERE { ?x a <bad iri> }", "line 1, column 24: <bad iri> is not", "no spaces"),
        (
            "SELECT * WHERE {\n  ?s ?p ?o .\n",
            "line 2, column 13: the query ends before it is complete",
            'The "{" at line 1, column 16 is never closed with "}".',
        ),
        (
            "SELECT (COUNT(?s) AS ?n WHERE { ?s ?p ?o }",
            'column 25: unexpected "WHERE"',
            'Expected ")"',
        ),
    ],
)
def test_common_mistakes(sparql: str, start: str, hint: str) -> None:
    text = problem(sparql)
    assert start in text.splitlines()[0] and hint in text
    assert "u{" not in text and "[_]" not in text  # never the parser's Unicode ranges


def test_an_update_is_explained_too() -> None:
    assert "Write <id/x/y>" in problem("INSERT DATA { <a> <b> id:x/y }")
    assert check_syntax("INSERT DATA { <a> schema:name 'x' }", PREFIXES, DEFAULT_BASE_IRI) is None


def test_a_message_without_a_position_is_kept() -> None:
    found = explain("something else went wrong", "ASK {}", PREFIXES)
    assert found.line == 1 and found.column == 1


def test_the_endpoint_and_the_api_say_the_same(live_server: LiveServer) -> None:
    query = "SELECT * WHERE { ?s ?p id:country/NO }"
    answer = requests.get(live_server.sparql, params={"query": query}, timeout=30)
    assert answer.status_code == 400
    assert answer.text.startswith("the SPARQL does not parse: line 1, column 24: id:country/NO")
    assert "Write <id/country/NO>" in answer.text
    page = requests.get(
        live_server.sparql, params={"query": query}, headers={"Accept": "text/html"}, timeout=30
    )
    assert page.status_code == 400 and "Write &lt;id/country/NO&gt;" in page.text
    check = requests.post(live_server.url + "/sparql/check", data={"query": query}, timeout=30)
    assert check.json()["problem"]["message"] in answer.text
    assert check.json()["problem"]["line"] == 1 and check.json()["problem"]["column"] == 24
    fine = requests.post(live_server.url + "/sparql/check", data={"query": "ASK {}"}, timeout=30)
    assert fine.json() == {"ok": True}


def test_the_cli_says_the_same(built_settings: Settings) -> None:
    result = CliRunner().invoke(
        cli,
        ["--store", str(built_settings.store_root), "query", "-q", "SELECT * { ?s a foo:X }"],
    )
    assert result.exit_code == 2
    assert 'line 1, column 17: unknown prefix "foo:" in foo:X' in result.stderr
    assert PREDECLARED in result.stderr
