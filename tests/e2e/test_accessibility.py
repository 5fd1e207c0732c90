"""Every page of the web UI checked with axe-core in headless Chromium (no serious or critical
violation) and at 400% zoom (nothing scrolls sideways): sign-in, the chat empty, streaming, with
a cited and a flagged answer, the source panel, the sidebar at phone size, the search, documents,
admin and compliance pages. Screenshots of each state land in /tmp/enclave-a11y (conftest)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from serving.settings import AnswerSettings
from tests.e2e import conftest
from tests.e2e.conftest import Server, assert_accessible, assert_reflows
from tests.e2e.test_grounded_answers import FIRST, VALVE_MD
from tests.support import Scripted, fast_settings, served_with, wait_indexed

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Page

    from tests.e2e.conftest import UI

PHONE = {"width": 390, "height": 844}
ZOOMED = {"width": 320, "height": 256}  # 400% zoom of a 1280×1024 screen
TOKEN = "name => getComputedStyle(document.documentElement).getPropertyValue(name)"
CLIPPED = "id => (e => e.scrollHeight - e.clientHeight)(document.getElementById(id))"


@pytest.fixture(scope="module")
def generator() -> Scripted:
    return Scripted()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, generator: Scripted) -> Iterator[Server]:
    """The real app (answers: the extract, then the scripted model's claims, checked) with the
    valve manual indexed. Overrides conftest's `ui_server`; `ui` signs the local admin in."""
    settings = fast_settings(tmp_path_factory.mktemp("a11y"), answer=AnswerSettings(mode="both"))
    with served_with(settings, generator) as (base, http):
        assert http.post("/v1/collections", json={"name": "plant"}).status_code == 201
        up = http.post(
            "/v1/collections/plant/documents", files={"file": ("valves.md", VALVE_MD.encode())}
        )
        assert wait_indexed(http, up.json()["id"])["status"] == "indexed"
        yield Server(base, settings)


def ready(page: Page) -> None:
    """The chat page as a signed-in user first sees it (header nav and collections drawn)."""
    expect(page.locator("#site-nav")).to_be_visible()
    expect(page.locator(".collection-name").first).to_have_text("plant")


def assert_scrolls_as_one(page: Page, box: str) -> None:
    """At 400% zoom the page scrolls as a whole: `box` (the conversation, the compliance
    section) shows all its content instead of scrolling inside a sliver between the header and
    the composer."""
    size = page.viewport_size
    page.set_viewport_size(ZOOMED)
    try:
        assert page.evaluate(CLIPPED, box) <= 1, f"#{box} scrolls inside itself at 320×256"
    finally:
        if size:
            page.set_viewport_size(size)


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    rgb = [int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.keyboard.press("Enter")


def test_the_sign_in_page(ui: UI) -> None:
    page = ui.page
    page.goto(ui.url + "/signin")
    expect(page.locator("#signin-local")).to_be_visible()
    assert_accessible(page, "signin")
    assert_reflows(page, "signin")
    assert ui.errors == []


def test_the_empty_chat(ui: UI) -> None:
    page = ui.page
    ready(page)
    assert_accessible(page, "chat-empty")
    assert_reflows(page, "chat-empty")
    # the focus ring (axe does not check it) stands out from every background: 3:1 or more
    ring = re.search(r"#[0-9a-f]{6}", page.evaluate(TOKEN, "--focus"))
    assert ring, "the focus ring is a solid colour"
    for surface in ("--surface", "--bg", "--primary-soft"):
        assert contrast(ring[0], page.evaluate(TOKEN, surface).strip()) >= 3, surface
    assert ui.errors == []


def test_a_streamed_answer_its_flagged_claim_and_its_source(ui: UI, generator: Scripted) -> None:
    page = ui.page
    ready(page)
    generator.script = (
        "The XJ-220 is approved for continuous operation at 40 bar [1]. "
        "Its peak pressure rating is 96 bar [1]."
    )
    generator.pause_s = 0.3
    try:
        ask(page, FIRST)
        answer = page.locator(".answer").last
        expect(answer).to_have_attribute("aria-busy", "true")
        expect(answer.locator(".answer-part").first).to_contain_text("XJ-220")
        assert_accessible(page, "chat-streaming")
    finally:
        generator.pause_s = 0.0
    expect(page.locator(".turn").last.locator(".meta")).not_to_be_empty(timeout=60_000)
    expect(answer.locator(".flagged")).to_have_count(1)
    assert_accessible(page, "chat-answer")
    assert_reflows(page, "chat-answer")
    assert_scrolls_as_one(page, "thread")

    answer.get_by_role("button", name=re.compile("the passage that supports this")).first.click()
    expect(page.locator("#source-text mark")).not_to_have_count(0)
    assert_accessible(page, "source-panel")
    assert_reflows(page, "source-panel")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "source-panel-phone")
    assert ui.errors == []


def test_a_declined_question_with_its_closest_passages(ui: UI, generator: Scripted) -> None:
    page = ui.page
    ready(page)
    generator.script = "The canteen serves lasagne [1]."
    ask(page, "Which hospital canteen serves vegetarian lunch on Fridays?")
    expect(page.locator(".answer")).to_have_text("The sources do not contain the answer.")
    expect(page.locator(".sources h2")).to_have_text(["Closest passages"])
    assert_accessible(page, "chat-no-answer")
    assert ui.errors == []


def test_the_sidebar_at_phone_size(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.set_viewport_size(PHONE)
    assert_accessible(page, "chat-phone")
    page.get_by_role("button", name="Collections").click()
    expect(page.locator("#sidebar")).to_be_visible()
    page.locator(".collection-open").filter(has_text="plant").click()  # its documents
    expect(page.locator(".doc").first).to_contain_text("valves")
    assert_accessible(page, "sidebar-phone")
    assert_reflows(page, "sidebar")
    assert ui.errors == []


def test_the_documents_page(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Documents").click()
    expect(page.locator("#documents .doc").first).to_contain_text("valves")
    assert_accessible(page, "documents")
    page.locator("#documents .doc").first.get_by_role(
        "button", name=re.compile("^Show the chunks of")
    ).click()
    expect(page.locator("#chunks .chunk").first).to_be_visible()
    assert_accessible(page, "documents-chunks")
    assert_reflows(page, "documents")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "documents-phone")
    assert ui.errors == []


def test_the_admin_page(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Admin").click()
    page.get_by_role("button", name="Manage plant").click()
    for form in ("New collection", "Add key", "Add member"):  # every form of the page open
        page.get_by_role("button", name=form).click()
    expect(page.get_by_label("E-mail or IdP subject")).to_be_visible()
    assert_accessible(page, "admin")
    assert_reflows(page, "admin")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "admin-phone")
    assert ui.errors == []


def test_the_search_page(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Search").click()
    assert_accessible(page, "search-empty")
    page.get_by_label("Search for").fill("Which valve is approved at 40 bar?")
    page.get_by_label("Search for").press("Enter")
    expect(page.locator(".result").first).to_contain_text("valves")
    assert_accessible(page, "search")
    page.get_by_label("Search for").press("ArrowDown")
    page.keyboard.press("Enter")  # the first result, in the source panel
    expect(page.locator("#source-panel")).to_be_visible()
    assert_accessible(page, "search-source")
    assert_reflows(page, "search")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "search-phone")
    assert ui.errors == []


def test_the_compliance_page(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Compliance").click()
    page.get_by_role("button", name="Find documents").click()
    expect(page.locator("#results tbody tr")).to_have_count(1)
    assert_accessible(page, "compliance")
    page.locator("#results tbody tr").get_by_role("button", name=re.compile("^Erase")).click()
    expect(page.get_by_label("Reason or reference")).to_be_focused()
    assert_accessible(page, "compliance-erase")
    assert_reflows(page, "compliance")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "compliance-phone")
    assert ui.errors == []


def test_without_axe_core_the_checks_fail_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(conftest, "AXE", tmp_path / "axe-core")
    with pytest.raises(pytest.fail.Exception, match=r"scripts/setup.sh dev.*npm ci"):
        conftest.axe_source.__wrapped__()
