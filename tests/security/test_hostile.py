"""Hostile requests over real HTTP (issue 17): each is refused fast, and normal traffic goes on.

One server with low limits (rate, header and body timeouts) so that floods and slow clients are
cheap to provoke. An attacker holds a valid read-only API key; a bystander (another key, another
loopback address) searches meanwhile, and its p95 is compared with its p95 without the attack.
The repeated attacks run in a process of their own (`tests.security.attacker`).
Set ENCLAVE_ATTACK_REPORT=path.json to keep the attack table (status, latency, p95 ratio).
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.api.ratelimit import AUDIT_WINDOW_S
from app.settings import LimitSettings
from tests.security import attacker
from tests.security.conftest import new_address
from tests.support import create_api_key, fast_settings, live_server, sign_in, wait_indexed

# Per hour and caller: the flood goes past it; the bystander's searches (up to ~1,500 in the
# module, spread over 4 keys) stay under it.
SEARCH_RATE = 1000
BYSTANDER_KEYS = 4
SIGN_IN_RATE = 5
ANSWERED_WITHIN_S = 1.0
P95_RATIO_MAX = 5.0  # generous: 2 shared cores run the attack, the server and the bystander
# A flood from this interpreter (which the server and the bystander share) pauses between
# requests, so that the figure measures the server, not the GIL; other attacks run apart.
ATTACK_PAUSE_S = 0.01
ROOT = Path(__file__).parents[2]
NORMAL = {"query": "dosing table", "k": 3}


class RoundRobin:
    """Clients taking turns: the bystander, spread over several keys under the rate limit."""

    def __init__(self, clients: list[httpx.Client]) -> None:
        self.clients = clients
        self.turn = 0

    def post(self, *args: Any, **kwargs: Any) -> httpx.Response:
        self.turn += 1
        return self.clients[self.turn % len(self.clients)].post(*args, **kwargs)

    def close(self) -> None:
        for c in self.clients:
            c.close()


@dataclass
class Arena:
    base: str
    admin: httpx.Client
    attacker: httpx.Client
    bystander: RoundRobin
    attacker_key: str
    baseline_p95_ms: float = 0.0
    table: list[dict] = field(default_factory=list)

    def p95_while(self, attack: str | Callable[[], None], *, searches: int = 30) -> float:
        """The bystander's search p95 (ms) while an attack repeats: one of `attacker.ATTACKS`
        in a process of its own, or a callable on a thread of this one."""
        if callable(attack):
            return self._p95_beside(attack, searches)
        command = [sys.executable, "-m", "tests.security.attacker", attack, self.base]
        proc = subprocess.Popen(
            [*command, self.attacker_key], cwd=ROOT, stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().startswith("ready"), "the attacker did not start"
            return p95_ms(self.bystander, searches)
        finally:
            proc.kill()
            proc.wait(timeout=30)

    def ratio_under(self, attack: str | Callable[[], None]) -> float:
        """The bystander's search p95 while `attack` repeats, over its p95 just before. The
        machine is shared: a ratio past `P95_RATIO_MAX` is measured once more (the lower
        counts), so that another process's burst is not taken for the attack's effect."""
        ratios = []
        for _ in range(2):
            baseline = p95_ms(self.bystander, 40)
            ratios.append(self.p95_while(attack, searches=40) / baseline)
            if ratios[-1] < P95_RATIO_MAX:
                break
        return min(ratios)

    def _p95_beside(self, attack: Callable[[], None], searches: int) -> float:
        stop = threading.Event()
        errors: list[BaseException] = []

        def loop() -> None:
            while not stop.is_set():
                try:
                    attack()
                except BaseException as exc:  # noqa: BLE001 - reported below
                    errors.append(exc)
                    return
                stop.wait(ATTACK_PAUSE_S)

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        try:
            p95 = p95_ms(self.bystander, searches)
        finally:
            stop.set()
            thread.join(timeout=30)
        assert not errors, errors[0]
        return p95

    def record(self, request: str, status: int, latency_s: float, ratio: float) -> None:
        self.table.append(
            {
                "request": request,
                "status": status,
                "latency_ms": round(latency_s * 1000, 1),
                "normal_p95_ratio": round(ratio, 2),
            }
        )


def p95_ms(client: RoundRobin, n: int) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        response = client.post("/v1/search", json=NORMAL)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    limits = LimitSettings(
        search=f"{SEARCH_RATE}/hour",
        search_per_address="100000/minute",
        answer="100000/minute",
        sign_in_per_address=f"{SIGN_IN_RATE}/hour",
        header_timeout_s=1.0,
        body_timeout_s=1.0,
    )
    settings = fast_settings(tmp_path_factory.mktemp("hostile"), limits=limits)
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as admin:
        sign_in(admin, settings)
        assert admin.post("/v1/collections", json={"name": "alpha"}).status_code == 201
        text = "# Protocol\n\nThe alpha protocol sets the dosing table for the ward.\n"
        up = admin.post("/v1/collections/alpha/documents", files={"file": ("p.md", text)})
        assert wait_indexed(admin, up.json()["id"])["status"] == "indexed"
        attacker_key = create_api_key(admin, ["alpha"])
        attacker = client(base, attacker_key, new_address())
        bystander = RoundRobin(
            [
                client(base, create_api_key(admin, ["alpha"]), new_address())
                for _ in range(BYSTANDER_KEYS)
            ]
        )
        arena = Arena(base, admin, attacker, bystander, attacker_key)
        p95_ms(bystander, 5)  # warm-up
        arena.baseline_p95_ms = p95_ms(bystander, 30)
        try:
            yield arena
        finally:
            attacker.close()
            bystander.close()
            if path := os.environ.get("ENCLAVE_ATTACK_REPORT"):
                report = {
                    "baseline_p95_ms": round(arena.baseline_p95_ms, 1),
                    "attacks": arena.table,
                }
                Path(path).write_text(json.dumps(report, indent=2) + "\n")


def client(base: str, key: str | None, source: str, **kwargs: object) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=source)
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.Client(base_url=base, headers=headers, transport=transport, timeout=30, **kwargs)


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    started = time.perf_counter()
    response = send()
    return response, time.perf_counter() - started


def refused(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert error["code"]
    assert error["message"]
    return error


def attack_case(arena: Arena, name: str, attack: str, status: int) -> None:
    """`attack` is refused with `status` within a second, and the bystander's search p95 while
    it repeats (from another process) stays within `P95_RATIO_MAX` of its baseline."""
    started = time.perf_counter()
    got = attacker.ATTACKS[attack](arena.base, arena.attacker_key)
    elapsed = time.perf_counter() - started
    assert got == status, (name, got)
    assert elapsed < ANSWERED_WITHIN_S, f"{name}: {elapsed:.2f} s"
    ratio = arena.ratio_under(attack)
    arena.record(name, status, elapsed, ratio)
    assert ratio < P95_RATIO_MAX, f"{name}: bystander p95 x{ratio:.1f}"


def test_a_two_million_element_list_is_refused_unread(arena: Arena) -> None:
    assert len(attacker.LIST_2M) > 16_000_000
    attack_case(arena, "search, 2M-element collections (16 MB)", "list_2m", 413)


def test_a_fifty_megabyte_string_is_refused_unread(arena: Arena) -> None:
    attack_case(arena, "search, 50 MB query", "string_50mb", 413)


def test_a_chunked_body_is_cut_off_at_the_limit(arena: Arena) -> None:
    attack_case(arena, "search, 50 MB chunked (no Content-Length)", "chunked_50mb", 413)


def test_deep_nesting_is_refused(arena: Arena) -> None:
    attack_case(arena, "search, depth-100,000 nesting (200 KB)", "deep", 400)


def test_a_huge_history_is_refused(arena: Arena) -> None:
    attack_case(arena, "chat, 200,000-message history (7 MB)", "history_huge", 413)
    attack_case(arena, "chat, 101 messages (under the body limit)", "history_101", 422)


def test_too_many_collections_are_refused_and_duplicates_collapse(arena: Arena) -> None:
    many = {"query": "x", "collections": [f"c{i}" for i in range(101)]}
    refused(arena.bystander.post("/v1/search", json=many), 422)
    same = {"query": "dosing", "collections": ["alpha"] * 100}
    assert arena.bystander.post("/v1/search", json=same).status_code == 200


def test_an_empty_collection_after_the_model_colon_is_refused(arena: Arena) -> None:
    body = {"model": "enclave:", "messages": [{"role": "user", "content": "dosing?"}]}
    refused(arena.bystander.post("/v1/chat/completions", json=body), 400)


def test_a_huge_audit_cursor_is_a_422_and_the_connection_lives_on(arena: Arena) -> None:
    refused(arena.admin.get("/v1/audit", params={"after": 2**63}), 422)
    assert arena.admin.get("/v1/audit", params={"limit": 1}).status_code == 200


def test_slow_loris_headers_are_cut_off(arena: Arena) -> None:
    elapsed, reply = attacker.slow_loris(arena.base, headers_done=False)
    assert elapsed < 1.0 + ANSWERED_WITHIN_S  # header_timeout_s = 1
    assert reply == b""  # closed: no request to answer
    ratio = arena.ratio_under("slow_headers")
    arena.record("slow-loris headers (a byte per 0.2 s)", 0, elapsed, ratio)
    assert ratio < P95_RATIO_MAX


def test_a_slow_body_is_answered_408(arena: Arena) -> None:
    elapsed, reply = attacker.slow_loris(arena.base, headers_done=True)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert b'"request_timeout"' in reply
    assert elapsed < 1.0 + ANSWERED_WITHIN_S  # body_timeout_s = 1
    ratio = arena.ratio_under("slow_body")
    arena.record("slow body (a byte per 0.2 s)", 408, elapsed, ratio)
    assert ratio < P95_RATIO_MAX


def test_many_idle_connections_do_not_stop_the_service(arena: Arena) -> None:
    url = urlsplit(arena.base)
    source = new_address()
    baseline = p95_ms(arena.bystander, 20)
    socks = [
        socket.create_connection((url.hostname, url.port), source_address=(source, 0))
        for _ in range(200)
    ]
    try:
        started = time.perf_counter()
        ratio = p95_ms(arena.bystander, 20) / baseline
        arena.record("200 idle connections", 0, time.perf_counter() - started, ratio)
        assert ratio < P95_RATIO_MAX
        time.sleep(1.5)  # past the header timeout: every one is closed by the server
        for sock in socks:
            sock.settimeout(1)
            assert sock.recv(1) == b""
    finally:
        for sock in socks:
            sock.close()


def test_a_search_flood_is_throttled_with_retry_after_and_audited(arena: Arena) -> None:
    """The rate is per hour, so that the flood (a minute on a slow machine) stays inside one
    window of the sliding counter: across a window's end the counter admits again, at the rate."""
    since = datetime.now(UTC).isoformat()
    with client(arena.base, arena.attacker_key, new_address()) as attacker:
        admitted = 0
        for _ in range(2 * SEARCH_RATE):
            response, elapsed = timed(lambda: attacker.post("/v1/search", json=NORMAL))
            if response.status_code != 200:
                break
            admitted += 1
        refused(response, 429)
        assert admitted <= 1.05 * SEARCH_RATE  # a window's end within the flood admits a few
        assert int(response.headers["Retry-After"]) >= 1
        assert elapsed < ANSWERED_WITHIN_S
        refusing_since = time.monotonic()
        statuses: list[int] = []

        def flood() -> None:
            statuses.append(attacker.post("/v1/search", json=NORMAL).status_code)

        ratio = arena.ratio_under(flood)
    refusing_s = time.monotonic() - refusing_since
    arena.record(f"search flood over {SEARCH_RATE}/hour (one key)", 429, elapsed, ratio)
    assert ratio < P95_RATIO_MAX
    assert set(statuses) <= {200, 429}
    assert statuses.count(429) >= 0.95 * len(statuses)  # at most the rate leaks through
    events = arena.admin.get(
        "/v1/audit", params={"since": since, "action": "request.throttled"}
    ).json()
    # One row per caller, bucket and audit window; the repeats are counted, not written.
    assert 1 <= len(events) <= 1 + refusing_s // AUDIT_WINDOW_S
    assert {e["reason"] for e in events} == {"search:caller"}
    assert "dosing" not in json.dumps(events)


