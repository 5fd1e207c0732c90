"""The compliance page in headless Chromium against the real app: a compliance officer finds a
document by a data subject's identifier, erases it with a reason, downloads the signed receipt
and the public key from the page and verifies the receipt offline; a user without the role sees
no link to it and deletes only their own uploads; an officer filters the audit trail, pages
through it and exports it."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import TYPE_CHECKING

import httpx
import pytest
from playwright.sync_api import expect

from app import receipts
from tests.e2e.conftest import EMPTY, STORED, Server, oidc_sign_in, oidc_ui_server, upload
from tests.support import sign_in, wait_indexed

if TYPE_CHECKING:
    from pathlib import Path

    from playwright.sync_api import Browser, Download, Page

    from tests.e2e.conftest import UI

SCREENSHOT = "/tmp/enclave-compliance.png"
CONTRIBUTOR = {"name": "Carol Contributor", "email": "carol@example.org", "groups": ["team"]}


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The real app with the local admin (platform admin and compliance officer) and an OIDC
    provider whose user carol is a contributor to `team-docs` and holds no global role.
    Overrides conftest's `ui_server`, so the `ui` fixture signs in the local admin here."""
    roles = {"team": ["contributor:team-docs"]}
    with oidc_ui_server(tmp_path_factory, "compliance-ui", {"carol": CONTRIBUTOR}, roles) as server:
        yield server


@pytest.fixture(scope="module")
def admin(ui_server: Server) -> Iterator[httpx.Client]:
    """The local admin over the API, for setting up documents."""
    assert ui_server.settings is not None
    with httpx.Client(base_url=ui_server.url, timeout=60) as client:
        sign_in(client, ui_server.settings)
        yield client


def add_document(admin: httpx.Client, collection: str, filename: str, text: str) -> str:
    """Upload (creating the collection if needed) and wait until indexed; returns its id."""
    made = admin.post("/v1/collections", json={"name": collection})
    assert made.status_code in (201, 409), made.text
    up = admin.post(
        f"/v1/collections/{collection}/documents", files={"file": (filename, text.encode())}
    )
    assert up.status_code == 202, up.text
    assert wait_indexed(admin, up.json()["id"])["status"] == "indexed"
    return up.json()["id"]


def open_compliance(page: Page) -> None:
    """The compliance page, through the header's link (compliance officers see it)."""
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Compliance").click()
    expect(page.get_by_role("heading", name="Compliance", level=1)).to_be_focused()
    expect(page.locator("#compliance")).to_be_visible()


def saved(download: Download, path: Path) -> str:
    download.save_as(path)
    return path.read_text()


