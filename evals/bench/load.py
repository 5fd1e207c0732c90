"""Load levels over real HTTP: 16, 50 and 100 clients at once on /v1/search and /v1/answer.

    python -m evals.bench.load [--levels 16,50,100] [--questions 5] [--baseline 40]

The server and the set-up are those of `evals.bench.concurrency` (`enclave serve` in a
subprocess, the embedded default: MiniLM, qdrant-edge, SQLite, no reranker; the echo generator;
samples/ ingested; one read-only API key shared by every client). The rate limits are lifted
(ENCLAVE_LIMITS__SEARCH= etc.: one key for every client would be throttled, by design); every
other bound (body size, in-flight cap, pool, time budget) is the default. Issue 17: before it,
16 clients on /v1/search got 0.5 req/s, 30-s waits and 500s (a starved database pool).

For each route: a baseline of `--baseline` requests sent one at a time by one client, then each
level: that many clients (threads, one keep-alive connection each) send `--questions` requests
each, all released together. Reported per level: throughput (req/s over the round's wall time),
p50/p95 latency, errors, and throughput and p95 as ratios to the baseline. Any error (non-200,
transport failure) makes the exit status 1.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

from evals.bench.common import ROOT, enclave_server, out_option, print_table, ratio, write_report
from evals.bench.concurrency import ROUTES, plan, run_round, set_up
from evals.bench.walking_skeleton import QUERIES

NAME = "load"
UNLIMITED = {
    f"ENCLAVE_LIMITS__{name}": ""
    for name in ("SEARCH", "SEARCH_PER_ADDRESS", "ANSWER", "ANSWER_PER_ADDRESS")
}


def measure(url: str, key: str, levels: list[int], questions: int, baseline: int) -> dict:
    out: dict[str, Any] = {}
    for route in ROUTES:
        run_round(url, key, route, [[QUERIES[0]]])  # warm-up
        alone = run_round(url, key, route, [[QUERIES[i % len(QUERIES)] for i in range(baseline)]])
        rounds = []
        for clients in levels:
            run = run_round(url, key, route, plan(clients, questions))
            run["ratio_throughput"] = ratio(run["per_s"], alone["per_s"])
            run["ratio_p95"] = ratio(run["latency_ms"]["p95"], alone["latency_ms"]["p95"])
            rounds.append(run)
        out[route] = {"sequential": alone, "levels": rounds}
    return out


def report(result: dict[str, Any]) -> None:
    rows = []
    for route, r in result["routes"].items():
        for run in [r["sequential"], *r["levels"]]:
            lat = run["latency_ms"]
            label = "1 client, in sequence" if run is r["sequential"] else f"{run['clients']}"
            rows.append([route, label, run["requests"], run["errors"], run["per_s"]])
            rows[-1] += [lat["p50"], lat["p95"], run.get("ratio_throughput", ""), run.get(
                "ratio_p95", "")]  # fmt: skip
    print_table(
        f"Load over HTTP (echo generator; {result['chunks']} chunks from {result['documents']} "
        f"documents; server start {result['startup_s']} s)",
        ["route", "clients", "requests", "errors", "req/s", "p50 ms", "p95 ms", "x req/s",
         "x p95"],
        rows,
        labels=2,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="16,50,100", help="clients at once, per round")
    parser.add_argument("--questions", type=int, default=5, help="requests per client")
    parser.add_argument("--baseline", type=int, default=40, help="requests sent one at a time")
    parser.add_argument("--docs", type=Path, default=ROOT / "samples")
    out_option(parser, NAME)
    args = parser.parse_args()
    levels = [int(n) for n in args.levels.split(",")]
    env = {"ENCLAVE_GENERATOR__KIND": "echo", **UNLIMITED}
    docs = sorted(p for p in args.docs.iterdir() if p.is_file() and not p.name.startswith("."))
    with tempfile.TemporaryDirectory() as tmp, enclave_server(Path(tmp), env=env) as server:
        setup = set_up(server.url, Path(tmp), docs)
        routes = measure(server.url, setup.pop("key"), levels, args.questions, args.baseline)
    result = {
        "generator": "echo",
        "levels": levels,
        "questions": args.questions,
        "startup_s": round(server.startup_s, 2),
        **setup,
        "routes": routes,
    }
    report(result)
    print(f"report: {write_report(args.out, NAME, result)}")
    errors = sum(run["errors"] for r in routes.values() for run in r["levels"])
    errors += sum(r["sequential"]["errors"] for r in routes.values())
    if errors:
        print(f"{errors} request(s) failed")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
