"""A grounded answer as a stream of events: text deltas, then the validated citations."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from serving.citations import CitationTracker
from serving.prompt import NO_ANSWER, build_messages
from serving.protocols import Generator, Source


@dataclass(frozen=True)
class Delta:
    """The next piece of answer text (citations already validated and normalised to ``[n]``)."""

    text: str


@dataclass(frozen=True)
class Done:
    """The last event: the sources actually cited (first-cited order) and how many were not."""

    citations: list[Source]
    dropped_citations: int
    model: str
    no_answer: bool


def stream_answer(
    generator: Generator,
    question: str,
    sources: Sequence[Source],
    *,
    max_tokens: int,
    temperature: float,
    context_tokens: int = 8192,
) -> Iterator[Delta | Done]:
    """Prompt `generator` with the numbered `sources`, yield `Delta`s, then one `Done`.

    With no sources the generator is not called: the answer is the fixed no-answer sentence.
    `no_answer` is true when the answer is empty or contains that sentence. Closing this iterator
    closes the generator's stream (so a disconnected client stops the generation).
    """
    if not sources:
        yield Delta(NO_ANSWER)
        yield Done(citations=[], dropped_citations=0, model=generator.name, no_answer=True)
        return
    # A served model's own window (vLLM's max_model_len) caps the configured one; the answer
    # keeps at most a quarter of it, so that a small window still leaves room for sources.
    served = getattr(generator, "context_tokens", None)
    if served:
        context_tokens = min(context_tokens, served)
    max_tokens = min(max_tokens, context_tokens // 4)
    messages = build_messages(
        question, sources, context_tokens=context_tokens, max_tokens=max_tokens
    )
    tracker = CitationTracker(sources)
    shown: list[str] = []
    deltas = generator.stream(messages, max_tokens=max_tokens, temperature=temperature)
    try:
        for delta in deltas:
            text = tracker.feed(delta)
            if text:
                shown.append(text)
                yield Delta(text)
    finally:
        close = getattr(deltas, "close", None)
        if close is not None:
            close()
    text = tracker.finish()
    if text:
        shown.append(text)
        yield Delta(text)
    yield Done(
        citations=tracker.cited,
        dropped_citations=tracker.dropped,
        model=generator.name,
        no_answer=is_no_answer("".join(shown)),
    )


def is_no_answer(answer: str) -> bool:
    """Whether `answer` is empty or says the fixed no-answer sentence (spacing and case aside)."""
    normal = " ".join(answer.split()).casefold()
    return not normal or NO_ANSWER.casefold() in normal
