"""Benchmark: ``iomkg build`` (validation by the compiled shapes) against ``iomkg validate
--validator pyshacl`` (pySHACL with the cached SPARQL parsing, the validator builds used before),
on generated graphs of this project's vocabulary, in one run.

    python server/bench/build.py                                  # 100k, 1M (pySHACL 10k-300k)
    python server/bench/build.py --sizes 100k,1m,3m,10m --baseline-sizes 10k,100k,300k

For each size it generates the graph (generate.py, deterministic; it conforms to the shapes),
writes it as one N-Triples file per named graph into the data folder of a scratch project (the
project's own ontology, shapes and checks, no other data), and runs each command in a process
of its own, timing it and reading its peak memory (the child's maximum RSS from ``wait4``).
pySHACL runs only at the sizes it can finish; at the others its time is extrapolated from the
power law fitted to the sizes it ran (time = a * triples^b), and the table says so. The growth of
each is the exponent b fitted over its sizes (1.0 is linear). Prints a Markdown table and writes
the figures as JSON under ``var/bench/``. The machine is shared: only figures of one run compare.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import generate
import pyoxigraph as ox

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SIZES = {
    "10k": 10_000,
    "30k": 30_000,
    "100k": 100_000,
    "300k": 300_000,
    "1m": 1_000_000,
    "3m": 3_000_000,
    "10m": 10_000_000,
}
GOAL_AT_1M = 20.0  # times faster than the baseline
LINEAR = 1.1  # the largest fitted exponent still called linear (timing noise on a shared machine)


@dataclass
class Run:
    """One command on one graph: wall time, peak memory, the build's own phase timings."""

    command: str
    size: str
    triples: int
    seconds: float
    peak_mib: float
    exit_code: int
    phases: dict[str, float] = field(default_factory=dict)


def scratch_project(root: Path, size: str, seed: int) -> tuple[Path, int]:
    """A project folder with the generated graph as its data (reused if already written)."""
    project = root / f"project-{size}-{seed}"
    stamp = project / "triples.txt"
    if stamp.exists():
        return project, int(stamp.read_text())
    if project.exists():
        shutil.rmtree(project)
    (project / "data" / "synthetic").mkdir(parents=True)
    for name in ("ontology", "shapes", "queries"):
        shutil.copytree(PROJECT / name, project / name)
    count = write_graphs(project / "data" / "synthetic", SIZES[size], seed)
    stamp.write_text(str(count))
    return project, count


def write_graphs(folder: Path, triples: int, seed: int) -> int:
    """One N-Triples file per named graph of the generated quads; the number of triples."""
    count = 0
    current: str | None = None
    batch: list[ox.Triple] = []

    def flush() -> None:
        if current is not None:
            name = current.rsplit("/", 1)[-1]
            ox.serialize(batch, str(folder / f"{name}.nt"), ox.RdfFormat.N_TRIPLES)

    for quad in generate.generate(triples, seed):
        graph = str(quad.graph_name.value)  # type: ignore[union-attr]
        if graph != current:
            flush()
            current, batch = graph, []
        batch.append(ox.Triple(quad.subject, quad.predicate, quad.object))
        count += 1
    flush()
    return count


