"""/v1/search, /v1/answer (JSON or SSE) and /v1/chunks/{id} (what a citation opens)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.budget import closing, within
from app.api.deps import RuntimeDep, ScopeDep, SessionDep
from app.api.protocol import (
    AnswerRequest,
    AnswerResponse,
    ChunkOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
    SourceOut,
)
from app.api.ratelimit import throttle
from app.api.streaming import started
from app.errors import translate
from app.services import answers, collections
from retrieval.types import Chunk, Scope
from serving.answer import Delta, Done
from serving.protocols import Source

router = APIRouter(prefix="/v1", tags=["search"])


def narrowed(db: SessionDep, scope: Scope, refs: list[str] | None) -> Scope:
    """The caller's scope, narrowed to the requested collections (each must be in scope; one
    query). The read transaction ends here: no pooled connection is held across retrieval."""
    if refs is not None:
        scope = scope.narrowed_to(c.id for c in collections.get_many(db=db, scope=scope, refs=refs))
    db.commit()
    return scope


def chunk_out(chunk: Chunk) -> dict:
    return {
        "chunk_id": chunk.id,
        "document_id": chunk.document,
        "collection_id": chunk.collection,
        "title": chunk.title,
        "section": chunk.section,
        "page": chunk.page,
        "position": chunk.position,
        "start": chunk.start,
        "end": chunk.end,
        "text": chunk.text,
        "places": [vars(p) for p in chunk.places],
    }


def source_out(source: Source) -> SourceOut:
    return SourceOut(
        number=source.number,
        chunk_id=source.chunk_id,
        document_id=source.document,
        title=source.title,
        section=source.section,
        page=source.page,
        text=source.text,
    )


@router.post("/search", response_model=SearchResponse, dependencies=[throttle("search")])
def search(
    body: SearchRequest, db: SessionDep, scope: ScopeDep, runtime: RuntimeDep
) -> SearchResponse:
    result = answers.search(
        retriever=runtime.retriever,
        sessions=runtime.sessions,
        scope=narrowed(db, scope, body.collections),
        query=body.query,
        k=body.k,
        mode=body.mode,
        rerank=body.rerank,
    )
    return SearchResponse(
        hits=[SearchHit(**chunk_out(h.chunk), score=h.score) for h in result.hits],
        reranker=result.reranker,
        timings_ms=result.timings_ms,
    )


@router.get("/chunks/{chunk_id}", response_model=ChunkOut)
def get_chunk(chunk_id: str, scope: ScopeDep, runtime: RuntimeDep) -> ChunkOut:
    chunk = answers.get_chunk(
        store=runtime.store, sessions=runtime.sessions, scope=scope, chunk_id=chunk_id
    )
    return ChunkOut(**chunk_out(chunk))


@router.post(
    "/answer",
    response_model=AnswerResponse,
    dependencies=[throttle("answer")],
    responses={200: {"content": {"text/event-stream": {}}, "description": "With stream=true."}},
)
def answer(body: AnswerRequest, db: SessionDep, scope: ScopeDep, runtime: RuntimeDep):  # type: ignore[no-untyped-def]
    """Answer from the top sources. `stream: true` sends Server-Sent Events:
    `sources`, then `delta`s, then `done` (or `error`)."""
    events = runtime.answers.stream(
        scope=narrowed(db, scope, body.collections), question=body.question, k=body.k
    )
    events = within(events, runtime.settings.limits.budget_s)
    if body.stream:
        return StreamingResponse(
            closing(sse(started(events))),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    return answer_response(answers.collect(events))


def answer_response(answer: answers.Answer) -> AnswerResponse:
    retrieved, done = answer.retrieved, answer.done
    return AnswerResponse(
        answer=answer.text,
        citations=[s.number for s in done.citations],
        sources=[source_out(s) for s in retrieved.sources],
        dropped_citations=done.dropped_citations,
        no_answer=done.no_answer,
        model=done.model,
        reranker=retrieved.reranker,
        timings_ms=retrieved.timings_ms,
    )


def sse(events: Iterator[answers.AnswerEvent]) -> Iterator[str]:
    def frame(name: str, data: object) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    reranker = "none"
    try:
        for event in events:
            match event:
                case answers.Retrieved():
                    reranker = event.reranker
                    sources = [source_out(s).model_dump() for s in event.sources]
                    yield frame("sources", {"sources": sources, "timings_ms": event.timings_ms})
                case Delta():
                    yield frame("delta", {"text": event.text})
                case Done():
                    yield frame(
                        "done",
                        {
                            "citations": [s.number for s in event.citations],
                            "dropped_citations": event.dropped_citations,
                            "no_answer": event.no_answer,
                            "model": event.model,
                            "reranker": reranker,
                        },
                    )
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = translate(exc)
        yield frame("error", {"message": str(err), "code": err.code})
