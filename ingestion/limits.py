"""Cheap checks that bound a parse before it starts (settings: `ingestion.settings`).

ZIP containers (DOCX, PPTX, XLSX) are checked from their central directory without
decompressing anything: its size and entry count first (read from the end record, before
`zipfile` loads the directory), then encrypted members, the total uncompressed size and each
large member's compression ratio. `zipfile` itself refuses to inflate a member past its
declared size (the CRC check fails), so a directory that lies about sizes ends as "corrupt".
PDFs are opened with pypdf for the page count (the page tree's /Count first, then the pages
themselves) and encryption. Messages carry numbers, never content.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path
from typing import Any, cast

from ingestion.errors import InvalidDocument
from ingestion.settings import IngestionSettings

MB = 1024 * 1024
MAX_ZIP_MEMBERS = 10_000  # an Office file has tens to a few thousand
MAX_ZIP_DIRECTORY = 8 * MB
RATIO_GRACE = 1 * MB  # small members may compress well; only larger ones are held to the ratio
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22


def check_file_size(size: int, s: IngestionSettings) -> None:
    if size > s.max_file_mb * MB:
        raise InvalidDocument(
            f"file too large ({size / MB:,.1f} MB; the limit is {s.max_file_mb:g} MB)"
        )


def check_text_bytes(size: int, s: IngestionSettings) -> None:
    """A text file of `size` bytes has at least size/4 characters (UTF-8)."""
    if size > 4 * s.max_chars:
        raise InvalidDocument(f"too much text (over {s.max_chars:,} characters)")


def check_chars(chars: int, s: IngestionSettings) -> None:
    if chars > s.max_chars:
        raise InvalidDocument(f"too much text ({chars:,} characters; the limit is {s.max_chars:,})")


def zip_members(path: Path) -> list[zipfile.ZipInfo]:
    """The members of a ZIP container whose directory is of sane size."""
    _check_zip_directory(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, struct.error):
        raise InvalidDocument("corrupt file: damaged ZIP container") from None


def check_zip_sizes(members: list[zipfile.ZipInfo], s: IngestionSettings) -> None:
    """Reject encrypted members, a total uncompressed size over `max_uncompressed_mb` and a
    member over 1 MB that inflates more than `max_compression_ratio` times (a zip bomb)."""
    if any(m.flag_bits & 0x1 for m in members):
        raise InvalidDocument("encrypted ZIP container (password protected)")
    total = sum(m.file_size for m in members)
    if total > s.max_uncompressed_mb * MB:
        raise InvalidDocument(
            f"possible zip bomb: {total / MB:,.0f} MB uncompressed "
            f"(the limit is {s.max_uncompressed_mb:g} MB)"
        )
    for m in members:
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > RATIO_GRACE and ratio > s.max_compression_ratio:
            raise InvalidDocument(
                f"possible zip bomb: a member inflates {ratio:,.0f}x "
                f"(the limit is {s.max_compression_ratio:g}x)"
            )


def _check_zip_directory(path: Path) -> None:
    """Entry count and directory size from the end-of-central-directory record."""
    size = path.stat().st_size
    with path.open("rb") as f:
        f.seek(max(0, size - 65_536 - _EOCD_SIZE))
        tail = f.read()
    at = tail.rfind(_EOCD)
    if at < 0 or len(tail) - at < _EOCD_SIZE:
        raise InvalidDocument("corrupt file: damaged ZIP container")
    entries, directory_size = struct.unpack("<2xHI", tail[at + 8 : at + 16])
    if entries == 0xFFFF or directory_size == 0xFFFFFFFF:  # ZIP64: no sane Office file needs it
        raise InvalidDocument("unsupported file type: ZIP64 container")
    if entries > MAX_ZIP_MEMBERS:
        raise InvalidDocument(
            f"possible zip bomb: {entries:,} members (the limit is {MAX_ZIP_MEMBERS:,})"
        )
    if directory_size > MAX_ZIP_DIRECTORY:
        raise InvalidDocument(f"possible zip bomb: a {directory_size / MB:,.0f} MB ZIP directory")


def check_pdf(path: Path, s: IngestionSettings) -> int:
    """The page count; clear errors for damaged, encrypted and over-long PDFs (unstructured
    returns no elements for the first two)."""
    import pypdf

    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise InvalidDocument("encrypted PDF (password protected)")
        declared = cast(Any, reader.trailer)["/Root"]["/Pages"].get("/Count")
        if isinstance(declared, int) and declared > s.max_pages:
            raise _too_many_pages(declared, s)
        pages = len(reader.pages)
    except InvalidDocument:
        raise
    except Exception as exc:
        raise InvalidDocument(f"corrupt PDF ({type(exc).__name__})") from None
    if not pages:
        raise InvalidDocument("corrupt PDF: no pages")
    if pages > s.max_pages:
        raise _too_many_pages(pages, s)
    return pages


def _too_many_pages(pages: int, s: IngestionSettings) -> InvalidDocument:
    return InvalidDocument(f"too many pages ({pages:,}; the limit is {s.max_pages:,})")
