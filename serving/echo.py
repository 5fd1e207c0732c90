"""A deterministic generator for tests: it quotes and cites the sources it was given."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from serving.prompt import NO_ANSWER
from serving.protocols import Message

_SOURCE = re.compile(r"^\[(\d+)\] [^\n]*\n([^\n]*)", re.MULTILINE)


class EchoGenerator:
    """Answers "According to [1], <first words of source 1>. [2] <first words of source 2>. ..."

    It reads the numbered sources from the last user message (the format `build_messages`
    writes) and streams the answer in `chunk_chars`-character deltas, so citation markers are
    split across deltas just as a real model's are. One delta counts as one token for
    `max_tokens`. With no sources it answers the fixed no-answer sentence.
    """

    def __init__(self, *, words: int = 8, chunk_chars: int = 3, name: str = "echo") -> None:
        self.name = name
        self._words = words
        self._chunk = chunk_chars

    def answer(self, messages: Sequence[Message]) -> str:
        """The full answer `stream` would produce."""
        user = next((m.content for m in reversed(messages) if m.role == "user"), "")
        parts = []
        for i, match in enumerate(_SOURCE.finditer(user)):
            quote = " ".join(match.group(2).split()[: self._words]).rstrip(".")
            lead = "According to " if i == 0 else ""
            parts.append(f"{lead}[{match.group(1)}], {quote}.")
        return " ".join(parts) if parts else NO_ANSWER

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        text = self.answer(messages)
        chunks = [text[i : i + self._chunk] for i in range(0, len(text), self._chunk)]
        yield from chunks[:max_tokens]

    def close(self) -> None:
        """Nothing to release."""
