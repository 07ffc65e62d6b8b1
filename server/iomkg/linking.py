"""External link sets: find candidate links, review them, merge the accepted ones, report coverage.

Why this module: links to Wikidata and GeoNames are only worth having if they can be trusted.
So no link is ever made by guess. The linker asks a SPARQL endpoint (through SPARQLWrapper) for
entities that have no link yet, matching only on an identifier (ISO 3166-1 alpha-2 code, IATI
organisation identifier) or an exact name, and writes what it finds to a *review file*: a CSV
with one candidate per row and its evidence, which a person reads in a diff and marks
``accept`` or ``reject``. Accepting merges the marked rows into
``data/links/<target>/accepted.ttl``, each link with a record of where, when and how it was
found, and the link set then goes through SHACL and the build like any other data.

The coverage report and the link sets' VoID figures are computed with SPARQL over a store, so
the ``iomkg links`` command, the build and the web pages all count the same way.

Pure core: no printing and no exits; every failure is one of the exceptions below, whose
message is one line a person can act on.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import socket
import tempfile
import time
import urllib.error
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from importlib import metadata
from pathlib import Path
from typing import Literal

import pyoxigraph as ox
import rdflib
import tenacity
from rdflib.namespace import DCTERMS as DCT
from rdflib.namespace import PROV, RDF, XSD
from SPARQLWrapper import GET, JSON, POST, SPARQLWrapper
from SPARQLWrapper.SPARQLExceptions import (
    EndPointInternalError,
    EndPointNotFound,
    QueryBadFormed,
    SPARQLWrapperException,
    Unauthorized,
    URITooLong,
)

from iomkg import reference
from iomkg.store.base import GraphStore
from iomkg.vocab import RDF_TYPE, STANDARD_PREFIXES

# Vocabulary -----------------------------------------------------------------------------------

VOID = STANDARD_PREFIXES["void"]
SKOS = STANDARD_PREFIXES["skos"]
DCTERMS = STANDARD_PREFIXES["dcterms"]
XSD_INTEGER = STANDARD_PREFIXES["xsd"] + "integer"
WD = STANDARD_PREFIXES["wd"]
WDT = "http://www.wikidata.org/prop/direct/"
RDFS_LABEL = STANDARD_PREFIXES["rdfs"] + "label"

_PROLOGUE = """PREFIX owl: <http://www.w3.org/2002/07/owl#>
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#>
PREFIX org: <http://www.w3.org/ns/org#>
PREFIX schema: <https://schema.org/>
PREFIX iomo: <ontology#>
"""


# Targets and classes --------------------------------------------------------------------------


@dataclass(frozen=True)
class LinkTarget:
    """An external graph that links point into: its namespace, IRI shape and endpoint."""

    name: str
    title: str
    namespace: str
    pattern: re.Pattern[str]
    host: str  # a link whose IRI mentions this host but misses ``pattern`` is malformed
    kinds: tuple[str, ...]  # the entity kinds that can have a link into it
    endpoint: str | None  # the public SPARQL endpoint the linker asks by default

    def is_valid(self, iri: str) -> bool:
        return self.pattern.fullmatch(iri) is not None

    def short(self, iri: str) -> str:
        """``Q20`` for a Wikidata item, ``3144096`` for a GeoNames feature."""
        return iri[len(self.namespace) :].rstrip("/") if iri.startswith(self.namespace) else iri


TARGETS: dict[str, LinkTarget] = {
    "wikidata": LinkTarget(
        "wikidata",
        "Wikidata",
        WD,
        re.compile(r"http://www\.wikidata\.org/entity/Q[1-9][0-9]*"),
        "wikidata.org",
        ("country", "organisation"),
        "https://query.wikidata.org/sparql",
    ),
    "geonames": LinkTarget(
        "geonames",
        "GeoNames",
        reference.GEONAMES,
        re.compile(r"https://sws\.geonames\.org/[1-9][0-9]*/"),
        "geonames.org",
        ("country",),
        None,
    ),
}


@dataclass(frozen=True)
class EntityKind:
    """A class of local resources that may be linked, as the report names it."""

    key: str
    plural: str
    class_iri: str


KINDS: dict[str, EntityKind] = {
    "country": EntityKind("country", "countries", "https://schema.org/Country"),
    "organisation": EntityKind(
        "organisation", "organisations", "http://www.w3.org/ns/org#Organization"
    ),
}

Method = Literal["iso3166-alpha2", "iati-organisation-id", "exact-label"]

#: The iomo:linkMethod text of each way the linker matches.
METHODS: dict[str, str] = {
    "iso3166-alpha2": "identifier match on ISO 3166-1 alpha-2 code, reviewed",
    "iati-organisation-id": "identifier match on IATI organisation identifier, reviewed",
    "exact-label": "exact label match, reviewed",
}


class LinkingError(Exception):
    """Base of the linker's failures; ``str()`` is one line saying what to do."""


class UnknownTarget(LinkingError):
    pass


class EndpointUnreachable(LinkingError):
    """The endpoint could not be reached or kept failing; nothing was written."""


class EndpointRefused(LinkingError):
    """The endpoint answered, but with an error that retrying will not fix (400, 401, 404, 414)."""


class ReviewFileError(LinkingError):
    """The review file cannot be read as one: wrong columns, unknown decision, bad row."""


