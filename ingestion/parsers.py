"""Parse an uploaded file into a flat list of typed text blocks, offline, through `unstructured`.

Formats (provenance per format: `ingestion.formats`): PDF (text layer; OCR with tesseract when
`ocr` is on), DOCX, PPTX, XLSX, CSV/TSV, HTML, Markdown, plain text, EML and MSG. The type is
read from the content (`ingestion.detect`); the extension only chooses among text formats and
names the mismatch in errors.

Bounds (`ingestion.settings` documents each limit and its default): file size, text size, ZIP
container sizes and compression ratio, and PDF page count are checked before parsing
(`ingestion.limits`); table cells and extracted characters during and after it. The parse
itself runs in a child process without network, limited in wall time and memory
(`ingestion.sandbox`), so a hostile file can neither hang the worker nor exhaust its memory.

Every failure is an `InvalidDocument` whose message names the reason, never the content:
unsupported type (with the lying extension named), empty or too large file, corrupt or
encrypted file, zip bomb, too many pages, cells or characters, a parse over its time or
memory limit, and no extractable text (a document is never returned empty). `OcrUnavailable`
(OCR on but tesseract missing) is the operator's to fix, not the document's.

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
import os
import re
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from ingestion import formats, limits, offline, sandbox
from ingestion.detect import Detected, FileType, detect
from ingestion.errors import InvalidDocument
from ingestion.formats import OcrUnavailable, check_ocr
from ingestion.sandbox import ParserSandbox
from ingestion.settings import IngestionSettings
from ingestion.webpage import main_content, qualified

__all__ = [
    "Block",
    "FileType",
    "OcrUnavailable",
    "ParsedDocument",
    "check_ocr",
    "detect",
    "main_content",
    "parse",
    "prepare_parser",
    "to_blocks",
]

logger = logging.getLogger(__name__)

# "term": a defined term (an HTML `<dt>`), the name the paragraphs after it define
BlockKind = Literal["heading", "term", "paragraph", "list_item", "table", "code"]
BLOCK_SEPARATOR = "\n\n"

NO_TEXT_PDF = "no text could be extracted (no text layer; enable OCR)"
NO_TEXT_OCR = "no text could be extracted (no text layer, and OCR found none)"

sandbox.register_pass_through(OcrUnavailable)
sandbox.register_pass_through(offline.OfflineSetupError)


@dataclass(frozen=True)
class Block:
    """One element of a document. `level`: headings only, 1 = outermost, None where the depth
    is unknown (headings guessed from PDF or plain-text layout; they nest under every heading of
    known depth and replace each other in `section`). `section`: the path of enclosing
    headings, outermost first (a heading's own path ends with itself). `page`: PDF page or
    PPTX slide, where the format has pages. `name`: terms only (`webpage.qualified`)."""

    text: str
    kind: BlockKind
    level: int | None = None
    page: int | None = None
    section: tuple[str, ...] = ()
    name: str = ""  # a term's name as its anchor qualifies it, "" when the text says it all


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


def parse(
    path: Path,
    *,
    filename: str,
    settings: IngestionSettings | None = None,
    parser: ParserSandbox | None = None,
) -> ParsedDocument:
    """Parse the file at `path`; `filename` is the name it was uploaded under. `settings`:
    the limits (defaults: `IngestionSettings()`); `parser`: the sandbox to parse in (default:
    `sandbox.shared()`)."""
    s = settings or IngestionSettings()
    detected = detect(path, filename=filename, settings=s)
    pages = limits.check_pdf(path, s) if detected.file_type == "pdf" else None
    if not s.isolate_parsing:
        return extract(path, filename, detected, pages, s)
    return (parser or sandbox.shared()).call(
        "ingestion.parsers.extract",
        path,
        filename,
        detected,
        pages,
        s,
        warm_up="ingestion.parsers.warm_up",
        timeout_s=s.parse_timeout_s,
        memory_mb=s.parse_memory_mb,
    )


def extract(
    path: Path, filename: str, detected: Detected, pages: int | None, s: IngestionSettings
) -> ParsedDocument:
    """The parse proper, after `detect` and the limit checks (in the parser process)."""
    file_type = detected.file_type
    offline.prepare()
    for name in ("XLSX_MAX_CELLS", "CSV_MAX_CELLS", "DOCX_TABLE_MAX_CELLS"):
        os.environ[name] = str(s.max_cells)  # unstructured reads them on every parse
    try:
        part = _guarded(file_type, s, formats.partition, file_type, path, detected.text)
        blocks = to_blocks(
            part.elements, sections_per_page=part.sections_per_page, terms=part.terms
        )
        if not blocks and file_type == "pdf" and s.ocr:
            assert pages is not None
            blocks = to_blocks(_guarded(file_type, s, formats.ocr_pdf, path, pages, s))
            if not blocks:
                raise InvalidDocument(NO_TEXT_OCR)
    finally:
        offline.clear_caches()
    if not blocks:
        raise InvalidDocument(NO_TEXT_PDF if file_type == "pdf" else "no text could be extracted")
    limits.check_chars(sum(len(b.text) for b in blocks), s)
    pages = pages or part.pages or _max_page(blocks)
    return ParsedDocument(filename=filename, file_type=file_type, blocks=tuple(blocks), pages=pages)


def prepare_parser(
    settings: IngestionSettings | None = None, *, parser: ParserSandbox | None = None
) -> None:
    """Start the parser process (or load the parsers in-process) now rather than on the first
    document, and with `ocr` on check its tools (raises `OcrUnavailable`)."""
    s = settings or IngestionSettings()
    if s.ocr:
        check_ocr(s.ocr_languages)
    if not s.isolate_parsing:
        warm_up()
        return
    (parser or sandbox.shared()).call(
        "ingestion.parsers.warm_up",
        warm_up="ingestion.parsers.warm_up",
        timeout_s=sandbox.START_TIMEOUT_S,
        memory_mb=s.parse_memory_mb,
    )


def warm_up() -> None:
    """Load the offline NLP pipeline and every partitioner (the parser process does this once,
    before its memory limit is set)."""
    offline.prepare()
    import oxmsg  # noqa: F401
    import pptx  # noqa: F401
    import unstructured.partition.csv
    import unstructured.partition.docx
    import unstructured.partition.html
    import unstructured.partition.md
    import unstructured.partition.pdf
    import unstructured.partition.pptx
    import unstructured.partition.text
    import unstructured.partition.tsv
    import unstructured.partition.xlsx  # noqa: F401


def _guarded(file_type: FileType, s: IngestionSettings, fn: Any, *args: Any) -> Any:
    """`fn(*args)`, with whatever the parsing libraries raise turned into a clear reason."""
    try:
        return fn(*args)
    except (InvalidDocument, OcrUnavailable, offline.OfflineSetupError):
        raise
    except MemoryError:
        raise InvalidDocument(sandbox.MEMORY_ERROR) from None
    except Exception as exc:  # unstructured and its backends raise anything; never echo it
        logger.info("parse failed", extra={"file_type": file_type, "error": type(exc).__name__})
        message = str(exc)  # inspected for a known cause, never passed on
        if "memory" in message.lower():
            reason = sandbox.MEMORY_ERROR
        elif "MAX_CELLS" in message:
            reason = f"too many table cells (the limit is {s.max_cells:,})"
        elif "password protected" in message:
            reason = "encrypted Office document (password protected)"
        else:
            reason = f"corrupt or unreadable {file_type.upper()} file ({type(exc).__name__})"
        raise InvalidDocument(reason) from None


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


def to_blocks(
    elements: Iterable[Any],
    *,
    sections_per_page: bool = False,
    terms: Iterable[tuple[str, str]] = (),
) -> list[Block]:
    """Typed, normalised blocks with heading levels and section paths; boilerplate dropped.
    `sections_per_page`: a section path ends where its page ends (slides). `terms`: the text
    and anchor of each term the markup defines, in order; a paragraph reading the next one of
    a text is a "term" block, qualified by its anchor (`webpage.qualified`)."""
    elements = list(elements)
    running = _running_texts(elements)
    anchors: dict[str, deque[str]] = {}
    for term, anchor in terms:
        anchors.setdefault(_clean(term), deque()).append(anchor)
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    page = None
    for element in elements:
        if sections_per_page and element.metadata.page_number != page:
            page = element.metadata.page_number
            path = []
        kind = _kind(element, running)
        if kind is None:
            continue
        text = _normalise(element, kind)
        if not text:
            continue
        name = ""
        if kind == "paragraph" and anchors.get(text):
            kind, name = "term", qualified(text, anchors[text].popleft())
        level = None
        if kind == "heading":
            depth = element.metadata.category_depth
            level = depth + 1 if depth is not None else None
            rank = level if level is not None else _UNKNOWN_DEPTH
            while path and path[-1][0] >= rank:
                path.pop()
            path.append((rank, text))
        section = tuple(t for _, t in path)
        blocks.append(Block(text, kind, level, element.metadata.page_number, section, name))
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
    return _clean(element.text)


def _clean(text: str) -> str:
    """One line: whitespace collapsed, zero-width characters and a trailing pilcrow dropped."""
    return _PILCROW.sub("", " ".join(_ZERO_WIDTH.sub("", text).split()))


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
