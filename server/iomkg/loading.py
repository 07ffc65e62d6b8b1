"""Bulk loading of foreign RDF into the store, without the SHACL gate (``iomkg load``)."""

from __future__ import annotations

from pathlib import Path

import pyoxigraph as ox

from iomkg.config import Settings
from iomkg.pipeline import SourceParseError
from iomkg.store import OxigraphStore, StoreError
from iomkg.store.releases import Releases


class NoSuchInput(StoreError):
    """A file to load is not there (or is a folder): nothing was loaded."""


def rdf_format_of(path: Path) -> ox.RdfFormat:
    """The RDF format named by a file's extension (``.ttl``, ``.nt``, ``.nq``, ``.jsonld`` …)."""
    suffix = path.suffix.lstrip(".").lower()
    found = ox.RdfFormat.from_extension(suffix) or (
        ox.RdfFormat.RDF_XML if suffix == "xml" else None
    )
    if found is None:
        raise SourceParseError(path, None, None, f"unknown RDF file extension {path.suffix!r}")
    return found


def check_syntax(path: Path, fmt: ox.RdfFormat, base_iri: str) -> int:
    """Parse the whole file (streaming) and count its statements; raise with line and column."""
    count = 0
    try:
        for _ in ox.parse(path=str(path), format=fmt, base_iri=base_iri):
            count += 1
    except SyntaxError as error:
        message = str(error.msg).split(": ", 1)[-1] if error.msg else str(error)
        raise SourceParseError(path, error.lineno, error.offset, message) from error
    return count


def load_files(settings: Settings, files: list[Path], graph: str | None) -> int:
    """Syntax-check every file, then bulk-load them into the current store (made if missing)."""
    for path in files:
        if not path.is_file():
            what = "is a folder" if path.is_dir() else "does not exist"
            raise NoSuchInput(f"{path} {what}: give RDF files; nothing was loaded")
    formats = {path: rdf_format_of(path) for path in files}
    if graph is not None:
        ox.NamedNode(graph)  # raises ValueError on a malformed IRI before anything is touched
        for path, fmt in formats.items():
            if fmt.supports_datasets:
                raise SourceParseError(
                    path, None, None, "--graph cannot be used with a quad format (N-Quads, TriG)"
                )
    total = sum(check_syntax(path, fmt, settings.base_iri) for path, fmt in formats.items())
    releases = Releases(settings.store_root)
    release = releases.current()
    if release is None:
        with releases.staging() as staging:
            store = OxigraphStore.open(staging.store_path)
            _bulk_load(store, formats, graph, settings.base_iri)
            store.optimize_for_reading()
            del store
            releases.publish(staging, "loaded")
        return total
    # A new version of the store, so that a server reading the current one is not disturbed.
    release.versions.change(lambda store: _bulk_load(store, formats, graph, settings.base_iri))
    return total


def _bulk_load(
    store: OxigraphStore, formats: dict[Path, ox.RdfFormat], graph: str | None, base_iri: str
) -> None:
    for path, fmt in formats.items():
        store.load(path, format=fmt, graph=graph, base_iri=base_iri)
    store.flush()
