"""The SHACL shapes (shapes/*.ttl): every fixture gives exactly the results it expects, every
shape is exercised by a conforming and a violating fixture, every constraint explains itself,
and the real data conforms.

Fixtures: ``fixtures/<area>/valid-*.ttl`` must conform; ``fixtures/<area>/*.invalid.ttl`` list
their expected results in ``# expect:`` comment lines (see ``harness.py``).
"""

from __future__ import annotations

import re

import pytest
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH, SKOS

from .harness import (
    CONTEXT_FILE,
    DATA_DIR,
    IOMSH,
    ONTOLOGY_FILE,
    PROJECT_DIR,
    Fixture,
    Result,
    ShapeIndex,
    all_fixtures,
    data_files,
    described_nodes,
    parse_turtle,
    short,
    validate,
)
from .iso4217 import DEFAULT_XML, codes_from_iati_xml

FIXTURES = all_fixtures()
VALID = [f for f in FIXTURES if f.is_valid]
INVALID = [f for f in FIXTURES if f.path.name.endswith(".invalid.ttl")]


@pytest.fixture(scope="module")
def index(shapes: Graph) -> ShapeIndex:
    return ShapeIndex(shapes)


@pytest.fixture(scope="module")
def context() -> Graph:
    return parse_turtle([CONTEXT_FILE])


def with_context(context: Graph, fixture: Fixture) -> tuple[Graph, Graph]:
    """The fixture alone, and the fixture with the context (blank nodes shared)."""
    own = parse_turtle([fixture.path])
    data = Graph()
    data += context
    data += own
    return own, data


def report(results: list[Result]) -> str:
    return "\n".join(r.describe() for r in results) or "(no results)"


# Fixtures ----------------------------------------------------------------------------------------


def test_fixture_names() -> None:
    """Every fixture is valid-*.ttl or *.invalid.ttl; invalid ones say what they expect."""
    for fixture in FIXTURES:
        assert fixture.is_valid != (fixture in INVALID), (
            f"{fixture.name}: name it valid-*.ttl or *.invalid.ttl"
        )
    for fixture in INVALID:
        assert fixture.expectations(), f"{fixture.name}: no '# expect:' line"
    for fixture in VALID:
        assert not fixture.expectations(), f"{fixture.name}: a valid fixture expects nothing"


def test_context_conforms(shapes: Graph, context: Graph) -> None:
    results = validate(context, shapes)
    assert not results, report(results)


@pytest.mark.parametrize("fixture", VALID, ids=lambda f: f.name)
def test_valid_fixture_conforms(fixture: Fixture, shapes: Graph, context: Graph) -> None:
    _own, data = with_context(context, fixture)
    results = validate(data, shapes)
    assert not results, report(results)


@pytest.mark.parametrize("fixture", INVALID, ids=lambda f: f.name)
def test_invalid_fixture_gives_exactly_the_expected_results(
    fixture: Fixture, shapes: Graph, context: Graph
) -> None:
    _own, data = with_context(context, fixture)
    results = validate(data, shapes)
    assert sorted(r.key() for r in results) == fixture.expectations(), report(results)
    for result in results:
        assert result.severity == str(SH.Violation)
        shape = URIRef(result.shape)
        # The result names the property the shape constrains ...
        path = shapes.value(shape, SH.path)
        if isinstance(path, URIRef):
            assert result.path == str(path), result.describe()
        # ... and says what is wrong in the shape's own words (SPARQL messages fill in {?var}).
        template = str(shapes.value(shape, SH.message))
        pattern = ".+".join(re.escape(part) for part in re.split(r"\{[?$]\w+\}", template))
        assert re.fullmatch(pattern, result.message, flags=re.DOTALL), (
            f"{result.describe()}\nexpected the message of {short(result.shape)}: {template}"
        )


# Every shape is exercised ------------------------------------------------------------------------


def test_every_shape_has_a_valid_and_an_invalid_fixture(index: ShapeIndex, context: Graph) -> None:
    exercised_valid: set[str] = set()
    for fixture in VALID:
        own, data = with_context(context, fixture)
        nodes = described_nodes(own)
        exercised_valid |= {str(s) for s in index.reportable() if index.exercised(s, data, nodes)}
    exercised_invalid = {shape for f in INVALID for shape, _c, _f in f.expectations()}
    shapes = {str(s) for s in index.reportable()}
    missing_valid = sorted(short(s) for s in shapes - exercised_valid)
    missing_invalid = sorted(short(s) for s in shapes - exercised_invalid)
    assert not missing_valid, f"no valid fixture exercises: {missing_valid}"
    assert not missing_invalid, f"no invalid fixture breaks: {missing_invalid}"
    unknown = sorted(short(s) for s in exercised_invalid - shapes)
    assert not unknown, f"fixtures expect results from shapes that do not exist: {unknown}"


# Every constraint explains itself ----------------------------------------------------------------


