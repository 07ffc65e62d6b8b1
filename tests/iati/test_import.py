"""`iomkg import iati` on the files of ../shared/iati: exact counts in the XML and in the graph,
provenance, the warnings, and the refusals (truncated file, --strict, IATI 1.0x), each leaving
the store byte-for-byte as it was."""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg.config import Settings
from iomkg.iati import model
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import requires_shared
from tests.iati.conftest import (
    EXAMPLE,
    IATI_DIR,
    IOM_ACTIVITY,
    PAGE_109,
    PAGE_110,
    Imported,
    run,
    xml_counts,
)
from tests.pipeline.test_build import tree_digest

pytestmark = [requires_shared, pytest.mark.slow]

BASE = "https://w3id.org/iomkg/"
IOMO = BASE + "ontology#"
IATI = BASE + "ontology/iati#"


def narrative_predicates() -> list[str]:
    """The predicates narratives become: a text element's own, a node's narrative property."""
    found = set()
    for rule in model.rules().values():
        if rule.kind is model.Kind.TEXT:
            found.add(model.expand(rule.predicate, BASE))
        if rule.narrative_predicate is not None:
            found.add(model.expand(rule.narrative_predicate, BASE))
    return sorted(found)


#: The activities of page 109 that break a shape (and so are left out), as the import reports:
#: XM-DAC-41304-269SEN1000 states a sector's share as percentage="500" (the standard: 0 to 100).
PAGE_109_LEFT_OUT = frozenset({"XM-DAC-41304-269SEN1000"})


def store_of(settings: Settings) -> ox.Store:
    release = Releases(settings.store_root).current()
    assert release is not None
    return OxigraphStore.open(release.store_path, read_only=True).raw


def graph_count(store: ox.Store, graph: str, pattern: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ {pattern} }} }}"
    rows = list(store.query(query))  # type: ignore[union-attr]
    return int(rows[0]["n"].value)


def graph_languages(store: ox.Store, graph: str) -> Counter[str | None]:
    """The narratives' languages in the faithful layer (not the file's own description, nor a
    result figure's dimensions, whose schema:name is the dimension's @name)."""
    values = " ".join(f"<{p}>" for p in narrative_predicates())
    query = (
        f"SELECT ?lang (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o "
        f"FILTER NOT EXISTS {{ ?s a <{IOMO}IatiFile> }} "
        f"FILTER NOT EXISTS {{ ?s a <https://schema.org/PropertyValue> }} }} VALUES ?p {{ "
        + values
        + " } BIND(LANG(?o) AS ?lang) } GROUP BY ?lang"
    )
    found: Counter[str | None] = Counter()
    for row in store.query(query):  # type: ignore[union-attr]
        found[row["lang"].value or None] = int(row["n"].value)
    return found


@pytest.mark.parametrize(
    ("path", "left_out"),
    [
        (PAGE_109, PAGE_109_LEFT_OUT),
        (PAGE_110, frozenset()),
        (EXAMPLE, frozenset()),
        (IOM_ACTIVITY, frozenset()),
    ],
    ids=lambda value: value.stem if isinstance(value, Path) else "",
)
def test_counts_in_the_xml_and_in_the_graph(
    imported: Imported, path: Path, left_out: frozenset[str]
) -> None:
    xml = xml_counts(path)
    store = store_of(imported.settings)
    graph = f"{BASE}graph/iati/{path.stem}"
    assert graph_count(store, graph, f"?a a <{IOMO}IatiActivity>") == xml.total(
        "activities", left_out
    )
    assert graph_count(store, graph, f"?t a <{IATI}Transaction>") == xml.total(
        "transactions", left_out
    )
    assert graph_count(store, graph, f"?b a <{IATI}Budget>") == xml.total("budgets", left_out)
    # each element hangs from its parent: the activity reaches its transactions and budgets
    linked = f"?a a <{IOMO}IatiActivity> ; <{IATI}transaction> ?t . ?t a <{IATI}Transaction>"
    assert graph_count(store, graph, linked) == xml.total("transactions", left_out)
    linked = f"?a a <{IOMO}IatiActivity> ; <{IATI}budget> ?b . ?b a <{IATI}Budget>"
    assert graph_count(store, graph, linked) == xml.total("budgets", left_out)
    assert graph_count(store, graph, f"?o a <{IATI}ParticipatingOrg>") == xml.total(
        "participating_orgs", left_out
    )
    assert graph_languages(store, graph) == xml.languages(left_out)


def test_the_sample_files_hold_what_the_counts_say() -> None:
    """The XML side of the closing table, pinned: a change of the samples shows here."""
    page_109, page_110 = xml_counts(PAGE_109), xml_counts(PAGE_110)
    assert (page_109.total("activities"), page_110.total("activities")) == (100, 100)
    assert page_110.total("participating_orgs") >= 200  # a funder and IOM in each
    assert xml_counts(IOM_ACTIVITY).total("activities") == 1
    assert xml_counts(EXAMPLE).total("activities") == 1


