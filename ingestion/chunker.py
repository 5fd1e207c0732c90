"""Semantic chunking: split a parsed document into 512-1024-token chunks at structural and
topic boundaries, with 10-15 % overlap inside sections.

Terms. Token counts come from the embedder's tokenizer (`count_tokens`, its per-text overhead,
e.g. [CLS]/[SEP], measured once on "" and subtracted from every unit; a chunk's size is the
sum of its units). *Own* tokens of a chunk exclude the text it repeats from the previous one.
Sections are delimited by headings; *top-level* headings are those at the shallowest level that
occurs at least twice in the document (headings above it, e.g. a lone page title, count as
top-level too; headings of unknown level, guessed from PDF or text layout, never do, so a
document without known levels is one group). A section is *tiny* below ``min_tokens // 4``
tokens.

Units. Each block is cut into units that are never split: a heading, a defined term (an HTML
`<dt>`), a sentence of a paragraph or list item, a table row, a whole code block. Only a unit
larger than a chunk is split further (code at lines, anything at whitespace; a single run
without whitespace stays whole).

Rules.

1. Top-level sections are grouped, in order: a tiny section joins the sections after it (the
   last ones join the group before); a group closes after a section that is not tiny, or once
   it reaches ``min_tokens``. No chunk crosses a group boundary. So a section shorter than
   ``min_tokens`` is a chunk of its own only when merging it would cross a top-level boundary
   and it is not tiny; tiny sections are merged even across one.
2. Within a group, cut points are chosen by dynamic programming to minimise a total cost:
   1 per chunk, plus the cost of each cut (a cut before a top-level heading 0, before a
   deeper one 0.5 per level; before a defined term 0.5, so an entry of a definition list, such
   as a function's signature and its description, stays whole; between blocks 1; next to a
   list item or after a lead-in ending in ':' 2; before a paragraph starting "Note",
   "Exception", "Warning", ... 2.5; between table rows or code lines 3; between sentences 5;
   at whitespace 20; right after a heading or a term 100, so a heading stays with its body and
   a term with its definition), plus 0.5 per sub-heading inside a chunk, 4 for a chunk under
   the minimum (except the document's last chunk) and 12 for a tiny one.
3. Hard limits: a chunk's total (overlap included) never exceeds ``max_tokens``; chunks that
   get an overlap keep their own tokens within ``[min*(1-lo), max*(1-hi)]``.
4. Topic shifts: when a `similarity` function is given (it embeds texts: ``(n, dim)`` array),
   the units of every group that needs splitting are embedded, and each cut between blocks,
   list items or sentences costs ``2 * s`` more, where ``s`` is the cosine similarity, clipped
   to [0, 1], of the (summed) two units before and the two after the cut; so the cheapest cut
   in the allowed window is where the topic shifts. Without it ``s`` is 0.5 everywhere and
   cuts fall on the structural boundaries and sentence ends above.
5. Overlap: a chunk that starts inside a section (not at a heading) begins with the end of the
   previous chunk, never reaching back before the heading of that section: the unit boundary
   whose overlap share of the chunk is closest to ``overlap`` within ``[lo, hi]`` =
   ``overlap * [5/6, 5/4]`` (10-15 % for 0.12), else a word boundary inside a sentence, else the
   nearest unit boundary below ``hi`` (or none). Chunks that start at a heading get none.

Spans. ``ParsedDocument.text`` is the blocks joined by a blank line; a chunk's text is exactly
``doc.text[start:end]``, overlap included: the repeated part is ``doc.text[start:own_start]``.

Provenance. A chunk's ``page`` is the first page of its text and ``section`` the heading path
where its own text starts; ``places`` maps its whole text: the page and section from each
offset on (a new place wherever either changes), so a passage inside a chunk that spans pages
or sections is located exactly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import numpy as np

from ingestion.parsers import Block, ParsedDocument
from ingestion.units import level, places, split_block, top_level
from retrieval.types import Place

CountTokens = Callable[[Sequence[str]], list[int]]
Similarity = Callable[[Sequence[str]], np.ndarray]

CHUNK_COST = 1.0
SIM_WEIGHT = 2.0
CUT_BLOCK, CUT_LIST, CUT_NOTE, CUT_SENTENCE = 1.0, 2.0, 2.5, 5.0
CUT_ROW, CUT_WORD, CUT_AFTER_HEADING = 3.0, 20.0, 100.0
SUBHEADING_STEP = 0.5
SHORT_PENALTY, TINY_PENALTY = 4.0, 12.0
SIM_WINDOW = 2

_NOTE_START = re.compile(r"(note|exception|except|warning|caution|important)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before embedding; `text == doc.text[start:end]`, own text from `own_start`."""

    text: str
    start: int
    end: int
    own_start: int
    page: int | None
    section: str
    position: int
    tokens: int
    places: tuple[Place, ...] = ()  # page and section along the text (see retrieval's Chunk)


