"""pyoxigraph in memory against pyoxigraph on disk (RocksDB), in one process, no HTTP.

    python server/bench/store_speed.py [--size 100k] [--requests 200]

Uses the dataset and the on-disk store that run.py prepared under var/bench/SIZE/ (run it
first). For each query of workload.py: the mean time to evaluate it and read every result
(SELECT rows, CONSTRUCT triples), on a store loaded into memory and on the RocksDB store.
This is why ``iomkg serve`` copies the store into memory before forking its evaluators.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import generate
import pyoxigraph as ox
import workload
from run import PROJECT, SIZES


def timed(store: ox.Store, texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        result = store.query(text, use_default_graph_as_union=True)
        if not isinstance(result, ox.QueryBoolean):
            for _ in result:
                pass
    return (time.perf_counter() - started) / len(texts) * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="100k", choices=list(SIZES))
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--out", type=Path, default=PROJECT / "var" / "bench")
    args = parser.parse_args(argv)
    folder = args.out / args.size
    stores = sorted((folder / "iomkg" / "releases").glob("*/oxigraph"))
    if not stores:
        parser.error(f"no store under {folder}: run server/bench/run.py --sizes {args.size} first")
    started = time.perf_counter()
    memory = ox.Store()
    memory.bulk_load(path=str(folder / "kg.nq"), format=ox.RdfFormat.N_QUADS)
    print(
        f"loaded {len(memory):,} quads into memory in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    disk = ox.Store.read_only(str(stores[-1]))
    scale = generate.Scale.for_triples(SIZES[args.size])
    print(f"### pyoxigraph in memory vs on disk, {args.size}, mean of {args.requests} queries\n")
    print("| query | in memory ms | RocksDB ms | RocksDB / memory |")
    print("| --- | ---: | ---: | ---: |")
    for query in workload.QUERIES:
        texts = workload.requests_for(query, scale, args.requests, 1951)
        timed(memory, texts[:10])
        timed(disk, texts[:10])
        in_memory, on_disk = timed(memory, texts), timed(disk, texts)
        print(f"| {query.name} | {in_memory:.3f} | {on_disk:.3f} | {on_disk / in_memory:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