def test_summary_line_per_file_and_warnings(imported: Imported) -> None:
    output = imported.result.output
    assert re.search(
        r"imported dportal-covid19-page-110 \(.*\): 100 of 100 activities into "
        r"graph/iati/dportal-covid19-page-110, 0 left out",
        output,
    ), output
    assert re.search(r"imported dportal-covid19-page-109 \(.*\): 99 of 100 activities", output)
    for identifier in PAGE_109_LEFT_OUT:
        assert re.search(rf"page-109\.xml:\d+: {re.escape(identifier)}: left out: ", output)


def test_schema_problems_are_warnings_per_activity(imported: Imported) -> None:
    """page 109 has a vocabulary attribute on budget-item, which XSD 2.03 does not allow."""
    warnings = [
        line
        for line in imported.result.output.splitlines()
        if line.startswith("warning: ") and "'vocabulary' is not allowed" in line
    ]
    assert warnings
    for line in warnings:
        assert re.match(r"warning: \S*dportal-covid19-page-109\.xml:\d+: XM-DAC-\S+: ", line), line
    assert "budget-item" in warnings[0]


def test_every_activity_cites_its_file_and_line(imported: Imported) -> None:
    store = store_of(imported.settings)
    query = f"""
        SELECT ?activity ?line ?sha ?text WHERE {{
            ?activity a <{IOMO}IatiActivity> ;
                <http://purl.org/dc/terms/identifier> "XM-DAC-47066-DP.2155" ;
                <http://www.w3.org/ns/prov#wasDerivedFrom> ?excerpt .
            ?excerpt <{IOMO}line> ?line ; <http://www.w3.org/ns/prov#value> ?text ;
                <http://purl.org/dc/terms/isPartOf> ?file .
            ?file <{IOMO}sha256> ?sha ; <{IOMO}importedAt> ?when .
            FILTER(CONTAINS(?text, "<iati-activity "))
        }}"""
    rows = list(store.query(query, use_default_graph_as_union=True))  # type: ignore[union-attr]
    assert len(rows) == 1
    lines = PAGE_110.read_text(encoding="utf-8").splitlines()
    number = int(rows[0]["line"].value)
    assert lines[number - 1].strip().startswith("<iati-activity ")
    import hashlib

    assert rows[0]["sha"].value == hashlib.sha256(PAGE_110.read_bytes()).hexdigest()


