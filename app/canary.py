"""The canary round trip of `enclave doctor`: a small made-up document goes through ingestion,
is found by a search, is erased, and the erasure's signed receipt is verified.

It runs as the local admin in the collection `enclave-doctor` (created once, left empty). The
embedded default indexes the canary in this process, as `enclave ingest` does (and so runs any
other queued job too); production waits for the deployment's `enclave worker` processes. The
upload and the erasure are audited, and the erasure is in the erasure log, like any other.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

from app import receipts
from app.db.models import Document
from app.db.session import transaction
from app.runtime import Runtime
from app.services import answers, collections, documents, local_admin, scopes

COLLECTION = "enclave-doctor"
FINAL = ("indexed", "failed")


class CanaryFailed(Exception):
    """A step of the round trip went wrong; the message is the sentence to show."""


def round_trip(runtime: Runtime, *, timeout_s: float = 120.0) -> str:
    """Ingest → search → erase → verify; returns what happened in a sentence."""
    marker = f"doctorcanary{uuid.uuid4().hex[:12]}"
    document_id = _ingest(runtime, marker, timeout_s)
    if document_id not in _found(runtime, marker):
        raise CanaryFailed(f"A search for the canary (document {document_id}) did not find it.")
    principal = local_admin.principal(sessions=runtime.sessions)
    signed = runtime.eraser.erase(
        document_id=document_id, reason="enclave doctor canary", principal=principal
    )
    try:
        receipt = receipts.verify(signed, runtime.eraser.key.public_key())
    except receipts.InvalidReceipt as exc:
        raise CanaryFailed(f"The canary's erasure receipt does not verify: {exc}.") from None
    if document_id in _found(runtime, marker):
        raise CanaryFailed(f"The canary (document {document_id}) is still found after erasure.")
    return (
        f"A canary document was indexed, found by search, erased, and its receipt verifies "
        f"(signed by {receipt['key_id']})."
    )


def _ingest(runtime: Runtime, marker: str, timeout_s: float) -> str:
    principal = local_admin.principal(sessions=runtime.sessions)
    with transaction(runtime.sessions) as db:
        target = collections.get_or_create(db=db, principal=principal, name=COLLECTION)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, f"{marker}.txt")
        path.write_text(
            f"Canary {marker}. This made-up note checks that Enclave indexes, finds and erases "
            "a document. It is erased as soon as it has been found.\n"
        )
        uploaded = documents.upload_files(
            sessions=runtime.sessions,
            collection=target,
            paths=[path],
            principal=principal,
            originals=runtime.originals,
            max_bytes=runtime.settings.server.max_upload_bytes,
        )
    if uploaded.failed:
        raise CanaryFailed(f"The canary upload was refused: {uploaded.failed[0][1]}.")
    (document_id,) = uploaded.queued
    if runtime.settings.mode == "embedded":
        runtime.worker().run_until_idle()
    document = _wait(runtime, document_id, timeout_s)
    if document.status != "indexed":
        raise CanaryFailed(
            f"The canary (document {document_id}) was not indexed: "
            f"{document.error or document.status}."
        )
    return document_id


def _wait(runtime: Runtime, document_id: str, timeout_s: float) -> Document:
    deadline = time.monotonic() + timeout_s
    while True:
        with runtime.sessions() as db:
            document = db.get_one(Document, document_id)
        if document.status in FINAL:
            return document
        if time.monotonic() > deadline:
            raise CanaryFailed(
                f"No worker indexed the canary within {timeout_s:.0f} s (it is {document.status}):"
                " are `enclave worker` processes running?"
            )
        time.sleep(0.5)


def _found(runtime: Runtime, marker: str) -> set[str]:
    """The documents a search for the marker finds in the canary collection."""
    principal = local_admin.principal(sessions=runtime.sessions)
    with runtime.sessions() as db:
        target = collections.authorised(
            db=db, principal=principal, ref=COLLECTION, permission="read"
        )
        scope = scopes.read_scope(db=db, principal=principal, collection_ids=[target.id])
    result = answers.search(
        retriever=runtime.retriever, sessions=runtime.sessions, scope=scope, query=marker, k=5
    )
    return {hit.chunk.document for hit in result.hits}
