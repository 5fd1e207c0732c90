"""Simultaneous askers over real HTTP against the same requests sent one at a time.

    python -m evals.bench.concurrency [--askers 8] [--questions 5] [--generator echo|default]

A real server (`enclave serve` in a subprocess on a free loopback port, a fresh data directory,
the embedded default: MiniLM, qdrant-edge, SQLite, no reranker; the generator is SmolLM2 with
`--generator default`, else the deterministic echo double of the tests) ingests `--docs`
(samples/) through its own worker. The local admin
signs in with a one-time link, creates the collection, uploads, and issues a read-only API key;
every asker then calls with that key (Bearer). The server is a separate process, so the
askers' threads do not share its interpreter.

`--generator` defaults to `echo`: with the real SmolLM2 one answer took ~40 s on this 2-core
machine (a ~3,000-token prompt of three 1,024-token sources), ~100 s with two at once, so the
default 8 x 5 plan would take about an hour; run `--generator default` with a small plan
(e.g. `--askers 2 --questions 2`, ~10 min).

For /v1/search, then /v1/answer (JSON, not streamed): baseline = the `askers x questions`
requests sent sequentially by one client; then `--askers` clients (threads, one keep-alive
connection each) send `--questions` requests each, all starting together. Reported: throughput
(requests/s over the round's wall time), p50/p95 latency and the error count of each, and the
ratios concurrent / sequential. Any error (non-200, transport failure) makes the exit status 1.
"""

from __future__ import annotations

import argparse
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
from evals.bench.walking_skeleton import QUERIES

NAME = "concurrency"
COLLECTION = "bench"
ROUTES = {
    "/v1/search": lambda q: {"query": q, "k": 5},
    "/v1/answer": lambda q: {"question": q},
}
TIMEOUT_S = 900.0


def sign_in(client: httpx.Client, data_dir: Path) -> None:
    """Sign `client` in as the local admin through a one-time link issued on the server's
    database (as `enclave admin-link` does); it then sends the CSRF token on every request."""
    from app.auth import users
    from app.db.session import make_engine, make_session_factory
    from app.settings import Settings

    engine = make_engine(Settings(data_dir=data_dir).database_url)
    try:
        link = users.local_sign_in_link(
            make_session_factory(engine), base_url=str(client.base_url), ttl_s=600
        )
    finally:
        engine.dispose()
    if client.get(link, follow_redirects=False).status_code != 303:
        raise RuntimeError("the local admin's sign-in link was refused")
    client.headers["X-CSRF-Token"] = client.get("/auth/me").json()["csrf_token"]


def set_up(
    url: str, data_dir: Path, docs: list[Path], permissions: tuple[str, ...] = ("read",)
) -> dict[str, Any]:
    """Collection, documents (indexed by the server's worker) and an API key (read-only unless
    `permissions` says otherwise)."""
    with httpx.Client(base_url=url, timeout=60) as admin:
        sign_in(admin, data_dir)
        admin.post("/v1/collections", json={"name": COLLECTION}).raise_for_status()
        started = time.perf_counter()
        ids = []
        for path in docs:
            upload = admin.post(
                f"/v1/collections/{COLLECTION}/documents",
                files={"file": (path.name, path.read_bytes())},
            )
            upload.raise_for_status()
            ids.append(upload.json()["id"])
        chunks = sum(_indexed(admin, doc_id)["chunks_total"] for doc_id in ids)
        ingest_s = time.perf_counter() - started
        created = admin.post(
            "/v1/api-keys",
            json={"name": "bench", "collections": [COLLECTION], "permissions": list(permissions)},
        )
        created.raise_for_status()
    return {"key": created.json()["key"], "documents": len(ids), "chunks": chunks,
            "ingest_s": round(ingest_s, 2)}  # fmt: skip


