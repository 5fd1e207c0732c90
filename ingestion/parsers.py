"""Parse an uploaded file into a flat list of typed text blocks, offline, through `unstructured`.

Supported now: plain text, Markdown, HTML, PDF (``strategy="fast"``: the text layer only) and
DOCX. The type is read from the content (magic bytes, ZIP members, HTML markers); the
extension only chooses between plain text and Markdown, and names the mismatch in errors.

Every failure is an `InvalidDocument` whose message names the reason, never the content:
unsupported type, empty file, corrupt or encrypted file, and no extractable text (a document
is never returned empty).

What is dropped as boilerplate: on HTML pages with exactly one outermost ``<main>`` /
``role="main"`` element (else exactly one ``<article>``) only that element is parsed; without
one, ``nav``, ``footer`` and navigation/search/banner/contentinfo landmarks are removed. In PDFs
page numbers and running headers and footers are dropped (a header whose exact text, or a
footer whose text with digits masked, recurs on two or more pages); a header that does not
recur is kept as a heading. Images and page breaks are dropped everywhere.

Text is normalised per block: whitespace runs become one space (PDF text comes with tabs),
except in code (lines and indentation kept) and tables (one row per line, cells joined by
`` | ``); zero-width characters and Sphinx-style trailing pilcrows (``¶``) are removed.
"""

from __future__ import annotations

import logging
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from ingestion import offline
from ingestion.errors import InvalidDocument

logger = logging.getLogger(__name__)

BlockKind = Literal["heading", "paragraph", "list_item", "table", "code"]
FileType = Literal["txt", "md", "html", "pdf", "docx"]
BLOCK_SEPARATOR = "\n\n"

NO_TEXT_PDF = "no text could be extracted (no text layer; enable OCR)"


@dataclass(frozen=True)
class Block:
    """One element of a document. `level`: headings only, 1 = outermost, None where the depth
    is unknown (headings guessed from PDF or plain-text layout; they nest under every heading of
    known depth and replace each other in `section`). `section`: the path of enclosing
    headings, outermost first (a heading's own path ends with itself)."""

    text: str
    kind: BlockKind
    level: int | None = None
    page: int | None = None
    section: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    """The parsed text of one file; `text` is the blocks joined by a blank line."""

    filename: str
    file_type: FileType
    blocks: tuple[Block, ...]
    pages: int | None = None

    @cached_property
    def text(self) -> str:
        return BLOCK_SEPARATOR.join(b.text for b in self.blocks)

    @cached_property
    def spans(self) -> tuple[tuple[int, int], ...]:
        """(start, end) of each block in `text`."""
        out, pos = [], 0
        for block in self.blocks:
            out.append((pos, pos + len(block.text)))
            pos += len(block.text) + len(BLOCK_SEPARATOR)
        return tuple(out)


def parse(path: Path, *, filename: str) -> ParsedDocument:
    """Parse the file at `path`; `filename` is the name it was uploaded under."""
    file_type, text = detect(path, filename=filename)
    pdf_pages = _check_pdf(path) if file_type == "pdf" else None
    offline.prepare()
    try:
        elements = _partition(file_type, path, text)
    except InvalidDocument:
        raise
    except Exception as exc:  # unstructured and its backends raise anything; never echo it
        logger.info("parse failed", extra={"file_type": file_type, "error": type(exc).__name__})
        raise InvalidDocument(
            f"corrupt or unreadable {file_type.upper()} file ({type(exc).__name__})"
        ) from None
    finally:
        offline.clear_caches()
    blocks = to_blocks(elements)
    if not blocks:
        raise InvalidDocument(NO_TEXT_PDF if file_type == "pdf" else "no text could be extracted")
    pages = pdf_pages if file_type == "pdf" else _max_page(blocks)
    return ParsedDocument(filename=filename, file_type=file_type, blocks=tuple(blocks), pages=pages)


# --- type detection ---------------------------------------------------------------------------

