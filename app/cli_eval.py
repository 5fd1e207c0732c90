"""`enclave eval`: retrieval and answer quality on a labelled folder (added to the main command
line by app/cli.py; the evaluation itself lives in evals/)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import err, fail
from app.errors import KNOWN_ERRORS
from app.logs import configure_logging

commands = typer.Typer()


@commands.command("eval")
def eval_(
    root: Annotated[Path, typer.Argument(help="Folder with the documents and queries.jsonl.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Report folder (default: evals/reports/<name>).")
    ] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Keep the index here and reuse it next time (default: a temp dir)."),
    ] = None,
    limit_docs: Annotated[int | None, typer.Option(help="Quick subset: this many files.")] = None,
    limit_queries: Annotated[int | None, typer.Option(help="At most this many queries.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the subset sampling.")] = 20250601,
    queries: Annotated[str, typer.Option(help="Queries file inside ROOT.")] = "queries.jsonl",
    answers_n: Annotated[
        int,
        typer.Option(
            "--answers",
            min=0,
            help="Answer quality on a sample of this many queries, with the configured "
            "generator (0: none).",
        ),
    ] = 0,
    answer_modes: Annotated[
        str,
        typer.Option(
            help="Answer modes the sample runs in, comma-separated (each: extractive, "
            "generator or both)."
        ),
    ] = "extractive,both",
) -> None:
    """Retrieval quality on a labelled folder: BM25, dense, hybrid, hybrid+rerank (offline);
    with --answers N, answer quality on a sample too."""
    from evals.run import EvalOptions, evaluate

    configure_logging("WARNING")
    options = EvalOptions(
        root=root,
        out=out_dir,
        data_dir=data_dir,
        limit_docs=limit_docs,
        limit_queries=limit_queries,
        seed=seed,
        queries_file=queries,
        answers=answers_n,
        answer_modes=tuple(m.strip() for m in answer_modes.split(",") if m.strip()),
    )
    if unknown := set(options.answer_modes) - {"extractive", "generator", "both"}:
        err.print(f"[red]error:[/red] unknown answer mode(s): {', '.join(sorted(unknown))}")
        raise typer.Exit(2)
    try:
        evaluate(options, console=err)
    except (FileNotFoundError, ValueError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    except KNOWN_ERRORS as exc:
        fail(exc)
