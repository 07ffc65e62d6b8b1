"""SHACL validation compiled to SPARQL and run by pyoxigraph over the whole graph at once.

pySHACL walks the graph focus node by focus node in Python (and runs each SPARQL constraint once
per focus node): about 0.4 ms a triple here. This module reads the shapes once and writes each
constraint of each shape as one SPARQL query over every focus node of the shape together, which
pyoxigraph evaluates in Rust, set at a time. The report is pySHACL's, result for result: the
same focus nodes, paths, source shapes, constraint components, severities, values and messages
(``tests/shapes/test_agreement.py`` holds the two side by side on every shape fixture and on a
generated graph with violations of every kind of constraint the shapes use).

What it implements is what this project's shapes use: targets (``sh:targetClass``,
``sh:targetSubjectsOf``, ``sh:targetObjectsOf``, ``sh:targetNode``, SHACL-AF SPARQL targets and
target types), property paths, ``sh:class``, ``sh:datatype``, ``sh:nodeKind``, ``sh:minCount``,
``sh:maxCount``, ``sh:minInclusive``, ``sh:pattern``, ``sh:languageIn``, ``sh:uniqueLang``,
``sh:hasValue``, ``sh:in``, ``sh:node``, ``sh:or``, ``sh:qualifiedValueShape`` with its counts,
``sh:property`` and SPARQL-based constraints (``sh:sparql`` with ``sh:select``). Anything else
in a shape (another constraint parameter, a custom constraint component, a recursive shape, a
SPARQL constraint that does not bind ``$this`` in its main pattern) raises
:class:`UnsupportedShapes` when the shapes are compiled, naming the shape and what it uses, so
a new kind of shape can never be skipped without anyone noticing: run
``--validator pyshacl`` until it is implemented here.

The shapes are project files, not user input: their IRIs and literals are written into the
compiled queries as SPARQL terms (:func:`sparql_term`), never a value from a request.
"""

from __future__ import annotations

import logging
import re
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as clock_time
from decimal import Decimal
from typing import Any

import pyoxigraph as ox
import rdflib
from rdflib.collection import Collection
from rdflib.namespace import RDF, RDFS, SH, XSD
from rdflib.term import Node

from iomkg import sparqltext
from iomkg.shacl import ShaclResult, format_sparql_message, to_rdflib
from iomkg.sparqljoins import rewrite_exists

__all__ = ["CompiledShapes", "UnsupportedShapes", "compile_shapes"]