def test_a_second_identical_import_changes_nothing(imported: Imported, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(imported.settings.store_root, store, symlinks=True)
    settings = imported.settings.with_overrides(store_dir=store)
    before = tree_digest(store)
    result = run(settings, "import", "iati", str(PAGE_110))
    assert result.exit_code == 0, result.output
    assert "unchanged dportal-covid19-page-110" in result.output
    assert tree_digest(store) == before


def test_an_import_reports_the_warnings_of_the_files_it_read(
    imported: Imported, tmp_path: Path
) -> None:
    """The build maps the earlier imports again; their warnings were reported when they were
    imported, and are not repeated by the next import."""
    store = tmp_path / "store"
    shutil.copytree(imported.settings.store_root, store, symlinks=True)
    settings = imported.settings.with_overrides(store_dir=store)
    fixture = Path(__file__).parent / "fixtures" / "unmappable-content.xml"
    result = run(settings, "import", "iati", str(fixture))
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert warnings and all(f"{fixture}:" in line for line in warnings), warnings
    again = run(settings, "import", "iati", str(PAGE_110))  # unchanged: nothing read, no warning
    assert "warning: " not in again.output


def truncated_copy(tmp_path: Path) -> Path:
    data = PAGE_110.read_bytes()
    path = tmp_path / "page-110-truncated.xml"
    path.write_bytes(data[: len(data) // 2])
    return path


def test_a_truncated_file_imports_nothing(imported: Imported, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(imported.settings.store_root, store, symlinks=True)
    settings = imported.settings.with_overrides(store_dir=store)
    before = tree_digest(store)
    broken = truncated_copy(tmp_path)
    result = run(
        settings,
        "import",
        "iati",
        str(PAGE_110.parent / "dportal-covid19-page-109.xml"),
        str(broken),
    )
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.strip()]
    assert len(errors) == 1, result.output
    assert re.match(rf"iomkg: .*{re.escape(broken.name)}:\d+:\d+: not well-formed XML", errors[0])
    assert tree_digest(store) == before


def test_strict_refuses_a_file_with_a_schema_error(imported: Imported, tmp_path: Path) -> None:
    store = tmp_path / "store"
    shutil.copytree(imported.settings.store_root, store, symlinks=True)
    settings = imported.settings.with_overrides(store_dir=store)
    before = tree_digest(store)
    copy = tmp_path / "page-109-again.xml"
    shutil.copy(PAGE_109, copy)
    result = run(settings, "import", "iati", "--strict", str(copy))
    assert result.exit_code == 1, result.output
    assert "'vocabulary' is not allowed" in result.output
    assert re.search(r"schema error\(s\) and --strict: nothing imported", result.output)
    assert tree_digest(store) == before


def test_an_organisation_file_is_refused_at_its_line(tmp_settings: Settings) -> None:
    """Where the column is unknown the place is file:line (not file:line:None)."""
    organisations = IATI_DIR / "iati-2.03-organisation-standard-example-annotated.xml"
    result = run(tmp_settings, "import", "iati", str(organisations))
    assert result.exit_code == 2, result.output
    assert re.search(
        rf"^iomkg: {re.escape(str(organisations))}:\d+: this is an IATI organisation file, "
        r"not an IATI activity file .*\(fix the file; the previous build is unchanged\)$",
        result.output,
        flags=re.MULTILINE,
    ), result.output


def test_iati_1_is_refused_naming_its_version(tmp_settings: Settings, tmp_path: Path) -> None:
    old = tmp_path / "old.xml"
    old.write_text(
        '<?xml version="1.0"?>\n<iati-activities version="1.05">\n</iati-activities>\n',
        encoding="utf-8",
    )
    result = run(tmp_settings, "import", "iati", str(old))
    assert result.exit_code == 2, result.output
    assert "IATI version 1.05 is not supported" in result.output
    assert Releases(tmp_settings.store_root).current() is None


def test_prefixed_namespaces_read_the_same(imported: Imported, tmp_path: Path) -> None:
    """ElementTree writes d-portal's namespaces back as ns0:, ns1:; the graph is the same.

    The copy holds the same iati-identifier with the same last-updated-datetime, so, an activity
    being one resource whatever the file, the later import wins: the activity moves to the new
    file's graph (with what it had in the first), the first file's graph keeps only the file's
    own description, and the import says which copy it kept and why."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(IOM_ACTIVITY)
    prefixed = tmp_path / "iom-activity-prefixed.xml"
    tree.write(prefixed, encoding="utf-8", xml_declaration=True)
    text = prefixed.read_text(encoding="utf-8")
    assert "ns0:" in text and "dstore:" not in text
    store = tmp_path / "store"
    shutil.copytree(imported.settings.store_root, store, symlinks=True)
    settings = imported.settings.with_overrides(store_dir=store)
    original = f"{BASE}graph/iati/{IOM_ACTIVITY.stem}"
    again = f"{BASE}graph/iati/{prefixed.stem}"
    patterns = (
        f"?a a <{IOMO}IatiActivity>",
        f"?t a <{IATI}Transaction>",
        f"?b a <{IATI}Budget>",
        f"?o a <{IATI}ParticipatingOrg>",
        "?s ?p ?o",
    )
    before = {pattern: graph_count(store_of(settings), original, pattern) for pattern in patterns}
    result = run(settings, "import", "iati", str(prefixed))
    assert result.exit_code == 0, result.output
    assert "1 of 1 activities" in result.output
    assert re.search(
        rf"warning: \S*{re.escape(IOM_ACTIVITY.name)}:\d+: XM-DAC-47066-DP\.2154: also in "
        rf"\S*{re.escape(prefixed.name)}:\d+, imported later; the copy of \S*"
        rf"{re.escape(prefixed.name)} is kept",
        result.output,
    ), result.output
    graph_store = store_of(settings)
    assert before[patterns[0]] == 1
    for pattern in patterns:
        assert graph_count(graph_store, again, pattern) == before[pattern], pattern
    assert graph_count(graph_store, original, patterns[0]) == 0
    activity_facts = f"?s ?p ?o FILTER(STRSTARTS(STR(?s), '{BASE}id/activity/'))"
    assert graph_count(graph_store, original, activity_facts) == 0


@pytest.mark.parametrize(
    ("path", "generated"),
    [(EXAMPLE, "2014-09-10T07:15:37Z"), (IOM_ACTIVITY, "2021-02-26T11:20:25.490000+00:00")],
    ids=lambda value: value.stem if isinstance(value, Path) else "",
)
def test_each_file_cites_its_checksum_import_time_and_generated_datetime(
    imported: Imported, path: Path, generated: str
) -> None:
    import datetime
    import hashlib

    store = store_of(imported.settings)
    document = ox.NamedNode(f"{BASE}id/source/{path.stem}")

    def value(predicate: str) -> str:
        [found] = [
            q.object.value for q in store.quads_for_pattern(document, ox.NamedNode(predicate), None)
        ]
        return found

    assert value(IOMO + "sha256") == hashlib.sha256(path.read_bytes()).hexdigest()

    def instant(text: str) -> datetime.datetime:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))

    # the root's attribute, as an xsd:dateTime (which the store writes canonically: .49Z)
    assert instant(value("http://www.w3.org/ns/prov#generatedAtTime")) == instant(generated)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value(IOMO + "importedAt"))
