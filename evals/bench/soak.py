"""Soak: many users asking and uploading for minutes against one `enclave serve`, with the
server's memory sampled throughout.

    python -m evals.bench.soak [--users 50] [--duration 180] [--upload-every 10] [--baseline 20]

The server and set-up are those of `evals.bench.load` (`enclave serve` in a subprocess, the
embedded default: MiniLM, qdrant-edge, SQLite; the echo generator, to load Enclave rather than a
model; samples/ ingested), with every rate limit lifted, uploads' too (one key for every user
would be throttled, by design); every other bound is the default. Each user (`evals.bench.users`:
a thread with its own keep-alive connection) loops: a search, an answer, and every
`--upload-every`-th round an upload of a small generated document (~2 chunks, unique).

Baseline: the same loop by one user for `--baseline` seconds, first, on the same server. Then
`--users` users for `--duration` seconds. Afterwards the accepted uploads get up to `--drain`
seconds to be indexed. Reported: per operation and overall, requests, errors, req/s, p50/p95
(and ratios to the baseline); the uploads indexed, failed or still queued; the resident memory
of the server process (all of it, and its private part without the index's memory-mapped files)
and of its parser process sampled every `--sample` seconds: at the start of the soak, peak, end,
and the slope over the second half (least squares, MB/min); the load average over the run. Exit
status 1 on any error (non-2xx, transport failure, an upload that failed to index) or a slope
of the private memory over `--max-slope` MB/min.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from evals.bench.common import (
    ROOT,
    enclave_server,
    out_option,
    percentiles,
    print_table,
    ratio,
    write_report,
)
from evals.bench.concurrency import COLLECTION, set_up
from evals.bench.users import Outcome, Users

NAME = "soak"
UNLIMITED = {
    f"ENCLAVE_LIMITS__{name}{scope}": ""
    for name in ("SEARCH", "ANSWER", "UPLOAD")
    for scope in ("", "_PER_ADDRESS")
}


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """Resident memory of a process, in MB (`VmRSS` all of it; `RssAnon` its heap and other
    private memory, without the index's memory-mapped files); 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except FileNotFoundError:
        return []


class Sampler:
    """Samples the server's RSS, its child processes' (the parser) and the load average."""

    def __init__(self, pid: int, every_s: float) -> None:
        self.pid, self.every_s = pid, every_s
        self.samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)
        self._started = time.monotonic()

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    def _run(self) -> None:
        while True:
            self._sample()
            if self._stop.wait(self.every_s):
                return

    def _sample(self) -> None:
        self.samples.append(
            {
                "t_s": round(time.monotonic() - self._started, 2),
                "server_mb": round(rss_mb(self.pid), 1),
                "server_anon_mb": round(rss_mb(self.pid, "RssAnon"), 1),
                "parser_mb": round(sum(rss_mb(c) for c in children(self.pid)), 1),
                "load_1m": round(os.getloadavg()[0], 2),
            }
        )


def memory(samples: list[dict[str, float]], key: str) -> dict[str, float]:
    """Start, peak, end and the slope over the second half (MB per minute)."""
    values = [s[key] for s in samples]
    half = [s for s in samples if s["t_s"] >= samples[-1]["t_s"] / 2]
    slope = 0.0
    if len(half) >= 3:
        minutes = [s["t_s"] / 60 for s in half]
        slope = statistics.linear_regression(minutes, [s[key] for s in half]).slope
    return {
        "start_mb": values[0],
        "peak_mb": max(values),
        "end_mb": values[-1],
        "slope_second_half_mb_per_min": round(slope, 3),
    }


def summarise(outcomes: list[Outcome], wall_s: float) -> dict[str, Any]:
    """Per operation and overall: requests, errors (by kind), req/s, latency percentiles."""
    out: dict[str, Any] = {}
    for op in ("search", "answer", "upload", "all"):
        mine = [o for o in outcomes if op in ("all", o.op)]
        failed = [o for o in mine if not o.ok]
        out[op] = {
            "requests": len(mine),
            "errors": len(failed),
            "error_kinds": sorted({f"{o.status} {o.error}".strip() for o in failed}),
            "per_s": round(len(mine) / wall_s, 3) if wall_s else 0.0,
            "latency_ms": percentiles([o.latency_ms for o in mine]),
        }
    return out


def run_users(url: str, key: str, *, users: int, seconds: float, upload_every: int) -> dict:
    crowd = Users(url, key, count=users, collection=COLLECTION, upload_every=upload_every)
    started = time.monotonic()
    with crowd:
        time.sleep(seconds)
    outcomes = crowd.outcomes
    result = summarise(outcomes, time.monotonic() - started)
    result["accepted"] = [o.document for o in outcomes if o.op == "upload" and o.status == 202]
    return {"users": users, "seconds": seconds, **result}


def drain(url: str, key: str, documents: list[str], timeout_s: float) -> dict[str, Any]:
    """Wait up to `timeout_s` for the accepted uploads to be indexed; their final states."""
    deadline = time.monotonic() + timeout_s
    started = time.monotonic()
    states: dict[str, int] = {}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        while True:
            listed = client.get(f"/v1/collections/{COLLECTION}/documents").json()
            mine = [d["status"] for d in listed if d["id"] in set(documents)]
            states = {s: mine.count(s) for s in sorted(set(mine))}
            pending = len(mine) - states.get("indexed", 0) - states.get("failed", 0)
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1)
    return {"states": states, "drain_s": round(time.monotonic() - started, 1)}


