"""The web UI in headless Chromium against the real app: collections, upload, a streamed and
cited answer, the source panel, API keys and members — with nothing leaving 127.0.0.1 and
nothing stored."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from evals.bench import documents
from tests.e2e.conftest import EMPTY, STORED, upload

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import UI, Server

SCREENSHOT = "/tmp/enclave-ui.png"
LEAVE_POLICY = b"""Full-time employees receive 27 days of annual leave per calendar year.
Requests go through the HR portal at least two weeks in advance.

# Sick leave

Report sickness to your line manager before 9 am on the first day.
"""


def create_collection(page: Page, name: str) -> None:
    page.get_by_role("button", name="+ New").click()
    page.get_by_label("Name").fill(name)
    page.get_by_role("button", name="Create").click()
    expect(page.locator("#collection-form")).to_be_hidden()
    expect(page.locator(".collection[class*=is-active] .collection-name")).to_have_text(name)


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.keyboard.press("Enter")
    expect(page.locator(".turn").last.locator(".meta")).not_to_be_empty(timeout=60_000)


def test_ask_an_uploaded_document_and_open_a_citation(ui: UI) -> None:
    page = ui.page
    expect(page).to_have_title("Enclave")
    expect(page.get_by_text("Conversations are not stored")).to_be_visible()

    page.get_by_role("button", name="+ New").click()
    page.get_by_label("Name").fill("HR Policies")  # the API refuses upper case and spaces
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("alert").filter(has_text="lower-case")).to_be_visible()
    page.get_by_role("button", name="Cancel").click()
    create_collection(page, "hr-policies")

    upload(page, "leave-policy.md", LEAVE_POLICY, "text/markdown")
    expect(page.locator(".doc .badge")).to_have_text("indexed", timeout=60_000)
    expect(page.locator(".collection .count")).to_have_text("1 document")
    upload(page, "copy.md", LEAVE_POLICY, "text/markdown")
    expect(page.locator("#upload-status")).to_contain_text("already uploaded")

    ask(page, "How many days of annual leave do full-time employees get?")
    answer = page.locator(".answer").last
    expect(answer).to_contain_text("27 days")
    expect(answer).not_to_have_attribute("aria-busy", "true")
    meta = page.locator(".meta").last
    expect(meta).to_contain_text("quoted from the sources, no model")  # the extractive default
    expect(meta).to_contain_text("overlap")
    expect(page.locator(".sources h2").first).to_have_text("Cited sources")

    chip = answer.locator(".cite").first
    chip.focus()
    page.keyboard.press("Enter")  # citations work from the keyboard
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(page.locator("#source-title")).to_be_focused()
    expect(page.locator("#source-title")).to_contain_text("leave-policy")
    expect(page.locator("#source-text")).to_contain_text("27 days of annual leave")
    page.screenshot(path=SCREENSHOT)
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(chip).to_be_focused()

    assert page.evaluate(STORED) == EMPTY
    cookies = page.context.cookies()
    assert [c["name"] for c in cookies] == ["enclave_session"]  # a session id, no content
    assert cookies[0]["httpOnly"] is True
    assert cookies[0]["sameSite"] == "Lax"
    assert ui.off_host() == [], "the UI requested something outside the app"
    assert ui.errors == []

    page.reload()
    expect(page.locator(".turn")).to_have_count(0)  # the conversation lived in memory only
    expect(page.locator("#welcome")).to_be_visible()


def test_the_citation_panel_says_on_which_page_and_in_which_section_a_passage_is(
    ui: UI,
) -> None:
    """A 2-page PDF is one chunk: the panel highlights the passage that supports the claim and
    gives its page and section, and marks where page 2 begins."""
    page = ui.page
    create_collection(page, "pages-probe")
    manual = documents.pdf(
        [
            documents.Page("Safety rules", ("Wear gloves when handling the pump.",)),
            documents.Page("Maintenance", ("Tighten the XJ-220 mounting bolts to 42 Nm.",)),
        ]
    )
    upload(page, "pump-manual.pdf", manual, "application/pdf")
    expect(page.locator(".doc .badge")).to_have_text("indexed", timeout=60_000)
    page.get_by_role("checkbox", name="Ask pages-probe").check()
    ask(page, "What torque for the XJ-220 mounting bolts?")
    answer = page.locator(".answer").last
    expect(answer).to_contain_text("42 Nm")
    answer.get_by_role("button", name=re.compile("the passage that supports this")).first.click()
    meta = page.locator("#source-meta")
    expect(meta).to_contain_text("SectionMaintenance")
    expect(meta).to_contain_text("Page2")
    text = page.locator("#source-text")
    expect(text.locator("mark")).to_contain_text("42 Nm")
    expect(text.locator(".page-mark")).to_have_text("Page 2")
    before, after = (text.text_content() or "").split("Page 2", 1)
    assert "Wear gloves" in before  # the neighbouring text, for context
    assert "42 Nm" in after
    page.screenshot(path="/tmp/enclave-ui-pages.png")
    assert ui.errors == []


def test_answers_render_model_output_as_text_never_markup(ui: UI) -> None:
    page = ui.page
    create_collection(page, "markup-probe")
    probe = b'Escalate to <img src=x onerror="window.pwned=1"> the <b>duty</b> manager.\n'
    upload(page, "probe.txt", probe, "text/plain")
    expect(page.locator(".doc .badge")).to_have_text("indexed", timeout=60_000)
    page.get_by_role("checkbox", name="Ask markup-probe").check()  # narrow the chat to it
    expect(page.locator("#scope-label")).to_have_text("markup-probe")

    ask(page, "Who do I escalate to?")
    answer = page.locator(".answer").last
    expect(answer).to_contain_text("<img")  # shown literally (the extract quotes it)
    expect(answer.locator("img, b")).to_have_count(0)
    answer.locator(".cite").first.click()
    expect(page.locator("#source-text")).to_contain_text("<b>duty</b>")
    assert page.evaluate("window.pwned") is None
    assert ui.errors == []


def test_a_failed_answer_says_why(ui: UI) -> None:
    page = ui.page
    failure = {"message": "the generator is unavailable, retry in 5 s", "code": "unavailable"}
    body = f"event: sources\ndata: {json.dumps({'sources': [], 'timings_ms': {}})}\n\n"
    body += f"event: error\ndata: {json.dumps(failure)}\n\n"
    page.route(
        "**/v1/answer",
        lambda route: route.fulfill(status=200, content_type="text/event-stream", body=body),
    )
    page.get_by_label("Your question").fill("Anything?")
    page.get_by_role("button", name="Ask").click()
    expect(page.locator(".answer").get_by_role("alert")).to_have_text(failure["message"])
    expect(page.get_by_role("button", name="Ask")).to_be_visible()  # ready for the next one
    expect(page.get_by_label("Your question")).to_be_focused()


def test_a_collection_admin_makes_and_revokes_an_api_key(ui: UI) -> None:
    page = ui.page
    create_collection(page, "key-probe")
    page.get_by_role("button", name="Add key").click()
    page.get_by_label("Application").fill("intranet")
    page.get_by_role("button", name="Create key").click()
    expect(page.get_by_label("New API key")).to_have_value(re.compile(r"^enclave_"))
    secret = page.get_by_label("New API key").input_value()
    assert secret.startswith("enclave_")
    expect(page.locator(".key .doc-title")).to_have_text(["intranet"])
    with httpx.Client(base_url=ui.url, headers={"Authorization": f"Bearer {secret}"}) as app:
        assert [c["name"] for c in app.get("/v1/collections").json()] == ["key-probe"]
        page.get_by_role("button", name="Done").click()
        expect(page.get_by_label("New API key")).to_be_hidden()
        assert page.get_by_label("New API key").input_value() == ""  # not kept in the page
        page.get_by_role("button", name="Revoke intranet").click()
        expect(page.locator(".key .badge")).to_have_text("revoked")
        assert app.get("/v1/collections").status_code == 401
    assert ui.errors == []


def seed_user(ui_server: Server, email: str, name: str) -> None:
    """A user who has signed in before (users appear after their first sign-in)."""
    if ui_server.settings is None:
        # Only against a server started elsewhere (ENCLAVE_E2E_URL): its database is not ours.
        pytest.skip("ENCLAVE_E2E_URL server: its database cannot be seeded with a user from here")
    from app.db.models import User
    from app.db.session import make_engine, make_session_factory, transaction

    engine = make_engine(ui_server.settings.database_url)
    try:
        with transaction(make_session_factory(engine)) as db:
            db.add(User(subject=f"test|{email}", name=name, email=email))
    finally:
        engine.dispose()


def members_api(ui: UI, collection: str) -> set[tuple[str, str, str]]:
    """The collection's bindings as the server holds them (with the page's own session)."""
    listed = ui.page.request.get(f"{ui.url}/v1/collections/{collection}/members").json()
    return {(m["subject_kind"], m["subject_label"], m["role"]) for m in listed}


def grant(page: Page, kind: str, subject: str, role: str) -> None:
    page.get_by_role("button", name="Add member").click()
    page.get_by_label("An IdP group" if kind == "group" else "A user").check()
    page.get_by_label("Group name" if kind == "group" else "E-mail or IdP subject").fill(subject)
    page.get_by_label("Role", exact=True).select_option(role)
    page.get_by_role("button", name="Grant", exact=True).click()


def test_a_collection_admin_grants_and_revokes_roles(ui: UI, ui_server: Server) -> None:
    page = ui.page
    seed_user(ui_server, "nurse@example.org", "Ward Nurse")
    create_collection(page, "members-probe")
    members = page.locator("#members .member")
    expect(members).to_have_count(1)  # the creator administers it
    expect(members.first).to_contain_text("Local administrator")
    expect(members.first).to_contain_text("user · collection admin")

    grant(page, "group", "ward-7", "contributor")
    expect(page.locator("#member-form")).to_be_hidden()
    expect(members.filter(has_text="ward-7")).to_contain_text("group · contributor")
    grant(page, "user", "nurse@example.org", "reader")
    nurse = members.filter(has_text="nurse@example.org")
    expect(nurse).to_contain_text("Ward Nurse")
    expect(nurse).to_contain_text("user · reader")
    assert {
        ("group", "ward-7", "contributor"),
        ("user", "Ward Nurse · nurse@example.org", "reader"),
    } <= members_api(ui, "members-probe")

    grant(page, "user", "Newcomer@Example.org", "reader")  # never signed in: granted ahead
    newcomer = members.filter(has_text="newcomer@example.org")
    expect(newcomer).to_contain_text("not signed in yet · reader")
    grant(page, "user", "newcomer@example.org", "reader")  # the same again: a sentence says so
    expect(page.get_by_role("alert")).to_have_text("That role binding exists already.")
    page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Revoke reader from newcomer@example.org").click()
    expect(newcomer).to_have_count(0)

    page.get_by_role("button", name="Revoke contributor from ward-7").click()
    expect(members.filter(has_text="ward-7")).to_have_count(0)
    page.get_by_role("button", name="Revoke reader from Ward Nurse · nurse@example.org").click()
    expect(members).to_have_count(1)
    assert [kind for kind, _, _ in members_api(ui, "members-probe")] == ["user"]
    assert ui.errors == []


def test_an_admin_is_not_offered_to_revoke_their_own_admin_role(ui: UI) -> None:
    page = ui.page
    create_collection(page, "self-probe")
    own = page.locator("#members .member").filter(has_text="Local administrator")
    expect(own).to_contain_text("user · collection admin")
    expect(own.get_by_text("you", exact=True)).to_be_visible()
    expect(own.get_by_role("button")).to_have_count(0)
    # nor does the API allow it: the admin would lock themselves out
    me = page.request.get(f"{ui.url}/auth/me").json()
    listed = page.request.get(f"{ui.url}/v1/collections/self-probe/members").json()
    binding = next(m["id"] for m in listed if m["subject"] == me["id"])
    refused = page.request.delete(
        f"{ui.url}/v1/collections/self-probe/members/{binding}",
        headers={"X-CSRF-Token": me["csrf_token"]},
    )
    assert refused.status == 409
    assert "your own collection_admin role" in refused.json()["error"]["message"]
    page.reload()
    expect(page.locator(".collection-name").filter(has_text="self-probe")).to_have_count(1)
    assert ui.errors == []


def test_the_member_form_closes_when_the_collection_changes(ui: UI) -> None:
    page = ui.page
    create_collection(page, "form-probe-a")
    create_collection(page, "form-probe-b")
    page.get_by_role("button", name="Add member").click()
    page.get_by_label("E-mail or IdP subject").fill("half-typed@example.org")
    page.locator(".collection-open").filter(has_text="form-probe-a").click()
    expect(page.locator(".collection.is-active .collection-name")).to_have_text("form-probe-a")
    expect(page.locator("#member-form")).to_be_hidden()
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_label("E-mail or IdP subject")).to_have_value("")
    assert ui.errors == []


def test_shift_tab_from_the_question_box_reaches_the_conversation(ui: UI) -> None:
    page = ui.page
    create_collection(page, "focus-probe")  # its members panel (with Revoke buttons) is shown
    page.get_by_label("Your question").focus()
    page.keyboard.press("Shift+Tab")
    expect(page.get_by_role("log", name="Conversation")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.get_by_label("Your question")).to_be_focused()


def test_at_phone_size_nothing_scrolls_sideways(ui: UI) -> None:
    page = ui.page
    create_collection(page, "phone-probe")
    page.set_viewport_size({"width": 390, "height": 844})
    sideways = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(sideways) == 0
    expect(page.get_by_label("Your question")).to_be_visible()  # the chat has the screen
    expect(page.locator("#sidebar")).to_be_hidden()
    page.get_by_role("button", name="Collections").click()
    expect(page.locator(".collection-name").filter(has_text="phone-probe")).to_be_visible()
    expect(page.get_by_label("Your question")).to_be_hidden()
    assert page.evaluate(sideways) == 0
    page.get_by_role("button", name="Chat").click()
    expect(page.get_by_label("Your question")).to_be_focused()
    page.get_by_role("button", name="Compliance").click()
    page.get_by_role("button", name="Find documents").click()
    expect(page.locator("#results-note")).not_to_be_empty()
    assert page.evaluate(sideways) == 0
    page.screenshot(path="/tmp/enclave-ui-phone-compliance.png")
    assert ui.errors == []


def test_a_failed_upload_is_not_counted(ui: UI) -> None:
    page = ui.page
    create_collection(page, "count-probe")
    upload(page, "broken.pdf", b"%PDF-1.7\nnot really a PDF\n", "application/pdf")
    expect(page.locator(".doc .badge")).to_have_text("failed", timeout=60_000)
    count = page.locator(".collection").filter(has_text="count-probe").locator(".count")
    expect(count).to_have_text("0 documents")
    upload(page, "leave-policy.md", LEAVE_POLICY, "text/markdown")
    expect(page.locator(".doc .badge-indexed")).to_have_count(1, timeout=60_000)
    expect(count).to_have_text("1 document")
    page.reload()  # and the server counts the same way
    expect(count).to_have_text("1 document")
    assert ui.errors == []


def test_an_expired_session_keeps_the_typed_question(ui: UI) -> None:
    """The session ends while a question is being typed: no redirect, the page says so and
    offers sign-in in a new tab, the question stays in the box — and in no browser storage."""
    page = ui.page
    page.context.clear_cookies()  # the session cookie is gone: every call is now a 401
    question = "What is the notice period for annual leave?"
    page.get_by_label("Your question").fill(question)
    page.keyboard.press("Enter")
    banner = page.locator("#session-ended")
    expect(banner).to_be_visible()
    expect(banner.get_by_role("link", name="Sign in again in a new tab")).to_have_attribute(
        "target", "_blank"
    )
    expect(page.get_by_label("Your question")).to_have_value(question)
    assert page.url == ui.url + "/"
    stored = page.evaluate(STORED)
    assert stored["local"] == 0
    assert stored["session"] == 0
    assert ui.errors == []


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".swagger-ui .info"), ("/redoc", "h1")])
def test_the_api_docs_render_offline_without_csp_violations(ui: UI, path: str, ready: str) -> None:
    page = ui.page
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.goto(ui.url + path)
    expect(page.locator(ready).first).to_contain_text("Enclave", timeout=30_000)
    outside = [u for u in ui.off_host() if not u.startswith(f"blob:{ui.url}/")]  # in-page
    assert outside == [], f"the docs requested outside the app: {outside}"
    assert [m for m in console if "Content Security Policy" in m] == []
    assert ui.errors == []
