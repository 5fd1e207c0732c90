"""API keys: shown once, stored as a hash, confined to their collections and permissions,
dead the moment they are revoked or expire."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from app.db.models import ApiKey, utcnow
from app.db.session import make_engine, make_session_factory, transaction
from tests.security.conftest import World, assert_no_leak, assert_refused


def new_key(world: World, collections: list[str], permissions: list[str] | None = None) -> dict:
    body = {"name": "app", "collections": collections, "permissions": permissions or ["read"]}
    created = world.admin.post("/v1/api-keys", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def database(world: World):
    engine = make_engine(world.settings.database_url)
    return engine, make_session_factory(engine)


def test_the_secret_is_shown_once_and_stored_only_as_a_hash(world: World):
    created = new_key(world, ["cardiology"])
    secret = created["key"]
    listed = world.admin.get("/v1/api-keys")
    assert secret not in listed.text
    assert created["id"] in listed.text
    engine, sessions = database(world)
    try:
        with sessions() as db:
            row = db.scalars(select(ApiKey).where(ApiKey.id == created["id"])).one()
            assert secret not in (row.secret_hash, row.prefix, row.name)
    finally:
        engine.dispose()
    db_bytes = (world.settings.data_dir / "enclave.db").read_bytes()
    assert secret.encode() not in db_bytes


def test_a_read_key_reads_only_its_collection(world: World):
    key = world.client(new_key(world, ["cardiology"])["key"])
    assert [c["name"] for c in key.get("/v1/collections").json()] == ["cardiology"]
    assert key.get(f"/v1/documents/{world.documents['cardiology']}").status_code == 200
    onc = world.collections["oncology"]["id"]
    for path in [
        f"/v1/documents/{world.documents['oncology']}",
        f"/v1/chunks/{world.chunks['oncology']}",
        "/v1/collections/oncology/documents",
        f"/v1/collections/{onc}/documents",
    ]:
        assert_refused(key.get(path), 404)
    assert_refused(
        key.post("/v1/search", json={"query": "dosing", "collections": ["oncology"]}), 404
    )
    everything = key.post("/v1/search", json={"query": "dosing table protocol", "k": 50})
    assert_no_leak(everything)
    assert {h["collection_id"] for h in everything.json()["hits"]} == {
        world.collections["cardiology"]["id"]
    }


def test_a_key_on_the_openai_face_sees_only_its_collections(world: World):
    key = world.client(new_key(world, ["cardiology"])["key"])
    assert {m["id"] for m in key.get("/v1/models").json()["data"]} == {
        "enclave",
        "enclave:cardiology",
    }
    ask = {"model": "enclave:oncology", "messages": [{"role": "user", "content": "dosing table"}]}
    assert_refused(key.post("/v1/chat/completions", json=ask), 404)
    ask["model"] = "enclave"
    answer = key.post("/v1/chat/completions", json=ask)
    assert answer.status_code == 200
    assert_no_leak(answer)
    sources = answer.json()["enclave"]["sources"]
    assert sources
    assert {s["document_id"] for s in sources} == {world.documents["cardiology"]}


def test_a_read_key_cannot_write_and_no_key_can_administer(world: World):
    key = world.client(new_key(world, ["cardiology"])["key"])
    upload = key.post("/v1/collections/cardiology/documents", files={"file": ("x.txt", b"x")})
    assert_refused(upload, 403)
    assert_refused(key.post("/v1/collections", json={"name": "from-a-key"}), 403)
    mint = key.post("/v1/api-keys", json={"name": "child", "collections": ["cardiology"]})
    assert_refused(mint, 403)
    member = {"kind": "group", "subject": "x", "role": "reader"}
    assert_refused(key.post("/v1/collections/cardiology/members", json=member), 403)
    assert_refused(key.get("/v1/role-bindings"), 403)


def test_a_write_key_uploads_only_to_its_collection(world: World):
    key = world.client(new_key(world, ["oncology"], ["read", "write"])["key"])
    ok = key.post("/v1/collections/oncology/documents", files={"file": ("k.txt", b"via key")})
    assert ok.status_code == 202, ok.text
    other = key.post("/v1/collections/cardiology/documents", files={"file": ("k.txt", b"x")})
    assert_refused(other, 404)


def test_a_revoked_key_is_refused_on_its_next_request(world: World):
    created = new_key(world, ["cardiology"])
    key = world.client(created["key"])
    assert key.get("/v1/collections").status_code == 200
    revoked = world.admin.delete(f"/v1/api-keys/{created['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"]
    error = assert_refused(key.get("/v1/collections"), 401)
    assert error["message"] == "invalid or expired credentials"


def test_an_expired_key_is_refused(world: World):
    created = new_key(world, ["cardiology"])
    engine, sessions = database(world)
    try:
        with transaction(sessions) as db:
            db.execute(
                update(ApiKey)
                .where(ApiKey.id == created["id"])
                .values(expires_at=utcnow() - timedelta(seconds=1))
            )
    finally:
        engine.dispose()
    assert_refused(world.client(created["key"]).get("/v1/collections"), 401)


def test_keys_are_only_made_for_collections_one_administers(world: World):
    contributor = world.user("onc-staff", sub="onc-contributor")
    body = {"name": "mine", "collections": ["oncology"]}
    assert_refused(contributor.post("/v1/api-keys", json=body), 403)
    body["collections"] = ["cardiology"]
    assert_refused(contributor.post("/v1/api-keys", json=body), 404)
    assert contributor.get("/v1/api-keys").json() == []


@pytest.mark.parametrize("who", ["onc-staff", "card-staff", "dpo"])
def test_others_cannot_revoke_or_list_a_key(world: World, who: str):
    created = new_key(world, ["cardiology", "oncology"])
    outsider = world.user(who, sub=f"outsider-{who}")
    assert created["id"] not in outsider.get("/v1/api-keys").text
    assert_refused(outsider.delete(f"/v1/api-keys/{created['id']}"), 404)
    assert world.client(created["key"]).get("/v1/collections").status_code == 200
