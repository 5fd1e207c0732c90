"""Per-document erasure on the embedded stack (real SQLite, real qdrant-edge, real parser
process): the document is unsearchable, its bytes are gone from every file under the data
directory, the receipt verifies, and ingestion or queries running meanwhile change nothing."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from app import erasure_log, rbac, receipts
from app.db.models import AuditEvent, Collection, Document, Erasure, Job, RoleBinding, User
from app.db.session import transaction
from app.errors import Forbidden, NotFound
from app.identity import Principal
from app.runtime import Runtime, build_runtime
from app.services import collections, local_admin
from retrieval.types import Scope
from tests.support import fast_settings, new_collection, searched_documents, upload_text

ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be")


def files_containing(root: Path, text: str) -> list[str]:
    """Every file under `root` holding `text` in any encoding the stores might use."""
    needles = [text.encode(e) for e in ENCODINGS] + [text.lower().encode(), text.upper().encode()]
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = fast_settings(tmp_path / "data")
    settings.ingestion.embed_batch_size = 2
    settings.erasure.query_grace_s = 0.2
    settings.ingestion.isolate_parsing = False  # the parser process: tests/e2e/test_zero_retention
    rt = build_runtime(settings)
    yield rt
    rt.close()


@pytest.fixture
def collection(runtime: Runtime) -> Collection:
    return new_collection(runtime, "records")


def person(runtime: Runtime, role: str, collection: Collection | None = None) -> Principal:
    with transaction(runtime.sessions) as db:
        user = User(subject=f"test|{uuid.uuid4()}", name=role)
        db.add(user)
        db.flush()
        db.add(
            RoleBinding(
                subject_kind="user",
                subject=user.id,
                role=role,
                collection_id=collection.id if collection else None,
            )
        )
        db.flush()
        return rbac.for_user(db, user=user)


def upload(runtime: Runtime, collection: Collection, name: str, text: str, by=None) -> str:
    return upload_text(runtime, collection, name, text, by=by)


def search(runtime: Runtime, collection: Collection, query: str) -> list[str]:
    return searched_documents(runtime, collection.id, query)


def test_erasure_leaves_no_byte_of_the_document_and_signs_a_receipt(runtime, collection) -> None:
    canary, kept = f"CANARY{uuid.uuid4().hex[:12]}", f"KEPTCANARY{uuid.uuid4().hex[:8]}"
    doc = upload(
        runtime, collection, "patient.md", f"# Patient record\n\nThe patient id is {canary}.\n"
    )
    other = upload(runtime, collection, "other.md", f"# Other\n\nUnrelated record {kept}.\n")
    runtime.worker().run_until_idle()
    assert doc in search(runtime, collection, canary)
    data = runtime.settings.data_dir
    assert files_containing(data, canary), "positive control: the stores hold the canary"

    officer = person(runtime, "compliance_officer")
    receipt = runtime.eraser.erase(document_id=doc, reason="GDPR-2026-0042", principal=officer)

    assert doc not in search(runtime, collection, canary)  # (a)
    assert files_containing(data, canary) == []  # (b) SQLite + WAL, index segments, originals
    assert files_containing(data, kept)  # the other document is untouched
    assert other in search(runtime, collection, kept)
    public = receipts.load_public_key(receipts.public_pem(runtime.eraser.key))
    body = receipts.verify(receipt, public)  # (c)
    assert body["document_id"] == doc
    assert body["collection_id"] == collection.id
    assert body["reason"] == "GDPR-2026-0042"  # the request's reference, signed with the rest
    assert body["removed"]["index_points"] >= 1
    assert body["removed"]["originals"] == 1
    assert body["verification"]["index_points_remaining"] == 0
    assert body["verification"]["index_files_naming_document"] == 0
    assert canary not in str(receipt)
    # the log holds the same receipt; the audit trail records request and completion
    assert list(erasure_log.entries(runtime.settings.erasure_log_path)) == [receipt]
    with runtime.sessions() as db:
        actions = db.scalars(
            select(AuditEvent.action).where(AuditEvent.document_id == doc).order_by(AuditEvent.id)
        ).all()
        assert actions[-2:] == ["erasure.request", "erasure.complete"]
        assert db.get(Document, doc) is None
        assert db.scalars(select(Job).where(Job.document_id == doc)).all() == []
    # idempotent: asking again returns the same receipt
    assert runtime.eraser.erase(document_id=doc, reason="again", principal=officer) == receipt


def test_a_replaced_version_leaves_no_byte_of_the_old_one(runtime, collection) -> None:
    old, new = f"OLDCANARY{uuid.uuid4().hex[:12]}", f"NEWCANARY{uuid.uuid4().hex[:12]}"
    doc = upload(runtime, collection, "record.md", f"# Record\n\nThe patient id is {old}.\n")
    runtime.worker().run_until_idle()
    data = runtime.settings.data_dir
    assert files_containing(data, old), "positive control: the stores hold the old version"
    again = upload(runtime, collection, "record.md", f"# Record\n\nThe patient id is {new}.\n")
    assert again == doc  # the same document, a new version
    worker = runtime.worker()
    worker.run_until_idle()  # indexes the new version, retires the old one
    worker.sweep(grace=timedelta(0))  # the retired generation's grace is over
    assert doc in search(runtime, collection, new)
    assert files_containing(data, old) == []  # original (zeroed), index segments and WAL
    assert files_containing(data, new)


def test_a_tampered_receipt_or_another_key_fails_verification(runtime, collection) -> None:
    doc = upload(runtime, collection, "a.txt", "some record text here")
    runtime.worker().run_until_idle()
    receipt = runtime.eraser.erase(
        document_id=doc, reason="case 1", principal=person(runtime, "compliance_officer")
    )
    public = receipts.load_public_key(receipts.public_pem(runtime.eraser.key))
    tampered = {**receipt, "receipt": {**receipt["receipt"], "document_id": str(uuid.uuid4())}}
    with pytest.raises(receipts.InvalidReceipt, match="altered"):
        receipts.verify(tampered, public)
    stranger = receipts.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(receipts.InvalidReceipt, match="not by the given key"):
        receipts.verify(receipt, stranger)


def test_erase_timed_reports_every_step_and_no_timings_in_the_receipt(runtime, collection) -> None:
    doc = upload(runtime, collection, "t.txt", "a record to time")
    runtime.worker().run_until_idle()
    officer = person(runtime, "compliance_officer")
    erased = runtime.eraser.erase_timed(document_id=doc, reason="case 2", principal=officer)
    steps = ("hide", "wait_ingestion", "delete_points", "purge", "wipe_originals", "delete_rows")
    steps += ("compact_database", "verify", "byte_scan", "query_grace", "sign", "record")
    assert set(erased.timings_ms) == {*steps, "total"}
    assert sum(erased.timings_ms[s] for s in steps) <= erased.timings_ms["total"]
    assert erased.timings_ms["total"] >= 1000 * runtime.settings.erasure.query_grace_s
    assert "timings" not in str(erased.receipt)
    again = runtime.eraser.erase_timed(document_id=doc, reason="again", principal=officer)
    assert again.receipt == erased.receipt
    assert again.timings_ms == {}


def test_only_compliance_erases_and_only_uploader_or_admin_deletes(runtime, collection) -> None:
    contributor = person(runtime, "contributor", collection)
    reader = person(runtime, "reader", collection)
    doc = upload(runtime, collection, "c.txt", "contributed text", by=contributor)
    admins = upload(runtime, collection, "d.txt", "admin's text")
    runtime.worker().run_until_idle()
    with pytest.raises(Forbidden):
        runtime.eraser.erase(document_id=doc, reason="x", principal=contributor)
    with pytest.raises(Forbidden):
        runtime.eraser.erase(document_id=doc, reason="x", principal=reader, kind="deletion")
    with pytest.raises(Forbidden):
        runtime.eraser.erase(document_id=admins, reason="x", principal=contributor, kind="deletion")
    outsider = person(runtime, "reader")  # no grant on this collection at all
    with pytest.raises(NotFound):
        runtime.eraser.erase(document_id=doc, reason="x", principal=outsider, kind="deletion")
    runtime.eraser.erase(document_id=doc, reason="mine", principal=contributor, kind="deletion")
    with runtime.sessions() as db:
        assert db.get(Document, doc) is None
        assert db.get(Document, admins) is not None


def test_erasure_during_ingestion_ends_with_nothing_left(runtime, collection) -> None:
    canary = f"RACE{uuid.uuid4().hex[:12]}"
    text = "".join(
        f"Paragraph {i} mentions {canary} and pump maintenance.\n\n" for i in range(1500)
    )
    doc = upload(runtime, collection, "big.txt", text)
    runtime.start_worker()
    deadline = time.monotonic() + 120
    while True:
        with runtime.sessions() as db:
            if db.get_one(Document, doc).chunks_done > 0:
                break
        assert time.monotonic() < deadline, "ingestion did not start"
        time.sleep(0.05)
    receipt = runtime.eraser.erase(
        document_id=doc, reason="race", principal=person(runtime, "compliance_officer")
    )
    time.sleep(0.5)  # the worker carries on with other work, if any
    assert receipt["receipt"]["verification"]["index_points_remaining"] == 0
    assert runtime.store.count(scope=Scope.of([collection.id]), document=doc) == 0
    assert doc not in search(runtime, collection, canary)
    assert files_containing(runtime.settings.data_dir, canary) == []


def test_no_query_returns_the_document_after_the_receipt(runtime, collection) -> None:
    canary = f"LIVE{uuid.uuid4().hex[:12]}"
    doc = upload(runtime, collection, "q.txt", f"Record of {canary} in the ward.")
    upload(runtime, collection, "r.txt", f"Another record near {canary[:4]} in the ward.")
    runtime.worker().run_until_idle()
    results: list[tuple[float, float, list[str]]] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            began = time.monotonic()
            found = search(runtime, collection, f"{canary} ward record")
            results.append((began, time.monotonic(), found))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    runtime.eraser.erase(
        document_id=doc, reason="concurrent", principal=person(runtime, "compliance_officer")
    )
    receipt_at = time.monotonic()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert any(doc in found for _, _, found in results), "the queries saw it before"
    late = [found for _, ended, found in results if ended > receipt_at]
    assert late
    assert all(doc not in found for found in late)


def test_an_interrupted_erasure_is_completed_by_asking_again(runtime, collection) -> None:
    doc = upload(runtime, collection, "i.txt", "interrupted record")
    runtime.worker().run_until_idle()
    officer = person(runtime, "compliance_officer")
    eraser = runtime.eraser
    purge = eraser.store.purge
    eraser.store.purge = lambda: (_ for _ in ()).throw(OSError("disk full"))  # type: ignore[method-assign]
    with pytest.raises(OSError, match="disk full"):
        eraser.erase(document_id=doc, reason="first try", principal=officer)
    eraser.store.purge = purge  # type: ignore[method-assign]
    assert doc not in search(runtime, collection, "interrupted record")  # hidden meanwhile
    receipt = eraser.erase(document_id=doc, reason="second try", principal=officer)
    with runtime.sessions() as db:
        erasures = db.scalars(select(Erasure)).all()
    assert [e.state for e in erasures] == ["completed"]
    assert receipt["receipt"]["request_id"] == erasures[0].id


@pytest.mark.postgres
def test_erasure_on_postgresql_leaves_no_row_and_no_result(tmp_path: Path, postgres_url) -> None:
    """Production's metadata DB: the rows go, VACUUM runs, searches return nothing of it."""
    from sqlalchemy import text

    from app.settings import DatabaseSettings

    settings = fast_settings(tmp_path / "data", database=DatabaseSettings(url=postgres_url))
    settings.ingestion.isolate_parsing = False
    settings.erasure.query_grace_s = 0
    rt = build_runtime(settings)
    try:
        admin = local_admin.principal(sessions=rt.sessions)
        with transaction(rt.sessions) as db:
            records = collections.create(
                db=db, name="records", description="", admin_user_id=admin.id
            )
        canary = f"PGCANARY{uuid.uuid4().hex[:12]}"
        doc = upload(rt, records, "pg.txt", f"Subject {canary} moved wards.")
        rt.worker().run_until_idle()
        assert doc in search(rt, records, canary)
        signed = rt.eraser.erase(
            document_id=doc, reason="DSR-PG", principal=person(rt, "compliance_officer")
        )
        assert signed["receipt"]["verification"]["database"] == "postgresql"
        assert doc not in search(rt, records, canary)
        with rt.engine.connect() as conn:
            for table, column in (("documents", "id"), ("jobs", "document_id")):
                count = conn.execute(
                    text(f"SELECT count(*) FROM {table} WHERE {column} = :d"), {"d": doc}
                ).scalar_one()
                assert count == 0, table
            vacuumed = conn.execute(
                text("SELECT last_vacuum FROM pg_stat_user_tables WHERE relname = 'documents'")
            ).scalar_one()
            assert vacuumed is not None
        assert files_containing(settings.data_dir, canary) == []  # index and originals
    finally:
        rt.close()
