"""`iomkg export --format iati`: IATI 2.03 XML of the imported activities, valid against the
schema, round-tripping every activity of the files of ../shared/iati, and its refusals."""

from __future__ import annotations

import copy as copying
import datetime as dt
import io
import tracemalloc
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import Result
from lxml import etree

from iomkg.config import Settings
from iomkg.iati import export, model, schema
from iomkg.iati.imports import name_for
from iomkg.iati.mapper import without_namespace
from iomkg.iati.model import Kind
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import SHARED_DIR, copy_project, requires_shared
from tests.iati.conftest import ALL_FILES, XML_LANG, Imported, run

pytestmark = [requires_shared, pytest.mark.slow]

IOMO = "https://w3id.org/iomkg/ontology#"
UNMAPPABLE = Path(__file__).parent / "fixtures" / "unmappable-content.xml"
NUMBERS = frozenset({"decimal", "int", "positiveInteger", "nonNegativeInteger", "integer"})
#: Siblings whose order the graph does not keep (RDF values of one property are a set); the
#: canonical form sorts them. Everything else keeps its order.
UNORDERED_FLAT = frozenset(
    path.rsplit("/", 1)[-1]
    for path, rule in model.rules().items()
    if rule.kind is not Kind.NODE and rule.spec.repeats
)


def open_store(settings: Settings) -> OxigraphStore:
    release = Releases(settings.store_root).current()
    assert release is not None
    return OxigraphStore.open(release.store_path, read_only=True)


@dataclass(frozen=True)
class Exported:
    """Each IATI graph of the session's import, exported on its own, parsed back."""

    documents: dict[Path, etree._Element]  # source file -> the exported <iati-activities>
    stored: dict[Path, set[str]]  # source file -> the iati-identifiers its graph holds


def export_each(settings: Settings, paths: tuple[Path, ...]) -> Exported:
    """Export the graph of each file on its own (``--graph``'s core), and list what it holds."""
    store = open_store(settings)
    documents, stored = {}, {}
    for path in paths:
        graph = settings.graph_iri(f"iati/{name_for(path.name)}")
        sink = io.BytesIO()
        export.export_iati(store, settings, sink, graph=graph)
        documents[path] = etree.fromstring(sink.getvalue())
        rows = store.query(
            "SELECT ?g ?class ?id WHERE { GRAPH ?g { ?a a ?class ; dcterms:identifier ?id } }",
            substitutions={"g": ox.NamedNode(graph), "class": ox.NamedNode(IOMO + "IatiActivity")},
            prefixes={"dcterms": model.DCTERMS},
        )
        assert isinstance(rows, ox.QuerySolutions)
        stored[path] = {row["id"].value for row in rows}  # type: ignore[union-attr]
    return Exported(documents, stored)


@pytest.fixture(scope="session")
def exported(imported: Imported) -> Exported:
    return export_each(imported.settings, ALL_FILES)


def in_a_namespace(path: Path, target: Path, namespace: str) -> Path:
    """The file with its IATI elements in ``namespace`` (as some tools write them, ns0:) and
    its identifiers suffixed, so that both copies import side by side."""
    tree = etree.parse(str(path))
    for element in tree.getroot().iter(tag=etree.Element):
        if etree.QName(element).namespace is None:
            element.tag = f"{{{namespace}}}{etree.QName(element).localname}"
            if etree.QName(element).localname == "iati-identifier":
                element.text = (element.text or "").strip() + "-namespaced"
    tree.write(str(target), encoding="utf-8", xml_declaration=True)
    return target


@pytest.fixture(scope="session")
def fixtures_exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Exported, Result]:
    """UNMAPPABLE and its copy with the IATI elements in a namespace, imported into a build of
    the seed sources, and exported."""
    root = tmp_path_factory.mktemp("export-fixtures")
    namespaced = in_a_namespace(
        UNMAPPABLE, root / "unmappable-content-in-a-namespace.xml", "http://example.org/iati"
    )
    settings = Settings(
        project_dir=copy_project(root / "project", iati=False),
        store_dir=root / "store",
        shared_dir=SHARED_DIR,
    )
    result = run(settings, "import", "iati", str(UNMAPPABLE), str(namespaced))
    assert result.exit_code == 0, result.output
    return export_each(settings, (UNMAPPABLE, namespaced)), result


