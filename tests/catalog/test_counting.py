"""Counting over the union default graph: what the README says is what a query counts, and no
saved query answers a fact twice (a triple stated in two named graphs is one fact)."""

from __future__ import annotations

import re

import requests

from iomkg import catalog, formats
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from tests.catalog.conftest import rows_of
from tests.conftest import BASE, PROJECT_DIR
from tests.servers import LiveServer

ORGANISATIONS = """PREFIX org: <http://www.w3.org/ns/org#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT (COUNT(*) AS ?matches) (COUNT(DISTINCT ?o) AS ?organisations)
WHERE { ?o a/rdfs:subClassOf* org:Organization }"""
REFERENCE_ORGANISATIONS = """PREFIX org: <http://www.w3.org/ns/org#>
SELECT (COUNT(DISTINCT ?o) AS ?n)
WHERE { GRAPH <graph/reference/organisations> { ?o a org:Organization } }"""


def readme_figure(pattern: str) -> int:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    found = re.search(pattern, readme)
    assert found is not None, f"the README no longer says {pattern!r}"
    return int(found.group(1))


def first_row(store: OxigraphStore, sparql: str) -> dict[str, int]:
    result = store.query(sparql, base_iri=BASE)
    fmt = formats.by_name("json", "results")
    assert fmt is not None
    (row,) = rows_of(formats.serialize_to_bytes(result, fmt))
    return {name: int(value) for name, value in row.items()}


def test_count_of_organisations_agrees_with_the_readme(seed_store: OxigraphStore) -> None:
    counted = first_row(seed_store, ORGANISATIONS)
    assert counted["organisations"] == readme_figure(r"\*\*(\d+) organisations\*\*") == 21
    assert counted["organisations"] == readme_figure(r"\(the source pages name \d+ more: (\d+) in")
    # Without DISTINCT the union matches IOM once per source page that states it.
    assert counted["matches"] == readme_figure(r"org:Organization }` answers (\d+) where") == 24
    reference = first_row(seed_store, REFERENCE_ORGANISATIONS)["n"]
    assert reference == readme_figure(r"ISO codes\), (\d+) organisations") == 16
    assert reference + readme_figure(r"the source pages name (\d+) more") == 21


def test_the_readme_explains_the_union_default_graph_once() -> None:
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert readme.count("matches once per graph") == 1
    assert readme.count("**The SPARQL default graph is the union of all named graphs**") == 1


def example_runs(saved: catalog.Catalog) -> list[tuple[str, dict[str, str]]]:
    """Every saved query with its examples, but the federated one (it needs Wikidata)."""
    return [(name, query.examples()) for name, query in saved.items() if not query.services]


def test_no_saved_query_answers_a_fact_twice(
    seed_store: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    runs = example_runs(saved)
    assert len(runs) >= 15
    for name, params in runs:
        result = catalog.run_saved(seed_store, settings, name, params, saved)
        kind = formats.kind_of(result)
        fmt = formats.by_name("nt" if kind == "graph" else "csv", kind)
        assert fmt is not None
        lines = formats.serialize_to_bytes(result, fmt).decode("utf-8").splitlines()
        assert len(lines) == len(set(lines)), f"{name} {params} answers a row twice"


def test_describe_states_each_triple_once_though_two_graphs_state_it(
    seed_store: OxigraphStore, live_server: LiveServer
) -> None:
    iom = "<https://w3id.org/iomkg/id/organisation/iom>"
    stated = seed_store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ {iom} ?p ?o }}")
    fmt = formats.by_name("csv", "results")
    assert fmt is not None
    matches = int(formats.serialize_to_bytes(stated, fmt).decode().split()[1])
    distinct = first_row(
        seed_store, f"SELECT (COUNT(*) AS ?n) WHERE {{ SELECT DISTINCT ?p ?o {{ {iom} ?p ?o }} }}"
    )["n"]
    assert matches > distinct  # the union repeats what both source pages state
    answers = {
        "sparql": requests.get(
            f"{live_server.url}/sparql",
            params={"query": f"DESCRIBE {iom}"},
            headers={"Accept": "application/n-triples"},
            timeout=30,
        ),
        "api": requests.get(
            f"{live_server.url}/api/queries/describe-resource",
            params={"resource": "id:organisation/iom"},
            headers={"Accept": "application/n-triples"},
            timeout=30,
        ),
    }
    for front, response in answers.items():
        assert response.status_code == 200, (front, response.text)
        lines = [line for line in response.text.splitlines() if line.startswith(iom)]
        assert len(lines) == len(set(lines)) == distinct, front