# (leading bytes, what it is, the extensions that honestly claim it)
_BINARY_MAGIC: tuple[tuple[bytes, str, frozenset[str]], ...] = tuple(
    (magic, label, frozenset(exts.split()))
    for magic, label, exts in (
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
            "legacy Office (OLE2) document",
            ".doc .xls .ppt .msg",
        ),
        (b"\x89PNG\r\n\x1a\n", "PNG image", ".png"),
        (b"\xff\xd8\xff", "JPEG image", ".jpg .jpeg"),
        (b"GIF8", "GIF image", ".gif"),
        (b"II*\x00", "TIFF image", ".tif .tiff"),
        (b"MM\x00*", "TIFF image", ".tif .tiff"),
        (b"\x1f\x8b", "gzip archive", ".gz .tgz"),
        (b"BZh", "bzip2 archive", ".bz2"),
        (b"\xfd7zXZ\x00", "xz archive", ".xz"),
        (b"7z\xbc\xaf\x27\x1c", "7z archive", ".7z"),
        (b"Rar!\x1a\x07", "RAR archive", ".rar"),
        (b"\x7fELF", "executable", ""),
        (b"MZ", "executable", ".exe .dll"),
        (b"{\\rtf", "RTF document", ".rtf"),
    )
)
# (member that identifies it, what it is, honest extensions); "docx" is the supported one
_ZIP_MEMBERS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("word/document.xml", "docx", frozenset({".docx", ".docm"})),
    ("ppt/presentation.xml", "PPTX presentation", frozenset({".pptx"})),
    ("xl/workbook.xml", "XLSX spreadsheet", frozenset({".xlsx"})),
    ("content.xml", "OpenDocument file", frozenset({".odt", ".ods", ".odp"})),
)
_MARKDOWN_EXT = {".md", ".markdown", ".mdown", ".mkd"}
_HTML_EXT = {".html", ".htm", ".xhtml"}
_SUPPORTED_EXT = {".pdf", ".docx", ".txt", ".text", *_MARKDOWN_EXT, *_HTML_EXT}
_LATER_TEXT_EXT = {".csv", ".tsv", ".json", ".jsonl", ".xml", ".eml", ".yaml", ".yml", ".svg"}
_HTML_MARKER = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[a-zA-Z][a-zA-Z0-9]*[\s>/]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def detect(path: Path, *, filename: str) -> tuple[FileType, str | None]:
    """The file's type from its content, and its decoded text for text formats."""
    ext = Path(filename).suffix.lower()
    data = path.read_bytes()
    if not data:
        raise InvalidDocument("empty file (0 bytes)")
    if b"%PDF-" in data[:1024]:
        return "pdf", None
    if data.startswith(b"PK\x03\x04"):
        return _zip_type(path, ext), None
    for magic, label, honest in _BINARY_MAGIC:
        if data.startswith(magic):
            raise InvalidDocument(f"unsupported file type: {label}{_mismatch(ext, honest)}")
    text = _decode(data)
    if text is None:
        note = _mismatch(ext) if ext in _SUPPORTED_EXT else ""
        raise InvalidDocument(f"unsupported file type: unrecognised binary data{note}")
    if _HTML_MARKER.search(text[:4096]) or (ext in _HTML_EXT and _ANY_TAG.search(text)):
        return "html", text
    if ext in _LATER_TEXT_EXT:
        raise InvalidDocument(f"unsupported file type: {ext}")
    return ("md" if ext in _MARKDOWN_EXT else "txt"), text


def _zip_type(path: Path, ext: str) -> FileType:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise InvalidDocument("corrupt file: damaged ZIP container") from None
    for member, label, honest in _ZIP_MEMBERS:
        if member in names:
            if label == "docx":
                return "docx"
            raise InvalidDocument(f"unsupported file type: {label}{_mismatch(ext, honest)}")
    raise InvalidDocument(f"unsupported file type: ZIP archive{_mismatch(ext, {'.zip'})}")


def _mismatch(ext: str, honest: Iterable[str] = ()) -> str:
    """A note when the extension claims a format the content is not."""
    if not ext or ext in honest:
        return ""
    return f" (the {ext} extension does not match the content)"


def _decode(data: bytes) -> str | None:
    """Decoded text, or None when the bytes do not look like text."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError:
                return None
    if b"\x00" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        if text.count("\ufffd") > len(text) // 100:
            return None
    sample = text[:8192]
    if len(_CONTROL.findall(sample)) > len(sample) // 100:
        return None
    return text


# --- partitioning -----------------------------------------------------------------------------


def _partition(file_type: FileType, path: Path, text: str | None) -> list[Any]:
    langs = ["eng"]
    if file_type == "pdf":
        from unstructured.partition.pdf import partition_pdf

        return partition_pdf(filename=str(path), strategy="fast", languages=langs)
    if file_type == "docx":
        from unstructured.partition.docx import partition_docx

        return partition_docx(filename=str(path), languages=langs)
    assert text is not None
    if file_type == "html":
        from unstructured.partition.html import partition_html

        return partition_html(text=main_content(text), languages=langs)
    if file_type == "md":
        from unstructured.partition.md import partition_md

        return partition_md(text=text, languages=langs)
    from unstructured.partition.text import partition_text

    return partition_text(text=text, languages=langs)


def _check_pdf(path: Path) -> int:
    """Its page count; clear errors for damaged and encrypted PDFs (unstructured returns no
    elements for both)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidDocument("encrypted PDF (password protected)")
        pages = len(reader.pages)
        if not pages:
            raise InvalidDocument("corrupt PDF: no pages")
    except InvalidDocument:
        raise
    except Exception as exc:
        raise InvalidDocument(f"corrupt PDF ({type(exc).__name__})") from None
    return pages