def _value_shapes(shapes: Graph) -> set:
    """Shapes used only as values of sh:or / sh:and / sh:xone / sh:not / sh:qualifiedValueShape:
    they never produce a result of their own (the shape using them does, with its message).
    Also the sh:parameter declarations of custom targets, which look like property shapes."""
    found = set(shapes.objects(None, SH.qualifiedValueShape)) | set(shapes.objects(None, SH["not"]))
    found |= set(shapes.objects(None, SH.parameter))
    for predicate in (SH["or"], SH["and"], SH.xone):
        for head in shapes.objects(None, predicate):
            found |= set(Collection(shapes, head))
    return found


def test_every_constraint_has_a_message_and_a_severity(shapes: Graph, index: ShapeIndex) -> None:
    candidates = set(shapes.subjects(RDF.type, SH.NodeShape)) | set(shapes.subjects(SH.path, None))
    candidates -= _value_shapes(shapes)
    problems = []
    for shape in sorted(candidates, key=str):
        if not index.constrains(shape):
            continue
        messages = list(shapes.objects(shape, SH.message))
        if not messages:
            problems.append(f"{short(str(shape))}: no sh:message")
        for message in messages:
            if not (
                isinstance(message, Literal) and message.language == "en" and len(message) > 20
            ):
                problems.append(f"{short(str(shape))}: sh:message must be a sentence @en")
        if isinstance(shape, URIRef) and shapes.value(shape, SH.severity) != SH.Violation:
            problems.append(f"{short(str(shape))}: no sh:severity sh:Violation")
    assert not problems, "\n".join(problems)


def test_every_reportable_shape_is_named(index: ShapeIndex) -> None:
    """Reports and tests name shapes by IRI: no anonymous targeted or property shape."""
    anonymous = [s for s in index.reportable() if not isinstance(s, URIRef)]
    assert not anonymous
    assert all(str(s).startswith(str(IOMSH)) for s in index.reportable())


def test_sparql_constraints_declare_their_prefixes(shapes: Graph) -> None:
    for constraint in shapes.subjects(RDF.type, SH.SPARQLConstraint):
        assert shapes.value(constraint, SH.prefixes) is not None, constraint


# The ISO 4217 list stays the codelist's ----------------------------------------------------------


def _currency_list(shapes: Graph) -> list[str]:
    head = shapes.value(IOMSH["MonetaryAmount-currency"], SH["in"])
    return [str(code) for code in Collection(shapes, head)]


def test_currency_list_is_sorted_and_unique(shapes: Graph) -> None:
    codes = _currency_list(shapes)
    assert codes == sorted(set(codes))
    assert all(re.fullmatch("[A-Z]{3}", code) for code in codes)


@pytest.mark.skipif(
    not DEFAULT_XML.exists(), reason="shared/iati/codelists/Currency.xml is not here"
)
def test_currency_list_equals_the_iati_codelist_xml(shapes: Graph) -> None:
    assert _currency_list(shapes) == codes_from_iati_xml(DEFAULT_XML), (
        "regenerate the sh:in list: python tests/shapes/iso4217.py"
    )


CURRENCY_TTL = DATA_DIR / "codelists" / "iati-Currency.ttl"


@pytest.mark.skipif(
    not CURRENCY_TTL.exists(), reason="data/codelists/iati-Currency.ttl is not generated yet"
)
def test_currency_list_equals_the_generated_codelist(shapes: Graph) -> None:
    codelist = parse_turtle([CURRENCY_TTL])
    notations = sorted(str(n) for n in codelist.objects(None, SKOS.notation))
    assert _currency_list(shapes) == notations


# The fixtures' world and the real data -----------------------------------------------------------


@pytest.mark.skipif(not ONTOLOGY_FILE.exists(), reason="ontology/iomkg.ttl is not written yet")
def test_context_axioms_are_in_the_ontology(context: Graph) -> None:
    """The subclass axioms the fixtures assume are the ontology's own."""
    ontology = parse_turtle([ONTOLOGY_FILE])
    missing = [
        (s, o)
        for s, o in context.subject_objects(RDFS.subClassOf)
        if (s, RDFS.subClassOf, o) not in ontology
    ]
    assert not missing, f"ontology/iomkg.ttl lacks: {missing}"


def test_real_data_conforms(shapes: Graph) -> None:
    """ontology/iomkg.ttl and every data/**/*.ttl, as one union graph, conform to the shapes."""
    files = data_files()
    if len(files) < 2:
        pytest.skip("no data files yet")
    results = validate(parse_turtle(files), shapes)
    listing = "\n".join(
        f"- <{r.focus.replace('https://w3id.org/iomkg/', '')}> {short(r.shape)} "
        f"({short(r.component)}){' value ' + r.value if r.value else ''}: {r.message}"
        for r in results
    )
    assert not results, f"{len(results)} violation(s) in {PROJECT_DIR.name}/data:\n{listing}"
