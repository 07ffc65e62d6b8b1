"""Imported IATI files: kept under the store, recorded, and re-derived by every build.

An import copies each input (decompressed) into ``{store}/imports/{sha256}.xml`` and records it
in the release's manifest (``imports.json``: name, where it came from, SHA-256, size, when). The
build maps every recorded file, and ``data/iati/*.xml`` of the project, into its own named graph
``graph/iati/{name}``, so a later ``iomkg build`` keeps the imports and a restarted server serves
them. The manifest lives inside the release, so the release switch that publishes a build also
publishes its list of imports: one atomic step for both.

Deriving the graphs, per build:

1. scan every file (identifiers, ``last-updated-datetime``, lines) and choose, for each
   iati-identifier held more than once, the copy updated last (else the one imported last);
2. map each kept activity (:mod:`iomkg.iati.mapper`), check it against XSD 2.03 (warnings, or a
   refusal under ``--strict``), and give its facts the excerpts of their lines;
3. validate each file's graph with the project's shapes (SHACL) and leave out every activity a
   result names, reporting identifier, file:line and the shape's message;
4. describe the organisations minted from identifiers, with their names and types as the files
   give them, in ``graph/iati-organisations``.
"""

from __future__ import annotations

import copy as copying
import datetime as dt
import hashlib
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import pyoxigraph as ox
import rdflib
from lxml import etree

from iomkg.config import Settings
from iomkg.iati import model, schema
from iomkg.iati.codelists import Codelists, shipped
from iomkg.iati.mapper import (
    FileContext,
    MappedActivity,
    Problem,
    identifier_of,
    map_activity,
    without_namespace,
)
from iomkg.iati.organisations import Mention, ProjectIndex, Resolver, choose_names, most_common
from iomkg.iati.reader import FileInfo, local_name, read_activities
from iomkg.pipeline import (
    BuildError,
    SourceParseError,
    location,
    shacl_results,
    validation_store,
)
from iomkg.progress import SILENT
from iomkg.progress import Progress as Phases
from iomkg.shacl import ShaclResult
from iomkg.validator import CompiledShapes, compile_shapes

MANIFEST = "imports.json"
ORGANISATIONS_GRAPH = "iati-organisations"
DATASETS_GRAPH = "iati-datasets"  # VoID of each IATI graph
VOID = "http://rdfs.org/ns/void#"
NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
HTTP_TIMEOUT = 60.0
GZIP_MAGIC = b"\x1f\x8b"
#: Activities validated together (one validation): bounds memory on a large file.
SHACL_BATCH_TRIPLES = 40_000

Progress = Callable[[str, int, int, int], None]  # (file name, activities, bytes read, bytes)


class ImportRefused(BuildError):
    """``--strict`` and a file with schema errors, or an input that cannot be imported."""

    exit_code = 1

    def __init__(self, message: str, problems: Sequence[Problem] = ()) -> None:
        self.problems = list(problems)
        super().__init__(message)


class InputError(SourceParseError):
    """An input that cannot be read or fetched (exit 2), named as given: a path, or a URL (which
    a Path would shorten to ``http:/host``)."""

    def __init__(
        self, where: str | Path, line: int | None, column: int | None, message: str
    ) -> None:
        super().__init__(Path(where), line, column, message)
        self.where = str(where)
        self.args = (f"{location(where, line, column)}: {message}",)

    @property
    def is_url(self) -> bool:
        return re.match(r"^https?://", self.where, flags=re.IGNORECASE) is not None


# The manifest -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportEntry:
    """One imported file, as the manifest records it."""

    name: str
    source: str  # the path or URL given to `iomkg import iati`
    sha256: str
    size: int
    imported_at: str  # xsd:dateTime, UTC, seconds
    url: str | None = None
    counts: dict[str, int] = field(default_factory=dict, compare=False)

    def blob(self, store_root: Path) -> Path:
        return blobs_dir(store_root) / f"{self.sha256}.xml"


def blobs_dir(store_root: Path) -> Path:
    return store_root / "imports"


def read_manifest(release_path: Path | None) -> list[ImportEntry]:
    """The imports a release holds (none before the first import)."""
    if release_path is None or not (release_path / MANIFEST).exists():
        return []
    data = json.loads((release_path / MANIFEST).read_text(encoding="utf-8"))
    return [ImportEntry(**entry) for entry in data["imports"]]


def write_manifest(release_path: Path, entries: Sequence[ImportEntry]) -> None:
    document = {"imports": [asdict(entry) for entry in entries]}
    (release_path / MANIFEST).write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )


# Inputs: files, folders, URLs ----------------------------------------------------------------


@dataclass(frozen=True)
class Input:
    """One file to derive a graph from: a recorded import or a project file (data/iati)."""

    name: str
    path: Path
    sha256: str | None  # None for project files (hashed as read)
    imported_at: str | None  # None for project files: a build of the same data is the same
    source: str
    url: str | None = None
    shared: str | None = None  # for project files copied from shared/: the path below shared/


