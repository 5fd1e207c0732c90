"""Issue 17, the parts beside the hostile suite: partial uploads left by a crash are wiped (at
start-up, and by an erasure), a saturated database pool or server answers a fast 503, and /docs and
/redoc load nothing from outside (real SQLite, qdrant-edge, uvicorn on loopback)."""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app import receipts
from app.db.session import transaction
from app.originals import PARTIAL_IDLE_S
from app.runtime import build_runtime
from app.services import collections, local_admin
from app.settings import DatabaseSettings, LimitSettings
from tests.integration.test_erasure import files_containing, person
from tests.support import create_api_key, fast_settings, live_server, sign_in, upload_text


def partial(originals: Path, text: str, *, age_s: float = 0.0) -> Path:
    """An upload temp file as a `kill -9` mid-upload leaves it."""
    originals.mkdir(parents=True, exist_ok=True)
    path = originals / f".upload-{uuid.uuid4().hex[:8]}"
    path.write_text(text)
    if age_s:
        then = time.time() - age_s
        os.utime(path, (then, then))
    return path


def test_partial_uploads_are_wiped_at_start_up(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data")
    canary = f"PARTIAL{uuid.uuid4().hex[:10]}"
    left = partial(settings.originals_dir, f"half a document: {canary}")
    with live_server(settings) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert not left.exists()
        assert files_containing(settings.data_dir, canary) == []


@pytest.mark.parametrize("fails_at", ["flush", "commit"])
def test_an_upload_the_database_did_not_record_leaves_no_file(
    tmp_path: Path, fails_at: str
) -> None:
    """The database goes away between storing the file and recording it (the INSERT, or the
    COMMIT, fails): no row names the file, so no erasure could find it; it must be gone."""
    runtime = build_runtime(fast_settings(tmp_path / "data"))
    try:
        admin = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            records = collections.create(db=db, name="records", admin_user_id=admin.id)
        canary = f"UNRECORDED{uuid.uuid4().hex[:10]}"
        hook = "before_flush" if fails_at == "flush" else "before_commit"

        def database_gone(*_: object) -> None:
            raise OperationalError("COMMIT", {}, Exception("server closed the connection"))

        event.listen(Session, hook, database_gone)
        try:
            with pytest.raises(OperationalError):
                upload_text(runtime, records, "r.md", f"# Record\n\n{canary}\n", by=admin)
        finally:
            event.remove(Session, hook, database_gone)
        assert list(runtime.settings.originals_dir.iterdir()) == []
        assert files_containing(runtime.settings.data_dir, canary) == []
        upload_text(runtime, records, "r.md", f"# Record\n\n{canary}\n")  # and later it works
        assert len(list(runtime.settings.originals_dir.iterdir())) == 1
    finally:
        runtime.close()


def test_an_erasure_wipes_idle_partial_uploads_and_verifies_none_is_left(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data")
    settings.erasure.query_grace_s = 0.0
    settings.ingestion.isolate_parsing = False
    runtime = build_runtime(settings)
    try:
        admin = local_admin.principal(sessions=runtime.sessions)
        with transaction(runtime.sessions) as db:
            records = collections.create(db=db, name="records", admin_user_id=admin.id)
        doc = upload_text(runtime, records, "p.md", "# Record\n\nA patient record.\n")
        runtime.worker().run_until_idle()
        canary = f"PARTIAL{uuid.uuid4().hex[:10]}"
        stale = partial(settings.originals_dir, canary, age_s=PARTIAL_IDLE_S + 60)
        live = partial(settings.originals_dir, "an upload streaming in now")
        officer = person(runtime, "compliance_officer")
        receipt = runtime.eraser.erase(document_id=doc, reason="T-1", principal=officer)
        body = receipts.verify(
            receipt, receipts.load_public_key(receipts.public_pem(runtime.eraser.key))
        )
        assert body["removed"]["partial_uploads"] == 1
        assert body["verification"]["partial_uploads_remaining"] == 0
        assert not stale.exists()
        assert live.exists()  # a live upload (written to recently) is not touched
        assert files_containing(settings.data_dir, canary) == []
    finally:
        runtime.close()


def test_a_saturated_database_pool_is_a_fast_503_with_retry_after(tmp_path: Path) -> None:
    settings = fast_settings(
        tmp_path / "data", database=DatabaseSettings(pool_size=2, pool_timeout_s=0.5)
    )
    runtime = build_runtime(settings)  # owned here, to hold its pool from outside
    try:
        with live_server(settings, runtime=runtime) as base:
            with httpx.Client(base_url=base, timeout=30) as admin:
                sign_in(admin, settings)
                assert admin.post("/v1/collections", json={"name": "alpha"}).status_code == 201
                key = create_api_key(admin, ["alpha"])
            caller = httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {key}"}, timeout=30
            )
            held = [runtime.engine.connect() for _ in range(2)]  # every pooled connection
            try:
                started = time.perf_counter()
                response = caller.post("/v1/search", json={"query": "x"})
                elapsed = time.perf_counter() - started
            finally:
                for connection in held:
                    connection.close()
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "1"
            assert response.json()["error"]["code"] == "upstream_unavailable"
            assert elapsed < 2.0
            assert caller.post("/v1/search", json={"query": "x"}).status_code == 200
            caller.close()
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def docs_base(tmp_path_factory: pytest.TempPathFactory):
    with live_server(fast_settings(tmp_path_factory.mktemp("docs"))) as base:
        yield base


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_docs_load_only_local_assets_under_a_strict_csp(docs_base: str, page: str) -> None:
    response = httpx.get(docs_base + page)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "unsafe-eval" not in csp
    html = response.text
    assert "<script>" not in html  # no inline script
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", html), "an outside URL"
    for asset in re.findall(r"(?:src|href)=\"(/[^\"]+)\"", html):
        got = httpx.get(docs_base + asset)
        assert got.status_code == 200, asset
        assert b"fonts.googleapis.com" not in got.content
        assert b"cdn.redoc.ly" not in got.content


def test_past_the_in_flight_cap_a_request_is_a_fast_503(tmp_path: Path) -> None:
    limits = LimitSettings(max_in_flight=1, body_timeout_s=3.0, retry_after_s=2)
    settings = fast_settings(tmp_path / "data", limits=limits)
    with live_server(settings) as base:
        url = urlsplit(base)
        with socket.create_connection((url.hostname, url.port)) as slow:
            slow.sendall(  # a body still coming in: the one request in flight
                b"POST /v1/search HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b'Content-Length: 100\r\n\r\n{"query": '
            )
            time.sleep(0.3)
            started = time.perf_counter()
            busy = httpx.get(f"{base}/healthz")
            elapsed = time.perf_counter() - started
        assert busy.status_code == 503, busy.text
        assert busy.headers["Retry-After"] == "2"
        assert busy.json()["error"]["code"] == "server_busy"
        assert elapsed < 1.0
        time.sleep(0.3)  # the slow request ended with its connection
        assert httpx.get(f"{base}/healthz").status_code == 200
