"""The embedder whose vectors the index holds, recorded in the metadata database.

Query and document vectors compare only when one model made both. Models of the same size
(all-MiniLM-L6-v2 and multilingual-e5-small are both 384-dim, and so is a tuned MiniLM) would
mix without an error and rank by noise. So the first process that searches or ingests records
its embedder, every later one checks it, and a different one refuses to search or ingest
(503 `embedder_mismatch`, and `/readyz` reports the index down) until `enclave reembed` has
re-embedded the index with it and recorded it. An index made before the record existed is
claimed by the first embedder that opens it. Each index has its own record (`key_for`): the
embedded index, or a Qdrant collection by name, so a new collection can hold another model.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.db.models import IndexSetting
from app.db.session import transaction
from app.errors import EnclaveError
from retrieval.protocols import Embedder
from retrieval.settings import VectorStoreSettings


class EmbedderMismatch(EnclaveError):
    """The configured embedder is not the one the index was built with."""

    status_code = 503
    code = "embedder_mismatch"


def key_for(store: VectorStoreSettings) -> str:
    """The record's key for the index these settings open."""
    return f"embedder:{store.collection}" if store.kind == "qdrant" else "embedder:edge"


def identity(embedder: Embedder) -> str:
    """What must match: the model's name and its vector size."""
    return f"{embedder.name} ({embedder.dim}-dim)"


def recorded(sessions: sessionmaker[Session], key: str) -> str | None:
    """The embedder recorded for the index `key`, or None before any."""
    with sessions() as db:
        row = db.get(IndexSetting, key)
        return row.value if row else None


def verify(sessions: sessionmaker[Session], embedder: Embedder, key: str) -> None:
    """Record `embedder` as the index's when none is; raise EmbedderMismatch when another is."""
    found = recorded(sessions, key)
    if found is None:
        try:
            with transaction(sessions) as db:
                record(db, embedder, key)
            return
        except IntegrityError:  # another process claimed it first
            found = recorded(sessions, key)
    _compare(found, embedder)


def check(sessions: sessionmaker[Session], embedder: Embedder, key: str) -> None:
    """Raise EmbedderMismatch when the index records another embedder (records nothing)."""
    _compare(recorded(sessions, key), embedder)


def _compare(found: str | None, embedder: Embedder) -> None:
    mine = identity(embedder)
    if found is not None and found != mine:
        raise EmbedderMismatch(
            f"The index holds vectors of {found}, but this process is configured with {mine}. "
            "Configure the embedder the index was built with; to change models, run `enclave "
            "reembed` with the new one (it keeps the vector size) or ingest into a fresh data "
            "directory."
        )


def record(db: Session, embedder: Embedder, key: str) -> None:
    """Make `embedder` the index's, in the caller's transaction (`enclave reembed`'s swap)."""
    row = db.get(IndexSetting, key)
    if row is None:
        db.add(IndexSetting(key=key, value=identity(embedder)))
    else:
        row.value = identity(embedder)
