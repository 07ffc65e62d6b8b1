"""Atomic builds: each build goes into a fresh release folder, then one rename makes it current.

Layout under the store root (``--store``, default ``var/store``)::

    releases/20261126T101500-3f2a9c/oxigraph/   the pyoxigraph database
    releases/20261126T101500-3f2a9c/dumps/      Turtle, TriG, N-Quads, JSON-LD
    current -> releases/20261126T101500-3f2a9c  a symbolic link, replaced atomically

A failed build removes its half-made folder and never touches ``current``, so the previous
store and dumps stay byte-for-byte as they were.
"""

from __future__ import annotations

import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

KEEP_RELEASES = 2  # the current one and the one a still-running server may have open


@dataclass(frozen=True)
class Release:
    """One finished build."""

    path: Path

    @property
    def store_path(self) -> Path:
        return self.path / "oxigraph"

    @property
    def dumps_path(self) -> Path:
        return self.path / "dumps"

    @property
    def name(self) -> str:
        return self.path.name


class Releases:
    """The release folders under one store root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._releases = root / "releases"
        self._current = root / "current"

    def current(self) -> Release | None:
        """The release that is served, or ``None`` before the first build."""
        if not self._current.is_symlink() and not self._current.exists():
            return None
        target = self._current.resolve()
        return Release(target) if target.is_dir() else None

    @contextmanager
    def staging(self) -> Iterator[Release]:
        """A fresh, empty release folder; removed again unless :meth:`publish` took it."""
        self._releases.mkdir(parents=True, exist_ok=True)
        staging = Release(self._releases / f".staging-{uuid.uuid4().hex}")
        staging.path.mkdir()
        try:
            yield staging
        finally:
            if staging.path.exists():
                shutil.rmtree(staging.path, ignore_errors=True)

    def publish(self, staging: Release, label: str) -> Release:
        """Make a staged release current in one atomic step and prune old ones."""
        final = Release(self._releases / f"{time.strftime('%Y%m%dT%H%M%S')}-{label}")
        if final.path.exists():  # the same inputs built twice in one second
            final = Release(final.path.with_name(final.path.name + "-" + uuid.uuid4().hex[:6]))
        staging.path.rename(final.path)
        link = self.root / f".current-{uuid.uuid4().hex}"
        link.symlink_to(Path("releases") / final.name)
        os.replace(link, self._current)
        self._prune(keep=final)
        return final

    def _prune(self, keep: Release) -> None:
        finished = sorted(
            (path for path in self._releases.iterdir() if not path.name.startswith(".")),
            key=lambda path: path.name,
        )
        for old in finished[:-KEEP_RELEASES]:
            if old != keep.path:
                shutil.rmtree(old, ignore_errors=True)
