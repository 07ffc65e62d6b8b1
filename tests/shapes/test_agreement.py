"""The build's validator (the shapes compiled to SPARQL on pyoxigraph) gives pySHACL's report.

pySHACL is the reference. Every fixture of ``test_shapes.py`` is validated by both (see
``harness.validate``), conforming and violating ones alike; here the two validate a generated
graph of about 100,000 triples into which violations of every kind of constraint the shapes use
are injected (the invalid fixtures chosen to cover every constraint component three times), and
their reports must be identical: the same focus nodes, paths, shapes, constraint components,
severities, values and messages, each result as many times.
"""

from __future__ import annotations

import importlib
import sys
from collections import Counter
from collections.abc import Iterator

import pyoxigraph as ox
import pytest
import rdflib
from rdflib import Graph, URIRef
from rdflib.namespace import SH
from rdflib.term import Node

from iomkg.shacl import pyshacl_results, validate_graph
from iomkg.validator import COMPONENTS, UnsupportedShapes, as_stated, compile_shapes

from .harness import (
    CONTEXT_FILE,
    FIXTURES_DIR,
    PROJECT_DIR,
    Fixture,
    all_fixtures,
    assert_same_report,
    compiled,
    oxigraph_store,
    parse_turtle,
)

INVALID = [f for f in all_fixtures() if f.path.name.endswith(".invalid.ttl")]
TIMES_EACH_COMPONENT = 3


def components_used(shapes: Graph) -> set[str]:
    """The constraint components of every constraint the compiled shapes hold."""
    found: set[str] = set()
    for check in compiled(shapes)._checks({}):
        found.add(str(check.component))
    return found


def fixtures_covering(components: set[str], times: int) -> list[Fixture]:
    """Invalid fixtures, rarest components first, until each is expected ``times`` times.

    Two fixtures that both state something about a node of the context are not both chosen:
    together they could mend each other's breakage (one adds what the other lacks). Their own
    nodes are kept apart by :func:`injected_graph`.
    """
    context_subjects = set(parse_turtle([CONTEXT_FILE]).subjects())
    kinds = {f: {c for _s, c, _f in f.expectations()} for f in INVALID}
    rarity = Counter(c for expected in kinds.values() for c in expected)
    needed = Counter({component: times for component in components})
    chosen: list[Fixture] = []
    touched: set[Node] = set()
    for fixture in sorted(INVALID, key=lambda f: (min(rarity[c] for c in kinds[f]), f.name)):
        subjects = set(parse_turtle([fixture.path]).subjects()) & context_subjects
        if any(needed[c] > 0 for c in kinds[fixture]) and not subjects & touched:
            chosen.append(fixture)
            touched |= subjects
            needed.subtract(kinds[fixture])
    return chosen


def injected_graph(fixtures: list[Fixture]) -> Graph:
    """The context with every fixture added, the nodes a fixture describes that the context does
    not renamed for that fixture (``…/contributor`` → ``…/contributorx3``), so no two meet."""
    graph = parse_turtle([CONTEXT_FILE])
    context_subjects = set(graph.subjects())
    for number, fixture in enumerate(fixtures):
        own = parse_turtle([fixture.path])
        renamed = {
            s: URIRef(f"{s}x{number}")
            for s in own.subjects()
            if isinstance(s, URIRef) and s not in context_subjects
        }
        for s, p, o in own:
            graph.add((renamed.get(s, s), p, renamed.get(o, o)))  # type: ignore[arg-type]
    return graph


def generated_graph(triples: int) -> Iterator[ox.Quad]:
    sys.path.insert(0, str(PROJECT_DIR / "server" / "bench"))
    try:
        generate = importlib.import_module("generate")
    finally:
        sys.path.pop(0)
    return generate.generate(triples)  # type: ignore[no-any-return]


def test_the_shapes_use_only_what_the_compiled_validator_implements(shapes: Graph) -> None:
    assert components_used(shapes) <= {str(c) for c in COMPONENTS.values()}


@pytest.mark.slow
def test_reports_agree_on_100k_triples_with_injected_violations_of_every_kind(
    shapes: Graph,
) -> None:
    used = components_used(shapes)
    injected = fixtures_covering(used, TIMES_EACH_COMPONENT)
    store = ox.Store()
    store.bulk_extend(generated_graph(100_000))
    injection = injected_graph(injected)
    store.bulk_extend(oxigraph_store(injection))
    # one rdflib graph of the same store for pySHACL, terms as the source states them
    data = rdflib.Graph()
    for quad in store:
        data.add((as_stated(quad.subject), as_stated(quad.predicate), as_stated(quad.object)))
    assert len(data) > 100_000

    mine = compiled(shapes).validate(store)
    _conforms, report = validate_graph(data, shapes)
    assert_same_report(mine, pyshacl_results(report))

    # the generated graph conforms: every result is an injected one, of every kind
    assert {str(r.component) for r in mine} == used
    assert len(mine) >= 40


def test_a_constraint_it_does_not_implement_is_refused_by_name() -> None:
    shapes = Graph()
    shapes.parse(
        data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> .
        @prefix ex: <http://example.org/> .
        ex:Shape a sh:NodeShape ; sh:targetClass ex:Thing ; sh:message "m"@en ;
            sh:property [ sh:path ex:p ; sh:maxLength 3 ; sh:message "too long"@en ] .
        """,
        format="turtle",
    )
    with pytest.raises(UnsupportedShapes, match="sh:maxLength"):
        compile_shapes(shapes)


def test_a_violating_value_is_reported_as_the_source_states_it(shapes: Graph) -> None:
    """pyoxigraph stores -100.00 as -100: the report still says -100.00, as pySHACL."""
    fixture = FIXTURES_DIR / "money" / "money-negative-value.invalid.ttl"
    results = compiled(shapes).validate(oxigraph_store(parse_turtle([CONTEXT_FILE, fixture])))
    values = [r.value for r in results if r.component == SH.MinInclusiveConstraintComponent]
    assert [str(v) for v in values] == ["-100.00"]
