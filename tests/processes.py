"""What the tests see of processes, read from /proc.

A process may exit between any two reads: opening ``/proc/PID/stat`` then fails with
``FileNotFoundError``, and reading it once opened with ``ProcessLookupError``. Both mean
"gone", and every reader here says so instead of raising.
"""

from __future__ import annotations

import time
from pathlib import Path

STOPPED_STATES = ("Z", "X")  # a zombie waiting to be reaped has stopped running


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first), or None if gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return text.rsplit(")", 1)[1].split()


def running(pid: int) -> bool:
    fields = stat_fields(pid)
    return fields is not None and fields[0] not in STOPPED_STATES


def gone(pid: int) -> bool:
    return not running(pid)


def gone_soon(pid: int, seconds: float = 2.0) -> bool:
    """An idle evaluator that was let go exits when it sees its socket closed: soon, not at once."""
    deadline = time.monotonic() + seconds
    while not gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def cpu_ticks(pid: int) -> int:
    """User and system CPU time ``pid`` has used, in clock ticks; 0 once it is gone."""
    fields = stat_fields(pid)
    return 0 if fields is None else int(fields[11]) + int(fields[12])


def descendants(pid: int) -> set[int]:
    """Every process started by ``pid``, directly or not, that is still there."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := stat_fields(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    found: set[int] = set()
    pending = [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            if child not in found:
                found.add(child)
                pending.append(child)
    return found
