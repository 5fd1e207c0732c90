"""Forged, tampered and stale OIDC access tokens: every one is a 401 with the same message,
before any data is touched. A valid token from the same issuer is the control."""

from __future__ import annotations

import pytest

from tests.idp import ATTACKS
from tests.security.conftest import World, assert_refused

REFUSED = "invalid or expired credentials"
PROBE = ("post", "/v1/search", {"json": {"query": "dosing table", "collections": ["cardiology"]}})


def call(world: World, token: str):
    method, path, kwargs = PROBE
    return getattr(world.client(token), method)(path, **kwargs)


def test_a_valid_token_is_the_control(world: World):
    response = call(world, world.issuer.mint(groups=["card-staff"]))
    assert response.status_code == 200, response.text
    assert response.json()["hits"]


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_forged_or_invalid_tokens_are_refused(world: World, attack: str):
    token = ATTACKS[attack](world.issuer)
    error = assert_refused(call(world, token), 401)
    assert error["message"] == REFUSED  # the same words whatever was wrong
    assert error["code"] == "unauthenticated"


@pytest.mark.parametrize(
    "header",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer a b", "Token abc", "bearer\tx"],
)
def test_malformed_authorization_headers_are_refused(world: World, header: str):
    response = world.client(Authorization=header).get("/v1/collections")
    assert_refused(response, 401)


def test_no_credentials_is_401_everywhere(world: World):
    anonymous = world.client()
    for method, path in [
        ("get", "/v1/collections"),
        ("post", "/v1/collections"),
        ("get", f"/v1/documents/{world.documents['oncology']}"),
        ("get", f"/v1/chunks/{world.chunks['oncology']}"),
        ("post", "/v1/search"),
        ("post", "/v1/answer"),
        ("post", "/v1/chat/completions"),
        ("get", "/v1/models"),
        ("get", "/v1/api-keys"),
        ("get", "/v1/role-bindings"),
        ("get", "/auth/me"),
    ]:
        assert_refused(getattr(anonymous, method)(path), 401)


def test_rotated_keys_are_picked_up_and_unknown_kids_do_not_hammer_the_provider(world: World):
    issuer = world.issuer
    issuer.add_key("k2")  # the provider rotates: k2 appears in its JWKS
    before = issuer.jwks_fetches
    response = call(world, issuer.mint(kid="k2", groups=["card-staff"]))
    assert response.status_code == 200, response.text
    assert issuer.jwks_fetches == before + 1  # one refresh for the new kid
    response = call(world, issuer.mint(kid="k2", groups=["card-staff"]))
    assert response.status_code == 200
    assert issuer.jwks_fetches == before + 1  # then served from the cache


def test_a_token_for_a_disabled_user_is_refused(world: World):
    from sqlalchemy import update

    from app.auth.users import subject_of
    from app.db.models import User
    from app.db.session import make_engine, make_session_factory, transaction

    token = world.issuer.mint(sub="leaver", groups=["card-staff"])
    assert call(world, token).status_code == 200
    engine = make_engine(world.settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            db.execute(
                update(User)
                .where(User.subject == subject_of(world.issuer.url, "leaver"))
                .values(disabled=True)
            )
    finally:
        engine.dispose()
    assert_refused(call(world, token), 401)


def test_a_signing_key_withdrawn_by_the_provider_is_refused_once_the_jwks_refreshes(
    world: World,
):
    """A compromised key the provider drops from its JWKS stops working when the cached key set
    expires (ENCLAVE_AUTH__JWKS_CACHE_S): here a verifier with no cache, over real HTTP."""
    from app.auth.tokens import InvalidToken, JwksCache, TokenVerifier

    issuer = world.issuer
    verifier = TokenVerifier(
        issuer=issuer.url,
        audience=issuer.audience,
        algorithms=["RS256"],
        jwks=JwksCache(issuer=issuer.url, ttl_s=0, min_refresh_s=0),
    )
    issuer.add_key("k-withdrawn")
    token = issuer.mint(kid="k-withdrawn", groups=["card-staff"])
    assert verifier.verify(token)["sub"] == "user-1"
    del issuer.keys["k-withdrawn"]
    with pytest.raises(InvalidToken) as refused:
        verifier.verify(token)
    assert refused.value.reason == "unknown_kid"
