"""A slow or stalled client cannot hold the server: ``--client-timeout`` for the request head,
its body, and each part of the answer (``iomkg.serving.worker.LimitedHttpProtocol``).

The server here gives clients 1 s; each test shows a client that breaks the limit and that the
server answers others meanwhile and afterwards.
"""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from iomkg.serving.server import QUERIES_PER_WORKER  # the queries one worker runs at once
from tests.logs import logged_lines
from tests.servers import LiveServer, start_server, stop_server
from tests.web.conftest import UPDATE_TOKEN

BASE = "https://w3id.org/iomkg/"
CLIENT_TIMEOUT = 1.0
CHEAP = "ASK { ?s ?p ?o }"
#: Far more than the socket buffers hold (about 9 MB of CSV), and quick to evaluate: the time
#: measured is the server's handling of clients, not the evaluation.
HUGE = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } LIMIT 30000"


@pytest.fixture(scope="module")
def impatient_server(
    web_store_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """One worker (so its evaluators can all be taken), 1 s for clients, 30 s for queries."""
    running = start_server(
        web_store_root,
        tmp_path_factory.mktemp("impatient") / "server.log",
        "--workers",
        "1",
        "--client-timeout",
        str(CLIENT_TIMEOUT),
        "--query-timeout",
        "30",
    )
    yield running.server
    stop_server(running)


def read_to_close(connection: socket.socket) -> bytes:
    answer = b""
    with contextlib.suppress(ConnectionResetError):
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def answered_promptly(server: LiveServer) -> bool:
    started = time.monotonic()
    answer = requests.get(server.sparql, params={"query": CHEAP}, timeout=10)
    return answer.status_code == 200 and time.monotonic() - started < 1.0


def test_a_request_head_that_stalls_is_answered_408(impatient_server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as client:
        client.sendall(b"GET /stalled-head HTTP/1.1\r\nHost: x\r\nX-Half: ")
        started = time.monotonic()
        assert answered_promptly(impatient_server)  # others are served meanwhile
        answer = read_to_close(client)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"did not arrive within 1 s" in answer
    assert CLIENT_TIMEOUT - 0.2 < waited < CLIENT_TIMEOUT + 1.5, waited
    assert logged_lines(impatient_server.log, lambda line: '"GET /stalled-head" 408' in line)


def test_a_connection_that_sends_nothing_is_closed_quietly(impatient_server: LiveServer) -> None:
    """A browser's spare connection is closed, not answered (and not logged: no request came)."""
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as client:
        started = time.monotonic()
        answer = read_to_close(client)
        waited = time.monotonic() - started
    assert answer == b""
    assert waited < CLIENT_TIMEOUT + 1.5, waited


def test_a_keep_alive_connection_gets_a_fresh_limit_for_each_head(
    impatient_server: LiveServer,
) -> None:
    """The limit runs from each head's first byte, so a connection may live longer than it."""
    connection = http.client.HTTPConnection("127.0.0.1", impatient_server.port, timeout=10)
    try:
        for turn in range(3):
            connection.request("GET", "/healthz")
            answer = connection.getresponse()
            assert answer.status == 200 and answer.read()
            if turn == 0:
                first_socket = connection.sock
            assert connection.sock is first_socket  # the same connection all along
            time.sleep(CLIENT_TIMEOUT * 0.6)
    finally:
        connection.close()


@pytest.mark.parametrize(
    ("content_type", "path", "body"),
    [
        ("application/sparql-query", "/sparql", b"ASK { ?s ?p ?o "),  # the gateway's
        ("application/sparql-update", "/sparql", b"INSERT DATA { "),  # Flask's
    ],
    ids=["query", "update"],
)
def test_a_request_body_that_stalls_is_answered_408(
    impatient_server: LiveServer, content_type: str, path: str, body: bytes
) -> None:
    marker = f"stalled-{content_type.rsplit('-', 1)[1]}"
    head = (
        f"POST {path}?{marker} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body) + 100}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as client:
        client.sendall(head + body)
        started = time.monotonic()
        answer = read_to_close(client)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"request body did not arrive in time (1 s after the head" in answer
    assert CLIENT_TIMEOUT - 0.2 < waited < CLIENT_TIMEOUT + 1.5, waited
    assert logged_lines(impatient_server.log, lambda line: f'?{marker}" 408 ' in line)
    time.sleep(0.5)  # the app, which gets a cut body, must not log a line of its own
    assert len(logged_lines(impatient_server.log, lambda line: marker in line, seconds=0)) == 1
    assert answered_promptly(impatient_server)


def test_clients_that_never_read_their_answer_do_not_hold_the_evaluators(
    impatient_server: LiveServer,
) -> None:
    """As many clients as the worker has evaluators ask for a huge answer and read none of it.
    Each is dropped once it has taken nothing for the limit, its query stopped (499), and a
    query sent meanwhile runs as soon as an evaluator is free, not at the 30 s query limit."""
    request = (
        f"GET /sparql?query={requests.utils.quote(HUGE)} HTTP/1.1\r\nHost: x\r\n"
        "Accept: text/csv\r\n\r\n"
    ).encode()
    stalled: list[socket.socket] = []
    try:
        for _ in range(QUERIES_PER_WORKER):
            client = socket.socket()
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", impatient_server.port))
            client.sendall(request)
            stalled.append(client)
        time.sleep(0.5)  # every evaluator is writing an answer nobody takes
        started = time.monotonic()
        answer = requests.get(impatient_server.sparql, params={"query": CHEAP}, timeout=30)
        waited = time.monotonic() - started
        assert answer.status_code == 200, answer.text
        # The stalled clients' queries are evaluated first (about a second each here, longer on a
        # busy machine), then dropped one limit later: far sooner than the 30 s query limit.
        assert waited < 10.0, waited
        dropped = logged_lines(
            impatient_server.log,
            lambda line: "/sparql?query=SELECT" in line and " 499 " in line,
            at_least=QUERIES_PER_WORKER,
        )
        assert len(dropped) == QUERIES_PER_WORKER
        assert logged_lines(impatient_server.log, lambda line: "took none of its answer" in line)
    finally:
        for client in stalled:
            client.close()
    assert answered_promptly(impatient_server)


@pytest.fixture
def impatient_update_server(web_store_root: Path, tmp_path: Path) -> Iterator[LiveServer]:
    """Updates allowed (on a private copy of the store), 1 s for clients."""
    copy = tmp_path / "store"
    shutil.copytree(web_store_root, copy, symlinks=True)
    running = start_server(
        copy,
        tmp_path / "server.log",
        "--update-token",
        UPDATE_TOKEN,
        "--client-timeout",
        str(CLIENT_TIMEOUT),
    )
    yield running.server
    stop_server(running)


@pytest.mark.parametrize("cut", ["client-leaves", "client-stalls"])
def test_an_update_whose_body_is_cut_short_changes_nothing(
    impatient_update_server: LiveServer, cut: str
) -> None:
    """A chunked body announces no length, so only its last chunk says it is whole: an update
    cut before it (the client left, or stalled past the limit) must not run, even when what
    arrived is a complete update."""
    update = f"INSERT DATA {{ <{BASE}id/test/cut> <{BASE}id/test/p> '{cut}' }}".encode()
    head = (
        "POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-update\r\n"
        f"Authorization: Bearer {UPDATE_TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"%x\r\n%s\r\n" % (len(update), update)  # and no last chunk (0 CRLF CRLF)
    with socket.create_connection(
        ("127.0.0.1", impatient_update_server.port), timeout=10
    ) as client:
        client.sendall(head + chunk)
        if cut == "client-stalls":
            assert read_to_close(client).startswith(b"HTTP/1.1 408")
        else:
            time.sleep(0.3)  # the server has the chunk
    time.sleep(0.5)  # an update, if it ran, has been applied
    asked = requests.get(
        impatient_update_server.sparql,
        params={"query": f"ASK {{ <{BASE}id/test/cut> ?p ?o }}"},
        headers={"Accept": "application/sparql-results+json"},
        timeout=10,
    )
    assert asked.json() == {"head": {}, "boolean": False}


def test_a_slow_but_steady_reader_is_not_dropped(impatient_server: LiveServer) -> None:
    """A client that keeps taking its answer, a little at a time (8 KB/s here: the server's
    buffers take far longer than the limit to drain), keeps its connection; once it stops, it
    is dropped within a few limits."""
    request = (
        f"GET /sparql?query={requests.utils.quote(HUGE)}&steady HTTP/1.1\r\nHost: x\r\n"
        "Accept: text/csv\r\n\r\n"
    ).encode()
    with socket.socket() as client:
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(("127.0.0.1", impatient_server.port))
        client.sendall(request)
        client.settimeout(10)
        started = time.monotonic()
        while time.monotonic() - started < CLIENT_TIMEOUT * 8:
            assert client.recv(4096)
            time.sleep(0.5)
        # (a dropped client would not know yet: the kernel still delivers what it had queued)
        assert not logged_lines(impatient_server.log, lambda line: "&steady" in line, seconds=0)
        stopped = time.monotonic()
        assert logged_lines(
            impatient_server.log,
            lambda line: "&steady" in line and " 499 " in line,
            seconds=CLIENT_TIMEOUT * 10,
        )
        assert time.monotonic() - stopped < CLIENT_TIMEOUT * 4


def test_a_steady_upload_slower_than_the_limit_is_not_cut(impatient_server: LiveServer) -> None:
    """A 12 KB query sent at 4 KB a second takes three limits, and earns the time it needs."""
    query = ("ASK { ?s ?p ?o } #" + "x" * 12_000).encode()
    head = (
        "POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
        f"Content-Length: {len(query)}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as client:
        client.sendall(head)
        for start in range(0, len(query), 1000):
            client.sendall(query[start : start + 1000])
            time.sleep(0.25)
        answer = read_to_close(client)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:300]


def test_a_body_answered_without_is_not_waited_for_past_the_limit(
    impatient_server: LiveServer,
) -> None:
    """The app answers a GET at once, whatever body it announces; a client that then trickles
    that body (the connection cannot serve another request before it ends) is let go."""
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
    with socket.create_connection(("127.0.0.1", impatient_server.port), timeout=10) as client:
        client.sendall(head)
        assert client.recv(65536).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            while time.monotonic() - started < CLIENT_TIMEOUT * 8:
                client.sendall(b"x")
                time.sleep(0.2)
                client.setblocking(False)
                try:
                    if client.recv(1) == b"":
                        break  # closed
                except BlockingIOError:
                    pass
                finally:
                    client.setblocking(True)
        assert time.monotonic() - started < CLIENT_TIMEOUT * 4
