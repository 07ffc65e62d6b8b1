"""Reading a live server's log: its lines are written after the answer goes out, so a test that
has its answer waits for the line rather than reading the log once (or after a fixed sleep)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

LOG_WAIT_SECONDS = 10.0


def logged_lines(
    log: Path,
    matches: Callable[[str], bool],
    seconds: float = LOG_WAIT_SECONDS,
    at_least: int = 1,
) -> list[str]:
    """The log's lines that match, as soon as there are ``at_least`` of them; after ``seconds``,
    those there are (perhaps none).

    For example ``logged_lines(server.log, lambda line: " 499 " in line)``.
    """
    deadline = time.monotonic() + seconds
    while True:
        found = [
            line
            for line in log.read_text(encoding="utf-8", errors="replace").splitlines()
            if matches(line)
        ]
        if len(found) >= at_least or time.monotonic() >= deadline:
            return found
        time.sleep(0.05)