def test_an_officer_finds_erases_and_verifies_the_receipt(
    ui: UI, admin: httpx.Client, tmp_path: Path
) -> None:
    page = ui.page
    subject = f"subject-{uuid.uuid4().hex[:12]}@example.org"
    secret = "refund of 4,210 EUR approved"  # content: never shown in the panel
    doc_id = add_document(
        admin, "dsar-probe", "case-notes.md", f"# Case notes\n\nMail from {subject}: {secret}.\n"
    )
    add_document(admin, "dsar-probe", "other.md", "# Other\n\nNothing about anyone.\n")
    open_compliance(page)

    # By metadata: titles, ids and collections.
    page.get_by_label("Title or file name").fill("case-notes")
    page.get_by_role("region", name="Find by metadata").get_by_label("Collection").select_option(
        label="dsar-probe"
    )
    page.get_by_role("button", name="Find documents").click()
    expect(page.locator("#results-note")).to_have_text("1 document found.")
    row = page.locator(f'#results tr[data-document="{doc_id}"]')
    expect(row).to_contain_text("case-notes")
    expect(row).to_contain_text("dsar-probe")
    expect(row).to_contain_text("Local administrator")  # the person, not a raw id

    # By the data subject's identifier, in every collection (case-insensitive).
    page.get_by_label("Identifier", exact=True).fill(subject.upper())
    page.get_by_role("button", name="Search all collections").click()
    expect(page.locator("#results-note")).to_have_text("1 document mentions this identifier.")
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(row.locator("td.num")).to_have_text("1")  # passages mentioning it
    assert secret not in page.content()

    # Erase: a reason and an explicit confirmation are both required.
    row.get_by_role("button", name="Erase case-notes").click()
    expect(page.get_by_label("Reason or reference")).to_be_focused()
    erase = page.get_by_role("button", name="Erase permanently")
    erase.click()
    expect(page.locator("#erase-error")).to_contain_text("reason")
    page.get_by_label("Reason or reference").fill("DSAR-2031-0042")
    erase.click()
    expect(page.locator("#erase-error")).to_have_text("Tick the box to confirm the erasure.")
    page.get_by_label("I confirm").check()
    erase.click()
    expect(page.locator("#receipt-card")).to_be_visible(timeout=60_000)
    expect(page.locator("#receipt-summary")).to_have_text("case-notes was erased.")

    # The receipt and the public key, both downloaded from the page, verify offline.
    with page.expect_download() as got:
        page.get_by_role("link", name="Download the signed receipt (JSON)").click()
    assert got.value.suggested_filename.startswith("erasure-receipt-")
    signed = json.loads(saved(got.value, tmp_path / "receipt.json"))
    with page.expect_download() as got:
        page.get_by_role("link", name="Download key.pem").click()
    pem = saved(got.value, tmp_path / "key.pem")
    assert pem == page.get_by_label("Public key (PEM)").input_value()
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    receipt = receipts.verify(signed, receipts.load_public_key(pem))
    assert receipt["document_id"] == doc_id
    assert receipt["kind"] == "erasure"
    assert subject not in json.dumps(signed)  # receipts hold ids, hashes and counts only

    facts = page.locator("#receipt-facts")
    for value in (receipt["request_id"], doc_id, receipt["content_hash"]):
        expect(facts).to_contain_text(value)
    expect(facts).to_contain_text("Passed — nothing left")
    expect(facts).to_contain_text("DSAR-2031-0042")
    assert receipt["reason"] == "DSAR-2031-0042"  # the reference is signed into the receipt
    expect(facts).to_contain_text(f"{receipt['removed']['index_points']} index point")
    expect(page.locator("#public-key-id")).to_have_text(f"Key id: {receipt['key_id']}")

    # Past erasures: the same receipt, downloadable again.
    past = page.locator(f'#erasures tr[data-erasure="{receipt["request_id"]}"]')
    expect(past).to_contain_text("DSAR-2031-0042")
    with page.expect_download() as got:
        past.get_by_role("button", name=f"Download receipt {receipt['request_id']}").click()
    assert json.loads(saved(got.value, tmp_path / "again.json")) == signed

    # Gone: from an identifier search, from the collection's documents.
    page.get_by_role("button", name="Search all collections").click()
    expect(page.locator("#results-note")).to_have_text("No document mentions this identifier.")
    expect(page.locator("#results")).to_be_hidden()
    page.set_viewport_size({"width": 1360, "height": 2200})  # the whole panel, for a person
    page.screenshot(path=SCREENSHOT)

    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Chat").click()
    page.go_back()  # the page is made afresh: nothing of the request outlives it
    expect(page.get_by_label("Identifier", exact=True)).to_have_value("")
    expect(page.locator("#receipt-card")).to_be_hidden()
    page.get_by_role("navigation", name="Pages").get_by_role("link", name="Chat").click()
    page.get_by_role("button", name=re.compile("^dsar-probe")).click()
    expect(page.locator("#documents .doc .doc-title")).to_have_text(["other"])
    left = [d["id"] for d in admin.get("/v1/collections/dsar-probe/documents").json()]
    assert len(left) == 1
    assert doc_id not in left

    # Zero retention: the identifier went in a POST body only — no URL, no storage.
    assert not [u for u in ui.requests if "subject-" in u.lower()]
    assert subject.lower() not in page.url.lower()
    assert page.evaluate(STORED) == EMPTY
    assert ui.off_host() == []
    assert ui.errors == []


