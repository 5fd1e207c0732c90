"""Why a document failed, for people: a stable code and a sentence saying what to do.

The reasons the pipeline and the job queue record (`InvalidDocument` messages, a retried
failure's type, a lost worker) are short technical fragments such as "corrupt PDF
(PdfStreamError)". `explain` turns one into a `Failure`: a machine-readable `code` and a
`message` a person understands, with what to do next. Rules match the reason's opening words,
which are this package's own vocabulary (never document content); anything unforeseen still
gets a sentence, with the reason in it, under the code "other".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED = "PDF, Word (DOCX), PowerPoint (PPTX), Excel (XLSX), CSV, HTML, Markdown, e-mail or text"
RETRY_LATER = "Upload it again later; if it keeps failing, tell an administrator."


@dataclass(frozen=True)
class Failure:
    code: str
    message: str


# (code, the reason's opening words (lower case), the sentence; {detail} is the reason's
# parenthesised part, {rest} what follows the opening words). First match wins.
RULES: tuple[tuple[str, str, str], ...] = (
    (
        "no_text_layer",
        "no text could be extracted (no text layer; enable ocr)",
        "This PDF has no text layer (it is probably a scan), so nothing could be read from it. "
        "Ask an administrator to enable OCR, then upload it again.",
    ),
    (
        "ocr_found_nothing",
        "no text could be extracted (no text layer, and ocr found none)",
        "This PDF is a scan and OCR found no readable text in it. Check that the scan is legible, "
        "then upload it again.",
    ),
    (
        "too_many_pages_for_ocr",
        "no text layer, and too many pages to ocr",
        "This PDF is a scan with too many pages to read by OCR ({detail}). Split it into smaller "
        "files and upload those.",
    ),
    (
        "no_text",
        "no text could be extracted",
        "No text could be found in this file. If it holds only images, save it with its text "
        "(or as a PDF with a text layer) and upload it again.",
    ),
    (
        "empty",
        "empty file",
        "This file is empty. Upload the file that has the content.",
    ),
    (
        "encrypted",
        "encrypted",
        "This file is protected by a password or encrypted, so it could not be read. Upload a "
        "copy without the protection.",
    ),
    (
        "damaged",
        "corrupt",
        "This file is damaged and could not be read. Open it in the program that made it, save "
        "it again and upload the new copy.",
    ),
    (
        "unsupported_type",
        "unsupported file type:",
        "This file type is not supported: {rest}. Upload a " + SUPPORTED + " file.",
    ),
    (
        "too_large",
        "file too large",
        "This file is too large ({detail}). Split it into smaller files and upload those.",
    ),
    (
        "too_many_pages",
        "too many pages",
        "This document has too many pages ({detail}). Split it into smaller files and upload "
        "those.",
    ),
    (
        "too_much_text",
        "too much text",
        "This document holds too much text ({detail}). Split it into smaller files and upload "
        "those.",
    ),
    (
        "too_many_cells",
        "too many table cells",
        "This spreadsheet or table has too many cells ({detail}). Split it into smaller files "
        "and upload those.",
    ),
    (
        "suspicious_archive",
        "possible zip bomb",
        "This file unpacks to far more data than a document should ({rest}), so it was not "
        "opened. Save it again in the program that made it and upload the new copy.",
    ),
    (
        "parse_timeout",
        "parsing exceeded the time limit",
        "Reading this file took too long, so it was stopped. Split it into smaller files and "
        "upload those.",
    ),
    (
        "parse_memory",
        "parsing exceeded the memory limit",
        "Reading this file needed more memory than allowed, so it was stopped. Split it into "
        "smaller files and upload those.",
    ),
    (
        "parser_crashed",
        "the parser crashed",
        "The program reading this file stopped unexpectedly. Save the file again in the program "
        "that made it and upload the new copy; if it keeps failing, tell an administrator.",
    ),
    (
        "disk_full",
        "the index's disk is full",
        "The server ran out of disk space while indexing this file. Tell an administrator, "
        "then upload it again.",
    ),
    (
        "disk_full",
        "the server's disk is full",
        "The server ran out of disk space while indexing this file. Tell an administrator, "
        "then upload it again.",
    ),
    (
        "interrupted",
        "the worker stopped while indexing it",
        "Indexing was interrupted (the server stopped while working on this file). " + RETRY_LATER,
    ),
    (
        "internal_error",
        "internal error",
        "Something went wrong on the server while indexing this file. " + RETRY_LATER,
    ),
)

_RETRY = re.compile(r"; (will retry|gave up after \d+ attempts)$")


def explain(reason: str) -> Failure:
    """The code and plain sentence for a recorded failure `reason`."""
    retrying = _RETRY.search(reason)
    core = reason[: retrying.start()] if retrying else reason
    failure = _match(core)
    if retrying and retrying[1] == "will retry":
        return Failure(failure.code, failure.message + " Enclave is trying again by itself.")
    return failure


def _match(core: str) -> Failure:
    lower = core.lower()
    for code, opening, sentence in RULES:
        if lower.startswith(opening):
            detail = re.search(r"\(([^()]*)\)", core)
            rest = core[len(opening) :].strip(" :")
            message = sentence.format(detail=detail[1] if detail else "", rest=rest)
            return Failure(code, message.replace(" ()", ""))
    return Failure("other", f"This file could not be indexed ({core}). {RETRY_LATER}")
