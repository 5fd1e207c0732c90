"""Units and sentences with offsets (serving.text): abbreviations, numbers, lists, tables, code."""

from __future__ import annotations

import pytest

from serving.text import question_terms, rarity, sentence_spans, terms, units
from tests.unit.trust_samples import INFECTION, PUMP, VALVE


def _sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        (
            "The XJ-220 is the only model in the series approved for continuous operation at "
            "40 bar. The other models may be run at 40 bar for at most 15 minutes per hour.",
            [
                "The XJ-220 is the only model in the series approved for continuous operation "
                "at 40 bar.",
                "The other models may be run at 40 bar for at most 15 minutes per hour.",
            ],
        ),
        ("Use e.g. a torque driver. Done.", ["Use e.g. a torque driver.", "Done."]),
        ("See Fig. 3 and approx. 5 bar. Next.", ["See Fig. 3 and approx. 5 bar.", "Next."]),
        (
            "Version 3.5 added os.path.join. It is new.",
            ["Version 3.5 added os.path.join.", "It is new."],
        ),
        ("As J. Smith wrote. Yes.", ["As J. Smith wrote.", "Yes."]),
        ("1. Switch the pump off.", ["1. Switch the pump off."]),
        ("See section 3. E77 is a motor stall.", ["See section 3.", "E77 is a motor stall."]),
        (
            "It is 40 bar [1]. Its peak is 64 bar.[2] End",
            ["It is 40 bar [1].", "Its peak is 64 bar.[2]", "End"],
        ),
        ("Call `conn. Execute()` now. Ok.", ["Call `conn. Execute()` now.", "Ok."]),
        ("Is it rated? Yes! It is… Really.", ["Is it rated?", "Yes!", "It is…", "Really."]),
        ("Raise ValueError. then continue.", ["Raise ValueError. then continue."]),
        ('He said "stop." Then left.', ['He said "stop."', "Then left."]),
    ],
)
def test_sentences(text, sentences):
    assert _sentences(text) == sentences


def test_units_of_a_parsed_manual_keep_offsets_and_kinds():
    found = units(PUMP)
    assert all(PUMP[u.start : u.end] == u.text for u in found)
    rows = [u for u in found if u.kind == "row"]
    assert [r.text for r in rows][:2] == [
        "Fastener | Part number | Torque",
        "Door hinge screws | XJ-220-HS4 | 0.6 N·m",
    ]
    assert len({r.block for r in rows}) == 1
    exception = next(u for u in found if u.text.startswith("Exception:"))
    assert exception.kind == "sentence"
    assert exception.text.endswith("which is not interchangeable.")
    assert "2. Torque values" in [u.text for u in found]


def test_list_items_each_start_a_unit():
    text = "Steps:\n- Switch the pump off\n- Remove the cover\n2) Refit it. Then test."
    assert [u.text for u in units(text)] == [
        "Steps:",
        "- Switch the pump off",
        "- Remove the cover",
        "2) Refit it.",
        "Then test.",
    ]


def test_code_blocks_are_one_unit():
    text = (
        "Example:\n\n>>> import os\n>>> os.path.join('a', 'b')\n'a/b'\n\n```\nx = 1. \nY = 2\n```"
    )
    found = units(text)
    assert [u.kind for u in found] == ["sentence", "code", "code"]
    assert found[1].text.startswith(">>> import os")


def test_every_sample_splits_into_exact_spans():
    for text in (PUMP, INFECTION, VALVE):
        found = units(text)
        assert found
        assert all(text[u.start : u.end] == u.text and u.text.strip() == u.text for u in found)
        assert all(a.end <= b.start for a, b in zip(found, found[1:], strict=False))


def test_terms_drop_stop_words_and_stem():
    assert terms("Staff wear gowns; the pumps are operating; operation at 40 bar.") == [
        "staff",
        "wear",
        "gown",
        "pump",
        "operat",
        "operat",
        "40",
        "bar",
    ]


def test_rarity_weighs_unseen_terms_most():
    weights = rarity([frozenset({"bar", "xj"}), frozenset({"bar"})])
    assert weights[""] > weights["xj"] > weights["bar"] > 0


def test_question_terms_leave_the_question_frame_out():
    assert question_terms("What does error E31 mean?") == ["error", "e31"]
    assert question_terms("How long must alcohol hand rub be used?") == [
        "alcoho",
        "hand",
        "rub",
        "used",
    ]


def test_a_fenced_code_block_is_one_unit_even_without_blank_lines():
    text = (
        "Here is an example:\n```python\nimport asyncio\n\ndef f(x):\n    return x. Then\n```\n"
        "It works."
    )
    found = units(text)
    assert [(u.kind, u.text.split("\n")[0]) for u in found] == [
        ("sentence", "Here is an example:"),
        ("code", "```python"),
        ("sentence", "It works."),
    ]
    assert found[1].text.endswith("```")
