"""A cardiology reader (an OIDC access token in the `card-staff` group) tries to reach oncology
by every door: ids, names, body, path, query string, the OpenAI face. Objects outside the scope
are 404 — the same 404 as objects that do not exist — and no oncology content comes back."""

from __future__ import annotations

import uuid

import pytest

from tests.security.conftest import (
    CARDIO_CANARY,
    ONCO_CANARY,
    World,
    assert_no_leak,
    assert_refused,
)


@pytest.fixture
def reader(world: World):
    return world.user("card-staff", sub="cardiologist")


def test_reader_reads_its_own_collection(world: World, reader):
    assert reader.get(f"/v1/documents/{world.documents['cardiology']}").status_code == 200
    chunk = reader.get(f"/v1/chunks/{world.chunks['cardiology']}")
    assert CARDIO_CANARY in chunk.json()["text"]
    listed = reader.get(f"/v1/documents/{world.documents['cardiology']}/chunks")
    assert CARDIO_CANARY in listed.json()["chunks"][0]["text"]


def test_reader_downloads_its_collections_originals_as_files_only(world: World, reader):
    got = reader.get(f"/v1/documents/{world.documents['cardiology']}/original")
    assert got.status_code == 200
    assert CARDIO_CANARY in got.text  # the file as uploaded
    assert got.headers["content-disposition"].startswith("attachment;")  # never rendered here
    assert got.headers["content-type"] == "application/octet-stream"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert_refused(
        world.client().get(f"/v1/documents/{world.documents['cardiology']}/original"), 401
    )


def test_another_collections_document_chunk_and_citation_by_id(world: World, reader):
    onc = world.collections["oncology"]["id"]
    for path in [
        f"/v1/documents/{world.documents['oncology']}",
        f"/v1/documents/{world.documents['oncology']}/original",
        f"/v1/chunks/{world.chunks['oncology']}",  # what a citation opens
        f"/v1/documents/{world.documents['oncology']}/chunks",
        f"/v1/documents/{world.documents['oncology']}/chunks?offset=0&limit=200",
        f"/v1/collections/{onc}/documents",
        "/v1/collections/oncology/documents",
    ]:
        assert_refused(reader.get(path), 404)


def test_out_of_scope_looks_exactly_like_missing(world: World, reader):
    hidden = reader.get(f"/v1/documents/{world.documents['oncology']}").json()["error"]
    missing_id = str(uuid.uuid4())
    missing = reader.get(f"/v1/documents/{missing_id}").json()["error"]
    assert hidden["message"].replace(world.documents["oncology"], "X") == missing[
        "message"
    ].replace(missing_id, "X")
    assert hidden["code"] == missing["code"]


@pytest.mark.parametrize("ref", ["oncology", "ONCOLOGY", "oncology ", "*", "%"])
def test_searching_another_collection_in_the_body(world: World, reader, ref: str):
    for path, body in [
        ("/v1/search", {"query": "dosing table", "collections": [ref]}),
        ("/v1/search", {"query": "dosing table", "collections": ["cardiology", ref]}),
        ("/v1/answer", {"question": "dosing table?", "collections": [ref]}),
    ]:
        assert_refused(reader.post(path, json=body), 404)


def test_searching_another_collection_by_id_in_the_body(world: World, reader):
    onc = world.collections["oncology"]["id"]
    body = {"query": ONCO_CANARY, "collections": [onc]}
    assert_refused(reader.post("/v1/search", json=body), 404)


def test_searching_another_collection_in_the_path(world: World, reader):
    onc = world.collections["oncology"]["id"]
    for ref in ("oncology", onc):
        assert_refused(reader.get(f"/v1/collections/{ref}/documents"), 404)
        upload = reader.post(
            f"/v1/collections/{ref}/documents", files={"file": ("x.txt", b"planted")}
        )
        assert_refused(upload, 404)
        assert_refused(reader.get(f"/v1/collections/{ref}/members"), 404)


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/search", {"query": f"{ONCO_CANARY} dosing table", "k": 50}),
        ("/v1/answer", {"question": f"{ONCO_CANARY} dosing table?"}),
        (
            "/v1/chat/completions",
            {"model": "enclave", "messages": [{"role": "user", "content": "dosing table"}]},
        ),
    ],
)
def test_searching_another_collection_in_the_query_string(world: World, reader, path, body):
    onc = world.collections["oncology"]["id"]
    response = reader.post(
        f"{path}?collections=oncology&collections={onc}&scope={onc}&collection_id={onc}"
        "&model=enclave:oncology",
        json=body,
    )
    assert response.status_code == 200
    assert_no_leak(response)
    found = response.json()
    if path == "/v1/search":
        hits = found["hits"]
    elif path == "/v1/answer":
        hits = found["sources"]
    else:
        hits = found["enclave"]["sources"]
    assert hits  # cardiology still answers
    assert {h["document_id"] for h in hits} == {world.documents["cardiology"]}


