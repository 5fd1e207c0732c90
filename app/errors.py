"""The error hierarchy services raise, and `translate` for the libraries' own errors;
`app.api.errors` maps them to HTTP once, the CLI prints the same messages."""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ingestion.errors import IngestionError, InvalidDocument, out_of_space
from retrieval.errors import RetrievalError
from serving.errors import GeneratorUnavailable, ServingError

log = logging.getLogger(__name__)


class EnclaveError(Exception):
    """Base class. Messages are shown to callers: they name ids and reasons, never content."""

    status_code = 500
    code = "internal_error"


class InvalidRequest(EnclaveError):
    status_code = 400
    code = "invalid_request"


class Unauthenticated(EnclaveError):
    status_code = 401
    code = "unauthenticated"


class Forbidden(EnclaveError):
    status_code = 403
    code = "forbidden"


class NotFound(EnclaveError):
    status_code = 404
    code = "not_found"


class Conflict(EnclaveError):
    status_code = 409
    code = "conflict"


class RequestTimeout(EnclaveError):
    status_code = 408
    code = "request_timeout"


class PayloadTooLarge(EnclaveError):
    status_code = 413
    code = "payload_too_large"


class UpstreamUnavailable(EnclaveError):
    status_code = 503
    code = "upstream_unavailable"

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InsufficientStorage(EnclaveError):
    """The data directory's disk is full, or below the space Enclave keeps free (`min_free_mb`)."""

    status_code = 507
    code = "insufficient_storage"


DISK_FULL = "the server's disk is full; try again once space is freed"


class RateLimited(EnclaveError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BudgetExceeded(EnclaveError):
    """The request's work ran past its time budget (`limits.budget_s`)."""

    status_code = 504
    code = "time_budget_exceeded"


# The metadata database cannot be reached or used now (down, restarting, connection cut, SQLite
# busy): the service is unavailable, not broken. The driver's message (which can name the
# server and user) is never shown.
DATABASE_DOWN = (OperationalError, InterfaceError, DisconnectionError)
DATABASE_RETRY_AFTER_S = 5  # as /readyz tells a load balancer


def disk_full(exc: BaseException) -> bool:
    """A write failed for want of disk space (`out_of_space`), or SQLite's "database or disk
    is full"."""
    if isinstance(exc, OperationalError) and isinstance(exc.orig, sqlite3.Error):
        return getattr(exc.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
    return out_of_space(exc)


# Errors with a message for the caller; anything else is a bug ("internal error", logged).
KNOWN_ERRORS = (EnclaveError, IngestionError, RetrievalError, ServingError, *DATABASE_DOWN)


def translate(exc: BaseException) -> EnclaveError:
    """The libraries' errors as the app's own: an invalid document is an invalid request; any
    other ingestion, retrieval or serving failure is an unavailable upstream (503)."""
    if isinstance(exc, EnclaveError):
        return exc
    if isinstance(exc, InvalidDocument):
        return InvalidRequest(str(exc))
    if isinstance(exc, GeneratorUnavailable):
        return UpstreamUnavailable(str(exc), retry_after_s=exc.retry_after_s)
    if disk_full(exc):
        log.warning("disk.full", extra={"error": type(exc).__name__})
        return InsufficientStorage(DISK_FULL)
    if isinstance(exc, PoolTimeout):  # every database connection busy: saturated, not broken
        return UpstreamUnavailable("the service is busy; retry shortly", retry_after_s=1)
    if isinstance(exc, DATABASE_DOWN):
        log.warning("database.unavailable", extra={"error": type(exc).__name__})
        return UpstreamUnavailable(
            "the database is unavailable; retry shortly", retry_after_s=DATABASE_RETRY_AFTER_S
        )
    if isinstance(exc, IngestionError | RetrievalError | ServingError):
        return UpstreamUnavailable(str(exc))
    log.error("internal_error", exc_info=exc)
    return EnclaveError("internal error")
