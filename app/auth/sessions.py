"""Browser sessions: a signed, HttpOnly, SameSite=Lax cookie that carries a random session id
and a CSRF token; the server keeps the session (sha256 of the id) so logout and expiry are
immediate and a stolen database holds no usable cookie.

The cookie is Starlette's `SessionMiddleware` (itsdangerous, HMAC-signed with a key derived
from the server secret). It holds no token and no content. During an OIDC sign-in, authlib
also keeps the state, nonce and PKCE verifier in it until the callback.

CSRF: a cookie-authenticated request that changes state must send the session's token in the
`X-CSRF-Token` header (the page reads it from /auth/me); a cross-site form cannot. Requests
with a bearer token carry no ambient credential and need no token.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session
from starlette.requests import Request

from app.auth.secrets import digest
from app.db.models import User, UserSession, utcnow
from app.errors import Forbidden

COOKIE = "enclave_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfRejected(Forbidden):
    def __init__(self) -> None:
        super().__init__("missing or wrong CSRF token: send the X-CSRF-Token header")
        self.reason = "csrf"


def start(
    db: Session, request: Request, *, user: User, groups: list[str], via: str, lifetime_s: int
) -> None:
    """Sign `user` in on this browser: a fresh session id (no fixation) and CSRF token."""
    end(db, request)
    db.execute(  # this user's dead sessions are of no further use
        delete(UserSession).where(
            UserSession.user_id == user.id,
            or_(UserSession.expires_at <= utcnow(), UserSession.revoked_at.is_not(None)),
        )
    )
    session_id = secrets.token_urlsafe(32)
    db.add(
        UserSession(
            id_hash=digest(session_id),
            user_id=user.id,
            groups=groups,
            via=via,
            expires_at=utcnow() + timedelta(seconds=lifetime_s),
        )
    )
    user.last_sign_in_at = utcnow()
    request.session.clear()
    request.session.update({"sid": session_id, "csrf": secrets.token_urlsafe(32)})


def current(db: Session, request: Request) -> tuple[UserSession, User] | None:
    """The live session and its (enabled) user, or None."""
    session_id = request.session.get("sid") if "session" in request.scope else None
    if not isinstance(session_id, str):
        return None
    row = db.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(
            UserSession.id_hash == digest(session_id),
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > utcnow(),
            User.disabled.is_(False),
        )
    ).first()
    return (row[0], row[1]) if row else None


def end(db: Session, request: Request) -> None:
    """Revoke this browser's session (if any) and clear the cookie."""
    if "session" not in request.scope:
        return
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        db.execute(
            update(UserSession)
            .where(UserSession.id_hash == digest(session_id))
            .values(revoked_at=utcnow())
        )
    request.session.clear()


def csrf_token(request: Request) -> str | None:
    token = request.session.get("csrf") if "session" in request.scope else None
    return token if isinstance(token, str) else None


def check_csrf(request: Request) -> None:
    """Refuse a state-changing, cookie-authenticated request without the session's token."""
    if request.method in SAFE_METHODS:
        return
    expected = csrf_token(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not expected or not hmac.compare_digest(expected.encode(), sent.encode()):
        raise CsrfRejected()
