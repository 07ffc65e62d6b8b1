"""Every command of the ``iomkg`` CLI on a temporary store: exit codes and one-line errors."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pyoxigraph as ox
import pytest
from click.testing import CliRunner

from iomkg.cli import cli
from iomkg.config import Settings
from tests.conftest import PROJECT_DIR, SHARED_DIR, run

NTF = "https://w3id.org/iomkg/id/project/ntf"


@pytest.fixture(scope="module")
def built_once(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The real project built once for this module through the CLI."""
    settings = Settings(
        project_dir=PROJECT_DIR,
        store_dir=tmp_path_factory.mktemp("cli") / "store",
        shared_dir=SHARED_DIR,
    )
    result = run(settings, "build")
    assert result.exit_code == 0, result.output
    return settings


@pytest.fixture
def built(built_once: Settings, tmp_path: Path) -> Settings:
    """A private copy of the built store, so a test may load into it."""
    store = tmp_path / "store"
    shutil.copytree(built_once.store_root, store, symlinks=True)
    return built_once.with_overrides(store_dir=store)


def test_build_prints_summary(project_copy: Settings) -> None:
    result = run(project_copy, "build")
    assert result.exit_code == 0, result.output
    assert "triples per graph:" in result.output
    assert "instances per class:" in result.output
    assert "links per target:" in result.output
    assert "wikidata" in result.output and "geonames" in result.output
    assert "time: " in result.output


def test_validate_reports_and_exit_codes(project_copy: Settings, tmp_path: Path) -> None:
    assert run(project_copy, "validate").exit_code == 0
    invalid = tmp_path / "funding-without-funder.ttl"
    invalid.write_text("<id/funding/x> a <ontology#Funding> .\n", encoding="utf-8")
    result = run(project_copy, "validate", str(invalid))
    assert result.exit_code == 1
    assert "id/funding/x" in result.stderr and str(invalid) in result.stderr
    broken = tmp_path / "broken.ttl"
    broken.write_text("<a> <b> .\n", encoding="utf-8")
    result = run(project_copy, "validate", str(broken))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "broken.ttl:1" in result.stderr
    assert not project_copy.store_root.exists()  # validate never builds


def test_validate_with_pyshacl_reports_the_same_violations(
    project_copy: Settings, tmp_path: Path
) -> None:
    """``--validator pyshacl`` (the reference) and the default (the compiled shapes) say the
    same, word for word, on the project's data with a broken file added."""
    invalid = tmp_path / "funding-without-funder.ttl"
    invalid.write_text("<id/funding/x> a <ontology#Funding> .\n", encoding="utf-8")
    compiled = run(project_copy, "validate", str(invalid))
    reference = run(project_copy, "validate", "--validator", "pyshacl", str(invalid))
    assert compiled.exit_code == reference.exit_code == 1
    assert compiled.stderr == reference.stderr and "id/funding/x" in compiled.stderr


def test_query_formats(built: Settings) -> None:
    select = f"SELECT ?label WHERE {{ <{NTF}> skos:prefLabel ?label }}"
    table = run(built, "query", "-q", select)
    assert (
        table.exit_code == 0 and "NATO/PfP Trust Fund" in table.output and "(1 row)" in table.output
    )
    # A column whose literals share a language says it once, in the header; mixed ones per cell.
    assert (
        table.output.splitlines()[0] == "label@en" and "@en" not in table.output.split("\n", 1)[1]
    )
    mixed = run(built, "query", "-q", 'SELECT ?v WHERE { VALUES ?v { "a"@en "b"@fr "c" } }')
    assert mixed.output.splitlines()[0] == "v"
    assert [line.strip() for line in mixed.output.splitlines()[2:5]] == ["a@en", "b@fr", "c"]
    as_json = json.loads(run(built, "query", "-q", select, "--format", "json").output)
    assert as_json["head"]["vars"] == ["label"]
    rows = list(
        csv.reader(io.StringIO(run(built, "query", "-q", select, "--format", "csv").output))
    )
    assert rows[0] == ["label"] and len(rows) == 2
    assert run(built, "query", "-q", select, "--format", "tsv").output.startswith("?label\n")
    assert "<sparql" in run(built, "query", "-q", select, "--format", "xml").output
    for name in ("json", "xml", "csv", "tsv"):  # every output ends its last line
        assert run(built, "query", "-q", select, "--format", name).output.endswith("\n"), name
    construct = f"CONSTRUCT {{ <{NTF}> ?p ?o }} WHERE {{ <{NTF}> ?p ?o }}"
    for name, rdf_format in (
        ("ttl", ox.RdfFormat.TURTLE),
        ("nt", ox.RdfFormat.N_TRIPLES),
        ("jsonld", ox.RdfFormat.JSON_LD),
    ):
        out = run(built, "query", "-q", construct, "--format", name)
        assert out.exit_code == 0
        assert len(list(ox.parse(out.stdout_bytes, format=rdf_format))) > 5
    ask = run(built, "query", "-q", f"ASK {{ <{NTF}> a iomo:Project }}")
    assert ask.output.strip() == "true"


