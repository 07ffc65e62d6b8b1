"""Every saved query's exact answer over each engine (see this folder's conftest): the tests of
``tests/catalog/test_answers.py`` run here unchanged, their ``ask`` being the saved-query API of
``iomkg serve --backend`` (``GET /api/queries/NAME``) and the catalogue's own call
(:func:`iomkg.catalog.run_saved`) on the store interface over the engine."""

from __future__ import annotations

import inspect

import pyoxigraph as ox
import pytest

from iomkg import catalog
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from iomkg.store.remote import RemoteStore
from tests.catalog import test_answers as catalog_answers
from tests.catalog.conftest import Ask, ask_http, asking
from tests.catalog.test_answers import (
    test_activities_per_country,
    test_activities_per_start_year,
    test_donors_of_each_activity_area_in_north_macedonia,
    test_entities_linked_to_wikidata_and_geonames,
    test_entities_without_any_external_link,
    test_every_outcome_figure_counts_once,
    test_everything_iom_does_in_north_macedonia,
    test_everything_iom_does_in_serbia,
    test_find_resources_by_code,
    test_find_resources_by_name,
    test_iom_member_states_with_membership_years,
    test_labour_migration_donors_and_channel,
    test_member_states_in_a_year_respect_every_spell,
    test_member_states_show_their_source_and_the_count_against_175,
    test_migration_health_concerns_australia_canada_and_new_zealand,
    test_migration_health_is_paid_by_self_payers,
    test_no_country_is_both_donor_and_recipient_or_host_in_the_seed_graph,
    test_ntf_has_18_funding_countries_led_by_norway,
    test_outcome_figures_of_the_ntf_project,
    test_programmes_active_between_two_dates,
    test_programmes_active_in_a_year,
    test_programmes_by_status,
    test_regulating_migration_donors_are_seven_governments,
    test_statements_of_one_source_document,
    test_the_donors_of_each_programme,
    test_the_iati_queries_find_nothing_in_the_seed_graph,
    test_timeline_of_programmes,
    test_total_funding_per_donor_and_currency,
    test_which_lines_state_a_resource,
)
from tests.engines import RunningEngine

pytestmark = pytest.mark.slow

__all__ = [
    "ask_http",
    "test_activities_per_country",
    "test_activities_per_start_year",
    "test_donors_of_each_activity_area_in_north_macedonia",
    "test_entities_linked_to_wikidata_and_geonames",
    "test_entities_without_any_external_link",
    "test_every_outcome_figure_counts_once",
    "test_everything_iom_does_in_north_macedonia",
    "test_everything_iom_does_in_serbia",
    "test_find_resources_by_code",
    "test_find_resources_by_name",
    "test_iom_member_states_with_membership_years",
    "test_labour_migration_donors_and_channel",
    "test_member_states_in_a_year_respect_every_spell",
    "test_member_states_show_their_source_and_the_count_against_175",
    "test_migration_health_concerns_australia_canada_and_new_zealand",
    "test_migration_health_is_paid_by_self_payers",
    "test_no_country_is_both_donor_and_recipient_or_host_in_the_seed_graph",
    "test_ntf_has_18_funding_countries_led_by_norway",
    "test_outcome_figures_of_the_ntf_project",
    "test_programmes_active_between_two_dates",
    "test_programmes_active_in_a_year",
    "test_programmes_by_status",
    "test_regulating_migration_donors_are_seven_governments",
    "test_statements_of_one_source_document",
    "test_the_donors_of_each_programme",
    "test_the_iati_queries_find_nothing_in_the_seed_graph",
    "test_timeline_of_programmes",
    "test_total_funding_per_donor_and_currency",
    "test_which_lines_state_a_resource",
]


@pytest.fixture(scope="module", params=["core", "http"])
def ask(
    request: pytest.FixtureRequest, engine: RunningEngine, seed_built_settings: Settings
) -> Ask:
    """One way to run a saved query over ``engine``: the catalogue's call on the store
    interface over it, or the HTTP API of ``iomkg serve --backend`` (this folder's
    ``live_server``)."""
    if request.param == "core":
        remote: RemoteStore = request.getfixturevalue("remote")
        return asking(remote, seed_built_settings, catalog.load_catalog(seed_built_settings))
    fixture: Ask = request.getfixturevalue("ask_http")
    return fixture


def test_every_answer_test_of_the_catalogue_runs_here() -> None:
    asking = {
        name
        for name, function in vars(catalog_answers).items()
        if name.startswith("test_") and "ask" in inspect.signature(function).parameters
    }
    assert asking <= set(__all__), sorted(asking - set(__all__))


def test_describe_a_resource_as_the_embedded_store_does_or_more_over_virtuoso(
    engine: RunningEngine, remote: RemoteStore, seed_built_settings: Settings
) -> None:
    """DESCRIBE's answer is the engine's choice (SPARQL 1.1, 16.4): Oxigraph's (the resource's
    own triples, blank nodes followed) is the embedded store's; Virtuoso's adds the triples
    that point at the resource (the README says so)."""
    saved = catalog.load_catalog(seed_built_settings)
    release = Releases(seed_built_settings.store_root).require_current()
    embedded = OxigraphStore.open(release.store_path, read_only=True)
    params = {"resource": "id:country/NO"}
    expected = set(
        catalog.run_saved(embedded, seed_built_settings, "describe-resource", params, saved)
    )  # type: ignore[arg-type]
    answered = set(
        catalog.run_saved(remote, seed_built_settings, "describe-resource", params, saved)
    )  # type: ignore[arg-type]
    norway = ox.NamedNode(seed_built_settings.base_iri + "id/country/NO")
    assert len(expected) == 11 and all(triple.subject == norway for triple in expected)
    if engine.kind == "virtuoso":
        assert expected < answered
        assert {t for t in answered if t.subject == norway} == expected
        assert all(triple.object == norway for triple in answered - expected)
    else:
        assert answered == expected
