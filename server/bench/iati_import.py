"""Benchmark: ``iomkg import iati`` of an IOM-scale publication (about 5,300 activities) end to
end, against ``oxigraph load`` of the same triples, in one run.

    python server/bench/iati_import.py                    # 5,300 activities
    python server/bench/iati_import.py --activities 1000

IOM publishes on the order of 5,000 activities; the project holds two real pages of 100 (the
d-portal samples in ``../shared/iati/samples``). The benchmark writes renamed copies of them
(each copy's ``iati-identifier`` gets a suffix ``-c{n}``, nothing else changes) until it has the
number of activities asked for, builds a scratch copy of the project (its ontology, data, shapes
and checks), then times, each in a process of its own with its peak RSS (``wait4``):

- ``iomkg import iati FOLDER``: read, map, validate (every activity against the shapes, with
  the project's graphs) and load the activities, check, and write the dumps, as one new
  release;
- ``oxigraph load`` (the PyPI ``oxigraph`` command) of the IATI graphs that release holds,
  dumped to N-Quads first: the same triples, loaded with no mapping or validation at all.

Goal: the import at most 5x the load's time, peak memory under 2 GiB. Prints a Markdown table
and writes the figures as JSON under ``var/bench/``. The machine is shared: only figures of one
run compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyoxigraph as ox
from lxml import etree

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SAMPLES = PROJECT.parent / "shared" / "iati" / "samples"
GOAL_RATIO = 5.0
GOAL_PEAK_MIB = 2048.0


@dataclass
class Run:
    command: str
    seconds: float
    peak_mib: float
    exit_code: int
    triples: int = 0


def write_copies(folder: Path, activities: int) -> int:
    """Renamed copies of the sample pages in ``folder`` until there are ``activities``; how many
    activities were written."""
    folder.mkdir(parents=True, exist_ok=True)
    pages = sorted(SAMPLES.glob("*.xml"))
    if not pages:
        raise SystemExit(f"no IATI samples in {SAMPLES}")
    written, copy = 0, 0
    while written < activities:
        for page in pages:
            if written >= activities:
                break
            tree = etree.parse(str(page))
            root = tree.getroot()
            kept = 0
            for activity in list(root):
                if not isinstance(activity.tag, str) or etree.QName(activity).localname != (
                    "iati-activity"
                ):
                    continue
                if written + kept >= activities:
                    root.remove(activity)
                    continue
                identifier = activity.find("iati-identifier")
                if identifier is not None and identifier.text:
                    identifier.text = f"{identifier.text.strip()}-c{copy}"
                kept += 1
            tree.write(
                str(folder / f"{page.stem}-c{copy}.xml"), xml_declaration=True, encoding="UTF-8"
            )
            written += kept
        copy += 1
    return written


def measure(command: str, args: list[str], env: dict[str, str], log: Path) -> Run:
    started = time.perf_counter()
    with log.open("wb") as out:
        child = subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    return Run(command, seconds, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--activities", type=int, default=5_300)
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench")
    args = parser.parse_args(argv)
    work = args.out / f"iati-import-{args.activities}"
    shutil.rmtree(work, ignore_errors=True)
    project = work / "project"
    for name in ("ontology", "data", "shapes", "queries"):
        shutil.copytree(PROJECT / name, project / name)
    shutil.copy(PROJECT / "pyproject.toml", project / "pyproject.toml")
    files = work / "iati"
    count = write_copies(files, args.activities)
    print(f"{count} activities in {len(list(files.glob('*.xml')))} files", file=sys.stderr)
    env = {
        **os.environ,
        "IOMKG_PROJECT_DIR": str(project),
        "IOMKG_SHARED_DIR": str(PROJECT.parent / "shared"),
    }
    iomkg = [str(BIN / "iomkg"), "--store", str(work / "store")]
    build = measure("iomkg build", [*iomkg, "build"], env, work / "build.log")
    if build.exit_code:
        print((work / "build.log").read_text(errors="replace")[-2000:], file=sys.stderr)
        return 1
    imported = measure(
        "iomkg import iati", [*iomkg, "import", "iati", str(files)], env, work / "import.log"
    )
    if imported.exit_code:
        print((work / "import.log").read_text(errors="replace")[-2000:], file=sys.stderr)
        return 1
    current = work / "store" / "current" / "oxigraph"
    store = ox.Store.read_only(str(current))
    dump = work / "iati.nq"
    iati_graphs = [g for g in store.named_graphs() if "/graph/iati" in str(getattr(g, "value", g))]
    with dump.open("wb") as sink:
        for graph in iati_graphs:
            store.dump(sink, ox.RdfFormat.N_QUADS, from_graph=graph)
    imported.triples = sum(
        1 for graph in iati_graphs for _ in store.quads_for_pattern(None, None, None, graph)
    )
    del store
    loaded = measure(
        "oxigraph load",
        [str(BIN / "oxigraph"), "load", "--location", str(work / "oxigraph"), "--file", str(dump)],
        env,
        work / "oxigraph.log",
    )
    loaded.triples = imported.triples
    ratio = imported.seconds / loaded.seconds if loaded.seconds else float("inf")
    print(
        "| activities | IATI triples | iomkg import iati (end to end) | oxigraph load "
        "(baseline) | import / load | import peak memory |"
    )
    print("| ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| {count:,} | {imported.triples:,} | {imported.seconds:.1f} s, "
        f"{imported.peak_mib:.0f} MiB | {loaded.seconds:.1f} s, {loaded.peak_mib:.0f} MiB | "
        f"{ratio:.1f}x | {imported.peak_mib:.0f} MiB |"
    )
    print(f"\n(the project's own build before it: {build.seconds:.1f} s)")
    speed = "holds" if ratio <= GOAL_RATIO else "does NOT hold"
    memory = "holds" if imported.peak_mib < GOAL_PEAK_MIB else "does NOT hold"
    print(f"goal: import at most {GOAL_RATIO:.0f}x oxigraph load: {speed} ({ratio:.1f}x)")
    print(f"goal: peak memory under 2 GiB: {memory} ({imported.peak_mib:.0f} MiB)")
    results = {
        "activities": count,
        "build": asdict(build),
        "import": asdict(imported),
        "load": asdict(loaded),
        "ratio": ratio,
    }
    (args.out / "iati-import-bench.json").write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
