"""The benchmark's generator is deterministic, and the benchmark runs end to end at a tiny size."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path
from types import ModuleType

import pyoxigraph as ox
import pytest

BENCH = Path(__file__).resolve().parents[2] / "server" / "bench"


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate", BENCH / "generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("bench_generate", module)  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_the_generator_gives_the_same_bytes_for_the_same_arguments(tmp_path: Path) -> None:
    generate = load_generator()
    first, second, other = tmp_path / "a.nq", tmp_path / "b.nq", tmp_path / "c.nq"
    count = generate.write(first, 5000)
    assert generate.write(second, 5000) == count
    assert first.read_bytes() == second.read_bytes()
    generate.write(other, 5000, seed=7)
    assert other.read_bytes() != first.read_bytes()
    assert 0.8 * 5000 < count < 1.2 * 5000


def test_the_generated_graph_uses_the_projects_vocabulary(tmp_path: Path) -> None:
    generate = load_generator()
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
