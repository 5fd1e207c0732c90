"""Each format through unstructured (offline), as elements ready for `parsers.to_blocks`.

Provenance per format:

- PDF: page numbers (``strategy="fast"``, the text layer); with OCR on, a PDF whose text layer
  yields nothing is read by tesseract (``strategy="ocr_only"``), pages kept.
- PPTX: page = slide number; the title placeholder is the slide's heading (other short lines,
  which unstructured guesses to be titles, stay paragraphs), speaker notes follow the slide's
  text, and sections never run from one slide into the next. Charts and pictures are dropped.
- XLSX: every sheet is a heading (its name) followed by its tables, one row per line; blocks
  of cells separated by empty rows or columns are separate tables, and single-cell rows above
  or below them become headings/paragraphs. No page numbers (sheets are sections).
- CSV/TSV: one table, one row per line, the header row included as the first row.
- EML/MSG: the subject is the heading; a paragraph ``From: ...; To: ...; Cc: ...; Date: ...``
  follows (so senders and dates are searchable), then the body (HTML preferred, else plain
  text). Attachments are not ingested (neither recursively nor listed); ingest them as files.
- DOCX, HTML (main content only, see `webpage`), Markdown, plain text: headings and sections.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import functools
import io
import logging
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any, NamedTuple

from ingestion.detect import FileType
from ingestion.errors import IngestionError, InvalidDocument
from ingestion.settings import IngestionSettings
from ingestion.webpage import Terms, main_content, main_content_and_terms

logger = logging.getLogger(__name__)

LANGS = ["eng"]  # no language detection: unstructured's is per element and slow


class OcrUnavailable(IngestionError):
    """OCR is enabled but tesseract, poppler or a language pack is missing (not the
    document's fault: retry once the operator installs it)."""


class Partitioned(NamedTuple):
    elements: list[Any]
    pages: int | None = None  # slides of a PPTX (PDF pages are counted before parsing)
    sections_per_page: bool = False  # a new page starts a new section path (slides)
    terms: Terms = ()  # defined terms (HTML `<dt>`): text, anchor


def partition(file_type: FileType, path: Path, text: str | None) -> Partitioned:
    """The elements of the file at `path` (`text`: its decoded text, for text formats)."""
    if file_type == "pdf":
        from unstructured.partition.pdf import partition_pdf

        return Partitioned(partition_pdf(filename=str(path), strategy="fast", languages=LANGS))
    if file_type == "docx":
        from unstructured.partition.docx import partition_docx

        return Partitioned(partition_docx(filename=str(path), languages=LANGS))
    if file_type == "pptx":
        return _pptx(path)
    if file_type == "xlsx":
        return Partitioned(_xlsx(path))
    if file_type == "msg":
        return Partitioned(_msg(path))
    if file_type == "eml":
        return Partitioned(_eml(path.read_bytes()))
    assert text is not None
    if file_type in ("csv", "tsv"):
        return Partitioned(_delimited(file_type, text))
    if file_type == "html":
        content, terms = main_content_and_terms(text)
        return Partitioned(_text(file_type, content), terms=terms)
    return Partitioned(_text(file_type, text))


def _text(file_type: FileType, text: str) -> list[Any]:
    """The elements of a text format; HTML comes as its main content (`webpage.main_content`)."""
    if file_type == "html":
        from unstructured.partition.html import partition_html

        _html_without_nlp()
        return partition_html(text=text, languages=LANGS)
    if file_type == "md":
        from unstructured.partition.md import partition_md

        _html_without_nlp()  # Markdown is rendered to HTML and parsed by the same parser
        return partition_md(text=text, languages=LANGS)
    from unstructured.partition.text import partition_text

    return partition_text(text=text, languages=LANGS)


# unstructured's HTML parser runs spaCy (tagger + dependency parser) on every text block that
# the markup does not type, only to tell NarrativeText from UncategorizedText. `to_blocks` makes
# both a paragraph, so for us the test decides nothing, and it was ~85 % of the parse time of a
# documentation page (evals/bench/ingest_throughput.py). Headings, list items, tables and code
# come from the markup, so the parser's narrative test is answered "no" without spaCy; blocks
# are unchanged (checked on the 167 pydocs pages and samples/). Plain text, PDF and DOCX keep
# the test: there it also tells a title from a paragraph.
_HTML_PARSER = "unstructured.partition.html.parser"
_NARRATIVE_TEST = "is_possible_narrative_text"


@functools.cache
def _html_without_nlp() -> None:
    import importlib

    module = importlib.import_module(_HTML_PARSER)
    if not callable(getattr(module, _NARRATIVE_TEST, None)):
        logger.warning("unstructured's HTML parser changed; its narrative test still runs spaCy")
        return
    setattr(module, _NARRATIVE_TEST, _not_narrative)


def _not_narrative(text: str, *args: Any, **kwargs: Any) -> bool:
    return False


# --- PDF OCR ----------------------------------------------------------------------------------


def ocr_pdf(path: Path, pages: int, s: IngestionSettings) -> list[Any]:
    """The elements tesseract reads from the rendered pages."""
    if pages > s.ocr_max_pages:
        raise InvalidDocument(
            f"no text layer, and too many pages to OCR ({pages:,}; the limit is "
            f"{s.ocr_max_pages:,})"
        )
    check_ocr(s.ocr_languages)
    from unstructured.partition.pdf import partition_pdf

    return partition_pdf(
        filename=str(path), strategy="ocr_only", languages=s.ocr_languages.split("+")
    )


@functools.cache
def check_ocr(languages: str = "eng") -> None:
    """Raise `OcrUnavailable` unless tesseract, poppler and the language data are installed."""
    for tool, package in (
        ("tesseract", "tesseract-ocr"),
        ("pdftoppm", "poppler-utils"),
        ("pdfinfo", "poppler-utils"),
    ):
        if shutil.which(tool) is None:
            raise OcrUnavailable(
                f"OCR is enabled but {tool} is not installed (apt-get install {package})"
            )
    listed = subprocess.run(
        ["tesseract", "--list-langs"], capture_output=True, text=True, timeout=30, check=False
    ).stdout.split()
    for lang in languages.split("+"):
        if lang not in listed:
            raise OcrUnavailable(
                f"OCR language {lang!r} is not installed (apt-get install tesseract-ocr-"
                f"{lang.replace('_', '-').lower()})"
            )


# --- PPTX -------------------------------------------------------------------------------------


def _pptx(path: Path) -> Partitioned:
    from pptx import Presentation
    from unstructured.documents.elements import ElementMetadata, NarrativeText
    from unstructured.partition.pptx import partition_pptx

    by_slide: dict[int | None, list[Any]] = defaultdict(list)
    for e in partition_pptx(filename=str(path), languages=LANGS):
        by_slide[e.metadata.page_number].append(e)
    slides = Presentation(str(path)).slides
    out: list[Any] = []
    for number, slide in enumerate(slides, start=1):
        for e in by_slide.get(number, []):
            # the title placeholder's first paragraph has depth 0; body lines guessed to be
            # titles have depth >= 1
            if e.category == "Title" and e.metadata.category_depth != 0:
                e = NarrativeText(text=e.text, metadata=e.metadata)
            out.append(e)
        notes = _slide_notes(slide)
        if notes:
            out.append(NarrativeText(text=notes, metadata=ElementMetadata(page_number=number)))
    return Partitioned(out, pages=len(slides), sections_per_page=True)


def _slide_notes(slide: Any) -> str:
    if not slide.has_notes_slide:
        return ""
    frame = slide.notes_slide.notes_text_frame
    return frame.text.strip() if frame is not None else ""


# --- spreadsheets -----------------------------------------------------------------------------


def _xlsx(path: Path) -> list[Any]:
    from unstructured.documents.elements import ElementMetadata, Title
    from unstructured.partition.xlsx import partition_xlsx

    out: list[Any] = []
    sheet = None
    for e in partition_xlsx(filename=str(path), languages=LANGS):
        if e.metadata.page_name != sheet:
            sheet = e.metadata.page_name
            out.append(Title(text=str(sheet), metadata=ElementMetadata(category_depth=0)))
        e.metadata.page_number = None
        out.append(e)
    return out


def _delimited(file_type: FileType, text: str) -> list[Any]:
    data = io.BytesIO(text.encode("utf-8"))
    if file_type == "tsv":
        from unstructured.partition.tsv import partition_tsv

        return partition_tsv(file=data, languages=LANGS)
    from unstructured.partition.csv import partition_csv

    return partition_csv(file=data, encoding="utf-8", languages=LANGS)


# --- email ------------------------------------------------------------------------------------


def _eml(data: bytes) -> list[Any]:
    message = email.message_from_bytes(data, policy=email.policy.default)
    if message.get_content_type() in ("multipart/encrypted", "application/pkcs7-mime"):
        raise InvalidDocument("encrypted email (PGP or S/MIME)")
    header = {
        "From": _header(message, "From"),
        "To": _header(message, "To"),
        "Cc": _header(message, "Cc"),
        "Date": _date(_header(message, "Date")),
    }
    body = message.get_body(preferencelist=("html", "plain"))
    html = plain = None
    if body is not None:
        content = _content(body)
        if body.get_content_type() == "text/html":
            html = content
        else:
            plain = content
    return _email_elements(_header(message, "Subject"), header, html, plain)


def _msg(path: Path) -> list[Any]:
    from oxmsg import Message
    from oxmsg.domain import constants

    message = Message.load(str(path))
    klass = message.message_class.upper()
    if klass.startswith("IPM.NOTE.SMIME") and "MULTIPARTSIGNED" not in klass:
        raise InvalidDocument("encrypted email (S/MIME)")
    if "encrypted" in message.message_headers.get("Content-Type", ""):
        raise InvalidDocument("encrypted email (PGP or S/MIME)")
    to, cc = [], []  # Bcc recipients (type 3) are left out
    for r in message.recipients:
        kind = r.properties.int_prop_value(constants.PID_RECIPIENT_TYPE)
        who = f"{r.name} <{r.email_address}>" if r.name and r.email_address else r.name
        if kind in (None, 1):
            to.append(who or r.email_address)
        elif kind == 2:
            cc.append(who or r.email_address)
    sent = message.sent_date
    header = {
        "From": ", ".join(
            f"{name} <{address}>" if name else address
            for name, address in email.utils.getaddresses([message.sender or ""])
            if address
        ),
        "To": ", ".join(to),
        "Cc": ", ".join(cc),
        "Date": sent.isoformat(timespec="minutes") if sent else "",
    }
    return _email_elements(message.subject, header, message.html_body, message.body)


def _email_elements(
    subject: str, header: dict[str, str], html: str | None, plain: str | None
) -> list[Any]:
    """Subject heading, header paragraph, then the body with its headings one level down."""
    from unstructured.documents.elements import ElementMetadata, NarrativeText, Title

    out: list[Any] = []
    if subject.strip():
        out.append(Title(text=subject, metadata=ElementMetadata(category_depth=0)))
    fields = "; ".join(f"{name}: {value}" for name, value in header.items() if value.strip())
    if fields:
        out.append(NarrativeText(text=fields, metadata=ElementMetadata()))
    if html and html.strip():
        body = _text("html", main_content(html))
    elif plain and plain.strip():
        body = _text("txt", plain)
    else:
        body = []
    for e in body:
        if e.category == "Title" and e.metadata.category_depth is not None:
            e.metadata.category_depth += 1
        out.append(e)
    return out


def _header(message: Any, name: str) -> str:
    try:
        value = message.get(name)
    except Exception:  # a malformed header: skip it
        return ""
    return " ".join(str(value).split()) if value is not None else ""


def _date(value: str) -> str:
    try:
        return email.utils.parsedate_to_datetime(value).isoformat(timespec="minutes")
    except (TypeError, ValueError, IndexError):
        return value


def _content(part: Any) -> str:
    try:
        return part.get_content()
    except (LookupError, UnicodeError, AssertionError):  # unknown or lying charset
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", errors="replace")
