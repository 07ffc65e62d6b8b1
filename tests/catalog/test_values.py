"""Parameter values: parsed strictly into one RDF term of the declared type, or refused by name."""

from __future__ import annotations

import pyoxigraph as ox
import pytest

from iomkg import catalog
from iomkg.catalog import ParameterError, to_term

BASE = "https://w3id.org/iomkg/"
XSD = "http://www.w3.org/2001/XMLSchema#"


@pytest.mark.parametrize(
    ("raw", "type_", "expected"),
    [
        ("https://w3id.org/iomkg/id/country/NO", "iri", ox.NamedNode(BASE + "id/country/NO")),
        ("id:country/NO", "iri", ox.NamedNode(BASE + "id/country/NO")),
        (" id:project/ntf ", "iri", ox.NamedNode(BASE + "id/project/ntf")),
        ("wd:Q20", "iri", ox.NamedNode("http://www.wikidata.org/entity/Q20")),
        ("iomo:Funding", "iri", ox.NamedNode(BASE + "ontology#Funding")),
        ("urn:isbn:0451450523", "iri", ox.NamedNode("urn:isbn:0451450523")),
        ("Norway", "literal", ox.Literal("Norway")),
        (" two  words ", "literal", ox.Literal(" two  words ")),
        ("", "literal", ox.Literal("")),
        ("42", "integer", ox.Literal("42", datatype=ox.NamedNode(XSD + "integer"))),
        ("+007", "integer", ox.Literal("7", datatype=ox.NamedNode(XSD + "integer"))),
        ("-3", "integer", ox.Literal("-3", datatype=ox.NamedNode(XSD + "integer"))),
        ("9.3", "decimal", ox.Literal("9.3", datatype=ox.NamedNode(XSD + "decimal"))),
        (".5", "decimal", ox.Literal(".5", datatype=ox.NamedNode(XSD + "decimal"))),
        ("2011-02-28", "date", ox.Literal("2011-02-28", datatype=ox.NamedNode(XSD + "date"))),
        ("2012-02-29", "date", ox.Literal("2012-02-29", datatype=ox.NamedNode(XSD + "date"))),
        ("2010", "year", ox.Literal("2010", datatype=ox.NamedNode(XSD + "gYear"))),
    ],
)
def test_values_become_typed_terms(raw: str, type_: catalog.ParamType, expected: object) -> None:
    assert to_term(raw, type_, BASE) == expected


def test_compact_iris_follow_the_configured_base() -> None:
    assert to_term("id:country/NO", "iri", "http://example.org/kg/").value == (
        "http://example.org/kg/id/country/NO"
    )


@pytest.mark.parametrize(
    ("raw", "type_"),
    [
        ("id/country/NO", "iri"),  # relative: refused, not guessed
        ("/id/country/NO", "iri"),
        ("Norway", "iri"),
        ("http://a b", "iri"),
        ("http://x/<y>", "iri"),
        ("1e3", "integer"),
        ("4.0", "integer"),
        ("1,5", "decimal"),
        ("NaN", "decimal"),
        ("2011-02-30", "date"),
        ("2011-2-3", "date"),
        ("20110203", "date"),
        ("2011-02-03T00:00:00", "date"),
        ("11", "year"),
        ("2010-01", "year"),
        ("twenty ten", "year"),
        ("", "integer"),
    ],
)
def test_values_that_do_not_fit_their_type_are_refused_by_name(
    raw: str, type_: catalog.ParamType
) -> None:
    with pytest.raises(ParameterError, match="parameter 'when'") as caught:
        to_term(raw, type_, BASE, "when")
    assert caught.value.parameter == "when"
    assert catalog.TYPE_HINTS[type_] in str(caught.value)


def test_a_very_long_value_is_refused() -> None:
    with pytest.raises(ParameterError, match="longer than"):
        to_term("x" * (catalog.MAX_VALUE_LENGTH + 1), "literal", BASE, "text")


# Binding -------------------------------------------------------------------------------------


def test_bind_applies_defaults_and_leaves_optional_parameters_free(
    saved: catalog.Catalog,
) -> None:
    area_donors = catalog.bind(saved.get_query("list-area-donors"), {}, BASE)
    assert area_donors.substitutions == {"country": ox.NamedNode(BASE + "id/country/MK")}
    figures = catalog.bind(saved.get_query("list-outcome-figures"), {}, BASE)
    assert figures.substitutions == {}
    empty = catalog.bind(saved.get_query("list-outcome-figures"), {"programme": ""}, BASE)
    assert empty.substitutions == {}  # an empty form field counts as not given


def test_bind_refuses_unknown_and_missing_parameters(saved: catalog.Catalog) -> None:
    donors = saved.get_query("list-donors")
    with pytest.raises(ParameterError, match="'colour': list-donors does not take it"):
        catalog.bind(donors, {"programme": "id:project/ntf", "colour": "red"}, BASE)
    with pytest.raises(ParameterError, match="'programme': required; give an absolute IRI"):
        catalog.bind(donors, {}, BASE)
    with pytest.raises(ParameterError, match="'programme': required"):
        catalog.bind(donors, {"programme": ""}, BASE)


def test_unknown_query_names_list_the_catalogue(saved: catalog.Catalog) -> None:
    with pytest.raises(catalog.UnknownQuery, match="no saved query 'list-everything'") as caught:
        saved.get_query("list-everything")
    assert "list-donors" in str(caught.value)


@pytest.mark.parametrize(
    ("name", "hint"),
    [
        ("list-donorz", "(did you mean 'list-donors'?)"),
        ("SELECT * WHERE { ?s ?p ?o }", "(SPARQL text is given with -q or -f, or sent to /sparql)"),
        ("zzz", "; the saved queries"),  # nothing close: the list alone
    ],
)
def test_unknown_query_names_get_a_hint(saved: catalog.Catalog, name: str, hint: str) -> None:
    with pytest.raises(catalog.UnknownQuery) as caught:
        saved.get_query(name)
    assert f"no saved query {name!r} {hint}".replace(" ;", ";") in str(caught.value)
