"""Standalone questions from a conversation (serving.conversation)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from serving.conversation import carried, is_follow_up, rewrite, rewrite_with_generator
from serving.protocols import Message

VALVE_TURN = [
    Message("user", "Which valve model is approved for continuous operation at 40 bar?"),
    Message(
        "assistant",
        "The XJ-220 is the only model in the series approved for continuous operation "
        "at 40 bar [1].",
    ),
]


class Scripted:
    """A generator that replies with a fixed text and records the prompt."""

    name = "scripted"

    def __init__(self, reply: str) -> None:
        self.reply = reply
        self.prompts: list[Sequence[Message]] = []

    def stream(self, messages, *, max_tokens, temperature) -> Iterator[str]:
        self.prompts.append(messages)
        yield self.reply


def test_the_issue_follow_up_mentions_the_model_of_the_earlier_answer():
    result = rewrite("What is the peak pressure rating of that model?", VALVE_TURN)
    assert result.method == "rule"
    assert result.text == "What is the peak pressure rating of the XJ-220 model?"


@pytest.mark.parametrize(
    ("question", "standalone"),
    [
        ("What is its peak pressure?", "What is XJ-220's peak pressure?"),
        ("Is it approved for steam?", "Is XJ-220 approved for steam?"),
        ("And the peak rating?", "And the peak rating? (XJ-220)"),
    ],
)
def test_pronouns_and_elliptic_follow_ups(question, standalone):
    assert rewrite(question, VALVE_TURN).text == standalone


def test_questions_that_stand_alone_are_unchanged():
    for question in ("What is the peak rating of the XJ-110?", "How often are pumps inspected?"):
        result = rewrite(question, VALVE_TURN)
        assert (result.text, result.method) == (question, "unchanged")
    assert rewrite("What is its peak pressure?", []).method == "unchanged"


def test_the_user_question_of_the_latest_turn_wins_over_its_answer():
    history = [
        Message("user", "What does sqlite3.Cursor.executescript do?"),
        Message("assistant", "It executes several SQL statements at once [1]."),
    ]
    assert carried(history) == ["sqlite3.Cursor.executescript"]
    assert rewrite("What does it return?", history).text == (
        "What does sqlite3.Cursor.executescript return?"
    )


def test_follow_up_detection():
    assert is_follow_up("What is the peak pressure rating of that model?")
    assert not is_follow_up("What is the peak rating of the XJ-110?")
    assert not is_follow_up("How often are pumps inspected?")


def test_a_capable_generator_rewrites_when_it_keeps_the_entities():
    generator = Scripted("What is the peak pressure rating of the XJ-220 valve?")
    result = rewrite_with_generator(
        generator, "What is the peak pressure rating of that model?", VALVE_TURN
    )
    assert (result.text, result.method) == (
        "What is the peak pressure rating of the XJ-220 valve?",
        "generator",
    )
    prompt = generator.prompts[0][-1].content
    assert "XJ-220" in prompt
    assert "Last question: What is the peak pressure rating" in prompt


@pytest.mark.parametrize(
    "reply",
    ["What is the peak pressure rating of the XJ-265?", "", "Sure!\nHere it is: ...", "x" * 500],
)
def test_a_generator_reply_that_drops_the_entity_falls_back_to_the_rule(reply):
    result = rewrite_with_generator(
        Scripted(reply), "What is the peak pressure rating of that model?", VALVE_TURN
    )
    assert (result.text, result.method) == (
        "What is the peak pressure rating of the XJ-220 model?",
        "rule",
    )
