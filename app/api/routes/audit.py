"""/v1/audit: the security trail for compliance officers and platform admins (no content in
it); export as JSON Lines. Also records the 401s and 403s the API answers."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse

from app import audit, denials
from app.api.deps import RuntimeDep, SessionDep, require_role
from app.api.errors import error_response
from app.denials import audit_context
from app.errors import EnclaveError, Forbidden, Unauthenticated
from app.identity import COMPLIANCE_OFFICER, PLATFORM_ADMIN, Principal
from app.services import compliance

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, require_role(COMPLIANCE_OFFICER, PLATFORM_ADMIN)]


class Filters:
    def __init__(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        action: str | None = Query(None, max_length=64),
        collection: str | None = Query(None, max_length=36, description="A collection id."),
        actor: str | None = Query(None, max_length=255, description="An actor id or e-mail."),
        outcome: Literal["ok", "denied"] | None = None,
        document: str | None = Query(None, max_length=36, description="A document id."),
    ) -> None:
        self.values: dict[str, Any] = {
            "since": utc(since),
            "until": utc(until),
            "action": action,
            "collection_id": collection,
            "actor": actor,
            "outcome": outcome,
            "document_id": document,
        }

    def detail(self) -> dict:
        return {k: str(v) for k, v in self.values.items() if v is not None}


@router.get("")
def read_events(
    auditor: Auditor,
    db: SessionDep,
    request: Request,
    runtime: RuntimeDep,
    filters: Annotated[Filters, Depends()],
    after: int = Query(
        0, ge=0, le=2**63 - 1, description="Return events with a larger id (paging)."
    ),
    limit: int = Query(100, ge=1, le=1000),
) -> list[dict[str, Any]]:
    """Events oldest first; page with `after` = the last id you got. `actor_label` names the
    actor as a person reads it (name and e-mail, or the API key's name)."""
    denials.flush(runtime.sessions, request.app.state.denials)  # counts of closed windows
    rows = audit.query(db, after_id=after, limit=limit, **filters.values)
    names = compliance.labels(db, {e.actor for e in rows if e.actor})
    audit.record(
        db,
        action="audit.read",
        principal=auditor,
        context=audit_context(request),
        detail=filters.detail(),
    )
    return [{**audit.as_dict(e), "actor_label": names.get(e.actor, "")} for e in rows]


@router.get("/actions")
def list_actions(_: Auditor) -> list[str]:
    """Every action the trail records (the values of the `action` filter)."""
    return sorted(audit.ACTIONS)


@router.get("/export", response_class=StreamingResponse)
def export_events(
    auditor: Auditor,
    db: SessionDep,
    request: Request,
    runtime: RuntimeDep,
    filters: Annotated[Filters, Depends()],
) -> StreamingResponse:
    """The whole (filtered) trail as JSON Lines, one event per line."""
    denials.flush(runtime.sessions, request.app.state.denials)
    audit.record(
        db,
        action="audit.export",
        principal=auditor,
        context=audit_context(request),
        detail=filters.detail(),
    )
    return StreamingResponse(
        audit.export_lines(runtime.sessions, **filters.values),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": 'attachment; filename="enclave-audit.jsonl"',
            "Cache-Control": "no-store",
        },
    )


def utc(value: datetime | None) -> datetime | None:
    """Times are stored in UTC: a naive filter is UTC, an aware one is converted."""
    if value is None:
        return None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def record_denials(app: FastAPI) -> None:
    """Every 401 and 403 becomes an `auth.denied` event (reason code, route, actor if known);
    those of unidentified callers are aggregated (`app.denials`)."""

    async def denied(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, EnclaveError)
        route = request.scope.get("route")
        try:
            denials.record(
                request,
                action="auth.denied",
                reason=str(getattr(exc, "reason", exc.code))[:64],
                status=exc.status_code,
                route=getattr(route, "path", "unmatched"),
            )
        except Exception:  # noqa: BLE001 - the refusal stands even if its record fails
            log.exception("audit.write_failed")
        return error_response(exc.status_code, str(exc), code=exc.code)

    app.add_exception_handler(Unauthenticated, denied)
    app.add_exception_handler(Forbidden, denied)
