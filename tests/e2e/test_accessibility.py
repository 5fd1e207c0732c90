"""Every page of the web UI checked with axe-core in headless Chromium (no serious or critical
violation) and at 400% zoom (nothing scrolls sideways): sign-in, the chat empty, streaming, with
a cited and a flagged answer, the source panel, the sidebar at phone size and the compliance
section. Screenshots of each state land in /tmp/enclave-a11y (tests/e2e/conftest.py)."""

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

    answer.get_by_role("button", name=re.compile("the passage that supports this")).first.click()
    expect(page.locator("#source-text mark")).not_to_have_count(0)
    assert_accessible(page, "source-panel")
    assert_reflows(page, "source-panel")
    page.set_viewport_size(PHONE)
    assert_accessible(page, "source-panel-phone")
    assert ui.errors == []


def test_the_sidebar_at_phone_size(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.set_viewport_size(PHONE)
    assert_accessible(page, "chat-phone")
    page.get_by_role("button", name="Collections").click()
    expect(page.locator("#sidebar")).to_be_visible()
    page.locator(".collection-open").filter(has_text="plant").click()  # documents, keys, members
    expect(page.locator(".doc").first).to_contain_text("valves")
    assert_accessible(page, "sidebar-phone")
    assert_reflows(page, "sidebar")
    assert ui.errors == []


def test_the_compliance_section(ui: UI) -> None:
    page = ui.page
    ready(page)
    page.get_by_role("button", name="Compliance").click()
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
