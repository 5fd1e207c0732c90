"""OpenAIChatGenerator's limits against a scripted server on a real loopback socket: the model
card (`max_model_len`), the readiness check, the concurrency limit and Retry-After hints."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler

import pytest

from serving.answer import Done, stream_answer
from serving.errors import GeneratorUnavailable
from serving.openai_client import OpenAIChatGenerator
from serving.protocols import Source
from tests.unit.test_openai_client import HAPPY, MESSAGES, _json, _sse, serve  # noqa: F401

CARDS = {"object": "list", "data": [{"id": "served", "max_model_len": 1024}, {"id": "other"}]}


def _models_then(behaviour):  # type: ignore[no-untyped-def]
    def behave(handler: BaseHTTPRequestHandler) -> None:
        if handler.command == "GET":
            _json(handler, 200, CARDS)
        else:
            behaviour(handler)

    return behave


def test_model_name_and_context_length_come_from_the_models_list(serve):  # noqa: F811
    server = serve(_models_then(_sse(HAPPY)))
    generator = OpenAIChatGenerator(server.url)
    assert generator.name == "served"
    assert generator.context_tokens == 1024
    configured = OpenAIChatGenerator(server.url, model="other")
    assert configured.context_tokens is None  # that card gives no length
    assert configured.name == "other"


def test_the_prompt_is_trimmed_to_the_served_window(serve):  # noqa: F811
    server = serve(_models_then(_sse(HAPPY)))
    long = Source(1, "c", "d", "Manual", "Torque", 3, "torque " * 5000)
    events = list(
        stream_answer(
            OpenAIChatGenerator(server.url),
            "What torque?",
            [long],
            max_tokens=384,
            temperature=0.0,
            context_tokens=8192,
        )
    )
    assert isinstance(events[-1], Done)
    body = server.seen[-1][3]
    assert body["max_tokens"] == 256  # a quarter of the 1024-token window
    prompt_chars = sum(len(m["content"]) for m in body["messages"])
    assert prompt_chars <= (1024 - 256) * 3  # within the window at 3 characters per token


def test_check_asks_once_without_retrying(serve):  # noqa: F811
    server = serve(_models_then(_sse(HAPPY)))
    OpenAIChatGenerator(server.url).check()
    assert [(m, p) for m, p, _, _ in server.seen] == [("GET", "/v1/models")]
    port = server.server_address[1]
    server.stop()
    with pytest.raises(GeneratorUnavailable) as caught:
        OpenAIChatGenerator(f"http://127.0.0.1:{port}/v1", connect_backoff_s=5).check()
    assert caught.value.retry_after_s == 5.0


def test_unreachable_suggests_retry_after(serve):  # noqa: F811
    server = serve(_sse(HAPPY))
    port = server.server_address[1]
    server.stop()
    generator = OpenAIChatGenerator(
        f"http://127.0.0.1:{port}/v1", model="m", connect_backoff_s=0.01, retry_after_s=7
    )
    with pytest.raises(GeneratorUnavailable) as caught:
        list(generator.stream(MESSAGES, max_tokens=4, temperature=0.0))
    assert caught.value.retry_after_s == 7
    assert "ConnectError" in str(caught.value)


def test_concurrency_limit_makes_the_next_answer_wait_then_fail_busy(serve):  # noqa: F811
    release = threading.Event()
    arrived = threading.Event()

    def slow(handler: BaseHTTPRequestHandler) -> None:
        arrived.set()
        release.wait(10)
        _sse(HAPPY)(handler)

    server = serve(slow)
    generator = OpenAIChatGenerator(server.url, model="m", max_concurrency=1, queue_timeout_s=0.3)
    first = threading.Thread(
        target=lambda: list(generator.stream(MESSAGES, max_tokens=4, temperature=0.0))
    )
    first.start()
    assert arrived.wait(10)
    with pytest.raises(GeneratorUnavailable, match="busy") as caught:
        list(generator.stream(MESSAGES, max_tokens=4, temperature=0.0))
    assert caught.value.retry_after_s == 5.0
    release.set()
    first.join(10)
    assert list(generator.stream(MESSAGES, max_tokens=4, temperature=0.0))  # the slot is back
    assert len(server.seen) == 2  # the refused answer never reached the server
