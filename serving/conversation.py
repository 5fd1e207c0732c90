"""A standalone question from a conversation, for retrieval: the client holds the history.

**Model-free** (`rewrite`): a question that names no entity of its own (no code or identifier,
`serving.specifics`) and refers back ("that model", "it", "its", "the same", or opens with
"and" / "what about") takes the entities of the latest earlier turn that has any: the user's
question of that turn first, else the first entity the assistant's answer names (its subject).
A demonstrative phrase becomes ``the <entity> <noun>`` ("that model" -> "the XJ-220 model"),
"it" / "its" become the entity / ``<entity>'s``; when no phrase can be replaced the entities are
appended in brackets. Any other question is returned as it is.

**With a generator** (`rewrite_with_generator`, for a capable configured model): the model is
asked for the standalone question at temperature 0; its reply is used only when it is one
non-empty line of sensible length that keeps every entity the model-free rewrite carries, else
the model-free rewrite is. Nothing is stored: the history lives in the request only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from serving.protocols import Generator, Message
from serving.specifics import specifics

MAX_ENTITIES = 2
HISTORY_TURNS = 6
TURN_CHARS = 1000

_NOUN_PHRASE = re.compile(
    r"\b(?:that|this|these|those|the same|said)\s+([a-z][\w-]*)", re.IGNORECASE
)
_PRONOUN = re.compile(r"\b(its|it|they|them|their)\b", re.IGNORECASE)
_OPENER = re.compile(r"^\s*(?:and|also|what about|how about|and what about)\b", re.IGNORECASE)

REWRITE_PROMPT = (
    "Rewrite the user's last question so that it can be understood without the conversation. "
    "Keep every name, model, code and number it refers to. Reply with the question only."
)


@dataclass(frozen=True)
class Standalone:
    """The question retrieval uses, and how it was made."""

    text: str
    method: Literal["unchanged", "rule", "generator"]


def entities(text: str) -> list[str]:
    """The codes and identifiers `text` names, in order (`XJ-220`, `os.path.join`)."""
    return [s.text for s in specifics(text) if s.kind == "code"]


def carried(history: Sequence[Message]) -> list[str]:
    """The entities a follow-up inherits (see the module docstring)."""
    turns: list[tuple[str, str]] = []  # (question, answer)
    for message in history[-HISTORY_TURNS:]:
        if message.role == "user" or not turns:
            turns.append((message.content if message.role == "user" else "", ""))
        if message.role == "assistant":
            turns[-1] = (turns[-1][0], turns[-1][1] + " " + message.content)
    for question, answer in reversed(turns):
        if found := entities(question):
            return found[:MAX_ENTITIES]
        if found := entities(answer):
            return found[:1]
    return []


def is_follow_up(question: str) -> bool:
    """Whether `question` names no entity and refers back to an earlier turn."""
    if entities(question):
        return False
    refers = _NOUN_PHRASE.search(question) or _PRONOUN.search(question)
    return bool(refers or _OPENER.match(question))


def rewrite(question: str, history: Sequence[Message]) -> Standalone:
    """The model-free standalone question (see the module docstring)."""
    names = carried(history)
    if not names or not is_follow_up(question):
        return Standalone(question, "unchanged")
    name = " ".join(names)
    text, count = _NOUN_PHRASE.subn(lambda m: f"the {name} {m.group(1)}", question, count=1)
    if not count:
        text, count = _PRONOUN.subn(lambda m: _pronoun(m.group(1), name), question, count=1)
    if not count:
        text = f"{question.rstrip()} ({', '.join(names)})"
    return Standalone(text, "rule")


def _pronoun(word: str, name: str) -> str:
    return f"{name}'s" if word.lower() in ("its", "their") else name


def rewrite_with_generator(
    generator: Generator,
    question: str,
    history: Sequence[Message],
    *,
    max_tokens: int = 64,
) -> Standalone:
    """The generator's standalone question when it passes the checks, else `rewrite`'s."""
    fallback = rewrite(question, history)
    if not history:
        return fallback
    reply = "".join(
        generator.stream(_messages(question, history), max_tokens=max_tokens, temperature=0.0)
    )
    lines = [line.strip().strip("\"'") for line in reply.strip().splitlines() if line.strip()]
    if len(lines) != 1 or not 3 <= len(lines[0]) <= 2 * len(fallback.text) + 80:
        return fallback
    wanted = entities(fallback.text)
    if any(name.casefold() not in lines[0].casefold() for name in wanted):
        return fallback
    return Standalone(lines[0], "generator")


def _messages(question: str, history: Sequence[Message]) -> list[Message]:
    turns = [
        f"{m.role.capitalize()}: {' '.join(m.content.split())[:TURN_CHARS]}"
        for m in history[-HISTORY_TURNS:]
        if m.role in ("user", "assistant")
    ]
    body = "Conversation:\n" + "\n".join(turns) + f"\n\nLast question: {question.strip()}"
    return [Message(role="system", content=REWRITE_PROMPT), Message(role="user", content=body)]