class ReviewRejected(LinkingError):
    """Accepted rows that would break the link set; nothing was written."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(
            f"{len(self.problems)} accepted row(s) cannot be merged; nothing was written"
        )


def target_named(name: str) -> LinkTarget:
    try:
        return TARGETS[name]
    except KeyError:
        raise UnknownTarget(
            f"unknown link target {name!r}; known: {', '.join(sorted(TARGETS))}"
        ) from None


# Talking to an endpoint ----------------------------------------------------------------------


@dataclass(frozen=True)
class Pacing:
    """How politely to ask: time between requests, retries with backoff, and the time limit.

    Wikidata's query service asks clients to identify themselves, not to run queries in
    parallel, and to back off on 429 (honouring ``Retry-After``) and on 5xx.
    """

    interval: float = 1.0
    retries: int = 4
    backoff: float = 2.0
    max_wait: float = 60.0
    timeout: float = 60.0


RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504})
#: One solution of SPARQL JSON results: ``{variable: {"type": …, "value": …, …}}``.
Binding = dict[str, dict[str, str]]


def user_agent(contact: str = "https://w3id.org/iomkg/") -> str:
    """A descriptive User-Agent, as the Wikimedia User-Agent policy asks for.

    >>> user_agent().startswith("iomkg-linker/")
    True
    """
    try:
        version = metadata.version("iomkg")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        version = "0"
    try:
        wrapper = metadata.version("SPARQLWrapper")
    except metadata.PackageNotFoundError:  # pragma: no cover
        wrapper = "0"
    return (
        f"iomkg-linker/{version} ({contact}; finds owl:sameAs candidates for review) "
        f"SPARQLWrapper/{wrapper}"
    )


class SparqlClient:
    """SELECT queries against one endpoint through SPARQLWrapper, paced and retried.

    ``sleep`` and ``clock`` are injectable so tests run without waiting.
    """

    def __init__(
        self,
        endpoint: str,
        *,
        agent: str | None = None,
        pacing: Pacing = Pacing(),
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not re.match(r"https?://[^/\s]+", endpoint):
            raise EndpointUnreachable(f"{endpoint!r} is not an http(s) URL of a SPARQL endpoint")
        self.endpoint = endpoint
        self.agent = agent or user_agent()
        self.pacing = pacing
        self.sleep = sleep
        self.clock = clock
        self.requests = 0
        self._last: float | None = None

    def select(self, query: str) -> list[Binding]:
        """The JSON bindings of a SELECT query (``[{var: {"type": …, "value": …}}]``).

        Retried by tenacity: 429 and 5xx (``Retry-After`` honoured, else exponential backoff)
        and network failures that may pass (resets, time-outs), at most ``pacing.retries``
        times; what a retry cannot fix (a refused query, a refused connection) fails at once.
        """
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.pacing.retries + 1),
            wait=self._delay,
            retry=tenacity.retry_if_exception(_transient),
            sleep=self.sleep,
            reraise=True,
        )
        try:
            return retrying(self._paced_send, query)
        except urllib.error.HTTPError as error:  # before URLError: it is one
            raise self._failure(error.code, str(error.reason)) from None
        except EndPointInternalError:
            raise self._failure(500, "internal server error") from None
        except (QueryBadFormed, EndPointNotFound, Unauthorized, URITooLong) as error:
            raise EndpointRefused(
                f"{self.endpoint} refused the query: {_first_line(error)}; nothing was changed"
            ) from None
        except (OSError, SPARQLWrapperException) as error:  # refused, DNS, reset, timeout
            raise EndpointUnreachable(
                f"cannot reach the SPARQL endpoint {self.endpoint}: "
                f"{_reason(error)}; nothing was changed"
            ) from None

    def _paced_send(self, query: str) -> list[Binding]:
        self._wait_turn()
        try:
            return self._send(query)
        except urllib.error.HTTPError as error:
            error.close()  # its body is not read: release the connection (the headers stay)
            raise

    def _send(self, query: str) -> list[Binding]:
        wrapper = SPARQLWrapper(self.endpoint, agent=self.agent)
        wrapper.setQuery(query)
        wrapper.setReturnFormat(JSON)
        wrapper.setMethod(POST if len(query) > 1500 else GET)
        wrapper.setTimeout(max(1, round(self.pacing.timeout)))
        self.requests += 1
        response = wrapper.query().response
        try:
            raw = response.read()
        finally:
            response.close()
        try:
            payload = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise EndpointRefused(
                f"{self.endpoint} did not answer with SPARQL JSON results ({error}); "
                "nothing was changed"
            ) from None
        results = payload.get("results") if isinstance(payload, dict) else None
        bindings = results.get("bindings") if isinstance(results, dict) else None
        if not isinstance(bindings, list):
            raise EndpointRefused(f"{self.endpoint} answered malformed SPARQL JSON results")
        return bindings

    def _wait_turn(self) -> None:
        now = self.clock()
        if self._last is not None:
            pause = self.pacing.interval - (now - self._last)
            if pause > 0:
                self.sleep(pause)
        self._last = self.clock()

    def _delay(self, state: tenacity.RetryCallState) -> float:
        """The wait after a failed attempt: the endpoint's ``Retry-After`` (in seconds), else
        ``backoff`` × 2^(attempts so far − 1), never more than ``max_wait``."""
        error = state.outcome.exception() if state.outcome is not None else None
        headers = (
            getattr(error, "headers", None) if isinstance(error, urllib.error.HTTPError) else None
        )
        retry_after = headers.get("Retry-After") if headers is not None else None
        if retry_after and retry_after.strip().isdigit():
            return min(float(retry_after.strip()), self.pacing.max_wait)
        exponent = state.attempt_number - 1
        return float(min(self.pacing.backoff * (2**exponent), self.pacing.max_wait))

    def _failure(self, status: int, reason: str) -> EndpointUnreachable:
        tries = self.pacing.retries + 1
        return EndpointUnreachable(
            f"the SPARQL endpoint {self.endpoint} answered HTTP {status} ({reason}) "
            f"{tries} time(s); try again later; nothing was changed"
        )


def _transient(error: BaseException) -> bool:
    """Whether trying again may help: 429 and 5xx, an endpoint's internal error, and network
    failures but a refused connection or an unknown host."""
    if isinstance(error, urllib.error.HTTPError):
        return error.code in RETRYABLE_STATUS
    if isinstance(error, EndPointInternalError):
        return True
    if isinstance(error, QueryBadFormed | EndPointNotFound | Unauthorized | URITooLong):
        return False
    if isinstance(error, OSError | SPARQLWrapperException):
        return not _is_permanent(error)
    return False


def _is_permanent(error: BaseException) -> bool:
    """A network failure that a retry cannot fix: connection refused, unknown host."""
    reason = getattr(error, "reason", error)
    return isinstance(reason, ConnectionRefusedError | socket.gaierror)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _reason(error: BaseException) -> str:
    reason = getattr(error, "reason", None)
    return str(reason if reason is not None else error) or type(error).__name__


# The local side: what still needs a link -------------------------------------------------------


@dataclass(frozen=True)
class Entity:
    """A local country or organisation without a link into the target yet."""

    iri: str
    kind: str
    label: str
    iso2: str | None = None
    iati_id: str | None = None
    names: tuple[tuple[str, str], ...] = ()  # (text, language) the exact-label search uses


UNLINKED = (
    _PROLOGUE
    + """
SELECT DISTINCT ?entity ?kind ?label ?iso ?iati ?space WHERE {
  VALUES (?class ?kind) { (schema:Country "country") (org:Organization "organisation") }
  ?entity a/rdfs:subClassOf* ?class .
  FILTER(isIRI(?entity))
  FILTER NOT EXISTS {
    ?entity owl:sameAs ?link FILTER(isIRI(?link) && STRSTARTS(STR(?link), ?space))
  }
  OPTIONAL { ?entity skos:prefLabel ?label FILTER(LANGMATCHES(LANG(?label), "en")) }
  OPTIONAL { ?entity skos:notation ?iso FILTER(?kind = "country") }
  OPTIONAL { ?entity iomo:iatiOrganisationId ?iati }
}
ORDER BY ?kind ?entity
"""
)

NAMES = (
    _PROLOGUE
    + """
