"""The SPARQL Protocol cases and the real clients' tests of ``tests/web/test_live.py``, run here
unchanged against ``iomkg serve --backend`` over each engine (see this folder's conftest): the
same answers, formats, refusals, row cap and time limit as over the embedded store."""

from __future__ import annotations

import pytest

from tests.web.test_live import (
    test_a_long_query_fits_by_post,
    test_construct_every_format,
    test_dataset_parameters_override_from,
    test_default_graph_is_the_union_and_graph_reaches_sources,
    test_describe,
    test_format_parameter_overrides_accept,
    test_from_and_service_never_reach_out,
    test_home_page_and_downloads,
    test_not_acceptable_lists_offers,
    test_protocol_refusals,
    test_rdflib_sparqlstore,
    test_relative_iris_resolve_against_the_base,
    test_resource_page,
    test_resources_dereference_as_rdf,
    test_row_limit_and_timeout,
    test_select_content_type_matches,
    test_service_description,
    test_sparqlwrapper_csv,
    test_sparqlwrapper_json,
    test_sparqlwrapper_jsonld,
    test_sparqlwrapper_ntriples,
    test_sparqlwrapper_post,
    test_sparqlwrapper_rdfxml,
    test_sparqlwrapper_tsv,
    test_sparqlwrapper_turtle,
    test_sparqlwrapper_xml,
    test_three_ways_to_send_a_query,
    test_updates_refused_without_a_token,
    test_updates_with_the_token,
    test_void,
)

pytestmark = pytest.mark.slow

__all__ = [
    "test_a_long_query_fits_by_post",
    "test_construct_every_format",
    "test_dataset_parameters_override_from",
    "test_default_graph_is_the_union_and_graph_reaches_sources",
    "test_describe",
    "test_format_parameter_overrides_accept",
    "test_from_and_service_never_reach_out",
    "test_home_page_and_downloads",
    "test_not_acceptable_lists_offers",
    "test_protocol_refusals",
    "test_rdflib_sparqlstore",
    "test_relative_iris_resolve_against_the_base",
    "test_resource_page",
    "test_resources_dereference_as_rdf",
    "test_row_limit_and_timeout",
    "test_select_content_type_matches",
    "test_service_description",
    "test_sparqlwrapper_csv",
    "test_sparqlwrapper_json",
    "test_sparqlwrapper_jsonld",
    "test_sparqlwrapper_ntriples",
    "test_sparqlwrapper_post",
    "test_sparqlwrapper_rdfxml",
    "test_sparqlwrapper_tsv",
    "test_sparqlwrapper_turtle",
    "test_sparqlwrapper_xml",
    "test_three_ways_to_send_a_query",
    "test_updates_refused_without_a_token",
    "test_updates_with_the_token",
    "test_void",
]