# The canonical form ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """An element in canonical form: name, attributes, text, children."""

    tag: str
    attributes: tuple[tuple[str, str], ...]
    text: str
    children: tuple[Node, ...]

    def key(self) -> str:
        return repr(self)


def canonical(activity: etree._Element, *, root_lang: str | None = None) -> Node:
    """The activity as the standard means it, so that a source file and its export compare.

    What it normalises, and why (each is a difference of form the standard gives no meaning to,
    or one the graph by design does not keep):

    * names: IATI elements by local name (a file may put them in a namespace, ns0: or another
      prefix), others in Clark notation (``{uri}name``: the prefix a file chose is not kept);
    * whitespace-only text is dropped (indentation); text an IATI element should not hold (in
      it, between its children) is its pieces, stripped, joined by a space (the mapper keeps
      it so: where it stood among the children is not kept); attribute values of IATI
      elements and the text of typed leaves are stripped, as XSD's whitespace facet reads
      codes, dates and numbers;
    * typed values compare in their XSD value space: decimals and integers as numbers
      (``1.50`` = ``1.5``), booleans as ``true``/``false`` (``1`` = ``true``), date-times as
      instants (``…25.490000+00:00`` = ``…25.49Z``): the store keeps values, not spellings;
    * a narrative's language is its effective one, lower case: its own ``xml:lang``, else the
      activity's, else the file's (the standard's rule; language tags are case-insensitive);
      the activity's own ``xml:lang`` is compared as written;
    * an amount without ``@currency`` has the activity's ``default-currency`` (the standard's
      rule; the export states it on every amount);
    * siblings the graph keeps as a set are sorted: the narratives of one element, extension
      elements (other namespaces) and IATI elements the mapper kept whole, and the repeatable
      flat elements (contact-info's email/telephone/website, document-link's category/language).
      IATI children are put in the XSD's order (a file out of order has a schema error the
      export fixes). Transactions, budgets and every other repeated node keep their file order.
    """
    lang = activity.get(XML_LANG) or root_lang
    return _canonical(
        activity,
        schema.activity_standard(),
        etree.QName(activity).namespace,
        lang.lower() if lang else None,
        (activity.get("default-currency") or "").strip() or None,
    )


def _canonical(
    element: etree._Element,
    spec: schema.ElementSpec | None,
    namespace: str | None,
    lang: str | None,
    currency: str | None,
) -> Node:
    name = etree.QName(element)
    is_iati = spec is not None and name.namespace == namespace
    tag = name.localname if is_iati else f"{{{name.namespace}}}{name.localname}"
    attributes: dict[str, str] = {}
    for key, raw in element.attrib.items():
        qualified = etree.QName(key)
        is_lang = qualified.namespace == schema.XML_NS and qualified.localname == "lang"
        if is_lang and tag in ("narrative", "iati-activity"):
            continue  # narratives: their effective language, below; the activity: as written
        if qualified.namespace is None or qualified.namespace == namespace:
            attribute = spec.attribute(qualified.localname) if is_iati and spec else None
            value = _value(str(raw).strip(), attribute.xsd_type if attribute else "string")
            attributes[qualified.localname] = value
        else:
            attributes[f"{{{qualified.namespace}}}{qualified.localname}"] = str(raw)
    if tag == "iati-activity" and element.get(XML_LANG) is not None:
        attributes["xml:lang"] = str(element.get(XML_LANG))
    if tag == "narrative" and is_iati:
        own = element.get(XML_LANG)
        effective = own.lower() if own else lang
        if effective is not None:
            attributes["xml:lang"] = effective
    text = element.text or ""
    if is_iati and spec is not None:
        if spec.text_type is None:  # text where the standard has none (stray, between children)
            pieces = [element.text, *(child.tail for child in element)]
            text = " ".join(piece.strip() for piece in pieces if piece and piece.strip())
        elif spec.name in model.MONEY_ELEMENTS:
            text = _value(text.strip(), "decimal")
            if "currency" not in attributes and currency is not None:
                attributes["currency"] = currency
        elif spec.text_type not in (None, "string") or spec.name == "iati-identifier":
            text = _value(text.strip(), spec.text_type or "string")
    if not text.strip():
        text = ""
    children: list[tuple[int, str, Node]] = []
    order = {child.name: index for index, child in enumerate(spec.children)} if spec else {}
    for child in element.iterchildren(tag=etree.Element):
        child_name = etree.QName(child)
        child_spec = (
            spec.child(child_name.localname)
            if is_iati and spec is not None and child_name.namespace == namespace
            else None
        )
        node = _canonical(child, child_spec, namespace, lang, currency)
        position = order.get(child_name.localname, len(order)) if child_spec else len(order)
        children.append((position, node.tag, node))
    children.sort(key=lambda item: item[0])  # stable: file order within one name
    grouped: list[Node] = []
    for position in sorted({p for p, _t, _n in children}):
        same = [(tag, node) for p, tag, node in children if p == position]
        unordered = (spec is not None and position == len(order)) or any(
            tag == "narrative" or tag in UNORDERED_FLAT for tag, _n in same
        )
        nodes = [node for _tag, node in same]
        grouped.extend(sorted(nodes, key=Node.key) if unordered else nodes)
    return Node(tag, tuple(sorted(attributes.items())), text, tuple(grouped))


