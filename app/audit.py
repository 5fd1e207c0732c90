"""The audit trail: who did what, to which collection or document, when — never content.

Events are appended in the same transaction as the action they record (an upload and its event
commit together), or in their own transaction for refusals (the request's work rolls back, the
record of the refusal stays). The table is append-only in the database (triggers refuse UPDATE
and DELETE). Nothing here takes free text from a caller: no query, file name, token or key —
ids, role names and reason codes only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import AuditEvent, User
from app.db.session import transaction
from app.identity import Principal

# The actions recorded (a closed list, so an export reader knows every value it will meet).
ACTIONS = frozenset(
    {
        "auth.sign_in",
        "auth.sign_in_failed",
        "auth.sign_out",
        "auth.denied",  # a 401 or 403
        "request.throttled",  # a 429: over a rate limit (app.api.ratelimit)
        "api_key.create",
        "api_key.revoke",
        "role.grant",
        "role.revoke",
        "collection.create",
        "document.upload",
        "audit.read",
        "audit.export",
        "erasure.request",
        "erasure.complete",
    }
)


@dataclass(frozen=True)
class AuditContext:
    """Where an action came from: the request id and the client's address (no HTTP types)."""

    request_id: str | None = None
    client: str | None = None


def event(
    *,
    action: str,
    principal: Principal | None = None,
    actor: str | None = None,
    actor_kind: str | None = None,
    outcome: str = "ok",
    collection_id: str | None = None,
    document_id: str | None = None,
    target: str | None = None,
    reason: str | None = None,
    detail: dict | None = None,
    context: AuditContext | None = None,
    client: str | None = None,
) -> AuditEvent:
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEvent(
        action=action,
        actor=actor if actor is not None else (principal.id if principal else ""),
        actor_kind=actor_kind or (principal.kind if principal else "anonymous"),
        outcome=outcome,
        collection_id=collection_id,
        document_id=document_id,
        target=target,
        reason=reason,
        detail=detail,
        request_id=context.request_id if context else None,
        client=client or (context.client if context else None),
    )


def record(db: Session, **fields: object) -> None:
    """Append an event to `db`'s transaction: it commits (or not) with the action."""
    db.add(event(**fields))  # type: ignore[arg-type]


def record_now(sessions: sessionmaker[Session], **fields: object) -> None:
    """Append an event in its own transaction (refusals: the request's own work rolls back)."""
    with transaction(sessions) as db:
        record(db, **fields)


def query(
    db: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    action: str | None = None,
    collection_id: str | None = None,
    actor: str | None = None,
    outcome: str | None = None,
    document_id: str | None = None,
    after_id: int = 0,
    limit: int = 100,
) -> list[AuditEvent]:
    """Events in id order (oldest first), filtered; page with `after_id`. `actor` is an actor
    id or a user's e-mail (any case)."""
    q = select(AuditEvent).where(AuditEvent.id > after_id)
    if since is not None:
        q = q.where(AuditEvent.at >= since)
    if until is not None:
        q = q.where(AuditEvent.at < until)
    if action:
        q = q.where(AuditEvent.action == action)
    if collection_id:
        q = q.where(AuditEvent.collection_id == collection_id)
    if actor:
        by_email = select(User.id).where(func.lower(User.email) == actor.lower())
        q = q.where(or_(AuditEvent.actor == actor, AuditEvent.actor.in_(by_email)))
    if outcome:
        q = q.where(AuditEvent.outcome == outcome)
    if document_id:
        q = q.where(AuditEvent.document_id == document_id)
    return list(db.scalars(q.order_by(AuditEvent.id).limit(limit)))


def as_dict(e: AuditEvent) -> dict:
    return {
        "id": e.id,
        "at": e.at.isoformat(),
        "actor": e.actor,
        "actor_kind": e.actor_kind,
        "action": e.action,
        "outcome": e.outcome,
        "collection_id": e.collection_id,
        "document_id": e.document_id,
        "target": e.target,
        "reason": e.reason,
        "detail": e.detail,
        "request_id": e.request_id,
        "client": e.client,
    }


def export_lines(
    sessions: sessionmaker[Session], *, batch: int = 1000, **filters: object
) -> Iterator[str]:
    """Every matching event as JSON Lines, read in batches (the export can be large)."""
    after = 0
    while True:
        with sessions() as db:
            rows = query(db, after_id=after, limit=batch, **filters)  # type: ignore[arg-type]
            lines = [json.dumps(as_dict(e), ensure_ascii=False) + "\n" for e in rows]
        yield from lines
        if len(rows) < batch:
            return
        after = rows[-1].id
