"""The IATI 2.03 activity standard as data: its element tree read from the XSD, and validation.

Why read the XSD rather than hand-write the element list: the schema *is* the standard's list of
elements and attributes, in their order, with their types and documentation. Mapping, export,
the generated vocabulary (``ontology/iati.ttl``) and the completeness test all walk this one
tree, so nothing the standard defines can be forgotten by one of them.

The schema files travel with the package (``iomkg/iati/standard``, CC BY 4.0, copied from
``shared/iati`` by ``iomkg generate``), so validation needs no network and no ``shared/`` folder.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from lxml import etree

from iomkg.iati.reader import line_of

STANDARD_DIR = Path(__file__).resolve().parent / "standard"
SCHEMA_DIR = STANDARD_DIR / "schema-2.03"
ACTIVITIES_XSD = SCHEMA_DIR / "iati-activities-schema.xsd"
SCHEMA_FILES = ("iati-activities-schema.xsd", "iati-common.xsd", "xml.xsd")

XS = "{http://www.w3.org/2001/XMLSchema}"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XML_LANG = f"{{{XML_NS}}}lang"


@dataclass(frozen=True)
class AttributeSpec:
    """One attribute the standard defines on an element."""

    name: str  # the local name; ``xml:lang`` for the XML namespace's attribute
    xsd_type: str  # e.g. "decimal", "date", "dateTime", "boolean", "anyURI", "string"
    required: bool
    documentation: str


@dataclass(frozen=True)
class ElementSpec:
    """One element of the activity standard, at one place in the tree."""

    name: str
    path: str  # "iati-activity/transaction/value"
    min_occurs: int
    max_occurs: int | None  # None: unbounded
    attributes: tuple[AttributeSpec, ...]
    children: tuple[ElementSpec, ...]
    text_type: str | None  # the simple content's type ("decimal", "string"), None if none
    documentation: str

    @property
    def repeats(self) -> bool:
        return self.max_occurs is None or self.max_occurs > 1

    def attribute(self, name: str) -> AttributeSpec | None:
        return next((a for a in self.attributes if a.name == name), None)

    def child(self, name: str) -> ElementSpec | None:
        return next((c for c in self.children if c.name == name), None)

    def walk(self) -> list[ElementSpec]:
        """This element and every element below it, depth first in schema order."""
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


class _SchemaReader:
    """Resolves the XSD's global elements, types and attributes (both files, one namespace)."""

    def __init__(self, directory: Path) -> None:
        self.elements: dict[str, etree._Element] = {}
        self.types: dict[str, etree._Element] = {}
        self.attributes: dict[str, etree._Element] = {}
        for name in ("iati-activities-schema.xsd", "iati-common.xsd"):
            # The package's own schema files, not untrusted input.
            root = etree.parse(str(directory / name)).getroot()
            for node in root.iterchildren(tag=etree.Element):
                kind = {"element": self.elements, "complexType": self.types}.get(
                    etree.QName(node).localname
                )
                if etree.QName(node).localname == "attribute":
                    kind = self.attributes
                if kind is not None and node.get("name"):
                    kind[node.get("name", "")] = node

    def element(self, declaration: etree._Element, parent_path: str) -> ElementSpec:
        reference = declaration.get("ref")
        target = self.elements[reference] if reference else declaration
        name = reference or declaration.get("name") or ""
        path = f"{parent_path}/{name}" if parent_path else name
        complex_type = target.find(f"{XS}complexType")
        if complex_type is None and target.get("type") in self.types:
            complex_type = self.types[target.get("type", "")]
        text_type = None
        attributes: list[AttributeSpec] = []
        children: list[ElementSpec] = []
        if complex_type is not None:
            text_type, attributes, particles = self._content(complex_type)
            children = [self.element(particle, path) for particle in particles]
        elif target.get("type"):
            text_type = _local_type(target.get("type", ""))
        maximum = declaration.get("maxOccurs", "1")
        return ElementSpec(
            name=name,
            path=path,
            min_occurs=int(declaration.get("minOccurs", "1")),
            max_occurs=None if maximum == "unbounded" else int(maximum),
            attributes=tuple(attributes),
            children=tuple(children),
            text_type=text_type,
            documentation=_documentation(declaration)
            or _documentation(target)
            or (_documentation(complex_type) if complex_type is not None else ""),
        )

    def _content(
        self, complex_type: etree._Element
    ) -> tuple[str | None, list[AttributeSpec], list[etree._Element]]:
        """(text type, attributes, child element declarations) of a complex type."""
        text_type: str | None = None
        attributes = self._attributes(complex_type)
        particles = self._particles(complex_type)
        for content in complex_type.findall(f"{XS}simpleContent") + complex_type.findall(
            f"{XS}complexContent"
        ):
            extension = next(content.iterchildren(tag=etree.Element))
            base = extension.get("base", "")
            if base in self.types:
                base_text, base_attributes, base_particles = self._content(self.types[base])
                text_type = base_text
                attributes = base_attributes + attributes
                particles = base_particles + particles
            elif etree.QName(content).localname == "simpleContent":
                text_type = _local_type(base)
            attributes += self._attributes(extension)
            particles += self._particles(extension)
        return text_type, attributes, particles

    def _particles(self, node: etree._Element) -> list[etree._Element]:
        found = []
        for group in node.iterchildren(tag=etree.Element):
            if etree.QName(group).localname in ("sequence", "choice", "all"):
                found += [child for child in group if child.tag == f"{XS}element"]
        return found

    def _attributes(self, node: etree._Element) -> list[AttributeSpec]:
        found = []
        for attribute in node.findall(f"{XS}attribute"):
            reference = attribute.get("ref")
            if reference == "xml:lang":
                found.append(AttributeSpec("xml:lang", "language", False, "The language."))
                continue
            target = self.attributes[reference] if reference else attribute
            found.append(
                AttributeSpec(
                    name=reference or attribute.get("name") or "",
                    xsd_type=_local_type(target.get("type") or "xsd:string"),
                    required=attribute.get("use") == "required",
                    documentation=_documentation(attribute) or _documentation(target),
                )
            )
        return found


