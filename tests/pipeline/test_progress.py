"""Progress by phase: the build tells every phase with its counts; the CLI shows them on a
terminal (a real pseudo-terminal here), and neither with ``--quiet`` nor into a pipe."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
from pathlib import Path

import pytest

from iomkg import pipeline
from iomkg.config import Settings
from iomkg.progress import Progress, TerminalProgress, phase


class Recorded(Progress):
    def __init__(self) -> None:
        self.events: list[tuple[str, str, int]] = []
        self.totals: dict[str, int | None] = {}

    def started(self, phase: str, unit: str, total: int | None) -> None:
        self.events.append(("started", phase, 0))
        self.totals[phase] = total

    def advanced(self, phase: str, done: int, seconds: float) -> None:
        self.events.append(("advanced", phase, done))

    def finished(self, phase: str, done: int, seconds: float) -> None:
        self.events.append(("finished", phase, done))

    def finished_counts(self) -> dict[str, int]:
        return {phase: done for event, phase, done in self.events if event == "finished"}


def test_build_tells_each_phase_with_its_counts(project_copy: Settings) -> None:
    progress = Recorded()
    summary = pipeline.build(project_copy, phases=progress)
    counts = progress.finished_counts()
    assert list(counts) == ["parse", "iati", "validate", "checks", "dumps"]  # parse loads too
    parsed = pipeline.parse_sources(pipeline.discover_sources(project_copy), project_copy.base_iri)
    assert counts["parse"] == parsed.triple_count()  # the files' triples, before derived ones
    assert counts["parse"] <= summary.total_triples  # with the derived figures
    assert counts["validate"] > 100  # each constraint checked
    assert counts["checks"] == len(list((project_copy.project_dir / "queries/checks").glob("*.rq")))
    assert counts["dumps"] == progress.totals["dumps"] == 5
    # Each phase starts before it advances and finishes last; counts only grow.
    for name in counts:
        mine = [(event, done) for event, phase, done in progress.events if phase == name]
        assert mine[0][0] == "started" and mine[-1][0] == "finished"
        assert [done for _, done in mine] == sorted(done for _, done in mine)


def test_terminal_lines_give_count_time_and_rate() -> None:
    stream = io.StringIO()
    terminal = TerminalProgress(stream, interval=0.0)
    with phase(terminal, "load", total=3_000) as step:
        for _ in step.counted(range(3_000), every=1_000):
            pass
    lines = stream.getvalue().split("\r\x1b[K")
    assert lines[1].startswith("load      0/3,000 triples")
    assert any(line.startswith("load      2,000/3,000 triples") for line in lines)
    last = lines[-1]
    assert last.startswith("load      3,000 triples in ") and " triples/s" in last
    assert last.endswith("\n") and stream.getvalue().count("\n") == 1


def run_on_terminal(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run the iomkg command with standard error on a pseudo-terminal; its exit code and what
    the terminal showed."""
    controller, terminal = pty.openpty()
    script = Path(sys.executable).with_name("iomkg")
    process = subprocess.Popen(
        [str(script), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=terminal,
        env={**os.environ, **env},
    )
    os.close(terminal)
    shown = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    process.communicate(timeout=600)
    os.close(controller)
    return process.returncode, shown.decode("utf-8", "replace")


@pytest.mark.slow
def test_cli_shows_progress_on_a_terminal_only(project_copy: Settings) -> None:
    env = {
        "IOMKG_PROJECT_DIR": str(project_copy.project_dir),
        "IOMKG_SHARED_DIR": str(project_copy.shared_root),
        "IOMKG_STORE": str(project_copy.store_root),
    }
    code, shown = run_on_terminal(["validate"], env)
    assert code == 0
    assert "parse " in shown and "validate " in shown and " triples/s" in shown
    assert " constraints in " in shown
    code, shown = run_on_terminal(["validate", "--quiet"], env)
    assert code == 0 and shown == ""
    script = Path(sys.executable).with_name("iomkg")
    piped = subprocess.run(
        [str(script), "validate"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=False,
    )
    assert piped.returncode == 0 and piped.stderr == ""
    assert piped.stdout.startswith("conforms: ")


@pytest.mark.slow
def test_import_shows_files_then_phases_on_a_terminal_and_nothing_quiet(
    project_copy: Settings,
) -> None:
    sample = project_copy.shared_root / "iati/samples/dportal-covid19-page-109.xml"
    if not sample.is_file():
        pytest.skip(f"{sample} missing (../shared)")
    env = {
        "IOMKG_PROJECT_DIR": str(project_copy.project_dir),
        "IOMKG_SHARED_DIR": str(project_copy.shared_root),
        "IOMKG_STORE": str(project_copy.store_root),
    }
    code, shown = run_on_terminal(["import", "iati", "--quiet", str(sample)], env)
    assert code == 0 and "warning: " in shown  # the import's own warnings, but no progress
    assert all(line.startswith("warning: ") for line in shown.splitlines() if line)
    code, shown = run_on_terminal(["import", "iati", "--remove", "dportal-covid19-page-109"], env)
    assert code == 0 and "validate " in shown and " constraints in " in shown
    code, shown = run_on_terminal(["import", "iati", str(sample)], env)
    assert code == 0
    assert "dportal-covid19-page-109: 100 activities" in shown  # the file's own bar
    assert "validate " in shown and "dumps " in shown and " files in " in shown
