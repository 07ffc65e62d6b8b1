"""Readers of the engine see the old release or the new one, never half of each: a reader asks
for every graph's size again and again while releases of different sizes are published over
each other (staged, then swapped in by one update: :func:`iomkg.store.remote.publish`)."""

from __future__ import annotations

import itertools
import threading

import pyoxigraph as ox
import pytest

from iomkg.store import OxigraphStore
from iomkg.store.remote import Engine, RemoteStore, publish
from tests.engines import RunningEngine

pytestmark = pytest.mark.slow

#: Graphs of their own, apart from the session's build (publish touches only those under it).
PREFIX = "https://example.org/publish-test/graph/"
GRAPHS = 10
SIZES = {"old": 1000, "new": 1500}  # triples per graph in each release
SIZES_OF_GRAPHS = f"""
SELECT ?g (COUNT(*) AS ?n) WHERE {{
  GRAPH ?g {{ ?s ?p ?o }} FILTER(STRSTARTS(STR(?g), "{PREFIX}"))
}} GROUP BY ?g"""


def release(size: int) -> OxigraphStore:
    store = OxigraphStore.in_memory()
    value = ox.NamedNode("https://example.org/value")
    store.raw.extend(
        ox.Quad(ox.NamedNode(f"https://example.org/s/{n}"), value, ox.Literal(n), graph)
        for graph in (ox.NamedNode(f"{PREFIX}{g}") for g in range(GRAPHS))
        for n in range(size)
    )
    return store


def test_readers_never_see_half_a_release(engine: RunningEngine) -> None:
    if engine.kind == "virtuoso":
        # Seen once (busy machine): a reader got graphs of both releases; Virtuoso reads at
        # read-committed isolation, so the one-update publish is not atomic for its readers.
        pytest.xfail("Virtuoso's readers may see half a release (see the README)")
    writer = RemoteStore(Engine.at(engine.url, engine.kind), PREFIX)  # type: ignore[arg-type]
    reader = RemoteStore(Engine.at(engine.url, engine.kind), PREFIX)  # type: ignore[arg-type]
    releases = {name: release(size) for name, size in SIZES.items()}
    whole = {
        tuple(sorted((f"{PREFIX}{g}", size) for g in range(GRAPHS))): name
        for name, size in SIZES.items()
    }
    publish(releases["old"], writer)
    seen: list[tuple[tuple[str, int], ...]] = []
    publishing = threading.Event()
    publishing.set()

    def read() -> None:
        while publishing.is_set():
            answer = reader.query(SIZES_OF_GRAPHS)
            assert isinstance(answer, ox.QuerySolutions)
            seen.append(tuple(sorted((r["g"].value, int(r["n"].value)) for r in answer)))

    thread = threading.Thread(target=read)
    thread.start()
    try:
        for name in ("new", "old", "new", "old", "new"):
            publish(releases[name], writer)
    finally:
        publishing.clear()
        thread.join()
        publish(OxigraphStore.in_memory(), writer)  # the test's graphs dropped
    kinds = [whole.get(answer, "half") for answer in seen]
    assert "half" not in kinds, [answer for answer in seen if answer not in whole][:1]
    # The reads overlapped the swaps: each release was seen, and seen to change many times.
    changes = sum(1 for a, b in itertools.pairwise(kinds) if a != b)
    assert set(kinds) == {"old", "new"} and changes >= 4, (len(kinds), changes)
    assert writer.named_graphs() == []
