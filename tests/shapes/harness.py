"""What the shape tests share: parsing with the project base, validating, reading a fixture's
expectations, and working out which shapes a fixture exercises.

A fixture (``fixtures/<area>/<name>.ttl``) is a small Turtle file validated together with
``fixtures/_context.ttl``. A valid fixture is named ``valid-*.ttl`` and must conform. An invalid
one is named ``*.invalid.ttl`` and states, in its comment header, every result it must produce::

    # expect: iomsh:Funding-funder sh:MinCountConstraintComponent on <id/funding/ntf-CH>

(shape, constraint component, focus node; ``[]`` for a blank-node focus). The test compares the
report with these lines exactly: same results, no other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin

import pyoxigraph as ox
from pyshacl import validate as shacl_validate
from rdflib import RDF, RDFS, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import SH
from rdflib.term import Node

from iomkg.shacl import ShaclResult, pyshacl_results
from iomkg.validator import CompiledShapes, compile_shapes, for_validation

BASE = "https://w3id.org/iomkg/"
IOMSH = Namespace(BASE + "shapes#")
PROJECT_DIR = Path(__file__).resolve().parents[2]
SHAPES_DIR = PROJECT_DIR / "shapes"
ONTOLOGY_FILE = PROJECT_DIR / "ontology" / "iomkg.ttl"
DATA_DIR = PROJECT_DIR / "data"
FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
CONTEXT_FILE = FIXTURES_DIR / "_context.ttl"

CURIE_PREFIXES = {"iomsh": str(IOMSH), "sh": str(SH)}


def parse_turtle(paths: Iterable[Path]) -> Graph:
    """One graph of all ``paths``, relative IRIs resolved against the project base."""
    graph = Graph()
    for path in paths:
        graph.parse(path, format="turtle", publicID=BASE)
    return graph


def shape_files() -> list[Path]:
    """The files the build loads as shapes (``shapes/*.ttl``, like ``pipeline.shape_files``)."""
    return sorted(SHAPES_DIR.glob("*.ttl"))


def data_files() -> list[Path]:
    """The ontology and every data file: the union the build validates."""
    files = [ONTOLOGY_FILE] if ONTOLOGY_FILE.exists() else []
    return files + sorted(DATA_DIR.rglob("*.ttl"))


# Validation --------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Result:
    """One validation result, reduced to what the tests compare."""

    shape: str
    component: str
    focus: str
    path: str
    message: str
    severity: str
    value: str
    constraint: str

    def key(self) -> tuple[str, str, str]:
        return (self.shape, self.component, self.focus)

    def describe(self) -> str:
        return f"{short(self.shape)} {short(self.component)} on {self.focus}: {self.message}"


def validate(data: Graph, shapes: Graph) -> list[Result]:
    """Validate as the build does (inference none, SHACL-AF on); every result, sorted.

    pySHACL is the oracle: the build's own validator (the shapes compiled to SPARQL on
    pyoxigraph, :mod:`iomkg.validator`) validates the same graph, and its report must be
    pySHACL's result for result (focus node, path, shape, component, severity, value, messages),
    or this raises. So every fixture is also an agreement test of the two, in both directions.

    ``inplace`` spares pySHACL a copy of ``data``: the shapes hold no SHACL rules, so nothing
    is written to it, and the callers build a fresh graph for each validation anyway.
    """
    store = oxigraph_store(data)  # before pySHACL runs: inplace may add to ``data``
    _conforms, report, _text = shacl_validate(
        data, shacl_graph=shapes, inference="none", advanced=True, inplace=True
    )
    assert_same_report(compiled(shapes).validate(store), pyshacl_results(report))
    results = []
    # Only the report's own results: nested ones (sh:detail) explain a result, they are not one.
    for node in report.objects(
        report.value(None, RDF.type, SH.ValidationReport, any=False), SH.result
    ):
        focus = report.value(node, SH.focusNode)
        results.append(
            Result(
                shape=_name(report.value(node, SH.sourceShape)),
                component=_name(report.value(node, SH.sourceConstraintComponent)),
                focus="[]" if isinstance(focus, BNode) else str(focus),
                path=_name(report.value(node, SH.resultPath)),
                message=str(report.value(node, SH.resultMessage) or ""),
                severity=_name(report.value(node, SH.resultSeverity)),
                value=str(report.value(node, SH.value) or ""),
                constraint=_name(report.value(node, SH.sourceConstraint)),
            )
        )
    return sorted(results)


_COMPILED: dict[int, tuple[Graph, CompiledShapes]] = {}


def compiled(shapes: Graph) -> CompiledShapes:
    """The shapes compiled once per shapes graph (the tests reuse one graph per module)."""
    held = _COMPILED.get(id(shapes))
    if held is None or held[0] is not shapes:
        held = _COMPILED[id(shapes)] = (shapes, compile_shapes(shapes))
    return held[1]


def oxigraph_term(term: Node) -> ox.NamedNode | ox.BlankNode | ox.Literal:
    """The pyoxigraph term of an rdflib term (blank nodes keep their labels)."""
    if isinstance(term, URIRef):
        return ox.NamedNode(str(term))
    if isinstance(term, BNode):
        return ox.BlankNode(str(term))
    if isinstance(term, Literal):
        if term.language:
            return ox.Literal(str(term), language=term.language)
        datatype = ox.NamedNode(str(term.datatype)) if term.datatype is not None else None
        return ox.Literal(str(term), datatype=datatype)
    raise TypeError(f"not an RDF term: {term!r}")


def oxigraph_store(data: Graph) -> ox.Store:
    """``data`` in a store as :mod:`iomkg.validator` validates it."""
    store = ox.Store()
    store.bulk_extend(
        for_validation(
            ox.Quad(oxigraph_term(s), oxigraph_term(p), oxigraph_term(o))  # type: ignore[arg-type]
            for s, p, o in data
        )
    )
    return store


def assert_same_report(compiled_results: list[ShaclResult], oracle: list[ShaclResult]) -> None:
    """The compiled validator's report is pySHACL's, result for result."""
    mine = [r.key() for r in compiled_results]
    theirs = [r.key() for r in oracle]
    if mine != theirs:
        only_mine = sorted(set(mine) - set(theirs))
        only_theirs = sorted(set(theirs) - set(mine))
        lines = [f"only the compiled validator: {k}" for k in only_mine[:20]]
        lines += [f"only pySHACL: {k}" for k in only_theirs[:20]]
        if not lines:
            lines = ["the same results, not the same number of times"]
        raise AssertionError(
            f"the compiled validator's report differs from pySHACL's "
            f"({len(mine)} against {len(theirs)} results):\n" + "\n".join(lines)
        )


def _name(node: Node | None) -> str:
    if node is None:
        return ""
    return str(node) if isinstance(node, URIRef) else "[]"


def short(iri: str) -> str:
    for prefix, namespace in CURIE_PREFIXES.items():
        if iri.startswith(namespace):
            return f"{prefix}:{iri[len(namespace) :]}"
    return iri


# Fixtures and their expectations -----------------------------------------------------------------

EXPECT_LINE = re.compile(r"^#\s*expect:\s*(\S+)\s+(\S+)\s+on\s+(\S+)\s*$")


@dataclass(frozen=True)
class Fixture:
    path: Path

    @property
    def name(self) -> str:
        return self.path.relative_to(FIXTURES_DIR).as_posix()

    @property
    def is_valid(self) -> bool:
        return self.path.name.startswith("valid")

    def expectations(self) -> list[tuple[str, str, str]]:
        """The ``# expect:`` lines as (shape IRI, component IRI, focus IRI or ``[]``), sorted."""
        found = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            match = EXPECT_LINE.match(line)
            if match:
                shape, component, focus = match.groups()
                found.append((expand(shape), expand(component), _focus(focus)))
        return sorted(found)


def expand(curie: str) -> str:
    prefix, _, local = curie.partition(":")
    if prefix not in CURIE_PREFIXES:
        raise ValueError(f"unknown prefix in {curie!r}: use one of {sorted(CURIE_PREFIXES)}")
    return CURIE_PREFIXES[prefix] + local


def _focus(token: str) -> str:
    if token == "[]":
        return token
    if not (token.startswith("<") and token.endswith(">")):
        raise ValueError(f"a focus node is <relative IRI> or []: {token!r}")
    return urljoin(BASE, token[1:-1])


def all_fixtures() -> list[Fixture]:
    return [Fixture(path) for path in sorted(FIXTURES_DIR.rglob("*.ttl")) if path != CONTEXT_FILE]


# Which shapes a graph exercises ------------------------------------------------------------------

TARGET_PREDICATES = (
    SH.targetClass,
    SH.targetSubjectsOf,
    SH.targetObjectsOf,
    SH.targetNode,
    SH.target,
)
CONSTRAINT_PARAMETERS = tuple(
    SH[name]
    for name in [
        "class",
        "datatype",
        "nodeKind",
        "minCount",
        "maxCount",
        "minInclusive",
        "maxInclusive",
        "minExclusive",
        "maxExclusive",
        "minLength",
        "maxLength",
        "pattern",
        "languageIn",
        "uniqueLang",
        "equals",
        "disjoint",
        "lessThan",
        "lessThanOrEquals",
        "not",
        "and",
        "or",
        "xone",
        "node",
        "qualifiedValueShape",
        "closed",
        "hasValue",
        "in",
        "sparql",
    ]
)


class ShapeIndex:
    """The shapes of a shapes graph that a validation report can name, and their targets."""

    def __init__(self, shapes: Graph) -> None:
        self.shapes = shapes
        targeted = {s for p in TARGET_PREDICATES for s in shapes.subjects(p, None)}
        self.targeted: list[Node] = sorted(targeted, key=str)
        self.parent_of: dict[Node, list[Node]] = {}
        for node_shape in self.targeted:
            for prop in shapes.objects(node_shape, SH.property):
                self.parent_of.setdefault(prop, []).append(node_shape)

    def reportable(self) -> list[Node]:
        """Targeted node shapes that constrain, and the property shapes they hold."""
        nodes = [s for s in self.targeted if self.constrains(s)]
        return nodes + sorted(self.parent_of, key=str)

    def constrains(self, shape: Node) -> bool:
        return any((shape, p, None) in self.shapes for p in CONSTRAINT_PARAMETERS)

    def focus_nodes(self, node_shape: Node, data: Graph) -> set[Node]:
        found: set[Node] = set()
        for cls in self.shapes.objects(node_shape, SH.targetClass):
            found |= {
                row[0]
                for row in data.query(
                    "SELECT ?x WHERE { ?x a/rdfs:subClassOf* ?c }",
                    initBindings={"c": cls},
                    initNs={"rdfs": RDFS},
                )
            }  # type: ignore[index]
        for prop in self.shapes.objects(node_shape, SH.targetSubjectsOf):
            found |= set(data.subjects(prop, None))
        for prop in self.shapes.objects(node_shape, SH.targetObjectsOf):
            found |= set(data.objects(None, prop))
        found |= set(self.shapes.objects(node_shape, SH.targetNode))
        for target in self.shapes.objects(node_shape, SH.target):
            found |= self._custom_target(target, data)
        return found

    def _custom_target(self, target: Node, data: Graph) -> set[Node]:
        target_type = self.shapes.value(target, RDF.type)
        select = str(self.shapes.value(target_type, SH.select))
        bindings = {}
        for parameter in self.shapes.objects(target_type, SH.parameter):
            path = self.shapes.value(parameter, SH.path)
            name = re.split(r"[#/]", str(path))[-1]
            bindings[name] = self.shapes.value(target, path)
        prologue = "".join(
            f"PREFIX {self.shapes.value(d, SH.prefix)}: <{self.shapes.value(d, SH.namespace)}>\n"
            for prefixes in self.shapes.objects(target_type, SH.prefixes)
            for d in self.shapes.objects(prefixes, SH.declare)
        )
        return {row[0] for row in data.query(prologue + select, initBindings=bindings)}  # type: ignore[index]

    def value_nodes(self, property_shape: Node, focus: Node, data: Graph) -> set[Node]:
        path = sparql_path(self.shapes, self.shapes.value(property_shape, SH.path))
        query = f"SELECT ?v WHERE {{ ?f {path} ?v }}"
        return {row[0] for row in data.query(query, initBindings={"f": focus})}  # type: ignore[index]

    def exercised(self, shape: Node, data: Graph, own_nodes: set[Node]) -> bool:
        """Whether ``data`` gives ``shape`` something to check among ``own_nodes``."""
        if shape in self.parent_of:
            return any(
                self.value_nodes(shape, focus, data)
                for parent in self.parent_of[shape]
                for focus in self.focus_nodes(parent, data) & own_nodes
            )
        return bool(self.focus_nodes(shape, data) & own_nodes)


def sparql_path(shapes: Graph, path: Node | None) -> str:
    """A SHACL property path as a SPARQL property path."""
    if isinstance(path, URIRef):
        return f"<{path}>"
    if path is None:
        raise ValueError("a property shape without sh:path")
    if (alternatives := shapes.value(path, SH.alternativePath)) is not None:
        return (
            "(" + "|".join(sparql_path(shapes, p) for p in Collection(shapes, alternatives)) + ")"
        )
    if (inverse := shapes.value(path, SH.inversePath)) is not None:
        return "^" + sparql_path(shapes, inverse)
    if (shapes.value(path, RDF.first)) is not None:
        return "(" + "/".join(sparql_path(shapes, p) for p in Collection(shapes, path)) + ")"
    raise ValueError(f"unsupported path {path!r}")


def described_nodes(graph: Graph) -> set[Node]:
    """The resources ``graph`` describes: its subjects (not what it merely points at)."""
    return set(graph.subjects())