def measure(command: str, args: Sequence[str], project: Path, size: str, triples: int) -> Run:
    """Run ``iomkg ARGS`` for ``project`` in a child process; its time and peak RSS."""
    env = {**os.environ, "IOMKG_PROJECT_DIR": str(project)}
    started = time.perf_counter()
    with open(project / f"{command}.log", "wb") as log:
        child = subprocess.Popen(
            [str(BIN / "iomkg"), *args], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    output = (project / f"{command}.log").read_text(encoding="utf-8", errors="replace")
    phases = {
        step: float(value)
        for step, value in re.findall(r"(\w+) ([0-9.]+)s", output.rpartition("time: ")[2])
    }
    return Run(command, size, triples, seconds, usage.ru_maxrss / 1024, child.returncode, phases)


def rebuild_one_changed(project: Path, size: str, triples: int) -> Run:
    """``iomkg build`` again after one graph of the data changed (a comment added to its file):
    the incremental validation's case. The file is put back as it was afterwards."""
    changed = sorted((project / "data" / "synthetic").glob("*.nt"))[0]
    original = changed.read_bytes()
    changed.write_bytes(original + b"# changed\n")
    try:
        return measure("rebuild", ["build"], project, size, triples)
    finally:
        changed.write_bytes(original)


def growth(runs: Sequence[Run]) -> float | None:
    """The exponent b of time = a * triples^b, least squares on the logarithms."""
    points = [(math.log(r.triples), math.log(r.seconds)) for r in runs if r.exit_code == 0]
    if len(points) < 2:
        return None
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def phase_runs(runs: Sequence[Run], phase: str) -> list[Run]:
    """The build's own timing of one phase, as runs (for its growth law)."""
    return [
        Run(f"{r.command} {phase}", r.size, r.triples, r.phases[phase], r.peak_mib, r.exit_code)
        for r in runs
        if phase in r.phases
    ]


def baseline_at(baseline: Sequence[Run], size: str) -> tuple[float | None, bool]:
    """pySHACL's time at ``size``: measured if it ran there, else extrapolated (and says so)."""
    measured = next((r for r in baseline if r.size == size and r.exit_code == 0), None)
    if measured is not None:
        return measured.seconds, False
    return extrapolate(baseline, SIZES[size]), True


def extrapolate(runs: Sequence[Run], triples: int) -> float | None:
    """The fitted power law's time at ``triples``."""
    exponent = growth(runs)
    if exponent is None:
        return None
    ok = [r for r in runs if r.exit_code == 0]
    a = sum(math.log(r.seconds) - exponent * math.log(r.triples) for r in ok) / len(ok)
    return math.exp(a + exponent * math.log(triples))


def table(
    baseline: list[Run], builds: list[Run], validations: list[Run], rebuilds: list[Run]
) -> Iterator[str]:
    runs = [*baseline, *builds, *validations, *rebuilds]
    sizes = sorted({r.triples: r.size for r in runs}.items())
    by = {(r.command, r.size): r for r in runs}
    for triples, size in sizes:
        cells = [f"{triples:,}"]
        base = by.get(("pyshacl", size))
        base_seconds, _extrapolated = baseline_at(baseline, size)
        if base is not None:
            failed = f" (exit {base.exit_code})" if base.exit_code else ""
            cells.append(f"{base.seconds:.1f} s, {base.peak_mib:.0f} MiB{failed}")
        else:
            cells.append(f"~{base_seconds:.0f} s (extrapolated)" if base_seconds else "-")
        for command in ("validate", "build"):
            run = by.get((command, size))
            if run is None:
                cells.append("-")
                continue
            failed = f" (exit {run.exit_code})" if run.exit_code else ""
            cells.append(f"{run.seconds:.1f} s, {run.peak_mib:.0f} MiB{failed}")
        validate = by.get(("validate", size))
        ratio = base_seconds / validate.seconds if base_seconds and validate else None
        cells.append(f"{ratio:.0f}x" if ratio else "-")
        build = by.get(("build", size))
        cells.append(f"{build.peak_mib * 2**20 / triples:,.0f} B" if build else "-")
        again = by.get(("rebuild", size))
        cells.append(
            f"{again.seconds:.1f} s (validate {again.phases.get('validate', 0):.1f} s)"
            if again
            else "-"
        )
        cells.append(
            ", ".join(f"{k} {v:.1f}" for k, v in build.phases.items() if k != "total")
            if build
            else "-"
        )
        yield "| " + " | ".join(cells) + " |"


HEADER = (
    "| triples | pySHACL validate (baseline) | compiled validate | build, compiled "
    "(end to end) | validate: pySHACL / compiled | build peak memory a triple | "
    "build again, one graph changed | build phases (s) |"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100k,1m", help="build sizes [100k,1m]")
    parser.add_argument(
        "--baseline-sizes", default="10k,100k,300k", help="pySHACL sizes [10k,100k,300k]"
    )
    parser.add_argument("--seed", type=int, default=1951)
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench")
    args = parser.parse_args(argv)
    sizes = [s for s in args.sizes.split(",") if s]
    baseline_sizes = [s for s in args.baseline_sizes.split(",") if s]
    for size in [*sizes, *baseline_sizes]:
        if size not in SIZES:
            parser.error(f"unknown size {size!r}: use {', '.join(SIZES)}")
    args.out.mkdir(parents=True, exist_ok=True)

    baseline: list[Run] = []
    builds: list[Run] = []
    validations: list[Run] = []
    rebuilds: list[Run] = []
    for size in sorted(set(sizes) | set(baseline_sizes), key=SIZES.__getitem__):
        project, triples = scratch_project(args.out, size, args.seed)
        print(f"{size}: {triples} triples in {project}", file=sys.stderr, flush=True)
        if size in baseline_sizes:
            baseline.append(
                measure("pyshacl", ["validate", "--validator", "pyshacl"], project, size, triples)
            )
        validations.append(measure("validate", ["validate"], project, size, triples))
        if size in sizes:
            shutil.rmtree(project / "var", ignore_errors=True)
            builds.append(measure("build", ["build"], project, size, triples))
            rebuilds.append(rebuild_one_changed(project, size, triples))
        for run in (*baseline[-1:], *validations[-1:], *builds[-1:], *rebuilds[-1:]):
            if run.size == size:
                print(
                    f"  {run.command}: {run.seconds:.1f} s, {run.peak_mib:.0f} MiB, exit "
                    f"{run.exit_code}",
                    file=sys.stderr,
                    flush=True,
                )

    lines = [
        HEADER,
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | :--- |",
        *table(baseline, builds, validations, rebuilds),
    ]
    print("\n".join(lines))
    laws = {
        "pySHACL validate (command)": growth(baseline),
        "compiled validate (command)": growth(validations),
        "build (command)": growth(builds),
        "build's validate phase": growth(phase_runs(builds, "validate")),
        "build's dumps phase": growth(phase_runs(builds, "dumps")),
    }
    print()
    for name, exponent in laws.items():
        if exponent is not None:
            print(f"growth of {name}: time ~ triples^{exponent:.2f}")
    at_1m = next((r for r in validations if r.size == "1m" and r.exit_code == 0), None)
    base_1m, extrapolated = baseline_at(baseline, "1m")
    if at_1m and base_1m:
        ratio = base_1m / at_1m.seconds
        verdict = "holds" if ratio >= GOAL_AT_1M else "does NOT hold"
        how = (
            f"extrapolated from {len(baseline)} sizes: {base_1m:.0f} s"
            if extrapolated
            else f"measured: {base_1m:.0f} s"
        )
        print(
            f"goal at 1M: compiled validate {ratio:.0f}x faster than pySHACL ({how}); "
            f"goal {GOAL_AT_1M:.0f}x {verdict}"
        )
    build_law = laws["build (command)"]
    if build_law is not None:
        verdict = "holds" if build_law <= LINEAR else "does NOT hold"
        print(f"goal of linear growth (exponent <= {LINEAR}) for the build: {verdict}")
    results = {
        "baseline": [asdict(r) for r in baseline],
        "validate": [asdict(r) for r in validations],
        "build": [asdict(r) for r in builds],
        "rebuild": [asdict(r) for r in rebuilds],
        "growth": laws,
    }
    (args.out / "build-bench.json").write_text(json.dumps(results, indent=2) + "\n")
    failed = [r for r in [*baseline, *validations, *builds, *rebuilds] if r.exit_code != 0]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
