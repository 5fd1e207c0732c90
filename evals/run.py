"""`enclave eval`: one offline evaluation run end to end (ingest, arms, report)."""

from __future__ import annotations

import logging
import shlex
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.runtime import build_runtime
from app.settings import Settings
from evals import report
from evals.answers import AnswerPlan, run_answers, sample, summarise_answers
from evals.dataset import QUERIES_FILE, load, subset
from evals.runner import arms_for, ingest, run_arms, setup_of, summarise

DEFAULT_SEED = 20250601
REPORTS = Path(__file__).parent / "reports"


@dataclass(frozen=True)
class EvalOptions:
    root: Path
    out: Path | None = None
    data_dir: Path | None = None  # None: a temporary directory, removed afterwards
    limit_docs: int | None = None
    limit_queries: int | None = None
    seed: int = DEFAULT_SEED
    queries_file: str = QUERIES_FILE
    name: str | None = None  # report name under evals/reports/ when `out` is not given
    command: str | None = None  # recorded in the report; default: this process's argv
    answers: int = 0  # answer-quality sample size (evals/answers.py); 0: no answers generated
    answer_modes: tuple[str, ...] = ("extractive", "both")  # each mode answers the sample


def evaluate(options: EvalOptions, *, console: Console | None = None) -> dict[str, Any]:
    """Run the evaluation and write its report; returns the metrics.json payload."""
    console = console or Console(stderr=True)
    logging.getLogger("pdfminer").setLevel(logging.ERROR)  # colour-space noise from PDF pages
    data = subset(
        load(options.root, queries_file=options.queries_file),
        limit_docs=options.limit_docs,
        limit_queries=options.limit_queries,
        seed=options.seed,
    )
    if not data.queries:
        raise ValueError("no queries left for the selected documents")
    started_at = datetime.now(UTC).isoformat(timespec="seconds")
    with ExitStack() as stack:
        data_dir = options.data_dir or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="enclave-eval-"))
        )
        runtime = build_runtime(Settings(data_dir=data_dir))
        stack.callback(runtime.close)
        console.print(f"{len(data.documents)} documents, {len(data.queries)} queries → {data_dir}")
        with _progress(console) as progress:
            ingestion = ingest(runtime, data, progress=progress)
        console.print(
            f"ingestion: {ingestion.seconds:.1f} s, {ingestion.chunks} chunks, "
            f"{len(ingestion.failed)} failed" + (" (reused)" if ingestion.reused else "")
        )
        asked = sample(data.queries, options.answers, seed=options.seed)
        plans = [AnswerPlan.of(runtime, len(asked), mode) for mode in options.answer_modes]
        answer_rows: dict[str, list[dict[str, Any]]] = {}
        with _progress(console) as progress:
            task = progress.add_task(f"{len(arms_for(runtime))} arms", total=len(data.queries))
            results = run_arms(
                runtime, data.queries, ingestion, advance=lambda: progress.advance(task)
            )
            for plan in plans if asked else []:
                answering = progress.add_task(
                    f"{len(asked)} answers, {plan.mode} (normal + withheld)", total=2 * len(asked)
                )
                answer_rows[plan.mode] = run_answers(
                    runtime,
                    asked,
                    collection_id=ingestion.collection_id,
                    filenames=ingestion.filenames,
                    plan=plan,
                    advance=partial(progress.advance, answering),
                )
        setup = setup_of(runtime, data, ingestion)
        setup["generator"] = runtime.generator.name if asked else None
        setup["answers"] = {p.mode: asdict(p) for p in plans} if asked else None
    setup |= {
        "command": options.command or _command_line(),
        "started_at": started_at,
        "seed": options.seed,
    }
    setup |= {"limit_docs": options.limit_docs, "limit_queries": options.limit_queries}
    summary = summarise(results)
    per_query = {r.arm.name: r.per_query for r in results}
    out = options.out or REPORTS / (options.name or data.name)
    answers = {
        mode: summarise_answers(rows) | {"per_query": rows} for mode, rows in answer_rows.items()
    } or None
    report.write(out, summary=summary, setup=setup, per_query=per_query, answers=answers)
    console.print(f"report: {out / 'report.md'}")
    return {"setup": setup, "arms": summary, "answers": answers, "out": str(out)}


def _progress(console: Console) -> Progress:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    return Progress(*columns, TimeElapsedColumn(), console=console, transient=True)


def _command_line() -> str:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else []
    return shlex.join(argv)
