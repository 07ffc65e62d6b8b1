"""Build and validate the knowledge graph: parse, SHACL, quality checks, atomic load, dumps.

Nothing here prints or exits: every outcome is a return value or one of the exceptions
below, which the CLI and the web app turn into messages. Exit codes follow pySHACL:
0 conforms, 1 violations, 2 the input could not be read.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import time
import traceback
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pyoxigraph as ox
import rdflib

from iomkg import catalog, incremental, jsonld
from iomkg.config import Settings
from iomkg.progress import SILENT, Progress, Step, phase
from iomkg.shacl import ShaclResult, pyshacl_results, to_rdflib, validate_graph
from iomkg.store import OxigraphStore
from iomkg.store.releases import Release, Releases
from iomkg.store.remote import publish, remote_store
from iomkg.validator import as_stated, compile_shapes, for_validation
from iomkg.vocab import output_prefixes, prefixes

if TYPE_CHECKING:
    from iomkg.iati.imports import Derived, ImportEntry
    from iomkg.iati.imports import Progress as ImportProgress

RDF_SUFFIXES = {
    ".ttl": ox.RdfFormat.TURTLE,
    ".trig": ox.RdfFormat.TRIG,
    ".nt": ox.RdfFormat.N_TRIPLES,
}

DUMP_FORMATS: dict[str, ox.RdfFormat] = {
    "iomkg.ttl": ox.RdfFormat.TURTLE,
    "iomkg.trig": ox.RdfFormat.TRIG,
    "iomkg.nq": ox.RdfFormat.N_QUADS,
    "iomkg.jsonld": ox.RdfFormat.JSON_LD,
}


# Errors ------------------------------------------------------------------------------------


class BuildError(Exception):
    """Base of everything that stops a build; ``exit_code`` as pySHACL (1 invalid, 2 unreadable)."""

    exit_code = 2


def location(where: str | Path, line: int | None, column: int | None) -> str:
    """``file:line:column``, ``file:line`` when the column is unknown, ``file`` alone."""
    if line is None:
        return str(where)
    return f"{where}:{line}" if column is None else f"{where}:{line}:{column}"


class SourceParseError(BuildError):
    """An input file does not parse: names the file, line and column."""

    def __init__(self, path: Path, line: int | None, column: int | None, message: str) -> None:
        self.path, self.line, self.column, self.message = path, line, column, message
        super().__init__(f"{location(path, line, column)}: {message}")


@dataclass(frozen=True)
class Violation:
    """One SHACL result, in words a data editor can act on."""

    focus_node: str
    path: str | None
    message: str
    shape: str | None
    severity: str
    value: str | None
    files: tuple[str, ...]

    def describe(self) -> str:
        where = ", ".join(self.files) or "(no file states this node)"
        on = f" {self.path}" if self.path else ""
        return f"{where}: <{self.focus_node}>{on}: {self.message}"


class ValidationFailed(BuildError):
    """The graph breaks one or more shapes; nothing was loaded or written."""

    exit_code = 1

    def __init__(
        self, violations: Sequence[Violation], scope: incremental.Scope | None = None
    ) -> None:
        self.violations = list(violations)
        self.scope = scope  # what the build validated (None: not a build's validation)
        super().__init__(f"{len(self.violations)} SHACL violation(s)")


@dataclass(frozen=True)
class CheckFailure:
    """A quality-check query (``queries/checks/*-violation.rq``) that returned rows."""

    check: str
    title: str
    rows: tuple[dict[str, str], ...]

    def describe(self) -> str:
        shown = "; ".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in self.rows[:10])
        more = f" (+{len(self.rows) - 10} more)" if len(self.rows) > 10 else ""
        return f"{self.check}: {self.title}: {shown}{more}"


class ChecksFailed(BuildError):
    """One or more quality-check queries found offending resources."""

    exit_code = 1

    def __init__(self, failures: Sequence[CheckFailure]) -> None:
        self.failures = list(failures)
        super().__init__(f"{len(self.failures)} quality check(s) failed")


# Inputs ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceFile:
    """One input file and the named graph it becomes."""

    path: Path
    graph: str


@dataclass
class ParsedSources:
    """The parsed inputs: quads per graph, and which files state which subjects."""

    quads: dict[str, list[ox.Quad]] = field(default_factory=dict)
    subject_files: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    digest: str = ""

    def triple_count(self) -> int:
        return sum(len(quads) for quads in self.quads.values())


def discover_sources(settings: Settings) -> list[SourceFile]:
    """The ontology and every data file, each with its named graph.

    One file or one folder is one graph: ``data/sources/x.ttl`` → ``graph/sources/x``, and every
    file of a deeper folder joins that folder's graph (``data/links/wikidata/accepted.ttl`` →
    ``graph/links/wikidata``), so generated and reviewed parts of one link set stay one graph.
    """
    found = [
        SourceFile(path, settings.graph_iri("ontology"))
        for path in sorted(settings.ontology_dir.glob("*.ttl"))
    ]
    for path in sorted(settings.data_dir.rglob("*")):
        if path.suffix in RDF_SUFFIXES and path.is_file():
            found.append(
                SourceFile(
                    path, settings.graph_iri(graph_name(path.relative_to(settings.data_dir)))
                )
            )
    return found


def graph_name(relative: Path) -> str:
    """The graph name of a data file, from its path below ``data/``.

    >>> graph_name(Path("sources/000_a.ttl")), graph_name(Path("links/wikidata/accepted.ttl"))
    ('sources/000_a', 'links/wikidata')
    """
    parts = relative.with_suffix("").parts
    return "/".join(parts[:2]) if len(parts) > 2 else "/".join(parts)


def with_extra_files(
    settings: Settings, sources: list[SourceFile], extra: Iterable[Path]
) -> list[SourceFile]:
    """Sources where each of ``extra`` replaces the project file at the same path, or is added."""
    by_path = {source.path.resolve(): source for source in sources}
    for path in extra:
        resolved = path.resolve()
        if resolved in by_path:
            continue
        by_path[resolved] = SourceFile(path, settings.graph_iri("validate/" + path.stem))
    return list(by_path.values())


def parse_sources(
    sources: Sequence[SourceFile], base_iri: str, step: Step | None = None
) -> ParsedSources:
    """Parse every file with relative IRIs resolved against ``base_iri`` (counted on ``step``)."""
    parsed = ParsedSources()
    digest = hashlib.sha256(base_iri.encode())
    for source in sources:
        data = _read(source.path)
        digest.update(source.path.name.encode() + data)
        quads = [
            ox.Quad(triple.subject, triple.predicate, triple.object, ox.NamedNode(source.graph))
            for triple in _parse_triples(source.path, data, base_iri)
        ]
        parsed.quads.setdefault(source.graph, []).extend(quads)
        for quad in quads:
            parsed.subject_files[_term_key(quad.subject)].add(str(source.path))
        if step is not None:
            step.add(len(quads))
    parsed.digest = digest.hexdigest()[:12]
    return parsed


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise SourceParseError(
            path, None, None, f"cannot read the file: {error.strerror}"
        ) from error


def _rdf_format(path: Path) -> ox.RdfFormat:
    if path.suffix not in RDF_SUFFIXES:
        raise SourceParseError(path, None, None, f"unknown RDF file type {path.suffix!r}; use .ttl")
    return RDF_SUFFIXES[path.suffix]


def _parse_triples(path: Path, data: bytes, base_iri: str) -> list[ox.Triple | ox.Quad]:
    try:
        return list(ox.parse(data, format=_rdf_format(path), base_iri=base_iri))
    except SyntaxError as error:
        message = str(error.msg).split(": ", 1)[-1] if error.msg else str(error)
        raise SourceParseError(path, error.lineno, error.offset, message) from error


def _term_key(term: object) -> str:
    return getattr(term, "value", str(term))


# Conversion to rdflib (for pySHACL and JSON-LD) ---------------------------------------------


def to_rdflib_graph(quads: Iterable[ox.Quad]) -> rdflib.Graph:
    graph = rdflib.Graph()
    for quad in quads:
        graph.add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))
    return graph


def unvalidated_store(settings: Settings) -> OxigraphStore:
    """The project's sources parsed into an in-memory store, without SHACL: readable even while
    a broken file keeps the build from passing (the linker, fast tests)."""
    parsed = parse_sources(discover_sources(settings), settings.base_iri)
    store = OxigraphStore.in_memory()
    for quads in parsed.quads.values():
        store.raw.extend(quads)
    return store


# Validation --------------------------------------------------------------------------------


def shape_files(settings: Settings) -> list[Path]:
    return sorted(settings.shapes_dir.glob("*.ttl"))


def load_shapes(settings: Settings) -> rdflib.Graph:
    """All shapes files as one graph, with relative IRIs resolved like the data's."""
    quads: list[ox.Quad] = []
    for path in shape_files(settings):
        quads.extend(
            ox.Quad(t.subject, t.predicate, t.object, ox.DefaultGraph())
            for t in _parse_triples(path, _read(path), settings.base_iri)
        )
    return to_rdflib_graph(quads)


VALIDATORS = ("sparql", "pyshacl")


def validation_store(quads: Iterable[ox.Quad]) -> ox.Store:
    """An in-memory store of ``quads`` as :mod:`iomkg.validator` validates them."""
    store = ox.Store()
    store.bulk_extend(for_validation(quads))
    return store


def shacl_results(
    store: ox.Store,
    shapes: rdflib.Graph,
    validator: str = "sparql",
    step: Step | None = None,
    focus: Iterable[ox.NamedNode | ox.BlankNode] | None = None,
) -> list[ShaclResult]:
    """Every SHACL result for the union of ``store``'s graphs: by the shapes compiled to SPARQL
    (the default), or by pySHACL over an rdflib copy of the same graph (the reference). The
    compiled shapes count each constraint checked on ``step``; with ``focus``, their local
    checks validate those focus nodes only (see :mod:`iomkg.incremental`)."""
    if validator == "sparql":
        checked = step.add if step is not None else None
        return compile_shapes(shapes).validate(store, checked, focus)
    if validator == "pyshacl":
        assert focus is None, "pySHACL validates everything"
        data = rdflib.Graph()
        for quad in store:
            data.add((as_stated(quad.subject), as_stated(quad.predicate), as_stated(quad.object)))
        _conforms, report = validate_graph(data, shapes)
        return pyshacl_results(report)
    raise ValueError(f"unknown validator {validator!r}: use one of {', '.join(VALIDATORS)}")


def validate_parsed(
    parsed: ParsedSources,
    shapes: rdflib.Graph,
    validator: str = "sparql",
    phases: Progress = SILENT,
) -> list[Violation]:
    """SHACL-validate the union of all graphs (with the ontology: ``sh:class`` sees subclasses)."""
    store = validation_store(quad for quads in parsed.quads.values() for quad in quads)
    with phase(phases, "validate", "constraints") as step:
        results = shacl_results(store, shapes, validator, step)
    return _violations(results, parsed.subject_files)


def _violations(
    results: Iterable[ShaclResult], subject_files: Mapping[str, set[str]]
) -> list[Violation]:
    found = []
    for result in results:
        focus_key = str(result.focus)
        found.append(
            Violation(
                focus_node=focus_key,
                path=str(result.path) if isinstance(result.path, rdflib.URIRef) else None,
                message=result.messages[0] if result.messages else "violates a shape",
                shape=str(result.shape) if isinstance(result.shape, rdflib.URIRef) else None,
                severity=str(result.severity).rsplit("#", 1)[-1],
                value=str(result.value) if result.value is not None else None,
                files=tuple(sorted(subject_files.get(focus_key, ()))),
            )
        )
    blocking = [v for v in found if v.severity == "Violation"]
    return sorted(blocking, key=lambda v: (v.files, v.focus_node, v.path or "", v.message))


def validate(
    settings: Settings,
    extra_files: Sequence[Path] = (),
    validator: str = "sparql",
    phases: Progress = SILENT,
) -> tuple[ParsedSources, list[Violation]]:
    """Parse and SHACL-validate the project's sources (and ``extra_files``); raise if unparsable."""
    sources = with_extra_files(settings, discover_sources(settings), extra_files)
    with phase(phases, "parse") as step:
        parsed = parse_sources(sources, settings.base_iri, step)
        add_derived(parsed, settings)
        shapes = load_shapes(settings)
    return parsed, validate_parsed(parsed, shapes, validator, phases)


# Derived statements ------------------------------------------------------------------------


def derived_quads(
    store: OxigraphStore, settings: Settings, built: datetime | None = None
) -> list[ox.Quad]:
    """What :func:`add_derived` adds, counted on ``store`` (which holds every source's quads and
    nothing derived yet)."""
    from iomkg import descriptions, linking, memberstates  # they import this module's neighbours

    derived: list[ox.Quad] = []
    for quads in linking.void_statistics(store, settings.base_iri).values():
        derived.extend(quads)
    for quads in memberstates.membership_statistics(store, settings.base_iri).values():
        derived.extend(quads)
    built = built or descriptions.build_time()
    for quads in descriptions.dataset_metadata(store, settings, built).values():
        derived.extend(quads)
    return derived


def add_derived(parsed: ParsedSources, settings: Settings, built: datetime | None = None) -> None:
    """Add what is computed from the data, not written in it: each link set's VoID figures, how
    many member states the graph lists (:func:`iomkg.memberstates.membership_statistics`) and the
    dataset's metadata with the build time (:func:`iomkg.descriptions.dataset_metadata`).

    A link set's size and coverage depend on every file of its folder and on the whole graph, so
    committing them would go stale whenever a source or an accepted link is added. They are
    counted here, before SHACL (whose link-set shape checks the count), into the link set's own
    graph; the result is deterministic but for the build time (``built``, else now or
    SOURCE_DATE_EPOCH).
    """
    scratch = OxigraphStore.in_memory()
    for quads in parsed.quads.values():
        scratch.raw.extend(quads)
    for quad in derived_quads(scratch, settings, built):
        parsed.quads.setdefault(str(quad.graph_name.value), []).append(quad)  # type: ignore[union-attr]


# Quality checks ----------------------------------------------------------------------------


def run_checks(
    store: OxigraphStore, settings: Settings, step: Step | None = None
) -> list[CheckFailure]:
    """Run ``queries/checks/*-violation.rq``: any row returned is a failure, titled by its header.

    A check whose header does not parse stops the build like an unreadable source file (exit 2).
    """
    try:
        checks = catalog.load_checks(settings)
    except catalog.HeaderError as error:
        raise SourceParseError(error.path, error.line, None, error.message) from error
    failures = []
    for check in checks.values():
        if step is not None:
            step.add()
        results = store.query(check.sparql, base_iri=settings.base_iri)
        if not isinstance(results, ox.QuerySolutions):
            continue
        names = [variable.value for variable in results.variables]
        rows = tuple(
            {name: _term_key(solution[name]) for name in names if solution[name] is not None}
            for solution in results
        )
        if rows:
            failures.append(CheckFailure(check.path.name, check.title, rows))
    return failures


# Build -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BuildSummary:
    """What a build produced, for the closing summary and ``iomkg stats``."""

    release: str
    triples_per_graph: dict[str, int]
    instances_per_class: dict[str, int]
    links_per_target: dict[str, int]
    timings: dict[str, float]
    iati: Derived | None = None  # what the IATI files gave (see iomkg.iati.imports)
    validation: incremental.Scope | None = None  # what the build validated

    @property
    def total_triples(self) -> int:
        return sum(self.triples_per_graph.values())


LINK_TARGETS = {
    "wikidata": "http://www.wikidata.org/entity/",
    "geonames": "https://sws.geonames.org/",
}


def summarize(
    store: OxigraphStore, release: str = "", timings: dict[str, float] | None = None
) -> BuildSummary:
    """Triples per graph, instances per class and links per target of a store."""
    triples = {graph: store.quad_count(graph) for graph in store.named_graphs()}
    default_count = store.quad_count() - sum(triples.values())
    if default_count:
        triples["(default graph)"] = default_count
    classes = {
        _term_key(row["class"]): int(_term_key(row["n"]))
        for row in store.query(  # type: ignore[union-attr]
            "SELECT ?class (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?class } "
            "GROUP BY ?class ORDER BY ?class"
        )
    }
    links: dict[str, int] = {}
    for row in store.query(  # type: ignore[union-attr]
        "SELECT ?o WHERE { ?s <http://www.w3.org/2002/07/owl#sameAs> ?o FILTER(isIRI(?o)) }"
    ):
        target = next(
            (name for name, ns in LINK_TARGETS.items() if _term_key(row["o"]).startswith(ns)),
            "other",
        )
        links[target] = links.get(target, 0) + 1
    return BuildSummary(release, triples, classes, dict(sorted(links.items())), timings or {})


def publish_to_backend(store: OxigraphStore, settings: Settings, timings: dict[str, float]) -> None:
    """With ``--backend``, make the engine hold the validated release (before it is made current
    here: an engine that refuses it fails the build, and nothing changes on either side)."""
    if settings.backend is None:
        return
    step = time.perf_counter()
    publish(store, remote_store(settings))
    timings["publish"] = time.perf_counter() - step


def build(
    settings: Settings,
    validator: str = "sparql",
    *,
    imports: Sequence[ImportEntry] | None = None,
    strict: frozenset[str] = frozenset(),
    progress: ImportProgress | None = None,
    phases: Progress = SILENT,
) -> BuildSummary:
    """Parse, validate, check, load and dump into a new release, then make it current; each
    phase told to ``phases`` as it goes.

    Streamed: each source file is parsed once into the store SHACL validates (in memory, its
    literals as :func:`iomkg.validator.for_validation` keeps them) and bulk-loaded into the
    staging release, never held as Python objects; which files state a subject is worked out
    again only when a violation must name them. The staging release is published only if
    everything passes.

    ``imports`` are the IATI files the release holds besides ``data/iati`` (by default those of
    the current release: a build keeps what was imported); ``strict`` names the ones that must
    have no schema error; ``progress`` is told each IATI file's advance (else the IATI files'
    activities are counted as the phase ``iati`` of ``phases``). Raises
    :class:`SourceParseError`, :class:`ValidationFailed` or :class:`ChecksFailed`; in every such
    case the current release is left exactly as it was.
    """
    timings: dict[str, float] = {}
    started = time.perf_counter()
    releases = Releases(settings.store_root)
    with releases.staging() as staging:
        try:
            digest, summary, iati = _stage(
                settings, staging, validator, imports, strict, progress, phases, timings
            )
        except BaseException as error:
            # The staging store cannot be closed but by dropping it, and a frame of the
            # traceback holds it: it would write into the folder as it is removed.
            traceback.clear_frames(error.__traceback__)
            raise
        final = releases.publish(staging, digest)
    timings["total"] = time.perf_counter() - started
    return BuildSummary(
        final.name,
        summary.triples_per_graph,
        summary.instances_per_class,
        summary.links_per_target,
        timings,
        iati,
        summary.validation,
    )


def _stage(
    settings: Settings,
    staging: Release,
    validator: str,
    imports: Sequence[ImportEntry] | None,
    strict: frozenset[str],
    progress: ImportProgress | None,
    phases: Progress,
    timings: dict[str, float],
) -> tuple[str, BuildSummary, Derived]:
    """:func:`build` into ``staging``, the store closed again: the release's digest, its
    summary (no release name yet) and the IATI graphs."""
    started = time.perf_counter()
    sources = discover_sources(settings)
    # A bulk load writes the store's files directly: no write-ahead log left behind, about a
    # sixth of the size of transactional inserts. Not atomic, which staging makes up for.
    store = OxigraphStore.open(staging.store_path)
    validated = ox.Store()
    graphs = incremental.GraphDigests()
    with phase(phases, "parse") as counter:
        digest, load_seconds = _stream_sources(
            sources, settings.base_iri, validated, store, counter, graphs
        )
        derived = derived_quads(store, settings)
        graphs.add_quads(derived)
        validated.bulk_extend(for_validation(derived))
        store.raw.bulk_extend(derived)
        shapes = load_shapes(settings)
    timings["parse"] = time.perf_counter() - started - load_seconds
    timings["load"] = load_seconds

    step = time.perf_counter()  # first: a broken IATI file fails before the long validation
    if progress is not None:  # each file's advance shown by the caller
        entries, iati, digest = iati_graphs(
            settings, store.raw, digest, shapes, imports, strict, progress, validator
        )
    else:
        with phase(phases, "iati", "activities") as counter:
            told = activities_counted(counter)
            entries, iati, digest = iati_graphs(
                settings, store.raw, digest, shapes, imports, strict, told, validator
            )
    timings["iati"] = time.perf_counter() - step

    step = time.perf_counter()
    key = incremental.validation_key(
        (path.read_bytes() for path in shape_files(settings)), validator, settings.base_iri
    )
    scope = validation_scope(settings, validated, shapes, validator, key, graphs.hexdigests())
    with phase(phases, "validate", "constraints") as counter:
        results = shacl_results(validated, shapes, validator, counter, scope.focus)
    results = sorted(results + scope.reused, key=ShaclResult.key)
    del validated
    if any(result.severity == SH_VIOLATION for result in results):
        violations = _violations(results, _subject_files(sources, settings.base_iri))
    else:
        violations = []
    timings["validate"] = time.perf_counter() - step
    if violations:
        raise ValidationFailed(violations, scope)

    step = time.perf_counter()  # the IATI graphs were loaded as each was validated (iati_graphs)
    store.flush()
    store.optimize_for_reading()
    timings["load"] += time.perf_counter() - step

    step = time.perf_counter()
    with phase(phases, "checks", "queries") as counter:
        failures = run_checks(store, settings, counter)
    timings["checks"] = time.perf_counter() - step
    if failures:
        raise ChecksFailed(failures)

    step = time.perf_counter()
    with phase(phases, "dumps", "files", total=len(DUMP_FORMATS) + 1) as counter:
        write_dumps(store, staging, settings, counter)
    timings["dumps"] = time.perf_counter() - step
    summary = dataclasses.replace(summarize(store), validation=scope)
    publish_to_backend(store, settings, timings)
    del store  # closes the database before the folder is renamed
    record_imports(staging, entries, iati)
    incremental.write_record(staging.path, incremental.Record(key, graphs.hexdigests(), results))
    return digest, summary, iati


def validation_scope(
    settings: Settings,
    validated: ox.Store,
    shapes: rdflib.Graph,
    validator: str,
    key: str,
    graphs: dict[str, str],
) -> incremental.Scope:
    """What this build validates: the graphs changed since the current release and what the
    shapes reach from them (:mod:`iomkg.incremental`), or everything."""
    if validator != "sparql":
        return incremental.Scope((), None, reason=f"--validator {validator} validates all")
    current = Releases(settings.store_root).current()
    return incremental.scope(
        compile_shapes(shapes),
        validated,
        key,
        graphs,
        current.path if current is not None else None,
        settings.graph_iri("ontology"),
    )


SH_VIOLATION = rdflib.URIRef("http://www.w3.org/ns/shacl#Violation")


def _stream_sources(
    sources: Sequence[SourceFile],
    base_iri: str,
    validated: ox.Store,
    release: OxigraphStore,
    step: Step,
    graphs: incremental.GraphDigests,
) -> tuple[str, float]:
    """Each file parsed into ``validated`` (counted on ``step``, its graph's digest fed), then
    bulk-loaded into ``release``; the sources' digest (as :func:`parse_sources` gives it) and
    the loads' time."""
    digest = hashlib.sha256(base_iri.encode())
    load_seconds = 0.0
    for source in sources:
        data = _read(source.path)
        digest.update(source.path.name.encode() + data)
        graphs.add(source.graph, source.path.name.encode() + data)
        validated.bulk_extend(for_validation(step.counted(_quads(source, data, base_iri))))
        loading = time.perf_counter()
        format = _rdf_format(source.path)
        if format.supports_datasets:  # its graph names give way to the file's graph
            release.raw.bulk_extend(_quads(source, data, base_iri))
        else:
            release.raw.bulk_load(
                data, format, base_iri=base_iri, to_graph=ox.NamedNode(source.graph)
            )
        load_seconds += time.perf_counter() - loading
    return digest.hexdigest()[:12], load_seconds


def _quads(source: SourceFile, data: bytes, base_iri: str) -> Iterator[ox.Quad]:
    """The statements of one file in its graph, parsed as they are read; a parse error raises
    :class:`SourceParseError` with the file, line and column."""
    graph = ox.NamedNode(source.graph)
    try:
        for statement in ox.parse(data, format=_rdf_format(source.path), base_iri=base_iri):
            yield ox.Quad(statement.subject, statement.predicate, statement.object, graph)
    except SyntaxError as error:
        message = str(error.msg).split(": ", 1)[-1] if error.msg else str(error)
        raise SourceParseError(source.path, error.lineno, error.offset, message) from error


def _subject_files(sources: Sequence[SourceFile], base_iri: str) -> dict[str, set[str]]:
    """Which files state each subject, read again from the files (only to name them in a
    violation: the build keeps no such index while it runs)."""
    found: dict[str, set[str]] = defaultdict(set)
    for source in sources:
        for quad in _quads(source, _read(source.path), base_iri):
            found[_term_key(quad.subject)].add(str(source.path))
    return found


def activities_counted(step: Step) -> ImportProgress:
    """An IATI file progress that counts every file's activities on ``step``."""
    seen: dict[str, int] = {}

    def told(name: str, activities: int, _read: int, _size: int) -> None:
        step.add(activities - seen.get(name, 0))
        seen[name] = activities

    return told


def iati_graphs(
    settings: Settings,
    project: ox.Store,
    digest: str,
    shapes: rdflib.Graph,
    imports: Sequence[ImportEntry] | None,
    strict: frozenset[str],
    progress: ImportProgress | None,
    validator: str = "sparql",
) -> tuple[list[ImportEntry], Derived, str]:
    """The IATI graphs (``data/iati`` and the imports), validated activity by activity against
    the project's graphs and bulk-loaded into ``project`` (the staging store) one file at a time;
    the imports the new release records; the
    release's digest (``digest``, the sources', with the imports')."""
    from iomkg.iati import imports as iati  # the IATI package builds on this module

    current = Releases(settings.store_root).current()
    entries = (
        list(imports)
        if imports is not None
        else iati.read_manifest(current.path if current else None)
    )
    inputs = iati.build_inputs(settings, entries)
    derived = iati.derive(
        settings,
        project,
        shapes,
        inputs,
        project.bulk_extend,
        strict=strict,
        progress=progress,
        validator=validator,
    )
    if entries:
        combined = hashlib.sha256(digest.encode())
        for entry in entries:
            combined.update(entry.sha256.encode())
        digest = combined.hexdigest()[:12]
    return entries, derived, digest


def record_imports(release: Release, entries: Sequence[ImportEntry], derived: Derived) -> None:
    """Write the release's list of imports (with what each gave) into the release itself."""
    from iomkg.iati import imports as iati

    reports = {report.name: report.counts() for report in derived.files}
    iati.write_manifest(
        release.path, [iati.with_counts(e, reports.get(e.name, {})) for e in entries]
    )


def jsonld_context(settings: Settings) -> dict[str, object]:
    """A JSON-LD context that turns full IRIs into readable prefixed names."""
    return {"@context": {**prefixes(settings.base_iri), "@base": settings.base_iri}}


def write_dumps(
    store: OxigraphStore, release: Release, settings: Settings, step: Step | None = None
) -> list[Path]:
    """Turtle (the union of all graphs); TriG, N-Quads and JSON-LD (with named graphs)."""
    release.dumps_path.mkdir(parents=True, exist_ok=True)
    names = output_prefixes(settings.base_iri)  # full IRIs rather than `id:funding\/x`
    written = []
    for filename, format in DUMP_FORMATS.items():
        path = release.dumps_path / filename
        if format == ox.RdfFormat.TURTLE:
            union = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
            ox.serialize(union, str(path), format, prefixes=names)  # type: ignore[arg-type]
        elif format == ox.RdfFormat.JSON_LD:
            with path.open("w", encoding="utf-8") as sink:
                write_jsonld(store, settings, sink)
        else:
            store.dump(path, format=format, prefixes=names)
        written.append(path)
        if step is not None:
            step.add()
    context_path = release.dumps_path / "context.jsonld"
    context_path.write_text(json.dumps(jsonld_context(settings), indent=2) + "\n", encoding="utf-8")
    written.append(context_path)
    if step is not None:
        step.add()
    return written


def write_jsonld(
    store: OxigraphStore, settings: Settings, sink: IO[str], graph: str | None = None
) -> None:
    """The named graphs (or one) as JSON-LD compacted with :func:`jsonld_context`: readable, unlike
    pyoxigraph's expanded form, and written one subject at a time (:mod:`iomkg.jsonld`)."""
    graphs = [graph] if graph is not None else store.named_graphs()
    jsonld.write_jsonld(
        ((iri, store.raw.quads_for_pattern(None, None, None, ox.NamedNode(iri))) for iri in graphs),
        jsonld_context(settings)["@context"],  # type: ignore[arg-type]
        sink,
    )


def jsonld_text(store: OxigraphStore, settings: Settings, graph: str | None = None) -> str:
    """:func:`write_jsonld` as text."""
    text = io.StringIO()
    write_jsonld(store, settings, text, graph)
    return text.getvalue()


def current_release(settings: Settings) -> Release | None:
    return Releases(settings.store_root).current()