def name_for(filename: str) -> str:
    """A graph name from a file name: ``IOM-act_1.xml.gz`` → ``IOM-act_1``.

    >>> name_for("dportal-covid19-page-110.xml"), name_for("my file (2).XML.gz")
    ('dportal-covid19-page-110', 'my-file-2')
    """
    stem = re.sub(r"(\.xml)?(\.gz)?$", "", filename, flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", stem).strip("-._") or "import"


def expand_inputs(given: Sequence[str]) -> list[str]:
    """Paths and URLs as given, folders replaced by the IATI files they hold (sorted)."""
    found: list[str] = []
    for item in given:
        if re.match(r"^https?://", item, flags=re.IGNORECASE):
            found.append(item)
            continue
        path = Path(item)
        if path.is_dir():
            files = sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and re.search(r"\.xml(\.gz)?$", p.name, flags=re.IGNORECASE)
            )
            if not files:
                raise InputError(path, None, None, "the folder holds no .xml or .xml.gz file")
            found += [str(p) for p in files]
        elif path.is_file():
            found.append(str(path))
        else:
            raise InputError(path, None, None, "no such file or folder")
    return found


def store_input(item: str, store_root: Path) -> tuple[Path, str, int, str | None]:
    """Copy one input (decompressed) into the store's imports folder, hashing it on the way.

    Returns (stored path, SHA-256, size, URL or None). Writes to a temporary file first: a failed
    download or a broken gzip stream leaves nothing behind.
    """
    directory = blobs_dir(store_root)
    directory.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    url = item if re.match(r"^https?://", item, flags=re.IGNORECASE) else None
    descriptor, temporary = tempfile.mkstemp(prefix=".incoming-", suffix=".xml", dir=directory)
    try:
        with os.fdopen(descriptor, "wb") as sink, _open_input(item) as source:
            for chunk in _decompressed(source, item):
                digest.update(chunk)
                size += len(chunk)
                sink.write(chunk)
        final = directory / f"{digest.hexdigest()}.xml"
        if final.exists():
            os.unlink(temporary)
        else:
            os.replace(temporary, final)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise
    return final, digest.hexdigest(), size, url


def _open_input(item: str) -> Any:
    if re.match(r"^https?://", item, flags=re.IGNORECASE):
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
            item,
            headers={"Accept-Encoding": "gzip", "User-Agent": "iomkg-iati-import"},
        )
        try:
            return urllib.request.urlopen(request, timeout=HTTP_TIMEOUT)  # noqa: S310
        except urllib.error.HTTPError as error:
            error.close()  # the answer's connection
            raise InputError(
                item, None, None, f"the server answered {error.code} {error.reason}"
            ) from error
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise InputError(item, None, None, f"cannot fetch it: {reason}") from error
    try:
        return open(item, "rb")
    except OSError as error:
        raise InputError(Path(item), None, None, f"cannot read it: {error.strerror}") from error


def _decompressed(source: IO[bytes], item: str) -> Iterator[bytes]:
    """The bytes of ``source``, gunzipped when they start with the gzip magic number."""
    first = source.read(65536)
    if not first.startswith(GZIP_MAGIC):
        while first:
            yield first
            first = source.read(65536)
        return
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    chunk = first
    try:
        while chunk:
            yield inflater.decompress(chunk)
            chunk = source.read(65536)
        yield inflater.flush()
    except zlib.error as error:
        raise InputError(item, None, None, f"broken gzip data: {error}") from error
    if not inflater.eof:
        raise InputError(item, None, None, "the gzip data ends early (truncated?)")


def now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# What a build derives ------------------------------------------------------------------------


@dataclass
class FileReport:
    """What one file gave."""

    name: str
    source: str
    activities: int = 0  # in the file
    imported: int = 0
    left_out: int = 0  # broke a shape, or had no identifier
    replaced: int = 0  # a later copy elsewhere won
    triples: int = 0
    problems: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def schema_errors(self) -> list[Problem]:
        return [p for p in self.problems if p.kind == "schema"]

    def counts(self) -> dict[str, int]:
        return {
            "activities": self.activities,
            "imported": self.imported,
            "left_out": self.left_out,
            "replaced": self.replaced,
            "triples": self.triples,
            "warnings": len(self.problems),
        }


@dataclass
class Derived:
    """The reports of a build's IATI files (their graphs went to the build's sink)."""

    files: list[FileReport] = field(default_factory=list)
    duplicates: list[Problem] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return [p for report in self.files for p in report.problems]


def project_inputs(settings: Settings) -> list[Input]:
    """``data/iati/*.xml``: IATI files the project itself carries (the samples)."""
    folder = settings.data_dir / "iati"
    found = []
    for path in sorted(folder.glob("*.xml")) if folder.is_dir() else []:
        found.append(
            Input(
                name=name_for(path.name),
                path=path,
                sha256=None,
                imported_at=None,
                source=f"data/iati/{path.name}",
                shared=f"iati/samples/{path.name}",
            )
        )
    return found


def build_inputs(settings: Settings, entries: Sequence[ImportEntry]) -> list[Input]:
    """What a build maps: the project's files, then the imports. An import named like a project
    file (``iomkg import iati shared/iati/samples/dportal-covid19-page-109.xml``) replaces it, as
    importing a file again replaces its graph."""
    imported = {entry.name for entry in entries}
    project = [item for item in project_inputs(settings) if item.name not in imported]
    return project + recorded_inputs(settings, entries)


