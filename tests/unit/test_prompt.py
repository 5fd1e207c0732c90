"""The grounded prompt: rules, numbered sources with their place, and the token budget."""

from __future__ import annotations

import pytest

from serving.prompt import (
    NO_ANSWER,
    TRUNCATION_MARK,
    approx_tokens,
    build_messages,
    fit_texts,
    source_header,
)
from serving.protocols import Source


def _source(n: int, text: str, *, section: str = "Setup", page: int | None = 3) -> Source:
    return Source(
        number=n,
        chunk_id=f"c{n}",
        document=f"d{n}",
        title=f"Manual {n}",
        section=section,
        page=page,
        text=text,
    )


def test_system_message_states_the_rules():
    system, user = build_messages("How?", [_source(1, "Turn it.")])
    assert (system.role, user.role) == ("system", "user")
    assert "ONLY" in system.content
    assert "[1]" in system.content
    assert NO_ANSWER in system.content


def test_user_message_numbers_sources_with_title_section_page_then_the_question():
    sources = [_source(1, "Alpha text."), _source(2, "Beta text.", section="", page=None)]
    _, user = build_messages("What is beta?", sources)
    assert user.content.index("[1] Manual 1 — Setup (page 3)\nAlpha text.") < user.content.index(
        "[2] Manual 2\nBeta text."
    )
    assert user.content.rstrip().endswith("Question: What is beta?")


def test_source_numbers_are_the_callers_not_positions():
    _, user = build_messages("q", [_source(4, "four"), _source(7, "seven")])
    assert "[4] " in user.content
    assert "[7] " in user.content
    assert "[1] " not in user.content


def test_header_without_title_or_section():
    source = Source(number=2, chunk_id="c", document="d", title="", section=" ", page=None, text="")
    assert source_header(source) == "[2] (untitled)"


def test_sources_are_truncated_to_fit_the_context():
    long = " ".join(["word"] * 20_000)  # ~33k approximate tokens
    sources = [_source(1, long), _source(2, "Short and whole."), _source(3, long)]
    system, user = build_messages("q?", sources, context_tokens=2048, max_tokens=256)
    total = approx_tokens(system.content) + approx_tokens(user.content)
    assert total <= 2048 - 256
    assert "Short and whole." in user.content  # the short source keeps its text
    assert user.content.count(TRUNCATION_MARK) == 2
    assert total > 2048 - 256 - 200  # and the budget is used, not wasted


def test_whole_sources_are_untouched_when_they_fit():
    text = "The XJ-220 pump has a torque of 42 Nm."
    _, user = build_messages("q", [_source(1, text)], context_tokens=8192, max_tokens=384)
    assert text in user.content
    assert TRUNCATION_MARK not in user.content


def test_a_question_too_long_for_the_context_is_refused():
    with pytest.raises(ValueError, match="context window"):
        build_messages("why " * 5000, [_source(1, "x")], context_tokens=1024, max_tokens=256)


def test_fit_texts_shares_what_short_texts_leave():
    texts = ["a" * 30, "b" * 3000, "c" * 3000]
    fitted = fit_texts(texts, 300)
    assert fitted[0] == texts[0]
    assert sum(approx_tokens(t) for t in fitted) <= 300
    assert abs(len(fitted[1]) - len(fitted[2])) <= 3


def test_no_sources_still_builds_a_prompt():
    _, user = build_messages("q", [])
    assert "(no sources)" in user.content
