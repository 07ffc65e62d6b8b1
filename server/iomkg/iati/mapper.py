"""One IATI activity element → RDF triples under the ontology, with provenance to the line.

The element tree is walked with the rules of :mod:`iomkg.iati.model` (one per element of the
standard), so every element and attribute the standard defines has its place. What the standard
does not define is kept too, never dropped silently: elements and attributes of other
namespaces (d-portal's ``dstore:``, IOM's ``iom:``) as ``iati:xmlElement`` (an ``rdf:XMLLiteral``)
and ``iati:xmlAttribute`` (``"{namespace}name=value"``); an element or attribute of the IATI
namespace the standard lacks, or a value that does not fit its type, the same way and with a
warning. The exporter writes all of them back.

On top of that faithful layer the mapper states what the ontology says about the activity:
its English name (``skos:prefLabel``), start and end (``schema:startDate``/``endDate``, actual
dates before planned ones), an ``iomo:Funding`` for each funder (participating-org role 1, and
the provider of incoming funds or commitments), ``iomo:accountableOrganisation``,
``iomo:extendingOrganisation`` and ``iomo:implementedBy`` for roles 2, 3 and 4, each location's
point as GeoSPARQL WKT, each numeric baseline, target and actual of a result indicator as an
outcome figure (``iomo:ResultFigure``, ``{activity}/figure/{element path}``), and
``prov:wasDerivedFrom`` the excerpt (``id/source/{file}/line/{n}``)
of the line each activity, transaction, budget, amount, funding and figure is read from.

IRIs are stable: ``id/activity/{iati-identifier, percent-encoded}``; below it, each element by
name, and by position among its namesakes (``…/sector/2``) except transactions, budgets,
planned disbursements and result periods, keyed by their content (``…/transaction/11-2020-04-01``,
``…/budget/1-2020-04-01-2022-03-31``; ``-2``, ``-3`` for repeats), so the same file always gives
the same IRIs.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import quote

import pyoxigraph as ox
from lxml import etree

from iomkg.iati import model
from iomkg.iati.codelists import Codelists, concept_iri
from iomkg.iati.model import Kind
from iomkg.iati.organisations import Mention, Resolution, Resolver, choose_names, is_english
from iomkg.iati.reader import XML_NS, ActivityRecord, line_of
from iomkg.iati.schema import AttributeSpec, ElementSpec

RDF_TYPE = model.RDF + "type"
XML_LANG = f"{{{XML_NS}}}lang"
INCOMING_TRANSACTIONS = frozenset({"1", "11", "12", "13"})  # incoming funds, commitment, pledge
ROLE_PROPERTIES = {
    "2": "iomo:accountableOrganisation",
    "3": "iomo:extendingOrganisation",
    "4": "iomo:implementedBy",
}
START_TYPES, END_TYPES = ("2", "1"), ("4", "3")  # actual before planned
#: The values a result indicator reports, each an outcome figure (id/concept/result-value/{name}).
RESULT_VALUES = ("baseline", "target", "actual")
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_INTEGER = re.compile(r"^[+-]?\d+$")
_DATE = re.compile(r"^(-?\d{4,})-(\d\d)-(\d\d)(Z|[+-]\d\d:\d\d)?$")
_DATETIME = re.compile(r"^(-?\d{4,})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$")
_XSD_TYPES = {
    "decimal": "decimal",
    "date": "date",
    "dateTime": "dateTime",
    "boolean": "boolean",
    "int": "int",
    "positiveInteger": "positiveInteger",
    "nonNegativeInteger": "nonNegativeInteger",
    "anyURI": "anyURI",
}


@dataclass(frozen=True)
class Problem:
    """Something an import reports: where (file:line), which activity, what."""

    file: str
    line: int
    identifier: str | None
    message: str
    kind: str  # "schema", "mapping", "shape", "duplicate", "file"

    def describe(self) -> str:
        who = self.identifier or "(no iati-identifier)"
        return f"{self.file}:{self.line}: {who}: {self.message}"


@dataclass
class FileContext:
    """What every activity of one file shares."""

    base_iri: str
    codelists: Codelists
    resolver: Resolver
    document: str  # IRI of the file (id/source/{name})
    display: str  # how problems name the file
    namespace: str | None  # the IATI elements' namespace in this file
    language: str | None = None  # the root's xml:lang, if any
    linked_data_default: str | None = None


@dataclass
class MappedActivity:
    """An activity's triples and what was noticed on the way."""

    identifier: str
    iri: str
    line: int
    last_updated: str | None
    triples: list[ox.Triple] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)