@dataclass(frozen=True)
class _Limits:
    base: int  # tokens the tokenizer adds to every text
    hard: int  # most tokens of any chunk, overlap included
    cap: int  # most own tokens of a chunk that gets an overlap; the largest unit
    floor: int  # fewer own tokens than this is short (chunks starting at a heading)
    floor_overlapped: int  # the same for chunks that get an overlap
    tiny: int


@dataclass
class _Unit:
    start: int
    end: int
    block: int
    kind: str  # "heading", "sentence", "row", "line", "word", "whole"
    tokens: int = 0
    cut: float = 0.0  # cost of a cut just before this unit
    topical: bool = False  # whether similarity adds to that cost


class Chunker:
    """Sizes with the embedder's tokenizer; see the module docstring for the rules."""

    def __init__(
        self,
        count_tokens: CountTokens,
        *,
        min_tokens: int = 512,
        max_tokens: int = 1024,
        overlap: float = 0.12,
        similarity: Similarity | None = None,
    ) -> None:
        if not 0 < min_tokens <= max_tokens or not 0 <= overlap <= 0.5:
            raise ValueError("need 0 < min_tokens <= max_tokens and 0 <= overlap <= 0.5")
        self._count = count_tokens
        self._similarity = similarity
        self.min_tokens, self.max_tokens, self.overlap = min_tokens, max_tokens, overlap
        self._lo, self._hi = overlap * 5 / 6, overlap * 5 / 4
        self._lim: _Limits | None = None

    def chunk(self, doc: ParsedDocument) -> list[ChunkDraft]:
        if not doc.blocks:
            return []
        units = self._units(doc)
        groups = self._groups(doc.blocks, units)
        sims = self._similarities(doc.text, units, groups)
        for i, unit in enumerate(units):
            if unit.topical:
                unit.cut += SIM_WEIGHT * sims.get(i, 0.5)
        spans = []
        for g_start, g_end in groups:
            spans += self._segment(units, g_start, g_end, last=g_end == len(units))
        return self._drafts(doc, units, spans)

    # --- units --------------------------------------------------------------------------------

    def _tokens(self, texts: Sequence[str]) -> list[int]:
        base = self._limits().base
        return [max(0, n - base) for n in self._count(texts)] if texts else []

    def _units(self, doc: ParsedDocument) -> list[_Unit]:
        text = doc.text
        units = [
            _Unit(start + a, start + b, index, kind)
            for index, (block, (start, _)) in enumerate(zip(doc.blocks, doc.spans, strict=True))
            for a, b, kind in split_block(block)
        ]
        for unit, n in zip(
            units, self._tokens([text[u.start : u.end] for u in units]), strict=True
        ):
            unit.tokens = n
        units = [piece for unit in units for piece in self._refine(text, unit)]
        top = top_level(doc.blocks)
        for i, unit in enumerate(units):
            _set_cut(unit, units[i - 1] if i else None, doc.blocks, top)
        return units

    def _refine(self, text: str, unit: _Unit) -> list[_Unit]:
        """Split a unit larger than the cap at lines (code, tables) or whitespace."""
        if unit.tokens <= self._limits().cap:
            return [unit]
        body = text[unit.start : unit.end]
        pattern = r"[^\n]+" if "\n" in body and unit.kind != "line" else r"\S+"
        kind = "line" if pattern == r"[^\n]+" else "word"
        parts = [
            _Unit(unit.start + m.start(), unit.start + m.end(), unit.block, kind)
            for m in re.finditer(pattern, body)
        ]
        if len(parts) <= 1:
            return [unit]
        for part, n in zip(
            parts, self._tokens([text[p.start : p.end] for p in parts]), strict=True
        ):
            part.tokens = n
        if kind == "line":
            parts = [q for p in parts for q in self._refine(text, p)]
        return _pack(parts, self._limits().cap, first_kind=unit.kind)

    # --- groups and similarity ----------------------------------------------------------------

    def _groups(self, blocks: Sequence[Block], units: Sequence[_Unit]) -> list[tuple[int, int]]:
        """Unit ranges of the groups of top-level sections (rule 1)."""
        top = top_level(blocks)
        starts = [0] + [
            i
            for i, u in enumerate(units)
            if i and u.kind == "heading" and level(blocks[u.block]) <= top
        ]
        sections = list(zip(starts, [*starts[1:], len(units)], strict=True))
        tiny, groups, open_at, acc = self.min_tokens // 4, [], 0, 0
        for s_start, s_end in sections:
            size = sum(u.tokens for u in units[s_start:s_end])
            acc += size
            if size >= tiny or acc >= self.min_tokens:
                groups.append((open_at, s_end))
                open_at, acc = s_end, 0
        if open_at < len(units):
            if groups:
                groups[-1] = (groups[-1][0], len(units))
            else:
                groups.append((open_at, len(units)))
        return groups

    def _similarities(
        self, text: str, units: Sequence[_Unit], groups: Sequence[tuple[int, int]]
    ) -> dict[int, float]:
        """Similarity across each cut of the groups that need splitting, in [0, 1]."""
        if self._similarity is None:
            return {}
        limit = self._limits().hard
        ranges = [(a, b) for a, b in groups if sum(u.tokens for u in units[a:b]) > limit]
        indices = [i for a, b in ranges for i in range(a, b)]
        if not indices:
            return {}
        vectors = np.asarray(
            self._similarity([text[units[i].start : units[i].end] for i in indices])
        )
        row = {unit: r for r, unit in enumerate(indices)}
        out = {}
        for a, b in ranges:
            for i in range(a + 1, b):
                left = vectors[[row[k] for k in range(max(a, i - SIM_WINDOW), i)]].sum(axis=0)
                right = vectors[[row[k] for k in range(i, min(b, i + SIM_WINDOW))]].sum(axis=0)
                out[i] = min(1.0, max(0.0, _cosine(left, right)))
        return out

    # --- segmentation -------------------------------------------------------------------------

    def _segment(
        self, units: Sequence[_Unit], g0: int, g1: int, *, last: bool
    ) -> list[tuple[int, int]]:
        """Cheapest cut points of one group (rules 2 and 3) as unit ranges."""
        lim, n = self._limits(), g1 - g0
        prefix = [0, *accumulate(u.tokens for u in units[g0:g1])]
        heads = [0, *accumulate(int(u.kind == "heading") for u in units[g0:g1])]
        overlapped = [i > 0 and units[g0 + i].kind != "heading" for i in range(n)]
        cap = [lim.cap if o else lim.hard for o in overlapped]
        floor = [lim.floor_overlapped if o else lim.floor for o in overlapped]
        enter = [CHUNK_COST + (units[g0 + i].cut if i else 0.0) for i in range(n)]
        best, back = [0.0] + [math.inf] * n, [0] * (n + 1)
        for j in range(1, n + 1):
            exempt = last and j == n
            for i in range(j - 1, -1, -1):
                own = prefix[j] - prefix[i]
                if own > cap[i] and i < j - 1:
                    if own > lim.hard:
                        break
                    continue
                cost = best[i] + enter[i] + SUBHEADING_STEP * (heads[j] - heads[i + 1])
                if own < lim.tiny:
                    cost += TINY_PENALTY
                elif own < floor[i] and not exempt:
                    cost += SHORT_PENALTY
                if cost < best[j]:
                    best[j], back[j] = cost, i
        cuts, j = [], n
        while j > 0:
            cuts.append((g0 + back[j], g0 + j))
            j = back[j]
        return cuts[::-1]

    def _limits(self) -> _Limits:
        """Token limits with the tokenizer's per-text overhead taken off."""
        if self._lim is None:
            base = self._count([""])[0]
            hard = max(1, self.max_tokens - base)
            floor = max(1, self.min_tokens - base)
            self._lim = _Limits(
                base=base,
                hard=hard,
                cap=max(1, math.floor(hard * (1 - self._hi))),
                floor=floor,
                floor_overlapped=math.ceil(floor * (1 - self._lo)),
                tiny=self.min_tokens // 4,
            )
        return self._lim

    # --- overlap and drafts -------------------------------------------------------------------

    def _drafts(
        self, doc: ParsedDocument, units: Sequence[_Unit], spans: Sequence[tuple[int, int]]
    ) -> list[ChunkDraft]:
        text, bounds = doc.text, []
        for n, (i, j) in enumerate(spans):
            own_start = units[i].start
            start = own_start
            if n and self.overlap and units[i].kind != "heading":
                start = self._overlap_start(text, units, spans[n - 1][0], i, j)
            bounds.append((start, own_start, units[j - 1].end, i))
        texts = [text[s:e] for s, _, e, _ in bounds]
        counts = self._count(texts)
        ends = [e for _, e in doc.spans]
        return [
            ChunkDraft(
                text=texts[n],
                start=s,
                end=e,
                own_start=o,
                page=_first_page(doc.blocks, units, s, i),
                position=n,
                tokens=counts[n],
                section=" > ".join(doc.blocks[units[i].block].section),
                places=places(doc, ends, s, e),
            )
            for n, (s, o, e, i) in enumerate(bounds)
        ]

    def _overlap_start(self, text: str, units: Sequence[_Unit], prev: int, i: int, j: int) -> int:
        """Where the overlap of a chunk whose own text starts at unit `i` begins (rule 5)."""
        floor = prev
        for k in range(i - 1, prev - 1, -1):
            if units[k].kind == "heading":
                floor = k
                break
        own = sum(u.tokens for u in units[i:j])
        target, lo, hi = (own * f / (1 - f) for f in (self.overlap, self._lo, self._hi))
        sizes = list(accumulate(units[k].tokens for k in range(i - 1, floor - 1, -1)))
        in_band = [(abs(s - target), i - 1 - n) for n, s in enumerate(sizes) if lo <= s <= hi]
        if in_band:
            return units[min(in_band)[1]].start
        straddle = next((i - 1 - n for n, s in enumerate(sizes) if s >= target), None)
        if straddle is not None and units[straddle].kind in ("sentence", "word"):
            rest = sum(u.tokens for u in units[straddle + 1 : i])
            offset = self._word_offset(text, units[straddle], target - rest)
            if offset is not None:
                return offset
        below = [i - 1 - n for n, s in enumerate(sizes) if s <= hi]
        return units[below[-1]].start if below else units[i].start

    def _word_offset(self, text: str, unit: _Unit, want: float) -> int | None:
        """Start of the word suffix of `unit` whose tokens come closest to `want`."""
        words = list(re.finditer(r"\S+", text[unit.start : unit.end]))
        if len(words) < 2:
            return None
        counts = self._tokens([m.group() for m in words])
        suffix = list(accumulate(reversed(counts)))
        n = min(range(len(suffix) - 1), key=lambda k: abs(suffix[k] - want))
        return unit.start + words[len(words) - 1 - n].start()