def recorded_inputs(settings: Settings, entries: Sequence[ImportEntry]) -> list[Input]:
    return [
        Input(
            name=entry.name,
            path=entry.blob(settings.store_root),
            sha256=entry.sha256,
            imported_at=entry.imported_at,
            source=entry.source,
            url=entry.url,
        )
        for entry in entries
    ]


def project_index(quads: Iterable[ox.Quad], base_iri: str) -> ProjectIndex:
    """Organisations by IATI identifier, countries by ISO code and DAC donor code."""
    iomo = base_iri + "ontology#"
    index = ProjectIndex()
    country_type = model.SCHEMA + "Country"
    countries: set[str] = set()
    notations: dict[str, str] = {}
    for quad in quads:
        subject, predicate, obj = quad.subject, quad.predicate.value, quad.object
        if not isinstance(subject, ox.NamedNode) or not isinstance(obj, ox.NamedNode | ox.Literal):
            continue
        if predicate == iomo + "iatiOrganisationId":
            index.organisations[obj.value] = subject.value
        elif predicate == iomo + "dacDonorCode":
            index.donor_codes[obj.value] = subject.value
        elif predicate == model.RDF + "type" and obj.value == country_type:
            countries.add(subject.value)
        elif predicate == model.SKOS + "notation" and isinstance(obj, ox.Literal):
            notations[subject.value] = obj.value
        elif (
            predicate == model.SKOS + "prefLabel"
            and isinstance(obj, ox.Literal)
            and obj.language == "en"
        ):
            index.country_names.setdefault(subject.value, obj.value)
    for country in countries:
        if country in notations:
            index.countries[notations[country]] = country
    index.country_names = {k: v for k, v in index.country_names.items() if k in countries}
    return index


def _index_quads(project: ox.Store, base_iri: str) -> Iterator[ox.Quad]:
    """The project's statements :func:`project_index` reads, and no others."""
    iomo = base_iri + "ontology#"
    for predicate in (iomo + "iatiOrganisationId", iomo + "dacDonorCode"):
        yield from project.quads_for_pattern(None, ox.NamedNode(predicate), None)
    rdf_type, country = ox.NamedNode(model.RDF + "type"), ox.NamedNode(model.SCHEMA + "Country")
    yield from project.quads_for_pattern(None, rdf_type, country)
    for predicate in (model.SKOS + "notation", model.SKOS + "prefLabel"):
        yield from project.quads_for_pattern(None, ox.NamedNode(predicate), None)


@dataclass
class _Scanned:
    identifier: str
    last_updated: str | None
    line: int
    order: tuple[int, int]  # (input order, position in file)


def derive(
    settings: Settings,
    project: ox.Store,
    shapes: rdflib.Graph,
    inputs: Sequence[Input],
    sink: Callable[[list[ox.Quad]], None],
    *,
    strict: frozenset[str] = frozenset(),
    progress: Progress | None = None,
    validator: str = "sparql",
) -> Derived:
    """Every input's graph, validated, with duplicates resolved (see the module docstring),
    handed to ``sink`` one graph at a time as soon as it is validated: no IATI graph is held
    for the whole import.

    ``project`` holds the project's graphs, and the IATI graphs ``sink`` has written into it
    (which validation ignores: each IATI graph is validated as if alone with the project's);
    ``validator`` is the build's: the shapes compiled to SPARQL (the default), or pySHACL."""
    base = settings.base_iri
    codelists = shipped()
    resolver = Resolver(project_index(_index_quads(project, base), base), codelists, base)
    ontology = project.quads_for_pattern(
        None, None, None, ox.NamedNode(settings.graph_iri("ontology"))
    )
    context = _ShapeContext(project, list(ontology), base, validator, settings.graph_iri("iati"))
    derived = Derived()
    _check_names(settings, inputs)
    winners = _choose_copies(inputs, derived)
    mentions: list[Mention] = []
    for order, item in enumerate(inputs):
        started = time.perf_counter()
        report = FileReport(item.name, item.source)
        graph = settings.graph_iri(f"iati/{item.name}")
        quads, kept_mentions = _derive_file(
            settings,
            item,
            order,
            winners,
            codelists,
            resolver,
            context,
            shapes,
            report,
            progress,
            strict=item.name in strict,
        )
        named = ox.NamedNode(graph)
        sink([ox.Quad(q.subject, q.predicate, q.object, named) for q in quads])
        report.triples = len(quads)
        del quads
        report.seconds = time.perf_counter() - started
        derived.files.append(report)
        mentions += kept_mentions
    organisations = settings.graph_iri(ORGANISATIONS_GRAPH)
    triples = organisation_triples(base, mentions, resolver)
    violations = context.validate(triples, shapes, lambda _focus: False)
    if violations:
        shown = "; ".join(f"<{focus}>: {message}" for focus, message, _path in violations[:5])
        raise BuildError(f"{ORGANISATIONS_GRAPH}: the organisations minted break a shape: {shown}")
    if triples:
        sink(
            [
                ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(organisations))
                for t in triples
            ]
        )
    datasets = settings.graph_iri(DATASETS_GRAPH)
    described = void_triples(settings, derived)
    violations = context.validate(described, shapes, lambda _focus: False)
    if violations:
        shown = "; ".join(f"<{focus}>: {message}" for focus, message, _path in violations[:5])
        raise BuildError(f"{DATASETS_GRAPH}: the IATI graphs' descriptions break a shape: {shown}")
    sink([ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(datasets)) for t in described])
    return derived


