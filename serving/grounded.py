"""A grounded answer as events: nothing is shown that a passage of the sources does not support.

1. The extractive answer is computed first (`serving.extractive`, milliseconds); its strength
   decides abstention (`serving.abstain`): below the threshold the answer is the no-answer
   sentence and no generator runs.
2. Mode ``extractive``: the extracts are the answer, each cited with its span (`Shown`).
   Mode ``generator``: the generator reads the focused sources (`serving.focus`, unless
   `focus=False`) through `serving.answer.stream_answer`; each claim is verified against the
   full sources as soon as it is complete (`serving.claims.ClaimStream`, `serving.verify`):
   a supported claim is `Shown` with its citations, an unsupported one is `Flagged` and never
   shown. Mode ``both``: the extractive answer comes first as an `Extracted` event (the
   embedded default's first output), then the generator's verified claims; when none is
   supported the extractive answer stands (no no-answer sentence is added).
3. `Finished` carries the mode, the generator's verification (per-claim verdicts, supported
   share) or the extractive one, the extractive verification in mode ``both``, the abstention
   and `no_answer` (abstained, or nothing supported: then the no-answer sentence was shown).

`as_answer_events` turns these events into the answer path's `Delta`s, a `Verdict` per checked
claim (after the `Delta` that shows it; a flagged claim has no `Delta`), the `Pending`
heartbeats, and one `VerifiedDone`
(a `serving.answer.Done` that also carries the verification), for faces that render those.
"""

from __future__ import annotations

from collections import abc
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from serving.abstain import ABSTAIN_BELOW, Abstention, decide
from serving.answer import Delta, Done, stream_answer
from serving.claims import Claim, ClaimStream
from serving.extractive import ExtractiveAnswer, extract_answer
from serving.focus import focus_sources
from serving.prompt import NO_ANSWER
from serving.protocols import Generator, Source
from serving.verify import CheckedClaim, Verification, Verifier, render, separator

AnswerMode = Literal["extractive", "generator", "both"]


@dataclass(frozen=True)
class Extracted:
    """The extractive answer (mode ``both``: before the generator's)."""

    answer: ExtractiveAnswer
    verification: Verification


@dataclass(frozen=True)
class Shown:
    """Answer text that may be shown: a supported claim with its citations, or the no-answer
    sentence (`claim` None)."""

    text: str
    claim: CheckedClaim | None
    part: Literal["extractive", "generator"] = "generator"


@dataclass(frozen=True)
class Flagged:
    """An unsupported claim of the generator: reported, never shown as answer text."""

    claim: CheckedClaim


@dataclass(frozen=True)
class Pending:
    """The generator produced text that completes no claim yet: a heartbeat, so that a reader
    of the stream (a time budget, a keep-alive) sees progress while claims are buffered."""


@dataclass(frozen=True)
class Finished:
    mode: AnswerMode
    verification: Verification  # the generator's (mode ``extractive``: the extracts')
    abstention: Abstention
    model: str  # "extractive" when no generator ran
    dropped_citations: int = 0
    extracted: Verification | None = None  # mode ``both``: the extractive answer's

    @property
    def no_answer(self) -> bool:
        if self.abstention.no_answer:
            return True
        return self.verification.no_answer and (self.extracted is None or self.extracted.no_answer)


GroundedEvent = Extracted | Shown | Flagged | Pending | Finished


def grounded_answer(
    question: str,
    sources: Sequence[Source],
    *,
    mode: AnswerMode,
    generator: Generator | None = None,
    max_tokens: int = 384,
    temperature: float = 0.1,
    context_tokens: int = 8192,
    abstain_below: float = ABSTAIN_BELOW,
    focus: bool = True,
    verifier: Verifier | None = None,
) -> Iterator[GroundedEvent]:
    """The events of one answer (see the module docstring); `generator` is needed unless
    `mode` is ``extractive``."""
    if mode != "extractive" and generator is None:
        raise ValueError(f"mode {mode!r} needs a generator")
    extractive = extract_answer(question, sources)
    abstention = decide(extractive.strength, threshold=abstain_below)
    if not sources or abstention.no_answer:
        yield Shown(NO_ANSWER, None)
        yield Finished(mode, Verification((), declined=False), abstention, _name(generator, mode))
        return
    extracted = extractive.verification()
    if mode == "extractive" or generator is None:
        yield from (
            Shown(("\n" if i else "") + render(c), c, "extractive")
            for i, c in enumerate(extracted.claims)
        )
        yield Finished(mode, extracted, abstention, "extractive")
        return
    if mode == "both":
        yield Extracted(extractive, extracted)
    given = focus_sources(question, sources) if focus else list(sources)
    deltas = stream_answer(
        generator,
        question,
        given,
        max_tokens=max_tokens,
        temperature=temperature,
        context_tokens=context_tokens,
    )
    verification, dropped = yield from verified(deltas, verifier or Verifier(sources))
    both = extracted if mode == "both" else None
    if verification.no_answer and both is None:
        yield Shown(NO_ANSWER, None)
    yield Finished(mode, verification, abstention, generator.name, dropped, both)


