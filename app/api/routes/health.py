"""/readyz (each dependency's state; 503 when one is not ready) and /metrics (Prometheus).

/healthz (liveness: the process answers) stays in app.main. /metrics is protected by a bearer
token (`ENCLAVE_METRICS__TOKEN`); without one it is served to loopback clients only in the
embedded default, and to no one in production.
"""

from __future__ import annotations

import hmac
from dataclasses import asdict
from ipaddress import ip_address

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.api.deps import RuntimeDep
from app.errors import NotFound, Unauthenticated
from app.readiness import readiness

router = APIRouter(include_in_schema=False)
RETRY_AFTER_S = 5  # what a 503 from /readyz tells a load balancer or client


@router.get("/readyz")
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    timeout_s = runtime.settings.metrics.readiness_timeout_s
    checks = await run_in_threadpool(readiness, runtime, timeout_s=timeout_s)
    body = {name: {**asdict(c), "sentence": c.sentence(name)} for name, c in checks.items()}
    down = [name for name, check in checks.items() if not check.ok]
    if not down:
        return JSONResponse({"status": "ready", "checks": body}, headers=_no_store())
    message = f"not ready: {', '.join(down)}"
    error = {"message": message, "type": "not_ready", "param": None, "code": "not_ready"}
    headers = {**_no_store(), "Retry-After": str(RETRY_AFTER_S)}
    return JSONResponse({"error": error, "checks": body}, status_code=503, headers=headers)


@router.get("/metrics")
def metrics(request: Request, runtime: RuntimeDep) -> Response:
    settings = runtime.settings
    if not settings.metrics.enabled:
        raise NotFound("metrics are disabled (ENCLAVE_METRICS__ENABLED=false)")
    token = settings.metrics.token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise Unauthenticated("metrics need the scrape token (Authorization: Bearer ...)")
    elif settings.mode == "production":
        raise NotFound("metrics need ENCLAVE_METRICS__TOKEN in production")
    elif not _loopback(request):
        raise NotFound("metrics without a token are served to loopback clients only")
    data = generate_latest(runtime.metrics.registry)
    return Response(data, media_type=CONTENT_TYPE_LATEST, headers=_no_store())


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store"}