class UnsupportedShapes(Exception):
    """The shapes use something this validator does not implement (use ``--validator pyshacl``)."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = sorted(set(problems))
        super().__init__(
            "the fast validator does not implement what these shapes use (validate with "
            "--validator pyshacl, or implement it in iomkg/validator.py): "
            + "; ".join(self.problems)
        )


# Terms and paths as SPARQL text -------------------------------------------------------------

_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


def sparql_term(node: Node) -> str:
    """An RDF term of the shapes graph as SPARQL text (IRIs checked, literals escaped)."""
    if isinstance(node, rdflib.URIRef):
        if _IRI_FORBIDDEN.search(node):
            raise UnsupportedShapes([f"an IRI that cannot be written in SPARQL: {node!r}"])
        return f"<{node}>"
    if isinstance(node, rdflib.Literal):
        text = (
            str(node)
            .replace("\\", "\\\\")
            .replace('"', '\\"')
            .replace("\n", "\\n")
            .replace("\r", "\\r")
        )
        if node.language:
            return f'"{text}"@{node.language}'
        if node.datatype is not None and node.datatype != XSD.string:
            held = stored(ox.Literal(str(node), datatype=ox.NamedNode(str(node.datatype))))
            return f'"{text}"^^{sparql_term(rdflib.URIRef(held.datatype.value))}'
        return f'"{text}"'
    raise UnsupportedShapes([f"a blank node where a constant is needed: {node!r}"])


def sparql_path(shapes: rdflib.Graph, path: Node) -> str:
    """A SHACL property path as a SPARQL property path."""
    if isinstance(path, rdflib.URIRef):
        return sparql_term(path)
    if (alternatives := shapes.value(path, SH.alternativePath)) is not None:
        parts = [sparql_path(shapes, p) for p in Collection(shapes, alternatives)]
        return "(" + "|".join(parts) + ")"
    if (inverse := shapes.value(path, SH.inversePath)) is not None:
        return "^" + sparql_path(shapes, inverse)
    for predicate, suffix in (
        (SH.zeroOrMorePath, "*"),
        (SH.oneOrMorePath, "+"),
        (SH.zeroOrOnePath, "?"),
    ):
        if (inner := shapes.value(path, predicate)) is not None:
            return "(" + sparql_path(shapes, inner) + ")" + suffix
    if shapes.value(path, RDF.first) is not None:
        return "(" + "/".join(sparql_path(shapes, p) for p in Collection(shapes, path)) + ")"
    raise UnsupportedShapes([f"a property path it cannot read: {path!r}"])


# The shapes as a model ----------------------------------------------------------------------

#: Predicates of a shape that constrain nothing (or are read with the shape itself).
_DESCRIPTIVE = {
    SH.message,
    SH.severity,
    SH.path,
    SH.property,
    SH.deactivated,
    SH.name,
    SH.description,
    SH.order,
    SH.group,
    SH.defaultValue,
    SH.targetClass,
    SH.targetSubjectsOf,
    SH.targetObjectsOf,
    SH.targetNode,
    SH.target,
    SH.qualifiedMinCount,
    SH.qualifiedMaxCount,
    SH.qualifiedValueShapesDisjoint,
    SH.flags,
}
_NODE_KINDS = {
    SH.IRI: "isIRI({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNode: "isBlank({v})",
    SH.BlankNodeOrIRI: "(isBlank({v}) || isIRI({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
COMPONENTS = {
    "class": SH.ClassConstraintComponent,
    "datatype": SH.DatatypeConstraintComponent,
    "nodeKind": SH.NodeKindConstraintComponent,
    "minCount": SH.MinCountConstraintComponent,
    "maxCount": SH.MaxCountConstraintComponent,
    "minInclusive": SH.MinInclusiveConstraintComponent,
    "pattern": SH.PatternConstraintComponent,
    "languageIn": SH.LanguageInConstraintComponent,
    "uniqueLang": SH.UniqueLangConstraintComponent,
    "hasValue": SH.HasValueConstraintComponent,
    "in": SH.InConstraintComponent,
    "node": SH.NodeConstraintComponent,
    "or": SH.OrConstraintComponent,
    "qualifiedMin": SH.QualifiedMinCountConstraintComponent,
    "qualifiedMax": SH.QualifiedMaxCountConstraintComponent,
    "sparql": SH.SPARQLConstraintComponent,
}
_PARAMETERS = {
    SH["class"]: "class",
    SH.datatype: "datatype",
    SH.nodeKind: "nodeKind",
    SH.minCount: "minCount",
    SH.maxCount: "maxCount",
    SH.minInclusive: "minInclusive",
    SH.pattern: "pattern",
    SH.languageIn: "languageIn",
    SH.uniqueLang: "uniqueLang",
    SH.hasValue: "hasValue",
    SH["in"]: "in",
    SH.node: "node",
    SH["or"]: "or",
    SH.qualifiedValueShape: "qualified",
    SH.sparql: "sparql",
}


@dataclass(frozen=True)
class SparqlSelect:
    """A SPARQL-based constraint: its query (prefixes apart) and where it came from."""

    node: Node
    select: str
    prefixes: tuple[tuple[str, str], ...]
    messages: tuple[rdflib.Literal, ...]


@dataclass(frozen=True)
class Target:
    kind: str  # class | subjectsOf | objectsOf | node | sparql
    value: Node | None = None
    select: str = ""
    prefixes: tuple[tuple[str, str], ...] = ()


@dataclass
class Shape:
    node: Node
    path_node: Node | None
    path: str | None
    severity: Node
    messages: tuple[rdflib.Literal, ...]
    deactivated: bool
    targets: list[Target] = field(default_factory=list)
    constraints: list[tuple[str, Any]] = field(default_factory=list)
    properties: list[Shape] = field(default_factory=list)

    @property
    def is_property(self) -> bool:
        return self.path is not None


class _Reader:
    """Reads shapes out of an rdflib shapes graph, collecting everything it cannot run."""

    def __init__(self, shapes: rdflib.Graph) -> None:
        self.graph = shapes
        self.problems: list[str] = []
        self.shapes: dict[Node, Shape] = {}
        self._reading: list[Node] = []

    def name(self, node: Node) -> str:
        return node.n3(self.graph.namespace_manager)

    def shape(self, node: Node) -> Shape:
        if node in self.shapes:
            return self.shapes[node]
        if node in self._reading:
            self.problems.append(f"{self.name(node)} refers to itself (recursive shapes)")
            return Shape(node, None, None, SH.Violation, (), True)
        self._reading.append(node)
        try:
            shape = self._read(node)
        finally:
            self._reading.pop()
        self.shapes[node] = shape
        return shape

    def _read(self, node: Node) -> Shape:
        g = self.graph
        path_node = g.value(node, SH.path)
        path = None
        if path_node is not None:
            try:
                path = sparql_path(g, path_node)
            except UnsupportedShapes as error:
                self.problems.extend(f"{self.name(node)}: {p}" for p in error.problems)
        deactivated = any(
            isinstance(v, rdflib.Literal) and v.value is True
            for v in g.objects(node, SH.deactivated)
        )
        messages = tuple(m for m in g.objects(node, SH.message) if isinstance(m, rdflib.Literal))
        shape = Shape(
            node=node,
            path_node=path_node,
            path=path,
            severity=g.value(node, SH.severity) or SH.Violation,
            messages=messages,
            deactivated=deactivated,
        )
        for predicate, value in sorted(g.predicate_objects(node), key=str):
            if predicate in _DESCRIPTIVE or not str(predicate).startswith(str(SH)):
                continue
            kind = _PARAMETERS.get(predicate)  # type: ignore[call-overload]
            if kind is None:
                self.problems.append(f"{self.name(node)} uses {self.name(predicate)}")
                continue
            self._constraint(shape, kind, value)
        shape.targets = self._targets(node)
        for prop in sorted(g.objects(node, SH.property), key=str):
            shape.properties.append(self.shape(prop))
        return shape

    def _constraint(self, shape: Shape, kind: str, value: Node) -> None:
        g = self.graph
        if kind in ("minCount", "maxCount"):
            shape.constraints.append((kind, int(value)))  # type: ignore[call-overload]
        elif kind == "uniqueLang":
            if isinstance(value, rdflib.Literal) and value.value is True:
                shape.constraints.append((kind, True))
        elif kind == "pattern":
            flags = g.value(shape.node, SH.flags)
            shape.constraints.append((kind, (str(value), str(flags) if flags else "")))
        elif kind == "languageIn":
            shape.constraints.append((kind, [str(v).lower() for v in Collection(g, value)]))
        elif kind == "in":
            shape.constraints.append((kind, list(Collection(g, value))))
        elif kind == "node":
            shape.constraints.append((kind, self.shape(value)))
        elif kind == "or":
            shape.constraints.append((kind, [self.shape(v) for v in Collection(g, value)]))
        elif kind == "qualified":
            if any(
                isinstance(v, rdflib.Literal) and v.value is True
                for v in g.objects(shape.node, SH.qualifiedValueShapesDisjoint)
            ):
                self.problems.append(
                    f"{self.name(shape.node)} uses sh:qualifiedValueShapesDisjoint"
                )
            low = g.value(shape.node, SH.qualifiedMinCount)
            high = g.value(shape.node, SH.qualifiedMaxCount)
            qualified = self.shape(value)
            if low is not None:
                shape.constraints.append(("qualifiedMin", (qualified, int(low))))  # type: ignore[call-overload]
            if high is not None:
                shape.constraints.append(("qualifiedMax", (qualified, int(high))))  # type: ignore[call-overload]
        elif kind == "sparql":
            self._sparql_constraint(shape, value)
        else:
            shape.constraints.append((kind, value))

    def _prefixes(self, node: Node) -> tuple[tuple[str, str], ...]:
        found = {}
        for declarations in self.graph.objects(node, SH.prefixes):
            for declaration in self.graph.objects(declarations, SH.declare):
                prefix = self.graph.value(declaration, SH.prefix)
                namespace = self.graph.value(declaration, SH.namespace)
                if prefix is not None and namespace is not None:
                    found[str(prefix)] = str(namespace)
        return tuple(sorted(found.items()))

    def _sparql_constraint(self, shape: Shape, node: Node) -> None:
        g = self.graph
        if any(
            isinstance(v, rdflib.Literal) and v.value is True
            for v in g.objects(node, SH.deactivated)
        ):
            return
        selects = list(g.objects(node, SH.select))
        if len(selects) != 1 or g.value(node, SH.ask) is not None:
            self.problems.append(
                f"{self.name(shape.node)}: a SPARQL constraint without one sh:select"
            )
            return
        messages = tuple(m for m in g.objects(node, SH.message) if isinstance(m, rdflib.Literal))
        shape.constraints.append(
            ("sparql", SparqlSelect(node, str(selects[0]), self._prefixes(node), messages))
        )

    def _targets(self, node: Node) -> list[Target]:
        g = self.graph
        targets = [Target("class", c) for c in sorted(g.objects(node, SH.targetClass), key=str)]
        if (node, RDF.type, RDFS.Class) in g or (node, RDF.type, rdflib.OWL.Class) in g:
            targets.append(Target("class", node))  # an implicit class target
        targets += [
            Target("subjectsOf", p) for p in sorted(g.objects(node, SH.targetSubjectsOf), key=str)
        ]
        targets += [
            Target("objectsOf", p) for p in sorted(g.objects(node, SH.targetObjectsOf), key=str)
        ]
        targets += [Target("node", n) for n in sorted(g.objects(node, SH.targetNode), key=str)]
        for target in sorted(g.objects(node, SH.target), key=str):
            targets.extend(self._sparql_target(node, target))
        return targets

    def _sparql_target(self, shape: Node, target: Node) -> list[Target]:
        g = self.graph
        if (select := g.value(target, SH.select)) is not None:  # an sh:SPARQLTarget
            return [Target("sparql", None, str(select), self._prefixes(target))]
        target_type = g.value(target, RDF.type)
        select = g.value(target_type, SH.select) if target_type is not None else None
        if select is None or target_type is None:
            self.problems.append(f"{self.name(shape)}: a target it cannot read ({target!r})")
            return []
        text = str(select)
        for parameter in g.objects(target_type, SH.parameter):
            parameter_path = g.value(parameter, SH.path)
            name = re.split(r"[#/]", str(parameter_path))[-1]
            value = g.value(target, parameter_path)
            if value is None:
                self.problems.append(f"{self.name(shape)}: a target without its {name}")
                return []
            text = _substitute_variable(text, name, sparql_term(value))
        return [Target("sparql", None, text, self._prefixes(target_type))]


def _substitute_variable(text: str, name: str, replacement: str) -> str:
    """``text`` with every ``?name`` / ``$name`` token replaced (strings and IRIs untouched)."""
    out, last = [], 0
    for token in sparqltext.tokenize(text):
        if token.kind == "var" and token.text[1:] == name:
            out.append(text[last : token.start])
            out.append(replacement)
            last = token.end
    out.append(text[last:])
    return "".join(out)


# Literals pyoxigraph would change ------------------------------------------------------------

#: pyoxigraph's store keeps literals of the XSD types it computes with in canonical form, and
#: those of the integer subtypes as xsd:integer: "1.50"^^xsd:decimal comes back "1.5",
#: "1"^^xsd:positiveInteger comes back "1"^^xsd:integer. Validation would no longer see (nor
#: report) what the source says, and two terms pySHACL tells apart would be one. In the store
#: validated, such a literal is kept under a datatype of its own that says which it was
#: (``urn:iomkg:validation:datatype:`` + the datatype); literals the store keeps as they are
#: (nearly all) are stored as they are, so the shapes' SPARQL sees them unchanged.
LOSSY_DATATYPES = frozenset(
    str(XSD[name])
    for name in (
        "nonPositiveInteger",
        "negativeInteger",
        "long",
        "int",
        "short",
        "byte",
        "nonNegativeInteger",
        "unsignedLong",
        "unsignedInt",
        "unsignedShort",
        "unsignedByte",
        "positiveInteger",
    )
)
KEPT_DATATYPE = "urn:iomkg:validation:datatype:"

#: Datatypes whose lexical forms pyoxigraph's store may rewrite (the XSD types it computes with).
_CANONICALISED = frozenset(
    str(XSD[name])
    for name in (
        "boolean",
        "decimal",
        "integer",
        "float",
        "double",
        "date",
        "dateTime",
        "dateTimeStamp",
        "time",
        "duration",
        "dayTimeDuration",
        "yearMonthDuration",
        "gYear",
        "gYearMonth",
        "gMonth",
        "gMonthDay",
        "gDay",
    )
)
#: Lexical forms the store surely keeps as they are; any other is tried on a scratch store.
_SURELY_CANONICAL = {
    str(XSD.integer): re.compile(r"-?(0|[1-9][0-9]*)"),
    str(XSD.decimal): re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]*[1-9])?"),
    str(XSD.boolean): re.compile(r"true|false"),
    str(XSD.date): re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}Z?"),
    str(XSD.gYear): re.compile(r"[0-9]{4}"),
    str(XSD.gYearMonth): re.compile(r"[0-9]{4}-[0-9]{2}"),
}


class _StoredForm:
    """Whether pyoxigraph's store gives a literal back as it was, asked once per lexical form
    that is not surely canonical (few), on a scratch store."""

    def __init__(self) -> None:
        self._store = ox.Store()
        self._subject = ox.NamedNode("urn:iomkg:validation:scratch")
        self._known: dict[tuple[str, str], bool] = {}

    def keeps(self, literal: ox.Literal) -> bool:
        datatype = literal.datatype.value
        if datatype not in _CANONICALISED:
            return datatype not in LOSSY_DATATYPES
        surely = _SURELY_CANONICAL.get(datatype)
        if surely is not None and surely.fullmatch(literal.value):
            return True
        key = (literal.value, datatype)
        if (known := self._known.get(key)) is None:
            quad = ox.Quad(self._subject, self._subject, literal)
            self._store.add(quad)
            stored = next(iter(self._store)).object
            self._store.remove(quad)
            known = self._known[key] = stored == literal
        return known


def stored(literal: ox.Literal, forms: _StoredForm | None = None) -> ox.Literal:
    """``literal`` as the validated store holds it (see :data:`KEPT_DATATYPE`)."""
    if (forms or _StoredForm()).keeps(literal):
        return literal
    return ox.Literal(literal.value, datatype=ox.NamedNode(KEPT_DATATYPE + literal.datatype.value))


def for_validation(quads: Iterable[ox.Quad]) -> Iterator[ox.Quad]:
    """``quads`` as the validated store holds them (see :data:`KEPT_DATATYPE`)."""
    forms = _StoredForm()
    for quad in quads:
        value = quad.object
        if type(value) is ox.Literal and not forms.keeps(value):
            yield ox.Quad(quad.subject, quad.predicate, stored(value, forms), quad.graph_name)
        else:
            yield quad


def datatypes_held(datatype: Node) -> str:
    """The datatypes a literal of ``datatype`` can have in the validated store, as SPARQL."""
    return f"<{datatype}>, <{KEPT_DATATYPE}{datatype}>"


def as_typed(v: str) -> str:
    """A SPARQL expression: the literal in ``v`` with the datatype the source gave it (for
    comparisons; a literal kept under its own datatype is typed again from its lexical form)."""
    kept = sparql_term(rdflib.Literal(KEPT_DATATYPE))
    return (
        f"IF(STRSTARTS(STR(DATATYPE({v})), {kept}), "
        f"STRDT(STR({v}), IRI(STRAFTER(STR(DATATYPE({v})), {kept}))), {v})"
    )


def as_stated(term: Any) -> Node:
    """The rdflib term of a term of the validated store, with its datatype as the source had it."""
    if type(term) is ox.Literal and term.datatype.value.startswith(KEPT_DATATYPE):
        return rdflib.Literal(term.value, datatype=term.datatype.value[len(KEPT_DATATYPE) :])
    return to_rdflib(term)


# Datatype checks (pySHACL's, through rdflib) -------------------------------------------------

#: Lexical forms that rdflib surely accepts for a datatype (as the right Python type); any
#: other lexical form of that datatype is checked by rdflib itself (few, and only once each).
_SURELY_WELL_FORMED = {
    XSD.integer: r"^[+-]?[0-9]+$",
    XSD.nonNegativeInteger: r"^\+?[0-9]+$",
    XSD.positiveInteger: r"^\+?0*[1-9][0-9]*$",
    XSD.decimal: r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$",
    XSD.date: r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])$",
    XSD.gYear: r"^[0-9]{4}$",
    XSD.gYearMonth: r"^[0-9]{4}-(0[1-9]|1[0-2])$",
}
_PYTHON_TYPES: dict[Node, type | tuple[type, ...]] = {
    XSD.string: (str, bytes),
    RDF.langString: (str, bytes),
    XSD.integer: int,
    XSD.float: float,
    XSD.decimal: Decimal,
    XSD.boolean: bool,
    XSD.date: date,
    XSD.time: clock_time,
    XSD.dateTime: datetime,
}


def rdflib_rejects(lexical: str, datatype: Node) -> bool:
    """Whether pySHACL's sh:datatype fails a literal of this datatype (ill-typed for rdflib)."""
    rdflib_term_logger = logging.getLogger("rdflib.term")
    level = rdflib_term_logger.level
    rdflib_term_logger.setLevel(logging.CRITICAL)  # rdflib logs a traceback for each one
    try:
        literal = rdflib.Literal(lexical, datatype=str(datatype))
    finally:
        rdflib_term_logger.setLevel(level)
    if literal.ill_typed is True:
        return True
    expected = _PYTHON_TYPES.get(datatype)
    return expected is not None and not isinstance(literal.value, expected)


