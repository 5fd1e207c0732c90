"""Erasure and deletion over HTTP: only compliance officers erase, only the uploader or a
collection admin deletes, and a refusal names no content and changes nothing."""

from __future__ import annotations

from tests.security.conftest import World, assert_refused


def test_erasing_without_the_compliance_role_is_refused(world: World):
    document = world.documents["cardiology"]
    body = {"document_id": document, "reason": "DSR-9"}
    for caller in (
        world.user("card-staff", sub="erase-reader"),
        world.user("onc-staff", sub="erase-outsider"),
        world.user(sub="erase-nobody"),
    ):
        assert_refused(caller.post("/v1/erasures", json=body), 403)
        assert_refused(caller.get("/v1/erasures"), 403)
        assert_refused(caller.post("/v1/compliance/search", json={"identifier": "ECG"}), 403)
        assert_refused(caller.get("/v1/compliance/documents"), 403)
    assert_refused(world.client().post("/v1/erasures", json=body), 401)
    assert world.admin.get(f"/v1/documents/{document}").status_code == 200  # still there


def test_deleting_another_collections_or_members_document_is_refused(world: World):
    document = world.documents["cardiology"]
    outsider = world.user("onc-staff", sub="delete-outsider")
    assert_refused(outsider.delete(f"/v1/documents/{document}"), 404)
    reader = world.user("card-staff", sub="delete-reader")
    assert_refused(reader.delete(f"/v1/documents/{document}"), 403)
    assert world.admin.get(f"/v1/documents/{document}").status_code == 200


def test_a_compliance_officer_sees_ids_and_titles_not_content(world: World):
    officer = world.user("dpo", sub="officer-1")
    found = officer.get("/v1/compliance/documents")
    assert found.status_code == 200
    assert {d["id"] for d in found.json()} >= set(world.documents.values())
    assert all(
        set(d)
        <= {
            "id",
            "collection_id",
            "title",
            "filename",
            "uploaded_by",
            "uploaded_by_label",  # the uploader's name and e-mail: metadata, not content
            "status",
            "created_at",
        }
        for d in found.json()
    )
    # and reading content finds nothing: the officer holds no collection grant
    searched = officer.post("/v1/search", json={"query": "ECG"})
    assert searched.status_code == 200
    assert searched.json()["hits"] == []
