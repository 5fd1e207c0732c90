"""The extractive answer and the matching passage: the sources' own sentences, no model.

Every unit of a source (`serving.text.units`: a sentence, a table row, a code block), and
every name line (a heading, a definition's name or signature: no end punctuation) together
with the unit after it, so that ``token.ENCODING`` travels with its first sentence, is scored
against the question by **relevance** in [0, 1]: the share of the question's content terms it
holds, each weighted by its rarity among the units of the sources
(`serving.text.rarity`; the question frame left out, `serving.text.question_terms`); when the
question names codes or identifiers, the mean of that share and how fully the window names
them (`serving.specifics.named`: whole, or by a definition line such as ``readfp(fp)`` for
``mimetypes.MimeTypes.readfp``). A table row is read with its header row, and a window that
shares a term with the question with what it is about: its document's title and the heading
path it sits under (``E31 indicates a failed battery`` under "XJ-220 Infusion Pump > Error
codes" answers "What does error code E31 mean on the XJ-220 pump?"); a code named there only
gets `PARTIAL_CREDIT`, so that a sentence under the right title does not answer what it
lacks. A window of two units must score `WIDER_COST` more than the single unit to be preferred.

`extract_answer` keeps the best windows that score at least `keep_ratio` of the best, do not
overlap and fit `max_extracts` and `budget_chars`; a table row brings its table's header row.
They come in reading order (sources in their given order, then by offset), each cited with its
source number and span. Its `strength` (the best relevance) is what `serving.abstain` decides on.
`best_passage` is the same search in one source: the sentence(s) of a hit that match the query.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from serving.claims import Claim
from serving.protocols import Source
from serving.specifics import PARTIAL_CREDIT, named, specifics
from serving.support import Support
from serving.text import Unit, header_index, question_terms, rarity, terms, units
from serving.verify import CheckedClaim, Verification, render

WIDER_COST = 0.05
BUDGET_CHARS = 700
MAX_EXTRACTS = 3
KEEP_RATIO = 0.8
_NONE: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Extract:
    """``sources[source].text[start:end]``, one sentence, row or code block (or two)."""

    source: int
    start: int
    end: int
    text: str
    score: float


@dataclass(frozen=True)
class ExtractiveAnswer:
    """The extracts in reading order and the best relevance found (0.0: nothing matched)."""

    extracts: tuple[Extract, ...]
    strength: float

    @property
    def text(self) -> str:
        """The extracts, each with its citation, one per line."""
        return "\n".join(render(c) for c in self.verification().claims)

    def verification(self) -> Verification:
        """The extracts as claims, each supported by its own span (score 1.0); the claims'
        offsets are those of `text`."""
        claims = []
        offset = 0
        for e in self.extracts:
            claim = Claim(" ".join(e.text.split()), offset, offset, (e.source,))
            checked = CheckedClaim(
                claim, True, Support(e.source, e.start, e.end, 1.0, True), (e.source,)
            )
            end = offset + len(render(checked))
            claims.append(replace(checked, claim=replace(claim, end=end)))
            offset = end + 1
        return Verification(tuple(claims), declined=False)

    @property
    def cited(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(e.source for e in self.extracts))


@dataclass(frozen=True)
class Passage:
    """The matching sentence(s) of a text: ``text[start:end]``, and their relevance."""

    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Window:
    """One or two consecutive units of a source and their relevance."""

    source: int
    first: int  # index of the window's first unit in its source's units
    size: int
    start: int
    end: int
    score: float


class Relevance:
    """Scores windows of the units of some texts against one query."""

    def __init__(
        self,
        query: str,
        texts: dict[int, list[Unit]],
        about: Mapping[int, Sequence[tuple[int, str]]] | None = None,
    ) -> None:
        self.units = texts
        self._unit_terms = {n: [frozenset(terms(u.text)) for u in us] for n, us in texts.items()}
        self._weights = rarity(t for ts in self._unit_terms.values() for t in ts)
        self._about = {n: _about_units(us, (about or {}).get(n, ())) for n, us in texts.items()}
        for number, found in texts.items():  # a row is read with its table's header row
            own = self._unit_terms[number]
            for i in range(len(found)):
                head = header_index(found, i)
                if head is not None:
                    own[i] = own[i] | own[head]
        self._wanted = set(question_terms(query))
        self._codes = [s for s in specifics(query) if s.kind == "code"]

    def score(self, number: int, first: int, size: int) -> float:
        have = frozenset().union(*self._unit_terms[number][first : first + size])
        about, about_terms = self._about[number][first] if have & self._wanted else ("", _NONE)
        have |= about_terms
        unseen = self._weights[""]
        total = sum(self._weights.get(t, unseen) for t in self._wanted)
        share = (
            sum(self._weights.get(t, unseen) for t in self._wanted & have) / total if total else 0.0
        )
        if not self._codes:
            return share
        found = self.units[number]
        head = header_index(found, first)
        window = found[first : first + size] if head is None else [found[head], found[first]]
        texts = [u.text for u in window]
        credit = sum(
            max(named(code, texts), PARTIAL_CREDIT * named(code, [about]) if about else 0.0)
            for code in self._codes
        )
        return (share + credit / len(self._codes)) / 2

    def ranked(self) -> list[Window]:
        """Every unit, and every name line with the unit after it, best first (ties: reading
        order)."""
        out = []
        for number, found in self.units.items():
            for i in range(len(found)):
                single = self.score(number, i, 1)
                out.append(Window(number, i, 1, found[i].start, found[i].end, single))
                if i + 1 < len(found) and is_name_line(found[i]):
                    pair = self.score(number, i, 2) - WIDER_COST
                    out.append(Window(number, i, 2, found[i].start, found[i + 1].end, pair))
        return sorted(out, key=lambda s: -s.score)


def about_places(source: Source) -> list[tuple[int, str]]:
    """What each part of a source is about: (offset, its document's title and heading path)
    at each change of section."""
    places = source.sections or ((0, source.section),)
    return [(offset, "\n".join((source.title, *path.split(" > ")))) for offset, path in places]


def _about_units(
    found: Sequence[Unit], places: Sequence[tuple[int, str]]
) -> list[tuple[str, frozenset[str]]]:
    """The about text of each unit and its terms: those of the last place at or before it."""
    read = [(offset, (text, frozenset(terms(text)))) for offset, text in places]
    out = []
    for unit in found:
        before = [about for offset, about in read if offset <= unit.start]
        out.append(before[-1] if before else read[0][1] if read else ("", _NONE))
    return out


def is_name_line(unit: Unit) -> bool:
    """A heading, a definition's name or signature line: a sentence unit without end
    punctuation (``token.ENCODING``, ``readfp(fp, strict=True)``, ``2. Torque values``)."""
    return unit.kind == "sentence" and not unit.text.rstrip().endswith((".", "!", "?", "…"))


def extract_answer(
    question: str,
    sources: Sequence[Source],
    *,
    max_extracts: int = MAX_EXTRACTS,
    budget_chars: int = BUDGET_CHARS,
    keep_ratio: float = KEEP_RATIO,
) -> ExtractiveAnswer:
    """The most relevant sentences of `sources` for `question` (see the module docstring)."""
    texts = {s.number: s.text for s in sources}
    about = {s.number: about_places(s) for s in sources}
    relevance = Relevance(question, {n: units(t) for n, t in texts.items()}, about)
    ranked = [s for s in relevance.ranked() if s.score > 0]
    if not ranked:
        return ExtractiveAnswer((), 0.0)
    best = ranked[0].score
    chosen: list[Window] = []
    used = 0
    for cand in ranked:
        if len(chosen) >= max_extracts or cand.score < keep_ratio * best:
            break
        if any(_overlaps(cand, c) for c in chosen) or used + cand.end - cand.start > budget_chars:
            continue
        chosen.append(cand)
        used += cand.end - cand.start
    chosen.extend(_headers(chosen, relevance.units))
    order = {s.number: i for i, s in enumerate(sources)}
    chosen.sort(key=lambda c: (order[c.source], c.start))
    extracts = tuple(
        Extract(c.source, c.start, c.end, texts[c.source][c.start : c.end], round(c.score, 4))
        for c in chosen
    )
    return ExtractiveAnswer(extracts, round(max(0.0, min(1.0, best)), 4))


def _overlaps(a: Window, b: Window) -> bool:
    return a.source == b.source and a.start < b.end and b.start < a.end


def _headers(chosen: Sequence[Window], found: dict[int, list[Unit]]) -> list[Window]:
    """The header row of each table a chosen row belongs to, when not chosen already."""
    out: list[Window] = []
    for c in chosen:
        first = header_index(found[c.source], c.first)
        if first is None:
            continue
        header = found[c.source][first]
        cand = Window(c.source, first, 1, header.start, header.end, 0.0)
        if not any(_overlaps(cand, x) for x in [*chosen, *out]):
            out.append(cand)
    return out


def best_passage(query: str, source: Source) -> Passage | None:
    """The sentence(s) of `source` that best match `query`, read with their headings as an
    answer reads them; None when none shares a term."""
    relevance = Relevance(query, {0: units(source.text)}, {0: about_places(source)})
    ranked = relevance.ranked()
    if not ranked or ranked[0].score <= 0:
        return None
    top = ranked[0]
    return Passage(top.start, top.end, round(max(0.0, min(1.0, top.score)), 4))
