"""Zero retention, proved over a full session on the embedded default (real HTTP, SQLite,
qdrant-edge, the parser process, the worker): a canary in every question appears in no file
under the data directory, no temp file, no log line at any level, no output stream and no
metric (/metrics). A second canary inside an uploaded document lives only in the document
stores — until its erasure, after which no file holds it."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import pytest

from app import receipts
from app.logs import AllowListFormatter
from tests.integration.test_erasure import files_containing
from tests.support import fast_settings, live_server, sign_in, wait_indexed

DOCUMENT_STORES = ("index", "originals")  # where document text lives by design


class Captured(logging.Handler):
    """Every record any logger emits, formatted as the deployment formats it."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(AllowListFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        # and what a careless formatter would have shown: the raw message with its args
        self.lines.append(str(record.msg) + " " + repr(record.args))


def recent_temp_files_containing(since: float, text: str) -> list[str]:
    """Files in the temp dir written since `since` that contain `text` (files of other
    processes may come and go meanwhile)."""
    hits = []
    for folder, _dirs, names in os.walk(tempfile.gettempdir()):
        for name in names:
            path = Path(folder, name)
            try:
                if path.stat().st_mtime >= since and text.encode() in path.read_bytes():
                    hits.append(str(path))
            except OSError:
                continue
    return hits


@pytest.mark.slow
def test_a_full_session_leaves_no_trace_of_questions_and_erasure_removes_the_document(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    question_canary = f"QCANARY{uuid.uuid4().hex[:16]}"
    document_canary = f"DCANARY{uuid.uuid4().hex[:16]}"
    started = time.time()
    captured = Captured()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(captured)
    root.setLevel(logging.DEBUG)
    settings = fast_settings(tmp_path / "data")
    settings.erasure.query_grace_s = 0.2
    try:
        with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
            sign_in(http, settings)
            assert http.post("/v1/collections", json={"name": "wards"}).status_code == 201
            body = f"# Ward 7 protocol\n\nPatient {document_canary} is allergic to penicillin.\n"
            up = http.post(
                "/v1/collections/wards/documents",
                files={"file": ("ward7.md", body.encode(), "text/markdown")},
            )
            assert up.status_code == 202, up.text
            doc = up.json()["id"]
            assert wait_indexed(http, doc)["status"] == "indexed"

            question = f"Which patient is allergic? {question_canary}"
            found = http.post("/v1/search", json={"query": question})
            assert found.status_code == 200
            assert doc in {h["document_id"] for h in found.json()["hits"]}
            answered = http.post("/v1/answer", json={"question": question})
            assert answered.status_code == 200
            with http.stream(
                "POST", "/v1/answer", json={"question": question, "stream": True}
            ) as streamed:
                assert streamed.status_code == 200
                assert "event: done" in "".join(streamed.iter_text())
            chat = http.post(
                "/v1/chat/completions",
                json={"model": "enclave", "messages": [{"role": "user", "content": question}]},
            )
            assert chat.status_code == 200, chat.text
            # conversations: the client sends the earlier turns (canaries in each); none is kept
            history = [
                {"role": "user", "content": f"Tell me about {question_canary}-XJ-220"},
                {"role": "assistant", "content": f"The {question_canary}-XJ-220 is a pump."},
            ]
            follow_up = {"question": "Is that model allergic?", "history": history}
            turned = http.post("/v1/answer", json=follow_up)
            assert turned.status_code == 200, turned.text
            assert turned.json()["question"]["method"] == "rule"  # positive control: rewritten
            with http.stream("POST", "/v1/answer", json={**follow_up, "stream": True}) as again:
                assert "event: done" in "".join(again.iter_text())
            messages = [*history, {"role": "user", "content": "Which patient is it?"}]
            chat = http.post("/v1/chat/completions", json={"messages": messages, "stream": True})
            assert chat.status_code == 200, chat.text
            # requests failing on purpose, the canary in each
            too_long = http.post("/v1/search", json={"query": question * 200})
            assert too_long.status_code == 422
            assert question_canary not in too_long.text
            unknown = http.post(
                "/v1/search", json={"query": question, "collections": [question_canary]}
            )
            assert unknown.status_code == 404  # (naming the caller's own collection ref back)
            malformed = http.post(
                "/v1/answer",
                content=f'{{"question": "{question_canary}", '.encode(),
                headers={"content-type": "application/json"},
            )
            assert malformed.status_code == 422
            assert question_canary not in malformed.text
            subject = http.post("/v1/compliance/search", json={"identifier": question_canary})
            assert subject.status_code == 200
            assert subject.json() == []

            # metrics: counts under route templates and state names; no content, no ids, no user
            scraped = http.get("/metrics")
            assert scraped.status_code == 200
            assert 'route="/v1/answer"' in scraped.text, "positive control: the answers counted"
            me = http.get("/auth/me").json()
            identifying = [question_canary, document_canary, doc, "ward7", "wards"]
            identifying += [str(v) for k, v in me.items() if k in ("id", "name")]
            leaked = [value for value in identifying if value and value in scraped.text]
            assert leaked == [], leaked

            # the question canary: nowhere; the document canary: in the document stores only
            data = settings.data_dir
            assert files_containing(data, question_canary) == []
            holding = files_containing(data, document_canary)
            assert holding, "positive control: the document stores hold the document"
            assert all(p.split("/")[0] in DOCUMENT_STORES for p in holding), holding

            # erasure: the document canary leaves every file; the receipt verifies
            erased = http.post("/v1/erasures", json={"document_id": doc, "reason": "DSR-1"})
            assert erased.status_code == 200, erased.text
            key = http.get("/v1/erasures/public-key")
            assert key.status_code == 200
            receipts.verify(erased.json(), receipts.load_public_key(key.text))
            after = http.post("/v1/search", json={"query": f"allergic {document_canary}"})
            assert doc not in {h["document_id"] for h in after.json()["hits"]}
            assert files_containing(data, document_canary) == []
    finally:
        root.removeHandler(captured)
        root.setLevel(old_level)
    out, err = capfd.readouterr()
    assert captured.lines, "the capture saw the server's log records"
    for canary in (question_canary, document_canary):
        assert [line for line in captured.lines if canary in line] == []
        assert canary not in out
        assert canary not in err
    assert files_containing(settings.data_dir, question_canary) == []
    assert recent_temp_files_containing(started, question_canary) == []
    assert recent_temp_files_containing(started, document_canary) == []
