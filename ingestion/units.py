"""How the chunker reads a block: the units it never splits (a heading, a term, a sentence, a
table row, a whole code block), the heading levels that delimit sections, and the page and section
of each stretch of a chunk's text."""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Sequence

from ingestion.parsers import Block, ParsedDocument
from retrieval.types import Place

_SENTENCE_GAP = re.compile(r"[.!?…][\"'”’)\]]*(\s+)(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"e.g", "i.e", "etc", "vs", "cf", "mr", "mrs", "ms", "dr", "no", "fig", "approx"}


def split_block(block: Block) -> list[tuple[int, int, str]]:
    """Unit spans (relative to the block) and their kinds."""
    text = block.text
    if block.kind in ("heading", "term"):
        return [(0, len(text), block.kind)]
    if block.kind == "table":
        return [(m.start(), m.end(), "row") for m in re.finditer(r"[^\n]+", text)]
    if block.kind == "code":
        return [(0, len(text), "whole")]
    return [(a, b, "sentence") for a, b in sentence_spans(text)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence spans of a paragraph (regex: end punctuation, space, capital or digit)."""
    spans, start = [], 0
    for m in _SENTENCE_GAP.finditer(text):
        word = text[start : m.start() + 1].rsplit(None, 1)[-1].rstrip(".").lower()
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        spans.append((start, m.start(1)))
        start = m.end(1)
    spans.append((start, len(text)))
    return [(a, b) for a, b in spans if b > a]


def top_level(blocks: Sequence[Block]) -> int:
    """The top heading level (rule 1); 0 when no heading has a known level."""
    counts = Counter(b.level for b in blocks if b.kind == "heading" and b.level is not None)
    return min([lv for lv, n in counts.items() if n >= 2] or counts or [0])


def level(block: Block) -> int | float:
    return block.level if block.level is not None else math.inf


def places(doc: ParsedDocument, ends: list[int], start: int, end: int) -> tuple[Place, ...]:
    """Page and section along `doc.text[start:end]` (`ends`: where each block ends): one place
    per change, offsets relative to `start` (a block that begins before `start` at 0)."""
    found: list[Place] = []
    for k in range(bisect.bisect_right(ends, start), len(doc.blocks)):
        block_start = doc.spans[k][0]
        if block_start >= end:
            break
        block = doc.blocks[k]
        place = Place(max(block_start, start) - start, block.page, " > ".join(block.section))
        if not found or (found[-1].page, found[-1].section) != (place.page, place.section):
            found.append(place)
    return tuple(found)
