"""Structured logging that cannot leak content.

Records become one JSON line each with: time, level, logger, the event (the message
*template*, never interpolated with its arguments) and only the `extra` fields on the
allow-list below. Exceptions are reduced to their type and code locations: exception
messages can quote user content, so they are never written. This is enforced here, once,
not by each call site remembering.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
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


class AllowListFormatter(logging.Formatter):
    """Formats a record as JSON with allow-listed fields only; drops args and exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "event": str(record.msg) if isinstance(record.msg, str) else type(record.msg).__name__,
        }
        for key, value in vars(record).items():
            if key in ALLOWED_FIELDS and key not in _RESERVED:
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
