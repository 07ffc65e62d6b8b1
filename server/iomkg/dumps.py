"""The build's downloadable dumps: which files, their media types, validators and gzip bodies.

A release folder never changes once published (a rebuild makes a new one), so a dump's size and
modification time identify its content: the ETag is made from them and costs no hashing.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

CHUNK_BYTES = 64 * 1024

#: Extension → media type of the files a build writes (pipeline.write_dumps).
MEDIA_TYPES = {
    ".ttl": "text/turtle",
    ".trig": "application/trig",
    ".nq": "application/n-quads",
    ".nt": "application/n-triples",
    ".jsonld": "application/ld+json",
}
DESCRIPTIONS = {
    ".ttl": "Turtle: the union of all graphs",
    ".trig": "TriG: every named graph",
    ".nq": "N-Quads: every named graph, one statement per line",
    ".nt": "N-Triples: the union of all graphs",
    ".jsonld": "JSON-LD: every named graph",
}


@dataclass(frozen=True)
class Dump:
    """One downloadable file."""

    name: str
    path: Path
    media_type: str
    size: int
    modified: datetime
    description: str
    gzip_path: Path | None = None  # a precompressed ``name.gz`` next to it, if the build wrote one

    @property
    def etag(self) -> str:
        """A strong validator (without quotes) for the identity body."""
        stat = self.path.stat()
        return f"{self.name}-{stat.st_size:x}-{stat.st_mtime_ns:x}"

    @property
    def gzip_etag(self) -> str:
        """A different validator for the gzip body: the bytes differ, so must the ETag."""
        return self.etag + "-gzip"

    @property
    def content_type(self) -> str:
        if self.media_type.startswith("text/") or self.media_type.endswith("json"):
            return f"{self.media_type}; charset=utf-8"
        return self.media_type


def list_dumps(folder: Path | None) -> list[Dump]:
    """The dumps in ``folder`` (the current release's ``dumps/``), by name; none if missing."""
    if folder is None or not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.iterdir()):
        media_type = MEDIA_TYPES.get(path.suffix)
        if media_type is None or not path.is_file():
            continue
        stat = path.stat()
        compressed = path.with_name(path.name + ".gz")
        found.append(
            Dump(
                name=path.name,
                path=path,
                media_type=media_type,
                size=stat.st_size,
                modified=datetime.fromtimestamp(stat.st_mtime, UTC).replace(microsecond=0),
                description=_describe(path),
                gzip_path=compressed
                if compressed.is_file() and compressed.stat().st_mtime_ns >= stat.st_mtime_ns
                else None,
            )
        )
    return found


def _describe(path: Path) -> str:
    if path.name == "context.jsonld":
        return "JSON-LD context: the prefixes the JSON-LD dump uses"
    return DESCRIPTIONS[path.suffix]


def find_dump(folder: Path | None, name: str) -> Dump | None:
    """The dump called exactly ``name``: only listed files, so no path can escape the folder."""
    return next((dump for dump in list_dumps(folder) if dump.name == name), None)


def gzip_chunks(path: Path, level: int = 6) -> Iterator[bytes]:
    """The gzip-compressed bytes of a file, streamed: memory stays at one chunk."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: gzip header and trailer
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            if out := compressor.compress(chunk):
                yield out
    yield compressor.flush()


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while chunk := source.read(CHUNK_BYTES):
            yield chunk
