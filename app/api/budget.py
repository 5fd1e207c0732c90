"""A time budget on an answer's work, and streams that stop their generator when they end.

`within(events, seconds)` passes the answer's events on until the budget is spent, then closes
them (retrieval done, generation stopped) and raises `BudgetExceeded`: a 504 for a JSON answer,
an in-band `error` event that ends an SSE stream. `closing(frames)` is the body of a streamed
response: the frames are pulled on worker threads, and when the response ends, early too (the
client went away, or the server is shutting down), the frames' generator is closed, which
closes the model's stream.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import anyio

from app.errors import BudgetExceeded

T = TypeVar("T")


def within(events: Iterator[T], seconds: float) -> Iterator[T]:
    """`events` until `seconds` from now have passed; then closed, and `BudgetExceeded`."""
    deadline = time.monotonic() + seconds

    def bounded() -> Iterator[T]:
        try:
            for event in events:
                if time.monotonic() > deadline:
                    raise BudgetExceeded(f"the answer took longer than its {seconds:g} s budget")
                yield event
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()

    return bounded()


async def closing(frames: Iterator[str]) -> AsyncIterator[str]:
    """`frames` as an async stream; closed however the stream ends."""
    try:
        while True:
            frame = await anyio.to_thread.run_sync(next, frames, None)
            if frame is None:
                return
            yield frame
    finally:
        close = getattr(frames, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(close)
