"""Browser fixtures: the real app on loopback and headless Chromium (Debian's, not Playwright's:
`playwright install` cannot download browsers in an air-gapped build)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from app.settings import Settings

# What the page keeps in the browser's storage: all of it must stay empty (zero retention).
STORED = """async () => ({
  local: localStorage.length,
  session: sessionStorage.length,
  cookie: document.cookie,
  indexedDB: (await indexedDB.databases()).length,
  caches: self.caches ? (await caches.keys()).length : 0,
})"""
# ... and what it must hold: nothing (the session cookie is HttpOnly: no script can read it)
EMPTY = {"local": 0, "session": 0, "cookie": "", "indexedDB": 0, "caches": 0}

# axe-core, pinned in package-lock.json beside this file; scripts/setup.sh dev installs it (npm ci).
AXE = Path(__file__).parent / "node_modules" / "axe-core"
A11Y_SHOTS = Path("/tmp/enclave-a11y")  # the screenshot of every page checked (test artifacts)
SIDEWAYS = "(e => e.scrollWidth - e.clientWidth)(document.scrollingElement)"

CHROMIUM = Path(os.environ.get("ENCLAVE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """A headless Chromium; fails (never skips) when the system browser is missing."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the web UI tests need it. Install it with "
            "`apt-get install -y chromium` (or set ENCLAVE_CHROMIUM to its path).",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("playwright is missing: `make test` installs it (requirements/lock.txt)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@dataclass
class Server:
    url: str
    settings: Settings | None  # None: a server started elsewhere (ENCLAVE_E2E_URL)

    def sign_in_link(self) -> str:
        """The local admin's one-time link (ENCLAVE_E2E_LINK for a server started elsewhere)."""
        if self.settings is None:
            return os.environ.get("ENCLAVE_E2E_LINK", self.url)
        from tests.support import admin_link

        return admin_link(self.settings, self.url)


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app (SQLite, qdrant-edge, worker; hash embedder, echo generator, overlap
    reranker) on 127.0.0.1, or the server ENCLAVE_E2E_URL names (e.g. a dev stand-in)."""
    if url := os.environ.get("ENCLAVE_E2E_URL"):
        yield Server(url.rstrip("/"), None)
        return
    from tests.support import fast_settings, live_server

    settings = fast_settings(tmp_path_factory.mktemp("ui-data"))
    with live_server(settings) as base:
        yield Server(base, settings)


@dataclass
class UI:
    page: Page
    url: str
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    errors: list[str] = field(default_factory=list)  # uncaught JavaScript errors

    def off_host(self) -> list[str]:
        """Requests that went anywhere but the app (data: URLs never leave the page)."""
        here = urlsplit(self.url).netloc
        return [
            u for u in self.requests if urlsplit(u).scheme != "data" and urlsplit(u).netloc != here
        ]


@pytest.fixture
def ui(chromium: Browser, ui_server: Server) -> Iterator[UI]:
    """A fresh browser context (no shared storage), signed in as the local admin through its
    one-time link, with the app's page open."""
    context = chromium.new_context(viewport={"width": 1360, "height": 820}, locale="en-GB")
    page = context.new_page()
    session = UI(page=page, url=ui_server.url)
    context.on("request", lambda request: session.requests.append(request.url))
    page.on("pageerror", lambda exc: session.errors.append(str(exc)))
    page.set_default_timeout(15_000)
    page.goto(ui_server.sign_in_link())
    page.wait_for_url(ui_server.url + "/")
    yield session
    context.close()


def upload(page: Page, name: str, data: bytes, mime: str) -> None:
    """Upload through the documents panel's file input, as a person choosing a file would."""
    files = {"name": name, "mimeType": mime, "buffer": data}
    page.get_by_label("Choose files to upload").set_input_files(files)


@cache
def axe_source() -> str:
    """axe.min.js at the version package-lock.json pins; fails (never skips) when it is not
    installed, or another version is."""
    lock = json.loads((Path(__file__).parent / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/axe-core"]["version"]
    try:
        installed = json.loads((AXE / "package.json").read_text())["version"]
        source = (AXE / "axe.min.js").read_text()
    except FileNotFoundError:
        installed = None
    if installed != pinned:
        pytest.fail(
            f"axe-core {pinned} is not installed in {AXE.parent} (found: {installed}): the "
            "accessibility checks need it. `./scripts/setup.sh dev` installs it (it runs "
            "`npm ci --prefix tests/e2e`).",
            pytrace=False,
        )
    return source


def assert_accessible(page: Page, name: str) -> None:
    """Check the page as it is now with axe-core and fail listing every serious or critical
    violation (rule, help, the elements' selectors); saves a screenshot to A11Y_SHOTS/name.png.
    Call it once the page shows the state to check, e.g. `assert_accessible(ui.page, "search")`.

    axe is evaluated through the DevTools protocol, which the page's Content Security Policy
    does not govern: the page keeps its real, strict CSP."""
    A11Y_SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=A11Y_SHOTS / f"{name}.png", full_page=True)
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    found = page.evaluate("async () => (await axe.run(document)).violations")
    serious = [v for v in found if v["impact"] in ("serious", "critical")]
    listed = "\n".join(
        f"- {v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in serious
    )
    assert not serious, f"axe-core found on {name} ({page.url}):\n{listed}"


def assert_reflows(page: Page, name: str) -> None:
    """At 400% zoom of a 1280×1024 screen (320×256 CSS pixels) nothing scrolls sideways
    (WCAG 1.4.10); saves a screenshot to A11Y_SHOTS/name-400.png; restores the viewport."""
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": 256})
    try:
        A11Y_SHOTS.mkdir(exist_ok=True)
        page.screenshot(path=A11Y_SHOTS / f"{name}-400.png", full_page=True)
        assert page.evaluate(SIDEWAYS) <= 0, f"{name} scrolls sideways at 320×256 (400% zoom)"
    finally:
        if size:
            page.set_viewport_size(size)


@contextmanager
def oidc_ui_server(
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    users: dict[str, dict],
    group_roles: dict[str, list[str]],
) -> Iterator[Server]:
    """The real app with the local admin and a loopback OIDC provider of `users` ({sub:
    claims}) whose IdP groups map to roles by `group_roles`; for a module's `ui_server`."""
    from app.auth.settings import AuthSettings
    from tests.idp import oidc_provider
    from tests.support import fast_settings, live_server

    with oidc_provider(users) as issuer:
        auth = AuthSettings(
            issuer=issuer, client_id="enclave-web", client_secret="s3cret", group_roles=group_roles
        )
        settings = fast_settings(tmp_path_factory.mktemp(name), auth=auth)
        with live_server(settings) as base:
            yield Server(base, settings)


def oidc_sign_in(page: Page, base: str, user: str) -> None:
    """Sign in through the provider's page, picking `user`; ends on the chat page."""
    from playwright.sync_api import expect

    page.goto(base)
    page.get_by_role("link", name="Sign in with your organisation account").click()
    page.get_by_role("button", name=user).click()  # the provider's page: pick the user
    expect(page).to_have_url(base + "/")
