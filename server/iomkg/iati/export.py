"""IATI 2.03 XML of the imported activities, written back from the faithful ``iati:`` layer.

The mapper (:mod:`iomkg.iati.mapper`) keeps every element and attribute of an activity in the
graph by the rules of :mod:`iomkg.iati.model`; this module walks the same rules the other way:
for each element of the standard, in the XSD's order, it reads the predicate the rule names
and writes the element back (a node's attributes and children, a code from its SKOS concept, a
date, narratives with their languages, text). What the standard does not define comes back
from where the mapper kept it: ``iati:xmlAttribute`` (``{namespace}name=value``, or
``#text=…`` for text), ``iati:xmlElement`` (the element as it was, in its schema place when it
is an IATI element the mapper could not map, at the end of its parent otherwise, where the
XSD's ``xsd:any ##other`` stands). The ontology-level statements the mapper adds on top
(fundings, labels, provenance, WKT) are not read, except the lines of the excerpts, which put
transactions, budgets and planned disbursements back in their file order.

Streamed: one activity's triples are read from the store (one query over its subtree, values
bound, never spliced), turned into an element and written by lxml's incremental writer
(``etree.xmlfile``) before the next is read; only the ordered list of activity IRIs is held.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import pyoxigraph as ox
from lxml import etree

from iomkg.config import Settings
from iomkg.iati import model
from iomkg.iati.codelists import code_of
from iomkg.iati.model import Kind
from iomkg.iati.reader import XML_NS
from iomkg.iati.schema import ElementSpec
from iomkg.store.base import GraphStore

XML_LANG = f"{{{XML_NS}}}lang"
IATI_VERSION = "2.03"
PROV_DERIVED = model.PROV + "wasDerivedFrom"
XMLLITERAL = model.RDF + "XMLLiteral"


class NothingToExport(Exception):
    """The store holds no IATI graph, or ``--graph`` names one that is not an IATI graph."""


@dataclass(frozen=True)
class ExportSummary:
    graphs: tuple[str, ...]
    activities: int


def iati_graphs(store: GraphStore, settings: Settings) -> list[str]:
    """The named graphs of imported IATI files (``graph/iati/{name}``), sorted."""
    prefix = settings.graph_iri("iati/")
    return [graph for graph in store.named_graphs() if graph.startswith(prefix)]


def chosen_graphs(store: GraphStore, settings: Settings, graph: str | None) -> list[str]:
    """The IATI graphs to export: all of them, or the one ``graph`` names (a full IRI)."""
    graphs = iati_graphs(store, settings)
    if graph is None:
        if not graphs:
            raise NothingToExport(
                "the store holds no IATI activities: import a file first (`iomkg import iati FILE`)"
            )
        return graphs
    if graph not in graphs:
        known = ", ".join(g.removeprefix(settings.graph_iri("")) for g in graphs) or "none"
        raise NothingToExport(
            f"{graph} is not an IATI graph of the store (the IATI graphs, graph/iati/NAME: "
            f"{known}; `iomkg import iati --list` lists them)"
        )
    return [graph]


def export_iati(
    store: GraphStore,
    settings: Settings,
    sink: IO[bytes],
    *,
    graph: str | None = None,
    generated: str | None = None,
) -> ExportSummary:
    """Write ``<iati-activities version="2.03">`` with every activity of the chosen IATI graphs
    (in graph order, then file order) to ``sink``, one activity at a time."""
    graphs = chosen_graphs(store, settings, graph)
    stamp = generated or dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    writer = _Writer(store, settings)
    count = 0
    with etree.xmlfile(sink, encoding="utf-8") as xml:
        xml.write_declaration()
        with xml.element("iati-activities", {"version": IATI_VERSION, "generated-datetime": stamp}):
            xml.write("\n")
            for graph_iri in graphs:
                for activity in writer.activities(graph_iri):
                    element = writer.activity(graph_iri, activity)
                    xml.write(" ", element, "\n")
                    xml.flush()
                    count += 1
    return ExportSummary(tuple(graphs), count)


@functools.cache
def _node_predicates(base_iri: str) -> tuple[str, ...]:
    """The predicates from a node to its child nodes: the path that walks an activity's subtree."""
    found = {
        model.expand(rule.predicate, base_iri)
        for rule in model.rules().values()
        if rule.kind is Kind.NODE and rule.spec.name != "iati-activity"
    }
    return tuple(sorted(found))