def void_triples(settings: Settings, derived: Derived) -> list[ox.Triple]:
    """VoID for each IATI graph (in a graph of their own, so that each count is its graph's
    alone): the graph is a void:Dataset, a subset of iomkg's, with its source file (the
    iomo:IatiFile, which cites its SHA-256, URL, import time and generated-datetime) and its
    number of triples."""
    base = settings.base_iri
    integer = ox.NamedNode(model.XSD + "integer")
    out: list[ox.Triple] = []

    def add(subject: str, predicate: str, obj: ox.NamedNode | ox.Literal) -> None:
        out.append(ox.Triple(ox.NamedNode(subject), ox.NamedNode(predicate), obj))

    for report in derived.files:
        graph = settings.graph_iri(f"iati/{report.name}")
        add(graph, model.RDF + "type", ox.NamedNode(VOID + "Dataset"))
        add(
            graph,
            model.SKOS + "prefLabel",
            ox.Literal(f"IATI activities of {report.name}.xml", language="en"),
        )
        add(graph, model.DCTERMS + "source", ox.NamedNode(f"{base}id/source/{report.name}"))
        add(graph, VOID + "triples", ox.Literal(str(report.triples), datatype=integer))
        add(f"{base}id/dataset/iomkg", VOID + "subset", ox.NamedNode(graph))
    return out


def _check_names(settings: Settings, inputs: Sequence[Input]) -> None:
    seen: dict[str, str] = {}
    sources = {p.stem for p in (settings.data_dir / "sources").glob("*.ttl")}
    for item in inputs:
        if not NAME.match(item.name):
            raise InputError(item.path, None, None, f"{item.name!r} cannot name a graph")
        if item.name in seen:
            raise InputError(
                item.path,
                None,
                None,
                f"two inputs are both named {item.name!r} ({seen[item.name]} and {item.source}): "
                "rename one of the files",
            )
        if item.name in sources:
            raise InputError(
                item.path,
                None,
                None,
                f"{item.name!r} is the name of a source page; rename the file",
            )
        seen[item.name] = item.source


def _later(a: _Scanned, a_time: str | None, b: _Scanned, b_time: str | None) -> bool:
    """Whether copy ``a`` wins over ``b``: updated later, else imported later, else later on."""
    stamp_a, stamp_b = _instant(a.last_updated), _instant(b.last_updated)
    if stamp_a is not None and stamp_b is not None and stamp_a != stamp_b:
        return stamp_a > stamp_b
    if (a_time or "") != (b_time or ""):
        return (a_time or "") > (b_time or "")
    return a.order > b.order