def test_sign_in_attempts_are_throttled_per_address(arena: Arena) -> None:
    with client(arena.base, None, new_address(), follow_redirects=False) as anonymous:
        for _ in range(SIGN_IN_RATE):
            assert anonymous.get("/auth/local", params={"token": "forged"}).status_code == 303
        response, elapsed = timed(lambda: anonymous.get("/auth/local", params={"token": "x"}))
        refused(response, 429)
        assert "Retry-After" in response.headers
    arena.record(f"sign-in attempts over {SIGN_IN_RATE}/hour (one address)", 429, elapsed, 1.0)


def test_a_stalled_upload_is_a_408(arena: Arena) -> None:
    key = create_api_key(arena.admin, ["alpha"], ("read", "write"))
    url = urlsplit(arena.base)
    part = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhello'
    head = (
        f"POST /v1/collections/alpha/documents HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {key}\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: 10000\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), source_address=(new_address(), 0)) as s:
        started = time.perf_counter()
        s.sendall(head + part)  # then nothing more
        s.settimeout(1.0 + ANSWERED_WITHIN_S + 1)
        reply = s.recv(4096)
        elapsed = time.perf_counter() - started
        while chunk := s.recv(4096):  # the rest of the reply, until the server closes
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert b'"request_timeout"' in reply
    assert elapsed < 1.0 + ANSWERED_WITHIN_S  # body_timeout_s = 1
    arena.record("stalled upload (no bytes after the first)", 408, elapsed, 1.0)
