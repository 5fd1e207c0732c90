"""Training pairs for adapting the embedder to a collection, built from its own structure.

No labels: each pair is (anchor, positive, hard negative) taken from the chunks themselves —
a heading and its section's text, a defined term (a short line standing alone, such as an API
signature or a glossary entry) and the paragraph that defines it, a paragraph's first sentence
and the rest of the paragraph. The hard negative is the chunk BM25 ranks highest for the
anchor among the chunks that are not the pair's source or its neighbours. The same chunks
always give the same pairs, in the same order.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from rank_bm25 import BM25Okapi

from retrieval.bm25 import tokenize
from retrieval.types import Chunk

PairKind = Literal["heading", "term", "sentence"]
KINDS: tuple[PairKind, ...] = ("heading", "term", "sentence")
MAX_POSITIVE_CHARS = 1500  # ~256 word pieces, MiniLM's window; the rest would be cut anyway
MIN_POSITIVE_CHARS = 80
MAX_TERM_CHARS = 120
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9`'\"(])")
_PARAGRAPHS = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Pair:
    """One training example; `chunk` is the id of the chunk the positive comes from."""

    kind: PairKind
    anchor: str
    positive: str
    negative: str
    chunk: str


@dataclass(frozen=True)
class _Candidate:
    kind: PairKind
    anchor: str
    positive: str
    index: int  # of the source chunk in document order


def build_pairs(
    chunks: Iterable[Chunk], *, seed: int = 0, max_pairs: int | None = None
) -> list[Pair]:
    """Pairs of every kind from `chunks`, with BM25 hard negatives, shuffled by `seed`.

    With `max_pairs`, the kinds are drawn round robin so that each is represented."""
    ordered = sorted(chunks, key=lambda c: (c.document, c.position, c.id))
    if len(ordered) < 2:
        return []
    candidates = _dedupe(c for i, chunk in enumerate(ordered) for c in _candidates(chunk, i))
    rng = random.Random(seed)
    by_kind = {kind: [c for c in candidates if c.kind == kind] for kind in KINDS}
    for group in by_kind.values():
        rng.shuffle(group)
    chosen = _round_robin([by_kind[k] for k in KINDS], max_pairs)
    index = BM25Okapi([tokenize(c.text) or ["\0"] for c in ordered])
    pairs = []
    for cand in chosen:
        negative = _hard_negative(index, ordered, cand)
        if negative is not None:
            source = ordered[cand.index].id
            pairs.append(Pair(cand.kind, cand.anchor, cand.positive, negative, source))
    return pairs


def _candidates(chunk: Chunk, index: int) -> list[_Candidate]:
    found: list[_Candidate] = []
    paragraphs = [p.strip() for p in _PARAGRAPHS.split(chunk.text) if p.strip()]
    heading = chunk.section.rsplit(">", 1)[-1].strip()
    if heading and len(chunk.text) >= MIN_POSITIVE_CHARS:
        body = chunk.text.strip()
        if paragraphs and paragraphs[0] == heading:  # the heading line itself is the anchor
            body = "\n\n".join(paragraphs[1:])
        found.append(_Candidate("heading", heading, _clip(body), index))
    for term, definition in zip(paragraphs, paragraphs[1:], strict=False):
        if _is_term(term) and _is_prose(definition):
            found.append(_Candidate("term", term, _clip(definition), index))
    for paragraph in paragraphs:
        sentences = _SENTENCE_END.split(" ".join(paragraph.split()))
        rest = " ".join(sentences[1:])
        if len(sentences) >= 2 and _is_prose(rest) and len(sentences[0]) >= 30:
            found.append(_Candidate("sentence", sentences[0], _clip(rest), index))
    return [c for c in found if len(c.positive) >= MIN_POSITIVE_CHARS and c.anchor != c.positive]


def _is_term(line: str) -> bool:
    """A short line standing alone that is not a sentence: a heading, signature or term."""
    return "\n" not in line and 2 <= len(line) <= MAX_TERM_CHARS and not line.endswith((".", ":"))


def _is_prose(text: str) -> bool:
    """Mostly words (not code or a table): a sentence ending and letters for most characters."""
    if len(text) < MIN_POSITIVE_CHARS or text.lstrip().startswith(">>>"):
        return False
    letters = sum(ch.isalpha() or ch.isspace() for ch in text)
    return letters / len(text) >= 0.8 and bool(re.search(r"[.!?]", text))


def _clip(text: str) -> str:
    if len(text) <= MAX_POSITIVE_CHARS:
        return text
    cut = text.rfind(" ", 0, MAX_POSITIVE_CHARS)
    return text[: cut if cut > 0 else MAX_POSITIVE_CHARS]


def _dedupe(candidates: Iterable[_Candidate]) -> list[_Candidate]:
    """The first candidate of each anchor (a repeated anchor would be its own negative)."""
    seen: set[str] = set()
    kept = []
    for cand in candidates:
        key = " ".join(cand.anchor.lower().split())
        if key not in seen:
            seen.add(key)
            kept.append(cand)
    return kept


def _round_robin(groups: Sequence[list[_Candidate]], limit: int | None) -> list[_Candidate]:
    out: list[_Candidate] = []
    for row in range(max((len(g) for g in groups), default=0)):
        out.extend(g[row] for g in groups if row < len(g))
    return out if limit is None else out[:limit]


def _hard_negative(index: BM25Okapi, chunks: Sequence[Chunk], cand: _Candidate) -> str | None:
    """The text of the best BM25 match for the anchor that is neither the source chunk, nor
    its neighbours (they overlap it), nor a chunk that contains the positive's opening."""
    source = chunks[cand.index]
    scores = index.get_scores(tokenize(cand.anchor))
    opening = cand.positive[:60]
    for i in np.argsort(-scores, kind="stable"):
        other = chunks[int(i)]
        near = other.document == source.document and abs(other.position - source.position) <= 1
        if not near and opening not in other.text:
            return _clip(other.text)
    return None
