"""Collections: named sets of documents, the unit of access control."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app.db.models import Collection, Document, RoleBinding
from app.errors import Conflict, Forbidden, InvalidRequest, NotFound
from app.identity import Permission, Principal
from retrieval.types import Scope

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def create(
    *, db: Session, name: str, description: str = "", admin_user_id: str | None = None
) -> Collection:
    """A new collection; `admin_user_id` (its creator) becomes its collection admin."""
    if not NAME_PATTERN.match(name):
        raise InvalidRequest(
            "collection names are 1-100 characters: lower-case letters, digits, '.', '_', '-'"
        )
    if db.scalar(select(Collection.id).where(Collection.name == name)):
        raise Conflict(f"a collection named {name!r} already exists")
    collection = Collection(name=name, description=description)
    db.add(collection)
    db.flush()
    if admin_user_id is not None:
        db.add(
            RoleBinding(
                subject_kind="user",
                subject=admin_user_id,
                collection_id=collection.id,
                role="collection_admin",
                created_by=admin_user_id,
            )
        )
        db.flush()
    return collection


UNCOUNTED = ("failed", "erasing")  # the web page counts the same way (app.js)


def list_visible(*, db: Session, scope: Scope) -> list[tuple[Collection, int]]:
    """Collections in scope with their document counts (failed uploads and documents being
    erased do not count), by name."""
    counts = (
        select(Document.collection_id, func.count(Document.id).label("n"))
        .where(Document.status.not_in(UNCOUNTED))
        .group_by(Document.collection_id)
        .subquery()
    )
    rows = db.execute(
        select(Collection, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.collection_id == Collection.id)
        .where(Collection.id.in_(scope.collections))
        .order_by(Collection.name)
    ).all()
    return [(row[0], int(row[1])) for row in rows]


def names(*, db: Session, ids: Iterable[str]) -> dict[str, str]:
    """Collection names by id (those that exist)."""
    rows = db.execute(select(Collection.id, Collection.name).where(Collection.id.in_(list(ids))))
    return dict(rows.all())


def get(*, db: Session, scope: Scope, ref: str) -> Collection:
    """A collection in scope by id or name; NotFound for both missing and out-of-scope."""
    collection = db.scalar(
        select(Collection).where(
            (Collection.id == ref) | (Collection.name == ref),
            Collection.id.in_(scope.collections),
        )
    )
    if collection is None:
        raise NotFound(f"collection {ref!r} not found")
    return collection


def get_many(*, db: Session, scope: Scope, refs: Sequence[str]) -> list[Collection]:
    """The collections in scope that `refs` name (ids or names; duplicates collapse), in one
    query; NotFound for the first one missing or out of scope."""
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return []
    found = db.scalars(
        select(Collection).where(
            or_(Collection.id.in_(wanted), Collection.name.in_(wanted)),
            Collection.id.in_(scope.collections),
        )
    ).all()
    known = {c.id for c in found} | {c.name for c in found}
    missing = next((ref for ref in wanted if ref not in known), None)
    if missing is not None:
        raise NotFound(f"collection {missing!r} not found")
    return list(found)


def authorised(
    *, db: Session, principal: Principal, ref: str, permission: Permission
) -> Collection:
    """A collection by id or name on which `principal` holds `permission`.

    Looked up only among the collections the principal may see (any permission; platform
    admins see all to manage them): otherwise NotFound, so existence does not leak; visible but
    without the permission: Forbidden.
    """
    query = select(Collection).where((Collection.id == ref) | (Collection.name == ref))
    if not principal.sees_every_collection:
        query = query.where(Collection.id.in_(principal.visible().collections))
    collection = db.scalar(query)
    if collection is None:
        raise NotFound(f"collection {ref!r} not found")
    if not principal.can(permission, collection.id):
        raise Forbidden(f"your role on collection {ref!r} does not allow this ({permission})")
    return collection


def get_or_create(*, db: Session, principal: Principal, name: str) -> Collection:
    """For the CLI: the named collection with write access, created when absent (the creator,
    a platform admin, becomes its collection admin)."""
    existing = db.scalar(select(Collection).where(Collection.name == name))
    if existing is None:
        if not principal.has_role("platform_admin"):
            raise Forbidden("creating a collection needs the platform_admin role")
        return create(db=db, name=name, admin_user_id=principal.id)
    return authorised(db=db, principal=principal, ref=name, permission="write")
