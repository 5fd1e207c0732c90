"""Find the passage of the numbered sources that supports a claim, and check its specifics.

Candidates are windows of 1..`window` consecutive units (`serving.text.units`: sentences, table
rows, code blocks) of one source; a table row is a window of its own, read with its header row
(the span reported is the row's). Each is scored by **lexical support**: the share of the
claim's content terms it contains, each term weighted by its rarity among the units of the
sources given (``log(1 + (n + 1) / (df + 0.5))``; a term found in no source weighs most, so an
invented word costs more than a common one). A window of more units must add at least
`WIDER_COST` to win over a narrower one. The `candidates` best are then optionally rescored:

- with `embed` (texts -> L2-normalised rows, e.g. the retrieval embedder): the mean of the
  lexical score and the clipped cosine of claim and window;
- with `cross_score` ((claim, passages) -> relevance in [0, 1], a configured cross-encoder):
  the mean of the lexical score and that score.

A claim is **supported** by the best-scoring candidate in which every specific of the claim
occurs (`serving.specifics`) when its score reaches `threshold`; otherwise it is unsupported and
the closest candidate is reported with what it lacks. Pure and in memory: nothing is logged or
kept beyond the finder, which lives for one answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from serving.protocols import Source
from serving.specifics import missing, specifics
from serving.text import Unit, header_index, rarity, terms, units

Embed = Callable[[Sequence[str]], np.ndarray]
CrossScore = Callable[[str, Sequence[str]], Sequence[float]]

SUPPORT_THRESHOLD = 0.6
WIDER_COST = 0.05


@dataclass(frozen=True)
class Support:
    """The passage ``sources[source].text[start:end]`` tried for a claim, and the verdict."""

    source: int  # the source's number
    start: int
    end: int
    score: float
    supported: bool
    missing: tuple[str, ...] = ()  # specifics of the claim absent from the passage


@dataclass(frozen=True)
class _Window:
    source: int
    start: int
    end: int
    size: int
    terms: frozenset[str]
    text: str


class SupportFinder:
    """Scores claims against the units of one answer's sources (see the module docstring)."""

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        threshold: float = SUPPORT_THRESHOLD,
        window: int = 2,
        candidates: int = 8,
        embed: Embed | None = None,
        cross_score: CrossScore | None = None,
    ) -> None:
        self.threshold = threshold
        self._candidates = candidates
        self._embed = embed
        self._cross = cross_score
        self._vectors: dict[str, np.ndarray] = {}
        self.units = {s.number: units(s.text) for s in sources}
        self._windows = [
            w for s in sources for w in _windows(s.number, s.text, self.units[s.number], window)
        ]
        self._weights = rarity([frozenset(terms(u.text)) for us in self.units.values() for u in us])

    def weight(self, term: str) -> float:
        """The rarity weight of a term among the sources' units."""
        return self._weights.get(term, self._weights[""])

    def lexical(self, claim_terms: Collection[str], window_terms: Collection[str]) -> float:
        """The weighted share of `claim_terms` found in `window_terms`."""
        total = sum(self.weight(t) for t in claim_terms)
        found = sum(self.weight(t) for t in claim_terms if t in window_terms)
        return found / total if total else 0.0

    def find(self, claim: str, *, among: Collection[int] | None = None) -> Support | None:
        """The supporting passage of `claim` (only in sources `among`, when given); None when
        the claim has no content terms or no candidate window exists."""
        wanted = set(terms(claim))
        windows = [w for w in self._windows if among is None or w.source in among]
        if not wanted or not windows:
            return None
        lexical = [(self.lexical(wanted, w.terms) - WIDER_COST * (w.size - 1), w) for w in windows]
        lexical.sort(key=lambda pair: -pair[0])
        top = lexical[: self._candidates]
        scored = sorted(
            zip(self._rescore(claim, top), (w for _, w in top), strict=True),
            key=lambda pair: -pair[0],
        )
        if not specifics(claim):
            return self._verdict(scored[0][0], scored[0][1], ())
        checked = [(score, w, tuple(s.text for s in missing(claim, w.text))) for score, w in scored]
        score, w, absent = min(checked, key=lambda c: (len(c[2]), -c[0]))
        return self._verdict(score, w, absent)

    def _verdict(self, score: float, w: _Window, absent: tuple[str, ...]) -> Support:
        score = max(0.0, min(1.0, score))
        ok = not absent and score >= self.threshold
        return Support(w.source, w.start, w.end, round(score, 4), ok, absent)

    def _rescore(self, claim: str, top: list[tuple[float, _Window]]) -> list[float]:
        scores = [score for score, _ in top]
        passages = [w.text for _, w in top]
        if self._cross is not None:
            extra = [float(x) for x in self._cross(claim, passages)]
            return [(a + b) / 2 for a, b in zip(scores, extra, strict=True)]
        if self._embed is not None:
            vectors = self._vectors_of([claim, *passages])
            cosines = vectors[1:] @ vectors[0]
            return [(a + max(0.0, float(c))) / 2 for a, c in zip(scores, cosines, strict=True)]
        return scores

    def _vectors_of(self, texts: list[str]) -> np.ndarray:
        todo = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if todo and self._embed is not None:
            for text, vector in zip(todo, np.asarray(self._embed(todo)), strict=True):
                self._vectors[text] = vector
        return np.stack([self._vectors[t] for t in texts])


def _windows(number: int, text: str, found: Sequence[Unit], width: int) -> list[_Window]:
    """Windows of 1..`width` units; a table row alone is read with its header row."""
    out = []
    unit_terms = [frozenset(terms(u.text)) for u in found]
    for i in range(len(found)):
        head = header_index(found, i)
        if head is not None:
            both = unit_terms[i] | unit_terms[head]
            read = f"{found[head].text}\n{found[i].text}"
            out.append(_Window(number, found[i].start, found[i].end, 1, both, read))
            continue
        for size in range(1, min(width, len(found) - i) + 1):
            start, end = found[i].start, found[i + size - 1].end
            joined = frozenset().union(*unit_terms[i : i + size])
            out.append(_Window(number, start, end, size, joined, text[start:end]))
    return out
