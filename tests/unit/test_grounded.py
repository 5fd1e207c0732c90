"""The grounded answer (serving.grounded) and focused sources (serving.focus)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from serving.abstain import ABSTAIN_BELOW
from serving.answer import Delta, Done
from serving.echo import EchoGenerator
from serving.focus import GAP, focus_sources
from serving.grounded import (
    Extracted,
    Finished,
    Flagged,
    Pending,
    Shown,
    VerifiedDone,
    as_answer_events,
    grounded_answer,
)
from serving.prompt import NO_ANSWER
from serving.protocols import Message
from serving.settings import AnswerSettings
from serving.support import SUPPORT_THRESHOLD
from tests.unit.trust_samples import INFECTION, KEY_SENTENCE, PUMP, SOURCES, VALVE, numbered

QUESTION = "Which valve model is approved for continuous operation at 40 bar?"


class Scripted:
    """Streams fixed deltas; records the prompts."""

    name = "scripted"

    def __init__(self, deltas: Sequence[str]) -> None:
        self.deltas = list(deltas)
        self.prompts: list[Sequence[Message]] = []

    def stream(self, messages, *, max_tokens, temperature) -> Iterator[str]:
        self.prompts.append(messages)
        yield from self.deltas


def _run(**kwargs) -> tuple[str, list, Finished]:
    events = list(grounded_answer(QUESTION, SOURCES, **kwargs))
    shown = "".join(e.text for e in events if isinstance(e, Shown))
    finished = events[-1]
    assert isinstance(finished, Finished)
    return shown, events, finished


def test_extractive_mode_answers_with_the_cited_sentence():
    shown, _, finished = _run(mode="extractive")
    assert shown == f"{KEY_SENTENCE[:-1]} [1]."
    assert finished.mode == "extractive"
    assert finished.model == "extractive"
    assert not finished.no_answer
    assert finished.verification.supported_share == 1.0


def test_generator_mode_shows_supported_claims_and_flags_the_invented_one():
    generator = Scripted(
        [
            "The XJ-220 is the only model approved for continuous ",
            "operation at 40 bar [1]. It is certified by the ISPE to",
            " 96 N·m [2]. Tighten the bonnet bolts crosswise to 78 N·m.",
        ]
    )
    shown, events, finished = _run(mode="generator", generator=generator)
    assert shown == (
        "The XJ-220 is the only model approved for continuous operation at 40 bar [1]. "
        "Tighten the bonnet bolts crosswise to 78 N·m [1]."
    )
    [flagged] = [e for e in events if isinstance(e, Flagged)]
    assert flagged.claim.missing == ("ISPE", "96 N·m")
    assert "96" not in shown
    assert finished.verification.claims[2].added
    assert round(finished.verification.supported_share, 3) == 0.667
    assert finished.model == "scripted"


def test_the_generator_reads_focused_sources():
    generator = Scripted([f"{KEY_SENTENCE} [1]"])
    _run(mode="generator", generator=generator)
    prompt = generator.prompts[0][-1].content
    assert KEY_SENTENCE in prompt
    assert "Dedicated equipment" not in prompt  # the infection handbook's unrelated sentences
    assert len(prompt) < len(VALVE) + len(PUMP) + len(INFECTION)


def test_nothing_supported_shows_the_no_answer_sentence():
    generator = Scripted(["The XJ-265 (XK-78) is a high-end pump [1]."])
    shown, events, finished = _run(mode="generator", generator=generator)
    assert shown == NO_ANSWER
    assert finished.no_answer
    assert [type(e) for e in events if not isinstance(e, Pending)] == [Flagged, Shown, Finished]


def test_both_mode_gives_the_extractive_answer_first():
    _, events, finished = _run(mode="both", generator=EchoGenerator(words=30))
    assert isinstance(events[0], Extracted)
    assert events[0].answer.extracts[0].text == KEY_SENTENCE
    assert finished.mode == "both"


def test_abstention_skips_the_generator():
    generator = Scripted(["Mercury boils at 357 °C [1]."])
    events = list(
        grounded_answer(
            "What is the boiling point of mercury?", SOURCES, mode="generator", generator=generator
        )
    )
    assert [e.text for e in events if isinstance(e, Shown)] == [NO_ANSWER]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.no_answer
    assert finished.abstention.no_answer
    assert generator.prompts == []


def test_a_generator_mode_without_a_generator_is_refused():
    with pytest.raises(ValueError, match="needs a generator"):
        list(grounded_answer(QUESTION, SOURCES, mode="generator"))


def test_focus_keeps_the_relevant_sentence_and_its_neighbours():
    [valve] = focus_sources(QUESTION, numbered(VALVE), neighbours=1)
    assert KEY_SENTENCE in valve.text
    assert valve.text.endswith(GAP.rstrip())
    assert "bonnet bolts" not in valve.text
    assert valve.number == 1


def test_focus_keeps_every_source_numbered():
    focused = focus_sources(QUESTION, SOURCES)
    assert [s.number for s in focused] == [1, 2, 3]
    assert all(s.text for s in focused)


def test_answer_settings_default_to_the_calibrated_values():
    settings = AnswerSettings()
    assert settings.mode == "extractive"  # SmolLM2 had no supported claim: not asked
    assert settings.abstain_below == ABSTAIN_BELOW
    assert settings.support_threshold == SUPPORT_THRESHOLD
    with pytest.raises(ValueError, match="mode"):
        AnswerSettings.model_validate({"mode": "free-text"})


def test_both_mode_keeps_the_extractive_answer_when_the_generator_invents():
    generator = Scripted(["The XJ-265 (XK-78) is a high-end pump [1]."])
    events = list(grounded_answer(QUESTION, SOURCES, mode="both", generator=generator))
    assert NO_ANSWER not in [e.text for e in events if isinstance(e, Shown)]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert not finished.no_answer
    assert finished.extracted is not None
    assert finished.verification.supported_share == 0.0


def test_answer_events_carry_the_shown_text_and_the_verification():
    generator = Scripted([f"{KEY_SENTENCE} [1] It is rated 96 N·m [2]."])
    grounded = grounded_answer(QUESTION, SOURCES, mode="generator", generator=generator)
    events = list(as_answer_events(grounded, SOURCES))
    done = events[-1]
    assert isinstance(done, Done)
    assert isinstance(done, VerifiedDone)
    assert "".join(e.text for e in events[:-1] if isinstance(e, Delta)) == (
        f"{KEY_SENTENCE[:-1]} [1]."
    )
    assert [s.number for s in done.citations] == [1]
    assert [c.missing for c in done.flagged] == [("96 N·m",)]
    assert done.mode == "generator"
    assert not done.no_answer


def test_answer_events_in_both_mode_put_the_extractive_answer_first():
    generator = Scripted(["Tighten the bonnet bolts crosswise to 78 N·m [1]."])
    grounded = grounded_answer(QUESTION, SOURCES, mode="both", generator=generator)
    texts = [e.text for e in as_answer_events(grounded, SOURCES) if isinstance(e, Delta)]
    assert texts == [
        f"{KEY_SENTENCE[:-1]} [1].",
        "\n\nTighten the bonnet bolts crosswise to 78 N·m [1].",
    ]
