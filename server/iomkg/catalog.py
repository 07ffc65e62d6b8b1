"""Saved queries: a folder of plain ``.rq`` files with a ``#+`` metadata header, run by name.

The idea is grlc's (a header is enough for a CLI command, an HTTP route and an OpenAPI entry);
the binding is not. grlc splices parameter values into the query text (its issue #101); here a
value is parsed strictly into one RDF term of its declared type and handed to pyoxigraph as a
*substitution* (SPARQL-dev SEP-0007): the query text is never changed, so a value cannot break
out of a string or an IRI, whatever characters it holds.

Header grammar (the file's leading ``#+`` lines; see ``queries/README.md``)::

    #+ title: Donors of a programme or activity
    #+ description: Every donor of the project or activity, with its role
    #+   (lead nation, contributor, external donor, self-payer).
    #+ param: programme iri required example=id:project/ntf -- The project or activity.
    #+ param: year year default=2010 example=2010 -- A calendar year.
    #+ tags: funding, donors
    #+ service: https://query.wikidata.org/sparql

A line ``#+`` followed by two or more spaces continues the previous field. A parameter is
``NAME TYPE (required | optional | default=VALUE) example=VALUE [-- description]``; values with
spaces are quoted (``default="North Macedonia"``). In the query body the parameter is written
``$NAME`` (SPARQL reads ``$x`` and ``?x`` as the same variable), and nothing else uses ``$``:
so the inputs of a query are visible at a glance and checked against the header. pyoxigraph
only substitutes projected variables, so a SELECT query lists its parameters in its projection.
An ``optional`` parameter that is not given stays a free variable (it matches anything).
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyoxigraph as ox

from iomkg import formats, sparqltext
from iomkg.config import Settings
from iomkg.formats import Kind
from iomkg.serving import service
from iomkg.serving.service import QueryRequest
from iomkg.store.base import GraphStore, QueryResult, Term
from iomkg.vocab import prefixes

XSD = "http://www.w3.org/2001/XMLSchema#"

ParamType = Literal["iri", "literal", "integer", "decimal", "date", "year"]
PARAM_TYPES: tuple[ParamType, ...] = ("iri", "literal", "integer", "decimal", "date", "year")
QueryForm = Literal["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"]

#: Query-string keys the HTTP API keeps for itself; no parameter may be called so.
RESERVED_NAMES = frozenset({"format", "query", "name"})
#: The longest value any parameter accepts (a bound on work, not a security measure).
MAX_VALUE_LENGTH = 2000

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_QUERY_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+\Z")
_HEADER_KEYS = ("title", "description", "param", "tags", "service")
_REPEATABLE = {"param", "service"}


# Errors ------------------------------------------------------------------------------------


class CatalogError(Exception):
    """Base of the catalogue's errors; the message says what to fix."""


