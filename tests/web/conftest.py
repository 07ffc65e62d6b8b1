"""The real server as a subprocess on a free loopback port, serving the real project's build.

``live_server`` (one per session, read-only) answers most tests; ``update_server`` (one per test
that needs it) serves a private copy of the store with updates enabled, so writes never leak.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from iomkg.config import Settings
from tests.web.listener import Listener

UPDATE_TOKEN = "test-token-0123456789"
STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class LiveServer:
    """A running server: its base URL (no trailing slash) and the build it serves."""

    url: str
    port: int
    store_root: Path
    log: Path

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_command(store_root: Path, port: int, *extra: str) -> list[str]:
    """How to start the server: ``iomkg serve``, exactly as an operator does (gunicorn, isolated
    query workers)."""
    iomkg = str(Path(sys.executable).with_name("iomkg"))
    return [
        iomkg,
        "--store",
        str(store_root),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


def devserver_command(store_root: Path, port: int, *extra: str) -> list[str]:
    """The development runner (in-process executor): same options, for debugging."""
    return [
        sys.executable,
        "-m",
        "iomkg.web.devserver",
        "--store",
        str(store_root),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *extra,
    ]


def _environment() -> dict[str, str]:
    """The test process's environment without IOMKG_* settings (the command line says all)."""
    return {key: value for key, value in os.environ.items() if not key.startswith("IOMKG_")}


Command = Callable[..., list[str]]


@dataclass
class _Process:
    process: subprocess.Popen[bytes]
    server: LiveServer


def start_server(
    store_root: Path, log: Path, *extra: str, command: Command = server_command
) -> _Process:
    port = free_port()
    server = LiveServer(f"http://127.0.0.1:{port}", port, store_root, log)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command(store_root, port, *extra),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=_environment(),
        )
    running = _Process(process, server)
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}:\n{server.log_text()}")
        try:
            if requests.get(server.url + "/healthz", timeout=2).status_code == 200:
                return running
        except requests.RequestException:  # not listening yet, or still booting its workers
            pass
        time.sleep(0.1)
    stop_server(running)
    raise RuntimeError(
        f"the server did not answer /healthz in {STARTUP_SECONDS} s:\n{server.log_text()}"
    )


def stop_server(running: _Process) -> None:
    running.process.terminate()
    try:
        running.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        running.process.kill()
        running.process.wait()


@pytest.fixture(scope="session")
def web_store_root(built_settings: Settings) -> Path:
    """The store folder the servers serve: the session's real build (SHACL and checks passed)."""
    return built_settings.store_root


@pytest.fixture(scope="session")
def live_server(
    web_store_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The server on the session's build: read-only, updates refused."""
    running = start_server(web_store_root, tmp_path_factory.mktemp("live") / "server.log")
    yield running.server
    stop_server(running)


@pytest.fixture
def update_server(web_store_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A server on a private copy of the build, accepting updates with ``UPDATE_TOKEN``."""
    copy = tmp_path / "store"
    shutil.copytree(web_store_root, copy, symlinks=True)
    running = start_server(copy, tmp_path / "server.log", "--update-token", UPDATE_TOKEN)
    yield running.server
    stop_server(running)


@pytest.fixture
def limited_server(web_store_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """A server with tiny limits (5 rows, 1 s per query), to see how it says it cut or stopped."""
    running = start_server(
        web_store_root, tmp_path / "server.log", "--max-rows", "5", "--query-timeout", "1"
    )
    yield running.server
    stop_server(running)


@pytest.fixture
def listener() -> Iterator[Listener]:
    """A loopback listener that counts connections: nothing may reach it."""
    running = Listener()
    yield running
    running.close()
