"""Values crafted to break out of a string or an IRI are refused or matched literally; the store
never changes. grlc splices values into the query text (its issue #101); we bind RDF terms."""

from __future__ import annotations

import hashlib

import pyoxigraph as ox
import pytest

from iomkg import catalog, formats
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from tests.catalog.conftest import Rows, rows_of, run_cli

#: Each tries to end the string or IRI it would be spliced into and run an update or a new pattern.
BREAKOUTS = [
    '" } DROP ALL #',
    "' } DROP ALL #",
    '""" } ; DROP ALL ; SELECT * { """',
    '\\" } DROP ALL #',
    'Norway" . } DROP ALL { ?s ?p "x',
    "Norway\n} DROP ALL #\n",
    'x") } INSERT DATA { <urn:a> <urn:b> <urn:c> } #',
    "%22%7D%20DROP%20ALL",
    "\u0000",
]
#: The same idea aimed at an IRI; none of these is an IRI, so each is refused.
IRI_BREAKOUTS = [
    "https://w3id.org/iomkg/id/project/ntf> } DROP ALL #",
    "id:project/ntf> ?p ?o } ; DROP ALL ; SELECT * { <urn:x",
    "<https://w3id.org/iomkg/id/project/ntf>",
    'https://w3id.org/iomkg/id/project/ntf" } DROP ALL #',
    "https://w3id.org/iomkg/id/project/ntf\nDROP ALL",
    "https://w3id.org/iomkg/id/project/{ntf}",
    "DROP ALL",
]


def digest(store: OxigraphStore) -> str:
    """A fingerprint of every quad: equal fingerprints, unchanged store."""
    lines = sorted(str(quad) for quad in store.raw)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def select_rows(result: object) -> Rows:
    assert isinstance(result, ox.QuerySolutions)
    return rows_of(formats.serialize_to_bytes(result, formats.by_name("json", "results")))  # type: ignore[arg-type]


@pytest.fixture
def store_copy(seed_store: OxigraphStore) -> OxigraphStore:
    """A private in-memory copy of the seed graph, so adding a trap changes nobody else's store."""
    copy = OxigraphStore.in_memory()
    copy.raw.extend(seed_store.raw)
    return copy


@pytest.mark.parametrize("value", BREAKOUTS)
def test_text_that_tries_to_break_out_is_matched_literally(
    value: str, store_copy: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    before = digest(store_copy)
    result = catalog.run_saved(store_copy, settings, "search-labels", {"text": value}, saved)
    assert select_rows(result) == []  # no label contains it: it was text, not SPARQL
    assert digest(store_copy) == before


@pytest.mark.parametrize("value", BREAKOUTS)
def test_text_that_tries_to_break_out_finds_exactly_a_label_holding_it(
    value: str, store_copy: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    trap = ox.NamedNode("urn:test:trap")
    store_copy.raw.add(
        ox.Quad(trap, ox.NamedNode("http://www.w3.org/2000/01/rdf-schema#label"), ox.Literal(value))
    )
    before = digest(store_copy)
    result = catalog.run_saved(store_copy, settings, "search-labels", {"text": value}, saved)
    rows = select_rows(result)
    assert [(row["resource"], row["label"], row["text"]) for row in rows] == [
        ("urn:test:trap", value, value)
    ]
    assert digest(store_copy) == before


@pytest.mark.parametrize("value", IRI_BREAKOUTS)
def test_iris_that_try_to_break_out_are_refused_by_name(
    value: str, store_copy: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    before = digest(store_copy)
    with pytest.raises(catalog.ParameterError, match="parameter 'programme'"):
        catalog.run_saved(store_copy, settings, "list-donors", {"programme": value}, saved)
    assert digest(store_copy) == before


def test_an_odd_but_valid_iri_is_matched_literally(
    store_copy: OxigraphStore, settings: Settings, saved: catalog.Catalog
) -> None:
    value = "https://w3id.org/iomkg/id/project/ntf';DROP%20ALL;--"
    before = digest(store_copy)
    result = catalog.run_saved(store_copy, settings, "list-donors", {"programme": value}, saved)
    assert select_rows(result) == []
    assert digest(store_copy) == before


@pytest.mark.parametrize(
    ("query", "parameter", "value"),
    [
        ("list-programmes-in-year", "year", "2011) } DROP ALL {"),
        ("list-programmes-in-year", "year", "2011\nDROP ALL"),
        ("list-programmes-between-dates", "from", '2011-01-01"^^<urn:x> } DROP ALL #'),
        ("list-member-states", "year", "1951 || true"),
    ],
)
def test_typed_values_with_extra_text_are_refused(
    query: str,
    parameter: str,
    value: str,
    store_copy: OxigraphStore,
    settings: Settings,
    saved: catalog.Catalog,
) -> None:
    params = {**saved.get_query(query).examples(), parameter: value}
    with pytest.raises(catalog.ParameterError, match=f"parameter '{parameter}'"):
        catalog.run_saved(store_copy, settings, query, params, saved)


def test_over_the_cli_a_breakout_is_a_usage_error_and_the_build_is_unchanged(
    built_settings: Settings,
) -> None:
    store_files = sorted(
        (path.name, path.stat().st_size)
        for path in built_settings.store_root.rglob("*")
        if path.is_file()
    )
    result = run_cli(
        built_settings, "query", "list-donors", "--param", f"programme={IRI_BREAKOUTS[0]}"
    )
    assert result.exit_code == 2
    assert "parameter 'programme'" in result.stderr
    for value in BREAKOUTS[:3]:
        result = run_cli(
            built_settings, "query", "search-labels", "--param", f"text={value}", "--format", "json"
        )
        assert result.exit_code == 0, result.output
        assert rows_of(result.stdout_bytes) == []
    result = run_cli(
        built_settings,
        "query",
        "-q",
        "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
        "--format",
        "csv",
    )
    assert result.exit_code == 0 and int(result.stdout.splitlines()[1]) > 1000
    after = sorted(
        (path.name, path.stat().st_size)
        for path in built_settings.store_root.rglob("*")
        if path.is_file()
    )
    assert after == store_files
