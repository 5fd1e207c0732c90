"""Parser pieces that need no NLP model: type detection, rejections, HTML main content,
elements to blocks. Whole-file parsing of every format: tests/integration/test_parse_formats.py."""

from __future__ import annotations

import io
import zipfile
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

from ingestion.errors import InvalidDocument
from ingestion.parsers import Block, ParsedDocument, detect, main_content, parse, to_blocks

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
    ],
)
def test_detects_type_from_content(
    tmp_path: Path, name: str, content: str | bytes, expected: str
) -> None:
    assert detect(write(tmp_path, name, content), filename=name)[0] == expected


def test_pdf_and_docx_are_recognised_whatever_their_extension(tmp_path: Path) -> None:
    assert detect(write(tmp_path, "a.txt", reportlab_pdf()), filename="a.txt")[0] == "pdf"
    docx = zip_with("[Content_Types].xml", "word/document.xml")
    assert detect(write(tmp_path, "b.bin", docx), filename="b.bin")[0] == "docx"


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
        (
            "old.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
            "unsupported file type: legacy Office",
        ),
        ("deck.pptx", zip_with("ppt/presentation.xml"), "unsupported file type: PPTX presentation"),
        ("a.zip", zip_with("notes.txt"), "unsupported file type: ZIP archive"),
        (
            "broken.docx",
            b"PK\x03\x04" + CANARY.encode() * 20,
            "corrupt file: damaged ZIP container",
        ),
        ("data.csv", f"a,b\n1,{CANARY}\n", "unsupported file type: .csv"),
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