# Query generation ---------------------------------------------------------------------------

_RDF_TYPE_PATH = f"{sparql_term(RDF.type)}/{sparql_term(RDFS.subClassOf)}*"


#: Marks the focus nodes a validation is restricted to (:meth:`CompiledShapes.validate`), in a
#: graph of its own that only the restricted queries read.
FOCUS = ox.NamedNode("urn:iomkg:validation:focus")


@dataclass
class _Check:
    """One query and how its rows become results; ``restricted``: it validates only the focus
    nodes marked with :data:`FOCUS` (a local check, written for a restricted validation)."""

    shape: Shape
    component: rdflib.URIRef
    query: str
    rows: str  # value | focus | lang | sparql
    sparql: SparqlSelect | None = None
    restricted: bool = False


def is_local(shape: Shape, parents: tuple[Shape, ...]) -> bool:
    """Whether the checks of ``shape`` (below ``parents``) judge each focus node by what its
    shape's paths reach from it alone, so they can be restricted to some focus nodes: no SPARQL
    target, and focus nodes that are targets, not values of a parent property shape. (A SPARQL
    constraint may look anywhere: it is never restricted.)"""
    if any(parent.is_property for parent in parents):
        return False
    top = parents[0] if parents else shape
    return all(target.kind != "sparql" for target in top.targets)


