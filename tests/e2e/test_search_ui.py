"""The search page in headless Chromium against the real app: passages with the matching
sentences highlighted, the document, section and page; filters by collection and document type
(applied by the server's query); keyboard navigation and the source panel; a reader sees only
their collections; the search never reaches a URL or the browser's storage, and nothing leaves
127.0.0.1. Desktop and phone screenshots are saved as test artifacts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import EMPTY, STORED, Server, oidc_sign_in, oidc_ui_server
from tests.e2e.test_grounded_answers import VALVE_MD
from tests.support import sign_in, wait_indexed

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import UI

SCREENSHOTS = Path("/tmp/enclave-search")
READER = {"name": "Rita Reader", "email": "rita@example.org", "groups": ["plant-staff"]}
PUMP_HTML = (Path(__file__).parents[2] / "samples" / "pump-maintenance-manual.html").read_bytes()
BUDGET_TXT = b"""Budget 2027

The pressure on the maintenance budget grows: valve overhauls cost 12% more than planned.
The finance committee reviews the overhaul plan in March.
"""
QUERY = "which valve is approved for continuous operation at 40 bar"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app with two collections (plant: Markdown and HTML; finance: plain text) and
    an OIDC provider whose user rita reads `plant` only. Overrides conftest's `ui_server`."""
    roles = {"plant-staff": ["reader:plant"]}
    with (
        oidc_ui_server(tmp_path_factory, "search-ui", {"rita": READER}, roles) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
    ):
        assert server.settings is not None
        sign_in(http, server.settings)
        for collection, name, data in (
            ("plant", "valves.md", VALVE_MD.encode()),
            ("plant", "pump-maintenance-manual.html", PUMP_HTML),
            ("finance", "budget.txt", BUDGET_TXT),
        ):
            made = http.post("/v1/collections", json={"name": collection})
            assert made.status_code in (201, 409), made.text
            up = http.post(f"/v1/collections/{collection}/documents", files={"file": (name, data)})
            assert wait_indexed(http, up.json()["id"])["status"] == "indexed"
        yield server


def titles(page: Page) -> list[str]:
    return page.locator("#results .result-title").all_inner_texts()


def search(page: Page, query: str) -> None:
    page.get_by_label("Search for").fill(query)
    page.get_by_label("Search for").press("Enter")
    expect(page.locator("#search-status")).not_to_have_text("Searching…")


def shot(page: Page, name: str) -> None:
    """Desktop (1280×800) and phone (390×844) screenshots; nothing scrolls sideways on the
    phone, nor at 400% zoom (a 1280-pixel-wide window shows 320 CSS pixels)."""
    SCREENSHOTS.mkdir(exist_ok=True)
    for label, width, height in (("desktop", 1280, 800), ("phone", 390, 844), ("zoom", 320, 200)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SCREENSHOTS / f"{name}-{label}.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth <= innerWidth"), label
    page.set_viewport_size({"width": 1280, "height": 800})


def test_the_source_panel_scrolls_to_its_highlight(ui: UI) -> None:
    """The sentence that matches sits at the end of the pump manual's one chunk: the panel
    opens scrolled to it, not at the top of the passage, its title and close button in sight."""
    page = ui.page
    page.goto(ui.url + "/search")
    search(page, "What does error code E31 mean on the XJ-220 pump?")
    top = page.locator("#results .result").first
    expect(top.locator(".result-title")).to_have_text("pump-maintenance-manual")
    top.locator(".result-title").click()
    mark = page.locator("#source-panel mark").first
    expect(mark).to_contain_text("E31 indicates a failed battery")
    expect(mark).to_be_in_viewport()
    expect(page.locator("#source-title")).to_be_focused()
    expect(page.get_by_role("button", name="Close source")).to_be_in_viewport()  # a sticky head
    page.keyboard.press("Escape")


