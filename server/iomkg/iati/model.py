"""How each element and attribute of the IATI activity standard becomes RDF, and back.

One table, read by the mapper (XML → RDF), the exporter (RDF → XML) and the vocabulary
generator (``ontology/iati.ttl``), derived from the XSD tree (:mod:`iomkg.iati.schema`):

* an element with nothing but a ``@code`` (``<activity-status code="2"/>``) is a *code*: one
  property of its parent, whose value is the codelist's SKOS concept (or the code as text when
  no generated codelist holds it);
* an element with nothing but an ``@iso-date`` (``<transaction-date>``) is a *date*: an
  ``xsd:date`` on its parent;
* an element holding only narratives, at most once (``<title>``, a transaction's
  ``<description>``), is *text*: one literal per narrative on its parent, with its language;
* an element with only text content (``<email>``, ``<iati-identifier>``) is a *leaf*;
* everything else is a *node*: a resource with an IRI under its parent's, typed with a class,
  holding its attributes and children the same way.

Terms reuse the ontologies the project already uses where one fits (``dcterms:title``,
``dcterms:description``, ``dcterms:identifier``, ``schema:startDate``/``endDate``,
``schema:MonetaryAmount`` with ``schema:value``/``schema:currency``, ``iomo:status``,
``geo:hasGeometry``); every other element or attribute is ``iati:{lowerCamelCase name}``, and a
node's class ``iati:{UpperCamelCase name}``, in the vocabulary ``ontology/iati.ttl`` generated
from this table (its comments are the XSD's own documentation).
"""

from __future__ import annotations

import enum
import functools
import re
from dataclasses import dataclass

from iomkg.iati.schema import AttributeSpec, ElementSpec, activity_standard

DCTERMS = "http://purl.org/dc/terms/"
SCHEMA = "https://schema.org/"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XSD = "http://www.w3.org/2001/XMLSchema#"
GEO = "http://www.opengis.net/ont/geosparql#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
PROV = "http://www.w3.org/ns/prov#"
OWL = "http://www.w3.org/2002/07/owl#"
ORG = "http://www.w3.org/ns/org#"


class Kind(enum.Enum):
    CODE = "code"
    DATE = "date"
    TEXT = "text"
    LEAF = "leaf"
    NODE = "node"


#: Elements whose predicate is a term of a reused vocabulary (by element name, anywhere).
REUSED_ELEMENTS: dict[str, str] = {
    "iati-identifier": DCTERMS + "identifier",
    "title": DCTERMS + "title",
    "description": DCTERMS + "description",  # as text; an activity's typed descriptions: iati:
    "name": SCHEMA + "name",
    "comment": RDFS + "comment",
    "period-start": SCHEMA + "startDate",
    "period-end": SCHEMA + "endDate",
    "value": SCHEMA + "amount",
    "point": GEO + "hasGeometry",
    "activity-status": "iomo:status",
}
#: Attributes whose predicate is a reused term: (element name, attribute) → predicate.
REUSED_ATTRIBUTES: dict[tuple[str, str], str] = {
    ("iati-activity", "last-updated-datetime"): DCTERMS + "modified",
}
#: Classes of reused vocabularies (by element name).
REUSED_CLASSES: dict[str, str] = {
    "value": SCHEMA + "MonetaryAmount",
    "forecast": SCHEMA + "MonetaryAmount",
}
#: Elements whose narratives are a reused property of the node they describe.
NARRATIVE_PREDICATES: dict[str, str] = {
    "title": DCTERMS + "title",
    "description": DCTERMS + "description",
    "name": SCHEMA + "name",
    "comment": RDFS + "comment",
}
#: Node elements whose IRI key comes from their content (see :func:`content_key`), not position.
CONTENT_KEYED = {
    "transaction": (("transaction-type", "code"), ("transaction-date", "iso-date")),
    "budget": (("@type", ""), ("period-start", "iso-date"), ("period-end", "iso-date")),
    "planned-disbursement": (
        ("@type", ""),
        ("period-start", "iso-date"),
        ("period-end", "iso-date"),
    ),
    "period": (("period-start", "iso-date"), ("period-end", "iso-date")),
}
#: Element names that are organisation references (an ``@ref`` and names of an organisation).
ORGANISATION_REFERENCES = frozenset(
    {"reporting-org", "participating-org", "provider-org", "receiver-org", "owner-org"}
)
#: Money: an element whose text is an amount and whose attributes include @currency.
MONEY_ELEMENTS = frozenset({"value", "forecast"})


