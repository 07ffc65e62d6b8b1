"""Incremental validation: a build validates the named graphs that changed since the release it
replaces, plus whatever the shapes can reach from them, and keeps that release's results for
the rest.

Each release records its validation (``validation.json``): a key (the shapes, the validator's
code, the base IRI), a digest of every named graph's content as the build read it, and every
result it kept (a published release has no violation, but may have warnings). The next build
compares its graphs' digests with the record:

- the statements of a changed graph, as the previous release held them and as they are now,
  are the changed statements;
- a changed statement ``s p o`` matters to a focus node that a local check
  (:func:`iomkg.validator.is_local`) walks to ``s`` and then along ``p`` (or to ``o`` and
  back along ``^p``): the shapes' steps (:meth:`CompiledShapes.steps`) are followed backwards
  from those nodes in the new graph, to a fixed point, and every node met is validated again;
- the other focus nodes keep the previous release's results; the checks that are not local
  (SPARQL constraints and targets, values of a property shape's values) run in full.

Everything is validated in full when nothing can be compared: no previous release or record, a
different key, a changed ontology graph (``rdfs:subClassOf`` reaches every ``sh:class``), a
record result on a blank node (their labels are new at each parse), or most of the graph
changed (a full run is then cheaper).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
import rdflib
from rdflib.util import from_n3

from iomkg.shacl import ShaclResult, to_rdflib
from iomkg.validator import CompiledShapes

RECORD = "validation.json"
VERSION = 1
#: Above this share of the graph's statements changed, a full validation is cheaper.
MOST = 0.5

Node = ox.NamedNode | ox.BlankNode


@dataclass(frozen=True)
class Record:
    """What one release's validation was: its key, each graph's digest, the results kept."""

    key: str
    graphs: dict[str, str]
    results: list[ShaclResult]


@dataclass(frozen=True)
class Scope:
    """What a build validates: everything (``focus`` None, ``reason`` says why) or the local
    checks on ``focus`` only, keeping ``reused``; ``changed`` the graphs that differ."""

    changed: tuple[str, ...]
    focus: frozenset[Node] | None
    reused: list[ShaclResult] = field(default_factory=list)
    reason: str = ""

    @property
    def incremental(self) -> bool:
        return self.focus is not None


def validation_key(shape_texts: Iterable[bytes], validator: str, base_iri: str) -> str:
    """The key of a validation: the shapes, the validator and its code, the base IRI."""
    from iomkg import shacl, sparqljoins
    from iomkg import validator as compiled

    digest = hashlib.sha256(f"{VERSION}\n{validator}\n{base_iri}\n".encode())
    for text in shape_texts:
        digest.update(hashlib.sha256(text).digest())
    for module in (compiled, sparqljoins, shacl):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()


class GraphDigests:
    """Each named graph's digest, fed with what the build reads into it."""

    def __init__(self) -> None:
        self._digests: dict[str, hashlib._Hash] = {}

    def add(self, graph: str, data: bytes) -> None:
        self._digests.setdefault(graph, hashlib.sha256(graph.encode())).update(data)

    def add_quads(self, quads: Iterable[ox.Quad]) -> None:
        """Statements made by the build (the derived figures), in a stable order."""
        by_graph: dict[str, list[str]] = {}
        for quad in quads:
            by_graph.setdefault(str(getattr(quad.graph_name, "value", "")), []).append(str(quad))
        for graph, lines in by_graph.items():
            self.add(graph, "\n".join(sorted(lines)).encode())

    def hexdigests(self) -> dict[str, str]:
        return {graph: digest.hexdigest() for graph, digest in sorted(self._digests.items())}


