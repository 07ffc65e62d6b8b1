"""An import's life: fetched over real HTTP on 127.0.0.1 (gzip too) by a machine without
../shared, listed with its counts, removed, imported again to the same graph; a failed fetch
leaves the store as it was."""

from __future__ import annotations

import gzip
import re
import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyoxigraph as ox
import pytest

from iomkg.config import Settings
from tests.iati.conftest import EXAMPLE, IOM_ACTIVITY, Imported, run
from tests.iati.test_import import store_of
from tests.pipeline.test_build import tree_digest

pytestmark = pytest.mark.slow

BASE = "https://w3id.org/iomkg/"
IOMO = BASE + "ontology#"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def web_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on 127.0.0.1 serving a folder: (its URL, the folder)."""
    folder = tmp_path_factory.mktemp("www")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", folder
    server.shutdown()
    server.server_close()


def copy_of(imported: Imported, tmp_path: Path, **overrides: object) -> Settings:
    store = tmp_path / "store"
    shutil.copytree(imported.settings.store_root, store, symlinks=True)
    return imported.settings.with_overrides(store_dir=store, **overrides)


def graph_quads(settings: Settings, name: str) -> set[ox.Quad]:
    graph = ox.NamedNode(f"{BASE}graph/iati/{name}")
    return set(store_of(settings).quads_for_pattern(None, None, None, graph))


def test_a_gzipped_url_imports_without_shared(
    imported: Imported, tmp_path: Path, web_folder: tuple[str, Path]
) -> None:
    """The schema and codelists travel with the package: no ../shared is needed to import."""
    url, folder = web_folder
    (folder / "iom-dp2154.xml.gz").write_bytes(gzip.compress(IOM_ACTIVITY.read_bytes()))
    settings = copy_of(imported, tmp_path, shared_dir=tmp_path / "no-shared-here")
    assert not settings.shared_root.exists()
    result = run(settings, "import", "iati", f"{url}/iom-dp2154.xml.gz")
    assert result.exit_code == 0, result.output
    assert re.search(
        rf"imported iom-dp2154 \({re.escape(url)}/iom-dp2154\.xml\.gz\): 1 of 1 activities into "
        r"graph/iati/iom-dp2154, 0 left out",
        result.output,
    ), result.output
    # The same activity was imported before from ../shared: the later import wins, and says so.
    assert "XM-DAC-47066-DP.2154: also in" in result.output
    quads = graph_quads(settings, "iom-dp2154")
    document = ox.NamedNode(f"{BASE}id/source/iom-dp2154")
    source = ox.NamedNode("http://purl.org/dc/terms/source")
    assert (
        ox.Quad(
            document, source, ox.NamedNode(f"{url}/iom-dp2154.xml.gz"), next(iter(quads)).graph_name
        )
        in quads
    )
    activity = ox.NamedNode(f"{BASE}id/activity/XM-DAC-47066-DP.2154")
    assert any(q.subject == activity for q in quads)
    assert not any(q.subject == activity for q in graph_quads(settings, IOM_ACTIVITY.stem))
    listed = run(settings, "import", "iati", "--list")
    assert re.search(
        rf"^iom-dp2154: 1 of 1 activities, 0 left out, 0 replaced, {len(quads)} triples, "
        rf"\d+ warning\(s\); imported \S+ from {re.escape(url)}/iom-dp2154\.xml\.gz; sha256 "
        r"[0-9a-f]{64}$",
        listed.output,
        flags=re.MULTILINE,
    ), listed.output


def test_a_missing_url_imports_nothing(
    imported: Imported, tmp_path: Path, web_folder: tuple[str, Path]
) -> None:
    url, _folder = web_folder
    settings = copy_of(imported, tmp_path)
    before = tree_digest(settings.store_root)
    result = run(settings, "import", "iati", f"{url}/no-such-file.xml")
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.output.splitlines() if line.strip()]
    assert line.startswith(f"iomkg: {url}/no-such-file.xml: the server answered 404 ")
    assert line.endswith("(check the URL; the previous build is unchanged)")
    assert tree_digest(settings.store_root) == before


def test_list_remove_and_import_again(imported: Imported, tmp_path: Path) -> None:
    settings = copy_of(imported, tmp_path)
    listed = run(settings, "import", "iati", "--list").output.splitlines()
    assert [line.split(":", 1)[0] for line in listed] == sorted(
        [
            "dportal-covid19-page-109",
            "dportal-covid19-page-110",
            EXAMPLE.stem,
            IOM_ACTIVITY.stem,
        ]
    )
    page_109 = next(line for line in listed if line.startswith("dportal-covid19-page-109:"))
    triples = len(graph_quads(settings, "dportal-covid19-page-109"))
    assert page_109.startswith(
        f"dportal-covid19-page-109: 99 of 100 activities, 1 left out, 0 replaced, "
        f"{triples} triples, "
    )
    example = graph_quads(settings, EXAMPLE.stem)
    others = {name: graph_quads(settings, name) for name in ("dportal-covid19-page-110",)}

    removed = run(settings, "import", "iati", "--remove", EXAMPLE.stem)
    assert removed.exit_code == 0, removed.output
    assert removed.output.startswith(f"removed {EXAMPLE.stem}; build ")
    assert graph_quads(settings, EXAMPLE.stem) == set()
    assert EXAMPLE.stem not in run(settings, "import", "iati", "--list").output
    assert {name: graph_quads(settings, name) for name in others} == others

    unknown = run(settings, "import", "iati", "--remove", "no-such-import")
    assert unknown.exit_code == 2
    assert "no import named 'no-such-import' (imports: dportal-covid19-page-109" in unknown.output

    again = run(settings, "import", "iati", str(EXAMPLE))
    assert again.exit_code == 0, again.output
    # The same file gives the same graph, IRIs included; only the import's time is new.
    imported_at = ox.NamedNode(IOMO + "importedAt")
    assert {q for q in graph_quads(settings, EXAMPLE.stem) if q.predicate != imported_at} == {
        q for q in example if q.predicate != imported_at
    }
