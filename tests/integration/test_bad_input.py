"""Hostile and broken input made from real documents: each ends in an `InvalidDocument` with a
clear reason, never quoting content, within a (generous) time bound, and never disturbs the
next document. Rejections made before parsing run by default; those that reach the parser
process are marked slow. Synthetic rejections: tests/unit/test_parsers.py."""

from __future__ import annotations

import io
import os
import re
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from ingestion.errors import InvalidDocument
from ingestion.parsers import ParsedDocument, parse
from ingestion.settings import IngestionSettings
from tests.fixtures.outlook import compound_file

CANARY = "zx-canary-b4d1"


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@contextmanager
def within(seconds: float) -> Iterator[None]:
    started = time.perf_counter()
    yield
    elapsed = time.perf_counter() - started
    assert elapsed < seconds, f"took {elapsed:.1f} s (bound {seconds} s)"


def rejected(
    tmp_path: Path,
    name: str,
    data: bytes,
    reason: str,
    *,
    seconds: float = 10,
    settings: IngestionSettings | None = None,
) -> None:
    """`data` is rejected with a message matching `reason` (a regex, from the start)."""
    with within(seconds), pytest.raises(InvalidDocument) as error:
        parse(write(tmp_path, name, data), filename=name, settings=settings)
    assert re.match(reason, str(error.value)), str(error.value)
    assert CANARY not in str(error.value)


def saved(document: object) -> bytes:
    out = io.BytesIO()
    document.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


def docx_file() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("Manual", 1)
    document.add_paragraph(f"Text {CANARY}.")
    return saved(document)


def xlsx_file() -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    for i in range(30):
        book.active.append([f"{CANARY} {i} {j}" for j in range(10)])
    return saved(book)


def pptx_file() -> bytes:
    import pptx

    deck = pptx.Presentation()
    deck.slides.add_slide(deck.slide_layouts[1]).shapes.title.text = CANARY
    return saved(deck)


