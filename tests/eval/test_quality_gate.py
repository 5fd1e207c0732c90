"""The quality gate: the quick pydocs subset through the real pipeline, with the embedded
default (MiniLM + BM25 + qdrant-edge + SmolLM2), must stay at or above the floors of
`evals/floors.json` (retrieval by arm, answers by mode) and at or below its answer ceilings
(invented specifics shown: none; false abstention).

Run: HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/pytest -m eval tests/eval
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from evals.run import EvalOptions, evaluate

pytestmark = pytest.mark.eval

REPO = Path(__file__).resolve().parents[2]
FLOORS = REPO / "evals" / "floors.json"
PYDOCS = Path(os.environ.get("ENCLAVE_EVAL_PYDOCS", REPO.parent / "shared" / "evals" / "pydocs"))


@pytest.fixture(scope="module")
def floors() -> dict[str, Any]:
    return json.loads(FLOORS.read_text())


@pytest.fixture(scope="module")
def run(floors: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not (PYDOCS / "queries.jsonl").is_file():
        pytest.fail(
            f"the pydocs evaluation set is missing: {PYDOCS} (expected ../shared/evals/pydocs "
            "beside the repository, or set ENCLAVE_EVAL_PYDOCS)",
            pytrace=False,
        )
    base = tmp_path_factory.mktemp("eval")
    subset = floors["subset"]
    return evaluate(
        EvalOptions(
            root=PYDOCS,
            out=base / "report",
            data_dir=base / "data",
            limit_docs=subset["limit_docs"],
            seed=subset["seed"],
            answers=subset["answers"],
            answer_modes=tuple(subset["answer_modes"]),
            command="pytest -m eval tests/eval",
        )
    )


def test_runs_the_embedded_default(run: dict[str, Any]) -> None:
    setup = run["setup"]
    assert setup["documents_failed"] == []
    assert setup["vector_store"] == "edge"
    assert set(setup["documents_by_format"]) == {"html", "pdf", "docx"}
    assert (Path(run["out"]) / "report.md").is_file()
    assert setup["generator"] == "SmolLM2-135M-Instruct.Q4_1"  # answers from the real model


def test_metrics_at_or_above_floors(run: dict[str, Any], floors: dict[str, Any]) -> None:
    below = [
        f"{arm}/{kind} {metric}: {run['arms'][arm]['metrics'][kind][metric]:.3f} < {floor}"
        for arm, kinds in floors["floors"].items()
        for kind, metrics in kinds.items()
        for metric, floor in metrics.items()
        if run["arms"][arm]["metrics"][kind][metric] < floor
    ]
    below += [
        f"answers {mode}/{kind} {metric}: {got:.3f} < {floor}"
        for mode, kind, metric, floor, got in _answer_bounds(run, floors["answer_floors"])
        if got < floor
    ]
    assert not below, "quality below the floors:\n" + "\n".join(below)


def test_answers_at_or_below_ceilings(run: dict[str, Any], floors: dict[str, Any]) -> None:
    above = [
        f"answers {mode}/{kind} {metric}: {got:.3f} > {ceiling}"
        for mode, kind, metric, ceiling, got in _answer_bounds(run, floors["answer_ceilings"])
        if got > ceiling
    ]
    assert not above, "answers above their ceilings:\n" + "\n".join(above)


def _answer_bounds(
    run: dict[str, Any], bounds: dict[str, Any]
) -> list[tuple[str, str, str, float, float]]:
    """(mode, kind, metric, bound, measured) for each bound of the answer sample."""
    return [
        (mode, kind, metric, bound, run["answers"][mode]["metrics"][kind][metric])
        for mode, kinds in bounds.items()
        for kind, metrics in kinds.items()
        for metric, bound in metrics.items()
    ]


def test_hybrid_rerank_beats_each_single_leg_on_ndcg(run: dict[str, Any]) -> None:
    ndcg = {arm: round(r["metrics"]["all"]["ndcg@10"], 4) for arm, r in run["arms"].items()}
    assert run["arms"]["hybrid+rerank"]["reranker"] == "semantic"  # the embedded default
    assert ndcg["hybrid+rerank"] > max(ndcg["bm25"], ndcg["dense"]), (
        f"hybrid+rerank must beat bm25 and dense on nDCG@10: {ndcg}"
    )
