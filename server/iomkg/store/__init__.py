"""Stores: the interface and its backends."""

from iomkg.store.base import (
    GraphStore,
    QueryResult,
    QuerySyntaxError,
    StoreError,
    Term,
    UpdateFailed,
)
from iomkg.store.oxigraph import OxigraphStore

__all__ = [
    "GraphStore",
    "OxigraphStore",
    "QueryResult",
    "QuerySyntaxError",
    "StoreError",
    "Term",
    "UpdateFailed",
]
