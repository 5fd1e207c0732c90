"""The embedded generator with the real SmolLM2 GGUF in llama.cpp (xllamacpp), on CPU."""

from __future__ import annotations

import ctypes
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from serving.answer import Delta, Done, stream_answer
from serving.errors import GeneratorRejected, GeneratorUnavailable
from serving.llamacpp import LlamaCppGenerator
from serving.protocols import Message, Source

pytestmark = pytest.mark.slow

CANARY = "ZQXJ-canary-4417"
QUESTION = [
    Message("system", "Answer briefly."),
    Message("user", "What is the capital of France?"),
]
LONG = [Message("user", "Write a very long story about a dragon and a knight.")]


@pytest.fixture(scope="module")
def generator() -> Iterator[LlamaCppGenerator]:
    generator = LlamaCppGenerator(context_tokens=2048, threads=2, parallel=2)
    yield generator
    generator.close()


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "enclave-llamacpp"]


def _wait_for_no_workers(timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while _workers() and time.monotonic() < deadline:
        time.sleep(0.05)
    return not _workers()


def test_streams_deltas(generator):
    deltas = list(generator.stream(QUESTION, max_tokens=24, temperature=0.0))
    assert len(deltas) > 1
    assert "".join(deltas).strip()
    assert generator.name == "SmolLM2-135M-Instruct.Q4_1"


def test_grounded_answer_end_to_end(generator):
    source = Source(
        number=1,
        chunk_id="c1",
        document="d1",
        title="Pump manual",
        section="Torque",
        page=4,
        text="The XJ-220 pump has a maximum torque of 42 Nm.",
    )
    events = list(
        stream_answer(
            generator,
            "What is the torque of the XJ-220 pump?",
            [source],
            max_tokens=48,
            temperature=0.0,
            context_tokens=2048,
        )
    )
    done = events[-1]
    assert isinstance(done, Done)
    assert all(isinstance(e, Delta) for e in events[:-1])
    assert "".join(e.text for e in events[:-1]).strip()
    assert done.model == generator.name
    assert all(s.number == 1 for s in done.citations)  # whatever it cites, it is a real source


def test_zero_retention_nothing_reaches_stdout_or_stderr(capfd):
    generator = LlamaCppGenerator(context_tokens=1024, threads=2, parallel=1)
    try:
        prompt = [Message("user", f"Repeat this code exactly: {CANARY}")]
        answer = "".join(generator.stream(prompt, max_tokens=24, temperature=0.0))
        with pytest.raises(GeneratorRejected):  # an error path, too
            list(
                generator.stream(
                    [Message("user", f"{CANARY} " * 900)], max_tokens=8, temperature=0.0
                )
            )
    finally:
        generator.close()
    ctypes.CDLL(None).fflush(None)  # anything llama.cpp left in C stdio buffers reaches the fds
    out, err = capfd.readouterr()
    assert answer.strip()  # the model did run (and, prompted so, likely repeated the canary)
    assert CANARY not in out
    assert CANARY not in err
    assert answer.strip() not in out + err
    assert (out, err) == ("", "")  # llama.cpp is fully silent, not just about the canary


def test_zero_retention_control_verbose_llamacpp_would_leak(tmp_path):
    """The capture above is meaningful: with its logging up, llama.cpp writes the generated
    text to stderr (token by token and as the parsed message)."""
    script = (
        "import json, sys, xllamacpp\n"
        "from serving.llamacpp import build_params, default_model_path\n"
        "p = build_params(default_model_path(), context_tokens=512, threads=2, parallel=1,\n"
        "                 listen='127.0.0.1', api_key='k' * 32)\n"
        "p.verbosity = 5\n"
        "s = xllamacpp.Server(p)\n"
        "r = s.handle_chat_completions({'messages': [{'role': 'user', 'content': 'Say hello.'}],"
        " 'max_tokens': 8, 'temperature': 0.0})\n"
        "open(sys.argv[1], 'w').write(r['choices'][0]['message']['content'])\n"
        "del s\n"
    )
    answer_file = tmp_path / "answer.txt"
    result = subprocess.run(
        [sys.executable, "-c", script, str(answer_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = answer_file.read_text()
    assert answer.strip()
    assert json.dumps(answer, ensure_ascii=False)[1:-1] in result.stdout + result.stderr


def test_concurrent_streams(generator):
    prompts = [f"Name a colour. Answer with one word. ({i})" for i in range(3)]
    answers: dict[int, str] = {}
    errors: list[BaseException] = []

    def ask(i: int) -> None:
        try:
            answers[i] = "".join(
                generator.stream([Message("user", prompts[i])], max_tokens=16, temperature=0.0)
            )
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(3)]  # 3 > 2 slots
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert sorted(answers) == [0, 1, 2]
    assert all(answer.strip() for answer in answers.values())


def test_early_close_stops_the_generation():
    generator = LlamaCppGenerator(context_tokens=2048, threads=2, parallel=1)
    try:
        stream = generator.stream(LONG, max_tokens=1500, temperature=0.7)
        received = [next(stream) for _ in range(3)]
        stream.close()
        assert all(received)
        assert _wait_for_no_workers(5), "the worker stayed inside llama.cpp after close()"
        started = time.monotonic()  # the only slot is free again: a short request runs now
        assert "".join(generator.stream(QUESTION, max_tokens=4, temperature=0.0))
        assert time.monotonic() - started < 10
    finally:
        generator.close()


def test_abandoned_iterator_is_stopped_by_close():
    generator = LlamaCppGenerator(context_tokens=2048, threads=2, parallel=1)
    stream = generator.stream(LONG, max_tokens=1500, temperature=0.7)
    next(stream)  # started, then neither read nor closed: close() must still end it
    started = time.monotonic()
    generator.close()
    assert time.monotonic() - started < 10
    assert _wait_for_no_workers(1)


def test_inactivity_timeout_is_unavailable_and_cancels():
    generator = LlamaCppGenerator(context_tokens=2048, threads=2, parallel=1, timeout_s=0.01)
    try:
        prompt = [Message("user", "Summarise: " + "the pump turns and the valve opens. " * 40)]
        with pytest.raises(GeneratorUnavailable, match="produced nothing"):
            list(generator.stream(prompt, max_tokens=64, temperature=0.0))
        assert _wait_for_no_workers(30)
    finally:
        generator.close()


def test_prompt_too_long_is_rejected_without_prompt_text(generator):
    with pytest.raises(GeneratorRejected) as caught:
        list(
            generator.stream([Message("user", f"{CANARY} " * 1500)], max_tokens=8, temperature=0.0)
        )
    assert caught.value.status == 400
    assert CANARY not in str(caught.value)


def test_the_configured_repeat_penalty_goes_with_every_request(monkeypatch):
    from serving import llamacpp
    from serving.factory import make_generator
    from serving.settings import GeneratorSettings

    sent: list[dict] = []
    real_run = llamacpp._Run

    def recording_run(server, slots, request, **kwargs):
        sent.append(dict(request))
        return real_run(server, slots, request, **kwargs)

    monkeypatch.setattr(llamacpp, "_Run", recording_run)
    generator = make_generator(GeneratorSettings(context_tokens=1024, threads=2))
    try:
        assert "".join(generator.stream(QUESTION, max_tokens=8, temperature=0.0)).strip()
    finally:
        generator.close()
    assert [r["repeat_penalty"] for r in sent] == [GeneratorSettings().repeat_penalty] == [1.15]
