"""An OpenAI-compatible face over Enclave's answers, for internal apps built on OpenAI SDKs.

The last user message is the question and the user and assistant messages before it are the
conversation: a follow-up is made standalone for retrieval from them (nothing is stored).
Retrieval runs inside the caller's scope (narrowed by `model="enclave:<collection>"`); the
content is the grounded answer (only supported claims, with their citations), and an `enclave`
object carries the sources, every checked claim (unsupported ones flagged), the mode and the
abstention.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from app.api.answer_views import claim_out, sources_out, summary
from app.api.budget import closing, within
from app.api.deps import RuntimeDep, ScopeDep, SessionDep
from app.api.openai_protocol import ChatCompletionRequest, ChatMessage, ModelCard, ModelList
from app.api.ratelimit import throttle
from app.api.routes.search import narrowed
from app.api.streaming import started
from app.errors import InvalidRequest, translate
from app.services import answers, collections
from serving.answer import Delta
from serving.grounded import Verdict, VerifiedDone
from serving.protocols import Message

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
    question, history = conversation(body.messages)
    events = runtime.answers.stream(
        scope=narrowed(db, scope, [collection] if collection else None),
        question=question,
        history=history,
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


def conversation(messages: list[ChatMessage]) -> tuple[str, list[Message]]:
    """The last user message with content, and the user and assistant turns before it."""
    last = next((i for i in reversed(range(len(messages))) if messages[i].role == "user"), None)
    if last is None or not messages[last].content:
        raise InvalidRequest("messages must end with a user message with content")
    history = [
        Message(role=m.role, content=m.content)  # type: ignore[arg-type]
        for m in messages[:last]
        if m.role in ("user", "assistant") and m.content
    ]
    return messages[last].content or "", history


def enclave_meta(retrieved: answers.Retrieved, done: VerifiedDone, verdicts: list[Verdict]) -> dict:
    meta = summary(retrieved, done)
    meta["generator"] = meta.pop("model")
    return meta | {
        "claims": [claim_out(v).model_dump() for v in verdicts],
        "sources": [s.model_dump() for s in sources_out(retrieved)],
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
        "enclave": enclave_meta(answer.retrieved, answer.done, answer.verdicts),
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
    verdicts: list[Verdict] = []
    try:
        yield chunk({"role": "assistant", "content": ""})
        for event in events:
            match event:
                case answers.Retrieved():
                    retrieved = event
                case Delta():
                    yield chunk({"content": event.text})
                case Verdict():
                    verdicts.append(event)
                case VerifiedDone() if retrieved is not None:
                    meta = enclave_meta(retrieved, event, verdicts)
                    yield chunk({}, "stop", enclave=meta)
    except Exception as exc:  # noqa: BLE001 - the stream has started: report in-band
        err = translate(exc)
        body = {"error": {"message": str(err), "type": err.code, "param": None, "code": err.code}}
        yield f"data: {json.dumps(body)}\n\n"
    yield "data: [DONE]\n\n"
