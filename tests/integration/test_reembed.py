"""`reembed_all` (app/services/reembed.py) on real SQLite and qdrant-edge with the hash
embedder: all documents swap to new generations at once, or none does."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from app.cli import cli, scope_of
from app.db.models import Job
from app.runtime import Runtime, build_runtime
from app.services import reembed
from retrieval.embedders import HashEmbedder
from tests.support import FAST_ENV, fast_settings

SAMPLES = Path(__file__).parents[2] / "samples"


class Failing(HashEmbedder):
    """Fails on its `after`-th call, like a model that runs out of memory mid-way."""

    def __init__(self, after: int) -> None:
        super().__init__(64)
        self.calls, self.after = 0, after

    def embed_windows(self, texts: Sequence[str]) -> list[np.ndarray]:
        self.calls += 1
        if self.calls >= self.after:
            raise MemoryError
        return super().embed_windows(texts)


@pytest.fixture
def runtime(tmp_path, monkeypatch) -> Iterator[Runtime]:
    for name, value in {"ENCLAVE_DATA_DIR": str(tmp_path / "data"), **FAST_ENV}.items():
        monkeypatch.setenv(name, value)
    assert CliRunner().invoke(cli, ["ingest", str(SAMPLES), "-c", "handbook"]).exit_code == 0
    built = build_runtime(fast_settings(tmp_path / "data"))
    yield built
    built.close()


def states(runtime: Runtime) -> list[tuple[str, str]]:
    with runtime.sessions() as db:
        return sorted(
            (kind, state) for kind, state in db.execute(select(Job.kind, Job.index_state))
        )


def run(runtime: Runtime, embedder: HashEmbedder) -> dict[str, str]:
    return reembed.reembed_all(
        sessions=runtime.sessions,
        store=runtime.store,
        embedder=embedder,
        bm25=runtime.bm25,
        originals=runtime.originals,
        index_key=runtime.index_key,
    )


def visible_generations(runtime: Runtime) -> set[str]:
    """The generations of every chunk a search of the collection can return."""
    scope = scope_of(runtime, "handbook")
    hits = runtime.retriever.search("pump password hand hygiene", scope=scope, k=50).hits
    return {h.chunk.generation for h in hits}


def test_a_failure_leaves_the_old_index_live_and_the_next_run_swaps_all(runtime: Runtime) -> None:
    before = visible_generations(runtime)
    with pytest.raises(MemoryError):
        run(runtime, Failing(after=2))
    assert states(runtime) == [("ingest", "live")] * 3 + [("reembed", "retired")] * 2
    assert visible_generations(runtime) == before

    swaps = run(runtime, HashEmbedder(64))
    assert set(swaps) >= before  # every live generation was swapped
    assert states(runtime).count(("reembed", "live")) == 3
    assert states(runtime).count(("ingest", "retired")) == 3
    assert visible_generations(runtime) == set(swaps.values())
    for old, new in swaps.items():  # each original follows its document to the new generation
        assert runtime.originals.exists(new)
        assert runtime.originals.exists(old)  # until the sweep wipes the retired one


def test_generations_a_killed_run_left_pending_are_retired_by_the_next(runtime: Runtime) -> None:
    with runtime.sessions() as db:
        document = db.scalar(select(Job.document_id))
        db.add(Job(document_id=document, kind="reembed", state="done", index_state="pending"))
        db.commit()
    run(runtime, HashEmbedder(64))
    assert states(runtime).count(("reembed", "retired")) == 1
    assert states(runtime).count(("reembed", "live")) == 3
