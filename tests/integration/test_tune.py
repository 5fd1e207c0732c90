"""`enclave tune` on a tiny real collection (MiniLM, qdrant-edge, SQLite): a loadable model
directory with its checksum manifest, a resumable run, and `enclave reembed` swapping every
document to the tuned model's vectors at once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app import model_check
from app.cli import cli
from app.db.models import Job
from app.runtime import build_runtime
from app.settings import Settings
from retrieval.embedders import SentenceTransformerEmbedder, minilm_path
from retrieval.finetune import TuneOptions, fine_tune
from retrieval.tuning import build_pairs
from retrieval.types import Chunk

SAMPLES = Path(__file__).parents[2] / "samples"
TINY = ["--max-pairs", "8", "--batch-size", "4", "--max-seq-length", "32", "--max-minutes", "5"]

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    for name, value in {
        "ENCLAVE_DATA_DIR": str(tmp_path / "data"),
        "ENCLAVE_RERANKER__KIND": "overlap",
        "ENCLAVE_GENERATOR__KIND": "echo",
        "ENCLAVE_INGESTION__ISOLATE_PARSING": "false",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "data"


def test_tune_writes_a_checked_model_and_reembed_swaps_every_document(
    data_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["ingest", str(SAMPLES), "-c", "handbook"]).exit_code == 0
    model = tmp_path / "models" / "minilm-handbook"
    tuned = runner.invoke(cli, ["tune", "handbook", "--out", str(model), *TINY])
    assert tuned.exit_code == 0, tuned.output
    assert "steps (done)" in tuned.stdout
    manifest = model.with_name("minilm-handbook.manifest.json")
    for name, value in {
        "ENCLAVE_EMBEDDER__KIND": "minilm",
        "ENCLAVE_EMBEDDER__MODEL_PATH": str(model),
        "ENCLAVE_MODELS__MANIFEST": str(manifest),
        "ENCLAVE_MODELS__REQUIRE_MANIFEST": "true",
    }.items():
        assert f"{name}={value}" in tuned.stdout or name == "ENCLAVE_MODELS__REQUIRE_MANIFEST"
        monkeypatch.setenv(name, value)
    model_check.verify(Settings())  # every model the settings load matches the manifest
    embedder = SentenceTransformerEmbedder(model)
    base = SentenceTransformerEmbedder(minilm_path())
    text = ["Replace the pump seal after 2,000 hours."]
    moved = embedder.embed(text, kind="document") @ base.embed(text, kind="document").T
    assert embedder.dim == 384
    assert 0.5 < float(moved[0, 0]) < 1.0 - 1e-6

    swapped = runner.invoke(cli, ["reembed"])
    assert swapped.exit_code == 0, swapped.output
    assert "re-embedded 3 documents" in swapped.stdout
    runtime = build_runtime(Settings())
    try:
        with runtime.sessions() as db:
            jobs = db.execute(select(Job.kind, Job.index_state)).all()
        assert sorted(jobs) == [("reembed", "live")] * 3  # the old generations are swept
        assert runtime.embedder.name == "minilm-handbook"
    finally:
        runtime.close()
    found = runner.invoke(cli, ["search", "pump seal replacement interval", "-c", "handbook"])
    assert found.exit_code == 0, found.output
    assert "pump" in found.stdout.lower()


def test_a_stopped_run_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    chunks = [
        Chunk(
            id=f"00000000-0000-0000-0000-00000000000{i}",
            collection="c",
            document=f"00000000-0000-0000-0000-0000000000a{i}",
            position=0,
            text=text,
            section=f"Manual > Part {i}",
        )
        for i, text in enumerate(p.read_text() for p in sorted(SAMPLES.iterdir()))
    ]
    pairs = build_pairs(chunks, max_pairs=12)
    options = TuneOptions(
        base=minilm_path(),
        out=tmp_path / "model",
        checkpoint=tmp_path / "checkpoint",
        batch_size=4,
        max_seq_length=32,
        checkpoint_every=1,
    )

    def stop_after_one(done: int, total: int) -> None:
        if done == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        fine_tune(pairs, options, on_step=stop_after_one)
    seen: list[int] = []
    result = fine_tune(pairs, options, on_step=lambda done, total: seen.append(done))
    assert result.resumed_from == 1
    assert result.finished
    assert seen == list(range(2, result.steps_total + 1))
    assert not options.checkpoint.exists()  # a finished run leaves no checkpoint
    vectors = SentenceTransformerEmbedder(options.out).embed(["pump"], kind="query")
    assert np.isfinite(vectors).all()