def test_an_officer_erases_several_documents_from_one_result_list(
    ui: UI, admin: httpx.Client, tmp_path: Path
) -> None:
    page = ui.page
    ids = {
        name: add_document(admin, "bulk-probe", f"{name}.md", f"# {name}\n\nAbout {name}.\n")
        for name in ("letter-a", "letter-b", "keep-c")
    }
    open_compliance(page)
    page.get_by_role("region", name="Find by metadata").get_by_label("Collection").select_option(
        label="bulk-probe"
    )
    page.get_by_role("button", name="Find documents").click()
    expect(page.locator("#results-note")).to_have_text("3 documents found.")
    page.get_by_label("Select letter-a").check()
    expect(page.locator("#erase-selected")).to_be_hidden()  # one: its own Erase… button
    page.get_by_label("Select letter-b").check()
    page.get_by_role("button", name="Erase the 2 selected…").click()
    expect(page.get_by_role("heading", name="Erase these 2 documents")).to_be_visible()
    expect(page.locator("#erase-target")).to_contain_text("letter-a")
    expect(page.locator("#erase-target")).to_contain_text("letter-b")
    page.get_by_label("Reason or reference").fill("DSAR-2031-0077")
    page.get_by_label("I confirm").check()
    page.get_by_role("button", name="Erase permanently").click()
    expect(page.locator("#receipt-summary")).to_have_text(
        "2 documents were erased.", timeout=60_000
    )
    expect(page.locator("#results tbody tr")).to_have_count(1)
    expect(page.locator("#results")).to_contain_text("keep-c")

    pem = page.get_by_label("Public key (PEM)")
    expect(pem).to_have_value(re.compile("BEGIN PUBLIC KEY"))
    public = receipts.load_public_key(pem.input_value())
    for name in ("letter-a", "letter-b"):
        with page.expect_download() as got:
            page.get_by_role("link", name=f"Download the receipt for {name}").click()
        signed = json.loads(saved(got.value, tmp_path / f"{name}.json"))
        body = receipts.verify(signed, public)
        assert (body["document_id"], body["reason"]) == (ids[name], "DSAR-2031-0077")
    left = [d["id"] for d in admin.get("/v1/collections/bulk-probe/documents").json()]
    assert left == [ids["keep-c"]]
    page.set_viewport_size({"width": 1280, "height": 1400})
    page.screenshot(path="/tmp/enclave-compliance-bulk.png")
    assert ui.errors == []


def test_without_the_role_no_compliance_link_and_only_own_uploads_deletable(
    chromium: Browser, ui_server: Server, admin: httpx.Client
) -> None:
    theirs = add_document(admin, "team-docs", "admin-memo.md", "# Memo\n\nFrom the admin.\n")
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    oidc_sign_in(page, ui_server.url, "carol")
    expect(page.locator("#user-menu .user-name")).to_have_text(CONTRIBUTOR["name"])
    expect(page.locator("#documents .doc .doc-title")).to_have_text(["admin-memo"])

    nav = page.get_by_role("navigation", name="Pages")
    expect(nav.get_by_role("link", name="Chat")).to_be_visible()
    expect(nav.get_by_role("link", name="Compliance")).to_have_count(0)
    assert page.request.get(ui_server.url + "/v1/erasures").status == 403  # the server agrees

    upload(page, "my-notes.md", b"# Notes\n\nMine to delete.\n", "text/markdown")
    mine = page.locator("#documents .doc", has_text="my-notes")
    expect(mine.locator(".badge")).to_have_text("indexed", timeout=60_000)
    expect(page.get_by_role("button", name="Delete admin-memo")).to_have_count(0)

    page.get_by_role("button", name="Delete my-notes").click()
    page.get_by_role("button", name="Cancel").click()  # changed their mind: nothing happens
    expect(page.locator("#documents .doc .doc-title")).to_have_text(["admin-memo", "my-notes"])
    page.get_by_role("button", name="Delete my-notes").click()
    expect(page.locator("#documents .doc.is-confirming")).to_contain_text("Delete my-notes?")
    page.get_by_role("button", name="Delete permanently").click()
    expect(page.locator("#upload-status")).to_contain_text(
        re.compile(r"my-notes deleted \(receipt [0-9a-f-]+\)")
    )
    expect(page.locator("#documents .doc .doc-title")).to_have_text(["admin-memo"])
    assert [d["id"] for d in admin.get("/v1/collections/team-docs/documents").json()] == [theirs]
    assert errors == []
    context.close()


