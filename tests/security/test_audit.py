"""The audit trail: compliance-only endpoints refuse everyone else; security events are
recorded with who/what/which/when and no content; the table refuses UPDATE and DELETE."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from app.db.session import make_engine
from tests.security.conftest import (
    CARDIO_CANARY,
    GROUP_ROLES,
    ONCO_CANARY,
    ONCO_TITLE,
    World,
    assert_refused,
    new_address,
)


def export(client, **params) -> list[dict]:
    response = client.get("/v1/audit/export", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


@pytest.mark.parametrize(
    "who", ["reader", "contributor", "no-groups", "api-key", "anonymous", "bad-token"]
)
def test_compliance_endpoints_refuse_everyone_else(world: World, who: str):
    if who == "api-key":
        key = world.admin.post(
            "/v1/api-keys", json={"name": "k", "collections": ["cardiology"]}
        ).json()["key"]
        caller, status = world.client(key), 403
    elif who == "anonymous":
        caller, status = world.client(), 401
    elif who == "bad-token":
        caller, status = world.client(world.issuer.unsigned(groups=["dpo"])), 401
    else:
        groups = {"reader": ["card-staff"], "contributor": ["onc-staff"], "no-groups": []}[who]
        caller, status = world.user(*groups, sub=f"audit-{who}"), 403
    for path in ("/v1/audit", "/v1/audit/export", "/v1/audit/export?action=auth.sign_in"):
        assert_refused(caller.get(path), status)


def test_security_events_are_recorded_without_content(world: World):
    since = datetime.now(UTC).isoformat()
    officer = world.user("dpo", sub="dpo-audit")
    reader = world.user("card-staff", sub="reader-audit")
    # a denial, a key created and revoked, a role granted, an upload, a forged token
    assert reader.get("/v1/collections/cardiology/members").status_code == 403
    created = world.admin.post(
        "/v1/api-keys", json={"name": "audited", "collections": ["oncology"]}
    ).json()
    world.admin.delete(f"/v1/api-keys/{created['id']}").raise_for_status()
    source = new_address()  # its own audit windows: earlier tests were refused the same way
    assert world.client(created["key"], source=source).get("/v1/collections").status_code == 401
    world.admin.post(
        "/v1/collections/oncology/members",
        json={"kind": "group", "subject": "audited-group", "role": "reader"},
    ).raise_for_status()
    up = world.admin.post(
        "/v1/collections/oncology/documents",
        files={"file": ("patient-jane-doe.txt", f"{ONCO_CANARY} audit probe".encode())},
    )
    assert up.status_code == 202
    assert (
        world.client(world.issuer.unsigned(), source=source).get("/v1/collections").status_code
        == 401
    )

    events = export(officer, since=since)
    by_action: dict[str, list[dict]] = {}
    for e in events:
        by_action.setdefault(e["action"], []).append(e)
    onc = world.collections["oncology"]["id"]
    denied = {(e["reason"], e["detail"]["status"]) for e in by_action["auth.denied"]}
    assert ("forbidden", 403) in denied
    assert ("revoked_key", 401) in denied
    assert ("algorithm", 401) in denied
    (made,) = [e for e in by_action["api_key.create"] if e["target"] == created["id"]]
    assert made["collection_id"] == onc
    assert made["actor_kind"] == "user"
    assert [e["target"] for e in by_action["api_key.revoke"]] == [created["id"]]
    (grant,) = by_action["role.grant"]
    assert grant["detail"] == {"role": "reader", "kind": "group", "subject": "audited-group"}
    (upload,) = by_action["document.upload"]
    assert (upload["collection_id"], upload["document_id"]) == (onc, up.json()["id"])
    assert all(e["at"] and e["request_id"] for e in events)

    dump = json.dumps(events)
    for secret in (ONCO_CANARY, CARDIO_CANARY, ONCO_TITLE, "jane-doe", created["key"]):
        assert secret not in dump
    assert "Bearer" not in dump
    assert "eyJ" not in dump  # no JWT fragment


def test_reading_the_trail_is_itself_recorded(world: World):
    since = datetime.now(UTC).isoformat()
    officer = world.user("dpo", sub="dpo-reads")
    listed = officer.get("/v1/audit", params={"since": since, "limit": 5})
    assert listed.status_code == 200
    events = export(officer, since=since)
    assert [e["action"] for e in events][:2] == ["audit.read", "audit.export"]
    elsewhere = datetime.fromisoformat(since).astimezone(timezone(timedelta(hours=-5)))
    again = export(officer, since=elsewhere.isoformat())  # the same instant, another offset
    assert [e["id"] for e in again][:2] == [e["id"] for e in events][:2]


def test_platform_admins_read_the_trail_too(world: World):
    assert world.admin.get("/v1/audit", params={"limit": 1}).status_code == 200


def test_the_table_is_append_only(world: World):
    engine = make_engine(world.settings.database_url)
    try:
        with engine.connect() as conn:
            for statement in ("UPDATE audit_events SET actor = 'x'", "DELETE FROM audit_events"):
                with pytest.raises(DatabaseError, match="append-only"):
                    conn.execute(text(statement))
                conn.rollback()
            assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar_one() > 0
    finally:
        engine.dispose()


def test_member_changes_are_recorded_as_role_changes(world: World):
    since = datetime.now(UTC).isoformat()
    granted = world.admin.post(
        "/v1/collections/cardiology/members",
        json={"kind": "group", "subject": "audit-members", "role": "contributor"},
    )
    assert granted.status_code == 201, granted.text
    binding = granted.json()
    assert binding["subject_label"] == "audit-members"
    removed = world.admin.delete(f"/v1/collections/cardiology/members/{binding['id']}")
    assert removed.status_code == 204
    events = export(world.user("dpo", sub="dpo-members"), since=since)
    card = world.collections["cardiology"]["id"]
    changes = [
        (e["action"], e["target"], e["collection_id"], e["actor_kind"], e["detail"]["role"])
        for e in events
        if e["action"].startswith("role.")
    ]
    assert changes == [
        ("role.grant", binding["id"], card, "user", "contributor"),
        ("role.revoke", binding["id"], card, "user", "contributor"),
    ]


def test_the_trail_filters_by_outcome_actor_e_mail_and_document(world: World):
    since = datetime.now(UTC).isoformat()
    token = world.issuer.mint(sub="audit-filters", groups=["card-staff"], email="Fil@Example.org")
    reader = world.client(token)
    me = reader.get("/auth/me").json()["id"]
    assert reader.get("/v1/collections/cardiology/members").status_code == 403
    officer = world.user("dpo", sub="dpo-filters")
    denied = export(officer, since=since, actor="fil@example.ORG", outcome="denied")
    assert [(e["actor"], e["action"], e["outcome"]) for e in denied] == [
        (me, "auth.denied", "denied")
    ]
    assert export(officer, since=since, actor="fil@example.org", outcome="ok") == []
    listed = officer.get("/v1/audit", params={"since": since, "actor": me}).json()
    assert listed
    assert all("Fil@Example.org" in e["actor_label"] for e in listed)  # the person, not an id
    document = world.documents["cardiology"]
    about = export(officer, document=document)
    assert about
    assert {e["document_id"] for e in about} == {document}
    refused = officer.get("/v1/audit", params={"outcome": "maybe"})
    assert refused.status_code == 422


def test_the_event_types_and_group_roles_are_listed_to_those_allowed(world: World):
    officer = world.user("dpo", sub="dpo-actions")
    actions = officer.get("/v1/audit/actions").json()
    assert {"auth.denied", "role.grant", "erasure.complete"} <= set(actions)
    assert world.admin.get("/v1/group-roles").json() == GROUP_ROLES
    reader = world.user("card-staff", sub="reader-actions")
    assert_refused(reader.get("/v1/audit/actions"), 403)
    assert_refused(reader.get("/v1/group-roles"), 403)
    assert_refused(officer.get("/v1/group-roles"), 403)  # platform admins only
