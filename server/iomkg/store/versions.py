"""An on-disk store that changes by whole versions, so that readers can open it read-only.

RocksDB lets any number of processes open a database read-only, but not while another process
writes it ("undefined behaviour", says pyoxigraph). So a store that is served (read-only, by
the query evaluators) and also updated is kept as versions: an update copies the current
version (a RocksDB checkpoint: hard links, milliseconds whatever the size), applies itself to
the copy, and then makes the copy current in one atomic step. Readers of the old version go on
reading it undisturbed; new readers open the new one. Layout, for a store folder ``oxigraph``::

    oxigraph/                     version 0: the store as built
    oxigraph.versions/3/          later versions (checkpoints, then written)
    oxigraph.versions/current ->  3   (absent while version 0 is current)

A writer that fails or is killed leaves a ``.tmp-*`` folder behind, which the next writer
removes; ``current`` never points at a version that was not finished.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import pyoxigraph as ox

from iomkg.store.base import StoreError
from iomkg.store.oxigraph import OxigraphStore

#: Versions kept besides the current one: a reader that opened the one before may still be at
#: work when a new one is made; older ones have no reader left.
KEEP_PREVIOUS = 1
_LOCK = ".lock"
_CURRENT = "current"


class StoreVersions:
    """The versions of the store at ``base`` (see the module docstring)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.folder = base.with_name(base.name + ".versions")

    def current(self) -> Path:
        """The folder of the current version (the base folder until the first change)."""
        link = self.folder / _CURRENT
        if link.is_symlink():
            return self.folder / os.readlink(link)
        return self.base

    def change(self, apply: Callable[[OxigraphStore], None]) -> Path:
        """Make the next version by applying ``apply`` to a copy of the current one, then make
        it current; return its folder. If ``apply`` raises, nothing changes (the copy goes).

        Writers are serialised (a lock in the versions folder); readers never wait.
        """
        self.folder.mkdir(exist_ok=True)
        with open(self.folder / _LOCK, "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._remove_leftovers()
            current = self.current()
            work = self.folder / f".tmp-{uuid.uuid4().hex}"
            try:
                try:
                    ox.Store.read_only(str(current)).backup(str(work))
                except OSError as error:
                    raise StoreError(f"cannot copy the store at {current}: {error}") from error
                store = OxigraphStore.open(work)
                apply(store)
                store.flush()
                del store  # closes the database before the folder is renamed
                number = self._next_number()
                final = self.folder / str(number)
                work.rename(final)
                link = self.folder / f".current-{uuid.uuid4().hex}"
                link.symlink_to(str(number))
                os.replace(link, self.folder / _CURRENT)
            finally:
                if work.exists():
                    shutil.rmtree(work, ignore_errors=True)
            self._prune(number)
            return final

    def _next_number(self) -> int:
        numbers = [int(path.name) for path in self.folder.iterdir() if path.name.isdigit()]
        return max(numbers, default=0) + 1

    def _remove_leftovers(self) -> None:
        for path in self.folder.glob(".tmp-*"):
            shutil.rmtree(path, ignore_errors=True)

    def _prune(self, newest: int) -> None:
        for path in self.folder.iterdir():
            if path.name.isdigit() and int(path.name) < newest - KEEP_PREVIOUS:
                shutil.rmtree(path, ignore_errors=True)
