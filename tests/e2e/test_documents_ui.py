"""The Documents page in headless Chromium against the real app: several files dropped at once,
each with its own progress until indexed; a damaged file's reason as a sentence; a new version;
a document's chunks; a reader sees the documents but no upload or delete control — with
nothing leaving 127.0.0.1."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import expect

from evals.bench import documents
from tests.e2e.conftest import EMPTY, STORED, Server, oidc_sign_in, oidc_ui_server
from tests.support import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

    from tests.e2e.conftest import UI

SCREENSHOT = "/tmp/enclave-documents.png"
PHONE_SCREENSHOT = "/tmp/enclave-documents-phone.png"
ZOOM_SCREENSHOT = "/tmp/enclave-documents-zoom.png"
READER_SCREENSHOT = "/tmp/enclave-documents-reader.png"
READER = {"name": "Rita Reader", "email": "rita@example.org", "groups": ["staff"]}
SIDEWAYS = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
MANUAL = documents.pdf(
    [
        documents.Page("Safety rules", ("Wear gloves when handling the pump.",)),
        documents.Page("Maintenance", ("Tighten the XJ-220 mounting bolts to 42 Nm.",)),
    ]
)
LEAVE = documents.docx([documents.Page("Annual leave", ("Employees receive 27 days a year.",))])


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app with the local admin and an OIDC provider whose user rita reads `library`.
    Overrides conftest's `ui_server`, so the `ui` fixture signs in the local admin here."""
    roles = {"staff": ["reader:library"]}
    with oidc_ui_server(tmp_path_factory, "documents-ui", {"rita": READER}, roles) as server:
        yield server


@pytest.fixture(scope="module")
def admin(ui_server: Server) -> Iterator[httpx.Client]:
    assert ui_server.settings is not None
    with httpx.Client(base_url=ui_server.url, timeout=60) as client:
        sign_in(client, ui_server.settings)
        assert client.post("/v1/collections", json={"name": "library"}).status_code == 201
        yield client


def drop(page: Page, files: list[tuple[str, bytes, str]]) -> None:
    """Drop `files` on the drop zone, as a person dragging them from their desktop would."""
    encoded = [{"name": n, "type": t, "b64": base64.b64encode(d).decode()} for n, d, t in files]
    transfer = page.evaluate_handle(
        """(files) => {
            const dt = new DataTransfer();
            for (const f of files) {
                const bytes = Uint8Array.from(atob(f.b64), (c) => c.charCodeAt(0));
                dt.items.add(new File([bytes], f.name, { type: f.type }));
            }
            return dt;
        }""",
        encoded,
    )
    page.dispatch_event("#dropzone", "dragenter", {"dataTransfer": transfer})
    expect(page.locator("#dropzone")).to_have_class(re.compile("is-over"))
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


# Every text an upload's row shows, in order (its progress, then its indexing).
RECORD_NOTES = """() => {
    window.notes = [];
    new MutationObserver(() => {
        for (const row of document.querySelectorAll(".upload")) {
            const part = (css) => row.querySelector(css).textContent;
            const said = `${part(".upload-name")}|${part(".upload-note")}`;
            if (window.notes.at(-1) !== said) window.notes.push(said);
        }
    }).observe(document.getElementById("uploads"),
               { subtree: true, childList: true, characterData: true });
}"""


