"""The store interface every backend implements: query, update, load, dump.

The embedded pyoxigraph backend is the only one today; a remote SPARQL 1.1 backend
(bindings sent as ``VALUES``) fits the same four methods.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Protocol, TypeAlias

import pyoxigraph as ox

Term: TypeAlias = ox.NamedNode | ox.BlankNode | ox.Literal
QueryResult: TypeAlias = ox.QuerySolutions | ox.QueryTriples | ox.QueryBoolean


class StoreError(RuntimeError):
    """The store could not be opened, read or written; the message says which and why."""


class StoreUnavailable(StoreError):
    """The store cannot answer for now (its query evaluators are being restarted); the same
    request will work shortly. Answered 503 with ``Retry-After``."""


class UpdateFailed(StoreError):
    """A well-formed update that cannot be applied (``CREATE GRAPH`` of an existing graph, …);
    nothing was changed. The client's fault, not the server's: answered 400."""


class QuerySyntaxError(ValueError):
    """A query or update does not parse; ``str()`` says where and why (:mod:`iomkg.syntaxhelp`)."""


class GraphStore(Protocol):
    """What the rest of iomkg needs from a store."""

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
        """Run a SPARQL query; ``prefixes`` are predeclared (the query's own PREFIX lines win).

        With neither ``default_graphs`` nor ``named_graphs`` the query's own ``FROM`` /
        ``FROM NAMED`` apply; without those the default graph is the union of all graphs.
        Giving either one replaces the query's dataset as a whole (the side not given is
        empty), as the SPARQL 1.1 Protocol's ``default-graph-uri`` / ``named-graph-uri`` do;
        an unknown graph is empty.
        """
        ...

    def update(
        self,
        sparql: str,
        *,
        base_iri: str | None = None,
        using_graphs: Sequence[str] | None = None,
        using_named_graphs: Sequence[str] | None = None,
    ) -> None:
        """Run a SPARQL update atomically.

        ``using_graphs`` / ``using_named_graphs`` are the protocol's ``using-graph-uri`` /
        ``using-named-graph-uri``; an update with its own ``USING`` / ``WITH`` cannot have them
        (``sparqltext.DatasetError``).
        """
        ...

    def load(
        self,
        source: Path | bytes | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        base_iri: str | None = None,
    ) -> None:
        """Add the triples or quads of ``source`` (into ``graph`` when given)."""
        ...

    def dump(
        self,
        output: Path | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> None:
        """Write the whole dataset (quad formats) or one graph (``graph``) to ``output``."""
        ...

    def named_graphs(self) -> list[str]:
        """IRIs of the named graphs, sorted."""
        ...

    def quad_count(self, graph: str | None = None) -> int:
        """Number of quads in the store, or of triples in ``graph``."""
        ...