def read_record(release: Path) -> Record | None:
    """The validation record of a release; None when it has none (or one of another version)."""
    try:
        data = json.loads((release / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION:
        return None
    return Record(data["key"], data["graphs"], [_result(r) for r in data["results"]])


def write_record(release: Path, record: Record) -> None:
    data = {
        "version": VERSION,
        "key": record.key,
        "graphs": record.graphs,
        "results": [_row(r) for r in record.results],
    }
    (release / RECORD).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")


def _row(result: ShaclResult) -> dict[str, object]:
    def text(node: rdflib.term.Node | None) -> str | None:
        return None if node is None else node.n3()

    return {
        "focus": text(result.focus),
        "path": text(result.path),
        "shape": text(result.shape),
        "component": text(result.component),
        "severity": text(result.severity),
        "value": text(result.value),
        "messages": list(result.messages),
    }


def _result(row: Mapping[str, object]) -> ShaclResult:
    def node(key: str) -> rdflib.term.Node | None:
        text = row.get(key)
        return None if text is None else from_n3(str(text))  # type: ignore[return-value]

    focus, shape, component, severity = (
        node(k) for k in ("focus", "shape", "component", "severity")
    )
    assert focus is not None and shape is not None and component is not None
    assert severity is not None
    return ShaclResult(
        focus=focus,
        path=node("path"),
        shape=shape,
        component=component,
        severity=severity,
        value=node("value"),
        messages=tuple(str(m) for m in row.get("messages", [])),  # type: ignore[attr-defined]
    )


def scope(
    compiled: CompiledShapes,
    validated: ox.Store,
    key: str,
    graphs: Mapping[str, str],
    previous: Path | None,
    ontology_graph: str,
) -> Scope:
    """What to validate in ``validated`` (every graph of the new release, digests ``graphs``),
    given the release at ``previous`` (its folder) and its record."""
    record = read_record(previous) if previous is not None else None
    if record is None:
        return Scope((), None, reason="no previous validation to compare with")
    changed = tuple(
        sorted(g for g in set(graphs) | set(record.graphs) if graphs.get(g) != record.graphs.get(g))
    )
    if record.key != key:
        return Scope(changed, None, reason="the shapes or the validator changed")
    if ontology_graph in changed:
        return Scope(changed, None, reason="the ontology changed")
    if any(_has_blank_node(r) for r in record.results):
        return Scope(changed, None, reason="a previous result names a blank node")
    assert previous is not None
    try:
        before = ox.Store.read_only(str(previous / "oxigraph"))  # the store as built
    except OSError:
        return Scope(changed, None, reason="the previous release's store cannot be read")
    statements = [
        quad
        for store in (before, validated)
        for graph in changed
        for quad in store.quads_for_pattern(None, None, None, ox.NamedNode(graph))
        if store is validated or not _on_blank_node(quad)  # a blank node of the old parse
    ]
    del before
    if len(statements) > MOST * max(len(validated), 1):
        return Scope(changed, None, reason="most of the graph changed")
    steps = compiled.steps()
    focus = reaching(validated, seeds(statements, steps), steps)
    focus |= {ox.NamedNode(str(n)) for n in compiled.fixed_focus() if isinstance(n, rdflib.URIRef)}
    global_checks = compiled.global_checks()
    marked = {to_rdflib(n) for n in focus}
    reused = [
        r
        for r in record.results
        if (r.shape, r.component) not in global_checks and r.focus not in marked
    ]
    return Scope(changed, frozenset(focus), reused, reason="incremental")


def _on_blank_node(quad: ox.Quad) -> bool:
    return isinstance(quad.subject, ox.BlankNode) or isinstance(quad.object, ox.BlankNode)


def _has_blank_node(result: ShaclResult) -> bool:
    return any(
        isinstance(term, rdflib.BNode)
        for term in (result.focus, result.path, result.shape, result.value)
    )


def seeds(statements: Iterable[ox.Quad], steps: frozenset[tuple[str, bool]]) -> set[Node]:
    """The nodes at which a walk along ``steps`` takes one of ``statements``."""
    found: set[Node] = set()
    for quad in statements:
        predicate = quad.predicate.value
        if (predicate, True) in steps and isinstance(quad.subject, ox.NamedNode | ox.BlankNode):
            found.add(quad.subject)
        if (predicate, False) in steps and isinstance(quad.object, ox.NamedNode | ox.BlankNode):
            found.add(quad.object)
    return found


def reaching(store: ox.Store, targets: set[Node], steps: frozenset[tuple[str, bool]]) -> set[Node]:
    """Every node of ``store`` from which a walk along ``steps`` reaches one of ``targets``
    (the targets included): the steps followed backwards, to a fixed point."""
    forward = {p for p, ahead in steps if ahead}
    backward = {p for p, ahead in steps if not ahead}
    found = set(targets)
    frontier = list(targets)
    while frontier:
        node = frontier.pop()
        met: list[object] = []
        if forward:
            met += [
                q.subject
                for q in store.quads_for_pattern(None, None, node)
                if q.predicate.value in forward
            ]
        if backward:
            met += [
                q.object
                for q in store.quads_for_pattern(node, None, None)
                if q.predicate.value in backward
            ]
        for earlier in met:
            if isinstance(earlier, ox.NamedNode | ox.BlankNode) and earlier not in found:
                found.add(earlier)
                frontier.append(earlier)
    return found
