"""Authenticated callers reaching above their role: 403 where they can see the collection,
404 where they cannot; global endpoints refuse everyone without the global role."""

from __future__ import annotations

import pytest

from tests.security.conftest import World, assert_refused


def test_a_reader_cannot_upload_or_manage_its_collection(world: World):
    reader = world.user("card-staff", sub="reader-esc")
    upload = reader.post("/v1/collections/cardiology/documents", files={"file": ("x.txt", b"x")})
    assert_refused(upload, 403)
    member = {"kind": "group", "subject": "card-staff", "role": "collection_admin"}
    assert_refused(reader.post("/v1/collections/cardiology/members", json=member), 403)
    assert_refused(reader.get("/v1/collections/cardiology/members"), 403)
    body = {"name": "k", "collections": ["cardiology"]}
    assert_refused(reader.post("/v1/api-keys", json=body), 403)


def test_a_contributor_uploads_but_cannot_grant(world: World):
    contributor = world.user("onc-staff", sub="contrib-esc")
    upload = contributor.post(
        "/v1/collections/oncology/documents", files={"file": ("c.txt", b"contributed")}
    )
    assert upload.status_code == 202, upload.text
    member = {"kind": "user", "subject": "contrib-esc", "role": "collection_admin"}
    assert_refused(contributor.post("/v1/collections/oncology/members", json=member), 403)


@pytest.mark.parametrize("groups", [(), ("card-staff",), ("onc-staff",), ("dpo",)])
def test_only_platform_admins_create_collections_and_grant_global_roles(world: World, groups):
    caller = world.user(*groups, sub=f"esc-{'-'.join(groups) or 'none'}")
    assert_refused(caller.post("/v1/collections", json={"name": "shadow"}), 403)
    grant = {"kind": "group", "subject": "card-staff", "role": "platform_admin"}
    assert_refused(caller.post("/v1/role-bindings", json=grant), 403)
    assert_refused(caller.get("/v1/role-bindings"), 403)


def test_role_changes_apply_on_the_next_request(world: World):
    caller = world.user("lab-staff", sub="late-joiner")
    assert caller.get("/v1/collections").json() == []
    granted = world.admin.post(
        "/v1/collections/cardiology/members",
        json={"kind": "group", "subject": "lab-staff", "role": "reader"},
    )
    assert granted.status_code == 201, granted.text
    assert [c["name"] for c in caller.get("/v1/collections").json()] == ["cardiology"]
    removed = world.admin.delete(f"/v1/collections/cardiology/members/{granted.json()['id']}")
    assert removed.status_code == 204
    assert caller.get("/v1/collections").json() == []
    assert_refused(caller.get(f"/v1/documents/{world.documents['cardiology']}"), 404)


def test_a_binding_cannot_be_removed_through_another_collection(world: World):
    granted = world.admin.post(
        "/v1/collections/cardiology/members",
        json={"kind": "group", "subject": "cross-group", "role": "reader"},
    ).json()
    wrong = world.admin.delete(f"/v1/collections/oncology/members/{granted['id']}")
    assert_refused(wrong, 404)


def test_an_admin_cannot_revoke_their_own_admin_role(world: World):
    me = world.admin.get("/auth/me").json()
    listed = world.admin.get("/v1/collections/cardiology/members").json()
    (own,) = [m for m in listed if m["subject"] == me["id"] and m["role"] == "collection_admin"]
    refused = assert_refused(
        world.admin.delete(f"/v1/collections/cardiology/members/{own['id']}"), 409
    )
    assert "your own collection_admin role" in refused["message"]
    assert own in world.admin.get("/v1/collections/cardiology/members").json()
    assert "cardiology" in [c["name"] for c in world.admin.get("/v1/collections").json()]
    (platform,) = [
        b
        for b in world.admin.get("/v1/role-bindings").json()
        if b["subject"] == me["id"] and b["role"] == "platform_admin"
    ]
    assert_refused(world.admin.delete(f"/v1/role-bindings/{platform['id']}"), 409)


def test_a_role_granted_before_the_first_sign_in_applies_at_once(world: World):
    granted = world.admin.post(
        "/v1/collections/oncology/members",
        json={"kind": "user", "subject": "newcomer-7", "role": "reader"},
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["subject_kind"] == "subject"  # nobody by that name has signed in yet
    newcomer = world.user(sub="newcomer-7")
    assert [c["name"] for c in newcomer.get("/v1/collections").json()] == ["oncology"]
    listed = world.admin.get("/v1/collections/oncology/members").json()
    (now,) = [m for m in listed if m["id"] == granted.json()["id"]]
    assert now["subject_kind"] == "user"
