"""What the benchmarks share: percentiles, ratios, a console table and a JSON report.

Every benchmark measures against a baseline run in the same process (so machine load hits both
alike) and reports the ratio. The JSON report (default `evals/reports/bench/<name>.json`, or
`--out`) carries the commit and the machine's load so numbers can be compared across commits.
Zero retention: reports hold counts and timings, never query, document or chunk text.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
REPORTS = ROOT / "evals" / "reports" / "bench"
PYDOCS = ROOT.parent / "shared" / "evals" / "pydocs" / "corpus"


def percentiles(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50 and p95 (inclusive method: always inside the data), mean and count."""
    if not samples_ms:
        return {"p50": float("nan"), "p95": float("nan"), "mean": float("nan"), "n": 0}
    if len(samples_ms) == 1:
        only = float(samples_ms[0])
        return {"p50": only, "p95": only, "mean": only, "n": 1}
    q = statistics.quantiles(samples_ms, n=100, method="inclusive")
    return {
        "p50": round(q[49], 3),
        "p95": round(q[94], 3),
        "mean": round(statistics.fmean(samples_ms), 3),
        "n": len(samples_ms),
    }


def ratio(value: float, baseline: float) -> float:
    return round(value / baseline, 3) if baseline else float("inf")


def out_option(parser: argparse.ArgumentParser, name: str) -> None:
    """`--out PATH`, defaulting to evals/reports/bench/<name>.json."""
    parser.add_argument(
        "--out", type=Path, default=REPORTS / f"{name}.json", help="where the JSON report goes"
    )


def machine() -> dict[str, Any]:
    """Where and when the numbers were taken (the commit they belong to, the machine's load)."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        commit, dirty = "unknown", False
    return {
        "commit": commit,
        "dirty": dirty,
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def write_report(path: Path, name: str, results: dict[str, Any]) -> Path:
    """Write `{benchmark, machine, **results}` as JSON; returns the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    report = {"benchmark": name, "machine": machine(), **results}
    path.write_text(json.dumps(report, indent=2, allow_nan=True) + "\n")
    return path


def print_table(
    title: str, columns: Sequence[str], rows: Sequence[Sequence[object]], *, labels: int = 1
) -> None:
    """A table on stdout (rich): the first `labels` columns left-aligned, numbers right."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < labels else "right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    Console(width=max(100, len(title) + 4)).print(table)


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.4g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """`with timer() as t: ...` then `t["s"]` holds the elapsed seconds."""
    out: dict[str, float] = {}
    started = time.perf_counter()
    try:
        yield out
    finally:
        out["s"] = time.perf_counter() - started


def offline_env() -> None:
    """Model libraries offline, no analytics (as tests/conftest.py sets them)."""
    for var, value in {
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "SCARF_NO_ANALYTICS": "true",
        "DO_NOT_TRACK": "true",
        "UNSTRUCTURED_DISABLE_NOTICE": "1",
    }.items():
        os.environ.setdefault(var, value)


def enclave_command() -> list[str]:
    """`enclave` as this interpreter runs it (works from a worktree without its own venv)."""
    return [sys.executable, "-m", "app.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    startup_s: float  # launch until /healthz answered (models loaded, index open)
    pid: int  # the server process (its memory can be sampled: evals.bench.soak)


@contextmanager
def enclave_server(
    data_dir: Path,
    *,
    env: dict[str, str] | None = None,
    timeout_s: float = 300,
    wrapper: Sequence[str] = (),
    log_path: Path | None = None,
) -> Iterator[Server]:
    """`enclave serve` in a subprocess on a free loopback port with `data_dir`, until /healthz
    answers; stopped (SIGTERM) on exit. `wrapper` runs it through a command that execs its
    arguments (e.g. `unshare` for a fault test). Its log goes to `log_path` (default
    `data_dir/server.log`; no content)."""
    import httpx

    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    variables = {**os.environ, "ENCLAVE_DATA_DIR": str(data_dir), "ENCLAVE_LOG_LEVEL": "WARNING"}
    log_path = log_path or data_dir / "server.log"
    log = log_path.open("wb")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*wrapper, *enclave_command(), "serve", "--port", str(port)],
        env={**variables, **(env or {})},
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        while True:
            if proc.poll() is not None or time.perf_counter() - started > timeout_s:
                tail = log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"enclave serve did not start (rc={proc.returncode}):\n{tail}")
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Server(url=url, startup_s=time.perf_counter() - started, pid=proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
