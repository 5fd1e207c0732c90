"""Abstention: decide that the sources do not contain the answer, on a calibrated threshold.

The evidence is the **extractive strength** (`serving.extractive.ExtractiveAnswer.strength`):
how much of the question the best sentence (or sentence pair) of the sources covers, rarity
weighted, identifiers counted apart. It is computed the same way whatever ranked the sources, so
one threshold serves every reranker; a retrieval score, when the caller has one that is
comparable across queries (a cross-encoder's sigmoid), can be required too (`min_retrieval`).

The threshold is not chosen per query: `calibrate` picks it once on the evaluation's two cases,
*answerable* (the sources as retrieval gives them) and *withheld* (the same query with every
chunk holding the labelled passage removed, `evals.answers`): the threshold that maximises
withheld abstentions minus false abstentions with false abstentions at most `max_false`.
`ABSTAIN_BELOW` is that choice on pydocs (60 documents, their 132 queries, proximity reranker,
the sentence read alone): withheld abstention 0.82, false abstention 0.03. Since a sentence is
read with its title and headings (`serving.extractive`), the same threshold gives 0.77 / 0.008
there, and 0.66 / 0.005 on all 400 queries; the rule would now pick 0.8714, which loses answers
on the whole set and on the held-out paraphrases, so it was kept (`evals/calibration/README.md`
has the measurements and the commands). On the paraphrases it abstains on 0.67 of the withheld
cases and on 0.29 of the answerable ones: a lexical strength cannot see through rewording (a
MiniLM cosine did not fix that either, and cost ~1 s). Recalibrate when the splitter, the terms
or the reranker change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

ABSTAIN_BELOW = 0.7179  # calibrated on pydocs: see the module docstring
MAX_FALSE_ABSTENTION = 0.10


@dataclass(frozen=True)
class Abstention:
    """The decision and what it rests on."""

    no_answer: bool
    strength: float
    threshold: float


def decide(
    strength: float,
    *,
    threshold: float = ABSTAIN_BELOW,
    retrieval_score: float | None = None,
    min_retrieval: float | None = None,
) -> Abstention:
    """No answer when `strength` is below `threshold` (or the retrieval score below
    `min_retrieval`, when both are given)."""
    weak_retrieval = (
        retrieval_score is not None
        and min_retrieval is not None
        and retrieval_score < min_retrieval
    )
    return Abstention(strength < threshold or weak_retrieval, strength, threshold)


@dataclass(frozen=True)
class Calibration:
    """A threshold and how it does on the calibration data."""

    threshold: float
    withheld_abstention: float  # share of withheld cases abstained on (right)
    false_abstention: float  # share of answerable cases abstained on (wrong)
    answerable: int
    withheld: int


def calibrate(
    answerable: Sequence[float],
    withheld: Sequence[float],
    *,
    max_false: float = MAX_FALSE_ABSTENTION,
) -> Calibration:
    """The threshold maximising withheld minus false abstention, false abstention at most
    `max_false` (ties: the lower threshold). Candidates: midpoints between observed strengths."""
    if not answerable or not withheld:
        raise ValueError("calibration needs answerable and withheld cases")
    values = sorted(set(answerable) | set(withheld))
    candidates = [0.0] + [(a + b) / 2 for a, b in zip(values, values[1:], strict=False)]
    best: Calibration | None = None
    for threshold in candidates:
        result = _evaluate(round(threshold, 4), answerable, withheld)
        if result.false_abstention > max_false:
            continue
        gain = result.withheld_abstention - result.false_abstention
        if best is None or gain > best.withheld_abstention - best.false_abstention:
            best = result
    assert best is not None  # threshold 0.0 abstains on nothing, so it always qualifies
    return best


def _evaluate(
    threshold: float, answerable: Sequence[float], withheld: Sequence[float]
) -> Calibration:
    return Calibration(
        threshold=threshold,
        withheld_abstention=sum(s < threshold for s in withheld) / len(withheld),
        false_abstention=sum(s < threshold for s in answerable) / len(answerable),
        answerable=len(answerable),
        withheld=len(withheld),
    )
