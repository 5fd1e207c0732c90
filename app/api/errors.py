"""One place that turns errors into HTTP responses with the `{"error": {...}}` envelope."""

from __future__ import annotations

import math

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import KNOWN_ERRORS, translate


def error_response(
    status: int, message: str, *, code: str, param: str | None = None, headers: dict | None = None
) -> JSONResponse:
    body = {"error": {"message": message, "type": code, "param": param, "code": code}}
    return JSONResponse(body, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def enclave_error(_request: Request, exc: Exception) -> JSONResponse:
        err = translate(exc)
        headers = {}
        retry_after = getattr(err, "retry_after_s", None)
        if retry_after:
            headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
        if err.status_code in (408, 413):  # a body may be left unread: do not wait for it
            headers["Connection"] = "close"
        return error_response(err.status_code, str(err), code=err.code, headers=headers or None)

    async def validation_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        first = exc.errors()[0] if exc.errors() else {}
        param = ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None
        # The message names the field and the rule, never echoes the submitted value.
        message = f"invalid request: {first.get('msg', 'malformed body')}"
        return error_response(422, message, code="invalid_request", param=param)

    async def http_error(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(exc.status_code, str(exc.detail), code="http_error")

    # OSError: a full disk is a 507 (`translate`); any other is still a 500, logged.
    for cls in (*KNOWN_ERRORS, PoolTimeout, OSError, Exception):
        app.add_exception_handler(cls, enclave_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
