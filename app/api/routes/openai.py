"""An OpenAI-compatible face over Enclave's answers, for internal apps built on OpenAI SDKs.

The last user message is the question; retrieval runs inside the caller's scope (narrowed by
`model="enclave:<collection>"`), and the answer carries an `enclave` object with its sources
and citations. Earlier turns are not sent to the generator: each answer stands on its sources.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.deps import RuntimeDep, ScopeDep, SessionDep
from app.api.errors import translate
from app.api.openai_protocol import ChatCompletionRequest, ModelCard, ModelList
from app.api.routes.search import narrowed, source_out
from app.api.streaming import started
from app.errors import InvalidRequest
from app.services import answers, collections
from serving.answer import Delta, Done

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


@router.get("/models", response_model=ModelList)
def list_models(db: SessionDep, scope: ScopeDep) -> ModelList:
    now = int(time.time())
    cards = [ModelCard(id="enclave", created=now)]
    cards += [
        ModelCard(id=f"enclave:{c.name}", created=int(c.created_at.timestamp()))
        for c, _ in collections.list_visible(db=db, scope=scope)
    ]
    return ModelList(data=cards)


@router.post("/chat/completions")
def chat_completions(  # type: ignore[no-untyped-def]
    body: ChatCompletionRequest, db: SessionDep, scope: ScopeDep, runtime: RuntimeDep
):
    model, _, collection = body.model.partition(":")
    if model != "enclave":
        raise InvalidRequest('model must be "enclave" or "enclave:<collection>"')
    question = next(
        (m.content for m in reversed(body.messages) if m.role == "user" and m.content), None
    )
    if not question:
        raise InvalidRequest("messages must contain a user message with content")
    settings = runtime.settings
    events = answers.answer(
        retriever=runtime.retriever,
        sessions=runtime.sessions,
        generator=runtime.generator,
        scope=narrowed(db, scope, [collection] if collection else None),
        question=question,
        k=settings.retrieval.answer_k,
        max_tokens=body.max_tokens or settings.generator.max_tokens,
        temperature=settings.generator.temperature
        if body.temperature is None
        else body.temperature,
        context_tokens=settings.generator.context_tokens,
    )
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        return StreamingResponse(
            stream_chunks(started(events), completion_id, body.model),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store"},
        )
    return completion(events, completion_id, body.model)


def enclave_meta(retrieved: answers.Retrieved | None, done: Done) -> dict:
    return {
        "citations": [s.number for s in done.citations],
        "dropped_citations": done.dropped_citations,
        "no_answer": done.no_answer,
        "generator": done.model,
        "reranker": retrieved.reranker if retrieved else "none",
        "sources": [source_out(s).model_dump() for s in retrieved.sources] if retrieved else [],
    }


def completion(events: Iterator[answers.AnswerEvent], completion_id: str, model: str) -> dict:
    retrieved, parts = None, []
    for event in events:
        if isinstance(event, answers.Retrieved):
            retrieved = event
        elif isinstance(event, Delta):
            parts.append(event.text)
        elif isinstance(event, Done):
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "".join(parts)},
                        "finish_reason": "stop",
                    }
                ],
                "enclave": enclave_meta(retrieved, event),
            }
    raise RuntimeError("the answer stream ended without a result")


def stream_chunks(
    events: Iterator[answers.AnswerEvent], completion_id: str, model: str
) -> Iterator[str]:
    created = int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra: object) -> str:
        body = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            **extra,
        }
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    retrieved = None
    try:
        yield chunk({"role": "assistant", "content": ""})
        for event in events:
            if isinstance(event, answers.Retrieved):
                retrieved = event
            elif isinstance(event, Delta):
                yield chunk({"content": event.text})
            elif isinstance(event, Done):
                yield chunk({}, "stop", enclave=enclave_meta(retrieved, event))
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = translate(exc)
        body = {"error": {"message": str(err), "type": err.code, "param": None, "code": err.code}}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
