"""The admin page in headless Chromium against the real app: a platform admin creates a
collection, grants a user and an IdP group a role, creates an API key (shown once) and revokes
it, sees the configured group roles and the readiness of each dependency; a reader finds no link
to the admin or compliance pages, is told plainly they have no access, and the API refuses
them — with nothing leaving 127.0.0.1 and nothing stored."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EMPTY, STORED, Server, oidc_sign_in, oidc_ui_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import UI

READER = {"name": "Rita Reader", "email": "rita@example.org", "groups": ["handbook-readers"]}
GROUP_ROLES = {"handbook-readers": ["reader:handbook"], "dpo": ["compliance_officer"]}
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app with the local admin and an OIDC provider whose user rita reads
    `handbook` through her IdP group. Overrides conftest's `ui_server`."""
    with oidc_ui_server(tmp_path_factory, "admin-ui", {"rita": READER}, GROUP_ROLES) as server:
        yield server


def seed_user(ui_server: Server, email: str, name: str) -> None:
    """A user who has signed in before (users appear after their first sign-in)."""
    assert ui_server.settings is not None
    from app.db.models import User
    from app.db.session import make_engine, make_session_factory, transaction

    engine = make_engine(ui_server.settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            db.add(User(subject=f"test|{email}", name=name, email=email))
    finally:
        engine.dispose()


def open_admin(ui: UI) -> Page:
    page = ui.page
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Admin").click()
    expect(page).to_have_url(ui.url + "/admin")
    expect(page.get_by_role("heading", name="Administration", level=1)).to_be_visible()
    return page


def create_collection(page: Page, name: str) -> None:
    page.get_by_role("button", name="New collection").click()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Description").fill(f"The {name} documents")
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.locator("#collection-form")).to_be_hidden()
    expect(page.get_by_role("button", name=f"Manage {name}")).to_have_attribute(
        "aria-pressed", "true"
    )


def grant(page: Page, kind: str, subject: str, role: str) -> None:
    page.get_by_role("button", name="Add member").click()
    page.get_by_label("An IdP group" if kind == "group" else "A user").check()
    page.get_by_label("Group name" if kind == "group" else "E-mail or IdP subject").fill(subject)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Grant", exact=True).click()


def members_api(ui: UI, collection: str) -> set[tuple[str, str, str]]:
    listed = ui.page.request.get(f"{ui.url}/v1/collections/{collection}/members").json()
    return {(m["subject_kind"], m["subject_label"], m["role"]) for m in listed}


def test_an_admin_manages_collections_members_keys_and_sees_readiness(
    ui: UI, ui_server: Server
) -> None:
    page = open_admin(ui)
    # Readiness: each dependency in its own sentence.
    expect(page.locator("#ready-summary")).to_have_text("Ready: every dependency answered.")
    checks = page.locator("#ready-checks li")
    expect(checks).to_have_count(4)
    expect(page.locator('[data-check="database"]')).to_contain_text(
        re.compile(r"The database is ready \([\d.]+ ms\)\.")
    )
    # The configured group roles, read-only.
    groups = page.locator("#groups")
    expect(groups.locator('[data-group="handbook-readers"]')).to_contain_text("reader of handbook")
    expect(groups.locator('[data-group="dpo"]')).to_contain_text("compliance officer")
    expect(groups.get_by_role("button")).to_have_count(0)

    page.get_by_role("button", name="New collection").focus()  # by keyboard
    page.keyboard.press("Enter")
    expect(page.get_by_label("Name")).to_be_focused()
    page.keyboard.type("Hand Book")  # the API refuses upper case and spaces
    page.keyboard.press("Enter")
    expect(page.locator("#collection-error")).to_contain_text("lower-case")
    page.locator("#collection-form").get_by_role("button", name="Cancel").click()
    create_collection(page, "handbook")
    row = page.locator("#collections tr", has_text="handbook")
    expect(row).to_contain_text("The handbook documents")
    expect(row.locator(".count-line")).to_have_text("0 documents")
    expect(page.get_by_role("heading", name="Members · handbook")).to_be_visible()
    members = page.locator("#members .member")
    expect(members).to_have_count(1)  # the creator administers it
    own = members.filter(has_text="Local administrator")
    expect(own).to_contain_text("user · collection admin")
    expect(own.get_by_role("button")).to_have_count(0)  # never offered to revoke their own

    seed_user(ui_server, "nurse@example.org", "Ward Nurse")
    grant(page, "user", "nurse@example.org", "reader")
    expect(members.filter(has_text="nurse@example.org")).to_contain_text("Ward Nurse")
    grant(page, "group", "ward-7", "contributor")
    expect(members.filter(has_text="ward-7")).to_contain_text("group · contributor")
    grant(page, "user", "Newcomer@Example.org", "reader")  # not signed in yet: granted ahead
    expect(members.filter(has_text="newcomer@example.org")).to_contain_text(
        "not signed in yet · reader"
    )
    grant(page, "user", "newcomer@example.org", "reader")  # the same again: a sentence says so
    expect(page.locator("#member-error")).to_have_text("That role binding exists already.")
    page.locator("#member-form").get_by_role("button", name="Cancel").click()
    assert {
        ("group", "ward-7", "contributor"),
        ("email", "newcomer@example.org", "reader"),
        ("user", "Ward Nurse · nurse@example.org", "reader"),
    } <= members_api(ui, "handbook")
    # Nor does the API let the admin revoke their own admin role (they would lock themselves out).
    me = page.request.get(f"{ui.url}/auth/me").json()
    listed = page.request.get(f"{ui.url}/v1/collections/handbook/members").json()
    binding = next(m["id"] for m in listed if m["subject"] == me["id"])
    refused = page.request.delete(
        f"{ui.url}/v1/collections/handbook/members/{binding}",
        headers={"X-CSRF-Token": me["csrf_token"]},
    )
    assert refused.status == 409
    page.get_by_role("button", name="Revoke contributor from ward-7").click()
    expect(members.filter(has_text="ward-7")).to_have_count(0)

    # An API key: shown once, works, then revoked.
    page.get_by_role("button", name="Add key").click()
    page.get_by_label("Application").fill("intranet")
    page.get_by_role("button", name="Create key").click()
    secret_field = page.get_by_label("New API key")
    expect(secret_field).to_have_value(re.compile(r"^enclave_"))
    secret = secret_field.input_value()
    expect(page.locator(".key .doc-title")).to_have_text(["intranet"])
    page.set_viewport_size({"width": 1360, "height": 1500})
    page.screenshot(path="/tmp/enclave-admin.png", full_page=True)
    with httpx.Client(base_url=ui.url, headers={"Authorization": f"Bearer {secret}"}) as app:
        assert [c["name"] for c in app.get("/v1/collections").json()] == ["handbook"]
        page.get_by_role("button", name="Done").click()
        expect(secret_field).to_be_hidden()
        assert secret_field.input_value() == ""  # not kept in the page
        page.reload()
        assert secret not in page.content()
        page.get_by_role("button", name="Revoke intranet").click()
        expect(page.locator(".key .badge")).to_have_text("revoked")
        assert app.get("/v1/collections").status_code == 401

    # Phone size: nothing scrolls sideways.
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(SIDEWAYS) == 0
    page.screenshot(path="/tmp/enclave-admin-phone.png", full_page=True)
    page.set_viewport_size({"width": 320, "height": 640})  # 1280 px wide at 400% zoom
    assert page.evaluate(SIDEWAYS) == 0
    assert page.evaluate(STORED) == EMPTY
    assert ui.off_host() == []
    assert ui.errors == []


