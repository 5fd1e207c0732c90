"""A failed document's reason as a code and a sentence a person understands (ingestion/failures)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import ingestion
from app.jobs import WORKER_LOST
from ingestion.failures import explain
from ingestion.parsers import NO_TEXT_OCR, NO_TEXT_PDF
from ingestion.sandbox import MEMORY_ERROR


@pytest.mark.parametrize(
    ("reason", "code", "sentence"),
    [
        (
            NO_TEXT_PDF,
            "no_text_layer",
            "This PDF has no text layer (it is probably a scan), so "
            "nothing could be read from it. Ask an administrator to enable OCR, then upload it "
            "again.",
        ),
        (NO_TEXT_OCR, "ocr_found_nothing", "OCR found no readable text"),
        (
            "no text layer, and too many pages to OCR (900; the limit is 500)",
            "too_many_pages_for_ocr",
            "too many pages to read by OCR (900; the limit is 500).",
        ),
        ("no text could be extracted", "no_text", "No text could be found in this file."),
        ("empty file (0 bytes)", "empty", "This file is empty."),
        (
            "corrupt PDF (PdfStreamError)",
            "damaged",
            "This file is damaged and could not be read. "
            "Open it in the program that made it, save it again and upload the new copy.",
        ),
        ("corrupt PDF: no pages", "damaged", "This file is damaged"),
        ("corrupt or unreadable DOCX file (KeyError)", "damaged", "This file is damaged"),
        ("corrupt file: damaged ZIP container", "damaged", "This file is damaged"),
        ("encrypted PDF (password protected)", "encrypted", "protected by a password"),
        ("encrypted email (PGP or S/MIME)", "encrypted", "protected by a password"),
        (
            "unsupported file type: PNG image (the .pdf extension does not match the content)",
            "unsupported_type",
            "This file type is not supported: PNG image (the .pdf extension "
            "does not match the content). Upload a PDF, Word (DOCX)",
        ),
        ("unsupported file type: .json", "unsupported_type", "not supported: .json. Upload"),
        (
            "file too large (120.0 MB; the limit is 100 MB)",
            "too_large",
            "This file is too large (120.0 MB; the limit is 100 MB). Split it",
        ),
        ("too many pages (2,001; the limit is 2,000)", "too_many_pages", "(2,001; the limit"),
        ("too much text (over 5,000,000 characters)", "too_much_text", "(over 5,000,000 char"),
        ("too many table cells (the limit is 100,000)", "too_many_cells", "too many cells"),
        (
            "possible zip bomb: a member inflates 5,000x (the limit is 100x)",
            "suspicious_archive",
            "far more data than a document should (a member inflates 5,000x (the limit is 100x))",
        ),
        ("parsing exceeded the time limit (60 s)", "parse_timeout", "took too long"),
        (MEMORY_ERROR, "parse_memory", "more memory than allowed"),
        ("the parser crashed (exit code -11)", "parser_crashed", "stopped unexpectedly"),
        ("the index's disk is full: 10 MB free, 512 MB needed", "disk_full", "out of disk space"),
        (
            "the server's disk is full (no space left on device); will retry",
            "disk_full",
            "Tell an administrator, then upload it again. Enclave is trying again by itself.",
        ),
        (WORKER_LOST, "interrupted", "Indexing was interrupted"),
        (
            "internal error (OperationalError); gave up after 3 attempts",
            "internal_error",
            "Something went wrong on the server while indexing this file. Upload it again later",
        ),
        ("something new", "other", "This file could not be indexed (something new). Upload"),
    ],
)
def test_each_failure_has_a_code_and_a_sentence(reason: str, code: str, sentence: str) -> None:
    failure = explain(reason)
    assert failure.code == code
    assert sentence in failure.message
    assert failure.message[0].isupper()
    assert failure.message.endswith(".")
    assert " ()" not in failure.message
    assert ".." not in failure.message


def test_a_real_rejection_is_explained(tmp_path) -> None:
    """What the parser raises for a damaged PDF gets the damaged-file sentence."""
    from ingestion.errors import InvalidDocument
    from ingestion.parsers import parse

    path = tmp_path / "x.pdf"
    path.write_bytes(b"%PDF-1.4\n" + b"\x00\x01" * 500)
    with pytest.raises(InvalidDocument) as raised:
        parse(path, filename="x.pdf")
    assert explain(str(raised.value)).code == "damaged"


def test_every_reason_the_ingestion_code_raises_has_its_sentence() -> None:
    """Each `InvalidDocument("…")` written in ingestion/ opens with words a rule knows: a new
    reason needs its sentence (else it falls to the generic "other")."""
    openings = []
    for path in Path(ingestion.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (
                isinstance(node, ast.Call) and getattr(node.func, "id", "") == "InvalidDocument"
            ):
                continue
            if not node.args:
                continue
            arg = node.args[0]
            if isinstance(arg, ast.JoinedStr):
                arg = arg.values[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                openings.append((path.name, arg.value))
    assert len(openings) > 25
    unknown = [(name, text) for name, text in openings if explain(text).code == "other"]
    assert unknown == []
