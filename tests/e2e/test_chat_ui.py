"""The chat in headless Chromium against the real app with a scripted generator: an answer
streams in claim by claim, each [n] opens its source with the supporting passage highlighted;
a claim no source supports is withheld and flagged with the closest passage; a follow-up is
understood from the earlier turn; Markdown renders as lists and tables, never as markup;
copy, regenerate, stop and a new conversation; nothing leaves 127.0.0.1 or stays in storage."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from serving.settings import AnswerSettings
from tests.e2e.conftest import EMPTY, STORED, Server
from tests.e2e.test_grounded_answers import FIRST, FOLLOW_UP, VALVE_MD
from tests.support import Scripted, fast_settings, served_with, wait_indexed

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import UI

SCREENSHOTS = Path("/tmp/enclave-chat")
INVENTED = "Its peak pressure rating is 96 bar [1]."
LISTED = "Bodies by model:\n\n- brass for XJ-110 [1]\n- ductile iron for XJ-330 [1]"


@pytest.fixture(scope="module")
def generator() -> Scripted:
    return Scripted()


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory, generator: Scripted) -> Iterator[Server]:
    """The real app whose generator says what each test scripts; the valve manual indexed.
    Overrides conftest's `ui_server` (the `ui` fixture signs the local admin in here)."""
    # mode both: the extractive answer, then the model's answer checked claim by claim
    settings = fast_settings(tmp_path_factory.mktemp("chat-ui"), answer=AnswerSettings(mode="both"))
    with served_with(settings, generator) as (base, http):
        assert http.post("/v1/collections", json={"name": "plant"}).status_code == 201
        up = http.post(
            "/v1/collections/plant/documents", files={"file": ("valves.md", VALVE_MD.encode())}
        )
        assert wait_indexed(http, up.json()["id"])["status"] == "indexed"
        yield Server(base, settings)


def ask(page: Page, question: str) -> None:
    page.get_by_label("Your question").fill(question)
    page.keyboard.press("Enter")


def finished(page: Page) -> None:
    expect(page.locator(".turn").last.locator(".meta")).not_to_be_empty(timeout=60_000)