class HeaderError(CatalogError):
    """A saved query's file is malformed: names the file and, where known, the line."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path, self.line, self.message = path, line, message
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")


class UnknownQuery(CatalogError):
    """No saved query has this name (HTTP 404)."""

    def __init__(self, name: str, known: Iterable[str]) -> None:
        self.name = name
        names = sorted(known)
        if any(character.isspace() or character == "{" for character in name):
            hint = " (SPARQL text is given with -q or -f, or sent to /sparql)"
        elif close := difflib.get_close_matches(name, names, n=1):
            hint = f" (did you mean {close[0]!r}?)"
        else:
            hint = ""
        super().__init__(
            f"no saved query {name!r}{hint}; the saved queries (`iomkg queries`, "
            "GET /api/queries) are: " + ", ".join(names)
        )


class ParameterError(CatalogError):
    """A value is missing, unknown or does not fit its type (HTTP 400, CLI usage error)."""

    def __init__(self, parameter: str, message: str) -> None:
        self.parameter = parameter
        super().__init__(f"parameter {parameter!r}: {message}")


class ServiceNotAllowed(CatalogError):
    """The query calls a remote endpoint (SERVICE) that is not allow-listed (HTTP 403)."""

    def __init__(self, query: str, endpoints: Iterable[str]) -> None:
        self.endpoints = tuple(endpoints)
        listed = " ".join(self.endpoints)
        super().__init__(
            f"saved query {query!r} calls {', '.join(self.endpoints)} through SERVICE, which is "
            f"not allowed here (no outbound requests unless allow-listed); an operator may set "
            f"IOMKG_SERVICE_ALLOWLIST={listed} to allow it"
        )


# Model -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameter:
    """One declared input of a saved query."""

    name: str
    type: ParamType
    required: bool
    example: str
    default: str | None = None
    description: str = ""

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.default is not None:
            data["default"] = self.default
        data["example"] = self.example
        data["description"] = self.description
        return data


@dataclass(frozen=True)
class SavedQuery:
    """A parsed ``.rq`` file: its header fields and its (unchanged) SPARQL text."""

    name: str
    path: Path
    title: str
    description: str
    form: QueryForm
    sparql: str
    parameters: tuple[Parameter, ...] = ()
    tags: tuple[str, ...] = ()
    services: tuple[str, ...] = ()

    @property
    def kind(self) -> Kind:
        """Tabular results (SELECT, ASK) or a graph (CONSTRUCT, DESCRIBE)."""
        return "graph" if self.form in ("CONSTRUCT", "DESCRIBE") else "results"

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    @property
    def needs_values(self) -> bool:
        """True when a parameter is required: run as plain SPARQL (in the query editor), its
        ``$`` variables stay free and the answer is not the one the query is for."""
        return any(p.required for p in self.parameters)

    def examples(self) -> dict[str, str]:
        """Example values for the required parameters: a request that answers something."""
        return {p.name: p.example for p in self.parameters if p.required}

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "description": self.description,
            "form": self.form,
            "tags": list(self.tags),
            "parameters": [p.to_json() for p in self.parameters],
            "formats": [fmt.name for fmt in formats.TABLES[self.kind]],
            "services": list(self.services),
        }


@dataclass(frozen=True)
class BoundQuery:
    """A saved query with its parameters parsed into RDF terms, ready to run."""

    query: SavedQuery
    substitutions: Mapping[str, Term] = field(default_factory=dict)


# Parameter values --------------------------------------------------------------------------

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_YEAR = re.compile(r"[0-9]{4}\Z")
_COMPACT = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*):(?!//)(.*)\Z", re.DOTALL)

TYPE_HINTS: dict[ParamType, str] = {
    "iri": "an absolute IRI such as https://… or a compact one such as id:country/MK",
    "literal": "any text",
    "integer": "a whole number such as 42",
    "decimal": "a decimal number such as 9.5",
    "date": "a date YYYY-MM-DD",
    "year": "a four-digit year such as 2010",
}


def to_term(raw: str, type_: ParamType, base_iri: str, name: str = "value") -> Term:
    """Parse ``raw`` strictly as ``type_`` into one RDF term, or raise :class:`ParameterError`.

    ``iri`` takes an absolute IRI or a compact IRI whose prefix is one of iomkg's (``id:``,
    ``iomo:``, ``wd:``, …; ``id:country/MK`` is the country under the configured base). Relative
    references are refused rather than guessed.

    >>> to_term("id:country/MK", "iri", "https://w3id.org/iomkg/").value
    'https://w3id.org/iomkg/id/country/MK'
    >>> to_term("2010", "year", "https://w3id.org/iomkg/")
    <Literal value=2010 datatype=<NamedNode value=http://www.w3.org/2001/XMLSchema#gYear>>
    >>> to_term("1e3", "integer", "https://w3id.org/iomkg/", "n")
    Traceback (most recent call last):
    ...
    iomkg.catalog.ParameterError: parameter 'n': '1e3' is not a whole number such as 42
    """
    if len(raw) > MAX_VALUE_LENGTH:
        raise ParameterError(name, f"the value is longer than {MAX_VALUE_LENGTH} characters")
    value = raw if type_ == "literal" else raw.strip()
    if type_ == "iri":
        return _iri(value, base_iri, name)
    if type_ == "literal":
        return ox.Literal(value)
    if type_ == "integer" and _INTEGER.match(value):
        return ox.Literal(str(int(value)), datatype=ox.NamedNode(XSD + "integer"))
    if type_ == "decimal" and _DECIMAL.match(value):
        return ox.Literal(value, datatype=ox.NamedNode(XSD + "decimal"))
    if type_ == "date" and _DATE.match(value) and _valid_date(value):
        return ox.Literal(value, datatype=ox.NamedNode(XSD + "date"))
    if type_ == "year" and _YEAR.match(value):
        return ox.Literal(value, datatype=ox.NamedNode(XSD + "gYear"))
    raise ParameterError(name, f"{raw!r} is not {TYPE_HINTS[type_]}")


def _valid_date(value: str) -> bool:
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def expand_iri(value: str, base_iri: str) -> str:
    """``id:country/MK`` → the full IRI; anything without a known prefix is returned unchanged."""
    match = _COMPACT.match(value)
    if match:
        known = prefixes(base_iri)
        if match.group(1) in known:
            return known[match.group(1)] + match.group(2)
    return value


def _iri(value: str, base_iri: str, name: str) -> ox.NamedNode:
    expanded = expand_iri(value, base_iri)
    try:
        return ox.NamedNode(expanded)
    except ValueError as error:
        raise ParameterError(name, f"{value!r} is not {TYPE_HINTS['iri']} ({error})") from error


# Header parsing ----------------------------------------------------------------------------


def parse_file(path: Path, base_iri: str) -> SavedQuery:
    """Read and parse one saved query; raise :class:`HeaderError` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise HeaderError(path, None, f"cannot read the file: {error}") from error
    return parse_text(text, path, base_iri)


