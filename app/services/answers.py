"""The one answer path: search in the caller's scope → numbered sources → a streamed, cited answer.

`AnswerService` is built once by the runtime (`Runtime.answers`) with the deployment's defaults;
the REST, OpenAI-compatible, CLI and eval faces call it and only render what it yields.

An answer is grounded (`serving.grounded`): nothing is shown that a passage of the sources
does not support. A question with earlier turns (the client holds the history; nothing is
stored) is first made standalone for retrieval (`serving.conversation`). The answer is a stream
of `AnswerEvent`s, always in this order: one `Retrieved` (the sources, how they were found and
the question retrieval used), then the `Delta`s of the text that may be shown (supported claims
with their citations, or the no-answer sentence) interleaved with a `Verdict` per checked claim
(after the `Delta` that shows it; an unsupported claim is only a `Verdict`) and `Pending`
heartbeats while the generator's text completes no claim, then one
`VerifiedDone` (mode, verification, abstention, the sources cited). `collect` folds a stream
into one `Answer`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session, sessionmaker

from app import visibility
from app.errors import NotFound
from app.settings import Settings
from retrieval.protocols import VectorStore
from retrieval.search import Mode, Retriever, SearchResult
from retrieval.types import Chunk, Hit, Scope
from serving.abstain import ABSTAIN_BELOW
from serving.answer import Delta
from serving.conversation import Standalone, rewrite, rewrite_with_generator
from serving.extractive import Passage, best_passage
from serving.grounded import (
    AnswerMode,
    Pending,
    Verdict,
    VerifiedDone,
    as_answer_events,
    grounded_answer,
)
from serving.protocols import Generator, Message, Source
from serving.support import SUPPORT_THRESHOLD, SupportFinder
from serving.verify import Verifier


def search(
    *,
    retriever: Retriever,
    sessions: sessionmaker[Session],
    scope: Scope,
    query: str,
    k: int,
    mode: Mode = "hybrid",
    rerank: bool = True,
    documents: Sequence[str] | None = None,
) -> SearchResult:
    """Retrieve in `scope` (and in `documents`, when given), then drop hits hidden meanwhile
    (an erasure under way)."""
    found = retriever.search(query, scope=scope, k=k, mode=mode, rerank=rerank, documents=documents)
    return replace(found, hits=visibility.drop_hidden(sessions, found.hits))


def get_chunk(
    *, store: VectorStore, sessions: sessionmaker[Session], scope: Scope, chunk_id: str
) -> Chunk:
    """A chunk in `scope` (what a citation opens), re-checked live like every search hit."""
    found = store.get(scope=scope, ids=[chunk_id])
    live = visibility.drop_hidden(sessions, [Hit(chunk, 0.0) for chunk in found])
    if not live:
        raise NotFound(f"chunk {chunk_id!r} not found")
    return live[0].chunk


def passage(query: str, hit: Hit) -> Passage | None:
    """The sentence(s) of a hit that match the query (offsets into its chunk's text)."""
    return best_passage(query, as_source(hit, 1))


def as_sources(hits: Sequence[Hit]) -> list[Source]:
    """Number the hits [1..n] in rank order."""
    return [as_source(hit, i) for i, hit in enumerate(hits, start=1)]


def as_source(hit: Hit, number: int) -> Source:
    """A hit as source `number`, with the sections along its text."""
    return Source(
        number=number,
        chunk_id=hit.chunk.id,
        document=hit.chunk.document,
        title=hit.chunk.title,
        section=hit.chunk.section,
        page=hit.chunk.page,
        text=hit.chunk.text,
        sections=tuple((place.offset, place.section) for place in hit.chunk.places),
    )


NOT_GIVEN = Standalone("", "unchanged")  # hits not found through `AnswerService.retrieve`


@dataclass(frozen=True)
class Retrieved:
    """The first event of an answer: what the generator is given, and how it was found."""

    hits: list[Hit]
    sources: list[Source]  # `hits`, numbered [1..n]
    reranker: str
    timings_ms: dict[str, float]
    question: Standalone = NOT_GIVEN  # the question retrieval used

    @classmethod
    def of(
        cls,
        hits: Sequence[Hit],
        *,
        reranker: str,
        timings_ms: dict[str, float],
        question: Standalone = NOT_GIVEN,
    ) -> Retrieved:
        return cls(list(hits), as_sources(hits), reranker, timings_ms, question)


AnswerEvent = Retrieved | Delta | Verdict | Pending | VerifiedDone


@dataclass(frozen=True)
class Answer:
    """A whole answer, collected from its events."""

    retrieved: Retrieved
    text: str  # what may be shown: supported claims with their citations, or no-answer
    done: VerifiedDone
    verdicts: list[Verdict]  # every checked claim, shown or flagged, in order

    @property
    def flagged(self) -> list[Verdict]:
        """The claims no source supports: reported, never part of `text`."""
        return [v for v in self.verdicts if not v.claim.supported]


def collect(
    events: Iterable[AnswerEvent], *, on_text: Callable[[str], None] | None = None
) -> Answer:
    """The answer the `events` make up; `on_text` sees each piece of text as it arrives."""
    retrieved: Retrieved | None = None
    parts: list[str] = []
    verdicts: list[Verdict] = []
    for event in events:
        match event:
            case Retrieved():
                retrieved = event
            case Delta(text=text):
                parts.append(text)
                if on_text is not None:
                    on_text(text)
            case Verdict():
                verdicts.append(event)
            case VerifiedDone() if retrieved is not None:
                return Answer(retrieved, "".join(parts), event, verdicts)
    raise RuntimeError("the answer stream ended without a result")


@dataclass(frozen=True)
class AnswerDefaults:
    """What an answer runs with unless the caller says otherwise (from the settings)."""

    k: int  # sources given to the generator
    max_tokens: int
    temperature: float
    context_tokens: int
    mode: AnswerMode = "extractive"
    abstain_below: float = ABSTAIN_BELOW
    support_threshold: float = SUPPORT_THRESHOLD
    focus_sources: bool = True
    generator_rewrites: bool = False

    @classmethod
    def of(cls, settings: Settings) -> AnswerDefaults:
        g, a = settings.generator, settings.answer
        return cls(
            k=settings.retrieval.answer_k,
            max_tokens=g.max_tokens,
            temperature=g.temperature,
            context_tokens=g.context_tokens,
            mode=a.mode,
            abstain_below=a.abstain_below,
            support_threshold=a.support_threshold,
            focus_sources=a.focus_sources,
            generator_rewrites=a.generator_rewrites,
        )


class AnswerService:
    """Answers questions from the sources found in a scope (see the module docstring)."""

    def __init__(
        self,
        *,
        retriever: Retriever,
        sessions: sessionmaker[Session],
        generator: Generator,
        defaults: AnswerDefaults,
    ) -> None:
        self.retriever = retriever
        self.sessions = sessions
        self.generator = generator
        self.defaults = defaults

    def stream(
        self,
        *,
        scope: Scope,
        question: str,
        history: Sequence[Message] = (),
        k: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        mode: AnswerMode | None = None,
    ) -> Iterator[AnswerEvent]:
        """Make `question` standalone from the earlier turns `history`, retrieve the top `k`
        sources in `scope` for it, then stream the grounded answer (lazily: nothing runs before
        the first event is asked for)."""
        asked = self.standalone(question, history)
        retrieved = self.retrieve(scope=scope, question=asked.text, k=k)
        yield from self.stream_from(
            replace(retrieved, question=asked),
            question=asked.text,
            max_tokens=max_tokens,
            temperature=temperature,
            mode=mode,
        )

    def standalone(self, question: str, history: Sequence[Message]) -> Standalone:
        """The question retrieval uses: rewritten from the conversation when it refers back."""
        if history and self.defaults.generator_rewrites:
            return rewrite_with_generator(self.generator, question, history)
        return rewrite(question, history)

    def retrieve(self, *, scope: Scope, question: str, k: int | None = None) -> Retrieved:
        """The top `k` live hits in `scope` (hybrid, reranked), as numbered sources."""
        found = search(
            retriever=self.retriever,
            sessions=self.sessions,
            scope=scope,
            query=question,
            k=self.defaults.k if k is None else k,
        )
        return Retrieved.of(
            found.hits,
            reranker=found.reranker,
            timings_ms=found.timings_ms,
            question=Standalone(question, "unchanged"),
        )

    def stream_from(
        self,
        retrieved: Retrieved,
        *,
        question: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
        mode: AnswerMode | None = None,
    ) -> Iterator[AnswerEvent]:
        """`retrieved`, then the grounded answer's events from its sources (see the module
        docstring). Closing the stream closes the generation (a disconnected client stops it)."""
        d = self.defaults
        sources = retrieved.sources
        yield retrieved
        finder = SupportFinder(sources, threshold=d.support_threshold)
        events = grounded_answer(
            question,
            sources,
            mode=mode or d.mode,
            generator=self.generator,
            max_tokens=d.max_tokens if max_tokens is None else max_tokens,
            temperature=d.temperature if temperature is None else temperature,
            context_tokens=d.context_tokens,
            abstain_below=d.abstain_below,
            focus=d.focus_sources,
            verifier=Verifier(sources, finder=finder),
        )
        yield from as_answer_events(events, sources)
