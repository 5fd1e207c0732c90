"""Bounds every request meets before it costs anything: an ASGI middleware.

- Saturation: past `max_in_flight` requests being served, a new one is answered 503 with
  `Retry-After` at once, instead of queueing until something times out.
- Body size: a JSON body announced (`Content-Length`) larger than `max_body_kb` is refused with
  413 before a byte of it is read; one that streams in (chunked, or lying about its length) is
  cut off with 413 as soon as it passes the limit. Nothing is parsed.
- Slow bodies: a body that has not arrived within `body_timeout_s` is answered 408.

The body is read here, in full, before the route runs: a route thread is never held by a slow
client. Uploads (multipart) are exempt: they stream to disk on their own thread pool under the
upload limit (`app.api.uploads`). Refusals close the connection (the unread rest of a body is
not waited for) and carry the error envelope; no content is logged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# The one route that takes a large body, under its own limit: POST /v1/collections/{c}/documents.
UPLOAD = re.compile(r"^/v1/collections/[^/]+/documents/?$")


class TooLarge(Exception):
    """The body passed the limit while it streamed in."""


class RequestBounds:
    """See the module docstring. One instance per app; the counter lives on the event loop."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout_s: float,
        max_in_flight: int,
        retry_after_s: int,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.max_in_flight = max_in_flight
        self.retry_after_s = retry_after_s
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_in_flight:
            await refuse(
                send,
                503,
                "the service is at capacity; retry shortly",
                "server_busy",
                {"retry-after": str(self.retry_after_s)},
            )
            return
        self.in_flight += 1
        try:
            await self._bounded(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _bounded(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] == "POST" and UPLOAD.match(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = header(scope, b"content-length")
        if declared is not None and not declared.isdigit():
            await refuse(send, 400, "the Content-Length header is invalid", "invalid_request")
            return
        if declared is not None and int(declared) > self.max_body_bytes:
            await self._too_large(send)
            return
        if declared in (None, "0") and header(scope, b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body
            return
        try:
            with anyio.fail_after(self.body_timeout_s):
                body, extra = await self._read(receive)
        except TooLarge:
            await self._too_large(send)
            return
        except TimeoutError:
            message = f"the request body did not arrive within {self.body_timeout_s:g} s"
            await refuse(send, 408, message, "request_timeout")
            return
        await self.app(scope, replay(body, extra, receive), send)

    async def _read(self, receive: Receive) -> tuple[bytes, Message | None]:
        """The whole body (at most the limit); a disconnect seen meanwhile, to pass on."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"".join(chunks), message  # http.disconnect
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    async def _too_large(self, send: Send) -> None:
        limit_kb = self.max_body_bytes // 1024
        await refuse(send, 413, f"the request body is larger than {limit_kb} KB", "too_large")


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return None


def replay(body: bytes, extra: Message | None, receive: Receive) -> Receive:
    """A `receive` that hands the app the body read already, then whatever comes next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if extra is not None:
            return extra
        return await receive()

    return replayed


async def refuse(
    send: Send, status: int, message: str, code: str, headers: dict[str, str] | None = None
) -> None:
    """The error envelope, and the connection closed after it (a body may still be coming)."""
    payload = json.dumps(
        {"error": {"message": message, "type": code, "param": None, "code": code}}
    ).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
        *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})
