"""The store the server's web app reads through: every read time-limited in an evaluator."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from iomkg import formats
from iomkg.serving.service import QueryRequest, ServingExecutor, UpdateRequest
from iomkg.store.base import QueryResult, StoreError, Term


class ExecutorStore:
    """A :class:`~iomkg.store.base.GraphStore` whose reads go through the server's executor.

    What the web app's pages, health check and descriptions read then has the same time limit
    as the endpoint, and sees updates as soon as they are made. Results come back as the
    pyoxigraph objects a store returns (parsed from SPARQL JSON, or N-Triples for graphs), cut at
    the server's row limit. Loading and dumping are not possible through it.
    """

    _JSON = formats.by_name("json", "results")
    _NT = formats.by_name("nt", "graph")

    def __init__(self, executor: ServingExecutor) -> None:
        self.executor = executor

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
        request = QueryRequest(
            sparql,
            results_format=self._JSON,
            graph_format=self._NT,
            default_graphs=tuple(default_graphs) if default_graphs is not None else None,
            named_graphs=tuple(named_graphs) if named_graphs is not None else None,
            substitutions=substitutions,
            base_iri=base_iri,
            prefixes=dict(prefixes or {}),
        )
        answer = self.executor.run_query(request)
        body = b"".join(answer.chunks)
        if answer.kind == "results":
            return ox.parse_query_results(body, format=ox.QueryResultsFormat.JSON)
        graph = ox.Store()
        graph.load(body, format=ox.RdfFormat.N_TRIPLES, to_graph=ox.DefaultGraph())
        triples = graph.query("CONSTRUCT WHERE { ?s ?p ?o }")
        assert isinstance(triples, ox.QueryTriples)
        return triples

    def update(
        self,
        sparql: str,
        *,
        base_iri: str | None = None,
        using_graphs: Sequence[str] | None = None,
        using_named_graphs: Sequence[str] | None = None,
    ) -> None:
        self.executor.run_update(
            UpdateRequest(
                sparql,
                using_graphs=tuple(using_graphs or ()),
                using_named_graphs=tuple(using_named_graphs or ()),
                base_iri=base_iri,
            )
        )

    def load(
        self,
        source: Path | bytes | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        base_iri: str | None = None,
    ) -> None:
        raise StoreError(
            "a served store cannot be bulk-loaded: stop the server and use `iomkg load`"
        )

    def dump(
        self,
        output: Path | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> None:
        raise StoreError("a served store is not dumped through the server: use `iomkg export`")

    def named_graphs(self) -> list[str]:
        graphs: list[str] = self.executor.call("named_graphs")
        return graphs

    def quad_count(self, graph: str | None = None) -> int:
        count: int = self.executor.call("quad_count", graph)
        return count