def soak(url: str, key: str, pid: int, args: argparse.Namespace) -> dict[str, Any]:
    plan = {"upload_every": args.upload_every}
    baseline = run_users(url, key, users=1, seconds=args.baseline, **plan)
    with Sampler(pid, args.sample) as sampler:
        run = run_users(url, key, users=args.users, seconds=args.duration, **plan)
    uploads = drain(url, key, run.pop("accepted") + baseline.pop("accepted"), args.drain)
    for op in ("search", "answer", "upload", "all"):
        lat, base = run[op]["latency_ms"], baseline[op]["latency_ms"]
        run[op]["ratio_p95"] = ratio(lat["p95"], base["p95"])
        run[op]["ratio_per_s"] = ratio(run[op]["per_s"], baseline[op]["per_s"])
    samples = sampler.samples
    return {
        "baseline": baseline,
        "soak": run,
        "uploads": uploads,
        "memory": {
            "server": memory(samples, "server_mb"),
            "server_anon": memory(samples, "server_anon_mb"),
            "parser": memory(samples, "parser_mb"),
        },
        "load_average_1m": {
            "start": samples[0]["load_1m"],
            "max": max(s["load_1m"] for s in samples),
            "end": samples[-1]["load_1m"],
        },
        "samples": samples,
    }


def report(result: dict[str, Any]) -> None:
    rows = []
    for label, run in (("1 user (baseline)", result["baseline"]), ("soak", result["soak"])):
        for op in ("search", "answer", "upload", "all"):
            r = run[op]
            lat = r["latency_ms"]
            rows.append([label if op == "search" else "", op, r["requests"], r["errors"]])
            rows[-1] += [r["per_s"], lat["p50"], lat["p95"], r.get("ratio_p95", "")]
    soak = result["soak"]
    print_table(
        f"Soak over HTTP: {soak['users']} users for {soak['seconds']:.0f} s (echo generator; "
        f"uploads every {result['upload_every']} rounds; load average "
        f"{result['load_average_1m']['start']}-{result['load_average_1m']['max']})",
        ["run", "op", "requests", "errors", "req/s", "p50 ms", "p95 ms", "x p95"],
        rows,
        labels=2,
    )
    mem_rows = [
        [name, m["start_mb"], m["peak_mb"], m["end_mb"], m["slope_second_half_mb_per_min"]]
        for name, m in result["memory"].items()
    ]
    print_table(
        f"Resident memory (MB; {len(result['samples'])} samples); uploads: "
        f"{result['uploads']['states']} after {result['uploads']['drain_s']} s of draining",
        ["process", "start", "peak", "end", "MB/min (2nd half)"],
        mem_rows,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50, help="simultaneous users")
    parser.add_argument("--duration", type=float, default=180, help="seconds of soak")
    parser.add_argument("--upload-every", type=int, default=10, help="rounds between uploads")
    parser.add_argument("--baseline", type=float, default=20, help="seconds of the 1-user run")
    parser.add_argument("--sample", type=float, default=2, help="seconds between RSS samples")
    parser.add_argument("--drain", type=float, default=300, help="seconds to finish indexing")
    parser.add_argument("--max-slope", type=float, default=5, help="private MB/min (2nd half)")
    parser.add_argument("--docs", type=Path, default=ROOT / "samples")
    out_option(parser, NAME)
    args = parser.parse_args()
    env = {"ENCLAVE_GENERATOR__KIND": "echo", **UNLIMITED}
    docs = sorted(p for p in args.docs.iterdir() if p.is_file() and not p.name.startswith("."))
    with tempfile.TemporaryDirectory() as tmp, enclave_server(Path(tmp), env=env) as server:
        setup = set_up(server.url, Path(tmp), docs, permissions=("read", "write"))
        result = soak(server.url, setup.pop("key"), server.pid, args)
    result = {
        "generator": "echo",
        "upload_every": args.upload_every,
        "startup_s": round(server.startup_s, 2),
        **setup,
        **result,
    }
    report(result)
    print(f"report: {write_report(args.out, NAME, result)}")
    failures = check(result, max_slope=args.max_slope)
    if failures:
        print("\n".join(failures))
        raise SystemExit(1)


def check(result: dict[str, Any], *, max_slope: float) -> list[str]:
    """What makes the run a failure: errors, uploads that failed to index, private memory still
    growing in the second half (the index's memory-mapped files grow with the uploads: that is
    data, reported but not judged). Uploads still queued after the drain are a backlog (the one
    worker's pace on this machine), reported."""
    failures = []
    errors = result["soak"]["all"]["errors"] + result["baseline"]["all"]["errors"]
    if errors:
        failures.append(f"{errors} request(s) failed")
    if failed := result["uploads"]["states"].get("failed"):
        failures.append(f"{failed} upload(s) failed to index")
    slope = result["memory"]["server_anon"]["slope_second_half_mb_per_min"]
    if slope > max_slope:
        failures.append(
            f"the server's private memory grew {slope} MB/min over the second half (> {max_slope})"
        )
    return failures


if __name__ == "__main__":
    main()