def shot(page: Page, name: str) -> None:
    """Desktop and phone screenshots of the page as it is (test artifacts)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    size = page.viewport_size
    page.screenshot(path=SCREENSHOTS / f"{name}-desktop.png")
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=SCREENSHOTS / f"{name}-phone.png")
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    if size:
        page.set_viewport_size(size)


def test_a_streamed_answer_is_cited_and_an_unsupported_claim_flagged(
    ui: UI, generator: Scripted
) -> None:
    page = ui.page
    page.set_viewport_size({"width": 1280, "height": 800})
    generator.script = f"The XJ-220 is approved for continuous operation at 40 bar [1]. {INVENTED}"
    generator.pause_s = 0.15
    ask(page, FIRST)
    answer = page.locator(".answer").last
    # streamed: the extract is on show while the model's answer is still being checked
    expect(answer.locator(".answer-part").first).to_contain_text("XJ-220 is the only model")
    expect(answer).to_have_attribute("aria-busy", "true")
    finished(page)
    generator.pause_s = 0.0
    expect(answer).not_to_have_attribute("aria-busy", "true")
    expect(answer.locator(".part-label")).to_have_text(
        ["From your documents, word for word", "The model's answer, checked against them"]
    )

    flag = answer.locator(".flagged")
    expect(flag).to_have_count(1)
    expect(flag).to_contain_text("Not supported by the sources")
    expect(flag).to_contain_text("They do not mention 96 bar")
    expect(flag.locator(".flag-text")).to_have_text("Its peak pressure rating is 96 bar.")
    expect(answer.locator(".answer-text").filter(has_text="96")).to_have_count(0)

    supports = answer.get_by_role("button", name=re.compile("the passage that supports this"))
    supports.first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#source-title")).to_be_focused()
    expect(page.locator("#source-text mark")).to_contain_text(
        "XJ-220 is the only model in the series approved for continuous operation at 40 bar"
    )
    expect(page.locator("#source-highlight")).to_contain_text("supports the claim")
    expect(page.locator("#source-meta")).to_contain_text("Pressure ratings")
    expect(page.locator("#source-text table")).to_have_count(1)  # the table as a table
    expect(page.locator("#source-text th").first).to_have_text("Model")
    with page.expect_download() as got:
        page.get_by_role("link", name="Download the original document").click()
    assert got.value.suggested_filename == "valves.md"
    assert Path(got.value.path()).read_text() == VALVE_MD
    shot(page, "cited")
    page.keyboard.press("Escape")

    flag.get_by_role("button", name=re.compile("the closest passage")).click()
    expect(page.locator("#source-highlight")).to_contain_text("does not support the claim")
    expect(page.locator("#source-text .is-highlighted, #source-text mark")).not_to_have_count(0)
    page.keyboard.press("Escape")
    assert ui.errors == []


def test_a_follow_up_is_understood_from_the_earlier_turn(ui: UI, generator: Scripted) -> None:
    page = ui.page
    sent: list[dict] = []
    page.on(
        "request",
        lambda r: sent.append(json.loads(r.post_data or "{}")) if "/v1/answer" in r.url else None,
    )
    generator.script = "The XJ-220 is approved for continuous operation at 40 bar [1]."
    ask(page, FIRST)
    finished(page)
    generator.script = "The XJ-220 has a peak pressure rating of 64 bar [1]."
    ask(page, FOLLOW_UP)
    finished(page)
    follow_up = page.locator(".turn").last
    expect(follow_up.locator(".rewritten")).to_contain_text("XJ-220")
    expect(follow_up.locator(".answer")).to_contain_text("64 bar")
    assert [t["role"] for t in sent[-1]["history"]] == ["user", "assistant"]
    assert sent[-1]["history"][0]["content"] == FIRST
    assert "40 bar" in sent[-1]["history"][1]["content"]

    # regenerate: the last turn only, asked again with the same history
    expect(page.locator(".turn").first.get_by_role("button", name="Regenerate")).to_have_count(0)
    follow_up.get_by_role("button", name="Regenerate").click()
    finished(page)
    expect(page.locator(".turn")).to_have_count(2)
    assert sent[-1]["question"] == FOLLOW_UP
    assert len(sent[-1]["history"]) == 2

    # copy: the answer and its sources
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    follow_up.get_by_role("button", name="Copy").click()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert "64 bar [1]" in copied
    assert "Sources:\n[1] valves" in copied

    # a new conversation forgets the earlier turns: the next question goes without history
    page.get_by_role("button", name="New conversation").click()
    expect(page.locator(".turn")).to_have_count(0)
    expect(page.locator("#welcome")).to_be_visible()
    ask(page, FOLLOW_UP)
    finished(page)
    assert sent[-1]["history"] == []
    assert page.evaluate(STORED) == EMPTY
    assert ui.off_host() == []
    assert ui.errors == []


def test_markdown_renders_as_lists_never_as_markup(ui: UI, generator: Scripted) -> None:
    page = ui.page
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text) if m.type == "error" else None)
    page.reload()  # markdown-it loads from /static/vendor, under the page's strict CSP
    page.set_viewport_size({"width": 1280, "height": 560})  # the answer is taller than the view
    generator.script = f"{LISTED}\n\nSee <img src=x onerror=window.pwned=1> [1]."
    ask(page, "What body does the XJ-110 valve have, and the XJ-330?")
    finished(page)
    thread = "document.getElementById('thread')"
    at_end = f"(t => t.scrollHeight - t.scrollTop - t.clientHeight < 2)({thread})"
    expect(page.get_by_role("button", name="Copy")).to_be_visible()
    assert page.evaluate(at_end), "the view follows the end of the finished answer"
    model = page.locator(".answer-part").last
    expect(model.locator("ul li")).to_have_count(2)
    expect(model.locator("li").first).to_contain_text("brass for XJ-110")
    expect(model.locator("li .cite")).to_have_count(2)
    expect(page.locator(".answer .flag-text")).to_contain_text("<img src=x")  # literally
    expect(page.locator(".answer img")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    shot(page, "markdown")
    assert console == []  # no Content Security Policy violation, no failed load
    assert ui.off_host() == []
    assert ui.errors == []


def test_a_question_the_sources_cannot_answer_offers_the_closest_passages(
    ui: UI, generator: Scripted
) -> None:
    page = ui.page
    generator.script = "The canteen serves lasagne [1]."
    ask(page, "Which hospital canteen serves vegetarian lunch on Fridays?")
    finished(page)
    turn = page.locator(".turn").last
    expect(turn.locator(".answer")).to_have_text("The sources do not contain the answer.")
    expect(turn.locator(".answer")).to_have_class(re.compile("is-no-answer"))
    expect(turn.locator(".sources h2")).to_have_text(["Closest passages"])
    expect(turn.locator(".source")).not_to_have_count(0)
    assert ui.errors == []


def test_stop_ends_an_answer_and_keeps_what_was_shown(ui: UI, generator: Scripted) -> None:
    page = ui.page
    generator.script = " ".join(["The XJ-220 is approved for continuous operation at 40 bar [1]."])
    generator.pause_s = 0.5
    try:
        ask(page, FIRST)
        answer = page.locator(".answer").last
        expect(answer.locator(".answer-part").first).to_contain_text("XJ-220")
        page.get_by_role("button", name="Stop").click()
        expect(answer.locator(".notice")).to_have_text("Stopped.")
        expect(answer).to_contain_text("XJ-220 is the only model")
        expect(page.get_by_label("Your question")).to_be_focused()
    finally:
        generator.pause_s = 0.0
    assert ui.errors == []
