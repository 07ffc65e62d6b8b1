"""The ontology and the local concept schemes: parse, carry their metadata, match the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, OWL, RDF, RDFS, SKOS

ROOT = Path(__file__).resolve().parents[2]
BASE = "https://w3id.org/iomkg/"
IOMO = BASE + "ontology#"
ONTOLOGY = URIRef(BASE + "ontology")


def parse(path: Path) -> Graph:
    return Graph().parse(path, format="turtle", publicID=BASE)


@pytest.fixture(scope="module")
def onto() -> Graph:
    return parse(ROOT / "ontology" / "iomkg.ttl")


@pytest.fixture(scope="module")
def concepts() -> Graph:
    return parse(ROOT / "data" / "vocabulary" / "concepts.ttl")


def local_terms(g: Graph) -> set[URIRef]:
    return {s for s in g.subjects() if isinstance(s, URIRef) and str(s).startswith(IOMO)}


@pytest.mark.parametrize("rel", ["ontology/iomkg.ttl", "data/vocabulary/concepts.ttl"])
def test_parses_with_pyoxigraph_too(rel: str) -> None:
    store = ox.Store()
    store.load(path=str(ROOT / rel), format=ox.RdfFormat.TURTLE, base_iri=BASE)
    assert len(store) == len(parse(ROOT / rel))


def test_header(onto: Graph) -> None:
    assert (ONTOLOGY, RDF.type, OWL.Ontology) in onto
    assert onto.value(ONTOLOGY, OWL.versionIRI) == URIRef(BASE + "ontology/1.0.0")
    assert onto.value(ONTOLOGY, OWL.versionInfo) == Literal("1.0.0")
    for p in (DCTERMS.title, DCTERMS.description, DCTERMS.license, DCTERMS.creator):
        assert onto.value(ONTOLOGY, p) is not None, p


def test_every_local_term_is_documented(onto: Graph) -> None:
    terms = local_terms(onto)
    assert len(terms) >= 30
    for t in terms:
        assert any(
            isinstance(x, Literal) and x.language == "en" for x in onto.objects(t, RDFS.label)
        ), t
        assert any(
            isinstance(x, Literal) and x.language == "en" for x in onto.objects(t, RDFS.comment)
        ), t
        assert onto.value(t, RDFS.isDefinedBy) == ONTOLOGY, t
        kinds = set(onto.objects(t, RDF.type))
        assert kinds & {OWL.Class, OWL.ObjectProperty, OWL.DatatypeProperty, RDFS.Datatype}, t


def test_local_classes_and_properties_are_aligned(onto: Graph) -> None:
    for t in onto.subjects(RDF.type, OWL.Class):
        if str(t).startswith(IOMO):
            assert onto.value(t, RDFS.subClassOf) is not None, t
    for kind in (OWL.ObjectProperty, OWL.DatatypeProperty):
        for t in onto.subjects(RDF.type, kind):
            assert onto.value(t, RDFS.domain) is not None, t


def test_contract_names_every_local_term(onto: Graph) -> None:
    """ontology/README.md is the contract: a term the ontology defines must be documented there."""
    readme = (ROOT / "ontology" / "README.md").read_text(encoding="utf-8")
    missing = [
        str(t)[len(IOMO) :]
        for t in local_terms(onto)
        if not re.search(rf"iomo:{re.escape(str(t)[len(IOMO) :])}\b", readme)
    ]
    assert missing == []


def test_local_concepts(concepts: Graph) -> None:
    schemes = set(concepts.subjects(RDF.type, SKOS.ConceptScheme))
    assert {str(s)[len(BASE) :] for s in schemes} >= {
        "id/scheme/donor-role",
        "id/scheme/precision",
        "id/scheme/thematic-area",
        "id/scheme/indicator",
    }
    for c in concepts.subjects(RDF.type, SKOS.Concept):
        scheme = concepts.value(c, SKOS.inScheme)
        assert scheme in schemes, c
        slug = str(scheme)[len(BASE) + len("id/scheme/") :]
        assert str(c).startswith(f"{BASE}id/concept/{slug}/"), c
        assert any(x.language == "en" for x in concepts.objects(c, SKOS.prefLabel)), c
        assert concepts.value(c, SKOS.definition) is not None, c


def test_donor_roles(concepts: Graph) -> None:
    scheme = URIRef(BASE + "id/scheme/donor-role")
    roles = {str(c).rsplit("/", 1)[1] for c in concepts.subjects(SKOS.inScheme, scheme)}
    assert roles == {"lead-nation", "contributor", "external-donor", "self-payer", "donor"}
    for c in concepts.subjects(SKOS.inScheme, scheme):
        assert concepts.value(c, SKOS.broadMatch) == URIRef(
            BASE + "id/codelist/iati/OrganisationRole/1"
        )


def test_precision_and_thematic_areas(concepts: Graph) -> None:
    def slugs(scheme: str) -> set[str]:
        return {
            str(c).rsplit("/", 1)[1]
            for c in concepts.subjects(SKOS.inScheme, URIRef(BASE + f"id/scheme/{scheme}"))
        }

    assert slugs("precision") == {"exact", "more-than", "about"}
    assert slugs("thematic-area") == {
        "migration-health",
        "regulating-migration",
        "facilitating-migration",
        "counter-trafficking",
    }
