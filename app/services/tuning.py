"""Embedder tuning on a collection (`enclave tune`): its chunks, read as the caller may read
them, and the checksum manifest of the model it produces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import model_check
from app.db.models import Collection, Document, Job
from app.identity import Principal
from app.services import collections, scopes
from app.settings import Settings
from ingestion.pipeline import chunk_id
from retrieval.protocols import VectorStore
from retrieval.types import Chunk


def collection_chunks(
    *, sessions: sessionmaker[Session], store: VectorStore, principal: Principal, ref: str
) -> tuple[Collection, list[Chunk]]:
    """The live chunks of collection `ref`, on which `principal` must be a collection admin
    (the tuned model changes how every search of the collection ranks)."""
    with sessions() as db:
        found = collections.authorised(db=db, principal=principal, ref=ref, permission="members")
        scope = scopes.read_scope(db=db, principal=principal, collection_ids=[found.id])
        rows = db.execute(
            select(Document.id, Document.chunks_total, Job.id)
            .join(Job, Job.document_id == Document.id)
            .where(Document.collection_id == found.id, Job.index_state == "live")
            .order_by(Document.id)
        ).all()
    ids = [chunk_id(doc, job, p) for doc, total, job in rows for p in range(total)]
    return found, store.get(scope=scope, ids=ids) if ids else []


def tuned_settings(settings: Settings, model_dir: Path, manifest: Path) -> Settings:
    """`settings` with the embedder pointed at the tuned MiniLM-style directory."""
    embedder = settings.embedder.model_copy(update={"kind": "minilm", "model_path": model_dir})
    models = settings.models.model_copy(update={"manifest": manifest})
    return settings.model_copy(update={"embedder": embedder, "models": models})


def write_manifest(settings: Settings, model_dir: Path, path: Path, source: str) -> None:
    """A checksum manifest (the format `enclave bundle` writes and every process checks) of
    every model the settings load once the embedder is the tuned one; written atomically."""
    tuned = tuned_settings(settings, model_dir, path)
    models: dict[str, Any] = {}
    for model in model_check.models_in_use(tuned):
        origin = f"package {model.package}" if model.package else "configured"
        models[model.name] = {
            "role": model.role,
            "source": source if model.role == "embedder" else origin,
            "configured_path": str(model.path),
            "files": model_check.digest(model.path),
        }
    body = {"format": model_check.MANIFEST_FORMAT, "models": models}
    fresh = path.with_name(path.name + ".new")
    fresh.write_text(json.dumps(body, indent=2, sort_keys=True) + "\n")
    fresh.replace(path)
