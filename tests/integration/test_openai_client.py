"""OpenAIChatGenerator against a real OpenAI-compatible server: llama.cpp's own HTTP server
(through xllamacpp) serving SmolLM2 on 127.0.0.1. vLLM speaks the same API (see deploy/)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from serving.answer import Done, stream_answer
from serving.errors import GeneratorRejected
from serving.llamacpp import build_params, default_model_path
from serving.openai_client import OpenAIChatGenerator
from serving.protocols import Message, Source

pytestmark = pytest.mark.slow

API_KEY = "test-key-0123456789abcdef"
QUESTION = [Message("user", "What is the capital of France? Answer in one word.")]


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    import xllamacpp

    params = build_params(
        default_model_path(),
        context_tokens=2048,
        threads=2,
        parallel=2,
        listen="127.0.0.1",
        api_key=API_KEY,
    )
    server = xllamacpp.Server(params)
    # one request first: llama.cpp's main loop is up (see LlamaCppGenerator)
    server.handle_chat_completions(
        {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    )
    assert server.listening_address.startswith("http://127.0.0.1:")
    yield server.listening_address + "/v1"
    del server


def test_streams_from_a_real_server_and_discovers_the_model(base_url):
    generator = OpenAIChatGenerator(base_url, api_key=API_KEY, timeout_s=60)
    deltas = list(generator.stream(QUESTION, max_tokens=16, temperature=0.0))
    assert len(deltas) >= 1
    assert "".join(deltas).strip()
    assert generator.name == "SmolLM2-135M-Instruct.Q4_1"
    generator.close()


def test_wrong_api_key_is_rejected(base_url):
    generator = OpenAIChatGenerator(base_url, model="x", api_key="wrong", timeout_s=60)
    with pytest.raises(GeneratorRejected) as caught:
        list(generator.stream(QUESTION, max_tokens=4, temperature=0.0))
    assert caught.value.status == 401


def test_prompt_too_long_is_rejected(base_url):
    generator = OpenAIChatGenerator(base_url, api_key=API_KEY, timeout_s=60)
    with pytest.raises(GeneratorRejected) as caught:
        list(generator.stream([Message("user", "word " * 3000)], max_tokens=4, temperature=0.0))
    assert caught.value.status == 400


def test_grounded_answer_over_http(base_url):
    source = Source(
        number=1,
        chunk_id="c1",
        document="d1",
        title="Atlas",
        section="Europe",
        page=12,
        text="Paris is the capital of France.",
    )
    generator = OpenAIChatGenerator(base_url, api_key=API_KEY, timeout_s=60)
    events = list(
        stream_answer(
            generator,
            "What is the capital of France?",
            [source],
            max_tokens=32,
            temperature=0.0,
            context_tokens=2048,
        )
    )
    done = events[-1]
    assert isinstance(done, Done)
    assert done.model == "SmolLM2-135M-Instruct.Q4_1"
    assert len(events) > 1
