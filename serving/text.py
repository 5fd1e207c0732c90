"""Text units with character offsets, and the terms the answer-trust modules compare.

Units. A text is cut into blocks at blank lines (parsed documents join their blocks that way:
only code and tables keep line breaks inside a block, see `ingestion.parsers`). A block whose
every line holds a `` | `` is a table: one unit per row. A fenced (```), doctest (``>>>``) or
otherwise multi-line block with indented lines is code: one unit. Any other block is prose: each
line that opens with a bullet or a list number starts an item, and items and paragraphs are cut
into sentences by `sentence_spans`.

Sentences. A boundary is ``.``, ``!``, ``?`` or ``…`` (with any closing quotes or brackets and
citation markers ``[n]`` after it), then whitespace, then a character that can open a sentence
(not a lower-case letter). It is no boundary after a known abbreviation (``e.g.``, ``approx.``,
``Fig.``), a single capital initial (``J. Smith``), a list number that opens the text (``1.``),
or inside backtick code. Numbers such as ``3.5`` and names such as ``os.path`` hold no
whitespace after the dot, so they never split. A careful regex rather than spaCy: the same cuts
for a claim and for its source, no model, and microseconds per sentence (spaCy's
``en_core_web_sm`` took milliseconds per chunk; see evals/bench/verification.py).

Terms. Lower-cased ``\\w`` runs, stop words dropped; a word of letters loses a plural ``s``
(``gowns`` -> ``gown``) and is cut to its first six letters (a crude stem: ``operation`` /
``operating`` -> ``operat``); numbers and codes stay whole.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

UnitKind = Literal["sentence", "row", "code"]

STOP_WORDS: frozenset[str] = frozenset(
    [
        "a",
        "about",
        "above",
        "after",
        "all",
        "also",
        "an",
        "and",
        "any",
        "are",
        "as",
        "at",
        "be",
        "been",
        "but",
        "by",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "had",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "into",
        "is",
        "it",
        "its",
        "may",
        "might",
        "must",
        "not",
        "of",
        "on",
        "or",
        "our",
        "should",
        "so",
        "such",
        "than",
        "that",
        "the",
        "their",
        "them",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "to",
        "too",
        "under",
        "up",
        "us",
        "using",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "while",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
        "according",
        "answer",
        "based",
        "described",
        "document",
        "given",
        "mention",
        "mentioned",
        "say",
        "says",
        "source",
        "sources",
        "state",
        "stated",
        "states",
        "text",
    ]
)
STEM_CHARS = 6

_BLOCK_BREAK = re.compile(r"\n[ \t]*\n\s*")
_FENCE = re.compile(r"^[ \t]*```.*?(?:^[ \t]*```[^\n]*$|\Z)", re.MULTILINE | re.DOTALL)
_WORD = re.compile(r"\w+")
BULLET = re.compile(r"^\s*(?:[-*•·]|\d{1,3}[.)]|[a-z][.)])\s+")
_END = re.compile(r"(?:[.!?]+|…)[\"'”’)\]]*(?:\s*\[\d{1,3}\])*(?=\s)")
_OPENER = re.compile(r"\s+([^\s])")
_CODE_SPAN = re.compile(r"`[^`\n]*`")
ABBREVIATIONS: frozenset[str] = frozenset(
    [
        "al",
        "approx",
        "art",
        "bros",
        "ca",
        "cf",
        "ch",
        "co",
        "corp",
        "dept",
        "dr",
        "e.g",
        "eq",
        "fig",
        "figs",
        "i.e",
        "inc",
        "incl",
        "jr",
        "ltd",
        "mr",
        "mrs",
        "ms",
        "no",
        "nos",
        "nr",
        "op",
        "p",
        "pp",
        "prof",
        "ref",
        "resp",
        "sec",
        "sr",
        "st",
        "vol",
        "vols",
        "vs",
    ]
)


@dataclass(frozen=True)
class Unit:
    """A sentence, table row or code block of a text: ``text[start:end]``."""

    start: int
    end: int
    kind: UnitKind
    block: int  # index of the block (blank-line separated) the unit belongs to
    text: str


def blocks(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of each non-blank block: a fenced code block whole, the rest cut at blank
    lines (which are left out)."""
    start = 0
    for fence in _FENCE.finditer(text):
        yield from _plain_blocks(text, start, fence.start())
        yield from _stripped(text, fence.start(), fence.end())
        start = fence.end()
    yield from _plain_blocks(text, start, len(text))


