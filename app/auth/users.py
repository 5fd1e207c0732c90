"""Users: provisioned on first sign-in (or first bearer token) from the OIDC claims; the
embedded default's local admin; the one-time sign-in links that let the local admin in."""

from __future__ import annotations

import secrets
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app import rbac
from app.auth.secrets import digest
from app.db.models import Collection, RoleBinding, User, as_utc, utcnow
from app.db.session import transaction
from app.identity import COMPLIANCE_OFFICER, LOCAL_ADMIN_SUBJECT, PLATFORM_ADMIN


def subject_of(issuer: str, sub: str) -> str:
    return f"{issuer}|{sub}"


def from_claims(db: Session, *, issuer: str, claims: dict) -> User:
    """The user a verified token names (`iss` + `sub`), created on first sight; the roles
    granted to them before (by e-mail or IdP subject) become theirs."""
    subject = subject_of(issuer, str(claims["sub"]))
    name = _text(claims.get("name") or claims.get("preferred_username") or claims.get("email"))
    email = _text(claims.get("email"))
    user = db.scalar(select(User).where(User.subject == subject))
    if user is None:
        try:
            with db.begin_nested():
                user = User(subject=subject, name=name, email=email)
                db.add(user)
        except IntegrityError:  # another request created it first
            user = db.scalars(select(User).where(User.subject == subject)).one()
    elif (name and user.name != name) or (email and user.email != email):
        user.name, user.email = name or user.name, email or user.email
    verified = claims.get("email_verified") is not False  # many IdPs do not send it
    rbac.claim_pending(db, user=user, sub=str(claims["sub"]), email_verified=verified)
    return user


def ensure_local_admin(db: Session) -> User:
    """The local admin: a platform admin and compliance officer (the embedded default's one
    operator handles erasure requests too). Created once; on creation it also administers every
    collection that exists already (a database from before sign-in existed)."""
    user = db.scalar(select(User).where(User.subject == LOCAL_ADMIN_SUBJECT))
    if user is not None:
        return user
    user = User(subject=LOCAL_ADMIN_SUBJECT, name="Local administrator", email="")
    db.add(user)
    db.flush()
    for role in (PLATFORM_ADMIN, COMPLIANCE_OFFICER):
        db.add(RoleBinding(subject_kind="user", subject=user.id, role=role, created_by="system"))
    for cid in db.scalars(select(Collection.id)):
        db.add(
            RoleBinding(
                subject_kind="user",
                subject=user.id,
                collection_id=cid,
                role="collection_admin",
                created_by="system",
            )
        )
    db.flush()
    return user


def issue_sign_in_token(db: Session, *, ttl_s: int) -> str:
    """A fresh one-time sign-in secret for the local admin (any earlier one stops working)."""
    user = ensure_local_admin(db)
    token = secrets.token_urlsafe(32)
    user.sign_in_token_hash = digest(token)
    user.sign_in_token_expires_at = utcnow() + timedelta(seconds=ttl_s)
    db.flush()
    return token


def redeem_sign_in_token(db: Session, token: str) -> User | None:
    """The local admin if `token` is its current, unexpired one-time secret; it is used up."""
    if not token:
        return None
    user = db.scalar(
        select(User).where(
            User.subject == LOCAL_ADMIN_SUBJECT, User.sign_in_token_hash == digest(token)
        )
    )
    if user is None or user.sign_in_token_expires_at is None:
        return None
    expired = as_utc(user.sign_in_token_expires_at) <= utcnow()
    user.sign_in_token_hash = None
    user.sign_in_token_expires_at = None
    db.flush()
    return None if expired or user.disabled else user


def _text(value: object) -> str:
    return str(value)[:255] if isinstance(value, str) else ""


def local_sign_in_link(sessions: sessionmaker[Session], *, base_url: str, ttl_s: int) -> str:
    """A fresh one-time link for the local admin (creating the local admin on first start)."""
    with transaction(sessions) as db:
        token = issue_sign_in_token(db, ttl_s=ttl_s)
    return f"{base_url.rstrip('/')}/auth/local?token={token}"