def parse_text(text: str, path: Path, base_iri: str) -> SavedQuery:
    """Parse a saved query's header and check it against the query body.

    >>> q = parse_text('''#+ title: All
    ... #+ description: Every subject.
    ... #+ param: s iri optional example=id:x -- A subject.
    ... SELECT $s WHERE { $s ?p ?o }
    ... ''', Path("list-subjects.rq"), "http://ex.org/")
    >>> q.title, q.form, [p.name for p in q.parameters]
    ('All', 'SELECT', ['s'])
    """
    name = path.stem
    if not _QUERY_NAME.match(name):
        raise HeaderError(
            path, None, "name saved queries verb-noun.rq, in lower case (list-donors.rq)"
        )
    fields, body_start = _header_fields(text, path)
    for key in ("title", "description"):
        if not fields.get(key):
            raise HeaderError(path, None, f"the header has no '#+ {key}:' line")
    parameters = tuple(
        _parameter(value, line, path, base_iri) for line, value in fields.get("param", [])
    )
    _check_unique([p.name for p in parameters], path, "parameter")
    tags = tuple(t.strip() for t in _single(fields, "tags").split(",") if t.strip())
    services = tuple(_service(value, line, path) for line, value in fields.get("service", []))
    body = text.split("\n", body_start)[-1] if body_start else text
    scan = scan_body(body, base_iri)
    if scan.form is None:
        raise HeaderError(path, None, "the file holds no SELECT, ASK, CONSTRUCT or DESCRIBE query")
    declared = {p.name for p in parameters}
    if scan.dollar_variables != declared:
        raise HeaderError(
            path,
            None,
            "the header must declare exactly the $variables the query uses: "
            f"declared {sorted(declared)}, used {sorted(scan.dollar_variables)}",
        )
    if set(scan.services) != set(services):
        raise HeaderError(
            path,
            None,
            "the header must declare ('#+ service: IRI') exactly the SERVICE endpoints the query "
            f"calls: declared {sorted(services)}, called {sorted(scan.services)}",
        )
    if scan.bound_parameters:
        raise HeaderError(
            path,
            None,
            f"BOUND(${sorted(scan.bound_parameters)[0]}) is always false for a bound parameter "
            '(pyoxigraph substitutes it); test \'not given\' with COALESCE(STR($name), "") = ""',
        )
    if scan.other_services:
        raise HeaderError(path, None, "a SERVICE endpoint must be a fixed IRI to be allow-listed")
    return SavedQuery(
        name=name,
        path=path,
        title=_single(fields, "title"),
        description=_single(fields, "description"),
        form=scan.form,
        sparql=text,
        parameters=parameters,
        tags=tags,
        services=services,
    )