SELECT DISTINCT ?entity ?name WHERE {
  ?entity a/rdfs:subClassOf* org:Organization ; skos:prefLabel|skos:altLabel ?name .
  FILTER(isIRI(?entity) && isLiteral(?name))
}
ORDER BY ?entity ?name
"""
)

LINKS = """
SELECT DISTINCT ?entity ?link ?space WHERE {
  ?entity <http://www.w3.org/2002/07/owl#sameAs> ?link .
  FILTER(isIRI(?entity) && isIRI(?link) && STRSTARTS(STR(?link), ?space))
}
ORDER BY ?entity ?link
"""


def _rows(store: GraphStore, sparql: str, base_iri: str, **bound: str) -> list[ox.QuerySolution]:
    result = store.query(
        sparql,
        base_iri=base_iri,
        substitutions={name: ox.Literal(value) for name, value in bound.items()} or None,
    )
    if not isinstance(result, ox.QuerySolutions):
        raise TypeError("expected SELECT results")
    return list(result)


def _text(term: object) -> str | None:
    return getattr(term, "value", None) if term is not None else None


def unlinked_entities(store: GraphStore, target: LinkTarget, base_iri: str) -> list[Entity]:
    """Countries and organisations of the store with no owl:sameAs into ``target`` yet."""
    names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    if "organisation" in target.kinds:
        for row in _rows(store, NAMES, base_iri):
            name = row["name"]
            if isinstance(name, ox.Literal) and _is_name(name.value):
                names[row["entity"].value].append((name.value, name.language or ""))
    found: dict[str, Entity] = {}
    for row in _rows(store, UNLINKED, base_iri, space=target.namespace):
        iri, kind = row["entity"].value, _text(row["kind"]) or ""
        if kind not in target.kinds or iri in found:
            continue
        iso = _text(row["iso"])
        found[iri] = Entity(
            iri=iri,
            kind=kind,
            label=_text(row["label"]) or iri,
            iso2=iso if iso and re.fullmatch(r"[A-Z]{2}", iso) else None,
            iati_id=_text(row["iati"]),
            names=tuple(sorted(set(names.get(iri, ())))),
        )
    return list(found.values())


def _is_name(text: str) -> bool:
    """A name worth an exact-label search: not an acronym ("PfP", "IOM") that many things share.

    >>> _is_name("Partnership for Peace"), _is_name("PfP")
    (True, False)
    """
    return " " in text.strip()


def existing_links(store: GraphStore, target: LinkTarget, base_iri: str) -> dict[str, set[str]]:
    """``{local resource: {external IRIs}}`` of the links into ``target`` the store holds."""
    links: dict[str, set[str]] = defaultdict(set)
    for row in _rows(store, LINKS, base_iri, space=target.namespace):
        links[row["entity"].value].add(row["link"].value)
    return dict(links)


# The remote side: candidate search -----------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One possible link and the evidence for it: one row of the review file."""

    subject: str
    subject_label: str
    kind: str
    object: str
    object_label: str
    object_types: str
    method: str
    matched: str  # the property matched (column "property")
    value: str
    query: str
    endpoint: str
    found: str
    note: str = ""
    decision: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject, self.object, self.method)


@dataclass(frozen=True)
class SearchResult:
    """What a search found: candidates (sorted), the entities searched and the requests sent."""

    target: str
    endpoint: str
    searched: tuple[Entity, ...]
    candidates: tuple[Candidate, ...]
    requests: int
    skipped: tuple[str, ...] = ()  # methods that could not run, and why


BATCH = 40


def _literal(text: str, language: str = "") -> str:
    """A SPARQL literal for ``text`` (escaped by pyoxigraph, never by hand)."""
    return str(ox.Literal(text, language=language) if language else ox.Literal(text))


def _match_query(property_iri: str, values: Iterable[str]) -> str:
    listed = " ".join(values)
    return f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
SELECT ?value ?item (SAMPLE(?enLabel) AS ?label)
  (GROUP_CONCAT(DISTINCT STR(?type); separator=" ") AS ?types)