def _set_cut(unit: _Unit, prev: _Unit | None, blocks: Sequence[Block], top: int) -> None:
    """The cost of cutting just before `unit` (rule 2)."""
    if prev is None:
        return
    block, before = blocks[unit.block], blocks[prev.block]
    if unit.kind == "heading":
        unit.cut = SUBHEADING_STEP * max(0, min(level(block), top + 1) - top)
        unit.cut += CUT_AFTER_HEADING if prev.kind == "heading" else 0.0
        return
    if prev.kind in ("heading", "term"):
        unit.cut = CUT_AFTER_HEADING
    elif unit.kind == "term":
        unit.cut = SUBHEADING_STEP
    elif unit.kind in ("word", "line"):
        unit.cut = CUT_WORD if unit.kind == "word" else CUT_ROW
    elif unit.kind == "row" and (unit.block == prev.block or before.kind == "table"):
        unit.cut = CUT_ROW
    elif unit.block == prev.block:
        unit.cut, unit.topical = CUT_SENTENCE, True
    elif "list_item" in (block.kind, before.kind) or before.text.rstrip().endswith(":"):
        unit.cut, unit.topical = CUT_LIST, True
    elif block.kind == "paragraph" and _NOTE_START.match(block.text):
        unit.cut, unit.topical = CUT_NOTE, True
    else:
        unit.cut, unit.topical = CUT_BLOCK, True


def _pack(parts: list[_Unit], cap: int, *, first_kind: str) -> list[_Unit]:
    """Merge consecutive parts greedily into units of at most `cap` tokens."""
    out: list[_Unit] = []
    for part in parts:
        if out and out[-1].tokens + part.tokens <= cap:
            out[-1].end, out[-1].tokens = part.end, out[-1].tokens + part.tokens
        else:
            out.append(part)
    out[0].kind = first_kind
    return out


def _first_page(
    blocks: Sequence[Block], units: Sequence[_Unit], start: int, own: int
) -> int | None:
    first = own
    while first > 0 and units[first - 1].end > start:
        first -= 1
    pages = (blocks[u.block].page for u in units[first : own + 1])
    return next((p for p in pages if p is not None), blocks[units[own].block].page)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b) / norm if norm else 0.0
