"""The FastAPI application: `create_app(settings)` wires routers, errors, logging and the worker."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware

from app import denials
from app.api.docs import install_docs
from app.api.errors import install_error_handlers
from app.api.instrument import MetricsMiddleware
from app.api.limits import RequestBounds
from app.api.ratelimit import RateLimits
from app.api.request_log import RequestLog
from app.api.routes import audit, auth, collections, erasures, keys, members, openai, search
from app.api.routes import health as health_routes
from app.auth import oidc, sessions, users
from app.auth.authenticate import Authenticator
from app.auth.secrets import derive
from app.identity import SYSTEM
from app.originals import PARTIAL_IDLE_S, Originals
from app.runtime import Runtime, build_runtime
from app.settings import Settings

log = logging.getLogger("enclave.http")
STATIC = Path(__file__).parent / "web" / "static"


def create_app(settings: Settings, *, runtime: Runtime | None = None) -> FastAPI:
    """The app; with `runtime` given (tests), the caller owns its lifecycle."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = runtime is None
        rt = runtime or build_runtime(settings)
        app.state.runtime = rt
        # The threads that run route handlers: as many as the database pool serves at once.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.server.threads
        if owned:
            # One process (embedded): any upload temp file is an interrupted upload's.
            idle_s = 0 if settings.mode == "embedded" else PARTIAL_IDLE_S
            Originals(settings.originals_dir).wipe_partials(idle_s=idle_s)
            if settings.local_admin:
                announce_local_sign_in(rt, settings)
            rt.warm_up()
            rt.eraser.replay(principal=SYSTEM)  # a restored backup loses what was erased since
            if settings.server.run_worker:
                rt.start_worker()
        try:
            yield
        finally:
            try:  # the counts of refusals still in open windows
                denials.flush(rt.sessions, app.state.denials, everything=True)
            except Exception:  # noqa: BLE001 - shutting down regardless
                log.exception("audit.write_failed")
            if owned:
                rt.close()

    app = FastAPI(
        title="Enclave",
        version="0.1.0",
        description="Sovereign retrieval-augmented generation over your organisation's documents.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    if runtime is not None:
        app.state.runtime = runtime
    app.state.authenticator = Authenticator(settings)
    app.state.oauth = oidc.make_oauth(settings.auth)
    app.state.upload_threads = anyio.CapacityLimiter(settings.server.upload_threads)
    app.state.rate_limits = RateLimits(settings.limits)
    window = settings.auth.denial_window_s
    app.state.denials = denials.Windows(window) if window > 0 else None
    install_error_handlers(app)
    audit.record_denials(app)
    for module in (auth, collections, search, openai, keys, members, audit, erasures):
        app.include_router(module.router)
    app.add_middleware(
        SessionMiddleware,
        secret_key=derive(settings.secret_key.get_secret_value(), "session-cookie").hex(),
        session_cookie=sessions.COOKIE,
        max_age=settings.auth.session_lifetime_s,
        same_site="lax",
        https_only=settings.cookie_secure,
    )
    limits = settings.limits
    app.add_middleware(
        RequestBounds,
        max_body_bytes=limits.max_body_kb * 1024,
        body_timeout_s=limits.body_timeout_s,
        max_in_flight=limits.max_in_flight,
        retry_after_s=limits.retry_after_s,
    )
    app.add_middleware(RequestLog)  # outermost: refusals of the bounds are logged too
    app.add_middleware(MetricsMiddleware)  # outermost: times each response to its last byte
    app.include_router(health_routes.router)  # /readyz, /metrics

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    for path, filename in PAGES.items():
        app.add_api_route(
            path, signed_in_page(filename), include_in_schema=False, response_model=None
        )

    @app.get("/signin", include_in_schema=False)
    def signin() -> FileResponse:
        return FileResponse(STATIC / "signin.html", headers={"Cache-Control": "no-store"})

    install_docs(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


# The web UI's pages (path -> file in static/); each needs a session, and each page's script
# shows only what the signed-in user's roles allow (the API refuses the rest anyway).
PAGES = {
    "/": "index.html",
    "/search": "search.html",
    "/admin": "admin.html",
    "/compliance": "compliance.html",
    "/documents": "documents.html",
}


def signed_in_page(filename: str) -> Callable[[Request], FileResponse | RedirectResponse]:
    """A route serving `filename` to a signed-in browser, and the sign-in page to anyone else."""

    def page(request: Request) -> FileResponse | RedirectResponse:
        with request.app.state.runtime.sessions() as db:
            signed_in = sessions.current(db, request) is not None
        if not signed_in:
            return RedirectResponse("/signin", status_code=303)
        return FileResponse(STATIC / filename, headers={"Cache-Control": "no-store"})

    return page


def announce_local_sign_in(runtime: Runtime, settings: Settings) -> None:
    """Print the local admin's one-time sign-in link on the console (never to the log)."""
    ttl = settings.auth.sign_in_link_ttl_s
    link = users.local_sign_in_link(runtime.sessions, base_url=settings.server.url, ttl_s=ttl)
    sys.stderr.write(
        f"\nSign in as the local admin (one-time link, valid {ttl // 60} min; "
        f"`enclave admin-link` makes another):\n  {link}\n\n"
    )
    sys.stderr.flush()
