"""Shared fixtures: settings for temporary stores, the built seed graph, an in-memory copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from iomkg import pipeline
from iomkg.cli import cli
from iomkg.config import DEFAULT_BASE_IRI, Settings
from iomkg.store import OxigraphStore

PROJECT_DIR = Path(__file__).resolve().parents[1]
SHARED_DIR = PROJECT_DIR.parent / "shared"
BASE = DEFAULT_BASE_IRI

#: For tests whose oracle is ../shared itself (CI has it beside the clone; a bare clone does not).
requires_shared = pytest.mark.skipif(
    not SHARED_DIR.is_dir(), reason=f"{SHARED_DIR} (the shared reference material) is not there"
)


@pytest.fixture
def tmp_settings(tmp_path: Path) -> Settings:
    """The real project's sources with a store in a fresh temporary folder."""
    return Settings(project_dir=PROJECT_DIR, store_dir=tmp_path / "store", shared_dir=SHARED_DIR)


@pytest.fixture(scope="session")
def built_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings of a store built once per session from the real sources (SHACL and checks too)."""
    settings = Settings(
        project_dir=PROJECT_DIR,
        store_dir=tmp_path_factory.mktemp("built") / "store",
        shared_dir=SHARED_DIR,
    )
    pipeline.build(settings)
    return settings


def copy_project(root: Path, *, iati: bool = True) -> Path:
    """ontology/, data/, shapes/, queries/ of the project under ``root``; ``iati=False`` leaves
    out the IATI sample pages of data/iati (the seed sources only: a build four times faster)."""
    for name in ("ontology", "data", "shapes", "queries"):
        if (PROJECT_DIR / name).exists():
            shutil.copytree(
                PROJECT_DIR / name,
                root / name,
                ignore=(
                    None
                    if iati
                    else lambda folder, _names: ["iati"] if Path(folder).name == "data" else []
                ),
            )
    return root


@pytest.fixture(scope="session")
def seed_built_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """A store built once per session from the seed sources only: the project without the IATI
    sample pages of data/iati, the graph whose answers the seed pages are the oracle of (as
    :func:`seed_store`, but built: SHACL, checks, a release to serve)."""
    root = tmp_path_factory.mktemp("seed-built")
    project = copy_project(root / "project", iati=False)
    shutil.copy(PROJECT_DIR / "pyproject.toml", project / "pyproject.toml")  # the licence, version
    settings = Settings(
        project_dir=project,
        store_dir=root / "store",
        shared_dir=SHARED_DIR,
    )
    pipeline.build(settings)
    return settings


@pytest.fixture(scope="session")
def seed_store() -> Iterator[OxigraphStore]:
    """An in-memory store holding every source file in its named graph (no SHACL gate: fast)."""
    store = pipeline.unvalidated_store(Settings(project_dir=PROJECT_DIR, shared_dir=SHARED_DIR))
    yield store


@pytest.fixture
def project_copy(tmp_path: Path) -> Settings:
    """A throw-away copy of the seed sources (ontology/, data/ without the IATI samples, shapes/,
    queries/) with its own store, to break; tests of IATI in a copy add data/iati themselves."""
    root = copy_project(tmp_path / "project", iati=False)
    return Settings(project_dir=root, store_dir=tmp_path / "store", shared_dir=SHARED_DIR)


def run(settings: Settings, *args: str) -> Result:
    """``iomkg --store … ARGS`` on the project of ``settings``, as a person would type it."""
    env = {
        "IOMKG_PROJECT_DIR": str(settings.project_dir),
        "IOMKG_SHARED_DIR": str(settings.shared_root),
    }
    return CliRunner().invoke(
        cli, ["--store", str(settings.store_root), *args], env=env, catch_exceptions=False
    )