class _Writer:
    """Writes the queries for a model; ``ill_typed`` holds the literals rdflib rejects."""

    def __init__(self, ill_typed: dict[Node, list[ox.Literal]], restrict: bool = False) -> None:
        self.ill_typed = ill_typed
        self.restrict = restrict  # write the local checks for the marked focus nodes only
        self._count = 0
        self.prefixes: dict[str, str] = {}

    def var(self, stem: str = "v") -> str:
        self._count += 1
        return f"?_{stem}{self._count}"

    # Boolean expressions: does the term in ``v`` pass a constraint / conform to a shape ----

    def value_ok(self, kind: str, param: Any, v: str, path: str | None) -> str:
        if kind == "class":
            return f"EXISTS {{ {v} {_RDF_TYPE_PATH} {sparql_term(param)} }}"
        if kind == "datatype":
            return self.datatype_ok(param, v)
        if kind == "nodeKind":
            if param not in _NODE_KINDS:
                raise UnsupportedShapes([f"sh:nodeKind {param}"])
            return _NODE_KINDS[param].format(v=v)
        if kind == "minInclusive":
            return f"(isLiteral({v}) && COALESCE({as_typed(v)} >= {sparql_term(param)}, false))"
        if kind == "pattern":
            pattern, flags = param
            flag_text = f", {sparql_term(rdflib.Literal(flags))}" if flags else ""
            regex = sparql_term(rdflib.Literal(python_regex(pattern)))
            return f"(!isBlank({v}) && REGEX(STR({v}), {regex}{flag_text}))"
        if kind == "languageIn":
            if "*" in param:
                return f'(isLiteral({v}) && LANG({v}) != "")'
            languages = ", ".join(sparql_term(rdflib.Literal(lang)) for lang in param)
            return (
                f'(isLiteral({v}) && LANG({v}) != "" && (LCASE(LANG({v})) IN ({languages}) || '
                f'LCASE(STRBEFORE(CONCAT(LANG({v}), "-"), "-")) IN ({languages})))'
            )
        if kind == "in":
            return self.one_of(param, v)
        if kind == "hasValue":
            return f"sameTerm({v}, {sparql_term(param)})"
        if kind == "node":
            return self.conforms(param, v)
        if kind == "or":
            return "(" + " || ".join(self.conforms(s, v) for s in param) + ")"
        raise UnsupportedShapes([f"sh:{kind} inside sh:node, sh:or or sh:qualifiedValueShape"])

    def one_of(self, members: list[Node], v: str) -> str:
        if not members:
            return "false"
        return "(" + " || ".join(f"sameTerm({v}, {sparql_term(m)})" for m in members) + ")"

    def datatype_ok(self, datatype: Node, v: str) -> str:
        if datatype == RDFS.Literal:
            return f"isLiteral({v})"
        if datatype == RDF.langString:
            test = f'(isLiteral({v}) && LANG({v}) != "")'
        else:
            test = f"(isLiteral({v}) && DATATYPE({v}) IN ({datatypes_held(datatype)}))"
        bad = self.ill_typed.get(datatype, [])
        if bad:
            listed = " || ".join(f"sameTerm({v}, {literal})" for literal in bad)
            test = f"({test} && !({listed}))"
        return test

    def conforms(self, shape: Shape, v: str) -> str:
        """A boolean expression: the term in ``v`` conforms to ``shape`` (no result of it)."""
        if shape.deactivated:
            return "true"
        parts = []
        if shape.is_property:
            parts.append(self.property_conforms(shape, v))
        else:
            for kind, param in shape.constraints:
                if kind in ("minCount", "maxCount", "uniqueLang", "qualifiedMin", "qualifiedMax"):
                    raise UnsupportedShapes([f"sh:{kind} on a node shape"])
                if kind == "sparql":
                    raise UnsupportedShapes(["a SPARQL constraint inside sh:node or sh:or"])
                parts.append(self.value_ok(kind, param, v, None))
        parts += [self.conforms(p, v) for p in shape.properties]
        return "(" + " && ".join(parts) + ")" if parts else "true"

    def property_conforms(self, shape: Shape, focus: str) -> str:
        path = shape.path
        parts = []
        for kind, param in shape.constraints:
            value, other = self.var(), self.var()
            if kind == "minCount":
                parts.append(self._at_least(focus, path, param, "true"))
            elif kind == "maxCount":
                parts.append(f"!{self._at_least(focus, path, param + 1, 'true')}")
            elif kind == "qualifiedMin":
                qualified, low = param
                parts.append(self._at_least(focus, path, low, qualified))
            elif kind == "qualifiedMax":
                qualified, high = param
                parts.append(f"!{self._at_least(focus, path, high + 1, qualified)}")
            elif kind == "uniqueLang":
                parts.append(
                    f"NOT EXISTS {{ {focus} {path} {value} . {focus} {path} {other} . "
                    f"FILTER(isLiteral({value}) && isLiteral({other}) && "
                    f'!sameTerm({value}, {other}) && LANG({value}) != "" && '
                    f"LCASE(LANG({value})) = LCASE(LANG({other}))) }}"
                )
            elif kind == "hasValue":
                parts.append(f"EXISTS {{ {focus} {path} {sparql_term(param)} }}")
            elif kind == "sparql":
                raise UnsupportedShapes(["a SPARQL constraint inside sh:node or sh:or"])
            else:
                ok = self.value_ok(kind, param, value, path)
                parts.append(f"NOT EXISTS {{ {focus} {path} {value} . FILTER(!{ok}) }}")
        for nested in shape.properties:  # sh:property of a property shape: on its values
            value = self.var()
            ok = self.conforms(nested, value)
            parts.append(f"NOT EXISTS {{ {focus} {path} {value} . FILTER(!{ok}) }}")
        return "(" + " && ".join(parts) + ")" if parts else "true"

    def _at_least(self, focus: str, path: str | None, count: int, qualified: Shape | str) -> str:
        """EXISTS: ``count`` distinct values on ``path`` (each conforming to ``qualified``)."""
        if count <= 0:
            return "true"
        if count > 4:
            raise UnsupportedShapes([f"a count of {count} inside sh:node or sh:or"])
        names = [self.var() for _ in range(count)]
        triples = " . ".join(f"{focus} {path} {n}" for n in names)
        tests = [f"!sameTerm({a}, {b})" for i, a in enumerate(names) for b in names[i + 1 :]]
        if isinstance(qualified, Shape):
            tests += [self.conforms(qualified, n) for n in names]
        condition = f" FILTER({' && '.join(tests)})" if tests else ""
        return f"EXISTS {{ {triples} .{condition} }}"

    # Focus nodes ----------------------------------------------------------------------------

    def focus(self, shape: Shape, parents: tuple[Shape, ...], restricted: bool = False) -> str:
        """A group binding ``?this`` to each focus node of ``shape`` once: its own targets, or
        (``parents`` given) the value nodes of the shape that holds it through sh:property;
        ``restricted``, only the targets marked with :data:`FOCUS`."""
        if parents:
            parent, above = parents[-1], parents[:-1]
            if not parent.is_property:
                return self.focus(parent, above, restricted)
            inner = self.focus(parent, above).replace("?this", "?_parent")
            return f"{{ SELECT DISTINCT ?this WHERE {{ {inner} ?_parent {parent.path} ?this . }} }}"
        branches = []
        for target in shape.targets:
            if target.kind == "class":
                branches.append(f"{{ ?this {_RDF_TYPE_PATH} {sparql_term(target.value)} . }}")  # type: ignore[arg-type]
            elif target.kind == "subjectsOf":
                branches.append(f"{{ ?this {sparql_term(target.value)} [] . }}")  # type: ignore[arg-type]
            elif target.kind == "objectsOf":
                branches.append(f"{{ [] {sparql_term(target.value)} ?this . }}")  # type: ignore[arg-type]
            elif target.kind == "node":
                branches.append(f"{{ VALUES ?this {{ {sparql_term(target.value)} }} }}")  # type: ignore[arg-type]
            else:
                self.add_prefixes(target.prefixes)
                branches.append(f"{{ {target.select} }}")
        union = " UNION ".join(branches)
        targets = f"{{ SELECT DISTINCT ?this WHERE {{ {union} }} }}"
        if restricted:  # the marks joined after the targets: a path from each mark is slower
            return f"GRAPH {FOCUS} {{ ?this {FOCUS} {FOCUS} }} {targets}"
        return targets

    def add_prefixes(self, prefixes: Iterable[tuple[str, str]]) -> None:
        for name, namespace in prefixes:
            if self.prefixes.setdefault(name, namespace) != namespace:
                raise UnsupportedShapes([f"prefix {name}: declared with two namespaces"])

    def prologue(self) -> str:
        return "".join(f"PREFIX {n}: <{ns}>\n" for n, ns in sorted(self.prefixes.items()))

    # Top-level queries, one per constraint -------------------------------------------------

    def checks(self, shape: Shape, parents: tuple[Shape, ...]) -> Iterator[_Check]:
        if shape.deactivated:
            return
        self.prefixes = {}
        focus = self.focus(shape, parents)
        restricted = self.restrict and is_local(shape, parents)
        local_focus = self.focus(shape, parents, restricted=True) if restricted else focus
        path = shape.path
        for kind, param in shape.constraints:
            if kind == "sparql":
                yield self._sparql_check(shape, focus, param)
                continue
            component = COMPONENTS[kind]
            if shape.is_property:
                query, rows = self._property_query(kind, param, local_focus, path)  # type: ignore[arg-type]
            else:
                query, rows = self._node_query(kind, param, local_focus)
            yield _Check(shape, component, self.prologue() + query, rows, restricted=restricted)

    def _node_query(self, kind: str, param: Any, focus: str) -> tuple[str, str]:
        if kind in ("minCount", "maxCount", "uniqueLang", "qualifiedMin", "qualifiedMax"):
            raise UnsupportedShapes([f"sh:{kind} on a node shape"])
        if kind == "in":
            # MINUS on the constants is a hash anti-join: a long list costs no more than a short.
            values = " ".join(sparql_term(m) for m in param)
            return f"SELECT ?this WHERE {{ {focus} MINUS {{ VALUES ?this {{ {values} }} }} }}", (
                "focus-value"
            )
        ok = self.value_ok(kind, param, "?this", None)
        return f"SELECT ?this WHERE {{ {focus} FILTER(!{ok}) }}", "focus-value"

    def _property_query(self, kind: str, param: Any, focus: str, path: str) -> tuple[str, str]:
        if kind == "minCount":
            if param == 1:
                return (
                    f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this {path} ?_v }} }}",
                    "focus",
                )
            return (
                f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {path} ?_v }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) < {int(param)})",
                "focus",
            )
        if kind == "maxCount":
            return (
                f"SELECT ?this WHERE {{ {focus} ?this {path} ?_v . }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) > {int(param)})",
                "focus",
            )
        if kind == "uniqueLang":
            return (
                f"SELECT ?this ?_lang WHERE {{ {focus} ?this {path} ?_v . "
                f'FILTER(isLiteral(?_v) && LANG(?_v) != "") BIND(LCASE(LANG(?_v)) AS ?_lang) }} '
                f"GROUP BY ?this ?_lang HAVING (COUNT(DISTINCT ?_v) > 1)",
                "focus",
            )
        if kind == "hasValue":
            return (
                f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS "
                f"{{ ?this {path} {sparql_term(param)} }} }}",
                "focus",
            )
        if kind in ("qualifiedMin", "qualifiedMax"):
            qualified, count = param
            ok = self.conforms(qualified, "?_v")
            if kind == "qualifiedMax":
                return (
                    f"SELECT ?this WHERE {{ {focus} ?this {path} ?_v . FILTER({ok}) }} "
                    f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) > {int(count)})",
                    "focus",
                )
            return (
                f"SELECT ?this WHERE {{ {focus} OPTIONAL {{ ?this {path} ?_v . FILTER({ok}) }} }} "
                f"GROUP BY ?this HAVING (COUNT(DISTINCT ?_v) < {int(count)})",
                "focus",
            )
        if kind == "in":
            values = " ".join(sparql_term(m) for m in param)
            return (
                f"SELECT DISTINCT ?this ?value WHERE {{ {focus} ?this {path} ?value . "
                f"MINUS {{ VALUES ?value {{ {values} }} }} }}",
                "value",
            )
        ok = self.value_ok(kind, param, "?value", path)
        return (
            f"SELECT DISTINCT ?this ?value WHERE {{ {focus} ?this {path} ?value . FILTER(!{ok}) }}",
            "value",
        )

    def _sparql_check(self, shape: Shape, focus: str, constraint: SparqlSelect) -> _Check:
        text = constraint.select
        if shape.is_property:
            text = _substitute_variable(text, "PATH", shape.path)  # type: ignore[arg-type]
        elif "PATH" in {t.text[1:] for t in sparqltext.tokenize(text) if t.kind == "var"}:
            raise UnsupportedShapes([f"$PATH in a SPARQL constraint of node shape {shape.node}"])
        _check_binds_this(shape, text)
        text = _substitute_variable(text, "this", "?this")
        text = rewrite_exists(text) or text  # EXISTS as joins: linear over all focus nodes
        self.add_prefixes(constraint.prefixes)
        query = f"SELECT * WHERE {{ {focus} {{ {text} }} }}"
        return _Check(
            shape, SH.SPARQLConstraintComponent, self.prologue() + query, "sparql", constraint
        )