def _value(raw: str, xsd_type: str) -> str:
    """A typed value in its XSD value space (see :func:`canonical`); other text as it is."""
    try:
        if xsd_type in NUMBERS:
            number = Decimal(raw)
            return format(number.normalize(), "f") if number else "0"
        if xsd_type == "boolean":
            return {"1": "true", "0": "false"}.get(raw, raw)
        if xsd_type == "dateTime":
            instant = dt.datetime.fromisoformat(raw.replace("Z", "+00:00"))
            if instant.tzinfo is not None:
                instant = instant.astimezone(dt.UTC)
            return instant.isoformat()
    except (InvalidOperation, ValueError):
        return raw
    return raw


def first_difference(source: Node, exported: Node, path: str | None = None) -> str | None:
    """The path of the first place the two differ (XPath-like, ``transaction[3]/value``), and
    how; None when they are equal."""
    here = path or source.tag
    if source.tag != exported.tag:
        return f"{here}: <{source.tag}> in the file, <{exported.tag}> exported"
    if source.attributes != exported.attributes:
        a, b = dict(source.attributes), dict(exported.attributes)
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                return f"{here}/@{key}: {a.get(key)!r} in the file, {b.get(key)!r} exported"
    if source.text != exported.text:
        return f"{here}/text(): {source.text!r} in the file, {exported.text!r} exported"
    seen: dict[str, int] = {}
    for mine, theirs in zip(source.children, exported.children, strict=False):
        seen[mine.tag] = seen.get(mine.tag, 0) + 1
        step = mine.tag if seen[mine.tag] == 1 else f"{mine.tag}[{seen[mine.tag]}]"
        found = first_difference(mine, theirs, f"{here}/{step}")
        if found:
            return found
    shorter = min(len(source.children), len(exported.children))
    if len(source.children) != len(exported.children):
        longer = max(source.children, exported.children, key=len)
        side = "only in the file" if longer is source.children else "only exported"
        return f"{here}/{longer[shorter].tag}: {side}"
    return None


def source_activities(path: Path) -> tuple[dict[str, etree._Element], str | None]:
    """The file's activities by identifier, and the root's xml:lang."""
    root = etree.parse(str(path)).getroot()
    namespace = etree.QName(root).namespace
    tag = f"{{{namespace}}}iati-activity" if namespace else "iati-activity"
    found = [root] if root.tag == tag else root.findall(tag)
    identifier = f"{{{namespace}}}iati-identifier" if namespace else "iati-identifier"
    by_id = {(activity.findtext(identifier) or "").strip(): activity for activity in found}
    root_lang = root.get(XML_LANG) if root.tag != tag else None
    return by_id, root_lang


