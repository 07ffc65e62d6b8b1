"""The SPARQL 1.1 Protocol as pure functions: the parts of an HTTP request in, a typed call out.

Nothing here imports Flask: the web layer hands over the raw query string and body bytes (so
percent-decoding happens exactly once, here, and invalid UTF-8 is caught rather than replaced)
and renders what comes back. Every refusal is a :class:`ProtocolError` carrying its HTTP status
and a message for the client.

Choices, documented once:

* The base IRI for relative IRIs in queries, updates and dataset parameters is the graph's base
  namespace (``settings.base_iri``), so ``<id/country/NO>`` means what it means in ``data/``.
* The default graph is the union of all named graphs; ``GRAPH ?g`` reaches each source file's
  graph. ``default-graph-uri`` / ``named-graph-uri`` replace ``FROM`` / ``FROM NAMED``; giving
  either one defines the whole dataset (the other side is empty); an unknown graph is empty.
* ``format=`` (or ``output=``) overrides ``Accept``; several values may be given (SPARQLWrapper
  sends e.g. ``format=tsv&format=text/tab-separated-values``) and the first that fits the kind
  of result wins. ``format=html`` asks for the page a browser gets.
* ASK in CSV or TSV (which the W3C specs leave undefined) is the single word ``true``/``false``.
"""

from __future__ import annotations

import codecs
import functools
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote_to_bytes, urljoin, urlsplit

import pyoxigraph as ox

from iomkg import formats, sparqltext
from iomkg.config import Settings
from iomkg.formats import Format, Kind
from iomkg.serving.service import QueryRequest, UpdateRequest
from iomkg.vocab import prefixes

FORM = "application/x-www-form-urlencoded"
SPARQL_QUERY = "application/sparql-query"
SPARQL_UPDATE = "application/sparql-update"
POST_TYPES = (FORM, SPARQL_QUERY, SPARQL_UPDATE)
FORMAT_PARAMETERS = ("format", "output")
UTF8_CHARSETS = ("utf-8", "utf8", "us-ascii", "ascii")
FORM_KINDS: dict[str, Kind] = {
    "SELECT": "results",
    "ASK": "results",
    "CONSTRUCT": "graph",
    "DESCRIBE": "graph",
}


class ProtocolError(Exception):
    """A request the protocol refuses: ``status`` is the HTTP status, ``str()`` the message."""

    def __init__(
        self, status: int, message: str, *, headers: Mapping[str, str] | None = None
    ) -> None:
        self.status = status
        self.message = message
        self.headers = dict(headers or {})
        super().__init__(message)


@dataclass(frozen=True)
class HttpRequest:
    """The parts of an HTTP request the protocol looks at, undecoded."""

    method: str
    query_string: bytes = b""
    content_type: str | None = None
    body: bytes = b""
    accept: Sequence[tuple[str, float]] = ()
    authorization: str | None = None
    origin: str | None = None
    host: str | None = None


@dataclass(frozen=True)
class QueryCall:
    """Run a query; ``form`` is SELECT/ASK/CONSTRUCT/DESCRIBE as the text says (None if unclear)."""

    request: QueryRequest
    form: str | None
    html: bool = False


@dataclass(frozen=True)
class UpdateCall:
    request: UpdateRequest


@dataclass(frozen=True)
class DescriptionCall:
    """No query: answer the service description, as RDF in ``format`` or as the HTML page."""

    format: Format | None
    html: bool = False
    offered: tuple[str, ...] = field(default_factory=tuple)


Call = QueryCall | UpdateCall | DescriptionCall


# Parameters ------------------------------------------------------------------------------------


def parse_params(raw: bytes, where: str = "query string") -> list[tuple[str, str]]:
    """``application/x-www-form-urlencoded`` pairs, percent-decoded once, strictly as UTF-8.

    >>> parse_params(b"query=SELECT+%3Fs&format=json")
    [('query', 'SELECT ?s'), ('format', 'json')]
    >>> parse_params(b"query=%FF")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    iomkg.serving.protocol.ProtocolError: the query string is not valid UTF-8 once ...
    """
    pairs: list[tuple[str, str]] = []
    for piece in raw.split(b"&"):
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        decoded_name = _decode(name, where, None)
        pairs.append((decoded_name, _decode(value, where, decoded_name)))
    return pairs


