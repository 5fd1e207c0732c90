"""A file's format, read from its content; clear rejections for what cannot be ingested.

Binary formats by their bytes: ``%PDF-`` near the start; a ZIP container by the members that
identify DOCX, PPTX and XLSX (its limits are checked here too, before anything is
decompressed); an OLE2 container by its streams (Outlook MSG; an encrypted OOXML file is an
OLE2 container too; legacy .doc/.xls/.ppt are rejected). Text formats: an RFC 822 header block
at the start makes an email (EML), HTML markers make HTML, and only then does the extension
choose CSV/TSV, Markdown or plain text. Messages name the format and, where the extension
claims another one, the mismatch; never the content.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal, NamedTuple

from ingestion import limits
from ingestion.errors import InvalidDocument
from ingestion.settings import IngestionSettings

FileType = Literal["txt", "md", "html", "pdf", "docx", "pptx", "xlsx", "csv", "tsv", "eml", "msg"]


class Detected(NamedTuple):
    file_type: FileType
    text: str | None  # the decoded text of text formats


OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# (leading bytes, what it is, the extensions that honestly claim it)
_BINARY_MAGIC: tuple[tuple[bytes, str, frozenset[str]], ...] = tuple(
    (magic, label, frozenset(exts.split()))
    for magic, label, exts in (
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
        (b"PK\x05\x06", "ZIP archive", ".zip"),  # an empty one
        (b"\x7fELF", "executable", ""),
        (b"MZ", "executable", ".exe .dll"),
        (b"{\\rtf", "RTF document", ".rtf"),
    )
)
# (member that identifies it, file type or what it is, honest extensions)
_ZIP_MEMBERS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("word/document.xml", "docx", frozenset({".docx", ".docm"})),
    ("ppt/presentation.xml", "pptx", frozenset({".pptx", ".pptm"})),
    ("xl/workbook.xml", "xlsx", frozenset({".xlsx", ".xlsm"})),
    ("content.xml", "OpenDocument file", frozenset({".odt", ".ods", ".odp"})),
)
# root streams of an OLE2 container: (stream, what it is, honest extensions)
_OLE_STREAMS: tuple[tuple[str, str, frozenset[str]], ...] = (
    ("EncryptedPackage", "encrypted", frozenset()),
    ("__properties_version1.0", "msg", frozenset({".msg"})),
    ("WordDocument", "legacy Word document (.doc)", frozenset({".doc", ".dot"})),
    ("Workbook", "legacy Excel workbook (.xls)", frozenset({".xls"})),
    ("Book", "legacy Excel workbook (.xls)", frozenset({".xls"})),
    ("PowerPoint Document", "legacy PowerPoint file (.ppt)", frozenset({".ppt", ".pps"})),
)
_MARKDOWN_EXT = {".md", ".markdown", ".mdown", ".mkd"}
_HTML_EXT = {".html", ".htm", ".xhtml"}
_DELIMITED_EXT: dict[str, FileType] = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv"}
_SUPPORTED_EXT = {
    *(f".{t}" for t in ("pdf", "docx", "pptx", "xlsx", "txt", "text", "eml", "msg")),
    *_MARKDOWN_EXT,
    *_HTML_EXT,
    *_DELIMITED_EXT,
}
_UNSUPPORTED_TEXT_EXT = {".json", ".jsonl", ".xml", ".yaml", ".yml", ".svg"}
_HTML_MARKER = re.compile(r"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.IGNORECASE)
_ANY_TAG = re.compile(r"<[a-zA-Z][a-zA-Z0-9]*[\s>/]")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
_HEADER_FIELD = re.compile(r"([!-9;-~]+):")  # RFC 5322 field name: printable ASCII but ':'
_EMAIL_FIELDS = {
    "from", "to", "cc", "subject", "date", "message-id", "mime-version", "received",
    "return-path", "reply-to", "sender", "content-type", "delivered-to", "in-reply-to",
}  # fmt: skip
_EMAIL_ORIGIN = {"from", "received", "return-path", "sender"}


def detect(path: Path, *, filename: str, settings: IngestionSettings | None = None) -> Detected:
    """The file's type from its content, and its decoded text for text formats."""
    s = settings or IngestionSettings()
    ext = Path(filename).suffix.lower()
    size = path.stat().st_size
    if not size:
        raise InvalidDocument("empty file (0 bytes)")
    limits.check_file_size(size, s)
    with path.open("rb") as f:
        head = f.read(8192)
    if b"%PDF-" in head[:1024]:
        return Detected("pdf", None)
    if head.startswith(b"PK\x03\x04"):
        return Detected(_zip_type(path, ext, s), None)
    if head.startswith(OLE_MAGIC):
        return Detected(_ole_type(path, ext), None)
    for magic, label, honest in _BINARY_MAGIC:
        if head.startswith(magic):
            raise InvalidDocument(f"unsupported file type: {label}{_mismatch(ext, honest)}")
    if _decode(head, partial=size > len(head)) is None:
        raise InvalidDocument(f"unsupported file type: unrecognised binary data{_claimed(ext)}")
    limits.check_text_bytes(size, s)
    text = _decode(path.read_bytes())
    if text is None:
        raise InvalidDocument(f"unsupported file type: unrecognised binary data{_claimed(ext)}")
    limits.check_chars(len(text), s)
    if looks_like_email(text, claimed=ext == ".eml"):
        return Detected("eml", text)
    if _HTML_MARKER.search(text[:4096]) or (ext in _HTML_EXT and _ANY_TAG.search(text)):
        return Detected("html", text)
    if ext in _DELIMITED_EXT:
        return Detected(_DELIMITED_EXT[ext], text)
    if ext in _UNSUPPORTED_TEXT_EXT:
        raise InvalidDocument(f"unsupported file type: {ext}")
    return Detected("md" if ext in _MARKDOWN_EXT else "txt", text)


