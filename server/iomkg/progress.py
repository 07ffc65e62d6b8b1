"""Progress of a long build or import, phase by phase, with counts and rates.

The core reports what it does to a :class:`Progress` (by default :data:`SILENT`, which ignores
it); only a front end decides whether and where to show it: the CLI passes a
:class:`TerminalProgress` when standard error is a terminal and ``--quiet`` is not given, so
scripts and pipes get nothing but the command's own output.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import IO, TypeVar

T = TypeVar("T")


class Progress:
    """Told when a phase starts, how far it has got and when it ends; ignores all of it."""

    def started(self, phase: str, unit: str, total: int | None) -> None:
        """``phase`` begins; it counts ``unit`` (``total`` of them, when known)."""

    def advanced(self, phase: str, done: int, seconds: float) -> None:
        """``done`` units so far, ``seconds`` after the phase began."""

    def finished(self, phase: str, done: int, seconds: float) -> None:
        """The phase ended with ``done`` units in ``seconds``."""


SILENT = Progress()


class Step:
    """One running phase: counts what the core adds, tells the :class:`Progress`."""

    def __init__(self, progress: Progress, phase: str, unit: str, total: int | None) -> None:
        self.progress, self.phase, self.done = progress, phase, 0
        self._started = time.perf_counter()
        progress.started(phase, unit, total)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self._started

    def add(self, count: int = 1) -> None:
        self.done += count
        self.progress.advanced(self.phase, self.done, self.seconds)

    def counted(self, items: Iterable[T], every: int = 50_000) -> Iterator[T]:
        """``items`` unchanged, each counted (the progress told every ``every`` of them)."""
        pending = 0
        for item in items:
            pending += 1
            if pending == every:
                self.add(pending)
                pending = 0
            yield item
        if pending:
            self.add(pending)


@contextmanager
def phase(
    progress: Progress, name: str, unit: str = "triples", total: int | None = None
) -> Iterator[Step]:
    """A phase of ``progress``, finished (with its count and time) when the block ends well."""
    step = Step(progress, name, unit, total)
    yield step
    progress.finished(name, step.done, step.seconds)


class TerminalProgress(Progress):
    """A line per phase on a terminal, rewritten in place as it advances (at most ten times a
    second), then left with the phase's count, time and rate."""

    def __init__(self, stream: IO[str], interval: float = 0.1) -> None:
        self.stream = stream
        self.interval = interval
        self._units: dict[str, tuple[str, int | None]] = {}
        self._shown = 0.0

    def started(self, phase: str, unit: str, total: int | None) -> None:
        self._units[phase] = (unit, total)
        self._shown = 0.0
        self._write(self._line(phase, 0, 0.0), end="")

    def advanced(self, phase: str, done: int, seconds: float) -> None:
        now = time.monotonic()
        if now - self._shown >= self.interval:
            self._shown = now
            self._write(self._line(phase, done, seconds), end="")

    def finished(self, phase: str, done: int, seconds: float) -> None:
        self._write(self._line(phase, done, seconds, final=True), end="\n")

    def _line(self, phase: str, done: int, seconds: float, final: bool = False) -> str:
        unit, total = self._units.get(phase, ("", None))
        count = f"{done:,}" if total is None or final else f"{done:,}/{total:,}"
        rate = f", {done / seconds:,.0f} {unit}/s" if seconds > 0 and done else ""
        return f"{phase:<9} {count} {unit} in {seconds:.1f} s{rate}"

    def _write(self, line: str, end: str) -> None:
        self.stream.write("\r\x1b[K" + line + end)
        self.stream.flush()
