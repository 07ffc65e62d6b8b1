"""Calling an ASGI app in-process, as uvicorn does (one request per call)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]]  # lower-case names, in the order sent
    body: bytes
    parts: int  # body messages sent
    complete: bool = True  # the last body message said no more would come

    def header(self, name: str) -> str | None:
        found = [value for key, value in self.headers if key == name.lower()]
        return found[0] if found else None


def call(
    app: ASGIApp,
    method: str,
    path: str,
    query_string: bytes = b"",
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    *,
    body_parts: int = 1,
) -> Answer:
    """Send one request to ``app`` and collect its answer; the body arrives in ``body_parts``."""
    return asyncio.run(call_async(app, method, path, query_string, headers, body, body_parts))


async def call_async(
    app: ASGIApp,
    method: str,
    path: str,
    query_string: bytes,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    body_parts: int,
    *,
    leave_after: float | None = None,
    leave_before_last_part: bool = False,
    on_body_part: Callable[[int], None] | None = None,
) -> Answer:
    """As :func:`call`; with ``leave_after``, the client disconnects after that many seconds
    (``receive()`` then answers ``http.disconnect``, as uvicorn's does); with
    ``leave_before_last_part``, it disconnects instead of sending the body's last part;
    ``on_body_part`` is called with the number of body messages received after each one."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query_string,
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers],
        "client": ("10.1.2.3", 50000),
        "server": ("127.0.0.1", 8000),
    }
    size = max(1, -(-len(body) // body_parts)) if body else 0
    pieces = [body[start : start + size] for start in range(0, len(body), size)] if body else []
    pieces = pieces or [b""]
    received = 0

    async def receive() -> dict[str, Any]:
        nonlocal received
        if leave_before_last_part and received == len(pieces) - 1:
            return {"type": "http.disconnect"}
        if received < len(pieces):
            received += 1
            return {
                "type": "http.request",
                "body": pieces[received - 1],
                "more_body": received < len(pieces),
            }
        # Nothing more: a client that waits for the answer, or leaves.
        await asyncio.sleep(3600 if leave_after is None else leave_after)
        return {"type": "http.disconnect"}

    status = 0
    sent_headers: list[tuple[str, str]] = []
    chunks: list[bytes] = []
    complete = False

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, complete
        if message["type"] == "http.response.start":
            status = message["status"]
            sent_headers.extend(
                (name.decode("latin-1").lower(), value.decode("latin-1"))
                for name, value in message.get("headers", [])
            )
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))
            complete = not message.get("more_body", False)
            if on_body_part is not None:
                on_body_part(len(chunks))

    await app(scope, receive, send)
    return Answer(status, sent_headers, b"".join(chunks), len(chunks), complete)