def percent_decode(raw: bytes) -> bytes:
    r"""``%XX`` escapes decoded, exactly as :func:`urllib.parse.unquote_to_bytes` does.

    A SPARQL query in a URL is mostly escapes, which urllib decodes one by one in Python (about
    13 µs for a short query: the largest cost of a cheap request). Rewritten as ``\xXX`` escapes
    (after doubling every backslash) they are decoded in C by ``codecs.escape_decode``, the
    decoder pickle uses for its own escapes. A ``%`` without two hex digits after it is not
    valid there: such text takes urllib's way.

    >>> percent_decode(b"SELECT%20%3Fs%20%E2%9C%93%20'a\\b'")
    b"SELECT ?s \xe2\x9c\x93 'a\\b'"
    >>> percent_decode(b"100%25 %zz %4")
    b'100% %zz %4'
    """
    if b"%" not in raw:
        return raw
    escaped = raw.replace(b"\\", b"\\\\").replace(b"%", b"\\x")
    try:
        decoded: bytes = codecs.escape_decode(escaped)[0]
    except ValueError:
        return unquote_to_bytes(raw)
    return decoded


def _decode(raw: bytes, where: str, name: str | None) -> str:
    try:
        return percent_decode(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError as error:
        which = f" (parameter {name!r})" if name else ""
        raise ProtocolError(
            400, f"the {where} is not valid UTF-8 once percent-decoded{which}"
        ) from error


def _values(params: Sequence[tuple[str, str]], name: str) -> list[str]:
    return [value for key, value in params if key == name]


def _single(params: Sequence[tuple[str, str]], name: str) -> str | None:
    values = _values(params, name)
    if len(values) > 1:
        raise ProtocolError(
            400, f"the request gives {len(values)} '{name}' parameters; give exactly one"
        )
    return values[0] if values else None


def _media_type(content_type: str | None) -> tuple[str | None, dict[str, str]]:
    if content_type is None or not content_type.strip():
        return None, {}
    media, *rest = content_type.split(";")
    parameters = {}
    for item in rest:
        key, _, value = item.partition("=")
        parameters[key.strip().lower()] = value.strip().strip('"').lower()
    return media.strip().lower(), parameters


def _body_text(body: bytes, charset: str | None) -> str:
    if charset is not None and charset not in UTF8_CHARSETS:
        raise ProtocolError(415, f"charset={charset} is not supported: send the body as UTF-8")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ProtocolError(
            400, f"the request body is not valid UTF-8 (byte {error.start}: {error.reason})"
        ) from error


def _graph_iris(params: Sequence[tuple[str, str]], name: str, base: str) -> tuple[str, ...]:
    """IRIs of a dataset parameter, relative ones resolved against the base; 400 if not IRIs."""
    iris = []
    for value in _values(params, name):
        try:
            iris.append(ox.NamedNode(urljoin(base, value.strip())).value)
        except ValueError as error:
            raise ProtocolError(400, f"{name}={value!r} is not an IRI: {error}") from error
    return tuple(iris)


# Negotiation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    """Formats picked for each kind of result, and whether a browser page is wanted."""

    results: Format | None
    graph: Format | None
    html: bool


def choose_formats(
    params: Sequence[tuple[str, str]],
    accept: Sequence[tuple[str, float]],
    tables: Mapping[Kind, tuple[Format, ...]] = formats.TABLES,
) -> Choice:
    """``format=``/``output=`` first (the first value that fits each kind), then ``Accept``.

    A ``format=`` that fits neither kind is a 406 at once; one that fits only the other kind
    leaves this kind with no format, so that kind of answer is a 406 too (as ``/api/queries``).

    >>> choice = choose_formats([("format", "tsv"), ("format", "text/tab-separated-values")], [])
    >>> (choice.results.name, choice.graph, choice.html)
    ('tsv', None, False)
    """
    wanted = tuple(value for key, value in params if key in FORMAT_PARAMETERS and value.strip())
    if tables is formats.TABLES:  # the endpoint's case: clients repeat the same few headers
        return _choose_default(wanted, tuple(accept))
    return _choose(wanted, accept, tables)


@functools.lru_cache(maxsize=256)
def _choose_default(wanted: tuple[str, ...], accept: tuple[tuple[str, float], ...]) -> Choice:
    return _choose(wanted, accept, formats.TABLES)


def _choose(
    wanted: tuple[str, ...],
    accept: Sequence[tuple[str, float]],
    tables: Mapping[Kind, tuple[Format, ...]],
) -> Choice:
    html = any(value.strip().lower() in ("html", "text/html") for value in wanted)
    chosen: dict[Kind, Format | None] = {}
    for kind, table in tables.items():
        named = [
            fmt for fmt in (formats.by_name(value, table) for value in wanted) if fmt is not None
        ]
        if named:
            chosen[kind] = named[0]
        elif wanted and not html:
            chosen[kind] = None  # format= names no format of this kind: 406 once the kind is known
        else:
            chosen[kind] = formats.negotiate(accept, table)
    recognised = html or any(
        formats.by_name(value, table) is not None for value in wanted for table in tables.values()
    )
    if wanted and not recognised:
        names = sorted({fmt.name for table in tables.values() for fmt in table} | {"html"})
        raise ProtocolError(
            406, f"format={wanted[0]} is not offered; use one of: {', '.join(names)}"
        )
    if not wanted:
        html = formats.prefers_html(accept, *tables.values())
    return Choice(chosen.get("results"), chosen.get("graph"), html)


def not_acceptable(kind: Kind | tuple[Format, ...]) -> ProtocolError:
    offered = formats.offered_media_types(kind)
    return ProtocolError(
        406, "none of the offered formats is acceptable; offered: " + ", ".join(offered)
    )


# The request -----------------------------------------------------------------------------------


def parse_request(http: HttpRequest, settings: Settings) -> Call:
    """Read a request to the SPARQL endpoint: a query, an update or a service description."""
    method = http.method.upper()
    url_params = parse_params(http.query_string)
    if method in ("GET", "HEAD"):
        if _values(url_params, "update"):
            raise ProtocolError(
                400,
                "SPARQL Update is not allowed by GET: send it by POST as update= "
                "or application/sparql-update",
            )
        if not _values(url_params, "query"):
            if any(key not in FORMAT_PARAMETERS for key, _ in url_params):
                raise ProtocolError(400, "the request has parameters but no query=")
            return _description(url_params, http.accept)
        return _query(_single(url_params, "query") or "", url_params, http, settings)
    if method != "POST":
        raise ProtocolError(405, f"{method} is not supported here: use GET or POST")
    media, parameters = _media_type(http.content_type)
    if media is None:
        raise ProtocolError(415, "a POST needs a Content-Type: one of " + ", ".join(POST_TYPES))
    if media not in POST_TYPES:
        raise ProtocolError(
            415, f"Content-Type {media} is not supported; use one of " + ", ".join(POST_TYPES)
        )
    text = _body_text(http.body, parameters.get("charset"))
    if media == FORM:
        params = url_params + parse_params(text.encode("utf-8"), "form body")
        query, update = _single(params, "query"), _single(params, "update")
        if query is not None and update is not None:
            raise ProtocolError(
                400, "the request gives both query= and update=; send one operation"
            )
        if query is not None:
            return _query(query, params, http, settings)
        if update is not None:
            return _update(update, params, http, settings)
        raise ProtocolError(400, "the form has neither query= nor update=")
    for name in ("query", "update"):
        if _values(url_params, name):
            raise ProtocolError(
                400, f"the {media} body is the operation: do not also give {name}= in the URL"
            )
    if media == SPARQL_QUERY:
        return _query(text, url_params, http, settings)
    return _update(text, url_params, http, settings)


def _description(
    params: Sequence[tuple[str, str]], accept: Sequence[tuple[str, float]]
) -> DescriptionCall:
    choice = choose_formats(params, accept, {"graph": formats.GRAPH_FORMATS})
    if not choice.html and choice.graph is None:
        raise not_acceptable("graph")
    return DescriptionCall(choice.graph, choice.html, tuple(formats.offered_media_types("graph")))


def _query(
    text: str, params: Sequence[tuple[str, str]], http: HttpRequest, settings: Settings
) -> QueryCall:
    if not text.strip():
        raise ProtocolError(400, "the query is empty")
    form = sparqltext.operation_keyword(text)
    if form in sparqltext.UPDATE_KEYWORDS:
        raise ProtocolError(
            400,
            "this is a SPARQL Update, not a query: send it by POST as update= "
            "or application/sparql-update",
        )
    base = settings.base_iri
    default = _graph_iris(params, "default-graph-uri", base)
    named = _graph_iris(params, "named-graph-uri", base)
    given = bool(default or named)
    _check_network(text, settings)
    choice = choose_formats(params, http.accept)
    kind = FORM_KINDS.get(form or "")
    if (
        not choice.html
        and kind is not None
        and (choice.results if kind == "results" else choice.graph) is None
    ):
        asked = [value for key, value in params if key in FORMAT_PARAMETERS and value.strip()]
        if asked:
            offered = ", ".join(fmt.name for fmt in formats.TABLES[kind])
            raise ProtocolError(
                406, f"format={asked[0]} does not fit a {form} query; use one of: {offered}"
            )
        raise not_acceptable(kind)
    request = QueryRequest(
        sparql=text,
        results_format=choice.results,
        graph_format=choice.graph,
        default_graphs=default if given else None,
        named_graphs=named if given else None,
        base_iri=base,
        max_rows=settings.max_rows,
        prefixes=prefixes(base),
        allowed_services=settings.service_allowlist,
    )
    return QueryCall(request, form, choice.html)


def _update(
    text: str, params: Sequence[tuple[str, str]], http: HttpRequest, settings: Settings
) -> UpdateCall:
    authorize_update(http, settings)
    if not text.strip():
        raise ProtocolError(400, "the update is empty")
    base = settings.base_iri
    using = _graph_iris(params, "using-graph-uri", base)
    using_named = _graph_iris(params, "using-named-graph-uri", base)
    try:
        sparqltext.add_using_clauses(text, using, using_named)  # refuses USING/WITH + parameters
    except sparqltext.DatasetError as error:
        raise ProtocolError(400, str(error)) from error
    _check_network(text, settings)
    return UpdateCall(UpdateRequest(text, using, using_named, base, settings.service_allowlist))


def _check_network(text: str, settings: Settings) -> None:
    try:
        sparqltext.check_network_access(text, settings.service_allowlist, settings.base_iri)
    except sparqltext.NetworkRefused as error:
        raise ProtocolError(403, str(error)) from error  # refused by policy, not malformed


# Updates: who may send them ----------------------------------------------------------------------

BEARER_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="iomkg"'}


def authorize_update(http: HttpRequest, settings: Settings) -> None:
    """Allow an update only with the server's token, or anonymously on a loopback-bound server.

    A cross-origin browser request (``Origin`` naming another host) is refused in every mode, so a
    web page cannot use a visitor's browser to write to a local server (CSRF).
    """
    if http.origin and http.host and not _same_origin(http.origin, http.host):
        raise ProtocolError(403, f"updates from another origin ({http.origin}) are refused")
    if settings.allow_anonymous_updates:
        return
    if settings.update_token is None:
        raise ProtocolError(
            403,
            "updates are disabled on this server: start it with --update-token TOKEN (then send "
            "Authorization: Bearer TOKEN) or, on a loopback address, --allow-anonymous-updates",
        )
    scheme, _, token = (http.authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ProtocolError(
            401, "updates need Authorization: Bearer TOKEN", headers=BEARER_CHALLENGE
        )
    if not hmac.compare_digest(token.strip().encode(), settings.update_token.encode()):
        raise ProtocolError(
            401,
            "the update token is wrong",
            headers={"WWW-Authenticate": 'Bearer realm="iomkg", error="invalid_token"'},
        )


def _same_origin(origin: str, host: str) -> bool:
    if origin == "null":
        return False
    return urlsplit(origin).netloc.lower() == host.strip().lower()


__all__ = [
    "Call",
    "Choice",
    "DescriptionCall",
    "HttpRequest",
    "ProtocolError",
    "QueryCall",
    "UpdateCall",
    "authorize_update",
    "choose_formats",
    "not_acceptable",
    "parse_params",
    "parse_request",
]
