"""The report of an eval run: `report.md`, `metrics.json` and PNG charts (matplotlib, Agg)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from evals.metrics import METRICS

STAGES = ("embed", "index", "rerank", "generation", "total")
ANSWERS_ROW = "answers (hybrid+rerank → generator)"
ANSWER_COLUMNS = {  # metric -> column heading, in table order (per mode)
    "citation_correct": "citation correct",
    "cited_relevant_share": "cited relevant share",
    "uncited": "uncited",
    "sources_relevant": "relevant source given",
    "false_no_answer": "no-answer (normal)",
    "withheld_no_answer": "no-answer (withheld)",
    "f1": "token F1",
    "precision": "token P",
    "recall": "token R",
}
ANSWER_CHART = ("citation_correct", "cited_relevant_share", "withheld_no_answer", "f1")
GROUNDING_COLUMNS = {  # the trust metrics by answer mode (issue 13's table)
    "citation_correct": "citation correct",
    "supported_share": "supported claims",
    "invented_specifics": "invented specifics shown",
    "withheld_no_answer": "abstention (withheld)",
    "false_no_answer": "false abstention",
}


def write(
    out: Path,
    *,
    summary: dict[str, Any],
    setup: dict[str, Any],
    per_query: dict,
    answers: dict[str, Any] | None = None,
) -> None:
    """Write metrics.json, the charts and report.md into `out`. `answers`: the answer sample's
    summary plus its `per_query` records (evals/answers.py), when one ran."""
    out.mkdir(parents=True, exist_ok=True)
    payload = {"setup": setup, "arms": summary, "per_query": per_query}
    if answers is not None:
        payload["answers"] = answers
    text = json.dumps(_finite(payload), indent=2, default=str, allow_nan=False)
    (out / "metrics.json").write_text(text + "\n")
    charts = write_charts(out, summary, answers)
    (out / "report.md").write_text(markdown(summary, setup, charts, answers))


def _finite(value: Any) -> Any:
    """NaN (a metric over no values) as null, so metrics.json is valid JSON."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def _table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A Markdown table's lines."""
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return lines + ["| " + " | ".join(cells) + " |" for cells in rows]


def metrics_table(summary: dict[str, Any]) -> list[str]:
    return _table(
        ["arm", "kind", "n", *METRICS],
        (
            [arm, kind, str(int(m["n"])), *(_fmt(m[name]) for name in METRICS)]
            for arm, result in summary.items()
            for kind, m in result["metrics"].items()
        ),
    )


def latency_table(summary: dict[str, Any], answers: dict[str, Any] | None = None) -> list[str]:
    """p50 / p95 per stage and arm; the answer sample (when it ran) as one more row."""
    stages = _stages(answers)
    rows = [(arm, result["latency_ms"]) for arm, result in summary.items()]
    for mode, run in (answers or {}).items():
        rows.append((f"{ANSWERS_ROW}, {mode}", run["latency_ms"]))
    return _table(
        ["arm", *(f"{s} p50 / p95 (ms)" for s in stages)],
        (
            [
                name,
                *(
                    f"{_fmt(lat[s]['p50'], 1)} / {_fmt(lat[s]['p95'], 1)}" if s in lat else "–"
                    for s in stages
                ),
            ]
            for name, lat in rows
        ),
    )


def _stages(answers: dict[str, Any] | None) -> tuple[str, ...]:
    """The stages shown: generation only when an answer sample ran (the arms do not generate)."""
    return STAGES if answers is not None else tuple(s for s in STAGES if s != "generation")


def answers_table(answers: dict[str, Any]) -> list[str]:
    return _table(
        ["kind", "n", *ANSWER_COLUMNS.values()],
        (
            [kind, str(int(m["n"])), *(_fmt(m[name]) for name in ANSWER_COLUMNS)]
            for kind, m in answers["metrics"].items()
        ),
    )


def grounding_table(answers: dict[str, Any]) -> list[str]:
    """The trust metrics and first-text latency, one row per answer mode."""
    return [
        "## Grounded answers by mode",
        "",
        *_table(
            ["mode", "n", *GROUNDING_COLUMNS.values(), "first text p50 / p95 (ms)"],
            (
                [
                    mode,
                    str(int(run["metrics"]["all"]["n"])),
                    *(_fmt(run["metrics"]["all"][m]) for m in GROUNDING_COLUMNS),
                    _p50_p95_text(run["first_delta_ms"]),
                ]
                for mode, run in answers.items()
            ),
        ),
        "",
        "- extractive: the sources' own sentences, each cited with its span; both: that first, "
        "then the generator's answer verified claim by claim (only supported claims shown); "
        "generator: the verified generator answer alone. Abstention is decided before either, "
        "on the calibrated extractive strength (`serving.abstain`).",
        "- supported claims: the product's verifier, mean over answers with a checked claim; "
        "invented specifics: numbers, codes and identifiers in the text shown (normal and "
        "withheld answers) found in none of the sources given (`evals.grounding`, independent "
        "of the verifier), a total count; abstention (withheld): no answer when every chunk "
        "holding the labelled passage is withheld; false abstention: no answer when it is not.",
        "",
    ]


