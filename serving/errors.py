"""Errors raised by the serving library."""


class ServingError(Exception):
    """Base class of serving errors."""


class GeneratorUnavailable(ServingError):
    """The generator cannot be reached or failed; `retry_after_s` hints when to try again."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class GeneratorRejected(GeneratorUnavailable):
    """The generator refused the request (HTTP 4xx other than 408/429): a configuration error or
    a request it cannot serve (e.g. too long). Retrying the same request will not help."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


def error_for_status(
    status: int, what: str, *, retry_after_s: float | None = None
) -> GeneratorUnavailable:
    """The error for an HTTP-style failure `status`: 4xx (but 408/429) rejects, the rest is
    unavailability. `what` names the failure; it must not contain prompt or answer text."""
    if 400 <= status < 500 and status not in (408, 429):
        return GeneratorRejected(what, status=status)
    return GeneratorUnavailable(what, retry_after_s=retry_after_s)
