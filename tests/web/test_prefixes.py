"""The endpoint predeclares the well-known prefixes; a query's own PREFIX lines win."""

from __future__ import annotations

from pathlib import Path

from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.web import create_app


def ask(seed_store: OxigraphStore, tmp_path: Path, query: str) -> tuple[int, str]:
    app = create_app(
        Settings(store_dir=tmp_path / "none"), seed_store, dumps_dir=tmp_path / "no-dumps"
    )
    answer = app.test_client().get(
        "/sparql", query_string={"query": query}, headers={"Accept": "text/csv"}
    )
    return answer.status_code, answer.get_data(as_text=True)


def test_prefixes_are_predeclared(seed_store: OxigraphStore, tmp_path: Path) -> None:
    status, body = ask(
        seed_store,
        tmp_path,
        "SELECT ?name WHERE { <id/country/NO> skos:prefLabel ?name . ?f schema:funder "
        "<id/country/NO> ; iomo:donorRole ?role }",
    )
    assert status == 200 and "Norway" in body


def test_a_query_prefix_overrides_a_predeclared_one(
    seed_store: OxigraphStore, tmp_path: Path
) -> None:
    status, body = ask(
        seed_store,
        tmp_path,
        "PREFIX skos: <http://example.org/not-skos#> "
        "SELECT ?n WHERE { <id/country/NO> skos:prefLabel ?n }",
    )
    assert status == 200 and body.strip() == "n"


def test_error_positions_count_only_the_query_text(
    seed_store: OxigraphStore, tmp_path: Path
) -> None:
    status, body = ask(seed_store, tmp_path, "SELECT ?x WHERE { ?x ?y }")
    assert status == 400 and "line 1, column 26" in body
