"""Rate limits on the expensive routes, per caller and per client address (`limits` library,
sliding-window counters in memory: two counters per key, whatever the rate; one process, one
count: behind several processes each counts alone).

`throttle("search")` is a route dependency: past the rate it raises `RateLimited` (429 with
`Retry-After`). The caller is the principal's id: an API key, a token's user or a browser
session's user alike. Refusals are audited without content (`request.throttled`, the bucket and
which limit), one row per caller, bucket and window: the repeats are counted into the next row.
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import Depends, Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter

from app import audit, denials
from app.api.deps import PrincipalDep
from app.db.session import transaction
from app.errors import RateLimited
from app.identity import Principal
from app.settings import LimitSettings

BUCKETS = ("search", "answer", "upload", "sign_in")
AUDIT_WINDOW_S = 60.0


class RateLimits:
    """The configured rates, and the counts of who used how much of them."""

    def __init__(self, settings: LimitSettings) -> None:
        self._limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
        self._rates: dict[tuple[str, str], RateLimitItem] = {}
        for bucket in BUCKETS:
            for kind, value in (
                ("caller", getattr(settings, bucket, "")),
                ("address", getattr(settings, f"{bucket}_per_address")),
            ):
                if value:
                    self._rates[(bucket, kind)] = parse(value)
        self.recorded = denials.Windows(AUDIT_WINDOW_S)  # which refusals to write

    def hit(self, bucket: str, kind: str, who: str) -> float | None:
        """Count one request of `who`; None when allowed, else seconds until it would be."""
        rate = self._rates.get((bucket, kind))
        if rate is None or self._limiter.hit(rate, bucket, kind, who):
            return None
        reset = self._limiter.get_window_stats(rate, bucket, kind, who).reset_time
        return max(1.0, reset - time.time())


def throttle(bucket: str, *, identified: bool = True) -> Any:
    """A dependency counting the request against `bucket` for its client address and (when
    `identified`: after authentication) its caller."""

    def by_address(request: Request) -> None:
        limits: RateLimits = request.app.state.rate_limits
        address = request.client.host if request.client else "unknown"
        if (wait := limits.hit(bucket, "address", address)) is not None:
            refuse(request, bucket, "address", address, wait, None)

    if not identified:
        return Depends(by_address)

    def by_caller(request: Request, principal: PrincipalDep) -> None:
        by_address(request)
        limits: RateLimits = request.app.state.rate_limits
        if (wait := limits.hit(bucket, "caller", principal.id)) is not None:
            refuse(request, bucket, "caller", principal.id, wait, principal)

    return Depends(by_caller)


def refuse(
    request: Request,
    bucket: str,
    kind: str,
    who: str,
    wait_s: float,
    principal: Principal | None,
) -> None:
    """Record the refusal (once per window and key) and raise the 429."""
    limits: RateLimits = request.app.state.rate_limits
    reason = f"{bucket}:{kind}"
    admitted = limits.recorded.admit((who, "request.throttled", reason), 429)
    if admitted is not None:
        route = request.scope.get("route")
        detail: dict[str, object] = {"status": 429, "route": getattr(route, "path", "unmatched")}
        if admitted[1]:
            detail.update(suppressed=admitted[1], window_s=AUDIT_WINDOW_S)
        with transaction(request.app.state.runtime.sessions) as db:
            audit.record(
                db,
                action="request.throttled",
                principal=principal,
                outcome="denied",
                reason=reason,
                detail=detail,
                context=denials.audit_context(request),
            )
    raise RateLimited(f"too many requests; retry in {wait_s:.0f} s", retry_after_s=wait_s)