def test_an_officer_filters_pages_and_exports_the_audit_trail(
    ui: UI, admin: httpx.Client, tmp_path: Path
) -> None:
    page = ui.page
    made = admin.post("/v1/collections", json={"name": "audit-probe"})
    assert made.status_code == 201, made.text
    for i in range(51):  # one more than a page
        key = admin.post(
            "/v1/api-keys", json={"name": f"audit-{i}", "collections": ["audit-probe"]}
        )
        assert key.status_code == 201, key.text
    me = admin.get("/auth/me").json()
    open_compliance(page)
    trail = page.get_by_role("region", name="Audit trail")

    today = date.today().isoformat()
    trail.get_by_label("Event").select_option("api_key.create")
    trail.get_by_label("Outcome").select_option(label="Allowed")
    trail.get_by_label("Actor").fill(me["id"])
    trail.get_by_label("Collection").select_option(label="audit-probe")
    trail.get_by_label("From").fill(today)
    trail.get_by_label("To", exact=True).fill(today)
    page.get_by_role("button", name="Show events").click()
    note = page.locator("#audit-note")
    expect(note).to_have_text("Events 1–50, page 1.")
    rows = page.locator("#audit tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.first).to_contain_text("api_key.create")
    expect(rows.first).to_contain_text("audit-probe")
    expect(page.get_by_role("button", name="Previous page")).to_be_hidden()
    page.get_by_role("button", name="Next page").click()
    expect(note).to_have_text("Events 51–51 (the last), page 2.")
    expect(rows).to_have_count(1)
    expect(page.get_by_role("button", name="Next page")).to_be_hidden()
    page.get_by_role("button", name="Previous page").click()
    expect(note).to_have_text("Events 1–50, page 1.")

    with page.expect_download() as got:
        page.get_by_role("button", name="Export (JSON Lines)").click()
    assert got.value.suggested_filename == "enclave-audit.jsonl"
    lines = [json.loads(line) for line in saved(got.value, tmp_path / "a.jsonl").splitlines()]
    assert len(lines) == 51
    collection = made.json()["id"]
    assert {(e["action"], e["collection_id"], e["actor"]) for e in lines} == {
        ("api_key.create", collection, me["id"])
    }

    trail.get_by_label("Outcome").select_option(label="Refused")
    page.get_by_role("button", name="Show events").click()
    expect(note).to_have_text("No event matches these filters.")
    trail.get_by_label("To", exact=True).fill("2020-01-01")
    page.get_by_role("button", name="Show events").click()
    expect(page.locator("#audit-error")).to_have_text("The end date is before the start date.")

    trail.get_by_label("Outcome").select_option(label="Allowed")
    trail.get_by_label("To", exact=True).fill(today)
    page.get_by_role("button", name="Show events").click()
    page.set_viewport_size({"width": 1360, "height": 1000})
    page.locator("#audit-h").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/enclave-compliance-audit.png")
    page.set_viewport_size({"width": 390, "height": 844})
    sideways = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert page.evaluate(sideways) == 0
    page.locator("#audit-h").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/enclave-compliance-audit-phone.png")
    page.set_viewport_size({"width": 320, "height": 640})  # 1280 px wide at 400% zoom
    assert page.evaluate(sideways) == 0
    assert page.evaluate(STORED) == EMPTY
    assert ui.off_host() == []
    assert ui.errors == []