_OPENERS = {"{": 1, "}": -1}


def _check_binds_this(shape: Shape, text: str) -> None:
    """Run over all focus nodes at once, a SELECT gives pySHACL's answer (which binds ``$this``
    first) when its main group matches ``$this`` itself and it projects ``$this``."""
    tokens = sparqltext.code_tokens(text)
    depth, at_top, projected, seen_where = 0, False, False, False
    for token in tokens:
        if token.kind == "punct" and token.text in _OPENERS:
            depth += _OPENERS[token.text]
            seen_where = seen_where or depth > 0
            continue
        is_this = token.kind == "var" and token.text[1:] == "this"
        if is_this and not seen_where:
            projected = True
        if is_this and depth == 1:
            at_top = True
    star = any(t.kind == "punct" and t.text == "*" for t in tokens[:3])
    if not at_top or not (projected or star):
        raise UnsupportedShapes(
            [f"{shape.node}: a SPARQL constraint must select $this and match it in its main group"]
        )


def python_regex(pattern: str) -> str:
    """A Python ``re.search`` pattern as one for pyoxigraph's regex engine: ``$`` outside a
    character class also matches before a final newline in Python, not in Rust."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            out.append(char)
            escaped = False
        elif char == "\\":
            out.append(char)
            escaped = True
        elif in_class:
            out.append(char)
            in_class = char != "]"
        elif char == "[":
            out.append(char)
            in_class = True
        elif char == "$":
            out.append("(?:\\n?$)")
        else:
            out.append(char)
    return "".join(out)


# The compiled shapes ------------------------------------------------------------------------


@dataclass
class ValidationStats:
    """How long the parts took, for the build's timings and the benchmark."""

    queries: int = 0
    seconds: float = 0.0
    slowest: list[tuple[float, str]] = field(default_factory=list)


