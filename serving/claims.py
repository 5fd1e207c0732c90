"""Claims: the sentences of an answer, with the citations the model gave each.

An answer is cut into units exactly as a source is (`serving.text.units`: sentences, list items,
table rows, code blocks). A citation marker belongs to the claim it follows, so ``… 40 bar [1].``
and ``… 40 bar.[1]`` both cite 1 for that sentence. The claim's `text` has its markers removed
and its whitespace collapsed. `ClaimStream` yields claims while the answer streams: a claim is
complete once the next one has begun (or the stream ends).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from serving.prompt import NO_ANSWER
from serving.specifics import specifics
from serving.text import UnitKind, terms, units

_MARKER = re.compile(r"\s*(?<![\w`])\[(\d{1,3})\]")  # not an index such as a[1]
LEAD_IN_WORDS = 6
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


@dataclass(frozen=True)
class Claim:
    """One sentence of an answer: ``answer[start:end]``, cleaned into `text`."""

    text: str
    start: int
    end: int
    cited: tuple[int, ...]  # numbers in the model's markers, in order, without repeats
    kind: UnitKind = "sentence"

    @property
    def declines(self) -> bool:
        """Whether the claim says the fixed no-answer sentence."""
        return NO_ANSWER.casefold() in " ".join(self.text.split()).casefold()

    @property
    def has_content(self) -> bool:
        """Whether the claim states anything: two content terms or a specific (a lone word
        such as "future" states nothing), and it is no short lead-in ("The steps are:")."""
        if self.text.endswith(":") and len(self.text.split()) <= LEAD_IN_WORDS:
            return False
        return len(set(terms(self.text))) >= 2 or bool(specifics(self.text))


def clean(text: str, *, code: bool = False) -> tuple[str, tuple[int, ...]]:
    """`text` without its citation markers (whitespace collapsed, no space before punctuation)
    and the numbers cited; code is left as it is, citing nothing."""
    if code:
        return text.strip(), ()
    cited = tuple(dict.fromkeys(int(n) for n in _MARKER.findall(text)))
    bare = _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(_MARKER.sub("", text).split()))
    return bare.strip(), cited


def split_claims(answer: str) -> list[Claim]:
    """The claims of `answer`, in order."""
    out = []
    for unit in units(answer):
        text, cited = clean(unit.text, code=unit.kind == "code")
        if text:
            out.append(Claim(text, unit.start, unit.end, cited, unit.kind))
    return out


class ClaimStream:
    """Feed answer deltas; get the claims that are complete so far."""

    def __init__(self) -> None:
        self._text = ""
        self._done = 0

    def feed(self, delta: str) -> list[Claim]:
        """Take the next delta; return the claims completed by it."""
        self._text += delta
        claims = split_claims(self._text)
        ready = claims[self._done : max(self._done, len(claims) - 1)]
        self._done += len(ready)
        return ready

    def finish(self) -> list[Claim]:
        """End of stream: the claims not returned yet."""
        claims = split_claims(self._text)[self._done :]
        self._done += len(claims)
        return claims

    @property
    def text(self) -> str:
        """The whole answer received so far."""
        return self._text