def test_the_member_form_closes_when_another_collection_is_managed(ui: UI) -> None:
    page = open_admin(ui)
    create_collection(page, "form-probe-a")
    create_collection(page, "form-probe-b")
    page.get_by_role("button", name="Add member").click()
    page.get_by_label("E-mail or IdP subject").fill("half-typed@example.org")
    page.get_by_role("button", name="Manage form-probe-a").click()
    expect(page.get_by_role("heading", name="Members · form-probe-a")).to_be_visible()
    expect(page.locator("#member-form")).to_be_hidden()
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_label("E-mail or IdP subject")).to_have_value("")
    assert ui.errors == []


def test_the_chat_sidebar_keeps_collections_and_documents_and_links_to_admin(ui: UI) -> None:
    page = ui.page
    expect(page.locator("#members-panel")).to_have_count(0)
    expect(page.locator("#keys-panel")).to_have_count(0)
    page.get_by_role("link", name="Manage collections (admin page)").click()
    expect(page).to_have_url(ui.url + "/admin")


def test_a_reader_cannot_reach_the_admin_or_compliance_pages(
    chromium: Browser, ui_server: Server
) -> None:
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    context.on("request", lambda request: requests.append(request.url))
    oidc_sign_in(page, ui_server.url, "rita")
    requests.clear()  # from here on, Enclave's pages only (not the IdP stand-in's)
    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link", name="Chat")).to_be_visible()
    expect(nav.get_by_role("link", name=re.compile("^(Admin|Compliance)$"))).to_have_count(0)
    expect(page.locator("#manage-collections")).to_be_hidden()

    for path, heading in (("/admin", "Administration"), ("/compliance", "Compliance")):
        page.goto(ui_server.url + path)
        expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()
        expect(page.locator("#no-access")).to_have_text(
            re.compile("^You do not have access to this page.")
        )
        expect(
            page.get_by_role("button", name=re.compile("New collection|Find documents"))
        ).to_have_count(0)
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate(SIDEWAYS) == 0
        page.screenshot(path=f"/tmp/enclave-no-access{path.replace('/', '-')}.png")
        page.set_viewport_size({"width": 1280, "height": 720})

    # ... and the API refuses them anyway.
    me = page.request.get(ui_server.url + "/auth/me").json()
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    refused = [
        page.request.post(ui_server.url + "/v1/collections", data={"name": "mine"}, headers=csrf),
        page.request.get(ui_server.url + "/v1/group-roles"),
        page.request.get(ui_server.url + "/v1/audit"),
        page.request.get(ui_server.url + "/v1/audit/export"),
        page.request.get(ui_server.url + "/v1/erasures"),
    ]
    assert [r.status for r in refused] == [403] * len(refused)
    handbook = page.request.get(ui_server.url + "/v1/collections/handbook/members")
    assert handbook.status in (403, 404)  # 404 if the collection has not been made yet
    off = [
        u for u in requests if urlsplit(u).scheme != "data" and urlsplit(u).hostname != "127.0.0.1"
    ]
    assert off == []
    assert errors == []
    context.close()
