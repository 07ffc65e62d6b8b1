"""Saved queries inside the server: through the isolated executor of ``iomkg serve`` (the bound
terms cross the process boundary intact; the row cap applies as on /sparql), and the catalogue
partial that the home and query pages include."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import render_template_string

from iomkg import catalog, formats
from iomkg.config import Settings
from iomkg.serving.executor import IsolatedExecutor
from iomkg.store import OxigraphStore
from iomkg.web import create_app
from tests.catalog.conftest import rows_of


@pytest.fixture(scope="module")
def executor(seed_store: OxigraphStore, settings: Settings) -> Iterator[IsolatedExecutor]:
    running = IsolatedExecutor(settings, seed_store, workers=1)
    yield running
    running.close()


def test_bound_terms_survive_the_evaluator_process(
    executor: IsolatedExecutor, settings: Settings, saved: catalog.Catalog
) -> None:
    bound = catalog.prepare(settings, "list-donors", {"programme": "id:project/ntf"}, saved)
    request = catalog.query_request(
        bound, settings, results_format=formats.by_name("json", "results"), max_rows=5
    )
    answer = executor.run_query(request, timeout=30)
    rows = rows_of(b"".join(answer.chunks))
    assert answer.truncated and answer.row_limit == 5  # the server's row cap applies
    assert [row["donorLabel"] for row in rows][:1] == ["Norway"] and len(rows) == 5
    year = catalog.prepare(settings, "list-programmes-in-year", {"year": "2013"}, saved)
    answer = executor.run_query(
        catalog.query_request(year, settings, results_format=formats.by_name("csv", "results")),
        timeout=30,
    )
    assert b"".join(answer.chunks).decode().splitlines()[1:] == [
        "2013,https://w3id.org/iomkg/id/activity/mk-roma-anti-trafficking,"
        "Initiatives to reduce the incidence of human trafficking and irregular migration among "
        "young Roma,activity,2006,"
    ]


def test_the_api_route_on_the_isolated_executor(
    executor: IsolatedExecutor,
    seed_store: OxigraphStore,
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    app = create_app(
        settings.with_overrides(store_dir=tmp_path_factory.mktemp("no-build")),
        seed_store,
        executor=executor,
    )
    response = app.test_client().get(
        "/api/queries/list-area-donors", headers={"Accept": "text/csv"}
    )
    assert response.status_code == 200, response.text
    assert response.text.count("\r\n") == 1 + 13
    refused = app.test_client().get("/api/queries/list-donors?programme=%22%7D")
    assert refused.status_code == 400 and refused.json == {
        "error": refused.json["error"],
        "parameter": "programme",
    }


def test_the_catalogue_partial_for_the_home_and_query_pages(
    seed_store: OxigraphStore,
    settings: Settings,
    saved: catalog.Catalog,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``{% include "api_examples.html" %}`` lists every saved query, linked to its example run."""
    app = create_app(
        settings.with_overrides(store_dir=tmp_path_factory.mktemp("no-build")), seed_store
    )
    with app.test_request_context("/"):
        html = render_template_string('{% include "api_examples.html" %}')
    for query in saved.values():
        assert query.title in html
    assert 'href="/api/queries/list-donors?programme=id:project/ntf"' in html
    assert 'href="/api/openapi.json"' in html
