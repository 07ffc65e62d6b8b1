"""The remote backend: the store interface over an existing SPARQL 1.1 engine.

Queries and updates go by the SPARQL 1.1 Protocol; a graph is loaded by the Graph Store
Protocol where the engine has one without an account (Oxigraph's ``/store``), else by SPARQL
Update. Answers are parsed into pyoxigraph's objects as they stream in, so the rest of iomkg
(the row cap, the formats, the pages, the saved queries) cannot tell this backend from the
embedded one. What each engine needs is said once, in :class:`Engine`:

* **The union default graph.** iomkg's default graph is the union of its named graphs. Oxigraph
  takes ``union-default-graph`` per request. Other engines (Virtuoso's default graph holds its
  own system graphs too; Fuseki's is the real default graph) are given the project's graphs
  (those under the base IRI, listed for each such query: another server process or a build
  may have just changed them) as
  ``default-graph-uri`` and ``named-graph-uri``.
* **The time limit.** Virtuoso takes ``timeout`` (milliseconds) and marks an answer it cut
  short with ``X-SQL-State: S1TAT`` ("anytime query": partial solutions, or none): refused
  here (:class:`RemoteTimeout`) rather than served as complete. Virtuoso looks at the clock
  about every 2 s (a 1 s limit stops a query after about 2 s, a 4 s one after about 4 s), so
  the connection waits :data:`VIRTUOSO_STOP_GRACE` longer than the limit for the engine to stop
  and say so: a connection closed first would leave the query running in the engine, taking
  its threads from the next ones. Elsewhere the connection's read timeout ends the wait; the
  engine may work on (Oxigraph stops at its own ``--timeout-s``).
* **Parameters.** A saved query's values are bound as pyoxigraph's substitutions bind them: a
  ``VALUES`` block opening the ``WHERE`` group, and each place of the variable inside the group
  holding the value (:func:`iomkg.sparqltext.with_values`); the values are RDF terms written by
  pyoxigraph, never user text.

Publishing a release (:func:`publish`) writes every graph under a staging name first, then
swaps them all in with one update (``MOVE``), so readers see the old release or the new one.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal, cast
from urllib.parse import urlencode, urlsplit, urlunsplit

import pyoxigraph as ox
import urllib3

from iomkg import sparqltext, syntaxhelp
from iomkg.config import Settings
from iomkg.store.base import (
    GraphStore,
    QueryResult,
    QuerySyntaxError,
    StoreError,
    StoreUnavailable,
    Term,
    UpdateFailed,
)
from iomkg.store.oxigraph import used_prefixes

EngineKind = Literal["oxigraph", "virtuoso", "generic"]
ENGINE_KINDS: tuple[EngineKind, ...] = ("oxigraph", "virtuoso", "generic")
RESULTS_ACCEPT = "application/sparql-results+json, application/sparql-results+xml;q=0.5"
GRAPH_ACCEPT = "application/n-triples, text/turtle;q=0.8, application/rdf+xml;q=0.5"
#: Virtuoso's mark on an answer cut short by its ``timeout`` ("anytime query").
VIRTUOSO_PARTIAL = "S1TAT"
#: How much longer than a query's limit the connection waits for Virtuoso to stop the query
#: itself (seconds): its timeout is checked about every 2 s (measured with Virtuoso 7.2).
VIRTUOSO_STOP_GRACE = 3.0
#: Virtuoso writes a blank node in JSON results as ``nodeID://b1``, not a valid label: the
#: prefix is taken off as the answer streams in (a literal cannot hold the unescaped quotes).
VIRTUOSO_BNODE = (b'"type": "bnode", "value": "nodeID://', b'"type": "bnode", "value": "')
#: A graph that exists nowhere: names the empty side of a dataset given on one side only.
NO_GRAPH = "urn:iomkg:no-graph"
STAGING = "urn:iomkg:staging:"
_EMPTY = ox.Store()  # parses queries (never evaluated, nothing is ever added)
#: One graph's triples (``?g`` bound): what is published, and what a dump reads back.
GRAPH_CONTENT = "CONSTRUCT { ?s ?p ?o } WHERE { GRAPH ?g { ?s ?p ?o } }"


class RemoteTimeout(StoreError):
    """The engine ran out of the query's time: ``by_engine`` when the engine stopped the query
    itself (nothing of it runs on), else when our wait on the connection ended first."""

    def __init__(self, seconds: float, message: str, *, by_engine: bool = False) -> None:
        self.seconds = seconds
        self.by_engine = by_engine
        super().__init__(message)


@dataclass(frozen=True)
class Engine:
    """Where a SPARQL engine answers, and its ways (see the module docstring)."""

    query_url: str
    update_url: str
    store_url: str | None  # a Graph Store Protocol endpoint that needs no account
    kind: EngineKind = "generic"

    @classmethod
    def at(cls, url: str, kind: EngineKind) -> Engine:
        """The engine whose query endpoint is ``url``. Oxigraph answers queries at ``/query``,
        updates at ``/update`` and the Graph Store Protocol at ``/store``; other engines take
        queries and updates at the one URL (Virtuoso's ``/sparql``)."""
        if kind == "oxigraph":
            parts = urlsplit(url)
            root = parts.path.rstrip("/")
            root = root[: -len("/query")] if root.endswith("/query") else root

            def sibling(name: str) -> str:
                return urlunsplit(parts._replace(path=f"{root}/{name}"))

            return cls(sibling("query"), sibling("update"), sibling("store"), kind)
        return cls(url, url, None, kind)


def detect_kind(url: str, http: urllib3.PoolManager | None = None) -> EngineKind:
    """The kind of engine at ``url``, from its ``Server`` header (an ``ASK {}`` is sent)."""
    pool = http or urllib3.PoolManager()
    try:
        response = pool.request(
            "GET",
            url + ("&" if "?" in url else "?") + urlencode({"query": "ASK {}"}),
            headers={"Accept": RESULTS_ACCEPT},
            timeout=5.0,
            retries=urllib3.Retry(total=3, backoff_factor=0.2, status=0),
        )
    except urllib3.exceptions.HTTPError as error:
        raise StoreUnavailable(f"the SPARQL engine at {url} cannot be reached: {error}") from error
    server = (response.headers.get("Server") or "").lower()
    if server.startswith("oxigraph"):
        return "oxigraph"
    if server.startswith("virtuoso"):
        return "virtuoso"
    return "generic"


class RemoteStore:
    """A :class:`~iomkg.store.base.GraphStore` over an :class:`Engine`.

    ``timeout`` is the longest a request may take (seconds); :meth:`limited` gives the same
    store with a shorter one (a query's remaining time). ``owned`` is the IRI prefix of the
    project's graphs: the union default graph, and what :func:`publish` may replace or drop.
    """

    def __init__(
        self,
        engine: Engine,
        owned: str,
        *,
        timeout: float = 30.0,
        http: urllib3.PoolManager | None = None,
    ) -> None:
        self.engine = engine
        self.owned = owned
        self.timeout = timeout
        self.http = http or urllib3.PoolManager(
            maxsize=16,
            block=False,
            # A connection the engine closed while idle is opened again; a request it answered
            # is never sent twice (an update must not be applied twice).
            retries=urllib3.Retry(
                total=2, connect=2, read=0, status=0, other=0, backoff_factor=0.1
            ),
            headers={"User-Agent": "iomkg"},
        )

    @classmethod
    def connect(
        cls, url: str, owned: str, *, kind: EngineKind | None = None, timeout: float = 30.0
    ) -> RemoteStore:
        """The store over the engine at ``url`` (its kind detected when not given)."""
        return cls(Engine.at(url, kind or detect_kind(url)), owned, timeout=timeout)

    def limited(self, seconds: float) -> RemoteStore:
        """This store with at most ``seconds`` for each request (same connections)."""
        return RemoteStore(self.engine, self.owned, timeout=seconds, http=self.http)

    # Reading ------------------------------------------------------------------------------------
    def query(
        self,
        sparql: str,
        *,
        substitutions: Mapping[str, Term] | None = None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        base_iri: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> QueryResult:
        used = used_prefixes(sparql, prefixes) if prefixes else None
        try:  # the same parser, and so the same error messages, as the embedded store
            _EMPTY.query(sparql, base_iri=base_iri, prefixes=used)
        except SyntaxError as error:
            problem = syntaxhelp.explain(str(error), sparql, prefixes, base_iri)
            raise QuerySyntaxError(problem.text()) from error
        text = _prologue(sparql, base_iri, used)
        if substitutions:
            text = sparqltext.with_values(
                text, cast(Mapping[str, ox.NamedNode | ox.Literal], substitutions)
            )
        fields = [("query", text), *self._dataset(sparql, default_graphs, named_graphs)]
        wait = self.timeout
        if self.engine.kind == "virtuoso":
            fields.append(("timeout", str(max(1, int(self.timeout * 1000)))))
            wait += VIRTUOSO_STOP_GRACE  # the engine stops the query and says so (see above)
        form = sparqltext.operation_keyword(sparql)
        response = self._post(
            self.engine.query_url,
            urlencode(fields).encode(),
            "application/x-www-form-urlencoded",
            accept=GRAPH_ACCEPT if form in ("CONSTRUCT", "DESCRIBE") else RESULTS_ACCEPT,
            wait=wait,
        )
        if response.headers.get("X-SQL-State") == VIRTUOSO_PARTIAL:
            response.drain_conn()  # a partial answer, never served; the connection is reused
            response.release_conn()
            raise RemoteTimeout(
                self.timeout,
                f"the engine stopped the query at its {self.timeout:g} s limit",
                by_engine=True,
            )
        media_type = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        body = cast(IO[bytes], response)
        if self.engine.kind == "virtuoso" and media_type == "application/sparql-results+json":
            body = cast(IO[bytes], _Replacing(body, *VIRTUOSO_BNODE))
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        if results_format is not None:
            try:
                return ox.parse_query_results(body, format=results_format)
            except SyntaxError as error:
                raise StoreError(f"the engine's answer does not parse: {error}") from error
        rdf_format = ox.RdfFormat.from_media_type(media_type)
        if rdf_format is None:
            response.release_conn()
            raise StoreError(f"the engine answered in a format iomkg cannot read: {media_type}")
        store = ox.Store()  # a graph answer, as the embedded store gives it: QueryTriples
        try:
            store.load(body, format=rdf_format, to_graph=ox.DefaultGraph())
        except SyntaxError as error:
            raise StoreError(f"the engine's answer does not parse: {error}") from error
        finally:
            response.release_conn()
        return store.query("CONSTRUCT WHERE { ?s ?p ?o }")

    def _dataset(
        self,
        sparql: str,
        default_graphs: Sequence[str] | None,
        named_graphs: Sequence[str] | None,
    ) -> list[tuple[str, str]]:
        """The protocol's dataset fields for a query (see the module docstring)."""
        if default_graphs is not None or named_graphs is not None:
            # Given on one side only, the other side is empty (SPARQL 1.1 Protocol, 2.1.4).
            return [("default-graph-uri", iri) for iri in default_graphs or [NO_GRAPH]] + [
                ("named-graph-uri", iri) for iri in named_graphs or [NO_GRAPH]
            ]
        if sparqltext.has_dataset_clause(sparql):
            return []
        if self.engine.kind == "oxigraph":
            return [("union-default-graph", "")]
        graphs = self.named_graphs() or [NO_GRAPH]
        return [("default-graph-uri", iri) for iri in graphs] + [
            ("named-graph-uri", iri) for iri in graphs
        ]

    def named_graphs(self) -> list[str]:
        """The project's graphs (those under the base IRI) the engine holds, sorted."""
        answer = self._post(
            self.engine.query_url,
            urlencode(
                {
                    "query": "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } "
                    f"FILTER(STRSTARTS(STR(?g), {ox.Literal(self.owned)})) }}"
                }
            ).encode(),
            "application/x-www-form-urlencoded",
            accept=RESULTS_ACCEPT,
        )
        media_type = (answer.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        solutions = ox.parse_query_results(
            cast(IO[bytes], answer),
            format=ox.QueryResultsFormat.from_media_type(media_type) or ox.QueryResultsFormat.JSON,
        )
        assert isinstance(solutions, ox.QuerySolutions)
        return sorted(row["g"].value for row in solutions if isinstance(row["g"], ox.NamedNode))

    def quad_count(self, graph: str | None = None) -> int:
        graphs = [graph] if graph is not None else self.named_graphs()
        if not graphs:
            return 0
        solutions = self.query(
            "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }",
            default_graphs=[NO_GRAPH],
            named_graphs=graphs,
        )
        assert isinstance(solutions, ox.QuerySolutions)
        for row in solutions:
            count = row["n"]
            return int(count.value) if isinstance(count, ox.Literal) else 0
        return 0

    # Writing ------------------------------------------------------------------------------------
    def update(
        self,
        sparql: str,
        *,
        base_iri: str | None = None,
        using_graphs: Sequence[str] | None = None,
        using_named_graphs: Sequence[str] | None = None,
    ) -> None:
        _check_update_syntax(sparql, base_iri)
        # Written into the text, as for the embedded store (Virtuoso ignores the parameters).
        sparql = sparqltext.add_using_clauses(sparql, using_graphs or (), using_named_graphs or ())
        self.send_update(_prologue(sparql, base_iri, None))

    def send_update(self, text: str) -> None:
        """POST an update that is known to parse (checked, or written by this module)."""
        self._post(
            self.engine.update_url,
            urlencode({"update": text}).encode(),
            "application/x-www-form-urlencoded",
            refused=UpdateFailed,
        ).release_conn()

    def load(
        self,
        source: Path | bytes | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        base_iri: str | None = None,
    ) -> None:
        """Add ``source``'s triples to ``graph`` (quad formats: to the graphs they name)."""
        quads = (
            ox.parse(path=source, format=format, base_iri=base_iri)
            if isinstance(source, Path)
            else ox.parse(source, format=format, base_iri=base_iri)
        )
        by_graph: dict[str, list[ox.Triple]] = {}
        for quad in quads:
            name = quad.graph_name if graph is None else ox.NamedNode(graph)
            if not isinstance(name, ox.NamedNode):
                raise StoreError("the remote backend holds named graphs only: give the graph")
            by_graph.setdefault(name.value, []).append(quad.triple)
        for name, triples in by_graph.items():
            self.add_graph(name, triples)

    def add_graph(self, graph: str, triples: list[ox.Triple]) -> None:
        """Add ``triples`` to ``graph``: by the Graph Store Protocol in one request where there
        is one, else by updates of a few hundred triples (engines cap an update's size: Virtuoso
        at 10,000 lines of generated SQL), those of one blank-node component always together."""
        if self.engine.store_url is not None:
            data = ox.serialize(triples, format=ox.RdfFormat.N_TRIPLES) or b""
            url = self.engine.store_url + "?" + urlencode({"graph": graph})
            self._post(url, data, "application/n-triples", refused=UpdateFailed).release_conn()
            return
        target = ox.NamedNode(graph)
        for ground, batch in update_batches(triples):
            text = (ox.serialize(batch, format=ox.RdfFormat.N_TRIPLES) or b"").decode()
            if ground:
                self.send_update(f"INSERT DATA {{ GRAPH {target} {{ {text} }} }}")
            else:  # Virtuoso refuses blank nodes in INSERT DATA; a template's are new nodes
                self.send_update(f"INSERT {{ GRAPH {target} {{ {text} }} }} WHERE {{}}")

    def dump(
        self,
        output: Path | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> None:
        """Write one graph, or (quad formats) all the project's graphs."""
        graphs = [graph] if graph is not None else self.named_graphs()
        if graph is None and not format.supports_datasets:
            raise StoreError(f"{format.name} holds one graph: give the graph, or use N-Quads")
        quads = (
            ox.Quad(triple.subject, triple.predicate, triple.object, ox.NamedNode(name))
            for name in graphs
            for triple in self._triples(name)
        )
        target = str(output) if isinstance(output, Path) else output
        items: Iterator[ox.Quad] | Iterator[ox.Triple] = (
            quads if format.supports_datasets else (quad.triple for quad in quads)
        )
        ox.serialize(items, target, format, prefixes=dict(prefixes) if prefixes else None)

    def _triples(self, graph: str) -> ox.QueryTriples:
        triples = self.query(
            GRAPH_CONTENT,
            substitutions={"g": ox.NamedNode(graph)},
            default_graphs=[NO_GRAPH],
            named_graphs=[graph],
        )
        assert isinstance(triples, ox.QueryTriples)
        return triples

    # HTTP ---------------------------------------------------------------------------------------
    def _post(
        self,
        url: str,
        body: bytes,
        content_type: str,
        *,
        accept: str = "*/*",
        refused: type[StoreError] | None = None,
        wait: float | None = None,
    ) -> urllib3.BaseHTTPResponse:
        """POST and return the response (unread) when it is a success; else the right error.
        ``wait`` is how long the connection waits for bytes (the store's timeout if not given)."""
        read = self.timeout if wait is None else wait
        try:
            response = self.http.request(
                "POST",
                url,
                body=body,
                headers={"Content-Type": content_type, "Accept": accept},
                preload_content=False,
                timeout=urllib3.Timeout(connect=min(5.0, self.timeout), read=read),
            )
        except urllib3.exceptions.ReadTimeoutError as error:
            raise RemoteTimeout(
                self.timeout, f"the engine did not answer within {read:g} s"
            ) from error
        except urllib3.exceptions.HTTPError as error:
            raise StoreUnavailable(
                f"the SPARQL engine at {url} cannot be reached: {error}"
            ) from error
        if response.status < 300:
            return response
        # Read to the end (Virtuoso's messages repeat the query): a connection given back with
        # unread bytes would fail the next request sent on it.
        message = " ".join(response.read().decode("utf-8", "replace")[:4096].split())
        response.release_conn()
        if response.status in (502, 503, 504):
            raise StoreUnavailable(
                f"the SPARQL engine is unavailable ({response.status}): {message}"
            )
        if refused is not None and response.status in (400, 500):
            # An update request is one transaction on Oxigraph and Virtuoso: refused, it changed
            # nothing (Oxigraph answers 500 for CREATE GRAPH of an existing graph, say).
            raise refused(f"the engine refused the update, nothing changed: {message}")
        if response.status == 400 or (response.status == 500 and "SP030" in message):
            # 400; Virtuoso answers a SPARQL syntax error (SP030) with 500.
            raise QuerySyntaxError(message or "the engine refused the query")
        raise StoreError(f"the SPARQL engine at {url} answered {response.status}: {message}")


class _Replacing:
    """A binary reader giving ``source``'s bytes with ``old`` replaced by ``new`` (also where
    ``old`` spans two reads)."""

    def __init__(self, source: IO[bytes], old: bytes, new: bytes) -> None:
        self.source, self.old, self.new = source, old, new
        self.pending = b""

    def read(self, size: int = -1) -> bytes:
        while True:
            chunk = self.source.read(size if size > 0 else 65536)
            data = (self.pending + chunk).replace(self.old, self.new)
            if not chunk:
                self.pending = b""
                return data
            keep = len(self.old) - 1  # a prefix of ``old`` may be cut at the end
            self.pending, data = data[-keep:], data[:-keep]
            if data:
                return data

    def readable(self) -> bool:
        return True


#: Triples per update when a graph is written by SPARQL Update (without, with blank nodes).
GROUND_BATCH, TEMPLATE_BATCH = 2000, 200


def update_batches(triples: Sequence[ox.Triple]) -> Iterator[tuple[bool, list[ox.Triple]]]:
    """``triples`` in batches for updates, flagged ``True`` when no triple has a blank node.

    A blank node means the same node only within one update, so the triples that share blank
    nodes (a component: a list, a membership period) go in the same batch, whatever its size.
    """
    ground = [t for t in triples if not _blank_nodes(t)]
    for start in range(0, len(ground), GROUND_BATCH):
        yield True, ground[start : start + GROUND_BATCH]
    parent: dict[ox.BlankNode, ox.BlankNode] = {}

    def root(node: ox.BlankNode) -> ox.BlankNode:
        while parent.setdefault(node, node) != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    with_blanks = [t for t in triples if _blank_nodes(t)]
    for triple in with_blanks:
        first, *others = _blank_nodes(triple)
        for other in others:
            parent[root(other)] = root(first)
    components: dict[ox.BlankNode, list[ox.Triple]] = {}
    for triple in with_blanks:
        components.setdefault(root(_blank_nodes(triple)[0]), []).append(triple)
    batch: list[ox.Triple] = []
    for component in components.values():
        if batch and len(batch) + len(component) > TEMPLATE_BATCH:
            yield False, batch
            batch = []
        batch.extend(component)
    if batch:
        yield False, batch


def _blank_nodes(triple: ox.Triple) -> list[ox.BlankNode]:
    return [term for term in (triple.subject, triple.object) if isinstance(term, ox.BlankNode)]


def _check_update_syntax(sparql: str, base_iri: str | None) -> None:
    """Raise :class:`QuerySyntaxError` as the embedded store would for an update that does not
    parse. pyoxigraph parses only to run: the update is run on a new empty store, whose other
    failures (``DROP GRAPH`` of a graph it lacks) are not this one's; an update that loads is
    left to the engine (it would fetch its source here)."""
    if any(token.is_word("LOAD") for token in sparqltext.code_tokens(sparql)):
        return
    try:
        ox.Store().update(sparql, base_iri=base_iri)
    except SyntaxError as error:
        problem = syntaxhelp.explain(str(error), sparql, None, base_iri)
        raise QuerySyntaxError(problem.text()) from error
    except (OSError, ValueError, RuntimeError):
        pass


def _prologue(sparql: str, base_iri: str | None, prefixes: Mapping[str, str] | None) -> str:
    """``sparql`` with the server's base and predeclared prefixes written out (the engine knows
    neither); the text's own ``BASE`` and ``PREFIX`` lines come after them, so they win."""
    lines = [f"BASE {ox.NamedNode(base_iri)}"] if base_iri else []
    lines += [f"PREFIX {name}: {ox.NamedNode(iri)}" for name, iri in (prefixes or {}).items()]
    return "\n".join([*lines, sparql])


def remote_store(settings: Settings) -> RemoteStore:
    """The store over ``settings.backend``, owning the graphs under ``settings.base_iri``."""
    if settings.backend is None:
        raise StoreError("no --backend is set")
    return RemoteStore.connect(settings.backend, settings.base_iri, timeout=settings.query_timeout)


# Publishing a release ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Published:
    """What :func:`publish` did on the engine."""

    replaced: tuple[str, ...]
    dropped: tuple[str, ...]
    triples: int
    seconds: float


def publish(release: GraphStore, engine: RemoteStore) -> Published:
    """Make the engine hold exactly ``release``'s named graphs under the project's prefix.

    Every graph is first written under a staging name (the slow part: a failure there leaves
    the served graphs as they were, and the staging graphs are dropped), then one update moves
    them all in place and drops the project's graphs the release no longer has: Oxigraph and
    Virtuoso apply one update request as one transaction, so readers see the old release or
    the new one. Graphs outside the project's prefix are never touched.
    """
    started = time.perf_counter()
    graphs = release.named_graphs()
    outside = [name for name in graphs if not name.startswith(engine.owned)]
    if outside:
        raise StoreError(
            f"graph {outside[0]} is not under the base IRI {engine.owned}: only the project's "
            "graphs are published (change the base IRI or the graph's name)"
        )
    batch = uuid.uuid4().hex
    staged: dict[str, str] = {}
    empty: list[str] = []  # graphs of the release with no triple: cleared on the engine
    triples = 0
    try:
        for name in graphs:
            staging = f"{STAGING}{batch}:{len(staged) + len(empty)}"
            result = release.query(GRAPH_CONTENT, substitutions={"g": ox.NamedNode(name)})
            content = list(cast(Iterator[ox.Triple], result))
            if content:
                engine.add_graph(staging, content)
                staged[name] = staging
            else:
                empty.append(name)
            triples += len(content)
        before = engine.named_graphs()
        dropped = [name for name in before if name not in staged and name not in empty]
        steps = [
            f"MOVE SILENT GRAPH {ox.NamedNode(staging)} TO GRAPH {ox.NamedNode(name)}"
            for name, staging in staged.items()
        ] + [f"DROP SILENT GRAPH {ox.NamedNode(name)}" for name in [*empty, *dropped]]
        if steps:
            engine.send_update(" ;\n".join(steps))
        staged.clear()
    finally:
        for staging in staged.values():  # a failure half-way: leave no staging graph behind
            with contextlib.suppress(StoreError):
                engine.send_update(f"DROP SILENT GRAPH {ox.NamedNode(staging)}")
    return Published(tuple(graphs), tuple(dropped), triples, time.perf_counter() - started)


__all__ = [
    "ENGINE_KINDS",
    "Engine",
    "EngineKind",
    "Published",
    "RemoteStore",
    "RemoteTimeout",
    "detect_kind",
    "publish",
    "remote_store",
]
