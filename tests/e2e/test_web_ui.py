"""The web UI in headless Chromium against the real app: collections, upload, a streamed and
cited answer, the source panel — with nothing leaving 127.0.0.1 and
nothing stored."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING
from urllib.parse import urljoin

import pytest
from playwright.sync_api import expect

from evals.bench import documents
from tests.e2e.conftest import EMPTY, STORED, upload

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import UI

SCREENSHOT = "/tmp/enclave-ui.png"
LEAVE_POLICY = b"""Full-time employees receive 27 days of annual leave per calendar year.
Requests go through the HR portal at least two weeks in advance.

# Sick leave

Report sickness to your line manager before 9 am on the first day.
"""


def create_collection(page: Page, name: str) -> None:
    """Made on the admin page (test_admin_ui.py); here through the API, then chosen."""
    me = page.request.get(urljoin(page.url, "/auth/me")).json()
    csrf = {"X-CSRF-Token": me["csrf_token"]}
    url = urljoin(page.url, "/v1/collections")
    made = page.request.post(url, data={"name": name}, headers=csrf)
    assert made.status == 201, made.text()
    page.reload()
    page.locator(".collection-open").filter(has_text=name).click()
    expect(page.locator(".collection[class*=is-active] .collection-name")).to_have_text(name)


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.keyboard.press("Enter")
    expect(page.locator(".turn").last.locator(".meta")).not_to_be_empty(timeout=60_000)


def test_ask_an_uploaded_document_and_open_a_citation(ui: UI) -> None:
    page = ui.page
    expect(page).to_have_title("Enclave")
    expect(page.get_by_text("Conversations are not stored")).to_be_visible()

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
    expect(page.locator(".sources h3").first).to_have_text("Cited sources")

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


def test_shift_tab_from_the_question_box_reaches_the_conversation(ui: UI) -> None:
    page = ui.page
    create_collection(page, "focus-probe")
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
