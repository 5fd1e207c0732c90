"""Document types, named from the file name: every document has exactly one."""

from __future__ import annotations

from app.services.doctypes import TYPES, type_of


def test_every_document_has_one_type():
    named = {n: type_of(n) for n in ("a.PDF", "b.docx", "c.tar.gz", "README", "d.Md", "e.tsv")}
    assert named == {
        "a.PDF": "pdf", "b.docx": "word", "c.tar.gz": "text",
        "README": "text", "d.Md": "markdown", "e.tsv": "table",
    }  # fmt: skip
    assert set(named.values()) <= set(TYPES)
