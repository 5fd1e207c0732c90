"""Smoke tests of the benchmarks' cores at tiny sizes (evals/bench), so they do not rot: each
runs end to end against its baseline, and its JSON report carries numbers, never text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.bench import concurrency, ingest_throughput, parse_formats, query_scale
from evals.bench.common import percentiles, write_report

ROOT = Path(__file__).resolve().parents[2]


def _no_text(report: Path, *texts: str) -> None:
    body = report.read_text()
    json.loads(body)
    for text in texts:
        assert text not in body


def test_percentiles_and_rrf() -> None:
    assert percentiles([5.0]) == {"p50": 5.0, "p95": 5.0, "mean": 5.0, "n": 1}
    q = percentiles([float(x) for x in range(1, 101)])
    assert (q["p50"], q["p95"], q["n"]) == (50.5, 95.05, 100)
    # RRF as the engine computes it (k=2): second in both legs beats first in one only
    assert query_scale.rrf([[1, 2, 3], [4, 2, 5]], limit=2) == [2, 1]


def test_query_scale_edge_and_baseline_agree(tmp_path: Path) -> None:
    result = query_scale.measure_size(500, queries=10, words=30, batch=128)
    assert result["chunks"] == 500
    assert result["hybrid_top10_overlap"] >= 0.6  # same data, IDF formulas differ slightly
    for mode in query_scale.MODES:
        m = result["modes"][mode]
        assert m["edge_ms"]["n"] == m["baseline_ms"]["n"] == 10
        assert m["ratio_p50"] > 0
    _no_text(write_report(tmp_path / "q.json", "query_scale", {"sizes": [result]}))


@pytest.mark.slow
def test_ingest_throughput_pipeline_against_raw_embedder(tmp_path: Path) -> None:
    from ingestion.settings import IngestionSettings
    from retrieval.embedders import HashEmbedder
    from retrieval.stores import EdgeVectorStore
    from retrieval.types import Scope

    files = ingest_throughput.pick_documents(ROOT / "samples", 2)
    settings = IngestionSettings(min_tokens=64, max_tokens=128)
    embedder = HashEmbedder(384)
    with EdgeVectorStore(tmp_path / "index", dense_dim=384) as store:
        result = ingest_throughput.measure(files, embedder, store, settings)
        assert store.count(scope=Scope.of(["bench"])) == result["chunks"]
    assert result["chunks"] > 2
    assert result["embedded_texts"] == result["chunks"]
    assert set(result["stages_s"]) == {"parse", "chunk", "embed", "bm25", "index", "other"}
    assert result["stages_s"]["parse"] > 0
    report = write_report(tmp_path / "i.json", "ingest_throughput", result)
    _no_text(report, "hand hygiene", "Alcohol-based", "jsmith", "service desk")


@pytest.mark.slow
def test_parse_formats_one_tiny_file_each(tmp_path: Path) -> None:
    result = parse_formats.measure(tmp_path, pages=1, repeat=1, formats=list(parse_formats.FORMATS))
    assert set(result["formats"]) == set(parse_formats.FORMATS)
    assert result["formats"]["txt"]["ratio_to_txt_time"] == 1.0
    for row in result["formats"].values():
        assert row["chars_extracted"] > 500  # every format yielded the page's text
        assert row["pages_per_s"] > 0
    _no_text(write_report(tmp_path / "p.json", "parse_formats", result), "Nm", "XJ-")


@pytest.mark.slow
def test_concurrency_against_a_live_server(tmp_path: Path) -> None:
    from tests.support import fast_settings, live_server

    settings = fast_settings(tmp_path)
    docs = sorted((ROOT / "samples").iterdir())
    with live_server(settings) as url:
        setup = concurrency.set_up(url, tmp_path, docs)
        assert (setup["documents"], setup["chunks"] > 0) == (3, True)
        routes = concurrency.measure(url, setup["key"], askers=2, questions=2)
        refused = concurrency.run_round(url, "not-a-key", "/v1/search", [["q"], ["q"]])
    for route in concurrency.ROUTES:
        for run in ("sequential", "concurrent"):
            assert routes[route][run]["requests"] == 4
            assert routes[route][run]["errors"] == 0
        assert routes[route]["ratio_throughput"] > 0
    assert routes["/v1/search"]["concurrent"]["clients"] == 2
    assert (refused["errors"], refused["error_kinds"]) == (2, ["HTTP 401"])
    report = write_report(tmp_path / "c.json", "concurrency", {"routes": routes})
    _no_text(report, *concurrency.QUERIES)


@pytest.mark.slow
def test_load_levels_against_a_live_server(tmp_path: Path) -> None:
    from evals.bench import load
    from tests.support import fast_settings, live_server

    settings = fast_settings(tmp_path)
    docs = sorted((ROOT / "samples").iterdir())
    with live_server(settings) as url:
        setup = concurrency.set_up(url, tmp_path, docs)
        routes = load.measure(url, setup["key"], levels=[2, 3], questions=1, baseline=2)
    for route in concurrency.ROUTES:
        assert routes[route]["sequential"]["requests"] == 2
        assert [r["clients"] for r in routes[route]["levels"]] == [2, 3]
        assert all(r["errors"] == 0 and r["ratio_throughput"] > 0 for r in routes[route]["levels"])
    report = write_report(tmp_path / "l.json", "load", {"routes": routes})
    _no_text(report, *concurrency.QUERIES)


@pytest.mark.slow
def test_soak_users_against_a_live_server(tmp_path: Path) -> None:
    import argparse
    import os

    from app.settings import LimitSettings
    from evals.bench import soak
    from tests.support import fast_settings, live_server

    names = ("search", "answer", "upload")
    unlimited = {f"{n}{s}": "" for n in names for s in ("", "_per_address")}
    settings = fast_settings(tmp_path, limits=LimitSettings(**unlimited))
    docs = sorted((ROOT / "samples").iterdir())
    args = argparse.Namespace(
        users=3, duration=3, upload_every=1, baseline=1, sample=0.5, drain=60, max_slope=1e9
    )
    with live_server(settings) as url:
        setup = concurrency.set_up(url, tmp_path, docs, permissions=("read", "write"))
        result = soak.soak(url, setup["key"], os.getpid(), args)  # the server runs in this process
    assert result["soak"]["users"] == 3
    assert result["soak"]["all"]["errors"] == result["baseline"]["all"]["errors"] == 0
    assert result["soak"]["upload"]["requests"] > 0
    assert set(result["uploads"]["states"]) == {"indexed"}
    assert result["memory"]["server"]["peak_mb"] > 0
    assert not soak.check(result, max_slope=1e9)
    report = write_report(tmp_path / "s.json", "soak", result)
    _no_text(report, *concurrency.QUERIES)


@pytest.mark.slow
def test_embedder_speed_times_e5_against_minilm() -> None:
    from evals.bench import embedder_speed

    report = embedder_speed.run(count=2, words=40, n_queries=2)
    assert report["setup"] == {"passages": 2, "words": 40, "queries": 2, "batch": 8}
    for row in report["embedders"].values():
        assert row["passages_per_s"] > 0
        assert row["query_ms"]["n"] == 2
    assert set(report["ratio_e5_over_minilm"]) == {"passages_per_s", "query_p50", "query_p95"}
