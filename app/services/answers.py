"""Search and answer inside the caller's scope: retrieval → numbered sources → streamed answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session, sessionmaker

from app import visibility
from retrieval.search import Mode, Retriever, SearchResult
from retrieval.types import Hit, Scope
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

    sources: list[Source]
    reranker: str
    timings_ms: dict[str, float]


AnswerEvent = Retrieved | Delta | Done


def answer(
    *,
    retriever: Retriever,
    sessions: sessionmaker[Session],
    generator: Generator,
    scope: Scope,
    question: str,
    k: int,
    max_tokens: int,
    temperature: float,
    context_tokens: int,
) -> Iterator[AnswerEvent]:
    """Yield `Retrieved`, then the answer's `Delta`s, then `Done` with validated citations."""
    found = search(retriever=retriever, sessions=sessions, scope=scope, query=question, k=k)
    sources = as_sources(found.hits)
    yield Retrieved(sources=sources, reranker=found.reranker, timings_ms=found.timings_ms)
    yield from stream_answer(
        generator,
        question,
        sources,
        max_tokens=max_tokens,
        temperature=temperature,
        context_tokens=context_tokens,
    )
