"""Build the configured generator; heavy libraries are imported only for the kind chosen."""

from __future__ import annotations

from serving.protocols import Generator
from serving.settings import GeneratorSettings


def make_generator(settings: GeneratorSettings) -> Generator:
    """`echo` (tests), `llama-cpp` (embedded default, loads the model now) or `openai` (vLLM)."""
    if settings.kind == "echo":
        from serving.echo import EchoGenerator

        return EchoGenerator()
    if settings.kind == "llama-cpp":
        from serving.llamacpp import LlamaCppGenerator

        return LlamaCppGenerator(
            settings.model_path,
            context_tokens=settings.context_tokens,
            threads=settings.threads,
            timeout_s=settings.timeout_s,
            repeat_penalty=settings.repeat_penalty,
        )
    if settings.kind == "openai":
        from serving.openai_client import OpenAIChatGenerator

        if not settings.base_url:
            raise ValueError("generator kind 'openai' needs base_url (e.g. http://vllm:8000/v1)")
        return OpenAIChatGenerator(
            settings.base_url,
            model=settings.model,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            max_concurrency=settings.max_concurrency,
            queue_timeout_s=settings.queue_timeout_s,
        )
    raise ValueError(f"unknown generator kind: {settings.kind!r}")