_DROP_HTML = (
    "//nav | //footer | //*[@role='navigation'] | //*[@role='search'] | //*[@role='banner']"
    " | //*[@role='contentinfo'] | //script | //style | //noscript | //template"
)


def main_content(markup: str) -> str:
    """The page's main content element, or the page without navigation landmarks."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.document_fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return markup
    for query in ("//main | //*[@role='main']", "//article"):
        found = _outermost(root.xpath(query))
        if len(found) == 1 and found[0].text_content().strip():
            return lxml.html.tostring(found[0], encoding="unicode")
        if found:
            break
    for element in root.xpath(_DROP_HTML):
        if element.getparent() is not None:
            element.drop_tree()
    return lxml.html.tostring(root, encoding="unicode")


def _outermost(elements: Sequence[Any]) -> list[Any]:
    chosen = set(elements)
    return [e for e in elements if not any(a in chosen for a in e.iterancestors())]


# --- elements to blocks -----------------------------------------------------------------------

_KIND_BY_CATEGORY: dict[str, BlockKind] = {
    "Title": "heading",
    "ListItem": "list_item",
    "Table": "table",
    "CodeSnippet": "code",
    "Formula": "code",
}
_UNKNOWN_DEPTH = 1_000  # a guessed heading (PDF, plain text) nests under every known one
_DROPPED = {"Image", "PageBreak", "PageNumber"}
_ZERO_WIDTH = re.compile("[\u200b\u200c\u200d\u2060\ufeff\u00ad]")
_PILCROW = re.compile(r"\s*¶\s*$")


def to_blocks(elements: Iterable[Any]) -> list[Block]:
    """Typed, normalised blocks with heading levels and section paths; boilerplate dropped."""
    elements = list(elements)
    running = _running_texts(elements)
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    for element in elements:
        kind = _kind(element, running)
        if kind is None:
            continue
        text = _normalise(element, kind)
        if not text:
            continue
        level = None
        if kind == "heading":
            depth = element.metadata.category_depth
            level = depth + 1 if depth is not None else None
            rank = level if level is not None else _UNKNOWN_DEPTH
            while path and path[-1][0] >= rank:
                path.pop()
            path.append((rank, text))
        section = tuple(t for _, t in path)
        blocks.append(Block(text, kind, level, element.metadata.page_number, section))
    return blocks


def _kind(element: Any, running: set[str]) -> BlockKind | None:
    category = element.category
    if category in _DROPPED:
        return None
    if category in ("Header", "Footer"):
        if _running_key(element) in running:
            return None
        return "heading" if category == "Header" else "paragraph"
    return _KIND_BY_CATEGORY.get(category, "paragraph")


def _running_texts(elements: Sequence[Any]) -> set[str]:
    """Running headers and footers: the same text on two or more pages."""
    pages: dict[str, set[int | None]] = {}
    for e in elements:
        if e.category in ("Header", "Footer"):
            pages.setdefault(_running_key(e), set()).add(e.metadata.page_number)
    return {key for key, on in pages.items() if len(on) >= 2}


def _running_key(element: Any) -> str:
    """Headers compare exactly; footers with digits masked (they carry page numbers)."""
    text = " ".join(element.text.split())
    return f"H:{text}" if element.category == "Header" else "F:" + _digitless(text)


def _digitless(text: str) -> str:
    return re.sub(r"\d+", "#", text)


def _normalise(element: Any, kind: BlockKind) -> str:
    if kind == "code":
        lines = _ZERO_WIDTH.sub("", element.text).expandtabs(4).splitlines()
        return "\n".join(line.rstrip() for line in lines).strip("\n")
    if kind == "table":
        rows = _table_rows(element.metadata.text_as_html)
        if rows:
            return "\n".join(rows)
    return _PILCROW.sub("", " ".join(_ZERO_WIDTH.sub("", element.text).split()))


def _table_rows(html: str | None) -> list[str]:
    if not html:
        return []
    import lxml.html

    try:
        table = lxml.html.fragment_fromstring(html, create_parent="div")
    except Exception:
        return []
    rows = []
    for tr in table.iter("tr"):
        cells = [" ".join(c.text_content().split()) for c in tr if c.tag in ("td", "th")]
        if any(cells):
            rows.append(" | ".join(cells))
    return rows


def _max_page(blocks: Sequence[Block]) -> int | None:
    pages = [b.page for b in blocks if b.page is not None]
    return max(pages) if pages else None
