"""The embedded backend: a pyoxigraph store, on disk or in memory."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

import pyoxigraph as ox

from iomkg.store.base import QueryResult, QuerySyntaxError, StoreError, Term


class OxigraphStore:
    """A :class:`~iomkg.store.base.GraphStore` over pyoxigraph.

    >>> store = OxigraphStore.in_memory()
    >>> store.load(b"<http://a> <http://b> 1 .", format=ox.RdfFormat.TURTLE, graph="http://g")
    >>> store.quad_count()
    1
    >>> bool(store.query("ASK { <http://a> ?p ?o }"))
    True
    """

    def __init__(self, store: ox.Store, *, read_only: bool = False) -> None:
        self._store = store
        self.read_only = read_only

    @classmethod
    def in_memory(cls) -> OxigraphStore:
        return cls(ox.Store())

    @classmethod
    def open(cls, path: Path, *, read_only: bool = False) -> OxigraphStore:
        """Open an on-disk store; read-only stores can be shared by many processes."""
        try:
            if read_only:
                return cls(ox.Store.read_only(str(path)), read_only=True)
            return cls(ox.Store(str(path)))
        except OSError as error:
            hint = (
                " (is another iomkg process, such as a running server, holding it for writing?)"
                if "lock" in str(error).lower()
                else ""
            )
            raise StoreError(f"cannot open the store at {path}: {error}{hint}") from error

    @property
    def raw(self) -> ox.Store:
        """The pyoxigraph store itself, for bulk work in the pipeline and benchmarks."""
        return self._store

    def query(
        self,
        sparql: str,
        *,
        substitutions: Mapping[str, Term] | None = None,
        default_graphs: Sequence[str] | None = None,
        named_graphs: Sequence[str] | None = None,
        base_iri: str | None = None,
    ) -> QueryResult:
        default = [ox.NamedNode(iri) for iri in default_graphs] if default_graphs is not None else None
        named = [ox.NamedNode(iri) for iri in named_graphs] if named_graphs is not None else None
        bound = (
            {ox.Variable(name): value for name, value in substitutions.items()}
            if substitutions
            else None
        )
        try:
            return self._store.query(
                sparql,
                base_iri=base_iri,
                use_default_graph_as_union=default is None,
                default_graph=default,
                named_graphs=named,
                substitutions=bound,
            )
        except SyntaxError as error:
            raise QuerySyntaxError(str(error)) from error
        except OSError as error:
            raise StoreError(f"the store could not answer the query: {error}") from error

    def update(
        self,
        sparql: str,
        *,
        base_iri: str | None = None,
        using_graphs: Sequence[str] | None = None,
        using_named_graphs: Sequence[str] | None = None,
    ) -> None:
        if self.read_only:
            raise StoreError("this store was opened read-only: updates are not possible")
        if using_graphs or using_named_graphs:
            sparql = _with_using_clauses(sparql, using_graphs or (), using_named_graphs or ())
        try:
            self._store.update(sparql, base_iri=base_iri)
        except SyntaxError as error:
            raise QuerySyntaxError(str(error)) from error
        except OSError as error:
            raise StoreError(f"the update failed and changed nothing: {error}") from error

    def load(
        self,
        source: Path | bytes | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        base_iri: str | None = None,
    ) -> None:
        if self.read_only:
            raise StoreError("this store was opened read-only: loading is not possible")
        to_graph = ox.NamedNode(graph) if graph else None
        kwargs: dict[str, object] = {"format": format, "base_iri": base_iri}
        if to_graph is not None:
            kwargs["to_graph"] = to_graph
        try:
            if isinstance(source, Path):
                self._store.bulk_load(path=str(source), **kwargs)  # type: ignore[arg-type]
            else:
                self._store.bulk_load(source, **kwargs)  # type: ignore[arg-type]
        except SyntaxError as error:
            raise QuerySyntaxError(str(error)) from error
        except (OSError, ValueError) as error:
            raise StoreError(str(error)) from error

    def dump(
        self,
        output: Path | IO[bytes],
        *,
        format: ox.RdfFormat,
        graph: str | None = None,
        prefixes: Mapping[str, str] | None = None,
    ) -> None:
        target: object = str(output) if isinstance(output, Path) else output
        from_graph: ox.NamedNode | ox.DefaultGraph | None = None
        if graph is not None:
            from_graph = ox.NamedNode(graph)
        elif not format.supports_datasets:
            raise StoreError(f"{format.name} holds one graph: name the graph to export")
        kwargs: dict[str, object] = {"format": format}
        if from_graph is not None:
            kwargs["from_graph"] = from_graph
        if prefixes and format in (ox.RdfFormat.TURTLE, ox.RdfFormat.TRIG, ox.RdfFormat.JSON_LD):
            kwargs["prefixes"] = dict(prefixes)
        self._store.dump(target, **kwargs)  # type: ignore[arg-type]

    def named_graphs(self) -> list[str]:
        return sorted(graph.value for graph in self._store.named_graphs() if isinstance(graph, ox.NamedNode))

    def quad_count(self, graph: str | None = None) -> int:
        if graph is None:
            return len(self._store)
        return sum(1 for _ in self._store.quads_for_pattern(None, None, None, ox.NamedNode(graph)))

    def flush(self) -> None:
        self._store.flush()


def _with_using_clauses(sparql: str, using: Sequence[str], using_named: Sequence[str]) -> str:
    """Apply the protocol's ``using-graph-uri``/``using-named-graph-uri`` to every operation.

    pyoxigraph has no parameter for them, so the update is parsed into its operations and each
    ``WHERE`` gets explicit ``USING`` clauses. IRIs are checked before they are written into
    the text, so they cannot break out of ``<…>``.
    """
    clauses = " ".join([f"USING <{_checked_iri(iri)}>" for iri in using] + [
        f"USING NAMED <{_checked_iri(iri)}>" for iri in using_named
    ])
    # The SPARQL 1.1 Protocol says these parameters apply to the update's WHERE clauses; an update
    # that already names USING/WITH is an error per the protocol (checked by the caller).
    return _insert_before_where(sparql, clauses)


def _checked_iri(iri: str) -> str:
    return ox.NamedNode(iri).value


def _insert_before_where(sparql: str, clauses: str) -> str:
    import re

    return re.sub(r"(?i)\bWHERE\s*\{", lambda match: f"{clauses} {match.group(0)}", sparql)
