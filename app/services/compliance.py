"""What a compliance officer may look up to find documents to erase: metadata across every
collection, and which documents mention a data subject's identifier — ids and titles only,
never content. The identifier is a query: it is neither logged nor stored."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import visibility
from app.db.models import ApiKey, Collection, Document, Erasure, User
from app.errors import NotFound
from retrieval.bm25 import BM25Encoder
from retrieval.protocols import VectorStore
from retrieval.types import Scope

MAX_PASSAGES = 1000  # passages scanned per identifier search


def erasures(db: Session, *, limit: int = 500) -> list[Erasure]:
    """The latest erasure requests, newest first."""
    return list(db.scalars(select(Erasure).order_by(Erasure.requested_at.desc()).limit(limit)))


def receipt(db: Session, *, erasure_id: str) -> dict:
    """The signed receipt of a completed erasure."""
    erasure = db.get(Erasure, erasure_id)
    if erasure is None or erasure.receipt is None:
        raise NotFound(f"no receipt for erasure {erasure_id!r}")
    return erasure.receipt


@dataclass(frozen=True)
class IdentifierMatch:
    document_id: str
    collection_id: str
    title: str
    passages: int


def find_documents(
    db: Session,
    *,
    title: str | None = None,
    uploaded_by: str | None = None,  # a user id, e-mail address or part of a name
    collection_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
) -> list[Document]:
    """Documents in every collection matching all the given filters, newest first."""
    q = select(Document).where(Document.status != "erasing")
    if title:
        q = q.where(
            or_(
                Document.title.icontains(title, autoescape=True),
                Document.filename.icontains(title, autoescape=True),
            )
        )
    if uploaded_by:
        people = select(User.id).where(
            or_(
                func.lower(User.email) == uploaded_by.lower(),
                User.name.icontains(uploaded_by, autoescape=True),
            )
        )
        q = q.where(or_(Document.uploaded_by == uploaded_by, Document.uploaded_by.in_(people)))
    if collection_id:
        q = q.where(Document.collection_id == collection_id)
    if since is not None:
        q = q.where(Document.created_at >= since)
    if until is not None:
        q = q.where(Document.created_at < until)
    return list(db.scalars(q.order_by(Document.created_at.desc()).limit(limit)))


def uploaders(db: Session, documents: Sequence[Document]) -> dict[str, str]:
    """Who uploaded each document, as a person reads it (`labels`), by the uploader id."""
    return labels(db, {d.uploaded_by for d in documents if d.uploaded_by})


def labels(db: Session, ids: set[str]) -> dict[str, str]:
    """People and API keys as a person reads them: a user's name and e-mail, an API key's
    name; by id (ids of people or keys since gone stay as they are)."""
    named = {i: i for i in ids}
    if ids:
        named |= {u.id: u.label for u in db.scalars(select(User).where(User.id.in_(ids)))}
        keys = db.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(ids)))
        named |= {key_id: f"API key {name}" for key_id, name in keys}
    return named


def find_identifier(
    db: Session, *, store: VectorStore, bm25: BM25Encoder, identifier: str, limit: int = 100
) -> list[IdentifierMatch]:
    """Documents, in any collection, with passages containing `identifier` (case-insensitive):
    a BM25 query across every collection finds candidates, the exact text check confirms."""
    sparse = bm25.encode_query(identifier)
    every = visibility.visible(db, Scope.of(db.scalars(select(Collection.id))))
    hits = store.query(scope=every, sparse=sparse, limit=MAX_PASSAGES)
    wanted = identifier.casefold()
    counts = Counter(h.chunk.document for h in hits if wanted in h.chunk.text.casefold())
    if not counts:
        return []
    docs = db.scalars(select(Document).where(Document.id.in_(counts))).all()
    found = [
        IdentifierMatch(d.id, d.collection_id, d.title, counts[d.id])
        for d in docs
        if d.status != "erasing"
    ]
    return sorted(found, key=lambda m: -m.passages)[:limit]
