"""Benchmark: this project's server against Oxigraph's own, on the same data under the same load.

    python server/bench/run.py                      # 100k triples, 10 s per query and server
    python server/bench/run.py --sizes 100k,1m --duration 20

For each size it generates the synthetic graph (generate.py, deterministic), loads it with
``iomkg load`` and ``oxigraph load``, starts ``iomkg serve`` and ``oxigraph serve`` on loopback,
one at a time, and drives each query of workload.py at them with wrk (one thread, a fixed number
of connections, a fixed duration; every request with its own IRI or filter values). Before the
load, the first requests of every query are sent to both servers and their answers compared.
It prints Markdown tables (throughput, p50/p99 latency, the ratio ours/Oxigraph, peak memory)
and writes the figures as JSON under var/bench/. Loopback only; it stops by itself.

Oxigraph's server has no worker setting (it serves each connection on a thread of its own):
both servers get the same connections, on the same cores; ours runs ``--workers`` processes.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path

import generate
import workload

PROJECT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SIZES = {"10k": 10_000, "100k": 100_000, "1m": 1_000_000, "10m": 10_000_000}
LUA = Path(__file__).with_name("requests.lua")


# Processes and memory ---------------------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """``pid`` and every process under it."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    found, pending = [pid], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def memory_kib(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in KiB; PSS shares copy-on-write pages out fairly."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


@dataclass
class MemoryPeak:
    pss_kib: int = 0
    rss_kib: int = 0
    processes: int = 0


