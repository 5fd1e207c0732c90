"""How uvicorn serves Enclave: its options, and an HTTP/1.1 protocol that cuts off slow clients.

uvicorn's own timeouts cover an idle keep-alive connection only: a client that opens a
connection and sends nothing, or trickles its request headers a byte at a time (slow-loris),
is kept forever. `BoundedH11` closes a connection whose request headers have not all arrived
within `limits.header_timeout_s` of its first byte (or of the connection, for the first
request). Slow bodies are cut off by `app.api.limits` (408); h11 bounds the header size (16 KB).

`enclave serve` binds its socket before anything loads (a busy port fails at once) and records
the address it serves in the data directory while it runs, for `enclave admin-link`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from app.settings import Settings


class BoundedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline on each request's headers."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:
            self._arm()  # the first bytes of a request: its headers are now due
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # the headers are in (the body has its own timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `uvicorn.run` / `uvicorn.Config` (besides app, host and port)."""
    protocol = type(
        "BoundedH11", (BoundedH11,), {"header_timeout_s": settings.limits.header_timeout_s}
    )
    return {
        "http": protocol,
        "log_config": None,
        "access_log": False,
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,
    }


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to `host`:`port` (0: any free port), not yet listening: uvicorn listens
    once the app has started, so until then a connection is refused rather than kept waiting."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


RECORD = "server.json"


def record_url(data_dir: Path, url: str) -> None:
    """Note that this process serves `url` (read by `running_url`)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / RECORD).write_text(json.dumps({"url": url, "pid": os.getpid()}))


def forget_url(data_dir: Path) -> None:
    """Remove this process's record (another server's stays)."""
    if _read(data_dir).get("pid") == os.getpid():
        (data_dir / RECORD).unlink(missing_ok=True)


def running_url(data_dir: Path) -> str | None:
    """The URL the server on `data_dir` serves, if one runs on this machine (its record's
    process is alive); None otherwise (none started, or it ended without removing it)."""
    found = _read(data_dir)
    pid, url = found.get("pid"), found.get("url")
    if not isinstance(pid, int) or not isinstance(url, str):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return url


def _read(data_dir: Path) -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        found = json.loads((data_dir / RECORD).read_text())
        if isinstance(found, dict):
            return found
    return {}