def _local_type(qualified: str) -> str:
    return qualified.split(":", 1)[-1]


def _documentation(node: etree._Element | None) -> str:
    if node is None:
        return ""
    text = node.findtext(f"{XS}annotation/{XS}documentation") or ""
    return re.sub(r"\s+", " ", text).strip()


@functools.cache
def activity_standard(directory: Path = SCHEMA_DIR) -> ElementSpec:
    """The ``iati-activity`` element and everything below it, as the XSD defines them."""
    reader = _SchemaReader(directory)
    declaration = etree.Element(f"{XS}element", ref="iati-activity")
    return reader.element(declaration, "")


@functools.cache
def activities_root(directory: Path = SCHEMA_DIR) -> ElementSpec:
    """The ``iati-activities`` root (its attributes: version, generated-datetime, …)."""
    reader = _SchemaReader(directory)
    return reader.element(etree.Element(f"{XS}element", ref="iati-activities"), "")


@functools.cache
def validator(directory: Path = SCHEMA_DIR) -> etree.XMLSchema:
    """The compiled XSD 2.03 (``xml.xsd`` is imported from the same folder, never fetched)."""
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    document = etree.parse(str(directory / "iati-activities-schema.xsd"), parser)
    return etree.XMLSchema(document)


@dataclass(frozen=True)
class SchemaProblem:
    """One XSD error: where in the file, and what the schema says."""

    line: int
    message: str


def validate_activity(activity: etree._Element) -> list[SchemaProblem]:
    """The XSD errors of one activity (already in no namespace), wrapped in a minimal root.

    The line numbers are the element's lines in the original file: the copy keeps them.
    """
    wrapper = etree.Element("iati-activities", version="2.03")
    wrapper.append(activity)
    try:
        schema = validator()
        schema.validate(wrapper)
        return [
            SchemaProblem(error.line or line_of(activity) or 0, error.message)
            for error in cast(Iterable[etree._LogEntry], schema.error_log)
        ]
    finally:
        wrapper.remove(activity)