def _header_fields(text: str, path: Path) -> tuple[dict[str, list[tuple[int, str]]], int]:
    """The header's fields as ``key -> [(line, value)]``, and the number of header lines."""
    fields: dict[str, list[tuple[int, str]]] = {}
    last: list[tuple[int, str]] | None = None
    count = 0
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.startswith("#+"):
            break
        count = number
        rest = line[2:].rstrip()
        if not rest.strip():
            last = None
            continue
        if rest.startswith(("  ", "\t")):
            if last is None:
                raise HeaderError(path, number, "a continuation line must follow a field")
            at, value = last[-1]
            last[-1] = (at, f"{value} {rest.strip()}".strip())
            continue
        key, sep, value = rest.strip().partition(":")
        key = key.strip().lower()
        if not sep or key not in _HEADER_KEYS:
            raise HeaderError(
                path, number, f"expected '#+ key: value' with key one of {', '.join(_HEADER_KEYS)}"
            )
        if key in fields and key not in _REPEATABLE:
            raise HeaderError(path, number, f"'{key}' may appear only once")
        last = fields.setdefault(key, [])
        last.append((number, value.strip()))
    for number, line in enumerate(text.split("\n")[count:], start=count + 1):
        if line.startswith("#+"):
            raise HeaderError(
                path, number, "'#+' lines belong in the header at the top of the file"
            )
    return fields, count


def _single(fields: Mapping[str, list[tuple[int, str]]], key: str) -> str:
    values = fields.get(key, [])
    return values[0][1] if values else ""


def _parameter(value: str, line: int, path: Path, base_iri: str) -> Parameter:
    spec, _, description = value.partition(" -- ")
    try:
        tokens = shlex.split(spec)
    except ValueError as error:
        raise HeaderError(path, line, f"cannot read the parameter: {error}") from error
    if len(tokens) < 2:
        raise HeaderError(
            path, line, "a parameter is: NAME TYPE required|optional|default=V example=V"
        )
    name, type_, *options = tokens
    if not _NAME.match(name) or name in RESERVED_NAMES:
        raise HeaderError(path, line, f"{name!r} is not a usable parameter name")
    if type_ not in PARAM_TYPES:
        raise HeaderError(path, line, f"type {type_!r} is not one of {', '.join(PARAM_TYPES)}")
    ptype: ParamType = type_
    required = optional = False
    default = example = None
    for option in options:
        key, sep, setting = option.partition("=")
        if option == "required":
            required = True
        elif option == "optional":
            optional = True
        elif sep and key == "default":
            default = setting
        elif sep and key == "example":
            example = setting
        else:
            raise HeaderError(path, line, f"unknown parameter option {option!r}")
    if [required, optional, default is not None].count(True) != 1:
        raise HeaderError(
            path, line, f"{name}: say exactly one of required, optional or default=VALUE"
        )
    if example is None:
        raise HeaderError(path, line, f"{name}: give an example=VALUE")
    for what, given in (("default", default), ("example", example)):
        if given is not None:
            try:
                to_term(given, ptype, base_iri, name)
            except ParameterError as error:
                raise HeaderError(path, line, f"the {what} of {error}") from error
    return Parameter(name, ptype, required, example, default, description.strip())


def _service(value: str, line: int, path: Path) -> str:
    try:
        return ox.NamedNode(value.strip()).value
    except ValueError as error:
        raise HeaderError(path, line, f"service {value!r} is not an absolute IRI") from error