def test_query_from_file_and_errors(built: Settings, tmp_path: Path) -> None:
    file = tmp_path / "q.rq"
    file.write_text("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }", encoding="utf-8")
    assert run(built, "query", "-f", str(file), "--format", "csv").exit_code == 0
    bad = run(built, "query", "-q", "SELEC nothing")
    assert bad.exit_code == 2 and bad.stderr.startswith("iomkg: the SPARQL does not parse")
    assert "Traceback" not in bad.output
    # pyoxigraph's message for this one spans several lines; the CLI says it on one, then the
    # query's line with carets under the place
    unfinished = run(built, "query", "-q", "SELECT ?s WHERE { ?s a iomo:Project")
    said, excerpt, carets = unfinished.stderr.splitlines()
    assert unfinished.exit_code == 2 and "line 1, column 36" in said
    assert excerpt.strip() == "SELECT ?s WHERE { ?s a iomo:Project" and carets.strip() == "^"
    assert carets.index("^") == excerpt.index("SELECT") + 35
    slash = run(built, "query", "-q", "SELECT * WHERE { id:country/NO ?p ?o }").stderr.splitlines()
    assert slash[2].strip("^ ") == "" and slash[1][slash[2].index("^") :].startswith(
        "id:country/NO"
    )
    both = run(built, "query", "-q", "ASK {}", "-f", str(file))
    assert both.exit_code == 2 and "exactly one" in both.stderr
    graph_as_table = run(
        built, "query", "-q", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 1", "--format", "table"
    )
    assert graph_as_table.exit_code == 2


def test_query_without_build_is_one_clear_line(project_copy: Settings) -> None:
    result = run(project_copy, "query", "-q", "ASK {}")
    assert result.exit_code == 2
    assert (
        result.stderr.strip()
        == f"iomkg: no build in {project_copy.store_root} yet: run `iomkg build` first"
    )


@pytest.mark.parametrize(
    ("name", "rdf_format"),
    [
        ("ttl", ox.RdfFormat.TURTLE),
        ("trig", ox.RdfFormat.TRIG),
        ("nq", ox.RdfFormat.N_QUADS),
        ("jsonld", ox.RdfFormat.JSON_LD),
    ],
)
def test_export_formats(
    built: Settings, tmp_path: Path, name: str, rdf_format: ox.RdfFormat
) -> None:
    out = tmp_path / f"export.{name}"
    result = run(built, "export", "--format", name, "-o", str(out))
    assert result.exit_code == 0, result.output
    quads = list(ox.parse(path=str(out), format=rdf_format))
    assert len(quads) > 100
    if rdf_format.supports_datasets:
        assert len({q.graph_name for q in quads}) > 2


def test_export_one_graph(built: Settings) -> None:
    graph = built.graph_iri("sources/000_aa2112c34e1aacb8")
    result = run(built, "export", "--format", "ttl", "--graph", graph)
    assert result.exit_code == 0
    triples = list(ox.parse(result.stdout_bytes, format=ox.RdfFormat.TURTLE))
    assert any(t.subject.value == NTF for t in triples)
    unknown = run(built, "export", "--graph", "http://nowhere/")
    assert unknown.exit_code == 2 and "no graph" in unknown.stderr