def activity_iri(base_iri: str, identifier: str) -> str:
    """``id/activity/{iati-identifier}``, percent-encoded where an IRI path segment needs it.

    >>> activity_iri("http://ex.org/", "XM-DAC-47066-DP.2154")
    'http://ex.org/id/activity/XM-DAC-47066-DP.2154'
    >>> activity_iri("http://ex.org/", "GB-1-12 3/A")
    'http://ex.org/id/activity/GB-1-12%203%2FA'
    """
    return f"{base_iri}id/activity/{quote(identifier, safe='')}"


def identifier_of(element: etree._Element, namespace: str | None) -> str | None:
    tag = f"{{{namespace}}}iati-identifier" if namespace else "iati-identifier"
    found = element.find(tag)
    text = (found.text or "").strip() if found is not None else ""
    return text or None


def map_activity(record: ActivityRecord, context: FileContext) -> MappedActivity | None:
    """The triples of one activity, or None (with the reason in ``problems``) when it has no
    iati-identifier to name it by."""
    return _ActivityMapper(record, context).run()


class _ActivityMapper:
    def __init__(self, record: ActivityRecord, context: FileContext) -> None:
        self.record = record
        self.context = context
        self.base = context.base_iri
        self.rules = model.rules()
        self.root_rule = self.rules["iati-activity"]
        self.identifier = identifier_of(record.element, context.namespace)
        self.iri = activity_iri(self.base, self.identifier or "")
        self.triples: list[ox.Triple] = []
        self.problems: list[Problem] = []
        self.mentions: list[Mention] = []
        self.lines: set[int] = set()
        element = record.element
        lang = element.get(XML_LANG) or context.language
        self.language = lang.lower() if lang else None
        self.currency = (element.get("default-currency") or "").strip() or None
        self.titles: list[ox.Literal] = []
        self.dates: list[tuple[str, ox.Literal]] = []
        self.entities: dict[str, tuple[str, str, str | None]] = {}  # node -> (entity, kind, name)
        self.fundings: dict[str, str] = {}  # entity -> funding IRI

    # Output ---------------------------------------------------------------------------------

    def add(self, subject: str, predicate: str, obj: ox.NamedNode | ox.Literal | str) -> None:
        term = ox.NamedNode(model.expand(obj, self.base)) if isinstance(obj, str) else obj
        self.triples.append(
            ox.Triple(ox.NamedNode(subject), ox.NamedNode(model.expand(predicate, self.base)), term)
        )

    def warn(self, line: int | None, message: str, kind: str = "mapping") -> None:
        self.problems.append(
            Problem(self.context.display, line or self.record.line, self.identifier, message, kind)
        )

    def excerpt(self, line: int | None) -> str:
        number = line or self.record.line
        self.lines.add(number)
        return f"{self.context.document}/line/{number}"

    # The activity ---------------------------------------------------------------------------

    def run(self) -> MappedActivity | None:
        element = self.record.element
        if self.identifier is None:
            self.warn(line_of(element), "the activity has no iati-identifier; left out")
            return None
        self.node(element, self.root_rule, self.iri)
        self.activity_statements()
        self.add_excerpts()
        return MappedActivity(
            identifier=self.identifier,
            iri=self.iri,
            line=self.record.line,
            last_updated=(element.get("last-updated-datetime") or "").strip() or None,
            triples=self.triples,
            problems=self.problems,
            mentions=self.mentions,
        )

    def activity_statements(self) -> None:
        """What the ontology says about the activity, from what was mapped."""
        iri = self.iri
        self.add(iri, model.PROV + "wasDerivedFrom", self.excerpt(self.record.line))
        seen: set[str | None] = set()
        for title in self.titles:
            if title.language not in seen:
                seen.add(title.language)
                self.add(iri, model.SKOS + "prefLabel", title)
        for predicate, types in (("startDate", START_TYPES), ("endDate", END_TYPES)):
            for wanted in types:
                found = [date for kind, date in self.dates if kind == wanted]
                if found:
                    self.add(iri, model.SCHEMA + predicate, found[0])
                    break
        uri = (self.record.element.get("linked-data-uri") or "").strip()
        if not uri and self.context.linked_data_default:
            uri = self.context.linked_data_default + (self.identifier or "")
        if re.match(r"^https?://[^\s<>\"{}|\\^`]+$", uri):
            # schema:sameAs, not owl:sameAs: the publisher's page about the activity, whose
            # identity the graph does not verify (owl:sameAs links only to verified ids).
            self.add(iri, model.SCHEMA + "sameAs", ox.NamedNode(uri))

    def add_excerpts(self) -> None:
        for line in sorted(self.lines):
            excerpt = f"{self.context.document}/line/{line}"
            self.add(excerpt, RDF_TYPE, "iomo:Excerpt")
            self.add(excerpt, model.DCTERMS + "isPartOf", self.context.document)
            self.add(
                excerpt,
                "iomo:line",
                ox.Literal(str(line), datatype=ox.NamedNode(model.XSD + "positiveInteger")),
            )
            text = self.record.text(line)
            self.add(excerpt, model.PROV + "value", ox.Literal(text if text.strip() else "…"))

    # Elements -------------------------------------------------------------------------------

    def is_iati(self, element: etree._Element) -> bool:
        return etree.QName(element).namespace == self.context.namespace

    def node(self, element: etree._Element, rule: model.ElementRule, iri: str) -> None:
        spec = rule.spec
        assert rule.node_class is not None
        self.add(iri, RDF_TYPE, rule.node_class)
        vocabulary = element.get("vocabulary")
        money = spec.name in model.MONEY_ELEMENTS
        for key, raw in element.attrib.items():
            name = etree.QName(key)
            if (
                name.namespace == XML_NS
                and name.localname == "lang"
                and "xml:lang" in rule.attributes
            ):
                self.add(iri, rule.attributes["xml:lang"], ox.Literal(str(raw)))
                continue
            if name.namespace is not None and name.namespace != self.context.namespace:
                self.keep_attribute(iri, f"{{{name.namespace}}}{name.localname}", str(raw))
                continue
            attribute = spec.attribute(name.localname)
            if attribute is None:
                self.keep_attribute(iri, name.localname, str(raw))
                self.warn(
                    line_of(element),
                    f"<{spec.name}> has no attribute {name.localname!r} in IATI 2.03; "
                    "kept as iati:xmlAttribute",
                )
                continue
            if money and attribute.name == "currency":
                continue
            self.attribute(iri, element, rule, attribute, str(raw), vocabulary)
        if money:
            self.money(element, iri)
        elif spec.text_type is None and (stray := stray_text(element)):
            self.keep_attribute(iri, "#text", stray)
            self.warn(
                line_of(element),
                f"<{spec.name}> holds text the standard does not define; kept as iati:xmlAttribute",
            )
        self.children(element, spec, iri)
        self.after(element, spec, iri)

    def children(self, element: etree._Element, spec: ElementSpec, iri: str) -> None:
        rule = self.rules[spec.path]
        positions: Counter[str] = Counter()
        keys: Counter[tuple[str, str]] = Counter()
        for child in element.iterchildren(tag=etree.Element):
            local = etree.QName(child).localname
            if not self.is_iati(child):
                self.keep_element(iri, child)
                continue
            child_spec = spec.child(local)
            if child_spec is None:
                self.keep_element(iri, child)
                self.warn(
                    line_of(child),
                    f"<{local}> is not an element of <{spec.name}> in IATI 2.03; "
                    "kept as iati:xmlElement",
                )
                continue
            if local == "narrative":
                literal = self.narrative(child)
                if literal is not None and rule.narrative_predicate is not None:
                    self.add(iri, rule.narrative_predicate, literal)
                else:  # markup, attributes or a broken language tag: kept as it is
                    self.keep_element(iri, child)
                continue
            child_rule = self.rules[child_spec.path]
            if child_rule.kind is Kind.NODE:
                positions[local] += 1
                child_iri = f"{iri}/{local}"
                if child_spec.repeats:
                    key = self.content_key(child, local) or str(positions[local])
                    keys[(local, key)] += 1
                    repeat = keys[(local, key)]
                    suffix = f"-{repeat}" if repeat > 1 else ""
                    child_iri = f"{iri}/{local}/{key}{suffix}"
                self.add(iri, child_rule.predicate, ox.NamedNode(child_iri))
                self.node(child, child_rule, child_iri)
            elif not self.flat(child, child_rule, iri):
                self.keep_element(iri, child)

    def content_key(self, element: etree._Element, local: str) -> str | None:
        parts = model.CONTENT_KEYED.get(local)
        if parts is None:
            return None
        values = []
        for child_name, attribute in parts:
            if child_name.startswith("@"):
                value = element.get(child_name[1:])
            else:
                tag = (
                    f"{{{self.context.namespace}}}{child_name}"
                    if self.context.namespace
                    else child_name
                )
                found = element.find(tag)
                value = found.get(attribute) if found is not None else None
            values.append(quote((value or "x").strip() or "x", safe="-._~"))
        return "-".join(values)

    def flat(self, element: etree._Element, rule: model.ElementRule, parent: str) -> bool:
        """Map a code, date, text or leaf element onto its parent; False if it does not fit
        (extra attributes or children, a value of the wrong type): the caller keeps it whole."""
        spec = rule.spec
        allowed = {a.name for a in spec.attributes if a.name != "xml:lang"}
        if any(
            etree.QName(key).localname not in allowed or etree.QName(key).namespace is not None
            for key in element.attrib
        ):
            self.warn(
                line_of(element),
                f"<{spec.name}> has attributes the standard does not define there; "
                "kept whole as iati:xmlElement",
            )
            return False
        children = list(element.iterchildren(tag=etree.Element))
        if rule.kind is not Kind.LEAF and stray_text(element):
            return False  # text where the standard has none: kept whole, with it
        if rule.kind is Kind.TEXT and not children:
            return False  # an empty text element: no narrative to state, kept whole
        if rule.kind is Kind.CODE:
            code = element.get("code")
            if children or code is None:
                return False
            self.add(parent, rule.predicate, self.code(spec, "code", code, None, line_of(element)))
            return True
        if rule.kind is Kind.DATE:
            value = typed_literal(element.get("iso-date") or "", "date")
            if children or value is None:
                self.warn(
                    line_of(element),
                    f"<{spec.name} iso-date={element.get('iso-date')!r}> is not a date "
                    "(YYYY-MM-DD); kept whole as iati:xmlElement",
                )
                return False
            self.add(parent, rule.predicate, value)
            return True
        if rule.kind is Kind.TEXT:
            literals = []
            for child in children:
                if etree.QName(child).localname != "narrative" or not self.is_iati(child):
                    return False
                literal = self.narrative(child)
                if literal is None:
                    return False
                literals.append(literal)
            for literal in literals:
                self.add(parent, rule.predicate, literal)
                if spec.path == "iati-activity/title":
                    self.titles.append(literal)
            for child in children:  # the parent cites the lines its texts are read from
                self.add(parent, model.PROV + "wasDerivedFrom", self.excerpt(line_of(child)))
            return True
        # A leaf: text content only.
        if children:
            return False
        text = element.text or ""
        value = typed_literal(text, _XSD_TYPES.get(spec.text_type or "", "string"))
        if value is None:
            self.warn(
                line_of(element),
                f"<{spec.name}> {text.strip()!r} is not a valid xsd:{spec.text_type}; "
                "kept whole as iati:xmlElement",
            )
            return False
        if spec.name == "iati-identifier":
            value = ox.Literal(text.strip())
        self.add(parent, rule.predicate, value)
        return True

    def narrative(self, element: etree._Element) -> ox.Literal | None:
        if list(element.iterchildren(tag=etree.Element)) or any(
            key != XML_LANG for key in element.attrib
        ):
            self.warn(line_of(element), "a <narrative> with markup or attributes; kept whole")
            return None
        text = element.text or ""
        lang = element.get(XML_LANG)
        language = lang.lower() if lang else self.language
        if language is None:
            return ox.Literal(text)
        try:
            return ox.Literal(text, language=language)
        except ValueError:
            self.warn(line_of(element), f"xml:lang {language!r} is not a language tag")
            return None

    # Attributes and values ------------------------------------------------------------------

    def attribute(
        self,
        iri: str,
        element: etree._Element,
        rule: model.ElementRule,
        attribute: AttributeSpec,
        raw: str,
        vocabulary: str | None,
    ) -> None:
        path = model.relative_path(rule.spec.path)
        codelist = self.context.codelists.codelist_for(path, attribute.name, vocabulary)
        term: ox.NamedNode | ox.Literal | None
        if codelist is not None:
            term = self.code(rule.spec, attribute.name, raw, vocabulary, line_of(element))
        else:
            term = typed_literal(raw, _XSD_TYPES.get(attribute.xsd_type, "string"))
        if term is None:
            self.keep_attribute(iri, attribute.name, raw)
            self.warn(
                line_of(element),
                f"@{attribute.name}={raw!r} of <{rule.spec.name}> is not a valid "
                f"xsd:{attribute.xsd_type}; kept as iati:xmlAttribute",
            )
            return
        self.add(iri, rule.attributes[attribute.name], term)

    def code(
        self,
        spec: ElementSpec,
        attribute: str,
        raw: str,
        vocabulary: str | None,
        line: int | None,
        *,
        quiet: bool = False,
    ) -> ox.NamedNode | ox.Literal:
        """A code's SKOS concept where a generated codelist holds it, else the code as text."""
        code = raw.strip()
        codelists = self.context.codelists
        name = codelists.codelist_for(model.relative_path(spec.path), attribute, vocabulary)
        if name is not None and codelists.is_generated(name):
            if codelists.holds(name, code):
                return ox.NamedNode(concept_iri(self.base, name, code))
            if not quiet:
                self.warn(
                    line,
                    f"code {code!r} of <{spec.name} {attribute}> is not in the IATI {name} "
                    "codelist; kept as text",
                )
        return ox.Literal(raw)

    def money(self, element: etree._Element, iri: str) -> None:
        amount = typed_literal(element.text or "", "decimal")
        if amount is None:
            self.warn(line_of(element), f"<value> {element.text!r} is not an amount; kept as text")
            self.keep_attribute(iri, "#text", element.text or "")
        else:
            self.add(iri, model.SCHEMA + "value", amount)
        currency = (element.get("currency") or "").strip() or self.currency
        if currency is None:
            self.warn(line_of(element), "an amount without a currency, and no default-currency")
        else:
            self.add(iri, model.SCHEMA + "currency", ox.Literal(currency))
            if self.context.codelists.holds("Currency", currency):
                self.add(iri, "iomo:currency", concept_iri(self.base, "Currency", currency))
            else:
                self.warn(line_of(element), f"currency {currency!r} is not an ISO 4217 code")
        self.add(iri, model.PROV + "wasDerivedFrom", self.excerpt(line_of(element)))

    def keep_attribute(self, iri: str, name: str, value: str) -> None:
        self.add(iri, "iati:xmlAttribute", ox.Literal(f"{name}={value}"))

    def keep_element(self, iri: str, element: etree._Element) -> None:
        """The element as it is, as an XML literal; the IATI elements in it without the file's
        namespace (a file may write them in one), as IATI 2.03 writes them."""
        text = etree.tostring(
            without_namespace(element, self.context.namespace), encoding="unicode", with_tail=False
        )
        self.add(
            iri,
            "iati:xmlElement",
            ox.Literal(text, datatype=ox.NamedNode(model.RDF + "XMLLiteral")),
        )

    # What the ontology says about particular elements ---------------------------------------

    def after(self, element: etree._Element, spec: ElementSpec, iri: str) -> None:
        name = spec.name
        if name in model.ORGANISATION_REFERENCES:
            self.organisation(element, spec, iri)
        if name == "activity-date":
            date = typed_literal(element.get("iso-date") or "", "date")
            if date is not None:
                self.dates.append(((element.get("type") or "").strip(), date))
        elif name == "point":
            self.point(element, iri)
        elif name == "recipient-country":
            self.recipient_country(element)
        elif name in RESULT_VALUES and spec.path.startswith("iati-activity/result/indicator/"):
            self.result_figure(element, iri)
        elif name in ("transaction", "budget", "planned-disbursement"):
            self.add(iri, model.PROV + "wasDerivedFrom", self.excerpt(line_of(element)))
            self.add(iri, model.DCTERMS + "isPartOf", self.iri)
        if name == "transaction":
            self.transaction_funding(element, iri)

    def result_figure(self, element: etree._Element, iri: str) -> None:
        """A baseline, target or actual value of a result indicator as an outcome figure
        (``iomo:ResultFigure``): the number, what it counts (the indicator's title), the
        indicator a query groups by, its period (or the baseline's date), its dimensions.

        Only a numeric ``@value`` makes a figure; a qualitative one (or none) stays in the
        ``iati:`` layer only, as does an indicator without a title to say what it counts."""
        value = typed_literal(element.get("value") or "", "decimal")
        kind = etree.QName(element).localname
        holder = element.getparent()
        indicator = holder.getparent() if kind != "baseline" and holder is not None else holder
        if value is None or indicator is None:
            return
        titles = self.titles_of(indicator)
        if not titles:
            return
        indicator_iri = iri.rsplit("/baseline/" if kind == "baseline" else "/period/", 1)[0]
        figure = f"{self.iri}/figure/{iri[len(self.iri) + 1 :].replace('/', '-')}"
        self.add(figure, RDF_TYPE, "iomo:ResultFigure")
        self.add(figure, model.SCHEMA + "value", value)
        for title in titles:
            self.add(figure, "iomo:counts", title)
        self.add(figure, "iomo:figureOf", self.iri)
        self.add(figure, "iomo:resultIndicator", indicator_iri)
        self.add(figure, model.DCTERMS + "type", f"{self.base}id/concept/result-value/{kind}")
        self.add(figure, "iomo:precision", f"{self.base}id/concept/precision/exact")
        self.add(figure, model.DCTERMS + "source", iri)
        when = ""
        if kind == "baseline":
            date = typed_literal(element.get("iso-date") or "", "date")
            year = (element.get("year") or "").strip()
            if date is None and re.fullmatch(r"\d{4}", year):
                date = ox.Literal(year, datatype=ox.NamedNode(model.XSD + "gYear"))
            if date is not None:
                self.add(figure, model.DCTERMS + "date", date)
                when = f" ({date.value})"
        elif holder is not None:
            start, end = (self.date_of(holder, name) for name in ("period-start", "period-end"))
            if start is not None:
                self.add(figure, model.SCHEMA + "startDate", start)
            if end is not None:
                self.add(figure, model.SCHEMA + "endDate", end)
            if start is not None and end is not None:
                when = f" ({start.value} to {end.value})"
        position = 0
        for child in element.iterchildren(tag=etree.Element):
            name, text = child.get("name"), child.get("value")
            if etree.QName(child).localname != "dimension" or not self.is_iati(child):
                continue
            if name is None or text is None:
                continue
            position += 1
            dimension = f"{figure}/dimension/{position}"
            self.add(figure, model.SCHEMA + "additionalProperty", dimension)
            self.add(dimension, RDF_TYPE, model.SCHEMA + "PropertyValue")
            self.add(dimension, model.SCHEMA + "name", ox.Literal(name))
            self.add(dimension, model.SCHEMA + "value", ox.Literal(text))
            self.add(dimension, model.PROV + "wasDerivedFrom", self.excerpt(line_of(child)))
        shown = " ".join(
            next((t for t in titles if is_english(t.language)), titles[0]).value.split()
        )
        label = f"{self.identifier}: {kind} {value.value}{when} of \u201c{shown}\u201d"
        self.add(figure, model.SKOS + "prefLabel", ox.Literal(label, language="en"))
        self.add(figure, model.PROV + "wasDerivedFrom", self.excerpt(line_of(element)))

    def titles_of(self, element: etree._Element) -> list[ox.Literal]:
        """The narratives of an element's <title>, each with its language, once each."""
        found: list[ox.Literal] = []
        for title in element.iterchildren(tag=etree.Element):
            if etree.QName(title).localname != "title" or not self.is_iati(title):
                continue
            for child in title.iterchildren(tag=etree.Element):
                if etree.QName(child).localname != "narrative" or not (child.text or "").strip():
                    continue
                literal = self.narrative_quiet(child) or ox.Literal(child.text or "")
                if literal not in found and all(
                    other.language != literal.language for other in found
                ):
                    found.append(literal)
        return found

    def date_of(self, element: etree._Element, child_name: str) -> ox.Literal | None:
        tag = f"{{{self.context.namespace}}}{child_name}" if self.context.namespace else child_name
        found = element.find(tag)
        return typed_literal(found.get("iso-date") or "", "date") if found is not None else None

    def organisation(self, element: etree._Element, spec: ElementSpec, iri: str) -> None:
        ref = (element.get("ref") or "").strip() or None
        names = [
            (literal.value, literal.language)
            for child in element.iterchildren(tag=etree.Element)
            if etree.QName(child).localname == "narrative" and self.is_iati(child)
            for literal in [self.narrative_quiet(child)]
            if literal is not None
        ]
        type_code = element.get("type")
        type_term = (
            self.code(spec, "type", type_code, None, line_of(element), quiet=True)
            if type_code
            else None
        )
        type_concept = type_term.value if isinstance(type_term, ox.NamedNode) else None
        resolution = self.context.resolver.resolve(ref)
        preferred, _others = choose_names(names)
        if resolution is not None:
            entity, kind = resolution.iri, resolution.kind
            if kind in ("minted", "reference"):  # described (or linked) in iati-organisations
                self.mentions.append(
                    Mention(ref or "", type_concept, tuple(names), self.context.document)
                )
        else:
            entity, kind = self.local_organisation(element, spec, iri, names, type_concept), "local"
            if ref is not None:
                self.warn(
                    line_of(element),
                    f"@ref {ref!r} of <{spec.name}> is not an IATI organisation identifier "
                    "({agency}-{number}); the organisation is kept as named here only",
                )
        self.add(iri, "iomo:organisation", entity)
        shown = preferred or next((text for text, _lang in names if text.strip()), None) or ref
        self.entities[iri] = (entity, kind, shown)
        if spec.name == "reporting-org":
            self.add(self.iri, model.DCTERMS + "publisher", entity)
        if spec.name == "participating-org":
            role = (element.get("role") or "").strip()
            if role == "1":
                self.funding(entity, resolution, iri, shown, line_of(element))
            elif role in ROLE_PROPERTIES and kind != "state":
                self.add(self.iri, ROLE_PROPERTIES[role], entity)

    def narrative_quiet(self, element: etree._Element) -> ox.Literal | None:
        lang = element.get(XML_LANG)
        language = lang.lower() if lang else self.language
        try:
            return ox.Literal(element.text or "", language=language) if language else None
        except ValueError:
            return None

    def local_organisation(
        self,
        element: etree._Element,
        spec: ElementSpec,
        iri: str,
        names: list[tuple[str, str | None]],
        type_concept: str | None,
    ) -> str:
        """An organisation named by one reference only (no usable identifier)."""
        entity = f"{iri}/organisation"
        preferred, others = choose_names(names)
        label = preferred or (
            f"An organisation without an identifier, named in <{spec.name}> of {self.identifier}"
        )
        self.add(entity, RDF_TYPE, model.ORG + "Organization")
        self.add(entity, model.SKOS + "prefLabel", ox.Literal(label, language="en"))
        for text, lang in others:
            self.add(entity, model.SKOS + "altLabel", ox.Literal(text, language=lang))
        if type_concept is not None:
            self.add(entity, "iomo:iatiOrganisationType", ox.NamedNode(type_concept))
        self.add(entity, model.PROV + "wasDerivedFrom", self.excerpt(line_of(element)))
        return entity

    def funding(
        self,
        entity: str,
        resolution: Resolution | None,
        reference: str,
        name: str | None,
        line: int | None,
    ) -> None:
        funding = self.fundings.get(entity)
        if funding is None:
            key = (
                quote(resolution_ref(resolution, entity), safe="")
                if resolution is not None
                else reference[len(self.iri) + 1 :].replace("/", "-")
            )
            funding = f"{self.iri}/funding/{key}"
            self.fundings[entity] = funding
            self.add(funding, RDF_TYPE, "iomo:Funding")
            self.add(funding, model.SCHEMA + "funder", entity)
            self.add(funding, model.SCHEMA + "fundedItem", self.iri)
            self.add(funding, "iomo:donorRole", f"{self.base}id/concept/donor-role/donor")
            self.add(
                funding,
                "iomo:iatiOrganisationRole",
                concept_iri(self.base, "OrganisationRole", "1"),
            )
            label = f"{name or 'an organisation'} funding {self.identifier}"
            self.add(funding, model.SKOS + "prefLabel", ox.Literal(label, language="en"))
        self.add(funding, model.PROV + "wasDerivedFrom", self.excerpt(line))

    def transaction_funding(self, element: etree._Element, iri: str) -> None:
        """The provider of incoming funds or an incoming commitment funds the activity."""
        tag = (
            f"{{{self.context.namespace}}}transaction-type"
            if self.context.namespace
            else "transaction-type"
        )
        kind = element.find(tag)
        code = (kind.get("code") or "").strip() if kind is not None else ""
        provider = self.entities.get(f"{iri}/provider-org")
        if code in INCOMING_TRANSACTIONS and provider is not None:
            entity, _kind, name = provider
            resolution = self.context.resolver.resolve(self.provider_ref(element))
            self.funding(entity, resolution, f"{iri}/provider-org", name, line_of(element))

    def provider_ref(self, element: etree._Element) -> str | None:
        tag = (
            f"{{{self.context.namespace}}}provider-org"
            if self.context.namespace
            else "provider-org"
        )
        found = element.find(tag)
        return (found.get("ref") or "").strip() or None if found is not None else None

    def recipient_country(self, element: etree._Element) -> None:
        """The activity takes place in the graph's country of that ISO code (schema:location,
        as the seed's projects), found by the code alone: a map or a count by country sees
        IATI activities and projects alike."""
        country = self.context.resolver.index.countries.get((element.get("code") or "").strip())
        if country is not None:
            self.add(self.iri, model.SCHEMA + "location", country)

    def point(self, element: etree._Element, iri: str) -> None:
        tag = f"{{{self.context.namespace}}}pos" if self.context.namespace else "pos"
        pos = element.find(tag)
        parts = (pos.text or "").split() if pos is not None else []
        if len(parts) != 2 or not all(_DECIMAL.match(p) for p in parts):
            self.warn(
                line_of(element),
                f"<pos> {pos.text if pos is not None else None!r} is "
                "not 'latitude longitude'; no WKT for this point",
            )
            return
        latitude, longitude = parts
        srs = (element.get("srsName") or "").strip()
        if srs in ("", "http://www.opengis.net/def/crs/EPSG/0/4326"):
            wkt = f"POINT({longitude} {latitude})"  # WKT's default CRS (CRS84) is longitude first
        else:
            wkt = f"<{srs}> POINT({latitude} {longitude})"
        self.add(
            iri,
            model.GEO + "asWKT",
            ox.Literal(wkt, datatype=ox.NamedNode(model.GEO + "wktLiteral")),
        )


