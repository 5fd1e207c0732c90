"""`enclave tune COLLECTION` and `enclave reembed`: adapt the embedder to a collection's own
documents, offline and without labels (added to the main command line by app/cli.py).

Pairs come from the collection's structure (retrieval/tuning.py), training from
sentence-transformers (retrieval/finetune.py). The result is a new model directory, a checksum
manifest listing it, and the settings that point at it. The embedder is global: once the
settings point at the tuned model, every collection must be indexed again with it (re-ingest
into a fresh data directory, or re-upload), since query and document vectors must come from
the same model: `enclave reembed` does that, as one atomic swap of index generations.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from app.cli_support import err, fail, local_runtime, out
from app.errors import KNOWN_ERRORS, Forbidden
from app.identity import PLATFORM_ADMIN
from app.services import local_admin, tuning
from app.services import reembed as reembed_service
from app.settings import Settings
from retrieval.embedders import minilm_path
from retrieval.finetune import TuneOptions, fine_tune
from retrieval.tuning import build_pairs

commands = typer.Typer()


@commands.command()
def tune(
    collection: Annotated[str, typer.Argument(help="The collection to learn from (admin).")],
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="The new model directory (default: <data>/models/minilm-C)."),
    ] = None,
    max_minutes: Annotated[float, typer.Option(min=0.1, help="This run's time bound.")] = 30.0,
    max_pairs: Annotated[int, typer.Option(min=1, help="Training pairs at most.")] = 1600,
    epochs: Annotated[int, typer.Option(min=1)] = 1,
    batch_size: Annotated[int, typer.Option(min=2)] = 16,
    learning_rate: Annotated[float, typer.Option(min=0.0)] = 3e-5,
    max_seq_length: Annotated[int, typer.Option(min=16, help="Word pieces per text.")] = 128,
    seed: Annotated[int, typer.Option(help="Pair sampling and batch order.")] = 0,
) -> None:
    """Fine-tune the embedder on pairs built from a collection's own structure (heading →
    section, term → definition, first sentence → rest, with BM25 hard negatives). Resumable:
    run it again with the same options to continue where the time bound stopped it."""
    settings = Settings()
    if settings.embedder.resolved_kind != "minilm":
        err.print(
            "[red]error:[/red] only a MiniLM-style (sentence-transformers) embedder can be tuned"
        )
        raise typer.Exit(2)
    base = settings.embedder.model_path or minilm_path()
    with local_runtime() as runtime:
        principal = local_admin.principal(sessions=runtime.sessions)
        found, chunks = tuning.collection_chunks(
            sessions=runtime.sessions, store=runtime.store, principal=principal, ref=collection
        )
    target = out_dir or settings.data_dir / "models" / f"minilm-{found.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    err.print(f"{len(chunks)} chunks of {found.name}: building training pairs …")
    pairs = build_pairs(chunks, seed=seed, max_pairs=max_pairs)
    options = TuneOptions(
        base=base,
        out=target,
        checkpoint=target.with_name(target.name + ".checkpoint"),
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_seq_length=max_seq_length,
        max_minutes=max_minutes,
        seed=seed,
        device=settings.embedder.device,
    )
    try:
        with _progress() as progress:
            task = progress.add_task(f"tuning on {len(pairs)} pairs", total=None)
            result = fine_tune(
                pairs, options, on_step=lambda d, t: progress.update(task, completed=d, total=t)
            )
        manifest = target.with_name(target.name + ".manifest.json")
        tuning.write_manifest(settings, target, manifest, f"tuned from {base} on {found.id}")
    except ValueError as exc:  # no pairs: too little structured text
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except KNOWN_ERRORS as exc:
        fail(exc)
    summary = {
        "collection": found.id,
        "chunks": len(chunks),
        "pairs": len(pairs),
        "kinds": {k: sum(p.kind == k for p in pairs) for k in ("heading", "term", "sentence")},
        "steps_done": result.steps_done,
        "steps_total": result.steps_total,
        "resumed_from": result.resumed_from,
        "seconds": round(result.seconds, 1),
        "last_loss": result.last_loss,
        "options": {k: str(v) for k, v in vars(options).items()},
    }
    target.with_name(target.name + ".tune.json").write_text(json.dumps(summary, indent=2) + "\n")
    _report(result.finished, result.steps_done, result.steps_total, target, manifest)


def _progress() -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), TimeRemainingColumn(), console=err)


def _report(finished: bool, done: int, total: int, target: Path, manifest: Path) -> None:
    state = "done" if finished else "stopped by --max-minutes; run again to continue"
    out.print(f"tuned {done}/{total} steps ({state}): {target}", highlight=False)
    out.print("To use it, set these, then run `enclave reembed` with them:", highlight=False)
    for line in (
        "ENCLAVE_EMBEDDER__KIND=minilm",
        f"ENCLAVE_EMBEDDER__MODEL_PATH={target}",
        f"ENCLAVE_MODELS__MANIFEST={manifest}",
    ):
        out.print(line, highlight=False, soft_wrap=True)


@commands.command()
def reembed(
    keep_old: Annotated[
        bool, typer.Option(help="Leave the old vectors for the worker's sweep (grace period).")
    ] = False,
) -> None:
    """Re-embed every collection with the configured embedder (e.g. after `enclave tune`), as
    new index generations made live all at once; stop `enclave serve` first."""
    from datetime import timedelta

    with local_runtime() as runtime:
        principal = local_admin.principal(sessions=runtime.sessions)
        if not principal.has_role(PLATFORM_ADMIN):
            fail(Forbidden("re-embedding every collection needs the platform_admin role"))
        total = sum(d.chunks for d in reembed_service.live_documents(runtime.sessions))
        with _progress() as progress:
            task = progress.add_task(f"re-embedding ({runtime.embedder.name})", total=total)
            swaps = reembed_service.reembed_all(
                sessions=runtime.sessions,
                store=runtime.store,
                embedder=runtime.embedder,
                bm25=runtime.bm25,
                originals=runtime.originals,
                index_key=runtime.index_key,
                batch_size=runtime.settings.embedder.batch_size,
                on_document=lambda n: progress.advance(task, n),
            )
        swept = 0 if keep_old else runtime.worker().sweep(grace=timedelta(0))
    out.print(
        f"re-embedded {len(swaps)} documents ({total} chunks) with {runtime.embedder.name}; "
        f"old generations deleted: {swept}",
        highlight=False,
    )
