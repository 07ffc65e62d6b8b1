"""How many member states the graph lists, against IOM's own figure, and from which source."""

from __future__ import annotations

import csv

import pyoxigraph as ox

from iomkg import memberstates, pipeline
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from tests.conftest import BASE, PROJECT_DIR, SHARED_DIR, requires_shared

pytestmark = requires_shared

VOID = "http://rdfs.org/ns/void#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
MEMBERSHIP = "graph/reference/membership"
DATASET = ox.NamedNode(BASE + "id/dataset/iom-member-states")


def cow_members_in_last_year() -> set[str]:
    """The states COW codes as members in 2014 (Serbia as Yugoslavia, 345; Germany as DE)."""
    path = SHARED_DIR / "reference" / "iom_membership_cow_igo_v3_1951-2014.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["member_in_2014"] == "1"]
    return {"RS" if row["cow_ccode"] == "345" else row["iso2"] for row in rows}


def figures(quads: list[ox.Quad]) -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for quad in quads:
        found.setdefault((quad.subject.value, quad.predicate.value), []).append(quad.object.value)
    return found


def fresh_store() -> OxigraphStore:
    return pipeline.unvalidated_store(Settings(project_dir=PROJECT_DIR, shared_dir=SHARED_DIR))


def test_the_graph_counts_its_members_against_the_175_iom_states(
    seed_store: OxigraphStore,
) -> None:
    derived = memberstates.membership_statistics(seed_store, BASE)
    assert list(derived) == [BASE + MEMBERSHIP]
    said = figures(derived[BASE + MEMBERSHIP])
    members = cow_members_in_last_year()
    assert len(members) == 155 and {"RS", "GR", "DE"} <= members
    assert said[(DATASET.value, VOID + "entities")] == [str(len(members))]
    cow_subset = DATASET.value + "/cow-igo-v3"
    assert said[(DATASET.value, VOID + "subset")] == [cow_subset]
    assert said[(cow_subset, "http://purl.org/dc/terms/source")] == [BASE + "id/dataset/cow-igo-v3"]
    assert said[(cow_subset, VOID + "entities")] == ["155"]
    figure = BASE + "id/figure/iom-member-states"  # "175 member states", both source pages
    assert said[(DATASET.value, "http://www.w3.org/2000/01/rdf-schema#seeAlso")] == [figure]
    (words,) = said[(DATASET.value, "http://purl.org/dc/terms/description")]
    assert words.startswith("The graph lists 155 of the 175 member states IOM states")
    assert "155 from Correlates of War IGO data, version 3.0" in words


def test_a_membership_from_another_source_is_counted_once_per_state() -> None:
    store = fresh_store()
    graph = ox.NamedNode(BASE + "graph/links/wikidata")
    org = "http://www.w3.org/ns/org#"

    def membership(iso: str) -> list[ox.Quad]:
        node = ox.NamedNode(f"{BASE}id/membership/iom-{iso}-wikidata")
        statements = [
            (RDF_TYPE, org + "Membership"),
            (org + "member", f"{BASE}id/country/{iso}"),
            (org + "organization", BASE + "id/organisation/iom"),
            ("http://purl.org/dc/terms/source", BASE + "id/dataset/wikidata"),
        ]
        return [ox.Quad(node, ox.NamedNode(p), ox.NamedNode(o), graph) for p, o in statements]

    store.raw.extend(membership("CN") + membership("NO"))  # China is new, Norway COW lists too
    said = figures(memberstates.membership_statistics(store, BASE)[BASE + MEMBERSHIP])
    assert said[(DATASET.value, VOID + "entities")] == ["156"]
    assert said[(DATASET.value + "/wikidata", VOID + "entities")] == ["2"]
    assert sorted(said[(DATASET.value, VOID + "subset")]) == [
        DATASET.value + "/cow-igo-v3", DATASET.value + "/wikidata"]  # fmt: skip


def test_an_ended_membership_is_not_counted() -> None:
    store = fresh_store()
    norway = BASE + "id/membership/iom-NO"
    store.update(
        "PREFIX org: <http://www.w3.org/ns/org#> PREFIX time: <http://www.w3.org/2006/time#>"
        " INSERT { GRAPH ?g { ?i time:hasEnd [ time:inXSDgYear '2010' ] } }"
        f" WHERE {{ GRAPH ?g {{ <{norway}> org:memberDuring ?i }} }}"
    )
    said = figures(memberstates.membership_statistics(store, BASE)[BASE + MEMBERSHIP])
    assert said[(DATASET.value, VOID + "entities")] == ["154"]


def test_the_build_states_the_count(built_settings: Settings) -> None:
    release = pipeline.current_release(built_settings)
    assert release is not None
    store = OxigraphStore.open(release.store_path, read_only=True)
    result = store.query(
        "SELECT ?d ?g ?n WHERE { GRAPH ?g { ?d <http://rdfs.org/ns/void#entities> ?n } }",
        substitutions={"d": DATASET, "g": ox.NamedNode(BASE + MEMBERSHIP)},
    )
    assert isinstance(result, ox.QuerySolutions)
    assert [row["n"].value for row in result] == ["155"]
