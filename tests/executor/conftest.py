"""Fixtures for the isolation tests: small on-disk pyoxigraph stores and executors over them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg.config import Settings
from iomkg.serving.executor import IsolatedExecutor

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"


def sample_quads(subjects: int = 400) -> list[ox.Quad]:
    """A few thousand quads in three graphs, with every kind of term the writers must handle."""
    quads: list[ox.Quad] = []
    label = ox.NamedNode(EX + "label")
    for index in range(subjects):
        subject = ox.NamedNode(f"{EX}item/{index}")
        graph = ox.NamedNode(f"{EX}graph/{index % 3}")
        values: list[ox.NamedNode | ox.BlankNode | ox.Literal] = [
            ox.Literal(f"item {index}", language="en"),
            ox.Literal(f'élément «{index}», "quoted"\ttab\nline', language="fr-CA"),
            ox.Literal(str(index), datatype=ox.NamedNode(XSD + "integer")),
            ox.Literal(f"{index}.5", datatype=ox.NamedNode(XSD + "decimal")),
            ox.Literal(f"{index}.0E0", datatype=ox.NamedNode(XSD + "double")),
            ox.Literal("true" if index % 2 else "false", datatype=ox.NamedNode(XSD + "boolean")),
            ox.Literal(f"2020-01-{index % 28 + 1:02d}", datatype=ox.NamedNode(XSD + "date")),
            ox.Literal(f"plain, with comma {index}"),
            ox.Literal(f"custom {index}", datatype=ox.NamedNode(EX + "datatype")),
            ox.NamedNode(f"{EX}item/{(index * 7) % subjects}"),
            ox.BlankNode(f"b{index}"),
        ]
        quads.append(ox.Quad(subject, label, values[0], graph))
        for position, value in enumerate(values[1:]):
            quads.append(ox.Quad(subject, ox.NamedNode(f"{EX}p{position}"), value, graph))
    return quads


def make_store(path: Path, subjects: int = 400) -> Path:
    store = ox.Store(str(path))
    store.bulk_extend(sample_quads(subjects))
    store.flush()
    del store
    return path


def wait_for_source(executor: IsolatedExecutor, wanted: str, seconds: float = 30) -> str:
    """Where the evaluator reads once it is ``wanted`` (or after ``seconds``): a new version is
    served from disk until the master's copy in memory is whole."""
    deadline = time.monotonic() + seconds
    while (source := executor.evaluator_source()) != wanted and time.monotonic() < deadline:
        time.sleep(0.05)
    return source


def settings_for(tmp: Path, **overrides: object) -> Settings:
    """Settings for an executor of a test's own: from disk unless ``memory_quads`` is given
    (a copy in memory would replace its first evaluator, and its pid, while the test runs)."""
    overrides.setdefault("memory_quads", 0)
    return Settings(store_dir=tmp / "unused", **overrides)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A read-only-in-practice store shared by a module's tests (they must not update it)."""
    return make_store(tmp_path_factory.mktemp("executor") / "store")


@pytest.fixture
def fresh_store(tmp_path: Path) -> Path:
    """A store of its own, for tests that update."""
    return make_store(tmp_path / "store")


@pytest.fixture(scope="module")
def executor(
    store_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IsolatedExecutor]:
    settings = settings_for(
        tmp_path_factory.mktemp("settings"), query_timeout=2.0, max_rows=1000, memory_quads=100_000
    )
    with IsolatedExecutor(settings, store_path, workers=2) as isolated:
        isolated.call(
            "pid", timeout=30
        )  # started (slow on a busy machine): the tests' limit is 2 s
        wait_for_source(isolated, "memory")  # answers in one order from here on
        yield isolated