def test_upload_several_files_follow_each_and_read_the_chunks(ui: UI, admin: httpx.Client) -> None:
    page = ui.page
    page.goto(ui.url + "/documents?collection=library")
    expect(page).to_have_title("Documents · Enclave")
    expect(page.get_by_role("link", name="Documents", exact=True)).to_have_attribute(
        "aria-current", "page"
    )
    expect(page.get_by_label("Collection")).to_have_value(re.compile(".+"))
    page.evaluate(RECORD_NOTES)

    drop(page, [("pump-manual.pdf", MANUAL, PDF), ("leave.docx", LEAVE, DOCX)])
    rows = page.locator(".upload")
    expect(rows).to_have_count(2)
    for name in ("pump-manual.pdf", "leave.docx"):
        row = rows.filter(has_text=name)
        expect(row.locator(".upload-note")).to_have_text(
            re.compile(r"Indexed \(\d+ chunks?\), ready to ask\."), timeout=60_000
        )
        expect(row.get_by_role("progressbar", name=f"Progress of {name}")).to_have_attribute(
            "value", "1"
        )
        notes = [n.split("|")[1] for n in page.evaluate("window.notes") if n.startswith(name)]
        assert any(n.startswith("Uploading… ") for n in notes), notes  # its own progress
    expect(page.locator("#documents .doc .badge")).to_have_text(["indexed", "indexed"])
    expect(page.locator("#list-count")).to_have_text("2 of 2 indexed")

    # A damaged PDF, chosen from the keyboard: the reason as a sentence, and it counts nowhere.
    choose = page.get_by_role("button", name="choose files", exact=True)
    page.get_by_label("Collection").focus()
    page.keyboard.press("Tab")
    expect(choose).to_be_focused()
    assert choose.evaluate("(b) => getComputedStyle(b).boxShadow") != "none"  # visible focus
    with page.expect_file_chooser() as chosen:
        choose.press("Enter")
    chosen.value.set_files(
        {"name": "broken.pdf", "mimeType": PDF, "buffer": b"%PDF-1.7\nnot really a PDF\n"}
    )
    broken = rows.filter(has_text="broken.pdf").locator(".upload-note")
    expect(broken).to_have_text(
        re.compile(r"^Not indexed\. This file is damaged and could not be read\."), timeout=60_000
    )
    failed = page.locator("#documents .doc", has_text="broken")
    expect(failed.locator(".doc-error")).to_contain_text("This file is damaged")
    expect(page.locator("#list-count")).to_have_text("2 of 3 indexed")
    counts = {c["name"]: c["documents"] for c in admin.get("/v1/collections").json()}
    assert counts["library"] == 2

    # A new version of the manual: the same document, new content.
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload a new version of pump-manual").click()
    revised = documents.pdf([documents.Page("Maintenance", ("Tighten the bolts to 55 Nm.",))])
    chooser.value.set_files({"name": "manual-v2.pdf", "mimeType": PDF, "buffer": revised})
    row = rows.filter(has_text="manual-v2.pdf (new version of pump-manual.pdf)")
    expect(row.locator(".upload-note")).to_contain_text("Indexed", timeout=60_000)
    expect(page.locator("#documents .doc")).to_have_count(3)  # no new document

    # Its chunks: the new version's, with page and section.
    page.get_by_role("button", name="Show the chunks of pump-manual").click()
    expect(page.get_by_role("heading", name="Chunks of pump-manual")).to_be_focused()
    chunks = page.locator("#chunks .chunk")
    expect(chunks).to_have_count(1)
    expect(chunks.first.locator(".chunk-where")).to_have_text("Chunk 1 · Page 1 · Maintenance")
    expect(chunks.first.locator(".chunk-text")).to_contain_text("55 Nm")
    expect(page.locator("#chunks-note")).to_have_text("1 of 1 chunk, in reading order.")
    page.screenshot(path=SCREENSHOT, full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate(SIDEWAYS) == 0
    page.locator("#list-card").scroll_into_view_if_needed()
    page.screenshot(path=PHONE_SCREENSHOT)
    page.set_viewport_size({"width": 320, "height": 256})  # 1280×1024 at 400% zoom
    assert page.evaluate(SIDEWAYS) == 0
    page.screenshot(path=ZOOM_SCREENSHOT, full_page=True)

    page.set_viewport_size({"width": 1360, "height": 820})
    page.get_by_role("button", name="Close").click()
    expect(page.locator("#chunks-card")).to_be_hidden()

    # Delete, after a confirmation (Cancel has the focus).
    page.get_by_role("button", name="Delete broken").click()
    expect(page.get_by_role("button", name="Cancel")).to_be_focused()
    page.get_by_role("button", name="Delete permanently").click()
    expect(page.locator("#list-status")).to_contain_text(re.compile(r"broken deleted \(receipt"))
    expect(page.locator("#documents .doc")).to_have_count(2)
    expect(page.locator("#list-count")).to_have_text("2 of 2 indexed")
    assert page.evaluate(STORED) == EMPTY
    assert ui.off_host() == [], "the page requested something outside the app"
    assert ui.errors == []


def test_a_reader_sees_documents_and_chunks_but_no_upload_or_delete(
    chromium: Browser, ui_server: Server, admin: httpx.Client
) -> None:
    up = admin.post(
        "/v1/collections/library/documents",
        files={"file": ("rules.md", b"# Rules\n\nKeep the doors closed.\n")},
    )
    assert up.status_code == 202, up.text
    anonymous = httpx.get(ui_server.url + "/documents", follow_redirects=False)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/signin")
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    oidc_sign_in(page, ui_server.url, "rita")
    # From here on, the app's pages only (the test identity provider's own page styles itself
    # from a CDN, which the tests' network guard blocks).
    hosts: set[str] = set()
    context.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    page.get_by_role("link", name="Documents", exact=True).click()
    expect(page).to_have_url(re.compile(r"/documents\?collection=library$"))
    rules = page.locator("#documents .doc", has_text="rules")
    expect(rules.locator(".badge")).to_have_text("indexed", timeout=60_000)

    expect(page.locator("#upload-card")).to_be_hidden()
    expect(page.get_by_label("Choose files to upload")).to_be_hidden()
    expect(page.get_by_role("button", name=re.compile("^Delete "))).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("^Upload a new version"))).to_have_count(0)
    rules.get_by_role("button", name="Show the chunks of rules").click()
    expect(page.locator("#chunks .chunk-text")).to_contain_text("Keep the doors closed.")
    page.screenshot(path=READER_SCREENSHOT, full_page=True)

    # The API refuses them anyway (with the page's CSRF token: for want of the role).
    token = page.request.get(ui_server.url + "/auth/me").json()["csrf_token"]
    refused = page.request.post(
        ui_server.url + "/v1/collections/library/documents",
        headers={"X-CSRF-Token": token},
        multipart={"file": {"name": "x.md", "mimeType": "text/markdown", "buffer": b"# X\n"}},
    )
    assert refused.status == 403
    deleted = page.request.delete(
        f"{ui_server.url}/v1/documents/{up.json()['id']}", headers={"X-CSRF-Token": token}
    )
    assert deleted.status == 403
    assert hosts == {urlsplit(ui_server.url).netloc}
    assert errors == []
    context.close()
