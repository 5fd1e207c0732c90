"""Refusals in the audit trail, without letting an anonymous flood grow it without bound.

A refusal of an identified caller is always one row. A refusal of nobody in particular (a 401:
no, a bad, an expired or a revoked credential; a failed sign-in) is one row per (client address,
action, reason) per window: the first is written at once and the repeats are counted. The count
goes into `detail.suppressed` of the row that opens that key's next window or, if none comes, of
a follow-up row once the window has closed (noticed by the next anonymous refusal, a read of the
trail, or shutdown). Counts live in memory: a crash loses the counts of open windows, never their
first row. Past `max_keys` tracked clients, new ones share one key per action and reason. The
client address is the TCP peer's: behind a reverse proxy, run uvicorn with its proxy headers on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from app import audit
from app.db.session import transaction

Key = tuple[str | None, str, str]  # client address (None: many clients), action, reason


@dataclass
class _Window:
    opened: float
    status: int | None
    suppressed: int = 0


class Windows:
    """Which anonymous refusals to record, and how many went unrecorded; thread-safe."""

    def __init__(
        self,
        window_s: float,
        *,
        max_keys: int = 10_000,
        sweep_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.max_keys = max_keys
        self.sweep_s = sweep_s
        self.clock = clock
        self._open: dict[Key, _Window] = {}
        self._swept = clock()
        self._lock = threading.Lock()

    def admit(self, key: Key, status: int | None = None) -> tuple[Key, int] | None:
        """None: a repeat inside an open window (counted). Otherwise record it, under the key
        returned, with the repeats of that key's previous window not yet written."""
        now = self.clock()
        with self._lock:
            if key not in self._open and len(self._open) >= self.max_keys:
                key = (None, key[1], key[2])
            window = self._open.get(key)
            if window is not None and now - window.opened < self.window_s:
                window.suppressed += 1
                return None
            self._open[key] = _Window(opened=now, status=status)
            return key, window.suppressed if window else 0

    def closed(self, *, everything: bool = False) -> list[dict]:
        """Forget the windows that have closed (every one, at shutdown); the fields of a
        follow-up row for each that counted repeats."""
        now = self.clock()
        with self._lock:
            self._swept = now
            done = [
                k for k, w in self._open.items() if everything or now - w.opened >= self.window_s
            ]
            windows = [(k, self._open.pop(k)) for k in done]
        return [self._follow_up(k, w) for k, w in windows if w.suppressed]

    def sweep_due(self) -> bool:
        return self.clock() - self._swept >= self.sweep_s

    def _follow_up(self, key: Key, window: _Window) -> dict:
        client, action, reason = key
        detail: dict = {"suppressed": window.suppressed, "window_s": self.window_s}
        if window.status is not None:
            detail["status"] = window.status
        if client is None:
            detail["clients"] = "many"
        return {
            "action": action,
            "actor_kind": "anonymous",
            "outcome": "denied",
            "reason": reason,
            "detail": detail,
            "client": client,
        }


def record(
    request: Request,
    *,
    action: str,
    reason: str,
    status: int | None = None,
    route: str | None = None,
) -> None:
    """Record a refusal in its own transaction: always for an identified caller (the request's
    principal), aggregated per client address for anyone else."""
    principal = getattr(request.state, "principal", None)
    windows: Windows | None = request.app.state.denials
    sessions = request.app.state.runtime.sessions
    given: dict[str, object] = {"status": status, "route": route}
    detail = {k: v for k, v in given.items() if v is not None}
    rows: list[dict] = []
    if principal is None and windows is not None:
        client = request.client.host if request.client else None
        admitted = windows.admit((client, action, reason), status)
        rows = windows.closed() if windows.sweep_due() else []
        if admitted is None:  # a repeat inside the window: counted, written later
            _write(sessions, rows)
            return
        key, carried = admitted
        if carried:
            detail.update(suppressed=carried, window_s=windows.window_s)
        if key[0] is None:
            detail["clients"] = "many"
    rows.append(
        {
            "action": action,
            "principal": principal,
            "outcome": "denied",
            "reason": reason,
            "detail": detail or None,
            "context": audit_context(request),
        }
    )
    _write(sessions, rows)


def flush(sessions: sessionmaker[Session], windows: Windows | None, *, everything=False) -> None:
    """Write the counts of closed windows (of every window, at shutdown)."""
    if windows is not None:
        _write(sessions, windows.closed(everything=everything))


def audit_context(request: Request) -> audit.AuditContext:
    """The request's id and client address, for the audit trail."""
    client = request.client.host if request.client else None
    return audit.AuditContext(request_id=getattr(request.state, "request_id", None), client=client)


def _write(sessions: sessionmaker[Session], rows: list[dict]) -> None:
    if rows:
        with transaction(sessions) as db:
            for row in rows:
                audit.record(db, **row)
