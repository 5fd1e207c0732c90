"""The one answer path: search in the caller's scope → numbered sources → a streamed, cited answer.

`AnswerService` is built once by the runtime (`Runtime.answers`) with the deployment's defaults;
the REST, OpenAI-compatible, CLI and eval faces call it and only render what it yields.

An answer is a stream of `AnswerEvent`s, always in this order: one `Retrieved` (the sources
the generator is given, and how they were found), the `Delta`s of the answer text (citations
already validated and normalised to ``[n]``), one `Done` (the sources actually cited, the
dropped citations, no-answer, the model). `collect` folds a stream into one `Answer`.

A step that checks the answer (e.g. per-claim verification) belongs in `stream_from`, between
the generation and the faces: it sees every delta and the final `Done`, and extends `Done` with
what it found; every face then renders it from the same event.
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
from serving.answer import Delta, Done, stream_answer
from serving.protocols import Generator, Source


def search(
    *,
    retriever: Retriever,
    sessions: sessionmaker[Session],
    scope: Scope,
    query: str,
    k: int,
    mode: Mode = "hybrid",
    rerank: bool = True,
) -> SearchResult:
    """Retrieve in `scope`, then drop hits hidden meanwhile (an erasure under way)."""
    found = retriever.search(query, scope=scope, k=k, mode=mode, rerank=rerank)
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


def as_sources(hits: Sequence[Hit]) -> list[Source]:
    """Number the hits [1..n] in rank order."""
    return [
        Source(
            number=i,
            chunk_id=hit.chunk.id,
            document=hit.chunk.document,
            title=hit.chunk.title,
            section=hit.chunk.section,
            page=hit.chunk.page,
            text=hit.chunk.text,
        )
        for i, hit in enumerate(hits, start=1)
    ]


@dataclass(frozen=True)
class Retrieved:
    """The first event of an answer: what the generator is given, and how it was found."""

    hits: list[Hit]
    sources: list[Source]  # `hits`, numbered [1..n]
    reranker: str
    timings_ms: dict[str, float]

    @classmethod
    def of(cls, hits: Sequence[Hit], *, reranker: str, timings_ms: dict[str, float]) -> Retrieved:
        return cls(list(hits), as_sources(hits), reranker, timings_ms)


AnswerEvent = Retrieved | Delta | Done


@dataclass(frozen=True)
class Answer:
    """A whole answer, collected from its events."""

    retrieved: Retrieved
    text: str
    done: Done


def collect(
    events: Iterable[AnswerEvent], *, on_text: Callable[[str], None] | None = None
) -> Answer:
    """The answer the `events` make up; `on_text` sees each piece of text as it arrives."""
    retrieved: Retrieved | None = None
    parts: list[str] = []
    for event in events:
        match event:
            case Retrieved():
                retrieved = event
            case Delta(text=text):
                parts.append(text)
                if on_text is not None:
                    on_text(text)
            case Done() if retrieved is not None:
                return Answer(retrieved=retrieved, text="".join(parts), done=event)
    raise RuntimeError("the answer stream ended without a result")


@dataclass(frozen=True)
class AnswerDefaults:
    """What an answer runs with unless the caller says otherwise (from the settings)."""

    k: int  # sources given to the generator
    max_tokens: int
    temperature: float
    context_tokens: int

    @classmethod
    def of(cls, settings: Settings) -> AnswerDefaults:
        g = settings.generator
        return cls(
            k=settings.retrieval.answer_k,
            max_tokens=g.max_tokens,
            temperature=g.temperature,
            context_tokens=g.context_tokens,
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
        k: int | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[AnswerEvent]:
        """Retrieve the top `k` sources in `scope`, then stream the answer from them (lazily:
        nothing runs before the first event is asked for)."""
        retrieved = self.retrieve(scope=scope, question=question, k=k)
        yield from self.stream_from(
            retrieved, question=question, max_tokens=max_tokens, temperature=temperature
        )

    def retrieve(self, *, scope: Scope, question: str, k: int | None = None) -> Retrieved:
        """The top `k` live hits in `scope` (hybrid, reranked), as numbered sources."""
        found = search(
            retriever=self.retriever,
            sessions=self.sessions,
            scope=scope,
            query=question,
            k=self.defaults.k if k is None else k,
        )
        return Retrieved.of(found.hits, reranker=found.reranker, timings_ms=found.timings_ms)

    def stream_from(
        self,
        retrieved: Retrieved,
        *,
        question: str,
        max_tokens: int | None = None,
        temperature: float | None = None,
    ) -> Iterator[AnswerEvent]:
        """`retrieved`, then the answer's `Delta`s from its sources, then `Done`. Closing the
        stream closes the generation (a disconnected client stops it)."""
        d = self.defaults
        yield retrieved
        yield from stream_answer(
            self.generator,
            question,
            retrieved.sources,
            max_tokens=d.max_tokens if max_tokens is None else max_tokens,
            temperature=d.temperature if temperature is None else temperature,
            context_tokens=d.context_tokens,
        )
