"""Answer-quality eval (evals/answers.py): token F1, the reference-passage rule, the sample and
the summary, on hand-made values."""

from __future__ import annotations

import math

import pytest

from evals.answers import (
    best_f1,
    passage_of,
    reference_passages,
    sample,
    summarise_answers,
    token_f1,
    tokens,
)
from evals.dataset import Label, Query
from retrieval.types import Chunk


def _query(i: int, kind: str = "exact", *labels: Label) -> Query:
    return Query(id=f"q{i:02d}", text=f"question {i}", kind=kind, relevant=labels)  # type: ignore[arg-type]


def _chunk(document: str, position: int, text: str) -> Chunk:
    return Chunk(
        id=f"{document}-{position}", collection="c", document=document, position=position, text=text
    )


# ---- token F1 ------------------------------------------------------------------------------


def test_tokens_drop_citations_punctuation_case_and_articles() -> None:
    assert tokens("The Queue [1] is an asyncio.Queue, [12]a FIFO!") == [
        "queue",
        "is",
        "asyncio",
        "queue",
        "fifo",
    ]


def test_token_f1_is_a_bag_overlap() -> None:
    # answer: x x y (3 tokens); reference: x y z z (4 tokens); overlap min-counts: x 1, y 1
    scores = token_f1("x x y", "x y z z")
    assert scores["precision"] == pytest.approx(2 / 3)
    assert scores["recall"] == pytest.approx(2 / 4)
    assert scores["f1"] == pytest.approx(2 * (2 / 3) * (1 / 2) / (2 / 3 + 1 / 2))


def test_token_f1_identical_disjoint_and_empty() -> None:
    assert token_f1("Return the value [2].", "return value")["f1"] == 1.0
    assert token_f1("alpha", "beta") == {"precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert token_f1("", "beta")["f1"] == 0.0
    assert token_f1("[1]", "")["f1"] == 0.0


def test_best_f1_takes_the_best_passage_and_none_without_one() -> None:
    assert best_f1("gamma delta", ["alpha", "gamma delta", "gamma"])["f1"] == 1.0  # type: ignore[index]
    assert best_f1("gamma", []) is None


def test_a_no_answer_reply_scores_zero_even_with_shared_words() -> None:
    reply = "The sources do not contain the answer."
    assert best_f1(reply, ["the sources contain it"])["f1"] > 0  # type: ignore[index]
    assert best_f1(reply, ["the sources contain it"], no_answer=True) == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
    }
    assert best_f1(reply, [], no_answer=True) is None


# ---- the reference passage -----------------------------------------------------------------


def test_passage_is_the_paragraph_holding_the_string_after_normalisation() -> None:
    text = "Heading\n\nFirst paragraph.\n\nThe  value is\nreturned here.\n \nLast one."
    assert passage_of(text, "value is returned") == "The  value is\nreturned here."


def test_passage_is_the_first_such_paragraph() -> None:
    assert passage_of("a key b\n\nkey c", "key") == "a key b"


def test_passage_spanning_paragraphs_is_the_whole_chunk() -> None:
    text = "one two\n\nthree four"
    assert passage_of(text, "two three") == text


def test_reference_comes_from_the_store_in_document_order_then_from_hits() -> None:
    label = Label(file="a.html", must_contain="the answer")
    query = _query(1, "exact", label)
    names = {"A": "a.html", "B": "b.html"}
    stored = [
        _chunk("A", 0, "intro"),
        _chunk("A", 1, "x\n\nthe answer one"),
        _chunk("A", 2, "the answer two"),
    ]
    hits = [_chunk("A", 2, "the answer two"), _chunk("B", 0, "the answer elsewhere")]
    assert reference_passages(query, names, lambda _: stored, hits) == ["the answer one"]
    # the store yields nothing (e.g. ids it cannot rebuild): the first satisfying hit
    assert reference_passages(query, names, lambda _: [], hits) == ["the answer two"]
    # only the labelled file counts
    assert reference_passages(query, names, lambda _: [], hits[1:]) == []


def test_one_passage_per_label_found() -> None:
    labels = (Label("a.html", "alpha"), Label("b.html", "beta"), Label("c.html", "gamma"))
    names = {"A": "a.html", "B": "b.html"}
    chunks = {"a.html": [_chunk("A", 0, "alpha")], "b.html": [_chunk("B", 0, "beta")]}
    found = reference_passages(
        _query(1, "exact", *labels), names, lambda lb: chunks.get(lb.file, [])
    )
    assert found == ["alpha", "beta"]


# ---- the sample ----------------------------------------------------------------------------


def _queries() -> list[Query]:
    return [_query(i, "exact" if i < 10 else "semantic") for i in range(13)]  # 10 exact, 3 semantic