def camel(name: str, *, upper: bool = False) -> str:
    """``transaction-date`` → ``transactionDate`` (``TransactionDate`` with ``upper``).

    >>> camel("iati-identifier"), camel("xml:lang"), camel("crs-add", upper=True)
    ('iatiIdentifier', 'xmlLang', 'CrsAdd')
    """
    parts = re.split(r"[-:]", name)
    text = parts[0] + "".join(p[:1].upper() + p[1:] for p in parts[1:])
    return text[:1].upper() + text[1:] if upper else text[:1].lower() + text[1:]


@dataclass(frozen=True)
class ElementRule:
    """How one element of the standard maps."""

    spec: ElementSpec
    kind: Kind
    predicate: str  # from the parent; a full IRI, or "iati:local" for the generated vocabulary
    node_class: str | None  # for nodes
    narrative_predicate: str | None  # for nodes holding narratives
    attributes: dict[str, str]  # attribute name → predicate (nodes)


def kind_of(spec: ElementSpec) -> Kind:
    """The mapping kind of an element, from its structure in the XSD."""
    names = [a.name for a in spec.attributes]
    if not spec.children and spec.text_type is None and names == ["code"]:
        return Kind.CODE
    if not spec.children and spec.text_type is None and names == ["iso-date"]:
        return Kind.DATE
    if (
        [c.name for c in spec.children] == ["narrative"]
        and not spec.attributes
        and not spec.repeats
    ):
        return Kind.TEXT
    if not spec.children and not spec.attributes and spec.text_type is not None:
        return Kind.LEAF
    return Kind.NODE


def _element_predicate(spec: ElementSpec, kind: Kind) -> str:
    if spec.name == "description" and kind is Kind.NODE:
        return "iati:description"  # an activity's typed descriptions are nodes of their own
    return REUSED_ELEMENTS.get(spec.name, "iati:" + camel(spec.name))


def attribute_predicate(element: str, attribute: AttributeSpec | str) -> str:
    name = attribute if isinstance(attribute, str) else attribute.name
    if (element, name) in REUSED_ATTRIBUTES:
        return REUSED_ATTRIBUTES[(element, name)]
    return "iati:" + camel(name)


def rule_of(spec: ElementSpec) -> ElementRule:
    kind = kind_of(spec)
    node_class = None
    narrative_predicate = None
    if kind is Kind.NODE:
        node_class = (
            "iomo:IatiActivity"
            if spec.name == "iati-activity"
            else REUSED_CLASSES.get(spec.name, "iati:" + camel(spec.name, upper=True))
        )
        if spec.child("narrative") is not None:
            narrative_predicate = NARRATIVE_PREDICATES.get(spec.name, "iati:narrative")
    attributes = {
        a.name: attribute_predicate(spec.name, a) for a in spec.attributes if a.name != "xml:lang"
    }
    if spec.name in MONEY_ELEMENTS and "currency" in attributes:
        attributes["currency"] = SCHEMA + "currency"  # the code as text; iomo:currency, the concept
    if spec.name == "iati-activity":
        attributes["xml:lang"] = "iati:xmlLang"
    return ElementRule(
        spec=spec,
        kind=kind,
        predicate=_element_predicate(spec, kind),
        node_class=node_class,
        narrative_predicate=narrative_predicate,
        attributes=attributes,
    )


@functools.cache
def rules() -> dict[str, ElementRule]:
    """Every element position of the standard (by path below the root) and its rule."""
    return {spec.path: rule_of(spec) for spec in activity_standard().walk()}


def expand(curie_or_iri: str, base_iri: str) -> str:
    """``iati:x`` and ``iomo:x`` under the base namespace; full IRIs as they are.

    >>> expand("iati:code", "http://ex.org/"), expand("iomo:status", "http://ex.org/")
    ('http://ex.org/ontology/iati#code', 'http://ex.org/ontology#status')
    """
    prefix, _, local = curie_or_iri.partition(":")
    if prefix == "iati":
        return f"{base_iri}ontology/iati#{local}"
    if prefix == "iomo":
        return f"{base_iri}ontology#{local}"
    return curie_or_iri


def relative_path(path: str) -> str:
    """``iati-activity/transaction/value`` → ``transaction/value`` (mapping.xml's form)."""
    return path.partition("/")[2]
