"""The error hierarchy services raise; `app.api.errors` maps it to HTTP once."""

from __future__ import annotations


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
