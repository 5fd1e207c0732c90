"""The subset of OpenAI's chat-completions protocol that Enclave speaks (`/v1/chat/completions`)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

MAX_MESSAGES = 100  # a conversation's turns (only the last user message is answered)
MAX_CONTENT = 16_000  # characters of one message


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | None = Field(None, max_length=MAX_CONTENT)


class ChatCompletionRequest(BaseModel):
    """Extra OpenAI fields (temperature, top_p, n, ...) are accepted and ignored unless listed."""

    model: str = Field(
        "enclave",
        max_length=120,
        description='"enclave" (every collection you may read) or '
        '"enclave:<collection>" for one collection.',
    )
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=4096)
    temperature: float | None = Field(None, ge=0.0, le=2.0)


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "enclave"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
