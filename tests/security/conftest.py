"""One Enclave over real HTTP with two collections holding canary documents, a token issuer
(JWKS on loopback) for OIDC access tokens, and helpers that check a refusal leaks nothing."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest

from app.auth.settings import AuthSettings
from app.settings import Settings
from tests.idp import JwtIssuer, serve_issuer
from tests.support import fast_settings, live_server, sign_in, wait_indexed

CARDIO_CANARY = "canary-cardio-5e1b"
ONCO_CANARY = "canary-onco-9d2f"
ONCO_TITLE = "oncology-protocol"
SECRETS_IN_CONTENT = (ONCO_CANARY, ONCO_TITLE)
GROUP_ROLES = {
    "card-staff": ["reader:cardiology"],
    "onc-staff": ["contributor:oncology"],
    "dpo": ["compliance_officer"],
}


@dataclass
class World:
    base: str
    settings: Settings
    issuer: JwtIssuer
    admin: httpx.Client  # the local admin, signed in (collection admin of both collections)
    collections: dict[str, dict] = field(default_factory=dict)
    documents: dict[str, str] = field(default_factory=dict)  # collection name → document id
    chunks: dict[str, str] = field(default_factory=dict)  # collection name → a chunk id
    clients: list[httpx.Client] = field(default_factory=list)

    def client(
        self, token: str | None = None, *, source: str | None = None, **headers: str
    ) -> httpx.Client:
        """A caller, from `source` (a loopback address) if given: refusals of unidentified
        callers are audited once per client address and reason per window."""
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        transport = httpx.HTTPTransport(local_address=source) if source else None
        client = httpx.Client(base_url=self.base, timeout=30, headers=headers, transport=transport)
        self.clients.append(client)
        return client

    def user(self, *groups: str, sub: str = "user-1") -> httpx.Client:
        """A caller with a valid OIDC access token in these IdP groups."""
        return self.client(self.issuer.mint(sub=sub, groups=list(groups)))


_addresses = itertools.count(1)


def new_address() -> str:
    """A loopback address (Linux routes all of 127/8 to lo) that no other test calls from."""
    return f"127.1.0.{next(_addresses)}"


def assert_refused(response: httpx.Response, status: int) -> dict:
    """The status, the error envelope, and not one byte of the other collection's content."""
    assert response.status_code == status, (response.status_code, response.text)
    error = response.json()["error"]
    assert error["message"]
    assert error["code"]
    assert_no_leak(response)
    return error


def assert_no_leak(response: httpx.Response) -> None:
    for secret in SECRETS_IN_CONTENT:
        assert secret not in response.text, f"{secret!r} leaked: {response.text[:200]}"


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    issuer = JwtIssuer()
    issuer.add_key("k1")
    with serve_issuer(issuer):
        auth = AuthSettings(
            issuer=issuer.url,
            audience=issuer.audience,
            group_roles=GROUP_ROLES,
            jwks_min_refresh_s=0,
        )
        settings = fast_settings(tmp_path_factory.mktemp("security"), auth=auth)
        with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as admin:
            sign_in(admin, settings)
            world = World(base=base, settings=settings, issuer=issuer, admin=admin)
            for name, canary, title in [
                ("cardiology", CARDIO_CANARY, "cardiology-guideline"),
                ("oncology", ONCO_CANARY, ONCO_TITLE),
            ]:
                created = admin.post("/v1/collections", json={"name": name})
                assert created.status_code == 201, created.text
                world.collections[name] = created.json()
                text = f"# {title}\n\nThe {name} protocol {canary} sets the dosing table.\n"
                up = admin.post(
                    f"/v1/collections/{name}/documents",
                    files={"file": (f"{title}.md", text.encode())},
                )
                assert up.status_code == 202, up.text
                assert wait_indexed(admin, up.json()["id"])["status"] == "indexed"
                world.documents[name] = up.json()["id"]
                hits = admin.post(
                    "/v1/search", json={"query": canary, "collections": [name], "k": 1}
                ).json()["hits"]
                world.chunks[name] = hits[0]["chunk_id"]
            try:
                yield world
            finally:
                for client in world.clients:
                    client.close()