class MemorySampler(threading.Thread):
    """Samples a process tree's memory every 0.2 s and keeps the peak."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = MemoryPeak()
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.2):
            pids = descendants(self.pid)
            figures = [memory_kib(pid) for pid in pids]
            pss, rss = sum(f[0] for f in figures), sum(f[1] for f in figures)
            if pss > self.peak.pss_kib:
                self.peak = MemoryPeak(pss, max(rss, self.peak.rss_kib), len(pids))
            self.peak.rss_kib = max(rss, self.peak.rss_kib)

    def stop(self) -> MemoryPeak:
        self._stop_event.set()
        self.join()
        return self.peak


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    endpoint: str  # path of the SPARQL endpoint
    ready: str  # path that answers 200 once the server is up
    log: Path
    process: subprocess.Popen[bytes] | None = None
    sampler: MemorySampler | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 600) -> float:
        started = time.monotonic()
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.sampler = MemorySampler(self.process.pid)
        self.sampler.start()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited while starting; see {self.log}")
            try:
                with urllib.request.urlopen(self.base + self.ready, timeout=5) as answer:
                    if answer.status == 200:
                        return time.monotonic() - started
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start within {timeout} s; see {self.log}")

    def stop(self) -> MemoryPeak:
        peak = self.sampler.stop() if self.sampler else MemoryPeak()
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return peak


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


# Data -------------------------------------------------------------------------------------


def run(command: list[str], **kwargs: object) -> None:
    print("$ " + " ".join(command), file=sys.stderr)
    subprocess.run(command, check=True, **kwargs)  # type: ignore[call-overload]


def prepare(size: str, triples: int, seed: int, root: Path) -> tuple[Path, Path, int]:
    """The dataset file and both stores for one size, made once and reused while unchanged."""
    folder = root / size
    stamp = folder / "stamp.json"
    wanted = {"triples": triples, "seed": seed, "generator": generate.TRIPLES_PER_PROJECT}
    data = folder / "kg.nq"
    ours, theirs = folder / "iomkg", folder / "oxigraph"
    if stamp.exists() and json.loads(stamp.read_text()).get("wanted") == wanted:
        return ours, theirs, int(json.loads(stamp.read_text())["quads"])
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    started = time.monotonic()
    quads = generate.write(data, triples, seed)
    print(f"generated {quads} quads in {time.monotonic() - started:.1f} s", file=sys.stderr)
    run([str(BIN / "iomkg"), "--store", str(ours), "load", str(data)])
    run([str(BIN / "oxigraph"), "load", "--location", str(theirs), "--file", str(data)])
    run([str(BIN / "oxigraph"), "optimize", "--location", str(theirs)])  # as Oxigraph advises
    stamp.write_text(json.dumps({"wanted": wanted, "quads": quads}))
    return ours, theirs, quads


# Load -------------------------------------------------------------------------------------


@dataclass
class Measure:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float  # CPU time of the server's processes per request


def wrk(server: Server, paths: Path, accept: str, connections: int, seconds: float) -> Measure:
    env = {**os.environ, "BENCH_PATHS": str(paths), "BENCH_ACCEPT": accept}
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(LUA),
        server.base,
    ]
    assert server.process is not None
    meter = CpuMeter(server.process.pid)
    meter.start()
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    cpu = meter.stop()
    figures = json.loads(output.strip().splitlines()[-1])
    errors = sum(
        figures[key]
        for key in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")
    )
    return Measure(
        requests=figures["requests"],
        rps=figures["requests"] / (figures["duration_us"] / 1e6),
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=errors,
        cpu_ms=cpu * 1000 / max(1, figures["requests"]),
    )


#: Requests a measurement must complete to count; one that completes fewer (a query that takes
#: seconds, with several in flight) is measured again over a longer window.
MIN_REQUESTS = 16
MAX_SECONDS = 120.0


def longer_window(requests: int, seconds: float, enough: int = MIN_REQUESTS) -> float | None:
    """The window to measure again over when ``requests`` in ``seconds`` are fewer than
    ``enough`` (None when they are enough, or the window is as long as it gets).

    >>> longer_window(500, 5.0) is None
    True
    >>> longer_window(0, 5.0), longer_window(4, 5.0), longer_window(3, 100.0)
    (20.0, 20.0, 120.0)
    """
    if requests >= enough or seconds >= MAX_SECONDS:
        return None
    factor = max(4.0, enough / requests) if requests else 4.0
    return min(MAX_SECONDS, seconds * factor)


def measure(
    server: Server,
    paths: Path,
    accept: str,
    connections: int,
    seconds: float,
    enough: int = MIN_REQUESTS,
) -> Measure:
    """:func:`wrk`, over a longer window if the first completed fewer than ``enough``."""
    measured = wrk(server, paths, accept, connections, seconds)
    while (window := longer_window(measured.requests, seconds, enough)) is not None:
        seconds = window
        measured = wrk(server, paths, accept, connections, seconds)
    return measured


def answer_size(server: Server, path: str, accept: str) -> int:
    """Rows (SELECT) or triples (CONSTRUCT) of one answer: both servers must agree."""
    request = urllib.request.Request(server.base + path, headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=120) as answer:
        body = answer.read()
    if accept == workload.JSON:
        return len(json.loads(body)["results"]["bindings"])
    return len([line for line in body.splitlines() if line.strip()])


@dataclass
class Row:
    query: str
    title: str
    ours: Measure
    oxigraph: Measure
    oxigraph_alone_ms: float  # p50 with one connection: what one query costs Oxigraph
    same_answers: bool

    @property
    def ratio(self) -> float:
        return self.ours.rps / self.oxigraph.rps if self.oxigraph.rps else float("inf")

    @property
    def goal(self) -> float:
        return 1.0 if self.oxigraph_alone_ms > 5 else 0.3


@dataclass
class SizeResult:
    size: str
    quads: int
    connections: int
    duration: float
    workers: int
    evaluators: int  # per worker
    cores: int
    rounds: int
    rows: list[Row] = field(default_factory=list)
    memory: dict[str, MemoryPeak] = field(default_factory=dict)
    startup_s: dict[str, float] = field(default_factory=dict)


def cpu_ticks(pid: int) -> dict[int, int]:
    """User and system CPU time used so far by ``pid`` and each process under it, in ticks."""
    ticks: dict[int, int] = {}
    for process in descendants(pid):
        try:
            fields = Path(f"/proc/{process}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        ticks[process] = int(fields[11]) + int(fields[12])
    return ticks


class CpuMeter(threading.Thread):
    """CPU time a process tree uses while the meter runs, processes that exit meanwhile included.

    Two sums over the tree, before and after, would miss a process that exits in between, and
    could even go negative: when wrk stops it leaves requests in flight, the server stops
    their queries by killing their evaluator, which leaves the tree with the CPU time it used.
    So each process's figure is read every 0.1 s and its last one kept: at most 0.1 s of each
    exiting process is lost.
    """

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self._first = cpu_ticks(pid)
        self._last = dict(self._first)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(0.1):
            self._last.update(cpu_ticks(self.pid))

    def stop(self) -> float:
        """Seconds of CPU used since the meter was made."""
        self._stop_event.set()
        self.join()
        self._last.update(cpu_ticks(self.pid))
        used = sum(ticks - self._first.get(pid, 0) for pid, ticks in self._last.items())
        return used / os.sysconf("SC_CLK_TCK")


def median_measure(measures: list[Measure]) -> Measure:
    def middle(values: list[float]) -> float:
        return statistics.median(values)

    return Measure(
        requests=int(middle([m.requests for m in measures])),
        rps=middle([m.rps for m in measures]),
        p50_ms=middle([m.p50_ms for m in measures]),
        p99_ms=middle([m.p99_ms for m in measures]),
        errors=sum(m.errors for m in measures),
        cpu_ms=middle([m.cpu_ms for m in measures]),
    )


def make_servers(
    args: argparse.Namespace, folder: Path, ours: Path, theirs: Path
) -> dict[str, Server]:
    iomkg_serve = [
        str(BIN / "iomkg"),
        "--store",
        str(ours),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "{port}",
        "--workers",
        str(args.workers),
        "--query-timeout",
        "60",
    ]
    oxigraph_serve = [
        str(BIN / "oxigraph"),
        "serve",
        "--location",
        str(theirs),
        "--bind",
        "127.0.0.1:{port}",
        "--union-default-graph",
    ]
    servers = {
        "ours": Server("iomkg", iomkg_serve, 0, "/sparql", "/healthz", folder / "iomkg-serve.log"),
        "oxigraph": Server(
            "oxigraph", oxigraph_serve, 0, "/query", "/", folder / "oxigraph-serve.log"
        ),
    }
    for server in servers.values():
        server.port = free_port()
        server.command = [part.replace("{port}", str(server.port)) for part in server.command]
    return servers


def store_read(quads: int) -> str:
    """How ``iomkg serve`` (with the settings of this environment) reads a store this size."""
    from iomkg.config import Settings

    limit = Settings.from_env().memory_quads
    if quads <= limit:
        return f"a copy of the store in memory (at most --memory-quads {limit:,} quads)"
    return f"the store on disk (RocksDB, opened read-only; over --memory-quads {limit:,})"


def bench_size(args: argparse.Namespace, size: str) -> SizeResult:
    from iomkg.serving.server import QUERIES_PER_WORKER

    ours_store, theirs_store, quads = prepare(size, SIZES[size], args.seed, args.out)
    scale = generate.Scale.for_triples(SIZES[size])
    folder = args.out / size
    servers = make_servers(args, folder, ours_store, theirs_store)
    result = SizeResult(
        size,
        quads,
        args.connections,
        args.duration,
        args.workers,
        QUERIES_PER_WORKER,
        os.cpu_count() or 0,
        args.rounds,
    )
    queries = [query for query in workload.QUERIES if query.name in args.queries]
    paths: dict[tuple[str, str], Path] = {}
    for query in queries:
        texts = workload.requests_for(query, scale, args.requests, args.seed)
        for key, server in servers.items():
            paths[key, query.name] = folder / f"paths-{key}-{query.name}.txt"
            paths[key, query.name].write_text(
                "".join(workload.request_path(server.endpoint, text) + "\n" for text in texts)
            )
    try:
        for key, server in servers.items():  # both up at once: the idle one costs nothing
            print(f"starting {server.name} …", file=sys.stderr)
            result.startup_s[key] = server.start()
        for query in queries:
            sizes = {}
            for key, server in servers.items():
                with paths[key, query.name].open() as lines:
                    first = [next(lines).strip() for _ in range(5)]
                sizes[key] = [answer_size(server, path, query.accept) for path in first]
            measured: dict[str, list[Measure]] = {key: [] for key in servers}
            for round_number in range(args.rounds):
                order = list(servers) if round_number % 2 == 0 else list(reversed(servers))
                for key in order:  # alternate, so that drifting background load hits both
                    server = servers[key]
                    wrk(server, paths[key, query.name], query.accept, args.connections, args.warmup)
                    measured[key].append(
                        measure(
                            server,
                            paths[key, query.name],
                            query.accept,
                            args.connections,
                            args.duration,
                        )
                    )
                    m = measured[key][-1]
                    print(
                        f"  {server.name:8} {query.name:15} {m.rps:9.1f} req/s  "
                        f"p50 {m.p50_ms:7.2f} ms  p99 {m.p99_ms:7.2f} ms  "
                        f"cpu {m.cpu_ms:6.2f} ms/req  errors {m.errors}",
                        file=sys.stderr,
                    )
            alone = measure(
                servers["oxigraph"],
                paths["oxigraph", query.name],
                query.accept,
                1,
                max(2.0, args.duration / 3),
                enough=3,  # a p50 of what one query costs, not a throughput
            )
            result.rows.append(
                Row(
                    query.name,
                    query.title,
                    median_measure(measured["ours"]),
                    median_measure(measured["oxigraph"]),
                    alone.p50_ms,
                    sizes["ours"] == sizes["oxigraph"],
                )
            )
    finally:
        for key, server in servers.items():
            result.memory[key] = server.stop()
    return result


# Report -----------------------------------------------------------------------------------


def markdown(result: SizeResult) -> str:
    load = (
        f"wrk -t1 -c{result.connections} -d{result.duration:g}s (longer, up to "
        f"{MAX_SECONDS:g} s, where fewer than {MIN_REQUESTS} requests complete in it), "
        f"{result.rounds} rounds alternating between the servers (medians), each after a warm-up"
    )
    lines = [
        f"### {result.size}: {result.quads:,} triples",
        "",
        f"{load}; {result.cores} cores shared by wrk and the server. iomkg: `iomkg serve`, "
        f"{result.workers} gunicorn workers (uvicorn's, on uvloop), each with up to "
        f"{result.evaluators} queries at once in the one evaluator process, which reads "
        f"{store_read(result.quads)}. "
        "Oxigraph: `oxigraph serve` (RocksDB, a thread per connection, union default graph). "
        "CPU ms/req: CPU time of all the server's processes per request (those that exit "
        "meanwhile included).",
        "",
        "| query | iomkg req/s | Oxigraph req/s | iomkg/Oxigraph | goal | iomkg p50 / p99 ms "
        "| Oxigraph p50 / p99 ms | iomkg / Oxigraph CPU ms/req | Oxigraph alone p50 ms "
        "| same answers |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | :---: |",
    ]
    for row in result.rows:
        met = "✓" if row.ratio >= row.goal else "✗"
        errors = ""
        if row.ours.errors or row.oxigraph.errors:
            errors = f" (errors: {row.ours.errors} / {row.oxigraph.errors})"
        lines.append(
            f"| {row.query}{errors} | {row.ours.rps:,.0f} | {row.oxigraph.rps:,.0f} "
            f"| **{row.ratio:.2f}×** | {row.goal:.1f}× {met} "
            f"| {row.ours.p50_ms:.2f} / {row.ours.p99_ms:.2f} "
            f"| {row.oxigraph.p50_ms:.2f} / {row.oxigraph.p99_ms:.2f} "
            f"| {row.ours.cpu_ms:.2f} / {row.oxigraph.cpu_ms:.2f} | {row.oxigraph_alone_ms:.2f} "
            f"| {'yes' if row.same_answers else 'NO'} |"
        )
    lines += [
        "",
        "| server | peak memory (PSS, MiB) | peak RSS summed over processes (MiB) | processes "
        "| start-up s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, label in (("ours", "iomkg serve"), ("oxigraph", "oxigraph serve")):
        peak = result.memory.get(key, MemoryPeak())
        lines.append(
            f"| {label} | {peak.pss_kib / 1024:,.0f} | {peak.rss_kib / 1024:,.0f} "
            f"| {peak.processes} | {result.startup_s.get(key, 0):.1f} |"
        )
    lines += [
        "",
        "Goal: ≥ 1.0× where one query alone costs Oxigraph more than 5 ms, ≥ 0.3× otherwise.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="100k", help="comma-separated: 10k, 100k, 1m, 10m [100k]"
    )
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds of each measurement [5]"
    )
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of warm-up per query [2]"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="measurements per query and server, alternating; medians are shown [3]",
    )
    parser.add_argument("--connections", type=int, default=8, help="open connections [8]")
    parser.add_argument("--workers", type=int, default=2, help="iomkg serve --workers [2]")
    parser.add_argument(
        "--requests", type=int, default=2000, help="distinct requests per query [2000]"
    )
    parser.add_argument(
        "--queries",
        default=",".join(q.name for q in workload.QUERIES),
        help="comma-separated query names [all]",
    )
    parser.add_argument("--seed", type=int, default=1951)
    parser.add_argument(
        "--out", type=Path, default=PROJECT / "var" / "bench", help="work folder [var/bench]"
    )
    args = parser.parse_args(argv)
    args.queries = set(args.queries.split(","))
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            parser.error(f"{tool} is not installed (Debian: apt-get install wrk)")
    if not (BIN / "oxigraph").exists():
        parser.error("the oxigraph command is missing: pip install -e '.[test]'")
    report = []
    for size in args.sizes.split(","):
        if size not in SIZES:
            parser.error(f"unknown size {size!r}; use one of {', '.join(SIZES)}")
        result = bench_size(args, size)
        report.append(markdown(result))
        (args.out / f"results-{size}.json").write_text(json.dumps(asdict(result), indent=2) + "\n")
        print(report[-1] + "\n", flush=True)
    (args.out / "report.md").write_text("\n\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
