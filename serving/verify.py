"""Claim-level verification of an answer against the numbered sources it was given.

Each claim (`serving.claims`) is checked by a `SupportFinder`:

1. the sources the model cited for it, one by one: each that supports the claim is kept;
2. when none does (or it cites nothing), all the sources: the best supporting one is attached
   as a citation **added by the verifier** (`added`), and the model's citations are `rejected`.

A claim that no source supports is unsupported: it is returned, flagged, with what its closest
passage lacks, and left out of `Verification.text`, the text that may be shown as the answer.
When no claim is supported, that text is the fixed no-answer sentence and `no_answer` is true
(also when the model itself declined). Claims without a content term ("Here is the answer:")
state nothing and are left out altogether; the no-answer sentence is not a claim either.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from serving.claims import Claim, split_claims
from serving.prompt import NO_ANSWER
from serving.protocols import Source
from serving.support import SUPPORT_THRESHOLD, CrossScore, Embed, Support, SupportFinder
from serving.text import BULLET

_TRAILING_PUNCT = re.compile(r"([.!?:;]*)$")


@dataclass(frozen=True)
class CheckedClaim:
    """A claim and its verdict."""

    claim: Claim
    supported: bool
    support: Support | None  # the supporting passage, or the closest one tried
    citations: tuple[int, ...]  # the source numbers to show with it (empty when unsupported)
    added: bool = False  # the verifier attached the citation (the model's were absent or wrong)
    rejected: tuple[int, ...] = ()  # numbers the model cited that do not support it

    @property
    def missing(self) -> tuple[str, ...]:
        """Specifics of the claim absent from its closest passage."""
        return self.support.missing if self.support else ()


@dataclass(frozen=True)
class Verification:
    """An answer's claims with their verdicts, and what may be shown of it."""

    claims: tuple[CheckedClaim, ...]
    declined: bool  # the model said the no-answer sentence

    @property
    def supported(self) -> tuple[CheckedClaim, ...]:
        return tuple(c for c in self.claims if c.supported)

    @property
    def supported_share(self) -> float:
        """Supported claims / claims (0.0 for an answer with no claim)."""
        return len(self.supported) / len(self.claims) if self.claims else 0.0

    @property
    def no_answer(self) -> bool:
        return not self.supported

    @property
    def text(self) -> str:
        """The supported claims with their citations, or the no-answer sentence."""
        shown = [(separator(c) if i else "") + render(c) for i, c in enumerate(self.supported)]
        return "".join(shown) if shown else NO_ANSWER

    @property
    def cited(self) -> tuple[int, ...]:
        """The source numbers cited by the shown text, in first-cited order."""
        return tuple(dict.fromkeys(n for c in self.supported for n in c.citations))


def render(checked: CheckedClaim) -> str:
    """The claim's text with its citations before its final punctuation: ``… 40 bar [1].``"""
    text = checked.claim.text
    marks = "".join(f"[{n}]" for n in checked.citations)
    if not marks:
        return text
    if checked.claim.kind == "code":
        return f"{text}\n{marks}"
    match = _TRAILING_PUNCT.search(text)
    assert match is not None  # the pattern matches the empty tail at least
    body = text[: match.start()].rstrip()
    return f"{body} {marks}{match.group(1)}"


def separator(checked: CheckedClaim) -> str:
    """What goes before a shown claim that follows another: a line break before a list item,
    a table row or code, else a space."""
    claim = checked.claim
    return "\n" if claim.kind != "sentence" or BULLET.match(claim.text) else " "


class Verifier:
    """Checks claims against one answer's sources (a `SupportFinder` over them)."""

    def __init__(self, sources: Sequence[Source], *, finder: SupportFinder | None = None) -> None:
        self.finder = finder or SupportFinder(sources)
        self._numbers = {s.number for s in sources}

    def check(self, claim: Claim) -> CheckedClaim:
        """The verdict on one claim (see the module docstring)."""
        cited = [n for n in claim.cited if n in self._numbers]
        kept = [(n, self.finder.find(claim.text, among={n})) for n in cited]
        valid = [(n, s) for n, s in kept if s is not None and s.supported]
        if valid:
            best = max((s for _, s in valid), key=lambda s: s.score)
            return CheckedClaim(claim, True, best, tuple(n for n, _ in valid))
        rejected = tuple(claim.cited)
        found = self.finder.find(claim.text)
        if found is not None and found.supported:
            return CheckedClaim(claim, True, found, (found.source,), True, rejected)
        return CheckedClaim(claim, False, found, (), False, rejected)

    def verify(self, answer: str) -> Verification:
        """Split `answer` into claims and check each."""
        return self.verify_claims(split_claims(answer))

    def verify_claims(self, claims: Sequence[Claim]) -> Verification:
        """Check the given claims (those with content, the no-answer sentence aside)."""
        declined = any(c.declines for c in claims)
        checked = tuple(self.check(c) for c in claims if c.has_content and not c.declines)
        return Verification(checked, declined)


def verify_answer(
    answer: str,
    sources: Sequence[Source],
    *,
    threshold: float = SUPPORT_THRESHOLD,
    embed: Embed | None = None,
    cross_score: CrossScore | None = None,
) -> Verification:
    """Verify `answer` against `sources` (the options go to `SupportFinder`)."""
    finder = SupportFinder(sources, threshold=threshold, embed=embed, cross_score=cross_score)
    return Verifier(sources, finder=finder).verify(answer)
