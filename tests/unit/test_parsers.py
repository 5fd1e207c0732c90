"""Parser pieces that need no NLP model and no parser process: type detection, the rejections
and limits checked before parsing, HTML main content, elements to blocks. Whole-file parsing of
every format: tests/integration/test_parse_formats.py; bad input that reaches the parser:
tests/integration/test_bad_input.py."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pytest
from unstructured.documents.elements import (
    CodeSnippet,
    ElementMetadata,
    Footer,
    Header,
    Image,
    ListItem,
    NarrativeText,
    PageNumber,
    Table,
    Title,
)

from ingestion.detect import OLE_MAGIC, looks_like_email
from ingestion.errors import InvalidDocument
from ingestion.parsers import (
    Block,
    OcrUnavailable,
    ParsedDocument,
    check_ocr,
    detect,
    main_content,
    parse,
    prepare_parser,
    to_blocks,
)
from ingestion.settings import IngestionSettings
from ingestion.webpage import qualified
from tests.fixtures.outlook import compound_file, outlook_msg

CANARY = "zx-canary-7f3a"  # document text that must never appear in an error message


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def reportlab_pdf(text: str = "Hello") -> bytes:
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    page = canvas.Canvas(out)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return out.getvalue()


def zip_with(*members: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for member in members:
            archive.writestr(member, CANARY)
    return out.getvalue()


# --- detection -----------------------------------------------------------------------------------

EMAIL = (
    "Return-Path: <alice@example.org>\nFrom: Alice <alice@example.org>\nTo: bob@example.org\n"
    "Subject: Pump recall\n  continued\nDate: Mon, 1 Jan 2024 10:00:00 +0000\n\nBody.\n"
)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("notes.txt", "Just text.\n", "txt"),
        ("notes", "Just text.\n", "txt"),
        ("README.md", "# Title\n\nBody\n", "md"),
        ("page.html", "<!DOCTYPE html><html><body><p>x</p></body></html>", "html"),
        ("page.htm", "<p>fragment</p>", "html"),
        ("lies.txt", "<html><body><p>x</p></body></html>", "html"),  # content wins
        ("lies.docx", "plain words", "txt"),
        ("utf16.txt", "\ufeffUnicode text".encode("utf-16"), "txt"),
        ("latin1.txt", "caf\xe9 cr\xe8me".encode("cp1252"), "txt"),
        ("mail.eml", EMAIL, "eml"),
        ("mail.txt", EMAIL.replace("\n", "\r\n"), "eml"),  # headers win over the extension
        ("mbox", "From alice@example.org Mon Jan  1 10:00:00 2024\n" + EMAIL, "eml"),
        ("memo.txt", "Subject: not an email\nAuthor: me\n\nBody.\n", "txt"),  # no origin
        ("draft.eml", "To: bob@example.org\nSubject: Draft\n\nBody.\n", "eml"),
        ("draft.txt", "To: bob@example.org\nSubject: Draft\n\nBody.\n", "txt"),
        ("data.csv", "a,b\n1,2\n", "csv"),
        ("data.tsv", "a\tb\n1\t2\n", "tsv"),
        ("table.csv", "<html><body><table></table></body></html>", "html"),
    ],
)
def test_detects_type_from_content(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    assert detect(write(tmp_path, name, content), filename=name).file_type == expected


def test_binary_formats_are_recognised_whatever_their_extension(tmp_path: Path) -> None:
    assert detect(write(tmp_path, "a.txt", reportlab_pdf()), filename="a.txt")[0] == "pdf"
    for member, kind in (
        ("word/document.xml", "docx"),
        ("ppt/presentation.xml", "pptx"),
        ("xl/workbook.xml", "xlsx"),
    ):
        data = zip_with("[Content_Types].xml", member)
        assert detect(write(tmp_path, "b.bin", data), filename="b.bin")[0] == kind
    msg = outlook_msg(
        subject="s", body="b", sender=("A", "a@x.org"), to=[], sent=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert detect(write(tmp_path, "c.pdf", msg), filename="c.pdf")[0] == "msg"


LIMITS = IngestionSettings(max_file_mb=0.01, max_chars=1000)


def bomb(member: str, size: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr(member, b"\0" * size)
    return out.getvalue()


def many_members(n: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("word/document.xml", CANARY)
        for i in range(n):
            archive.writestr(f"word/media/{i}.xml", "")
    return out.getvalue()


def encrypted_member() -> bytes:
    """A ZIP whose member is flagged encrypted (zipfile cannot write one: set the flag bit)."""
    data = bytearray(zip_with("word/document.xml"))
    local, central = data.find(b"PK\x03\x04"), data.find(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    return bytes(data)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pdf", b"", "empty file (0 bytes)"),
        ("junk.bin", bytes(range(256)) * 8, "unsupported file type: unrecognised binary data"),
        (
            "junk.pdf",
            b"\x00\x01\x02" * 500,
            "unsupported file type: unrecognised binary data (the .pdf extension does not match",
        ),
        (
            "photo.pdf",
            b"\x89PNG\r\n\x1a\n" + CANARY.encode(),
            "unsupported file type: PNG image (the .pdf extension does not match the content)",
        ),
        ("photo.png", b"\x89PNG\r\n\x1a\n" + CANARY.encode(), "unsupported file type: PNG image"),
        ("a.zip", zip_with("notes.txt"), "unsupported file type: ZIP archive"),
        ("e.zip", b"PK\x05\x06" + bytes(18), "unsupported file type: ZIP archive"),
        ("b.odt", zip_with("content.xml"), "unsupported file type: OpenDocument file"),
        (
            "broken.docx",
            b"PK\x03\x04" + CANARY.encode() * 20,
            "corrupt file: damaged ZIP container",
        ),
        ("data.json", f'{{"a": "{CANARY}"}}', "unsupported file type: .json"),
        (
            "old.doc",
            compound_file({"WordDocument": CANARY.encode()}),
            "unsupported file type: legacy Word document (.doc)",
        ),
        (
            "old.docx",
            compound_file({"Workbook": CANARY.encode()}),
            "unsupported file type: legacy Excel workbook (.xls) (the .docx extension does not",
        ),
        (
            "secret.docx",
            compound_file({"EncryptionInfo": b"x", "EncryptedPackage": CANARY.encode()}),
            "encrypted Office document (password protected)",
        ),
        (
            "other.msg",
            compound_file({"Contents": CANARY.encode()}),
            "unsupported file type: OLE2 container (the .msg extension does not match",
        ),
        (
            "damaged.msg",
            OLE_MAGIC + CANARY.encode() * 40,
            "corrupt file: damaged OLE2 container",
        ),
        ("bomb.docx", bomb("word/document.xml", 4 << 20), "possible zip bomb: a member inflates"),
        ("bomb.xlsx", bomb("xl/workbook.xml", 4 << 20), "possible zip bomb: a member inflates"),
        ("bomb.pptx", bomb("ppt/presentation.xml", 4 << 20), "possible zip bomb: a member"),
        ("many.docx", many_members(10_001), "possible zip bomb: 10,002 members"),
        ("locked.docx", encrypted_member(), "encrypted ZIP container (password protected)"),
    ],
)
def test_rejections_are_clear_and_never_quote_content(
    tmp_path: Path, name: str, content: bytes | str, message: str
) -> None:
    with pytest.raises(InvalidDocument) as error:
        parse(write(tmp_path, name, content), filename=name)
    assert str(error.value).startswith(message)
    assert CANARY not in str(error.value)
    assert error.value.__cause__ is None


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("big.txt", b"a" * 20_000, "file too large (0.0 MB; the limit is 0.01 MB)"),
        ("long.txt", b"word " * 1000, "too much text (over 1,000 characters)"),
        ("long.md", "\u00e9" * 1001, "too much text (1,001 characters; the limit is 1,000)"),
    ],
)
def test_size_limits(tmp_path: Path, name: str, content: bytes | str, message: str) -> None:
    with pytest.raises(InvalidDocument, match=f"^{re.escape(message)}$"):
        parse(write(tmp_path, name, content), filename=name, settings=LIMITS)


def test_total_uncompressed_size_limit(tmp_path: Path) -> None:
    data = bomb("word/document.xml", 2 << 20)
    settings = IngestionSettings(max_uncompressed_mb=1, max_compression_ratio=10_000)
    with pytest.raises(InvalidDocument, match=r"^possible zip bomb: 2 MB uncompressed \(the limit"):
        parse(write(tmp_path, "a.docx", data), filename="a.docx", settings=settings)


def test_corrupt_pdf(tmp_path: Path) -> None:
    data = b"%PDF-1.4\n" + CANARY.encode() * 50
    with pytest.raises(InvalidDocument, match=r"^corrupt PDF \(\w+\)$"):
        parse(write(tmp_path, "x.pdf", data), filename="x.pdf")


def test_truncated_pdf(tmp_path: Path) -> None:
    data = reportlab_pdf(CANARY)
    with pytest.raises(InvalidDocument, match=r"^corrupt PDF"):
        parse(write(tmp_path, "x.pdf", data[: len(data) // 2]), filename="x.pdf")


def test_encrypted_pdf(tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(reportlab_pdf(CANARY)))
    writer.encrypt("secret")
    out = io.BytesIO()
    writer.write(out)
    with pytest.raises(InvalidDocument, match=r"^encrypted PDF \(password protected\)$"):
        parse(write(tmp_path, "x.pdf", out.getvalue()), filename="x.pdf")


def test_page_limit_is_checked_before_parsing(tmp_path: Path) -> None:
    import pypdf

    writer = pypdf.PdfWriter()
    for _ in range(30):
        writer.add_blank_page(612, 792)
    out = io.BytesIO()
    writer.write(out)
    path = write(tmp_path, "x.pdf", out.getvalue())
    with pytest.raises(InvalidDocument, match=r"^too many pages \(30; the limit is 20\)$"):
        parse(path, filename="x.pdf", settings=IngestionSettings(max_pages=20))


def test_email_headers_are_recognised_only_as_a_leading_block() -> None:
    assert looks_like_email(EMAIL)
    assert not looks_like_email("Intro line\n" + EMAIL)
    assert not looks_like_email(EMAIL.replace("\n\n", "\n"))  # no end of the header block
    assert not looks_like_email(" From: x\nTo: y\n\n")


# --- HTML main content ---------------------------------------------------------------------------

SPHINX = """<html><head><title>t</title></head><body>
<div class="related" role="navigation"><h3>Navigation</h3>
<ul><li>index</li><li>modules |</li></ul></div>
<div class="document"><div class="body" role="main"><h1>abc</h1><p>Real content.</p></div></div>
<div class="sphinxsidebar" role="navigation"><h3>This Page</h3><ul><li>Show Source</li></ul></div>
<div class="footer">&copy; Copyright</div></body></html>"""


def test_main_content_keeps_only_the_main_element() -> None:
    html = main_content(SPHINX)
    assert "Real content." in html
    for boilerplate in ("Navigation", "modules |", "Show Source", "Copyright"):
        assert boilerplate not in html


def test_main_content_prefers_main_over_article_and_takes_a_single_article() -> None:
    page = (
        "<body><nav>Menu</nav><main><article>A</article><article>B</article></main><p>Ad</p></body>"
    )
    assert "Ad" not in main_content(page)
    assert "B" in main_content(page)
    single = "<body><div>Menu</div><article><p>Story</p></article></body>"
    assert "Menu" not in main_content(single)


@pytest.mark.parametrize(
    ("term", "anchor", "name"),
    [
        ("read([n])", "mmap.mmap.read", "mmap.mmap.read([n])"),
        ("classmethod fromkeys(iterable)", "dict.fromkeys", "classmethod dict.fromkeys(iterable)"),
        ("with_netmask", "ip.Network.with_netmask", "ip.Network.with_netmask"),
        ("class mmap.mmap(fileno)", "mmap.mmap", ""),  # already qualified
        ("API", "term-API", ""),  # a glossary anchor qualifies nothing
        ("Pressure errors", "", ""),
    ],
)
def test_an_anchor_qualifies_a_member_shown_by_its_last_name(
    term: str, anchor: str, name: str
) -> None:
    assert qualified(term, anchor) == name


def test_without_a_single_main_element_navigation_landmarks_are_dropped() -> None:
    page = (
        "<body><header role='banner'>Logo</header><nav>Menu</nav><article>A</article>"
        "<article>B</article><div role='search'>Search</div><footer>Foot</footer></body>"
    )
    html = main_content(page)
    assert "A" in html
    assert "B" in html
    for boilerplate in ("Logo", "Menu", "Search", "Foot"):
        assert boilerplate not in html


# --- elements to blocks --------------------------------------------------------------------------


def meta(
    page: int | None = None, depth: int | None = None, html: str | None = None
) -> ElementMetadata:
    return ElementMetadata(page_number=page, category_depth=depth, text_as_html=html)


def test_headings_get_levels_and_section_paths() -> None:
    blocks = to_blocks(
        [
            Title("Manual¶", metadata=meta(depth=0)),
            NarrativeText("Intro.", metadata=meta()),
            Title("Install", metadata=meta(depth=1)),
            Title("Linux", metadata=meta(depth=2)),
            ListItem("step one", metadata=meta()),
            Title("Guessed", metadata=meta()),
            Title("Guessed again", metadata=meta()),
            Title("Usage", metadata=meta(depth=1)),
        ]
    )
    assert [(b.kind, b.level) for b in blocks if b.kind == "heading"] == [
        ("heading", 1),
        ("heading", 2),
        ("heading", 3),
        ("heading", None),
        ("heading", None),
        ("heading", 2),
    ]
    assert blocks[0].text == "Manual"  # Sphinx permalink pilcrow removed
    assert blocks[1].section == ("Manual",)
    assert blocks[4].section == ("Manual", "Install", "Linux")
    assert blocks[4].kind == "list_item"
    assert blocks[6].section == ("Manual", "Install", "Linux", "Guessed again")
    assert blocks[7].section == ("Manual", "Usage")


def test_running_headers_footers_and_page_numbers_are_dropped() -> None:
    elements = []
    for page in (1, 2, 3):
        elements += [
            Header("Pump Service Manual", metadata=meta(page)),
            Title(f"Chapter {page}", metadata=meta(page)),
            NarrativeText(f"Body\tof\tpage {page}.", metadata=meta(page)),
            Footer(f"Page {page} of 3", metadata=meta(page)),
            PageNumber(str(page), metadata=meta(page)),
            Image("logo", metadata=meta(page)),
        ]
    elements.insert(0, Header("Revision B", metadata=meta(1)))
    blocks = to_blocks(elements)
    texts = [b.text for b in blocks]
    assert texts[0] == "Revision B"  # a header that does not recur is kept
    assert "Pump Service Manual" not in texts
    assert not any(t.startswith("Page ") for t in texts)
    assert "Body of page 2." in texts  # PDF tabs normalised
    assert [b.page for b in blocks if b.kind == "paragraph"] == [1, 2, 3]


def test_tables_become_rows_and_code_keeps_its_lines() -> None:
    html = (
        "<table><tr><th>Bolt</th><th>Torque</th></tr><tr><td>M6</td><td>10\xa0Nm</td></tr>"
        "<tr><td>M8</td><td>25 Nm</td></tr></table>"
    )
    blocks = to_blocks(
        [
            Table("Bolt Torque M6 10 Nm M8 25 Nm", metadata=meta(html=html)),
            CodeSnippet("def f():\n\treturn 1   \n", metadata=meta()),
            NarrativeText("  \u200b  ", metadata=meta()),
        ]
    )
    assert [b.text for b in blocks] == [
        "Bolt | Torque\nM6 | 10 Nm\nM8 | 25 Nm",
        "def f():\n    return 1",
    ]
    assert [b.kind for b in blocks] == ["table", "code"]


def test_parsed_text_is_the_blocks_joined_by_a_blank_line() -> None:
    doc = ParsedDocument(
        "x.md",
        "md",
        (Block("Title", "heading", 1), Block("One.", "paragraph"), Block("a | b", "table")),
    )
    assert doc.text == "Title\n\nOne.\n\na | b"
    assert [doc.text[a:b] for a, b in doc.spans] == ["Title", "One.", "a | b"]


def test_sections_end_with_their_slide() -> None:
    blocks = to_blocks(
        [
            Title("Slide one", metadata=meta(1, depth=0)),
            NarrativeText("Point.", metadata=meta(1)),
            NarrativeText("Untitled slide text.", metadata=meta(2)),
        ],
        sections_per_page=True,
    )
    assert [(b.page, b.section) for b in blocks] == [
        (1, ("Slide one",)),
        (1, ("Slide one",)),
        (2, ()),
    ]


def test_ocr_without_tesseract_is_the_operators_problem_and_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    check_ocr.cache_clear()
    with pytest.raises(
        OcrUnavailable, match=r"tesseract is not installed \(apt-get install tesseract-ocr\)"
    ):
        prepare_parser(IngestionSettings(ocr=True))
    check_ocr.cache_clear()