def test_load_without_shacl_and_stats(built: Settings, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.nt"
    foreign.write_text(
        "<http://example.org/a> <http://example.org/b> <http://example.org/c> .\n", encoding="utf-8"
    )
    before = run(built, "stats")
    result = run(built, "load", "--graph", "http://example.org/foreign", str(foreign))
    assert result.exit_code == 0 and "loaded 1 triples" in result.output
    after = run(built, "stats")
    assert (
        "http://example.org/foreign" in after.output
        and "http://example.org/foreign" not in before.output
    )
    assert "without the shacl gate" in " ".join(run(built, "load", "--help").output.split()).lower()


def test_load_broken_file_loads_nothing(built: Settings, tmp_path: Path) -> None:
    good = tmp_path / "good.nt"
    good.write_text(
        "<http://example.org/a> <http://example.org/b> <http://example.org/c> .\n", encoding="utf-8"
    )
    bad = tmp_path / "bad.nt"
    bad.write_text("<http://example.org/a> <http://example.org/b> .\n", encoding="utf-8")
    result = run(built, "load", str(good), str(bad))
    assert result.exit_code == 2 and "bad.nt:1" in result.stderr
    count = run(built, "query", "-q", "ASK { <http://example.org/a> ?p ?o }")
    assert count.output.strip() == "false"
    for missing, said in ((tmp_path / "nope.ttl", "does not exist"), (tmp_path, "is a folder")):
        refused = run(built, "load", str(good), str(missing))
        assert refused.exit_code == 2
        assert refused.stderr == f"iomkg: {missing} {said}: give RDF files; nothing was loaded\n"
    assert (
        run(built, "query", "-q", "ASK { <http://example.org/a> ?p ?o }").output.strip() == "false"
    )


def test_load_into_empty_store(tmp_path: Path, tmp_settings: Settings) -> None:
    data = tmp_path / "d.ttl"
    data.write_text("<http://example.org/a> <http://example.org/b> 1 .\n", encoding="utf-8")
    assert run(tmp_settings, "load", str(data)).exit_code == 0
    assert (
        run(tmp_settings, "query", "-q", "ASK { <http://example.org/a> ?p 1 }").output.strip()
        == "true"
    )


def test_help_for_every_command() -> None:
    runner = CliRunner()
    for command in ("build", "validate", "query", "export", "load", "stats"):
        result = runner.invoke(cli, [command, "--help"])
        assert result.exit_code == 0 and "Usage:" in result.output


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("iomkg")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, check=False)
    assert result.returncode == 0 and "build" in result.stdout


def test_query_refuses_service_and_updates(built: Settings) -> None:
    service = run(
        built, "query", "-q", "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"
    )
    assert service.exit_code == 2 and "SERVICE" in service.stderr and "allow-list" in service.stderr
    update = run(
        built, "query", "-q", "INSERT DATA { <http://example.org/a> <http://example.org/b> 1 }"
    )
    assert update.exit_code == 2 and "queries only" in update.stderr


def test_export_accepts_relative_and_compact_graph_names(built: Settings) -> None:
    full = run(built, "export", "--graph", built.graph_iri("ontology")).stdout_bytes
    assert run(built, "export", "--graph", "graph/ontology").stdout_bytes == full
    assert run(built, "export", "--graph", "graph:ontology").stdout_bytes == full


def test_export_jsonld_is_compacted_like_the_download(built: Settings) -> None:
    text = run(built, "export", "--format", "jsonld").output
    assert '"@context"' in text and '"skos:prefLabel"' in text


def test_a_query_with_another_base_than_the_build_says_why_it_finds_nothing(
    built: Settings,
) -> None:
    """A newcomer's trap: a --base (or IOMKG_BASE_IRI) unlike the build's gave 0 rows, silently."""
    select = "SELECT ?label WHERE { <id/project/ntf> skos:prefLabel ?label }"
    same = run(built, "query", "-q", select)
    assert "(1 row)" in same.output and "warning" not in same.stderr
    other = run(built, "--base", "https://example.org/kg/", "query", "-q", select)
    assert other.exit_code == 0 and "(0 rows)" in other.output
    assert f"built with the base namespace {built.base_iri}, not https://example.org/kg/" in (
        other.stderr
    )
