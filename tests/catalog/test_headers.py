"""Headers: every file of queries/ parses and declares exactly what it uses; bad ones fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from iomkg import catalog
from iomkg.catalog import HeaderError, parse_text
from iomkg.config import Settings

BASE = "https://w3id.org/iomkg/"
GOOD = """#+ title: Donors
#+ description: Every donor of a programme,
#+   with its role.
#+ param: programme iri required example=id:project/ntf -- The programme.
#+ param: year year default=2010 example=2011
#+ param: text literal optional example="two words" -- Some text.
#+ tags: funding, donors
PREFIX schema: <https://schema.org/>
SELECT $programme $year $text ?donor
WHERE { ?f schema:fundedItem $programme ; schema:funder ?donor }
"""


def parse(text: str, name: str = "list-donors.rq") -> catalog.SavedQuery:
    return parse_text(text, Path(name), BASE)


def test_a_good_header_parses_into_dataclasses() -> None:
    saved = parse(GOOD)
    assert saved.name == "list-donors"
    assert saved.title == "Donors"
    assert saved.description == "Every donor of a programme, with its role."
    assert saved.form == "SELECT" and saved.kind == "results"
    assert saved.tags == ("funding", "donors")
    assert saved.parameters == (
        catalog.Parameter("programme", "iri", True, "id:project/ntf", None, "The programme."),
        catalog.Parameter("year", "year", False, "2011", "2010", ""),
        catalog.Parameter("text", "literal", False, "two words", None, "Some text."),
    )
    assert saved.examples() == {"programme": "id:project/ntf"}
    assert saved.sparql == GOOD  # the file is kept exactly as written


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("#+ description: d\n", "no '#+ title:'"),
        ("#+ title: t\n", "no '#+ description:'"),
        ("#+ title: t\n#+ title: u\n#+ description: d\n", "only once"),
        ("#+ title: t\n#+ summary: s\n#+ description: d\n", "key one of"),
        ("#+   dangling\n#+ title: t\n#+ description: d\n", "continuation"),
        ("#+ title: t\n#+ description: d\n#+ param: p url required example=x\n", "type 'url'"),
        ("#+ title: t\n#+ description: d\n#+ param: p iri example=id:x\n", "exactly one of"),
        (
            "#+ title: t\n#+ description: d\n#+ param: p iri required optional example=id:x\n",
            "exactly one of",
        ),
        ("#+ title: t\n#+ description: d\n#+ param: p iri required\n", "example=VALUE"),
        (
            "#+ title: t\n#+ description: d\n#+ param: p integer default=ten example=1\n",
            "the default of parameter 'p'",
        ),
        (
            "#+ title: t\n#+ description: d\n#+ param: p date required example=2011-02-30\n",
            "the example of parameter 'p'",
        ),
        (
            "#+ title: t\n#+ description: d\n#+ param: format literal required example=x\n",
            "not a usable parameter name",
        ),
        (
            "#+ title: t\n#+ description: d\n#+ param: p iri required example=id:x colour=red\n",
            "unknown parameter option",
        ),
        (
            "#+ title: t\n#+ description: d\n#+ param: p iri required example='id:x\n",
            "cannot read the parameter",
        ),
        ("#+ title: t\n#+ description: d\n#+ service: not an iri\n", "not an absolute IRI"),
    ],
)
def test_a_bad_header_is_an_error_naming_the_file(header: str, message: str) -> None:
    with pytest.raises(HeaderError, match=r"list-x\.rq") as caught:
        parse(header + "SELECT $p WHERE { $p ?q ?r }\n", "list-x.rq")
    assert message in str(caught.value)


def test_a_parameter_declared_twice_is_an_error() -> None:
    text = "#+ title: t\n#+ description: d\n" + "#+ param: p iri required example=id:x\n" * 2
    with pytest.raises(HeaderError, match="declared twice"):
        parse(text + "SELECT $p WHERE { $p ?q ?r }\n")


@pytest.mark.parametrize(
    ("body", "declared", "used"),
    [
        ("SELECT ?p WHERE { ?p ?q ?r }", "['p']", "[]"),  # declared but never used
        ("SELECT $p $other WHERE { $p ?q $other }", "['p']", "['other', 'p']"),  # used, undeclared
    ],
)
def test_the_header_must_declare_exactly_the_dollar_variables(
    body: str, declared: str, used: str
) -> None:
    header = "#+ title: t\n#+ description: d\n#+ param: p iri required example=id:x\n"
    with pytest.raises(HeaderError, match="exactly the \\$variables") as caught:
        parse(header + body)
    assert f"declared {declared}, used {used}" in str(caught.value)


def test_dollar_signs_in_strings_iris_and_comments_are_not_variables() -> None:
    text = '#+ title: t\n#+ description: d\n# $a comment\nSELECT ?x WHERE { ?x <urn:$y> "$z" }\n'
    assert parse(text).parameters == ()


def test_a_parameter_must_be_projected_for_pyoxigraph_to_bind_it() -> None:
    text = "#+ title: t\n#+ description: d\n#+ param: p iri required example=id:x\n"
    saved = parse(text + "SELECT ?q WHERE { $p ?q ?r }\n")
    with pytest.raises(HeaderError, match="cannot be bound"):
        catalog.check_compiles(saved, BASE)


def test_a_syntax_error_is_reported_when_the_catalogue_loads() -> None:
    saved = parse("#+ title: t\n#+ description: d\nSELECT ?x WHERE { ?x ?y }\n")
    with pytest.raises(HeaderError, match="does not parse"):
        catalog.check_compiles(saved, BASE)


def test_bound_of_a_parameter_is_refused_because_pyoxigraph_answers_false() -> None:
    text = "#+ title: t\n#+ description: d\n#+ param: p literal optional example=x\n"
    with pytest.raises(HeaderError, match="COALESCE"):
        parse(text + "SELECT $p ?s WHERE { ?s ?q ?o FILTER(!BOUND($p) || ?o = $p) }\n")


def test_service_endpoints_must_be_declared_and_fixed() -> None:
    header = "#+ title: t\n#+ description: d\n"
    with pytest.raises(HeaderError, match="SERVICE endpoints the query calls"):
        parse(header + "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }\n")
    with pytest.raises(HeaderError, match="fixed IRI"):
        parse(header + "SELECT * WHERE { SERVICE ?endpoint { ?s ?p ?o } }\n")
    declared = parse(
        header
        + "#+ service: http://example.org/sparql\n"
        + "SELECT * WHERE { SERVICE SILENT <http://example.org/sparql> { ?s ?p ?o } }\n"
    )
    assert declared.services == ("http://example.org/sparql",)


def test_header_lines_below_the_header_are_an_error() -> None:
    with pytest.raises(HeaderError, match=r"list-x.rq:4: '#\+' lines belong"):
        parse(
            "#+ title: t\n#+ description: d\nSELECT * WHERE { ?s ?p ?o }\n#+ tags: x\n", "list-x.rq"
        )


@pytest.mark.parametrize("name", ["donors.rq", "List-Donors.rq", "list_donors.rq"])
def test_files_are_named_verb_noun(name: str) -> None:
    with pytest.raises(HeaderError, match="verb-noun"):
        parse("#+ title: t\n#+ description: d\nASK { ?s ?p ?o }\n", name)


def test_query_forms_and_kinds() -> None:
    header = "#+ title: t\n#+ description: d\n"
    assert parse(header + "ASK { ?s ?p ?o }").kind == "results"
    assert parse(header + "CONSTRUCT WHERE { ?s ?p ?o }").kind == "graph"
    assert parse(header + "PREFIX ex: <http://ex/>\nDESCRIBE ex:a").form == "DESCRIBE"
    with pytest.raises(HeaderError, match="no SELECT"):
        parse(header + "INSERT DATA { <urn:a> <urn:b> <urn:c> }")


# The real catalogue -------------------------------------------------------------------------


def test_the_catalogue_has_at_least_fifteen_verb_noun_queries(saved: catalog.Catalog) -> None:
    assert len(saved) >= 15
    for name in saved:
        verb, _, noun = name.partition("-")
        assert verb in {"list", "find", "show", "describe", "sum", "search", "enrich"}, name
        assert noun


def test_every_file_of_queries_is_in_the_catalogue(
    saved: catalog.Catalog, settings: Settings
) -> None:
    assert sorted(saved) == sorted(path.stem for path in settings.queries_dir.glob("*.rq"))


def test_every_saved_query_declares_exactly_the_variables_it_binds(saved: catalog.Catalog) -> None:
    for query in saved.values():
        scan = catalog.scan_body(query.sparql, BASE)
        assert scan.dollar_variables == {p.name for p in query.parameters}, query.name
        assert set(scan.services) == set(query.services), query.name
        assert query.title and query.description and query.tags, query.name
        for parameter in query.parameters:
            assert parameter.example, (query.name, parameter.name)
            assert parameter.description, (query.name, parameter.name)
            catalog.to_term(parameter.example, parameter.type, BASE, parameter.name)


def test_the_federated_example_needs_wikidata(saved: catalog.Catalog) -> None:
    federated = [query for query in saved.values() if query.services]
    assert [q.name for q in federated] == ["enrich-donor-countries"]
    assert federated[0].services == ("https://query.wikidata.org/sparql",)
    assert "IOMKG_SERVICE_ALLOWLIST=https://query.wikidata.org/sparql" in federated[0].description


def test_the_readme_lists_every_query_and_check(saved: catalog.Catalog, settings: Settings) -> None:
    readme = (settings.queries_dir / "README.md").read_text(encoding="utf-8")
    for query in [*saved.values(), *catalog.load_checks(settings).values()]:
        assert f"| `{query.name}` |" in readme, query.name


def test_checks_are_parameterless_selects_with_titles(settings: Settings) -> None:
    checks = catalog.load_checks(settings)
    assert len(checks) >= 2
    for check in checks.values():
        assert check.name.endswith("-violation")
        assert check.form == "SELECT" and not check.parameters and check.title


def test_a_check_with_parameters_is_refused(tmp_path: Path) -> None:
    checks = tmp_path / "queries" / "checks"
    checks.mkdir(parents=True)
    (checks / "bad-violation.rq").write_text(
        "#+ title: t\n#+ description: d\n#+ param: p iri required example=id:x\n"
        "SELECT $p WHERE { $p ?q ?r }\n",
        encoding="utf-8",
    )
    with pytest.raises(HeaderError, match="no parameters"):
        catalog.load_checks(Settings(project_dir=tmp_path))