WHERE {{
  VALUES ?value {{ {listed} }}
  ?item <{property_iri}> ?value .
  OPTIONAL {{ ?item <{WDT}P31> ?type }}
  OPTIONAL {{ ?item rdfs:label ?enLabel FILTER(LANGMATCHES(LANG(?enLabel), "en")) }}
}}
GROUP BY ?value ?item
"""


def _evidence_query(property_iri: str, value: str) -> str:
    """The one-line query a reviewer can paste into the endpoint to see the match again."""
    return f"SELECT ?item WHERE {{ ?item <{property_iri}> {value} }}"


def find_candidates(
    store: GraphStore,
    client: SparqlClient,
    *,
    target: LinkTarget,
    base_iri: str,
    today: date,
    iati_property: str | None = None,
    country_coder: Mapping[str, Mapping[str, object]] | None = None,
) -> SearchResult:
    """Ask the endpoint about every entity of ``store`` that has no link into ``target`` yet.

    Countries are matched on ISO 3166-1 alpha-2 (Wikidata P297), organisations on their IATI
    identifier (only when ``iati_property`` names the Wikidata property, which
    shared/reference does not yet verify) and on the exact text of their names. All requests
    are sent before anything is returned, so a failure leaves nothing half-done. Given
    ``country_coder`` (its features by ISO code), it also asks for the IOM memberships the
    graph lacks (``membership_candidates``).
    """
    if target.name != "wikidata":
        raise LinkingError(
            f"the linker searches Wikidata-shaped SPARQL endpoints; {target.title} has none "
            "(its ids come from shared/reference)"
        )
    entities = unlinked_entities(store, target, base_iri)
    found = today.isoformat()
    rows: list[Candidate] = []
    skipped: list[str] = []

    def ask(
        method: str,
        prop: str,
        prop_name: str,
        wanted: dict[str, list[Entity]],
        value_of: Callable[[dict[str, str]], str | None],
    ) -> None:
        keys = sorted(wanted)
        for start in range(0, len(keys), BATCH):
            batch = keys[start : start + BATCH]
            for binding in client.select(_match_query(prop, batch)):
                item = binding.get("item", {}).get("value", "")
                matched = value_of(binding.get("value", {}))
                if matched is None or matched not in wanted or not target.is_valid(item):
                    continue
                for entity in wanted[matched]:
                    rows.append(
                        Candidate(
                            subject=entity.iri,
                            subject_label=entity.label,
                            kind=entity.kind,
                            object=item,
                            object_label=binding.get("label", {}).get("value", ""),
                            object_types=" ".join(
                                target.short(t)
                                for t in binding.get("types", {}).get("value", "").split()
                            ),
                            method=method,
                            matched=prop_name,
                            value=matched,
                            query=_evidence_query(prop, matched),
                            endpoint=client.endpoint,
                            found=found,
                        )
                    )

    by_iso: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        if entity.kind == "country" and entity.iso2:
            by_iso[_literal(entity.iso2)].append(entity)
    if by_iso:
        ask("iso3166-alpha2", WDT + "P297", "P297", by_iso, _term_text)

    organisations = [e for e in entities if e.kind == "organisation"]
    by_iati: dict[str, list[Entity]] = defaultdict(list)
    for entity in organisations:
        if entity.iati_id:
            by_iati[_literal(entity.iati_id)].append(entity)
    if by_iati and iati_property:
        ask("iati-organisation-id", WDT + iati_property, iati_property, by_iati, _term_text)
    elif by_iati:
        skipped.append(
            "IATI identifier match: no Wikidata property for IATI organisation identifiers is "
            "verified in shared/reference/wikidata_properties.csv (give --iati-property)"
        )

    by_name: dict[str, list[Entity]] = defaultdict(list)
    for entity in organisations:
        for text, language in entity.names:
            by_name[_literal(text, language)].append(entity)
    if by_name:
        ask("exact-label", RDFS_LABEL, "rdfs:label", by_name, _term_text)

    candidates = _annotate(_merge_rows(rows), existing_links(store, target, base_iri), target)
    if country_coder is not None:
        memberships, not_proposed = membership_candidates(
            store, client, target=target, base_iri=base_iri, found=found,
            country_coder=country_coder,
        )  # fmt: skip
        candidates = (*candidates, *memberships)
        skipped.extend(not_proposed)
    return SearchResult(
        target.name, client.endpoint, tuple(entities), candidates, client.requests, tuple(skipped)
    )


def _term_text(term: dict[str, str]) -> str | None:
    """The SPARQL literal syntax of a JSON-bound literal, to match it with what was asked."""
    if term.get("type") not in {"literal", "typed-literal"} or "value" not in term:
        return None
    language = term.get("xml:lang", "")
    datatype = term.get("datatype")
    if datatype and datatype != str(XSD.string):
        return None
    return _literal(term["value"], language)


def _merge_rows(rows: Iterable[Candidate]) -> list[Candidate]:
    """One row per (entity, item, method): several matching names keep the first, sorted."""
    merged: dict[tuple[str, str, str], Candidate] = {}
    for row in sorted(rows, key=lambda r: (r.subject, r.object, r.method, r.value)):
        merged.setdefault(row.key, row)
    return list(merged.values())


def _annotate(
    rows: list[Candidate], links: Mapping[str, set[str]], target: LinkTarget
) -> tuple[Candidate, ...]:
    """Notes a reviewer needs: several items for one entity, an item already linked elsewhere."""
    owners: dict[str, set[str]] = defaultdict(set)
    for subject, objects in links.items():
        for obj in objects:
            owners[obj].add(subject)
    items_per_subject: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        items_per_subject[row.subject].add(row.object)
    annotated = []
    for row in rows:
        notes = []
        if len(items_per_subject[row.subject]) > 1:
            others = sorted(target.short(o) for o in items_per_subject[row.subject] - {row.object})
            notes.append(f"ambiguous: also {', '.join(others)}; accept at most one")
        taken = sorted(owners.get(row.object, set()) - {row.subject})
        if taken:
            notes.append(
                f"conflict: {target.short(row.object)} is already the link of {', '.join(taken)}"
            )
        annotated.append(replace(row, note="; ".join(notes)))
    return tuple(annotated)


# The review file ------------------------------------------------------------------------------

REVIEW_COLUMNS = (
    "decision",
    "subject",
    "subject_label",
    "kind",
    "object",
    "object_label",
    "object_types",
    "method",
    "property",
    "value",
    "query",
    "endpoint",
    "found",
    "note",
)
DECISIONS = frozenset({"", "accept", "reject"})
_FIELDS = {"property": "matched"}  # review-file column -> Candidate field


def _cells(row: Candidate) -> dict[str, str]:
    fields = {column: _FIELDS.get(column, column) for column in REVIEW_COLUMNS}
    return {column: str(getattr(row, name)) for column, name in fields.items()}


def render_review(candidates: Iterable[Candidate], previous: Iterable[Candidate] = ()) -> str:
    """The review file: CSV (RFC 4180, LF line ends), one candidate per row, sorted.

    The ``decision`` column is empty for the reviewer to fill with ``accept`` or ``reject``;
    decisions already made in ``previous`` (an earlier file) are kept for the same candidate.
    """
    kept = {row.key: row.decision for row in previous if row.decision}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    for row in sorted(candidates, key=lambda r: r.key):
        decision = kept.get(row.key, row.decision)
        cells = {**_cells(row), "decision": decision}
        writer.writerow([cells[name] for name in REVIEW_COLUMNS])
    return out.getvalue()


def read_review(path: Path) -> list[Candidate]:
    """Parse a review file; a wrong header, an unknown decision or a missing cell names the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ReviewFileError(f"{path}: cannot read the review file: {error.strerror}") from error
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != REVIEW_COLUMNS:
        raise ReviewFileError(
            f"{path}:1: the columns must be {','.join(REVIEW_COLUMNS)}, as `iomkg link` writes"
        )
    rows = []
    for number, record in enumerate(reader, start=2):
        if None in record or any(value is None for value in record.values()):
            raise ReviewFileError(
                f"{path}:{number}: the row does not have {len(REVIEW_COLUMNS)} cells"
            )
        decision = record["decision"].strip().lower()
        if decision not in DECISIONS:
            raise ReviewFileError(
                f"{path}:{number}: decision {record['decision']!r} must be accept, reject or empty"
            )
        cells = {_FIELDS.get(k, k): v.strip() for k, v in record.items() if k != "decision"}
        rows.append(Candidate(**cells, decision=decision))
    return rows


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as sink:
            sink.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


# Accepting reviewed candidates ---------------------------------------------------------------


@dataclass(frozen=True)
class AcceptResult:
    """What ``--accept`` did: links added, rows already in the link set, rows not accepted."""

    path: Path
    added: tuple[Candidate, ...]
    already: tuple[Candidate, ...]
    ignored: int
    text: str = field(repr=False, default="")


ACCEPTED_HEADER = """Links accepted after review, written by `iomkg link --accept`: one record per
link (rdf:Statement) with the endpoint asked, the matched property and value, the query,
the date found and the date accepted; IOM memberships the endpoint states and the review
accepted (dcterms:source <id/dataset/wikidata>), with the countries they add. Same graph as
reference.ttl in this folder; the link set's figures are computed at build time. Change it
only through a review file."""


def accepted_path(data_dir: Path, target: LinkTarget) -> Path:
    return data_dir / "links" / target.name / "accepted.ttl"