class CompiledShapes:
    """The shapes of one shapes graph, read once, ready to validate any store."""

    def __init__(self, shapes_graph: rdflib.Graph) -> None:
        self.graph = shapes_graph
        reader = _Reader(shapes_graph)
        if (None, RDF.type, SH.ConstraintComponent) in shapes_graph:
            reader.problems.append("custom constraint components (sh:ConstraintComponent)")
        if (None, SH.rule, None) in shapes_graph:
            reader.problems.append("SHACL rules (sh:rule)")
        self.top: list[tuple[Shape, tuple[Shape, ...]]] = []
        for node in sorted(_targeted(shapes_graph), key=str):
            shape = reader.shape(node)
            self._collect(shape, ())
        for shape, _parents in self.top:
            if shape.constraints and not shape.deactivated and not shape.messages:
                if all(kind == "sparql" and param.messages for kind, param in shape.constraints):
                    continue
                reader.problems.append(
                    f"{reader.name(shape.node)} has no sh:message (pySHACL would write its own)"
                )
        if reader.problems:
            raise UnsupportedShapes(reader.problems)
        self.datatype_contexts = self._datatype_contexts()
        self._check_patterns()
        list(self._checks({}))  # writes every query once: what cannot be written fails now
        self.stats = ValidationStats()

    def _collect(self, shape: Shape, parents: tuple[Shape, ...]) -> None:
        if len(parents) > 8:
            raise UnsupportedShapes([f"sh:property nested more than 8 deep at {shape.node}"])
        self.top.append((shape, parents))
        for prop in shape.properties:
            self._collect(prop, (*parents, shape))

    def _checks(
        self, ill_typed: dict[Node, list[ox.Literal]], restrict: bool = False
    ) -> Iterator[_Check]:
        writer = _Writer(ill_typed, restrict)
        for shape, parents in self.top:
            yield from writer.checks(shape, parents)

    def steps(self) -> frozenset[tuple[str, bool]]:
        """Every (predicate IRI, forward?) step a local check may take from a focus node, at
        any depth (paths, nested shapes, sh:class's rdf:type and rdfs:subClassOf, the targets'
        own predicates): a focus node none of whose walks along these steps reaches a changed
        statement keeps its results (:mod:`iomkg.incremental`)."""
        found: set[tuple[str, bool]] = {(str(RDF.type), True), (str(RDFS.subClassOf), True)}
        seen: set[int] = set()

        def path_steps(path: Node, forward: bool) -> None:
            if isinstance(path, rdflib.URIRef):
                found.add((str(path), forward))
                return
            g = self.graph
            if (inverse := g.value(path, SH.inversePath)) is not None:
                path_steps(inverse, not forward)
                return
            if (alternatives := g.value(path, SH.alternativePath)) is not None:
                members: list[Node] = list(Collection(g, alternatives))
            elif g.value(path, RDF.first) is not None:
                members = list(Collection(g, path))
            else:
                members = [
                    inner
                    for predicate in (SH.zeroOrMorePath, SH.oneOrMorePath, SH.zeroOrOnePath)
                    if (inner := g.value(path, predicate)) is not None
                ]
            for member in members:
                path_steps(member, forward)

        def visit(shape: Shape) -> None:
            if id(shape) in seen:
                return
            seen.add(id(shape))
            if shape.path_node is not None:
                path_steps(shape.path_node, True)
            for target in shape.targets:
                if target.kind in ("subjectsOf", "objectsOf"):
                    found.add((str(target.value), target.kind == "subjectsOf"))
            for kind, param in shape.constraints:
                nested = (
                    [param]
                    if kind == "node"
                    else param
                    if kind == "or"
                    else [param[0]]
                    if kind.startswith("qualified")
                    else []
                )
                for inner in nested:
                    visit(inner)
            for prop in shape.properties:
                visit(prop)

        for shape, parents in self.top:
            if is_local(shape, parents):
                visit(shape)
        return frozenset(found)

    def fixed_focus(self) -> frozenset[Node]:
        """The sh:targetNode focus nodes of the local checks (validated whatever changed)."""
        return frozenset(
            target.value
            for shape, parents in self.top
            if is_local(shape, parents)
            for target in (parents[0] if parents else shape).targets
            if target.kind == "node" and target.value is not None
        )

    def global_checks(self) -> frozenset[tuple[Node, Node]]:
        """(shape, constraint component) of every check a restricted validation runs in full."""
        return frozenset(
            (check.shape.node, check.component)
            for check in self._checks({}, restrict=True)
            if not check.restricted
        )

    def _datatype_contexts(self) -> dict[Node, set[str | None]]:
        """Each datatype some constraint checks, with the paths its values are on (None: any)."""
        found: dict[Node, set[str | None]] = {}

        def visit(shape: Shape, path: str | None, seen: set[int]) -> None:
            if id(shape) in seen:
                return
            seen = seen | {id(shape)}
            here = shape.path if shape.is_property else path
            for kind, param in shape.constraints:
                if kind == "datatype":
                    found.setdefault(param, set()).add(here)
                elif kind == "node":
                    visit(param, here, seen)
                elif kind == "or":
                    for s in param:
                        visit(s, here, seen)
                elif kind in ("qualifiedMin", "qualifiedMax"):
                    visit(param[0], here, seen)
            for prop in shape.properties:
                visit(prop, None, seen)

        for shape, _parents in self.top:
            visit(shape, None, set())
        return found

    def _check_patterns(self) -> None:
        store = ox.Store()
        problems = []
        for shape, _parents in self.top:
            for kind, param in _all_constraints(shape):
                if kind != "pattern":
                    continue
                pattern, flags = param
                flag_text = f", {sparql_term(rdflib.Literal(flags))}" if flags else ""
                regex = sparql_term(rdflib.Literal(python_regex(pattern)))
                solutions = store.query(f'SELECT (REGEX("", {regex}{flag_text}) AS ?ok) {{}}')
                assert isinstance(solutions, ox.QuerySolutions)
                if next(iter(solutions))["ok"] is None:
                    problems.append(f"sh:pattern {pattern!r} (not a regex pyoxigraph can run)")
        if problems:
            raise UnsupportedShapes(problems)

    def ill_typed(self, store: ox.Store) -> dict[Node, list[ox.Literal]]:
        """The literals of each checked datatype that rdflib (so pySHACL) rejects: few, found by
        asking the store only for lexical forms outside what is surely well-formed."""
        found: dict[Node, list[ox.Literal]] = {}
        for datatype, paths in self.datatype_contexts.items():
            if datatype in (RDFS.Literal, RDF.langString, XSD.string):
                continue
            safe = _SURELY_WELL_FORMED.get(datatype)  # type: ignore[call-overload]
            exclude = f" && !REGEX(STR(?v), {sparql_term(rdflib.Literal(safe))})" if safe else ""
            lexicals: set[ox.Literal] = set()
            for path in paths:
                pattern = f"?s {path} ?v ." if path else "?s ?p ?v ."
                query = (
                    f"SELECT DISTINCT ?v WHERE {{ {pattern} FILTER(isLiteral(?v) && "
                    f"DATATYPE(?v) IN ({datatypes_held(datatype)}){exclude}) }}"
                )
                for row in self._run(store, query)[1]:
                    lexicals.add(row["v"])
            bad = sorted((lit for lit in lexicals if rdflib_rejects(lit.value, datatype)), key=str)
            if bad:
                found[datatype] = bad
        return found

    def _run(self, store: ox.Store, query: str) -> tuple[list[str], list[ox.QuerySolution]]:
        started = time.perf_counter()
        try:
            result = store.query(query, use_default_graph_as_union=True)
        except SyntaxError as error:  # a bug here, not in the data: say which query
            raise RuntimeError(f"a compiled query does not parse: {error}\n{query}") from error
        assert isinstance(result, ox.QuerySolutions)
        names = [variable.value for variable in result.variables]
        rows = list(result)
        elapsed = time.perf_counter() - started
        self.stats.queries += 1
        self.stats.seconds += elapsed
        self.stats.slowest.append((elapsed, query))
        return names, rows

    def validate(
        self,
        store: ox.Store,
        checked: Callable[[], None] | None = None,
        focus: Iterable[ox.NamedNode | ox.BlankNode] | None = None,
    ) -> list[ShaclResult]:
        """Every result of validating the union of ``store``'s graphs against the shapes;
        ``checked`` is called after each constraint (for progress).

        With ``focus``, the local checks (:func:`is_local`) validate only those focus nodes
        (the others' results are the caller's to keep) and the rest all of theirs; the nodes
        are marked in a graph of the store's own while it runs, then taken out again."""
        self.stats = ValidationStats()
        results: list[ShaclResult] = []
        checks = list(self._checks(self.ill_typed(store), restrict=focus is not None))
        for check in sorted(checks, key=lambda c: c.restricted):  # before the marks
            if check.restricted and not store.contains_named_graph(FOCUS):
                store.bulk_extend(ox.Quad(node, FOCUS, FOCUS, FOCUS) for node in focus or ())
                store.add_graph(FOCUS)
            names, rows = self._run(store, check.query)
            results.extend(self._results(check, names, rows))
            if checked is not None:
                checked()
        if store.contains_named_graph(FOCUS):
            store.remove_graph(FOCUS)
        self.stats.slowest = sorted(self.stats.slowest, reverse=True)[:10]
        return sorted(results, key=ShaclResult.key)

    def _results(
        self, check: _Check, names: list[str], rows: Iterable[ox.QuerySolution]
    ) -> Iterator[ShaclResult]:
        shape = check.shape
        messages = tuple(str(m) for m in shape.messages)
        make: Callable[..., ShaclResult] = lambda focus, value, texts=messages: ShaclResult(  # noqa: E731
            focus=focus,
            path=shape.path_node,
            shape=shape.node,
            component=check.component,
            severity=shape.severity,
            value=value,
            messages=tuple(sorted(texts)),
        )
        if check.rows == "value":
            for row in rows:
                yield make(as_stated(row["this"]), as_stated(row["value"]))
        elif check.rows == "focus-value":
            for row in rows:
                focus = as_stated(row["this"])
                yield make(focus, focus)
        elif check.rows == "focus":
            for row in rows:
                yield make(as_stated(row["this"]), None)
        else:
            yield from self._sparql_results(check, names, rows)

    def _sparql_results(
        self, check: _Check, names: list[str], rows: Iterable[ox.QuerySolution]
    ) -> Iterator[ShaclResult]:
        shape, constraint = check.shape, check.sparql
        assert constraint is not None
        # pySHACL: the constraint's own messages, then the shape's (each once)
        own = [m for m in constraint.messages if m not in shape.messages]
        templates = [*own, *shape.messages]
        seen: set[tuple[Any, ...]] = set()
        for row in rows:
            bound = {name: as_stated(row[name]) for name in names if row[name] is not None}
            focus = bound.pop("this")
            path = bound.pop("path", None)
            value = bound.pop("value", None)
            key = (focus, path, value, tuple(sorted(bound.items())))
            if key in seen:  # pySHACL reports identical rows once
                continue
            seen.add(key)
            if value is None and not shape.is_property:
                value = focus
            variables = {**bound, "this": focus}
            if path is not None:
                variables["path"] = path
            if value is not None:
                variables["value"] = value
            texts = tuple(format_sparql_message(str(t), variables) for t in templates)
            yield ShaclResult(
                focus=focus,
                path=path if path is not None else shape.path_node,
                shape=shape.node,
                component=SH.SPARQLConstraintComponent,
                severity=shape.severity,
                value=value,
                messages=tuple(sorted(texts)),
            )


