"""Every element and attribute of the IATI 2.03 activity standard has its place in the graph, and
every coded value of the files of ../shared/iati links to a SKOS concept the graph holds.

The first test walks the XSD (``iati.schema``), not the mapping's own table, so an element or
attribute the mapping forgot fails it. The second reads the files with lxml and the codelists'
mapping.xml rules and asks the imported store.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
from lxml import etree

from iomkg.iati import model
from iomkg.iati.codelists import GENERATED, shipped
from iomkg.iati.model import Kind
from iomkg.iati.schema import activity_standard
from tests.conftest import requires_shared
from tests.iati.conftest import ALL_FILES, PAGE_109, Imported
from tests.iati.test_import import PAGE_109_LEFT_OUT, store_of

BASE = "https://w3id.org/iomkg/"

#: Attributes a flat element (a code, a date) does not map to a predicate of its own: the
#: element's one value is its predicate's object. A narrative's xml:lang is its literal's language
#: tag (narratives are skipped below). No other attribute of the standard lacks a predicate.
CARRIED_BY_THE_VALUE = {
    (Kind.CODE, "code"): "the code is the object (a concept, or the code as text)",
    (Kind.DATE, "iso-date"): "the date is the object (an xsd:date)",
}


def test_every_element_and_attribute_of_the_standard_has_a_rule() -> None:
    rules = model.rules()
    unmapped = []
    elements = activity_standard().walk()
    assert len(elements) > 150  # the standard's element positions, not a stub
    for spec in elements:
        rule = rules.get(spec.path)
        if rule is None:
            unmapped.append(spec.path)
            continue
        if spec.name == "narrative":
            continue  # text on its parent, with its xml:lang as the language (test_import counts)
        assert rule.predicate.startswith(("iati:", "iomo:", "http")), spec.path
        if rule.kind is Kind.NODE:
            assert rule.node_class, spec.path
        for attribute in spec.attributes:
            if attribute.name in rule.attributes:
                assert rule.attributes[attribute.name], (spec.path, attribute.name)
            elif (rule.kind, attribute.name) not in CARRIED_BY_THE_VALUE:
                unmapped.append(f"{spec.path}/@{attribute.name}")
    assert unmapped == []


def coded_values(path: Path) -> dict[str, set[str]]:
    """Codelist -> the codes the file's activities give attributes that mapping.xml assigns to
    a generated list (lxml, mapping.xml's rules with their @vocabulary conditions)."""
    codelists = shipped()
    found: dict[str, set[str]] = defaultdict(set)
    root = etree.parse(str(path)).getroot()
    activities = [root] if root.tag == "iati-activity" else root.findall("iati-activity")
    for activity in activities:
        if path == PAGE_109 and activity.findtext("iati-identifier") in PAGE_109_LEFT_OUT:
            continue
        tree = etree.ElementTree(activity)
        for element in activity.iter(tag=etree.Element):
            if etree.QName(element).namespace is not None:
                continue
            steps = tree.getpath(element).split("/")[2:]  # below iati-activity, "sector[2]"
            where = "/".join(step.split("[")[0] for step in steps)
            for name, value in element.attrib.items():
                listed = codelists.codelist_for(where, name, element.get("vocabulary"))
                if listed in GENERATED and codelists.holds(listed, value.strip()):
                    found[listed].add(value.strip())
    return found


@requires_shared
@pytest.mark.slow
def test_every_coded_value_is_a_concept_of_the_graph(imported: Imported) -> None:
    store = store_of(imported.settings)
    query = f"""
        SELECT DISTINCT ?concept ?isConcept WHERE {{
            GRAPH ?g {{ ?s ?p ?concept }}
            FILTER(STRSTARTS(STR(?g), "{BASE}graph/iati/"))
            FILTER(STRSTARTS(STR(?concept), "{BASE}id/codelist/iati/"))
            BIND(EXISTS {{ ?concept a <http://www.w3.org/2004/02/skos/core#Concept> }}
                 AS ?isConcept)
        }}"""
    used: dict[str, set[str]] = defaultdict(set)
    for row in store.query(query, use_default_graph_as_union=True):  # type: ignore[union-attr]
        assert row["isConcept"].value == "true", row["concept"].value
        name, _, code = row["concept"].value.removeprefix(f"{BASE}id/codelist/iati/").partition("/")
        used[name].add(code)
    expected: dict[str, set[str]] = defaultdict(set)
    for path in ALL_FILES:
        for name, codes in coded_values(path).items():
            expected[name] |= codes
    # every coded value of the files links (the graph adds OrganisationRole 1 for fundings and
    # organisation types of organisations resolved elsewhere, so it may use more)
    missing = {name: codes - used[name] for name, codes in expected.items() if codes - used[name]}
    assert missing == {}
    assert len(expected) == 26  # the files use a code of every generated list
