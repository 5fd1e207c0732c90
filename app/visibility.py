"""Which index generations searches must not see, read from the metadata DB per request.

Points carry the id of the job (generation) that wrote them; only a document's live generation
is visible. Pending (being written), retired (replaced, failed, cancelled) and erasing ones are
hidden inside every index query, as a must-not on the generation field. The set stays small:
only documents in flux are in it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import Document, Job
from retrieval.types import Hit, Scope

HIDDEN_STATES = ("pending", "retired")


def visible(db: Session, scope: Scope) -> Scope:
    """`scope`, hiding the generations in its collections that are not live."""
    if not scope.collections:
        return scope
    hidden = db.scalars(
        select(Job.id)
        .join(Document, Document.id == Job.document_id)
        .where(Job.index_state.in_(HIDDEN_STATES), Document.collection_id.in_(scope.collections))
    )
    return scope.hiding(hidden)


def drop_hidden(sessions: sessionmaker[Session], hits: Sequence[Hit]) -> list[Hit]:
    """The hits whose generation is still live, re-read after retrieval: a document hidden
    (erased, replaced) while the search ran is dropped before anything is returned."""
    generations = {h.chunk.generation for h in hits}
    if not generations:
        return []
    with sessions() as db:
        live = set(
            db.scalars(select(Job.id).where(Job.id.in_(generations), Job.index_state == "live"))
        )
    return [h for h in hits if h.chunk.generation in live]