def _all_constraints(shape: Shape, seen: set[int] | None = None) -> Iterator[tuple[str, Any]]:
    seen = seen or set()
    if id(shape) in seen:
        return
    seen.add(id(shape))
    for kind, param in shape.constraints:
        yield kind, param
        nested = (
            [param]
            if kind == "node"
            else param
            if kind == "or"
            else [param[0]]
            if kind.startswith("qualified")
            else []
        )
        for s in nested:
            yield from _all_constraints(s, seen)
    for prop in shape.properties:
        yield from _all_constraints(prop, seen)


def _targeted(shapes: rdflib.Graph) -> set[Node]:
    found: set[Node] = set()
    for predicate in (SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf, SH.targetNode):
        found |= set(shapes.subjects(predicate, None))
    found |= set(shapes.subjects(SH.target, None))
    for cls in (RDFS.Class, rdflib.OWL.Class):
        found |= {
            s
            for s in shapes.subjects(RDF.type, cls)
            if (s, RDF.type, SH.NodeShape) in shapes or (s, RDF.type, SH.PropertyShape) in shapes
        }
    return found


_COMPILED: weakref.WeakKeyDictionary[rdflib.Graph, tuple[int, CompiledShapes]] = (
    weakref.WeakKeyDictionary()
)


def compile_shapes(shapes: rdflib.Graph) -> CompiledShapes:
    """Read ``shapes`` once; raises :class:`UnsupportedShapes` for what cannot run here.

    Compiled once per shapes graph (while it lives and keeps its size): an import validates
    each IATI activity against the same shapes, and compiling them costs more than that."""
    cached = _COMPILED.get(shapes)
    if cached is not None and cached[0] == len(shapes):
        return cached[1]
    compiled = CompiledShapes(shapes)
    _COMPILED[shapes] = (len(shapes), compiled)
    return compiled