def answers_section(answers: dict[str, Any], setup: dict[str, Any], mode: str) -> list[str]:
    plan = setup["answers"][mode]
    every = answers["metrics"]["all"]
    ms = _p50_p95_text
    lines = [
        f"## Answer quality (sample), mode {mode}",
        "",
        f"{plan['n']} queries (seeded, kinds balanced), generator `{setup['generator']}`, "
        f"temperature {plan['temperature']:g}, max_tokens {plan['max_tokens']}. Normal: the "
        f"product's retrieval (hybrid + rerank, top {plan['k']}). Withheld: top "
        f"{plan['withheld_k']}, every chunk satisfying a label dropped, the first {plan['k']} "
        "of the rest given. Judged with the retrieval rule (file + `must_contain`); no remote "
        "judge.",
        "",
        *answers_table(answers),
        "",
        "- citation correct: share of answers citing at least one relevant source; cited "
        "relevant share: relevant / cited, mean over answers that cite; uncited: answers citing "
        "nothing; relevant source given: a relevant chunk was among the sources (the ceiling "
        "of citation correct).",
        "- no-answer: share of replies saying the sources do not contain the answer — wrong in "
        "the normal case, right when the relevant chunks are withheld.",
        "- token F1 / P / R: SQuAD-style bag-of-words overlap of the answer (citation markers "
        "removed) with the reference passage, the paragraph of the labelled chunk holding "
        f"`must_contain` ({int(every['f1_n'])} of {int(every['n'])} passages found); a "
        "no-answer reply scores 0.",
        f"- Generation (normal) p50 / p95: {ms(answers['latency_ms'].get('generation'))} ms; "
        f"first delta {ms(answers['first_delta_ms'])} ms; withheld generation "
        f"{ms(answers['withheld_generation_ms'])} ms.",
    ]
    if every.get("no_sources", 0) > 0:
        lines.append(
            f"- {every['no_sources']:.0%} of the normal answers had no source at all (every "
            "hit hidden): an index written before index generations existed is invisible to "
            "answers; re-ingest it."
        )
    return [*lines, ""]


def _p50_p95_text(lat: dict[str, float] | None) -> str:
    if not lat:
        return "–"
    return f"{_fmt(lat['p50'], 0)} / {_fmt(lat['p95'], 0)}"


def markdown(
    summary: dict[str, Any],
    setup: dict[str, Any],
    charts: list[str],
    answers: dict[str, Any] | None = None,
) -> str:
    s = setup
    chunking = s["chunking"]
    rerankers = {arm: r["reranker"] for arm, r in summary.items() if r["rerank"]}
    failed = s["documents_failed"]
    lines = [
        f"# Evaluation: {s['set']}",
        "",
        f"Command: `{s.get('command', '')}`  ",
        f"Run at {s.get('started_at', '')} on {s['machine']}.",
        "",
        "## Setup",
        "",
        f"- Documents: {s['documents']} ({_counts(s['documents_by_format'])}), "
        f"{s['chunks']} chunks, {len(failed)} failed",
        f"- Queries: {s['queries']} ({_counts(s['queries_by_kind'])}); top-{s['k']} judged by "
        "file + `must_contain` (whitespace-normalised, case-sensitive)",
        f"- Embedder: `{s['embedder']}` (dim {s['embedder_dim']}); vector store: "
        f"`{s['vector_store']}`, fusion `{s.get('fusion', 'rrf')}`, names leg "
        f"{'on' if s.get('names_leg') else 'off'}, window vectors `{s.get('windows')}`; "
        f"BM25 k1={s['bm25']['k1']} b={s['bm25']['b']}",
        f"- Chunking: {chunking['min_tokens']}–{chunking['max_tokens']} tokens, "
        f"overlap {chunking['overlap']:.0%}; prefetch_k={s['retrieval']['prefetch_k']}, "
        f"rerank_k={s['retrieval']['rerank_k']}",
        f"- Reranker that ran: {_counts(rerankers) if rerankers else 'none'}"
        + (
            " — the model-free rerankers: `proximity` (fusion score + the query's word pairs in "
            "order + its identifiers named and defined) and `semantic` (the embedded default: "
            "proximity + the query's best cosine with the chunk's window vectors); "
            "`ENCLAVE_RERANKER__MODEL_PATH` selects a local cross-encoder such as "
            "bge-reranker-v2-m3 instead."
            if {"proximity", "semantic"} & set(rerankers.values())
            else " — `none` is the pass-through: hybrid+rerank then equals hybrid."
            if "none" in rerankers.values()
            else ""
        ),
        f"- Ingestion: {s['ingestion_s']} s"
        + (" (index reused, nothing ingested)" if s["ingestion_reused"] else "")
        + f"; data dir `{s['data_dir']}`, collection `{s['collection']}`",
        "",
        "## Quality (mean over queries)",
        "",
        *metrics_table(summary),
        "",
        *(grounding_table(answers) if answers else []),
        *(
            line
            for mode, run in (answers or {}).items()
            for line in answers_section(run, setup, mode)
        ),
        "## Latency per stage (`SearchResult.timings_ms`)",
        "",
        *latency_table(summary, answers),
        "",
        "Latencies are wall-clock on a shared machine: compare arms within one run only."
        + (
            " Generation (the answer sample only) runs from the prompt to the last token."
            if answers is not None
            else ""
        ),
        "",
    ]
    if failed:
        lines += ["## Failed documents", ""]
        lines += [f"- `{f['file']}`: {f['reason']}" for f in failed] + [""]
    if charts:
        lines += ["## Charts", ""] + [f"![{c}]({c})" for c in charts] + [""]
    return "\n".join(lines)


