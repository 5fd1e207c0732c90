"""Who is calling, and the `Scope` that follows from it, built on the server."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Collection
from retrieval.types import Scope


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    global_roles: frozenset[str] = frozenset()


LOCAL_ADMIN = Principal(
    id="local-admin", name="Local administrator", global_roles=frozenset({"platform_admin"})
)


def readable_scope(*, db: Session, principal: Principal) -> Scope:
    """The collections `principal` may read; empty (nothing) unless a rule grants access."""
    if "platform_admin" in principal.global_roles:
        return Scope.of(db.scalars(select(Collection.id)).all())
    return Scope(frozenset())
