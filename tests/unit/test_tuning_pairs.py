"""Training pairs from a collection's structure (retrieval/tuning.py): kinds, hard negatives,
determinism."""

from __future__ import annotations

import random
import uuid

from retrieval.tuning import KINDS, build_pairs
from retrieval.types import Chunk

DEFINITION = (
    "Return the absolute version of the path given as argument. On most platforms this is "
    "equivalent to normalising the path joined to the current working directory."
)
PUMP = (
    "Pressure relief\n\n"
    "The relief valve opens when the outlet pressure passes the rated limit of the pump. "
    "It closes again once the pressure has fallen by a tenth of that limit, which keeps "
    "the motor from cycling and protects the seals of the housing."
)
MOTOR = (
    "Mounting\n\n"
    "Fasten the motor to its frame with the four bolts supplied in the kit. Tighten them "
    "crosswise in two passes so that the flange sits evenly on the frame and does not warp "
    "under the vibration of the running pump."
)


def _chunk(document: str, position: int, text: str, section: str = "") -> Chunk:
    return Chunk(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{document}/{position}")),
        collection="c",
        document=document,
        position=position,
        text=text,
        title=document,
        section=section,
    )


def _corpus() -> list[Chunk]:
    doc_a, doc_b, doc_c = (str(uuid.uuid5(uuid.NAMESPACE_URL, n)) for n in "abc")
    return [
        _chunk(doc_a, 0, PUMP, "Pump manual > Pressure relief"),
        _chunk(doc_a, 1, "The relief valve of the pump and its pressure limit. " * 3),
        _chunk(doc_a, 2, f"Related calls\n\nos.path.abspath(path)\n\n{DEFINITION}"),
        _chunk(doc_b, 0, MOTOR, "Motor guide > Mounting"),
        _chunk(doc_c, 0, "The pressure relief valve is described in the pump manual. " * 3),
    ]


def test_each_kind_pairs_an_anchor_with_its_own_text() -> None:
    pairs = build_pairs(_corpus())
    found = {(p.kind, p.anchor): p for p in pairs}
    heading = found["heading", "Pressure relief"]
    assert heading.positive.startswith("The relief valve opens")  # the heading line is dropped
    term = found["term", "os.path.abspath(path)"]
    assert term.positive == DEFINITION
    sentence = found[
        "sentence", "Fasten the motor to its frame with the four bolts supplied in the kit."
    ]
    assert sentence.positive.startswith("Tighten them crosswise")
    assert {p.kind for p in pairs} == set(KINDS)


def test_the_hard_negative_is_the_best_bm25_match_outside_the_source_and_its_neighbours() -> None:
    chunks = _corpus()
    heading = next(p for p in build_pairs(chunks) if p.anchor == "Pressure relief")
    # chunk 1 shares more words, but it is the source's neighbour (chunks overlap): skipped
    assert heading.negative == chunks[4].text
    assert heading.chunk == chunks[0].id
    for pair in build_pairs(chunks):
        assert pair.positive[:60] not in pair.negative


def test_the_same_chunks_give_the_same_pairs_in_any_order() -> None:
    chunks = _corpus()
    shuffled = chunks[:]
    random.Random(3).shuffle(shuffled)
    assert build_pairs(chunks, seed=7) == build_pairs(shuffled, seed=7)
    other = build_pairs(chunks, seed=8)
    assert sorted(map(repr, other)) == sorted(map(repr, build_pairs(chunks, seed=7)))


def test_max_pairs_draws_the_kinds_round_robin() -> None:
    pairs = build_pairs(_corpus(), max_pairs=3)
    assert [p.kind for p in pairs] == list(KINDS)


def test_too_little_text_gives_no_pairs() -> None:
    assert build_pairs([]) == []
    assert build_pairs(_corpus()[:1]) == []
    assert build_pairs([_chunk(str(uuid.uuid4()), 0, "x"), _chunk(str(uuid.uuid4()), 0, "y")]) == []
