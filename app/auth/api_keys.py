"""Enclave API keys: for internal apps; scoped to collections and permissions; expiring.

A key is `enclave_` + 256 random bits (base64url). It is shown once, at creation; the database
keeps only HMAC-SHA256(pepper, key), the pepper derived from the server secret, so a copy of the
database is not a copy of the keys. Keys are high-entropy, so a fast keyed hash is the standard
choice (a password hash would add latency to every request and no security). Revocation sets
`revoked_at`; every request re-reads the key, so it takes effect on the next one.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.auth.secrets import derive, digest
from app.db.models import ApiKey, ApiKeyCollection, as_utc, utcnow
from app.errors import InvalidRequest, NotFound, Unauthenticated
from app.identity import Principal

PREFIX = "enclave_"
PERMISSIONS = ("read", "write")
MAX_DAYS = 366


class InvalidKey(Unauthenticated):
    """Every failure reads the same to the caller; `reason` is for the audit trail only."""

    def __init__(self, reason: str) -> None:
        super().__init__("invalid or expired credentials")
        self.reason = reason


def pepper_from(server_secret: str) -> bytes:
    """The key of the stored HMAC: derived from the server secret, never stored."""
    return derive(server_secret, "api-key-pepper")


def looks_like_key(token: str) -> bool:
    return token.startswith(PREFIX)


def create(
    db: Session,
    *,
    pepper: bytes,
    name: str,
    collection_ids: Sequence[str],
    permissions: Sequence[str],
    expires_in_days: int,
    created_by: str,
) -> tuple[ApiKey, str]:
    """Record a key; returns it with its secret (the only time the secret exists in clear)."""
    perms = sorted(set(permissions))
    if not perms or set(perms) - set(PERMISSIONS):
        raise InvalidRequest(f"permissions must be a non-empty subset of {list(PERMISSIONS)}")
    if "write" in perms and "read" not in perms:
        perms = ["read", "write"]  # uploading implies seeing the collection
    if not collection_ids:
        raise InvalidRequest("an API key needs at least one collection")
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidRequest(f"expires_in_days must be between 1 and {MAX_DAYS}")
    secret = PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        name=name,
        prefix=secret[: len(PREFIX) + 4],
        secret_hash=digest(secret, pepper),
        permissions=" ".join(perms),
        created_by=created_by,
        expires_at=utcnow() + timedelta(days=expires_in_days),
    )
    key.collections = [ApiKeyCollection(collection_id=c) for c in sorted(set(collection_ids))]
    db.add(key)
    db.flush()
    return key, secret


def authenticate(db: Session, *, pepper: bytes, secret: str, now: datetime | None = None) -> ApiKey:
    key = db.scalar(select(ApiKey).where(ApiKey.secret_hash == digest(secret, pepper)))
    if key is None:
        raise InvalidKey("unknown_key")
    if key.revoked_at is not None:
        raise InvalidKey("revoked_key")
    if as_utc(key.expires_at) <= (now or utcnow()):
        raise InvalidKey("expired_key")
    return key


def manageable(db: Session, *, principal: Principal) -> list[ApiKey]:
    """Keys on a collection where `principal` may manage keys, or that it created."""
    admin_of = [c for c in principal.grants if principal.can("keys", c)]
    touching = select(ApiKeyCollection.api_key_id).where(
        ApiKeyCollection.collection_id.in_(admin_of)
    )
    return list(
        db.scalars(
            select(ApiKey)
            .where(or_(ApiKey.id.in_(touching), ApiKey.created_by == principal.id))
            .order_by(ApiKey.created_at)
        )
    )


def revoke(db: Session, *, principal: Principal, key_id: str) -> ApiKey:
    """Revoke a key the principal may manage; NotFound for any other (existence stays hidden)."""
    key = next((k for k in manageable(db, principal=principal) if k.id == key_id), None)
    if key is None:
        raise NotFound(f"API key {key_id!r} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        key.revoked_by = principal.id
        db.flush()
    return key
