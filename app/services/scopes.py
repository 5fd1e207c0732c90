"""The read scope: the one way every caller (API, CLI, evals) learns what it may search."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.orm import Session

from app import visibility
from app.identity import Principal
from retrieval.types import Scope


def read_scope(
    *, db: Session, principal: Principal, collection_ids: Iterable[str] | None = None
) -> Scope:
    """The collections `principal` may read (only those of `collection_ids` when given: it can
    narrow, never widen), with every index generation that is not live hidden."""
    scope = principal.scope("read")
    if collection_ids is not None:
        scope = scope.narrowed_to(collection_ids)
    return visibility.visible(db, scope)
