"""Erasure on the Qdrant server path: the real erasure service (SQLite, originals, worker, hash
embedder) with the index behind qdrant-client's REST client, against `tests/qdrant_front.py`.

What this proves: the document's points are deleted by a filter on its collection and document,
the vacuum is requested after the delete, the verification counts what is left on the server
(0) and the receipt says so; the other document stays searchable. What it cannot prove: that a
real server vacuums the segments and lets its WAL roll over (deploy/README.md, "Erasure").
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import receipts
from app.db.models import Collection
from app.runtime import Runtime, build_runtime
from retrieval.settings import VectorStoreSettings
from tests.integration.test_erasure import person
from tests.qdrant_front import QdrantFront
from tests.support import fast_settings, new_collection, searched_documents, upload_text

POINTS = "/collections/enclave_chunks/points"


@pytest.fixture
def front() -> Iterator[QdrantFront]:
    f = QdrantFront()
    yield f
    f.stop()


@pytest.fixture
def runtime(tmp_path: Path, front: QdrantFront) -> Iterator[Runtime]:
    settings = fast_settings(
        tmp_path / "data", vector_store=VectorStoreSettings(kind="qdrant", url=front.url)
    )
    settings.erasure.query_grace_s = 0.0
    settings.ingestion.isolate_parsing = False
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def collection(runtime: Runtime) -> Collection:
    return new_collection(runtime, "records")


def test_erasure_deletes_by_filter_requests_the_vacuum_and_verifies_on_the_server(
    runtime: Runtime, collection: Collection, front: QdrantFront
) -> None:
    canary, kept = f"CANARY{uuid.uuid4().hex[:12]}", f"KEPT{uuid.uuid4().hex[:12]}"
    doc = upload_text(runtime, collection, "p.md", f"# Record\n\nThe patient id is {canary}.\n")
    other = upload_text(runtime, collection, "o.md", f"# Other\n\nUnrelated record {kept}.\n")
    runtime.worker().run_until_idle()
    assert doc in searched_documents(runtime, collection.id, canary)
    officer = person(runtime, "compliance_officer")
    before = len(front.requests)
    receipt = runtime.eraser.erase(document_id=doc, reason="GDPR-1", principal=officer)

    public = receipts.load_public_key(receipts.public_pem(runtime.eraser.key))
    body = receipts.verify(receipt, public)
    assert body["removed"]["index_points"] >= 1
    assert body["verification"]["index_points_remaining"] == 0
    assert "index_files_naming_document" not in body["verification"]  # no disk to scan here
    erasure = [(m, p, b) for m, p, b in front.requests[before:] if p.startswith("/collections/")]
    deleted = [i for i, (m, p, _) in enumerate(erasure) if p == f"{POINTS}/delete"]
    vacuum = [i for i, (m, _, _) in enumerate(erasure) if m == "PATCH"]
    assert len(deleted) == 1
    assert len(vacuum) == 1
    assert deleted[0] < vacuum[0]
    must = erasure[deleted[0]][2]["filter"]["must"]
    assert must[:2] == [
        {"key": "collection", "match": {"any": [collection.id]}},
        {"key": "document", "match": {"any": [doc]}},
    ]
    assert erasure[vacuum[0]][2] == {
        "optimizers_config": {"deleted_threshold": 0.0, "vacuum_min_vector_number": 100}
    }
    counted = [b for m, p, b in erasure[vacuum[0] :] if p == f"{POINTS}/count"]
    assert counted, "the verification counts on the server after the vacuum request"
    assert doc not in searched_documents(runtime, collection.id, canary)
    assert other in searched_documents(runtime, collection.id, kept)
    assert canary not in str(front.twin.scroll("enclave_chunks", limit=100, with_payload=True))
