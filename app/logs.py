"""Structured logging that cannot leak content.

Records become one JSON line each with: time, level, logger, the event (the message
*template*, never interpolated with its arguments) and only the `extra` fields on the
allow-list below. A few library messages whose arguments are known not to be content
(uvicorn's process id and bind address) become an event name with those arguments as
allow-listed fields. Exceptions are reduced to their type and code locations: exception
messages can quote user content, so they are never written. This is enforced here, once,
not by each call site remembering.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

ALLOWED_FIELDS = frozenset(
    {
        "request_id",
        "route",
        "method",
        "status",
        "latency_ms",
        "count",
        "chunks",
        "pages",
        "bytes",
        "collection_id",
        "document_id",
        "job_id",
        "principal_id",
        "state",
        "reason",
        "attempt",
        "worker",
        "model",
        "reranker",
        "stage",
        "duration_ms",
        "timings_ms",  # {step: ms}, e.g. an erasure's steps
        "host",
        "port",
        "url",
        "mode",
        "migration",  # an Alembic step: "upgrade 0002 -> 0003, <the revision's title>"
        # the parser sandbox (ingestion/sandbox.py, ingestion/parsers.py)
        "pid",
        "memory_mb",
        "timeout_s",
        "exit_code",
        "file_type",
        "error",  # an exception's class name, never its message
    }
)

# Free-text `reason`/`url` values are produced by Enclave itself (error classes, settings).
_RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))


def _listening(scheme: object, host: object, port: object) -> dict[str, object]:
    bracketed = f"[{host}]" if ":" in str(host) else str(host)
    return {"url": f"{scheme}://{bracketed}:{port}", "host": host, "port": port}


# Library messages whose arguments are never content (a process id, the bind address, a schema
# migration step), by logger and template: the arguments become allow-listed fields under an
# event name. Every other message stays a template.
_LIBRARY_EVENTS: dict[tuple[str, str], tuple[str, Callable[..., dict[str, object]]]] = {
    ("uvicorn.error", "Started server process [%d]"): ("server.started", lambda p: {"pid": p}),
    ("uvicorn.error", "Finished server process [%d]"): ("server.finished", lambda p: {"pid": p}),
    ("uvicorn.error", "Uvicorn running on %s://%s:%d (Press CTRL+C to quit)"): (
        "server.listening",
        _listening,
    ),
    ("uvicorn.error", "Uvicorn running on %s://[%s]:%d (Press CTRL+C to quit)"): (
        "server.listening",
        _listening,
    ),
    ("alembic.runtime.migration", "Context impl %s."): (
        "db.migrations",
        lambda impl: {"mode": str(impl)},
    ),
    ("alembic.runtime.migration", "Will assume %s DDL."): (
        "db.migrations.ddl",
        lambda ddl: {"mode": str(ddl)},
    ),
    ("alembic.runtime.migration", "Running %s"): (
        "db.migration",
        lambda step: {"migration": str(step)},
    ),
}


class AllowListFormatter(logging.Formatter):
    """Formats a record as JSON with allow-listed fields only; drops args and exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": str(record.msg) if isinstance(record.msg, str) else type(record.msg).__name__,
        }
        fields = {k: v for k, v in vars(record).items() if k not in _RESERVED}
        known = None
        if isinstance(record.msg, str) and record.args:
            known = _LIBRARY_EVENTS.get((record.name, record.msg))
        if known and isinstance(record.args, tuple):
            entry["event"], fill = known
            try:
                fields.update(fill(*record.args))
            except TypeError:  # another library version's arguments: the template alone
                entry["event"] = record.msg
        for key, value in fields.items():
            if key in ALLOWED_FIELDS:
                entry[key] = _value(value)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _, tb = record.exc_info
            entry["exc_type"] = exc_type.__name__
            entry["exc_at"] = [
                f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno}:{frame.name}"
                for frame in traceback.extract_tb(tb)[-5:]
            ]
        return json.dumps(entry, ensure_ascii=False)


def _value(value: object) -> object:
    """Numbers as they are, a {name: number} mapping as an object, anything else as text."""
    if isinstance(value, int | float | bool):
        return value
    if isinstance(value, dict) and all(isinstance(v, int | float) for v in value.values()):
        return {str(k): v for k, v in value.items()}
    return str(value)


def configure_logging(level: str = "INFO") -> None:
    """Route every logger through the allow-list formatter; quiet chatty libraries."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(AllowListFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "httpx", "httpcore"):
        lib = logging.getLogger(name)
        lib.handlers[:] = []
        lib.propagate = True
    # The access log prints full URLs (query strings can hold a question): ours replaces it.
    logging.getLogger("uvicorn.access").disabled = True
    # authlib logs the PKCE verifier at DEBUG inside the message itself: never below WARNING.
    for name in (
        "httpx",
        "httpcore",
        "authlib",
        "sentence_transformers",
        "transformers",
        "unstructured",
    ):
        logging.getLogger(name).setLevel(logging.WARNING)