def _check_unique(names: list[str], path: Path, what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise HeaderError(path, None, f"{what} {name!r} is declared twice")
        seen.add(name)


# Scanning the query body -------------------------------------------------------------------

_FORMS: tuple[QueryForm, ...] = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


@dataclass(frozen=True)
class BodyScan:
    """What the SPARQL tokenizer sees in a query: its form, ``$`` variables, SERVICE targets."""

    form: QueryForm | None
    dollar_variables: frozenset[str]
    services: tuple[str, ...]
    other_services: int
    bound_parameters: frozenset[str] = frozenset()


def scan_body(sparql: str, base_iri: str | None = None) -> BodyScan:
    """Read a query with :mod:`iomkg.sparqltext` (strings, IRIs and comments are never code).

    >>> scan_body('SELECT $a WHERE { ?a <x:p> "$b" } # $c').dollar_variables
    frozenset({'a'})
    """
    keyword = sparqltext.operation_keyword(sparql)
    form = next((candidate for candidate in _FORMS if candidate == keyword), None)
    tokens = sparqltext.code_tokens(sparql)
    dollars = {t.text[1:] for t in tokens if t.kind == "var" and t.text.startswith("$")}
    bound_tested = {
        tokens[i + 2].text[1:]
        for i, token in enumerate(tokens[:-2])
        if token.is_word("BOUND") and tokens[i + 1].text == "(" and tokens[i + 2].text[:1] == "$"
    }
    targets = [t for t in sparqltext.network_targets(sparql, base_iri) if t.keyword == "SERVICE"]
    services = tuple(t.iri for t in targets if t.iri is not None)
    return BodyScan(
        form,
        frozenset(dollars),
        services,
        sum(1 for t in targets if t.iri is None),
        frozenset(bound_tested),
    )


# The catalogue -----------------------------------------------------------------------------


class Catalog(Mapping[str, SavedQuery]):
    """The saved queries of a folder, by name, in name order."""

    def __init__(self, queries: Iterable[SavedQuery]) -> None:
        self._queries = {q.name: q for q in sorted(queries, key=lambda q: q.name)}

    @classmethod
    def load(cls, folder: Path, base_iri: str, pattern: str = "*.rq") -> Catalog:
        """Parse every ``pattern`` file directly in ``folder`` (not below it) and check it."""
        queries = [
            parse_file(path, base_iri) for path in sorted(folder.glob(pattern)) if path.is_file()
        ]
        _check_unique([q.name for q in queries], folder, "query")
        for saved in queries:
            check_compiles(saved, base_iri)
        return cls(queries)

    def __getitem__(self, name: str) -> SavedQuery:
        return self._queries[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._queries)

    def __len__(self) -> int:
        return len(self._queries)

    def get_query(self, name: str) -> SavedQuery:
        """The query called ``name``; :class:`UnknownQuery` (listing the names) if there is none."""
        if name not in self._queries:
            raise UnknownQuery(name, self._queries)
        return self._queries[name]

    def tags(self) -> list[str]:
        return sorted({tag for q in self._queries.values() for tag in q.tags})


def load_catalog(settings: Settings) -> Catalog:
    """The catalogue of ``queries/`` for these settings."""
    return Catalog.load(settings.queries_dir, settings.base_iri)


class CatalogFiles:
    """The catalogue of ``queries/``, parsed once and again only when a file there is added,
    changed or removed (a server keeps one; each request costs a ``stat`` per file).

    Thread-safe enough for its use: two threads that see a change at once both parse it, and
    the last one's catalogue is kept; both are right.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._signature: tuple[tuple[str, int], ...] | None = None
        self._catalog: Catalog | None = None

    def current(self) -> Catalog:
        folder = self.settings.queries_dir
        signature = tuple(
            sorted(
                (path.name, path.stat().st_mtime_ns)
                for path in folder.glob("*.rq")
                if path.is_file()
            )
        )
        if self._catalog is None or signature != self._signature:
            self._catalog = load_catalog(self.settings)
            self._signature = signature
        return self._catalog


def load_checks(settings: Settings) -> Catalog:
    """The quality checks, ``queries/checks/*-violation.rq`` (parameterless SELECT queries)."""
    folder = settings.queries_dir / "checks"
    checks = (
        Catalog.load(folder, settings.base_iri, "*-violation.rq")
        if folder.is_dir()
        else Catalog([])
    )
    for check in checks.values():
        if check.parameters or check.form != "SELECT" or check.services:
            raise HeaderError(
                check.path, None, "a check is a SELECT query with no parameters or SERVICE"
            )
    return checks


def check_compiles(saved: SavedQuery, base_iri: str) -> None:
    """Prepare the query on an empty store with its examples bound: catches syntax errors and
    parameters missing from the SELECT projection (pyoxigraph substitutes projected variables only)
    when the catalogue loads, not when a user first runs it. Nothing is evaluated remotely."""
    if saved.services and saved.form == "ASK":
        return  # ASK evaluates eagerly; do not call out while loading
    examples = {p.name: to_term(p.example, p.type, base_iri, p.name) for p in saved.parameters}
    try:
        ox.Store().query(
            saved.sparql,
            base_iri=base_iri,
            substitutions={ox.Variable(k): v for k, v in examples.items()} or None,
        )
    except SyntaxError as error:
        raise HeaderError(saved.path, None, f"the SPARQL does not parse: {error}") from error
    except RuntimeError as error:
        raise HeaderError(saved.path, None, f"the parameters cannot be bound: {error}") from error


# Binding and running -----------------------------------------------------------------------


def bind(saved: SavedQuery, raw_params: Mapping[str, str], base_iri: str) -> BoundQuery:
    """Parse the given values (and defaults) into terms; refuse unknown, missing or ill-typed ones.

    An empty value counts as not given (what an HTML form sends for an empty field).
    """
    for key in raw_params:
        if saved.parameter(key) is None:
            takes = ", ".join(p.name for p in saved.parameters) or "no parameters"
            raise ParameterError(key, f"{saved.name} does not take it (it takes: {takes})")
    bound: dict[str, Term] = {}
    for param in saved.parameters:
        raw = raw_params.get(param.name)
        if raw is None or raw == "":
            if param.required:
                raise ParameterError(
                    param.name, f"required; give {TYPE_HINTS[param.type]}, e.g. {param.example}"
                )
            if param.default is None:
                continue
            raw = param.default
        bound[param.name] = to_term(raw, param.type, base_iri, param.name)
    return BoundQuery(saved, bound)


def refused_services(saved: SavedQuery, settings: Settings) -> tuple[str, ...]:
    """The SERVICE endpoints of ``saved`` that ``settings.service_allowlist`` does not name."""
    return tuple(iri for iri in saved.services if iri not in settings.service_allowlist)


def check_services(saved: SavedQuery, settings: Settings) -> None:
    """Refuse a query whose SERVICE endpoints are not all in ``settings.service_allowlist``."""
    refused = refused_services(saved, settings)
    if refused:
        raise ServiceNotAllowed(saved.name, refused)


def prepare(
    settings: Settings, name: str, raw_params: Mapping[str, str], catalog: Catalog | None = None
) -> BoundQuery:
    """Look up, bind and authorise a saved query: everything but running it."""
    saved = (catalog if catalog is not None else load_catalog(settings)).get_query(name)
    bound = bind(saved, raw_params, settings.base_iri)
    check_services(saved, settings)
    return bound


def query_request(
    bound: BoundQuery,
    settings: Settings,
    *,
    results_format: formats.Format | None = None,
    graph_format: formats.Format | None = None,
    max_rows: int | None = None,
) -> QueryRequest:
    """The executor's request for a bound saved query (the HTTP route adds formats and limits).

    The values travel as terms (``substitutions``), never as text; the SERVICE allow-list travels
    too, so the executor checks the query once more before pyoxigraph could call out.
    """
    return QueryRequest(
        sparql=bound.query.sparql,
        results_format=results_format,
        graph_format=graph_format,
        substitutions=dict(bound.substitutions) or None,
        base_iri=settings.base_iri,
        max_rows=max_rows,
        prefixes=prefixes(settings.base_iri),
        allowed_services=settings.service_allowlist,
    )


def run_bound(store: GraphStore, bound: BoundQuery, settings: Settings) -> QueryResult:
    """Evaluate in this process, through the same gate as every other query."""
    return service.evaluate(store, query_request(bound, settings))


def run_saved(
    store: GraphStore,
    settings: Settings,
    name: str,
    raw_params: Mapping[str, str],
    catalog: Catalog | None = None,
) -> QueryResult:
    """Run the saved query ``name`` with ``raw_params`` (strings, as typed) on ``store``."""
    return run_bound(store, prepare(settings, name, raw_params, catalog), settings)


# OpenAPI -----------------------------------------------------------------------------------

_SCHEMAS: dict[ParamType, dict[str, Any]] = {
    "iri": {"type": "string", "minLength": 1},
    "literal": {"type": "string"},
    "integer": {"type": "integer"},
    "decimal": {"type": "string", "pattern": r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$"},
    "date": {"type": "string", "format": "date"},
    "year": {"type": "string", "pattern": "^[0-9]{4}$"},
}


def parameter_schema(param: Parameter) -> dict[str, Any]:
    schema = dict(_SCHEMAS[param.type])
    if param.default is not None:
        schema["default"] = int(param.default) if param.type == "integer" else param.default
    return schema


def parameter_description(param: Parameter) -> str:
    """The header's description as a sentence, then what the value must be.

    >>> parameter_description(Parameter("y", "year", True, "2011", description="A year (UTC)"))
    'A year (UTC). Give a four-digit year such as 2010.'
    """
    text = param.description.strip()
    if text and not text.endswith((".", "?", "!")):
        text += "."
    return f"{text} Give {TYPE_HINTS[param.type]}.".strip()


def operation_id(name: str) -> str:
    """``list-donors`` → ``listDonors``."""
    first, *rest = name.split("-")
    return first + "".join(part.capitalize() for part in rest)


def openapi_document(catalog: Catalog, version: str, server_url: str = "/") -> dict[str, Any]:
    """An OpenAPI 3.1 description of ``/api/queries`` and one path per saved query."""
    paths: dict[str, Any] = {
        "/api/queries": {
            "get": {
                "operationId": "listQueries",
                "summary": "The catalogue of saved queries",
                "tags": ["catalogue"],
                "responses": {
                    "200": {
                        "description": "Every saved query with its title, parameters and formats.",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/SavedQuery"},
                                }
                            }
                        },
                    }
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This OpenAPI document",
                "tags": ["catalogue"],
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }
    for saved in catalog.values():
        paths[f"/api/queries/{saved.name}"] = {"get": _operation(saved)}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "iomkg saved queries",
            "version": version,
            "summary": "Common questions about IOM programmes, donors and member states, by name.",
            "description": (
                "Each operation runs one saved SPARQL query of the iomkg knowledge graph. "
                "Parameter values are parsed by their declared type and bound as RDF terms, "
                "never spliced into the query. Choose the answer's format with the Accept "
                "header or `format=`."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": server_url}],
        "tags": [{"name": "catalogue"}, *({"name": tag} for tag in catalog.tags())],
        "paths": paths,
        "components": {"schemas": _component_schemas()},
    }


def _operation(saved: SavedQuery) -> dict[str, Any]:
    table = formats.TABLES[saved.kind]
    parameters: list[dict[str, Any]] = [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": parameter_description(p),
            "schema": parameter_schema(p),
            "example": int(p.example) if p.type == "integer" else p.example,
        }
        for p in saved.parameters
    ]
    parameters.append(
        {
            "name": "format",
            "in": "query",
            "required": False,
            "description": "Overrides the Accept header.",
            "schema": {"type": "string", "enum": [fmt.name for fmt in table]},
        }
    )
    content: dict[str, Any] = {}
    for fmt in table:
        schema: dict[str, Any] = {"type": "string"}
        if fmt.name == "json" and saved.kind == "results":
            schema = {"$ref": "#/components/schemas/SparqlResults"}
        content.setdefault(fmt.media_type, {"schema": schema})
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {
        "200": {"description": f"The {saved.form} query's answer.", "content": content},
        "400": {
            "description": "A parameter is missing, unknown or not of its type.",
            "content": error,
        },
        "406": {"description": "None of the offered formats is acceptable.", "content": error},
        "503": {"description": "The query ran past the time limit.", "content": error},
    }
    if saved.services:
        responses["403"] = {
            "description": "The query calls a remote endpoint this server does not allow.",
            "content": error,
        }
    operation: dict[str, Any] = {
        "operationId": operation_id(saved.name),
        "summary": saved.title,
        "description": saved.description,
        "tags": list(saved.tags),
        "parameters": parameters,
        "responses": responses,
    }
    return operation


def _component_schemas() -> dict[str, Any]:
    term = {
        "type": "object",
        "required": ["type", "value"],
        "properties": {
            "type": {"enum": ["uri", "literal", "bnode", "triple"]},
            "value": {},
            "datatype": {"type": "string"},
            "xml:lang": {"type": "string"},
        },
    }
    return {
        "SparqlResults": {
            "type": "object",
            "description": "SPARQL 1.1 Query Results JSON.",
            "required": ["head"],
            "properties": {
                "head": {
                    "type": "object",
                    "properties": {"vars": {"type": "array", "items": {"type": "string"}}},
                },
                "results": {
                    "type": "object",
                    "properties": {
                        "bindings": {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": term},
                        }
                    },
                },
                "boolean": {"type": "boolean"},
            },
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}, "parameter": {"type": "string"}},
        },
        "Parameter": {
            "type": "object",
            "required": ["name", "type", "required", "example"],
            "properties": {
                "name": {"type": "string"},
                "type": {"enum": list(PARAM_TYPES)},
                "required": {"type": "boolean"},
                "default": {"type": "string"},
                "example": {"type": "string"},
                "description": {"type": "string"},
            },
        },
        "SavedQuery": {
            "type": "object",
            "required": ["name", "title", "description", "form", "parameters", "formats"],
            "properties": {
                "name": {"type": "string"},
                "title": {"type": "string"},
                "description": {"type": "string"},
                "form": {"enum": list(_FORMS)},
                "tags": {"type": "array", "items": {"type": "string"}},
                "parameters": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/Parameter"},
                },
                "formats": {"type": "array", "items": {"type": "string"}},
                "services": {"type": "array", "items": {"type": "string"}},
            },
        },
    }
