"""Citation markers: recognised forms, validation against the sources given, streaming splits."""

from __future__ import annotations

import pytest

from serving.citations import CitationTracker, parse_citations
from serving.protocols import Source


def _source(n: int) -> Source:
    return Source(
        number=n, chunk_id=f"c{n}", document=f"d{n}", title="T", section="", page=1, text="t"
    )


SOURCES = [_source(1), _source(2), _source(3)]


def _numbers(sources: list[Source]) -> list[int]:
    return [s.number for s in sources]


@pytest.mark.parametrize(
    ("text", "clean", "cited", "dropped"),
    [
        ("A [1]. B [2].", "A [1]. B [2].", [1, 2], 0),
        ("A [2, 1] and [3;1].", "A [2][1] and [3][1].", [2, 1, 3], 0),
        ("A [1-3].", "A [1][2][3].", [1, 2, 3], 0),
        ("A [1–2].", "A [1][2].", [1, 2], 0),
        ("A [1][3].", "A [1][3].", [1, 3], 0),
        ("A [Source 2] [sources 1, 3].", "A [2] [1][3].", [2, 1, 3], 0),
        ("A [ 2 ].", "A [2].", [2], 0),
        ("No citations at all.", "No citations at all.", [], 0),
    ],
)
def test_recognised_forms_are_normalised(text, clean, cited, dropped):
    got_clean, got_cited, got_dropped = parse_citations(text, SOURCES)
    assert (got_clean, _numbers(got_cited), got_dropped) == (clean, cited, dropped)


@pytest.mark.parametrize(
    ("text", "clean", "cited", "dropped"),
    [
        ("A [7].", "A.", [], 1),  # removed with the space before it
        ("A [0] b.", "A b.", [], 1),
        ("A [1, 7, 9].", "A [1].", [1], 2),
        ("A [2-5].", "A [2][3].", [2, 3], 2),
        ("A [1-50].", "A.", [], 1),  # an absurd range counts once
        ("A [3-1].", "A.", [], 1),
        ("A [9][2] b", "A [2] b", [2], 1),
    ],
)
def test_numbers_not_given_are_dropped_and_counted(text, clean, cited, dropped):
    got_clean, got_cited, got_dropped = parse_citations(text, SOURCES)
    assert (got_clean, _numbers(got_cited), got_dropped) == (clean, cited, dropped)


@pytest.mark.parametrize(
    "text",
    [
        "Use a[1] or x[0] to index.",
        "Inline `items[2]` code.",
        "```\nvalues = [1, 9]\n```\n",
        "The year [2023] and a [note].",
        "An unclosed [1 bracket",
        "Nested [[1]] stays? ",
    ],
)
def test_text_that_is_not_a_marker_is_left_alone(text):
    clean, cited, dropped = parse_citations(text, SOURCES)
    if "[[" in text:  # the inner marker is one; the outer brackets are text
        assert clean == "Nested [[1]] stays? "
        assert _numbers(cited) == [1]
        return
    assert (clean, cited, dropped) == (text, [], 0)


def test_first_cited_order_without_repeats():
    _, cited, _ = parse_citations("[3] x [1] y [3] z [2][1]", SOURCES)
    assert _numbers(cited) == [3, 1, 2]


def test_marker_split_across_deltas_is_held_back_until_resolved():
    tracker = CitationTracker(SOURCES)
    out = [tracker.feed(d) for d in ["Pumps", " [", "1", "]", " work", " [", "8", "]", "."]]
    out.append(tracker.finish())
    assert out[1:3] == ["", ""]  # nothing shown while "[1" is undecided
    assert "".join(out) == "Pumps [1] work."
    assert _numbers(tracker.cited) == [1]
    assert tracker.dropped == 1


@pytest.mark.parametrize("size", [1, 2, 3, 5])
def test_any_split_gives_the_same_result(size):
    text = "A [1, 2] b [Source 3][9]. c[1] `d [2]` e [1-2] [x] f [7] g."
    whole = parse_citations(text, SOURCES)
    tracker = CitationTracker(SOURCES)
    parts = [tracker.feed(text[i : i + size]) for i in range(0, len(text), size)]
    parts.append(tracker.finish())
    assert ("".join(parts), tracker.cited, tracker.dropped) == whole


def test_unfinished_marker_is_flushed_as_text_at_the_end():
    tracker = CitationTracker(SOURCES)
    assert tracker.feed("Open [2") == "Open"
    assert tracker.finish() == " [2"
    assert tracker.cited == []


def test_a_long_bracket_is_not_held_forever():
    tracker = CitationTracker(SOURCES)
    shown = tracker.feed("[" + "1 " * 30)
    assert shown.startswith("[")
