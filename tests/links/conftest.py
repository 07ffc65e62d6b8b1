"""Fixtures for the link sets: a Wikidata-shaped Oxigraph on 127.0.0.1, a test project, servers.

Nothing here touches the internet: the "Wikidata" the linker asks is ``oxigraph serve`` (the
PyPI package ``oxigraph``, in the test extras) loaded with ``fixtures/wikidata.ttl``.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import Result

from iomkg import pipeline
from iomkg.config import DEFAULT_BASE_IRI as BASE
from iomkg.config import Settings
from iomkg.store import OxigraphStore
from iomkg.store.releases import Releases
from tests.conftest import run
from tests.servers import free_port, stop_process, wait_until_answered

PROJECT_DIR = Path(__file__).resolve().parents[2]
SHARED_DIR = PROJECT_DIR.parent / "shared"
FIXTURES = Path(__file__).parent / "fixtures"
OXIGRAPH = Path(sys.executable).with_name("oxigraph")
#: The codelists the reference graphs point into; the others only matter to source documents.
CODELISTS = ("Country", "OrganisationRole", "OrganisationType")


@dataclass(frozen=True)
class Endpoint:
    """A SPARQL endpoint on the loopback: its query URL."""

    url: str


def start_oxigraph(fixture: Path, workdir: Path) -> tuple[subprocess.Popen[bytes], Endpoint]:
    """``oxigraph load`` the fixture, then ``oxigraph serve`` it on a free loopback port."""
    location = workdir / "oxigraph"
    subprocess.run(
        [str(OXIGRAPH), "load", "--location", str(location), "--file", str(fixture)],
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = workdir / "oxigraph.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(OXIGRAPH), "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    endpoint = Endpoint(f"http://127.0.0.1:{port}/query")
    wait_until_answered(endpoint.url + "?query=ASK%7B%7D", process, log)
    return process, endpoint


@pytest.fixture(scope="session")
def wikidata(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoint]:
    """The Wikidata-shaped fixture behind a real SPARQL server (Oxigraph) on 127.0.0.1."""
    process, endpoint = start_oxigraph(FIXTURES / "wikidata.ttl", tmp_path_factory.mktemp("wd"))
    yield endpoint
    stop_process(process)


def make_project(root: Path) -> Settings:
    """A project with the real ontology, shapes, checks, reference data and link sets, plus
    ``fixtures/local.ttl`` standing in for the source documents (which colleagues edit)."""
    for name in ("ontology", "shapes", "queries"):
        shutil.copytree(PROJECT_DIR / name, root / name)
    data = root / "data"
    for name in ("reference", "vocabulary", "links"):
        shutil.copytree(PROJECT_DIR / "data" / name, data / name)
    (data / "codelists").mkdir()
    for name in CODELISTS:
        shutil.copy(PROJECT_DIR / "data" / "codelists" / f"iati-{name}.ttl", data / "codelists")
    (data / "sources").mkdir()
    shutil.copy(FIXTURES / "local.ttl", data / "sources" / "fixture.ttl")
    for stale in (data / "links").glob("*/candidates.csv"):
        stale.unlink()
    return Settings(project_dir=root, store_dir=root / "var" / "store", shared_dir=SHARED_DIR)


@pytest.fixture
def project(tmp_path: Path) -> Settings:
    return make_project(tmp_path / "project")


def data_store(settings: Settings) -> OxigraphStore:
    """The project's data files in memory, as the linker reads them."""
    parsed = pipeline.parse_sources(pipeline.discover_sources(settings), settings.base_iri)
    store = OxigraphStore.in_memory()
    for quads in parsed.quads.values():
        store.raw.extend(quads)
    return store


def decide(review: Path, decisions: dict[tuple[str, str], str]) -> None:
    """Mark rows of a review file as a reviewer would: ``{(subject path, item id): decision}``."""
    with review.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
        columns = list(rows[0]) if rows else []
    for row in rows:
        key = (row["subject"].removeprefix(BASE), row["object"].rsplit("/", 1)[-1])
        if key in decisions:
            row["decision"] = decisions.pop(key)
    assert not decisions, f"no such rows in {review}: {decisions}"
    with review.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


ACCEPTED = {
    ("id/country/SG", "Q990001"): "accept",
    ("id/organisation/pfp", "Q990002"): "accept",
    ("id/organisation/bamf", "Q990003"): "accept",
    ("id/organisation/ch-sdc", "Q990005"): "accept",
    ("id/organisation/un-system", "Q1065"): "reject",
    ("id/country/CN", "Q148"): "accept",  # an IOM membership (from 2016) and the state it adds
}


@dataclass(frozen=True)
class LinkedProject:
    """A test project after the whole review cycle: search, decide, accept, build.

    ``outside`` holds the SHACL violations of data other than the link sets, if any (shapes and
    reference data are colleagues' and move on their own); the store is then loaded without the
    gate, so the link tests still run, and the build test says what blocks it.
    """

    settings: Settings
    review: Path
    search: Result
    accept: Result
    violations: tuple[pipeline.Violation, ...]
    outside: tuple[pipeline.Violation, ...]
    check_failures: tuple[pipeline.CheckFailure, ...]


LINK_NODES = tuple(
    BASE + path
    for path in ("id/linkset/", "id/dataset/iomkg", "id/dataset/wikidata", "id/dataset/geonames")
)


def concerns_links(violation: pipeline.Violation) -> bool:
    """A violation about a link, a link set, its records or the datasets it links."""
    return (
        violation.focus_node.startswith(LINK_NODES)
        or violation.path == "http://www.w3.org/2002/07/owl#sameAs"
        or any("/data/links/" in file for file in violation.files)
    )


def publish(settings: Settings, parsed: pipeline.ParsedSources) -> list[pipeline.CheckFailure]:
    """Load ``parsed`` as the current release and run the quality checks (no SHACL gate)."""
    releases = Releases(settings.store_root)
    with releases.staging() as staging:
        store = OxigraphStore.open(staging.store_path)
        for quads in parsed.quads.values():
            store.raw.extend(quads)
        store.flush()
        failures = pipeline.run_checks(store, settings)
        del store
        releases.publish(staging, parsed.digest)
    return failures


@pytest.fixture(scope="session")
def linked_project(wikidata: Endpoint, tmp_path_factory: pytest.TempPathFactory) -> LinkedProject:
    if not SHARED_DIR.is_dir():  # China's membership and state come from its country-coder data
        pytest.skip(f"{SHARED_DIR} (the shared reference material) is not there")
    settings = make_project(tmp_path_factory.mktemp("linked") / "project")
    review = settings.data_dir / "links" / "wikidata" / "candidates.csv"
    search = run(
        settings, "link", "--endpoint", wikidata.url, "--pause", "0",
        "--iati-property", "P99999999",
    )  # fmt: skip
    assert search.exit_code == 0, search.output + search.stderr
    decide(review, dict(ACCEPTED))
    accept = run(settings, "link", "--accept", str(review))
    assert accept.exit_code == 0, accept.output + accept.stderr
    parsed, violations = pipeline.validate(settings)  # with the build's derived VoID figures
    failures = publish(settings, parsed)
    outside = tuple(v for v in violations if not concerns_links(v))
    return LinkedProject(
        settings, review, search, accept, tuple(violations), outside, tuple(failures)
    )
