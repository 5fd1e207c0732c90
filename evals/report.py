"""The report of an eval run: `report.md`, `metrics.json` and PNG charts (matplotlib, Agg)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from evals.metrics import METRICS

STAGES = ("embed", "index", "rerank", "total")


def write(out: Path, *, summary: dict[str, Any], setup: dict[str, Any], per_query: dict) -> None:
    """Write metrics.json, the charts and report.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    payload = {"setup": setup, "arms": summary, "per_query": per_query}
    (out / "metrics.json").write_text(json.dumps(payload, indent=2, default=_json) + "\n")
    charts = write_charts(out, summary)
    (out / "report.md").write_text(markdown(summary, setup, charts))


def _json(value: object) -> object:
    return None if isinstance(value, float) and math.isnan(value) else str(value)


def _fmt(value: float, digits: int = 3) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:.{digits}f}"


def metrics_table(summary: dict[str, Any]) -> list[str]:
    head = ["arm", "kind", "n", *METRICS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm, result in summary.items():
        for kind, m in result["metrics"].items():
            cells = [arm, kind, str(int(m["n"])), *(_fmt(m[name]) for name in METRICS)]
            lines.append("| " + " | ".join(cells) + " |")
    return lines


def latency_table(summary: dict[str, Any]) -> list[str]:
    head = ["arm", *(f"{s} p50 / p95 (ms)" for s in STAGES)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm, result in summary.items():
        lat = result["latency_ms"]
        cells = [
            f"{_fmt(lat[s]['p50'], 1)} / {_fmt(lat[s]['p95'], 1)}" if s in lat else "–"
            for s in STAGES
        ]
        lines.append("| " + " | ".join([arm, *cells]) + " |")
    return lines


def markdown(summary: dict[str, Any], setup: dict[str, Any], charts: list[str]) -> str:
    s = setup
    chunking = s["chunking"]
    rerankers = {arm: r["reranker"] for arm, r in summary.items() if r["rerank"]}
    failed = s["documents_failed"]
    lines = [
        f"# Retrieval evaluation: {s['set']}",
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
        f"`{s['vector_store']}`; BM25 k1={s['bm25']['k1']} b={s['bm25']['b']}",
        f"- Chunking: {chunking['min_tokens']}–{chunking['max_tokens']} tokens, "
        f"overlap {chunking['overlap']:.0%}; prefetch_k={s['retrieval']['prefetch_k']}, "
        f"rerank_k={s['retrieval']['rerank_k']}",
        f"- Reranker that ran: {_counts(rerankers) if rerankers else 'none'}"
        + (
            " — `proximity` is the model-free embedded default (fusion score + the query's word "
            "pairs in order + its identifiers named); `ENCLAVE_RERANKER__MODEL_PATH` selects a "
            "local cross-encoder such as bge-reranker-v2-m3 instead."
            if "proximity" in rerankers.values()
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
        "## Latency per stage (`SearchResult.timings_ms`)",
        "",
        *latency_table(summary),
        "",
        "Latencies are wall-clock on a shared machine: compare arms within one run only.",
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


def write_charts(out: Path, summary: dict[str, Any]) -> list[str]:
    """metrics_by_arm.png and latency_by_stage.png; returns the file names written."""
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

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, q in zip(axes, ("p50", "p95"), strict=True):
        _grouped_bars(
            ax,
            arms,
            STAGES,
            lambda arm, st, q=q: summary[arm]["latency_ms"].get(st, {}).get(q, math.nan),
        )
        ax.set_title(f"{q} latency")
    axes[0].set_ylabel("ms")
    axes[-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.suptitle("Search latency by stage")
    fig.tight_layout()
    fig.savefig(out / "latency_by_stage.png", dpi=110)
    plt.close(fig)
    names.append("latency_by_stage.png")
    return names


def _grouped_bars(ax: Any, groups: list[str], series: tuple[str, ...], value: Any) -> None:
    width = 0.8 / len(series)
    for i, name in enumerate(series):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ys = [value(arm, name) for arm in groups]
        ax.bar(xs, [0 if math.isnan(y) else y for y in ys], width, label=name)
    ax.set_xticks(range(len(groups)), groups, fontsize=9)