def merge_accepted(
    rows: Sequence[Candidate],
    store: GraphStore,
    *,
    target: LinkTarget,
    data_dir: Path,
    base_iri: str,
    today: date,
    country_coder: Mapping[str, Mapping[str, object]] | None = None,
) -> AcceptResult:
    """Merge the ``accept`` rows into ``data/links/<target>/accepted.ttl``; all or nothing.

    Refused (``ReviewRejected``, nothing written): an object that is not a valid IRI of the
    target, a subject that is not a local country or organisation, a subject already linked to
    another item, an item already linked to another subject, or two items for one subject.
    A row whose link is already in the link set is counted and skipped, so accepting the same
    file twice changes nothing.
    """
    accepted = [row for row in rows if row.decision == "accept"]
    chosen = [row for row in accepted if row.kind != "membership"]
    joining = [row for row in accepted if row.kind == "membership"]
    links = existing_links(store, target, base_iri)
    owners: dict[str, set[str]] = defaultdict(set)
    for subject, objects in links.items():
        for obj in objects:
            owners[obj].add(subject)
    kinds = _entity_kinds(store, base_iri)
    problems: list[str] = []
    new: dict[str, Candidate] = {}
    already: list[Candidate] = []
    for row in chosen:
        where = f"{row.subject} → {row.object}"
        if not target.is_valid(row.object):
            problems.append(f"{where}: not a {target.title} IRI like {target.pattern.pattern}")
            continue
        if kinds.get(row.subject) not in target.kinds:
            problems.append(f"{where}: the subject is not a country or organisation of the graph")
            continue
        if row.object in links.get(row.subject, set()):
            already.append(row)
            continue
        if links.get(row.subject):
            shown = ", ".join(sorted(links[row.subject]))
            problems.append(f"{where}: the subject already links to {shown}")
            continue
        if owners.get(row.object):
            problems.append(
                f"{where}: the item is already the link of {', '.join(sorted(owners[row.object]))}"
            )
            continue
        earlier = new.get(row.subject)
        if earlier is not None and earlier.object != row.object:
            problems.append(
                f"{where}: also accepted {earlier.object} for the same subject; keep one"
            )
            continue
        claimed = next(
            (c for c in new.values() if c.object == row.object and c.subject != row.subject), None
        )
        if claimed is not None:
            problems.append(
                f"{where}: also accepted for {claimed.subject}; one item links one resource"
            )
            continue
        new.setdefault(row.subject, row)
    members = {row["state"].value for row in _rows(store, IOM_MEMBERS, base_iri)}
    joined: dict[str, Candidate] = {}
    for row in joining:
        where = f"{row.subject} joins IOM ({row.object})"
        code = _country_code(row.subject, base_iri)
        if not target.is_valid(row.object) or code is None:
            problems.append(f"{where}: not a {target.title} item and a <id/country/XX> subject")
            continue
        try:
            parse_spells(row.value)
        except ValueError as error:
            problems.append(f"{where}: {error}")
            continue
        if row.subject in members:
            already.append(row)
            continue
        if kinds.get(row.subject) == "country":
            if row.object not in links.get(row.subject, set()):
                problems.append(f"{where}: the country does not link to that item")
                continue
        else:
            feature = (country_coder or {}).get(code, {})
            if feature.get("wikidata") != target.short(row.object):
                problems.append(
                    f"{where}: not a country of the graph, and country-coder does not give "
                    f"{target.short(row.object)} for {code}"
                )
                continue
            if owners.get(row.object):
                taken = ", ".join(sorted(owners[row.object]))
                problems.append(f"{where}: the item is already the link of {taken}")
                continue
        if row.subject in joined:
            problems.append(f"{where}: accepted twice; keep one row")
            continue
        joined[row.subject] = row
    if problems:
        raise ReviewRejected(problems)
    path = accepted_path(data_dir, target)
    graph = _read_accepted(path, base_iri)
    for row in new.values():
        _add_accepted(graph, row, target, base_iri, today)
    for row in joined.values():
        coder = None if kinds.get(row.subject) == "country" else (country_coder or {})
        _add_membership(graph, row, target, base_iri, today, coder)
    text = reference.to_turtle(graph, ACCEPTED_HEADER, base=base_iri) if len(graph) else ""
    if new or joined:
        write_atomically(path, text)
    added = (*new.values(), *joined.values())
    return AcceptResult(path, added, tuple(already), len(rows) - len(accepted), text)


def _country_code(iri: str, base_iri: str) -> str | None:
    found = re.fullmatch(re.escape(base_iri) + r"id/country/([A-Z]{2})", iri)
    return found.group(1) if found else None


def _add_membership(
    graph: rdflib.Graph,
    row: Candidate,
    target: LinkTarget,
    base_iri: str,
    today: date,
    country_coder: Mapping[str, Mapping[str, object]] | None,
) -> None:
    """The accepted membership, its source and evidence; a country too when the graph lacks it
    (``country_coder`` given): ISO codes and English name from country-coder, linked to the item."""
    base = rdflib.Namespace(base_iri)
    schema = rdflib.Namespace("https://schema.org/")
    iomo = rdflib.Namespace(base_iri + "ontology#")
    code = _country_code(row.subject, base_iri) or ""
    country, endpoint = rdflib.URIRef(row.subject), rdflib.URIRef(row.endpoint)
    source = base["id/dataset/wikidata"]
    evidence = (
        f"{target.title} {target.short(row.object)} ({row.object_label or 'no English label'}) is "
        f"a member of IOM (P463 Q472311), spells {row.value} (start/end years of P580/P582); "
        f"found at {row.endpoint} on {row.found} with: {row.query}"
    )
    name = row.subject_label or code
    if country_coder is not None:
        feature = country_coder[code]
        name = str(feature.get("nameEn") or name)
        coder_file = base["id/file/reference/country-coder_properties.json"]
        graph.add((country, RDF.type, schema.Country))
        graph.add((country, rdflib.namespace.SKOS.prefLabel, rdflib.Literal(name, lang="en")))
        graph.add(
            (
                country,
                rdflib.namespace.SKOS.notation,
                rdflib.Literal(code, datatype=iomo.iso3166Alpha2),
            )
        )
        for key, term in (("iso1A3", iomo.iso3166Alpha3), ("iso1N3", iomo.iso3166Numeric)):
            if isinstance(feature.get(key), str):
                graph.add((country, term, rdflib.Literal(feature[key])))
        graph.add((country, PROV.wasDerivedFrom, coder_file))
        graph.add((country, PROV.wasDerivedFrom, endpoint))
        record = reference.add_link(
            graph, base_iri, target.name, country, rdflib.URIRef(row.object), label=name,
            method="identifier match: ISO 3166-1 alpha-2 code at the endpoint (P297) and the item "
            "country-coder gives for it, reviewed",
            evidence=evidence, source=endpoint,
        )  # fmt: skip
        graph.add((record, DCT.dateAccepted, rdflib.Literal(today.isoformat(), datatype=XSD.date)))
    membership = base[f"id/membership/iom-{code}"]
    graph.add((membership, RDF.type, rdflib.namespace.ORG.Membership))
    label = rdflib.Literal(f"{name}'s membership of IOM", lang="en")
    graph.add((membership, rdflib.namespace.SKOS.prefLabel, label))
    graph.add((membership, rdflib.namespace.ORG.member, country))
    graph.add((membership, rdflib.namespace.ORG.organization, base["id/organisation/iom"]))
    graph.add((membership, DCT.source, source))
    for first, last in parse_spells(row.value):
        reference.add_spell(graph, membership, first, last)
    graph.add((membership, rdflib.namespace.RDFS.comment, rdflib.Literal(evidence, lang="en")))
    graph.add((membership, PROV.wasDerivedFrom, endpoint))
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", row.found):
        graph.add((membership, DCT.created, rdflib.Literal(row.found, datatype=XSD.date)))
    graph.add((membership, DCT.dateAccepted, rdflib.Literal(today.isoformat(), datatype=XSD.date)))
    graph.add((source, RDF.type, schema.Dataset))
    graph.add((source, RDF.type, PROV.Entity))
    graph.add((endpoint, RDF.type, PROV.Entity))
    graph.add(
        (
            endpoint,
            rdflib.namespace.SKOS.prefLabel,
            rdflib.Literal(f"SPARQL endpoint {row.endpoint}", lang="en"),
        )
    )