# The tests ------------------------------------------------------------------------------------


def assert_round_trip(exported: Exported, path: Path, leave_out: int = 0) -> None:
    sources, root_lang = source_activities(path)
    activities = {
        (activity.findtext("iati-identifier") or "").strip(): activity
        for activity in exported.documents[path].findall("iati-activity")
    }
    assert set(activities) == exported.stored[path]
    assert set(activities) <= set(sources)
    assert len(activities) == len(sources) - leave_out
    for identifier, activity in activities.items():
        difference = first_difference(
            canonical(sources[identifier], root_lang=root_lang), canonical(activity)
        )
        assert difference is None, f"{path.name}: {identifier}: {difference}"


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.name)
def test_every_imported_activity_round_trips(exported: Exported, path: Path) -> None:
    """Each activity the import kept comes back with every value, date, code, narrative (with its
    language), organisation, role and extension of the file, in canonical form."""
    left_out = 1 if path.name == "dportal-covid19-page-109.xml" else 0  # a share of 500 %
    assert_round_trip(exported, path, left_out)


def test_what_the_mapper_could_not_map_round_trips(
    fixtures_exported: tuple[Exported, Result],
) -> None:
    """Narratives with markup, foreign attributes or a broken language tag, empty text elements
    and narratives, stray text, an amount without a currency, extensions at every level and
    values the store spells otherwise come back; so they do from a file whose IATI elements are
    in a namespace."""
    exported, result = fixtures_exported
    assert "kept whole" in result.output and "kept as iati:xmlAttribute" in result.output
    for path in exported.documents:
        assert_round_trip(exported, path)
    document = exported.documents[UNMAPPABLE]
    assert document.nsmap == {}  # IATI 2.03: no namespace; extensions keep the file's prefix
    assert document[0].nsmap == {"ext": "http://example.org/extension"}


def schema_messages(activity: etree._Element, namespace: str | None = None) -> set[str]:
    """The XSD 2.03 errors of one activity (a copy, without the file's namespace), without
    their lines."""
    copy = without_namespace(copying.deepcopy(activity), namespace)  # validate_activity moves it
    return {problem.message for problem in schema.validate_activity(copy)}


@pytest.mark.parametrize("path", ALL_FILES, ids=lambda path: path.name)
def test_the_export_has_no_schema_error_the_file_did_not_have(
    exported: Exported, path: Path
) -> None:
    """Each exported activity's XSD errors are among its source's (the same messages or fewer);
    the export of a file without schema errors validates as a whole."""
    document = exported.documents[path]
    assert document.get("version") == "2.03"
    sources, _lang = source_activities(path)
    clean = True
    for activity in document.findall("iati-activity"):
        identifier = (activity.findtext("iati-identifier") or "").strip()
        source = sources[identifier]
        before = schema_messages(source, etree.QName(source).namespace)
        after = schema_messages(activity)
        assert after <= before, f"{path.name}: {identifier}: {sorted(after - before)}"
        clean = clean and not before
    if clean:
        schema.validator().assertValid(document)


