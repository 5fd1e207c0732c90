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

from app.api.budget import closing, within
from app.api.deps import RuntimeDep, ScopeDep, SessionDep
from app.api.openai_protocol import ChatCompletionRequest, ModelCard, ModelList
from app.api.ratelimit import throttle
from app.api.routes.search import narrowed, source_out
from app.api.streaming import started
from app.errors import InvalidRequest, translate
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


@router.post("/chat/completions", dependencies=[throttle("answer")])
def chat_completions(  # type: ignore[no-untyped-def]
    body: ChatCompletionRequest, db: SessionDep, scope: ScopeDep, runtime: RuntimeDep
):
    model, colon, collection = body.model.partition(":")
    if model != "enclave" or (colon and not collection):  # "enclave:" names no collection
        raise InvalidRequest('model must be "enclave" or "enclave:<collection>"')
    question = next(
        (m.content for m in reversed(body.messages) if m.role == "user" and m.content), None
    )
    if not question:
        raise InvalidRequest("messages must contain a user message with content")
    events = runtime.answers.stream(
        scope=narrowed(db, scope, [collection] if collection else None),
        question=question,
        max_tokens=body.max_tokens,
        temperature=body.temperature,
    )
    events = within(events, runtime.settings.limits.budget_s)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    if body.stream:
        return StreamingResponse(
            closing(stream_chunks(started(events), completion_id, body.model)),
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
    answer = answers.collect(events)
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.text},
                "finish_reason": "stop",
            }
        ],
        "enclave": enclave_meta(answer.retrieved, answer.done),
    }


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

    retrieved: answers.Retrieved | None = None
    try:
        yield chunk({"role": "assistant", "content": ""})
        for event in events:
            match event:
                case answers.Retrieved():
                    retrieved = event
                case Delta():
                    yield chunk({"content": event.text})
                case Done():
                    yield chunk({}, "stop", enclave=enclave_meta(retrieved, event))
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = translate(exc)
        body = {"error": {"message": str(err), "type": err.code, "param": None, "code": err.code}}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
