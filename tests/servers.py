"""Servers as real subprocesses on free loopback ports: this project's (``iomkg serve`` or the
development runner) and any other that answers HTTP (``oxigraph serve``), started and stopped
the same way by every test that needs one."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

STARTUP_SECONDS = 30.0


@dataclass(frozen=True)
class LiveServer:
    """A running server: its base URL (no trailing slash) and the build it serves."""

    url: str
    port: int
    store_root: Path
    log: Path
    query_timeout: float = 30.0  # its --query-timeout (set by the fixtures that change it)

    @property
    def sparql(self) -> str:
        return self.url + "/sparql"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


@dataclass
class RunningServer:
    """A server this test started: its process (to stop it) and where it answers."""

    process: subprocess.Popen[bytes]
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def log(self) -> Path:
        return self.server.log


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
    """The development server (one werkzeug process, the served executor): for debugging."""
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


Command = Callable[..., list[str]]


def clean_environment(**settings: str) -> dict[str, str]:
    """The test process's environment without its IOMKG_* settings, plus ``settings``: the
    command line and these say all."""
    kept = {key: value for key, value in os.environ.items() if not key.startswith("IOMKG_")}
    return {**kept, **settings}


def wait_until_answered(
    url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = STARTUP_SECONDS
) -> None:
    """Return once ``url`` answers 200; raise with the server's output if it exits or is silent
    for ``seconds`` (and stop it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            output = log.read_text(errors="replace")
            raise RuntimeError(f"{url}: the server exited with {process.returncode}:\n{output}")
        try:
            # the whole wait, not 2 s: over a remote engine /healthz counts the engine's quads,
            # seconds on a busy machine (a slow answer is still an answer)
            left = max(1.0, deadline - time.monotonic())
            if requests.get(url, timeout=left).status_code == 200:
                return
        except requests.RequestException:  # not listening yet, or still booting its workers
            pass
        time.sleep(0.1)
    stop_process(process)
    output = log.read_text(errors="replace")
    raise RuntimeError(f"{url} did not answer in {seconds} s:\n{output}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Stop as an operator does (SIGTERM, so a server stops what it started); kill if it hangs."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def start_server(
    store_root: Path,
    log: Path,
    *extra: str,
    command: Command = server_command,
    env: Mapping[str, str] | None = None,
) -> RunningServer:
    """This project's server on ``store_root``, once it answers /healthz; its output to ``log``.
    ``env``: IOMKG_* settings for it (none of the test process's own are passed on)."""
    port = free_port()
    server = LiveServer(f"http://127.0.0.1:{port}", port, store_root, log)
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command(store_root, port, *extra),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=clean_environment(**(env or {})),
        )
    wait_until_answered(server.url + "/healthz", process, log)
    return RunningServer(process, server)


def stop_server(running: RunningServer) -> None:
    stop_process(running.process)
