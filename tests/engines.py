"""Other SPARQL engines as real subprocesses on free loopback ports: Oxigraph's server (PyPI
``oxigraph``) and Virtuoso 7 (Debian ``virtuoso-opensource``, which ``.ci/run`` installs), for
the tests of the remote backend."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers import free_port, stop_process, wait_until_answered

VIRTUOSO = shutil.which("virtuoso-t")
ISQL = shutil.which("isql-vt") or shutil.which("isql")


@dataclass(frozen=True)
class RunningEngine:
    kind: str
    url: str  # the query endpoint
    log: Path
    sql_port: int | None = None  # Virtuoso's SQL port (isql), for the tests that need it

    def isql(self, statement: str) -> None:
        """Run one SQL statement on Virtuoso as its administrator."""
        assert self.sql_port is not None and ISQL is not None, "a Virtuoso engine has isql"
        run_tool(ISQL, str(self.sql_port), "dba", "dba", f"exec={statement}")


def run_tool(*command: str) -> None:
    """Run an engine's command-line tool to its end (it fails the test if it fails)."""
    subprocess.run(command, check=True, capture_output=True, timeout=120)


OXIGRAPH = str(Path(sys.executable).with_name("oxigraph"))


@contextmanager
def _oxigraph(folder: Path, log_name: str, *arguments: str) -> Iterator[RunningEngine]:
    """``oxigraph ARGUMENTS`` bound to a free loopback port, until the block ends."""
    port = free_port()
    log = folder / log_name
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [OXIGRAPH, *arguments, "--bind", f"127.0.0.1:{port}"],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/query"
    try:
        wait_until_answered(url + "?query=ASK%7B%7D", process, log)
        yield RunningEngine("oxigraph", url, log)
    finally:
        stop_process(process)


@contextmanager
def oxigraph_engine(folder: Path) -> Iterator[RunningEngine]:
    """``oxigraph serve`` on a store of its own in ``folder`` (empty at first)."""
    store = str(folder / "store")
    with _oxigraph(folder, "oxigraph.log", "serve", "--location", store, "--timeout-s", "30") as it:
        yield it


@contextmanager
def read_only_oxigraph(folder: Path, nquads: Path) -> Iterator[RunningEngine]:
    """``oxigraph serve-read-only`` on a store of its own holding ``nquads``: an engine that
    answers queries and refuses every write."""
    store = str(folder / "read-only")
    run_tool(OXIGRAPH, "load", "--location", store, "--file", str(nquads))
    with _oxigraph(folder, "oxigraph-read-only.log", "serve-read-only", "--location", store) as it:
        yield it


VIRTUOSO_INI = """\
[Database]
DatabaseFile = {folder}/virtuoso.db
ErrorLogFile = {folder}/virtuoso.log
LockFile = {folder}/virtuoso.lck
TransactionFile = {folder}/virtuoso.trx
xa_persistent_file = {folder}/virtuoso.pxa
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {folder}/virtuoso-temp.db
TransactionFile = {folder}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CheckpointInterval = 0
CaseMode = 2
DirsAllowed = .
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
ThreadsPerQuery = 2
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
MaxClientConnections = 8
ServerThreads = 8
EnabledDavVSP = 0
Charset = UTF-8
[SPARQL]
ResultSetMaxRows = 1000000
MaxQueryExecutionTime = 60
MaxQueryCostEstimationTime = 0
"""


@contextmanager
def virtuoso_engine(folder: Path) -> Iterator[RunningEngine]:
    """Virtuoso 7 in the foreground on a new database in ``folder``, its ``/sparql`` endpoint
    allowed to take updates (the ``SPARQL`` account is given ``SPARQL_UPDATE``)."""
    if VIRTUOSO is None or ISQL is None:
        pytest.fail(
            "Virtuoso is not installed: `apt-get install virtuoso-opensource` (.ci/run does)"
        )
    sql_port, http_port = free_port(), free_port()
    ini = folder / "virtuoso.ini"
    ini.write_text(VIRTUOSO_INI.format(folder=folder, sql_port=sql_port, http_port=http_port))
    log = folder / "virtuoso.out"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [VIRTUOSO, "+foreground", "+configfile", str(ini)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=folder,
        )
    url = f"http://127.0.0.1:{http_port}/sparql"
    try:
        wait_until_answered(url + "?query=ASK%7B%7D", process, log, seconds=90)
        running = RunningEngine("virtuoso", url, log, sql_port)
        running.isql('GRANT SPARQL_UPDATE TO "SPARQL";')
        yield running
    finally:
        stop_process(process)
