"""stream_answer end to end with the echo generator: deltas, validated citations, no-answer."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from serving.answer import Delta, Done, is_no_answer, stream_answer
from serving.echo import EchoGenerator
from serving.errors import GeneratorUnavailable
from serving.factory import make_generator
from serving.prompt import NO_ANSWER, build_messages
from serving.protocols import Message, Source
from serving.settings import GeneratorSettings

SOURCES = [
    Source(
        number=1,
        chunk_id="c1",
        document="d1",
        title="Pump manual",
        section="Torque",
        page=4,
        text="The XJ-220 pump has a torque of 42 Nm at full speed and more.",
    ),
    Source(
        number=2,
        chunk_id="c2",
        document="d2",
        title="Valve guide",
        section="",
        page=None,
        text="Valves must be checked every six months by a qualified engineer.",
    ),
]


def _run(generator, sources=SOURCES, **kwargs) -> tuple[str, Done, list]:
    events = list(
        stream_answer(generator, "What torque?", sources, max_tokens=200, temperature=0.0, **kwargs)
    )
    assert all(isinstance(e, Delta) for e in events[:-1])
    assert isinstance(events[-1], Done)
    return "".join(e.text for e in events[:-1]), events[-1], events


class Scripted:
    """A generator that streams fixed deltas and records what it was asked."""

    name = "scripted"

    def __init__(self, deltas: Sequence[str]) -> None:
        self.deltas = list(deltas)
        self.closed = False
        self.calls: list[Sequence[Message]] = []

    def stream(self, messages, *, max_tokens, temperature) -> Iterator[str]:
        self.calls.append(messages)
        try:
            yield from self.deltas
        finally:
            self.closed = True


def test_echo_answer_cites_every_source_in_order():
    text, done, events = _run(EchoGenerator())
    assert text == (
        "According to [1], The XJ-220 pump has a torque of 42. "
        "[2], Valves must be checked every six months by."
    )
    assert [s.number for s in done.citations] == [1, 2]
    assert done == Done(citations=SOURCES, dropped_citations=0, model="echo", no_answer=False)
    assert len(events) > 10  # streamed in small pieces, markers split across deltas


def test_invalid_citations_are_removed_from_the_text_and_counted():
    generator = Scripted(["Torque is 42 Nm [", "1]", " and [", "5", "]", " more [2, 9]."])
    text, done, _ = _run(generator)
    assert text == "Torque is 42 Nm [1] and more [2]."
    assert [s.number for s in done.citations] == [1, 2]
    assert done.dropped_citations == 2


def test_no_sources_answers_the_fixed_sentence_without_calling_the_generator():
    generator = Scripted(["should not be used"])
    text, done, _ = _run(generator, sources=[])
    assert text == NO_ANSWER
    assert done.no_answer
    assert done.citations == []
    assert generator.calls == []


def test_model_saying_the_sources_lack_the_answer_sets_no_answer():
    _, done, _ = _run(Scripted(["The sources do not ", "contain the answer."]))
    assert done.no_answer
    assert done.citations == []


def test_generator_is_given_the_grounded_prompt():
    generator = Scripted(["ok [1]"])
    _run(generator, context_tokens=4096)
    assert generator.calls[0] == build_messages(
        "What torque?", SOURCES, context_tokens=4096, max_tokens=200
    )


def test_closing_the_answer_early_closes_the_generator_stream():
    generator = Scripted(["a", "b", "c", "d"])
    events = stream_answer(generator, "q", SOURCES, max_tokens=10, temperature=0.0)
    assert next(events) == Delta("a")
    events.close()
    assert generator.closed


def test_generator_errors_propagate():
    class Failing(Scripted):
        def stream(self, messages, *, max_tokens, temperature):
            yield "partial"
            raise GeneratorUnavailable("down", retry_after_s=3)

    events = stream_answer(Failing([]), "q", SOURCES, max_tokens=10, temperature=0.0)
    assert next(events) == Delta("partial")
    with pytest.raises(GeneratorUnavailable):
        next(events)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [("", True), ("  the sources do NOT contain\nthe answer. ", True), ("42 Nm [1].", False)],
)
def test_is_no_answer(answer, expected):
    assert is_no_answer(answer) is expected


def test_echo_respects_max_tokens_and_no_sources():
    echo = EchoGenerator(chunk_chars=1)
    messages = build_messages("q", SOURCES)
    assert "".join(echo.stream(messages, max_tokens=5, temperature=0)) == "Accor"
    assert "".join(echo.stream(build_messages("q", []), max_tokens=99, temperature=0)) == (
        NO_ANSWER
    )


def test_factory_builds_echo_and_checks_openai_settings():
    assert isinstance(make_generator(GeneratorSettings(kind="echo")), EchoGenerator)
    with pytest.raises(ValueError, match="base_url"):
        make_generator(GeneratorSettings(kind="openai"))
