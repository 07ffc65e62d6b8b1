"""``iomkg queries`` lists the catalogue; ``iomkg query NAME --param k=v --format F`` runs one."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox
import pytest

from iomkg import catalog
from iomkg.config import Settings
from tests.catalog.conftest import rows_of, run_cli

NTF = "programme=id:project/ntf"


def test_queries_lists_names_titles_and_parameters(
    settings: Settings, saved: catalog.Catalog
) -> None:
    result = run_cli(settings, "queries")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == len(saved)
    for line, query in zip(lines, saved.values(), strict=True):
        assert line.startswith(query.name + " ") and query.title in line
        for parameter in query.parameters:
            assert f"{parameter.name}={parameter.type}" in line
    donors = next(line for line in lines if line.startswith("list-donors "))
    assert donors.endswith("[programme=iri]")
    figures = next(line for line in lines if line.startswith("list-outcome-figures "))
    assert figures.endswith("[programme=iri?]")
    area = next(line for line in lines if line.startswith("list-area-donors "))
    assert area.endswith("[country=iri (default id:country/MK)]")


def test_queries_name_explains_one_query(settings: Settings) -> None:
    result = run_cli(settings, "queries", "list-donors")
    assert result.exit_code == 0, result.output
    assert "Every donor funding the given project or activity" in result.stdout
    assert "programme (iri, required, e.g. id:project/ntf)" in result.stdout
    assert "example: iomkg query list-donors --param programme=id:project/ntf" in result.stdout
    federated = run_cli(settings, "queries", "enrich-donor-countries")
    assert "calls (SERVICE): https://query.wikidata.org/sparql" in federated.stdout


def test_queries_json_is_the_api_catalogue(settings: Settings, saved: catalog.Catalog) -> None:
    result = run_cli(settings, "queries", "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == [query.to_json() for query in saved.values()]


def test_an_unknown_query_is_a_usage_error(settings: Settings) -> None:
    result = run_cli(settings, "queries", "list-everything")
    assert result.exit_code == 2
    assert "no saved query 'list-everything'" in result.stderr and "list-donors" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list-donors"], "parameter 'programme': required"),
        (["list-donors", "--param", "programme=Norway"], "parameter 'programme': 'Norway' is not"),
        (["list-programmes-in-year", "--param", "year=11"], "parameter 'year': '11' is not a four"),
        (["list-donors", "--param", NTF, "--param", "colour=red"], "parameter 'colour'"),
        (["list-everything"], "no saved query 'list-everything'"),
        (["list-donors", "--param", "programme"], "must look like key=value"),
    ],
)
def test_bad_parameters_are_usage_errors_naming_the_parameter(
    built_settings: Settings, args: list[str], message: str
) -> None:
    result = run_cli(built_settings, "query", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert result.stderr.count("\n") == 1  # one line, no traceback


def test_the_federated_query_is_refused_by_default_with_a_clear_message(
    built_settings: Settings,
) -> None:
    result = run_cli(built_settings, "query", "enrich-donor-countries")
    assert result.exit_code == 2
    assert "not allowed here" in result.stderr
    assert "IOMKG_SERVICE_ALLOWLIST=https://query.wikidata.org/sparql" in result.stderr


def test_every_format(built_settings: Settings) -> None:
    def run(*args: str) -> bytes:
        result = run_cli(built_settings, "query", *args)
        assert result.exit_code == 0, result.output
        return result.stdout_bytes

    table = run("list-donors", "--param", NTF).decode()
    assert "lead nation" in table and table.rstrip().endswith("(18 rows)")
    assert len(rows_of(run("list-donors", "--param", NTF, "--format", "json"))) == 18
    rows = list(
        csv.DictReader(io.StringIO(run("list-donors", "--param", NTF, "--format", "csv").decode()))
    )
    assert rows[0]["donorLabel"] == "Norway" and len(rows) == 18
    tsv = run("list-donors", "--param", NTF, "--format", "tsv").decode().splitlines()
    assert tsv[0].startswith("?programme\t?donor") and len(tsv) == 19
    xml = run("list-donors", "--param", NTF, "--format", "xml").decode()
    assert "<sparql" in xml and xml.count("<result>") == 18
    turtle = run("describe-resource", "--param", "resource=id:country/NO", "--format", "ttl")
    triples = list(ox.parse(turtle, ox.RdfFormat.TURTLE))
    assert ox.NamedNode("http://www.wikidata.org/entity/Q20") in {t.object for t in triples}
    jsonld = json.loads(
        run("describe-resource", "--param", "resource=id:country/NO", "--format", "jsonld")
    )
    assert "Q20" in json.dumps(jsonld)
    default = run("describe-resource", "--param", "resource=id:country/NO")  # a graph: Turtle
    assert set(ox.parse(default, ox.RdfFormat.TURTLE)) == set(triples)
