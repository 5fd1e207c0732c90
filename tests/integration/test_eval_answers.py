"""`evaluate(..., answers=N)` end to end on a tiny generated labelled folder: real ingestion,
SQLite and qdrant-edge, with the deterministic doubles (hash embedder, overlap reranker, echo
generator). The report has the answer section; metrics.json has the fields and no text."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from app.db.models import Document
from app.runtime import build_runtime
from app.settings import Settings
from evals.answers import chunks_by_file
from evals.run import EvalOptions, evaluate
from retrieval.types import Scope
from serving.prompt import NO_ANSWER
from serving.protocols import Message

# Four documents of four paragraphs; chunks of 16-32 words, so most documents have several.
DOCUMENTS = {
    "axolotl.md": [
        "# Axolotl husbandry",
        "The axolotl regrows lost limbs within weeks when the water stays cold and clean.",
        "Keep the aquarium between sixteen and eighteen degrees, since warmth stresses the "
        "gills and invites fungus on the skin.",
        "Feed earthworms twice weekly; pellets sink and foul the gravel quickly.",
    ],
    "quasar.md": [
        "# Quasar spectra",
        "A quasar outshines its host galaxy because gas spirals into a supermassive black hole.",
        "Redshifted emission lines reveal that the brightest quasars lie billions of light "
        "years away from the observer.",
        "Radio lobes extend far beyond the visible disc of the galaxy.",
    ],
    "sourdough.md": [
        "# Sourdough starter",
        "A sourdough starter needs flour, water and patience for about a week.",
        "Discard half of the levain each morning and refresh it with rye flour so the "
        "lactobacilli stay lively.",
        "Bake the loaf in a lidded cast iron pot for a crackling crust.",
    ],
    "zeppelin.md": [
        "# Zeppelin history",
        "The first zeppelin flew over Lake Constance in the summer of nineteen hundred.",
        "Hydrogen lift made the rigid airships fast but dangerous, as the Hindenburg fire "
        "showed the whole world.",
        "Helium replaced hydrogen in later airships for safety.",
    ],
}
QUERIES = [
    ("a1-e", "exact", "What temperature should the axolotl aquarium be?", "axolotl.md",
     "between sixteen and eighteen degrees"),
    ("q1-s", "semantic", "how far away are the bright quasars", "quasar.md",
     "lie billions of light years away"),
    ("s1-e", "exact", "How do I refresh a sourdough levain?", "sourdough.md",
     "refresh it with rye flour"),
    ("z1-s", "semantic", "why were hydrogen airships risky", "zeppelin.md",
     "Hydrogen lift made the rigid airships fast but dangerous"),
]  # fmt: skip
FAST = {
    "ENCLAVE_EMBEDDER__KIND": "hash",
    "ENCLAVE_RERANKER__KIND": "overlap",
    "ENCLAVE_GENERATOR__KIND": "echo",
    "ENCLAVE_INGESTION__MIN_TOKENS": "16",
    "ENCLAVE_INGESTION__MAX_TOKENS": "32",
}


def _write_set(root: Path) -> None:
    (root / "corpus").mkdir(parents=True)
    for name, paragraphs in DOCUMENTS.items():
        (root / "corpus" / name).write_text("\n\n".join(paragraphs) + "\n")
    rows = [
        {"id": i, "query": q, "kind": kind, "relevant": [{"file": f, "must_contain": must}]}
        for i, kind, q, f, must in QUERIES
    ]
    (root / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("eval-answers")
    _write_set(base / "set")
    with pytest.MonkeyPatch.context() as env:
        for var, value in FAST.items():
            env.setenv(var, value)
        return evaluate(
            EvalOptions(
                root=base / "set",
                out=base / "report",
                data_dir=base / "data",
                answers=4,
                answer_modes=("extractive", "generator"),
                command="pytest",
            )
        )


def test_report_has_the_answer_section_and_generation_latency(run: dict) -> None:
    out = Path(run["out"])
    report = (out / "report.md").read_text()
    assert "## Grounded answers by mode" in report
    assert "## Answer quality (sample), mode extractive" in report
    assert "## Answer quality (sample), mode generator" in report
    assert "generator `echo`" in report
    assert "| answers (hybrid+rerank → generator), generator |" in report
    assert "generation p50 / p95 (ms)" in report
    assert {p.name for p in out.glob("*.png")} == {
        "metrics_by_arm.png",
        "latency_by_stage.png",
        "answer_quality.png",
    }


def test_metrics_json_has_the_answer_fields(run: dict) -> None:
    metrics = json.loads((Path(run["out"]) / "metrics.json").read_text())
    assert metrics["setup"]["generator"] == "echo"
    assert (
        set(metrics["setup"]["answers"]) == set(metrics["answers"]) == {"extractive", "generator"}
    )
    for mode, answers in metrics["answers"].items():
        assert metrics["setup"]["answers"][mode]["n"] == 4
        assert metrics["setup"]["answers"][mode]["mode"] == mode
        assert metrics["setup"]["answers"][mode]["temperature"] == 0.0
        assert set(answers["metrics"]) == {"exact", "semantic", "all"}
        every = answers["metrics"]["all"]
        assert every["n"] == 4
        assert every["f1_n"] == 4  # every reference passage found
        for key in ("citation_correct", "uncited", "false_no_answer", "withheld_no_answer", "f1"):
            assert 0.0 <= every[key] <= 1.0
        assert every["invented_specifics"] == 0.0  # nothing shown that the sources lack
        assert every["supported_share"] == 1.0  # extracts, and echo's quotes, all hold
        assert every["withheld_no_answer"] == 1.0  # abstains without the passage
        assert every["uncited"] == every["false_no_answer"]  # an answer shown is cited
        assert {"embed", "index", "rerank", "generation", "total"} <= set(answers["latency_ms"])
        assert answers["first_delta_ms"]["n"] == 4
        assert [r["id"] for r in answers["per_query"]] == sorted(q[0] for q in QUERIES)
        for row in answers["per_query"]:
            _check_row(row)


def _check_row(row: dict) -> None:
    normal, withheld = row["normal"], row["withheld"]
    assert normal["sources"] == 3
    assert withheld["sources"] == 3
    if normal["relevant_sources"]:
        assert withheld["withheld"] >= 1
    assert all(file != "?" for file, _ in withheld["top"])


def test_metrics_json_holds_no_query_answer_or_chunk_text(run: dict) -> None:
    body = (Path(run["out"]) / "metrics.json").read_text()
    words = {w for paragraphs in DOCUMENTS.values() for p in paragraphs for w in p.split()}
    distinctive = {w.strip(".,;#").lower() for w in words if len(w) > 7}
    distinctive = {w for w in distinctive if not any(w in name for name in DOCUMENTS)}
    leaked = {w for w in distinctive if w in body.lower()}
    assert not leaked
    for _id, _kind, query, _file, must in QUERIES:
        assert query not in body
        assert must not in body
    assert "According to" not in body  # the echo answer's lead


def test_chunks_by_file_lists_a_document_in_order(run: dict, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=Path(run["setup"]["data_dir"]),
        embedder={"kind": "hash"},  # type: ignore[arg-type]
    )
    runtime = build_runtime(settings)
    try:
        with runtime.sessions() as db:
            doc = db.scalar(select(Document).where(Document.filename == "quasar.md"))
            assert doc is not None
        chunks = chunks_by_file(runtime, Scope.of([doc.collection_id]), doc.collection_id)
        listed = chunks("quasar.md")
        assert [c.position for c in listed] == list(range(doc.chunks_total))
        assert len(listed) > 1
        assert all(c.document == doc.id for c in listed)
        assert chunks("missing.md") == []
    finally:
        runtime.close()


class Oracle:
    """Answers with the labelled string of the first source holding one, citing it; otherwise
    the no-answer sentence: what a perfect model says, normal or withheld."""

    name = "oracle"

    def stream(
        self, messages: Sequence[Message], *, max_tokens: int, temperature: float
    ) -> Iterator[str]:
        user = messages[-1].content
        for number, text in re.findall(
            r"^\[(\d+)\] [^\n]*\n(.*?)(?=^\[\d+\] |\Z)", user, re.M | re.S
        ):
            for *_, must in QUERIES:
                if must in " ".join(text.split()):
                    yield f"{must} [{number}]."
                    return
        yield NO_ANSWER

    def close(self) -> None:
        pass


def test_a_model_that_declines_without_the_passage(
    run: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var, value in FAST.items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("ENCLAVE_ANSWER__ABSTAIN_BELOW", "0")  # the model alone decides
    monkeypatch.setattr("app.runtime.make_generator", lambda _settings: Oracle())
    result = evaluate(
        EvalOptions(
            root=Path(run["setup"]["root"]),
            out=tmp_path / "oracle",
            data_dir=Path(run["setup"]["data_dir"]),  # the index of `run`, reused
            answers=4,
            answer_modes=("generator",),
            command="pytest",
        )
    )
    assert result["setup"]["ingestion_reused"]
    every = result["answers"]["generator"]["metrics"]["all"]
    assert every["supported_share"] == 1.0  # the verifier finds each answer in its source
    assert every["citation_correct"] == every["sources_relevant"] == 1.0
    assert every["cited_relevant_share"] == 1.0
    assert every["false_no_answer"] == 0.0
    assert every["withheld_no_answer"] == 1.0
    assert every["precision"] == 1.0  # every answer word is in the passage
    assert 0.0 < every["recall"] < 1.0
