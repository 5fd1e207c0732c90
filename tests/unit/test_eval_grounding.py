"""The verifier-independent invented-specifics check (evals.grounding)."""

from __future__ import annotations

from evals.grounding import invented_specifics, specific_tokens
from tests.unit.trust_samples import PUMP, VALVE


def test_specific_tokens():
    text = (
        "1. The XJ-220 [1] is rated 40 bar; see max_wal_senders, os.path.join, SQLite, MRSA, "
        "error 42P01 and 1,000 ppm, e.g. fit-tested masks."
    )
    assert specific_tokens(text) == [
        "XJ-220",
        "40",
        "max_wal_senders",
        "os.path.join",
        "SQLite",
        "MRSA",
        "42P01",
        "1000",
    ]


def test_the_issue_answer_invents_its_model_and_torque():
    shown = "The XJ-265 (XK-78) is a high-end pump rated 96 N·m [1]."
    assert invented_specifics(shown, [VALVE, PUMP]) == ["XJ-265", "XK-78", "96"]


def test_a_grounded_answer_invents_nothing():
    shown = (
        "The XJ-220 is the only model in the series approved for continuous operation at "
        "40 bar [1]. Tighten the pole clamp bolt XJ-220-PC1 to 4.5 N·m [2]."
    )
    assert invented_specifics(shown, [VALVE, PUMP]) == []


def test_a_part_of_a_longer_code_is_not_found_as_a_whole_token():
    assert invented_specifics("XJ-22 and XJ-2200", [VALVE]) == ["XJ-22", "XJ-2200"]
