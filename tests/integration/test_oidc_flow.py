"""Sign-in through a real OIDC provider (oidc-provider-mock) over HTTP, without a browser:
authorization code + PKCE, state, nonce, the ID token checked against the provider's JWKS,
group claims mapped to roles; refusals for a replayed or forged callback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from app.auth.settings import AuthSettings
from tests.idp import oidc_provider
from tests.support import fast_settings, live_server, sign_in

USERS = {
    "alice": {"email": "alice@example.org", "name": "Alice", "groups": ["card-staff"]},
    "bob": {"email": "bob@example.org", "name": "Bob", "groups": ["onc-staff", "dpo"]},
    "eve": {"email": "eve@example.org", "name": "Eve"},
}
GROUP_ROLES = {
    "card-staff": ["reader:cardiology"],
    "onc-staff": ["contributor:oncology"],
    "dpo": ["compliance_officer"],
}


@pytest.fixture(scope="module")
def enclave(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with oidc_provider(USERS) as issuer:
        auth = AuthSettings(
            issuer=issuer,
            client_id="enclave-web",
            client_secret="not-checked-by-the-mock",
            group_roles=GROUP_ROLES,
        )
        settings = fast_settings(tmp_path_factory.mktemp("oidc"), auth=auth)
        with live_server(settings) as base, httpx.Client(base_url=base) as admin:
            sign_in(admin, settings)
            for name in ("cardiology", "oncology"):
                admin.post("/v1/collections", json={"name": name}).raise_for_status()
            yield base


def authorize(client: httpx.Client, sub: str) -> httpx.Response:
    """GET /auth/login, pick `sub` on the provider's form; returns the provider's redirect."""
    login = client.get("/auth/login")
    assert login.status_code == 302, login.text
    query = parse_qs(urlsplit(login.headers["location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["code_challenge"][0]
    assert query["state"][0]
    assert query["nonce"][0]
    assert query["client_id"] == ["enclave-web"]
    assert "openid" in query["scope"][0].split()
    form = client.get(login.headers["location"])
    assert form.status_code == 200
    back = client.post(login.headers["location"], data={"sub": sub})
    assert back.status_code == 302, back.text
    return back


def sign_in_as(base: str, sub: str) -> httpx.Client:
    client = httpx.Client(base_url=base)
    callback = authorize(client, sub).headers["location"]
    done = client.get(callback)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == "/"
    return client


def test_a_user_signs_in_and_reaches_only_what_its_groups_allow(enclave: str):
    with closing(sign_in_as(enclave, "alice")) as alice:
        me = alice.get("/auth/me").json()
        assert me["name"] == "Alice"
        assert me["via"] == "session"
        assert [(c["name"], c["permissions"]) for c in me["collections"]] == [
            ("cardiology", ["read"])
        ]
        assert me["global_roles"] == []
        assert me["csrf_token"]
        assert [c["name"] for c in alice.get("/v1/collections").json()] == ["cardiology"]
        assert alice.get("/v1/collections/oncology/documents").status_code == 404
        assert alice.get("/").status_code == 200


def test_groups_map_to_collection_and_global_roles(enclave: str):
    with closing(sign_in_as(enclave, "bob")) as bob:
        me = bob.get("/auth/me").json()
        assert me["global_roles"] == ["compliance_officer"]
        assert [(c["name"], c["permissions"]) for c in me["collections"]] == [
            ("oncology", ["read", "write"])
        ]


def test_a_user_without_groups_signs_in_to_nothing(enclave: str):
    with closing(sign_in_as(enclave, "eve")) as eve:
        assert eve.get("/v1/collections").json() == []
        assert eve.get("/auth/me").json()["collections"] == []


def test_a_callback_cannot_be_replayed_or_forged(enclave: str):
    client = httpx.Client(base_url=enclave)
    callback = authorize(client, "alice").headers["location"]
    assert client.get(callback).status_code == 303
    client.post(
        "/auth/logout", headers={"X-CSRF-Token": client.get("/auth/me").json()["csrf_token"]}
    )
    replay = client.get(callback)  # the state was used up
    assert replay.headers["location"] == "/signin?error=oidc"
    assert client.get("/v1/collections").status_code == 401
    # A code delivered to another browser (no state in its cookie) is refused.
    victim = httpx.Client(base_url=enclave)
    code = authorize(httpx.Client(base_url=enclave), "alice").headers["location"]
    assert victim.get(code).headers["location"] == "/signin?error=oidc"
    assert victim.get("/v1/collections").status_code == 401
    forged = victim.get("/auth/callback?code=guess&state=guess")
    assert forged.headers["location"] == "/signin?error=oidc"


def test_the_provider_saying_no_is_a_failed_sign_in(enclave: str):
    client = httpx.Client(base_url=enclave)
    login = client.get("/auth/login")
    denied = client.post(login.headers["location"], data={"action": "deny"})
    assert denied.status_code == 302
    back = client.get(denied.headers["location"])
    assert back.headers["location"] == "/signin?error=oidc"
    assert client.get("/auth/me").status_code == 401