class _Writer:
    def __init__(self, store: GraphStore, settings: Settings) -> None:
        self.store = store
        self.base = settings.base_iri
        self.rules = model.rules()
        # The path is the model's own constant predicates (and prov:wasDerivedFrom, to the
        # excerpts and their lines); the activity and graph are bound (pyoxigraph binds
        # projected variables only, hence ?g ?activity in the projection).
        path = "|".join(f"<{iri}>" for iri in (*_node_predicates(self.base), PROV_DERIVED))
        self.subtree_query = (
            f"SELECT ?g ?activity ?s ?p ?o WHERE {{ GRAPH ?g {{ ?activity ({path})* ?s . "
            "?s ?p ?o } }"
        )
        self.line = model.expand("iomo:line", self.base)
        self.xml_attribute = model.expand("iati:xmlAttribute", self.base)
        self.xml_element = model.expand("iati:xmlElement", self.base)
        self.xml_lang = model.expand("iati:xmlLang", self.base)
        self.money_value = model.SCHEMA + "value"

    def solutions(self, query: str, bound: dict[str, ox.NamedNode]) -> ox.QuerySolutions:
        result = self.store.query(query, substitutions=bound)
        assert isinstance(result, ox.QuerySolutions)
        return result

    def activities(self, graph: str) -> Iterator[ox.NamedNode]:
        """The graph's activities in the order of the lines they start on."""
        query = (
            "SELECT ?g ?activity (MIN(?line) AS ?first) WHERE { GRAPH ?g { "
            f"?activity a <{model.expand('iomo:IatiActivity', self.base)}> ; "
            f"<{PROV_DERIVED}>/<{model.expand('iomo:line', self.base)}> ?line }} }} "
            "GROUP BY ?g ?activity ORDER BY ?first STR(?activity)"
        )
        for row in self.solutions(query, {"g": ox.NamedNode(graph)}):
            activity = row["activity"]
            assert isinstance(activity, ox.NamedNode)
            yield activity

    def activity(self, graph: str, activity: ox.NamedNode) -> etree._Element:
        bound = {"g": ox.NamedNode(graph), "activity": activity}
        triples: dict[str, dict[str, list[ox.NamedNode | ox.Literal]]] = defaultdict(
            lambda: defaultdict(list)
        )
        for row in self.solutions(self.subtree_query, bound):
            subject, predicate, obj = row["s"], row["p"], row["o"]
            if (
                isinstance(subject, ox.NamedNode)
                and isinstance(predicate, ox.NamedNode)
                and isinstance(obj, ox.NamedNode | ox.Literal)
            ):
                triples[subject.value][predicate.value].append(obj)
        lines: dict[str, int] = {}  # node -> the first line its excerpts cite
        for subject, properties in triples.items():
            for excerpt in properties.get(PROV_DERIVED, ()):
                for line in triples.get(excerpt.value, {}).get(self.line, ()):
                    number = int(line.value)
                    lines[subject] = min(number, lines.get(subject, number))
        node = _Activity(self, triples, lines)
        element = node.element(activity.value, self.rules["iati-activity"])
        node.indent(element, 1)
        return element