def test_sample_is_deterministic_balanced_and_in_id_order() -> None:
    picked = sample(_queries(), 4, seed=1)
    assert picked == sample(list(reversed(_queries())), 4, seed=1)  # input order does not matter
    assert [q.kind for q in picked].count("semantic") == 2
    assert [q.id for q in picked] == sorted(q.id for q in picked)
    assert len({q.id for q in picked}) == 4


def test_sample_fills_from_the_larger_kind_when_one_runs_out() -> None:
    picked = sample(_queries(), 8, seed=1)
    assert [q.kind for q in picked].count("semantic") == 3
    assert len(picked) == 8
    assert len(sample(_queries(), 100, seed=1)) == 13
    assert sample(_queries(), 0, seed=1) == ()


def test_sample_depends_on_the_seed() -> None:
    seeds = {tuple(q.id for q in sample(_queries(), 4, seed=s)) for s in range(10)}
    assert len(seeds) > 1


# ---- the summary ---------------------------------------------------------------------------


def _row(
    kind: str,
    *,
    cited: list[int],
    relevant: int,
    no_answer: bool,
    withheld_no: bool,
    f1: float | None,
    supported: float | None = 1.0,
    invented: int = 0,
) -> dict:
    share = relevant / len(cited) if cited else None
    scores = {} if f1 is None else {"f1": f1, "precision": f1, "recall": f1}
    return {
        "id": "q",
        "kind": kind,
        "normal": {
            "sources": 3,
            "relevant_sources": [1] if relevant else [],
            "cited": cited,
            "cited_relevant": relevant,
            "citation_correct": relevant > 0,
            "cited_relevant_share": share,
            "no_answer": no_answer,
            "reference_found": f1 is not None,
            "timings_ms": {"embed": 1.0, "index": 2.0, "rerank": 3.0, "generation": 100.0},
            "first_delta_ms": 10.0,
            "supported_share": supported,
            "invented_specifics": invented,
            **scores,
        },
        "withheld": {
            "no_answer": withheld_no,
            "generation_ms": 50.0,
            "first_delta_ms": None,
            "invented_specifics": 0,
        },
    }


def test_summary_shares_by_kind() -> None:
    rows = [
        _row("exact", cited=[1, 2], relevant=1, no_answer=False, withheld_no=True, f1=0.5),
        _row("exact", cited=[], relevant=0, no_answer=True, withheld_no=True, f1=0.0,
             supported=None),
        _row("semantic", cited=[2], relevant=0, no_answer=False, withheld_no=False, f1=None,
             supported=0.5, invented=2),
    ]  # fmt: skip
    summary = summarise_answers(rows)
    exact, every = summary["metrics"]["exact"], summary["metrics"]["all"]
    assert exact["n"] == 2
    assert exact["citation_correct"] == 0.5
    assert exact["cited_relevant_share"] == 0.5  # over the one answer that cites
    assert exact["uncited"] == 0.5
    assert exact["false_no_answer"] == 0.5
    assert exact["withheld_no_answer"] == 1.0
    assert exact["f1"] == 0.25
    assert every["cited_relevant_share"] == pytest.approx(0.25)
    assert every["f1_n"] == 2  # the semantic one has no reference passage
    assert exact["supported_share"] == 1.0  # over the answers with a checked claim
    assert every["supported_share"] == 0.75
    assert every["invented_specifics"] == 2  # a total count
    assert every["invented_share"] == pytest.approx(1 / 3)
    assert summary["metrics"]["semantic"]["f1_n"] == 0
    assert math.isnan(summary["metrics"]["semantic"]["f1"])
    assert summary["latency_ms"]["generation"]["p50"] == 100.0
    assert summary["latency_ms"]["total"]["p50"] == 106.0
    assert summary["first_delta_ms"]["p95"] == 10.0
    assert summary["withheld_generation_ms"]["n"] == 3
    assert math.isnan(summary["withheld_first_delta_ms"]["p50"])


def test_latency_table_shows_generation_only_with_an_answer_sample() -> None:
    from evals.report import ANSWERS_ROW, latency_table

    lat = {"embed": {"p50": 1.0, "p95": 2.0}, "total": {"p50": 1.0, "p95": 2.0}}
    summary = {"hybrid": {"latency_ms": lat}}
    assert "generation" not in "\n".join(latency_table(summary))
    answers = summarise_answers(
        [_row("exact", cited=[1], relevant=1, no_answer=False, withheld_no=True, f1=1.0)]
    )
    table = latency_table(summary, {"both": answers})
    assert "generation p50 / p95 (ms)" in table[0]
    assert table[-1].startswith(f"| {ANSWERS_ROW}, both | 1.0 / 1.0 |")
    assert "| 100.0 / 100.0 | 106.0 / 106.0 |" in table[-1]
    assert "| – |" in table[2]  # the arm has no generation
