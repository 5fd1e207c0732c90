"""Eval metrics on hand-made rankings, the judging rule, and the subset selection."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evals.dataset import Label, Query, judge, load, normalise, subset
from evals.metrics import (
    hit_at,
    latency_summary,
    mean_metrics,
    ndcg_at,
    percentile,
    query_metrics,
    recall_at,
    reciprocal_rank,
)

MISS: frozenset[int] = frozenset()
HIT = frozenset({0})


def test_first_relevant_at_rank_three() -> None:
    judged = [MISS, MISS, HIT, MISS]
    assert hit_at(judged, 1) == 0.0
    assert hit_at(judged, 3) == 1.0
    assert reciprocal_rank(judged, 10) == pytest.approx(1 / 3)
    assert ndcg_at(judged, 10, 1) == pytest.approx(1 / math.log2(4))
    assert recall_at(judged, 10, 1) == 1.0


def test_relevant_beyond_k_counts_as_a_miss() -> None:
    judged = [MISS] * 10 + [HIT]
    metrics = query_metrics(judged, 1)
    assert metrics == {
        "hit@1": 0.0,
        "hit@3": 0.0,
        "hit@10": 0.0,
        "mrr@10": 0.0,
        "ndcg@10": 0.0,
        "recall@10": 0.0,
    }


def test_perfect_ranking_scores_one() -> None:
    assert query_metrics([HIT, MISS], 1) == pytest.approx(
        dict.fromkeys(("hit@1", "hit@3", "hit@10", "mrr@10", "ndcg@10", "recall@10"), 1.0)
    )


def test_repeated_label_gains_once_and_two_labels_need_two_chunks() -> None:
    judged = [HIT, HIT, MISS, frozenset({1})]
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(judged, 10, 2) == pytest.approx((1 + 1 / math.log2(5)) / ideal)
    assert recall_at(judged, 3, 2) == 0.5
    assert recall_at(judged, 10, 2) == 1.0


def test_empty_ranking() -> None:
    assert query_metrics([], 1)["mrr@10"] == 0.0
    assert recall_at([], 10, 0) == 0.0


def test_mean_and_percentiles() -> None:
    rows = [query_metrics([HIT], 1), query_metrics([MISS, HIT], 1)]
    mean = mean_metrics(rows)
    assert mean["n"] == 2
    assert mean["hit@1"] == 0.5
    assert mean["mrr@10"] == pytest.approx(0.75)
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([5.0], 95) == 5.0
    assert math.isnan(percentile([], 50))
    lat = latency_summary([{"embed": 2.0, "index": 1.0}, {"embed": 4.0, "index": 3.0}])
    assert lat["embed"]["p50"] == 3.0
    assert lat["total"]["p95"] == pytest.approx(3.0 + 4.0 * 0.95)


def test_normalise_collapses_every_whitespace_run_and_keeps_case() -> None:
    assert normalise("  Return\u00a0the\n\t value  ") == "Return the value"
    assert normalise("A\u2009B\u3000C") == "A B C"


def test_judge_needs_file_and_string_after_normalisation() -> None:
    label = Label(file="os.html", must_contain="Return the  value of")
    assert judge(label, "os.html", "x Return\u00a0the\nvalue of y")
    assert not judge(label, "os.path.html", "Return the value of")
    assert not judge(label, "os.html", "return the value of")  # case-sensitive
    assert not judge(label, "os.html", "Return the")


def _write_set(root: Path) -> None:
    (root / "corpus").mkdir(parents=True)
    names = ["a.html", "b.html", "c.html", "d.pdf", "e.docx", "f.html"]
    for name in names:
        (root / "corpus" / name).write_text("x")
    rows = [
        {
            "id": f"q{i}",
            "query": f"query {i}",
            "relevant": [{"file": name, "anchor": "", "must_contain": "x"}],
            "kind": "exact" if i % 2 else "semantic",
        }
        for i, name in enumerate(names[:5])
    ]
    (root / "queries.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")


def test_load_and_deterministic_subset_keeps_every_format(tmp_path: Path) -> None:
    _write_set(tmp_path)
    data = load(tmp_path)
    assert len(data.documents) == 6
    assert isinstance(data.queries[0], Query)
    first = subset(data, limit_docs=3, seed=7)
    assert first == subset(data, limit_docs=3, seed=7)
    names = {p.name for p in first.documents}
    assert {"d.pdf", "e.docx"} <= names  # minority formats first; f.html carries no query
    assert "f.html" not in names
    assert all(q.files <= names for q in first.queries)
    assert len(subset(data, limit_queries=2).queries) == 2


def test_missing_set_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="queries.jsonl"):
        load(tmp_path / "nowhere")