class _Activity:
    """One activity's triples, by subject and predicate, turned back into its element."""

    def __init__(
        self,
        writer: _Writer,
        triples: dict[str, dict[str, list[ox.NamedNode | ox.Literal]]],
        lines: dict[str, int],
    ) -> None:
        self.writer = writer
        self.base = writer.base
        self.triples = triples
        self.lines = lines
        self.language: str | None = None
        self.kept: list[etree._Element] = []  # written as they came: never re-indented

    def indent(self, element: etree._Element, level: int) -> None:
        """One space a level, as the samples are written; the kept elements' insides, and any
        text that is not whitespace, as they are."""
        children = list(element)
        if not children or any(element is kept for kept in self.kept):
            return
        inner, outer = "\n" + " " * (level + 1), "\n" + " " * level
        if not (element.text or "").strip():
            element.text = inner
        for child in children:
            self.indent(child, level + 1)
            child.tail = inner
        children[-1].tail = outer

    def prefixes(self) -> dict[str, str]:
        """The namespace prefixes the kept elements declare, declared once on the activity, so
        that its extension attributes and elements keep the file's prefixes (``dstore:``)."""
        found: dict[str, str] = {}
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        for properties in self.triples.values():
            for kept in properties.get(self.writer.xml_element, ()):
                for prefix, uri in etree.fromstring(kept.value, parser).nsmap.items():
                    if prefix is not None and uri not in found.values():
                        found.setdefault(prefix, uri)
        return found

    def objects(self, subject: str, predicate: str) -> list[ox.NamedNode | ox.Literal]:
        return self.triples.get(subject, {}).get(model.expand(predicate, self.base), [])

    def element(self, iri: str, rule: model.ElementRule) -> etree._Element:
        spec = rule.spec
        element = etree.Element(
            spec.name, nsmap=self.prefixes() if spec.name == "iati-activity" else None
        )
        if spec.name == "iati-activity":
            for lang in self.objects(iri, self.writer.xml_lang):
                element.set(XML_LANG, lang.value)
                self.language = lang.value.lower()
        for attribute in spec.attributes:
            if attribute.name == "xml:lang":
                continue
            for value in self.objects(iri, rule.attributes[attribute.name]):
                element.set(attribute.name, self.lexical(value))
        if spec.name in model.MONEY_ELEMENTS:
            for amount in self.objects(iri, self.writer.money_value):
                element.text = amount.value
        kept = self.kept_elements(iri)
        for key, text in self.kept_attributes(iri):
            if key == "#text":
                element.text = text
            else:
                element.set(key, text)
        for child in spec.children:
            if child.name == "narrative":
                if rule.narrative_predicate is not None:
                    element.extend(self.narratives(iri, rule.narrative_predicate))
            else:
                self.write_child(element, iri, self.writer.rules[child.path])
            element.extend(kept.pop(child.name, []))
        for rest in kept.values():  # extensions, and IATI elements the standard lacks here
            element.extend(rest)
        return element

    def write_child(self, parent: etree._Element, iri: str, rule: model.ElementRule) -> None:
        spec = rule.spec
        values = self.objects(iri, rule.predicate)
        if rule.kind is Kind.NODE:
            for child_iri in self.ordered_nodes(iri, spec, values):
                parent.append(self.element(child_iri, rule))
        elif rule.kind is Kind.CODE:
            for value in sorted(values, key=self.lexical):
                parent.append(etree.Element(spec.name, code=self.lexical(value)))
        elif rule.kind is Kind.DATE:
            for value in sorted(values, key=self.lexical):
                parent.append(etree.Element(spec.name, {"iso-date": value.value}))
        elif rule.kind is Kind.TEXT:
            if values:
                text = etree.SubElement(parent, spec.name)
                text.extend(self.narratives(iri, rule.predicate))
        else:
            for value in sorted(values, key=self.lexical):
                etree.SubElement(parent, spec.name).text = value.value

    def ordered_nodes(
        self, iri: str, spec: ElementSpec, values: list[ox.NamedNode | ox.Literal]
    ) -> list[str]:
        """The child nodes of one name, in file order: by position where the IRI says it
        (``…/sector/2``), by the line their excerpt cites where the IRI is keyed by content."""
        single = f"{iri}/{spec.name}"
        prefix = single + "/"
        found = [
            value.value
            for value in values
            if isinstance(value, ox.NamedNode)
            and (value.value == single or value.value.startswith(prefix))
        ]

        def order(child: str) -> tuple[int, int, str]:
            tail = child[len(prefix) :] if child.startswith(prefix) else ""
            if tail.isdigit():
                return (0, int(tail), "")
            return (self.lines.get(child, 0), 0, tail)

        return sorted(found, key=order)

    def narratives(self, iri: str, predicate: str) -> list[etree._Element]:
        literals = [
            value for value in self.objects(iri, predicate) if isinstance(value, ox.Literal)
        ]
        literals.sort(
            key=lambda lit: (lit.language != self.language, lit.language or "", lit.value)
        )
        out = []
        for literal in literals:
            narrative = etree.Element("narrative")
            if literal.language is not None and literal.language != self.language:
                narrative.set(XML_LANG, literal.language)
            narrative.text = literal.value
            out.append(narrative)
        return out

    def kept_attributes(self, iri: str) -> list[tuple[str, str]]:
        """``iati:xmlAttribute`` values as (name in Clark notation, value)."""
        found = []
        for kept in self.objects(iri, self.writer.xml_attribute):
            text = kept.value
            if text.startswith("{") and "}" in text:
                close = text.index("}")
                name, _, value = text[close + 1 :].partition("=")
                found.append((text[: close + 1] + name, value))
            else:
                name, _, value = text.partition("=")
                found.append((name, value))
        return sorted(found)

    def kept_elements(self, iri: str) -> dict[str, list[etree._Element]]:
        """``iati:xmlElement`` values parsed back, by the local name of an IATI element (its
        schema place) or by ``{namespace}name`` for the rest."""
        found: dict[str, list[etree._Element]] = defaultdict(list)
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        for kept in sorted(self.objects(iri, self.writer.xml_element), key=lambda t: t.value):
            element = etree.fromstring(kept.value, parser)
            self.kept.append(element)
            name = etree.QName(element)
            found[name.localname if name.namespace is None else element.tag].append(element)
        return found

    def lexical(self, term: ox.NamedNode | ox.Literal) -> str:
        """The XML value of an object: a concept's code, else the literal's text."""
        if isinstance(term, ox.NamedNode):
            coded = code_of(self.base, term.value)
            return coded[1] if coded is not None else term.value
        return term.value


__all__ = ["ExportSummary", "NothingToExport", "chosen_graphs", "export_iati", "iati_graphs"]