def _instant(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _choose_copies(inputs: Sequence[Input], derived: Derived) -> dict[str, tuple[int, int]]:
    """For each iati-identifier, which copy is kept: (input order, position in its file)."""
    best: dict[str, tuple[_Scanned, Input]] = {}
    for order, item in enumerate(inputs):
        info = FileInfo(item.path)
        for record in read_activities(item.path, info, shown_as=Path(item.source)):
            identifier = identifier_of(record.element, info.namespace)
            if identifier is None:
                continue
            scanned = _Scanned(
                identifier,
                (record.element.get("last-updated-datetime") or "").strip() or None,
                record.line,
                (order, record.index),
            )
            if identifier in best:
                other, other_item = best[identifier]
                if _later(scanned, item.imported_at, other, other_item.imported_at):
                    winner, loser, loser_item, winner_item = scanned, other, other_item, item
                else:
                    winner, loser, loser_item, winner_item = other, scanned, item, other_item
                derived.duplicates.append(
                    Problem(
                        loser_item.source,
                        loser.line,
                        identifier,
                        f"also in {winner_item.source}:{winner.line}"
                        + _why(winner, winner_item, loser, loser_item)
                        + f"; the copy of {winner_item.source} is kept",
                        "duplicate",
                    )
                )
                best[identifier] = (winner, winner_item)
            else:
                best[identifier] = (scanned, item)
    return {identifier: scanned.order for identifier, (scanned, _item) in best.items()}


def _why(winner: _Scanned, winner_item: Input, loser: _Scanned, loser_item: Input) -> str:
    if winner.last_updated and loser.last_updated and winner.last_updated != loser.last_updated:
        return f", updated later ({winner.last_updated} against {loser.last_updated})"
    if winner_item.imported_at != loser_item.imported_at:
        return ", imported later"
    return ", later in the file"


def _derive_file(
    settings: Settings,
    item: Input,
    order: int,
    winners: dict[str, tuple[int, int]],
    codelists: Codelists,
    resolver: Resolver,
    context: _ShapeContext,
    shapes: rdflib.Graph,
    report: FileReport,
    progress: Progress | None,
    *,
    strict: bool = False,
) -> tuple[list[ox.Triple], list[Mention]]:
    """One file's triples and the organisations its kept activities mention. ``strict``: any
    schema error refuses the file (checked before the shapes, which take longer)."""
    base = settings.base_iri
    document = f"{base}id/source/{item.name}"
    info = FileInfo(item.path)
    size = item.path.stat().st_size
    file_context: FileContext | None = None
    kept: list[MappedActivity] = []
    batch: list[MappedActivity] = []
    batch_size = 0
    for record in read_activities(item.path, info, shown_as=Path(item.source)):
        if file_context is None:
            file_context = FileContext(
                base_iri=base,
                codelists=codelists,
                resolver=resolver,
                document=document,
                display=item.source,
                namespace=info.namespace,
                language=info.language.lower() if info.language else None,
                linked_data_default=info.linked_data_default,
            )
            report.problems += _root_problems(item, info)
        report.activities += 1
        identifier = identifier_of(record.element, info.namespace)
        if identifier is not None and winners.get(identifier) != (order, record.index):
            report.replaced += 1
            continue
        mapped = map_activity(record, file_context)
        problems = _schema_problems(record.element, info.namespace, item.source, identifier)
        report.problems += problems
        if mapped is None:
            report.left_out += 1
            continue
        report.problems += mapped.problems
        batch.append(mapped)
        batch_size += len(mapped.triples)
        if batch_size >= SHACL_BATCH_TRIPLES and not strict:
            kept += _validated(batch, context, shapes, report)
            batch, batch_size = [], 0
        if progress is not None:
            progress(item.name, report.activities, min(size, info.bytes_read), size)
    if strict and report.schema_errors:
        raise ImportRefused(
            f"{item.source}: {len(report.schema_errors)} schema error(s) and --strict: "
            "nothing imported",
            report.schema_errors,
        )
    kept += _validated(batch, context, shapes, report)
    if item.sha256 is not None and info.sha256 != item.sha256:
        raise BuildError(
            f"{item.path}: the stored copy of {item.source} changed since it was imported "
            f"(SHA-256 {info.sha256}, recorded {item.sha256}): import it again"
        )
    if info.root == "":
        raise SourceParseError(item.path, 1, 1, "not an IATI activity file")
    report.imported = len(kept)
    triples = [triple for activity in kept for triple in activity.triples]
    triples += file_triples(settings, item, info, document)
    mentions = [mention for activity in kept for mention in activity.mentions]
    return _unique(triples), mentions


def _unique(triples: list[ox.Triple]) -> list[ox.Triple]:
    seen: set[ox.Triple] = set()
    out = []
    for triple in triples:
        if triple not in seen:
            seen.add(triple)
            out.append(triple)
    return out


def _root_problems(item: Input, info: FileInfo) -> list[Problem]:
    problems = []
    if info.root == "iati-activity":
        problems.append(
            Problem(
                item.source,
                1,
                None,
                "the root is a bare <iati-activity>: the schema wants it inside "
                '<iati-activities version="2.03">',
                "schema",
            )
        )
    elif not info.version:
        problems.append(
            Problem(
                item.source,
                1,
                None,
                "<iati-activities> has no version attribute (required)",
                "schema",
            )
        )
    elif info.version not in ("2.01", "2.02", "2.03"):
        problems.append(
            Problem(item.source, 1, None, f"version {info.version!r}: read as IATI 2.03", "schema")
        )
    return problems


def _schema_problems(
    element: etree._Element, namespace: str | None, source: str, identifier: str | None
) -> list[Problem]:
    copy = _without_namespace(element, namespace)
    return [
        Problem(source, problem.line, identifier, problem.message, "schema")
        for problem in schema.validate_activity(copy)
    ]


def _without_namespace(element: etree._Element, namespace: str | None) -> etree._Element:
    """A copy of the activity with the file's IATI namespace removed, as the XSD wants it (a
    standalone copy even when there is none to remove: the XSD validates it as a document)."""
    if namespace is None:
        return copying.deepcopy(element)
    return without_namespace(element, namespace)  # already a copy


def file_triples(settings: Settings, item: Input, info: FileInfo, document: str) -> list[ox.Triple]:
    """The file as a source document: what it is, its checksum, where and when it came from."""
    base = settings.base_iri
    out: list[ox.Triple] = []

    def add(subject: str, predicate: str, obj: ox.NamedNode | ox.Literal | str) -> None:
        term = ox.NamedNode(model.expand(obj, base)) if isinstance(obj, str) else obj
        out.append(
            ox.Triple(ox.NamedNode(subject), ox.NamedNode(model.expand(predicate, base)), term)
        )

    xsd = model.XSD
    filename = f"{item.name}.xml"
    add(document, model.RDF + "type", "iomo:SourceDocument")
    add(document, model.RDF + "type", "iomo:IatiFile")
    add(
        document,
        model.DCTERMS + "title",
        ox.Literal(f"IATI activity file {filename}", language="en"),
    )
    add(document, model.DCTERMS + "identifier", ox.Literal(filename))
    add(document, "iomo:sha256", ox.Literal(info.sha256))
    add(
        document,
        "iati:activities",
        ox.Literal(str(info.activities), datatype=ox.NamedNode(xsd + "integer")),
    )
    if item.imported_at is not None:
        add(
            document,
            "iomo:importedAt",
            ox.Literal(item.imported_at, datatype=ox.NamedNode(xsd + "dateTime")),
        )
    if item.url is not None:
        add(document, model.DCTERMS + "source", ox.NamedNode(item.url))
    if item.shared is not None:
        shared = f"{base}id/file/{item.shared}"
        add(document, model.PROV + "wasDerivedFrom", shared)
        add(shared, model.RDF + "type", model.PROV + "Entity")
        add(shared, model.DCTERMS + "identifier", ox.Literal(f"shared/{item.shared}"))
        add(shared, model.DCTERMS + "title", ox.Literal(item.shared.rsplit("/", 1)[-1]))
        add(
            shared,
            model.SKOS + "prefLabel",
            ox.Literal(item.shared.rsplit("/", 1)[-1], language="en"),
        )
    stamp = info.generated_datetime
    if stamp:
        from iomkg.iati.mapper import typed_literal

        literal = typed_literal(stamp, "dateTime")
        if literal is not None:
            add(document, model.PROV + "generatedAtTime", literal)
    if info.version:
        add(document, "iati:version", ox.Literal(info.version))
    if info.linked_data_default:
        add(
            document,
            "iati:linkedDataDefault",
            ox.Literal(info.linked_data_default, datatype=ox.NamedNode(xsd + "anyURI")),
        )
    add(document, "iati:root", ox.Literal(info.root))
    for key, value in info.attributes:
        name = etree.QName(key)
        if name.namespace is None and name.localname in (
            "version",
            "generated-datetime",
            "linked-data-default",
        ):
            continue
        shown = f"{{{name.namespace}}}{name.localname}" if name.namespace else name.localname
        add(document, "iati:xmlAttribute", ox.Literal(f"{shown}={value}"))
    for extension in info.extensions:
        text = etree.tostring(extension, encoding="unicode", with_tail=False)
        add(
            document,
            "iati:xmlElement",
            ox.Literal(text, datatype=ox.NamedNode(model.RDF + "XMLLiteral")),
        )
    graph = settings.graph_iri(f"iati/{item.name}")
    add(graph, model.DCTERMS + "source", document)
    return out


def organisation_triples(
    base: str, mentions: Sequence[Mention], resolver: Resolver
) -> list[ox.Triple]:
    """The organisations minted from identifiers: names, type, state, the files naming them."""
    by_ref: dict[str, list[Mention]] = defaultdict(list)
    for mention in mentions:
        by_ref[mention.ref].append(mention)
    out: list[ox.Triple] = []

    def add(subject: str, predicate: str, obj: ox.NamedNode | ox.Literal | str) -> None:
        term = ox.NamedNode(model.expand(obj, base)) if isinstance(obj, str) else obj
        out.append(
            ox.Triple(ox.NamedNode(subject), ox.NamedNode(model.expand(predicate, base)), term)
        )

    for ref in sorted(by_ref):
        resolution = resolver.resolve(ref)
        if resolution is not None and resolution.kind == "reference":
            # A body of a state in the reference data: linked to the state by its identifier.
            state, _rule = resolver.state_of_reference(ref)
            if state is not None:
                add(resolution.iri, "iomo:agencyOf", ox.NamedNode(state))
            continue
        if resolution is None or resolution.kind != "minted":
            continue
        refs = by_ref[ref]
        entity = resolution.iri
        preferred, others = choose_names(name for m in refs for name in m.names)
        add(entity, model.RDF + "type", model.ORG + "Organization")
        add(entity, model.SKOS + "prefLabel", ox.Literal(preferred or ref, language="en"))
        for text, lang in others:
            add(entity, model.SKOS + "altLabel", ox.Literal(text, language=lang))
        add(entity, "iomo:iatiOrganisationId", ox.Literal(ref))
        kind = most_common(m.type_concept for m in refs)
        if kind is not None:
            add(entity, "iomo:iatiOrganisationType", ox.NamedNode(kind))
        if resolution.agency_of is not None:
            add(entity, "iomo:agencyOf", resolution.agency_of)
            add(entity, model.RDFS + "comment", ox.Literal(resolution.rule + ".", language="en"))
        for document in sorted({m.document for m in refs}):
            add(entity, model.PROV + "wasDerivedFrom", document)
    return out


# SHACL, one file at a time -------------------------------------------------------------------


class _ShapeContext:
    """The project triples an IATI graph's shapes look at: the descriptions of the resources it
    points at (types, schemes, codes) and the ontology's class hierarchy. Validation is the
    build's own (:func:`iomkg.pipeline.shacl_results`), the shapes compiled once."""

    def __init__(
        self,
        project: ox.Store,
        ontology: Sequence[ox.Quad],
        base_iri: str,
        validator: str = "sparql",
        iati_graphs: str | None = None,
    ) -> None:
        self.base_iri = base_iri
        self.iati_graphs = iati_graphs  # IRI prefix of the IATI graphs already in ``project``
        self.validator = validator
        self.project = project
        self.ontology = [ox.Triple(q.subject, q.predicate, q.object) for q in ontology]
        self._compiled: tuple[rdflib.Graph, CompiledShapes] | None = None

    def _results(self, store: ox.Store, shapes: rdflib.Graph) -> list[ShaclResult]:
        """The build's validation, with the shapes compiled once for all the batches (compiling
        takes about half a second, as long as validating a batch)."""
        if self.validator != "sparql":
            return shacl_results(store, shapes, self.validator)
        if self._compiled is None or self._compiled[0] is not shapes:
            self._compiled = (shapes, compile_shapes(shapes))
        return self._compiled[1].validate(store)

    def described(self, iri: str) -> list[ox.Triple]:
        """What the project states about ``iri`` (in any of its graphs but the IATI ones, which
        the import streams into the same store as it goes)."""
        prefix = self.iati_graphs
        return [
            ox.Triple(q.subject, q.predicate, q.object)
            for q in self.project.quads_for_pattern(ox.NamedNode(iri), None, None)
            if prefix is None or not str(getattr(q.graph_name, "value", "")).startswith(prefix)
        ]

    def stub(self, iri: str) -> list[ox.Triple]:
        """The type of a resource the import states elsewhere, and validates there: an IATI
        file (its description is made once the file has been read; its identifier, the file
        name, tells the quoting shapes its lines are XML) and the organisations
        minted from identifiers (``graph/iati-organisations``)."""
        rdf_type = ox.NamedNode(model.RDF + "type")
        subject = ox.NamedNode(iri)
        if iri.startswith(f"{self.base_iri}id/organisation/iati/"):
            return [ox.Triple(subject, rdf_type, ox.NamedNode(model.ORG + "Organization"))]
        if re.fullmatch(re.escape(f"{self.base_iri}id/source/") + r"[A-Za-z0-9_.-]+", iri):
            kinds = ("iomo:SourceDocument", "iomo:IatiFile")
            name = iri.rsplit("/", 1)[-1]
            return [
                ox.Triple(subject, rdf_type, ox.NamedNode(model.expand(kind, self.base_iri)))
                for kind in kinds
            ] + [  # as file_triples states it
                ox.Triple(
                    subject, ox.NamedNode(model.DCTERMS + "identifier"), ox.Literal(f"{name}.xml")
                )
            ]
        return []

    def validate(
        self,
        triples: Sequence[ox.Triple],
        shapes: rdflib.Graph,
        own: Callable[[str], bool],
    ) -> list[tuple[str, str, str | None]]:
        """(focus node, message, path) of each violation on a node of ``triples``' own."""
        subjects = {t.subject.value for t in triples if isinstance(t.subject, ox.NamedNode)}
        wanted = {
            t.object.value
            for t in triples
            if isinstance(t.object, ox.NamedNode) and t.object.value not in subjects
        }
        data = list(triples) + self.ontology
        for iri in sorted(wanted):
            data += self.described(iri) or self.stub(iri)
        store = validation_store(ox.Quad(t.subject, t.predicate, t.object) for t in data)
        found = []
        for result in self._results(store, shapes):
            focus = str(result.focus)
            if not _blocks(result) or (focus not in subjects and not own(focus)):
                continue  # a warning, or a project resource: the project's validation judges it
            found.append(
                (
                    focus,
                    result.messages[0] if result.messages else "violates a shape",
                    str(result.path) if isinstance(result.path, rdflib.URIRef) else None,
                )
            )
        return found


def _blocks(result: ShaclResult) -> bool:
    """Only violations leave an activity out, as only they fail the build."""
    return str(result.severity).rsplit("#", 1)[-1] == "Violation"


def _validated(
    batch: list[MappedActivity], context: _ShapeContext, shapes: rdflib.Graph, report: FileReport
) -> list[MappedActivity]:
    """The activities of ``batch`` whose triples break no shape; the others are reported."""
    if not batch:
        return []
    triples = [triple for activity in batch for triple in activity.triples]
    owners = _owners(batch)
    results = context.validate(triples, shapes, lambda _focus: False)
    offenders: dict[str, list[tuple[str, str, str | None]]] = defaultdict(list)
    for focus, message, path in results:
        under = _activity_of(focus, batch)
        for identifier in owners.get(focus, {under} if under is not None else set()):
            offenders[identifier].append((focus, message, path))
    kept = []
    for activity in batch:
        found = offenders.get(activity.identifier)
        if not found:
            kept.append(activity)
            continue
        report.left_out += 1
        for focus, message, path in found:
            on = f" ({path.rsplit('#', 1)[-1].rsplit('/', 1)[-1]})" if path else ""
            report.problems.append(
                Problem(
                    report.source,
                    activity.line,
                    activity.identifier,
                    f"left out: <{focus}>{on}: {message}",
                    "shape",
                )
            )
    return kept


def _owners(batch: list[MappedActivity]) -> dict[str, set[str]]:
    """Which activities state each subject that is not under an activity IRI (excerpts, orgs)."""
    owners: dict[str, set[str]] = defaultdict(set)
    for activity in batch:
        for triple in activity.triples:
            subject = triple.subject.value  # type: ignore[union-attr]
            if not subject.startswith(activity.iri):
                owners[subject].add(activity.identifier)
    return owners


def _activity_of(focus: str, batch: list[MappedActivity]) -> str | None:
    for activity in batch:
        if focus == activity.iri or focus.startswith(activity.iri + "/"):
            return activity.identifier
    return None


__all__ = [
    "Derived",
    "FileReport",
    "ImportEntry",
    "ImportRefused",
    "Input",
    "build_inputs",
    "derive",
    "expand_inputs",
    "local_name",
    "name_for",
    "now",
    "project_inputs",
    "read_manifest",
    "recorded_inputs",
    "store_input",
    "write_manifest",
]


def with_counts(entry: ImportEntry, counts: dict[str, int]) -> ImportEntry:
    return ImportEntry(
        entry.name, entry.source, entry.sha256, entry.size, entry.imported_at, entry.url, counts
    )


# The entry points: import, remove, list ----------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    """What one ``iomkg import iati`` did."""

    build: Any  # pipeline.BuildSummary; None when nothing was new (no new release)
    added: list[ImportEntry]
    unchanged: list[ImportEntry]  # the same bytes under the same name: nothing to do for them
    entries: list[ImportEntry]

    def problems(self) -> list[Problem]:
        """The warnings of the files this import read (the build maps the earlier imports
        again, whose warnings were reported when they were imported), and the duplicates."""
        if self.build is None:
            return []
        names = {entry.name for entry in self.added}
        derived: Derived = self.build.iati
        read = [p for report in derived.files if report.name in names for p in report.problems]
        return [*derived.duplicates, *read]


def import_files(
    settings: Settings,
    given: Sequence[str],
    *,
    strict: bool = False,
    progress: Progress | None = None,
    phases: Phases = SILENT,
) -> ImportSummary:
    """Import IATI files, folders and URLs: one new validated release, or nothing at all.

    Each input replaces the import of the same name (its graph, ``graph/iati/{name}``); the same
    bytes under the same name keep their first import's time, so importing a file twice leaves
    the store as it was. On any failure the new copies are removed again and the current
    release, its dumps and its list of imports stay as they were.
    """
    from iomkg import pipeline
    from iomkg.store.releases import Releases

    releases = Releases(settings.store_root)
    current = releases.current()
    entries = read_manifest(current.path if current else None)
    by_name = {entry.name: entry for entry in entries}
    known = {entry.sha256 for entry in entries}
    created: list[Path] = []
    added: list[ImportEntry] = []
    unchanged: list[ImportEntry] = []
    names: dict[str, str] = {}
    try:
        for item in expand_inputs(given):
            existed = set(blobs_dir(settings.store_root).glob("*.xml"))
            path, sha256, size, url = store_input(item, settings.store_root)
            if path not in existed:
                created.append(path)
            leaf = urllib.parse.urlparse(item).path.rsplit("/", 1)[-1] if url else Path(item).name
            name = name_for(leaf or "import")
            if name in names:
                raise InputError(
                    item,
                    None,
                    None,
                    f"two inputs are both named {name!r} ({names[name]} and {item}): import "
                    "them one at a time or rename one",
                )
            names[name] = item
            previous = by_name.get(name)
            if previous is not None and previous.sha256 == sha256:
                unchanged.append(previous)
                continue
            entry = ImportEntry(name, item, sha256, size, now(), url)
            by_name[name] = entry
            added.append(entry)
        new_entries = sorted(by_name.values(), key=lambda e: e.name)
        if not added:  # every input is already imported, byte for byte: the store stays as it is
            return ImportSummary(None, added, unchanged, entries)
        strict_names = frozenset(names) if strict else frozenset()
        summary = pipeline.build(
            settings, imports=new_entries, strict=strict_names, progress=progress, phases=phases
        )
    except BaseException:
        for path in created:
            if path.stem not in known and path.exists():
                path.unlink()
        raise
    prune_blobs(settings.store_root)
    return ImportSummary(summary, added, unchanged, new_entries)


def remove_import(settings: Settings, name: str, phases: Phases = SILENT) -> Any:
    """Take one import out: a new release without its graph (its build's phases told to
    ``phases``)."""
    from iomkg import pipeline
    from iomkg.store.releases import Releases

    current = Releases(settings.store_root).current()
    entries = read_manifest(current.path if current else None)
    if name not in {entry.name for entry in entries}:
        shown = ", ".join(entry.name for entry in entries) or "none"
        raise LookupError(f"no import named {name!r} (imports: {shown})")
    summary = pipeline.build(
        settings, imports=[e for e in entries if e.name != name], phases=phases
    )
    prune_blobs(settings.store_root)
    return summary


def list_imports(settings: Settings) -> list[ImportEntry]:
    from iomkg.store.releases import Releases

    current = Releases(settings.store_root).current()
    return read_manifest(current.path if current else None)


def prune_blobs(store_root: Path) -> None:
    """Remove stored inputs that no release (kept, or held by a server) records any more."""
    releases = store_root / "releases"
    wanted = {
        entry.sha256
        for path in (releases.iterdir() if releases.is_dir() else [])
        if path.is_dir() and not path.name.startswith(".")
        for entry in read_manifest(path)
    }
    for blob in blobs_dir(store_root).glob("*.xml"):
        if blob.stem not in wanted:
            blob.unlink(missing_ok=True)
