"""Browser sessions: the cookie is signed, HttpOnly and SameSite; state changes need the CSRF
token; logout and one-time links cannot be replayed; a forged cookie is nobody."""

from __future__ import annotations

import httpx
from itsdangerous import TimestampSigner

from tests.security.conftest import World, assert_refused
from tests.support import admin_link


def signed_in(world: World) -> httpx.Client:
    client = world.client()
    link = admin_link(world.settings, world.base)
    assert client.get(link).status_code == 303
    client.headers["X-CSRF-Token"] = client.get("/auth/me").json()["csrf_token"]
    return client


def test_the_cookie_is_httponly_samesite_and_holds_no_token(world: World):
    client = world.client()
    response = client.get(admin_link(world.settings, world.base))
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("enclave_session=")
    assert "httponly" in cookie.lower()
    assert "samesite=lax" in cookie.lower()


def test_state_changes_need_the_csrf_token(world: World):
    client = signed_in(world)
    token = client.headers.pop("X-CSRF-Token")
    body = {"name": "csrf-probe"}
    assert_refused(client.post("/v1/collections", json=body), 403)
    client.headers["X-CSRF-Token"] = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert_refused(client.post("/v1/collections", json=body), 403)
    assert_refused(client.post("/v1/api-keys", json={"name": "k", "collections": ["x"]}), 403)
    assert_refused(client.post("/auth/logout"), 403)
    client.headers["X-CSRF-Token"] = token
    assert client.post("/v1/collections", json=body).status_code == 201


def test_a_cookie_signed_with_another_key_is_nobody(world: World):
    forged = TimestampSigner("guessed-secret").sign(b'{"sid": "x", "csrf": "y"}').decode()
    client = world.client()
    client.cookies.set("enclave_session", forged)
    assert_refused(client.get("/v1/collections"), 401)


def test_logout_ends_the_session_even_for_a_copied_cookie(world: World):
    client = signed_in(world)
    copied = dict(client.cookies)
    assert client.post("/auth/logout").status_code == 204
    replay = world.client()
    replay.cookies.update(copied)
    assert_refused(replay.get("/v1/collections"), 401)
    assert_refused(client.get("/v1/collections"), 401)


def test_a_sign_in_link_works_once(world: World):
    link = admin_link(world.settings, world.base)
    first = world.client().get(link)
    assert first.status_code == 303
    assert first.headers["location"] == "/"
    again = world.client().get(link)
    assert again.status_code == 303
    assert again.headers["location"] == "/signin?error=link"
    assert "set-cookie" not in again.headers or "sid" not in again.headers["set-cookie"]
    guessed = world.client().get("/auth/local?token=guess")
    assert guessed.headers["location"] == "/signin?error=link"
