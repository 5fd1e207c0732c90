"""Parse speed per format: pages/s and MB/s, each against plain text of the same content.

    python -m evals.bench.parse_formats [--pages 10] [--repeat 3] [--out PATH]

The inputs are made here (`evals.bench.documents`): the same `--pages` generated pages rendered
as PDF, DOCX, PPTX, XLSX, CSV, HTML, Markdown, TXT and EML. Each file goes through
`ingestion.parsers.parse` with the default settings (so in the parser process, as the worker
parses), once to warm up and then `--repeat` times; the median counts. Baseline: the TXT file
of the same pages, parsed in the same run; the ratio is a format's median time / TXT's (how
many times slower than plain text). A page is a PDF page, a slide, a sheet, else one section
(heading + ~350 words + a 5-row table).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.bench import documents
from evals.bench.common import offline_env, out_option, print_table, ratio, write_report

NAME = "parse_formats"
FORMATS = tuple(documents.BUILDERS)  # pdf, docx, pptx, xlsx, csv, html, md, txt, eml
BASELINE = "txt"


def build_inputs(folder: Path, pages: int, formats: Sequence[str]) -> dict[str, Path]:
    content = documents.sample_pages(pages)
    out = {}
    for fmt in formats:
        extension, build = documents.BUILDERS[fmt]
        path = folder / f"manual{extension}"
        path.write_bytes(build(content))
        out[fmt] = path
    return out


def measure(folder: Path, pages: int, repeat: int, formats: Sequence[str]) -> dict[str, Any]:
    """Median parse time per format (after one warm-up parse each) and the ratio to TXT."""
    from ingestion.parsers import parse, prepare_parser

    formats = list(dict.fromkeys([*formats, BASELINE]))
    inputs = build_inputs(folder, pages, formats)
    prepare_parser()  # start the parser process outside the measurement
    samples: dict[str, list[float]] = {fmt: [] for fmt in formats}
    chars: dict[str, int] = {}
    for fmt, path in inputs.items():  # warm-up, and what each yields
        chars[fmt] = len(parse(path, filename=path.name).text)
    for _ in range(repeat):  # interleaved, so load changes hit every format alike
        for fmt, path in inputs.items():
            started = time.perf_counter()
            parse(path, filename=path.name)
            samples[fmt].append(time.perf_counter() - started)
    base = statistics.median(samples[BASELINE])
    rows = {}
    for fmt, path in inputs.items():
        seconds = statistics.median(samples[fmt])
        size = path.stat().st_size
        rows[fmt] = {
            "bytes": size,
            "chars_extracted": chars[fmt],
            "median_s": round(seconds, 4),
            "pages_per_s": round(pages / seconds, 2),
            "mb_per_s": round(size / seconds / 1e6, 3),
            "ratio_to_txt_time": ratio(seconds, base),
        }
    return {"pages": pages, "repeat": repeat, "baseline": BASELINE, "formats": rows}


def report(result: dict[str, Any]) -> None:
    print_table(
        f"Parse speed, {result['pages']} pages per file, median of {result['repeat']} "
        "(parser process, default settings)",
        ["format", "KB", "seconds", "pages/s", "MB/s", "time vs TXT"],
        [
            [fmt, round(r["bytes"] / 1000, 1), r["median_s"], r["pages_per_s"], r["mb_per_s"]]
            + [r["ratio_to_txt_time"]]
            for fmt, r in result["formats"].items()
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=10, help="pages per file")
    parser.add_argument("--repeat", type=int, default=3, help="timed parses per file")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated formats")
    out_option(parser, NAME)
    args = parser.parse_args()
    offline_env()
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    unknown = set(formats) - set(FORMATS)
    if unknown:
        raise SystemExit(f"unknown formats: {', '.join(sorted(unknown))}")
    with tempfile.TemporaryDirectory() as tmp:
        result = measure(Path(tmp), args.pages, args.repeat, formats)
    report(result)
    print(f"report: {write_report(args.out, NAME, result)}")


if __name__ == "__main__":
    main()
