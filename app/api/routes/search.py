"""/v1/search, /v1/answer (JSON or SSE) and /v1/chunks/{id} (what a citation opens)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.answer_views import (
    answer_response,
    claim_out,
    passage_out,
    question_out,
    sources_out,
    summary,
)
from app.api.budget import closing, within
from app.api.deps import RuntimeDep, ScopeDep, SessionDep
from app.api.protocol import (
    AnswerRequest,
    AnswerResponse,
    ChunkOut,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from app.api.ratelimit import throttle
from app.api.streaming import started
from app.errors import translate
from app.services import answers, collections, doctypes
from retrieval.types import Chunk, Scope
from serving.answer import Delta
from serving.grounded import Pending, Verdict, VerifiedDone
from serving.protocols import Message

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


@router.post("/search", response_model=SearchResponse, dependencies=[throttle("search")])
def search(
    body: SearchRequest, db: SessionDep, scope: ScopeDep, runtime: RuntimeDep
) -> SearchResponse:
    """The top `k` passages in the collections and document types asked for (every filter
    is part of the index query), each with the sentence(s) that match."""
    scope = narrowed(db, scope, body.collections)
    documents = None
    if body.types is not None:  # the documents of those types, then ONE filtered index query
        documents = doctypes.documents_of(db=db, scope=scope, types=body.types)
        db.commit()
    result = answers.search(
        retriever=runtime.retriever,
        sessions=runtime.sessions,
        scope=scope,
        query=body.query,
        k=body.k,
        mode=body.mode,
        rerank=body.rerank,
        documents=documents,
    )
    return SearchResponse(
        hits=[
            SearchHit(
                **chunk_out(h.chunk),
                score=h.score,
                passage=passage_out(answers.passage(body.query, h)),
            )
            for h in result.hits
        ],
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
    """A grounded answer from the top sources: only claims a passage supports are shown, each
    with its citation; unsupported claims are returned flagged in `claims`. With `history`, a
    follow-up is made standalone for retrieval. `stream: true` sends Server-Sent Events:
    `sources`, then `delta`s (text to show) and `claim`s (each checked claim), then `done`
    (or `error`)."""
    events = runtime.answers.stream(
        scope=narrowed(db, scope, body.collections),
        question=body.question,
        history=[Message(role=t.role, content=t.content) for t in body.history],
        k=body.k,
        mode=body.mode,
    )
    events = within(events, runtime.settings.limits.budget_s)
    if body.stream:
        return StreamingResponse(
            closing(sse(started(events))),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
    return answer_response(answers.collect(events))


def sse(events: Iterator[answers.AnswerEvent]) -> Iterator[str]:
    def frame(name: str, data: object) -> str:
        return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"

    retrieved: answers.Retrieved | None = None
    try:
        for event in events:
            match event:
                case answers.Retrieved():
                    retrieved = event
                    sources = [s.model_dump() for s in sources_out(event)]
                    asked = question_out(event).model_dump()
                    timings = event.timings_ms
                    yield frame(
                        "sources", {"sources": sources, "question": asked, "timings_ms": timings}
                    )
                case Delta():
                    yield frame("delta", {"text": event.text})
                case Verdict():
                    yield frame("claim", claim_out(event).model_dump())
                case Pending():
                    yield ": pending\n\n"  # a comment: the stream is alive, no claim yet
                case VerifiedDone() if retrieved is not None:
                    yield frame("done", summary(retrieved, event))
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = translate(exc)
        yield frame("error", {"message": str(err), "code": err.code})
