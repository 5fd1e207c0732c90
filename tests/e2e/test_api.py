"""The REST API over real HTTP against the embedded default (real SQLite, qdrant-edge, worker)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from app.main import PAGES
from app.settings import ServerSettings, Settings
from tests.support import create_api_key, fast_settings, live_server, sign_in, wait_indexed

SAMPLES = Path(__file__).parents[2] / "samples"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory):
    settings = fast_settings(
        tmp_path_factory.mktemp("data"), server=ServerSettings(max_upload_mb=1)
    )
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as http:
        sign_in(http, settings)
        yield http


@pytest.fixture(scope="module")
def handbook(client: httpx.Client) -> dict:
    created = client.post("/v1/collections", json={"name": "handbook"})
    assert created.status_code == 201, created.text
    for name in ("pump-maintenance-manual.html", "infection-control-handbook.md"):
        with (SAMPLES / name).open("rb") as f:
            up = client.post("/v1/collections/handbook/documents", files={"file": (name, f)})
        assert up.status_code == 202, up.text
        assert wait_indexed(client, up.json()["id"])["status"] == "indexed"
    return created.json()


def sse_events(response: httpx.Response) -> list[tuple[str, dict]]:
    events, name = [], None
    for line in response.iter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            events.append((name, json.loads(line.removeprefix("data: "))))
    return events


def test_collections_are_listed_with_document_counts(client, handbook):
    listed = client.get("/v1/collections").json()
    assert [(c["name"], c["documents"]) for c in listed] == [("handbook", 2)]


def test_documents_are_listed_with_their_status(client, handbook):
    docs = client.get(f"/v1/collections/{handbook['id']}/documents").json()
    assert {d["filename"] for d in docs} == {
        "pump-maintenance-manual.html",
        "infection-control-handbook.md",
    }
    assert all(d["status"] == "indexed" and d["chunks_total"] > 0 for d in docs)


def test_search_finds_an_identifier_and_names_its_source(client, handbook):
    found = client.post(
        "/v1/search", json={"query": "XJ-220-MM3 torque", "collections": ["handbook"], "k": 3}
    )
    assert found.status_code == 200, found.text
    top = found.json()["hits"][0]
    assert top["title"] == "pump-maintenance-manual"
    assert "XJ-220-MM3" in top["text"]
    chunk = client.get(f"/v1/chunks/{top['chunk_id']}").json()
    assert chunk["text"] == top["text"]


@pytest.mark.parametrize(
    ("types", "titles"),
    [
        (["html"], {"pump-maintenance-manual"}),
        (["markdown"], {"infection-control-handbook"}),
        (["markdown", "html"], {"pump-maintenance-manual", "infection-control-handbook"}),
        (["pdf", "text"], set()),
    ],
)
def test_search_narrows_to_document_types_inside_the_query(client, handbook, types, titles):
    found = client.post("/v1/search", json={"query": "pump hand hygiene", "types": types})
    assert found.status_code == 200, found.text
    assert {h["title"] for h in found.json()["hits"]} == titles


def test_an_unknown_or_empty_type_list_is_refused(client, handbook):
    for types in (["exe"], []):
        refused = client.post("/v1/search", json={"query": "pump", "types": types})
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["message"]


def test_answer_as_json_cites_only_given_sources(client, handbook):
    answer = client.post(
        "/v1/answer", json={"question": "How is the battery replaced?", "collections": ["handbook"]}
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    given = {s["number"] for s in body["sources"]}
    assert body["citations"]
    assert set(body["citations"]) <= given
    assert body["model"]
    assert body["reranker"] == "overlap"


def test_answer_streams_sources_deltas_then_done(client, handbook):
    request = {"question": "Which precautions for tuberculosis?", "stream": True}
    with client.stream("POST", "/v1/answer", json=request) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "sources"
    assert names[-1] == "done"
    assert names.count("delta") >= 1
    assert "error" not in names
    sources = events[0][1]["sources"]
    assert all({"number", "chunk_id", "title", "section", "text"} <= s.keys() for s in sources)
    assert set(events[-1][1]["citations"]) <= {s["number"] for s in sources}


def test_same_bytes_again_are_recognised(client, handbook):
    with (SAMPLES / "infection-control-handbook.md").open("rb") as f:
        again = client.post("/v1/collections/handbook/documents", files={"file": ("copy.md", f)})
    assert again.status_code == 202
    assert again.json()["duplicate"] is True


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status"),
    [
        (
            "post",
            "/v1/search",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            422,
        ),
        ("post", "/v1/search", {"json": {"query": ""}}, 422),
        ("post", "/v1/search", {"json": {"query": "x", "collections": ["nope"]}}, 404),
        ("post", "/v1/collections", {"json": {"name": "Bad Name!"}}, 400),
        ("get", "/v1/documents/00000000-0000-0000-0000-000000000000", {}, 404),
        ("get", "/v1/chunks/not-a-chunk", {}, 404),
    ],
)
def test_bad_requests_get_a_clear_error_envelope(client, handbook, method, path, kwargs, status):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["message"]
    assert error["code"]


def test_empty_and_oversized_uploads_are_refused(client, handbook):
    empty = client.post("/v1/collections/handbook/documents", files={"file": ("e.txt", b"")})
    assert empty.status_code == 400
    big = client.post(
        "/v1/collections/handbook/documents", files={"file": ("big.txt", b"a" * (2 * 2**20))}
    )
    assert big.status_code == 413
    assert "limit" in big.json()["error"]["message"]


def test_corrupt_document_ends_failed_with_a_reason(client, handbook):
    up = client.post(
        "/v1/collections/handbook/documents",
        files={"file": ("broken.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 8)},
    )
    assert up.status_code == 202
    doc = wait_indexed(client, up.json()["id"])
    assert doc["status"] == "failed"
    assert doc["error"].startswith("corrupt PDF")  # the technical reason, for admins
    assert doc["error_code"] == "damaged"
    assert doc["error_message"].startswith("This file is damaged and could not be read.")


def test_a_documents_chunks_are_listed_in_reading_order(client, handbook):
    docs = client.get(f"/v1/collections/{handbook['id']}/documents").json()
    manual = next(d for d in docs if d["filename"] == "pump-maintenance-manual.html")
    listed = client.get(f"/v1/documents/{manual['id']}/chunks").json()
    chunks = listed["chunks"]
    assert [c["position"] for c in chunks] == list(range(manual["chunks_total"]))
    assert listed["next_offset"] is None
    assert all(c["document_id"] == manual["id"] and c["text"] for c in chunks)
    assert any(c["section"] for c in chunks)
    # A page at a time, with where the next page starts; past the end, nothing.
    one = client.get(f"/v1/documents/{manual['id']}/chunks?offset=0&limit=1").json()
    assert [c["chunk_id"] for c in one["chunks"]] == [chunks[0]["chunk_id"]]
    assert one["next_offset"] == 1
    past = client.get(f"/v1/documents/{manual['id']}/chunks?offset={len(chunks)}").json()
    assert past == {"chunks": [], "next_offset": None}
    # Each is the chunk a citation opens.
    assert client.get(f"/v1/chunks/{chunks[0]['chunk_id']}").json()["text"] == chunks[0]["text"]


def test_another_collections_document_chunks_are_not_found(client, handbook):
    other = client.post("/v1/collections", json={"name": "elsewhere"})
    assert other.status_code == 201, other.text
    up = client.post(
        "/v1/collections/elsewhere/documents",
        files={"file": ("secret.md", b"# Secret\n\nThe vault code is 0451.")},
    )
    assert wait_indexed(client, up.json()["id"])["status"] == "indexed"
    handbook_doc = client.get(f"/v1/collections/{handbook['id']}/documents").json()[0]["id"]
    reader = {"Authorization": f"Bearer {create_api_key(client, ['handbook'])}"}
    with httpx.Client(base_url=client.base_url, timeout=30) as anyone:
        hidden = anyone.get(f"/v1/documents/{up.json()['id']}/chunks", headers=reader)
        assert hidden.status_code == 404
        assert "0451" not in hidden.text
        assert anyone.get(f"/v1/documents/{handbook_doc}/chunks", headers=reader).status_code == 200
        assert anyone.get("/v1/documents/nope/chunks", headers=reader).status_code == 404
        assert anyone.get(f"/v1/documents/{handbook_doc}/chunks").status_code == 401


@pytest.mark.slow
def test_embedded_default_answers_with_real_models(tmp_path):
    """MiniLM embeddings, qdrant-edge, SmolLM2 on llama.cpp: upload → search → streamed answer."""
    settings = Settings(data_dir=tmp_path)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=300) as http:
        sign_in(http, settings)
        http.post("/v1/collections", json={"name": "samples"}).raise_for_status()
        for path in sorted(SAMPLES.glob("*.*")):
            if path.name == "README.md":
                continue
            with path.open("rb") as f:
                up = http.post("/v1/collections/samples/documents", files={"file": (path.name, f)})
            assert wait_indexed(http, up.json()["id"], timeout_s=300)["status"] == "indexed"
        hits = http.post(
            "/v1/search", json={"query": "How long must passwords be?", "k": 3}
        ).json()["hits"]
        assert hits[0]["title"] == "it-onboarding"
        # the README's tour question: "error code" and "XJ-220" are in the headings only
        question = "What does error code E31 mean on the XJ-220 pump?"
        with http.stream("POST", "/v1/answer", json={"question": question, "stream": True}) as r:
            events = sse_events(r)
        names = [name for name, _ in events]
        assert names[0] == "sources", names
        assert names[-1] == "done", names
        text = "".join(data["text"] for name, data in events if name == "delta")
        assert "E31 indicates a failed battery" in text
        sources = {s["number"]: s["title"] for s in events[0][1]["sources"]}
        cited = events[-1][1]["citations"]
        assert {sources[n] for n in cited} == {"pump-maintenance-manual"}


def test_openai_sdk_lists_models_and_gets_a_cited_answer(client, handbook):
    """An internal app on the official OpenAI SDK talks to Enclave unchanged."""
    from openai import OpenAI

    sdk = OpenAI(
        base_url=str(client.base_url).rstrip("/") + "/v1",
        api_key=create_api_key(client, ["handbook"]),
        max_retries=0,
    )
    assert {"enclave", "enclave:handbook"} <= {m.id for m in sdk.models.list()}
    reply = sdk.chat.completions.create(
        model="enclave:handbook",
        messages=[{"role": "user", "content": "What does E77 mean?"}],
    )
    assert reply.choices[0].message.content
    meta = reply.model_extra["enclave"]
    assert set(meta["citations"]) <= {s["number"] for s in meta["sources"]}
    stream = sdk.chat.completions.create(
        model="enclave", messages=[{"role": "user", "content": "hand hygiene"}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text


def test_openai_endpoint_rejects_unknown_models(client, handbook):
    response = client.post(
        "/v1/chat/completions",
        json={"model": "gpt-4", "messages": [{"role": "user", "content": "x"}]},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_request"


def test_requests_without_credentials_are_refused(client, handbook):
    with httpx.Client(base_url=client.base_url) as anonymous:
        for method, path in [
            ("get", "/v1/collections"),
            ("post", "/v1/search"),
            ("get", f"/v1/collections/{handbook['id']}/documents"),
            ("get", "/v1/models"),
            ("get", "/auth/me"),
        ]:
            response = getattr(anonymous, method)(path)
            assert response.status_code == 401, (path, response.text)
            assert response.json()["error"]["code"] == "unauthenticated"
        for path in PAGES:  # every page of the web UI
            page = anonymous.get(path)
            assert page.status_code == 303, path
            assert page.headers["location"] == "/signin"


def test_state_changes_with_the_cookie_need_the_csrf_token(client, handbook):
    token = client.headers.pop("X-CSRF-Token")
    try:
        refused = client.post("/v1/collections", json={"name": "csrf-probe"})
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["error"]["message"]
        assert client.get("/v1/collections").status_code == 200  # reads need no token
    finally:
        client.headers["X-CSRF-Token"] = token
