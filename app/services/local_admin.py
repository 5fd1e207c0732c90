"""The local admin: whoever runs the CLI or an eval on the data directory (they can read it
anyway), resolved like any other identity."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from app import rbac
from app.auth import users
from app.db.session import transaction
from app.identity import Principal


def principal(*, sessions: sessionmaker[Session]) -> Principal:
    """The local admin with its current roles (the user is created on first use)."""
    with transaction(sessions) as db:
        user = users.ensure_local_admin(db)
        return rbac.for_user(db, user=user, via="cli")