def with_member(data: bytes, member: str, content: bytes | None, *, size: int = 0) -> bytes:
    """`data` (a ZIP) with `member` replaced or added: `content`, or `size` zero bytes written
    in 1 MB pieces (so a large bomb never sits in memory)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != member:
                archive.writestr(info.filename, source.read(info.filename))
        if content is not None:
            archive.writestr(member, content)
        else:
            with archive.open(member, "w", force_zip64=size >= 2**31) as f:
                piece = bytes(1 << 20)
                for _ in range(size >> 20):
                    f.write(piece)
    return out.getvalue()


# --- rejected before parsing (fast) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "make", "member"),
    [
        ("manual.docx", docx_file, "word/media/image1.emf"),
        ("book.xlsx", xlsx_file, "xl/media/image1.emf"),
        ("deck.pptx", pptx_file, "ppt/media/image1.emf"),
    ],
)
def test_zip_bomb_inside_office_files(tmp_path: Path, name: str, make: object, member: str) -> None:
    data = with_member(make(), member, None, size=64 << 20)  # type: ignore[operator]
    assert len(data) < 1 << 20
    rejected(
        tmp_path,
        name,
        data,
        r"possible zip bomb: a member inflates [\d,]+x \(the limit is 100x\)$",
        seconds=2,
    )


@pytest.mark.slow  # writing the 600 MB member takes ~3 s
def test_large_zip_bomb_is_refused_from_its_directory(tmp_path: Path) -> None:
    data = with_member(docx_file(), "word/document.xml", None, size=600 << 20)
    rejected(
        tmp_path,
        "big.docx",
        data,
        r"possible zip bomb: 60\d MB uncompressed \(the limit is 256 MB\)$",
        seconds=2,
    )


def test_10000_page_pdf(tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    for _ in range(10_000):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    rejected(
        tmp_path,
        "huge.pdf",
        out.getvalue(),
        r"too many pages \(10,000; the limit is 2,000\)$",
        seconds=5,
    )


def test_encrypted_ooxml(tmp_path: Path) -> None:
    msoffcrypto = pytest.importorskip("msoffcrypto")  # unstructured's xlsx extra brings it
    from msoffcrypto.format.ooxml import OOXMLFile

    out = io.BytesIO()
    OOXMLFile(io.BytesIO(docx_file())).encrypt("secret", out)
    assert msoffcrypto.OfficeFile(io.BytesIO(out.getvalue())).is_encrypted()
    rejected(tmp_path, "locked.docx", out.getvalue(), r"encrypted Office document")


def test_huge_text_file(tmp_path: Path) -> None:
    line = f"{CANARY} some words of a very long log file\n".encode()
    big = line * (25_000_000 // len(line))  # over 4 bytes per allowed character
    rejected(tmp_path, "log.txt", big, r"too much text \(over 5,000,000 characters\)$", seconds=2)
    mid = line * (6_000_000 // len(line))  # decoded and counted
    rejected(tmp_path, "log.txt", mid, r"too much text \([\d,]+ characters; the limit", seconds=5)


def test_binary_junk_and_truncated_office_files(tmp_path: Path) -> None:
    rejected(tmp_path, "junk.docx", os.urandom(1 << 20), r"unsupported file type: unrecognised")
    for name, data in (("a.docx", docx_file()), ("b.xlsx", xlsx_file()), ("c.pptx", pptx_file())):
        rejected(tmp_path, name, data[: len(data) // 2], r"corrupt file: damaged ZIP container")


# --- reaching the parser process (slow) -----------------------------------------------------------

slow = pytest.mark.slow


@slow
@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("a.docx", lambda: with_member(docx_file(), "word/document.xml", b"<w:doc"), "DOCX"),
        ("b.xlsx", lambda: with_member(xlsx_file(), "xl/workbook.xml", b"<workbook"), "XLSX"),
        ("c.pptx", lambda: with_member(pptx_file(), "ppt/presentation.xml", b"<p:p"), "PPTX"),
        (
            "d.msg",
            lambda: compound_file({"__properties_version1.0": bytes(32) + b"\x1f\x00\x37\x00" * 4}),
            "MSG",
        ),
        ("e.csv", lambda: f'a,b\n1,2,3,4\n"{CANARY}\n'.encode(), "CSV"),
    ],
)
def test_corrupt_files_of_each_format(tmp_path: Path, name: str, data: object, reason: str) -> None:
    rejected(tmp_path, name, data(), rf"corrupt or unreadable {reason} file \(\w+\)$", seconds=60)  # type: ignore[operator]


@slow
def test_billion_laughs_in_a_docx(tmp_path: Path) -> None:
    entities = '<!ENTITY a0 "lol">' + "".join(
        f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10)
    )
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE d [{entities}]><w:document xmlns:w="http://schemas.'
        'openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>&a9;</w:t></w:r>'
        "</w:p></w:body></w:document>"
    )
    data = with_member(docx_file(), "word/document.xml", xml.encode())
    rejected(tmp_path, "laughs.docx", data, r"corrupt or unreadable DOCX file", seconds=60)


@slow
def test_table_cell_and_character_limits(tmp_path: Path) -> None:
    rejected(
        tmp_path,
        "book.xlsx",
        xlsx_file(),
        r"too many table cells \(the limit is 100\)$",
        seconds=60,
        settings=IngestionSettings(max_cells=100),
    )
    rejected(
        tmp_path,
        "book.xlsx",
        xlsx_file(),
        r"too much text \([\d,]+ characters; the limit is 1,000\)$",
        seconds=60,
        settings=IngestionSettings(max_chars=1000),
    )


@slow
def test_extensions_that_lie(tmp_path: Path) -> None:
    doc = parse(write(tmp_path, "report.pdf", docx_file()), filename="report.pdf")
    assert (doc.file_type, doc.blocks[0].text) == ("docx", "Manual")
    doc = parse(write(tmp_path, "sheet.docx", xlsx_file()), filename="sheet.docx")
    assert doc.file_type == "xlsx"


def _next_document_is_fine(tmp_path: Path) -> None:
    doc: ParsedDocument = parse(write(tmp_path, "ok.docx", docx_file()), filename="ok.docx")
    assert doc.blocks[0].text == "Manual"


def _pdf(pages: int) -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    for n in range(pages):
        for line in range(40):
            page.drawString(72, 780 - 18 * line, f"Page {n} line {line}: {CANARY} text")
        page.showPage()
    page.save()
    return out.getvalue()


@slow
def test_a_parse_over_its_time_limit_is_killed(tmp_path: Path) -> None:
    settings = IngestionSettings(parse_timeout_s=0.5)
    rejected(
        tmp_path,
        "long.pdf",
        _pdf(200),
        r"parsing exceeded the time limit \(0.5 s\)$",
        seconds=5,
        settings=settings,
    )
    _next_document_is_fine(tmp_path)


@slow
def test_a_parse_over_its_memory_limit_is_stopped(tmp_path: Path) -> None:
    rows = "\n".join(f"{i},{CANARY} value {i},more text in this row {i}" for i in range(200_000))
    settings = IngestionSettings(parse_memory_mb=64, max_chars=50_000_000)
    rejected(
        tmp_path,
        "big.csv",
        rows.encode(),
        r"parsing exceeded the memory limit$",
        seconds=120,
        settings=settings,
    )
    _next_document_is_fine(tmp_path)