def test_what_the_mapper_could_not_map_brings_back_only_its_own_schema_errors(
    fixtures_exported: tuple[Exported, Result],
) -> None:
    exported, _result = fixtures_exported
    for path, document in exported.documents.items():
        sources, _lang = source_activities(path)
        for activity in document.findall("iati-activity"):
            source = sources[(activity.findtext("iati-identifier") or "").strip()]
            before = schema_messages(source, etree.QName(source).namespace)
            assert before  # the fixture breaks the schema on purpose
            assert schema_messages(activity) <= before


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (
            lambda a: a.find("title/narrative").set(XML_LANG, "de"),
            "iati-activity/title/narrative/@xml:lang",
        ),
        (
            lambda a: a.find("budget/value").__setattr__("text", "520001"),
            "iati-activity/budget/value/text()",
        ),
        (
            lambda a: a.find("activity-status").set("code", "3"),
            "iati-activity/activity-status/@code",
        ),
        (
            lambda a: a.find("participating-org").set("role", "4"),
            "iati-activity/participating-org/@role",
        ),
        (
            lambda a: a.attrib.pop("{http://d-portal.org/xmlns/dstore}index"),
            "iati-activity/@{http://d-portal.org/xmlns/dstore}index",
        ),
        (lambda a: a.remove(a.find("sector")), "iati-activity/sector/@code"),
    ],
    ids=["narrative-language", "amount", "code", "role", "extension-attribute", "sector-dropped"],
)
def test_the_comparison_finds_a_changed_activity(change: object, where: str) -> None:
    """The canonical comparison is not blind: each change of a source activity is found, at
    its path (the round-trip test's message names the activity and this path)."""
    sources, root_lang = source_activities(ALL_FILES[0])
    activity = sources["XM-DAC-41304-201DRC1000"]
    changed = etree.fromstring(etree.tostring(activity))
    change(changed)  # type: ignore[operator]
    difference = first_difference(canonical(activity, root_lang=root_lang), canonical(changed))
    assert difference is not None and difference.startswith(where), difference
    assert first_difference(canonical(activity), canonical(activity)) is None


# The command ----------------------------------------------------------------------------------


def test_export_iati_of_one_graph_to_a_file(imported: Imported, tmp_path: Path) -> None:
    output = tmp_path / "iom.xml"
    result = run(
        imported.settings,
        "export",
        "--format",
        "iati",
        "--graph",
        "graph:iati/iom_activity_XM-DAC-47066-DP.2154",
        "-o",
        str(output),
    )
    assert result.exit_code == 0, result.output
    root = etree.parse(str(output)).getroot()
    assert [a.findtext("iati-identifier") for a in root] == ["XM-DAC-47066-DP.2154"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["iom.xml"]  # no partial file left


def test_export_iati_of_every_graph_to_stdout(imported: Imported, exported: Exported) -> None:
    result = run(imported.settings, "export", "--format", "iati")
    assert result.exit_code == 0, result.output
    root = etree.fromstring(result.stdout_bytes)
    assert len(root) == sum(len(ids) for ids in exported.stored.values())


def test_export_iati_refuses_a_graph_that_is_not_iati(imported: Imported, tmp_path: Path) -> None:
    output = tmp_path / "out.xml"
    result = run(
        imported.settings,
        "export",
        "--format",
        "iati",
        "--graph",
        "graph:ontology",
        "-o",
        str(output),
    )
    assert result.exit_code == 2
    assert "graph/ontology is not an IATI graph of the store" in result.output
    assert "iati/dportal-covid19-page-109" in result.output  # the graphs it could have named
    assert not output.exists()


def test_export_iati_without_iati_graphs_says_to_import(seed_built_settings: Settings) -> None:
    result = run(seed_built_settings, "export", "--format", "iati")
    assert result.exit_code == 2
    assert "no IATI activities: import a file first (`iomkg import iati FILE`)" in result.output


class _Discard(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        return len(memoryview(data))  # type: ignore[arg-type]


def traced_peak(settings: Settings, graph: str | None) -> tuple[int, int]:
    """(activities written, peak Python memory in bytes) of one export to nowhere."""
    store = open_store(settings)
    tracemalloc.start()
    try:
        summary = export.export_iati(store, settings, _Discard(), graph=graph)
        return summary.activities, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_export_streams(imported: Imported) -> None:
    """Memory is that of the largest activity, not of their number: exporting every graph
    (202 activities) peaks no higher than exporting the graph whose activities are largest
    (measured: 401 KiB against 400 KiB for page 110's 100)."""
    settings = imported.settings
    traced_peak(settings, None)  # the caches (rules, schema) filled once
    graphs = export.iati_graphs(open_store(settings), settings)
    each = [traced_peak(settings, graph) for graph in graphs]
    total, peak = traced_peak(settings, None)
    assert total == sum(count for count, _peak in each) > 200
    assert peak <= 1.2 * max(single for _count, single in each)