def _entity_kinds(store: GraphStore, base_iri: str) -> dict[str, str]:
    query = (
        _PROLOGUE
        + """SELECT DISTINCT ?entity ?kind WHERE {
  VALUES (?class ?kind) { (schema:Country "country") (org:Organization "organisation") }
  ?entity a/rdfs:subClassOf* ?class . FILTER(isIRI(?entity)) }"""
    )
    return {row["entity"].value: _text(row["kind"]) or "" for row in _rows(store, query, base_iri)}


def _read_accepted(path: Path, base_iri: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    if path.exists():
        try:
            graph.parse(path, format="turtle", publicID=base_iri)
        except Exception as error:  # rdflib raises many kinds; all mean "fix the file"
            raise ReviewFileError(f"{path}: does not parse: {_first_line(error)}") from error
    return graph


def _add_accepted(
    graph: rdflib.Graph, row: Candidate, target: LinkTarget, base_iri: str, today: date
) -> None:
    subject, obj = rdflib.URIRef(row.subject), rdflib.URIRef(row.object)
    endpoint = rdflib.URIRef(row.endpoint)
    method = METHODS.get(row.method, row.method)
    evidence = (
        f"{target.title} {target.short(row.object)} ({row.object_label or 'no English label'}) has "
        f"{row.matched} {row.value}; found at {row.endpoint} on {row.found} with: {row.query}"
    )
    record = reference.add_link(
        graph, base_iri, target.name, subject, obj,
        label=row.subject_label or row.subject, method=method, evidence=evidence, source=endpoint,
    )  # fmt: skip
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", row.found):
        graph.add((record, DCT.created, rdflib.Literal(row.found, datatype=XSD.date)))
    graph.add((record, DCT.dateAccepted, rdflib.Literal(today.isoformat(), datatype=XSD.date)))
    linkset = rdflib.URIRef(f"{base_iri}id/linkset/{target.name}")
    graph.add((linkset, rdflib.URIRef(base_iri + "ontology#linkMethod"), rdflib.Literal(method)))
    graph.add((linkset, PROV.wasDerivedFrom, endpoint))
    graph.add((endpoint, RDF.type, PROV.Entity))
    label = rdflib.Literal(f"SPARQL endpoint {row.endpoint}", lang="en")
    graph.add((endpoint, rdflib.namespace.SKOS.prefLabel, label))


# Coverage, duplicates, malformed and retired links --------------------------------------------


@dataclass(frozen=True)
class Coverage:
    """How many entities of one kind link into one target."""

    target: str
    kind: str
    linked: int
    total: int
    unlinked: tuple[tuple[str, str], ...]  # (IRI, label)

    @property
    def percent(self) -> int:
        return round(100 * self.linked / self.total) if self.total else 100

    @property
    def target_title(self) -> str:
        return TARGETS[self.target].title

    @property
    def kind_plural(self) -> str:
        return KINDS[self.kind].plural


@dataclass(frozen=True)
class LinkProblem:
    """A link a person should look at: a duplicate, a malformed IRI, a retired identifier."""

    problem: Literal["duplicate", "malformed", "retired"]
    target: str
    external: str
    resources: tuple[str, ...]
    detail: str = ""


@dataclass(frozen=True)
class LinkReport:
    coverage: tuple[Coverage, ...]
    problems: tuple[LinkProblem, ...]
    retired_checked: tuple[str, ...] = ()  # targets whose identifiers were checked for retirement

    def of(self, problem: str) -> list[LinkProblem]:
        return [p for p in self.problems if p.problem == problem]


COVERAGE = (
    _PROLOGUE
    + """
SELECT ?entity ?label ?class ?space (SAMPLE(?linkOrNone) AS ?link) WHERE {
  ?entity a/rdfs:subClassOf* ?class .
  FILTER(isIRI(?entity))
  OPTIONAL { ?entity skos:prefLabel ?label FILTER(LANGMATCHES(LANG(?label), "en")) }
  OPTIONAL {
    ?entity owl:sameAs ?linkOrNone
    FILTER(isIRI(?linkOrNone) && STRSTARTS(STR(?linkOrNone), ?space))
  }
}
GROUP BY ?entity ?label ?class ?space
ORDER BY ?entity
"""
)

SAME_AS = """
SELECT DISTINCT ?entity ?link WHERE { ?entity <http://www.w3.org/2002/07/owl#sameAs> ?link }
ORDER BY ?entity ?link
"""


def coverage(store: GraphStore, target: LinkTarget, kind: EntityKind, base_iri: str) -> Coverage:
    """Entities of ``kind`` (subclasses included) and how many link into ``target``."""
    result = store.query(
        COVERAGE,
        base_iri=base_iri,
        substitutions={
            "class": ox.NamedNode(kind.class_iri),
            "space": ox.Literal(target.namespace),
        },
    )
    if not isinstance(result, ox.QuerySolutions):
        raise TypeError("expected SELECT results")
    seen: dict[str, tuple[str, bool]] = {}
    for row in result:
        iri = row["entity"].value
        label, linked = seen.get(iri, ("", False))
        seen[iri] = (label or _text(row["label"]) or "", linked or row["link"] is not None)
    unlinked = tuple((iri, label) for iri, (label, linked) in seen.items() if not linked)
    return Coverage(target.name, kind.key, len(seen) - len(unlinked), len(seen), unlinked)


def coverage_table(store: GraphStore, base_iri: str) -> list[Coverage]:
    """Coverage of every target for every kind it links (the report's table, the home page's)."""
    return [
        coverage(store, target, KINDS[kind], base_iri)
        for target in TARGETS.values()
        for kind in target.kinds
    ]


def link_report(
    store: GraphStore,
    base_iri: str,
    *,
    retired: Mapping[str, Sequence[LinkProblem]] | None = None,
) -> LinkReport:
    """Coverage per target and kind, duplicates and malformed links; ``retired`` comes from
    :func:`find_retired` when an endpoint was asked (retirement cannot be seen locally)."""
    rows = coverage_table(store, base_iri)
    problems: list[LinkProblem] = []
    same_as = store.query(SAME_AS, base_iri=base_iri)
    owners: dict[str, set[str]] = defaultdict(set)
    if isinstance(same_as, ox.QuerySolutions):
        for row in same_as:
            entity, link = row["entity"], row["link"]
            text = link.value if isinstance(link, ox.NamedNode | ox.Literal) else str(link)
            target = next((t for t in TARGETS.values() if t.host in text), None)
            if target is None:
                continue
            if not isinstance(link, ox.NamedNode) or not target.is_valid(text):
                problems.append(
                    LinkProblem(
                        "malformed", target.name, text, (_text(entity) or str(entity),),
                        f"not a {target.title} IRI like {target.namespace}…",
                    )
                )  # fmt: skip
                continue
            owners[text].add(_text(entity) or str(entity))
    for external, subjects in sorted(owners.items()):
        if len(subjects) > 1:
            target = next(t for t in TARGETS.values() if t.is_valid(external))
            problems.append(
                LinkProblem("duplicate", target.name, external, tuple(sorted(subjects)))
            )
    for found in (retired or {}).values():
        problems.extend(found)
    order = {"duplicate": 0, "malformed": 1, "retired": 2}
    problems.sort(key=lambda p: (order[p.problem], p.target, p.external))
    return LinkReport(tuple(rows), tuple(problems), tuple(sorted((retired or {}).keys())))


RETIRED = """PREFIX owl: <http://www.w3.org/2002/07/owl#>
SELECT ?item ?replacement ?known WHERE {{
  VALUES ?item {{ {items} }}
  OPTIONAL {{ ?item owl:sameAs ?replacement }}
  BIND(EXISTS {{ ?item ?anyPredicate ?anyValue }} AS ?known)
}}
"""


def find_retired(
    store: GraphStore, client: SparqlClient, target: LinkTarget, base_iri: str
) -> list[LinkProblem]:
    """Links into ``target`` whose item the endpoint reports as merged (a redirect: ``owl:sameAs``
    to the surviving item) or as unknown (deleted)."""
    links = existing_links(store, target, base_iri)
    owners: dict[str, list[str]] = defaultdict(list)
    for subject, objects in links.items():
        for obj in objects:
            if target.is_valid(obj):
                owners[obj].append(subject)
    problems: list[LinkProblem] = []
    items = sorted(owners)
    for start in range(0, len(items), BATCH):
        batch = items[start : start + BATCH]
        listed = " ".join(f"<{item}>" for item in batch)
        seen: dict[str, tuple[str | None, bool]] = {}
        for binding in client.select(RETIRED.format(items=listed)):
            item = binding.get("item", {}).get("value", "")
            replacement = binding.get("replacement", {}).get("value")
            known = binding.get("known", {}).get("value") in {"true", "1"}
            previous = seen.get(item, (None, False))
            seen[item] = (previous[0] or replacement, previous[1] or known)
        for item in batch:
            replacement, known = seen.get(item, (None, False))
            if replacement and replacement != item:
                detail = f"merged into {target.short(replacement)} (a redirect)"
            elif not known:
                detail = "unknown to the endpoint (deleted?)"
            else:
                continue
            problems.append(
                LinkProblem("retired", target.name, item, tuple(sorted(owners[item])), detail)
            )
    return problems


# VoID figures, computed at build time ---------------------------------------------------------


def void_statistics(store: GraphStore, base_iri: str) -> dict[str, list[ox.Quad]]:
    """Each described link set's figures as quads for its own graph ``graph/links/<target>``.

    On the link set: ``void:triples``, ``void:distinctSubjects`` and the coverage in words
    (``dcterms:description``, "35 of 35 countries (100%) and 8 of 18 organisations (44%) link to
    Wikidata"). One class partition per kind (``id/linkset/<target>/<kinds>``) with
    ``void:class`` and the linked entities (``void:entities``); the dataset's own class partitions
    give the totals. The build adds these before SHACL, so the link-set shape checks the count,
    and /.well-known/void shows what the store holds.
    """
    out: dict[str, list[ox.Quad]] = {}
    query = f"SELECT ?linkset WHERE {{ ?linkset a <{VOID}Linkset> }}"
    described = {row["linkset"].value for row in _rows(store, query, base_iri)}
    for target in TARGETS.values():
        linkset = ox.NamedNode(f"{base_iri}id/linkset/{target.name}")
        if linkset.value not in described:
            continue
        graph = ox.NamedNode(f"{base_iri}graph/links/{target.name}")
        quads: list[ox.Quad] = []

        def add(subject: ox.NamedNode, predicate: str, obj: ox.NamedNode | ox.Literal) -> None:
            quads.append(ox.Quad(subject, ox.NamedNode(predicate), obj, graph))  # noqa: B023

        links = existing_links(store, target, base_iri)
        add(linkset, VOID + "triples", _integer(sum(map(len, links.values()))))
        add(linkset, VOID + "distinctSubjects", _integer(len(links)))
        summary = []
        for kind_key in target.kinds:
            kind = KINDS[kind_key]
            figures = coverage(store, target, kind, base_iri)
            partition = ox.NamedNode(f"{base_iri}id/linkset/{target.name}/{kind.plural}")
            add(linkset, VOID + "classPartition", partition)
            add(partition, RDF_TYPE, ox.NamedNode(VOID + "Dataset"))
            add(partition, SKOS + "prefLabel", _en(f"{target.title} links of {kind.plural}"))
            add(partition, VOID + "class", ox.NamedNode(kind.class_iri))
            add(partition, VOID + "entities", _integer(figures.linked))
            share = f"{figures.linked} of {figures.total} {kind.plural} ({figures.percent}%)"
            summary.append(share)
            words = f"{share} link to {target.title}"
            if figures.unlinked:
                shown = [label or iri for iri, label in figures.unlinked]
                more = f" and {len(shown) - 12} more" if len(shown) > 12 else ""
                words += f"; not linked: {', '.join(shown[:12])}{more}"
            add(partition, DCTERMS + "description", _en(words + "."))
        overall = f"{' and '.join(summary)} link to {target.title}."
        add(linkset, DCTERMS + "description", _en(overall))
        out[graph.value] = quads
    return out


def _en(text: str) -> ox.Literal:
    return ox.Literal(text, language="en")


def _integer(value: int) -> ox.Literal:
    return ox.Literal(str(value), datatype=ox.NamedNode(XSD_INTEGER))


def iati_property_from_reference(shared_dir: Path) -> str | None:
    """The Wikidata property for IATI organisation identifiers, if shared/reference verifies one."""
    path = shared_dir / "reference" / "wikidata_properties.csv"
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                if "iati" in (row.get("label") or "").lower() and re.fullmatch(
                    r"P\d+", row.get("property") or ""
                ):
                    return row["property"]
    except OSError:
        return None
    return None


# IOM memberships the endpoint states and the graph lacks -------------------------------------

#: Wikidata's item for IOM and the statement paths of "member of" (P463) with its qualifiers.
IOM_ITEM = WD + "Q472311"
WIKIDATA_PROP = "http://www.wikidata.org/prop/"
MEMBERSHIP_METHOD = "wikidata-iom-membership"
METHODS[MEMBERSHIP_METHOD] = (
    "membership of IOM stated at the endpoint (P463 Q472311, P580/P582 qualifiers), reviewed"
)

IOM_MEMBERSHIPS = f"""PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX wikibase: <http://wikiba.se/ontology#>
SELECT ?item ?statement ?start ?end ?iso2 ?label WHERE {{
  ?item <{WIKIDATA_PROP}P463> ?statement .
  ?statement <{WIKIDATA_PROP}statement/P463> <{IOM_ITEM}> .
  FILTER NOT EXISTS {{ ?statement wikibase:rank wikibase:DeprecatedRank }}
  OPTIONAL {{ ?statement <{WIKIDATA_PROP}qualifier/P580> ?start }}
  OPTIONAL {{ ?statement <{WIKIDATA_PROP}qualifier/P582> ?end }}
  OPTIONAL {{ ?item <{WDT}P297> ?iso2 }}
  OPTIONAL {{ ?item rdfs:label ?label FILTER(LANGMATCHES(LANG(?label), "en")) }}
}}
ORDER BY ?item ?statement
"""

#: States of the graph that have a membership of IOM, from any source.
IOM_MEMBERS = (
    _PROLOGUE
    + """SELECT DISTINCT ?state WHERE {
  ?membership a org:Membership ; org:organization <id/organisation/iom> ; org:member ?state }"""
)


def _membership_evidence_query(item: str) -> str:
    """The query a reviewer can paste into the endpoint to see the item's IOM statements again."""
    return (
        f"SELECT ?statement ?start ?end WHERE {{ <{item}> <{WIKIDATA_PROP}P463> ?statement . "
        f"?statement <{WIKIDATA_PROP}statement/P463> <{IOM_ITEM}> . "
        f"OPTIONAL {{ ?statement <{WIKIDATA_PROP}qualifier/P580> ?start }} "
        f"OPTIONAL {{ ?statement <{WIKIDATA_PROP}qualifier/P582> ?end }} }}"
    )


def _year(term: Mapping[str, str] | None) -> str:
    """The year of a Wikidata time value ("2016-01-01T00:00:00Z"), or "" when there is none."""
    value = (term or {}).get("value", "")
    found = re.match(r"^(\d{4})-", value)
    return found.group(1) if found else ""


def _spells_text(spells: Iterable[tuple[str, str]]) -> str:
    """Spells as the review file's value: ``start/end`` years, ``;``-separated (open ends empty).

    >>> _spells_text([("1992", "2002"), ("2016", "")])
    '1992/2002; 2016/'
    """
    return "; ".join(f"{start}/{end}" for start, end in spells)


def parse_spells(text: str) -> list[tuple[str | None, str | None]]:
    """The review file's spells back as (first year, last year); a malformed one raises ValueError.

    >>> parse_spells("1992/2002; 2016/")
    [('1992', '2002'), ('2016', None)]
    """
    spells: list[tuple[str | None, str | None]] = []
    for part in text.split(";"):
        found = re.fullmatch(r"\s*(\d{4})?/(\d{4})?\s*", part)
        if not found or not (found.group(1) or found.group(2)):
            raise ValueError(
                f"spell {part.strip()!r} is not start/end years like 2016/ or 1992/2002"
            )
        spells.append((found.group(1), found.group(2)))
    return spells


def membership_candidates(
    store: GraphStore,
    client: SparqlClient,
    *,
    target: LinkTarget,
    base_iri: str,
    found: str,
    country_coder: Mapping[str, Mapping[str, object]],
) -> tuple[list[Candidate], list[str]]:
    """IOM memberships the endpoint states (P463 Q472311) for states with none in the graph.

    A state the graph has is found by its owl:sameAs link; a state it lacks (China joined in
    2016) is proposed as ``<id/country/{P297 code}>`` only when country-coder gives the same
    item for that code, so the country it becomes has two sources for its identifier. Items
    without such a code are reported, not proposed.
    """
    links = existing_links(store, target, base_iri)
    local = {obj: subject for subject, objects in links.items() for obj in objects}
    members = {row["state"].value for row in _rows(store, IOM_MEMBERS, base_iri)}
    items: dict[str, dict[str, object]] = {}
    for binding in client.select(IOM_MEMBERSHIPS):
        item = binding.get("item", {}).get("value", "")
        if not target.is_valid(item):
            continue
        entry = items.setdefault(item, {"spells": {}, "iso2": set(), "label": ""})
        statement = binding.get("statement", {}).get("value", "")
        spells = entry["spells"]
        assert isinstance(spells, dict)
        spells.setdefault(statement, (_year(binding.get("start")), _year(binding.get("end"))))
        iso = binding.get("iso2", {}).get("value", "")
        if re.fullmatch(r"[A-Z]{2}", iso):
            codes = entry["iso2"]
            assert isinstance(codes, set)
            codes.add(iso)
        if not entry["label"]:
            entry["label"] = binding.get("label", {}).get("value", "")
    rows: list[Candidate] = []
    skipped: list[str] = []
    for item, entry in sorted(items.items()):
        spells, codes, label = entry["spells"], entry["iso2"], str(entry["label"])
        assert isinstance(spells, dict) and isinstance(codes, set)
        dated = sorted(s for s in spells.values() if s[0] or s[1])
        subject = local.get(item)
        note = ""
        if subject is None:
            confirmed = [
                code for code in sorted(codes) if country_coder.get(code, {}).get("wikidata") ==
                target.short(item)
            ]  # fmt: skip
            if len(confirmed) != 1:
                skipped.append(
                    f"IOM membership of {target.short(item)} ({label or 'no English label'}): "
                    "not a state of the graph, and no ISO 3166-1 alpha-2 code (P297) that "
                    "country-coder confirms for the item"
                )
                continue
            subject = f"{base_iri}id/country/{confirmed[0]}"
            note = (
                f"not in the graph yet: accepting adds the country <id/country/{confirmed[0]}> "
                f"(ISO code {confirmed[0]} at the endpoint and in country-coder for this item)"
            )
        if subject in members:
            continue
        if not dated:
            skipped.append(
                f"IOM membership of {target.short(item)} ({label or 'no English label'}): "
                "no start (P580) or end (P582) qualifier, so no spell to state"
            )
            continue
        rows.append(
            Candidate(
                subject=subject,
                subject_label=label,
                kind="membership",
                object=item,
                object_label=label,
                object_types="",
                method=MEMBERSHIP_METHOD,
                matched="P463",
                value=_spells_text(dated),
                query=_membership_evidence_query(item),
                endpoint=client.endpoint,
                found=found,
                note=note,
            )
        )
    return rows, skipped
