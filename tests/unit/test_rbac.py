"""Roles → permissions → scope, from bindings and the group mapping, on a real SQLite DB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app import rbac
from app.auth import api_keys, users
from app.auth.settings import AuthSettings
from app.db.models import User, utcnow
from app.db.session import make_engine, make_session_factory, migrate
from app.errors import Conflict, Forbidden, InvalidRequest, NotFound
from app.identity import PLATFORM_ADMIN
from app.services import collections

PEPPER = b"p" * 32


@pytest.fixture
def db(tmp_path) -> Iterator[Session]:
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    migrate(engine)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


def make_user(db: Session, email: str) -> User:
    user = User(subject=f"https://idp|{email}", name=email, email=email)
    db.add(user)
    db.flush()
    return user


def test_nobody_sees_anything_without_a_grant(db):
    collections.create(db=db, name="cardiology")
    principal = rbac.for_user(db, user=make_user(db, "a@x"), groups=["staff"])
    assert not principal.scope()
    assert principal.scope().collections == frozenset()
    with pytest.raises(NotFound):
        collections.authorised(db=db, principal=principal, ref="cardiology", permission="read")


def test_roles_nest_and_scope_follows_read(db):
    card = collections.create(db=db, name="cardiology")
    onco = collections.create(db=db, name="oncology")
    user = make_user(db, "a@x")
    rbac.grant(db, kind="user", subject="a@x", role="reader", collection_id=card.id, created_by="t")
    rbac.grant(
        db, kind="group", subject="onc", role="contributor", collection_id=onco.id, created_by="t"
    )
    p = rbac.for_user(db, user=user, groups=["onc"])
    assert p.scope().collections == {card.id, onco.id}
    assert p.scope("write").collections == {onco.id}
    assert not p.can("members", card.id)
    with pytest.raises(Forbidden):  # visible, but a reader may not upload
        collections.authorised(db=db, principal=p, ref="cardiology", permission="write")
    assert collections.authorised(db=db, principal=p, ref="oncology", permission="write") == onco


def test_group_mapping_from_settings(db):
    card = collections.create(db=db, name="cardiology")
    mapping = AuthSettings(
        group_roles={"card-staff": ["reader:cardiology"], "dpo": ["compliance_officer"]}
    ).group_roles
    p = rbac.for_user(
        db, user=make_user(db, "a@x"), groups=["card-staff", "dpo"], group_roles=mapping
    )
    assert p.scope().collections == {card.id}
    assert p.global_roles == {"compliance_officer"}
    other = rbac.for_user(db, user=make_user(db, "b@x"), groups=["x"], group_roles=mapping)
    assert not other.scope()
    assert not other.global_roles


def test_unknown_grants_in_the_mapping_are_refused():
    with pytest.raises(ValueError, match="unknown grant"):
        AuthSettings(group_roles={"g": ["superuser"]})
    with pytest.raises(ValueError, match="unknown grant"):
        AuthSettings(group_roles={"g": ["reader"]})  # a collection role needs a collection


def test_platform_admin_manages_members_but_reads_nothing(db):
    admin = users.ensure_local_admin(db)
    card = collections.create(db=db, name="cardiology")  # created by someone else
    p = rbac.for_user(db, user=admin)
    assert p.has_role("platform_admin")
    assert not p.scope()
    assert p.can("members", card.id)
    with pytest.raises(Forbidden):
        collections.authorised(db=db, principal=p, ref="cardiology", permission="read")


def test_local_admin_administers_collections_that_predate_it(db):
    card = collections.create(db=db, name="cardiology")
    p = rbac.for_user(db, user=users.ensure_local_admin(db))
    assert p.scope().collections == {card.id}


def test_the_last_platform_admin_cannot_be_removed(db):
    users.ensure_local_admin(db)
    (binding,) = [b for b in rbac.bindings(db, collection_id=None) if b.role == PLATFORM_ADMIN]
    with pytest.raises(Conflict):
        rbac.revoke(db, binding_id=binding.id, collection_id=None, by="another-admin")


def test_bindings_are_validated(db):
    card = collections.create(db=db, name="cardiology")
    with pytest.raises(InvalidRequest):
        rbac.grant(
            db,
            kind="group",
            subject="g",
            role="platform_admin",
            collection_id=card.id,
            created_by="t",
        )
    with pytest.raises(InvalidRequest):
        rbac.grant(
            db, kind="user", subject=" ", role="reader", collection_id=card.id, created_by="t"
        )
    rbac.grant(db, kind="group", subject="g", role="reader", collection_id=card.id, created_by="t")
    with pytest.raises(Conflict):
        rbac.grant(
            db, kind="group", subject="g", role="reader", collection_id=card.id, created_by="t"
        )


def test_api_keys_hold_exactly_their_grant_and_die_when_revoked_or_expired(db):
    card = collections.create(db=db, name="cardiology")
    collections.create(db=db, name="oncology")
    key, secret = api_keys.create(
        db,
        pepper=PEPPER,
        name="app",
        collection_ids=[card.id],
        permissions=["read"],
        expires_in_days=1,
        created_by="u",
    )
    assert secret.startswith("enclave_")
    assert len(secret) > 40
    assert secret not in (key.secret_hash, key.prefix)
    assert key.prefix.startswith("enclave_")
    p = rbac.for_api_key(api_keys.authenticate(db, pepper=PEPPER, secret=secret))
    assert p.scope().collections == {card.id}
    assert not p.scope("write")
    with pytest.raises(api_keys.InvalidKey) as wrong_pepper:
        api_keys.authenticate(db, pepper=b"q" * 32, secret=secret)
    assert wrong_pepper.value.reason == "unknown_key"
    with pytest.raises(api_keys.InvalidKey) as expired:
        api_keys.authenticate(db, pepper=PEPPER, secret=secret, now=utcnow() + timedelta(days=2))
    assert expired.value.reason == "expired_key"
    key.revoked_at = utcnow()
    with pytest.raises(api_keys.InvalidKey) as revoked:
        api_keys.authenticate(db, pepper=PEPPER, secret=secret)
    assert revoked.value.reason == "revoked_key"
    assert str(revoked.value) == str(expired.value) == "invalid or expired credentials"


def test_one_time_sign_in_tokens_work_once(db):
    token = users.issue_sign_in_token(db, ttl_s=60)
    assert users.redeem_sign_in_token(db, token) is not None
    assert users.redeem_sign_in_token(db, token) is None
    first = users.issue_sign_in_token(db, ttl_s=60)
    second = users.issue_sign_in_token(db, ttl_s=60)
    assert users.redeem_sign_in_token(db, first) is None  # superseded
    assert users.redeem_sign_in_token(db, second) is not None
    assert users.redeem_sign_in_token(db, "") is None


def test_a_role_granted_before_the_first_sign_in_is_theirs_on_signing_in(db):
    card = collections.create(db=db, name="cardiology")
    onco = collections.create(db=db, name="oncology")
    by_email = rbac.grant(
        db, kind="user", subject="Nurse@X.org", role="reader", collection_id=card.id, created_by="t"
    )
    by_sub = rbac.grant(
        db, kind="user", subject="k-123", role="contributor", collection_id=onco.id, created_by="t"
    )
    assert (by_email.subject_kind, by_email.subject) == ("email", "nurse@x.org")
    assert (by_sub.subject_kind, by_sub.subject) == ("subject", "k-123")
    assert rbac.subject_labels(db, [by_email, by_sub]) == {
        "nurse@x.org": "nurse@x.org",
        "k-123": "IdP subject k-123",
    }
    claims = {"sub": "k-123", "email": "nurse@x.org", "name": "Ward Nurse"}
    user = users.from_claims(db, issuer="https://idp", claims=claims)
    p = rbac.for_user(db, user=user)
    assert p.scope().collections == {card.id, onco.id}
    assert p.scope("write").collections == {onco.id}
    assert {(b.subject_kind, b.subject) for b in rbac.bindings(db, collection_id=card.id)} == {
        ("user", user.id)
    }
    again = rbac.grant(  # a known user is bound by id, by any of their names
        db, kind="user", subject="k-123", role="reader", collection_id=onco.id, created_by="t"
    )
    assert (again.subject_kind, again.subject) == ("user", user.id)


def test_an_unverified_email_claims_nothing(db):
    card = collections.create(db=db, name="cardiology")
    rbac.grant(
        db, kind="user", subject="boss@x.org", role="reader", collection_id=card.id, created_by="t"
    )
    claims = {"sub": "mallory", "email": "boss@x.org", "email_verified": False}
    mallory = users.from_claims(db, issuer="https://idp", claims=claims)
    assert not rbac.for_user(db, user=mallory).scope()


def test_nobody_revokes_their_own_admin_role(db):
    card = collections.create(db=db, name="cardiology")
    me, other = make_user(db, "me@x"), make_user(db, "other@x")
    mine, theirs = (
        rbac.grant(
            db,
            kind="user",
            subject=u.id,
            role="collection_admin",
            collection_id=card.id,
            created_by="t",
        )
        for u in (me, other)
    )
    with pytest.raises(Conflict, match="your own collection_admin role"):
        rbac.revoke(db, binding_id=mine.id, collection_id=card.id, by=me.id)
    assert rbac.for_user(db, user=me).can("members", card.id)
    rbac.revoke(db, binding_id=theirs.id, collection_id=card.id, by=me.id)  # another's: fine
    reader = rbac.grant(
        db, kind="user", subject=me.id, role="reader", collection_id=card.id, created_by="t"
    )
    rbac.revoke(db, binding_id=reader.id, collection_id=card.id, by=me.id)  # no lock-out
