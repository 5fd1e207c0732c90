"""Issuing API keys: authorise every collection, record the key, audit it — one way for all."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from app import audit
from app.audit import AuditContext
from app.auth import api_keys
from app.db.models import ApiKey
from app.errors import Forbidden
from app.identity import Principal
from app.services import collections


def issue(
    *,
    db: Session,
    principal: Principal,
    pepper: bytes,
    collection_refs: Sequence[str],
    name: str,
    permissions: Sequence[str],
    expires_in_days: int,
    context: AuditContext | None = None,
) -> tuple[ApiKey, str]:
    """A key for collections `principal` administers; returns it with its one-time secret."""
    if principal.kind != "user":
        raise Forbidden("API keys are created by signed-in users, not by other keys")
    found = (
        collections.authorised(db=db, principal=principal, ref=ref, permission="keys")
        for ref in dict.fromkeys(collection_refs)
    )
    targets = list({c.id: c for c in found}.values())  # by id and by name: one link
    key, secret = api_keys.create(
        db,
        pepper=pepper,
        name=name,
        collection_ids=[c.id for c in targets],
        permissions=permissions,
        expires_in_days=expires_in_days,
        created_by=principal.id,
    )
    for target in targets:
        audit.record(
            db,
            action="api_key.create",
            principal=principal,
            collection_id=target.id,
            target=key.id,
            detail={
                "permissions": key.permissions.split(),
                "expires_at": key.expires_at.isoformat(),
                "via": principal.via,
            },
            context=context,
        )
    return key, secret
