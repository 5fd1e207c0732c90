"""Collections: named sets of documents, the unit of access control."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db.models import Collection, Document
from app.errors import Conflict, InvalidRequest, NotFound
from retrieval.types import Scope

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")


def create(*, db: Session, name: str, description: str = "") -> Collection:
    if not NAME_PATTERN.match(name):
        raise InvalidRequest(
            "collection names are 1-100 characters: lower-case letters, digits, '.', '_', '-'"
        )
    if db.scalar(select(Collection.id).where(Collection.name == name)):
        raise Conflict(f"a collection named {name!r} already exists")
    collection = Collection(name=name, description=description)
    db.add(collection)
    db.flush()
    return collection


def list_visible(*, db: Session, scope: Scope) -> list[tuple[Collection, int]]:
    """Collections in scope with their document counts, by name."""
    counts = (
        select(Document.collection_id, func.count(Document.id).label("n"))
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


def get_or_create(*, db: Session, scope: Scope, name: str) -> Collection:
    """For the CLI: the named collection, created when absent (needs create rights upstream)."""
    existing = db.scalar(select(Collection).where(Collection.name == name))
    if existing is None:
        return create(db=db, name=name)
    if existing.id not in scope.collections:
        raise NotFound(f"collection {name!r} not found")
    return existing
