"""Start an answer before its response does: an unreachable generator is then a plain 503 with
Retry-After (the error envelope), not a 200 whose stream carries an error event.

`started(events)` pulls events until the generator has produced something (the first text
delta, or the end), raising whatever failed on the way; the stream then replays them.
Failures after that are reported in-band by the stream, as before.
"""

from __future__ import annotations

from collections.abc import Iterator

from app.services.answers import AnswerEvent
from serving.answer import Delta, Done


def started(events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    head: list[AnswerEvent] = []
    for event in events:
        head.append(event)
        if isinstance(event, Delta | Done):
            break
    return _replay(head, events)


def _replay(head: list[AnswerEvent], events: Iterator[AnswerEvent]) -> Iterator[AnswerEvent]:
    yield from head
    yield from events  # closing the stream closes the answer (and the generator's connection)
