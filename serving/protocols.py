"""The generator protocol and the values that cross it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol


@dataclass(frozen=True)
class Message:
    role: Literal["system", "user", "assistant"]
    content: str


class Generator(Protocol):
    """A chat model behind the OpenAI-compatible API (or in-process with the same semantics)."""

    name: str  # the model's name, reported with every answer

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        """Yield the answer's text deltas as the model produces them."""
        ...

    def close(self) -> None:
        """Release the model or the connection (idempotent)."""
        ...


@dataclass(frozen=True)
class Source:
    """A numbered passage given to the generator; citations [n] refer to `number`."""

    number: int
    chunk_id: str
    document: str
    title: str
    section: str
    page: int | None
    text: str
    # (offset into `text`, heading path) at each change of section; empty: `section` throughout
    sections: tuple[tuple[int, str], ...] = ()
