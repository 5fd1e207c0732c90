"""ASGI middleware that counts requests and times them to the response's last byte.

Pure ASGI rather than `@app.middleware("http")`, so a streamed answer is timed until it ends,
not until its headers. The route label is the matched route's template ("/v1/documents/{id}"),
"unmatched" otherwise: never the path itself, which can hold ids or a query string.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class MetricsMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            metrics = _metrics(scope)
            if metrics is not None:
                route = getattr(scope.get("route"), "path", "unmatched")
                seconds = time.perf_counter() - started
                metrics.observe_request(scope["method"], route, status, seconds)

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                record()

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            record()  # a disconnect or an error before the last byte


def _metrics(scope: Scope) -> Any:
    app = scope.get("app")
    runtime = getattr(getattr(app, "state", None), "runtime", None)
    return getattr(runtime, "metrics", None)