def stray_text(element: etree._Element) -> str:
    """Text between an element's children or inside an element that holds none (pieces
    stripped, joined by a space); "" when there is only whitespace."""
    pieces = [element.text, *(child.tail for child in element)]
    return " ".join(piece.strip() for piece in pieces if piece and piece.strip())


def without_namespace(element: etree._Element, namespace: str | None) -> etree._Element:
    """``element`` itself when the file's IATI elements have no namespace, else a copy with
    that namespace taken off its elements and attributes."""
    if namespace is None:
        return element
    duplicate = copy.deepcopy(element)
    for node in duplicate.iter(tag=etree.Element):
        if etree.QName(node).namespace == namespace:
            node.tag = etree.QName(node).localname
        for key in list(node.attrib):
            if etree.QName(key).namespace == namespace:
                node.attrib[etree.QName(key).localname] = node.attrib.pop(key)
    etree.cleanup_namespaces(duplicate)
    return duplicate


def resolution_ref(resolution: Resolution, entity: str) -> str:
    """The identifier a resolved entity's funding is keyed by (the tail of a minted IRI, else
    the entity's own last path segment)."""
    return entity.rsplit("/", 1)[-1]


def typed_literal(raw: str, xsd_type: str) -> ox.Literal | None:
    """A literal of the XSD type, or None when ``raw`` is not a valid value of it.

    >>> typed_literal(" 1459753.72 ", "decimal").value, typed_literal("1", "boolean").value
    ('1459753.72', 'true')
    >>> typed_literal("2020-02-30", "date") is None, typed_literal("yes", "boolean") is None
    (True, True)
    """
    value = raw.strip()
    datatype = ox.NamedNode(model.XSD + xsd_type)
    if xsd_type == "decimal":
        return ox.Literal(value, datatype=datatype) if _DECIMAL.match(value) else None
    if xsd_type in ("int", "positiveInteger", "nonNegativeInteger"):
        if not _INTEGER.match(value):
            return None
        number = int(value)
        low = {"int": -(2**31), "positiveInteger": 1, "nonNegativeInteger": 0}[xsd_type]
        if number < low or (xsd_type == "int" and number >= 2**31):
            return None
        return ox.Literal(value, datatype=datatype)
    if xsd_type == "boolean":
        canonical = {"1": "true", "true": "true", "0": "false", "false": "false"}.get(value)
        return ox.Literal(canonical, datatype=datatype) if canonical else None
    if xsd_type == "date":
        match = _DATE.match(value)
        if not match or not _real_date(*match.groups()[:3]):
            return None
        return ox.Literal(value, datatype=datatype)
    if xsd_type == "dateTime":
        match = _DATETIME.match(value)
        if not match or not _real_date(*match.groups()[:3]) or int(match.group(4)) > 24:
            return None
        return ox.Literal(value, datatype=datatype)
    if xsd_type == "anyURI":
        return ox.Literal(value, datatype=datatype)
    return ox.Literal(raw)


def _real_date(year: str, month: str, day: str) -> bool:
    try:
        dt.date(int(year) if int(year) > 0 else 1, int(month), int(day))
    except ValueError:
        return False
    return True


__all__ = [
    "FileContext",
    "MappedActivity",
    "Problem",
    "activity_iri",
    "is_english",
    "map_activity",
    "typed_literal",
]
