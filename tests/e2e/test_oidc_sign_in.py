"""Sign in through the web UI against a real OIDC provider on loopback (oidc-provider-mock):
the user reaches only the collections its groups allow, and signs out."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from app.auth.settings import AuthSettings
from tests.idp import oidc_provider
from tests.support import fast_settings, live_server, sign_in, wait_indexed

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CARDIO = "Cardiology dosing table canary-cardio-77aa: 5 mg twice daily."
ONCO = "Oncology dosing table canary-onco-31bc: 40 mg/m2 weekly."
USERS = {"alice": {"name": "Alice Martin", "email": "alice@example.org", "groups": ["card"]}}


@dataclass
class Site:
    url: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    with oidc_provider(USERS) as issuer:
        auth = AuthSettings(
            issuer=issuer,
            client_id="enclave-web",
            client_secret="s3cret",
            group_roles={"card": ["reader:cardiology"], "onc": ["reader:oncology"]},
        )
        settings = fast_settings(tmp_path_factory.mktemp("oidc-ui"), auth=auth)
        with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as admin:
            sign_in(admin, settings)
            for name, text in (("cardiology", CARDIO), ("oncology", ONCO)):
                admin.post("/v1/collections", json={"name": name}).raise_for_status()
                up = admin.post(
                    f"/v1/collections/{name}/documents",
                    files={"file": (f"{name}-dosing.md", f"# Dosing\n\n{text}\n".encode())},
                )
                assert wait_indexed(admin, up.json()["id"])["status"] == "indexed"
            yield Site(base)


def test_sign_in_through_the_identity_provider_reaches_only_allowed_collections(
    chromium: Browser, site: Site
) -> None:
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(site.url)
    expect(page).to_have_url(site.url + "/signin")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_role("link", name="Sign in with your organisation account").click()

    # The provider's own page: pick the user (a real authorization-code + PKCE round trip).
    expect(page.get_by_role("heading", name="Authorize Client")).to_be_visible()
    page.get_by_role("button", name="alice").click()

    expect(page).to_have_url(site.url + "/")
    expect(page.locator("#user-menu .user-name")).to_have_text("Alice Martin")
    expect(page.locator(".collection .collection-name")).to_have_text(["cardiology"])
    expect(page.locator("#manage-collections")).to_be_hidden()  # administers nothing
    expect(page.locator("#dropzone")).to_be_hidden()  # a reader cannot upload

    page.get_by_label("Your question").fill("What is the dosing table?")
    page.keyboard.press("Enter")
    expect(page.locator(".turn").last.locator(".meta")).not_to_be_empty(timeout=60_000)
    expect(page.locator(".sources").last).to_contain_text("cardiology-dosing")
    page.locator(".answer .cite").first.click()
    expect(page.locator("#source-text")).to_contain_text("canary-cardio-77aa")
    content = page.content()
    assert "canary-onco-31bc" not in content
    assert "oncology" not in content

    cookies = {c["name"]: c for c in context.cookies(site.url)}
    assert cookies["enclave_session"]["httpOnly"] is True
    assert page.evaluate("document.cookie").find("enclave_session") == -1

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(site.url + "/signin")
    page.goto(site.url)
    expect(page).to_have_url(site.url + "/signin")  # the session is gone server-side
    assert errors == []
    context.close()