def _counts(counts: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {v}" for k, v in counts.items())


def write_charts(
    out: Path, summary: dict[str, Any], answers: dict[str, Any] | None = None
) -> list[str]:
    """metrics_by_arm.png, latency_by_stage.png and, with an answer sample, answer_quality.png;
    returns the file names written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(summary)
    names: list[str] = []

    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), sharey=True)
    for ax, kind in zip(axes, ("exact", "semantic", "all"), strict=True):
        _grouped_bars(
            ax,
            arms,
            METRICS,
            lambda arm, m, kind=kind: summary[arm]["metrics"].get(kind, {}).get(m, math.nan),
        )
        ax.set_title(kind)
        ax.set_ylim(0, 1.05)
    axes[0].set_ylabel("mean over queries")
    axes[-1].legend(fontsize=8, loc="lower left", bbox_to_anchor=(1.01, 0))
    fig.suptitle("Retrieval quality by arm")
    fig.tight_layout()
    fig.savefig(out / "metrics_by_arm.png", dpi=110)
    plt.close(fig)
    names.append("metrics_by_arm.png")

    latency = {arm: summary[arm]["latency_ms"] for arm in arms}
    for mode, run in (answers or {}).items():
        latency[f"answers, {mode}"] = run["latency_ms"]
    stages = _stages(answers)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, q in zip(axes, ("p50", "p95"), strict=True):
        _grouped_bars(
            ax,
            list(latency),
            stages,
            lambda row, st, q=q: latency[row].get(st, {}).get(q, math.nan),
        )
        ax.set_title(f"{q} latency")
        if answers is not None:  # generation takes seconds, index queries milliseconds
            ax.set_yscale("log")
    axes[0].set_ylabel("ms" + (" (log scale)" if answers is not None else ""))
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle("Search and answer latency by stage" if answers else "Search latency by stage")
    fig.tight_layout()
    fig.savefig(out / "latency_by_stage.png", dpi=110)
    plt.close(fig)
    names.append("latency_by_stage.png")

    if answers:
        modes = list(answers)
        fig, ax = plt.subplots(figsize=(8, 4.5))
        _grouped_bars(
            ax,
            modes,
            ANSWER_CHART,
            lambda mode, m: answers[mode]["metrics"]["all"].get(m, math.nan),
        )
        ax.set_ylim(0, 1.05)
        ax.set_ylabel("share / mean over answers")
        ax.legend(
            [ANSWER_COLUMNS[m] for m in ANSWER_CHART],
            fontsize=8,
            loc="upper left",
            bbox_to_anchor=(1.01, 1),
        )
        n = int(answers[modes[0]]["metrics"]["all"]["n"])
        fig.suptitle(f"Answer quality by mode ({n} queries)")
        fig.tight_layout()
        fig.savefig(out / "answer_quality.png", dpi=110)
        plt.close(fig)
        names.append("answer_quality.png")
    return names


def _grouped_bars(ax: Any, groups: list[str], series: tuple[str, ...], value: Any) -> None:
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [value(arm, name) for arm in groups]
        ax.bar(xs, [0 if math.isnan(y) else y for y in ys], width, label=name)
    ax.set_xticks(range(len(groups)), groups, fontsize=9)