def _indexed(client: httpx.Client, doc_id: str, timeout_s: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        doc = client.get(f"/v1/documents/{doc_id}").json()
        if doc["status"] == "indexed":
            return doc
        if doc["status"] == "failed":
            raise RuntimeError(f"document {doc_id} failed to ingest: {doc['error']}")
        time.sleep(0.2)
    raise TimeoutError(f"document {doc_id} not indexed in {timeout_s} s")


def plan(askers: int, questions: int) -> list[list[str]]:
    """Each asker's questions, cycling through the question list from its own offset."""
    return [[QUERIES[(a + q) % len(QUERIES)] for q in range(questions)] for a in range(askers)]


def run_round(url: str, key: str, route: str, work: list[list[str]]) -> dict[str, Any]:
    """One thread per list in `work`, all released together; latencies, errors, wall time."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(work) + 1)

    def asker(questions: list[str]) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT_S) as client:
            start.wait()
            for question in questions:
                began = time.perf_counter()
                outcome = _call(client, route, question)
                elapsed = (time.perf_counter() - began) * 1000
                with lock:
                    latencies.append(elapsed)
                    if outcome:
                        errors.append(outcome)

    threads = [threading.Thread(target=asker, args=(w,)) for w in work]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - began
    return {
        "clients": len(work),
        "requests": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "wall_s": round(wall, 3),
        "per_s": round(len(latencies) / wall, 3),
        "latency_ms": percentiles(latencies),
    }


def _call(client: httpx.Client, route: str, question: str) -> str:
    """'' on success, else a short reason (status code or exception type; never content)."""
    try:
        response = client.post(route, json=ROUTES[route](question))
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if response.status_code != 200:
        return f"HTTP {response.status_code}"
    body = response.json()
    ok = "answer" in body if route == "/v1/answer" else "hits" in body
    return "" if ok else "malformed body"


def measure(url: str, key: str, askers: int, questions: int) -> dict[str, Any]:
    work = plan(askers, questions)
    out = {}
    for route in ROUTES:
        run_round(url, key, route, [[QUERIES[0]]])  # warm-up
        sequential = run_round(url, key, route, [[q for w in work for q in w]])
        concurrent = run_round(url, key, route, work)
        out[route] = {
            "sequential": sequential,
            "concurrent": concurrent,
            "ratio_throughput": ratio(concurrent["per_s"], sequential["per_s"]),
            "ratio_p50": ratio(concurrent["latency_ms"]["p50"], sequential["latency_ms"]["p50"]),
            "ratio_p95": ratio(concurrent["latency_ms"]["p95"], sequential["latency_ms"]["p95"]),
        }
    return out


def report(result: dict[str, Any]) -> None:
    rows = []
    for route, r in result["routes"].items():
        for label, run in (
            ("1 asker, in sequence", r["sequential"]),
            ("concurrent", r["concurrent"]),
        ):
            lat = run["latency_ms"]
            name = label if label != "concurrent" else f"{run['clients']} askers at once"
            rows.append([route, name, run["requests"], run["errors"], run["per_s"]])
            rows[-1] += [lat["p50"], lat["p95"]]
        rows.append([route, "ratio concurrent / sequential", "", "", r["ratio_throughput"]])
        rows[-1] += [r["ratio_p50"], r["ratio_p95"]]
    print_table(
        f"Concurrency over HTTP (generator: {result['generator']}; {result['chunks']} chunks "
        f"from {result['documents']} documents; server start {result['startup_s']} s)",
        ["route", "run", "requests", "errors", "req/s", "p50 ms", "p95 ms"],
        rows,
        labels=2,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--askers", type=int, default=8, help="simultaneous clients")
    parser.add_argument("--questions", type=int, default=5, help="requests per asker and route")
    parser.add_argument(
        "--generator",
        choices=["echo", "default"],
        default="echo",
        help="echo: the test double (default; fast); default: SmolLM2 via llama.cpp (slow)",
    )
    parser.add_argument("--docs", type=Path, default=ROOT / "samples")
    out_option(parser, NAME)
    args = parser.parse_args()
    env = {"ENCLAVE_GENERATOR__KIND": "echo"} if args.generator == "echo" else {}
    docs = sorted(p for p in args.docs.iterdir() if p.is_file() and not p.name.startswith("."))
    with tempfile.TemporaryDirectory() as tmp, enclave_server(Path(tmp), env=env) as server:
        setup = set_up(server.url, Path(tmp), docs)
        routes = measure(server.url, setup.pop("key"), args.askers, args.questions)
    result = {
        "generator": "echo" if args.generator == "echo" else "llama-cpp (SmolLM2-135M)",
        "askers": args.askers,
        "questions": args.questions,
        "startup_s": round(server.startup_s, 2),
        **setup,
        "routes": routes,
    }
    report(result)
    print(f"report: {write_report(args.out, NAME, result)}")
    errors = sum(r[run]["errors"] for r in routes.values() for run in ("sequential", "concurrent"))
    if errors:
        print(f"{errors} request(s) failed")
        raise SystemExit(1)


if __name__ == "__main__":
    main()
