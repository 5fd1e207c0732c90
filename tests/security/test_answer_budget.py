"""The time budget of an answer, and streams that stop the generator when they end (issue 17).

A real server on loopback whose generator is slow (a delta every 0.1 s, endless within
max_tokens) and tells when its stream was closed: past `limits.budget_s` a JSON answer is a
504 and a stream ends with an `error` event; a client that goes away stops the generation.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from app.settings import LimitSettings
from serving.protocols import Message
from serving.settings import AnswerSettings
from tests.support import create_api_key, fast_settings, served_with, wait_indexed

BUDGET_S = 1.0


class SlowGenerator:
    """A delta every 0.1 s; `closed` holds one event per stream, set when it is closed."""

    name = "slow"

    def __init__(self) -> None:
        self.closed: list[threading.Event] = []

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        done = threading.Event()
        self.closed.append(done)
        try:
            for _ in range(max_tokens):
                time.sleep(0.1)
                yield "[1] word "
        finally:
            done.set()

    def close(self) -> None:
        """Nothing held between streams."""


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[httpx.Client, SlowGenerator]]:
    settings = fast_settings(
        Path(tmp_path_factory.mktemp("budget")),
        limits=LimitSettings(budget_s=BUDGET_S),
        answer=AnswerSettings(mode="both"),  # the generator answers after the extract
    )
    generator = SlowGenerator()
    with served_with(settings, generator, timeout_s=30) as (base, admin):
        assert admin.post("/v1/collections", json={"name": "wards"}).status_code == 201
        text = "# Ward\n\nThe ward protocol sets the dosing table.\n"
        up = admin.post("/v1/collections/wards/documents", files={"file": ("w.md", text)})
        assert wait_indexed(admin, up.json()["id"])["status"] == "indexed"
        key = create_api_key(admin, ["wards"])
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as caller:
            yield caller, generator


QUESTION = {"question": "What sets the dosing table?"}


def events(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])


def test_a_json_answer_past_its_budget_is_a_504_and_the_generator_stops(served) -> None:
    caller, generator = served
    started = time.perf_counter()
    response = caller.post("/v1/answer", json=QUESTION)
    assert response.status_code == 504, response.text
    assert response.json()["error"]["code"] == "time_budget_exceeded"
    assert time.perf_counter() - started < BUDGET_S + 1.0
    assert generator.closed[-1].wait(2)


def test_a_stream_past_its_budget_ends_with_an_error_event(served) -> None:
    caller, generator = served
    body = {**QUESTION, "stream": True}
    started = time.perf_counter()
    with caller.stream("POST", "/v1/answer", json=body) as response:
        assert response.status_code == 200
        seen = list(events(response.iter_lines()))
    assert time.perf_counter() - started < BUDGET_S + 1.0
    assert seen[0][0] == "sources"
    assert "delta" in [name for name, _ in seen]
    assert seen[-1] == ("error", seen[-1][1])
    assert seen[-1][1]["code"] == "time_budget_exceeded"
    assert generator.closed[-1].wait(2)


def test_an_openai_stream_past_its_budget_ends_with_an_error_and_done(served) -> None:
    caller, _ = served
    body = {"messages": [{"role": "user", "content": QUESTION["question"]}], "stream": True}
    with caller.stream("POST", "/v1/chat/completions", json=body) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[-2][6:])["error"]["code"] == "time_budget_exceeded"


def test_a_client_that_goes_away_stops_the_generation(served) -> None:
    caller, generator = served
    body = {**QUESTION, "stream": True}
    before = len(generator.closed)
    with caller.stream("POST", "/v1/answer", json=body) as response:
        for line in response.iter_lines():
            if line == ": pending" and len(generator.closed) > before:
                break  # leave while the generator streams: the connection is closed
    closed = generator.closed[before]
    assert closed.wait(BUDGET_S / 2), "the generator still ran after the client left"
