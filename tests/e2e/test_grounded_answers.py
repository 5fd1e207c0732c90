"""Answers people can trust, over real HTTP (issue 13): a cited answer whose every claim is
verified against a span of its sources, a follow-up that depends on the earlier turn (the
client sends the history), an honest abstention, and a generator's invented number flagged
and never shown — on the embedded stack (SQLite, qdrant-edge, the worker, uvicorn)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from serving.prompt import NO_ANSWER
from tests.support import Scripted, fast_settings, served_with, wait_indexed
from tests.unit.trust_samples import KEY_SENTENCE

VALVE_MD = """# XV Series Valves — Operating Manual

## 1. Pressure ratings

The XV series comprises the XJ-110, XJ-220 and XJ-330 valves. The XJ-220 is the only model in
the series approved for continuous operation at 40 bar. The other models may be run at 40 bar
for at most 15 minutes per hour.

| Model | Continuous rating | Peak pressure rating | Body |
|---|---|---|---|
| XJ-110 | 25 bar | 32 bar | brass |
| XJ-220 | 40 bar | 64 bar | stainless steel 1.4408 |
| XJ-330 | 25 bar | 40 bar | ductile iron |

## 2. Actuator torque

Tighten the bonnet bolts crosswise to 78 N·m. Above 60 °C, reduce the torque to 65 N·m and
recheck after 24 hours.
"""

FIRST = "Which valve model is approved for continuous operation at 40 bar?"
FOLLOW_UP = "What is the peak pressure rating of that model?"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, Scripted]]:
    settings = fast_settings(Path(tmp_path_factory.mktemp("grounded")))
    generator = Scripted()
    pump = Path(__file__).parents[2] / "samples" / "pump-maintenance-manual.html"
    with served_with(settings, generator) as (_, http):
        assert http.post("/v1/collections", json={"name": "plant"}).status_code == 201
        for name, data in (("valves.md", VALVE_MD.encode()), (pump.name, pump.read_bytes())):
            up = http.post("/v1/collections/plant/documents", files={"file": (name, data)})
            assert wait_indexed(http, up.json()["id"])["status"] == "indexed"
        yield http, generator


def ask(http: httpx.Client, question: str, **extra: object) -> dict:
    response = http.post("/v1/answer", json={"question": question, **extra})
    assert response.status_code == 200, response.text
    return response.json()


def supporting_text(answer: dict, claim: dict) -> str:
    support = claim["support"]
    source = next(s for s in answer["sources"] if s["number"] == support["source"])
    return source["text"][support["start"] : support["end"]]


def test_an_answer_is_cited_and_each_claim_points_at_its_supporting_span(served) -> None:
    http, _ = served
    answer = ask(http, FIRST, mode="extractive")
    assert answer["mode"] == "extractive"
    assert not answer["no_answer"]
    assert " ".join(KEY_SENTENCE.split()[:6]) in " ".join(answer["answer"].split())
    assert answer["citations"], "the answer cites its sources"
    assert answer["claims"]
    assert all(c["supported"] for c in answer["claims"])
    for claim in answer["claims"]:
        assert claim["citations"] == [claim["support"]["source"]]
        assert f"[{claim['citations'][0]}]" in answer["answer"]
        assert " ".join(claim["text"].split()) in " ".join(supporting_text(answer, claim).split())
    assert answer["supported_share"] == 1.0
    cited = next(s for s in answer["sources"] if s["number"] == answer["citations"][0])
    passage = cited["passage"]  # the matching sentence, for highlighting
    assert "XJ-220 is the only model" in cited["text"][passage["start"] : passage["end"]]


def test_a_follow_up_is_answered_from_the_earlier_turn(served) -> None:
    http, _ = served
    first = ask(http, FIRST, mode="extractive")
    history = [
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": first["answer"]},
    ]
    answer = ask(http, FOLLOW_UP, history=history, mode="extractive")
    assert answer["question"]["method"] == "rule"
    assert "XJ-220" in answer["question"]["text"]
    assert not answer["no_answer"]
    rows = [c for c in answer["claims"] if "XJ-220 | 40 bar | 64 bar" in c["text"]]
    assert rows, answer["answer"]
    assert "64 bar" in answer["answer"]

    # the OpenAI-compatible face reads the whole conversation the same way
    messages = [*history, {"role": "user", "content": FOLLOW_UP}]
    chat = http.post("/v1/chat/completions", json={"messages": messages})
    assert chat.status_code == 200, chat.text
    body = chat.json()
    assert "XJ-220 | 40 bar | 64 bar" in body["choices"][0]["message"]["content"]
    assert body["enclave"]["question"]["method"] == "rule"


def test_a_question_the_sources_cannot_answer_is_declined(served) -> None:
    http, _ = served
    answer = ask(http, "Which hospital canteen serves vegetarian lunch on Fridays?")
    assert answer["no_answer"]
    assert answer["abstention"]["abstained"]
    assert answer["abstention"]["strength"] < answer["abstention"]["threshold"]
    assert answer["answer"] == NO_ANSWER
    assert answer["claims"] == []
    assert answer["citations"] == []
    assert answer["sources"], "the closest passages are still offered"


def test_an_invented_number_is_flagged_and_never_shown(served) -> None:
    http, generator = served
    generator.script = (
        "The XJ-220 is approved for continuous operation at 40 bar [1]. "
        "Its peak pressure rating is 96 bar [1]."
    )
    answer = ask(http, FIRST, mode="generator")
    assert answer["mode"] == "generator"
    assert answer["model"] == "scripted"
    assert "96" not in answer["answer"]
    assert "approved for continuous operation at 40 bar" in answer["answer"]
    flagged = [c for c in answer["claims"] if not c["supported"]]
    assert [c["text"] for c in flagged] == ["Its peak pressure rating is 96 bar."]
    assert "96 bar" in flagged[0]["missing"]
    assert flagged[0]["citations"] == []
    assert answer["supported_share"] == 0.5

    # streamed: the flagged claim arrives as a `claim` event, never inside a `delta`
    with http.stream(
        "POST", "/v1/answer", json={"question": FIRST, "mode": "generator", "stream": True}
    ) as response:
        frames = list(sse(response.iter_lines()))
    shown = "".join(data["text"] for name, data in frames if name == "delta")
    assert "96" not in shown
    assert "40 bar" in shown
    claims = [data for name, data in frames if name == "claim"]
    assert [c["supported"] for c in claims] == [True, False]
    assert frames[-1][0] == "done"
    assert frames[-1][1]["supported_share"] == 0.5


def sse(lines: Iterator[str]) -> Iterator[tuple[str, dict]]:
    name = ""
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            yield name, json.loads(line[6:])
