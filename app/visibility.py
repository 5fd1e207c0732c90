"""Which index generations searches must not see, read from the metadata DB per request.

Points carry the id of the job (generation) that wrote them; only a document's live generation
is visible. Pending (being written), retired (replaced, failed, cancelled) and erasing ones are
hidden inside every index query, as a must-not on the generation field. The set stays small:
only documents in flux are in it.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import Document, Job
from retrieval.types import Scope

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