def looks_like_email(text: str, *, claimed: bool = False) -> bool:
    """True when the text starts with an RFC 822 header block naming an origin (From,
    Received, ...) and at least one other message field, ended by a blank line; when the
    extension `claimed` it is an email, any two message fields will do."""
    lines = text[:65536].splitlines()
    if lines and lines[0].startswith("From "):  # an mbox separator line
        lines = lines[1:]
    names: set[str] = set()
    for line in lines:
        if not line.strip():
            origin = claimed or bool(names & _EMAIL_ORIGIN)
            return origin and len(names & _EMAIL_FIELDS) >= 2
        if line[0] in " \t":
            if not names:
                return False
            continue
        match = _HEADER_FIELD.match(line)
        if not match:
            return False
        names.add(match.group(1).lower())
    return False


def _zip_type(path: Path, ext: str, settings: IngestionSettings) -> FileType:
    members = limits.zip_members(path)
    names = {m.filename for m in members}
    for member, kind, honest in _ZIP_MEMBERS:
        if member in names:
            if kind in ("docx", "pptx", "xlsx"):
                limits.check_zip_sizes(members, settings)
                return kind  # type: ignore[return-value]
            raise InvalidDocument(f"unsupported file type: {kind}{_mismatch(ext, honest)}")
    raise InvalidDocument(f"unsupported file type: ZIP archive{_mismatch(ext, {'.zip'})}")


def _ole_type(path: Path, ext: str) -> FileType:
    import olefile

    try:
        with olefile.OleFileIO(str(path)) as ole:
            roots = {entry[0] for entry in ole.listdir(streams=True, storages=True)}
    except Exception:  # olefile raises OSError, struct.error, IndexError, ... on damage
        raise InvalidDocument("corrupt file: damaged OLE2 container") from None
    for stream, kind, honest in _OLE_STREAMS:
        if stream in roots:
            if kind == "encrypted":
                raise InvalidDocument("encrypted Office document (password protected)")
            if kind == "msg":
                return "msg"
            raise InvalidDocument(f"unsupported file type: {kind}{_mismatch(ext, honest)}")
    raise InvalidDocument(f"unsupported file type: OLE2 container{_claimed(ext)}")


def _mismatch(ext: str, honest: Iterable[str] = ()) -> str:
    """A note when the extension claims a format the content is not."""
    if not ext or ext in honest:
        return ""
    return f" (the {ext} extension does not match the content)"


def _claimed(ext: str) -> str:
    return _mismatch(ext) if ext in _SUPPORTED_EXT else ""


def _decode(data: bytes, *, partial: bool = False) -> str | None:
    """Decoded text, or None when the bytes do not look like text. `partial`: `data` is a
    prefix, so a multi-byte character may be cut at its end."""
    for bom, codec in (
        (b"\xef\xbb\xbf", "utf-8-sig"),
        (b"\xff\xfe", "utf-16"),
        (b"\xfe\xff", "utf-16"),
    ):
        if data.startswith(bom):
            try:
                return data.decode(codec, errors="ignore" if partial else "strict")
            except UnicodeDecodeError:
                return None
    if b"\x00" in data[:8192]:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if partial and exc.start >= len(data) - 3:
            text = data[: exc.start].decode("utf-8")
        else:
            text = data.decode("cp1252", errors="replace")
            if text.count("\ufffd") > len(text) // 100:
                return None
    sample = text[:8192]
    if len(_CONTROL.findall(sample)) > len(sample) // 100:
        return None
    return text
