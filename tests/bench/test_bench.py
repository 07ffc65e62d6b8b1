"""The benchmark's generator is deterministic, and the benchmark runs end to end at a tiny size."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pyoxigraph as ox
import pytest

from iomkg.validator import compile_shapes, for_validation
from tests.shapes.harness import parse_turtle, shape_files

BENCH = Path(__file__).resolve().parents[2] / "server" / "bench"


def load_bench(name: str) -> ModuleType:
    """A script of ``server/bench`` imported as the scripts import each other: by its own name,
    with their folder on ``sys.path`` (``run`` imports ``generate`` and ``workload``)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    return importlib.import_module(name)


#: A parent that, like the evaluators' zygote, lets the kernel reap its children, and a child
#: that burns half a second of CPU and exits.
PARENT_OF_A_BUSY_CHILD = """
import os, signal, sys, time
signal.signal(signal.SIGCHLD, signal.SIG_IGN)
sys.stdin.readline()
child = os.fork()
if child == 0:
    end = time.process_time() + 0.5
    while time.process_time() < end:
        pass
    os._exit(0)
try:
    os.waitpid(child, 0)
except ChildProcessError:
    pass
print("done", flush=True)
time.sleep(60)
"""


def test_the_cpu_meter_counts_a_process_that_exits_meanwhile() -> None:
    run = load_bench("run")
    with subprocess.Popen(
        [sys.executable, "-c", PARENT_OF_A_BUSY_CHILD],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as parent:
        try:
            assert parent.stdin is not None and parent.stdout is not None
            before = sum(run.cpu_ticks(parent.pid).values())
            meter = run.CpuMeter(parent.pid)
            meter.start()
            parent.stdin.write("go\n")
            parent.stdin.flush()
            assert parent.stdout.readline() == "done\n"
            used = meter.stop()
            after = sum(run.cpu_ticks(parent.pid).values())
        finally:
            parent.kill()
    assert used >= 0.35, used  # at most 0.1 s (and a tick) of an exiting process is lost
    # What a sum before and after sees: the child's time went nowhere.
    assert (after - before) / os.sysconf("SC_CLK_TCK") < 0.2


def test_a_measurement_with_too_few_requests_is_made_again_over_a_longer_window() -> None:
    """Oxigraph completed no GROUP BY at 1M in 5 s with 8 in flight: a ratio of infinity."""
    run = load_bench("run")
    assert run.longer_window(500, 5.0) is None
    assert run.longer_window(0, 5.0) == 20.0
    assert run.longer_window(8, 20.0) == 80.0
    assert run.longer_window(1, 100.0) == run.MAX_SECONDS
    assert run.longer_window(0, run.MAX_SECONDS) is None  # as long as it gets
    assert run.longer_window(1, 2.0, enough=3) == 8.0  # one query alone that takes 1.7 s


def test_the_generator_gives_the_same_bytes_for_the_same_arguments(tmp_path: Path) -> None:
    generate = load_bench("generate")
    first, second, other = tmp_path / "a.nq", tmp_path / "b.nq", tmp_path / "c.nq"
    count = generate.write(first, 5000)
    assert generate.write(second, 5000) == count
    assert first.read_bytes() == second.read_bytes()
    generate.write(other, 5000, seed=7)
    assert other.read_bytes() != first.read_bytes()
    assert 0.8 * 5000 < count < 1.2 * 5000


def test_the_generated_graph_uses_the_projects_vocabulary(tmp_path: Path) -> None:
    generate = load_bench("generate")
    path = tmp_path / "kg.nq"
    generate.write(path, 3000)
    types = Counter(
        quad.object.value
        for quad in ox.parse(path=str(path), format=ox.RdfFormat.N_QUADS)
        if quad.predicate.value.endswith("#type")
    )
    iomo = generate.IOMO
    for expected in (
        iomo + "Project",
        iomo + "Activity",
        iomo + "Funding",
        iomo + "Figure",
        "https://schema.org/Country",
        "https://schema.org/MonetaryAmount",
        "http://www.w3.org/ns/org#Organization",
    ):
        assert types[expected] > 0, expected


def test_the_generated_graph_conforms_to_the_shapes() -> None:
    """Benchmarks measure a build that passes: the generated graph breaks no shape."""
    generate = load_bench("generate")
    shapes = parse_turtle(shape_files())
    store = ox.Store()
    store.bulk_extend(for_validation(generate.generate(8000)))
    results = compile_shapes(shapes).validate(store)
    assert not results, results[:5]


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("wrk") is None, reason="wrk is not installed (apt-get install wrk)"
)
def test_the_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(BENCH / "run.py"),
        "--sizes",
        "10k",
        "--duration",
        "1",
        "--warmup",
        "1",
        "--rounds",
        "1",
        "--requests",
        "20",
        "--queries",
        "lookup,group-sum",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = (tmp_path / "report.md").read_text()
    rows = [line for line in report.splitlines() if line.startswith(("| lookup", "| group-sum"))]
    assert len(rows) == 2, report
    assert all(row.rstrip().endswith("| yes |") for row in rows), report  # same answers
    assert "errors" not in "".join(rows), report
    assert "| iomkg serve |" in report and "| oxigraph serve |" in report


@pytest.mark.slow
def test_the_import_benchmark_runs_end_to_end(tmp_path: Path) -> None:
    """A tiny run of the IOM-scale import benchmark: renamed copies imported, the same triples
    loaded by Oxigraph, the table printed."""
    if shutil.which("oxigraph", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("the oxigraph command is not installed")
    bench = load_bench("iati_import")
    if not bench.SAMPLES.is_dir():
        pytest.skip(f"{bench.SAMPLES} missing (../shared)")
    copies = tmp_path / "copies"
    assert bench.write_copies(copies, 150) == 150
    assert len(list(copies.glob("*.xml"))) == 2  # a page of 100 and half of the next one
    script = BENCH / "iati_import.py"
    shown = subprocess.run(
        [sys.executable, str(script), "--activities", "120", "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
        timeout=900,
    ).stdout
    assert "| 120 |" in shown and "import / load" in shown
    assert "goal: peak memory under 2 GiB: holds" in shown
