"""Atomic builds: each build goes into a fresh release folder, then one rename makes it current.

Layout under the store root (``--store``, default ``var/store``)::

    releases/20261126T101500-3f2a9c/oxigraph/   the pyoxigraph database
    releases/20261126T101500-3f2a9c/dumps/      Turtle, TriG, N-Quads, JSON-LD
    current -> releases/20261126T101500-3f2a9c  a symbolic link, replaced atomically

A failed build removes its half-made folder and never touches ``current``, so the previous
store and dumps stay byte-for-byte as they were.

A server holds the release it serves (:meth:`Release.hold`, a shared ``flock`` on its
``.in-use`` file): a new build becomes ``current`` for the next start, but is never a reason to
delete what a running server reads and writes. The lock goes with the last process holding it,
however that process ends, so a killed server leaves nothing to clean up.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from iomkg.store.base import StoreError
from iomkg.store.versions import StoreVersions

KEEP_RELEASES = 2  # the newest builds kept (besides any a running server holds)
IN_USE_FILE = ".in-use"


@dataclass(frozen=True)
class Release:
    """One finished build."""

    path: Path

    @property
    def versions(self) -> StoreVersions:
        """The release's store: as built, then changed by updates (one version each)."""
        return StoreVersions(self.path / "oxigraph")

    @property
    def store_path(self) -> Path:
        """The folder of the store's current version (as built, until the first update)."""
        return self.versions.current()

    @property
    def dumps_path(self) -> Path:
        return self.path / "dumps"

    @property
    def name(self) -> str:
        return self.path.name

    def hold(self) -> ReleaseHold:
        """Mark this release as in use until the hold is closed (or the holder ends). A release
        this user cannot write to cannot be marked, nor pruned by this user's builds."""
        try:
            descriptor = os.open(self.path / IN_USE_FILE, os.O_RDONLY | os.O_CREAT, 0o644)
        except OSError:
            try:
                descriptor = os.open(self.path / IN_USE_FILE, os.O_RDONLY)
            except OSError:
                return ReleaseHold(None)
        fcntl.flock(descriptor, fcntl.LOCK_SH)
        return ReleaseHold(descriptor)

    def in_use(self) -> bool:
        """Whether a running server holds this release."""
        try:
            descriptor = os.open(self.path / IN_USE_FILE, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(descriptor)
        return False


class ReleaseHold:
    """A server's hold on its release (see the module docstring); inherited by forked workers."""

    def __init__(self, descriptor: int | None) -> None:
        self._descriptor = descriptor

    def close(self) -> None:
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None

    def __enter__(self) -> ReleaseHold:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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

    def require_current(self) -> Release:
        """The release that is served; :class:`StoreError` saying what is wrong if none is."""
        release = self.current()
        if release is not None:
            return release
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"{self.root} is a file, not a store folder: give --store a folder")
        if self._current.is_symlink():
            raise StoreError(
                f"{self._current} points at {os.readlink(self._current)}, which is not there "
                "(removed?): run `iomkg build` to make a new build"
            )
        raise StoreError(f"no build in {self.root} yet: run `iomkg build` first")

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
        os.utime(final.path)  # its time of publication: the order builds are pruned in
        link = self.root / f".current-{uuid.uuid4().hex}"
        link.symlink_to(Path("releases") / final.name)
        os.replace(link, self._current)
        self._prune(keep=final)
        return final

    def _prune(self, keep: Release) -> None:
        finished = sorted(  # by name alone, builds of the same second would go by label
            (path for path in self._releases.iterdir() if not path.name.startswith(".")),
            key=lambda path: (path.stat().st_mtime_ns, path.name),
        )
        for old in finished[:-KEEP_RELEASES]:
            if old != keep.path and not Release(old).in_use():
                shutil.rmtree(old, ignore_errors=True)
