"""Document types as people name them ("PDF", "Word"), from the file name's extension; and the
documents of some types inside a scope, for a search narrowed to them (one SQL query)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePath
from typing import Literal, get_args

from sqlalchemy import ColumnElement, false, func, not_, or_, select
from sqlalchemy.orm import Session

from app.db.models import Document
from retrieval.types import Scope

DocumentType = Literal[
    "pdf", "word", "presentation", "spreadsheet", "table", "markdown", "html", "email", "text"
]
# The extensions of each type; "text" is every other name (plain text is what ingestion reads
# them as). Every document thus has exactly one type.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "pdf": (".pdf",),
    "word": (".docx", ".docm"),
    "presentation": (".pptx", ".pptm"),
    "spreadsheet": (".xlsx", ".xlsm"),
    "table": (".csv", ".tsv", ".tab"),
    "markdown": (".md", ".markdown", ".mdown", ".mkd"),
    "html": (".html", ".htm", ".xhtml"),
    "email": (".eml", ".msg"),
}
TYPES: tuple[str, ...] = get_args(DocumentType)


def type_of(filename: str) -> str:
    """The type of a document named `filename`."""
    ext = PurePath(filename).suffix.lower()
    return next((t for t, exts in EXTENSIONS.items() if ext in exts), "text")


def _named(exts: Iterable[str]) -> ColumnElement[bool]:
    name = func.lower(Document.filename)
    return or_(*(name.like(f"%{ext}") for ext in exts))


def _is(kind: str) -> ColumnElement[bool]:
    if kind == "text":
        return not_(_named(e for exts in EXTENSIONS.values() for e in exts))
    return _named(EXTENSIONS[kind])


def documents_of(*, db: Session, scope: Scope, types: Iterable[str]) -> list[str]:
    """The ids of the documents in `scope` of one of `types` (none for an empty scope)."""
    wanted = sorted(set(types))
    if not scope.collections or not wanted:
        return []
    query = select(Document.id).where(
        Document.collection_id.in_(sorted(scope.collections)),
        or_(false(), *(_is(t) for t in wanted)),
    )
    return list(db.scalars(query))