def test_search_highlights_passages_filters_and_moves_by_keyboard(ui: UI) -> None:
    page = ui.page
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Search").click()
    expect(page).to_have_url(ui.url + "/search")
    expect(page.get_by_role("heading", name="Search passages")).to_be_visible()
    expect(page.get_by_label("Search for")).to_be_focused()

    search(page, QUERY)
    expect(page.locator("#results .result")).to_have_count(3)
    top = page.locator("#results .result").first
    expect(top.locator(".result-title")).to_have_text("valves")
    expect(top.locator(".result-where")).to_contain_text("plant · XV Series Valves — Operating")
    expect(top.locator("mark").first).to_contain_text("approved for continuous operation at 40 bar")
    expect(page.locator("#search-status")).to_have_text("3 passages found, best first.")
    shot(page, "results")

    # Filters: each is part of the server's query (the request says so), never a hidden row
    page.get_by_label("Collection").select_option(label="finance")
    expect(page.locator("#results .result-title")).to_have_text(["budget"])
    page.get_by_label("Collection").select_option(label="All your collections")
    with page.expect_request("**/v1/search") as sent:
        page.get_by_label("Document type").select_option(label="Markdown")
    assert sent.value.post_data_json["types"] == ["markdown"]
    expect(page.locator("#results .result-title")).to_have_text(["valves"])
    page.get_by_label("Document type").select_option(label="PDF")
    expect(page.locator("#search-empty")).to_have_text(
        "No passage matches this search. Try other words, or widen the filters."
    )
    expect(page.locator("#results")).to_be_hidden()
    page.get_by_label("Document type").select_option(label="Any type")
    expect(page.locator("#results .result")).to_have_count(3)

    # The keyboard: ↓ from the box, j/k between results, Enter opens, Esc closes
    page.get_by_label("Search for").focus()
    page.keyboard.press("ArrowDown")
    expect(page.locator("#results .result-title").nth(0)).to_be_focused()
    page.keyboard.press("j")
    page.keyboard.press("j")
    expect(page.locator("#results .result-title").nth(2)).to_be_focused()
    page.keyboard.press("k")
    second = page.locator("#results .result-title").nth(1)
    expect(second).to_be_focused()
    assert page.evaluate("getComputedStyle(document.activeElement).boxShadow") != "none"
    page.screenshot(path=SCREENSHOTS / "keyboard-desktop.png")  # the focus ring, seen
    page.keyboard.press("Enter")
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(panel.locator("#source-title")).to_have_text(second.inner_text())
    expect(panel.locator("mark").first).not_to_be_empty()
    original = page.locator("#results .result-original").nth(1).get_attribute("href")
    assert re.fullmatch(r"/v1/documents/[0-9a-f-]{36}/original", original or "")
    link = panel.get_by_role("link", name="Download the original document")
    expect(link).to_have_attribute("href", original)
    shot(page, "source")
    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(second).to_be_focused()

    # Zero retention: the search went in POST bodies only, and the browser kept nothing
    assert not [u for u in ui.requests if any(w in u.lower() for w in ("valve", "continuous"))]
    assert page.evaluate(STORED) == EMPTY
    assert ui.off_host() == []
    assert ui.errors == []


def test_a_reader_searches_only_their_collections(chromium: Browser, ui_server: Server) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    requests: list[str] = []
    errors: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    oidc_sign_in(page, ui_server.url, "rita")
    requests.clear()  # the test IdP's own page asks a CDN for its style: not Enclave's doing
    page.goto(ui_server.url + "/search")
    expect(page.locator("#user-menu .user-name")).to_have_text(READER["name"])

    options = page.get_by_label("Collection").locator("option")
    expect(options).to_have_text(["All your collections", "plant"])
    search(page, QUERY)
    expect(page.locator("#results .result")).to_have_count(2)
    assert sorted(titles(page)) == ["pump-maintenance-manual", "valves"]
    expect(page.locator("#results")).not_to_contain_text("finance")
    token = page.request.get(ui_server.url + "/auth/me").json()["csrf_token"]
    refused = page.request.post(
        ui_server.url + "/v1/search",
        data={"query": QUERY, "collections": ["finance"]},
        headers={"X-CSRF-Token": token},
    )
    assert refused.status == 404  # as if it did not exist, whatever the page offers

    # The session ends (signed out elsewhere): a sentence says so; the search stays typed
    context.clear_cookies()
    page.get_by_role("button", name="Search", exact=True).click()
    expect(page.locator("#search-error")).to_have_text(
        "Your session has ended. Sign in again, then send it again."
    )
    expect(page.get_by_label("Search for")).to_have_value(QUERY)
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}
    assert page.evaluate(STORED) == EMPTY
    assert errors == []
    context.close()
