"""The `Generator` contract, run against every implementation, each built by `make_generator`:

- echo: the deterministic double that cites its sources (fast);
- llama-cpp: the packaged SmolLM2 GGUF in-process through xllamacpp (slow);
- openai: `OpenAIChatGenerator` over HTTP against llama.cpp's own OpenAI-compatible server
  serving SmolLM2 on 127.0.0.1 (slow; the server fixture is the one the integration suite uses).

Anything that could block runs in a worker thread with a deadline, so a hang fails the test
instead of stalling the run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest

from serving.answer import Delta, Done, stream_answer
from serving.citations import parse_citations
from serving.echo import EchoGenerator
from serving.factory import make_generator
from serving.llamacpp import LlamaCppGenerator
from serving.openai_client import OpenAIChatGenerator
from serving.protocols import Generator, Message, Source
from serving.settings import GeneratorSettings
from tests.integration import test_openai_client as openai_server

T = TypeVar("T")

# llama.cpp's HTTP server with SmolLM2 on 127.0.0.1 (module-scoped; started only for "openai")
base_url = openai_server.base_url

DEADLINE_S = 120.0  # generous for 2 busy CPU cores; a hang is what it catches
CLOSE_S = 10.0  # closing a stream must return about at once
SIMPLE = [Message("system", "Answer briefly."), Message("user", "What is the capital of France?")]
LONG = [Message("user", "Write a very long story about a dragon and a knight.")]
TINY_MAX_TOKENS = 3
SOURCES = [
    Source(1, "c1", "d1", "Pump manual", "Torque", 4, "The XJ-220 pump has a torque of 42 Nm."),
    Source(2, "c2", "d2", "Atlas", "Europe", None, "Paris is the capital of France."),
    Source(3, "c3", "d3", "", "", None, "Sponge cake bakes for twenty minutes."),
]


@pytest.fixture(
    scope="module",
    params=[
        "echo",
        pytest.param("llama-cpp", marks=pytest.mark.slow),
        pytest.param("openai", marks=pytest.mark.slow),
    ],
)
def generator(request: pytest.FixtureRequest) -> Iterator[Generator]:
    kind = request.param
    if kind == "echo":
        built = make_generator(GeneratorSettings(kind="echo"))
        assert isinstance(built, EchoGenerator)
    elif kind == "llama-cpp":
        built = make_generator(GeneratorSettings(context_tokens=2048, threads=2))
        assert isinstance(built, LlamaCppGenerator)
    else:
        settings = GeneratorSettings(
            kind="openai",
            base_url=request.getfixturevalue("base_url"),
            api_key=openai_server.API_KEY,
            timeout_s=60,
        )
        built = make_generator(settings)
        assert isinstance(built, OpenAIChatGenerator)
    yield built
    close = getattr(built, "close", None)
    if close is not None:
        within(DEADLINE_S, close)


def within(seconds: float, fn: Callable[[], T]) -> T:
    """fn() in a daemon thread; fails the test if it has not returned after `seconds`."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as exc:  # re-raised in the test's thread
            outcome["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name="contract-deadline")
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"{getattr(fn, '__name__', fn)} still running after {seconds} s"
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]


def deltas_of(
    generator: Generator, messages: list[Message], max_tokens: int, temperature: float = 0.0
) -> list[str]:
    stream = generator.stream(messages, max_tokens=max_tokens, temperature=temperature)
    return within(DEADLINE_S, lambda: list(stream))


def test_has_a_name(generator: Generator) -> None:
    name = within(DEADLINE_S, lambda: generator.name)  # the openai client asks the server
    assert isinstance(name, str)
    assert name.strip()


def test_streams_str_deltas_that_join_to_an_answer(generator: Generator) -> None:
    deltas = deltas_of(generator, SIMPLE, max_tokens=24)
    assert deltas
    assert all(isinstance(d, str) for d in deltas)
    assert "".join(deltas).strip()


def test_a_tiny_max_tokens_gives_a_short_answer(generator: Generator) -> None:
    short = deltas_of(generator, LONG, max_tokens=TINY_MAX_TOKENS)
    longer = deltas_of(generator, LONG, max_tokens=8 * TINY_MAX_TOKENS)
    assert 0 < len(short) <= TINY_MAX_TOKENS + 1  # a delta is about a token
    assert len("".join(short)) <= 20 * TINY_MAX_TOKENS
    assert len("".join(short)) < len("".join(longer))


def test_closing_a_stream_early_does_not_hang(generator: Generator) -> None:
    for attempt in range(3):  # more early closes than llama.cpp has slots: each frees its slot
        stream = generator.stream(LONG, max_tokens=1000, temperature=0.7)
        first = within(DEADLINE_S, lambda s=stream: [next(s), next(s)])
        assert all(isinstance(d, str) for d in first), attempt
        within(CLOSE_S, stream.close)
    unstarted = generator.stream(SIMPLE, max_tokens=4, temperature=0.0)
    within(CLOSE_S, unstarted.close)
    assert "".join(deltas_of(generator, SIMPLE, max_tokens=8)).strip()  # still serving


def test_stream_answer_ends_with_done_citing_only_given_sources(generator: Generator) -> None:
    raw: list[str] = []  # what the model itself produced, before citation checking

    class Recording:
        name = generator.name

        def stream(self, messages, *, max_tokens, temperature):  # type: ignore[no-untyped-def]
            for delta in generator.stream(messages, max_tokens=max_tokens, temperature=temperature):
                raw.append(delta)
                yield delta

        def close(self) -> None:
            pass

    events = within(
        DEADLINE_S,
        lambda: list(
            stream_answer(
                Recording(),
                "What is the torque of the XJ-220 pump?",
                SOURCES,
                max_tokens=48,
                temperature=0.0,
                context_tokens=2048,
            )
        ),
    )
    *deltas, done = events
    assert isinstance(done, Done)
    assert all(isinstance(e, Delta) and isinstance(e.text, str) for e in deltas)
    assert "".join(e.text for e in deltas).strip()
    assert all(source in SOURCES for source in done.citations)
    assert len(set(done.citations)) == len(done.citations)
    _, cited, dropped = parse_citations("".join(raw), SOURCES)  # the whole-text rule agrees
    assert (done.citations, done.dropped_citations) == (cited, dropped)
    assert done.model == generator.name


def test_stream_answer_without_sources_does_not_call_the_generator(
    generator: Generator, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(*args: object, **kwargs: object) -> Iterator[str]:
        raise AssertionError("the generator was called without sources")

    monkeypatch.setattr(generator, "stream", refuse)
    *deltas, done = list(stream_answer(generator, "Anything?", [], max_tokens=8, temperature=0))
    assert isinstance(done, Done)
    assert done.no_answer
    assert done.citations == []
    assert all(isinstance(e, Delta) for e in deltas)
