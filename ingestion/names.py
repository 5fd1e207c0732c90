"""The names a stretch of a parsed document defines: what the text is *about*, as opposed to
what it merely mentions.

- every heading inside it (DOCX, PDF, HTML, Markdown headings);
- defined terms: a "term" block (an HTML `<dt>`, qualified by its anchor where that names the
  member in full: `mmap.mmap.read([n])` for `read([n])`; a long one, such as a function's
  signature, cut to its first words), and a short one-line paragraph directly followed by a
  list item (glossaries written as "term" + indented definition come out so);
- a table's key column: the first cell of each row but the header row.

The chunk's title and section path are added by `Chunk.about`; these are the rest.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

from ingestion.parsers import Block, ParsedDocument

MAX_NAME_CHARS = 120  # a longer "term" is a sentence, not a name
MAX_SHARED_TERMS = 64  # terms sharing one definition
MAX_NAMES = 64  # per chunk: enough for a glossary page, bounded payload
_SENTENCE_END = re.compile(r"[.:;!?]$")


def chunk_names(doc: ParsedDocument, start: int, end: int) -> tuple[str, ...]:
    """The names defined in `doc.text[start:end]`, in order, without repeats."""
    ends = [e for _, e in doc.spans]
    found: dict[str, None] = {}
    for k in range(bisect.bisect_right(ends, start), len(doc.blocks)):
        if doc.spans[k][0] >= end:
            break
        for name in block_names(doc.blocks, k):
            found.setdefault(name, None)
    return tuple(found)[:MAX_NAMES]


def block_names(blocks: Sequence[Block], k: int) -> list[str]:
    """The names block `k` defines (see the module docstring)."""
    block = blocks[k]
    if block.kind == "heading":
        return [block.text] if len(block.text) <= MAX_NAME_CHARS else []
    if block.kind == "term":
        return [_shortened(block.name or block.text)]
    if block.kind == "table":
        rows = block.text.split("\n")
        keys = [row.split(" | ", 1)[0].strip() for row in rows[1:]]
        return [key for key in keys if key and len(key) <= MAX_NAME_CHARS]
    if block.kind == "paragraph" and is_term(block.text):
        return [block.text] if _defined_below(blocks, k) else []
    return []


def _defined_below(blocks: Sequence[Block], k: int) -> bool:
    """Whether a list item (the definition) follows block `k` after a run of terms: several
    `<dt>` may share one `<dd>`."""
    for j in range(k + 1, min(k + 1 + MAX_SHARED_TERMS, len(blocks))):
        if blocks[j].kind == "list_item":
            return True
        if blocks[j].kind != "paragraph" or not is_term(blocks[j].text):
            return False
    return False


def _shortened(text: str) -> str:
    """`text` cut at a word boundary to at most MAX_NAME_CHARS."""
    if len(text) <= MAX_NAME_CHARS:
        return text
    cut = text[:MAX_NAME_CHARS].rsplit(" ", 1)[0]
    return cut or text[:MAX_NAME_CHARS]


def is_term(text: str) -> bool:
    """A one-line text short enough to be a name, not ending like a sentence or a lead-in."""
    return 0 < len(text) <= MAX_NAME_CHARS and "\n" not in text and not _SENTENCE_END.search(text)