def test_widening_fields_in_the_body_are_rejected(world: World, reader):
    for extra in ({"scope": ["oncology"]}, {"collection_ids": ["oncology"]}):
        body = {"query": "dosing table", **extra}
        assert_refused(reader.post("/v1/search", json=body), 422)


def test_a_type_filter_never_widens_the_scope(world: World, reader):
    body = {"query": f"{ONCO_CANARY} dosing table", "k": 50, "types": ["markdown", "text"]}
    found = reader.post("/v1/search", json=body)
    assert found.status_code == 200
    assert_no_leak(found)
    assert {h["document_id"] for h in found.json()["hits"]} == {world.documents["cardiology"]}
    nobody = world.user("unmapped-group", sub="outsider")
    assert nobody.post("/v1/search", json=body).json()["hits"] == []


def test_the_openai_face_is_scoped_too(world: World, reader):
    models = {m["id"] for m in reader.get("/v1/models").json()["data"]}
    assert models == {"enclave", "enclave:cardiology"}
    request = {"model": "enclave:oncology", "messages": [{"role": "user", "content": "dosing"}]}
    assert_refused(reader.post("/v1/chat/completions", json=request), 404)
    request["model"] = "enclave"
    answer = reader.post("/v1/chat/completions", json=request)
    assert answer.status_code == 200
    assert_no_leak(answer)
    sources = answer.json()["enclave"]["sources"]
    assert sources
    assert all(s["document_id"] == world.documents["cardiology"] for s in sources)


def test_listing_is_limited_to_the_scope(world: World, reader):
    listed = reader.get("/v1/collections")
    assert [c["name"] for c in listed.json()] == ["cardiology"]
    assert_no_leak(listed)
    me = reader.get("/auth/me").json()
    assert [c["name"] for c in me["collections"]] == ["cardiology"]
    assert me["collections"][0]["permissions"] == ["read"]


def test_an_empty_scope_returns_nothing(world: World):
    nobody = world.user("unmapped-group", sub="outsider")
    assert nobody.get("/v1/collections").json() == []
    assert {m["id"] for m in nobody.get("/v1/models").json()["data"]} == {"enclave"}
    found = nobody.post("/v1/search", json={"query": f"{ONCO_CANARY} {CARDIO_CANARY}"})
    assert found.status_code == 200
    assert found.json()["hits"] == []
    answer = nobody.post("/v1/answer", json={"question": "dosing table?"})
    assert answer.status_code == 200
    assert answer.json()["sources"] == []
    assert_no_leak(answer)
    assert CARDIO_CANARY not in answer.text
    for name in ("cardiology", "oncology"):
        assert_refused(nobody.get(f"/v1/documents/{world.documents[name]}"), 404)
        assert_refused(nobody.get(f"/v1/chunks/{world.chunks[name]}"), 404)


def test_a_compliance_officer_reads_no_content(world: World):
    officer = world.user("dpo", sub="dpo-1")
    assert officer.get("/v1/collections").json() == []
    found = officer.post("/v1/search", json={"query": ONCO_CANARY})
    assert found.json()["hits"] == []
    assert_refused(officer.get(f"/v1/chunks/{world.chunks['oncology']}"), 404)


def test_a_platform_admin_without_a_role_reads_no_content(world: World):
    world.admin.post(
        "/v1/role-bindings", json={"kind": "group", "subject": "it-ops", "role": "platform_admin"}
    ).raise_for_status()
    ops = world.user("it-ops", sub="ops-1")
    assert ops.get("/v1/collections").json() == []
    assert ops.post("/v1/search", json={"query": ONCO_CANARY}).json()["hits"] == []
    assert_refused(ops.get(f"/v1/documents/{world.documents['oncology']}"), 404)
    # ... but it may see and manage members: existence is no secret to a platform admin
    assert ops.get("/v1/collections/oncology/members").status_code == 200
    upload = ops.post("/v1/collections/oncology/documents", files={"file": ("x.txt", b"x")})
    assert_refused(upload, 403)
