"""The FastAPI application: `create_app(settings)` wires routers, errors, logging and the worker."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from app.api.errors import install_error_handlers
from app.api.routes import collections, openai, search
from app.runtime import Runtime, build_runtime
from app.settings import Settings

log = logging.getLogger("enclave.http")
REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
STATIC = Path(__file__).parent / "web" / "static"


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    """The app; with `runtime` given (tests), the caller owns its lifecycle."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        if owned:
            rt.warm_up()
            if settings.server.run_worker:
                rt.start_worker()
        try:
            yield
        finally:
            if owned:
                rt.close()

    app = FastAPI(
        title="Enclave",
        version="0.1.0",
        description="Sovereign retrieval-augmented generation over your organisation's documents.",
        lifespan=lifespan,
    )
    if runtime is not None:
        app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(collections.router)
    app.include_router(search.router)
    app.include_router(openai.router)
    app.middleware("http")(log_requests)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


async def log_requests(request: Request, call_next) -> Response:  # type: ignore[no-untyped-def]
    """One structured line per request: route template, status, latency — never the URL's query."""
    request_id = request.headers.get("x-request-id", "")
    if not REQUEST_ID.fullmatch(request_id):  # a caller's header is logged only if it is an id
        request_id = uuid.uuid4().hex
    started = time.perf_counter()
    status = 500
    try:
        response = await call_next(request)
        status = response.status_code
        response.headers["x-request-id"] = request_id
        return response
    finally:
        route = request.scope.get("route")
        log.info(
            "http.request",
            extra={
                "request_id": request_id,
                "method": request.method,
                "route": getattr(route, "path", "unmatched"),
                "status": status,
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
