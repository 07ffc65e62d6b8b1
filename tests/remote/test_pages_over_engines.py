"""The pages over each engine: the resource pages, VoID, the home page (its counts, its saved
examples) and the membership sections, with the tests of ``tests/web/test_pages.py`` and
``tests/web/test_membership_pages.py`` run here unchanged on the web app over the store
interface of the engine (``create_app`` over the remote store, as ``iomkg serve --backend``
makes it); search over ``iomkg serve --backend`` itself (``tests/web/front/test_search.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from iomkg.store.remote import RemoteStore
from iomkg.web import create_app
from tests.web.front.test_search import (
    test_a_name_in_any_case_finds_the_country_first,
    test_every_page_has_the_search_box,
    test_iso_codes_find_their_country,
    test_nothing_found_says_so,
)
from tests.web.test_membership_pages import (
    test_a_country_page_shows_its_spells_and_the_count,
    test_a_page_without_memberships_has_no_section,
    test_iom_page_lists_every_member_with_start_year_and_source,
)
from tests.web.test_pages import (
    test_an_excerpt_page_is_named_by_its_line,
    test_application_xml_no_longer_means_rdf_xml,
    test_blank_nodes_are_shown_inline_never_as_a_hash,
    test_descriptions_declare_the_sd_prefix,
    test_descriptions_in_source_order_and_typed_literals_discreet,
    test_download_links_name_their_file,
    test_each_statement_links_to_its_source_line_and_titles_appear_once,
    test_every_editor_link_answers_rows,
    test_examples_that_need_a_value_link_to_their_example_not_the_editor,
    test_favicon,
    test_home_page_counts_statements_and_distinct_triples_as_void_does,
    test_jsonld_of_a_resource_has_a_context,
    test_names_for_the_graph_view_are_the_pages_names,
    test_property_names_come_from_the_ontology_else_read_well,
    test_resource_rdf_includes_nested_blank_nodes_once,
    test_turtle_writes_iris_in_full_and_declares_only_used_prefixes,
    test_void_gives_browsers_a_page_and_rdf_clients_rdf,
)

pytestmark = pytest.mark.slow

__all__ = [
    "test_a_country_page_shows_its_spells_and_the_count",
    "test_a_name_in_any_case_finds_the_country_first",
    "test_a_page_without_memberships_has_no_section",
    "test_an_excerpt_page_is_named_by_its_line",
    "test_application_xml_no_longer_means_rdf_xml",
    "test_blank_nodes_are_shown_inline_never_as_a_hash",
    "test_descriptions_declare_the_sd_prefix",
    "test_descriptions_in_source_order_and_typed_literals_discreet",
    "test_download_links_name_their_file",
    "test_each_statement_links_to_its_source_line_and_titles_appear_once",
    "test_every_editor_link_answers_rows",
    "test_every_page_has_the_search_box",
    "test_examples_that_need_a_value_link_to_their_example_not_the_editor",
    "test_favicon",
    "test_home_page_counts_statements_and_distinct_triples_as_void_does",
    "test_iom_page_lists_every_member_with_start_year_and_source",
    "test_iso_codes_find_their_country",
    "test_jsonld_of_a_resource_has_a_context",
    "test_names_for_the_graph_view_are_the_pages_names",
    "test_nothing_found_says_so",
    "test_property_names_come_from_the_ontology_else_read_well",
    "test_resource_rdf_includes_nested_blank_nodes_once",
    "test_turtle_writes_iris_in_full_and_declares_only_used_prefixes",
    "test_void_gives_browsers_a_page_and_rdf_clients_rdf",
]


@pytest.fixture(scope="module")
def app(remote: RemoteStore, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """The web app over the engine (no dumps: the pages' downloads are tested elsewhere)."""
    folder = tmp_path_factory.mktemp("pages")
    app = create_app(Settings(store_dir=folder / "none"), remote, dumps_dir=folder / "no")
    app.testing = True
    return app


@pytest.fixture(scope="module")
def seed_store(seed_built_settings: Settings) -> OxigraphStore:
    """The oracle of the tests that ask for the seed store: the embedded store of the build
    the engine holds (the build has one graph more than the seed graph, its description)."""
    release = Releases(seed_built_settings.store_root).require_current()
    return OxigraphStore.open(release.store_path, read_only=True)


@pytest.fixture
def client(app: Flask) -> Iterator[FlaskClient]:
    yield app.test_client()
