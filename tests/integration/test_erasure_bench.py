"""The erasure-latency benchmark end to end at a tiny size: real PDFs through the worker, a
synthetic filler, the baseline, timed erasures that verify, and the summary."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

import pytest

from evals.bench import erasure_latency as bench
from tests.support import fast_settings

pytestmark = pytest.mark.slow  # parses PDFs (unstructured) in-process: several seconds


def test_the_benchmark_erases_every_target_and_reports_each_step(tmp_path: Path) -> None:
    settings = fast_settings(tmp_path / "data")
    settings.ingestion.isolate_parsing = False
    settings.erasure.query_grace_s = 0.05
    args = Namespace(chunks=500, doc_pages=3, targets=2, seed=1)

    result = bench.run(settings, args)

    targets = result["store"]["targets"]
    assert [t["pages"] for t in targets] == [3, 3]
    assert all(t["chunks"] >= 1 for t in targets)
    assert result["store"]["chunks"] == 500
    erased = result["first_erasure"]["points"] + sum(t["chunks"] for t in targets)
    assert result["store"]["chunks_after"] == 500 - erased
    assert len(result["baseline_soft_delete_ms"]) == len(result["erasures"]) == 2
    for erasure, target in zip(result["erasures"], targets, strict=True):
        assert erasure["points"] == target["chunks"]
        assert erasure["verification"]["index_files_naming_document"] == 0
        assert set(erasure["timings_ms"]) == {*bench.STEPS, "total"}
        assert erasure["segments_rewritten"] >= 1
    assert result["ratio"] > 1
    assert "median of 2" in str(bench.table(result).columns[1].header)
    assert "segments" in bench.rewrites(result)