def verified(
    events: Iterator[Delta | Done], verifier: Verifier
) -> abc.Generator[Shown | Flagged | Pending, None, tuple[Verification, int]]:
    """Verify a generator's answer claim by claim as it streams: yield each claim `Shown` or
    `Flagged` (`Pending` for text that completes none); return the verification and the count
    of dropped citation numbers."""
    stream = ClaimStream()
    checked: list[CheckedClaim] = []
    declined = False
    dropped = 0
    for event in events:
        if isinstance(event, Done):
            dropped = event.dropped_citations
        claims = stream.feed(event.text) if isinstance(event, Delta) else stream.finish()
        if not claims:
            yield Pending()
        for claim in claims:
            declined = declined or claim.declines
            yield from _verdict(verifier, claim, checked, shown_before=bool(_shown(checked)))
    return Verification(tuple(checked), declined), dropped


def _verdict(
    verifier: Verifier, claim: Claim, checked: list[CheckedClaim], *, shown_before: bool
) -> Iterator[Shown | Flagged]:
    """Check one streamed claim: `Shown` (with a leading space after earlier text) or
    `Flagged`; content-free claims, the no-answer sentence and a repeat of an earlier claim
    (a small model looping) yield nothing."""
    if not claim.has_content or claim.declines or _repeats(claim, checked):
        return
    result = verifier.check(claim)
    checked.append(result)
    if result.supported:
        yield Shown((separator(result) if shown_before else "") + render(result), result)
    else:
        yield Flagged(result)


def _repeats(claim: Claim, checked: Sequence[CheckedClaim]) -> bool:
    said = " ".join(claim.text.split()).casefold()
    return any(" ".join(c.claim.text.split()).casefold() == said for c in checked)


def _shown(checked: Sequence[CheckedClaim]) -> list[CheckedClaim]:
    return [c for c in checked if c.supported]


def _name(generator: Generator | None, mode: AnswerMode) -> str:
    return "extractive" if generator is None or mode == "extractive" else generator.name


@dataclass(frozen=True)
class Verdict:
    """A checked claim, for faces that mark what is supported: `part` says whether it belongs to
    the extractive answer or the generator's; an unsupported claim was not shown."""

    claim: CheckedClaim
    part: Literal["extractive", "generator"]


@dataclass(frozen=True)
class VerifiedDone(Done):
    """`serving.answer.Done` with what verification found, for faces that render `Done`:
    `citations` are the sources the shown text cites, `no_answer` covers abstention."""

    mode: AnswerMode = "generator"
    verification: Verification = Verification((), declined=False)
    abstention: Abstention | None = None
    extracted: ExtractiveAnswer | None = None  # mode ``both``: the extractive answer shown first

    @property
    def flagged(self) -> tuple[CheckedClaim, ...]:
        """The unsupported claims: reported, never shown."""
        return tuple(c for c in self.verification.claims if not c.supported)


def as_answer_events(
    events: Iterable[GroundedEvent], sources: Sequence[Source]
) -> Iterator[Delta | Verdict | Pending | VerifiedDone]:
    """The grounded events as the answer path's `Delta`s (the shown text: in mode ``both`` the
    extractive answer, then the generator's supported claims after a blank line), `Verdict`s
    and one `VerifiedDone`. Closing this iterator closes `events` (and so the generation)."""
    by_number = {s.number: s for s in sources}
    extracted: ExtractiveAnswer | None = None
    gap = ""
    try:
        for event in events:
            if isinstance(event, Extracted):
                extracted = event.answer
                gap = "\n\n"
                for i, claim in enumerate(event.verification.claims):
                    yield Delta(("\n" if i else "") + render(claim))
                    yield Verdict(claim, "extractive")
            elif isinstance(event, Shown):
                yield Delta(gap + event.text)
                gap = ""
                if event.claim is not None:
                    yield Verdict(event.claim, event.part)
            elif isinstance(event, Flagged):
                yield Verdict(event.claim, "generator")
            elif isinstance(event, Pending):
                yield event
            elif isinstance(event, Finished):
                yield _done(event, extracted, by_number)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()


def _done(
    event: Finished, extracted: ExtractiveAnswer | None, by_number: dict[int, Source]
) -> VerifiedDone:
    shown = [*(extracted.cited if extracted else ()), *event.verification.cited]
    return VerifiedDone(
        citations=[by_number[n] for n in dict.fromkeys(shown) if n in by_number],
        dropped_citations=event.dropped_citations,
        model=event.model,
        no_answer=event.no_answer,
        mode=event.mode,
        verification=event.verification,
        abstention=event.abstention,
        extracted=extracted,
    )
