"""Ranking metrics (pure functions) over judged rankings, and latency percentiles.

A judged ranking is, per retrieved rank, the set of label indices that chunk satisfies
(empty: not relevant). Gains are binary; a label counts once, at its best rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

Judged = Sequence[frozenset[int] | set[int]]  # rank 1 first
METRICS = ("hit@1", "hit@3", "hit@10", "mrr@10", "ndcg@10", "recall@10")


def first_relevant(judged: Judged, k: int) -> int | None:
    """1-based rank of the first relevant chunk within the top `k`, or None."""
    for rank, labels in enumerate(judged[:k], start=1):
        if labels:
            return rank
    return None


def hit_at(judged: Judged, k: int) -> float:
    return 1.0 if first_relevant(judged, k) is not None else 0.0


def reciprocal_rank(judged: Judged, k: int) -> float:
    rank = first_relevant(judged, k)
    return 1.0 / rank if rank else 0.0


def recall_at(judged: Judged, k: int, n_labels: int) -> float:
    """Share of the query's labels satisfied by some chunk in the top `k`."""
    if n_labels <= 0:
        return 0.0
    found = set().union(*judged[:k]) if judged[:k] else set()
    return len(found) / n_labels


def ndcg_at(judged: Judged, k: int, n_labels: int) -> float:
    """Binary-gain nDCG: a chunk gains 1 when it satisfies a label not already credited above it;
    the ideal ranking puts one chunk per label first."""
    seen: set[int] = set()
    dcg = 0.0
    for rank, labels in enumerate(judged[:k], start=1):
        new = set(labels) - seen
        if new:
            dcg += 1.0 / math.log2(rank + 1)
            seen |= new
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(n_labels, k) + 1))
    return dcg / ideal if ideal else 0.0


def query_metrics(judged: Judged, n_labels: int) -> dict[str, float]:
    """All of METRICS for one query."""
    return {
        "hit@1": hit_at(judged, 1),
        "hit@3": hit_at(judged, 3),
        "hit@10": hit_at(judged, 10),
        "mrr@10": reciprocal_rank(judged, 10),
        "ndcg@10": ndcg_at(judged, 10, n_labels),
        "recall@10": recall_at(judged, 10, n_labels),
    }


def mean_metrics(rows: Iterable[Mapping[str, float]]) -> dict[str, float]:
    """The mean of each metric over queries (0.0 for none); `n` is the number of queries."""
    rows = list(rows)
    out = {m: (sum(r[m] for r in rows) / len(rows) if rows else 0.0) for m in METRICS}
    out["n"] = float(len(rows))
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile, `q` in [0, 100]; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def p50_p95(values: Sequence[float]) -> dict[str, float]:
    """The median, the 95th percentile and the count of `values` (NaN percentiles for none)."""
    return {"p50": percentile(values, 50), "p95": percentile(values, 95), "n": float(len(values))}


def latency_summary(timings: Iterable[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """p50/p95 (ms) per stage over per-query `timings_ms`, plus the stages' sum as `total`."""
    stages: dict[str, list[float]] = {}
    for t in timings:
        for stage, ms in t.items():
            stages.setdefault(stage, []).append(ms)
        stages.setdefault("total", []).append(sum(t.values()))
    return {stage: p50_p95(v) for stage, v in stages.items()}
