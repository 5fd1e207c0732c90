"""The extractive answer, the matching passage and abstention (serving.extractive, .abstain)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from serving.abstain import ABSTAIN_BELOW, calibrate, decide
from serving.extractive import best_passage, extract_answer
from serving.protocols import Source
from serving.verify import verify_answer
from tests.unit.trust_samples import INFECTION, KEY_SENTENCE, SOURCES, VALVE, numbered


def test_the_valve_question_is_answered_by_its_sentence():
    answer = extract_answer(
        "Which valve model is approved for continuous operation at 40 bar?", SOURCES
    )
    assert [e.text for e in answer.extracts] == [KEY_SENTENCE]
    [extract] = answer.extracts
    assert extract.source == 1
    assert VALVE[extract.start : extract.end] == KEY_SENTENCE
    assert answer.text == f"{KEY_SENTENCE[:-1]} [1]."
    assert answer.strength >= ABSTAIN_BELOW


def test_a_table_row_comes_with_its_header():
    answer = extract_answer("What torque for the pole clamp bolt?", SOURCES)
    assert [e.text for e in answer.extracts] == [
        "Fastener | Part number | Torque",
        "Pole clamp bolt | XJ-220-PC1 | 4.5 N·m",
    ]
    assert answer.cited == (2,)


def test_the_exception_paragraph_of_a_procedure():
    answer = extract_answer(
        "Which battery pack do pumps with serial numbers below 22-04000 use?", SOURCES
    )
    assert answer.extracts[0].text.startswith("Exception: pumps with serial numbers below 22-04000")


def test_extracts_are_in_reading_order_and_within_the_budget():
    question = "What is the peak pressure rating of the XJ-220?"
    answer = extract_answer(question, SOURCES, budget_chars=200)
    keys = [(e.source, e.start) for e in answer.extracts]
    assert keys == sorted(keys)
    assert sum(e.end - e.start for e in answer.extracts if e.score > 0) <= 200
    assert any("XJ-220 | 40 bar | 64 bar" in e.text for e in answer.extracts)


def test_every_extract_is_verified_as_supported():
    for question in (
        "Which valve model is approved for continuous operation at 40 bar?",
        "What does error E31 mean?",
        "How long must alcohol hand rub be used?",
        "Which respirator is worn for tuberculosis?",
    ):
        answer = extract_answer(question, SOURCES)
        result = verify_answer(answer.text, SOURCES)
        assert result.supported_share == 1.0, question


def test_a_question_the_sources_do_not_answer_is_weak():
    answer = extract_answer("What is the boiling point of mercury?", SOURCES)
    assert answer.strength < ABSTAIN_BELOW
    assert decide(answer.strength).no_answer


def test_no_sources_no_extracts():
    answer = extract_answer("Which valve?", [])
    assert answer.extracts == ()
    assert answer.strength == 0.0
    assert answer.text == ""


def test_best_passage_points_at_the_sentence_that_matches():
    [valve] = numbered(VALVE)
    passage = best_passage("Which valve is rated for continuous operation at 40 bar?", valve)
    assert passage is not None
    assert VALVE[passage.start : passage.end] == KEY_SENTENCE
    assert best_passage("mercury boiling point", valve) is None


def test_calibration_picks_the_threshold_that_separates_best_within_the_false_budget():
    answerable = [0.9, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55, 0.5, 0.45, 0.2]
    withheld = [0.5, 0.4, 0.35, 0.3, 0.3, 0.25, 0.2, 0.1, 0.6, 0.7]
    result = calibrate(answerable, withheld, max_false=0.10)
    assert result.false_abstention <= 0.10
    assert result.threshold == pytest.approx(0.425)
    assert result.withheld_abstention == 0.7
    assert (result.answerable, result.withheld) == (10, 10)


def test_calibration_never_exceeds_the_false_abstention_budget():
    result = calibrate([0.1, 0.2, 0.3], [0.9, 0.8], max_false=0.0)
    assert result.threshold == 0.0
    assert result.false_abstention == 0.0
    with pytest.raises(ValueError, match="calibration"):
        calibrate([], [0.1])


def test_decide_can_require_a_retrieval_score_too():
    assert not decide(0.9, threshold=0.5).no_answer
    assert decide(0.9, threshold=0.5, retrieval_score=0.1, min_retrieval=0.3).no_answer
    assert decide(0.4, threshold=0.5).no_answer


PUMP_END = (
    "3. Replacing the battery\n\nSwitch the pump off and disconnect mains power.\n\n"
    "4. Error codes\n\nE00 means the self-test passed. E31 indicates a failed battery; replace "
    "the battery pack as described in section 3."
)
MANUAL = "XJ-220 Infusion Pump — Maintenance Manual"
PLACES = (
    (0, f"{MANUAL} > 3. Replacing the battery"),
    (PUMP_END.index("4. Error codes"), f"{MANUAL} > 4. Error codes"),
)


def the_pump_end_first(**where: object) -> list[Source]:
    """The end of the pump manual as source 1 (`where`: its title, section and sections), then
    the infection handbook and the valve manual."""
    pump, infection, valve = numbered(PUMP_END, INFECTION, VALVE)
    return [replace(pump, **where), infection, valve]


def test_a_sentence_is_read_with_the_title_and_headings_it_sits_under():
    question = "What does error code E31 mean on the XJ-220 pump?"
    plain = extract_answer(question, the_pump_end_first())
    placed = extract_answer(
        question,
        the_pump_end_first(title="pump-manual", section=MANUAL, sections=PLACES),
    )
    assert plain.strength < ABSTAIN_BELOW  # "error code" and "XJ-220" are only in the headings
    assert placed.strength >= ABSTAIN_BELOW
    assert placed.extracts[0].text.startswith("E31 indicates a failed battery")
    assert placed.cited == (1,)


def test_headings_add_to_a_sentence_that_matches_but_do_not_answer_what_it_lacks():
    sources = the_pump_end_first(title="pump-manual", section=MANUAL, sections=PLACES)
    for question in (
        "What does error code E99 mean on the XJ-220 pump?",  # no such code
        "What does E31 mean on the XJ-330 pump?",  # another model
        "What is the warranty period of the XJ-220 pump?",
        "Who wrote the infusion pump manual?",
    ):
        assert extract_answer(question, sources).strength < ABSTAIN_BELOW, question
