"""Claim verification (serving.claims, serving.support, serving.verify) on the sample manuals."""

from __future__ import annotations

import numpy as np

from serving.claims import ClaimStream, split_claims
from serving.prompt import NO_ANSWER
from serving.support import SupportFinder
from serving.verify import Verifier, render, verify_answer
from tests.unit.trust_samples import KEY_SENTENCE, PUMP, SOURCES, VALVE, numbered


def test_claims_carry_their_citations():
    claims = split_claims(f"{KEY_SENTENCE[:-1]} [1]. Its peak is 64 bar.[1][2] Use a[1] here.")
    assert [(c.text, c.cited) for c in claims] == [
        (KEY_SENTENCE, (1,)),
        ("Its peak is 64 bar.", (1, 2)),
        ("Use a[1] here.", ()),
    ]
    assert all(c.start < c.end for c in claims)


def test_claim_stream_yields_a_claim_once_the_next_begins():
    answer = f"{KEY_SENTENCE} [1] Its peak pressure rating is 64 bar [1]."
    stream = ClaimStream()
    got = []
    for i in range(0, len(answer), 5):
        got.extend(c.text for c in stream.feed(answer[i : i + 5]))
    assert got == [KEY_SENTENCE]
    assert [c.text for c in stream.finish()] == ["Its peak pressure rating is 64 bar."]


def test_the_issue_answer_is_unsupported_and_not_shown():
    answer = (
        "The XJ-265 (XK-78) is a high-end pump. It is certified by the International Society "
        "of Plumbing Engineers."
    )
    result = verify_answer(answer, SOURCES)
    assert [c.supported for c in result.claims] == [False, False]
    assert result.claims[0].missing == ("XJ-265", "XK-78")
    assert result.supported_share == 0.0
    assert result.no_answer
    assert result.text == NO_ANSWER


def test_a_cited_correct_claim_keeps_its_citation_with_the_span():
    result = verify_answer(f"{KEY_SENTENCE[:-1]} [1].", SOURCES)
    [claim] = result.claims
    assert claim.supported
    assert claim.citations == (1,)
    assert not claim.added
    assert claim.support is not None
    assert VALVE[claim.support.start : claim.support.end] == KEY_SENTENCE
    assert result.text == f"{KEY_SENTENCE[:-1]} [1]."
    assert result.supported_share == 1.0


def test_a_wrong_citation_is_rejected_and_the_right_one_added():
    result = verify_answer("The pole clamp bolt is tightened to 4.5 N·m [3].", SOURCES)
    [claim] = result.claims
    assert claim.supported
    assert claim.citations == (2,)
    assert claim.added
    assert claim.rejected == (3,)
    assert claim.support is not None
    assert PUMP[claim.support.start : claim.support.end] == "Pole clamp bolt | XJ-220-PC1 | 4.5 N·m"


def test_an_uncited_supported_claim_gets_a_citation_marked_added():
    result = verify_answer("Alcohol-based hand rub is used for at least 20 seconds.", SOURCES)
    [claim] = result.claims
    assert claim.supported
    assert claim.citations == (3,)
    assert claim.added
    assert claim.rejected == ()


def test_an_invented_number_is_flagged_and_left_out():
    answer = (
        f"{KEY_SENTENCE} [1] The XJ-220 has a peak pressure rating of 96 bar [1]. "
        "Tighten the bonnet bolts crosswise to 78 N·m [1]."
    )
    result = verify_answer(answer, SOURCES)
    assert [c.supported for c in result.claims] == [True, False, True]
    assert result.claims[1].missing == ("96 bar",)
    assert result.claims[1].rejected == (1,)
    assert "96" not in result.text
    assert (
        result.text == f"{KEY_SENTENCE[:-1]} [1]. Tighten the bonnet bolts crosswise to 78 N·m [1]."
    )
    assert round(result.supported_share, 3) == 0.667


def test_the_table_row_supports_the_peak_rating():
    result = verify_answer("The XJ-220 has a peak pressure rating of 64 bar.", SOURCES)
    [claim] = result.claims
    assert claim.supported, claim.support
    assert claim.support is not None
    assert claim.support.source == 1
    assert "XJ-220 | 40 bar | 64 bar" in VALVE[claim.support.start : claim.support.end]


def test_unrelated_statement_without_specifics_is_unsupported():
    result = verify_answer(
        "Valves should be replaced whenever the manufacturer recommends.", SOURCES
    )
    assert [c.supported for c in result.claims] == [False]


def test_the_model_declining_and_filler_are_not_claims():
    result = verify_answer(f"Here is the answer: {NO_ANSWER}", SOURCES)
    assert result.claims == ()
    assert result.declined
    assert result.no_answer
    assert result.text == NO_ANSWER


def test_identifier_in_pydocs_style_source():
    sources = numbered(
        "token.ENCODING\n\nToken value that indicates the encoding used to decode the source "
        "bytes into text. The first token returned by tokenize.tokenize() will always be an "
        "ENCODING token."
    )
    good = verify_answer(
        "token.ENCODING indicates the encoding used to decode source bytes.", sources
    )
    bad = verify_answer(
        "token.DECODING indicates the encoding used to decode source bytes.", sources
    )
    assert good.claims[0].supported
    assert not bad.claims[0].supported
    assert bad.claims[0].missing == ("token.DECODING",)


def test_embedder_and_cross_encoder_rescore_the_candidates():
    calls: list[int] = []

    def embed(texts):
        calls.append(len(texts))
        return np.ones((len(texts), 4), dtype=np.float32) / 2.0

    finder = SupportFinder(SOURCES, embed=embed)
    found = finder.find(KEY_SENTENCE)
    assert found is not None
    assert found.supported
    assert found.source == 1
    finder.find(KEY_SENTENCE)
    assert calls
    assert sum(calls) <= 9

    low = SupportFinder(SOURCES, cross_score=lambda claim, passages: [0.0] * len(passages))
    found = low.find("The pole clamp bolt is tightened to 4.5 N·m.")
    assert found is not None
    assert not found.supported


def test_render_puts_the_citation_before_the_final_stop():
    result = Verifier(SOURCES).verify("Tighten the bonnet bolts crosswise to 78 N·m!")
    assert render(result.claims[0]) == "Tighten the bonnet bolts crosswise to 78 N·m [1]!"


def test_list_items_stay_on_their_own_lines():
    answer = (
        "Steps:\n- Remove the four battery cover screws (XJ-220-BC2) [2].\n"
        "- Refit the cover and tighten the screws to 0.4 N·m [2].\n- Pray for 3 hours [2]."
    )
    result = verify_answer(answer, SOURCES)
    assert result.text == (
        "- Remove the four battery cover screws (XJ-220-BC2) [2].\n"
        "- Refit the cover and tighten the screws to 0.4 N·m [2]."
    )
    assert [c.supported for c in result.claims] == [True, True, False]


def test_a_lone_word_is_no_claim_and_code_is_checked_whole():
    answer = "future\n```python\nfut.add_done_callback(cb)\nasyncio.run_async(main())\n```"
    result = verify_answer(answer, numbered("add_done_callback(callback)\n\nAdd a callback."))
    assert [c.claim.kind for c in result.claims] == ["code"]
    assert not result.claims[0].supported
    assert "asyncio.run_async" in result.claims[0].missing
