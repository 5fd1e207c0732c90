"""Citation markers in a streamed answer: recognise, validate against the sources, normalise.

Recognised forms (case-insensitive, spaces allowed inside the brackets):
``[1]``, ``[1, 2]`` / ``[1; 2]``, ``[1-3]`` / ``[1–3]`` (ranges of at most MAX_RANGE numbers),
``[Source 1]`` / ``[Sources 1, 2]``, and adjacent markers ``[1][3]``. Numbers have 1-3 digits.

A bracket is *not* a marker when it follows a letter, digit or underscore (``a[1]``, ``x[0]``),
or inside backtick code (`` `a[1]` ``, fenced blocks), so code and indexing stay untouched.

Rewriting: every marker is replaced by its valid numbers in canonical form, one bracket each
(``[Source 1, 9]`` with 9 not given becomes ``[1]``), so clients only need to link ``[n]``.
Each number that was not given is dropped and counted; a marker with no valid number is removed
together with the whitespace before it. To do this while streaming, the tracker holds back a
possible marker (``[`` and what follows, up to MAX_HELD characters) and trailing whitespace until
the next delta resolves them; `finish()` flushes what is left as plain text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from serving.protocols import Source

MAX_RANGE = 10
MAX_HELD = 40

_NUM = r"\d{1,3}(?:\s*[-–]\s*\d{1,3})?"
_ITEM = rf"(?:sources?\s*:?\s*)?{_NUM}"
MARKER = re.compile(rf"\[\s*({_ITEM}(?:\s*[,;]\s*{_ITEM})*)\s*\]", re.IGNORECASE)
_PARTIAL = re.compile(r"\[[\w\s,;:\-–]*", re.IGNORECASE)  # could still become a marker
_ITEM_RE = re.compile(r"(\d{1,3})(?:\s*[-–]\s*(\d{1,3}))?")


def parse_numbers(inner: str) -> tuple[list[int], int]:
    """Numbers named inside one marker, in order without repeats, and the count of bad ranges."""
    numbers: list[int] = []
    bad = 0
    for match in _ITEM_RE.finditer(inner):
        low = int(match.group(1))
        high = int(match.group(2)) if match.group(2) else low
        if high < low or high - low >= MAX_RANGE:
            bad += 1
            continue
        numbers.extend(n for n in range(low, high + 1) if n not in numbers)
    return numbers, bad


class CitationTracker:
    """Feed answer deltas; get back text that is safe to show, with citations validated."""

    def __init__(self, sources: Sequence[Source]) -> None:
        self._by_number = {source.number: source for source in sources}
        self._cited: list[Source] = []
        self._dropped = 0
        self._held = ""  # text not yet emitted: trailing whitespace and/or a possible marker
        self._prev = ""  # the last character emitted
        self._after_marker = False  # the last thing emitted was a marker ("[1][2]")
        self._backticks = 0  # backticks emitted so far; odd = inside code
        self._space = ""  # whitespace before a removed marker, kept for an adjacent valid one

    @property
    def cited(self) -> list[Source]:
        """The valid cited sources, in first-cited order."""
        return list(self._cited)

    @property
    def dropped(self) -> int:
        """How many cited numbers (or malformed ranges) named no source given."""
        return self._dropped

    def feed(self, delta: str) -> str:
        """Take the next delta; return the text that can be emitted now."""
        self._held += delta
        return self._drain(final=False)

    def finish(self) -> str:
        """End of stream: return whatever was held back, as plain text."""
        return self._drain(final=True)

    def _drain(self, *, final: bool) -> str:
        out: list[str] = []
        buf = self._held
        while buf:
            i = buf.find("[")
            if i < 0:
                keep = 0 if final else len(buf) - len(buf.rstrip())
                self._emit(out, buf[: len(buf) - keep])
                buf = buf[len(buf) - keep :]
                break
            ws_start = len(buf[:i].rstrip())
            self._emit(out, buf[:ws_start])
            buf = buf[ws_start:]
            i -= ws_start
            if not self._could_cite(spaced=i > 0):
                self._emit(out, buf[: i + 1])
                buf = buf[i + 1 :]
                continue
            match = MARKER.match(buf, i)
            if match:
                self._emit_marker(out, buf[:i], match.group(1))
                buf = buf[match.end() :]
                continue
            partial = _PARTIAL.match(buf, i)
            if not final and partial and partial.end() == len(buf) and len(buf) - i <= MAX_HELD:
                break  # may still become a marker: wait for the next delta
            self._emit(out, buf[: i + 1])
            buf = buf[i + 1 :]
        self._held = buf
        return "".join(out)

    def _could_cite(self, *, spaced: bool) -> bool:
        """Whether a "[" at this point may open a marker (see the module docstring)."""
        if self._backticks % 2:
            return False
        return spaced or self._after_marker or not (self._prev.isalnum() or self._prev == "_")

    def _emit(self, out: list[str], text: str) -> None:
        if not text:
            return
        out.append(text)
        self._prev = text[-1]
        self._after_marker = False
        self._space = ""
        self._backticks += text.count("`")

    def _emit_marker(self, out: list[str], space: str, inner: str) -> None:
        numbers, bad = parse_numbers(inner)
        valid = [n for n in numbers if n in self._by_number]
        self._dropped += bad + len(numbers) - len(valid)
        if not valid:  # removed, with the whitespace before it unless a valid marker follows
            self._space += space
            self._after_marker = True
            return
        self._record(valid)
        self._emit(out, self._space + space + "".join(f"[{n}]" for n in valid))
        self._after_marker = True

    def _record(self, numbers: Iterable[int]) -> None:
        for n in numbers:
            source = self._by_number[n]
            if source not in self._cited:
                self._cited.append(source)


def parse_citations(text: str, sources: Sequence[Source]) -> tuple[str, list[Source], int]:
    """Whole-text convenience: (normalised text, cited sources, dropped count)."""
    tracker = CitationTracker(sources)
    clean = tracker.feed(text) + tracker.finish()
    return clean, tracker.cited, tracker.dropped