def _plain_blocks(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    for match in _BLOCK_BREAK.finditer(text, start, end):
        yield from _stripped(text, start, match.start())
        start = match.end()
    yield from _stripped(text, start, end)


def _stripped(text: str, start: int, end: int) -> Iterator[tuple[int, int]]:
    piece = text[start:end]
    left = len(piece) - len(piece.lstrip())
    right = len(piece.rstrip())
    if right > left:
        yield start + left, start + right


def units(text: str) -> list[Unit]:
    """The units of `text` in reading order (see the module docstring)."""
    out: list[Unit] = []
    for index, (start, end) in enumerate(blocks(text)):
        block = text[start:end]
        lines = block.split("\n")
        if all(" | " in line or not line.strip() for line in lines) and " | " in block:
            spans = list(_line_spans(block))
            kind: UnitKind = "row"
        elif _is_code(block, lines):
            spans, kind = [(0, len(block))], "code"
        else:
            spans, kind = list(_prose_spans(block)), "sentence"
        out.extend(
            Unit(start + a, start + b, kind, index, text[start + a : start + b]) for a, b in spans
        )
    return out


def _is_code(block: str, lines: list[str]) -> bool:
    if block.startswith(("```", ">>>", "$ ")):
        return True
    return len(lines) > 1 and any(line.startswith(("  ", "\t")) for line in lines[1:])


def _line_spans(block: str) -> Iterator[tuple[int, int]]:
    offset = 0
    for line in block.split("\n"):
        yield from _stripped(block, offset, offset + len(line))
        offset += len(line) + 1


def _prose_spans(block: str) -> Iterator[tuple[int, int]]:
    """Sentences of each list item / paragraph of a prose block."""
    starts = [0]
    offset = 0
    for line in block.split("\n"):
        if offset and BULLET.match(line):
            starts.append(offset)
        offset += len(line) + 1
    for a, b in zip(starts, [*starts[1:], len(block)], strict=True):
        for s, e in sentence_spans(block[a:b]):
            yield a + s, a + e


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of one paragraph (see the module docstring)."""
    code = [m.span() for m in _CODE_SPAN.finditer(text)]
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _END.finditer(text):
        end = match.end()
        opener = _OPENER.match(text, end)
        if opener is None or opener.group(1).islower() or any(a < end <= b for a, b in code):
            continue
        if match.group().startswith(".") and _no_break(text[start : match.start()]):
            continue
        spans.extend(_stripped(text, start, end))
        start = opener.start(1)
    spans.extend(_stripped(text, start, len(text)))
    return spans


def _no_break(before: str) -> bool:
    """Whether a dot after `before` ends an abbreviation, an initial or an opening list number."""
    tokens = before.split()
    if not tokens:
        return True
    word = tokens[-1].lstrip("([\"'“‘")
    if word.lower() in ABBREVIATIONS or (len(word) == 1 and word.isupper()):
        return True
    return len(tokens) == 1 and word.isdigit()


def header_index(found: Sequence[Unit], i: int) -> int | None:
    """The index of the header row (the table's first row) of the table row `found[i]`; None
    when it is no row, or the header itself."""
    if found[i].kind != "row":
        return None
    first = i
    while first > 0 and found[first - 1].block == found[i].block:
        first -= 1
    return first if first != i else None


QUESTION_FRAME: frozenset[str] = frozenset(
    ["does", "mean", "means", "meaning", "happen", "happens", "purpose", "please", "tell"]
)
_HOW_X = re.compile(r"\bhow\s+(?:long|many|much|often|far|soon)\b", re.IGNORECASE)


def question_terms(question: str) -> list[str]:
    """The content terms of a question, its frame left out ("what does E31 *mean*", "*how
    long*"): the words that ask, not the words an answer would repeat."""
    return [t for t in terms(_HOW_X.sub(" ", question)) if t not in QUESTION_FRAME]


def terms(text: str) -> list[str]:
    """The content terms of `text` in order (see the module docstring)."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS]


def _stem(word: str) -> str:
    if not word.isalpha():
        return word
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:STEM_CHARS]


def rarity(unit_terms: Iterable[frozenset[str]]) -> dict[str, float]:
    """Term -> ``log(1 + (n + 1) / (df + 0.5))`` over `n` units (df: units holding the term);
    the key ``""`` holds the weight of a term found in none."""
    n = 0
    df: dict[str, int] = {}
    for found in unit_terms:
        n += 1
        for term in found:
            df[term] = df.get(term, 0) + 1
    weights = {t: math.log(1 + (n + 1) / (d + 0.5)) for t, d in df.items()}
    weights[""] = math.log(1 + (n + 1) / 0.5)
    return weights
